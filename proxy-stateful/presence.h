/*
 * presence.h - the presence agent of proxy-stateful (--presence): a
 * notifier for the "presence" event package (RFC 6665, RFC 3856) and an
 * event state compositor for PUBLISH (RFC 3903), PIDF bodies (pidf.h).
 *
 * State is shared by every worker under one lock: presentities (AOR
 * user@domain) with their publications and subscriptions.  A
 * subscription belongs to the worker that accepted its SUBSCRIBE: its
 * NOTIFYs are client transactions of that worker's transaction layer
 * (the only one that may touch them), so a change seen by another
 * worker reaches it as a job through ev_call().  With --db and a mode
 * other than memory, every change is written to the tables presentity
 * and active_watchers (schema.sql) through dbqueue_exec(); write-through
 * holds the 200 until the commit (the NOTIFYs go at once: RFC 6665
 * §4.1.2.4 lets a NOTIFY come before the 200).
 */
#ifndef SIPSTONE_PRESENCE_H
#define SIPSTONE_PRESENCE_H

#include <jansson.h>
#include <stdbool.h>

#include <stdint.h>

#include "reply.h"
#include "stateful_cfg.h"
#include "userdb.h"
#include "worker_ctx.h"

struct presence;
struct dbqueue;

/*
 * What the presence agent works with.  The caller owns it and keeps it
 * alive and unchanged while the workers run; db and worker0 may be
 * filled in after presence_alloc(), before the workers start.
 */
struct presence_env {
	const struct stateful_cfg *cfg; /* domain, auth, db mode, presence-* */
	const struct userdb *users;	/* NULL: anyone is known */
	const struct reply_auth *auth;
	struct dbqueue *db; /* NULL: nothing is persisted */
	uint64_t secret;    /* keys the ETags */
	unsigned nworkers;
	/* Owner of the subscriptions loaded from the database; NULL until
	 * the workers exist. */
	struct worker_ctx *worker0;
};

/*
 * Creates the presence agent for env->nworkers workers, loading the
 * --presence-filter file when one is set.  Returns 0, ENOMEM, or the
 * file's errno / EBADMSG (a bad line, logged with its number).
 */
int presence_alloc(struct presence **pp, const struct presence_env *env);

/*
 * Loads the live publications and subscriptions of the run's database
 * (before dbqueue_start(): it queries on the start-up connection).  Loaded
 * subscriptions belong to worker 0 from its first tick.  Returns 0 or
 * EIO; a row that does not make sense is skipped with a warning.
 */
int presence_load(struct presence *p, struct dbqueue *db);

/* Frees everything; every worker must have stopped. NULL is allowed. */
void presence_free(struct presence *p);

/*
 * Answers SUBSCRIBE or PUBLISH msg (validated, for a user of our
 * domain) in server transaction st on worker w.
 */
void presence_handle(struct presence *p, struct worker_ctx *w,
		     struct sip_txn *st, const struct sip_msg *msg);

/* Expiry of subscriptions (w's) and publications (worker 0): ~1/s.
 * p may be NULL (no presence agent). */
void presence_tick(struct presence *p, struct worker_ctx *w);

/*
 * Drops every subscription of w, with no NOTIFY (shutdown): called on
 * w's thread before its transaction layer and transports are freed.
 * p may be NULL.
 */
void presence_worker_stop(struct presence *p, struct worker_ctx *w);

/* Adds the "presence" object of docs/agents.md to stats (any thread). */
void presence_stats(struct presence *p, json_t *stats);

#endif
