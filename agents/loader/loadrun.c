/*
 * loadrun.c - one run of the loader (see loadrun.h).
 */
#include "loadrun.h"

#define LOG_MODULE "loader"

#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ev.h"
#include "hist.h"
#include "loadcred.h"
#include "loadgen.h"
#include "loadreport.h"
#include "loadstepper.h"
#include "log.h"
#include "obj.h"
#include "procstat.h"

struct loadrun {
	struct loadcfg cfg;
	struct loadgen *lg;
	struct ev *ev;
	struct ctl *ctl;
	struct ev_timer sec, end;
	uint64_t tick_k;
	double duration;
	bool control, json;
	FILE *csv;
	bool tty;
	uint64_t t0, t_step;
	unsigned step;
	struct loadcount prev, step_base, cur, d;
	struct procstat ps_prev, ps_step, ps0;
	/* the control steps' cohorts (loadcount.h): the one being sent
	 * and the one before, each with its slot when it began */
	unsigned cohort;
	struct loadcount_cohort cohort_base, prev_base;
	bool last_bound;
	double last_cpu;
	/* the sends due (every rate change goes through pace), read at
	 * the last second's and the control step's start */
	struct loadreport_pace pace;
	double pace_sec, pace_step;
	unsigned cores;
	struct loadstepper_cfg sched; /* --ramp, --search */
	struct loadstepper *ls;
	const char *me; /* argv[0], for messages */
};

static double secs_since(uint64_t t)
{
	return (double)(ev_monotonic_ns() - t) / 1e9;
}

/* Fills ctx for an interval and the CPU between two readings. */
static void ctx_of(struct loadrun *a, struct loadreport_ctx *x, double secs,
		   const struct procstat *p0, const struct procstat *p1,
		   bool cumulative)
{
	x->test = a->cfg.test;
	x->name = loadcfg_run_name(&a->cfg);
	x->secs = secs;
	x->cpu = p0 && p1 ? procstat_cpu(p0, p1) : -1;
	x->threads = a->cfg.threads;
	x->cores = a->cores;
	x->poisson = a->cfg.poisson;
	x->asked = -1;
	x->cumulative = cumulative;
	x->mix = a->cfg.mix;
	x->step = -1;
}

/*
 * Timers fire at absolute times from t0 (the loop's clock may lag the
 * real one before its first iteration: a relative delay would fire
 * early).
 */
static void timer_at(struct loadrun *a, struct ev_timer *t, uint64_t due,
		     ev_timer_h *h)
{
	uint64_t now = ev_now(a->ev);

	ev_timer_start(a->ev, t, due > now ? due - now : 0, h, a);
}

static void on_second(void *arg);

static void sec_next(struct loadrun *a)
{
	a->tick_k++;
	timer_at(a, &a->sec, a->t0 + a->tick_k * EV_MS(1000), on_second);
}

static void on_end(void *arg)
{
	struct loadrun *a = arg;

	ev_stop(a->ev);
}

static void on_second(void *arg)
{
	struct loadrun *a = arg;
	struct procstat ps;
	struct loadreport_ctx x;
	double t = secs_since(a->t0);

	sec_next(a);
	if (!a->lg || !loadgen_started(a->lg))
		return;
	if (procstat_read(0, false, &ps))
		ps = a->ps_prev;
	loadgen_snapshot(a->lg, &a->cur);
	if (loadcount_diff(&a->d, &a->cur, &a->prev))
		return;
	ctx_of(a, &x, (double)(ps.t_ns - a->ps_prev.t_ns) / 1e9, &a->ps_prev,
	       &ps, false);
	x.asked = loadreport_pace_sends(&a->pace, ps.t_ns) - a->pace_sec;
	a->pace_sec += x.asked;
	x.step = a->ls ? loadstepper_step_now(a->ls) : (int)a->step;
	a->last_bound = loadreport_generator_bound(&a->d, &x, NULL, 0);
	a->last_cpu = x.cpu;
	if (a->csv) {
		loadreport_csv_row(a->csv, t, &a->d, &x);
		fflush(a->csv);
	}
	if (a->tty && !a->control)
		fprintf(stderr,
			"\r%s%6.1fs  %8.0f/s  ok %llu  fail %llu  retr %llu  "
			"p50 %.2f ms  p99 %.2f ms  cpu %3.0f%%%s   ",
			a->ls ? "[step] " : "", t,
			x.secs > 0 ? a->d.attempts / x.secs : 0.0,
			(unsigned long long)a->cur.successes,
			(unsigned long long)a->cur.failures,
			(unsigned long long)a->cur.retransmissions,
			hist_quantile(&a->d.rtt, 0.5) / 1e3,
			hist_quantile(&a->d.rtt, 0.99) / 1e3, x.cpu * 100,
			a->last_bound ? " BOUND" : "");
	a->prev = a->cur;
	a->ps_prev = ps;
}

