/*
 * loadgen.c - the loader's engine (see loadgen.h).
 */
#include "loadgen.h"

#define LOG_MODULE "loadgen"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "ev.h"
#include "loadcall.h"
#include "loadcred.h"
#include "loadmsg.h"
#include "loadpres.h"
#include "log.h"
#include "obj.h"
#include "sip_auth.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "sip_txn.h"

/* Sends per timer tick at most, so a thread far behind still reads. */
#define TICK_BURST 256u
#define CALL_ID_SIZE 48

struct lg_user {
	uint32_t num;
	uint32_t cseq;
	char call_id[CALL_ID_SIZE];
	struct sip_auth_client *auth;
};

struct lg_worker;

/*
 * A connection slot: the struct sip_txn_dest.conn of the transactions
 * sent over TCP/TLS (an obj: each transaction holds a reference), so
 * that txn_send() knows the connection a user or a call is bound to.
 * A slot's connection that dropped is opened again on the next send;
 * a per-request slot is closed when its transaction (call) is over and
 * sends on it fail from then on.
 */
struct lg_slot {
	struct sip_tp_conn *conn; /* NULL until first opened */
	bool tried;		  /* opened once: the next open is a reopen */
	bool per_request;
	bool done;     /* per-request and over */
	bool incoming; /* the far end's connection: never reopened */
};

/* One transaction in flight (and its auth retry). */
struct lg_req {
	struct lg_req *prev, *next;
	struct lg_worker *w;
	struct lg_user *u;
	struct lg_slot *slot;	/* TCP/TLS */
	enum loadcfg_test kind; /* register, reregister or options */
	uint64_t t_start;	/* first request sent, ns */
	unsigned auth_tries;
	uint32_t cseq;
	char call_id[CALL_ID_SIZE];
};

struct lg_worker {
	struct loadgen *lg;
	unsigned idx;
	pthread_t th;
	bool th_started;
	struct ev *ev;
	struct sip_tp *tp;
	/* A transaction layer per kind of the run (index test - 1, NULL
	 * for the others), so that each kind's retransmissions are its
	 * own; the invite kind's takes the far end's requests. */
	struct sip_txn_layer *txl[LOADCFG_KINDS];
	struct sip_tp_addr local;
	char hostport[SIP_TP_ADDR_STRLEN];
	struct lg_user *users, *rusers; /* rusers: cfg.reg_users' */
	size_t nusers, nrusers;
	size_t next_user[LOADCFG_KINDS]; /* each kind's own walk */
	size_t next_pres;		 /* subscribe, publish: the walk */
	int64_t swrr[LOADCFG_KINDS];	 /* mix: the round-robin's state */
	/* pacer */
	struct ev_timer tick;
	bool sending, anchored;
	double gap_ns;
	uint64_t next_ns;
	/* a bounded run (loadgen_start_for): this thread's slots left, and
	 * for Poisson arrivals the time the run ends; else UINT64_MAX */
	uint64_t slots_left, end_ns;
	uint64_t rng;
	/* drain */
	bool draining;
	struct ev_timer drain;
	struct lg_req *reqs;
	uint64_t outstanding;
	struct loadcall *call; /* the invite test's calls, or NULL */
	/* persistent TCP/TLS: this thread's share of the pool */
	struct lg_slot **pool;
	unsigned npool;
	uint64_t pool_t0;
	struct ev_timer pool_check;
	struct loadpres *pres; /* subscribe/publish dialogs, or NULL */
	struct sip_txn_layer *pres_txl; /* theirs, or NULL */
	uint64_t rx_ns; /* kernel time of the response being handled */
	struct buf out, hdrs;
	pthread_mutex_t mu;
	struct loadcount c;  /* under mu: all but the calls' */
	struct loadcount cc; /* under mu: the call module's */
};

struct loadgen {
	struct loadcfg cfg;
	struct lg_worker *w;
	unsigned nw;
	struct sip_tp_tls *tls_client, *tls_server;
	/* threads whose pool is up (or failed), under pool_mu */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cond;
	unsigned pools_ready;
	_Atomic uint64_t rate_bits;
	atomic_bool started;
	/* Written before the threads are told to start (ev_call orders
	 * it): the time of slot 0 and the length of a bounded run. */
	uint64_t anchor_ns;
	double run_secs; /* 0: until loadgen_stop */
};

/* ---- users and passwords ---- */

void loadgen_snapshot(struct loadgen *lg, struct loadcount *out)
{
	unsigned i;

	loadcount_init(out);
	for (i = 0; i < lg->nw; i++) {
		pthread_mutex_lock(&lg->w[i].mu);
		loadcount_merge(out, &lg->w[i].c);
		loadcount_merge(out, &lg->w[i].cc);
		loadcount_kind_merge_calls(&out->kind[LOADCFG_INVITE - 1],
					   &lg->w[i].cc);
		pthread_mutex_unlock(&lg->w[i].mu);
	}
}

/* ---- requests ---- */

/* ---- connections ---- */

static void slot_destroy(void *obj)
{
	struct lg_slot *sl = obj;

	if (sl->per_request)
		sip_tp_conn_close(sl->conn);
	obj_deref(sl->conn);
}

static struct lg_slot *slot_alloc(bool per_request)
{
	struct lg_slot *sl = obj_alloc(sizeof(*sl), slot_destroy);

	if (sl)
		sl->per_request = per_request;
	return sl;
}

/* A per-request slot's transaction (call) is over: close it now. */
static void slot_finish(struct lg_slot *sl)
{
	if (!sl || !sl->per_request)
		return;
	sl->done = true;
	sip_tp_conn_close(sl->conn);
}

/* Copies the transport's connection counts (this thread only). */
static void tp_counts(struct lg_worker *w)
{
	const struct sip_tp_stats *ts = sip_tp_stats(w->tp);

	pthread_mutex_lock(&w->mu);
	w->c.conns_opened = ts->conns_opened;
	w->c.conns_failed = ts->conns_failed;
	w->c.conns_closed = ts->conns_closed;
	w->c.conns_up = ts->conns_up;
	w->c.conn_setup_ns = ts->conn_setup_ns;
	w->c.tls_full = ts->tls_full;
	w->c.tls_resumed = ts->tls_resumed;
	pthread_mutex_unlock(&w->mu);
}

