/*
 * watch.c - the callhandler's presence watchers (see watch.h).
 */
#include "watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_MODULE "callhandler"
#include "buf.h"
#include "ev.h"
#include "hash.h"
#include "log.h"
#include "obj.h"
#include "sip_auth.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "sip_txn.h"
#include "sip_txn_tp.h"
#include "uac.h"

#define WATCH_MAX_DIALOGS 1000000u
#define WATCH_NAME_MAX 64
#define TARGET_MAX 256

struct watch_dlg {
	struct le le; /* in w->dlgs, by Call-ID */
	struct watch *w;
	char pres[WATCH_NAME_MAX];
	char user[WATCH_NAME_MAX];
	char entity[WATCH_NAME_MAX * 2 + 8]; /* sip:pres@domain */
	char call_id[48];
	char tag[SIP_TAG_SIZE];
	char rtag[128];
	char target[TARGET_MAX];
	uint32_t cseq;
	struct sip_txn *ct;
	struct sip_auth_client *auth;
	bool proxy_auth;
	unsigned challenges; /* in this attempt */
	unsigned attempts;   /* failed attempts in a row */
	bool active;
	bool refreshing;
	bool settled;
	bool seen; /* last_seq is a publication's */
	uint64_t last_seq;
	struct ev_timer timer; /* retry or refresh */
};

struct watch {
	struct watch_cfg cfg;
	struct ev *ev;
	struct sip_tp *tp;
	struct sip_txn_layer *txl;
	struct sip_txn_tp bind; /* txl's sends: through tp */
	watch_done_h *done_h;
	void *arg;
	struct watch_dlg *dlgs;
	uint32_t n;
	struct uac_pacer pacer; /* first SUBSCRIBEs; settled dialogs */
	struct hash by_cid;
	char hostport[SIP_TP_ADDR_STRLEN];
	struct buf out, hdrs;
	struct watch_stats st;
};

/* ---- the publication stamp ---- */

static const char *find(const struct pl *in, const char *s)
{
	return memmem(in->p, in->l, s, strlen(s));
}

/* Digits at p (up to end) into *v; the first byte after them in *next. */
static int digits(const char *p, const char *end, uint64_t *v,
		  const char **next)
{
	struct pl d;

	d.p = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	d.l = (size_t)(p - d.p);
	if (!d.l || pl_u64(&d, v))
		return EBADMSG;
	*next = p;
	return 0;
}

int watch_stamp_decode(const struct pl *body, struct pl *entity, uint64_t *seq,
		       uint64_t *ts_ns)
{
	const char *end = body->p + body->l, *p, *q;
	struct pl rest;
	uint64_t s, t;

	p = find(body, "sipstone seq=");
	if (!p)
		return ENOENT;
	p += strlen("sipstone seq=");
	if (digits(p, end, &s, &p) || end - p < 4 || memcmp(p, " ts=", 4) ||
	    digits(p + 4, end, &t, &q))
		return EBADMSG;
	/* The presence element's entity attribute (RFC 3863 §4.1.1). */
	p = find(body, "entity=\"");
	if (!p)
		return EBADMSG;
	p += strlen("entity=\"");
	rest.p = p;
	rest.l = (size_t)(end - p);
	q = pl_chr(&rest, '"');
	if (!q)
		return EBADMSG;
	entity->p = p;
	entity->l = (size_t)(q - p);
	*seq = s;
	*ts_ns = t;
	return 0;
}

/* ---- transport ---- */

static void on_recv(const struct sip_tp_rx *rx, void *arg)
{
	struct watch *w = arg;
	const char *why;
	uint16_t status;

	if (sip_msg_validate(rx->msg, &status, &why)) {
		w->st.bad_in++;
		return;
	}
	if (!rx->msg->is_request) {
		sip_txn_recv_response(w->txl, rx->msg);
		return;
	}
	if (sip_txn_tp_recv_request(w->txl, rx))
		w->st.bad_in++;
}

