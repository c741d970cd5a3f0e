/*
 * loadopts.c - the loader's command line (see loadopts.h).
 */
#include "loadopts.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loadpres.h"
#include "log.h"
#include "pl.h"
#include "schedule.h"
#include "version.h"

void loadopts_usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s --test "
		"register|reregister|options|invite|mix|subscribe|publish|"
		"redirect|proxy480|proxy486 "
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
		"        [--hold fixed:MS|exp:MEAN_MS] "
		"[--arrivals poisson|uniform]\n"
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
		"flags' names)\n"
		"   or: %s --version | --help\n",
		argv0, argv0, argv0);
}

static int bad_option(const char *argv0, const char *what, const char *val)
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
	OPT_HOLD_DIST,
	OPT_ARRIVALS,
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
	OPT_VERSION,
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
	{"hold", required_argument, NULL, OPT_HOLD_DIST},
	{"arrivals", required_argument, NULL, OPT_ARRIVALS},
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
	{"version", no_argument, NULL, OPT_VERSION},
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
static int schedule_opt(struct loadopts *o, struct sched_opts *so, int c,
			const char *me)
{
	struct loadstepper_cfg *k = &o->sched;
	unsigned long v;
	double d;

	switch (c) {
	case OPT_RAMP:
		if (parse_ramp(optarg, &k->ramp))
			return bad_option(me, "--ramp (START,STEP,FINAL)",
					  optarg);
		so->ramp = true;
		return 0;
	case OPT_STEP_S:
		if (parse_double(optarg, &k->step_s) || k->step_s > 86400)
			return bad_option(me, "--step-s", optarg);
		so->step_s = true;
		return 0;
	case OPT_WARMUP_S:
		if (parse_nonneg(optarg, &d) || d > 3600)
			return bad_option(me, "--warmup-s", optarg);
		k->warmup_s = d;
		so->warmup_s = true;
		return 0;
	case OPT_SUCCESS_PCT:
		if (parse_double(optarg, &d) || d > 100)
			return bad_option(me, "--success-percent (0, 100]",
					  optarg);
		k->ramp.success_pct = d;
		so->criteria = true;
		return 0;
	case OPT_TA_LIMIT:
	case OPT_TA_P95_LIMIT:
		if (parse_uint(optarg, 3600000, &v) || !v)
			return bad_option(me,
					  c == OPT_TA_LIMIT ? "--ta-limit-ms"
							    : "--ta-p95-limit-"
							      "ms",
					  optarg);
		if (c == OPT_TA_LIMIT)
			k->ramp.ta_mean_limit_ms = (double)v;
		else
			k->ramp.ta_p95_limit_ms = (double)v;
		so->criteria = true;
		return 0;
	case OPT_SEARCH:
		if (strcmp(optarg, "rfc7502"))
			return bad_option(me, "--search (rfc7502)", optarg);
		so->search = true;
		return 0;
	case OPT_TRIAL_S:
		if (parse_double(optarg, &k->trial_s) || k->trial_s > 86400)
			return bad_option(me, "--trial-s", optarg);
		so->trial_s = true;
		return 0;
	case OPT_TRIAL_ATTEMPTS:
		if (parse_uint(optarg, 1000000000, &v) || !v)
			return bad_option(me, "--trial-attempts", optarg);
		k->trial_attempts = v;
		so->trial_n = true;
		return 0;
	case OPT_START_RATE:
		if (parse_double(optarg, &d) || d > 1e7)
			return bad_option(me, "--start-rate", optarg);
		k->search.start_rate = d;
		break;
	case OPT_MAX_TRIALS:
		if (parse_uint(optarg, SCHED_TRIALS_MAX, &v) || !v)
			return bad_option(me, "--max-trials (1-256)", optarg);
		k->search.max_trials = (unsigned)v;
		break;
	case OPT_GRANULARITY:
		if (parse_double(optarg, &d))
			return bad_option(me, "--granularity", optarg);
		k->search.granularity = d;
		break;
	case OPT_GRANULARITY_PCT:
		if (parse_nonneg(optarg, &d) || d >= 100)
			return bad_option(me, "--granularity-pct [0, 100)",
					  optarg);
		k->search.granularity_pct = d;
		break;
	case OPT_CONFIRM_S:
		if (parse_double(optarg, &k->confirm_s) ||
		    k->confirm_s > 86400)
			return bad_option(me, "--confirm-s", optarg);
		k->search.confirm = true;
		break;
	default:
		return -1;
	}
	so->search_only = true;
	return 0;
}

