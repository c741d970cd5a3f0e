#include "baseline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roles.h"

/* The measured interval of `orchestrator baseline` when the experiment
 * has none. */
#define BASELINE_DEFAULT_S 5
/* The whole search for the bed's limit: a bounded cost before the
 * steps, whatever the bed. */
#define BASELINE_BUDGET_MS 30000
/* The warm-up after a change of rate (the first probe has warmup_s). */
#define BASELINE_SETTLE_MS 1000
/* The search stops when the clean and the failing rate are this close
 * (a fraction of the clean one). */
#define BASELINE_RESOLUTION 0.05
/* The shortest measured interval of a probe. */
#define BASELINE_MIN_PROBE_S 2
/* The most the doubling offers. */
#define BASELINE_MAX_RATE 10000000.0

/* The baseline loaders beside each loader, their node copies and how
 * many started. */
struct bed {
	struct topo_node *nodes;
	struct role *roles;
	size_t n, started;
	const char *test;
};

/* One probe's figures, summed over the baseline loaders. */
struct probe {
	uint64_t ok, bad, attempts;
	double secs;
	bool bound;
};

/* Starts a loader of the same kind next to each loader, each sending
 * straight to a callhandler. */
static int bed_start(struct run *r, struct bed *b, const size_t *ch,
		     size_t nch)
{
	int err = 0;

	b->nodes = calloc(b->n, sizeof(*b->nodes));
	b->roles = calloc(b->n, sizeof(*b->roles));
	if (!b->nodes || !b->roles)
		return runctx_fail(r, ENOMEM, "out of memory");
	for (size_t i = 0, k = 0; i < r->t->nnodes && !err; i++) {
		if (r->t->nodes[i].role != TOPO_LOADER)
			continue;
		b->nodes[k] = r->t->nodes[i];
		snprintf(b->nodes[k].name, sizeof(b->nodes[k].name),
			 "%.50s-baseline", r->t->nodes[i].name);
		b->nodes[k].server = ch[k % nch];
		b->roles[k].to_fd = b->roles[k].from_fd = -1;
		err = roles_start_as(r, &b->roles[k], &b->nodes[k], b->test);
		b->started = ++k;
	}
	return err;
}

static void bed_stop(struct run *r, struct bed *b)
{
	for (size_t k = 0; k < b->started; k++)
		roles_stop(r, &b->roles[k]);
	for (size_t k = 0; b->roles && k < b->n; k++)
		json_decref(b->roles[k].summary);
	free(b->roles);
	free(b->nodes);
}

/* Every baseline loader to its share of rate ("start" the first time). */
static int bed_rate(struct run *r, struct bed *b, double rate, bool first)
{
	for (size_t k = 0; k < b->started; k++) {
		json_t *args = json_pack("{s:f}", "rate", rate / (double)b->n);
		json_t *reply = roles_command(r, &b->roles[k],
					      first ? "start" : "set-rate",
					      args, 5000);
		bool ok = reply && json_is_true(json_object_get(reply, "ok"));

		json_decref(args);
		json_decref(reply);
		if (!ok)
			return runctx_fail(r, EPROTO, "%s refused its rate",
					   b->nodes[k].name);
	}
	return 0;
}

/* Ends every baseline loader's step; with p, their figures summed. */
static int bed_step(struct run *r, struct bed *b, struct probe *p)
{
	for (size_t k = 0; k < b->started; k++) {
		json_t *st =
			roles_command(r, &b->roles[k], "step", NULL, 5000);

		if (!st || !json_is_true(json_object_get(st, "ok"))) {
			json_decref(st);
			return runctx_fail(r, EPROTO,
					   "%s did not end its step",
					   b->nodes[k].name);
		}
		if (p) {
			p->ok += (uint64_t)runctx_json_number(st, "successes");
			p->bad += (uint64_t)runctx_json_number(st, "failures");
			p->attempts += (uint64_t)runctx_json_number(st, "attem"
									"pts");
			if (runctx_json_number(st, "secs") > p->secs)
				p->secs = runctx_json_number(st, "secs");
			p->bound |= json_is_true(json_object_get(st, "generato"
								     "r_"
								     "bound"));
		}
		json_decref(st);
	}
	return 0;
}

/* One probe at rate: settle, then measure for secs.  Kept in r->res. */
static int probe_at(struct run *r, struct bed *b, double rate, bool first,
		    unsigned secs, struct res_probe *out)
{
	const struct topo_experiment *e = &r->t->exp;
	uint64_t settle = first ? e->warmup_s * 1000ull : BASELINE_SETTLE_MS;
	struct probe p = {0};
	int err;

	err = bed_rate(r, b, rate, first);
	if (!err)
		err = runctx_sleep_until(r, runctx_now_ms() + settle);
	if (!err)
		err = bed_step(r, b, NULL);
	if (!err)
		err = runctx_sleep_until(r, runctx_now_ms() + secs * 1000ull);
	if (!err)
		err = bed_step(r, b, &p);
	if (err)
		return err;
	out->offered = rate;
	out->achieved = p.secs > 0 ? (double)p.ok / p.secs : 0;
	/* The bed kept up: no loader lost its pace, what was asked came
	 * back (5 % for the interval's edges), next to no failure. */
	out->clean = !p.bound && out->achieved >= 0.95 * rate &&
		     p.bad * 1000 <= p.attempts;
	runctx_say(r,
		   "[baseline] loaders straight to the callhandlers (%s): "
		   "offered %.0f/s achieved %.0f/s, %llu failures%s: %s",
		   b->test, rate, out->achieved, (unsigned long long)p.bad,
		   p.bound ? " | generator bound" : "",
		   out->clean ? "clean" : "the bed's limit is below");
	return 0;
}

