/*
 * loadgen.c - the loader's engine (see loadgen.h).
 */
#include "loadgen.h"

#define LOG_MODULE "loadgen"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "ev.h"
#include "loadcall.h"
#include "loadconn.h"
#include "loadpace.h"
#include "loadpres.h"
#include "loadreq.h"
#include "loadtxn.h"
#include "loadworker.h"
#include "log.h"
#include "obj.h"
#include "sip_auth.h"
#include "sip_msg.h"
#include "sip_txn.h"

void loadgen_snapshot(struct loadgen *lg, struct loadcount *out)
{
	uint64_t now = ev_monotonic_ns();
	unsigned i;

	loadcount_init(out);
	for (i = 0; i < lg->nw; i++) {
		pthread_mutex_lock(&lg->w[i].mu);
		/* the concurrency integral up to this snapshot */
		loadcount_call_settle(&lg->w[i].cc.call, now, 0);
		loadcount_merge(out, &lg->w[i].c);
		loadcount_merge(out, &lg->w[i].cc);
		loadcount_kind_merge_calls(&out->kind[LOADCFG_INVITE - 1],
					   &lg->w[i].cc);
		pthread_mutex_unlock(&lg->w[i].mu);
	}
	/* the highest over all threads at once, not a sum of maxima */
	out->call.active_max = atomic_load(&lg->calls_active_max);
}

static void tp_recv(const struct sip_tp_rx *rx, void *arg)
{
	struct loadworker *w = arg;
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
		loadtxn_request_in(w, rx);
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

static void drain_timeout(void *arg)
{
	struct loadworker *w = arg;

	ev_stop(w->ev);
}

static void calls_idle(void *arg)
{
	struct loadworker *w = arg;

	if (!w->outstanding)
		ev_stop(w->ev);
}

static void w_stop(void *arg)
{
	struct loadworker *w = arg;

	/* A bounded run stopped at its end (the caller's timer, from the
	 * same t0): the slots this thread has not reached yet, if it runs
	 * a little late, are due and still the run's: a tick's worth of
	 * them goes, as the next tick would have sent it.  A thread that
	 * lost its pace does not flood the server at the end: what it
	 * could not send counts against its pace (generator_bound). */
	if (w->sending && w->lg->run_secs > 0)
		loadpace_send_due(w, ev_monotonic_ns(), LOADPACE_BURST);
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
	if (!loadworker_in_flight(w)) {
		ev_stop(w->ev);
		return;
	}
	ev_timer_start(w->ev, &w->drain, EV_MS(w->lg->cfg.drain_ms),
		       drain_timeout, w);
	/* The last call or transaction to end stops the loop
	 * (calls_idle(), loadreq_free()). */
	if (w->call)
		loadcall_drain(w->call);
}

static void *w_main(void *arg)
{
	struct loadworker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "loader-%u", w->idx);
	pthread_setname_np(pthread_self(), name);
	ev_run_every(w->ev, (uint64_t)w->lg->cfg.tick_us * 1000u);
	return NULL;
}

/* ---- the engine ---- */

static void worker_free(struct loadworker *w)
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
		loadreq_free(w->reqs);
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
	struct loadworker *w = arg;

	/* users num = ufirst + idx + j * threads (worker_init) */
	return loadconn_slot_for(
		w, (size_t)((num - w->lg->cfg.ufirst) / w->lg->nw));
}

static void call_conn_done(void *arg, void *conn)
{
	(void)arg;
	loadconn_slot_finish(conn);
}

/* The layer's request handler: the call or presence module's. */
static void w_request(void *arg, struct sip_txn *st, const struct sip_msg *msg,
		      const struct sip_txn_dest *src)
{
	struct loadworker *w = arg;

	if (w->pres)
		loadpres_request(w->pres, st, msg, src);
	else
		loadcall_request(w->call, st, msg, src);
}

static int pres_init(struct loadworker *w)
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
	env.cohort = &w->send_cohort;
	env.nslots = w->nusers;
	env.idle = calls_idle;
	env.arg = w;
	return loadpres_alloc(&w->pres, &env);
}

/* Thread idx's share of first..last: the numbers j with j % nw == idx
 * (*out NULL when there are none). */
static int users_of(struct loadworker_user **out, size_t *n, uint32_t first,
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

static int worker_init(struct loadgen *lg, struct loadworker *w, unsigned idx)
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
	/* a tick's sends (LOADPACE_BURST at most) leave in one sendmmsg */
	to.udp_batch = LOADPACE_BURST;
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
		err = sip_txn_layer_alloc(&w->pres_txl, w->ev, &tc,
					  loadtxn_send, w_request, w);
		if (err)
			return err;
		return pres_init(w);
	}
	for (k = 0; k < LOADCFG_KINDS; k++) {
		bool calls = k == LOADCFG_INVITE - 1;

		if (!loadcfg_has_kind(cfg, (enum loadcfg_test)(k + 1)))
			continue;
		err = sip_txn_layer_alloc(&w->txl[k], w->ev, &tc, loadtxn_send,
					  calls ? w_request : NULL, w);
		if (err)
			return err;
	}
	if (cfg->server.proto != SIP_TP_UDP &&
	    cfg->conn == LOADCFG_CONN_PERSISTENT) {
		err = loadconn_pool_open(w);
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
	env.cohort = &w->send_cohort;
	env.idle = calls_idle;
	env.send = loadtxn_send;
	env.conn_for = call_conn;
	env.conn_done = call_conn_done;
	env.arg = w;
	env.active_all = &w->lg->calls_active;
	env.active_max = &w->lg->calls_active_max;
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

unsigned loadgen_cohort_next(struct loadgen *lg)
{
	return atomic_fetch_add(&lg->cohort, 1) + 1;
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
		err = ev_call(lg->w[i].ev, loadpace_apply_rate, &lg->w[i]);
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
		err = ev_call(lg->w[i].ev, loadpace_pause, &lg->w[i]);
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
		struct loadworker *w = &lg->w[i];
		uint64_t calls;
		struct loadreq *r;

		if (!w->th_started)
			continue;
		pthread_join(w->th, NULL);
		w->th_started = false;
		/* the retransmissions of the drain too (tick() is over) */
		loadpace_read_retransmissions(w);
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
			loadconn_tp_counts(w);
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
