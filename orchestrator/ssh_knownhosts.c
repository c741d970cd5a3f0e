#include "ssh_knownhosts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MODULE "ssh"
#include "log.h"

static void say(char *why, size_t whysz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whysz)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
}

static const char *last_error(LIBSSH2_SESSION *session)
{
	char *msg = NULL;
	int len = 0;

	libssh2_session_last_error(session, &msg, &len, 0);
	return msg && len ? msg : "unknown error";
}

static int knownhost_type(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default:
		return 0;
	}
}

/* Reads known_hosts into a fresh collection (an absent file is empty). */
static int read_known(LIBSSH2_SESSION *session, const char *name,
		      const struct ssh_knownhosts_query *o,
		      LIBSSH2_KNOWNHOSTS **khp, char *why, size_t whysz)
{
	LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(session);
	struct stat st;

	if (!kh)
		return ENOMEM;
	if (stat(o->known_hosts, &st) == 0 &&
	    libssh2_knownhost_readfile(kh, o->known_hosts,
				       LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
		say(why, whysz, "%s: cannot read known_hosts %s: %s", name,
		    o->known_hosts, last_error(session));
		libssh2_knownhost_free(kh);
		return EPERM;
	}
	*khp = kh;
	return 0;
}

/*
 * MATCH, MISMATCH or NOTFOUND for the server's key.  libssh2 compares
 * within one key type only, so a host known with an ed25519 key that
 * now offers an ECDSA one would be "not found" (and accepted with
 * --accept-new): the second check, with no key type, finds the host's
 * keys of every type and makes any of another type a mismatch.
 */
static int known_state(LIBSSH2_KNOWNHOSTS *kh,
		       const struct ssh_knownhosts_query *o, uint16_t port,
		       const char *key, size_t len, int ktype)
{
	int base = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW;
	int rc;

	rc = libssh2_knownhost_checkp(kh, o->host, port, key, len,
				      base | ktype, NULL);
	if (rc != LIBSSH2_KNOWNHOST_CHECK_NOTFOUND)
		return rc;
	rc = libssh2_knownhost_checkp(kh, o->host, port, key, len, base, NULL);
	return rc == LIBSSH2_KNOWNHOST_CHECK_MATCH
		       ? LIBSSH2_KNOWNHOST_CHECK_MISMATCH
		       : rc;
}

/*
 * Appends the server's key to known_hosts under an exclusive lock on
 * the file, after checking again under that lock: parallel preflight
 * threads (and other orchestrators) each add their host without
 * rewriting the file, so no entry and no comment is lost.
 */
static int append_known(LIBSSH2_SESSION *session, const char *name,
			const struct ssh_knownhosts_query *o, uint16_t port,
			const char *key, size_t len, int ktype, char *why,
			size_t whysz)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	struct libssh2_knownhost *entry = NULL;
	char spec[200], line[8192];
	size_t linelen = 0;
	int fd, rc, err;

	fd = open(o->known_hosts, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		  0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		err = errno;
		say(why, whysz, "%s: cannot add its key to %s: %s", name,
		    o->known_hosts, strerror(err));
		if (fd >= 0)
			close(fd);
		return EPERM;
	}
	err = read_known(session, name, o, &kh, why, whysz);
	if (err)
		goto out;
	rc = known_state(kh, o, port, key, len, ktype);
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
		goto out; /* another thread added it meanwhile */
	if (rc != LIBSSH2_KNOWNHOST_CHECK_NOTFOUND) {
		say(why, whysz,
		    "%s: host key changed in %s meanwhile: refusing", name,
		    o->known_hosts);
		err = EPERM;
		goto out;
	}
	if (port == 22)
		snprintf(spec, sizeof(spec), "%s", o->host);
	else
		snprintf(spec, sizeof(spec), "[%s]:%u", o->host, port);
	if (libssh2_knownhost_addc(kh, spec, NULL, key, len, NULL, 0,
				   LIBSSH2_KNOWNHOST_TYPE_PLAIN |
					   LIBSSH2_KNOWNHOST_KEYENC_RAW |
					   ktype,
				   &entry) ||
	    libssh2_knownhost_writeline(kh, entry, line, sizeof(line),
					&linelen,
					LIBSSH2_KNOWNHOST_FILE_OPENSSH) ||
	    write(fd, line, linelen) != (ssize_t)linelen) {
		say(why, whysz, "%s: cannot add its key to %s: %s", name,
		    o->known_hosts, last_error(session));
		err = EPERM;
		goto out;
	}
	log_info("%s: new host key added to %s (accept-new)", name,
		 o->known_hosts);
out:
	if (kh)
		libssh2_knownhost_free(kh);
	close(fd); /* releases the lock */
	return err;
}

int ssh_knownhosts_check(LIBSSH2_SESSION *session, const char *name,
			 const struct ssh_knownhosts_query *o, uint16_t port,
			 char *why, size_t whysz)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	const char *key;
	size_t len;
	int type, ktype, rc, err = 0;

	if (!o->known_hosts || !o->known_hosts[0]) {
		say(why, whysz, "%s: no known_hosts file given", name);
		return EPERM;
	}
	key = libssh2_session_hostkey(session, &len, &type);
	ktype = key ? knownhost_type(type) : 0;
	if (!ktype) {
		say(why, whysz, "%s: unsupported host key type", name);
		return EPROTO;
	}
	err = read_known(session, name, o, &kh, why, whysz);
	if (err)
		return err;
	rc = known_state(kh, o, port, key, len, ktype);
	libssh2_knownhost_free(kh);
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
		return 0;
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
		say(why, whysz,
		    "%s: host key differs from the one in %s (or is of "
		    "another type): refusing (a "
		    "reinstalled host or a man in the middle; if the change "
		    "is expected, remove the old line with ssh-keygen -R "
		    "'[%s]:%u' -f %s)",
		    name, o->known_hosts, o->host, port, o->known_hosts);
		return EPERM;
	}
	if (rc != LIBSSH2_KNOWNHOST_CHECK_NOTFOUND || !o->accept_new) {
		say(why, whysz,
		    "%s: host key not in %s: refusing (add it with "
		    "ssh-keyscan -p %u %s >> %s, or run with --accept-new)",
		    name, o->known_hosts, port, o->host, o->known_hosts);
		return EPERM;
	}
	return append_known(session, name, o, port, key, len, ktype, why,
			    whysz);
}