/* Connects sl anew (a new connection even when others are open). */
static int slot_open(struct lg_worker *w, struct lg_slot *sl)
{
	const struct loadcfg *cfg = &w->lg->cfg;
	struct sip_tp_conn *conn = NULL;
	const char *name = cfg->server.proto == SIP_TP_TLS && cfg->tls_name[0]
				   ? cfg->tls_name
				   : NULL;
	bool again = sl->tried;
	int err;

	sl->tried = true;
	err = sip_tp_conn_open(w->tp, &cfg->server, name, &conn);
	if (err)
		return err;
	obj_deref(sl->conn);
	sl->conn = conn;
	if (again) {
		pthread_mutex_lock(&w->mu);
		w->c.conns_reopened++;
		pthread_mutex_unlock(&w->mu);
	}
	return 0;
}

static int slot_send(struct lg_worker *w, struct lg_slot *sl, const char *buf,
		     size_t len)
{
	int err;

	if (!sl->conn || !sip_tp_conn_is_open(sl->conn)) {
		if (sl->done)
			return ENOTCONN;
		err = slot_open(w, sl);
		if (err)
			return err;
	}
	return sip_tp_conn_send(sl->conn, buf, len);
}

/* The slot user u of w is bound to: its pool connection (persistent),
 * or a new one (per-request).  A new reference, or NULL (UDP, ENOMEM). */
static struct lg_slot *slot_for(struct lg_worker *w, size_t user_idx)
{
	if (w->lg->cfg.server.proto == SIP_TP_UDP)
		return NULL;
	if (w->npool)
		return obj_ref(w->pool[user_idx % w->npool]);
	return slot_alloc(true);
}

/* Whether every pool connection is up or failed. */
static bool pool_settled(const struct lg_worker *w)
{
	unsigned i;

	for (i = 0; i < w->npool; i++) {
		struct sip_tp_conn *c = w->pool[i]->conn;

		if (c && sip_tp_conn_is_open(c) &&
		    !sip_tp_conn_is_established(c))
			return false;
	}
	return true;
}

static void pool_check(void *arg)
{
	struct lg_worker *w = arg;
	struct loadgen *lg = w->lg;

	if (!pool_settled(w)) {
		ev_timer_start(w->ev, &w->pool_check, EV_MS(1), pool_check, w);
		return;
	}
	tp_counts(w);
	pthread_mutex_lock(&w->mu);
	w->c.pool_open_us = (ev_monotonic_ns() - w->pool_t0) / 1000u;
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_lock(&lg->pool_mu);
	lg->pools_ready++;
	pthread_cond_broadcast(&lg->pool_cond);
	pthread_mutex_unlock(&lg->pool_mu);
}

/* Opens this thread's share of a persistent pool (its connects run on
 * the thread's loop; pool_check() sees them through). */
static int pool_open(struct lg_worker *w)
{
	const struct loadgen *lg = w->lg;
	unsigned total = lg->cfg.conns ? lg->cfg.conns : lg->nw, i;

	w->npool = total / lg->nw + (w->idx < total % lg->nw ? 1 : 0);
	if (!w->npool)
		return EINVAL;
	w->pool = calloc(w->npool, sizeof(*w->pool));
	if (!w->pool)
		return ENOMEM;
	w->pool_t0 = ev_monotonic_ns();
	for (i = 0; i < w->npool; i++) {
		w->pool[i] = slot_alloc(false);
		if (!w->pool[i])
			return ENOMEM;
		/* a failed connect is counted; sends open it again */
		(void)slot_open(w, w->pool[i]);
	}
	ev_timer_start(w->ev, &w->pool_check, 0, pool_check, w);
	return 0;
}

/* In flight: transactions and calls. */
static uint64_t in_flight(const struct lg_worker *w)
{
	return w->outstanding + (w->call ? loadcall_outstanding(w->call) : 0);
}

static void req_free(struct lg_req *r)
{
	struct lg_worker *w = r->w;

	slot_finish(r->slot);
	obj_deref(r->slot);
	if (r->prev)
		r->prev->next = r->next;
	else
		w->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	w->outstanding--;
	free(r);
	if (w->draining && !in_flight(w))
		ev_stop(w->ev);
}

/*
 * Every message leaves here (the layer's send callback, and the call
 * module's ACKs): on its slot's connection when it goes to the server,
 * on the far end's connection for a reply to it, else on any connection
 * to the destination (a next hop other than the server).
 */
static int txn_send(void *arg, const struct sip_txn_dest *dst, const char *buf,
		    size_t len)
{
	struct lg_worker *w = arg;
	struct lg_slot *sl = dst->conn;
	struct sip_tp_addr a;
	int err;

	err = sip_tp_addr_set(&a, dst->tp, &dst->addr.sa, dst->addrlen);
	if (err)
		return err;
	if (sl && sl->incoming) {
		if (sip_tp_conn_is_open(sl->conn))
			return sip_tp_conn_send(sl->conn, buf, len);
	} else if (sl && sip_tp_addr_eq(&a, &w->lg->cfg.server)) {
		return slot_send(w, sl, buf, len);
	}
	return sip_tp_send(w->tp, &a, buf, len);
}

static void txn_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg);

