/*
 * loadstepper.c - the loader's command-line schedules (loadstepper.h).
 */
#include "loadstepper.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "loadstepper"

#include "ev.h"
#include "hist.h"
#include "log.h"
#include "procstat.h"

/* How often a settling trial looks for its last outcomes. */
#define SETTLE_POLL_MS 50

enum phase { PH_IDLE, PH_WARMUP, PH_MEASURE, PH_SETTLE, PH_DONE };

struct loadstepper {
	struct loadstepper_cfg cfg;
	struct ev *ev;
	struct loadgen *lg;
	struct loadreport_ctx base;
	struct loadreport_pace *pace;
	FILE *lines;
	bool tty;
	struct sched_ramp ramp;
	struct sched_rfc7502 search;
	enum phase phase;
	struct ev_timer timer;
	double rate;
	bool confirming;
	uint64_t t_begin, t_end, settle_until;
	double pace0, asked;
	struct procstat ps0, ps1;
	struct loadcount begin, now, diff;
	struct loadstepper_step *steps;
	unsigned nsteps, cap;
	unsigned reruns; /* of the current trial, generator bound */
	bool done;
};

static uint64_t now_ns(void)
{
	return ev_monotonic_ns();
}

static void begin_step(struct loadstepper *ls);
static void measure_begin(void *arg);

static void end_schedule(struct loadstepper *ls)
{
	ls->phase = PH_DONE;
	ls->done = true;
	ev_stop(ls->ev);
}

static int keep(struct loadstepper *ls, const struct loadstepper_step *st)
{
	if (ls->nsteps == ls->cap) {
		unsigned cap = ls->cap ? 2 * ls->cap : 16;
		struct loadstepper_step *more =
			realloc(ls->steps, cap * sizeof(*more));

		if (!more)
			return ENOMEM;
		ls->steps = more;
		ls->cap = cap;
	}
	ls->steps[ls->nsteps++] = *st;
	return 0;
}

static void print_step(const struct loadstepper *ls,
		       const struct loadstepper_step *st)
{
	uint64_t done = st->successes + st->failures;

	if (!ls->lines)
		return;
	if (ls->tty)
		fputs("\r\033[K", stderr); /* the live line */
	if (ls->cfg.kind == LOADSTEPPER_RAMP)
		fprintf(ls->lines, "[step %u/%u]", st->index + 1,
			sched_ramp_nsteps(&ls->cfg.ramp));
	else
		fprintf(ls->lines, "[%s %u]", st->phase, st->index + 1);
	fprintf(ls->lines,
		" %.1f/s %.1f s: attempts %llu ok %llu failed %llu "
		"(success %.2f%%) TA %.2f ms p95 %.2f ms",
		st->rate, st->secs, (unsigned long long)st->attempts,
		(unsigned long long)st->successes,
		(unsigned long long)st->failures,
		done ? 100.0 * (double)st->successes / (double)done : 0.0,
		st->ta_mean_ms, st->p95_ms);
	if (st->cpu >= 0)
		fprintf(ls->lines, " cpu %.0f%%", st->cpu * 100);
	if (st->generator_bound)
		fprintf(ls->lines, " | generator bound: %s", st->bound_why);
	if (ls->cfg.kind == LOADSTEPPER_RAMP)
		fprintf(ls->lines, " | %s%s\n", st->passed ? "pass" : "stop: ",
			st->passed ? "" : st->why);
	else if (!strcmp(st->phase, "discarded"))
		fprintf(ls->lines, " | failed, not counted (%s): again\n",
			st->bound_why);
	else
		fprintf(ls->lines, " | %s\n", st->passed ? "clean" : "failed");
	fflush(ls->lines);
}

