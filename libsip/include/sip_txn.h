/*
 * sip_txn.h - the SIP transaction layer (RFC 3261 §17, with the
 * Accepted states of RFC 6026).
 *
 * One layer per event loop (per worker thread); nothing here locks.  The
 * layer is transport-agnostic: it sends through a callback given a
 * struct sip_txn_dest, and is fed decoded, validated messages by whoever
 * reads the sockets (sip_txn_recv_request(), sip_txn_recv_response()).
 *
 * Client transactions (§17.1): sip_txn_client_start() sends a request
 * and retransmits it over unreliable transports (Timer A / E), times out
 * (Timer B / F), absorbs response retransmissions, ACKs non-2xx final
 * responses to INVITE itself (§17.1.1.3) and waits (Timer D / K).
 * Optionally runs Timer C (proxies, §16.6 step 11, §16.8).
 *
 * Server transactions (§17.2): a request that matches no transaction
 * creates one and goes to the TU's request handler; retransmissions are
 * absorbed (the last response is sent again); the TU answers with
 * sip_txn_reply().  A non-2xx final response to INVITE is retransmitted
 * (Timer G) until its ACK, which is absorbed (Timer H / I).  The ACK for
 * a 2xx is not part of the transaction: it reaches the TU's request
 * handler with no transaction.
 *
 * Transactions are obj (obj.h) reference-counted objects.  The layer
 * holds one reference while a transaction is alive (not terminated);
 * references the TU takes keep the memory valid after termination, and
 * every operation on a terminated transaction returns ESHUTDOWN.
 */
#ifndef SIPSTONE_SIP_TXN_H
#define SIPSTONE_SIP_TXN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pl.h"
#include "sip_msg.h"

struct ev;
struct sip_txn;
struct sip_txn_layer;

/* RFC 3261 §17.1.1.1 defaults, in ms. */
#define SIP_TXN_T1_MS 500u
#define SIP_TXN_T2_MS 4000u
#define SIP_TXN_T4_MS 5000u
#define SIP_TXN_TIMER_C_MS 180000u /* §16.6 step 11: > 3 minutes */
#define SIP_TXN_TIMER_D_MS 32000u  /* §17.1.1.2: >= 32 s */

/*
 * Where a message goes (or where a request came from: responses of a
 * server transaction go to the destination given with the request, so
 * the transport computes the §18.2.2 response address before calling
 * sip_txn_recv_request()).
 */
struct sip_txn_dest {
	enum sip_transport tp;
	bool reliable; /* no retransmissions (§17.1.1.2, §17.2.1) */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} addr;
	socklen_t addrlen;
	/* A connection (an obj, see obj.h) or NULL.  Transactions hold a
	 * reference on it while they live.  Opaque to the layer. */
	void *conn;
};

/*
 * Sends len bytes to dst.  Returns 0, or an errno: the transaction then
 * reports SIP_TXN_EV_TRANSPORT_ERROR (§17.1.4, §17.2.4) and ends.
 */
/*
 * Fills *d for host, a literal IPv4 or IPv6 address (no brackets; no DNS,
 * which would block per message), and port, over tp: reliable unless UDP,
 * no connection.  Returns 0, or ENOENT when host is not a literal
 * address; *d is written only on success.
 */
int sip_txn_dest_literal(struct sip_txn_dest *d, enum sip_transport tp,
			 const char *host, uint16_t port);

typedef int(sip_txn_send_h)(void *arg, const struct sip_txn_dest *dst,
			    const char *buf, size_t len);

/*
 * A request for the TU.  st is the new server transaction (borrowed:
 * obj_ref() it to keep it past the call), or NULL for an ACK that
 * matched no transaction (the ACK for a 2xx, §17.2.1, or a stray one).
 * src is where it came from.
 */
typedef void(sip_txn_request_h)(void *arg, struct sip_txn *st,
				const struct sip_msg *msg,
				const struct sip_txn_dest *src);