/* Builds and sends the request of r (a new transaction). */
static int req_send(struct lg_req *r)
{
	struct lg_worker *w = r->w;
	const struct loadcfg *cfg = &w->lg->cfg;
	struct lg_user *u = r->u;
	char user[LOADCFG_NAME_MAX * 2], branch[SIP_BRANCH_SIZE];
	char tag[SIP_TAG_SIZE];
	char via[256], aor[256], ruri[256], contact[256];
	const char *tpname = sip_transport_name(cfg->server.proto);
	struct sip_build_req br;
	struct sip_txn_dest dst;
	struct sip_txn_creq creq;
	bool reg = r->kind != LOADCFG_OPTIONS;
	int err;

	err = loadcfg_user_name(cfg, u->num, user, sizeof(user));
	if (err)
		return err;
	sip_build_branch(branch);
	sip_build_tag(tag);
	/* The Contact names our transport, so that the server reaches us
	 * over the test's transport. */
	if (loadmsg_cat(via, sizeof(via),
			(const char *const[]){"SIP/2.0/", tpname, " ",
					      w->hostport, ";branch=", branch,
					      ";rport", NULL}) ||
	    loadmsg_cat(aor, sizeof(aor),
			(const char *const[]){"<sip:", user, "@", cfg->domain,
					      ">", NULL}) ||
	    loadmsg_cat(ruri, sizeof(ruri),
			(const char *const[]){"sip:", reg ? cfg->domain : user,
					      reg ? NULL : "@", cfg->domain,
					      NULL}) ||
	    loadmsg_cat(contact, sizeof(contact),
			(const char *const[]){
				"<sip:", user, "@", w->hostport, ";transport=",
				loadmsg_tp_param(cfg->server.proto), ">",
				NULL}))
		return EOVERFLOW;
	/* A reregister refreshes one binding: the same Call-ID for every
	 * REGISTER of a user (§10.2), CSeq up by one.  Other tests start a
	 * new Call-ID per transaction; an auth retry keeps it, CSeq + 1
	 * (§22.2). */
	if (!r->call_id[0]) {
		if (r->kind == LOADCFG_REREGISTER) {
			if (!u->call_id[0] &&
			    sip_build_call_id(u->call_id, sizeof(u->call_id),
					      cfg->local_ip))
				return EOVERFLOW;
			memcpy(r->call_id, u->call_id, sizeof(r->call_id));
			if (++u->cseq >= (1u << 30))
				u->cseq = 1;
			r->cseq = u->cseq;
		} else {
			if (sip_build_call_id(r->call_id, sizeof(r->call_id),
					      cfg->local_ip))
				return EOVERFLOW;
			r->cseq = 1;
		}
	} else {
		r->cseq++;
		if (r->kind == LOADCFG_REREGISTER)
			u->cseq = r->cseq;
	}
	buf_reset(&w->hdrs);
	if (reg) {
		err = buf_append_str(&w->hdrs, "Expires: ");
		if (!err)
			err = buf_append_u64(&w->hdrs, cfg->expires);
		if (!err)
			err = buf_append_str(&w->hdrs, "\r\n");
		if (err)
			return err;
	}
	err = loadcred_header(&w->hdrs, cfg, u->auth, r->auth_tries, false,
			      reg ? "REGISTER" : "OPTIONS", ruri);
	if (err)
		return err;
	memset(&br, 0, sizeof(br));
	br.method = loadmsg_pl(reg ? "REGISTER" : "OPTIONS");
	br.ruri = loadmsg_pl(ruri);
	br.via = loadmsg_pl(via);
	br.from = loadmsg_pl(aor);
	br.from_tag = loadmsg_pl(tag);
	br.to = loadmsg_pl(aor);
	br.call_id = loadmsg_pl(r->call_id);
	br.cseq = r->cseq;
	if (reg)
		br.contact = loadmsg_pl(contact);
	br.hdrs = buf_pl(&w->hdrs);
	buf_reset(&w->out);
	err = sip_build_request(&w->out, &br);
	if (err)
		return err;
	memset(&dst, 0, sizeof(dst));
	dst.tp = cfg->server.proto;
	dst.reliable = cfg->server.proto != SIP_TP_UDP;
	memcpy(&dst.addr, &cfg->server.u, sizeof(dst.addr));
	dst.addrlen = sip_tp_addr_len(&cfg->server);
	if (dst.reliable) {
		/* per-request: each transaction (an auth retry too) on a
		 * connection of its own */
		if (!r->slot || r->slot->per_request) {
			slot_finish(r->slot);
			obj_deref(r->slot);
			r->slot = slot_for(w, (size_t)(u - w->users));
			if (!r->slot)
				return ENOMEM;
		}
		dst.conn = r->slot;
	}
	memset(&creq, 0, sizeof(creq));
	creq.dst = &dst;
	creq.branch = loadmsg_pl(branch);
	creq.method = br.method;
	creq.msg = buf_pl(&w->out);
	return sip_txn_client_start(NULL, w->txl[r->kind - 1], &creq,
				    txn_event, r);
}

static void finish(struct lg_req *r, uint16_t status, bool timeout,
		   bool tp_error)
{
	struct lg_worker *w = r->w;
	uint64_t end = w->rx_ns ? w->rx_ns : ev_monotonic_ns();
	uint64_t us = end > r->t_start ? (end - r->t_start) / 1000u : 0;
	struct loadcount_kind *k = &w->c.kind[r->kind - 1];

	pthread_mutex_lock(&w->mu);
	if (status) {
		hist_add(&w->c.rtt, us);
		hist_add(&k->rtt, us);
		if (status < LOADCOUNT_CODES) {
			w->c.codes[status]++;
			k->codes[status]++;
		}
	}
	if (status >= 200 && status < 300) {
		w->c.successes++;
		k->successes++;
		if (r->kind != LOADCFG_OPTIONS) {
			hist_add(&w->c.rrd, us);
			hist_add(&k->rrd, us);
		}
	} else {
		w->c.failures++;
		k->failures++;
		if (timeout) {
			w->c.timeouts++;
			k->timeouts++;
		}
		if (tp_error) {
			w->c.transport_errors++;
			k->transport_errors++;
		}
	}
	pthread_mutex_unlock(&w->mu);
	req_free(r);
}

static int answer_challenge(struct lg_req *r, const struct sip_msg *msg)
{
	struct lg_worker *w = r->w;
	int err;

	err = loadcred_answer(&w->lg->cfg, r->u->num, &r->u->auth,
			      r->auth_tries, msg);
	if (err)
		return err;
	r->auth_tries++;
	pthread_mutex_lock(&w->mu);
	w->c.auth_challenges++;
	w->c.kind[r->kind - 1].auth_challenges++;
	pthread_mutex_unlock(&w->mu);
	return req_send(r);
}

