/*
 * loader: the UAC load generator.  Parses options, then either runs a
 * fixed-rate test and prints a summary (CLI) or obeys JSON-lines
 * commands on stdin (--control, docs/agents.md).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "loader"

#include "argcfg.h"
#include "ctl.h"
#include "ev.h"
#include "hist.h"
#include "loadcred.h"
#include "loadgen.h"
#include "loadpres.h"
#include "loadreport.h"
#include "loadstepper.h"
#include "log.h"
#include "obj.h"
#include "procstat.h"

struct app {
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
	bool last_bound;
	double last_cpu;
	/* the sends due (every rate change goes through pace), read at
	 * the last second's and the control step's start */
	struct loadreport_pace pace;
	double pace_sec, pace_step;
	unsigned cores;
	struct loadstepper_cfg sched; /* --ramp, --search */
	struct loadstepper *ls;
};

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s --test "
		"register|reregister|options|invite|mix|subscribe|publish "
		"--server udp:|tcp:|tls:HOST:PORT "
		"--users A1000-A1999\n"
		"        [--mix register=50,invite=30,options=20] "
		"[--register-users A2000-A2999]\n"
		"        --domain DOMAIN [--rate N] [--duration S] "
		"[--threads N] [--poisson]\n"
		"        [--max-outstanding N] [--expires S] [--password P "
		"(%%u = user)]\n"
		"        [--passwords FILE] [--preload-credentials] "
		"[--local IP] [--t1-ms N]\n"
		"        [--timer-b-ms N] [--drain-ms N] [--hold-ms N] "
		"[--tick-us N]\n"
		"        [--conn persistent[:N]|per-request] [--tls-ca FILE] "
		"[--tls-no-verify]\n"
		"        [--tls-name NAME] [--tls-cert FILE --tls-key FILE] "
		"[--tls-resume on|off]\n"
		"        [--presentities B1000-B1099] [--refresh-s S] "
		"[--body-bytes N]\n"
		"        [--csv FILE] [--json] [--control] "
		"[--log-level err|warn|info|debug]\n"
		"        instead of --rate/--duration: --ramp "
		"START,STEP,FINAL "
		"--step-s S [--warmup-s S]\n"
		"          [--success-percent P] [--ta-limit-ms MS] "
		"[--ta-p95-limit-ms MS]\n"
		"        or: --search rfc7502 [--trial-s S | --trial-attempts "
		"N] [--start-rate R]\n"
		"          [--max-trials K] [--granularity R] "
		"[--granularity-pct P] [--confirm-s S]\n"
		"   or: %s --config FILE.json [flags...]  (keys are the "
		"flags' names)\n",
		argv0, argv0);
}

static int bad(const char *argv0, const char *what, const char *val)
{
	fprintf(stderr, "%s: bad %s: %s\n", argv0, what, val ? val : "");
	return 2;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;
	unsigned long x;

	if (!s || !*s || *s == '-')
		return EINVAL;
	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || *end || x > max)
		return EINVAL;
	*v = x;
	return 0;
}

static int parse_double(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || *end || !(*v > 0) ? EINVAL : 0;
}

/* A number >= 0 (0 allowed, unlike parse_double). */
static int parse_nonneg(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !(*v >= 0) ? EINVAL : 0;
}

static double secs_since(uint64_t t)
{
	return (double)(ev_monotonic_ns() - t) / 1e9;
}

