/*
 * dbqueue.h - proxy-stateful's database (MariaDB Connector/C): users and
 * bindings loaded at start, binding changes persisted by one database
 * thread, never by a SIP worker.
 *
 * write-through: every change is queued; the database thread commits
 * everything queued in one transaction (group commit) and then calls
 * each waiter back on its own loop (ev_call), so the 200 of a REGISTER
 * leaves only after its binding is committed.
 * write-back: changes are coalesced per binding and flushed every
 * flush_ms and at close; a failed flush keeps them and retries.
 */
#ifndef SIPSTONE_DBQUEUE_H
#define SIPSTONE_DBQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "location.h"
#include "stateful_cfg.h"
#include "userdb.h"

struct dbqueue;
struct ev;

/* Splits "mysql://user[:pw]@host[:port]/name".  Returns 0 or EINVAL. */
struct dbqueue_url {
	char user[64], pw[64], host[128], name[64];
	unsigned port;
};
int dbqueue_url_decode(struct dbqueue_url *u, const char *url);

/*
 * Connects (blocking: at start-up).  Returns 0 or an errno (the
 * library's message logged once).  Free with dbqueue_close().
 */
int dbqueue_open(struct dbqueue **dbp, const char *url,
		 enum stateful_db_mode mode, uint32_t flush_ms);

/* Loads the subscriber table / the location table.  0 or errno. */
int dbqueue_load_users(struct dbqueue *db, struct userdb *users);
int dbqueue_load_bindings(struct dbqueue *db, struct location *loc,
			  uint64_t now);

/* Starts the database thread.  0 or errno. */
int dbqueue_start(struct dbqueue *db);

/* The location change hook (location_set_change_handler). */
void dbqueue_change(const struct location_change *ch, void *arg);

/*
 * Queues one SQL statement (copied) in the same stream as the binding
 * changes, with the same mode: committed in order in the next batch
 * (write-through: dbqueue_wait() on dbqueue_thread_seq() waits for it), kept
 * and retried on failure (write-back).  For the other tables of the run
 * (the presence agent's); strings in it must be literals the caller
 * made safe (presence_store.c writes them as hex).  Returns 0 or ENOMEM.
 */
int dbqueue_exec(struct dbqueue *db, const char *sql, size_t len);

/* One row of dbqueue_select(): n columns, NULL for SQL NULL. */
typedef void(dbqueue_row_h)(char **row, unsigned n, void *arg);

/*
 * Runs a SELECT now (blocking: at start-up, before dbqueue_start()) and
 * calls h for every row.  Returns 0 or EIO (logged).
 */
int dbqueue_select(struct dbqueue *db, const char *sql, dbqueue_row_h *h,
		   void *arg);

/* The sequence number of the last change this thread queued. */
uint64_t dbqueue_thread_seq(void);

/* Called on the waiter's loop: err 0 when committed, else EIO. */
typedef void(dbqueue_done_h)(int err, void *arg);

/*
 * Calls h(err, arg) on loop ev once every change up to seq is committed
 * (or failed).  Returns 0 or ENOMEM.
 */
int dbqueue_wait(struct dbqueue *db, uint64_t seq, struct ev *ev,
		 dbqueue_done_h *h, void *arg);

struct dbqueue_stats {
	uint64_t commits, rows, failures, queued;
};
void dbqueue_stats(struct dbqueue *db, struct dbqueue_stats *st);

/* Flushes what is queued (write-back), stops the thread, frees. */
void dbqueue_close(struct dbqueue *db);

#endif
