#include "search.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bedcpu.h"
#include "res_verdict.h"
#include "schedule.h"
#include "stepper.h"

/* RFC 7501: a failure is a final 3xx-6xx or no final response within
 * the threshold; one fails the trial. */
static bool trial_is_clean(const struct res_step *st)
{
	return st->failures == 0 && st->timeouts == 0 && st->attempts > 0;
}

/* After a step (or trial) at rate whose callhandler CPU began at m0:
 * a callhandler out of CPU is noted in r->res (the lowest such rate)
 * and said; returns whether one was. */
static bool bed_cpu_after(struct run *r, const struct bedcpu_mark *m0,
			  double rate)
{
	struct bedcpu_mark m1;
	char why[128];

	bedcpu_mark(r, &m1);
	if (!bedcpu_bound(r, m0, &m1, why, sizeof(why)))
		return false;
	if (!r->res.handler_bound_at || rate < r->res.handler_bound_at) {
		r->res.handler_bound_at = rate;
		snprintf(r->res.handler_bound_why,
			 sizeof(r->res.handler_bound_why), "%s", why);
	}
	runctx_say(r, "[bed] %s at %.0f/s: the bed is out of CPU", why, rate);
	return true;
}

/* One step of the ramp at rate, judged by the seed's criteria, kept
 * and said.  0 with *passed and its figures as the schedule reads them
 * in *res, or an errno. */
static int ramp_step(struct run *r, struct stepper *sp,
		     const struct sched_ramp_cfg *cfg, double rate,
		     unsigned index, const char *note, bool *passed,
		     struct sched_result *out)
{
	const struct topo_experiment *e = &r->t->exp;
	struct sched_result res;
	struct bedcpu_mark m0;
	struct res_step st;
	char why[96], verdict[160];
	int err;

	bedcpu_mark(r, &m0);
	err = stepper_run(r, sp, rate, index, e->step_s, &st);
	if (err)
		return err;
	bed_cpu_after(r, &m0, rate);
	snprintf(st.phase, sizeof(st.phase), "ramp");
	res = (struct sched_result){
		.attempts = st.attempts,
		.successes = st.successes,
		.failures = st.failures,
		.ta_mean_ms = st.ta_avg_ms,
		.ta_p95_ms = st.p95_ms,
	};
	st.passed = sched_ramp_passes(cfg, &res, why, sizeof(why));
	err = stepper_keep(r, &st);
	if (err)
		return err;
	if (!st.passed)
		snprintf(verdict, sizeof(verdict),
			 "%s | criteria not met (%s): stop", note, why);
	else
		snprintf(verdict, sizeof(verdict), "%s", note);
	stepper_say(r, &st, verdict);
	*passed = st.passed;
	*out = res;
	return 0;
}

/*
 * A ramp that passed every step up to its final rate has not measured
 * anything but the ramp: it goes on, each step twice the last one's
 * increment, until a step fails, the bed becomes the limit (a step
 * generator bound, or a rate within RES_VERDICT_BED_SHARE of the bed's
 * own limit when baseline.c found it) or the next rate would pass
 * max_rate.  How it ended goes to r->res.search_end.
 */
static int extend_ramp(struct run *r, struct stepper *sp,
		       const struct sched_ramp_cfg *cfg, double rate,
		       unsigned index)
{
	const struct topo_experiment *e = &r->t->exp;
	double cap = topo_max_rate(e);
	double bed = !strcmp(r->res.baseline_bound, "exact") ? r->res.baseline
							     : 0;
	double inc = e->rate_step;
	const char *end = "max rate";
	struct sched_result res;
	bool passed = true;
	int err = 0;

	while (!err) {
		const struct res_step *last = &r->res.steps[r->res.nsteps - 1];
		double next;

		if (last->generator_bound ||
		    (r->res.handler_bound_at > 0 &&
		     last->offered >= r->res.handler_bound_at)) {
			end = "bed limit";
			break;
		}
		if (bed > 0 && rate >= RES_VERDICT_BED_SHARE * bed) {
			end = "bed limit";
			break;
		}
		inc *= 2;
		next = rate + inc;
		if (bed > 0 && next > bed)
			next = bed;
		if (next > cap)
			next = cap;
		if (next <= rate)
			break; /* at max_rate */
		if (index == sched_ramp_nsteps(cfg))
			runctx_say(r,
				   "[ramp] every step passed up to the final "
				   "rate %.0f/s: extending (the increment "
				   "doubling each step, up to %.0f/s)",
				   rate, cap);
		rate = next;
		err = ramp_step(r, sp, cfg, rate, index++, " | extension",
				&passed, &res);
		if (!err && !passed)
			end = "failed";
		if (!passed)
			break;
	}
	snprintf(r->res.search_end, sizeof(r->res.search_end), "%s", end);
	return err;
}

