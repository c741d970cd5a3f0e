/*
 * ssh_knownhosts.h - the server's host key against known_hosts (the
 * OpenSSH format), for ssh.c.  A host known with a key of any type is
 * checked against all of them: a key of another type is a mismatch
 * (libssh2 alone compares within one type, so a man in the middle
 * offering another type would pass as "new").  --accept-new appends
 * under an exclusive flock(2) of the file, after checking again under
 * it, so parallel connections neither lose entries nor drop comments.
 */
#ifndef SIPSTONE_SSH_KNOWNHOSTS_H
#define SIPSTONE_SSH_KNOWNHOSTS_H

#include <libssh2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What is checked: the address connected to, the file, and whether a
 * host not in it may be added. */
struct ssh_knownhosts_query {
	const char *host;
	const char *known_hosts;
	bool accept_new;
};

/*
 * Checks the host key of session (connected to o->host port; name for
 * messages).  0 when known, or added with o->accept_new; EPERM
 * (unknown, different, unreadable file) or EPROTO (key type we do not
 * know), with why.
 */
int ssh_knownhosts_check(LIBSSH2_SESSION *session, const char *name,
			 const struct ssh_knownhosts_query *o, uint16_t port,
			 char *why, size_t whysz);

#endif