static void on_signal(int signo, void *arg)
{
	struct loadrun *a = arg;

	(void)signo;
	ev_stop(a->ev);
}

/* ---- control mode ---- */

static int rate_arg(json_t *args, double *rate, const char **error)
{
	json_t *r = json_object_get(args, "rate");

	if (!r)
		return ENOENT;
	if (!json_is_number(r) || !(json_number_value(r) > 0) ||
	    json_number_value(r) > 1e7) {
		*error = "rate must be a number > 0";
		return EINVAL;
	}
	*rate = json_number_value(r);
	return 0;
}

static void step_begin(struct loadrun *a)
{
	a->pace_step = loadreport_pace_sends(&a->pace, ev_monotonic_ns());
	loadgen_snapshot(a->lg, &a->step_base);
	a->cohort_base = *loadcount_cohort(&a->step_base, a->cohort);
	a->prev_base = a->cohort_base;
	if (procstat_read(0, false, &a->ps_step))
		memset(&a->ps_step, 0, sizeof(a->ps_step));
	a->t_step = ev_monotonic_ns();
}

static int cmd_start(struct ctl *ctl, json_t *args, json_t **result,
		     const char **error, void *arg)
{
	struct loadrun *a = arg;
	double rate = a->cfg.rate;
	int err;

	(void)ctl;
	err = rate_arg(args, &rate, error);
	if (err && err != ENOENT)
		return err;
	if (!(rate > 0)) {
		*error = "no rate: give \"rate\" or --rate";
		return EINVAL;
	}
	if (loadgen_started(a->lg)) {
		*error = "already started";
		return EALREADY;
	}
	step_begin(a);
	a->step = 0;
	a->t0 = ev_monotonic_ns();
	a->tick_k = 0;
	sec_next(a);
	loadgen_snapshot(a->lg, &a->prev);
	procstat_read(0, false, &a->ps_prev);
	err = loadgen_start(a->lg, rate);
	if (err) {
		*error = "cannot start";
		return err;
	}
	loadreport_pace_set(&a->pace, rate, ev_monotonic_ns());
	*result = json_pack("{sf}", "rate", rate);
	return 0;
}

static int cmd_set_rate(struct ctl *ctl, json_t *args, json_t **result,
			const char **error, void *arg)
{
	struct loadrun *a = arg;
	double rate;
	int err;

	(void)ctl;
	err = rate_arg(args, &rate, error);
	if (err == ENOENT)
		*error = "rate missing";
	if (err)
		return EINVAL;
	err = loadgen_set_rate(a->lg, rate);
	if (err) {
		*error = "cannot set the rate";
		return err;
	}
	if (loadgen_started(a->lg))
		loadreport_pace_set(&a->pace, rate, ev_monotonic_ns());
	*result = json_pack("{sf}", "rate", rate);
	return 0;
}

/* {"index", "attempts", "successes", "failures", "in_flight"}: cohort
 * e as slot now has it less base (NULL when out of memory). */
static json_t *cohort_json(unsigned e, struct loadcount *now,
			   const struct loadcount_cohort *base)
{
	const struct loadcount_cohort *c = loadcount_cohort(now, e);
	uint64_t att = c->attempts - base->attempts;
	uint64_t ok = c->successes - base->successes;
	uint64_t bad = c->failures - base->failures;

	return json_pack("{s:i,s:I,s:I,s:I,s:I}", "index", (int)e, "attempts",
			 (json_int_t)att, "successes", (json_int_t)ok,
			 "failures", (json_int_t)bad, "in_flight",
			 (json_int_t)(att > ok + bad ? att - ok - bad : 0));
}

