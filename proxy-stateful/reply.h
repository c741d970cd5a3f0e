/*
 * reply.h - the reply and authentication service under proxy-stateful's
 * request handlers (registrar.h, presence.h, proxy_core.h): building and
 * sending responses in a server transaction, counting them in the
 * worker's counters, the digest challenge and its check (RFC 3261 §22)
 * and a 200 held until the database commits (write-through).
 * Everything here runs on the worker's thread and writes w->out.
 */
#ifndef SIPSTONE_REPLY_H
#define SIPSTONE_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addressing.h"
#include "sip_auth.h"
#include "userdb.h"
#include "worker_ctx.h"

/* The digest verifier and whom it knows; shared by every worker. */
struct reply_auth {
	struct sip_auth_server *server;
	const struct userdb *users;    /* NULL: nobody is known (403) */
	const char *realm;	       /* our domain */
	const struct addressing *addr; /* who we are (digest-uri check) */
};

/* Counts a response about to leave (buf is its text) by status. */
void reply_count(struct worker_ctx *w, const char *buf, size_t len);

/*
 * Builds a response to msg into w->out with our To tag and optional
 * extra header lines (hdrs may be NULL).  Returns 0 or an errno.
 */
int reply_build(struct worker_ctx *w, const struct sip_msg *msg,
		uint16_t status, const char *reason, const char *hdrs);

/* Sends a built response in st, counting it (a send error is a drop). */
void reply_send(struct worker_ctx *w, struct sip_txn *st, const char *buf,
		size_t len);

/* Builds and sends a response to request msg in st (reply_build()). */
void reply_status(struct worker_ctx *w, struct sip_txn *st,
		  const struct sip_msg *msg, uint16_t status,
		  const char *reason, const char *hdrs);

/*
 * Digest check of msg for user@domain (RFC 3261 §22): returns 0 when
 * the request may go on, else an answer was sent and the result is
 * EACCES or EIO: 401/407 (no credentials, wrong ones, a replay, and an
 * unknown user alike: no user enumeration), 403 (credentials of another
 * user), 400 (digest-uri not the Request-URI, RFC 2617 §3.2.2.5), 500.
 */
int reply_auth_check(struct worker_ctx *w, const struct reply_auth *ra,
		     struct sip_txn *st, const struct sip_msg *msg,
		     const struct pl *user, const struct pl *domain,
		     bool proxy);

/*
 * An expiry v bounded by the options: 0 with *out (v, capped to max; 0
 * stays 0), or ERANGE with a 423 and Min-Expires sent for 0 < v < min
 * (RFC 3261 §10.3 step 6, RFC 6665 §4.2.1.1, RFC 3903 §6 step 5).
 */
int reply_expires_bound(struct worker_ctx *w, struct sip_txn *st,
			const struct sip_msg *msg, uint32_t v, uint32_t min,
			uint32_t max, uint32_t *out);

struct dbqueue;

/*
 * Called when the commit failed, before the 500 leaves: puts memory
 * back as the database still is.  ctx is then freed (free()).
 */
typedef void(reply_undo_h)(void *ctx);

/*
 * write-through: sends the response built in w->out in st once every
 * change this thread queued on db is committed, or a 500 "Database
 * Error" if the commit fails (a 500 now if memory runs out).  undo (may
 * be NULL) runs with ctx on a failed commit, so that what was refused
 * with 500 is not served from memory; ctx (malloc'd) is owned by the
 * call from here on, freed in every case.
 */
void reply_after_commit(struct worker_ctx *w, struct dbqueue *db,
			struct sip_txn *st, const struct sip_msg *msg,
			reply_undo_h *undo, void *ctx);

#endif