/* Combinations that make no sense: one line, exit status 2. */
static int schedule_check(struct loadopts *o, const struct sched_opts *so,
			  const char *me)
{
	struct loadstepper_cfg *k = &o->sched;
	const char *why = NULL;

	if (so->ramp && so->search)
		why = "--ramp and --search exclude each other";
	else if ((so->ramp || so->search) && o->control)
		why = "--ramp and --search are for the command line, not "
		      "--control (the orchestrator runs its own schedule)";
	else if ((so->ramp || so->search) && o->cfg.rate > 0)
		why = so->ramp ? "--ramp sets the rates: no --rate"
			       : "--search sets the rates: no --rate (use "
				 "--start-rate)";
	else if ((so->ramp || so->search) && o->duration > 0)
		why = so->ramp ? "--ramp steps last --step-s: no --duration"
			       : "--search trials last --trial-s or "
				 "--trial-attempts: no --duration";
	else if (so->ramp && !so->step_s)
		why = "--ramp needs --step-s";
	else if (!so->ramp && (so->step_s || so->warmup_s || so->criteria))
		why = "--step-s, --warmup-s, --success-percent and the "
		      "turnaround limits belong to --ramp";
	else if (so->ramp && (so->trial_s || so->trial_n || so->search_only))
		why = "the trial options belong to --search";
	else if (!so->search &&
		 (so->trial_s || so->trial_n || so->search_only))
		why = "--trial-s, --trial-attempts, --start-rate, "
		      "--max-trials, --granularity and --confirm-s belong "
		      "to --search";
	else if (so->trial_s && so->trial_n)
		why = "--trial-s and --trial-attempts exclude each other";
	if (why) {
		fprintf(stderr, "%s: %s\n", me, why);
		return 2;
	}
	if (so->ramp)
		k->kind = LOADSTEPPER_RAMP;
	else if (so->search)
		k->kind = LOADSTEPPER_RFC7502;
	/* RFC 7502 Appendix A: trials of 50,000 attempts */
	if (so->search && !so->trial_s && !so->trial_n)
		k->trial_attempts = 50000;
	return 0;
}

/* The schedules' defaults: the seed's criteria, the RFC's search. */
static void schedule_defaults(struct loadopts *o)
{
	struct loadstepper_cfg *k = &o->sched;

	memset(k, 0, sizeof(*k));
	k->ramp.success_pct = 50;
	k->ramp.ta_mean_limit_ms = 1000;
	k->warmup_s = 2;
	sched_rfc7502_defaults(&k->search);
}

/* What the option loop saw, for the checks after it. */
struct seen {
	struct sched_opts so;
	bool server, users, tick, name;
	struct pl host; /* --server's host, for --tls-name */
	const char *mix, *reg_users;
};

/*
 * The engine's options (test, server, users, pace, timers): 0, 2 (bad
 * value, said on stderr) or -1 when c is not one of them.
 */
