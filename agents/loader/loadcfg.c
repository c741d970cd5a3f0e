/*
 * loadcfg.c - the loader's configuration values (see loadcfg.h).
 */
#include "loadcfg.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enum_name.h"

const char *loadcfg_test_name(enum loadcfg_test t)
{
	static const char *const names[] = {
		[LOADCFG_REGISTER] = "register",
		[LOADCFG_REREGISTER] = "reregister",
		[LOADCFG_OPTIONS] = "options",
		[LOADCFG_INVITE] = "invite",
		[LOADCFG_MIX] = "mix",
		[LOADCFG_SUBSCRIBE] = "subscribe",
		[LOADCFG_PUBLISH] = "publish",
	};

	return enum_name(names, ENUM_NAMES_LEN(names), t, "?");
}

int loadcfg_test_decode(const char *s, enum loadcfg_test *t)
{
	if (!strcmp(s, "register"))
		*t = LOADCFG_REGISTER;
	else if (!strcmp(s, "reregister"))
		*t = LOADCFG_REREGISTER;
	else if (!strcmp(s, "options"))
		*t = LOADCFG_OPTIONS;
	else if (!strcmp(s, "invite"))
		*t = LOADCFG_INVITE;
	else if (!strcmp(s, "mix"))
		*t = LOADCFG_MIX;
	else if (!strcmp(s, "subscribe"))
		*t = LOADCFG_SUBSCRIBE;
	else if (!strcmp(s, "publish"))
		*t = LOADCFG_PUBLISH;
	else
		return EINVAL;
	return 0;
}

/* SIPstone's call tests: an INVITE and the final it must get. */
static const struct {
	const char *name;
	uint16_t expect;
} call_tests[] = {
	{"redirect", 302},
	{"proxy480", 480},
	{"proxy486", 486},
};

int loadcfg_test_parse(struct loadcfg *cfg, const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(call_tests) / sizeof(call_tests[0]); i++) {
		if (!strcmp(s, call_tests[i].name)) {
			cfg->test = LOADCFG_INVITE;
			cfg->expect = call_tests[i].expect;
			return 0;
		}
	}
	cfg->expect = 200;
	return loadcfg_test_decode(s, &cfg->test);
}

const char *loadcfg_run_name(const struct loadcfg *cfg)
{
	size_t i;

	if (cfg->test == LOADCFG_INVITE)
		for (i = 0; i < sizeof(call_tests) / sizeof(call_tests[0]);
		     i++)
			if (cfg->expect == call_tests[i].expect)
				return call_tests[i].name;
	return loadcfg_test_name(cfg->test);
}

int loadcfg_hold_decode(struct loadcfg *cfg, const char *s)
{
	const char *colon = strchr(s, ':');
	unsigned long v;
	bool exp;
	char *end;

	if (!colon)
		return EINVAL;
	if ((size_t)(colon - s) == 5 && !strncmp(s, "fixed", 5))
		exp = false;
	else if ((size_t)(colon - s) == 3 && !strncmp(s, "exp", 3))
		exp = true;
	else
		return EINVAL;
	if (!isdigit((unsigned char)colon[1]))
		return EINVAL;
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	/* an exponential of mean 0 is no distribution */
	if (errno || *end || v > 3600000 || (exp && !v))
		return EINVAL;
	cfg->hold_ms = (uint32_t)v;
	cfg->hold_exp = exp;
	return 0;
}

int loadcfg_conn_decode(struct loadcfg *cfg, const char *s)
{
	static const char pers[] = "persistent";
	size_t n = sizeof(pers) - 1;
	unsigned long v = 0;

	if (!strcmp(s, "per-request")) {
		cfg->conn = LOADCFG_CONN_PER_REQUEST;
		cfg->conns = 0;
		return 0;
	}
	if (strncmp(s, pers, n) || (s[n] && s[n] != ':'))
		return EINVAL;
	if (s[n] == ':') {
		char *end;

		if (!isdigit((unsigned char)s[n + 1]))
			return EINVAL;
		errno = 0;
		v = strtoul(s + n + 1, &end, 10);
		if (errno || *end || !v || v > 65536)
			return EINVAL;
	}
	cfg->conn = LOADCFG_CONN_PERSISTENT;
	cfg->conns = (unsigned)v;
	return 0;
}