/* The seed's ramp (common/schedule.h): up by the step until a step
 * misses the criteria; then, every step passed, its extension. */
static int run_ramp(struct run *r)
{
	const struct topo_experiment *e = &r->t->exp;
	struct sched_ramp_cfg cfg = {
		.start = e->rate_start,
		.step = e->rate_step,
		.final = e->rate_final,
		.success_pct = e->success_pct,
		.ta_mean_limit_ms = e->ta_limit_ms,
	};
	struct sched_ramp ramp;
	struct stepper sp;
	bool more = true;
	int err;

	err = sched_ramp_init(&ramp, &cfg);
	if (err)
		return runctx_fail(r, err, "the ramp %u,%u,%u cannot run",
				   e->rate_start, e->rate_step, e->rate_final);
	stepper_init(r, &sp);
	while (more) {
		struct sched_result res;
		bool passed;

		err = ramp_step(r, &sp, &cfg, ramp.rate, ramp.steps, "",
				&passed, &res);
		if (err)
			break;
		more = sched_ramp_feed(&ramp, &res);
	}
	if (err)
		return err;
	if (ramp.end != SCHED_RAMP_FINAL) {
		snprintf(r->res.search_end, sizeof(r->res.search_end),
			 "failed");
		return 0;
	}
	return extend_ramp(r, &sp, &cfg, ramp.capacity, ramp.steps);
}

/*
 * "search": "bisect", not RFC 7502's procedure: the highest rate with
 * zero failures over the step duration, up from the start by the step
 * (a clean trial's rate is the lower bound) until a trial fails (the
 * upper bound), then halving the interval until it is within the
 * granularity.  Fewer and more predictable trials than the RFC's
 * procedure (run_rfc7502) for a deterministic server.
 */
static int run_bisect(struct run *r)
{
	const struct topo_experiment *e = &r->t->exp;
	double lo = 0, hi = 0, rate = e->rate_start;
	const unsigned max_trials = e->max_trials;
	struct stepper sp;
	unsigned index = 0;
	int err = 0;

	stepper_init(r, &sp);
	while (!err && index < max_trials) {
		bool up = hi == 0;
		struct bedcpu_mark m0;
		struct res_step st;

		bedcpu_mark(r, &m0);
		err = stepper_run(r, &sp, rate, index, e->step_s, &st);
		if (!err)
			bed_cpu_after(r, &m0, rate);
		if (!err)
			err = stepper_settle(r, &st);
		if (err)
			break;
		snprintf(st.phase, sizeof(st.phase), up ? "up" : "bisect");
		st.passed = trial_is_clean(&st);
		err = stepper_keep(r, &st);
		if (err)
			break;
		stepper_say(r, &st,
			    st.passed ? " | bisect: clean"
				      : " | bisect: failed");
		index++;
		if (st.passed)
			lo = rate;
		else
			hi = rate;
		if (hi == 0) {
			if (rate >= e->rate_final)
				break; /* clean up to the final rate */
			rate = rate + e->rate_step > e->rate_final
				       ? e->rate_final
				       : rate + e->rate_step;
			continue;
		}
		if (hi - lo <= e->granularity)
			break;
		rate = floor((lo + hi) / 2);
		if (rate <= lo || rate >= hi)
			break;
	}
	if (!err) {
		r->res.rfc7502_rate = lo;
		snprintf(r->res.search_end, sizeof(r->res.search_end), "%s",
			 hi > 0 ? "found" : "clean at the final rate");
		runctx_say(r,
			   "[bisect] %.0f/s with zero failures over %u s (%u "
			   "trials; %s)",
			   lo, e->step_s, index,
			   hi > 0 ? "the next failing rate within the "
				    "granularity"
				  : "no failure up to the final rate");
	}
	return err;
}

