#include "sip_txn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "sip_txn"
#include "buf.h"
#include "ev.h"
#include "hash.h"
#include "list.h"
#include "log.h"
#include "obj.h"
#include "sip_build.h"

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
	sip_txn_request_h *reqh;
	void *arg;
	struct hash ctab;
	struct hash stab;
	struct sip_txn_stats stats;
};

static struct pl key(const struct sip_txn *t, int i)
{
	struct pl pl = {t->keys + t->k[i].off, t->k[i].len};

	return pl;
}

static bool is_invite(const struct sip_txn *t)
{
	return t->kind == K_ICT || t->kind == K_IST;
}

static bool is_client(const struct sip_txn *t)
{
	return t->kind == K_ICT || t->kind == K_NICT;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */

static void txn_destroy(void *arg)
{
	struct sip_txn *t = arg;

	/* Terminated before the last reference went: the layer holds
	 * one while the transaction lives.  Belt and braces anyway. */
	if (t->layer) {
		ev_timer_cancel(t->layer->ev, &t->tmr_retx);
		ev_timer_cancel(t->layer->ev, &t->tmr_end);
		ev_timer_cancel(t->layer->ev, &t->tmr_c);
	}
	list_unlink(&t->le);
	free(t->out);
	free(t->resp_to_tag);
	obj_deref(t->dst.conn);
}

/* Ends t: stops its timers, unlinks it and drops the layer's
 * reference.  The caller holds its own if it uses t afterwards. */
static void txn_end(struct sip_txn *t)
{
	struct sip_txn_layer *l = t->layer;

	if (t->state == S_TERMINATED)
		return;
	t->state = S_TERMINATED;
	if (l) {
		ev_timer_cancel(l->ev, &t->tmr_retx);
		ev_timer_cancel(l->ev, &t->tmr_end);
		ev_timer_cancel(l->ev, &t->tmr_c);
		l->stats.alive--;
	}
	list_unlink(&t->le);
	t->layer = NULL;
	obj_deref(t);
}

void sip_txn_terminate(struct sip_txn *t)
{
	if (t)
		txn_end(t);
}

/* Calls the TU; t is kept alive across the call. */
static void notify(struct sip_txn *t, enum sip_txn_event ev,
		   const struct sip_msg *msg, int err)
{
	if (t->h)
		t->h(t, ev, msg, err, t->arg);
}

static int txn_send(struct sip_txn *t, const char *p, size_t n)
{
	struct sip_txn_layer *l = t->layer;

	return l->sendh(l->arg, &t->dst, p, n);
}

/* §17.1.4, §17.2.4: a transport failure ends the transaction. */
static void txn_fail(struct sip_txn *t, int err)
{
	t->layer->stats.transport_errors++;
	obj_ref(t);
	txn_end(t);
	notify(t, SIP_TXN_EV_TRANSPORT_ERROR, NULL, err);
	obj_deref(t);
}

static void txn_timeout(struct sip_txn *t)
{
	t->layer->stats.timeouts++;
	obj_ref(t);
	txn_end(t);
	notify(t, SIP_TXN_EV_TIMEOUT, NULL, 0);
	obj_deref(t);
}

static uint64_t ms(uint32_t v)
{
	return EV_MS(v);
}

static uint32_t timer_64t1(const struct sip_txn_layer *l)
{
	return l->cfg.timer_b_ms;
}

static void on_retx(void *arg);
static void on_end(void *arg);

static void start_retx(struct sip_txn *t, uint32_t interval)
{
	t->interval_ms = interval;
	ev_timer_start(t->layer->ev, &t->tmr_retx, ms(interval), on_retx, t);
}

/*
 * Starts the wait of a state that only absorbs (D, K, I, J, L, M).  A
 * zero wait (reliable transports) ends t at once: the caller holds a
 * reference when it still needs t.
 */
static void start_wait(struct sip_txn *t, uint32_t wait_ms)
{
	if (wait_ms == 0) {
		txn_end(t);
		return;
	}
	ev_timer_start(t->layer->ev, &t->tmr_end, ms(wait_ms), on_end, t);
}

static int store_out(struct sip_txn *t, const char *p, size_t n)
{
	char *c;

	if (n > UINT32_MAX)
		return EOVERFLOW;
	c = malloc(n ? n : 1);
	if (!c)
		return ENOMEM;
	memcpy(c, p, n);
	free(t->out);
	t->out = c;
	t->outlen = (uint32_t)n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Timers                                                              */

static void on_retx(void *arg)
{
	struct sip_txn *t = arg;
	struct sip_txn_layer *l = t->layer;
	uint32_t next;
	int err;

	switch (t->kind) {
	case K_ICT:
		/* §17.1.1.2 Timer A: doubles each time, no T2 cap;
		 * Timer B ends it after 64*T1. */
		if (t->state != S_CALLING)
			return;
		next = t->interval_ms * 2;
		break;
	case K_NICT:
		/* §17.1.2.2 Timer E: doubles up to T2 in Trying, T2 in
		 * Proceeding. */
		if (t->state == S_TRYING)
			next = t->interval_ms * 2 < l->cfg.t2_ms
				       ? t->interval_ms * 2
				       : l->cfg.t2_ms;
		else if (t->state == S_PROCEEDING)
			next = l->cfg.t2_ms;
		else
			return;
		break;
	case K_IST:
		/* §17.2.1 Timer G: min(2*interval, T2). */
		if (t->state != S_COMPLETED)
			return;
		next = t->interval_ms * 2 < l->cfg.t2_ms ? t->interval_ms * 2
							 : l->cfg.t2_ms;
		break;
	default:
		return;
	}
	err = txn_send(t, t->out, t->outlen);
	if (err) {
		txn_fail(t, err);
		return;
	}
	l->stats.retransmissions++;
	start_retx(t, next);
}

static void on_end(void *arg)
{
	struct sip_txn *t = arg;

	switch (t->state) {
	case S_CALLING: /* B */
	case S_TRYING:	/* F */
		txn_timeout(t);
		break;
	case S_PROCEEDING:
		/* F keeps running in Proceeding (§17.1.2.2); an INVITE
		 * client has no B there (Timer C is the TU's). */
		if (t->kind == K_NICT)
			txn_timeout(t);
		break;
	case S_COMPLETED:
		if (t->kind == K_IST) /* H: no ACK came */
			txn_timeout(t);
		else /* D, K, J */
			txn_end(t);
		break;
	case S_CONFIRMED: /* I */
	case S_ACCEPTED:  /* L, M */
		txn_end(t);
		break;
	default:
		break;
	}
}

static void on_timer_c(void *arg)
{
	struct sip_txn *t = arg;

	obj_ref(t);
	notify(t, SIP_TXN_EV_TIMER_C, NULL, 0);
	obj_deref(t);
}

/* ------------------------------------------------------------------ */
/* The layer                                                           */

static void layer_drain(struct hash *h)
{
	for (uint32_t i = 0; h->buckets && i <= h->mask; i++) {
		while (h->buckets[i].head)
			txn_end(h->buckets[i].head->data);
	}
}

static void layer_destroy(void *arg)
{
	struct sip_txn_layer *l = arg;

	layer_drain(&l->ctab);
	layer_drain(&l->stab);
	hash_free(&l->ctab);
	hash_free(&l->stab);
}

int sip_txn_layer_alloc(struct sip_txn_layer **lp, struct ev *ev,
			const struct sip_txn_cfg *cfg, sip_txn_send_h *sendh,
			sip_txn_request_h *reqh, void *arg)
{
	struct sip_txn_layer *l = NULL;
	int err;

	if (!lp || !ev || !sendh)
		return EINVAL;
	l = obj_alloc(sizeof(*l), layer_destroy);
	if (!l)
		return ENOMEM;
	l->ev = ev;
	if (cfg)
		l->cfg = *cfg;
	if (!l->cfg.t1_ms)
		l->cfg.t1_ms = SIP_TXN_T1_MS;
	if (!l->cfg.t2_ms)
		l->cfg.t2_ms = SIP_TXN_T2_MS;
	if (!l->cfg.t4_ms)
		l->cfg.t4_ms = SIP_TXN_T4_MS;
	if (!l->cfg.timer_b_ms)
		l->cfg.timer_b_ms = 64 * l->cfg.t1_ms;
	if (!l->cfg.timer_c_ms)
		l->cfg.timer_c_ms = SIP_TXN_TIMER_C_MS;
	if (!l->cfg.timer_d_ms)
		l->cfg.timer_d_ms = SIP_TXN_TIMER_D_MS;
	if (!l->cfg.buckets)
		l->cfg.buckets = 4096;
	l->sendh = sendh;
	l->reqh = reqh;
	l->arg = arg;
	err = hash_init(&l->ctab, l->cfg.buckets);
	if (err)
		goto out;
	err = hash_init(&l->stab, l->cfg.buckets);
	if (err)
		goto out;
	*lp = l;
	l = NULL;
out:
	obj_deref(l);
	return err;
}

void sip_txn_layer_stats(const struct sip_txn_layer *l,
			 struct sip_txn_stats *st)
{
	*st = l->stats;
}

/*
 * Allocates a transaction with room for the key fields in f (KEY_N
 * views, empty ones allowed) and copies them.
 */
static int txn_alloc(struct sip_txn **tp, struct sip_txn_layer *l,
		     enum txn_kind kind, const struct pl *f,
		     const struct sip_txn_dest *dst)
{
	struct sip_txn *t;
	size_t total = 0, off = 0;

	for (int i = 0; i < KEY_N; i++) {
		if (f[i].l > UINT16_MAX)
			return EOVERFLOW;
		total += f[i].l;
	}
	if (total > UINT16_MAX)
		return EOVERFLOW;
	t = obj_alloc(sizeof(*t) + total, txn_destroy);
	if (!t)
		return ENOMEM;
	for (int i = 0; i < KEY_N; i++) {
		t->k[i].off = (uint16_t)off;
		t->k[i].len = (uint16_t)f[i].l;
		if (f[i].l)
			memcpy(t->keys + off, f[i].p, f[i].l);
		off += f[i].l;
	}
	t->layer = l;
	t->kind = (uint8_t)kind;
	t->dst = *dst;
	obj_ref(t->dst.conn);
	*tp = t;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Client transactions                                                 */

static struct sip_txn *client_find(const struct sip_txn_layer *l,
				   const struct pl *branch,
				   const struct pl *method)
{
	struct list *b = hash_bucket(&l->ctab, hash_pl(branch));

	for (struct le *le = b->head; le; le = le->next) {
		struct sip_txn *t = le->data;
		struct pl kb = key(t, KEY_BRANCH), km = key(t, KEY_METHOD);

		/* §17.1.3: branch and CSeq method. */
		if (pl_eq(&kb, branch) && pl_eq(&km, method))
			return t;
	}
	return NULL;
}

int sip_txn_client_start(struct sip_txn **ctp, struct sip_txn_layer *l,
			 const struct sip_txn_creq *req, sip_txn_event_h *h,
			 void *arg)
{
	struct pl f[KEY_N] = {{0}};
	struct sip_txn *t = NULL;
	bool invite;
	int err;

	if (!l || !req || !req->dst || !h || !req->msg.l || !req->method.l ||
	    !sip_branch_has_cookie(&req->branch) ||
	    pl_eq_str(&req->method, "ACK"))
		return EINVAL;
	if (client_find(l, &req->branch, &req->method))
		return EEXIST;
	invite = pl_eq_str(&req->method, "INVITE");
	f[KEY_BRANCH] = req->branch;
	f[KEY_METHOD] = req->method;
	err = txn_alloc(&t, l, invite ? K_ICT : K_NICT, f, req->dst);
	if (err)
		goto out;
	t->h = h;
	t->arg = arg;
	t->timer_c = invite && req->timer_c;
	t->state = invite ? S_CALLING : S_TRYING;
	err = store_out(t, req->msg.p, req->msg.l);
	if (err)
		goto out;
	err = txn_send(t, t->out, t->outlen);
	if (err)
		goto out;

	hash_append(&l->ctab, hash_pl(&req->branch), &t->le, t);
	l->stats.alive++;
	l->stats.client_created++;
	/* §17.1.1.2 (A, B), §17.1.2.2 (E, F): retransmit only over
	 * unreliable transports; the timeout runs on all. */
	if (!req->dst->reliable)
		start_retx(t, l->cfg.t1_ms);
	ev_timer_start(l->ev, &t->tmr_end, ms(timer_64t1(l)), on_end, t);
	if (t->timer_c)
		ev_timer_start(l->ev, &t->tmr_c, ms(l->cfg.timer_c_ms),
			       on_timer_c, t);
	if (ctp)
		*ctp = obj_ref(t);
	t = NULL;
out:
	/* Not linked yet on error: the destructor frees what is set. */
	if (t)
		t->layer = NULL;
	obj_deref(t);
	return err;
}

/*
 * Decodes the request bytes the transaction keeps (the INVITE), which
 * ACK and CANCEL are built from.  Returns 0 with *reqp (caller frees).
 */
static int stored_request(const struct sip_txn *t, struct sip_msg **reqp)
{
	struct sip_msg *req;
	const char *why;
	uint16_t st;
	int err;

	req = malloc(sizeof(*req));
	if (!req)
		return ENOMEM;
	err = sip_msg_decode(req, t->out, t->outlen, false);
	if (!err)
		err = sip_msg_validate(req, &st, &why);
	if (err) {
		free(req);
		return err;
	}
	*reqp = req;
	return 0;
}

/* §17.1.1.3: the client transaction ACKs a non-2xx final itself. */
static void ict_send_ack(struct sip_txn *t, const struct sip_msg *resp)
{
	struct sip_msg *req = NULL;
	struct buf b;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	err = stored_request(t, &req);
	if (err)
		goto out;
	err = sip_build_ack(&b, req, resp);
	if (err)
		goto out;
	/* The ACK replaces the INVITE: the bytes are kept once, and a
	 * retransmitted final is answered with this ACK. */
	free(t->out);
	t->out = b.data;
	t->outlen = (uint32_t)b.len;
	b.data = NULL;
	err = txn_send(t, t->out, t->outlen);
	if (err) {
		free(req);
		txn_fail(t, err);
		return;
	}
out:
	if (err) {
		/* Never answer a retransmitted final with the INVITE. */
		free(t->out);
		t->out = NULL;
		t->outlen = 0;
		log_warn("cannot ACK %u: %s", resp->status, strerror(err));
	}
	free(req);
	buf_free(&b);
}

/* §9.1: the CANCEL, from the INVITE bytes kept by the transaction. */
static int ict_send_cancel(struct sip_txn *t)
{
	struct sip_txn_creq r = {.dst = &t->dst,
				 .branch = key(t, KEY_BRANCH),
				 .method = PL("CANCEL")};
	struct sip_msg *req = NULL;
	struct buf b;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	err = stored_request(t, &req);
	if (err)
		goto out;
	err = sip_build_cancel(&b, req);
	if (err)
		goto out;
	r.msg = buf_pl(&b);
	err = sip_txn_client_start(NULL, t->layer, &r, t->h, t->arg);
	if (err)
		goto out;
	t->cancel = CANCEL_SENT;
out:
	free(req);
	buf_free(&b);
	return err;
}

int sip_txn_client_cancel(struct sip_txn *ict)
{
	if (!ict || ict->kind != K_ICT)
		return EINVAL;
	if (ict->state == S_TERMINATED || !ict->layer)
		return ESHUTDOWN;
	if (ict->cancel != CANCEL_NONE ||
	    (ict->state != S_CALLING && ict->state != S_PROCEEDING))
		return EALREADY;
	if (ict->state == S_CALLING) {
		ict->cancel = CANCEL_PENDING;
		return 0;
	}
	return ict_send_cancel(ict);
}

static void ict_recv(struct sip_txn *t, const struct sip_msg *msg)
{
	struct sip_txn_layer *l = t->layer;
	uint16_t sc = msg->status;

	switch (t->state) {
	case S_CALLING:
	case S_PROCEEDING:
		t->status = sc;
		if (sc < 200) {
			t->state = S_PROCEEDING;
			ev_timer_cancel(l->ev, &t->tmr_retx);
			ev_timer_cancel(l->ev, &t->tmr_end);
			if (t->cancel == CANCEL_PENDING) {
				int err = ict_send_cancel(t);

				if (err)
					log_warn("CANCEL not sent: %s",
						 strerror(err));
			}
			/* §16.7 step 2: 101-199 reset Timer C. */
			if (t->timer_c && sc > 100)
				ev_timer_start(l->ev, &t->tmr_c,
					       ms(l->cfg.timer_c_ms),
					       on_timer_c, t);
			notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
			return;
		}
		ev_timer_cancel(l->ev, &t->tmr_retx);
		ev_timer_cancel(l->ev, &t->tmr_end);
		ev_timer_cancel(l->ev, &t->tmr_c);
		if (sc < 300) {
			/* RFC 6026 §8.4: Accepted, Timer M = 64*T1; later
			 * 2xx go to the TU too.  The INVITE is never sent
			 * again (the TU ACKs a 2xx, §13.2.2.4, and CANCEL
			 * is refused from here on): its bytes go, and what
			 * lingers for Timer M is small. */
			t->state = S_ACCEPTED;
			free(t->out);
			t->out = NULL;
			t->outlen = 0;
			ev_timer_start(l->ev, &t->tmr_end, ms(timer_64t1(l)),
				       on_end, t);
			notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
			return;
		}
		t->state = S_COMPLETED;
		ict_send_ack(t, msg);
		if (t->state == S_TERMINATED)
			return; /* the ACK could not be sent */
		notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
		if (t->state == S_COMPLETED)
			/* §17.1.1.2: Timer D, 0 on reliable transports. */
			start_wait(t, t->dst.reliable ? 0 : l->cfg.timer_d_ms);
		return;
	case S_COMPLETED:
		/* A retransmitted final: ACK it again, absorb it. */
		l->stats.absorbed++;
		if (sc >= 300 && t->out) {
			int err = txn_send(t, t->out, t->outlen);

			if (err)
				txn_fail(t, err);
			else
				l->stats.retransmissions++;
		}
		return;
	case S_ACCEPTED:
		if (sc >= 200 && sc < 300) {
			notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
			return;
		}
		l->stats.absorbed++;
		return;
	default:
		return;
	}
}

static void nict_recv(struct sip_txn *t, const struct sip_msg *msg)
{
	struct sip_txn_layer *l = t->layer;
	uint16_t sc = msg->status;

	switch (t->state) {
	case S_TRYING:
	case S_PROCEEDING:
		t->status = sc;
		if (sc < 200) {
			t->state = S_PROCEEDING;
			notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
			return;
		}
		/* §17.1.2.2: Completed, Timer K = T4 (0 if reliable).
		 * Nothing is retransmitted from here on: the request's
		 * bytes go, and what lingers for Timer K is small. */
		t->state = S_COMPLETED;
		ev_timer_cancel(l->ev, &t->tmr_retx);
		ev_timer_cancel(l->ev, &t->tmr_end);
		free(t->out);
		t->out = NULL;
		t->outlen = 0;
		notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
		if (t->state == S_COMPLETED)
			start_wait(t, t->dst.reliable ? 0 : l->cfg.t4_ms);
		return;
	case S_COMPLETED:
		l->stats.absorbed++;
		return;
	default:
		return;
	}
}

int sip_txn_recv_response(struct sip_txn_layer *l, const struct sip_msg *msg)
{
	struct sip_txn *t;

	if (!msg->validated || msg->is_request)
		return EINVAL;
	t = client_find(l, &msg->via.branch, &msg->cseq.method);
	if (!t)
		return ENOENT;
	obj_ref(t);
	if (t->kind == K_ICT)
		ict_recv(t, msg);
	else
		nict_recv(t, msg);
	obj_deref(t);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Server transactions                                                 */

static uint32_t server_hash(const struct sip_msg *msg)
{
	if (sip_branch_has_cookie(&msg->via.branch))
		return hash_pl(&msg->via.branch);
	/* RFC 2543: what INVITE, its ACK and its CANCEL share. */
	return hash_pl(&msg->call_id) ^ msg->cseq.num;
}

enum match_mode {
	MATCH_SAME,   /* the same request (a retransmission) */
	MATCH_ACK,    /* an ACK for the INVITE of t */
	MATCH_CANCEL, /* a CANCEL for the INVITE of t */
};

static bool server_match(const struct sip_txn *t, const struct sip_msg *msg,
			 enum match_mode mode)
{
	const struct sip_hdr *via;
	struct pl k;

	if (mode == MATCH_SAME) {
		k = key(t, KEY_METHOD);
		if (!pl_eq(&k, &msg->method))
			return false;
	} else if (t->kind != K_IST) {
		return false;
	}

	if (!t->rfc2543) {
		/* §17.2.3: branch, sent-by, method. */
		k = key(t, KEY_BRANCH);
		if (!pl_eq(&k, &msg->via.branch))
			return false;
		k = key(t, KEY_HOST);
		return pl_caseeq(&k, &msg->via.host) &&
		       t->port == msg->via.port;
	}
	if (sip_branch_has_cookie(&msg->via.branch))
		return false;
	/* §17.2.3, RFC 2543 peers: Request-URI, To tag, From tag,
	 * Call-ID, CSeq and top Via; an ACK carries the To tag of our
	 * response. */
	via = sip_msg_hdr(msg, SIP_HDR_VIA);
	if (!via || t->cseq != msg->cseq.num)
		return false;
	k = key(t, KEY_RURI);
	if (!pl_eq(&k, &msg->ruri))
		return false;
	k = key(t, KEY_FROM_TAG);
	if (!pl_eq(&k, &msg->from_tag))
		return false;
	k = key(t, KEY_CALL_ID);
	if (!pl_eq(&k, &msg->call_id))
		return false;
	k = key(t, KEY_VIA);
	if (!pl_eq(&k, &via->value))
		return false;
	if (mode == MATCH_ACK) {
		k.p = t->resp_to_tag;
		k.l = t->resp_to_tag_len;
	} else {
		k = key(t, KEY_TO_TAG);
	}
	return pl_eq(&k, &msg->to_tag);
}

static struct sip_txn *server_find(const struct sip_txn_layer *l,
				   const struct sip_msg *msg,
				   enum match_mode mode)
{
	struct list *b = hash_bucket(&l->stab, server_hash(msg));

	for (struct le *le = b->head; le; le = le->next) {
		if (server_match(le->data, msg, mode))
			return le->data;
	}
	return NULL;
}

struct sip_txn *sip_txn_find_invite(struct sip_txn_layer *l,
				    const struct sip_msg *cancel)
{
	if (!l || !cancel->validated || !cancel->is_request)
		return NULL;
	/* §9.2: the INVITE the CANCEL would match but for the method. */
	return obj_ref(server_find(l, cancel, MATCH_CANCEL));
}

/* Re-sends the last response of a server transaction (absorption). */
static void server_resend(struct sip_txn *t)
{
	int err;

	if (!t->out)
		return;
	err = txn_send(t, t->out, t->outlen);
	if (err) {
		txn_fail(t, err);
		return;
	}
	t->layer->stats.retransmissions++;
}

static void server_absorb(struct sip_txn *t)
{
	t->layer->stats.absorbed++;
	switch (t->state) {
	case S_PROCEEDING:
		/* §17.2.1, §17.2.2: the last provisional, if any. */
	case S_COMPLETED:
		/* §17.2.1, §17.2.2: the final response again. */
		server_resend(t);
		break;
	default:
		/* Trying (nothing sent yet), Confirmed, Accepted (RFC
		 * 6026 §7.1: the TU retransmits its 2xx). */
		break;
	}
}

static void ist_ack(struct sip_txn *t)
{
	struct sip_txn_layer *l = t->layer;

	l->stats.acks_absorbed++;
	if (t->state != S_COMPLETED)
		return;
	/* §17.2.1: Confirmed; Timer I = T4 (0 if reliable) absorbs
	 * further ACKs. */
	t->state = S_CONFIRMED;
	ev_timer_cancel(l->ev, &t->tmr_retx);
	ev_timer_cancel(l->ev, &t->tmr_end);
	start_wait(t, t->dst.reliable ? 0 : l->cfg.t4_ms);
}

static int server_create(struct sip_txn **tp, struct sip_txn_layer *l,
			 const struct sip_msg *msg,
			 const struct sip_txn_dest *src)
{
	struct pl f[KEY_N] = {{0}};
	const struct sip_hdr *via;
	struct sip_txn *t = NULL;
	bool invite = msg->method_id == SIP_METHOD_INVITE;
	int err;

	f[KEY_BRANCH] = msg->via.branch;
	f[KEY_METHOD] = msg->method;
	f[KEY_HOST] = msg->via.host;
	if (!sip_branch_has_cookie(&msg->via.branch)) {
		via = sip_msg_hdr(msg, SIP_HDR_VIA);
		f[KEY_RURI] = msg->ruri;
		f[KEY_FROM_TAG] = msg->from_tag;
		f[KEY_TO_TAG] = msg->to_tag;
		f[KEY_CALL_ID] = msg->call_id;
		if (via)
			f[KEY_VIA] = via->value;
	}
	err = txn_alloc(&t, l, invite ? K_IST : K_NIST, f, src);
	if (err)
		return err;
	t->rfc2543 = !sip_branch_has_cookie(&msg->via.branch);
	t->port = msg->via.port;
	t->cseq = msg->cseq.num;
	t->state = invite ? S_PROCEEDING : S_TRYING;
	hash_append(&l->stab, server_hash(msg), &t->le, t);
	l->stats.alive++;
	l->stats.server_created++;
	*tp = t;
	return 0;
}

int sip_txn_recv_request(struct sip_txn_layer *l, const struct sip_msg *msg,
			 const struct sip_txn_dest *src)
{
	struct sip_txn *t;
	struct buf b;
	int err;

	if (!msg->validated || !msg->is_request)
		return EINVAL;

	if (msg->method_id == SIP_METHOD_ACK) {
		t = server_find(l, msg, MATCH_ACK);
		/* §17.2.1: the ACK for a non-2xx belongs to the INVITE
		 * server transaction; the ACK for a 2xx (Accepted, or
		 * no transaction) goes to the TU. */
		if (t &&
		    (t->state == S_COMPLETED || t->state == S_CONFIRMED)) {
			obj_ref(t);
			ist_ack(t);
			obj_deref(t);
			return 0;
		}
		if (l->reqh)
			l->reqh(l->arg, NULL, msg, src);
		return 0;
	}

	t = server_find(l, msg, MATCH_SAME);
	if (t) {
		obj_ref(t);
		server_absorb(t);
		obj_deref(t);
		return 0;
	}
	if (!l->reqh)
		return 0;

	err = server_create(&t, l, msg, src);
	if (err)
		return err;
	obj_ref(t);
	if (t->kind == K_IST && l->cfg.auto_100) {
		/* §17.2.1, §16.2: 100 Trying at once (no To tag). */
		buf_init(&b, SIP_MSG_MAX_SIZE);
		err = sip_build_response(&b, msg, 100, NULL, NULL);
		if (!err)
			err = sip_txn_reply(t, b.data, b.len);
		buf_free(&b);
		if (err)
			log_debug("100 Trying not sent: %s", strerror(err));
		err = 0;
	}
	if (t->state != S_TERMINATED)
		l->reqh(l->arg, t, msg, src);
	obj_deref(t);
	return 0;
}

int sip_txn_dest_literal(struct sip_txn_dest *d, enum sip_transport tp,
			 const char *host, uint16_t port)
{
	struct sip_txn_dest o;

	memset(&o, 0, sizeof(o));
	o.tp = tp;
	o.reliable = tp != SIP_TP_UDP;
	if (inet_pton(AF_INET, host, &o.addr.in.sin_addr) == 1) {
		o.addr.in.sin_family = AF_INET;
		o.addr.in.sin_port = htons(port);
		o.addrlen = sizeof(o.addr.in);
	} else if (inet_pton(AF_INET6, host, &o.addr.in6.sin6_addr) == 1) {
		o.addr.in6.sin6_family = AF_INET6;
		o.addr.in6.sin6_port = htons(port);
		o.addrlen = sizeof(o.addr.in6);
	} else {
		return ENOENT;
	}
	*d = o;
	return 0;
}

void sip_txn_client_detach(struct sip_txn *ct)
{
	if (!ct || !is_client(ct))
		return;
	ct->h = NULL;
	ct->arg = NULL;
}

void sip_txn_server_set_handler(struct sip_txn *st, sip_txn_event_h *h,
				void *arg)
{
	if (!st || is_client(st))
		return;
	st->h = h;
	st->arg = arg;
}

static int status_of(const char *buf, size_t len, uint16_t *sc)
{
	uint16_t v = 0;

	if (len < 12 || memcmp(buf, "SIP/2.0 ", 8) != 0 || buf[11] != ' ')
		return EINVAL;
	for (int i = 8; i < 11; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return EINVAL;
		v = (uint16_t)(v * 10 + (buf[i] - '0'));
	}
	if (v < 100 || v > 699)
		return EINVAL;
	*sc = v;
	return 0;
}

/* RFC 2543 INVITE: remember our To tag to match the ACK (§17.2.3). */
static void remember_to_tag(struct sip_txn *t, const char *buf, size_t len)
{
	struct sip_msg *m = malloc(sizeof(*m));
	const struct sip_hdr *to;
	struct sip_addr a;
	char *c;

	if (!m)
		return;
	if (sip_msg_decode(m, buf, len, false))
		goto out;
	to = sip_msg_hdr(m, SIP_HDR_TO);
	if (!to || sip_addr_decode(&a, &to->value) || a.tag.l > UINT16_MAX)
		goto out;
	c = malloc(a.tag.l ? a.tag.l : 1);
	if (!c)
		goto out;
	memcpy(c, a.tag.p, a.tag.l);
	free(t->resp_to_tag);
	t->resp_to_tag = c;
	t->resp_to_tag_len = (uint16_t)a.tag.l;
out:
	free(m);
}

int sip_txn_reply(struct sip_txn *st, const char *buf, size_t len)
{
	struct sip_txn_layer *l;
	uint16_t sc;
	int err;

	if (!st || is_client(st))
		return EINVAL;
	if (st->state == S_TERMINATED || !st->layer)
		return ESHUTDOWN;
	l = st->layer;
	err = status_of(buf, len, &sc);
	if (err)
		return err;
	switch (st->state) {
	case S_TRYING:
	case S_PROCEEDING:
		break;
	case S_ACCEPTED:
		/* RFC 6026 §7.1: the TU's 2xx retransmissions. */
		if (sc >= 200 && sc < 300)
			break;
		return EINVAL;
	default:
		return EINVAL;
	}
	err = store_out(st, buf, len);
	if (err)
		return err;
	st->status = sc;
	if (st->rfc2543 && st->kind == K_IST && sc > 100)
		remember_to_tag(st, buf, len);
	err = txn_send(st, st->out, st->outlen);
	if (err) {
		txn_fail(st, err);
		return err;
	}
	if (sc < 200) {
		st->state = S_PROCEEDING;
		return 0;
	}
	obj_ref(st);
	if (st->kind == K_NIST) {
		/* §17.2.2: Completed, Timer J = 64*T1 (0 if reliable). */
		st->state = S_COMPLETED;
		start_wait(st, st->dst.reliable ? 0 : timer_64t1(l));
	} else if (sc < 300) {
		if (st->state != S_ACCEPTED) {
			/* RFC 6026 §7.1: Accepted, Timer L = 64*T1. */
			st->state = S_ACCEPTED;
			ev_timer_start(l->ev, &st->tmr_end, ms(timer_64t1(l)),
				       on_end, st);
		}
	} else {
		/* §17.2.1: Completed; G retransmits the final over
		 * unreliable transports, H waits for the ACK. */
		st->state = S_COMPLETED;
		if (!st->dst.reliable)
			start_retx(st, l->cfg.t1_ms);
		ev_timer_start(l->ev, &st->tmr_end, ms(timer_64t1(l)), on_end,
			       st);
	}
	obj_deref(st);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Accessors                                                           */

bool sip_txn_is_client(const struct sip_txn *t)
{
	return is_client(t);
}

bool sip_txn_is_invite(const struct sip_txn *t)
{
	return is_invite(t);
}

bool sip_txn_is_terminated(const struct sip_txn *t)
{
	return t->state == S_TERMINATED;
}

uint16_t sip_txn_status(const struct sip_txn *t)
{
	return t->status;
}

struct pl sip_txn_sent(const struct sip_txn *t)
{
	struct pl pl = {t->out, t->outlen};

	return pl;
}

const struct sip_txn_dest *sip_txn_dest(const struct sip_txn *t)
{
	return &t->dst;
}

const char *sip_txn_state_name(const struct sip_txn *t)
{
	static const char *const names[] = {
		[S_CALLING] = "Calling",       [S_TRYING] = "Trying",
		[S_PROCEEDING] = "Proceeding", [S_COMPLETED] = "Completed",
		[S_CONFIRMED] = "Confirmed",   [S_ACCEPTED] = "Accepted",
		[S_TERMINATED] = "Terminated",
	};

	return names[t->state];
}