/*
 * The bed's own limit: from the final rate, doubling while the bed
 * keeps up (up to twice the most the steps may offer), then halving the interval between the highest clean and the
 * lowest failing rate until they are within BASELINE_RESOLUTION, all
 * within BASELINE_BUDGET_MS.  The highest clean probe's delivered rate
 * is r->res.baseline; "exact" when a failing rate bounds it above.
 */
static int search_limit(struct run *r, struct bed *b, unsigned secs)
{
	double rate = r->t->exp.rate_final, lo = 0, hi = 0, best = 0;
	/* clean at twice the most the steps can offer, the bed has
	 * headroom for all of them: no need to look further */
	double enough = 2.0 * topo_max_rate(&r->t->exp);
	uint64_t t0 = runctx_now_ms();
	unsigned probe_ms = BASELINE_SETTLE_MS + secs * 1000;
	int err = 0;

	while (r->res.nprobes < RES_MAX_PROBES) {
		struct res_probe *p = &r->res.probes[r->res.nprobes];
		bool first = r->res.nprobes == 0;

		if (!first &&
		    runctx_now_ms() - t0 + probe_ms > BASELINE_BUDGET_MS)
			break;
		err = probe_at(r, b, rate, first, secs, p);
		if (err)
			return err;
		r->res.nprobes++;
		if (p->clean && p->offered > lo) {
			lo = p->offered;
			best = p->achieved;
		} else if (!p->clean && (!hi || p->offered < hi)) {
			hi = p->offered;
		}
		if (!p->clean && p->achieved > best && !lo)
			best = p->achieved; /* nothing clean: its reach */
		if (!hi) {
			if (lo >= enough || 2 * rate > BASELINE_MAX_RATE)
				break;
			rate *= 2;
			continue;
		}
		if (hi - lo <= BASELINE_RESOLUTION * (lo > 0 ? lo : hi))
			break;
		rate = (lo + hi) / 2;
	}
	r->res.baseline = best;
	snprintf(r->res.baseline_bound, sizeof(r->res.baseline_bound), "%s",
		 hi > 0 ? "exact" : "lower");
	if (hi > 0)
		runctx_say(r,
			   "[baseline] the bed's own limit: %.0f/s (clean at "
			   "%.0f/s, not at %.0f/s; %zu probes)",
			   best, lo, hi, r->res.nprobes);
	else
		runctx_say(r,
			   "[baseline] the bed's own limit: at least %.0f/s "
			   "(clean at every rate tried, up to %.0f/s)",
			   best, lo);
	return 0;
}

/*
 * The test bed's own reach (RFC 7502 §6.1): a loader of the same kind
 * next to each loader, sending straight to the callhandlers, no proxy
 * between, searched upward from the final rate so that the verdict
 * (res_verdict.h) compares the run with the bed's real limit, not with
 * the rate it happened to offer.  A callhandler answers OPTIONS but is
 * no registrar: the REGISTER tests measure the bed with OPTIONS, a
 * transaction of the same shape; the invite test with INVITE.
 */
int baseline_run(struct run *r)
{
	const struct topo_experiment *e = &r->t->exp;
	/* `orchestrator baseline` measures it even when the experiment
	 * leaves it out (baseline_s 0) */
	unsigned baseline_s = e->baseline_s || !r->o->baseline_only
				      ? e->baseline_s
				      : BASELINE_DEFAULT_S;
	struct bed b = {.test = strcmp(e->test, "invite") ? "options"
							  : "invite"};
	size_t ch[TOPO_MAX_NEXT], nch = 0;
	int err;

	if (!baseline_s)
		return 0;
	for (size_t i = 0; i < r->t->nnodes; i++) {
		if (r->t->nodes[i].role == TOPO_CALLHANDLER &&
		    nch < TOPO_MAX_NEXT)
			ch[nch++] = i;
		b.n += r->t->nodes[i].role == TOPO_LOADER;
	}
	if (!nch || !b.n) {
		if (r->o->baseline_only)
			return runctx_fail(r, EINVAL,
					   "the baseline needs a loader and a "
					   "callhandler in the topology");
		runctx_say(r, "[baseline] no callhandler to send to: not "
			      "measured");
		return 0;
	}
	err = bed_start(r, &b, ch, nch);
	/* a probe of 1 s is mostly its edges (transactions in flight
	 * when it starts and ends): 2 s at least */
	if (!err)
		err = search_limit(r, &b,
				   baseline_s < BASELINE_MIN_PROBE_S
					   ? BASELINE_MIN_PROBE_S
					   : baseline_s);
	bed_stop(r, &b);
	return err;
}
