/*
 * callhandler: the UAS of the testbed.  Options, then the loop: workers
 * answer calls (uas.c), the main thread registers users (chreg.c) and
 * speaks the control protocol (common/ctl.c).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "callhandler"
#include "chreg.h"
#include "argcfg.h"
#include "ctl.h"
#include "ev.h"
#include "hist.h"
#include "log.h"
#include "obj.h"
#include "sip_tp.h"
#include "uas.h"
#include "watch.h"

struct app {
	struct ev *ev;
	struct uas *uas;
	struct chreg *reg;
	struct watch *watch;
	struct ctl *ctl;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: callhandler --listen udp:HOST:PORT [--listen "
		   "tcp:...]\n"
		   "         [--users A1000-A1999 --domain example.com\n"
		   "          --register-via udp:HOST:PORT [--password PW]\n"
		   "          [--expires S] [--reg-rate N] [--reg-retries "
		   "N]]\n"
		   "         [--watch B1000-B1099 --watchers-per-presentity "
		   "W\n"
		   "          [--watch-via udp:HOST:PORT] [--watch-users "
		   "C1-C9]\n"
		   "          [--watch-expires S] [--watch-refresh-s S] "
		   "[--watch-rate N]]\n"
		   "         [--ring-ms N] [--threads N] [--fail-486 PCT]\n"
		   "         [--fail-503 PCT] [--tls-cert F --tls-key F]\n"
		   "         [--tls-ca F] [--tls-no-verify] "
		   "[--tls-verify-client]\n"
		   "         [--control]\n"
		   "         [--log-level err|warn|info|debug]\n"
		   "       callhandler --config FILE.json [flags...]  (keys "
		   "are the flags' names)\n");
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bad usage: one line on stderr, exit code 2. */
static int bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "callhandler: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (--help for usage)\n");
	return 2;
}

static int num(const char *s, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* A percentage 0..100 with up to two decimals, as basis points. */
static int pct(const char *s, unsigned *bp)
{
	char *end;
	double v;

	if (!*s || *s == '-' || *s == '+')
		return EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= 0 && v <= 100))
		return EINVAL;
	*bp = (unsigned)(v * 100 + 0.5);
	return 0;
}

/* The watchers' counters and publish-to-notify delays. */
static json_t *watch_json(const struct watch *w)
{
	struct watch_stats *s = malloc(sizeof(*s));
	json_t *o;

	if (!s)
		return json_null();
	watch_stats(w, s);
	o = json_object();
#define PUT(f) json_object_set_new(o, #f, json_integer((json_int_t)s->f))
	PUT(dialogs);
	PUT(active);
	PUT(failed);
	PUT(sent);
	PUT(ok);
	PUT(challenged);
	PUT(rejected);
	PUT(timeouts);
	PUT(retries);
	PUT(refreshes);
	PUT(resubscribes);
	PUT(notifies);
	PUT(terminated);
	PUT(no_dialog);
	PUT(bodies_new);
	PUT(bodies_repeat);
	PUT(bodies_stale);
	PUT(bodies_mismatch);
	PUT(bodies_none);
	PUT(bad_in);
	PUT(retransmissions);
#undef PUT
	json_object_set_new(o, "done_ms",
			    json_integer((json_int_t)watch_done_ms(w)));
	json_object_set_new(o, "delay_us", hist_to_json(&s->delay));
	free(s);
	return o;
}