/* ---- dialogs ---- */

static void dlg_send(struct watch_dlg *g);

static void on_timer(void *arg)
{
	struct watch_dlg *g = arg;

	if (g->active) {
		g->refreshing = true;
		g->w->st.refreshes++;
	}
	dlg_send(g);
	sip_tp_flush(g->w->tp); /* timers run after the flush hook */
}

/* A new dialog for g (a new Call-ID and tag, §4.1.2.1 of RFC 6665). */
static void dlg_reset(struct watch_dlg *g)
{
	struct watch *w = g->w;

	if (g->active) {
		g->active = false;
		w->st.active--;
	}
	list_unlink(&g->le);
	sip_build_tag(g->tag);
	sip_build_call_id(g->call_id, sizeof(g->call_id), NULL);
	hash_append(&w->by_cid, hash_keyed32(g->call_id, strlen(g->call_id)),
		    &g->le, g);
	g->rtag[0] = '\0';
	g->target[0] = '\0';
	g->refreshing = false;
	g->challenges = 0;
	g->cseq = 0;
}

static void dlg_failed(struct watch_dlg *g)
{
	struct watch *w = g->w;

	dlg_reset(g);
	if (g->attempts++ < w->cfg.retries) {
		w->st.retries++;
		ev_timer_start(w->ev, &g->timer, EV_MS(w->cfg.retry_ms),
			       on_timer, g);
		return;
	}
	w->st.failed++;
	log_warn("%s watching %s: not subscribed after %u attempts", g->user,
		 g->pres, g->attempts);
	uac_pacer_settle(&w->pacer, &g->settled);
}

static void refresh_arm(struct watch_dlg *g, uint32_t granted)
{
	struct watch *w = g->w;
	uint64_t ms = w->cfg.refresh_s ? 1000ull * w->cfg.refresh_s
				       : 800ull * (granted ? granted : 1);

	ev_timer_start(w->ev, &g->timer, EV_MS(ms), on_timer, g);
}

static uint32_t granted(const struct watch *w, const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_EXPIRES);
	uint32_t v;

	if (h && !pl_u32(&h->value, &v))
		return v;
	return w->cfg.expires;
}

static void set_target(struct watch_dlg *g, const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	struct sip_addr a;

	if (h && !sip_addr_decode(&a, &h->value) && !a.star &&
	    pl_strcpy(&a.uri, g->target, sizeof(g->target)))
		g->target[0] = '\0';
}

static int challenge(struct watch_dlg *g, const struct sip_msg *msg)
{
	struct watch *w = g->w;
	int err;

	err = uac_auth_challenge(&g->auth, g->user, w->cfg.password,
				 g->challenges, msg);
	if (err)
		return err;
	g->proxy_auth = msg->status == 407;
	g->challenges++;
	w->st.challenged++;
	dlg_send(g);
	return 0;
}

static void on_txn(struct sip_txn *t, enum sip_txn_event ev,
		   const struct sip_msg *msg, int err, void *arg)
{
	struct watch_dlg *g = arg;
	struct watch *w = g->w;

	(void)err;
	if (t != g->ct || ev == SIP_TXN_EV_TIMER_C ||
	    (ev == SIP_TXN_EV_RESPONSE && msg->status < 200))
		return;
	g->ct = obj_deref(g->ct);
	if (ev != SIP_TXN_EV_RESPONSE) {
		w->st.timeouts++;
		dlg_failed(g);
		return;
	}
	if ((msg->status == 401 || msg->status == 407) && !challenge(g, msg))
		return;
	if (msg->status >= 300) {
		w->st.rejected++;
		log_debug("%s watching %s: %u", g->user, g->pres, msg->status);
		dlg_failed(g);
		return;
	}
	w->st.ok++;
	g->attempts = 0;
	g->challenges = 0;
	g->refreshing = false;
	if (!g->rtag[0])
		pl_strcpy(&msg->to_tag, g->rtag, sizeof(g->rtag));
	set_target(g, msg);
	if (!g->active) {
		g->active = true;
		w->st.active++;
	}
	refresh_arm(g, granted(w, msg));
	uac_pacer_settle(&w->pacer, &g->settled);
}