static void txn_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg)
{
	struct lg_req *r = arg;

	(void)t;
	(void)err;
	switch (ev) {
	case SIP_TXN_EV_RESPONSE:
		if (msg->status < 200)
			return;
		if ((msg->status == 401 || msg->status == 407) &&
		    (r->w->lg->cfg.password[0] || r->w->lg->cfg.passwords) &&
		    !answer_challenge(r, msg))
			return;
		finish(r, msg->status, false, false);
		return;
	case SIP_TXN_EV_TIMEOUT:
		finish(r, 0, true, false);
		return;
	case SIP_TXN_EV_TRANSPORT_ERROR:
		finish(r, 0, false, true);
		return;
	case SIP_TXN_EV_TIMER_C:
		return;
	}
}

/* The layer that takes the far end's requests: the presence module's
 * (NOTIFYs) or the call module's. */
static struct sip_txn_layer *req_layer(struct lg_worker *w)
{
	return w->pres_txl ? w->pres_txl : w->txl[LOADCFG_INVITE - 1];
}

/* invite, subscribe: requests from the far end go to the call or the
 * presence module. */
static void call_request(struct lg_worker *w, const struct sip_tp_rx *rx)
{
	struct sip_txn_dest src;

	memset(&src, 0, sizeof(src));
	src.tp = rx->proto;
	src.reliable = rx->proto != SIP_TP_UDP;
	memcpy(&src.addr, &rx->src.u, sizeof(src.addr));
	src.addrlen = sip_tp_addr_len(&rx->src);
	if (rx->conn) {
		/* The replies go back on the connection it came on
		 * (RFC 3261 §18.2.2), through txn_send(). */
		struct lg_slot *sl = slot_alloc(false);

		if (!sl)
			return;
		sl->incoming = true;
		sl->conn = obj_ref(rx->conn);
		src.conn = sl;
		sip_txn_recv_request(req_layer(w), rx->msg, &src);
		obj_deref(sl);
		return;
	}
	sip_txn_recv_request(req_layer(w), rx->msg, &src);
}

