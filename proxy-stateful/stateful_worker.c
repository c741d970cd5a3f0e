/*
 * stateful_worker.c - proxy-stateful's worker threads: receive,
 * validate, feed the transaction layer, dispatch each request to its
 * handler (stateful_worker.h).
 */
#include "stateful_worker.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "stateful"
#include "log.h"
#include "obj.h"
#include "reply.h"
#include "sip_build.h"
#include "sip_txn_tp.h"
#include "sip_uri.h"

#define TICK_MS 200

/* The transaction layer's request handler. */
static void on_request(void *arg, struct sip_txn *st,
		       const struct sip_msg *msg,
		       const struct sip_txn_dest *src)
{
	struct stateful_worker *w = arg;
	struct sip_uri u;

	(void)src;
	STATEFUL_CNT_INC(w->ctx.c.req_in[msg->method_id]);
	if (!st) {
		proxy_core_ack(&w->core, msg);
		return;
	}
	switch (msg->method_id) {
	case SIP_METHOD_REGISTER:
		if (!sip_uri_decode(&u, &msg->ruri) &&
		    (u.scheme_id == SIP_URI_SIP ||
		     u.scheme_id == SIP_URI_SIPS) &&
		    addressing_is_us(w->env->addr, &u.host, u.port) &&
		    !addressing_route_is_us(w->env->addr, msg) &&
		    !sip_msg_hdr(msg, SIP_HDR_ROUTE)) {
			registrar_handle(w->env->registrar, &w->ctx, st, msg);
			return;
		}
		break;
	case SIP_METHOD_SUBSCRIBE:
	case SIP_METHOD_PUBLISH:
		/* Our users' presence is ours with --presence (presence.h);
		 * forwarded like any request otherwise. */
		if (w->env->pres && !sip_uri_decode(&u, &msg->ruri) &&
		    (u.scheme_id == SIP_URI_SIP ||
		     u.scheme_id == SIP_URI_SIPS) &&
		    u.user.l &&
		    addressing_is_us(w->env->addr, &u.host, u.port) &&
		    !sip_msg_hdr(msg, SIP_HDR_ROUTE)) {
			presence_handle(w->env->pres, &w->ctx, st, msg);
			return;
		}
		break;
	case SIP_METHOD_CANCEL:
		proxy_core_cancel(&w->core, st, msg);
		return;
	case SIP_METHOD_OPTIONS:
		/* The first stage probes us with OPTIONS to ourselves. */
		if (!sip_uri_decode(&u, &msg->ruri) && !u.user.l &&
		    addressing_is_us(w->env->addr, &u.host, u.port) &&
		    !sip_msg_hdr(msg, SIP_HDR_ROUTE)) {
			reply_status(&w->ctx, st, msg, 200, NULL,
				     "Allow: INVITE, ACK, BYE, CANCEL, "
				     "OPTIONS, REGISTER\r\n");
			return;
		}
		break;
	default:
		break;
	}
	proxy_core_request(&w->core, st, msg);
}

/*
 * RFC 3261 §18.2.1, RFC 3581 §4: the top Via of a request gets
 * received= when its sent-by is not the source address and the value
 * of a bare ;rport, so that our responses (copied from the request,
 * §8.2.6.2) and the requests we forward carry them.  Returns rx itself
 * when nothing is owed, else *copy: rx viewing the marked request in
 * w->marked (the original is kept when marking fails).
 */
static const struct sip_tp_rx *via_marked(struct stateful_worker *w,
					  const struct sip_tp_rx *rx,
					  struct sip_tp_rx *copy)
{
	struct sip_edits ed;
	char ip[INET6_ADDRSTRLEN];
	size_t ip_len = sip_tp_addr_ip(&rx->src, ip);
	uint16_t status;
	const char *why;

	sip_edits_init(&ed, rx->msg);
	if (sip_fwd_via_mark(&ed, ip, ip_len, sip_tp_addr_port(&rx->src),
			     false) ||
	    !ed.n || !w->marked_msg)
		return rx;
	buf_reset(&w->marked);
	if (sip_edits_apply(&ed, &w->marked) ||
	    sip_msg_decode(w->marked_msg, w->marked.data, w->marked.len,
			   rx->proto != SIP_TP_UDP) ||
	    sip_msg_validate(w->marked_msg, &status, &why))
		return rx;
	*copy = *rx;
	copy->msg = w->marked_msg;
	return copy;
}