static void dlg_send(struct watch_dlg *g)
{
	struct watch *w = g->w;
	char from[200], to[200], ruri[TARGET_MAX], contact[200];
	struct uac_req q;
	int err;

	snprintf(from, sizeof(from), "<sip:%s@%s>", g->user, w->cfg.domain);
	snprintf(to, sizeof(to), "<sip:%s@%s>", g->pres, w->cfg.domain);
	/* in the dialog: to the remote target (RFC 6665 §4.1.2.1) */
	snprintf(ruri, sizeof(ruri), "%s",
		 g->rtag[0] && g->target[0] ? g->target : g->entity);
	snprintf(contact, sizeof(contact), "<sip:%s@%s%s>", g->user,
		 w->hostport, uac_transport_param(w->cfg.server.proto));
	buf_reset(&w->hdrs);
	err = buf_printf(&w->hdrs,
			 "Event: presence\r\n"
			 "Accept: application/pidf+xml\r\n"
			 "Expires: %u\r\n",
			 w->cfg.expires);
	if (err)
		goto fail;
	memset(&q, 0, sizeof(q));
	q.txl = w->txl;
	/* In-dialog requests go to the server too: it is the notifier
	 * (no route set is kept). */
	q.server = &w->cfg.server;
	q.via_hostport = w->hostport;
	q.method = (struct pl)PL("SUBSCRIBE");
	q.ruri = ruri;
	q.from = from;
	q.from_tag = g->tag;
	q.to = to;
	q.to_tag = g->rtag;
	q.call_id = g->call_id;
	q.cseq = ++g->cseq;
	q.contact = contact;
	q.hdrs = &w->hdrs;
	q.auth = g->auth;
	q.proxy_auth = g->proxy_auth;
	q.out = &w->out;
	q.h = on_txn;
	q.arg = g;
	err = uac_send(&q, &g->ct);
	if (err)
		goto fail;
	w->st.sent++;
	return;
fail:
	log_debug("%s watching %s: SUBSCRIBE not sent: %s", g->user, g->pres,
		  strerror(err));
	w->st.timeouts++;
	dlg_failed(g);
}

/* ---- NOTIFY ---- */

static struct watch_dlg *dlg_find(struct watch *w, const struct sip_msg *msg)
{
	struct list *l = hash_bucket(&w->by_cid, hash_pl(&msg->call_id));

	for (struct le *le = l->head; le; le = le->next) {
		struct watch_dlg *g = le->data;

		/* RFC 6665 §4.1.2.4: our tag in To; the notifier's in
		 * From, new if its NOTIFY beat the 2xx */
		if (pl_eq_str(&msg->call_id, g->call_id) &&
		    pl_eq_str(&msg->to_tag, g->tag) &&
		    (!g->rtag[0] || pl_eq_str(&msg->from_tag, g->rtag)))
			return g;
	}
	return NULL;
}

static void answer(struct watch *w, struct sip_txn *st,
		   const struct sip_msg *msg, uint16_t status)
{
	buf_reset(&w->out);
	if (!sip_build_response(&w->out, msg, status, NULL, NULL))
		sip_txn_reply(st, w->out.data, w->out.len);
}

static bool is_terminated(const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_SUBSCRIPTION_STATE);
	struct pl v;

	if (!h)
		return false;
	v = h->value;
	pl_trim(&v);
	return v.l >= 10 && !strncasecmp(v.p, "terminated", 10) &&
	       (v.l == 10 || v.p[10] == ';' || v.p[10] == ' ');
}

