/*
 * sip_txn_int.h - inside the transaction layer (libsip only; programs
 * include sip_txn.h): the transaction and layer objects that sip_txn.c
 * (life cycle, timers, the layer), sip_txn_client.c (§17.1) and
 * sip_txn_server.c (§17.2) share, and what sip_txn.c offers the other
 * two.  All of it runs on the layer's one event loop.
 */
#ifndef SIPSTONE_SIP_TXN_INT_H
#define SIPSTONE_SIP_TXN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "hash.h"
#include "list.h"
#include "pl.h"
#include "sip_txn.h"

enum txn_kind {
	K_ICT,	/* INVITE client, §17.1.1 */
	K_NICT, /* non-INVITE client, §17.1.2 */
	K_IST,	/* INVITE server, §17.2.1 */
	K_NIST, /* non-INVITE server, §17.2.2 */
};

enum txn_state {
	S_CALLING,
	S_TRYING,
	S_PROCEEDING,
	S_COMPLETED,
	S_CONFIRMED,
	S_ACCEPTED, /* RFC 6026 */
	S_TERMINATED,
};

/* Key fields, stored once after the struct. */
enum {
	KEY_BRANCH,
	KEY_METHOD,
	KEY_HOST, /* server: Via sent-by host */
	/* Server transactions of RFC 2543 peers only (§17.2.3). */
	KEY_RURI,
	KEY_FROM_TAG,
	KEY_TO_TAG,
	KEY_CALL_ID,
	KEY_VIA,
	KEY_N
};

enum { CANCEL_NONE, CANCEL_PENDING, CANCEL_SENT };

struct kspan {
	uint16_t off;
	uint16_t len;
};

struct sip_txn {
	struct le le; /* in the layer's client or server table */
	struct sip_txn_layer *layer; /* NULL once terminated */
	struct ev_timer tmr_retx;    /* A, E, G */
	struct ev_timer tmr_end;     /* B, F, H; then D, K, I, J, L, M */
	struct ev_timer tmr_c;	     /* C (proxies' INVITE clients) */
	sip_txn_event_h *h;
	void *arg;
	char *out; /* the bytes sent last, owned */
	uint32_t outlen;
	uint32_t interval_ms; /* the current retransmission interval */
	uint32_t cseq;	      /* RFC 2543 matching */
	char *resp_to_tag;    /* RFC 2543 INVITE server: our To tag */
	uint16_t resp_to_tag_len;
	uint16_t port; /* server: Via sent-by port */
	uint16_t status;
	uint8_t kind;
	uint8_t state;
	bool rfc2543;
	bool timer_c;
	uint8_t cancel; /* ICT: CANCEL_NONE, _PENDING, _SENT */
	struct sip_txn_dest dst;
	struct kspan k[KEY_N];
	char keys[];
};

struct sip_txn_layer {
	struct ev *ev;
	struct sip_txn_cfg cfg;
	sip_txn_send_h *sendh;
	void *send_arg; /* sendh's: arg, or the binding of sip_txn_tp.c */
	sip_txn_request_h *reqh;
	void *arg;
	struct hash ctab;
	struct hash stab;
	struct sip_txn_stats stats;
};

static inline struct pl txn_key(const struct sip_txn *t, int i)
{
	struct pl pl = {t->keys + t->k[i].off, t->k[i].len};

	return pl;
}

static inline bool txn_is_invite(const struct sip_txn *t)
{
	return t->kind == K_ICT || t->kind == K_IST;
}

static inline bool txn_is_client(const struct sip_txn *t)
{
	return t->kind == K_ICT || t->kind == K_NICT;
}

/* Calls the TU; t is kept alive across the call. */
static inline void txn_notify(struct sip_txn *t, enum sip_txn_event ev,
			      const struct sip_msg *msg, int err)
{
	if (t->h)
		t->h(t, ev, msg, err, t->arg);
}

static inline int txn_send_out(struct sip_txn *t, const char *p, size_t n)
{
	struct sip_txn_layer *l = t->layer;

	return l->sendh(l->send_arg, &t->dst, p, n);
}

static inline uint64_t txn_ms(uint32_t v)
{
	return EV_MS(v);
}

static inline uint32_t txn_timer_64t1(const struct sip_txn_layer *l)
{
	return l->cfg.timer_b_ms;
}

/* Ends t: stops its timers, unlinks it and drops the layer's
 * reference.  The caller holds its own if it uses t afterwards. */
void sip_txn_end(struct sip_txn *t);

/* §17.1.4, §17.2.4: a transport failure (err) ends t and tells the TU. */
void sip_txn_fail(struct sip_txn *t, int err);

/* Starts the retransmission timer (A, E, G) at interval ms. */
void sip_txn_start_retx(struct sip_txn *t, uint32_t interval);

/*
 * Starts the wait of a state that only absorbs (D, K, I, J, L, M).  A
 * zero wait (reliable transports) ends t at once: the caller holds a
 * reference when it still needs t.
 */
void sip_txn_start_wait(struct sip_txn *t, uint32_t wait_ms);

/* Keeps a copy of the n bytes sent last (for retransmissions).
 * Returns 0, EOVERFLOW or ENOMEM. */
int sip_txn_store_out(struct sip_txn *t, const char *p, size_t n);

/* The timer handlers of tmr_end (B, F, H; D, K, I, J, L, M) and tmr_c
 * (arg: the transaction). */
void sip_txn_on_end(void *arg);
void sip_txn_on_timer_c(void *arg);

/*
 * Allocates a transaction of kind with room for the key fields in f
 * (KEY_N views, empty ones allowed) and copies them and dst (taking a
 * reference on dst->conn).  Returns 0, EOVERFLOW or ENOMEM.
 */
int sip_txn_new(struct sip_txn **tp, struct sip_txn_layer *l,
		enum txn_kind kind, const struct pl *f,
		const struct sip_txn_dest *dst);

#endif