static int engine_opt(struct loadopts *o, struct seen *s, int c,
		      const char *me)
{
	unsigned long v;

	switch (c) {
	case OPT_TEST:
		if (loadcfg_test_parse(&o->cfg, optarg))
			return bad_option(me, "--test", optarg);
		break;
	case OPT_SERVER:
		if (sip_tp_addr_decode(&o->cfg.server, &s->host, optarg))
			return bad_option(me,
					  "--server "
					  "(udp:|tcp:|tls:HOST:PORT)",
					  optarg);
		s->server = true;
		break;
	case OPT_USERS:
		if (loadcfg_users_parse(&o->cfg, optarg))
			return bad_option(me, "--users (e.g. A1000-A1999)",
					  optarg);
		s->users = true;
		break;
	case OPT_DOMAIN:
		if (!*optarg || strlen(optarg) >= sizeof(o->cfg.domain))
			return bad_option(me, "--domain", optarg);
		snprintf(o->cfg.domain, sizeof(o->cfg.domain), "%s", optarg);
		break;
	case OPT_RATE:
		if (parse_double(optarg, &o->cfg.rate) || o->cfg.rate > 1e7)
			return bad_option(me, "--rate", optarg);
		break;
	case OPT_DURATION:
		if (parse_double(optarg, &o->duration))
			return bad_option(me, "--duration", optarg);
		break;
	case OPT_THREADS:
		if (parse_uint(optarg, 256, &v) || !v)
			return bad_option(me, "--threads", optarg);
		o->cfg.threads = (unsigned)v;
		break;
	case OPT_POISSON:
		o->cfg.poisson = true;
		break;
	case OPT_MAXOUT:
		if (parse_uint(optarg, UINT32_MAX, &v))
			return bad_option(me, "--max-outstanding", optarg);
		o->cfg.max_outstanding = (uint32_t)v;
		break;
	case OPT_EXPIRES:
		if (parse_uint(optarg, UINT32_MAX, &v))
			return bad_option(me, "--expires", optarg);
		o->cfg.expires = (uint32_t)v;
		break;
	case OPT_PASSWORD:
		if (strlen(optarg) >= sizeof(o->cfg.password))
			return bad_option(me, "--password", "too long");
		snprintf(o->cfg.password, sizeof(o->cfg.password), "%s",
			 optarg);
		break;
	case OPT_PASSWORDS:
		o->pwfile = optarg;
		break;
	case OPT_PRELOAD:
		o->cfg.preload = true;
		break;
	case OPT_LOCAL:
		if (!*optarg || strlen(optarg) >= sizeof(o->cfg.local_ip))
			return bad_option(me, "--local", optarg);
		snprintf(o->cfg.local_ip, sizeof(o->cfg.local_ip), "%s",
			 optarg);
		break;
	case OPT_T1:
		if (parse_uint(optarg, 60000, &v) || !v)
			return bad_option(me, "--t1-ms", optarg);
		o->cfg.t1_ms = (uint32_t)v;
		break;
	case OPT_TIMERB:
		if (parse_uint(optarg, 3600000, &v) || !v)
			return bad_option(me, "--timer-b-ms", optarg);
		o->cfg.timer_b_ms = (uint32_t)v;
		break;
	case OPT_DRAIN:
		if (parse_uint(optarg, 3600000, &v) || !v)
			return bad_option(me, "--drain-ms", optarg);
		o->cfg.drain_ms = (uint32_t)v;
		break;
	case OPT_HOLD:
		if (parse_uint(optarg, 3600000, &v))
			return bad_option(me, "--hold-ms", optarg);
		o->cfg.hold_ms = (uint32_t)v;
		o->cfg.hold_exp = false;
		break;
	case OPT_HOLD_DIST:
		if (loadcfg_hold_decode(&o->cfg, optarg))
			return bad_option(me,
					  "--hold (fixed:MS or exp:MEAN_MS)",
					  optarg);
		break;
	case OPT_ARRIVALS:
		/* SIPstone's random call arrivals: a Poisson process */
		if (strcmp(optarg, "poisson") && strcmp(optarg, "uniform"))
			return bad_option(me, "--arrivals (poisson|uniform)",
					  optarg);
		o->cfg.poisson = !strcmp(optarg, "poisson");
		break;
	case OPT_TICK:
		if (parse_uint(optarg, 100000, &v))
			return bad_option(me, "--tick-us", optarg);
		o->cfg.tick_us = (uint32_t)v;
		s->tick = true;
		break;
	default:
		return -1;
	}
	return 0;
}