/*
 * The cohorts as a step ends: the one sent in this step, and the one
 * of the step before as it stands now (what came in late: the
 * orchestrator's settling after a trial).  The next cohort starts
 * between two snapshots, so that each attempt is in one cohort and
 * each cohort's base is taken before its first attempt.
 */
static void step_cohorts(struct loadrun *a, struct loadcount *now,
			 struct loadcount *after, json_t *fig)
{
	unsigned next = loadgen_cohort_next(a->lg);

	loadgen_snapshot(a->lg, after);
	json_object_set_new(fig, "cohort",
			    cohort_json(a->cohort, after, &a->cohort_base));
	if (a->cohort > 0)
		json_object_set_new(fig, "cohort_prev",
				    cohort_json(a->cohort - 1, after,
						&a->prev_base));
	a->prev_base = a->cohort_base;
	a->cohort_base = *loadcount_cohort(now, next);
	a->cohort = next;
}

/* The figures of the step that ends now; a new step starts. */
static int cmd_step(struct ctl *ctl, json_t *args, json_t **result,
		    const char **error, void *arg)
{
	struct loadrun *a = arg;
	struct loadcount *now = NULL, *d = NULL, *after = NULL;
	struct procstat ps;
	struct loadreport_ctx x;
	json_t *fig;
	int err = ENOMEM;

	(void)ctl;
	(void)args;
	if (!loadgen_started(a->lg)) {
		*error = "not started";
		return EINVAL;
	}
	now = malloc(sizeof(*now));
	d = malloc(sizeof(*d));
	after = malloc(sizeof(*after));
	if (!now || !d || !after)
		goto out;
	loadgen_snapshot(a->lg, now);
	procstat_read(0, false, &ps);
	err = loadcount_diff(d, now, &a->step_base);
	if (err)
		goto out;
	ctx_of(a, &x, secs_since(a->t_step), &a->ps_step, &ps, false);
	x.asked = loadreport_pace_sends(&a->pace, ps.t_ns) - a->pace_step;
	fig = loadreport_json(d, &x);
	if (!fig) {
		err = ENOMEM;
		goto out;
	}
	json_object_set_new(fig, "step", json_integer(a->step));
	json_object_set_new(fig, "set_rate", json_real(loadgen_rate(a->lg)));
	step_cohorts(a, now, after, fig);
	*result = fig;
	a->step++;
	a->step_base = *now;
	a->ps_step = ps;
	a->t_step = ev_monotonic_ns();
	a->pace_step += x.asked;
out:
	free(now);
	free(d);
	free(after);
	if (err)
		*error = "step failed";
	return err;
}

static void stats_cb(struct ctl *ctl, json_t *stats, void *arg)
{
	struct loadrun *a = arg;
	struct loadcount *c = malloc(sizeof(*c));
	struct loadreport_ctx x;
	json_t *fig;

	(void)ctl;
	if (!c)
		return;
	loadgen_snapshot(a->lg, c);
	ctx_of(a, &x, loadgen_started(a->lg) ? secs_since(a->t0) : 0, NULL,
	       NULL, true);
	fig = loadreport_json(c, &x);
	free(c);
	if (!fig)
		return;
	/* generator_bound of the last whole second, not of the run */
	json_object_set_new(fig, "generator_bound",
			    json_boolean(a->last_bound));
	json_object_set_new(fig, "cpu_last_s", json_real(a->last_cpu));
	json_object_set_new(fig, "set_rate", json_real(loadgen_rate(a->lg)));
	json_object_set_new(fig, "started",
			    json_boolean(loadgen_started(a->lg)));
	json_object_set_new(stats, "loader", fig);
}

static void on_ctl_stop(struct ctl *ctl, void *arg)
{
	struct loadrun *a = arg;

	(void)ctl;
	ev_stop(a->ev);
}

/* ---- standalone schedules (--ramp, --search) ---- */