const char *loadcfg_conn_name(enum loadcfg_conn c)
{
	return c == LOADCFG_CONN_PER_REQUEST ? "per-request" : "persistent";
}

int loadcfg_mix_parse(struct loadcfg *cfg, const char *s, char *why,
		      size_t size)
{
	uint32_t mix[LOADCFG_KINDS] = {0};
	unsigned pcts = 0, n = 0;
	uint64_t sum = 0;
	const char *p = s;

	while (*p) {
		size_t kl = strcspn(p, "=,");
		char kind[16], *end;
		enum loadcfg_test t;
		unsigned long v;

		if (kl >= sizeof(kind) || p[kl] != '=') {
			snprintf(why, size, "\"%.*s\": want KIND=WEIGHT",
				 (int)strcspn(p, ","), p);
			return EINVAL;
		}
		memcpy(kind, p, kl);
		kind[kl] = '\0';
		if (loadcfg_test_decode(kind, &t) || t == LOADCFG_MIX) {
			snprintf(why, size,
				 "unknown kind \"%s\" (register, reregister, "
				 "options, invite)",
				 kind);
			return EINVAL;
		}
		if (mix[t - 1]) {
			snprintf(why, size, "%s given twice", kind);
			return EINVAL;
		}
		p += kl + 1;
		errno = 0;
		v = isdigit((unsigned char)*p) ? strtoul(p, &end, 10) : 0;
		if (!isdigit((unsigned char)*p) || errno || !v ||
		    v > 1000000 || (*end && *end != ',' && *end != '%') ||
		    (*end == '%' && end[1] && end[1] != ',')) {
			snprintf(why, size,
				 "%s: the weight must be an integer "
				 "1..1000000 "
				 "or a percentage",
				 kind);
			return EINVAL;
		}
		if (*end == '%') {
			pcts++;
			end++;
		}
		mix[t - 1] = (uint32_t)v;
		sum += v;
		n++;
		p = end;
		if (*p == ',' && !*++p) {
			snprintf(why, size, "a trailing comma");
			return EINVAL;
		}
	}
	if (!n) {
		snprintf(why, size, "empty: want e.g. register=50,invite=50");
		return EINVAL;
	}
	if (pcts && (pcts != n || sum != 100)) {
		snprintf(why, size,
			 "percentages must be given for every kind and add "
			 "up to 100");
		return EINVAL;
	}
	memcpy(cfg->mix, mix, sizeof(mix));
	return 0;
}

int loadcfg_reg_users_parse(struct loadcfg *cfg, const char *s)
{
	struct loadcfg r;

	memset(&r, 0, sizeof(r));
	if (loadcfg_users_parse(&r, s) || strcmp(r.prefix, cfg->prefix) ||
	    r.width != cfg->width)
		return EINVAL;
	cfg->rfirst = r.ufirst;
	cfg->rlast = r.ulast;
	cfg->reg_users = true;
	return 0;
}

bool loadcfg_has_kind(const struct loadcfg *cfg, enum loadcfg_test t)
{
	return cfg->test == LOADCFG_MIX ? cfg->mix[t - 1] > 0 : cfg->test == t;
}