/* The figures of the step that ends now into st. */
static int figures(struct loadstepper *ls, struct loadstepper_step *st)
{
	struct loadreport_ctx x = ls->base;
	char why[64];
	int err;

	loadgen_snapshot(ls->lg, &ls->now);
	err = loadcount_diff(&ls->diff, &ls->now, &ls->begin);
	if (err)
		return err;
	memset(st, 0, sizeof(*st));
	st->index = ls->nsteps;
	st->phase = ls->cfg.kind == LOADSTEPPER_RAMP ? "ramp"
		    : ls->confirming		     ? "confirm"
						     : "trial";
	st->rate = ls->rate;
	st->secs = (double)(ls->t_end - ls->t_begin) / 1e9;
	st->attempts = ls->diff.attempts;
	st->successes = ls->diff.successes;
	st->failures = ls->diff.failures;
	st->timeouts = ls->diff.timeouts;
	st->retransmissions = ls->diff.retransmissions;
	st->late_sends = ls->diff.late_sends;
	st->throttled = ls->diff.throttled;
	st->asked = ls->asked;
	st->ta_mean_ms = hist_mean(&ls->diff.rtt) / 1e3;
	st->p50_ms = (double)hist_quantile(&ls->diff.rtt, 0.50) / 1e3;
	st->p95_ms = (double)hist_quantile(&ls->diff.rtt, 0.95) / 1e3;
	st->p99_ms = (double)hist_quantile(&ls->diff.rtt, 0.99) / 1e3;
	st->cpu = ls->ps1.t_ns > ls->ps0.t_ns
			  ? procstat_cpu(&ls->ps0, &ls->ps1)
			  : -1;
	x.secs = st->secs;
	x.cpu = st->cpu;
	x.asked = st->asked;
	x.cumulative = false;
	st->generator_bound =
		loadreport_generator_bound(&ls->diff, &x, why, sizeof(why));
	if (st->generator_bound)
		snprintf(st->bound_why, sizeof(st->bound_why), "%s", why);
	return 0;
}

static void judge(struct loadstepper *ls, uint64_t unresolved)
{
	struct loadstepper_step st;
	bool more;
	int err;

	err = figures(ls, &st);
	if (err) {
		log_err("step figures: %s", strerror(err));
		end_schedule(ls);
		return;
	}
	if (ls->cfg.kind == LOADSTEPPER_RAMP) {
		struct sched_result res = {
			.attempts = st.attempts,
			.successes = st.successes,
			.failures = st.failures,
			.ta_mean_ms = st.ta_mean_ms,
			.ta_p95_ms = st.p95_ms,
		};

		st.passed = sched_ramp_passes(&ls->cfg.ramp, &res, st.why,
					      sizeof(st.why));
		more = sched_ramp_feed(&ls->ramp, &res);
	} else {
		/* an attempt still open after the threshold has failed */
		uint64_t failures = st.failures + unresolved;

		st.passed = st.attempts > 0 && failures == 0;
		if (!st.passed)
			snprintf(st.why, sizeof(st.why),
				 "%llu failures%s (of %llu attempts)",
				 (unsigned long long)failures,
				 unresolved ? ", some without an outcome" : "",
				 (unsigned long long)st.attempts);
		/*
		 * A trial that failed while the loader could not keep its
		 * pace says nothing about the server (a stalled loader
		 * sends in bursts): run it again, a bounded number of
		 * times, before it counts.
		 */
		if (!st.passed && st.generator_bound &&
		    ls->reruns < LOADSTEPPER_RERUNS) {
			ls->reruns++;
			st.phase = "discarded";
			err = keep(ls, &st);
			print_step(ls, &st);
			if (err)
				end_schedule(ls);
			else
				begin_step(ls);
			return;
		}
		ls->reruns = 0;
		more = sched_rfc7502_feed(&ls->search, st.attempts, failures);
	}
	err = keep(ls, &st);
	print_step(ls, &st);
	if (err || !more) {
		if (err)
			log_err("step figures: %s", strerror(err));
		end_schedule(ls);
		return;
	}
	begin_step(ls);
}

static void settle_poll(void *arg)
{
	struct loadstepper *ls = arg;
	struct loadcount *c = &ls->now;
	uint64_t done, open;

	loadgen_snapshot(ls->lg, c);
	done = c->successes + c->failures;
	open = c->attempts > done ? c->attempts - done : 0;
	if (open && now_ns() < ls->settle_until) {
		ev_timer_start(ls->ev, &ls->timer, EV_MS(SETTLE_POLL_MS),
			       settle_poll, ls);
		return;
	}
	judge(ls, open);
}

