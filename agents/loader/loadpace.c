/*
 * loadpace.c - the engine's pacing and sending (see loadpace.h).
 */
#include "loadpace.h"

#define LOG_MODULE "loadgen"

#include <math.h>
#include <string.h>

#include "loadconn.h"
#include "loadreq.h"

static double next_gap(struct loadworker *w)
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
static enum loadcfg_test next_kind(struct loadworker *w)
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
static struct loadworker_user *next_user(struct loadworker *w,
					 enum loadcfg_test t)
{
	bool reg = t == LOADCFG_REGISTER || t == LOADCFG_REREGISTER;
	struct loadworker_user *us = reg && w->rusers ? w->rusers : w->users;
	size_t n = reg && w->rusers ? w->nrusers : w->nusers;
	size_t *i = &w->next_user[t - 1];
	struct loadworker_user *u = &us[*i];

	if (++*i == n)
		*i = 0;
	return u;
}

/* Counts a slot not sent (max outstanding) or a new attempt. */
static bool admit(struct loadworker *w, enum loadcfg_test t, uint64_t sched,
		  uint64_t now)
{
	const struct loadcfg *cfg = &w->lg->cfg;
	struct loadcount_kind *k = &w->c.kind[t - 1];
	bool ok = !cfg->max_outstanding ||
		  loadworker_in_flight(w) < cfg->max_outstanding;

	pthread_mutex_lock(&w->mu);
	if (!ok) {
		w->c.throttled++;
		k->throttled++;
	} else {
		w->send_cohort = atomic_load(&w->lg->cohort);
		loadcount_cohort(&w->c, w->send_cohort)->attempts++;
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
static void send_call(struct loadworker *w, uint64_t sched, uint64_t now)
{
	const struct loadcfg *cfg = &w->lg->cfg;
	struct loadworker_user *u;

	if (!admit(w, LOADCFG_INVITE, sched, now))
		return;
	u = next_user(w, LOADCFG_INVITE);
	loadcall_start(w->call, u->num,
		       u->num < cfg->ulast ? u->num + 1 : cfg->ufirst,
		       &u->auth);
}

/* subscribe, publish: the next user's attempt (loadpres.c), unless
 * that user's dialog or PUBLISH is still going. */
static void send_pres(struct loadworker *w, uint64_t sched, uint64_t now)
{
	size_t slot = w->next_pres;
	struct loadworker_user *u = &w->users[slot];

	if (++w->next_pres == w->nusers)
		w->next_pres = 0;
	if (!loadpres_can_start(w->pres, slot)) {
		pthread_mutex_lock(&w->mu);
		w->c.throttled++;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->send_cohort = atomic_load(&w->lg->cohort);
	loadcount_cohort(&w->c, w->send_cohort)->attempts++;
	w->c.attempts++;
	if (now > sched + LOADCOUNT_LATE_NS)
		w->c.late_sends++;
	pthread_mutex_unlock(&w->mu);
	loadpres_start(w->pres, slot, u->num, &u->auth);
}

static void send_one(struct loadworker *w, uint64_t sched, uint64_t now)
{
	enum loadcfg_test t = next_kind(w);

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
	loadreq_start(w, t, next_user(w, t), now);
}

/* Whether the schedule has a slot left (a bounded run's end). */
static bool slot_left(const struct loadworker *w)
{
	return w->slots_left && w->next_ns < w->end_ns;
}

/* Sends what is due by now (max at most), then the batch. */
void loadpace_send_due(struct loadworker *w, uint64_t now, unsigned max)
{
	/* New requests go to the head of the list; this one is older and
	 * cannot end during the loop (only responses and timers end one,
	 * or a failed send, which ends only its own new request). */
	struct loadreq *older = w->reqs, *r;
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
void loadpace_read_retransmissions(struct loadworker *w)
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
	struct loadworker *w = arg;
	uint64_t now;

	if (w->sending)
		loadpace_send_due(w, ev_monotonic_ns(), LOADPACE_BURST);
	loadpace_read_retransmissions(w);
	if (w->lg->cfg.server.proto != SIP_TP_UDP)
		loadconn_tp_counts(w);
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
static void bound_run(struct loadworker *w, double rate)
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

void loadpace_apply_rate(void *arg)
{
	struct loadworker *w = arg;
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

void loadpace_pause(void *arg)
{
	struct loadworker *w = arg;

	w->sending = false;
	ev_timer_cancel(w->ev, &w->tick);
}
