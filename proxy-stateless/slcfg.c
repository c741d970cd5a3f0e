/* slcfg.c - flags and JSON configuration of proxy-stateless (slcfg.h). */
#include "slcfg.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "argcfg.h"
#include "log.h"
#include "version.h"

void slcfg_init(struct slcfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hash = DISPATCH_HASH_USER;
	cfg->probe_interval_ms = 1000;
	cfg->probe_misses = 2;
	cfg->workers = 1;
	cfg->retry_after_s = 5;
}

static int num(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	struct pl pl;
	uint32_t n;

	pl_set_str(&pl, v);
	if (pl_u32(&pl, &n) || n < lo || n > hi)
		return EINVAL;
	*out = n;
	return 0;
}

static int copy(char *dst, size_t size, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= size)
		return EINVAL;
	memcpy(dst, v, n + 1);
	return 0;
}

/* One option by its long name; v is NULL for a flag. */
static int set_opt(struct slcfg *cfg, const char *name, const char *v,
		   char *err, size_t errsz)
{
	const char *why = NULL;
	struct sip_tp_addr a;
	int rc;

	if (!strcmp(name, "listen")) {
		if (cfg->nlisten >= SLCFG_MAX_LISTEN)
			why = "too many listen addresses";
		else if (sip_tp_addr_decode(&a, NULL, v))
			why = "expected udp:|tcp:|tls:HOST:PORT";
		else
			cfg->listen[cfg->nlisten++] = a;
	} else if (!strcmp(name, "next")) {
		rc = dispatch_add(&cfg->next, v, &why);
		(void)rc;
	} else if (!strcmp(name, "hash")) {
		if (dispatch_hash_decode(v, &cfg->hash))
			why = "expected user, callid or from";
	} else if (!strcmp(name, "record-route")) {
		cfg->record_route = true;
	} else if (!strcmp(name, "probe-interval")) {
		if (num(v, 0, 3600000, &cfg->probe_interval_ms) ||
		    (cfg->probe_interval_ms && cfg->probe_interval_ms < 10))
			why = "expected 0 (off) or 10..3600000 ms";
	} else if (!strcmp(name, "probe-misses")) {
		if (num(v, 1, 1000, &cfg->probe_misses))
			why = "expected 1..1000";
	} else if (!strcmp(name, "workers")) {
		if (num(v, 1, SLCFG_MAX_WORKERS, &cfg->workers))
			why = "expected 1..64";
	} else if (!strcmp(name, "retry-after")) {
		if (num(v, 0, 86400, &cfg->retry_after_s))
			why = "expected 0..86400 s";
	} else if (!strcmp(name, "control")) {
		cfg->control = true;
	} else if (!strcmp(name, "tls-cert")) {
		if (copy(cfg->tls_cert, sizeof(cfg->tls_cert), v))
			why = "bad path";
	} else if (!strcmp(name, "tls-key")) {
		if (copy(cfg->tls_key, sizeof(cfg->tls_key), v))
			why = "bad path";
	} else if (!strcmp(name, "tls-ca")) {
		if (copy(cfg->tls_ca, sizeof(cfg->tls_ca), v))
			why = "bad path";
	} else if (!strcmp(name, "tls-no-verify")) {
		cfg->tls_no_verify = true;
	} else if (!strcmp(name, "log-level")) {
		enum log_level l;

		if (log_level_decode(v, &l) ||
		    copy(cfg->log_level, sizeof(cfg->log_level), v))
			why = "expected err, warn, info or debug";
	} else {
		snprintf(err, errsz, "unknown option %s", name);
		return EINVAL;
	}
	if (why) {
		snprintf(err, errsz, "--%s %s: %s", name, v ? v : "", why);
		return EINVAL;
	}
	return 0;
}

static const struct option long_opts[] = {
	{"listen", required_argument, NULL, 0},
	{"next", required_argument, NULL, 0},
	{"hash", required_argument, NULL, 0},
	{"record-route", no_argument, NULL, 0},
	{"probe-interval", required_argument, NULL, 0},
	{"probe-misses", required_argument, NULL, 0},
	{"workers", required_argument, NULL, 0},
	{"retry-after", required_argument, NULL, 0},
	{"control", no_argument, NULL, 0},
	{"tls-cert", required_argument, NULL, 0},
	{"tls-key", required_argument, NULL, 0},
	{"tls-ca", required_argument, NULL, 0},
	{"tls-no-verify", no_argument, NULL, 0},
	{"log-level", required_argument, NULL, 0},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 0},
	{NULL, 0, NULL, 0},
};

static const char usage[] =
	"usage: proxy-stateless --listen udp:HOST:PORT [--listen ...]\n"
	"         --next udp:HOST:PORT[;weight=W] [--next ...]\n"
	"         [--hash user|callid|from] [--record-route]\n"
	"         [--probe-interval MS] [--probe-misses K] [--workers N]\n"
	"         [--retry-after S] [--control] [--tls-cert PEM --tls-key "
	"PEM]\n"
	"         [--tls-ca PEM] [--tls-no-verify] [--log-level LEVEL]\n"
	"       proxy-stateless --config FILE.json [flags...]\n"
	"       proxy-stateless --version | --help\n";

static int check(const struct slcfg *cfg, char *err, size_t errsz)
{
	if (cfg->nlisten == 0) {
		snprintf(err, errsz, "at least one --listen is needed");
		return EINVAL;
	}
	if (cfg->next.n == 0) {
		snprintf(err, errsz, "at least one --next is needed");
		return EINVAL;
	}
	if (slcfg_uses(cfg, SIP_TP_TLS) &&
	    (!cfg->tls_cert[0] || !cfg->tls_key[0])) {
		unsigned i;

		for (i = 0; i < cfg->nlisten; i++) {
			if (cfg->listen[i].proto == SIP_TP_TLS) {
				snprintf(err, errsz,
					 "a tls: listener needs --tls-cert "
					 "and --tls-key");
				return EINVAL;
			}
		}
	}
	return 0;
}

/* One option (argcfg_opt_h): --help prints the usage and stops,
 * --version the version. */
static int on_opt(const char *name, const char *v, void *arg, char *err,
		  size_t errsz)
{
	if (!strcmp(name, "help")) {
		fputs(usage, stdout);
		return 1;
	}
	if (!strcmp(name, "version")) {
		version_print(stdout, "proxy-stateless");
		return 1;
	}
	return set_opt(arg, name, v, err, errsz);
}

int slcfg_parse_args(struct slcfg *cfg, int argc, char **argv, char *err,
		     size_t errsz)
{
	/* The agents' --config (common/argcfg.h): each key a flag. */
	int rc = argcfg_parse(argc, argv, long_opts, on_opt, cfg, err, errsz);

	return rc ? rc : check(cfg, err, errsz);
}

bool slcfg_uses(const struct slcfg *cfg, enum sip_transport proto)
{
	unsigned i;

	for (i = 0; i < cfg->nlisten; i++)
		if (cfg->listen[i].proto == proto)
			return true;
	for (i = 0; i < cfg->next.n; i++)
		if (cfg->next.hops[i].addr.proto == proto)
			return true;
	return false;
}
