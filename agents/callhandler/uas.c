/*
 * uas.c - the callhandler's answering side (see uas.h).
 */
#include "uas.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "callhandler"
#include "buf.h"
#include "ev.h"
#include "hash.h"
#include "log.h"
#include "obj.h"
#include "sip_build.h"
#include "sip_txn.h"
#include "sip_txn_tp.h"

#define CALL_ID_MAX 256

struct uas_worker;

enum call_state {
	CALL_RINGING = 1, /* 180 sent, 200 pending (ring timer) */
	CALL_ANSWERED,	  /* 200 sent, waiting for the ACK */
};

/* One INVITE, from its arrival to its ACK (or CANCEL, or BYE). */
struct call {
	struct le le; /* in worker->calls */
	struct uas_worker *w;
	struct sip_txn *st; /* the INVITE server transaction (ref) */
	enum call_state state;
	struct ev_timer timer; /* ring delay, then 2xx retransmission */
	uint32_t retx_ms;      /* next 2xx retransmission interval */
	uint64_t answered_ns;
	bool reliable;
	uint32_t hash;
	char tag[SIP_TAG_SIZE];
	size_t call_id_len;
	char call_id[CALL_ID_MAX];
	struct buf resp; /* the 2xx, for its retransmissions */
	/* Where the INVITE came in, for the Contact and the SDP. */
	struct sip_tp_addr local;
};

struct uas_worker {
	struct uas *u;
	unsigned idx;
	pthread_t thread;
	bool started;
	struct ev *ev;
	struct sip_tp *tp;
	struct sip_txn_layer *txl;
	struct sip_txn_tp bind; /* txl's sends: through tp */
	struct hash calls;
	struct uas_fail fail;
	struct buf out;
	struct uas_stats st; /* written by the worker only */

	/* The snapshot handed to other threads, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct uas_stats snap;
	uint64_t snap_seq;
};

struct uas {
	struct uas_cfg cfg;
	struct sip_tp_addr bound[UAS_MAX_LISTEN];
	unsigned nworkers;
	struct uas_worker *w;
};

/* RFC 3261 §13.3.1.4: 2xx retransmissions from T1 doubling to T2, for
 * 64*T1. */
#define UAS_T1_MS SIP_TXN_T1_MS
#define UAS_T2_MS SIP_TXN_T2_MS
#define UAS_ACK_WAIT_MS (64u * UAS_T1_MS)

uint16_t uas_fail_next(struct uas_fail *f, unsigned bp_486, unsigned bp_503)
{
	/* After n INVITEs, floor(n * bp / 10000) of each kind are owed;
	 * a call owed by both goes to 503 and the 486 follows on the next
	 * INVITE, so each count stays within one of its exact ratio. */
	uint64_t n = ++f->n;

	if (n * bp_503 / 10000 > f->given_503) {
		f->given_503++;
		return 503;
	}
	if (n * bp_486 / 10000 > f->given_486) {
		f->given_486++;
		return 486;
	}
	return 0;
}

static void call_destroy(void *arg)
{
	struct call *c = arg;

	ev_timer_cancel(c->w->ev, &c->timer);
	list_unlink(&c->le);
	if (c->st)
		c->st = obj_deref(c->st);
	buf_free(&c->resp);
	c->w->st.calls_alive--;
}

static struct call *call_find(struct uas_worker *w, const struct pl *call_id)
{
	uint32_t h = hash_pl(call_id);
	struct le *le;