static int schedule_start(struct loadrun *a)
{
	struct loadreport_ctx base;
	uint32_t t1 = a->cfg.t1_ms ? a->cfg.t1_ms : 500;
	int err;

	/* every attempt has its outcome by Timer B/F (and a call by its
	 * hold and BYE too; an exponential hold passes 10 means once in
	 * 22,000 calls) */
	a->sched.settle_ms =
		(a->cfg.timer_b_ms ? a->cfg.timer_b_ms : 64 * t1) +
		(a->cfg.test == LOADCFG_INVITE
			 ? a->cfg.hold_ms * (a->cfg.hold_exp ? 10 : 1) +
				   64 * t1
			 : 0) +
		1000;
	ctx_of(a, &base, 0, NULL, NULL, false);
	err = loadstepper_alloc(&a->ls, &a->sched, a->ev, a->lg, &base,
				&a->pace, a->json ? stderr : stdout, a->tty);
	if (err) {
		log_err("schedule: %s", strerror(err));
		return err;
	}
	err = loadstepper_start(a->ls);
	if (err)
		log_err("schedule start: %s", strerror(err));
	return err;
}

/* The per-step table or JSON; the exit status. */
static int schedule_report(struct loadrun *a, const struct loadcount *fin,
			   const struct loadreport_ctx *x)
{
	if (a->json) {
		json_t *sum = loadreport_json(fin, x);
		json_t *sched = loadstepper_json(a->ls);

		if (sum && sched)
			json_object_set_new(sum, "schedule", sched);
		else
			json_decref(sched);
		if (sum)
			json_dumpf(sum, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(sum);
	} else {
		loadstepper_table(a->ls, stdout);
		fputc('\n', stdout);
		loadreport_table(stdout, fin, x);
	}
	return loadstepper_found(a->ls) ? 0 : 1;
}

/* ---- the run ---- */

/* Loads the passwords, opens the CSV, the loop, the engine: 0, or the
 * exit status 2 (bad file) or 1 (said in the log). */
static int run_setup(struct loadrun *a, const struct loadopts *o)
{
	const int sigs[] = {SIGINT, SIGTERM};
	int err;

	if (o->pwfile) {
		err = loadcred_passwords_load(&a->cfg, o->pwfile);
		if (err) {
			fprintf(stderr, "%s: --passwords %s: %s\n", a->me,
				o->pwfile, strerror(err));
			return 2;
		}
	}
	if (o->csv) {
		a->csv = fopen(o->csv, "w");
		if (!a->csv) {
			fprintf(stderr, "%s: --csv %s: %s\n", a->me, o->csv,
				strerror(errno));
			return 2;
		}
		loadreport_csv_header(a->csv, a->cfg.test);
	}
	a->tty = isatty(STDERR_FILENO);
	{
		cpu_set_t set;

		/* what taskset or a cgroup leaves the threads */
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			a->cores = (unsigned)CPU_COUNT(&set);
	}
	ev_timer_init(&a->sec);
	ev_timer_init(&a->end);
	err = ev_alloc(&a->ev);
	if (!err) /* block the signals before the threads start */
		err = ev_signal(a->ev, sigs, 2, on_signal, a);
	if (err) {
		log_err("event loop: %s", strerror(err));
		return 1;
	}
	err = loadgen_alloc(&a->lg, &a->cfg);
	if (err) {
		log_err("cannot start the loader: %s", strerror(err));
		return 1;
	}
	procstat_read(0, false, &a->ps0);
	a->ps_prev = a->ps0;
	loadgen_snapshot(a->lg, &a->prev);
	a->t0 = ev_monotonic_ns();
	sec_next(a);
	return 0;
}

/* --control: the commands, then the "ready" event. */
static int control_setup(struct loadrun *a)
{
	struct sip_tp_addr l;
	char s[SIP_TP_ADDR_STRLEN];
	json_t *ready, *locals = json_array();
	unsigned i;
	int err;

	err = ctl_alloc(&a->ctl, a->ev, STDIN_FILENO, STDOUT_FILENO, "loader",
			on_ctl_stop, a);
	if (!err)
		err = ctl_command(a->ctl, "start", cmd_start, a);
	if (!err)
		err = ctl_command(a->ctl, "set-rate", cmd_set_rate, a);
	if (!err)
		err = ctl_command(a->ctl, "step", cmd_step, a);
	if (err) {
		json_decref(locals);
		log_err("control channel: %s", strerror(err));
		return err;
	}
	ctl_stats_source(a->ctl, stats_cb, a);
	for (i = 0; !loadgen_local(a->lg, i, &l); i++)
		if (!sip_tp_addr_print(&l, s, sizeof(s)))
			json_array_append_new(locals, json_string(s));
	ready = json_pack("{sIsIso}", "pid", (json_int_t)getpid(), "threads",
			  (json_int_t)a->cfg.threads, "local", locals);
	/* TCP/TLS: the pool (if any) is up by now */
	if (ready && a->cfg.server.proto != SIP_TP_UDP)
		json_object_set_new(
			ready, "conn",
			json_string(loadcfg_conn_name(a->cfg.conn)));
	ctl_event(a->ctl, "ready", ready);
	json_decref(ready);
	return 0;
}

/* The control channel, the schedule, or the fixed-rate run. */
static int run_start(struct loadrun *a)
{
	int err;

	if (a->control)
		return control_setup(a);
	a->t0 = ev_monotonic_ns();
	a->tick_k = 0;
	sec_next(a);
	if (a->sched.kind != LOADSTEPPER_NONE)
		return schedule_start(a);
	timer_at(a, &a->end, a->t0 + (uint64_t)(a->duration * 1e9), on_end);
	err = loadgen_start_for(a->lg, a->cfg.rate, a->t0, a->duration);
	if (err) {
		log_err("start: %s", strerror(err));
		return err;
	}
	loadreport_pace_set(&a->pace, a->cfg.rate, ev_monotonic_ns());
	return 0;
}

/* The final figures (the summary event, the schedule's or the run's
 * table or JSON); the exit status. */
static int run_report(struct loadrun *a, const struct loadcount *fin,
		      const struct loadreport_ctx *x)
{
	json_t *sum;

	if (a->control) {
		sum = loadreport_json(fin, x);
		ctl_event(a->ctl, "summary", sum);
		json_decref(sum);
		return 0;
	}
	if (a->ls)
		return schedule_report(a, fin, x);
	if (a->json) {
		sum = loadreport_json(fin, x);
		if (sum)
			json_dumpf(sum, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(sum);
	} else {
		loadreport_table(stdout, fin, x);
	}
	return fin->attempts && !fin->failures ? 0 : 1;
}

static void run_free(struct loadrun *a)
{
	loadstepper_free(a->ls);
	if (a->csv)
		fclose(a->csv);
	a->ctl = obj_deref(a->ctl);
	loadgen_free(a->lg);
	if (a->ev) {
		ev_timer_cancel(a->ev, &a->sec);
		ev_timer_cancel(a->ev, &a->end);
	}
	a->ev = obj_deref(a->ev);
	loadcred_passwords_free(&a->cfg);
	free(a);
}

int loadrun_exec(const struct loadopts *o, const char *me)
{
	struct loadrun *a = calloc(1, sizeof(*a));
	struct loadcount *fin = NULL;
	struct procstat ps_end;
	struct loadreport_ctx x;
	double secs, asked;
	int rc = 1;

	if (!a) {
		fprintf(stderr, "%s: out of memory\n", me);
		return 1;
	}
	a->me = me;
	a->cfg = o->cfg;
	a->sched = o->sched;
	a->duration = o->duration;
	a->control = o->control;
	a->json = o->json;
	rc = run_setup(a, o);
	if (rc)
		goto out;
	rc = 1;
	if (run_start(a))
		goto out;
	ev_run(a->ev);
	secs = loadgen_started(a->lg) ? secs_since(a->t0) : 0;
	asked = loadreport_pace_sends(&a->pace, ev_monotonic_ns());
	loadgen_stop(a->lg);
	if (a->tty && !a->control)
		fputc('\n', stderr);
	fin = malloc(sizeof(*fin));
	if (!fin)
		goto out;
	loadgen_snapshot(a->lg, fin);
	procstat_read(0, false, &ps_end);
	ctx_of(a, &x, secs, &a->ps0, &ps_end, true);
	x.asked = asked;
	rc = run_report(a, fin, &x);
out:
	free(fin);
	run_free(a);
	return rc;
}
