/*
 * bedcpu.h - the test bed's own CPU during a step: each callhandler's
 * CPU (its "stats" counters) against the cores it can use, so that a
 * step in which a callhandler ran out of CPU is known to be the bed's
 * limit, not the servers' (res_verdict.h).  The loaders say so
 * themselves (generator_bound, docs/agents.md).
 */
#ifndef SIPSTONE_BEDCPU_H
#define SIPSTONE_BEDCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runctx.h"

/* A callhandler using more than this share of the cores it can use is
 * out of CPU (the loaders' own rule, docs/agents.md). */
#define BEDCPU_BOUND_SHARE 0.9

#define BEDCPU_MAX 16

/* The callhandlers' cumulative CPU at one moment. */
struct bedcpu_mark {
	size_t n;
	size_t node[BEDCPU_MAX]; /* index into r->t->nodes */
	uint64_t cpu_us[BEDCPU_MAX], t_ms[BEDCPU_MAX];
	bool ok[BEDCPU_MAX]; /* it answered */
};

/* Reads every callhandler's CPU into m (those that do not answer are
 * left out of the judgement). */
void bedcpu_mark(struct run *r, struct bedcpu_mark *m);

/*
 * Whether a callhandler used more than BEDCPU_BOUND_SHARE of the cores
 * it can use (its threads, at most its host's cores) between a and b;
 * then why says which ("ch1 at 97 % of its 1 core").
 */
bool bedcpu_bound(const struct run *r, const struct bedcpu_mark *a,
		  const struct bedcpu_mark *b, char *why, size_t whysz);

#endif
