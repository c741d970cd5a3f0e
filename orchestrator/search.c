#include "search.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"
#include "stepper.h"

/* RFC 7501: a failure is a final 3xx-6xx or no final response within
 * the threshold; one fails the trial. */
static bool trial_is_clean(const struct res_step *st)
{
	return st->failures == 0 && st->timeouts == 0 && st->attempts > 0;
}

/* The seed's ramp (common/schedule.h): up by the step until a step
 * misses the criteria. */
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
		struct res_step st;
		char why[96];

		err = stepper_run(r, &sp, ramp.rate, ramp.steps, e->step_s,
				  &st);
		if (err)
			break;
		snprintf(st.phase, sizeof(st.phase), "ramp");
		res = (struct sched_result){
			.attempts = st.attempts,
			.successes = st.successes,
			.failures = st.failures,
			.ta_mean_ms = st.ta_avg_ms,
			.ta_p95_ms = st.p95_ms,
		};
		st.passed = sched_ramp_passes(&cfg, &res, why, sizeof(why));
		more = sched_ramp_feed(&ramp, &res);
		err = stepper_keep(r, &st);
		if (err)
			break;
		if (!st.passed) {
			char verdict[128];

			snprintf(verdict, sizeof(verdict),
				 " | criteria not met (%s): stop", why);
			stepper_say(r, &st, verdict);
		} else {
			stepper_say(r, &st, "");
		}
	}
	return err;
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
		struct res_step st;

		err = stepper_run(r, &sp, rate, index, e->step_s, &st);
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
		struct res_step st;

		err = stepper_run(r, &sp, s->rate, index,
				  confirming ? e->confirm_s : e->step_s, &st);
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
