/*
 * schedule.c - the stepped ramp and the RFC 7502 search (schedule.h).
 */
#include "schedule.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "enum_name.h"

/* Rates are sums of steps: compare with a margin for rounding. */
#define RATE_EPS 1e-9

static double success_pct(const struct sched_result *res)
{
	uint64_t done = res->successes + res->failures;

	return done ? 100.0 * (double)res->successes / (double)done : 0.0;
}

int sched_ramp_init(struct sched_ramp *r, const struct sched_ramp_cfg *cfg)
{
	if (!(cfg->start > 0) || !(cfg->final >= cfg->start) ||
	    !(cfg->step >= 0) || (cfg->step == 0 && cfg->final > cfg->start) ||
	    !(cfg->success_pct >= 0 && cfg->success_pct <= 100) ||
	    !(cfg->ta_mean_limit_ms >= 0) || !(cfg->ta_p95_limit_ms >= 0))
		return EINVAL;
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	r->rate = cfg->start;
	return 0;
}

unsigned sched_ramp_nsteps(const struct sched_ramp_cfg *cfg)
{
	if (!(cfg->step > 0))
		return 1;
	return (unsigned)floor((cfg->final - cfg->start) / cfg->step +
			       RATE_EPS) +
	       1;
}

bool sched_ramp_passes(const struct sched_ramp_cfg *cfg,
		       const struct sched_result *res, char *why,
		       unsigned whysz)
{
	double pct = success_pct(res);
	char dummy[1];

	if (!why) {
		why = dummy;
		whysz = sizeof(dummy);
	}
	if (!res->attempts) {
		snprintf(why, whysz, "no attempts");
		return false;
	}
	if (pct < cfg->success_pct) {
		snprintf(why, whysz, "success %.2f%% < %g%%", pct,
			 cfg->success_pct);
		return false;
	}
	if (cfg->ta_mean_limit_ms > 0 &&
	    res->ta_mean_ms > cfg->ta_mean_limit_ms) {
		snprintf(why, whysz, "mean turnaround %.2f ms > %g ms",
			 res->ta_mean_ms, cfg->ta_mean_limit_ms);
		return false;
	}
	if (cfg->ta_p95_limit_ms > 0 &&
	    res->ta_p95_ms > cfg->ta_p95_limit_ms) {
		snprintf(why, whysz, "p95 turnaround %.2f ms > %g ms",
			 res->ta_p95_ms, cfg->ta_p95_limit_ms);
		return false;
	}
	return true;
}

bool sched_ramp_feed(struct sched_ramp *r, const struct sched_result *res)
{
	if (r->end != SCHED_RAMP_RUNNING)
		return false;
	if (!sched_ramp_passes(&r->cfg, res, NULL, 0)) {
		r->end = SCHED_RAMP_CRITERIA;
		return false;
	}
	r->capacity = r->rate;
	r->steps++;
	if (r->steps >= sched_ramp_nsteps(&r->cfg)) {
		r->end = SCHED_RAMP_FINAL;
		return false;
	}
	/* from the start, not by adding: no drift over many steps */
	r->rate = r->cfg.start + r->steps * r->cfg.step;
	return true;
}

void sched_rfc7502_defaults(struct sched_rfc7502_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->start_rate = 100;
	cfg->w = 0.10;
	cfg->d_min = 0.10;
	cfg->hold_trials = SCHED_RFC7502_HOLD;
	cfg->granularity = 5;
	cfg->granularity_pct = 1;
	cfg->floor_rate = 1;
	cfg->max_rate = 1e7;
	cfg->max_trials = 60;
	cfg->confirm = false;
}

int sched_rfc7502_init(struct sched_rfc7502 *s,
		       const struct sched_rfc7502_cfg *cfg)
{
	if (!(cfg->start_rate > 0) || !(cfg->w > 0 && cfg->w <= 1) ||
	    !(cfg->d_min > 0 && cfg->d_min < 1) || !(cfg->granularity > 0) ||
	    !(cfg->granularity_pct >= 0 && cfg->granularity_pct < 100) ||
	    !(cfg->floor_rate > 0) || !(cfg->max_rate >= cfg->start_rate) ||
	    cfg->start_rate < cfg->floor_rate || !cfg->max_trials ||
	    cfg->max_trials > SCHED_TRIALS_MAX)
		return EINVAL;
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->rate = cfg->start_rate;
	s->w = cfg->w;
	s->d = fmax(cfg->d_min, cfg->w / 2);
	return 0;
}

/*
 * best and fail_above from the trials so far.  A failed confirmation
 * disqualifies its rate and every rate above it: those were clean only
 * over the shorter trials.
 */
