/*
 * loadstepper.h - the loader's schedules on the command line (--ramp,
 * --search rfc7502): drives one engine through the steps or trials that
 * common/schedule.h names, changing its rate between them without a
 * restart, and keeps each step's figures for the per-step lines, the
 * table, --json and the exit status.
 *
 * A ramp step runs warmup_s (its figures thrown away), then step_s.  A
 * search trial runs trial_s (or trial_attempts at its rate), then the
 * engine pauses until every attempt of the trial has its outcome (at
 * most the establishment threshold and a second), so that what fails
 * late counts against the trial that caused it and no backlog reaches
 * the next.
 */
#ifndef LOADER_LOADSTEPPER_H
#define LOADER_LOADSTEPPER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "loadgen.h"
#include "loadreport.h"
#include "schedule.h"

struct ev;

#define LOADSTEPPER_RERUNS 2

enum loadstepper_kind {
	LOADSTEPPER_NONE = 0, /* the fixed rate of --rate --duration */
	LOADSTEPPER_RAMP,
	LOADSTEPPER_RFC7502,
};

struct loadstepper_cfg {
	enum loadstepper_kind kind;
	struct sched_ramp_cfg ramp;
	double step_s, warmup_s; /* ramp */
	struct sched_rfc7502_cfg search;
	double trial_s;		 /* search: a trial's length, or */
	uint64_t trial_attempts; /* its attempts (length attempts / rate) */
	double confirm_s;	 /* search: the confirmation trial's length */
	uint32_t settle_ms;	 /* search: longest wait for outcomes */
};

/* One finished step or trial. */
struct loadstepper_step {
	unsigned index;
	/* "ramp", "trial", "confirm", or "discarded": a trial that failed
	 * while generator bound, not fed to the search and run again (at
	 * most LOADSTEPPER_RERUNS times in a row) */
	const char *phase;
	double rate, secs;
	uint64_t attempts, successes, failures, timeouts, retransmissions;
	uint64_t late_sends, throttled;
	double asked; /* sends due at its rate over it */
	double ta_mean_ms, p50_ms, p95_ms, p99_ms;
	double cpu; /* cores, -1 unknown */
	bool generator_bound;
	bool passed;	    /* met the ramp's criteria; search: clean */
	char why[96];	    /* why it failed */
	char bound_why[64]; /* why generator bound */
};

struct loadstepper;

/*
 * A schedule for the engine lg on ev (both borrowed).  base gives the
 * test, threads, cores and poisson of the figures; pace (borrowed) is
 * the pace accounting the caller's per-second rows read, kept up to
 * date with every rate change.  Step lines go to lines; tty: they first
 * clear the live line on stderr.  Returns 0, EINVAL (a bad schedule),
 * ENOMEM.
 */
int loadstepper_alloc(struct loadstepper **lsp,
		      const struct loadstepper_cfg *cfg, struct ev *ev,
		      struct loadgen *lg, const struct loadreport_ctx *base,
		      struct loadreport_pace *pace, FILE *lines, bool tty);

/* Starts the first step.  When the schedule is over it stops ev. */
int loadstepper_start(struct loadstepper *ls);

/* The step running now (0, 1, ...), for the CSV rows. */
int loadstepper_step_now(const struct loadstepper *ls);

/* Whether it ran to its end and found its answer (exit status 0). */
bool loadstepper_found(const struct loadstepper *ls);

/* The steps so far. */
const struct loadstepper_step *loadstepper_steps(const struct loadstepper *ls,
						 unsigned *n);

/* The per-step table and the result line. */
void loadstepper_table(const struct loadstepper *ls, FILE *f);

/* {"kind", "steps": [...], "end", "capacity" | "rfc7502_rate"}, a new
 * reference, NULL on ENOMEM. */
json_t *loadstepper_json(const struct loadstepper *ls);

/* NULL is allowed. */
void loadstepper_free(struct loadstepper *ls);

#endif