static json_t *stats_json(struct app *a, json_t *o)
{
	struct uas_stats s;
	struct chreg_stats r;

	uas_stats(a->uas, &s);
#define PUT(f) json_object_set_new(o, #f, json_integer((json_int_t)s.f))
	PUT(requests);
	PUT(invites);
	PUT(ringing);
	PUT(answered);
	PUT(acks);
	PUT(acks_stray);
	PUT(ack_timeouts);
	PUT(retrans_2xx);
	PUT(byes);
	PUT(cancels);
	PUT(cancels_481);
	PUT(cancelled);
	PUT(options);
	PUT(notifies);
	PUT(other);
	PUT(fail_486);
	PUT(fail_503);
	PUT(busy_491);
	PUT(bad_in);
	PUT(stray_responses);
	PUT(calls_alive);
	PUT(retransmissions);
	PUT(absorbed);
	PUT(txn_timeouts);
	PUT(msgs_in);
	PUT(msgs_out);
	PUT(drop_parse);
	PUT(drop_overflow);
	PUT(drop_send);
	PUT(conns_accepted);
	PUT(tls_handshakes);
#undef PUT
	if (a->watch)
		json_object_set_new(o, "watch", watch_json(a->watch));
	if (a->reg) {
		chreg_stats(a->reg, &r);
		json_object_set_new(
			o, "register",
			json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
				  "s:I,s:I}",
				  "users", (json_int_t)r.users, "registered",
				  (json_int_t)r.registered, "failed",
				  (json_int_t)r.failed, "sent",
				  (json_int_t)r.sent, "ok", (json_int_t)r.ok,
				  "challenged", (json_int_t)r.challenged,
				  "rejected", (json_int_t)r.rejected,
				  "timeouts", (json_int_t)r.timeouts,
				  "retries", (json_int_t)r.retries,
				  "refreshes", (json_int_t)r.refreshes,
				  "retransmissions",
				  (json_int_t)r.retransmissions, "done_ms",
				  (json_int_t)chreg_done_ms(a->reg)));
	}
	return o;
}

static void on_ctl_stats(struct ctl *ctl, json_t *stats, void *arg)
{
	stats_json(arg, stats);
}

static void on_ctl_stop(struct ctl *ctl, void *arg)
{
	struct app *a = arg;

	ev_stop(a->ev);
}

static void on_signal(int signo, void *arg)
{
	struct app *a = arg;

	log_info("signal %d: stopping", signo);
	ev_stop(a->ev);
}

static void on_registered(struct chreg *r, void *arg)
{
	struct app *a = arg;
	struct chreg_stats s;

	chreg_stats(r, &s);
	log_info("registration done: %llu of %llu users in %llu ms",
		 (unsigned long long)s.registered, (unsigned long long)s.users,
		 (unsigned long long)chreg_done_ms(r));
	if (a->ctl) {
		json_t *ev = json_pack("{s:s,s:I,s:I,s:I,s:I}", "role",
				       "callhandler", "users",
				       (json_int_t)s.users, "registered",
				       (json_int_t)s.registered, "failed",
				       (json_int_t)s.failed, "ms",
				       (json_int_t)chreg_done_ms(r));

		ctl_event(a->ctl, "registered", ev);
		json_decref(ev);
	}
}

static void on_watching(struct watch *w, void *arg)
{
	struct app *a = arg;
	struct watch_stats *s = malloc(sizeof(*s));

	if (!s)
		return;
	watch_stats(w, s);
	log_info("watching: %llu of %llu dialogs active in %llu ms",
		 (unsigned long long)s->active, (unsigned long long)s->dialogs,
		 (unsigned long long)watch_done_ms(w));
	if (a->ctl) {
		json_t *ev = json_pack("{s:s,s:I,s:I,s:I,s:I,s:s}", "role",
				       "callhandler", "dialogs",
				       (json_int_t)s->dialogs, "active",
				       (json_int_t)s->active, "failed",
				       (json_int_t)s->failed, "ms",
				       (json_int_t)watch_done_ms(w), "contact",
				       watch_hostport(w));

		ctl_event(a->ctl, "watching", ev);
		json_decref(ev);
	}
	free(s);
}