/*
 * The presence, output, connection and mix options: 0, 2 (bad value,
 * said on stderr) or -1 when c is not one of them.
 */
static int other_opt(struct loadopts *o, struct seen *s, int c, const char *me)
{
	enum log_level level;
	unsigned long v;

	switch (c) {
	case OPT_PRESENTITIES: {
		struct loadcfg p;

		memset(&p, 0, sizeof(p));
		if (loadcfg_users_parse(&p, optarg) ||
		    strlen(p.prefix) >= sizeof(o->cfg.pres.prefix))
			return bad_option(me,
					  "--presentities (e.g. "
					  "B1000-B1099)",
					  optarg);
		o->cfg.pres.set = true;
		snprintf(o->cfg.pres.prefix, sizeof(o->cfg.pres.prefix), "%s",
			 p.prefix);
		o->cfg.pres.first = p.ufirst;
		o->cfg.pres.last = p.ulast;
		o->cfg.pres.width = p.width;
		break;
	}
	case OPT_REFRESH:
		if (parse_uint(optarg, 86400, &v) || !v)
			return bad_option(me, "--refresh-s", optarg);
		o->cfg.pres.refresh_s = (uint32_t)v;
		break;
	case OPT_BODY:
		if (parse_uint(optarg, 60000, &v))
			return bad_option(me, "--body-bytes (<= 60000)",
					  optarg);
		o->cfg.pres.body_bytes = (uint32_t)v;
		break;
	case OPT_CSV:
		o->csv = optarg;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_CONTROL:
		o->control = true;
		break;
	case OPT_LOGLEVEL:
		if (log_level_decode(optarg, &level))
			return bad_option(me, "--log-level", optarg);
		o->log_level = (int)level;
		break;
	case OPT_CONN:
		if (loadcfg_conn_decode(&o->cfg, optarg))
			return bad_option(me,
					  "--conn (persistent[:N] or "
					  "per-request)",
					  optarg);
		break;
	case OPT_TLS_CA:
		o->cfg.tls_ca = optarg;
		break;
	case OPT_TLS_NOVERIFY:
		o->cfg.tls_no_verify = true;
		break;
	case OPT_TLS_NAME:
		if (strlen(optarg) >= sizeof(o->cfg.tls_name))
			return bad_option(me, "--tls-name", "too long");
		snprintf(o->cfg.tls_name, sizeof(o->cfg.tls_name), "%s",
			 optarg);
		s->name = true;
		break;
	case OPT_TLS_CERT:
		o->cfg.tls_cert = optarg;
		break;
	case OPT_TLS_KEY:
		o->cfg.tls_key = optarg;
		break;
	case OPT_TLS_RESUME:
		if (strcmp(optarg, "on") && strcmp(optarg, "off"))
			return bad_option(me, "--tls-resume (on|off)", optarg);
		o->cfg.tls_no_resume = !strcmp(optarg, "off");
		break;
	case OPT_MIX:
		s->mix = optarg;
		break;
	case OPT_REG_USERS:
		s->reg_users = optarg;
		break;
	default:
		return -1;
	}
	return 0;
}