static void tp_recv(const struct sip_tp_rx *rx, void *arg)
{
	struct lg_worker *w = arg;
	uint16_t status;
	const char *why;
	int err;

	if (sip_msg_validate(rx->msg, &status, &why) ||
	    (rx->msg->is_request && !w->call && !w->pres)) {
		pthread_mutex_lock(&w->mu);
		w->c.bad_msgs++;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	w->rx_ns = rx->rx_ns;
	if (rx->msg->is_request) {
		call_request(w, rx);
		w->rx_ns = 0;
		return;
	}
	/* the layer of the kind whose transaction it is (a mix's REGISTER
	 * may be either register kind's) */
	err = w->pres_txl ? sip_txn_recv_response(w->pres_txl, rx->msg)
			  : ENOENT;
	for (unsigned k = 0; k < LOADCFG_KINDS && err == ENOENT; k++)
		if (w->txl[k])
			err = sip_txn_recv_response(w->txl[k], rx->msg);
	if (err == ENOENT && w->call && !loadcall_response(w->call, rx->msg))
		err = 0;
	w->rx_ns = 0;
	if (!err)
		return;
	if (err == ENOENT) {
		pthread_mutex_lock(&w->mu);
		w->c.stray++;
		pthread_mutex_unlock(&w->mu);
	}
}

/* ---- pacing ---- */

static double next_gap(struct lg_worker *w)
{
	double u;

	if (!w->lg->cfg.poisson)
		return w->gap_ns;
	/* xorshift64*, then an exponential gap of mean gap_ns */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	u = (double)((w->rng * 2685821657736338717ull) >> 11) * 0x1p-53;
	return -log1p(-u) * w->gap_ns;
}

/*
 * The kind of the next slot: the test's, or a mix's by smooth weighted
 * round-robin (nginx's): each kind gains its weight, the one ahead is
 * taken and loses the total.  Deterministic and evenly spread: any W
 * consecutive slots (W the sum of the weights) hold each kind exactly
 * its weight times.
 */
static enum loadcfg_test next_kind(struct lg_worker *w)
{
	const struct loadcfg *cfg = &w->lg->cfg;
	int64_t total = 0;
	unsigned k, best = LOADCFG_KINDS;

	if (cfg->test != LOADCFG_MIX)
		return cfg->test;
	for (k = 0; k < LOADCFG_KINDS; k++) {
		if (!cfg->mix[k])
			continue;
		w->swrr[k] += cfg->mix[k];
		total += cfg->mix[k];
		if (best == LOADCFG_KINDS || w->swrr[k] > w->swrr[best])
			best = k;
	}
	w->swrr[best] -= total;
	return (enum loadcfg_test)(best + 1);
}

/* The next user of kind t's walk over its range. */
static struct lg_user *next_user(struct lg_worker *w, enum loadcfg_test t)
{
	bool reg = t == LOADCFG_REGISTER || t == LOADCFG_REREGISTER;
	struct lg_user *us = reg && w->rusers ? w->rusers : w->users;
	size_t n = reg && w->rusers ? w->nrusers : w->nusers;
	size_t *i = &w->next_user[t - 1];
	struct lg_user *u = &us[*i];

	if (++*i == n)
		*i = 0;
	return u;
}

/* Counts a slot not sent (max outstanding) or a new attempt. */
static bool admit(struct lg_worker *w, enum loadcfg_test t, uint64_t sched,
		  uint64_t now)
{
	const struct loadcfg *cfg = &w->lg->cfg;
	struct loadcount_kind *k = &w->c.kind[t - 1];
	bool ok = !cfg->max_outstanding || in_flight(w) < cfg->max_outstanding;

	pthread_mutex_lock(&w->mu);
	if (!ok) {
		w->c.throttled++;
		k->throttled++;
	} else {
		w->c.attempts++;
		k->attempts++;
		if (now > sched + LOADCOUNT_LATE_NS) {
			w->c.late_sends++;
			k->late_sends++;
		}
	}
	pthread_mutex_unlock(&w->mu);
	return ok;
}

/* invite: a new call (loadcall.c), to the next user of the range. */
static void send_call(struct lg_worker *w, uint64_t sched, uint64_t now)
{
	const struct loadcfg *cfg = &w->lg->cfg;
	struct lg_user *u;

	if (!admit(w, LOADCFG_INVITE, sched, now))
		return;
	u = next_user(w, LOADCFG_INVITE);
	loadcall_start(w->call, u->num,
		       u->num < cfg->ulast ? u->num + 1 : cfg->ufirst,
		       &u->auth);
}

/* subscribe, publish: the next user's attempt (loadpres.c), unless
 * that user's dialog or PUBLISH is still going. */
static void send_pres(struct lg_worker *w, uint64_t sched, uint64_t now)
{
	size_t slot = w->next_pres;
	struct lg_user *u = &w->users[slot];

	if (++w->next_pres == w->nusers)
		w->next_pres = 0;
	if (!loadpres_can_start(w->pres, slot)) {
		pthread_mutex_lock(&w->mu);
		w->c.throttled++;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->c.attempts++;
	if (now > sched + LOADCOUNT_LATE_NS)
		w->c.late_sends++;
	pthread_mutex_unlock(&w->mu);
	loadpres_start(w->pres, slot, u->num, &u->auth);
}

static void send_one(struct lg_worker *w, uint64_t sched, uint64_t now)
{
	enum loadcfg_test t = next_kind(w);
	struct lg_req *r;
	int err;

	if (t == LOADCFG_INVITE) {
		send_call(w, sched, now);
		return;
	}
	if (w->pres) {
		send_pres(w, sched, now);
		return;
	}
	if (!admit(w, t, sched, now))
		return;
	r = calloc(1, sizeof(*r));
	if (!r) {
		/* counted as an attempt: end it as failed */
		pthread_mutex_lock(&w->mu);
		w->c.failures++;
		w->c.transport_errors++;
		w->c.kind[t - 1].failures++;
		w->c.kind[t - 1].transport_errors++;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	r->w = w;
	r->kind = t;
	r->u = next_user(w, t);
	r->t_start = now;
	r->next = w->reqs;
	if (w->reqs)
		w->reqs->prev = r;
	w->reqs = r;
	w->outstanding++;
	err = req_send(r);
	if (err) {
		log_debug("send: %s", strerror(err));
		finish(r, 0, false, true);
	}
}

/* Whether the schedule has a slot left (a bounded run's end). */
static bool slot_left(const struct lg_worker *w)
{
	return w->slots_left && w->next_ns < w->end_ns;
}

/* Sends what is due by now (max at most), then the batch. */
static void send_due(struct lg_worker *w, uint64_t now, unsigned max)
{
	/* New requests go to the head of the list; this one is older and
	 * cannot end during the loop (only responses and timers end one,
	 * or a failed send, which ends only its own new request). */
	struct lg_req *older = w->reqs, *r;
	unsigned n = 0;

	while (slot_left(w) && w->next_ns <= now && n < max) {
		send_one(w, w->next_ns, now);
		w->next_ns += (uint64_t)next_gap(w);
		if (w->slots_left != UINT64_MAX)
			w->slots_left--;
		n++;
	}
	/*
	 * The batch leaves now, not after the next wait (timers run after
	 * the loop's flush hook); its requests were sent when the batch
	 * was handed to the kernel, not when they were built.
	 */
	now = ev_monotonic_ns();
	for (r = w->reqs; r && r != older; r = r->next)
		r->t_start = now;
	sip_tp_flush(w->tp);
}

/* The layers' retransmissions into the counters (they are cumulative). */
static void read_retransmissions(struct lg_worker *w)
{
	struct sip_txn_stats ts;
	uint64_t sum = 0;
	unsigned k;

	pthread_mutex_lock(&w->mu);
	for (k = 0; k < LOADCFG_KINDS; k++) {
		if (!w->txl[k])
			continue;
		sip_txn_layer_stats(w->txl[k], &ts);
		w->c.kind[k].retransmissions = ts.retransmissions;
		sum += ts.retransmissions;
	}
	if (w->pres_txl) {
		sip_txn_layer_stats(w->pres_txl, &ts);
		sum += ts.retransmissions;
	}
	w->c.retransmissions = sum;
	pthread_mutex_unlock(&w->mu);
}

static void tick(void *arg)
{
	struct lg_worker *w = arg;
	uint64_t now;

	if (w->sending)
		send_due(w, ev_monotonic_ns(), TICK_BURST);
	read_retransmissions(w);
	if (w->lg->cfg.server.proto != SIP_TP_UDP)
		tp_counts(w);
	/* a bounded run's last slot sent: nothing more to pace */
	if (!w->sending || !slot_left(w))
		return;
	now = ev_monotonic_ns();
	ev_timer_start(w->ev, &w->tick,
		       w->next_ns > now ? w->next_ns - now : 0, tick, w);
}

/*
 * A bounded run of run_secs at rate (all threads): the global slots k
 * of k < round(rate * run_secs), of which this thread has those with
 * k % nw == idx; with Poisson arrivals, those before the end.
 */
static void bound_run(struct lg_worker *w, double rate)
{
	const struct loadgen *lg = w->lg;
	uint64_t total;

	w->slots_left = w->end_ns = UINT64_MAX;
	if (!(lg->run_secs > 0))
		return;
	if (lg->cfg.poisson) {
		w->end_ns = lg->anchor_ns + (uint64_t)(lg->run_secs * 1e9);
		return;
	}
	total = (uint64_t)llround(rate * lg->run_secs);
	w->slots_left = total > w->idx ? (total - w->idx + lg->nw - 1) / lg->nw
				       : 0;
}

static void w_apply_rate(void *arg)
{
	struct lg_worker *w = arg;
	uint64_t bits = atomic_load(&w->lg->rate_bits);
	double rate;

	memcpy(&rate, &bits, sizeof(rate));
	rate /= w->lg->nw;
	w->gap_ns = 1e9 / rate;
	/*
	 * The first start: slot 0 at the engine's anchor, the same for
	 * every thread (one schedule, the threads taking every nw-th slot
	 * of it).  A new rate re-anchors: the new spacing starts now.
	 * Either way with this thread's offset, so that threads
	 * interleave rather than burst together.
	 */
	w->next_ns = (w->anchored ? ev_monotonic_ns() : w->lg->anchor_ns) +
		     (uint64_t)(w->gap_ns * w->idx / w->lg->nw);
	if (!w->anchored)
		bound_run(w, rate * w->lg->nw);
	w->anchored = true;
	w->sending = true;
	ev_timer_start(w->ev, &w->tick, 0, tick, w);
}

static void w_pause(void *arg)
{
	struct lg_worker *w = arg;

	w->sending = false;
	ev_timer_cancel(w->ev, &w->tick);
}

static void drain_timeout(void *arg)
{
	struct lg_worker *w = arg;

	ev_stop(w->ev);
}

static void calls_idle(void *arg)
{
	struct lg_worker *w = arg;

	if (!w->outstanding)
		ev_stop(w->ev);
}

static void w_stop(void *arg)
{
	struct lg_worker *w = arg;

	/* A bounded run stopped at its end (the caller's timer, from the
	 * same t0): the slots this thread has not reached yet, if it runs
	 * a little late, are due and still the run's: a tick's worth of
	 * them goes, as the next tick would have sent it.  A thread that
	 * lost its pace does not flood the server at the end: what it
	 * could not send counts against its pace (generator_bound). */
	if (w->sending && w->lg->run_secs > 0)
		send_due(w, ev_monotonic_ns(), TICK_BURST);
	w->sending = false;
	ev_timer_cancel(w->ev, &w->tick);
	w->draining = true;
	if (w->pres) {
		/* the dialogs end with their unsubscribes, in flight or not */
		ev_timer_start(w->ev, &w->drain, EV_MS(w->lg->cfg.drain_ms),
			       drain_timeout, w);
		loadpres_drain(w->pres); /* calls_idle() stops the loop */
		return;
	}
	if (!in_flight(w)) {
		ev_stop(w->ev);
		return;
	}
	ev_timer_start(w->ev, &w->drain, EV_MS(w->lg->cfg.drain_ms),
		       drain_timeout, w);
	/* The last call or transaction to end stops the loop
	 * (calls_idle(), req_free()). */
	if (w->call)
		loadcall_drain(w->call);
}

static void *w_main(void *arg)
{
	struct lg_worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "loader-%u", w->idx);
	pthread_setname_np(pthread_self(), name);
	ev_run_every(w->ev, (uint64_t)w->lg->cfg.tick_us * 1000u);
	return NULL;
}

/* ---- the engine ---- */

static void worker_free(struct lg_worker *w)
{
	size_t i;

	w->draining = false;
	loadcall_free(w->call);
	w->call = NULL;
	loadpres_free(w->pres);
	w->pres = NULL;
	w->pres_txl = obj_deref(w->pres_txl);
	for (i = 0; i < LOADCFG_KINDS; i++)
		w->txl[i] = obj_deref(w->txl[i]);
	while (w->reqs)
		req_free(w->reqs);
	for (i = 0; i < w->npool; i++)
		obj_deref(w->pool[i]);
	free(w->pool);
	w->pool = NULL;
	w->npool = 0;
	w->tp = obj_deref(w->tp);
	if (w->ev) {
		ev_timer_cancel(w->ev, &w->tick);
		ev_timer_cancel(w->ev, &w->drain);
		ev_timer_cancel(w->ev, &w->pool_check);
	}
	w->ev = obj_deref(w->ev);
	for (i = 0; i < w->nusers; i++)
		sip_auth_client_free(w->users[i].auth);
	free(w->users);
	for (i = 0; i < w->nrusers; i++)
		sip_auth_client_free(w->rusers[i].auth);
	free(w->rusers);
	buf_free(&w->out);
	buf_free(&w->hdrs);
	pthread_mutex_destroy(&w->mu);
}

/* A call's connection: its caller's pool slot, or a new one. */
static void *call_conn(void *arg, uint32_t num)
{
	struct lg_worker *w = arg;

	/* users num = ufirst + idx + j * threads (worker_init) */
	return slot_for(w, (size_t)((num - w->lg->cfg.ufirst) / w->lg->nw));
}

static void call_conn_done(void *arg, void *conn)
{
	(void)arg;
	slot_finish(conn);
}

/* The layer's request handler: the call or presence module's. */
static void w_request(void *arg, struct sip_txn *st, const struct sip_msg *msg,
		      const struct sip_txn_dest *src)
{
	struct lg_worker *w = arg;

	if (w->pres)
		loadpres_request(w->pres, st, msg, src);
	else
		loadcall_request(w->call, st, msg, src);
}

static int pres_init(struct lg_worker *w)
{
	struct loadpres_env env;

	memset(&env, 0, sizeof(env));
	env.cfg = &w->lg->cfg;
	env.ev = w->ev;
	env.tp = w->tp;
	env.txl = w->pres_txl;
	env.hostport = w->hostport;
	env.rx_ns = &w->rx_ns;
	env.mu = &w->mu;
	env.c = &w->c;
	env.nslots = w->nusers;
	env.idle = calls_idle;
	env.arg = w;
	return loadpres_alloc(&w->pres, &env);
}

/* Thread idx's share of first..last: the numbers j with j % nw == idx
 * (*out NULL when there are none). */
static int users_of(struct lg_user **out, size_t *n, uint32_t first,
		    uint32_t last, unsigned idx, unsigned nw)
{
	uint64_t all = (uint64_t)last - first + 1, j;

	*n = (size_t)((all + nw - 1 - idx) / nw);
	*out = NULL;
	if (!*n)
		return 0;
	*out = calloc(*n, sizeof(**out));
	if (!*out)
		return ENOMEM;
	for (j = 0; j < *n; j++)
		(*out)[j].num = first + (uint32_t)(idx + j * nw);
	return 0;
}

static int worker_init(struct loadgen *lg, struct lg_worker *w, unsigned idx)
{
	const struct loadcfg *cfg = &lg->cfg;
	struct loadcall_env env;
	struct sip_txn_cfg tc;
	struct sip_tp_opts to;
	struct sip_tp_addr la;
	char spec[SIP_TP_ADDR_STRLEN + LOADCFG_NAME_MAX];
	unsigned k;
	int err;

	w->lg = lg;
	w->idx = idx;
	pthread_mutex_init(&w->mu, NULL);
	loadcount_init(&w->c);
	loadcount_init(&w->cc);
	buf_init(&w->out, SIP_MSG_MAX_SIZE);
	buf_init(&w->hdrs, 4096);
	ev_timer_init(&w->tick);
	ev_timer_init(&w->drain);
	ev_timer_init(&w->pool_check);
	w->rng = 0x9e3779b97f4a7c15ull * (idx + 1) ^
		 (uint64_t)ev_monotonic_ns();
	if (!w->rng)
		w->rng = 1;
	err = users_of(&w->users, &w->nusers, cfg->ufirst, cfg->ulast, idx,
		       lg->nw);
	if (!err && cfg->reg_users)
		err = users_of(&w->rusers, &w->nrusers, cfg->rfirst,
			       cfg->rlast, idx, lg->nw);
	if (err)
		return err;
	if (!w->nusers || (cfg->reg_users && !w->nrusers))
		return EINVAL;
	err = ev_alloc(&w->ev);
	if (err)
		return err;
	memset(&to, 0, sizeof(to));
	to.udp_rx_timestamps = true;
	/* a tick's sends (TICK_BURST at most) leave in one sendmmsg */
	to.udp_batch = TICK_BURST;
	to.tls_client = lg->tls_client;
	to.tls_server = lg->tls_server;
	err = sip_tp_alloc(&w->tp, w->ev, &to, tp_recv, w);
	if (err)
		return err;
	/*
	 * Responses come back to the socket in our Via: a UDP socket for
	 * UDP; over TCP/TLS on the request's connection, and the Via and
	 * Contact name a listener for requests to us.  A TLS listener
	 * needs a certificate (--tls-cert): without one it is a TCP one,
	 * and the far end must use our connections (RFC 3261 §18.2.2).
	 */
	snprintf(spec, sizeof(spec), "%s:%s:0",
		 cfg->server.proto == SIP_TP_UDP ? "udp"
		 : lg->tls_server		 ? "tls"
						 : "tcp",
		 strchr(cfg->local_ip, ':') ? "[::1]" : cfg->local_ip);
	err = sip_tp_addr_decode(&la, NULL, spec);
	if (err)
		return err;
	err = sip_tp_listen(w->tp, &la, 0, &w->local);
	if (err)
		return err;
	err = sip_tp_addr_hostport(&w->local, w->hostport,
				   sizeof(w->hostport));
	if (err)
		return err;
	memset(&tc, 0, sizeof(tc));
	tc.t1_ms = cfg->t1_ms;
	tc.timer_b_ms = cfg->timer_b_ms;
	/* Completed transactions linger for Timer K (T4, 5 s): at 10,000/s
	 * that is 50,000 live ones; keep the hash chains short. */
	tc.buckets = 65536;
	if (cfg->test == LOADCFG_SUBSCRIBE || cfg->test == LOADCFG_PUBLISH) {
		err = sip_txn_layer_alloc(&w->pres_txl, w->ev, &tc, txn_send,
					  w_request, w);
		if (err)
			return err;
		return pres_init(w);
	}
	for (k = 0; k < LOADCFG_KINDS; k++) {
		bool calls = k == LOADCFG_INVITE - 1;

		if (!loadcfg_has_kind(cfg, (enum loadcfg_test)(k + 1)))
			continue;
		err = sip_txn_layer_alloc(&w->txl[k], w->ev, &tc, txn_send,
					  calls ? w_request : NULL, w);
		if (err)
			return err;
	}
	if (cfg->server.proto != SIP_TP_UDP &&
	    cfg->conn == LOADCFG_CONN_PERSISTENT) {
		err = pool_open(w);
		if (err)
			return err;
	}
	if (!loadcfg_has_kind(cfg, LOADCFG_INVITE))
		return 0;
	memset(&env, 0, sizeof(env));
	env.cfg = cfg;
	env.ev = w->ev;
	env.tp = w->tp;
	env.txl = w->txl[LOADCFG_INVITE - 1];
	env.hostport = w->hostport;
	env.rx_ns = &w->rx_ns;
	env.mu = &w->mu;
	env.c = &w->cc;
	env.idle = calls_idle;
	env.send = txn_send;
	env.conn_for = call_conn;
	env.conn_done = call_conn_done;
	env.arg = w;
	return loadcall_alloc(&w->call, &env);
}

int loadgen_alloc(struct loadgen **lgp, const struct loadcfg *cfg)
{
	struct loadgen *lg = NULL;
	char why[160];
	unsigned i;
	int err;

	if (!cfg->threads || cfg->ulast < cfg->ufirst ||
	    (uint64_t)cfg->ulast - cfg->ufirst + 1 < cfg->threads ||
	    !cfg->test || cfg->test > LOADCFG_PUBLISH ||
	    loadcfg_mix_check(cfg, why, sizeof(why)) ||
	    (cfg->server.proto != SIP_TP_UDP &&
	     cfg->server.proto != SIP_TP_TCP &&
	     cfg->server.proto != SIP_TP_TLS) ||
	    (cfg->server.proto != SIP_TP_UDP &&
	     cfg->conn == LOADCFG_CONN_PERSISTENT && cfg->conns &&
	     cfg->conns < cfg->threads) ||
	    (!cfg->tls_cert != !cfg->tls_key))
		return EINVAL;
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return ENOMEM;
	lg->cfg = *cfg;
	pthread_mutex_init(&lg->pool_mu, NULL);
	pthread_cond_init(&lg->pool_cond, NULL);
	if (!lg->cfg.drain_ms)
		lg->cfg.drain_ms = 2000;
	if (!lg->cfg.expires)
		lg->cfg.expires = 3600;
	if (!lg->cfg.local_ip[0])
		snprintf(lg->cfg.local_ip, sizeof(lg->cfg.local_ip),
			 "127.0.0.1");
	lg->nw = cfg->threads;
	lg->w = calloc(lg->nw, sizeof(*lg->w));
	if (!lg->w) {
		lg->nw = 0;
		err = ENOMEM;
		goto fail;
	}
	if (cfg->server.proto == SIP_TP_TLS) {
		struct sip_tp_tls_opts o;

		memset(&o, 0, sizeof(o));
		o.ca_file = cfg->tls_ca;
		o.no_verify = cfg->tls_no_verify;
		o.no_resume = cfg->tls_no_resume;
		o.cert_file = cfg->tls_cert;
		o.key_file = cfg->tls_key;
		err = sip_tp_tls_alloc(&lg->tls_client, true, &o);
		if (!err && cfg->tls_cert)
			err = sip_tp_tls_alloc(&lg->tls_server, false, &o);
		if (err) {
			log_err("TLS: %s", strerror(err));
			lg->nw = 0;
			goto fail;
		}
	}
	for (i = 0; i < lg->nw; i++) {
		err = worker_init(lg, &lg->w[i], i);
		if (err) {
			log_err("thread %u: %s", i, strerror(err));
			lg->nw = i + 1;
			goto fail;
		}
	}
	for (i = 0; i < lg->nw; i++) {
		err = pthread_create(&lg->w[i].th, NULL, w_main, &lg->w[i]);
		if (err)
			goto fail;
		lg->w[i].th_started = true;
	}
	if (lg->w[0].npool) {
		/* Every thread's pool up (or failed) before the first
		 * send; libsip's connect limit (10 s) bounds the wait. */
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 15;
		pthread_mutex_lock(&lg->pool_mu);
		while (lg->pools_ready < lg->nw &&
		       pthread_cond_timedwait(&lg->pool_cond, &lg->pool_mu,
					      &until) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&lg->pool_mu);
	}
	*lgp = lg;
	return 0;
fail:
	loadgen_free(lg);
	return err;
}

int loadgen_local(const struct loadgen *lg, unsigned thread,
		  struct sip_tp_addr *out)
{
	if (thread >= lg->nw)
		return ENOENT;
	*out = lg->w[thread].local;
	return 0;
}

static void set_rate_bits(struct loadgen *lg, double rate)
{
	uint64_t bits;

	memcpy(&bits, &rate, sizeof(bits));
	atomic_store(&lg->rate_bits, bits);
}

double loadgen_rate(const struct loadgen *lg)
{
	uint64_t bits = atomic_load(&lg->rate_bits);
	double r;

	memcpy(&r, &bits, sizeof(r));
	return r;
}

bool loadgen_started(const struct loadgen *lg)
{
	return atomic_load(&lg->started);
}

int loadgen_set_rate(struct loadgen *lg, double rate)
{
	unsigned i;
	int err;

	if (!(rate > 0) || rate > 1e7)
		return EINVAL;
	set_rate_bits(lg, rate);
	if (!atomic_load(&lg->started))
		return 0;
	for (i = 0; i < lg->nw; i++) {
		err = ev_call(lg->w[i].ev, w_apply_rate, &lg->w[i]);
		if (err)
			return err;
	}
	return 0;
}

int loadgen_pause(struct loadgen *lg)
{
	unsigned i;
	int err;

	if (!atomic_load(&lg->started))
		return EINVAL;
	for (i = 0; i < lg->nw; i++) {
		err = ev_call(lg->w[i].ev, w_pause, &lg->w[i]);
		if (err)
			return err;
	}
	return 0;
}

int loadgen_start_for(struct loadgen *lg, double rate, uint64_t t0_ns,
		      double secs)
{
	if (!(rate > 0) || rate > 1e7 || secs < 0)
		return EINVAL;
	if (atomic_exchange(&lg->started, true))
		return EALREADY;
	lg->anchor_ns = t0_ns;
	lg->run_secs = secs;
	return loadgen_set_rate(lg, rate);
}

int loadgen_start(struct loadgen *lg, double rate)
{
	return loadgen_start_for(lg, rate, ev_monotonic_ns(), 0);
}

void loadgen_stop(struct loadgen *lg)
{
	unsigned i;

	for (i = 0; i < lg->nw; i++) {
		if (!lg->w[i].th_started)
			continue;
		if (ev_call(lg->w[i].ev, w_stop, &lg->w[i]))
			ev_stop(lg->w[i].ev);
	}
	for (i = 0; i < lg->nw; i++) {
		struct lg_worker *w = &lg->w[i];
		uint64_t calls;
		struct lg_req *r;

		if (!w->th_started)
			continue;
		pthread_join(w->th, NULL);
		w->th_started = false;
		/* the retransmissions of the drain too (tick() is over) */
		read_retransmissions(w);
		/* In-flight transactions left at the end are failures. */
		pthread_mutex_lock(&w->mu);
		calls = w->call ? loadcall_outstanding(w->call) : 0;
		w->cc.unfinished += calls;
		w->cc.failures += calls;
		for (r = w->reqs; r; r = r->next) {
			w->c.unfinished++;
			w->c.failures++;
			w->c.kind[r->kind - 1].unfinished++;
			w->c.kind[r->kind - 1].failures++;
		}
		if (w->pres) {
			uint64_t left = loadpres_outstanding(w->pres);

			w->c.unfinished += left;
			w->c.failures += left;
		}
		pthread_mutex_unlock(&w->mu);
		if (lg->cfg.server.proto != SIP_TP_UDP)
			tp_counts(w);
	}
}

void loadgen_free(struct loadgen *lg)
{
	unsigned i;

	if (!lg)
		return;
	loadgen_stop(lg);
	for (i = 0; i < lg->nw; i++)
		worker_free(&lg->w[i]);
	free(lg->w);
	obj_deref(lg->tls_client);
	obj_deref(lg->tls_server);
	pthread_mutex_destroy(&lg->pool_mu);
	pthread_cond_destroy(&lg->pool_cond);
	free(lg);
}