/* Both transports' receive handler. */
static void on_recv(const struct sip_tp_rx *rx, void *arg)
{
	struct stateful_worker *w = arg;
	struct sip_msg *msg = rx->msg;
	struct sip_tp_rx copy;
	uint16_t status = 0;
	const char *why = NULL;

	if (sip_msg_validate(msg, &status, &why)) {
		if (!msg->is_request || !status ||
		    msg->method_id == SIP_METHOD_ACK) {
			/* §16.7, §17.2.3: bad responses and ACKs are
			 * dropped. */
			STATEFUL_CNT_INC(
				w->ctx.c.drops
					[msg->is_request
						 ? STATEFUL_DROP_INVALID_REQ
						 : STATEFUL_DROP_INVALID_RESP]);
			return;
		}
		STATEFUL_CNT_INC(w->ctx.c.drops[STATEFUL_DROP_INVALID_REQ]);
		if (!reply_build(&w->ctx, msg, status, NULL, NULL) &&
		    !sip_tp_reply(rx, w->ctx.out.data, w->ctx.out.len))
			reply_count(&w->ctx, w->ctx.out.data, w->ctx.out.len);
		return;
	}
	if (!msg->is_request) {
		if (sip_txn_recv_response(w->ctx.txl, msg) == ENOENT)
			STATEFUL_CNT_INC(
				w->ctx.c.drops[STATEFUL_DROP_STRAY_RESP]);
		return;
	}
	/* §18.2.2 with rport semantics: answer where it came from. */
	sip_txn_tp_recv_request(w->ctx.txl, via_marked(w, rx, &copy));
}

struct start_sync {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int err;
};

struct worker_arg {
	struct stateful_worker *w;
	struct start_sync *sync;
};

static void tick(void *arg)
{
	struct stateful_worker *w = arg;
	struct sip_txn_stats ts;
	const struct sip_tp_stats *ps;

	sip_txn_layer_stats(w->ctx.txl, &ts);
	STATEFUL_CNT_SET(w->ctx.c.txn_alive, ts.alive);
	STATEFUL_CNT_SET(w->ctx.c.txn_retrans, ts.retransmissions);
	STATEFUL_CNT_SET(w->ctx.c.txn_timeouts, ts.timeouts);
	STATEFUL_CNT_SET(w->ctx.c.txn_acks_absorbed, ts.acks_absorbed);
	ps = sip_tp_stats(w->tp);
	STATEFUL_CNT_SET(w->ctx.c.tp_drop_parse, ps->drop_parse);
	STATEFUL_CNT_SET(w->ctx.c.conns_accepted, ps->conns_accepted);
	STATEFUL_CNT_SET(w->ctx.c.conns_opened, ps->conns_opened);
	STATEFUL_CNT_SET(w->ctx.c.conns_closed, ps->conns_closed);
	STATEFUL_CNT_SET(w->ctx.c.conns_open, sip_tp_conn_count(w->tp));
	STATEFUL_CNT_SET(w->ctx.c.tls_full, ps->tls_full);
	STATEFUL_CNT_SET(w->ctx.c.tls_resumed, ps->tls_resumed);
	STATEFUL_CNT_SET(w->ctx.c.tls_failed, ps->tls_failed);
	/* Incremental sweep: every bucket about every 10 s. */
	if (w->ctx.idx == 0)
		location_sweep(w->env->loc, worker_now_s(),
			       64 * 1024 / (10000 / TICK_MS) + 1);
	presence_tick(w->env->pres, &w->ctx);
	proxy_core_tick(&w->core);
	ev_timer_start(w->ctx.ev, &w->tick, EV_MS(TICK_MS), tick, w);
}

static int listen_all(struct stateful_worker *w)
{
	const struct worker_env *env = w->env;
	struct sip_tp_addr bound, priv;
	char hp[SIP_TP_ADDR_STRLEN];
	bool have_priv = false;
	size_t i;
	int err, tp;

	for (i = 0; i < env->cfg->nlisten; i++) {
		err = sip_tp_listen(w->tp, &env->listen[i], SIP_TP_REUSEPORT,
				    &bound);
		if (err) {
			log_err("listen %s: %s", env->cfg->listen[i],
				strerror(err));
			return err;
		}
		/* Port 0: the other workers share what the first got. */
		env->listen[i] = bound;
		if (!have_priv) {
			priv = bound;
			have_priv = true;
		}
	}
	if (!have_priv)
		return EINVAL;
	priv.proto = SIP_TP_UDP;
	sip_tp_addr_set_port(&priv, 0);
	err = sip_tp_listen(w->ctx.priv, &priv, 0, &bound);
	if (err) {
		log_err("private UDP socket: %s", strerror(err));
		return err;
	}
	if (sip_tp_addr_hostport(&bound, hp, sizeof(hp)))
		return EOVERFLOW;
	for (tp = SIP_TP_UDP; tp < SIP_TP_NPROTO; tp++) {
		struct sip_tp_addr l;
		char lhp[SIP_TP_ADDR_STRLEN];
		const char *name = sip_transport_name((enum sip_transport)tp);

		if (sip_tp_local(w->tp, (enum sip_transport)tp, AF_UNSPEC, &l))
			l = env->listen[0];
		if (sip_tp_addr_hostport(&l, lhp, sizeof(lhp)))
			return EOVERFLOW;
		snprintf(w->ctx.via[tp], sizeof(w->ctx.via[tp]),
			 "SIP/2.0/%s %s", name, tp == SIP_TP_UDP ? hp : lhp);
		snprintf(w->ctx.rr[tp], sizeof(w->ctx.rr[tp]), "<sip:%s%s;lr>",
			 lhp,
			 tp == SIP_TP_TCP   ? ";transport=tcp"
			 : tp == SIP_TP_TLS ? ";transport=tls"
					    : "");
	}
	return 0;
}

