/*
 * loadmsg.h - the loader's message-building toolbox, shared by the
 * REGISTER/OPTIONS path, the calls and the presence tests: string
 * concatenation without printf, the transport parameter of our
 * Contacts, the server as a transaction destination.  No state.
 */
#ifndef LOADER_LOADMSG_H
#define LOADER_LOADMSG_H

#include <stddef.h>

#include "buf.h"
#include "loadcfg.h"
#include "pl.h"
#include "sip_tp.h"
#include "sip_txn.h"

/* A view of the NUL-terminated s (borrowed: valid while s is). */
struct pl loadmsg_pl(const char *s);

/* Concatenates the strings of a NULL-ended list into out (size > 0):
 * the request builders' copies, once per request, instead of printf.
 * Returns 0, or EOVERFLOW when they do not fit (out is then unusable). */
int loadmsg_cat(char *out, size_t size, const char *const *parts);

/* "udp", "tcp" or "tls": the ;transport= of our Contacts. */
const char *loadmsg_tp_param(enum sip_transport tp);

/* The Via value of a request we send: "SIP/2.0/<TP> hostport;branch=
 * branch;rport" (RFC 3261 §18.1.1, RFC 3581).  Returns 0 or
 * EOVERFLOW. */
int loadmsg_via(char *out, size_t size, enum sip_transport tp,
		const char *hostport, const char *branch);

/* "<sip:user@host>": an address of record (host: our domain) or, with
 * ";transport=" tp_param appended inside when tp_param is not NULL, a
 * Contact of ours (host: our hostport).  Returns 0 or EOVERFLOW. */
int loadmsg_addr(char *out, size_t size, const char *user, const char *host,
		 const char *tp_param);

/*
 * Starts a client transaction of layer l for the request in msg (built
 * with branch and method) to dst, events to h with arg (*ctp, when
 * ctp is not NULL, the caller's reference).  Returns 0 or the layer's
 * error.
 */
int loadmsg_client_start(struct sip_txn **ctp, struct sip_txn_layer *l,
			 const struct sip_txn_dest *dst, const char *branch,
			 const struct pl *method, const struct buf *msg,
			 sip_txn_event_h *h, void *arg);

#endif
