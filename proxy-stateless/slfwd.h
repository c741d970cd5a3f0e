/*
 * slfwd.h - one forwarding worker of proxy-stateless: its own event
 * loop and transport, listening on the shared ports (SO_REUSEPORT),
 * relaying statelessly (RFC 3261 §16.11):
 *
 *  requests: validated; 400/505/416 answered statelessly, 420 for
 *  Proxy-Require, 483 at Max-Forwards 0; our own Route values popped
 *  (§16.4); the next hop is the next Route, the Request-URI of an
 *  in-dialog request sent elsewhere, or the second-stage server the
 *  key hashes to (503 with Retry-After when none is up); then the
 *  client's Via gets received/rport (§18.2.1; rport always on
 *  streams so the response finds the connection), our Via with the
 *  deterministic branch is added, Max-Forwards decremented, an
 *  optional Record-Route added.
 *
 *  responses: dropped unless the top Via is ours; ours is removed and
 *  the response goes to the next Via's received/rport (§18.2.2), over
 *  the connection the request came in on for streams.
 *
 * Nothing is allocated per message: one output buffer per worker.
 */
#ifndef SIPSTONE_SLFWD_H
#define SIPSTONE_SLFWD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "dispatch.h"
#include "slcfg.h"
#include "sip_tp.h"

enum slfwd_drop {
	SLFWD_DROP_STRAY,    /* response whose top Via is not ours */
	SLFWD_DROP_BAD_RESP, /* invalid response, or unroutable next Via */
	SLFWD_DROP_BAD_REQ,  /* invalid request we could not answer */
	SLFWD_DROP_NO_ROUTE, /* ACK with nowhere to go */
	SLFWD_DROP_SEND,     /* send failed */
	SLFWD_DROP_EDIT,     /* edits did not fit or overlapped */
	SLFWD_DROP_COUNT
};

#define SLFWD_SENT_N 8

/* Cumulative counters; written by the worker only, read by anyone. */
struct slfwd_stats {
	uint64_t req_in;
	uint64_t resp_in;
	uint64_t fwd_req;  /* requests forwarded (any destination) */
	uint64_t fwd_resp; /* responses relayed back */
	uint64_t fwd_hop[DISPATCH_MAX_HOPS]; /* requests per next hop */
	uint64_t fwd_route;	     /* requests that followed Route/R-URI */
	uint64_t sent[SLFWD_SENT_N]; /* our answers, slfwd_sent_status */
	uint64_t drop[SLFWD_DROP_COUNT];
	uint64_t passive_down; /* hops marked down on a send failure */
	uint64_t handoffs;     /* responses passed to the stream's worker */
};

struct slfwd;

/*
 * Creates worker index idx: its loop, transport and listeners (SO_
 * REUSEPORT).  listen[] gives the addresses; a port 0 there is replaced
 * by the bound port, so that the next workers share it.  set is shared
 * and must outlive the worker.  Returns 0 or an errno (logged).
 */
int slfwd_alloc(struct slfwd **wp, unsigned idx, const struct slcfg *cfg,
		struct sip_tp_addr *listen, struct dispatch_set *set,
		struct sip_tp_tls *tls_server, struct sip_tp_tls *tls_client);

/*
 * Tells w about every worker (itself included, peers[i] has index i),
 * before any is started: a response for a TCP/TLS client goes to the
 * worker whose transport holds the connection.  peers must outlive w.
 */
void slfwd_set_peers(struct slfwd *w, struct slfwd *const *peers, unsigned n);

/* Runs the worker's loop in a new thread.  Returns 0 or an errno. */
int slfwd_start(struct slfwd *w);

/* Stops the loop and joins the thread (no-op if not started). */
void slfwd_stop(struct slfwd *w);

/* Frees a stopped (or never started) worker.  NULL is fine. */
void slfwd_free(struct slfwd *w);

/* A consistent-enough copy of its counters (relaxed reads). */
void slfwd_stats_read(const struct slfwd *w, struct slfwd_stats *out);

/* Its transport's counters (racy reads, for monitoring only). */
const struct sip_tp_stats *slfwd_tp_stats(const struct slfwd *w);

/* Names of enum slfwd_drop and of slfwd_stats.sent[]. */
const char *slfwd_drop_name(enum slfwd_drop d);
extern const uint16_t slfwd_sent_status[SLFWD_SENT_N]; /* 0: other */

/*
 * For tests: handles one received message as the loop would (the rx of
 * a sip_tp receive call).
 */
void slfwd_handle(struct slfwd *w, const struct sip_tp_rx *rx);

#endif
