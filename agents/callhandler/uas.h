/*
 * uas.h - the callhandler's user agent server: worker threads, each with
 * its own event loop, transports (listening with SO_REUSEPORT on every
 * --listen address) and transaction layer, answering what reaches them:
 *
 *   INVITE   180 (with a To-tag), after ring_ms 200 with an SDP answer;
 *            the 2xx is retransmitted until its ACK (RFC 3261 §13.3.1.4);
 *            or, by failure injection, 503 / 486 at once
 *   ACK      ends the 2xx retransmissions of its call
 *   CANCEL   200, and 487 for the INVITE when it has no final yet (§9.2)
 *   BYE      200
 *   OPTIONS  200;  NOTIFY 200;  any other method 405
 *
 * A call (INVITE to ACK) lives on the worker whose socket got the INVITE;
 * its state is in that worker only.  Malformed messages are counted and
 * dropped (requests the decoder could split get the 400/505/416 that
 * sip_msg_validate() names).
 */
#ifndef SIPSTONE_UAS_H
#define SIPSTONE_UAS_H

#include <stdbool.h>
#include <stdint.h>

#include "sip_tp.h"

#define UAS_MAX_LISTEN 8
#define UAS_MAX_THREADS 64

struct uas_cfg {
	struct sip_tp_addr listen[UAS_MAX_LISTEN];
	unsigned nlisten;
	unsigned threads;     /* >= 1 */
	unsigned ring_ms;     /* between 180 and 200 */
	unsigned fail_486_bp; /* basis points (1/100 %) of INVITEs: 486 */
	unsigned fail_503_bp; /* ... and 503 */
	struct sip_tp_tls *tls_server; /* needed for tls: listeners */
};

/*
 * Counters, cumulative.  Each worker writes its own; uas_stats() sums
 * snapshots taken on the workers' own threads.
 */
struct uas_stats {
	uint64_t requests;	  /* valid requests that made a transaction */
	uint64_t invites;	  /* new INVITEs (not retransmissions) */
	uint64_t ringing;	  /* 180 sent */
	uint64_t answered;	  /* 200 sent to an INVITE */
	uint64_t acks;		  /* ACKs that ended a call's 2xx */
	uint64_t acks_stray;	  /* ACKs for no call we know */
	uint64_t ack_timeouts;	  /* no ACK within 64*T1 of the 2xx */
	uint64_t retrans_2xx;	  /* 2xx retransmitted by us */
	uint64_t byes;		  /* BYE answered 200 */
	uint64_t cancels;	  /* CANCEL answered 200 */
	uint64_t cancels_481;	  /* CANCEL for no transaction */
	uint64_t cancelled;	  /* INVITE answered 487 */
	uint64_t options;	  /* OPTIONS answered 200 */
	uint64_t notifies;	  /* NOTIFY answered 200 */
	uint64_t other;		  /* other methods, answered 405 */
	uint64_t fail_486;	  /* injected */
	uint64_t fail_503;	  /* injected */
	uint64_t busy_491;	  /* a second INVITE in a live call */
	uint64_t bad_in;	  /* failed validation (counted, dropped) */
	uint64_t stray_responses; /* responses: we send no requests */
	uint64_t calls_alive;	  /* INVITE seen, no ACK/CANCEL/BYE yet */
	/* from the transaction layers */
	uint64_t retransmissions; /* responses re-sent by the layer */
	uint64_t absorbed;	  /* request retransmissions absorbed */
	uint64_t txn_timeouts;	  /* Timer H: no ACK for a non-2xx */
	/* from the transports */
	uint64_t msgs_in;
	uint64_t msgs_out;
	uint64_t drop_parse; /* undecodable datagrams / streams */
	uint64_t drop_overflow;
	uint64_t drop_send;
	uint64_t conns_accepted;
	uint64_t tls_handshakes;
};

struct uas;

/*
 * Creates the workers (not running yet) and binds every listener in
 * each with SO_REUSEPORT (a port 0 is chosen by the first worker and
 * shared by the others).  Returns 0, EINVAL (bad cfg, tls: without a
 * server context), ENOMEM, or a bind error (logged).  *up is the
 * caller's: uas_free() it.
 */
int uas_alloc(struct uas **up, const struct uas_cfg *cfg);

/* Starts the worker threads.  Returns 0 or the pthread error. */
int uas_start(struct uas *u);

/* Stops and joins the workers (if started) and frees everything. */
void uas_free(struct uas *u);

/*
 * Sums every worker's counters into *st, each snapshot taken on the
 * worker's thread (waits for them, at most about a second; a worker
 * that does not answer in time contributes its last snapshot).
 */
void uas_stats(struct uas *u, struct uas_stats *st);

/* The addresses actually bound (port 0 resolved), cfg order. */
unsigned uas_listen_count(const struct uas *u);
const struct sip_tp_addr *uas_listen_addr(const struct uas *u, unsigned i);

/*
 * The failure injection decision for one INVITE, per worker: after n
 * INVITEs each kind has been answered floor(n * bp / 10000) times, or
 * (when both fell due on one INVITE) one less until the next, so the
 * ratios hold over any run, not just on average.  Returns 503, 486 or 0
 * (answer normally).  Zero the struct to start.
 */
struct uas_fail {
	uint64_t n;
	uint64_t given_486;
	uint64_t given_503;
};
uint16_t uas_fail_next(struct uas_fail *f, unsigned bp_486, unsigned bp_503);

#endif
