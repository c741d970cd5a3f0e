/*
 * loadconn.c - the engine's TCP/TLS connections (see loadconn.h).
 */
#include "loadconn.h"

#include <errno.h>
#include <stdlib.h>

#include "obj.h"

static void slot_destroy(void *obj)
{
	struct loadconn_slot *sl = obj;

	if (sl->per_request)
		sip_tp_conn_close(sl->conn);
	obj_deref(sl->conn);
}

struct loadconn_slot *loadconn_slot_alloc(bool per_request)
{
	struct loadconn_slot *sl = obj_alloc(sizeof(*sl), slot_destroy);

	if (sl)
		sl->per_request = per_request;
	return sl;
}

/* A per-request slot's transaction (call) is over: close it now. */
void loadconn_slot_finish(struct loadconn_slot *sl)
{
	if (!sl || !sl->per_request)
		return;
	sl->done = true;
	sip_tp_conn_close(sl->conn);
}

/* Copies the transport's connection counts (this thread only). */
void loadconn_tp_counts(struct loadworker *w)
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
static int slot_open(struct loadworker *w, struct loadconn_slot *sl)
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

int loadconn_slot_send(struct loadworker *w, struct loadconn_slot *sl,
		       const char *buf, size_t len)
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
struct loadconn_slot *loadconn_slot_for(struct loadworker *w, size_t user_idx)
{
	if (w->lg->cfg.server.proto == SIP_TP_UDP)
		return NULL;
	if (w->npool)
		return obj_ref(w->pool[user_idx % w->npool]);
	return loadconn_slot_alloc(true);
}

/* Whether every pool connection is up or failed. */
static bool pool_settled(const struct loadworker *w)
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
	struct loadworker *w = arg;
	struct loadgen *lg = w->lg;

	if (!pool_settled(w)) {
		ev_timer_start(w->ev, &w->pool_check, EV_MS(1), pool_check, w);
		return;
	}
	loadconn_tp_counts(w);
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
int loadconn_pool_open(struct loadworker *w)
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
		w->pool[i] = loadconn_slot_alloc(false);
		if (!w->pool[i])
			return ENOMEM;
		/* a failed connect is counted; sends open it again */
		(void)slot_open(w, w->pool[i]);
	}
	ev_timer_start(w->ev, &w->pool_check, 0, pool_check, w);
	return 0;
}
