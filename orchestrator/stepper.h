/*
 * stepper.h - one load step (a trial, in the searches' words): set the
 * loaders' rate, warm up, sample every role each second (the run's
 * samples, a live line on a terminal), then the step's figures: RFC
 * 6076 / RFC 7501 metrics, each proxy's CPU and share.  The searches
 * (search.c) judge the steps and keep them.
 */
#ifndef SIPSTONE_STEPPER_H
#define SIPSTONE_STEPPER_H

#include <stdbool.h>
#include <stdint.h>

#include "interfere.h"
#include "results.h"
#include "runctx.h"
#include "sampler.h"

/* What the steps carry from one to the next: the proxies and the marks
 * their per-second figures are differences from. */
struct stepper {
	size_t pidx[RES_MAX_PROXIES], np;
	struct proxy_mark prev[RES_MAX_PROXIES];
	struct loader_mark lprev;
	uint64_t t_begin;
	bool started;
	/* the database's Questions at t_ms (have_db: a reading) */
	uint64_t db_questions, db_t_ms;
	bool have_db;
	/* the machines at the step's start (interfere.h) */
	struct interfere_mark mach0;
};

/* Starts the run's clock of samples and takes the first marks; names
 * the proxies in r->res. */
void stepper_init(struct run *r, struct stepper *sp);

/* Tells every loader its share of total (first: "start", then
 * "set-rate").  0, or EPROTO with the run failed. */
int stepper_set_rate(struct run *r, double total, bool first);

/* Runs one step at rate for step_s seconds after the warm-up; its
 * figures into *st, neither judged nor kept.  0, EINTR, or an errno
 * with the run failed. */
int stepper_run(struct run *r, struct stepper *sp, double rate, unsigned index,
		unsigned step_s, struct res_step *st);

/* After a trial: slows to 1/s until every attempt has its outcome and
 * the proxies are idle; what failed meanwhile is added to *st. */
int stepper_settle(struct run *r, struct res_step *st);

/* Appends *st to the run's steps: 0 or ENOMEM. */
int stepper_keep(struct run *r, const struct res_step *st);

/* The step's line on stdout, verdict appended. */
void stepper_say(struct run *r, const struct res_step *st,
		 const char *verdict);

#endif