static void bracket(const struct sched_rfc7502 *s, double *best,
		    double *fail_above)
{
	double ceiling = HUGE_VAL, b = 0, f = 0;
	unsigned i;

	for (i = 0; i < s->ntrials; i++)
		if (s->trials[i].confirmation && !s->trials[i].clean)
			ceiling = fmin(ceiling, s->trials[i].rate);
	for (i = 0; i < s->ntrials; i++)
		if (s->trials[i].clean && s->trials[i].rate < ceiling)
			b = fmax(b, s->trials[i].rate);
	for (i = 0; i < s->ntrials; i++)
		if (!s->trials[i].clean && s->trials[i].rate > b &&
		    (f == 0 || s->trials[i].rate < f))
			f = s->trials[i].rate;
	*best = b;
	*fail_above = f;
}

double sched_rfc7502_margin(const struct sched_rfc7502_cfg *cfg, double rate)
{
	return fmax(cfg->granularity, cfg->granularity_pct / 100 * rate);
}

static bool finish(struct sched_rfc7502 *s, enum sched_rfc7502_end end)
{
	s->end = end;
	s->confirming = false;
	return false;
}

/*
 * Our option's rule (the RFC has no confirmation trial): the search had
 * converged, so it goes on from the highest clean rate left below the
 * one that failed: straight to its confirmation when it is within the
 * margin, else up from it again, never to the failed rate.
 */
static bool after_failed_confirmation(struct sched_rfc7502 *s, double best,
				      double fail_above)
{
	const struct sched_rfc7502_cfg *c = &s->cfg;
	double r = s->rate;

	s->best = best;
	s->fail_above = fail_above;
	s->held = 0;
	if (best == 0) {
		s->rate = r - s->d * r;
		if (s->rate < c->floor_rate)
			return finish(s, SCHED_RFC7502_FLOOR);
		return true;
	}
	if (fail_above - best <= sched_rfc7502_margin(c, best) + RATE_EPS) {
		s->rate = best;
		s->confirming = true;
		return true;
	}
	s->rate = best + s->w * best;
	if (s->rate >= fail_above)
		s->rate = best + (fail_above - best) / 2;
	return true;
}

bool sched_rfc7502_feed(struct sched_rfc7502 *s, uint64_t attempts,
			uint64_t failures)
{
	const struct sched_rfc7502_cfg *c = &s->cfg;
	struct sched_trial *t;
	double best, fail_above, r = s->rate;
	bool clean = attempts > 0 && failures == 0;

	if (s->end != SCHED_RFC7502_RUNNING || s->ntrials >= SCHED_TRIALS_MAX)
		return false;
	t = &s->trials[s->ntrials++];
	t->rate = r;
	t->clean = clean;
	t->confirmation = s->confirming;
	if (s->confirming && clean)
		return finish(s, SCHED_RFC7502_FOUND);
	bracket(s, &best, &fail_above);
	if (s->confirming) {
		s->confirming = false;
		if (s->ntrials >= c->max_trials)
			return finish(s, SCHED_RFC7502_MAX_TRIALS);
		return after_failed_confirmation(s, best, fail_above);
	}
	if (best != s->best)
		s->held = 0;
	else
		s->held++;
	s->best = best;
	s->fail_above = fail_above;
	if (clean) {
		if (r >= c->max_rate)
			return finish(s, SCHED_RFC7502_MAX_RATE);
		s->rate = fmin(r + s->w * r, c->max_rate);
	} else {
		/* RFC 7502 Appendix A: down by d, and finer steps */
		s->rate = r - s->d * r;
		s->w /= 2;
		s->d = fmax(c->d_min, s->w / 2);
		if (s->rate < c->floor_rate)
			return finish(s, SCHED_RFC7502_FLOOR);
	}
	if (best > 0 && fail_above > 0 &&
	    fail_above - best <= sched_rfc7502_margin(c, best) + RATE_EPS &&
	    s->held >= c->hold_trials) {
		if (!c->confirm)
			return finish(s, SCHED_RFC7502_FOUND);
		s->rate = best;
		s->confirming = true;
	}
	if (s->ntrials >= c->max_trials)
		return finish(s, SCHED_RFC7502_MAX_TRIALS);
	return true;
}

const char *sched_rfc7502_end_name(enum sched_rfc7502_end end)
{
	static const char *const names[] = {
		[SCHED_RFC7502_RUNNING] = "running",
		[SCHED_RFC7502_FOUND] = "found",
		[SCHED_RFC7502_FLOOR] = "below the floor rate",
		[SCHED_RFC7502_MAX_RATE] = "clean at the maximum rate",
		[SCHED_RFC7502_MAX_TRIALS] = "trial limit reached",
	};

	return enum_name(names, ENUM_NAMES_LEN(names), end, "?");
}