/* The body against the last publication seen in g. */
static void check_body(struct watch *w, struct watch_dlg *g,
		       const struct sip_msg *msg)
{
	struct pl entity;
	uint64_t seq, ts;
	struct timespec now;
	int err = watch_stamp_decode(&msg->body, &entity, &seq, &ts);

	if (err == ENOENT) {
		w->st.bodies_none++;
		return;
	}
	if (err || !pl_eq_str(&entity, g->entity)) {
		w->st.bodies_mismatch++;
		return;
	}
	if (g->seen && seq == g->last_seq) {
		w->st.bodies_repeat++;
		return;
	}
	if (g->seen && seq < g->last_seq) {
		w->st.bodies_stale++;
		return;
	}
	g->seen = true;
	g->last_seq = seq;
	w->st.bodies_new++;
	clock_gettime(CLOCK_REALTIME, &now);
	{
		uint64_t t = (uint64_t)now.tv_sec * 1000000000ull +
			     (uint64_t)now.tv_nsec;

		hist_add(&w->st.delay, t > ts ? (t - ts) / 1000u : 0);
	}
}

static void on_request(void *arg, struct sip_txn *st,
		       const struct sip_msg *msg,
		       const struct sip_txn_dest *src)
{
	struct watch *w = arg;
	struct watch_dlg *g;

	(void)src;
	if (!st)
		return;
	g = msg->method_id == SIP_METHOD_NOTIFY ? dlg_find(w, msg) : NULL;
	if (!g) {
		w->st.no_dialog++;
		answer(w, st, msg,
		       msg->method_id == SIP_METHOD_NOTIFY ? 481 : 405);
		return;
	}
	answer(w, st, msg, 200);
	w->st.notifies++;
	if (!g->rtag[0])
		pl_strcpy(&msg->from_tag, g->rtag, sizeof(g->rtag));
	if (!g->target[0])
		set_target(g, msg);
	check_body(w, g, msg);
	if (is_terminated(msg)) {
		/* The notifier ended it (expiry, rejection, shutdown):
		 * subscribe again, in a new dialog. */
		w->st.terminated++;
		ev_timer_cancel(w->ev, &g->timer);
		sip_txn_client_detach(g->ct);
		g->ct = obj_deref(g->ct);
		dlg_reset(g);
		g->seen = false;
		w->st.resubscribes++;
		ev_timer_start(w->ev, &g->timer, EV_MS(w->cfg.retry_ms),
			       on_timer, g);
	}
}

/* ---- the module ---- */

static void pace_send(uint32_t i, void *arg)
{
	struct watch *w = arg;

	dlg_send(&w->dlgs[i]);
}

static void pace_done(void *arg)
{
	struct watch *w = arg;

	if (w->done_h)
		w->done_h(w, w->arg);
}

void watch_start(struct watch *w)
{
	uac_pacer_start(&w->pacer, w->tp);
}

static void watch_destroy(void *arg)
{
	struct watch *w = arg;
	uint32_t i;

	uac_pacer_cancel(&w->pacer);
	for (i = 0; w->dlgs && i < w->n; i++) {
		struct watch_dlg *g = &w->dlgs[i];

		ev_timer_cancel(w->ev, &g->timer);
		sip_txn_terminate(g->ct);
		obj_deref(g->ct);
		sip_auth_client_free(g->auth);
	}
	hash_free(&w->by_cid); /* unlinks the dialogs: before they go */
	free(w->dlgs);
	obj_deref(w->txl);
	obj_deref(w->tp);
	buf_free(&w->out);
	buf_free(&w->hdrs);
}