	for (le = hash_bucket(&w->calls, h)->head; le; le = le->next) {
		struct call *c = le->data;

		if (c->hash == h && c->call_id_len == call_id->l &&
		    !memcmp(c->call_id, call_id->p, call_id->l))
			return c;
	}
	return NULL;
}

/* The call ends: out of the table, its reference dropped. */
static void call_end(struct call *c)
{
	obj_deref(c);
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */

static const char *tp_param(enum sip_transport tp)
{
	switch (tp) {
	case SIP_TP_TCP:
		return ";transport=tcp";
	case SIP_TP_TLS:
		return ";transport=tls";
	default:
		return "";
	}
}

/*
 * Builds a response to msg into w->out.  With a tag, the To gets it;
 * with local, a Contact for that address (§12.1.1) and, for a 200 to
 * an INVITE (sdp), an SDP answer on that host.
 */
static int build_resp(struct uas_worker *w, const struct sip_msg *msg,
		      uint16_t status, const char *tag,
		      const struct sip_tp_addr *local, bool sdp,
		      const char *extra)
{
	struct sip_build_resp_opts o;
	char hostport[SIP_TP_ADDR_STRLEN];
	char host[SIP_TP_ADDR_STRLEN];
	char hdrs[512];
	char body[320];
	int n;

	memset(&o, 0, sizeof(o));
	if (tag)
		pl_set_str(&o.to_tag, tag);
	hdrs[0] = '\0';
	n = 0;
	if (local &&
	    sip_tp_addr_hostport(local, hostport, sizeof(hostport)) == 0) {
		n = snprintf(hdrs, sizeof(hdrs),
			     "Contact: <sip:callhandler@%s%s>\r\n", hostport,
			     tp_param(local->proto));
		o.copy_record_route = true;
	}
	if (extra && n >= 0 && (size_t)n < sizeof(hdrs))
		n += snprintf(hdrs + n, sizeof(hdrs) - (size_t)n, "%s", extra);
	if (n < 0 || (size_t)n >= sizeof(hdrs))
		return EOVERFLOW;
	pl_set_str(&o.hdrs, hdrs);
	if (sdp && local) {
		const char *ip4 = local->u.sa.sa_family == AF_INET6 ? "IP6"
								    : "IP4";
		char *colon;

		/* The host part of hostport, without port and brackets. */
		snprintf(host, sizeof(host), "%s",
			 hostport[0] == '[' ? hostport + 1 : hostport);
		colon = strrchr(host,
				local->u.sa.sa_family == AF_INET6 ? ']' : ':');
		if (colon)
			*colon = '\0';
		n = snprintf(body, sizeof(body),
			     "v=0\r\n"
			     "o=callhandler 53655765 2353687637 IN %s %s\r\n"
			     "s=-\r\n"
			     "c=IN %s %s\r\n"
			     "t=0 0\r\n"
			     "m=audio 6000 RTP/AVP 0\r\n"
			     "a=rtpmap:0 PCMU/8000\r\n",
			     ip4, host, ip4, host);
		if (n < 0 || (size_t)n >= sizeof(body))
			return EOVERFLOW;
		pl_set_str(&o.ctype, "application/sdp");
		pl_set_str(&o.body, body);
	}
	buf_reset(&w->out);
	return sip_build_response(&w->out, msg, status, NULL, &o);
}

static int reply(struct uas_worker *w, struct sip_txn *st,
		 const struct sip_msg *msg, uint16_t status, const char *tag,
		 const struct sip_tp_addr *local, bool sdp, const char *extra)
{
	int err = build_resp(w, msg, status, tag, local, sdp, extra);

	if (err) {
		log_warn("building a %u: %s", status, strerror(err));
		return err;
	}
	err = sip_txn_reply(st, w->out.data, w->out.len);
	if (err)
		log_debug("sending a %u: %s", status, strerror(err));
	return err;
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */

static void on_call_timer(void *arg);

/* The 2xx is the TU's to retransmit (§13.3.1.4), until the ACK; it was
 * built when the INVITE came (the INVITE is gone by the ring timer). */
static void call_answer(struct call *c)
{
	struct uas_worker *w = c->w;

	if (sip_txn_reply(c->st, c->resp.data, c->resp.len)) {
		call_end(c);
		return;
	}
	w->st.answered++;
	c->state = CALL_ANSWERED;
	c->answered_ns = ev_now(w->ev);
	c->retx_ms = UAS_T1_MS;
	ev_timer_start(w->ev, &c->timer,
		       EV_MS(c->reliable ? UAS_ACK_WAIT_MS : c->retx_ms),
		       on_call_timer, c);
}

static void on_call_timer(void *arg)
{
	struct call *c = arg;
	struct uas_worker *w = c->w;
	uint64_t waited;

	if (c->state == CALL_RINGING) {
		call_answer(c);
		return;
	}
	waited = ev_now(w->ev) - c->answered_ns;
	if (c->reliable || waited >= EV_MS(UAS_ACK_WAIT_MS)) {
		/* §13.3.1.4: no ACK; a UAS would send BYE here.  The
		 * caller is a load generator: count it and forget. */
		w->st.ack_timeouts++;
		call_end(c);
		return;
	}
	if (sip_txn_reply(c->st, c->resp.data, c->resp.len)) {
		call_end(c);
		return;
	}
	w->st.retrans_2xx++;
	c->retx_ms = c->retx_ms * 2 > UAS_T2_MS ? UAS_T2_MS : c->retx_ms * 2;
	ev_timer_start(w->ev, &c->timer, EV_MS(c->retx_ms), on_call_timer, c);
}

static void on_invite_event(struct sip_txn *t, enum sip_txn_event ev,
			    const struct sip_msg *msg, int err, void *arg)
{
	struct uas_worker *w = arg;

	if (ev == SIP_TXN_EV_TIMEOUT)
		w->st.txn_timeouts++;
}

static void on_invite(struct uas_worker *w, struct sip_txn *st,
		      const struct sip_msg *msg, const struct sip_tp_rx *rx)
{
	struct uas *u = w->u;
	char tag[SIP_TAG_SIZE];
	struct call *c;
	uint16_t fail;

	w->st.invites++;
	sip_txn_server_set_handler(st, on_invite_event, w);
	sip_build_tag(tag);
	if (msg->call_id.l >= CALL_ID_MAX || call_find(w, &msg->call_id)) {
		/* A second INVITE in a call still ringing or unACKed
		 * (§14.2: 491 for overlapping INVITEs). */
		w->st.busy_491++;
		reply(w, st, msg, 491, tag, NULL, false, NULL);
		return;
	}
	fail = uas_fail_next(&w->fail, u->cfg.fail_486_bp, u->cfg.fail_503_bp);
	if (fail) {
		if (fail == 486)
			w->st.fail_486++;
		else
			w->st.fail_503++;
		reply(w, st, msg, fail, tag, NULL, false, NULL);
		return;
	}
	c = obj_alloc(sizeof(*c), call_destroy);
	if (!c) {
		reply(w, st, msg, 500, tag, NULL, false, NULL);
		return;
	}
	c->w = w;
	c->st = obj_ref(st);
	c->reliable = rx->proto != SIP_TP_UDP;
	c->local = rx->local;
	memcpy(c->tag, tag, sizeof(tag));
	memcpy(c->call_id, msg->call_id.p, msg->call_id.l);
	c->call_id_len = msg->call_id.l;
	c->hash = hash_pl(&msg->call_id);
	buf_init(&c->resp, SIP_MSG_MAX_SIZE);
	ev_timer_init(&c->timer);
	hash_append(&w->calls, c->hash, &c->le, c);
	w->st.calls_alive++;
	c->state = CALL_RINGING;
	if (build_resp(w, msg, 200, c->tag, &c->local, true, NULL) ||
	    buf_append(&c->resp, w->out.data, w->out.len) ||
	    reply(w, st, msg, 180, c->tag, &c->local, false, NULL)) {
		call_end(c);
		return;
	}
	w->st.ringing++;
	if (u->cfg.ring_ms)
		ev_timer_start(w->ev, &c->timer, EV_MS(u->cfg.ring_ms),
			       on_call_timer, c);
	else
		call_answer(c);
}

/*
 * The 487 for an INVITE that got a 180: the 180 with its status line
 * replaced, since it carries everything a response to that INVITE needs
 * (its Via, From, To with our tag, Call-ID, CSeq) and the INVITE itself
 * is gone.
 */
static int reply_487(struct uas_worker *w, struct sip_txn *inv)
{
	static const char line[] = "SIP/2.0 487 Request Terminated\r\n";
	struct pl last = sip_txn_sent(inv);
	const char *eol = pl_chr(&last, '\n');
	size_t rest;
	int err;

	if (!eol)
		return EINVAL;
	rest = last.l - (size_t)(eol + 1 - last.p);
	buf_reset(&w->out);
	err = buf_append(&w->out, line, sizeof(line) - 1);
	if (!err)
		err = buf_append(&w->out, eol + 1, rest);
	if (!err)
		err = sip_txn_reply(inv, w->out.data, w->out.len);
	return err;
}

static void on_cancel(struct uas_worker *w, struct sip_txn *st,
		      const struct sip_msg *msg)
{
	struct sip_txn *inv = sip_txn_find_invite(w->txl, msg);
	struct call *c;

	if (!inv) {
		/* §9.2: no matching transaction. */
		w->st.cancels_481++;
		reply(w, st, msg, 481, NULL, NULL, false, NULL);
		return;
	}
	w->st.cancels++;
	reply(w, st, msg, 200, NULL, NULL, false, NULL);
	if (sip_txn_status(inv) < 200) {
		if (reply_487(w, inv) == 0)
			w->st.cancelled++;
		c = call_find(w, &msg->call_id);
		if (c && c->state == CALL_RINGING)
			call_end(c);
	}
	obj_deref(inv);
}

/* The request handler needs the receive context (local address). */
static __thread const struct sip_tp_rx *cur_rx;

static void on_request(void *arg, struct sip_txn *st,
		       const struct sip_msg *msg,
		       const struct sip_txn_dest *src)
{
	struct uas_worker *w = arg;
	const struct sip_tp_rx *rx = cur_rx;
	struct call *c;

	if (!st) {
		/* An ACK outside any transaction: the one for our 2xx. */
		c = call_find(w, &msg->call_id);
		if (c && c->state == CALL_ANSWERED) {
			w->st.acks++;
			call_end(c);
		} else {
			w->st.acks_stray++;
		}
		return;
	}
	w->st.requests++;
	switch (msg->method_id) {
	case SIP_METHOD_INVITE:
		on_invite(w, st, msg, rx);
		break;
	case SIP_METHOD_CANCEL:
		on_cancel(w, st, msg);
		break;
	case SIP_METHOD_BYE:
		/* A BYE before the ACK ends the call too (§15.1.2). */
		c = call_find(w, &msg->call_id);
		if (c && c->state == CALL_ANSWERED)
			call_end(c);
		w->st.byes++;
		reply(w, st, msg, 200, NULL, NULL, false, NULL);
		break;
	case SIP_METHOD_OPTIONS:
		w->st.options++;
		reply(w, st, msg, 200, NULL, NULL, false,
		      "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY\r\n"
		      "Accept: application/sdp\r\n");
		break;
	case SIP_METHOD_NOTIFY:
		w->st.notifies++;
		reply(w, st, msg, 200, NULL, NULL, false, NULL);
		break;
	default:
		w->st.other++;
		reply(w, st, msg, 405, NULL, NULL, false,
		      "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY\r\n");
		break;
	}
}

static void on_recv(const struct sip_tp_rx *rx, void *arg)
{
	struct uas_worker *w = arg;
	struct sip_msg *msg = rx->msg;
	const char *why = NULL;
	uint16_t status = 0;

	if (sip_msg_validate(msg, &status, &why)) {
		w->st.bad_in++;
		log_debug("bad message: %s", why ? why : "?");
		if (msg->is_request && status &&
		    msg->method_id != SIP_METHOD_ACK) {
			buf_reset(&w->out);
			if (!sip_build_response(&w->out, msg, status, NULL,
						NULL))
				sip_tp_reply(rx, w->out.data, w->out.len);
		}
		return;
	}
	if (!msg->is_request) {
		if (sip_txn_recv_response(w->txl, msg))
			w->st.stray_responses++;
		return;
	}
	cur_rx = rx;
	if (sip_txn_tp_recv_request(w->txl, rx))
		w->st.bad_in++;
	cur_rx = NULL;
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */

static void snapshot(struct uas_worker *w)
{
	const struct sip_tp_stats *ts = sip_tp_stats(w->tp);
	struct sip_txn_stats xs;
	struct uas_stats s = w->st;
	int i;

	sip_txn_layer_stats(w->txl, &xs);
	s.retransmissions = xs.retransmissions;
	s.absorbed = xs.absorbed;
	s.msgs_in = s.msgs_out = 0;
	for (i = 0; i < SIP_TP_NPROTO; i++) {
		s.msgs_in += ts->msgs_in[i];
		s.msgs_out += ts->msgs_out[i];
	}
	s.drop_parse = ts->drop_parse;
	s.drop_overflow = ts->drop_overflow;
	s.drop_send = ts->drop_send;
	s.conns_accepted = ts->conns_accepted;
	s.tls_handshakes = ts->tls_full + ts->tls_resumed;
	pthread_mutex_lock(&w->lock);
	w->snap = s;
	w->snap_seq++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void on_snapshot_call(void *arg)
{
	snapshot(arg);
}

static void *worker_main(void *arg)
{
	struct uas_worker *w = arg;
	char name[16];
	int err;

	snprintf(name, sizeof(name), "ch-worker-%u", w->idx);
	pthread_setname_np(pthread_self(), name);
	err = ev_run(w->ev);
	if (err)
		log_err("worker %u: event loop: %s", w->idx, strerror(err));
	snapshot(w);
	return NULL;
}

static void worker_free(struct uas_worker *w)
{
	struct le *le;
	uint32_t i;

	if (w->calls.buckets) {
		for (i = 0; i <= w->calls.mask; i++) {
			while ((le = w->calls.buckets[i].head) != NULL)
				call_end(le->data);
		}
		hash_free(&w->calls);
	}
	w->txl = obj_deref(w->txl);
	w->tp = obj_deref(w->tp);
	w->ev = obj_deref(w->ev);
	buf_free(&w->out);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

static int worker_init(struct uas *u, struct uas_worker *w, unsigned idx)
{
	struct sip_tp_opts topts;
	struct sip_txn_cfg tcfg;
	unsigned i;
	int err;

	w->u = u;
	w->idx = idx;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	buf_init(&w->out, SIP_MSG_MAX_SIZE);
	err = hash_init(&w->calls, 4096);
	if (err)
		return err;
	err = ev_alloc(&w->ev);
	if (err)
		return err;
	memset(&topts, 0, sizeof(topts));
	topts.tls_server = u->cfg.tls_server;
	err = sip_tp_alloc(&w->tp, w->ev, &topts, on_recv, w);
	if (err)
		return err;
	memset(&tcfg, 0, sizeof(tcfg));
	w->bind.tp = w->tp;
	err = sip_txn_tp_layer_alloc(&w->txl, w->ev, &tcfg, &w->bind,
				     on_request, w);
	if (err)
		return err;
	for (i = 0; i < u->cfg.nlisten; i++) {
		struct sip_tp_addr want = idx ? u->bound[i] : u->cfg.listen[i];
		struct sip_tp_addr got;
		char s[SIP_TP_ADDR_STRLEN];

		err = sip_tp_listen(w->tp, &want, SIP_TP_REUSEPORT, &got);
		if (err) {
			sip_tp_addr_print(&want, s, sizeof(s));
			log_err("cannot listen on %s: %s", s, strerror(err));
			return err;
		}
		if (idx == 0)
			u->bound[i] = got;
	}
	return 0;
}

int uas_alloc(struct uas **up, const struct uas_cfg *cfg)
{
	struct uas *u;
	unsigned i;
	int err;

	if (!cfg->nlisten || cfg->nlisten > UAS_MAX_LISTEN || !cfg->threads ||
	    cfg->threads > UAS_MAX_THREADS ||
	    cfg->fail_486_bp + cfg->fail_503_bp > 10000)
		return EINVAL;
	for (i = 0; i < cfg->nlisten; i++)
		if (cfg->listen[i].proto == SIP_TP_TLS && !cfg->tls_server)
			return EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return ENOMEM;
	u->cfg = *cfg;
	u->w = calloc(cfg->threads, sizeof(*u->w));
	if (!u->w) {
		free(u);
		return ENOMEM;
	}
	for (i = 0; i < cfg->threads; i++) {
		u->nworkers = i + 1;
		err = worker_init(u, &u->w[i], i);
		if (err) {
			uas_free(u);
			return err;
		}
	}
	*up = u;
	return 0;
}

int uas_start(struct uas *u)
{
	unsigned i;
	int err;

	for (i = 0; i < u->nworkers; i++) {
		err = pthread_create(&u->w[i].thread, NULL, worker_main,
				     &u->w[i]);
		if (err)
			return err;
		u->w[i].started = true;
	}
	return 0;
}

void uas_free(struct uas *u)
{
	unsigned i;

	if (!u)
		return;
	for (i = 0; i < u->nworkers; i++)
		if (u->w[i].started)
			ev_stop(u->w[i].ev);
	for (i = 0; i < u->nworkers; i++) {
		if (u->w[i].started)
			pthread_join(u->w[i].thread, NULL);
		worker_free(&u->w[i]);
	}
	free(u->w);
	free(u);
}

#define ADD(f) st->f += s->f

void uas_stats(struct uas *u, struct uas_stats *st)
{
	struct timespec until;
	unsigned i;

	memset(st, 0, sizeof(*st));
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	for (i = 0; i < u->nworkers; i++) {
		struct uas_worker *w = &u->w[i];
		uint64_t seq;

		pthread_mutex_lock(&w->lock);
		seq = w->snap_seq;
		pthread_mutex_unlock(&w->lock);
		if (!w->started)
			snapshot(w);
		else if (ev_call(w->ev, on_snapshot_call, w) == 0) {
			pthread_mutex_lock(&w->lock);
			while (w->snap_seq == seq &&
			       pthread_cond_timedwait(&w->cond, &w->lock,
						      &until) == 0)
				;
			pthread_mutex_unlock(&w->lock);
		}
	}
	for (i = 0; i < u->nworkers; i++) {
		struct uas_worker *w = &u->w[i];
		const struct uas_stats *s = &w->snap;

		pthread_mutex_lock(&w->lock);
		ADD(requests);
		ADD(invites);
		ADD(ringing);
		ADD(answered);
		ADD(acks);
		ADD(acks_stray);
		ADD(ack_timeouts);
		ADD(retrans_2xx);
		ADD(byes);
		ADD(cancels);
		ADD(cancels_481);
		ADD(cancelled);
		ADD(options);
		ADD(notifies);
		ADD(other);
		ADD(fail_486);
		ADD(fail_503);
		ADD(busy_491);
		ADD(bad_in);
		ADD(stray_responses);
		ADD(calls_alive);
		ADD(retransmissions);
		ADD(absorbed);
		ADD(txn_timeouts);
		ADD(msgs_in);
		ADD(msgs_out);
		ADD(drop_parse);
		ADD(drop_overflow);
		ADD(drop_send);
		ADD(conns_accepted);
		ADD(tls_handshakes);
		pthread_mutex_unlock(&w->lock);
	}
}

unsigned uas_listen_count(const struct uas *u)
{
	return u->cfg.nlisten;
}

const struct sip_tp_addr *uas_listen_addr(const struct uas *u, unsigned i)
{
	return i < u->cfg.nlisten ? &u->bound[i] : NULL;
}
