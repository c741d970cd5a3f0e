/* stateful_cfg.c - proxy-stateful's command line and --config JSON. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pl.h"
#include "stateful.h"

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

static bool is_flag(const char *name)
{
	return !strcmp(name, "record-route") || !strcmp(name, "closed") ||
	       !strcmp(name, "control") || !strcmp(name, "presence");
}

static int apply_flag(struct stateful_cfg *cfg, const char *name, bool on,
		      bool *control)
{
	if (!strcmp(name, "record-route"))
		cfg->record_route = on;
	else if (!strcmp(name, "closed"))
		cfg->closed = on;
	else if (!strcmp(name, "control"))
		*control = on;
	else if (!strcmp(name, "presence"))
		cfg->presence = on;
	return 0;
}

static int load_json(struct stateful_cfg *cfg, const char *path, bool *control,
		     char *err, size_t errsz)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	const char *key;
	json_t *v;
	int e = 0;

	if (!root)
		return fail(err, errsz, "%s:%d:%d: %s", path, je.line,
			    je.column, je.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return fail(err, errsz, "%s: expected an object", path);
	}
	json_object_foreach(root, key, v)
	{
		char num[32];
		size_t i;

		if (is_flag(key)) {
			if (!json_is_boolean(v)) {
				e = fail(err, errsz,
					 "%s: %s: expected true "
					 "or false",
					 path, key);
				break;
			}
			apply_flag(cfg, key, json_is_true(v), control);
		} else if (!strcmp(key, "listen") && json_is_array(v)) {
			json_t *x;

			json_array_foreach(v, i, x)
			{
				e = apply(cfg, key, json_string_value(x), err,
					  errsz);
				if (e)
					break;
			}
		} else if (json_is_string(v)) {
			e = apply(cfg, key, json_string_value(v), err, errsz);
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld",
				 (long long)json_integer_value(v));
			e = apply(cfg, key, num, err, errsz);
		} else {
			e = fail(err, errsz, "%s: %s: bad value type", path,
				 key);
		}
		if (e)
			break;
	}
	json_decref(root);
	if (e && !strchr(err, ':'))
		return e;
	return e;
}

int stateful_cfg_parse(struct stateful_cfg *cfg, int argc, char **argv,
		     bool *control, char *err, size_t errsz)
{
	int i, e;

	*control = false;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config")) {
			if (i + 1 >= argc)
				return fail(err, errsz, "--config: file?");
			e = load_json(cfg, argv[i + 1], control, err, errsz);
			if (e)
				return e;
		}
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "--", 2))
			return fail(err, errsz, "unexpected argument '%s'", a);
		a += 2;
		if (!strcmp(a, "config")) {
			i++;
			continue;
		}
		if (is_flag(a)) {
			apply_flag(cfg, a, true, control);
			continue;
		}
		if (i + 1 >= argc)
			return fail(err, errsz, "--%s: missing value", a);
		e = apply(cfg, a, argv[++i], err, errsz);
		if (e) {
			if (!strncmp(err, "unknown setting", 15))
				snprintf(err, errsz, "unknown option --%s", a);
			return e;
		}
	}
	if (!cfg->nlisten)
		return fail(err, errsz, "at least one --listen is needed");
	for (i = 0; i < (int)cfg->nlisten; i++)
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
