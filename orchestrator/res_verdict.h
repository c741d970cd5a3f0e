/*
 * res_verdict.h - what bounded a run's capacity (issue 13): the system
 * under test ("server": a step failed the criteria while the bed had
 * headroom, the figure is the servers'), the test bed ("bed": the top
 * steps were generator bound, or the delivered rate came within 15 % of
 * the bed's own limit: the figure is a lower bound) or the ramp itself
 * ("ramp": no step failed up to the highest rate it offered: a lower
 * bound).  And how two runs' capacities may be compared.
 */
#ifndef SIPSTONE_RES_VERDICT_H
#define SIPSTONE_RES_VERDICT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct res_run;

/* The delivered rate within this share of the bed's limit is the
 * bed's figure, not the servers'. */
#define RES_VERDICT_BED_SHARE 0.85

enum res_bound {
	RES_BOUND_EXACT, /* the capacity measured */
	RES_BOUND_LOWER, /* at least the capacity: ">= N" */
	RES_BOUND_UPPER, /* below the lowest rate tried: "< N" */
};

struct res_verdict {
	const char *name; /* "server", "bed", "ramp"; NULL: no load steps */
	enum res_bound bound;
	double capacity; /* res_capacity(), or the first rate when UPPER */
	char reason[320];
};

/* The verdict of run into *v (v->name NULL for a run without steps:
 * failed early, deploy or baseline only). */
void res_verdict_of(const struct res_run *run, struct res_verdict *v);

/* Adds run's verdict to its summary j (res_run_json's): "verdict"
 * (null without steps), "bound" and "verdict_reason". */
void res_verdict_json(const struct res_run *run, json_t *j);

/* "exact", "lower", "upper" (static). */
const char *res_verdict_bound_name(enum res_bound b);

/* The capacity as text: "21000", ">= 30000", "< 200"; "-" for no
 * verdict. */
void res_verdict_capacity_text(const struct res_verdict *v, char *out,
			       size_t size);

/*
 * Whether run a's capacity over run b's is a figure, and which: a
 * ratio of two exact figures is exact; a lower bound over an exact one
 * is a lower bound (">="), an exact one over a lower bound an upper
 * bound ("<="); two lower bounds (or anything with an upper bound) say
 * nothing.  Runs of different tests or transports are not comparable
 * either.  Returns false with why ("different tests: register and
 * invite", "both bounded: s2p2 by the bed, s0p1 by the ramp") when the
 * ratio means nothing; otherwise true with *prefix "", ">= " or "<= ".
 */
bool res_verdict_ratio(const struct res_run *a, const struct res_verdict *va,
		       const struct res_run *b, const struct res_verdict *vb,
		       const char **prefix, char *why, size_t whysz);

#endif
