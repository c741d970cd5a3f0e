/*
 * uac.h - what the callhandler's two UACs share: the registrations
 * (registration.h) and the presence watchers (watch.h) pace their
 * requests, answer digest challenges (RFC 3261 §22.2) and send each
 * request in a new client transaction to the server under test.
 */
#ifndef SIPSTONE_UAC_H
#define SIPSTONE_UAC_H

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"
#include "pl.h"
#include "sip_tp.h"
#include "sip_txn.h"

struct buf;
struct sip_auth_client;
struct sip_msg;

/*
 * How many of n requests are due elapsed_ns after the
 * start at rate per second (the first at once), at most n.
 */
uint32_t uac_pace_due(uint64_t elapsed_ns, unsigned rate, uint32_t n);

/*
 * Takes up the 401/407 msg for user with password: allocates *auth on
 * first use (caller frees it, sip_auth_client_free) and answers the
 * first challenge of the response it can.  challenges is how many this
 * attempt answered already: one answer, two when the nonce went stale
 * meanwhile.  Returns 0, EACCES (no password, no challenge header, or
 * two answered already), or the error of decoding or answering it.
 */
int uac_auth_challenge(struct sip_auth_client **auth, const char *user,
		       const char *password, unsigned challenges,
		       const struct sip_msg *msg);

/*
 * Appends to b the Authorization (Proxy-Authorization with proxy) line
 * of method to ruri when auth (may be NULL) has a challenge to answer,
 * else nothing.  Returns 0 or the error of printing it.
 */
int uac_auth_print(struct buf *b, struct sip_auth_client *auth, bool proxy,
		   const struct pl *method, const char *ruri);

typedef void(uac_pacer_send_h)(uint32_t i, void *arg);
typedef void(uac_pacer_done_h)(void *arg);

/*
 * n first requests (one per user or dialog) paced at rate per second
 * from uac_pacer_start(), and the count of those settled (succeeded or
 * given up for good): done_ms is the time from the start to the last
 * one settling.  Lives inside its owner; runs on ev.
 */
struct uac_pacer {
	struct ev *ev; /* NULL until uac_pacer_init() */
	struct sip_tp *tp;
	unsigned rate;
	uint32_t n, next, settled;
	uint64_t start_ns, done_ms;
	struct ev_timer tick;
	uac_pacer_send_h *send; /* sends the first request of i */
	uac_pacer_done_h *done; /* every one settled (once; may be NULL) */
	void *arg;
};

void uac_pacer_init(struct uac_pacer *p, struct ev *ev, uint32_t n,
		    unsigned rate, uac_pacer_send_h *send,
		    uac_pacer_done_h *done, void *arg);

/* Starts now: the requests due go at once, the others on a 1 ms tick,
 * and tp is flushed after each batch. */
void uac_pacer_start(struct uac_pacer *p, struct sip_tp *tp);

/* Counts one settled, the first time for its flag *settled. */
void uac_pacer_settle(struct uac_pacer *p, bool *settled);

/* Stops the tick (before the owner goes). */
void uac_pacer_cancel(struct uac_pacer *p);

/* ";transport=tcp" / ";transport=tls" for a Contact URI, "" for UDP. */
const char *uac_transport_param(enum sip_transport tp);

/* One request of a UAC, for uac_send().  Strings are borrowed. */
struct uac_req {
	struct sip_txn_layer *txl; /* bound to the transport (sip_txn_tp.h) */
	const struct sip_tp_addr *server; /* where it goes */
	const char *via_hostport;	  /* our sent-by */
	struct pl method;
	const char *ruri;
	const char *from; /* name-addr without tag */
	const char *from_tag;
	const char *to;	    /* name-addr without tag */
	const char *to_tag; /* NULL or "": outside a dialog */
	const char *call_id;
	uint32_t cseq;
	const char *contact; /* the Contact value */
	/* Extra header lines (each ending in CRLF): the Authorization
	 * line of auth is appended to them. */
	struct buf *hdrs;
	struct sip_auth_client *auth; /* NULL: no credentials yet */
	bool proxy_auth;    /* auth answers a 407: Proxy-Authorization */
	struct buf *out;    /* the message is built here (reset first) */
	sip_txn_event_h *h; /* the transaction's events */
	void *arg;
};

/*
 * Builds r's request (a new branch, Via over the server's transport with
 * rport) and starts it in a new client transaction on r->txl.  The
 * transaction in *ctp, if any (the previous attempt's), is detached (no
 * more events) and its reference dropped first; *ctp then gets the new
 * one (the caller's).  Returns 0, or the error of printing, building or
 * starting it (*ctp is then NULL).
 */
int uac_send(const struct uac_req *r, struct sip_txn **ctp);

#endif