static void measure_end(void *arg)
{
	struct loadstepper *ls = arg;
	uint64_t t = now_ns();
	int err;

	ls->t_end = t;
	ls->asked = loadreport_pace_sends(ls->pace, t) - ls->pace0;
	if (procstat_read(0, false, &ls->ps1))
		ls->ps1 = ls->ps0;
	if (ls->cfg.kind == LOADSTEPPER_RAMP) {
		judge(ls, 0);
		return;
	}
	err = loadgen_pause(ls->lg);
	if (err) {
		log_err("pause: %s", strerror(err));
		end_schedule(ls);
		return;
	}
	loadreport_pace_set(ls->pace, 0, t);
	ls->phase = PH_SETTLE;
	ls->settle_until = t + EV_MS(ls->cfg.settle_ms);
	settle_poll(ls);
}

static double step_secs(const struct loadstepper *ls)
{
	if (ls->cfg.kind == LOADSTEPPER_RAMP)
		return ls->cfg.step_s;
	if (ls->confirming)
		return ls->cfg.confirm_s;
	if (ls->cfg.trial_s > 0)
		return ls->cfg.trial_s;
	return (double)ls->cfg.trial_attempts / ls->rate;
}

static void measure_begin(void *arg)
{
	struct loadstepper *ls = arg;

	loadgen_snapshot(ls->lg, &ls->begin);
	if (procstat_read(0, false, &ls->ps0))
		memset(&ls->ps0, 0, sizeof(ls->ps0));
	ls->t_begin = now_ns();
	ls->pace0 = loadreport_pace_sends(ls->pace, ls->t_begin);
	ls->phase = PH_MEASURE;
	ev_timer_start(ls->ev, &ls->timer, (uint64_t)(step_secs(ls) * 1e9),
		       measure_end, ls);
}

static void begin_step(struct loadstepper *ls)
{
	int err;

	if (ls->cfg.kind == LOADSTEPPER_RAMP) {
		ls->rate = ls->ramp.rate;
		ls->confirming = false;
	} else {
		ls->rate = ls->search.rate;
		ls->confirming = ls->search.confirming;
	}
	err = loadgen_started(ls->lg) ? loadgen_set_rate(ls->lg, ls->rate)
				      : loadgen_start(ls->lg, ls->rate);
	if (err) {
		log_err("rate %.1f/s: %s", ls->rate, strerror(err));
		end_schedule(ls);
		return;
	}
	loadreport_pace_set(ls->pace, ls->rate, now_ns());
	if (ls->cfg.kind == LOADSTEPPER_RAMP && ls->cfg.warmup_s > 0) {
		ls->phase = PH_WARMUP;
		ev_timer_start(ls->ev, &ls->timer,
			       (uint64_t)(ls->cfg.warmup_s * 1e9),
			       measure_begin, ls);
		return;
	}
	measure_begin(ls);
}

int loadstepper_alloc(struct loadstepper **lsp,
		      const struct loadstepper_cfg *cfg, struct ev *ev,
		      struct loadgen *lg, const struct loadreport_ctx *base,
		      struct loadreport_pace *pace, FILE *lines, bool tty)
{
	struct loadstepper *ls;
	int err = EINVAL;

	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return ENOMEM;
	ls->cfg = *cfg;
	ls->ev = ev;
	ls->lg = lg;
	ls->base = *base;
	ls->pace = pace;
	ls->lines = lines;
	ls->tty = tty;
	ev_timer_init(&ls->timer);
	switch (cfg->kind) {
	case LOADSTEPPER_RAMP:
		if (!(cfg->step_s > 0) || !(cfg->warmup_s >= 0))
			goto out;
		err = sched_ramp_init(&ls->ramp, &cfg->ramp);
		break;
	case LOADSTEPPER_RFC7502:
		if (!(cfg->trial_s > 0) && !cfg->trial_attempts)
			goto out;
		if (cfg->search.confirm && !(cfg->confirm_s > 0))
			goto out;
		err = sched_rfc7502_init(&ls->search, &cfg->search);
		break;
	case LOADSTEPPER_NONE:
		break;
	}
out:
	if (err) {
		free(ls);
		return err;
	}
	*lsp = ls;
	return 0;
}

