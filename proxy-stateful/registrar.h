/*
 * registrar.h - the registrar of proxy-stateful (RFC 3261 §10.3):
 * REGISTER for our domain updates the shared location table
 * (location.h) and is answered with every current binding.
 */
#ifndef SIPSTONE_REGISTRAR_H
#define SIPSTONE_REGISTRAR_H

#include "dbqueue.h"
#include "location.h"
#include "reply.h"
#include "stateful_cfg.h"
#include "userdb.h"
#include "worker_ctx.h"

/* What the registrar works with; shared by every worker, read-only. */
struct registrar {
	const struct stateful_cfg *cfg; /* domain, expiry bounds, auth */
	struct location *loc;
	const struct userdb *users; /* NULL: anyone may register */
	const struct reply_auth *auth;
	struct dbqueue *db; /* NULL: no database (or memory mode) */
};

/*
 * Answers REGISTER msg (validated, its Request-URI ours) in server
 * transaction st on worker w.  With write-through the 200 leaves once
 * the binding change is committed (reply_after_commit()).
 */
void registrar_handle(const struct registrar *reg, struct worker_ctx *w,
		      struct sip_txn *st, const struct sip_msg *msg);

#endif
