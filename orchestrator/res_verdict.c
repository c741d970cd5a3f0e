#include "res_verdict.h"

#include <stdio.h>
#include <string.h>

#include "results.h"

/* A trial run again because the loaders were the limit is not part of
 * the figures (search.c). */
static bool counted(const struct res_step *s)
{
	return strcmp(s->phase, "discard") != 0;
}

static double delivered(const struct res_step *s)
{
	return s->achieved < s->offered ? s->achieved : s->offered;
}

/* The step res_capacity() took (the highest delivered of a passed
 * step), or NULL. */
static const struct res_step *capacity_step(const struct res_run *run)
{
	const struct res_step *at = NULL;

	for (size_t i = 0; i < run->nsteps; i++) {
		const struct res_step *s = &run->steps[i];

		if (counted(s) && s->passed &&
		    (!at || delivered(s) > delivered(at)))
			at = s;
	}
	return at;
}

/* The lowest failing step above rate (above everything when rate is
 * 0), or NULL: the step that ended the ramp, or the search's failing
 * bound. */
static const struct res_step *failing_step(const struct res_run *run,
					   double rate)
{
	const struct res_step *at = NULL;

	for (size_t i = 0; i < run->nsteps; i++) {
		const struct res_step *s = &run->steps[i];

		if (counted(s) && !s->passed && s->offered > rate &&
		    (!at || s->offered < at->offered))
			at = s;
	}
	return at;
}

/* The highest rate a counted step offered. */
static double top_offered(const struct res_run *run)
{
	double top = 0;

	for (size_t i = 0; i < run->nsteps; i++)
		if (counted(&run->steps[i]) && run->steps[i].offered > top)
			top = run->steps[i].offered;
	return top;
}

/* What the bed had to say: a reason in why when it bounded the run. */
static bool bed_bounded(const struct res_run *run, const struct res_step *cap,
			const struct res_step *fail, char *why, size_t whysz)
{
	double c = cap ? delivered(cap) : 0;

	if (fail && fail->generator_bound) {
		snprintf(why, whysz,
			 "the loaders were generator bound at %.0f/s, the "
			 "step "
			 "that failed: the failure may be theirs",
			 fail->offered);
		return true;
	}
	/* a passed step at or above the capacity's whose loaders lost
	 * their pace: what they delivered there was theirs to give */
	for (size_t i = 0; cap && i < run->nsteps; i++) {
		const struct res_step *s = &run->steps[i];

		if (counted(s) && s->passed && s->generator_bound &&
		    s->offered >= cap->offered) {
			snprintf(why, whysz,
				 "the loaders were generator bound at %.0f/s, "
				 "%s",
				 s->offered,
				 s == cap ? "the top step that passed"
					  : "a step that passed above the "
					    "capacity's");
			return true;
		}
	}
	if (run->handler_bound_at > 0 &&
	    ((fail && fail->offered >= run->handler_bound_at) ||
	     (cap && cap->offered >= run->handler_bound_at))) {
		snprintf(why, whysz, "%s at %.0f/s: the bed was out of CPU",
			 run->handler_bound_why[0] ? run->handler_bound_why
						   : "a callhandler",
			 run->handler_bound_at);
		return true;
	}
	if (run->baseline > 0 && c >= RES_VERDICT_BED_SHARE * run->baseline) {
		snprintf(why, whysz,
			 "%.0f/s delivered is within %.0f %% of the bed's own "
			 "limit (%s%.0f/s, generators alone)",
			 c, 100 * (1 - RES_VERDICT_BED_SHARE),
			 strcmp(run->baseline_bound, "lower") ? ""
							      : "at least ",
			 run->baseline);
		return true;
	}
	/* a failure where the bed itself had no headroom left says
	 * nothing of the servers */
	if (fail && run->baseline > 0 &&
	    !strcmp(run->baseline_bound, "exact") &&
	    fail->offered >= RES_VERDICT_BED_SHARE * run->baseline) {
		snprintf(why, whysz,
			 "the step that failed asked %.0f/s, within %.0f %% "
			 "of "
			 "the bed's own limit (%.0f/s, generators alone)",
			 fail->offered, 100 * (1 - RES_VERDICT_BED_SHARE),
			 run->baseline);
		return true;
	}
	if (!strcmp(run->search_end, "bed limit")) {
		if (run->baseline > 0)
			snprintf(why, whysz,
				 "the ramp's extension stopped at the bed's "
				 "own "
				 "limit (%.0f/s, generators alone) with every "
				 "step passing",
				 run->baseline);
		else
			snprintf(why, whysz,
				 "the ramp's extension stopped where the bed "
				 "was the limit, every step passing");
		return true;
	}
	return false;
}

/* Whether the search or ramp ended with no step failing. */
static bool ended_clean(const struct res_run *run, const struct res_step *fail)
{
	if (!strcmp(run->search, "rfc7502") || !strcmp(run->search, "bisect"))
		return !!strstr(run->search_end, "clean at");
	return !fail;
}