int loadcfg_mix_check(const struct loadcfg *cfg, char *why, size_t size)
{
	bool reg = loadcfg_has_kind(cfg, LOADCFG_REGISTER) ||
		   loadcfg_has_kind(cfg, LOADCFG_REREGISTER);
	bool others = loadcfg_has_kind(cfg, LOADCFG_INVITE) ||
		      loadcfg_has_kind(cfg, LOADCFG_OPTIONS);
	unsigned k, n = 0;

	if (cfg->test != LOADCFG_MIX) {
		if (cfg->reg_users) {
			snprintf(why, size, "--register-users is for a mix");
			return EINVAL;
		}
		return 0;
	}
	for (k = 0; k < LOADCFG_KINDS; k++)
		n += cfg->mix[k] > 0;
	if (!n) {
		snprintf(why, size, "--test mix needs --mix");
		return EINVAL;
	}
	if (reg && others && !cfg->reg_users) {
		snprintf(why, size,
			 "a mix of REGISTERs with INVITEs or OPTIONS needs "
			 "--register-users, apart from --users (the callees)");
		return EINVAL;
	}
	if (cfg->reg_users && others && cfg->rfirst <= cfg->ulast &&
	    cfg->ufirst <= cfg->rlast) {
		snprintf(why, size, "--register-users overlaps --users");
		return EINVAL;
	}
	if (cfg->reg_users && reg &&
	    (uint64_t)cfg->rlast - cfg->rfirst + 1 < cfg->threads) {
		snprintf(why, size, "fewer --register-users than --threads");
		return EINVAL;
	}
	return 0;
}

static int split_user(const char *s, size_t len, char *prefix, size_t psz,
		      uint32_t *num, unsigned *width)
{
	size_t d = len;
	unsigned long long v = 0;
	size_t i;

	while (d > 0 && isdigit((unsigned char)s[d - 1]))
		d--;
	if (d == len || len - d > 9 || d >= psz)
		return EINVAL;
	for (i = d; i < len; i++)
		v = v * 10u + (unsigned)(s[i] - '0');
	memcpy(prefix, s, d);
	prefix[d] = '\0';
	*num = (uint32_t)v;
	*width = (unsigned)(len - d);
	return 0;
}

int loadcfg_users_parse(struct loadcfg *cfg, const char *s)
{
	char p1[LOADCFG_NAME_MAX], p2[LOADCFG_NAME_MAX];
	const char *dash = strrchr(s, '-');
	uint32_t a, b;
	unsigned w1, w2;
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.+", s[i]))
			return EINVAL;
	if (!dash || dash == s || !isdigit((unsigned char)dash[-1])) {
		/* one user: a name, numbered or not */
		if (!*s || strlen(s) >= sizeof(cfg->prefix))
			return EINVAL;
		if (split_user(s, strlen(s), p1, sizeof(p1), &a, &w1)) {
			snprintf(cfg->prefix, sizeof(cfg->prefix), "%s", s);
			cfg->ufirst = cfg->ulast = 0;
			cfg->width = 0;
			return 0;
		}
		snprintf(cfg->prefix, sizeof(cfg->prefix), "%s", p1);
		cfg->ufirst = cfg->ulast = a;
		cfg->width = w1;
		return 0;
	}
	if (split_user(s, (size_t)(dash - s), p1, sizeof(p1), &a, &w1))
		return EINVAL;
	if (split_user(dash + 1, strlen(dash + 1), p2, sizeof(p2), &b, &w2))
		return EINVAL;
	if ((*p2 && strcmp(p1, p2)) || b < a)
		return EINVAL;
	snprintf(cfg->prefix, sizeof(cfg->prefix), "%s", p1);
	cfg->ufirst = a;
	cfg->ulast = b;
	cfg->width = w1;
	return 0;
}

int loadcfg_user_name(const struct loadcfg *cfg, uint32_t num, char *out,
		      size_t size)
{
	size_t pl = strlen(cfg->prefix), nd = 0, i;
	char d[10];

	/* once per request: digits by hand, not printf */
	if (cfg->width) {
		do {
			d[nd++] = (char)('0' + num % 10u);
			num /= 10u;
		} while (num && nd < sizeof(d));
		while (nd < cfg->width && nd < sizeof(d))
			d[nd++] = '0';
	}
	if (pl + nd >= size)
		return EOVERFLOW;
	memcpy(out, cfg->prefix, pl);
	for (i = 0; i < nd; i++)
		out[pl + i] = d[nd - 1 - i];
	out[pl + nd] = '\0';
	return 0;
}