enum {
	OPT_LISTEN = 256,
	OPT_USERS,
	OPT_DOMAIN,
	OPT_REG_VIA,
	OPT_RING,
	OPT_THREADS,
	OPT_CONTROL,
	OPT_F486,
	OPT_F503,
	OPT_PASSWORD,
	OPT_EXPIRES,
	OPT_REG_RATE,
	OPT_REG_RETRIES,
	OPT_REG_TIMEOUT,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CA,
	OPT_TLS_NOVERIFY,
	OPT_TLS_VERIFY_CLIENT,
	OPT_WATCH,
	OPT_WATCH_W,
	OPT_WATCH_VIA,
	OPT_WATCH_USERS,
	OPT_WATCH_EXPIRES,
	OPT_WATCH_REFRESH,
	OPT_WATCH_RATE,
	OPT_LOG,
	OPT_HELP,
};

static const struct option longopts[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"users", required_argument, NULL, OPT_USERS},
	{"domain", required_argument, NULL, OPT_DOMAIN},
	{"register-via", required_argument, NULL, OPT_REG_VIA},
	{"ring-ms", required_argument, NULL, OPT_RING},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"control", no_argument, NULL, OPT_CONTROL},
	{"fail-486", required_argument, NULL, OPT_F486},
	{"fail-503", required_argument, NULL, OPT_F503},
	{"password", required_argument, NULL, OPT_PASSWORD},
	{"expires", required_argument, NULL, OPT_EXPIRES},
	{"reg-rate", required_argument, NULL, OPT_REG_RATE},
	{"reg-retries", required_argument, NULL, OPT_REG_RETRIES},
	{"reg-timeout-ms", required_argument, NULL, OPT_REG_TIMEOUT},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"tls-ca", required_argument, NULL, OPT_TLS_CA},
	{"tls-no-verify", no_argument, NULL, OPT_TLS_NOVERIFY},
	{"tls-verify-client", no_argument, NULL, OPT_TLS_VERIFY_CLIENT},
	{"watch", required_argument, NULL, OPT_WATCH},
	{"watchers-per-presentity", required_argument, NULL, OPT_WATCH_W},
	{"watch-via", required_argument, NULL, OPT_WATCH_VIA},
	{"watch-users", required_argument, NULL, OPT_WATCH_USERS},
	{"watch-expires", required_argument, NULL, OPT_WATCH_EXPIRES},
	{"watch-refresh-s", required_argument, NULL, OPT_WATCH_REFRESH},
	{"watch-rate", required_argument, NULL, OPT_WATCH_RATE},
	{"log-level", required_argument, NULL, OPT_LOG},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* The command line with --config expanded (see argcfg.h). */
static char **volatile config_argv;