enum sip_txn_event {
	/* A response for a client transaction (msg set): every
	 * provisional, the first final, and for INVITE every 2xx
	 * (retransmissions and other forks' included, RFC 6026). */
	SIP_TXN_EV_RESPONSE = 1,
	/* Timer B or F (client), Timer H (server: no ACK came). */
	SIP_TXN_EV_TIMEOUT,
	/* Timer C fired (INVITE client with timer_c): the TU sends CANCEL
	 * when a provisional came, else acts as if 408 came (§16.8). The
	 * transaction goes on. */
	SIP_TXN_EV_TIMER_C,
	/* Sending failed (err is the errno); the transaction ended. */
	SIP_TXN_EV_TRANSPORT_ERROR,
};

/*
 * A transaction event.  msg is set for SIP_TXN_EV_RESPONSE only (valid
 * during the call); err for SIP_TXN_EV_TRANSPORT_ERROR.  t is borrowed.
 * The handler may call any function of this API, sip_txn_terminate()
 * and obj_deref() on its own references included.
 */
typedef void(sip_txn_event_h)(struct sip_txn *t, enum sip_txn_event ev,
			      const struct sip_msg *msg, int err, void *arg);

/* Layer settings; a zero member takes its default. */
struct sip_txn_cfg {
	uint32_t t1_ms;	     /* 500 */
	uint32_t t2_ms;	     /* 4000 */
	uint32_t t4_ms;	     /* 5000 */
	uint32_t timer_b_ms; /* 64*T1 (also F, H, J, L, M) */
	uint32_t timer_c_ms; /* 180000 */
	uint32_t timer_d_ms; /* 32000 */
	uint32_t buckets;    /* hash buckets per table: 4096 */
	/* §17.2.1: send "100 Trying" when an INVITE server transaction
	 * is created (proxies, §16.2; a UAS that answers late). */
	bool auto_100;
};

struct sip_txn_stats {
	uint64_t alive; /* transactions not terminated */
	uint64_t client_created;
	uint64_t server_created;
	uint64_t retransmissions;  /* requests and responses re-sent */
	uint64_t absorbed;	   /* retransmissions received and absorbed */
	uint64_t acks_absorbed;	   /* ACKs for non-2xx finals */
	uint64_t timeouts;	   /* B, F, H */
	uint64_t transport_errors; /* failed sends */
};

/*
 * Creates a layer on loop ev.  cfg may be NULL (defaults); sendh is
 * required; reqh receives new requests (NULL for a pure UAC: requests
 * are then dropped, no transaction is created).  Returns 0, EINVAL or
 * ENOMEM.  *lp is an obj: obj_deref() terminates every transaction left
 * (no events) and frees the layer; do it before freeing ev.
 */
int sip_txn_layer_alloc(struct sip_txn_layer **lp, struct ev *ev,
			const struct sip_txn_cfg *cfg, sip_txn_send_h *sendh,
			sip_txn_request_h *reqh, void *arg);

void sip_txn_layer_stats(const struct sip_txn_layer *l,
			 struct sip_txn_stats *st);

/* A request to send in a new client transaction. */
struct sip_txn_creq {
	const struct sip_txn_dest *dst;
	struct pl branch; /* the top Via branch of msg (with the cookie) */
	struct pl method; /* the request method ("INVITE", "CANCEL", ...) */
	struct pl msg;	  /* the whole request; copied */
	bool timer_c;	  /* INVITE only: run Timer C (proxies) */
};

/*
 * Creates a client transaction, sends the request and starts its timers.
 * h (required) gets the events; arg is its argument.  Returns 0 and, if
 * ctp is not NULL, a new reference in *ctp (the caller's, to
 * obj_deref()); EINVAL (no branch or method, a branch without the RFC
 * 3261 cookie, ACK: not a transaction), EEXIST (a live client
 * transaction has that branch and method), ESHUTDOWN, ENOMEM, or the
 * send error (nothing is created then).
 */
int sip_txn_client_start(struct sip_txn **ctp, struct sip_txn_layer *l,
			 const struct sip_txn_creq *req, sip_txn_event_h *h,
			 void *arg);

