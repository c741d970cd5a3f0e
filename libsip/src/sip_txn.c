#include "sip_txn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "obj.h"
#include "sip_txn_int.h"

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
void sip_txn_end(struct sip_txn *t)
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
		sip_txn_end(t);
}

/* §17.1.4, §17.2.4: a transport failure ends the transaction. */
void sip_txn_fail(struct sip_txn *t, int err)
{
	t->layer->stats.transport_errors++;
	obj_ref(t);
	sip_txn_end(t);
	txn_notify(t, SIP_TXN_EV_TRANSPORT_ERROR, NULL, err);
	obj_deref(t);
}

static void txn_timeout(struct sip_txn *t)
{
	t->layer->stats.timeouts++;
	obj_ref(t);
	sip_txn_end(t);
	txn_notify(t, SIP_TXN_EV_TIMEOUT, NULL, 0);
	obj_deref(t);
}

static void on_retx(void *arg);

void sip_txn_start_retx(struct sip_txn *t, uint32_t interval)
{
	t->interval_ms = interval;
	ev_timer_start(t->layer->ev, &t->tmr_retx, txn_ms(interval), on_retx,
		       t);
}

/*
 * Starts the wait of a state that only absorbs (D, K, I, J, L, M).  A
 * zero wait (reliable transports) ends t at once: the caller holds a
 * reference when it still needs t.
 */
void sip_txn_start_wait(struct sip_txn *t, uint32_t wait_ms)
{
	if (wait_ms == 0) {
		sip_txn_end(t);
		return;
	}
	ev_timer_start(t->layer->ev, &t->tmr_end, txn_ms(wait_ms),
		       sip_txn_on_end, t);
}

int sip_txn_store_out(struct sip_txn *t, const char *p, size_t n)
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
	err = txn_send_out(t, t->out, t->outlen);
	if (err) {
		sip_txn_fail(t, err);
		return;
	}
	l->stats.retransmissions++;
	sip_txn_start_retx(t, next);
}

void sip_txn_on_end(void *arg)
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
			sip_txn_end(t);
		break;
	case S_CONFIRMED: /* I */
	case S_ACCEPTED:  /* L, M */
		sip_txn_end(t);
		break;
	default:
		break;
	}
}

void sip_txn_on_timer_c(void *arg)
{
	struct sip_txn *t = arg;

	obj_ref(t);
	txn_notify(t, SIP_TXN_EV_TIMER_C, NULL, 0);
	obj_deref(t);
}

/* ------------------------------------------------------------------ */
/* The layer                                                           */

static void layer_drain(struct hash *h)
{
	for (uint32_t i = 0; h->buckets && i <= h->mask; i++) {
		while (h->buckets[i].head)
			sip_txn_end(h->buckets[i].head->data);
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
	l->send_arg = arg;
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
int sip_txn_new(struct sip_txn **tp, struct sip_txn_layer *l,
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

/* ------------------------------------------------------------------ */
/* Accessors                                                           */

bool sip_txn_is_client(const struct sip_txn *t)
{
	return txn_is_client(t);
}

bool sip_txn_is_invite(const struct sip_txn *t)
{
	return txn_is_invite(t);
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