static void worker_cleanup(struct stateful_worker *w)
{
	ev_timer_cancel(w->ctx.ev, &w->tick);
	presence_worker_stop(w->env->pres, &w->ctx);
	proxy_core_stop(&w->core);
	w->ctx.txl = obj_deref(w->ctx.txl);
	w->ctx.priv = obj_deref(w->ctx.priv);
	w->tp = obj_deref(w->tp);
	buf_free(&w->ctx.out);
	buf_free(&w->marked);
	free(w->marked_msg);
	w->marked_msg = NULL;
}

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct stateful_worker *w = wa->w;
	const struct worker_env *env = w->env;
	struct sip_tp_opts o;
	struct sip_txn_cfg tc;
	struct start_sync *sync = wa->sync;
	int err;

	memset(&o, 0, sizeof(o));
	o.tls_server = env->tls_server;
	o.tls_client = env->tls_client;
	memset(&tc, 0, sizeof(tc));
	tc.auto_100 = true;
	/* Over UDP a non-INVITE server transaction waits out Timer J
	 * (64*T1, §17.2.2): at 5,000 REGISTER/s 160,000 are alive, so
	 * the 4,096 default buckets made chains of 40 (perf: 5 % of the
	 * CPU in the lookup). */
	tc.buckets = 65536;
	tc.timer_c_ms = env->cfg->timer_c_ms;
	tc.t1_ms = env->cfg->t1_ms;
	buf_init(&w->ctx.out, SIP_MSG_MAX_SIZE + 4096);
	buf_init(&w->marked, SIP_MSG_MAX_SIZE + 256);
	w->marked_msg = calloc(1, sizeof(*w->marked_msg));
	err = proxy_core_init(&w->core, w->env->core, &w->ctx);
	if (!err)
		err = sip_tp_alloc(&w->tp, w->ctx.ev, &o, on_recv, w);
	if (!err)
		err = sip_tp_alloc(&w->ctx.priv, w->ctx.ev, &o, on_recv, w);
	if (!err) {
		/* Responses leave from the shared port they were asked on;
		 * requests from this worker's private one (its Via). */
		w->bind.tp = w->tp;
		w->bind.req_tp = w->ctx.priv;
		err = sip_txn_tp_layer_alloc(&w->ctx.txl, w->ctx.ev, &tc,
					     &w->bind, on_request, w);
	}
	if (!err)
		err = listen_all(w);
	pthread_mutex_lock(&sync->mu);
	sync->err = err;
	sync->done = true;
	pthread_cond_signal(&sync->cv);
	pthread_mutex_unlock(&sync->mu);
	if (!err) {
		ev_timer_init(&w->tick);
		ev_timer_start(w->ctx.ev, &w->tick, EV_MS(TICK_MS), tick, w);
		ev_run(w->ctx.ev);
	}
	worker_cleanup(w);
	return NULL;
}

int stateful_worker_start(struct stateful_worker *w,
			  const struct worker_env *env, unsigned idx)
{
	struct start_sync sync;
	struct worker_arg wa = {w, &sync};
	sigset_t all, old;
	char name[16];
	int err;

	w->env = env;
	w->ctx.idx = idx;
	err = ev_alloc(&w->ctx.ev);
	if (err)
		return err;
	memset(&sync, 0, sizeof(sync));
	pthread_mutex_init(&sync.mu, NULL);
	pthread_cond_init(&sync.cv, NULL);
	/* Workers take no signals: the main thread's signalfd does. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&w->th, NULL, worker_main, &wa);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out;
	w->started = true;
	snprintf(name, sizeof(name), "worker-%u", w->ctx.idx);
	pthread_setname_np(w->th, name);
	pthread_mutex_lock(&sync.mu);
	while (!sync.done)
		pthread_cond_wait(&sync.cv, &sync.mu);
	err = sync.err;
	pthread_mutex_unlock(&sync.mu);
out:
	pthread_mutex_destroy(&sync.mu);
	pthread_cond_destroy(&sync.cv);
	return err;
}

void stateful_worker_stop(struct stateful_worker *w)
{
	if (w->started)
		ev_stop(w->ctx.ev);
}

void stateful_worker_join(struct stateful_worker *w)
{
	if (w->started)
		pthread_join(w->th, NULL);
}

void stateful_worker_free(struct stateful_worker *w)
{
	w->ctx.ev = obj_deref(w->ctx.ev);
}
