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

struct presence;
struct dbqueue;
struct stateful;
struct stateful_worker;
struct sip_txn;
struct sip_msg;

/*
 * Creates the presence agent of sp for sp->nworkers workers, loading
 * the --presence-filter file when one is set.  Returns 0, ENOMEM, or
 * the file's errno / EBADMSG (a bad line, logged with its number).
 */
int presence_alloc(struct presence **pp, struct stateful *sp);

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
void presence_handle(struct stateful_worker *w, struct sip_txn *st,
		     const struct sip_msg *msg);

/* Expiry of subscriptions (w's) and publications (worker 0): ~1/s. */
void presence_tick(struct stateful_worker *w);

/*
 * Drops every subscription of w, with no NOTIFY (shutdown): called on
 * w's thread before its transaction layer and transports are freed.
 */
void presence_worker_stop(struct stateful_worker *w);

/* Adds the "presence" object of docs/agents.md to stats (any thread). */
void presence_stats(struct presence *p, json_t *stats);

#endif
