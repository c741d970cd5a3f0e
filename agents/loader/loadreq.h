/*
 * loadreq.h - the engine's REGISTER, re-REGISTER and OPTIONS
 * transactions (RFC 3261 §10.2, §11): built from the user and the
 * configuration, sent in a client transaction of the kind's layer,
 * a 401/407 answered once (twice when the nonce went stale, §22.2),
 * the outcome counted in the worker's counters (generic and the kind's).
 */
#ifndef LOADER_LOADREQ_H
#define LOADER_LOADREQ_H

#include <stdint.h>

#include "loadworker.h"

/*
 * Starts a transaction of kind (register, reregister or options) for
 * user u at now (ns, monotonic), linked into w->reqs.  The attempt is
 * already counted; one that cannot be sent ends at once as a
 * transport error.
 */
void loadreq_start(struct loadworker *w, enum loadcfg_test kind,
		   struct loadworker_user *u, uint64_t now);

/* Unlinks and frees r (its connection slot finished); the last one to
 * go while draining stops the worker's loop. */
void loadreq_free(struct loadreq *r);

#endif
