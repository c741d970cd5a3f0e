/* stateful_cfg.c - proxy-stateful's options (stateful_cfg.h). */
#include "stateful_cfg.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argcfg.h"
#include "pl.h"
#include "version.h"

void stateful_cfg_init(struct stateful_cfg *cfg)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->domain, sizeof(cfg->domain), "localhost");
	cfg->workers = n > 0 ? (unsigned)n : 1;
	cfg->min_expires = 60;
	cfg->max_expires = 7200;
	cfg->default_expires = 3600;
	cfg->flush_ms = 1000;
	cfg->presence_min_expires = 1;
	cfg->presence_max_expires = 3600;
	cfg->presence_default_expires = 3600;
}

static int fail(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return EINVAL;
}

static int set_str(char *dst, size_t size, const char *v, const char *name,
		   char *err, size_t errsz)
{
	if (!v || !*v || strlen(v) >= size)
		return fail(err, errsz, "%s: missing or too long value", name);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int set_u32(uint32_t *dst, const char *v, const char *name, char *err,
		   size_t errsz)
{
	struct pl p;

	pl_set_str(&p, v);
	if (!v || pl_u32(&p, dst))
		return fail(err, errsz, "%s: expected a number, got '%s'",
			    name, v ? v : "");
	return 0;
}

/* One setting by name (CLI flag without "--", or JSON key). */
static int apply(struct stateful_cfg *cfg, const char *name, const char *v,
		 char *err, size_t errsz)
{
	uint32_t n;
	int e;

	if (!strcmp(name, "listen")) {
		if (cfg->nlisten == STATEFUL_LISTEN_MAX)
			return fail(err, errsz, "listen: at most %d",
				    STATEFUL_LISTEN_MAX);
		e = set_str(cfg->listen[cfg->nlisten], sizeof(cfg->listen[0]),
			    v, name, err, errsz);
		if (!e)
			cfg->nlisten++;
		return e;
	}
	if (!strcmp(name, "tls-cert"))
		return set_str(cfg->tls_cert, sizeof(cfg->tls_cert), v, name,
			       err, errsz);
	if (!strcmp(name, "tls-key"))
		return set_str(cfg->tls_key, sizeof(cfg->tls_key), v, name,
			       err, errsz);
	if (!strcmp(name, "tls-ca"))
		return set_str(cfg->tls_ca, sizeof(cfg->tls_ca), v, name, err,
			       errsz);
	if (!strcmp(name, "domain"))
		return set_str(cfg->domain, sizeof(cfg->domain), v, name, err,
			       errsz);
	if (!strcmp(name, "db"))
		return set_str(cfg->db_url, sizeof(cfg->db_url), v, name, err,
			       errsz);
	if (!strcmp(name, "users-file"))
		return set_str(cfg->users_file, sizeof(cfg->users_file), v,
			       name, err, errsz);
	if (!strcmp(name, "db-mode")) {
		if (v && !strcmp(v, "memory"))
			cfg->db_mode = STATEFUL_DB_MEMORY;
		else if (v && !strcmp(v, "write-through"))
			cfg->db_mode = STATEFUL_DB_WRITE_THROUGH;
		else if (v && !strcmp(v, "write-back"))
			cfg->db_mode = STATEFUL_DB_WRITE_BACK;
		else
			return fail(err, errsz,
				    "db-mode: memory, write-through or "
				    "write-back, not '%s'",
				    v ? v : "");
		return 0;
	}
	if (!strcmp(name, "auth")) {
		if (v && !strcmp(v, "none"))
			cfg->auth = STATEFUL_AUTH_NONE;
		else if (v && !strcmp(v, "register"))
			cfg->auth = STATEFUL_AUTH_REGISTER;
		else if (v && !strcmp(v, "invite"))
			cfg->auth = STATEFUL_AUTH_INVITE;
		else if (v && !strcmp(v, "all"))
			cfg->auth = STATEFUL_AUTH_ALL;
		else
			return fail(err, errsz,
				    "auth: none, register, invite or all, "
				    "not '%s'",
				    v ? v : "");
		return 0;
	}
	if (!strcmp(name, "workers")) {
		e = set_u32(&n, v, name, err, errsz);
		if (!e && (n < 1 || n > 64))
			return fail(err, errsz, "workers: 1..64");
		if (!e)
			cfg->workers = n;
		return e;
	}
	if (!strcmp(name, "min-expires"))
		return set_u32(&cfg->min_expires, v, name, err, errsz);
	if (!strcmp(name, "max-expires"))
		return set_u32(&cfg->max_expires, v, name, err, errsz);
	if (!strcmp(name, "default-expires"))
		return set_u32(&cfg->default_expires, v, name, err, errsz);
	if (!strcmp(name, "flush-ms")) {
		e = set_u32(&cfg->flush_ms, v, name, err, errsz);
		if (!e && !cfg->flush_ms)
			return fail(err, errsz, "flush-ms: > 0");
		return e;
	}
	if (!strcmp(name, "timer-c-ms"))
		return set_u32(&cfg->timer_c_ms, v, name, err, errsz);
	if (!strcmp(name, "t1-ms")) {
		e = set_u32(&cfg->t1_ms, v, name, err, errsz);
		if (!e && (cfg->t1_ms < 10 || cfg->t1_ms > 60000))
			return fail(err, errsz, "t1-ms: 10..60000");
		return e;
	}
	if (!strcmp(name, "presence-filter"))
		return set_str(cfg->presence_filter,
			       sizeof(cfg->presence_filter), v, name, err,
			       errsz);
	if (!strcmp(name, "presence-min-expires"))
		return set_u32(&cfg->presence_min_expires, v, name, err,
			       errsz);
	if (!strcmp(name, "presence-max-expires"))
		return set_u32(&cfg->presence_max_expires, v, name, err,
			       errsz);
	if (!strcmp(name, "presence-default-expires"))
		return set_u32(&cfg->presence_default_expires, v, name, err,
			       errsz);
	return fail(err, errsz, "unknown setting '%s'", name);
}

static const struct option long_opts[] = {
	{"listen", required_argument, NULL, 0},
	{"tls-cert", required_argument, NULL, 0},
	{"tls-key", required_argument, NULL, 0},
	{"tls-ca", required_argument, NULL, 0},
	{"domain", required_argument, NULL, 0},
	{"db", required_argument, NULL, 0},
	{"users-file", required_argument, NULL, 0},
	{"db-mode", required_argument, NULL, 0},
	{"auth", required_argument, NULL, 0},
	{"workers", required_argument, NULL, 0},
	{"min-expires", required_argument, NULL, 0},
	{"max-expires", required_argument, NULL, 0},
	{"default-expires", required_argument, NULL, 0},
	{"flush-ms", required_argument, NULL, 0},
	{"timer-c-ms", required_argument, NULL, 0},
	{"t1-ms", required_argument, NULL, 0},
	{"presence-filter", required_argument, NULL, 0},
	{"presence-min-expires", required_argument, NULL, 0},
	{"presence-max-expires", required_argument, NULL, 0},
	{"presence-default-expires", required_argument, NULL, 0},
	{"record-route", no_argument, NULL, 0},
	{"closed", no_argument, NULL, 0},
	{"redirect", no_argument, NULL, 0},
	{"control", no_argument, NULL, 0},
	{"presence", no_argument, NULL, 0},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 0},
	{NULL, 0, NULL, 0},
};

