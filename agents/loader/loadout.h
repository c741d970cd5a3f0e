/*
 * loadout.h - the loader's figures as JSON (control events, --json), a
 * summary table and per-second CSV rows, with the RFC 6076 metrics
 * computed from the counters (REFERENCE.md §3).
 */
#ifndef LOADER_LOADOUT_H
#define LOADER_LOADOUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "loadgen.h"

/* What the counters do not carry: the interval and the loader's CPU. */
struct loadout_ctx {
	enum loadgen_test test;
	double secs; /* length of the interval the counts cover */
	double cpu;  /* loader CPU over it, in cores (-1: unknown) */
	unsigned threads;
	bool cumulative;     /* counts since start: in_flight is meaningful */
	const uint32_t *mix; /* test mix: the weights (loadgen_cfg.mix) */
};

/*
 * True when the loader, not the server, may have been the limit: late
 * sends, or CPU above 90% of its threads' cores.
 */
bool loadout_generator_bound(const struct loadgen_counts *c,
			     const struct loadout_ctx *x);

/* RFC 6076 IRA for REGISTER (ineffective attempts, %): failures over
 * completed attempts; 0 when none completed. */
double loadout_ira(const struct loadgen_counts *c);

/*
 * The figures as a JSON object (new reference, NULL on ENOMEM).  A mix
 * has the totals at the top (test "mix", no calls or RFC 6076 block),
 * and under "mix" an object per kind of the mix: that kind's figures in
 * the layout of a single test of it, and its "weight".
 */
json_t *loadout_json(const struct loadgen_counts *c,
		     const struct loadout_ctx *x);

/* The CSV header line and one row (t_s: seconds since start).  A mix's
 * rows go on with the same columns for each kind, register,
 * reregister, options, invite, prefixed "<kind>_" (docs/agents.md). */
void loadout_csv_header(FILE *f, enum loadgen_test test);
void loadout_csv_row(FILE *f, double t_s, const struct loadgen_counts *c,
		     const struct loadout_ctx *x);

/* The human summary table (a mix: the totals, then each kind's). */
void loadout_table(FILE *f, const struct loadgen_counts *c,
		   const struct loadout_ctx *x);

#endif
