/*
 * loadreport.h - the loader's figures as JSON (control events, --json), a
 * summary table and per-second CSV rows, with the RFC 6076 metrics
 * computed from the counters (RFC 6076 §4).
 */
#ifndef LOADER_LOADREPORT_H
#define LOADER_LOADREPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loadcount.h"

/* What the counters do not carry: the interval and the loader's CPU. */
struct loadreport_ctx {
	enum loadcfg_test test;
	const char *name; /* the test as --test names it; NULL: test's */
	double secs;	  /* length of the interval the counts cover */
	double cpu;	  /* loader CPU over it, in cores (-1: unknown) */
	unsigned threads;
	unsigned cores;	 /* CPUs the process may run on (0: unknown) */
	double asked;	 /* sends the pace asked for over it (< 0: unknown) */
	bool poisson;	 /* asked is then a mean */
	bool cumulative; /* counts since start: in_flight is meaningful */
	int step;	 /* schedule step of a CSV row (-1: none) */
	const uint32_t *mix; /* test mix: the weights (loadcfg.mix) */
};

/*
 * The sends the pace asked for: the integral of the rate over time, so
 * that an interval spanning a rate change still knows what was due.
 */
struct loadreport_pace {
	double rate; /* now; 0 while paused */
	uint64_t t_ns;
	double sends; /* due between the first rate and t_ns */
};

/* The rate changes to rate at now_ns (0: paused). */
void loadreport_pace_set(struct loadreport_pace *p, double rate,
			 uint64_t now_ns);

/* Sends due from the first rate to now_ns. */
double loadreport_pace_sends(const struct loadreport_pace *p, uint64_t now_ns);

/* generator_bound: more than this share of the sends late, */
#define LOADREPORT_LATE_SHARE 0.10
/* or fewer sends than this share of the ones due, */
#define LOADREPORT_PACE_SHARE 0.99
/* or CPU above this share of the cores the threads can use. */
#define LOADREPORT_CPU_SHARE 0.90

/*
 * True when the loader, not the server, may have been the limit: it did
 * not keep its pace (sends, skipped ones included, short of those due by
 * more than 1 %, or more than 10 % of them LOADCOUNT_LATE_NS late), or its
 * CPU passed 90 % of the cores its threads can use (min(threads, the
 * CPUs of its affinity mask)).  When why is given and the answer is
 * true, it says which, e.g. "sent 93.1% of the pace".
 */
bool loadreport_generator_bound(const struct loadcount *c,
				const struct loadreport_ctx *x, char *why,
				size_t whysz);

/* RFC 6076 IRA for REGISTER (ineffective attempts, %): failures over
 * completed attempts; 0 when none completed. */
double loadmetric_ira(const struct loadcount *c);

/*
 * The figures as a JSON object (new reference, NULL on ENOMEM).  A mix
 * has the totals at the top (test "mix", no calls or RFC 6076 block),
 * and under "mix" an object per kind of the mix: that kind's figures in
 * the layout of a single test of it, and its "weight".
 */
json_t *loadreport_json(const struct loadcount *c,
			const struct loadreport_ctx *x);

/* The CSV header line and one row (t_s: seconds since start).  A mix's
 * rows go on with the same columns for each kind, register,
 * reregister, options, invite, prefixed "<kind>_" (docs/agents.md). */
void loadreport_csv_header(FILE *f, enum loadcfg_test test);
void loadreport_csv_row(FILE *f, double t_s, const struct loadcount *c,
			const struct loadreport_ctx *x);

/* The human summary table (a mix: the totals, then each kind's). */
void loadreport_table(FILE *f, const struct loadcount *c,
		      const struct loadreport_ctx *x);

#endif
