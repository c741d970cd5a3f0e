/*
 * loadcall.h - the loader's INVITE call test, one instance per worker
 * thread (the engine owns the threads, sockets and pacing and hands each
 * new call, each request and each unmatched response to this module).
 *
 * A call: INVITE with an SDP offer (RFC 3261 §13.2.1) in a client
 * transaction of the worker's libsip layer (retransmissions over UDP,
 * Timer B the establishment threshold), 100/180/183 (the first 180/183
 * or the 2xx ends SRD), a 401/407 answered like the REGISTER path
 * (preloaded credentials go in Proxy-Authorization), the 2xx ACKed
 * (§13.2.2.4, again for each 2xx retransmission), the dialog's route
 * set from the 2xx's Record-Route reversed and its remote target from
 * its Contact (§12.1.2), a holding time (fixed, or drawn from an
 * exponential distribution), then BYE (§15.1.1) along the
 * route set and its 200.  The far end may end the call first with a BYE
 * (answered 200) or refresh it with a re-INVITE (answered 200 with the
 * same SDP, remote target updated, §12.2.2); a request for a dialog we
 * do not know gets 481.
 *
 * Loose routing only: the next hop is the first Route's URI, or the
 * remote target without a route set; its host must be a numeric
 * address (no resolver in the hot path), else the call's messages go to
 * the configured server.
 *
 * Every call ends once, as a success (its BYE answered 2xx, or the far
 * end's BYE) or a failure (INVITE final >= 300 by code, Timer B, a send
 * error, BYE failure, or unfinished at shutdown); the generic counters
 * of loadcount.h then carry calls: attempts, successes, failures,
 * timeouts, codes (the INVITE's final), rtt (INVITE to its final).
 * A call is concurrent (loadcount_call.active) from its 2xx to its end.
 */
#ifndef LOADER_LOADCALL_H
#define LOADER_LOADCALL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hist.h"
#include "sip_msg.h"
#include "sip_tp.h"
#include "sip_txn.h"

struct ev;
struct loadcfg;
struct loadcount;
struct sip_auth_client;

/* What a worker lends its call module; everything outlives it. */
struct loadcall_env {
	const struct loadcfg *cfg;
	struct ev *ev;
	struct sip_tp *tp;
	struct sip_txn_layer *txl;
	const char *hostport; /* ours, for Via and Contact */
	pthread_mutex_t *mu;  /* guards *c */
	/* When the message being handled arrived (the transport's kernel
	 * receive time, set around each dispatch, 0 when unknown), on
	 * the monotonic clock; NULL: the module reads the clock itself. */
	const uint64_t *rx_ns;
	struct loadcount *c;
	/* The cohort of the call being started (loadcount.h); NULL: 0. */
	const unsigned *cohort;
	/* Called when the last call ends while draining. */
	void (*idle)(void *arg);
	/* Sends a message outside a transaction (the ACK for a 2xx) as
	 * the layer's sends go: on dst->conn when it is set. */
	sip_txn_send_h *send;
	/* TCP/TLS: the connection (an obj for struct sip_txn_dest.conn,
	 * new reference, or NULL) that user num's call is bound to; and
	 * the end of the call that held it.  NULL: none. */
	void *(*conn_for)(void *arg, uint32_t num);
	void (*conn_done)(void *arg, void *conn);
	void *arg;
	/* The engine's concurrent calls over all threads and their
	 * highest count (the module keeps them up to date), or NULL. */
	_Atomic uint64_t *active_all, *active_max;
};

struct loadcall;

/* Returns 0, ENOMEM.  *lcp is the caller's: loadcall_free() it. */
int loadcall_alloc(struct loadcall **lcp, const struct loadcall_env *env);

/*
 * Ends every call left without a word (they count as unfinished in
 * loadgen_stop) and frees lc.  Do it before the transaction layer goes.
 * NULL is allowed.
 */
void loadcall_free(struct loadcall *lc);

/*
 * Starts a call from user num (credentials in *auth, created on the
 * first challenge and kept there for the user's later calls) to callee
 * num.  The attempt is already counted by the caller; a call that
 * cannot be sent ends at once as a transport error.
 */
void loadcall_start(struct loadcall *lc, uint32_t num, uint32_t callee,
		    struct sip_auth_client **auth);

/* Calls in flight (INVITE sent, not ended). */
uint64_t loadcall_outstanding(const struct loadcall *lc);

/* Draining: calls on hold send their BYE now; no new calls follow.
 * env->idle runs when none is left (at once if none is). */
void loadcall_drain(struct loadcall *lc);

/* The layer's request handler (sip_txn_request_h) with lc as arg. */
void loadcall_request(void *lc, struct sip_txn *st, const struct sip_msg *msg,
		      const struct sip_txn_dest *src);

/*
 * A validated response that matched no transaction: a 2xx to an INVITE
 * retransmitted after its transaction ended is ACKed again.  Returns 0
 * when it was a call's, ENOENT otherwise.
 */
int loadcall_response(struct loadcall *lc, const struct sip_msg *msg);

/* The SDP offer of every INVITE, with the address of ip (numeric). */
int loadcall_sdp(char *out, size_t size, const char *ip);

#endif