int loadstepper_start(struct loadstepper *ls)
{
	if (ls->phase != PH_IDLE)
		return EALREADY;
	begin_step(ls);
	return ls->done && !ls->nsteps ? EIO : 0;
}

int loadstepper_step_now(const struct loadstepper *ls)
{
	/* a row written after the last step belongs to it */
	return ls->done && ls->nsteps ? (int)ls->nsteps - 1 : (int)ls->nsteps;
}

bool loadstepper_found(const struct loadstepper *ls)
{
	if (!ls->done)
		return false;
	if (ls->cfg.kind == LOADSTEPPER_RAMP)
		return ls->ramp.end != SCHED_RAMP_RUNNING &&
		       ls->ramp.capacity > 0;
	return ls->search.end == SCHED_RFC7502_FOUND;
}

const struct loadstepper_step *loadstepper_steps(const struct loadstepper *ls,
						 unsigned *n)
{
	*n = ls->nsteps;
	return ls->steps;
}

static const char *ramp_end_name(enum sched_ramp_end end)
{
	switch (end) {
	case SCHED_RAMP_RUNNING:
		return "interrupted";
	case SCHED_RAMP_FINAL:
		return "final";
	case SCHED_RAMP_CRITERIA:
		return "criteria";
	}
	return "?";
}

static void result_line(const struct loadstepper *ls, FILE *f)
{
	const struct sched_rfc7502 *s = &ls->search;
	const struct loadstepper_step *last =
		ls->nsteps ? &ls->steps[ls->nsteps - 1] : NULL;

	if (ls->cfg.kind == LOADSTEPPER_RAMP) {
		if (!ls->done || ls->ramp.end == SCHED_RAMP_RUNNING)
			fprintf(f,
				"capacity: unknown (interrupted after %u "
				"steps)\n",
				ls->nsteps);
		else if (ls->ramp.capacity <= 0)
			fprintf(f,
				"capacity: none (the first step failed: "
				"%s)\n",
				last ? last->why : "no step ran");
		else if (ls->ramp.end == SCHED_RAMP_FINAL)
			fprintf(f,
				"capacity: %.1f/s (every step passed, up "
				"to the final rate)\n",
				ls->ramp.capacity);
		else
			fprintf(f,
				"capacity: %.1f/s (the highest step that "
				"met the criteria; step %u: %s)\n",
				ls->ramp.capacity, last->index + 1, last->why);
		return;
	}
	if (!ls->done) {
		fprintf(f,
			"RFC 7502 rate: unknown (interrupted after %u "
			"trials)\n",
			ls->nsteps);
	} else if (s->end == SCHED_RFC7502_FOUND) {
		fprintf(f,
			"RFC 7502 rate: %.1f/s with zero failures (%u "
			"trials; the lowest failing rate above it %.1f/s, "
			"margin %.1f/s%s)\n",
			s->best, s->ntrials, s->fail_above,
			sched_rfc7502_margin(&s->cfg, s->best),
			s->cfg.confirm ? "; confirmed by the longer trial"
				       : "");
	} else {
		fprintf(f,
			"RFC 7502 rate: not found (%s after %u trials; "
			"highest clean rate %.1f/s)\n",
			sched_rfc7502_end_name(s->end), s->ntrials, s->best);
	}
}

void loadstepper_table(const struct loadstepper *ls, FILE *f)
{
	unsigned i;

	fprintf(f, "%-5s %-7s %10s %7s %9s %9s %8s %9s %9s %9s %5s %s\n",
		"step", "phase", "rate/s", "secs", "attempts", "failures",
		"success%", "TA ms", "p95 ms", "late", "cpu%", "verdict");
	for (i = 0; i < ls->nsteps; i++) {
		const struct loadstepper_step *st = &ls->steps[i];
		uint64_t done = st->successes + st->failures;

		fprintf(f,
			"%-5u %-7s %10.1f %7.1f %9llu %9llu %8.2f %9.2f "
			"%9.2f %9llu %5.0f %s%s\n",
			st->index + 1, st->phase, st->rate, st->secs,
			(unsigned long long)st->attempts,
			(unsigned long long)st->failures,
			done ? 100.0 * (double)st->successes / (double)done
			     : 0.0,
			st->ta_mean_ms, st->p95_ms,
			(unsigned long long)st->late_sends,
			st->cpu >= 0 ? st->cpu * 100 : -1.0,
			st->passed ? (ls->cfg.kind == LOADSTEPPER_RAMP ? "pass"
								       : "clea"
									 "n")
				   : (ls->cfg.kind == LOADSTEPPER_RAMP ? "fail"
								       : "fail"
									 "e"
									 "d"),
			st->generator_bound ? " (generator bound)" : "");
	}
	result_line(ls, f);
}

