/*
 * schedule.h - the rate schedules the loader's command line and the
 * orchestrator share: the seed's stepped ramp and the RFC 7502 search
 * for the highest rate with zero failures.  Both are state machines
 * without I/O: the caller runs a step (or trial) at the rate they name,
 * feeds its figures back and is told the next rate or that the schedule
 * is over, with its answer.
 */
#ifndef SIPSTONE_SCHEDULE_H
#define SIPSTONE_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

/* What a step or trial gave: its counts and turnaround (request to
 * final response, ms; the mean is the seed's taLimit criterion). */
struct sched_result {
	uint64_t attempts, successes, failures;
	double ta_mean_ms, ta_p95_ms;
};

/* ---- the stepped ramp ---- */

struct sched_ramp_cfg {
	double start, step, final; /* rates; steps start + k * step <= final */
	double success_pct;	   /* a step below this fails; 0: off */
	double ta_mean_limit_ms; /* mean turnaround above this fails; 0 off */
	double ta_p95_limit_ms;	 /* p95 turnaround above this fails; 0 off */
};

enum sched_ramp_end {
	SCHED_RAMP_RUNNING = 0,
	SCHED_RAMP_FINAL,    /* the step at the final rate passed */
	SCHED_RAMP_CRITERIA, /* a step missed the criteria */
};

struct sched_ramp {
	struct sched_ramp_cfg cfg;
	unsigned steps;	 /* judged so far */
	double rate;	 /* of the step to run now */
	double capacity; /* the highest rate of a passed step; 0: none */
	enum sched_ramp_end end;
};

/* Starts a ramp at cfg->start.  Returns 0, or EINVAL (a rate <= 0, final
 * below start, a criterion out of range). */
int sched_ramp_init(struct sched_ramp *r, const struct sched_ramp_cfg *cfg);

/* The number of steps a ramp that never fails runs. */
unsigned sched_ramp_nsteps(const struct sched_ramp_cfg *cfg);

/*
 * Whether a step met the criteria: at least one attempt, success rate
 * (successes over successes + failures) at or above success_pct, and
 * the turnaround within its limits.  When why is given and the step
 * failed, it says which criterion, e.g. "success 42.0% < 50%".
 */
bool sched_ramp_passes(const struct sched_ramp_cfg *cfg,
		       const struct sched_result *res, char *why,
		       unsigned whysz);

/*
 * Judges the step just run at r->rate.  Returns true while there is a
 * next step (r->rate is then its rate), false when the ramp is over
 * (r->end says why; r->capacity is the answer).
 */
bool sched_ramp_feed(struct sched_ramp *r, const struct sched_result *res);

/* ---- the RFC 7502 search ---- */

/*
 * RFC 7502 (Appendix A) searches for the Session Establishment Rate
 * (RFC 7501's benchmark: the highest attempt rate sustained with zero
 * failures): trials of a fixed number of attempts, the first at r; after
 * a clean trial r += w * r; after a failed one r -= d * r and the steps
 * shrink (w halves, d = max(0.10, w / 2)); it ends when the same highest
 * clean rate has held for several trials.
 *
 * Our bounds on top of it, all parameters: the answer is given only when
 * a failing trial lies within the granularity above it (granularity/s or
 * granularity_pct % of the answer, whichever is larger), so that it is
 * known to that margin; a rate below floor_rate, or max_trials, ends the
 * search without one.  With confirm, the rate found is run once more as
 * a longer trial (the extended period of RFC 7501's definition; the
 * caller picks its length): clean, it is the answer; failed, the search
 * carries on below it.
 */
struct sched_rfc7502_cfg {
	double start_rate;	/* the RFC: 100 */
	double w;		/* first increase fraction; the RFC: 0.10 */
	double d_min;		/* floor of the decrease fraction; RFC: 0.10 */
	unsigned hold_trials;	/* trials the highest clean rate must hold */
	double granularity;	/* margin of the answer, attempts/s, */
	double granularity_pct; /* or this % of it, whichever is larger */
	double floor_rate;	/* below this no clean rate is looked for */
	double max_rate;	/* the search never asks for more */
	unsigned max_trials;	/* the confirmation included */
	bool confirm;
};

/* Default hold_trials: "several" in the RFC's words. */
#define SCHED_RFC7502_HOLD 3
#define SCHED_TRIALS_MAX 256

/* Fills cfg with the RFC's values and our defaults (granularity 5/s or
 * 1 %, floor 1/s, max rate 1e7/s, 60 trials, no confirmation). */
void sched_rfc7502_defaults(struct sched_rfc7502_cfg *cfg);

enum sched_rfc7502_end {
	SCHED_RFC7502_RUNNING = 0,
	SCHED_RFC7502_FOUND,	 /* converged (and confirmed, with confirm) */
	SCHED_RFC7502_FLOOR,	 /* the rate fell below floor_rate */
	SCHED_RFC7502_MAX_RATE,	 /* clean at max_rate: no failing rate */
	SCHED_RFC7502_MAX_TRIALS /* bound reached before converging */
};

struct sched_trial {
	double rate;
	bool clean;
	bool confirmation;
};

struct sched_rfc7502 {
	struct sched_rfc7502_cfg cfg;
	double rate;	   /* of the trial to run now */
	bool confirming;   /* that trial is the confirmation */
	double w, d;	   /* the current step fractions */
	double best;	   /* the highest clean rate; 0: none */
	double fail_above; /* the lowest failing rate above best; 0: none */
	unsigned held;	   /* trials since best last changed */
	enum sched_rfc7502_end end;
	unsigned ntrials;
	struct sched_trial trials[SCHED_TRIALS_MAX];
};

/* Starts a search.  Returns 0 or EINVAL (out of range, max_trials above
 * SCHED_TRIALS_MAX). */
int sched_rfc7502_init(struct sched_rfc7502 *s,
		       const struct sched_rfc7502_cfg *cfg);

/*
 * Judges the trial just run at s->rate: clean when it made attempts and
 * none failed.  Returns true while there is a next trial (s->rate,
 * s->confirming), false when the search is over: s->end says why and
 * s->best is the rate found (0: none).
 */
bool sched_rfc7502_feed(struct sched_rfc7502 *s, uint64_t attempts,
			uint64_t failures);

/* The margin the answer is known to when it is rate. */
double sched_rfc7502_margin(const struct sched_rfc7502_cfg *cfg, double rate);

const char *sched_rfc7502_end_name(enum sched_rfc7502_end end);

#endif