void res_verdict_of(const struct res_run *run, struct res_verdict *v)
{
	const struct res_step *cap = capacity_step(run);
	const struct res_step *fail =
		failing_step(run, cap ? cap->offered : 0);
	char bed[200];

	memset(v, 0, sizeof(*v));
	v->capacity = res_capacity(run);
	if (!top_offered(run))
		return;
	if (!cap) {
		/* Even the first step failed: the capacity is below it. */
		v->bound = RES_BOUND_UPPER;
		v->capacity = fail ? fail->offered : top_offered(run);
		if (bed_bounded(run, NULL, fail, bed, sizeof(bed))) {
			v->name = "bed";
			snprintf(v->reason, sizeof(v->reason),
				 "no step passed and %s", bed);
		} else {
			v->name = "server";
			snprintf(v->reason, sizeof(v->reason),
				 "the first step, %.0f/s, already failed the "
				 "criteria: start the ramp lower",
				 v->capacity);
		}
		return;
	}
	if (bed_bounded(run, cap, fail, bed, sizeof(bed))) {
		v->name = "bed";
		v->bound = RES_BOUND_LOWER;
		snprintf(v->reason, sizeof(v->reason),
			 "%s: the servers' capacity is at least this", bed);
	} else if (ended_clean(run, fail)) {
		v->name = "ramp";
		v->bound = RES_BOUND_LOWER;
		snprintf(v->reason, sizeof(v->reason),
			 "no step failed up to %.0f/s, the highest rate "
			 "offered: raise the final rate (rate.final, "
			 "max_rate)",
			 top_offered(run));
	} else {
		v->name = "server";
		v->bound = RES_BOUND_EXACT;
		snprintf(v->reason, sizeof(v->reason),
			 "the step at %.0f/s failed the criteria while the "
			 "bed "
			 "had headroom (%s%.0f/s with the generators alone)",
			 fail ? fail->offered : cap->offered,
			 run->baseline > 0 && strcmp(run->baseline_bound, "low"
									  "er")
				 ? ""
				 : "at least ",
			 run->baseline);
		if (run->baseline <= 0)
			snprintf(v->reason, sizeof(v->reason),
				 "the step at %.0f/s failed the criteria; the "
				 "bed's own limit was not measured "
				 "(baseline_s "
				 "0 or no callhandler), only the loaders' "
				 "generator-bound flags vouch for it",
				 fail ? fail->offered : cap->offered);
	}
}

void res_verdict_json(const struct res_run *run, json_t *j)
{
	struct res_verdict v;

	res_verdict_of(run, &v);
	json_object_set_new(j, "verdict",
			    v.name ? json_string(v.name) : json_null());
	json_object_set_new(
		j, "bound",
		v.name ? json_string(res_verdict_bound_name(v.bound))
		       : json_null());
	json_object_set_new(j, "verdict_reason", json_string(v.reason));
}

const char *res_verdict_bound_name(enum res_bound b)
{
	return b == RES_BOUND_LOWER   ? "lower"
	       : b == RES_BOUND_UPPER ? "upper"
				      : "exact";
}

void res_verdict_capacity_text(const struct res_verdict *v, char *out,
			       size_t size)
{
	if (!v->name)
		snprintf(out, size, "-");
	else
		snprintf(out, size, "%s%.0f",
			 v->bound == RES_BOUND_LOWER   ? ">= "
			 : v->bound == RES_BOUND_UPPER ? "< "
						       : "",
			 v->capacity);
}

/* +1 a lower bound (the truth is above), -1 an upper bound, 0 exact. */
static int direction(const struct res_verdict *v)
{
	return v->bound == RES_BOUND_LOWER   ? 1
	       : v->bound == RES_BOUND_UPPER ? -1
					     : 0;
}

bool res_verdict_ratio(const struct res_run *a, const struct res_verdict *va,
		       const struct res_run *b, const struct res_verdict *vb,
		       const char **prefix, char *why, size_t whysz)
{
	int da = direction(va), db = direction(vb);

	*prefix = "";
	if (strcmp(a->test, b->test)) {
		snprintf(why, whysz, "different tests (%s, %s)", a->test,
			 b->test);
		return false;
	}
	if (strcmp(a->transport, b->transport)) {
		snprintf(why, whysz, "different transports (%s, %s)",
			 a->transport, b->transport);
		return false;
	}
	if (!va->name || !vb->name || vb->capacity <= 0) {
		snprintf(why, whysz, "%s", "no capacity measured");
		return false;
	}
	/* a/b: a's bound carries through as is, b's reversed. */
	if (da && da == db) {
		snprintf(why, whysz, "both are %s bounds (%s: %s, %s: %s)",
			 da > 0 ? "lower" : "upper", a->topology, va->name,
			 b->topology, vb->name);
		return false;
	}
	*prefix = da - db > 0 ? ">= " : da - db < 0 ? "<= " : "";
	return true;
}
