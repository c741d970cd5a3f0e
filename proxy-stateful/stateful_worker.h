/*
 * stateful_worker.h - one worker thread of proxy-stateful: its own
 * event loop, transports and transaction layer; it receives, validates,
 * feeds the transaction layer and hands each request to its handler
 * (registrar.h, presence.h, proxy_core.h).
 *
 * Each worker listens on every --listen address with SO_REUSEPORT (the
 * kernel spreads datagrams and connections) and owns a second, private
 * UDP socket from which it forwards requests: that port is in the Via
 * it adds, so downstream responses come back to the worker that owns
 * the client transaction (STYLE.md "Event loop and cores").
 */
#ifndef SIPSTONE_STATEFUL_WORKER_H
#define SIPSTONE_STATEFUL_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "addressing.h"
#include "location.h"
#include "presence.h"
#include "proxy_core.h"
#include "registrar.h"
#include "sip_txn_tp.h"
#include "stateful_cfg.h"
#include "worker_ctx.h"

/* What the workers share; the server (stateful.c) owns it. */
struct worker_env {
	const struct stateful_cfg *cfg;
	/* cfg->nlisten addresses; a port 0 is replaced by the port the
	 * first worker was given (the others then share it). */
	struct sip_tp_addr *listen;
	struct sip_tp_tls *tls_server, *tls_client; /* NULL: no TLS */
	const struct addressing *addr;
	struct location *loc; /* swept by worker 0 */
	const struct registrar *registrar;
	struct presence *pres; /* NULL without --presence */
	const struct proxy_core_cfg *core;
};

struct stateful_worker {
	struct worker_ctx ctx; /* what the handlers see */
	const struct worker_env *env;
	pthread_t th;
	bool started;
	struct sip_tp *tp;	/* the shared listeners */
	struct sip_txn_tp bind; /* ctx.txl's sends: through tp and ctx.priv */
	struct ev_timer tick;
	struct proxy_core core;
	/* A request whose top Via got received/rport (RFC 3581 §4). */
	struct buf marked;
	struct sip_msg *marked_msg;
};

/*
 * Starts worker number idx of env (w zeroed by the caller) and waits
 * until it listens.  Returns 0 or an errno (logged).  Whatever the
 * result, stateful_worker_stop(), _join() and _free() follow.
 */
int stateful_worker_start(struct stateful_worker *w,
			  const struct worker_env *env, unsigned idx);

/* Asks the worker's loop to end (any thread). */
void stateful_worker_stop(struct stateful_worker *w);

/* Waits for the worker's thread to end. */
void stateful_worker_join(struct stateful_worker *w);

/* Frees the worker's loop once its thread has ended. */
void stateful_worker_free(struct stateful_worker *w);

#endif