int watch_alloc(struct watch **wp, struct ev *ev, const struct watch_cfg *cfg,
		watch_done_h *done_h, void *arg)
{
	uint64_t np = user_range_count(&cfg->presentities);
	uint32_t nu = user_range_count(&cfg->users);
	struct sip_tp_opts topts;
	struct sip_txn_cfg tcfg;
	struct sip_tp_addr local, bound;
	char spec[80];
	struct watch *w;
	uint32_t i;
	int err;

	if (!cfg->domain || !cfg->rate || !cfg->expires ||
	    !cfg->per_presentity || !cfg->local_ip ||
	    np * cfg->per_presentity > WATCH_MAX_DIALOGS ||
	    (cfg->server.proto != SIP_TP_UDP &&
	     cfg->server.proto != SIP_TP_TCP))
		return EINVAL;
	w = obj_alloc(sizeof(*w), watch_destroy);
	if (!w)
		return ENOMEM;
	w->cfg = *cfg;
	w->ev = ev;
	w->done_h = done_h;
	w->arg = arg;
	buf_init(&w->out, SIP_MSG_MAX_SIZE);
	buf_init(&w->hdrs, 4096);
	hist_init(&w->st.delay);
	w->n = (uint32_t)(np * cfg->per_presentity);
	uac_pacer_init(&w->pacer, ev, w->n, cfg->rate, pace_send, pace_done,
		       w);
	w->st.dialogs = w->n;
	err = hash_init(&w->by_cid, 4096);
	if (err)
		goto out;
	w->dlgs = calloc(w->n, sizeof(*w->dlgs));
	err = ENOMEM;
	if (!w->dlgs)
		goto out;
	memset(&topts, 0, sizeof(topts));
	err = sip_tp_alloc(&w->tp, ev, &topts, on_recv, w);
	if (err)
		goto out;
	memset(&tcfg, 0, sizeof(tcfg));
	tcfg.timer_b_ms = cfg->timeout_ms ? cfg->timeout_ms : 4000;
	w->bind.tp = w->tp;
	err = sip_txn_tp_layer_alloc(&w->txl, ev, &tcfg, &w->bind, on_request,
				     w);
	if (err)
		goto out;
	/* One listener of the server's transport, port chosen by the
	 * kernel: the dialogs' Contact and Via, where NOTIFYs come. */
	snprintf(spec, sizeof(spec), "%s:%s:0",
		 cfg->server.proto == SIP_TP_TCP ? "tcp" : "udp",
		 cfg->local_ip);
	err = sip_tp_addr_decode(&local, NULL, spec);
	if (!err)
		err = sip_tp_listen(w->tp, &local, 0, &bound);
	if (!err)
		err = sip_tp_addr_hostport(&bound, w->hostport,
					   sizeof(w->hostport));
	if (err) {
		log_err("watchers' listener %s: %s", spec, strerror(err));
		goto out;
	}
	/* Dialog k watches presentity k / W; its From user is the next
	 * of the users in turn. */
	for (i = 0; i < w->n; i++) {
		struct watch_dlg *g = &w->dlgs[i];

		g->w = w;
		ev_timer_init(&g->timer);
		err = user_range_name(&cfg->presentities,
				      i / cfg->per_presentity, g->pres,
				      sizeof(g->pres));
		if (!err)
			err = user_range_name(&cfg->users, i % nu, g->user,
					      sizeof(g->user));
		if (!err && (size_t)snprintf(g->entity, sizeof(g->entity),
					     "sip:%s@%s", g->pres,
					     cfg->domain) >= sizeof(g->entity))
			err = EOVERFLOW;
		if (err)
			goto out;
		sip_build_tag(g->tag);
		sip_build_call_id(g->call_id, sizeof(g->call_id), NULL);
		hash_append(&w->by_cid,
			    hash_keyed32(g->call_id, strlen(g->call_id)),
			    &g->le, g);
	}
	*wp = w;
	return 0;
out:
	obj_deref(w);
	return err;
}

void watch_stats(const struct watch *w, struct watch_stats *st)
{
	struct sip_txn_stats xs;

	*st = w->st;
	sip_txn_layer_stats(w->txl, &xs);
	st->retransmissions = xs.retransmissions;
}

const char *watch_hostport(const struct watch *w)
{
	return w->hostport;
}

uint64_t watch_done_ms(const struct watch *w)
{
	return w->pacer.done_ms;
}