int main(int argc, char **argv)
{
	static const int sigs[] = {SIGINT, SIGTERM};
	struct uas_cfg ucfg;
	struct chreg_cfg rcfg;
	struct watch_cfg wcfg;
	const char *watch = NULL, *watch_via = NULL, *watch_users = NULL;
	char watch_ip[SIP_TP_ADDR_STRLEN];
	struct sip_tp_tls_opts tls;
	struct sip_tp_tls *tls_srv = NULL, *tls_cli = NULL;
	struct app a;
	const char *users = NULL, *reg_via = NULL;
	bool control = false, has_tls = false, verify_client = false;
	struct pl host;
	enum log_level lvl;
	long ncpu;
	unsigned i;
	int c, err, rc = 1;

	memset(&a, 0, sizeof(a));
	memset(&ucfg, 0, sizeof(ucfg));
	memset(&rcfg, 0, sizeof(rcfg));
	memset(&wcfg, 0, sizeof(wcfg));
	wcfg.expires = 3600;
	wcfg.rate = 1000;
	wcfg.per_presentity = 1;
	memset(&tls, 0, sizeof(tls));
	rcfg.expires = 3600;
	rcfg.rate = 1000;
	rcfg.retries = 3;
	rcfg.retry_ms = 1000;
	rcfg.timeout_ms = 4000;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	ucfg.threads = ncpu > 0 && ncpu <= UAS_MAX_THREADS ? (unsigned)ncpu
							   : 1;
	{
		char why[600];
		int xargc;
		char **xargv;

		/* --config FILE.json: its keys are these flags' names. */
		if (argcfg_expand(argc, argv, &xargc, &xargv, why,
				  sizeof(why)))
			return bad("%s", why);
		/* Kept for the process's life, reachable from a static so
		 * that leak checkers do not count it. */
		config_argv = xargv;
		argc = xargc;
		argv = xargv;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			if (ucfg.nlisten == UAS_MAX_LISTEN)
				return bad("at most 8 --listen: %s", optarg);
			if (sip_tp_addr_decode(&ucfg.listen[ucfg.nlisten],
					       NULL, optarg))
				return bad("--listen: not udp:|tcp:|tls:HOST:"
					   "PORT: %s",
					   optarg);
			has_tls |= ucfg.listen[ucfg.nlisten].proto ==
				   SIP_TP_TLS;
			ucfg.nlisten++;
			break;
		case OPT_USERS:
			users = optarg;
			if (chreg_users_decode(&rcfg.users, optarg))
				return bad("--users: not PREFIX1000-1999 "
					   "or a name: %s",
					   optarg);
			break;
		case OPT_DOMAIN:
			rcfg.domain = optarg;
			break;
		case OPT_REG_VIA:
			reg_via = optarg;
			if (sip_tp_addr_decode(&rcfg.server, &host, optarg))
				return bad("--register-via: not udp:|tcp:|"
					   "tls:HOST:PORT: %s",
					   optarg);
			break;
		case OPT_RING:
			if (num(optarg, 600000, &ucfg.ring_ms))
				return bad("--ring-ms: 0..600000: %s", optarg);
			break;
		case OPT_THREADS:
			if (num(optarg, UAS_MAX_THREADS, &ucfg.threads) ||
			    !ucfg.threads)
				return bad("--threads: 1..64: %s", optarg);
			break;
		case OPT_CONTROL:
			control = true;
			break;
		case OPT_F486:
			if (pct(optarg, &ucfg.fail_486_bp))
				return bad("--fail-486: a percentage 0..100: "
					   "%s",
					   optarg);
			break;
		case OPT_F503:
			if (pct(optarg, &ucfg.fail_503_bp))
				return bad("--fail-503: a percentage 0..100: "
					   "%s",
					   optarg);
			break;
		case OPT_PASSWORD:
			rcfg.password = optarg;
			break;
		case OPT_EXPIRES:
			if (num(optarg, 86400, &rcfg.expires) || !rcfg.expires)
				return bad("--expires: 1..86400: %s", optarg);
			break;
		case OPT_REG_RATE:
			if (num(optarg, 1000000, &rcfg.rate) || !rcfg.rate)
				return bad("--reg-rate: 1..1000000: %s",
					   optarg);
			break;
		case OPT_REG_RETRIES:
			if (num(optarg, 100, &rcfg.retries))
				return bad("--reg-retries: 0..100: %s",
					   optarg);
			break;
		case OPT_REG_TIMEOUT:
			if (num(optarg, 600000, &rcfg.timeout_ms) ||
			    rcfg.timeout_ms < 100)
				return bad("--reg-timeout-ms: 100..600000: %s",
					   optarg);
			break;
		case OPT_TLS_CERT:
			tls.cert_file = optarg;
			break;
		case OPT_TLS_KEY:
			tls.key_file = optarg;
			break;
		case OPT_TLS_CA:
			tls.ca_file = optarg;
			break;
		case OPT_TLS_NOVERIFY:
			tls.no_verify = true;
			break;
		case OPT_TLS_VERIFY_CLIENT:
			verify_client = true;
			break;
		case OPT_WATCH:
			watch = optarg;
			if (chreg_users_decode(&wcfg.presentities, optarg))
				return bad("--watch: not PREFIX1000-1999 or a "
					   "name: %s",
					   optarg);
			break;
		case OPT_WATCH_W:
			if (num(optarg, 10000, &wcfg.per_presentity) ||
			    !wcfg.per_presentity)
				return bad("--watchers-per-presentity: "
					   "1..10000: %s",
					   optarg);
			break;
		case OPT_WATCH_VIA:
			watch_via = optarg;
			break;
		case OPT_WATCH_USERS:
			watch_users = optarg;
			if (chreg_users_decode(&wcfg.users, optarg))
				return bad("--watch-users: not PREFIX1000-1999"
					   " or a name: %s",
					   optarg);
			break;
		case OPT_WATCH_EXPIRES:
			if (num(optarg, 86400, &wcfg.expires) || !wcfg.expires)
				return bad("--watch-expires: 1..86400: %s",
					   optarg);
			break;
		case OPT_WATCH_REFRESH:
			if (num(optarg, 86400, &wcfg.refresh_s) ||
			    !wcfg.refresh_s)
				return bad("--watch-refresh-s: 1..86400: %s",
					   optarg);
			break;
		case OPT_WATCH_RATE:
			if (num(optarg, 1000000, &wcfg.rate) || !wcfg.rate)
				return bad("--watch-rate: 1..1000000: %s",
					   optarg);
			break;
		case OPT_LOG:
			if (log_level_decode(optarg, &lvl))
				return bad("--log-level: err|warn|info|debug: "
					   "%s",
					   optarg);
			log_set_level(lvl);
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			return bad("unknown or incomplete option: %s",
				   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad("unexpected argument: %s", argv[optind]);
	if (!ucfg.nlisten)
		return bad("%s", "--listen is required");
	if (ucfg.fail_486_bp + ucfg.fail_503_bp > 10000)
		return bad("%s", "--fail-486 + --fail-503 over 100%");
	if (reg_via && (!users || !rcfg.domain))
		return bad("%s", "--register-via needs --users and --domain");
	if (watch && (!rcfg.domain || (!watch_via && !reg_via)))
		return bad("%s", "--watch needs --domain and --watch-via (or "
				 "--register-via)");
	if (watch) {
		if (!watch_via)
			watch_via = reg_via;
		if (sip_tp_addr_decode(&wcfg.server, NULL, watch_via) ||
		    (wcfg.server.proto != SIP_TP_UDP &&
		     wcfg.server.proto != SIP_TP_TCP))
			return bad("--watch-via: not udp:|tcp:HOST:PORT: %s",
				   watch_via);
		if (!watch_users) {
			if (users)
				wcfg.users = rcfg.users;
			else if (chreg_users_decode(&wcfg.users, "watcher"))
				return bad("%s", "no watcher user");
		}
	}
	if (has_tls && (!tls.cert_file || !tls.key_file))
		return bad("%s", "a tls: listener needs --tls-cert and "
				 "--tls-key");
	if (verify_client && (!has_tls || !tls.ca_file))
		return bad("%s", "--tls-verify-client needs a tls: listener "
				 "and --tls-ca");

	/* The Contact: the listener of the registrar's transport, else
	 * the first. */
	rcfg.contact = ucfg.listen[0];
	for (i = 0; i < ucfg.nlisten; i++)
		if (ucfg.listen[i].proto == rcfg.server.proto) {
			rcfg.contact = ucfg.listen[i];
			break;
		}

	err = ev_alloc(&a.ev);
	if (err)
		goto out;
	/* Before the workers start, so that they inherit the mask. */
	err = ev_signal(a.ev, sigs, 2, on_signal, &a);
	if (err)
		goto out;
	if (has_tls) {
		/* --tls-ca is the CAs the registrar's certificate must
		 * verify against; the listener asks the callers for a
		 * certificate (against the same CAs) only when told. */
		struct sip_tp_tls_opts so = tls;

		if (!verify_client)
			so.ca_file = NULL;
		err = sip_tp_tls_alloc(&tls_srv, false, &so);
		if (err)
			goto out;
		ucfg.tls_server = tls_srv;
	}
	if (reg_via && rcfg.server.proto == SIP_TP_TLS) {
		struct sip_tp_tls_opts co = tls;
		static char name[256];

		co.cert_file = co.key_file = NULL;
		err = sip_tp_tls_alloc(&tls_cli, true, &co);
		if (err)
			goto out;
		rcfg.tls_client = tls_cli;
		if (!pl_strcpy(&host, name, sizeof(name)))
			rcfg.server_name = name;
	}
	err = uas_alloc(&a.uas, &ucfg);
	if (err) {
		log_err("cannot start the workers: %s", strerror(err));
		goto out;
	}
	/* The Contact names the port actually bound. */
	for (i = 0; i < ucfg.nlisten; i++)
		if (sip_tp_addr_eq(&ucfg.listen[i], &rcfg.contact)) {
			rcfg.contact = *uas_listen_addr(a.uas, i);
			break;
		}
	if (reg_via) {
		err = chreg_alloc(&a.reg, a.ev, &rcfg, on_registered, &a);
		if (err) {
			log_err("registration: %s", strerror(err));
			goto out;
		}
	}
	if (watch) {
		char *colon;

		/* The watchers listen on the first listener's address. */
		err = sip_tp_addr_hostport(uas_listen_addr(a.uas, 0), watch_ip,
					   sizeof(watch_ip));
		if (err)
			goto out;
		colon = strrchr(watch_ip, ':');
		if (colon)
			*colon = '\0';
		wcfg.local_ip = watch_ip;
		wcfg.domain = rcfg.domain;
		wcfg.password = rcfg.password;
		wcfg.retries = rcfg.retries;
		wcfg.retry_ms = rcfg.retry_ms;
		wcfg.timeout_ms = rcfg.timeout_ms;
		err = watch_alloc(&a.watch, a.ev, &wcfg, on_watching, &a);
		if (err) {
			log_err("watchers: %s", strerror(err));
			goto out;
		}
	}
	err = uas_start(a.uas);
	if (err)
		goto out;
	if (control) {
		json_t *ev, *l = json_array();
		char s[SIP_TP_ADDR_STRLEN];

		err = ctl_alloc(&a.ctl, a.ev, STDIN_FILENO, STDOUT_FILENO,
				"callhandler", on_ctl_stop, &a);
		if (err)
			goto out;
		ctl_stats_source(a.ctl, on_ctl_stats, &a);
		for (i = 0; i < uas_listen_count(a.uas); i++)
			if (!sip_tp_addr_print(uas_listen_addr(a.uas, i), s,
					       sizeof(s)))
				json_array_append_new(l, json_string(s));
		ev = json_pack("{s:s,s:i,s:o}", "role", "callhandler", "pid",
			       (int)getpid(), "listen", l);
		ctl_event(a.ctl, "ready", ev);
		json_decref(ev);
	}
	log_info("answering with %u thread(s)", ucfg.threads);
	if (a.reg)
		chreg_start(a.reg);
	if (a.watch)
		watch_start(a.watch);
	err = ev_run(a.ev);
	if (err)
		goto out;
	{
		json_t *sum = json_pack("{s:s}", "role", "callhandler");

		stats_json(&a, sum);
		if (a.ctl) {
			ctl_event(a.ctl, "summary", sum);
		} else {
			char *line = json_dumps(sum, JSON_COMPACT);

			if (line)
				printf("%s\n", line);
			free(line);
		}
		json_decref(sum);
	}
	rc = 0;
out:
	if (err)
		log_err("%s", strerror(err));
	a.ctl = obj_deref(a.ctl);
	a.reg = obj_deref(a.reg);
	a.watch = obj_deref(a.watch);
	uas_free(a.uas);
	obj_deref(tls_srv);
	obj_deref(tls_cli);
	obj_deref(a.ev);
	return rc;
}