static json_t *step_json(const struct loadstepper_step *st)
{
	uint64_t done = st->successes + st->failures;

	return json_pack(
		"{sI ss sf sf sI sI sI sI sI sI sI sf sf sf sf sf sf so sb ss "
		"sb ss}",
		"index", (json_int_t)st->index, "phase", st->phase, "rate",
		st->rate, "secs", st->secs, "attempts",
		(json_int_t)st->attempts, "successes",
		(json_int_t)st->successes, "failures",
		(json_int_t)st->failures, "timeouts", (json_int_t)st->timeouts,
		"retransmissions", (json_int_t)st->retransmissions,
		"late_sends", (json_int_t)st->late_sends, "throttled",
		(json_int_t)st->throttled, "asked", st->asked, "success_pct",
		done ? 100.0 * (double)st->successes / (double)done : 0.0,
		"ta_mean_ms", st->ta_mean_ms, "p50_ms", st->p50_ms, "p95_ms",
		st->p95_ms, "p99_ms", st->p99_ms, "cpu",
		st->cpu >= 0 ? json_real(st->cpu) : json_null(),
		"generator_bound", st->generator_bound, "generator_bound_why",
		st->bound_why, "passed", st->passed, "why", st->why);
}

json_t *loadstepper_json(const struct loadstepper *ls)
{
	const struct sched_rfc7502 *s = &ls->search;
	json_t *o = json_object(), *steps = json_array();
	unsigned i;
	int err = !o || !steps;

	for (i = 0; i < ls->nsteps && !err; i++)
		err = json_array_append_new(steps, step_json(&ls->steps[i]));
	if (ls->cfg.kind == LOADSTEPPER_RAMP) {
		err = err ||
		      json_object_set_new(o, "kind", json_string("ramp"));
		err = err ||
		      json_object_set_new(
			      o, "end",
			      json_string(ls->done
						  ? ramp_end_name(ls->ramp.end)
						  : "interrupted"));
		err = err || json_object_set_new(
				     o, "capacity",
				     ls->ramp.capacity > 0
					     ? json_real(ls->ramp.capacity)
					     : json_null());
	} else {
		bool found = s->end == SCHED_RFC7502_FOUND;

		err = err ||
		      json_object_set_new(o, "kind", json_string("rfc7502"));
		err = err ||
		      json_object_set_new(
			      o, "end",
			      json_string(
				      ls->done ? sched_rfc7502_end_name(s->end)
					       : "interrupted"));
		err = err || json_object_set_new(o, "rfc7502_rate",
						 found ? json_real(s->best)
						       : json_null());
		err = err || json_object_set_new(o, "best_clean_rate",
						 json_real(s->best));
		err = err ||
		      json_object_set_new(o, "lowest_failing_rate",
					  s->fail_above > 0
						  ? json_real(s->fail_above)
						  : json_null());
		err = err ||
		      json_object_set_new(o, "margin",
					  json_real(sched_rfc7502_margin(
						  &s->cfg, s->best)));
		err = err || json_object_set_new(o, "confirmed",
						 json_boolean(found &&
							      s->cfg.confirm));
	}
	if (!err) {
		err = json_object_set_new(o, "steps", steps);
		steps = NULL; /* taken, even on failure */
	}
	if (err) {
		json_decref(steps);
		json_decref(o);
		return NULL;
	}
	return o;
}

void loadstepper_free(struct loadstepper *ls)
{
	if (!ls)
		return;
	ev_timer_cancel(ls->ev, &ls->timer);
	free(ls->steps);
	free(ls);
}
