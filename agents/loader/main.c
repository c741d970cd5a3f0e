/*
 * loader: the UAC load generator.  Parses options, then either runs a
 * fixed-rate test and prints a summary (CLI) or obeys JSON-lines
 * commands on stdin (--control, docs/agents.md).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
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
#include "loadgen.h"
#include "loadout.h"
#include "log.h"
#include "obj.h"
#include "procstat.h"

struct app {
	struct loadgen_cfg cfg;
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
	struct loadgen_counts prev, step_base, cur, d;
	struct procstat ps_prev, ps_step, ps0;
	bool last_bound;
	double last_cpu;
};

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s --test "
		"register|reregister|options|invite|subscribe|"
		"publish --server "
		"udp:HOST:PORT "
		"--users A1000-A1999\n"
		"        --domain DOMAIN [--rate N] [--duration S] "
		"[--threads N] [--poisson]\n"
		"        [--max-outstanding N] [--expires S] [--password P "
		"(%%u = user)]\n"
		"        [--passwords FILE] [--preload-credentials] "
		"[--local IP] [--t1-ms N]\n"
		"        [--timer-b-ms N] [--drain-ms N] [--hold-ms N] "
		"[--tick-us N]\n"
		"        [--presentities B1000-B1099] [--refresh-s S] "
		"[--body-bytes N]\n"
		"        [--csv FILE] [--json] [--control] "
		"[--log-level err|warn|info|debug]\n"
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

static double secs_since(uint64_t t)
{
	return (double)(ev_monotonic_ns() - t) / 1e9;
}

/* Fills ctx for an interval and the CPU between two readings. */
static void ctx_of(struct app *a, struct loadout_ctx *x, double secs,
		   const struct procstat *p0, const struct procstat *p1,
		   bool cumulative)
{
	x->test = a->cfg.test;
	x->secs = secs;
	x->cpu = p0 && p1 ? procstat_cpu(p0, p1) : -1;
	x->threads = a->cfg.threads;
	x->cumulative = cumulative;
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
	struct loadout_ctx x;
	double t = secs_since(a->t0);

	sec_next(a);
	if (!a->lg || !loadgen_started(a->lg))
		return;
	if (procstat_read(0, false, &ps))
		ps = a->ps_prev;
	loadgen_snapshot(a->lg, &a->cur);
	if (loadgen_counts_diff(&a->d, &a->cur, &a->prev))
		return;
	ctx_of(a, &x, (double)(ps.t_ns - a->ps_prev.t_ns) / 1e9, &a->ps_prev,
	       &ps, false);
	a->last_bound = loadout_generator_bound(&a->d, &x);
	a->last_cpu = x.cpu;
	if (a->csv) {
		loadout_csv_row(a->csv, t, &a->d, &x);
		fflush(a->csv);
	}
	if (a->tty && !a->control)
		fprintf(stderr,
			"\r%6.1fs  %8.0f/s  ok %llu  fail %llu  retr %llu  "
			"p50 %.2f ms  p99 %.2f ms  cpu %3.0f%%%s   ",
			t, x.secs > 0 ? a->d.attempts / x.secs : 0.0,
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
	*result = json_pack("{sf}", "rate", rate);
	return 0;
}

/* The figures of the step that ends now; a new step starts. */
static int cmd_step(struct ctl *ctl, json_t *args, json_t **result,
		    const char **error, void *arg)
{
	struct app *a = arg;
	struct loadgen_counts *now = NULL, *d = NULL;
	struct procstat ps;
	struct loadout_ctx x;
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
	err = loadgen_counts_diff(d, now, &a->step_base);
	if (err)
		goto out;
	ctx_of(a, &x, secs_since(a->t_step), &a->ps_step, &ps, false);
	fig = loadout_json(d, &x);
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
	struct loadgen_counts *c = malloc(sizeof(*c));
	struct loadout_ctx x;
	json_t *fig;

	(void)ctl;
	if (!c)
		return;
	loadgen_snapshot(a->lg, c);
	ctx_of(a, &x, loadgen_started(a->lg) ? secs_since(a->t0) : 0, NULL,
	       NULL, true);
	fig = loadout_json(c, &x);
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
	OPT_HELP,
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
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static int parse(struct app *a, int argc, char **argv, const char **pwfile,
		 const char **csv)
{
	const char *me = argv[0];
	bool have_server = false, have_users = false, have_tick = false;
	unsigned long v;
	long n;
	int c;

	a->cfg.test = LOADGEN_REGISTER;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	a->cfg.threads = n > 0 ? (unsigned)n : 1;
	snprintf(a->cfg.domain, sizeof(a->cfg.domain), "example.com");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_TEST:
			if (loadgen_test_decode(optarg, &a->cfg.test))
				return bad(me, "--test", optarg);
			break;
		case OPT_SERVER:
			if (sip_tp_addr_decode(&a->cfg.server, NULL, optarg) ||
			    (a->cfg.server.proto != SIP_TP_UDP &&
			     a->cfg.server.proto != SIP_TP_TCP))
				return bad(me, "--server (udp:|tcp:HOST:PORT)",
					   optarg);
			have_server = true;
			break;
		case OPT_USERS:
			if (loadgen_users_parse(&a->cfg, optarg))
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
			struct loadgen_cfg p;

			memset(&p, 0, sizeof(p));
			if (loadgen_users_parse(&p, optarg) ||
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
	if (!a->control && (!(a->cfg.rate > 0) || !(a->duration > 0)))
		return bad(me, "options",
			   "--rate and --duration are required");
	/* Coalesced I/O keeps latencies exact only where the kernel
	 * stamps each arrival: UDP. */
	if (!have_tick)
		a->cfg.tick_us = a->cfg.server.proto == SIP_TP_UDP ? 1000 : 0;
	if ((uint64_t)a->cfg.ulast - a->cfg.ufirst + 1 < a->cfg.threads)
		a->cfg.threads = a->cfg.ulast - a->cfg.ufirst + 1;
	if (a->cfg.test == LOADGEN_PUBLISH && a->cfg.pres.body_bytes) {
		char user[LOADGEN_NAME_MAX * 2], uri[LOADGEN_NAME_MAX * 4];
		size_t min;

		/* the longest entity: the last user's */
		if (loadgen_user_name(&a->cfg, a->cfg.ulast, user,
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

/* The command line with --config expanded (see argcfg.h). */
static char **volatile config_argv;

int main(int argc, char **argv)
{
	static struct app app;
	struct app *a = &app;
	const char *pwfile = NULL, *csv = NULL;
	const int sigs[] = {SIGINT, SIGTERM};
	struct loadgen_counts *fin = NULL;
	struct procstat ps_end;
	struct loadout_ctx x;
	double secs;
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
		err = loadgen_passwords_load(&a->cfg, pwfile);
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
		loadout_csv_header(a->csv);
	}
	a->tty = isatty(STDERR_FILENO);
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
		ctl_event(a->ctl, "ready", ready);
		json_decref(ready);
	} else {
		a->t0 = ev_monotonic_ns();
		a->tick_k = 0;
		sec_next(a);
		timer_at(a, &a->end, a->t0 + (uint64_t)(a->duration * 1e9),
			 on_end);
		err = loadgen_start(a->lg, a->cfg.rate);
		if (err) {
			log_err("start: %s", strerror(err));
			goto out;
		}
	}
	ev_run(a->ev);
	secs = loadgen_started(a->lg) ? secs_since(a->t0) : 0;
	loadgen_stop(a->lg);
	if (a->tty && !a->control)
		fputc('\n', stderr);
	fin = malloc(sizeof(*fin));
	if (!fin)
		goto out;
	loadgen_snapshot(a->lg, fin);
	procstat_read(0, false, &ps_end);
	ctx_of(a, &x, secs, &a->ps0, &ps_end, true);
	if (a->control) {
		json_t *sum = loadout_json(fin, &x);

		ctl_event(a->ctl, "summary", sum);
		json_decref(sum);
		rc = 0;
	} else {
		if (a->json) {
			json_t *sum = loadout_json(fin, &x);

			if (sum)
				json_dumpf(sum, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			json_decref(sum);
		} else {
			loadout_table(stdout, fin, &x);
		}
		rc = fin->attempts && !fin->failures ? 0 : 1;
	}
out:
	free(fin);
	if (a->csv)
		fclose(a->csv);
	a->ctl = obj_deref(a->ctl);
	loadgen_free(a->lg);
	if (a->ev) {
		ev_timer_cancel(a->ev, &a->sec);
		ev_timer_cancel(a->ev, &a->end);
	}
	a->ev = obj_deref(a->ev);
	loadgen_passwords_free(&a->cfg);
	return rc;
}