/* Fills ctx for an interval and the CPU between two readings. */
static void ctx_of(struct app *a, struct loadreport_ctx *x, double secs,
		   const struct procstat *p0, const struct procstat *p1,
		   bool cumulative)
{
	x->test = a->cfg.test;
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
static void timer_at(struct app *a, struct ev_timer *t, uint64_t due,
		     ev_timer_h *h)
{
	uint64_t now = ev_now(a->ev);

	ev_timer_start(a->ev, t, due > now ? due - now : 0, h, a);
}

static void on_second(void *arg);

static void sec_next(struct app *a)
{
	a->tick_k++;
	timer_at(a, &a->sec, a->t0 + a->tick_k * EV_MS(1000), on_second);
}

static void on_end(void *arg)
{
	struct app *a = arg;

	ev_stop(a->ev);
}

static void on_second(void *arg)
{
	struct app *a = arg;
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
	struct app *a = arg;

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

static void step_begin(struct app *a)
{
	a->pace_step = loadreport_pace_sends(&a->pace, ev_monotonic_ns());
	loadgen_snapshot(a->lg, &a->step_base);
	if (procstat_read(0, false, &a->ps_step))
		memset(&a->ps_step, 0, sizeof(a->ps_step));
	a->t_step = ev_monotonic_ns();
}

static int cmd_start(struct ctl *ctl, json_t *args, json_t **result,
		     const char **error, void *arg)
{
	struct app *a = arg;
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
	struct app *a = arg;
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

/* The figures of the step that ends now; a new step starts. */
static int cmd_step(struct ctl *ctl, json_t *args, json_t **result,
		    const char **error, void *arg)
{
	struct app *a = arg;
	struct loadcount *now = NULL, *d = NULL;
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
	if (!now || !d)
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
	*result = fig;
	a->step++;
	a->step_base = *now;
	a->ps_step = ps;
	a->t_step = ev_monotonic_ns();
	a->pace_step += x.asked;
out:
	free(now);
	free(d);
	if (err)
		*error = "step failed";
	return err;
}

static void stats_cb(struct ctl *ctl, json_t *stats, void *arg)
{
	struct app *a = arg;
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
	struct app *a = arg;

	(void)ctl;
	ev_stop(a->ev);
}

/* ---- options ---- */

enum {
	OPT_TEST = 256,
	OPT_SERVER,
	OPT_USERS,
	OPT_DOMAIN,
	OPT_RATE,
	OPT_DURATION,
	OPT_THREADS,
	OPT_POISSON,
	OPT_MAXOUT,
	OPT_EXPIRES,
	OPT_PASSWORD,
	OPT_PASSWORDS,
	OPT_PRELOAD,
	OPT_LOCAL,
	OPT_T1,
	OPT_TIMERB,
	OPT_DRAIN,
	OPT_HOLD,
	OPT_TICK,
	OPT_PRESENTITIES,
	OPT_REFRESH,
	OPT_BODY,
	OPT_CSV,
	OPT_JSON,
	OPT_CONTROL,
	OPT_LOGLEVEL,
	OPT_CONN,
	OPT_TLS_CA,
	OPT_TLS_NOVERIFY,
	OPT_TLS_NAME,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_RESUME,
	OPT_MIX,
	OPT_REG_USERS,
	OPT_HELP,
	/* schedules: schedule_opt() */
	OPT_RAMP,
	OPT_STEP_S,
	OPT_WARMUP_S,
	OPT_SUCCESS_PCT,
	OPT_TA_LIMIT,
	OPT_TA_P95_LIMIT,
	OPT_SEARCH,
	OPT_TRIAL_S,
	OPT_TRIAL_ATTEMPTS,
	OPT_START_RATE,
	OPT_MAX_TRIALS,
	OPT_GRANULARITY,
	OPT_GRANULARITY_PCT,
	OPT_CONFIRM_S,
};

static const struct option opts[] = {
	{"test", required_argument, NULL, OPT_TEST},
	{"server", required_argument, NULL, OPT_SERVER},
	{"users", required_argument, NULL, OPT_USERS},
	{"domain", required_argument, NULL, OPT_DOMAIN},
	{"rate", required_argument, NULL, OPT_RATE},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"poisson", no_argument, NULL, OPT_POISSON},
	{"max-outstanding", required_argument, NULL, OPT_MAXOUT},
	{"expires", required_argument, NULL, OPT_EXPIRES},
	{"password", required_argument, NULL, OPT_PASSWORD},
	{"passwords", required_argument, NULL, OPT_PASSWORDS},
	{"preload-credentials", no_argument, NULL, OPT_PRELOAD},
	{"local", required_argument, NULL, OPT_LOCAL},
	{"t1-ms", required_argument, NULL, OPT_T1},
	{"timer-b-ms", required_argument, NULL, OPT_TIMERB},
	{"drain-ms", required_argument, NULL, OPT_DRAIN},
	{"hold-ms", required_argument, NULL, OPT_HOLD},
	{"tick-us", required_argument, NULL, OPT_TICK},
	{"presentities", required_argument, NULL, OPT_PRESENTITIES},
	{"refresh-s", required_argument, NULL, OPT_REFRESH},
	{"body-bytes", required_argument, NULL, OPT_BODY},
	{"csv", required_argument, NULL, OPT_CSV},
	{"json", no_argument, NULL, OPT_JSON},
	{"control", no_argument, NULL, OPT_CONTROL},
	{"log-level", required_argument, NULL, OPT_LOGLEVEL},
	{"conn", required_argument, NULL, OPT_CONN},
	{"tls-ca", required_argument, NULL, OPT_TLS_CA},
	{"tls-no-verify", no_argument, NULL, OPT_TLS_NOVERIFY},
	{"tls-name", required_argument, NULL, OPT_TLS_NAME},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"tls-resume", required_argument, NULL, OPT_TLS_RESUME},
	{"mix", required_argument, NULL, OPT_MIX},
	{"register-users", required_argument, NULL, OPT_REG_USERS},
	{"help", no_argument, NULL, OPT_HELP},
	{"ramp", required_argument, NULL, OPT_RAMP},
	{"step-s", required_argument, NULL, OPT_STEP_S},
	{"warmup-s", required_argument, NULL, OPT_WARMUP_S},
	{"success-percent", required_argument, NULL, OPT_SUCCESS_PCT},
	{"ta-limit-ms", required_argument, NULL, OPT_TA_LIMIT},
	{"ta-p95-limit-ms", required_argument, NULL, OPT_TA_P95_LIMIT},
	{"search", required_argument, NULL, OPT_SEARCH},
	{"trial-s", required_argument, NULL, OPT_TRIAL_S},
	{"trial-attempts", required_argument, NULL, OPT_TRIAL_ATTEMPTS},
	{"start-rate", required_argument, NULL, OPT_START_RATE},
	{"max-trials", required_argument, NULL, OPT_MAX_TRIALS},
	{"granularity", required_argument, NULL, OPT_GRANULARITY},
	{"granularity-pct", required_argument, NULL, OPT_GRANULARITY_PCT},
	{"confirm-s", required_argument, NULL, OPT_CONFIRM_S},
	{NULL, 0, NULL, 0},
};

/* Which schedule options were given, for schedule_check(). */
struct sched_opts {
	bool ramp, step_s, warmup_s, criteria, search, trial_s, trial_n;
	bool search_only; /* --start-rate, --max-trials, ... */
};

/* "A,B,C": three rates > 0. */
static int parse_ramp(const char *s, struct sched_ramp_cfg *r)
{
	double v[3];
	char *end;
	int i;

	for (i = 0; i < 3; i++) {
		errno = 0;
		v[i] = strtod(s, &end);
		if (errno || end == s || !(v[i] >= 0) || v[i] > 1e7)
			return EINVAL;
		if (i < 2 && *end != ',')
			return EINVAL;
		s = end + 1;
	}
	if (*end || !(v[0] > 0) || v[2] < v[0] || (!(v[1] > 0) && v[2] > v[0]))
		return EINVAL;
	r->start = v[0];
	r->step = v[1];
	r->final = v[2];
	return 0;
}

/*
 * The schedule options (--ramp, --search and theirs): 0, 2 (bad value,
 * said on stderr) or -1 when c is not one of them.
 */
static int schedule_opt(struct app *a, struct sched_opts *o, int c,
			const char *me)
{
	struct loadstepper_cfg *k = &a->sched;
	unsigned long v;
	double d;

	switch (c) {
	case OPT_RAMP:
		if (parse_ramp(optarg, &k->ramp))
			return bad(me, "--ramp (START,STEP,FINAL)", optarg);
		o->ramp = true;
		return 0;
	case OPT_STEP_S:
		if (parse_double(optarg, &k->step_s) || k->step_s > 86400)
			return bad(me, "--step-s", optarg);
		o->step_s = true;
		return 0;
	case OPT_WARMUP_S:
		if (parse_nonneg(optarg, &d) || d > 3600)
			return bad(me, "--warmup-s", optarg);
		k->warmup_s = d;
		o->warmup_s = true;
		return 0;
	case OPT_SUCCESS_PCT:
		if (parse_double(optarg, &d) || d > 100)
			return bad(me, "--success-percent (0, 100]", optarg);
		k->ramp.success_pct = d;
		o->criteria = true;
		return 0;
	case OPT_TA_LIMIT:
	case OPT_TA_P95_LIMIT:
		if (parse_uint(optarg, 3600000, &v) || !v)
			return bad(me,
				   c == OPT_TA_LIMIT ? "--ta-limit-ms"
						     : "--ta-p95-limit-ms",
				   optarg);
		if (c == OPT_TA_LIMIT)
			k->ramp.ta_mean_limit_ms = (double)v;
		else
			k->ramp.ta_p95_limit_ms = (double)v;
		o->criteria = true;
		return 0;
	case OPT_SEARCH:
		if (strcmp(optarg, "rfc7502"))
			return bad(me, "--search (rfc7502)", optarg);
		o->search = true;
		return 0;
	case OPT_TRIAL_S:
		if (parse_double(optarg, &k->trial_s) || k->trial_s > 86400)
			return bad(me, "--trial-s", optarg);
		o->trial_s = true;
		return 0;
	case OPT_TRIAL_ATTEMPTS:
		if (parse_uint(optarg, 1000000000, &v) || !v)
			return bad(me, "--trial-attempts", optarg);
		k->trial_attempts = v;
		o->trial_n = true;
		return 0;
	case OPT_START_RATE:
		if (parse_double(optarg, &d) || d > 1e7)
			return bad(me, "--start-rate", optarg);
		k->search.start_rate = d;
		break;
	case OPT_MAX_TRIALS:
		if (parse_uint(optarg, SCHED_TRIALS_MAX, &v) || !v)
			return bad(me, "--max-trials (1-256)", optarg);
		k->search.max_trials = (unsigned)v;
		break;
	case OPT_GRANULARITY:
		if (parse_double(optarg, &d))
			return bad(me, "--granularity", optarg);
		k->search.granularity = d;
		break;
	case OPT_GRANULARITY_PCT:
		if (parse_nonneg(optarg, &d) || d >= 100)
			return bad(me, "--granularity-pct [0, 100)", optarg);
		k->search.granularity_pct = d;
		break;
	case OPT_CONFIRM_S:
		if (parse_double(optarg, &k->confirm_s) ||
		    k->confirm_s > 86400)
			return bad(me, "--confirm-s", optarg);
		k->search.confirm = true;
		break;
	default:
		return -1;
	}
	o->search_only = true;
	return 0;
}

/* Combinations that make no sense: one line, exit status 2. */
static int schedule_check(struct app *a, const struct sched_opts *o,
			  const char *me)
{
	struct loadstepper_cfg *k = &a->sched;
	const char *why = NULL;

	if (o->ramp && o->search)
		why = "--ramp and --search exclude each other";
	else if ((o->ramp || o->search) && a->control)
		why = "--ramp and --search are for the command line, not "
		      "--control (the orchestrator runs its own schedule)";
	else if ((o->ramp || o->search) && a->cfg.rate > 0)
		why = o->ramp ? "--ramp sets the rates: no --rate"
			      : "--search sets the rates: no --rate (use "
				"--start-rate)";
	else if ((o->ramp || o->search) && a->duration > 0)
		why = o->ramp ? "--ramp steps last --step-s: no --duration"
			      : "--search trials last --trial-s or "
				"--trial-attempts: no --duration";
	else if (o->ramp && !o->step_s)
		why = "--ramp needs --step-s";
	else if (!o->ramp && (o->step_s || o->warmup_s || o->criteria))
		why = "--step-s, --warmup-s, --success-percent and the "
		      "turnaround limits belong to --ramp";
	else if (o->ramp && (o->trial_s || o->trial_n || o->search_only))
		why = "the trial options belong to --search";
	else if (!o->search && (o->trial_s || o->trial_n || o->search_only))
		why = "--trial-s, --trial-attempts, --start-rate, "
		      "--max-trials, --granularity and --confirm-s belong "
		      "to --search";
	else if (o->trial_s && o->trial_n)
		why = "--trial-s and --trial-attempts exclude each other";
	if (why) {
		fprintf(stderr, "%s: %s\n", me, why);
		return 2;
	}
	if (o->ramp)
		k->kind = LOADSTEPPER_RAMP;
	else if (o->search)
		k->kind = LOADSTEPPER_RFC7502;
	/* RFC 7502 Appendix A: trials of 50,000 attempts */
	if (o->search && !o->trial_s && !o->trial_n)
		k->trial_attempts = 50000;
	return 0;
}

/* The schedules' defaults: the seed's criteria, the RFC's search. */
static void schedule_defaults(struct app *a)
{
	struct loadstepper_cfg *k = &a->sched;

	memset(k, 0, sizeof(*k));
	k->ramp.success_pct = 50;
	k->ramp.ta_mean_limit_ms = 1000;
	k->warmup_s = 2;
	sched_rfc7502_defaults(&k->search);
}

static int parse(struct app *a, int argc, char **argv, const char **pwfile,
		 const char **csv)
{
	struct sched_opts so = {0};
	const char *me = argv[0], *mix = NULL, *reg_users = NULL;
	char why[160];
	bool have_server = false, have_users = false, have_tick = false;
	bool have_name = false;
	struct pl host = PL_INIT;
	unsigned long v;
	long n;
	int c;

	a->cfg.test = LOADCFG_REGISTER;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	a->cfg.threads = n > 0 ? (unsigned)n : 1;
	snprintf(a->cfg.domain, sizeof(a->cfg.domain), "example.com");
	schedule_defaults(a);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int r = schedule_opt(a, &so, c, me);

		if (r >= 0) {
			if (r)
				return r;
			continue;
		}
		switch (c) {
		case OPT_TEST:
			if (loadcfg_test_decode(optarg, &a->cfg.test))
				return bad(me, "--test", optarg);
			break;
		case OPT_SERVER:
			if (sip_tp_addr_decode(&a->cfg.server, &host, optarg))
				return bad(me,
					   "--server "
					   "(udp:|tcp:|tls:HOST:PORT)",
					   optarg);
			have_server = true;
			break;
		case OPT_USERS:
			if (loadcfg_users_parse(&a->cfg, optarg))
				return bad(me, "--users (e.g. A1000-A1999)",
					   optarg);
			have_users = true;
			break;
		case OPT_DOMAIN:
			if (!*optarg ||
			    strlen(optarg) >= sizeof(a->cfg.domain))
				return bad(me, "--domain", optarg);
			snprintf(a->cfg.domain, sizeof(a->cfg.domain), "%s",
				 optarg);
			break;
		case OPT_RATE:
			if (parse_double(optarg, &a->cfg.rate) ||
			    a->cfg.rate > 1e7)
				return bad(me, "--rate", optarg);
			break;
		case OPT_DURATION:
			if (parse_double(optarg, &a->duration))
				return bad(me, "--duration", optarg);
			break;
		case OPT_THREADS:
			if (parse_uint(optarg, 256, &v) || !v)
				return bad(me, "--threads", optarg);
			a->cfg.threads = (unsigned)v;
			break;
		case OPT_POISSON:
			a->cfg.poisson = true;
			break;
		case OPT_MAXOUT:
			if (parse_uint(optarg, UINT32_MAX, &v))
				return bad(me, "--max-outstanding", optarg);
			a->cfg.max_outstanding = (uint32_t)v;
			break;
		case OPT_EXPIRES:
			if (parse_uint(optarg, UINT32_MAX, &v))
				return bad(me, "--expires", optarg);
			a->cfg.expires = (uint32_t)v;
			break;
		case OPT_PASSWORD:
			if (strlen(optarg) >= sizeof(a->cfg.password))
				return bad(me, "--password", "too long");
			snprintf(a->cfg.password, sizeof(a->cfg.password),
				 "%s", optarg);
			break;
		case OPT_PASSWORDS:
			*pwfile = optarg;
			break;
		case OPT_PRELOAD:
			a->cfg.preload = true;
			break;
		case OPT_LOCAL:
			if (!*optarg ||
			    strlen(optarg) >= sizeof(a->cfg.local_ip))
				return bad(me, "--local", optarg);
			snprintf(a->cfg.local_ip, sizeof(a->cfg.local_ip),
				 "%s", optarg);
			break;
		case OPT_T1:
			if (parse_uint(optarg, 60000, &v) || !v)
				return bad(me, "--t1-ms", optarg);
			a->cfg.t1_ms = (uint32_t)v;
			break;
		case OPT_TIMERB:
			if (parse_uint(optarg, 3600000, &v) || !v)
				return bad(me, "--timer-b-ms", optarg);
			a->cfg.timer_b_ms = (uint32_t)v;
			break;
		case OPT_DRAIN:
			if (parse_uint(optarg, 3600000, &v) || !v)
				return bad(me, "--drain-ms", optarg);
			a->cfg.drain_ms = (uint32_t)v;
			break;
		case OPT_HOLD:
			if (parse_uint(optarg, 3600000, &v))
				return bad(me, "--hold-ms", optarg);
			a->cfg.hold_ms = (uint32_t)v;
			break;
		case OPT_TICK:
			if (parse_uint(optarg, 100000, &v))
				return bad(me, "--tick-us", optarg);
			a->cfg.tick_us = (uint32_t)v;
			have_tick = true;
			break;
		case OPT_PRESENTITIES: {
			struct loadcfg p;

			memset(&p, 0, sizeof(p));
			if (loadcfg_users_parse(&p, optarg) ||
			    strlen(p.prefix) >= sizeof(a->cfg.pres.prefix))
				return bad(me,
					   "--presentities (e.g. "
					   "B1000-B1099)",
					   optarg);
			a->cfg.pres.set = true;
			snprintf(a->cfg.pres.prefix,
				 sizeof(a->cfg.pres.prefix), "%s", p.prefix);
			a->cfg.pres.first = p.ufirst;
			a->cfg.pres.last = p.ulast;
			a->cfg.pres.width = p.width;
			break;
		}
		case OPT_REFRESH:
			if (parse_uint(optarg, 86400, &v) || !v)
				return bad(me, "--refresh-s", optarg);
			a->cfg.pres.refresh_s = (uint32_t)v;
			break;
		case OPT_BODY:
			if (parse_uint(optarg, 60000, &v))
				return bad(me, "--body-bytes (<= 60000)",
					   optarg);
			a->cfg.pres.body_bytes = (uint32_t)v;
			break;
		case OPT_CSV:
			*csv = optarg;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_CONTROL:
			a->control = true;
			break;
		case OPT_LOGLEVEL: {
			enum log_level l;

			if (log_level_decode(optarg, &l))
				return bad(me, "--log-level", optarg);
			log_set_level(l);
			break;
		}
		case OPT_CONN:
			if (loadcfg_conn_decode(&a->cfg, optarg))
				return bad(me,
					   "--conn (persistent[:N] or "
					   "per-request)",
					   optarg);
			break;
		case OPT_TLS_CA:
			a->cfg.tls_ca = optarg;
			break;
		case OPT_TLS_NOVERIFY:
			a->cfg.tls_no_verify = true;
			break;
		case OPT_TLS_NAME:
			if (strlen(optarg) >= sizeof(a->cfg.tls_name))
				return bad(me, "--tls-name", "too long");
			snprintf(a->cfg.tls_name, sizeof(a->cfg.tls_name),
				 "%s", optarg);
			have_name = true;
			break;
		case OPT_TLS_CERT:
			a->cfg.tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			a->cfg.tls_key = optarg;
			break;
		case OPT_TLS_RESUME:
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				return bad(me, "--tls-resume (on|off)",
					   optarg);
			a->cfg.tls_no_resume = !strcmp(optarg, "off");
			break;
		case OPT_MIX:
			mix = optarg;
			break;
		case OPT_REG_USERS:
			reg_users = optarg;
			break;
		case OPT_HELP:
			usage(stdout, me);
			exit(0);
		default:
			fprintf(stderr,
				"%s: unknown or incomplete option %s\n", me,
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc)
		return bad(me, "argument", argv[optind]);
	if (!have_server)
		return bad(me, "options", "--server is required");
	if (!have_users)
		return bad(me, "options", "--users is required");
	if (schedule_check(a, &so, me))
		return 2;
	if (!a->control && a->sched.kind == LOADSTEPPER_NONE &&
	    (!(a->cfg.rate > 0) || !(a->duration > 0)))
		return bad(me, "options",
			   "--rate and --duration are required (or --ramp, "
			   "--search)");
	/* Coalesced I/O keeps latencies exact only where the kernel
	 * stamps each arrival: UDP. */
	if (!have_tick)
		a->cfg.tick_us = a->cfg.server.proto == SIP_TP_UDP ? 1000 : 0;
	if ((uint64_t)a->cfg.ulast - a->cfg.ufirst + 1 < a->cfg.threads)
		a->cfg.threads = a->cfg.ulast - a->cfg.ufirst + 1;
	if (!a->cfg.tls_cert != !a->cfg.tls_key)
		return bad(me, "options",
			   "--tls-cert and --tls-key go together");
	/* The name verified is the server's host unless told otherwise
	 * (an IP address is matched against the certificate's IPs). */
	if (!have_name &&
	    pl_strcpy(&host, a->cfg.tls_name, sizeof(a->cfg.tls_name)))
		a->cfg.tls_name[0] = '\0';
	/* A pool smaller than the threads: fewer threads, one each. */
	if (a->cfg.server.proto != SIP_TP_UDP &&
	    a->cfg.conn == LOADCFG_CONN_PERSISTENT && a->cfg.conns &&
	    a->cfg.conns < a->cfg.threads)
		a->cfg.threads = a->cfg.conns;
	/* after --users: the register users must share its form */
	if (mix && a->cfg.test != LOADCFG_MIX)
		return bad(me, "--mix", "needs --test mix");
	if (mix && loadcfg_mix_parse(&a->cfg, mix, why, sizeof(why)))
		return bad(me, "--mix", why);
	if (reg_users && loadcfg_reg_users_parse(&a->cfg, reg_users))
		return bad(me,
			   "--register-users (the --users' prefix and digits)",
			   reg_users);
	if (reg_users && *pwfile)
		return bad(me, "--register-users",
			   "not with --passwords (use --password)");
	if (loadcfg_mix_check(&a->cfg, why, sizeof(why)))
		return bad(me, "options", why);
	if (a->cfg.test == LOADCFG_PUBLISH && a->cfg.pres.body_bytes) {
		char user[LOADCFG_NAME_MAX * 2], uri[LOADCFG_NAME_MAX * 4];
		size_t min;

		/* the longest entity: the last user's */
		if (loadcfg_user_name(&a->cfg, a->cfg.ulast, user,
				      sizeof(user)))
			return bad(me, "--users", "names too long");
		snprintf(uri, sizeof(uri), "sip:%s@%s", user, a->cfg.domain);
		min = loadpres_body_min(uri);
		if (a->cfg.pres.body_bytes < min) {
			fprintf(stderr, "%s: --body-bytes: at least %zu\n", me,
				min);
			return 2;
		}
	}
	return 0;
}

/* ---- standalone schedules (--ramp, --search) ---- */

static int schedule_start(struct app *a)
{
	struct loadreport_ctx base;
	uint32_t t1 = a->cfg.t1_ms ? a->cfg.t1_ms : 500;
	int err;

	/* every attempt has its outcome by Timer B/F (and a call by its
	 * hold and BYE too) */
	a->sched.settle_ms =
		(a->cfg.timer_b_ms ? a->cfg.timer_b_ms : 64 * t1) +
		(a->cfg.test == LOADCFG_INVITE ? a->cfg.hold_ms + 64 * t1
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
static int schedule_report(struct app *a, const struct loadcount *fin,
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

/* The command line with --config expanded (see argcfg.h). */
static char **volatile config_argv;

int main(int argc, char **argv)
{
	static struct app app;
	struct app *a = &app;
	const char *pwfile = NULL, *csv = NULL;
	const int sigs[] = {SIGINT, SIGTERM};
	struct loadcount *fin = NULL;
	struct procstat ps_end;
	struct loadreport_ctx x;
	double secs, asked;
	int err, rc = 1;

	{
		char why[600];
		int xargc;
		char **xargv;

		/* --config FILE.json: its keys are these flags' names. */
		if (argcfg_expand(argc, argv, &xargc, &xargv, why,
				  sizeof(why))) {
			fprintf(stderr, "%s: %s\n", argv[0], why);
			return 2;
		}
		/* Kept for the process's life, reachable from a static so
		 * that leak checkers do not count it. */
		config_argv = xargv;
		argc = xargc;
		argv = xargv;
	}
	err = parse(a, argc, argv, &pwfile, &csv);
	if (err)
		return err;
	/*
	 * Transactions come and go by the thousand per second and live
	 * for Timer K: the heap grows for seconds and then turns over.
	 * The threads' own arenas grow a page per mprotect (5% of the CPU
	 * in a 10 s run); one arena grows by M_TOP_PAD per brk, and keeps
	 * what is freed instead of trimming and growing again.  The
	 * threads' caches (tcache) keep the shared arena's lock rare.
	 */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_TOP_PAD, 64 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
	if (pwfile) {
		err = loadcred_passwords_load(&a->cfg, pwfile);
		if (err) {
			fprintf(stderr, "%s: --passwords %s: %s\n", argv[0],
				pwfile, strerror(err));
			return 2;
		}
	}
	if (csv) {
		a->csv = fopen(csv, "w");
		if (!a->csv) {
			fprintf(stderr, "%s: --csv %s: %s\n", argv[0], csv,
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
		goto out;
	}
	err = loadgen_alloc(&a->lg, &a->cfg);
	if (err) {
		log_err("cannot start the loader: %s", strerror(err));
		goto out;
	}
	procstat_read(0, false, &a->ps0);
	a->ps_prev = a->ps0;
	loadgen_snapshot(a->lg, &a->prev);
	a->t0 = ev_monotonic_ns();
	sec_next(a);
	if (a->control) {
		struct sip_tp_addr l;
		char s[SIP_TP_ADDR_STRLEN];
		json_t *ready, *locals = json_array();
		unsigned i;

		err = ctl_alloc(&a->ctl, a->ev, STDIN_FILENO, STDOUT_FILENO,
				"loader", on_ctl_stop, a);
		if (!err)
			err = ctl_command(a->ctl, "start", cmd_start, a);
		if (!err)
			err = ctl_command(a->ctl, "set-rate", cmd_set_rate, a);
		if (!err)
			err = ctl_command(a->ctl, "step", cmd_step, a);
		if (err) {
			json_decref(locals);
			log_err("control channel: %s", strerror(err));
			goto out;
		}
		ctl_stats_source(a->ctl, stats_cb, a);
		for (i = 0; !loadgen_local(a->lg, i, &l); i++)
			if (!sip_tp_addr_print(&l, s, sizeof(s)))
				json_array_append_new(locals, json_string(s));
		ready = json_pack("{sIsIso}", "pid", (json_int_t)getpid(),
				  "threads", (json_int_t)a->cfg.threads,
				  "local", locals);
		/* TCP/TLS: the pool (if any) is up by now */
		if (ready && a->cfg.server.proto != SIP_TP_UDP)
			json_object_set_new(
				ready, "conn",
				json_string(loadcfg_conn_name(a->cfg.conn)));
		ctl_event(a->ctl, "ready", ready);
		json_decref(ready);
	} else if (a->sched.kind != LOADSTEPPER_NONE) {
		a->t0 = ev_monotonic_ns();
		a->tick_k = 0;
		sec_next(a);
		err = schedule_start(a);
		if (err)
			goto out;
	} else {
		a->t0 = ev_monotonic_ns();
		a->tick_k = 0;
		sec_next(a);
		timer_at(a, &a->end, a->t0 + (uint64_t)(a->duration * 1e9),
			 on_end);
		err = loadgen_start_for(a->lg, a->cfg.rate, a->t0,
					a->duration);
		if (err) {
			log_err("start: %s", strerror(err));
			goto out;
		}
		loadreport_pace_set(&a->pace, a->cfg.rate, ev_monotonic_ns());
	}
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
	if (a->control) {
		json_t *sum = loadreport_json(fin, &x);

		ctl_event(a->ctl, "summary", sum);
		json_decref(sum);
		rc = 0;
	} else if (a->ls) {
		rc = schedule_report(a, fin, &x);
	} else {
		if (a->json) {
			json_t *sum = loadreport_json(fin, &x);

			if (sum)
				json_dumpf(sum, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			json_decref(sum);
		} else {
			loadreport_table(stdout, fin, &x);
		}
		rc = fin->attempts && !fin->failures ? 0 : 1;
	}
out:
	free(fin);
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
	return rc;
}
