/*
 * proxy_core.h - the transaction user of RFC 3261 §16 (stateful proxy)
 * for what proxy-stateful does not answer itself: loop and
 * Max-Forwards checks (§16.3), the location service for our domain
 * (§16.5), the forwarded copy in one client transaction (§16.6, no
 * forking), responses back upstream (§16.7), Timer C (§16.8), CANCEL
 * (§16.10) and the stateless ACK for a 2xx (§16.11).
 *
 * One struct proxy_core per worker holds the calls in flight on it
 * (a server transaction and its client branch); only that worker's
 * thread touches it.
 */
#ifndef SIPSTONE_PROXY_CORE_H
#define SIPSTONE_PROXY_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "addressing.h"
#include "hash.h"
#include "list.h"
#include "location.h"
#include "reply.h"
#include "stateful_cfg.h"
#include "userdb.h"
#include "worker_ctx.h"

/* What every worker's core shares, read-only while they run (but for
 * redirect, which the control thread may flip). */
struct proxy_core_cfg {
	const struct stateful_cfg *cfg; /* domain, closed, record-route */
	const struct addressing *addr;
	struct location *loc;
	const struct userdb *users; /* NULL: anyone is known */
	const struct reply_auth *auth;
	uint64_t secret; /* keys the loop hash and stateless branches */
	/* INVITEs for our users: 302 with their bindings (redirect
	 * server), not proxied; from stateful_cfg.redirect */
	atomic_bool redirect;
};

struct proxy_core {
	const struct proxy_core_cfg *shared;
	struct worker_ctx *w;
	struct hash calls; /* by server transaction */
	struct list done;  /* calls with a final response, to free */
};

/* Sets up w's core.  Returns 0 or ENOMEM; proxy_core_stop() frees. */
int proxy_core_init(struct proxy_core *pc, const struct proxy_core_cfg *shared,
		    struct worker_ctx *w);

/* Forwards request msg of server transaction st, or answers it. */
void proxy_core_request(struct proxy_core *pc, struct sip_txn *st,
			const struct sip_msg *msg);

/* An ACK with no server transaction (for a 2xx): forwarded statelessly. */
void proxy_core_ack(struct proxy_core *pc, const struct sip_msg *msg);

/* CANCEL msg in st: answered, and our branch of its INVITE cancelled. */
void proxy_core_cancel(struct proxy_core *pc, struct sip_txn *st,
		       const struct sip_msg *msg);

/* Frees the finished calls whose branches are over (~5/s). */
void proxy_core_tick(struct proxy_core *pc);

/* Frees every call (the worker stops; no answers are sent). */
void proxy_core_stop(struct proxy_core *pc);

#endif