/*
 * Cancels INVITE client transaction ict (§9.1): builds the CANCEL from
 * the INVITE it sent (same Request-URI, top Via, Call-ID, From, To, CSeq
 * number, Route) and sends it in a new non-INVITE client transaction to
 * the same destination.  Its events go to ict's handler (tell the two
 * apart with sip_txn_is_invite()).  Before any provisional response the
 * CANCEL waits for the first one (§9.1: a CANCEL must not be sent
 * earlier); a final response arriving first drops it.  Returns 0, EINVAL
 * (not an INVITE client transaction), EALREADY (a final response came,
 * or cancelled already), ESHUTDOWN, ENOMEM, or the send error.
 */
int sip_txn_client_cancel(struct sip_txn *ict);

/*
 * Feeds a validated response.  Returns 0 when a client transaction took
 * it (it may have been absorbed), ENOENT when none matched (§18.1.2: the
 * core handles it, e.g. a stateless proxy forwards it), EINVAL for a
 * request or a message not validated.
 */
int sip_txn_recv_response(struct sip_txn_layer *l, const struct sip_msg *msg);

/*
 * Feeds a validated request that came from src.  Returns 0 when it was
 * absorbed by a transaction, given to the request handler with a new
 * server transaction, or given to it as an ACK without one; EINVAL for a
 * response or a message not validated, ESHUTDOWN, ENOMEM.
 */
int sip_txn_recv_request(struct sip_txn_layer *l, const struct sip_msg *msg,
			 const struct sip_txn_dest *src);

/*
 * Sets the event handler of server transaction st (Timer H timeout,
 * transport errors).  Without one these events are only counted.
 */
void sip_txn_server_set_handler(struct sip_txn *st, sip_txn_event_h *h,
				void *arg);

/*
 * Sends a response ("SIP/2.0 NNN ...", whole message, copied) in server
 * transaction st and moves it on (§17.2.1, §17.2.2).  Returns 0, EINVAL
 * (not a server transaction, not a status line, a provisional after a
 * final, a second final), ESHUTDOWN (terminated), ENOMEM, or the send
 * error (the transaction then ends, with SIP_TXN_EV_TRANSPORT_ERROR).
 * For an INVITE, a 2xx may be sent again (retransmissions of the 2xx by
 * the TU, RFC 6026 Accepted state).
 */
int sip_txn_reply(struct sip_txn *st, const char *buf, size_t len);

/*
 * The INVITE server transaction that CANCEL request cancel (validated)
 * refers to (§9.2: same matching rules but the method), or NULL.  A new
 * reference: obj_deref() it.
 */
struct sip_txn *sip_txn_find_invite(struct sip_txn_layer *l,
				    const struct sip_msg *cancel);

/*
 * Stops the events of client transaction ct (its TU has forgotten it):
 * it goes on absorbing retransmitted responses (and ACKing non-2xx
 * finals, §17.1.1.3) until its own timers end it.  NULL is allowed.
 */
void sip_txn_client_detach(struct sip_txn *ct);

/* Ends t now: timers stopped, unlinked, no event.  NULL is allowed. */
void sip_txn_terminate(struct sip_txn *t);

/* Accessors. */
bool sip_txn_is_client(const struct sip_txn *t);
bool sip_txn_is_invite(const struct sip_txn *t);
bool sip_txn_is_terminated(const struct sip_txn *t);
/* The last response status sent (server) or received (client), or 0. */
uint16_t sip_txn_status(const struct sip_txn *t);
/* The bytes sent last: the request (client; the ACK once a non-2xx was
 * ACKed; nothing once a non-INVITE client has its final response or an
 * INVITE client its 2xx) or the last response (server).  Valid until
 * the next call. */
struct pl sip_txn_sent(const struct sip_txn *t);
/* The destination (client) or the source (server). */
const struct sip_txn_dest *sip_txn_dest(const struct sip_txn *t);

/* The state names of §17 for logs and tests: "Calling", "Trying",
 * "Proceeding", "Completed", "Confirmed", "Accepted", "Terminated". */
const char *sip_txn_state_name(const struct sip_txn *t);

#endif
