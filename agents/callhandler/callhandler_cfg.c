/*
 * callhandler_cfg.c - the callhandler's options (see callhandler_cfg.h).
 */
#include "callhandler_cfg.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argcfg.h"
#include "pl.h"
#include "user_range.h"
#include "version.h"

/* The usage lines, on f. */
static void usage(FILE *f)
{
	fprintf(f, "usage: callhandler --listen udp:HOST:PORT [--listen "
		   "tcp:...]\n"
		   "         [--users A1000-A1999 --domain example.com\n"
		   "          --register-via udp:HOST:PORT [--password PW]\n"
		   "          [--expires S] [--reg-rate N] [--reg-retries "
		   "N]\n"
		   "          [--reg-timeout-ms MS]]\n"
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
		   "are the flags' names)\n"
		   "       callhandler --version | --help\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned *out)
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
static int parse_percent(const char *s, unsigned *bp)
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
	OPT_VERSION,
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
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* What one parse needs besides the result. */
struct parse {
	char *err;
	size_t errsz;
	const char *users, *reg_via, *watch, *watch_via, *watch_users;
	struct pl reg_host; /* --register-via's host: the TLS name */
};

static int bad(struct parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Bad usage: one line in ps->err; EINVAL. */
static int bad(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->err, ps->errsz, fmt, ap);
	va_end(ap);
	return EINVAL;
}

/* The answering side's options: listeners, calls, TLS, logs.  Returns 0,
 * EINVAL (ps->err says why) or ENOENT (not one of them). */
static int opt_uas(struct callhandler_cfg *c, struct parse *ps, int opt,
		   const char *arg)
{
	switch (opt) {
	case OPT_LISTEN:
		if (c->uas.nlisten == UAS_MAX_LISTEN)
			return bad(ps, "at most 8 --listen: %s", arg);
		if (sip_tp_addr_decode(&c->uas.listen[c->uas.nlisten], NULL,
				       arg))
			return bad(ps,
				   "--listen: not udp:|tcp:|tls:HOST:"
				   "PORT: %s",
				   arg);
		c->has_tls |= c->uas.listen[c->uas.nlisten].proto ==
			      SIP_TP_TLS;
		c->uas.nlisten++;
		break;
	case OPT_RING:
		if (parse_uint(arg, 600000, &c->uas.ring_ms))
			return bad(ps, "--ring-ms: 0..600000: %s", arg);
		break;
	case OPT_THREADS:
		if (parse_uint(arg, UAS_MAX_THREADS, &c->uas.threads) ||
		    !c->uas.threads)
			return bad(ps, "--threads: 1..64: %s", arg);
		break;
	case OPT_CONTROL:
		c->control = true;
		break;
	case OPT_F486:
		if (parse_percent(arg, &c->uas.fail_486_bp))
			return bad(ps,
				   "--fail-486: a percentage 0..100: "
				   "%s",
				   arg);
		break;
	case OPT_F503:
		if (parse_percent(arg, &c->uas.fail_503_bp))
			return bad(ps,
				   "--fail-503: a percentage 0..100: "
				   "%s",
				   arg);
		break;
	case OPT_TLS_CERT:
		c->tls.cert_file = arg;
		break;
	case OPT_TLS_KEY:
		c->tls.key_file = arg;
		break;
	case OPT_TLS_CA:
		c->tls.ca_file = arg;
		break;
	case OPT_TLS_NOVERIFY:
		c->tls.no_verify = true;
		break;
	case OPT_TLS_VERIFY_CLIENT:
		c->verify_client = true;
		break;
	case OPT_LOG:
		if (log_level_decode(arg, &c->log_level))
			return bad(ps,
				   "--log-level: err|warn|info|debug: "
				   "%s",
				   arg);
		c->log_level_set = true;
		break;
	default:
		return ENOENT;
	}
	return 0;
}

/* The registrations' options (registration.h). */
static int opt_reg(struct callhandler_cfg *c, struct parse *ps, int opt,
		   const char *arg)
{
	switch (opt) {
	case OPT_USERS:
		ps->users = arg;
		if (user_range_decode(&c->reg.users, arg))
			return bad(ps,
				   "--users: not PREFIX1000-1999 "
				   "or a name: %s",
				   arg);
		break;
	case OPT_DOMAIN:
		c->reg.domain = arg;
		break;
	case OPT_REG_VIA:
		ps->reg_via = arg;
		if (sip_tp_addr_decode(&c->reg.server, &ps->reg_host, arg))
			return bad(ps,
				   "--register-via: not udp:|tcp:|"
				   "tls:HOST:PORT: %s",
				   arg);
		break;
	case OPT_PASSWORD:
		c->reg.password = arg;
		break;
	case OPT_EXPIRES:
		if (parse_uint(arg, 86400, &c->reg.expires) || !c->reg.expires)
			return bad(ps, "--expires: 1..86400: %s", arg);
		break;
	case OPT_REG_RATE:
		if (parse_uint(arg, 1000000, &c->reg.rate) || !c->reg.rate)
			return bad(ps, "--reg-rate: 1..1000000: %s", arg);
		break;
	case OPT_REG_RETRIES:
		if (parse_uint(arg, 100, &c->reg.retries))
			return bad(ps, "--reg-retries: 0..100: %s", arg);
		break;
	case OPT_REG_TIMEOUT:
		if (parse_uint(arg, 600000, &c->reg.timeout_ms) ||
		    c->reg.timeout_ms < 100)
			return bad(ps, "--reg-timeout-ms: 100..600000: %s",
				   arg);
		break;
	default:
		return ENOENT;
	}
	return 0;
}

/* The presence watchers' options (watch.h). */
static int opt_watch(struct callhandler_cfg *c, struct parse *ps, int opt,
		     const char *arg)
{
	switch (opt) {
	case OPT_WATCH:
		ps->watch = arg;
		if (user_range_decode(&c->watch.presentities, arg))
			return bad(ps,
				   "--watch: not PREFIX1000-1999 or a "
				   "name: %s",
				   arg);
		break;
	case OPT_WATCH_W:
		if (parse_uint(arg, 10000, &c->watch.per_presentity) ||
		    !c->watch.per_presentity)
			return bad(ps,
				   "--watchers-per-presentity: "
				   "1..10000: %s",
				   arg);
		break;
	case OPT_WATCH_VIA:
		ps->watch_via = arg;
		break;
	case OPT_WATCH_USERS:
		ps->watch_users = arg;
		if (user_range_decode(&c->watch.users, arg))
			return bad(ps,
				   "--watch-users: not PREFIX1000-1999"
				   " or a name: %s",
				   arg);
		break;
	case OPT_WATCH_EXPIRES:
		if (parse_uint(arg, 86400, &c->watch.expires) ||
		    !c->watch.expires)
			return bad(ps, "--watch-expires: 1..86400: %s", arg);
		break;
	case OPT_WATCH_REFRESH:
		if (parse_uint(arg, 86400, &c->watch.refresh_s) ||
		    !c->watch.refresh_s)
			return bad(ps, "--watch-refresh-s: 1..86400: %s", arg);
		break;
	case OPT_WATCH_RATE:
		if (parse_uint(arg, 1000000, &c->watch.rate) || !c->watch.rate)
			return bad(ps, "--watch-rate: 1..1000000: %s", arg);
		break;
	default:
		return ENOENT;
	}
	return 0;
}

/* What no single option can check, and what follows from them all. */
static int finish(struct callhandler_cfg *c, struct parse *ps)
{
	unsigned i;

	if (!c->uas.nlisten)
		return bad(ps, "%s", "--listen is required");
	if (c->uas.fail_486_bp + c->uas.fail_503_bp > 10000)
		return bad(ps, "%s", "--fail-486 + --fail-503 over 100%");
	if (ps->reg_via && (!ps->users || !c->reg.domain))
		return bad(ps, "%s",
			   "--register-via needs --users and --domain");
	if (ps->watch && (!c->reg.domain || (!ps->watch_via && !ps->reg_via)))
		return bad(ps, "%s",
			   "--watch needs --domain and --watch-via (or "
			   "--register-via)");
	if (ps->watch) {
		if (!ps->watch_via)
			ps->watch_via = ps->reg_via;
		if (sip_tp_addr_decode(&c->watch.server, NULL,
				       ps->watch_via) ||
		    (c->watch.server.proto != SIP_TP_UDP &&
		     c->watch.server.proto != SIP_TP_TCP))
			return bad(ps,
				   "--watch-via: not udp:|tcp:HOST:PORT: %s",
				   ps->watch_via);
		if (!ps->watch_users) {
			if (ps->users)
				c->watch.users = c->reg.users;
			else if (user_range_decode(&c->watch.users, "watcher"))
				return bad(ps, "%s", "no watcher user");
		}
	}
	if (c->has_tls && (!c->tls.cert_file || !c->tls.key_file))
		return bad(ps, "%s",
			   "a tls: listener needs --tls-cert and "
			   "--tls-key");
	if (c->verify_client && (!c->has_tls || !c->tls.ca_file))
		return bad(ps, "%s",
			   "--tls-verify-client needs a tls: listener "
			   "and --tls-ca");

	/* The Contact: the listener of the registrar's transport, else
	 * the first. */
	c->reg.contact = c->uas.listen[0];
	for (i = 0; i < c->uas.nlisten; i++)
		if (c->uas.listen[i].proto == c->reg.server.proto) {
			c->reg.contact = c->uas.listen[i];
			break;
		}
	if (ps->reg_via && c->reg.server.proto == SIP_TP_TLS &&
	    !pl_strcpy(&ps->reg_host, c->server_name, sizeof(c->server_name)))
		c->reg.server_name = c->server_name;
	c->registering = ps->reg_via != NULL;
	c->watching = ps->watch != NULL;
	return 0;
}

void callhandler_cfg_init(struct callhandler_cfg *c)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	c->watch.expires = 3600;
	c->watch.rate = 1000;
	c->watch.per_presentity = 1;
	c->reg.expires = 3600;
	c->reg.rate = 1000;
	c->reg.retries = 3;
	c->reg.retry_ms = 1000;
	c->reg.timeout_ms = 4000;
	c->uas.threads = ncpu > 0 && ncpu <= UAS_MAX_THREADS ? (unsigned)ncpu
							     : 1;
}

int callhandler_cfg_parse(struct callhandler_cfg *c, int argc, char **argv,
			  char *err, size_t errsz)
{
	struct parse ps;
	int opt, rc;

	memset(&ps, 0, sizeof(ps));
	ps.err = err;
	ps.errsz = errsz;
	/* --config FILE.json: its keys are these flags' names. */
	if (argcfg_expand(argc, argv, &c->argc, &c->argv, err, errsz))
		return EINVAL;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(c->argc, c->argv, "", longopts, NULL)) !=
	       -1) {
		if (opt == OPT_HELP) {
			usage(stdout);
			return 1;
		}
		if (opt == OPT_VERSION) {
			version_print(stdout, "callhandler");
			return 1;
		}
		rc = opt_uas(c, &ps, opt, optarg);
		if (rc == ENOENT)
			rc = opt_reg(c, &ps, opt, optarg);
		if (rc == ENOENT)
			rc = opt_watch(c, &ps, opt, optarg);
		if (rc == ENOENT)
			return bad(&ps, "unknown or incomplete option: %s",
				   c->argv[optind - 1]);
		if (rc)
			return rc;
	}
	if (optind < c->argc)
		return bad(&ps, "unexpected argument: %s", c->argv[optind]);
	return finish(c, &ps);
}

void callhandler_cfg_free(struct callhandler_cfg *c)
{
	if (c->argv)
		argcfg_free(c->argc, c->argv);
	c->argv = NULL;
	c->argc = 0;
}