/* The checks and derived values once every option is read. */
static int opts_check(struct loadopts *o, struct seen *s, int argc,
		      char **argv)
{
	const char *me = argv[0];
	char why[160];

	if (optind < argc)
		return bad_option(me, "argument", argv[optind]);
	if (!s->server)
		return bad_option(me, "options", "--server is required");
	if (!s->users)
		return bad_option(me, "options", "--users is required");
	if (schedule_check(o, &s->so, me))
		return 2;
	if (!o->control && o->sched.kind == LOADSTEPPER_NONE &&
	    (!(o->cfg.rate > 0) || !(o->duration > 0)))
		return bad_option(me, "options",
				  "--rate and --duration are required (or "
				  "--ramp, "
				  "--search)");
	/* Coalesced I/O keeps latencies exact only where the kernel
	 * stamps each arrival: UDP. */
	if (!s->tick)
		o->cfg.tick_us = o->cfg.server.proto == SIP_TP_UDP ? 1000 : 0;
	if ((uint64_t)o->cfg.ulast - o->cfg.ufirst + 1 < o->cfg.threads)
		o->cfg.threads = o->cfg.ulast - o->cfg.ufirst + 1;
	if (!o->cfg.tls_cert != !o->cfg.tls_key)
		return bad_option(me, "options",
				  "--tls-cert and --tls-key go together");
	/* The name verified is the server's host unless told otherwise
	 * (an IP address is matched against the certificate's IPs). */
	if (!s->name &&
	    pl_strcpy(&s->host, o->cfg.tls_name, sizeof(o->cfg.tls_name)))
		o->cfg.tls_name[0] = '\0';
	/* A pool smaller than the threads: fewer threads, one each. */
	if (o->cfg.server.proto != SIP_TP_UDP &&
	    o->cfg.conn == LOADCFG_CONN_PERSISTENT && o->cfg.conns &&
	    o->cfg.conns < o->cfg.threads)
		o->cfg.threads = o->cfg.conns;
	/* after --users: the register users must share its form */
	if (s->mix && o->cfg.test != LOADCFG_MIX)
		return bad_option(me, "--mix", "needs --test mix");
	if (s->mix && loadcfg_mix_parse(&o->cfg, s->mix, why, sizeof(why)))
		return bad_option(me, "--mix", why);
	if (s->reg_users && loadcfg_reg_users_parse(&o->cfg, s->reg_users))
		return bad_option(me,
				  "--register-users (the --users' prefix and "
				  "digits)",
				  s->reg_users);
	if (s->reg_users && o->pwfile)
		return bad_option(me, "--register-users",
				  "not with --passwords (use --password)");
	if (loadcfg_mix_check(&o->cfg, why, sizeof(why)))
		return bad_option(me, "options", why);
	if (o->cfg.test == LOADCFG_PUBLISH && o->cfg.pres.body_bytes) {
		char user[LOADCFG_NAME_MAX * 2], uri[LOADCFG_NAME_MAX * 4];
		size_t min;

		/* the longest entity: the last user's */
		if (loadcfg_user_name(&o->cfg, o->cfg.ulast, user,
				      sizeof(user)))
			return bad_option(me, "--users", "names too long");
		snprintf(uri, sizeof(uri), "sip:%s@%s", user, o->cfg.domain);
		min = loadpres_body_min(uri);
		if (o->cfg.pres.body_bytes < min) {
			fprintf(stderr, "%s: --body-bytes: at least %zu\n", me,
				min);
			return 2;
		}
	}
	return 0;
}

/* The defaults before the options. */
static void opts_defaults(struct loadopts *o)
{
	long n;

	memset(o, 0, sizeof(*o));
	o->cfg.test = LOADCFG_REGISTER;
	o->cfg.expect = 200;
	o->log_level = -1;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	o->cfg.threads = n > 0 ? (unsigned)n : 1;
	snprintf(o->cfg.domain, sizeof(o->cfg.domain), "example.com");
	schedule_defaults(o);
}

int loadopts_parse(struct loadopts *o, int argc, char **argv)
{
	struct seen s;
	const char *me = argv[0];
	int c, r;

	memset(&s, 0, sizeof(s));
	s.host = (struct pl)PL_INIT;
	opts_defaults(o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		r = schedule_opt(o, &s.so, c, me);
		if (r < 0)
			r = engine_opt(o, &s, c, me);
		if (r < 0)
			r = other_opt(o, &s, c, me);
		if (r > 0)
			return r;
		if (!r)
			continue;
		if (c == OPT_HELP) {
			loadopts_usage(stdout, me);
			return LOADOPTS_HELP;
		}
		if (c == OPT_VERSION)
			return version_print(stdout, "loader") ? 1
							       : LOADOPTS_HELP;
		fprintf(stderr, "%s: unknown or incomplete option %s\n", me,
			argv[optind - 1]);
		return 2;
	}
	return opts_check(o, &s, argc, argv);
}
