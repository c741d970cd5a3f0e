/*
 * worker_ctx.h - what a request handler (registrar.h, presence.h,
 * proxy_core.h) and the reply service (reply.h) see of the worker thread
 * they run on: its loop, transaction layer, scratch buffer, counters and
 * the Via and Record-Route values of its transports.  Filled in by
 * stateful_worker.c on the worker's own thread before its loop runs;
 * used by that thread only, but the counters, which any thread reads.
 */
#ifndef SIPSTONE_WORKER_CTX_H
#define SIPSTONE_WORKER_CTX_H

#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "ev.h"
#include "sip_msg.h"
#include "sip_tp.h"
#include "sip_txn.h"

/* Counters: written by their worker only, read by any thread. */
#define STATEFUL_CNT_INC(x) __atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)
#define STATEFUL_CNT_SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define STATEFUL_CNT_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

enum stateful_drop {
	STATEFUL_DROP_INVALID_REQ = 0, /* answered 4xx/5xx statelessly */
	STATEFUL_DROP_INVALID_RESP,
	STATEFUL_DROP_STRAY_RESP,
	STATEFUL_DROP_STRAY_ACK,
	STATEFUL_DROP_SEND,
	STATEFUL_DROP_COUNT
};

struct stateful_counters {
	uint64_t req_in[SIP_METHOD_COUNT];
	uint64_t resp_out[700]; /* responses sent upstream, by status */
	uint64_t resp_in[700];	/* responses from downstream, by status */
	uint64_t drops[STATEFUL_DROP_COUNT];
	uint64_t registers_ok, auth_challenges, auth_failures;
	uint64_t calls_forwarded, acks_forwarded;
	/* copied from the transaction layer and transports each tick */
	uint64_t txn_alive, txn_retrans, txn_timeouts, tp_drop_parse;
	uint64_t txn_acks_absorbed; /* ACKs of our non-2xx finals */
	uint64_t calls_alive;
	/* TCP/TLS connections of the shared listeners' transport */
	uint64_t conns_accepted, conns_opened, conns_closed, conns_open;
	uint64_t tls_full, tls_resumed, tls_failed;
};

struct worker_ctx {
	unsigned idx; /* 0 .. workers - 1 */
	struct ev *ev;
	struct sip_txn_layer *txl;
	struct sip_tp *priv; /* private UDP socket, outgoing requests */
	/* "SIP/2.0/UDP 127.0.0.1:40000" etc. per transport, for Via */
	char via[SIP_TP_NPROTO][SIP_TP_ADDR_STRLEN + 16];
	/* "<sip:127.0.0.1:5060;lr>" etc. per transport, for Record-Route */
	char rr[SIP_TP_NPROTO][SIP_TP_ADDR_STRLEN + 32];
	struct buf out; /* scratch for outgoing messages */
	struct stateful_counters c;
};

/* Unix seconds now (binding and subscription expiry, digest nonces). */
static inline uint64_t worker_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

#endif