/* Times a failed trial runs again when the loaders were the limit. */
#define SEARCH_RERUNS 2

/*
 * The RFC 7502 search (Appendix A, common/schedule.h): trials of
 * step_duration_s after the warm-up, up by w * r while clean, down by
 * d * r with finer steps after a failure, until the same highest clean
 * rate has held for several trials and a failure lies within the
 * granularity above it; rate.final is the ceiling, max_trials the
 * bound, and with confirm_s the rate found runs once more for that long
 * (RFC 7501's "extended period").  A trial that failed while a loader
 * was generator bound says nothing of the proxies: it runs again (twice
 * at most) before it counts, kept in the bundle as phase "discard".
 */
static int run_rfc7502(struct run *r)
{
	const struct topo_experiment *e = &r->t->exp;
	struct sched_rfc7502_cfg cfg;
	struct sched_rfc7502 *s = calloc(1, sizeof(*s));
	unsigned index = 0, reruns = 0;
	struct stepper sp;
	bool more = true;
	int err;

	if (!s)
		return ENOMEM;
	sched_rfc7502_defaults(&cfg);
	cfg.start_rate = e->rate_start;
	cfg.max_rate = e->rate_final;
	cfg.granularity = e->granularity;
	cfg.granularity_pct = e->granularity_pct;
	cfg.max_trials = e->max_trials;
	cfg.confirm = e->confirm_s > 0;
	err = sched_rfc7502_init(s, &cfg);
	if (err) {
		free(s);
		return runctx_fail(r, err,
				   "the RFC 7502 search cannot run from "
				   "%u/s",
				   e->rate_start);
	}
	stepper_init(r, &sp);
	while (more) {
		bool confirming = s->confirming;
		struct bedcpu_mark m0;
		struct res_step st;

		bedcpu_mark(r, &m0);
		err = stepper_run(r, &sp, s->rate, index,
				  confirming ? e->confirm_s : e->step_s, &st);
		if (!err)
			bed_cpu_after(r, &m0, st.offered);
		if (!err)
			err = stepper_settle(r, &st);
		if (err)
			break;
		index++;
		st.passed = trial_is_clean(&st);
		if (!st.passed && st.generator_bound &&
		    reruns < SEARCH_RERUNS) {
			reruns++;
			snprintf(st.phase, sizeof(st.phase), "discard");
			err = stepper_keep(r, &st);
			if (err)
				break;
			stepper_say(r, &st,
				    " | rfc7502: failed while generator "
				    "bound, "
				    "not counted: again");
			continue;
		}
		reruns = 0;
		snprintf(st.phase, sizeof(st.phase), "%s",
			 confirming ? "confirm" : "trial");
		more = sched_rfc7502_feed(s, st.attempts,
					  st.failures + st.timeouts);
		err = stepper_keep(r, &st);
		if (err)
			break;
		stepper_say(r, &st,
			    st.passed ? " | rfc7502: clean"
				      : " | rfc7502: failed");
	}
	if (!err) {
		snprintf(r->res.search_end, sizeof(r->res.search_end), "%s",
			 sched_rfc7502_end_name(s->end));
		if (s->end == SCHED_RFC7502_FOUND) {
			r->res.rfc7502_rate = s->best;
			runctx_say(r,
				   "[rfc7502] %.0f/s with zero failures (%u "
				   "trials; "
				   "the lowest failing rate above it "
				   "%.0f/s%s)",
				   s->best, s->ntrials, s->fail_above,
				   cfg.confirm ? "; confirmed over confirm_s"
					       : "");
		} else {
			runctx_say(r,
				   "[rfc7502] no answer: %s after %u trials "
				   "(highest "
				   "clean rate %.0f/s)",
				   sched_rfc7502_end_name(s->end), s->ntrials,
				   s->best);
		}
	}
	free(s);
	return err;
}

int search_run(struct run *r)
{
	if (!strcmp(r->t->exp.search, "rfc7502"))
		return run_rfc7502(r);
	if (!strcmp(r->t->exp.search, "bisect"))
		return run_bisect(r);
	return run_ramp(r);
}