void stateful_cfg_usage(FILE *f)
{
	fputs("usage: proxy-stateful --listen udp:HOST:PORT [--listen "
	      "tcp:...]\n"
	      "         [--listen tls:... --tls-cert F --tls-key F "
	      "[--tls-ca F]]\n"
	      "         --domain D [--db mysql://user@host:port/name | "
	      "--users-file F]\n"
	      "         [--db-mode memory|write-through|write-back]\n"
	      "         [--auth none|register|invite|all] [--record-route] "
	      "[--closed] [--redirect]\n"
	      "         [--workers N] [--min-expires S] [--max-expires S] "
	      "[--default-expires S]\n"
	      "         [--flush-ms MS] [--timer-c-ms MS] [--t1-ms MS]\n"
	      "         [--presence [--presence-filter F] "
	      "[--presence-min-expires S]\n"
	      "          [--presence-max-expires S] "
	      "[--presence-default-expires S]]\n"
	      "         [--control]\n"
	      "       proxy-stateful --config FILE.json [flags...]  (keys "
	      "are the flags' names)\n"
	      "       proxy-stateful --version | --help\n",
	      f);
}

struct parse_ctx {
	struct stateful_cfg *cfg;
	bool *control;
};

/* One option (argcfg_opt_h): v is NULL for the flags. */
static int on_opt(const char *name, const char *v, void *arg, char *err,
		  size_t errsz)
{
	struct parse_ctx *pc = arg;

	if (v)
		return apply(pc->cfg, name, v, err, errsz);
	if (!strcmp(name, "help")) {
		stateful_cfg_usage(stdout);
		return STATEFUL_CFG_EXIT;
	}
	if (!strcmp(name, "version"))
		return version_print(stdout, "proxy-stateful")
			       ? EIO
			       : STATEFUL_CFG_EXIT;
	if (!strcmp(name, "record-route"))
		pc->cfg->record_route = true;
	else if (!strcmp(name, "closed"))
		pc->cfg->closed = true;
	else if (!strcmp(name, "redirect"))
		pc->cfg->redirect = true;
	else if (!strcmp(name, "control"))
		*pc->control = true;
	else if (!strcmp(name, "presence"))
		pc->cfg->presence = true;
	return 0;
}

/* What no single option can say wrong. */
static int check(const struct stateful_cfg *cfg, char *err, size_t errsz)
{
	size_t i;

	if (!cfg->nlisten)
		return fail(err, errsz, "at least one --listen is needed");
	for (i = 0; i < cfg->nlisten; i++)
		if (!strncasecmp(cfg->listen[i], "tls:", 4) &&
		    (!cfg->tls_cert[0] || !cfg->tls_key[0]))
			return fail(err, errsz,
				    "--listen %s needs --tls-cert and "
				    "--tls-key",
				    cfg->listen[i]);
	if (cfg->db_mode != STATEFUL_DB_MEMORY && !cfg->db_url[0])
		return fail(err, errsz, "--db-mode needs --db");
	if (cfg->min_expires > cfg->max_expires)
		return fail(err, errsz, "min-expires above max-expires");
	if (cfg->presence_min_expires > cfg->presence_max_expires)
		return fail(err, errsz,
			    "presence-min-expires above presence-max-expires");
	if (cfg->presence_filter[0] && !cfg->presence)
		return fail(err, errsz, "--presence-filter needs --presence");
	return 0;
}

int stateful_cfg_parse(struct stateful_cfg *cfg, int argc, char **argv,
		       bool *control, char *err, size_t errsz)
{
	struct parse_ctx pc = {cfg, control};
	int e;

	*control = false;
	/* --config FILE.json: each key a flag (common/argcfg.h). */
	e = argcfg_parse(argc, argv, long_opts, on_opt, &pc, err, errsz);
	return e ? e : check(cfg, err, errsz);
}
