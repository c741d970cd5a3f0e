/*
 * loadconn.h - the engine's TCP/TLS connections (RFC 7502's connection
 * reuse strategy, loadcfg.h): a connection slot per user (persistent
 * pool) or per transaction or call (per-request), reopened on the next
 * send when it dropped; the persistent pool opened before the first
 * send.  Runs on the worker's own thread.
 */
#ifndef LOADER_LOADCONN_H
#define LOADER_LOADCONN_H

#include <stdbool.h>
#include <stddef.h>

#include "loadworker.h"

/* A new slot (an obj: obj_deref it), no connection yet; NULL: ENOMEM. */
struct loadconn_slot *loadconn_slot_alloc(bool per_request);

/* A per-request slot's transaction (call) is over: close it now.
 * Others and NULL: nothing. */
void loadconn_slot_finish(struct loadconn_slot *sl);

/* Sends buf on sl's connection, opening it (again) when it is not open.
 * Returns 0, ENOTCONN (a per-request slot that is over) or an errno of
 * the transport. */
int loadconn_slot_send(struct loadworker *w, struct loadconn_slot *sl,
		       const char *buf, size_t len);

/* The slot the worker's user user_idx is bound to: its pool connection
 * (persistent), or a new one (per-request).  A new reference, or NULL
 * (UDP, ENOMEM). */
struct loadconn_slot *loadconn_slot_for(struct loadworker *w, size_t user_idx);

/* Opens this thread's share of a persistent pool (its connects run on
 * the thread's loop; the engine's pools_ready counts it once every
 * connection is up or failed).  Returns 0, EINVAL (no share), ENOMEM. */
int loadconn_pool_open(struct loadworker *w);

/* Copies the transport's connection counts into w's counters. */
void loadconn_tp_counts(struct loadworker *w);

#endif
