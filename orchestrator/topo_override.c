#include "topo_override.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo.h"
#include "topo_override_extra.h"

static bool parse_uint(const char *s, unsigned min, unsigned max,
		       unsigned *out)
{
	struct pl p;
	uint32_t v;

	pl_set_str(&p, s);
	if (pl_u32(&p, &v) || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true"))
		*out = true;
	else if (!strcmp(s, "false"))
		*out = false;
	else
		return false;
	return true;
}

/*
 * Writes the overridden setting into the file's "experiment" object as
 * the file would have said it, so that the bundle's setup (and every
 * report and comparison made from it) shows the settings the run had.
 */
static void record_override(struct topo *t, const char *key,
			    const struct topo_experiment *e)
{
	json_t *exp = json_object_get(t->json, "experiment"), *sub;

	if (!json_is_object(t->json))
		return;
	if (!json_is_object(exp)) {
		exp = json_object();
		json_object_set_new(t->json, "experiment", exp);
	}
	if (!strcmp(key, "test")) {
		json_object_set_new(exp, "test", json_string(e->test));
	} else if (!strcmp(key, "transport")) {
		char name[8];

		snprintf(name, sizeof(name), "%s",
			 sip_transport_name(e->transport));
		for (char *c = name; *c; c++)
			*c = (char)(*c | 0x20);
		json_object_set_new(exp, "transport", json_string(name));
	} else if (!strcmp(key, "connection")) {
		json_object_set_new(exp, "connection",
				    json_string(e->connection));
	} else if (!strcmp(key, "auth")) {
		json_object_set_new(exp, "auth", json_boolean(e->auth));
	} else if (!strcmp(key, "preload-credentials")) {
		json_object_set_new(exp, "preload_credentials",
				    json_boolean(e->preload_credentials));
	} else if (!strcmp(key, "users")) {
		sub = json_object_get(exp, "users");
		if (!json_is_object(sub)) {
			sub = json_object();
			json_object_set_new(exp, "users", sub);
		}
		json_object_set_new(sub, "count", json_integer(e->user_count));
	} else if (!strcmp(key, "rate")) {
		json_object_set_new(exp, "rate",
				    json_pack("{s:I,s:I,s:I}", "start",
					      (json_int_t)e->rate_start,
					      "step", (json_int_t)e->rate_step,
					      "final",
					      (json_int_t)e->rate_final));
	} else if (!strcmp(key, "success-percent")) {
		json_object_set_new(exp, "success_percent",
				    json_real(e->success_pct));
	} else if (!strcmp(key, "search")) {
		json_object_set_new(exp, "search", json_string(e->search));
	} else {
		static const struct {
			const char *key, *field;
			size_t offset;
		} uints[] = {
			{"step-s", "step_duration_s",
			 offsetof(struct topo_experiment, step_s)},
			{"warmup-s", "warmup_s",
			 offsetof(struct topo_experiment, warmup_s)},
			{"ta-limit-ms", "ta_limit_ms",
			 offsetof(struct topo_experiment, ta_limit_ms)},
			{"threshold-ms", "threshold_ms",
			 offsetof(struct topo_experiment, threshold_ms)},
			{"granularity", "granularity",
			 offsetof(struct topo_experiment, granularity)},
			{"baseline-s", "baseline_s",
			 offsetof(struct topo_experiment, baseline_s)},
			{"hold-ms", "hold_ms",
			 offsetof(struct topo_experiment, hold_ms)},
			{"max-rate", "max_rate",
			 offsetof(struct topo_experiment, max_rate)},
		};

		for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++)
			if (!strcmp(key, uints[i].key)) {
				const unsigned *v =
					(const unsigned *)((const char *)e +
							   uints[i].offset);

				json_object_set_new(exp, uints[i].field,
						    json_integer(*v));
			}
	}
}

/* Reads value as setting key into e: 0, EINVAL with why, or ENOENT
 * for a value that is not good (topo_override says so). */
static int read_value(const struct topo *t, const char *key, const char *value,
		      struct topo_experiment *e, char *why, size_t whysz)
{
	if (!strcmp(key, "test")) {
		size_t i;

		for (i = 0; topo_tests[i] && strcmp(topo_tests[i], value); i++)
			;
		if (!topo_tests[i])
			return ENOENT;
		snprintf(e->test, sizeof(e->test), "%s", value);
		if (!strcmp(value, "mix") && !e->mix[0] && !e->mix[1] &&
		    !e->mix[2] && !e->mix[3]) {
			snprintf(why, whysz,
				 "--%s %s: %s has no \"mix\" weights", key,
				 value, t->path);
			return EINVAL;
		}
	} else if (!strcmp(key, "transport")) {
		struct pl p;

		pl_set_str(&p, value);
		e->transport = sip_transport_decode(&p);
		if ((e->transport != SIP_TP_UDP &&
		     e->transport != SIP_TP_TCP &&
		     e->transport != SIP_TP_TLS) ||
		    value[0] < 'a')
			return ENOENT;
	} else if (!strcmp(key, "connection")) {
		size_t i;

		for (i = 0;
		     topo_connections[i] && strcmp(topo_connections[i], value);
		     i++)
			;
		if (!topo_connections[i])
			return ENOENT;
		snprintf(e->connection, sizeof(e->connection), "%s", value);
	} else if (!strcmp(key, "auth")) {
		if (!parse_bool(value, &e->auth))
			return ENOENT;
	} else if (!strcmp(key, "preload-credentials")) {
		if (!parse_bool(value, &e->preload_credentials))
			return ENOENT;
	} else if (!strcmp(key, "users")) {
		if (!parse_uint(value, 1, 10000000, &e->user_count))
			return ENOENT;
	} else if (!strcmp(key, "rate")) {
		unsigned v[3];
		char buf[64], *part, *save = NULL;
		int n = 0;

		snprintf(buf, sizeof(buf), "%s", value);
		for (part = strtok_r(buf, ":", &save); part && n < 3;
		     part = strtok_r(NULL, ":", &save))
			if (!parse_uint(part, 1, 10000000, &v[n++]))
				return ENOENT;
		if (n != 3 || part || v[2] < v[0])
			return ENOENT;
		e->rate_start = v[0];
		e->rate_step = v[1];
		e->rate_final = v[2];
	} else if (!strcmp(key, "step-s")) {
		if (!parse_uint(value, 1, 86400, &e->step_s))
			return ENOENT;
	} else if (!strcmp(key, "warmup-s")) {
		if (!parse_uint(value, 0, 3600, &e->warmup_s))
			return ENOENT;
	} else if (!strcmp(key, "ta-limit-ms")) {
		if (!parse_uint(value, 1, 600000, &e->ta_limit_ms))
			return ENOENT;
	} else if (!strcmp(key, "search")) {
		size_t i;

		for (i = 0;
		     topo_searches[i] && strcmp(topo_searches[i], value); i++)
			;
		if (!topo_searches[i])
			return ENOENT;
		snprintf(e->search, sizeof(e->search), "%s", value);
	} else if (!strcmp(key, "threshold-ms")) {
		if (!parse_uint(value, 100, 600000, &e->threshold_ms))
			return ENOENT;
	} else if (!strcmp(key, "baseline-s")) {
		if (!parse_uint(value, 0, 3600, &e->baseline_s))
			return ENOENT;
	} else if (!strcmp(key, "granularity")) {
		if (!parse_uint(value, 1, 1000000, &e->granularity))
			return ENOENT;
	} else if (!strcmp(key, "hold-ms")) {
		if (!parse_uint(value, 0, 3600000, &e->hold_ms))
			return ENOENT;
	} else if (!strcmp(key, "max-rate")) {
		if (!parse_uint(value, 0, 10000000, &e->max_rate))
			return ENOENT;
	} else if (!strcmp(key, "success-percent")) {
		char *end;
		double v = strtod(value, &end);

		if (*end || v <= 0 || v > 100)
			return ENOENT;
		e->success_pct = v;
	} else {
		snprintf(why, whysz, "--%s: not an experiment setting", key);
		return EINVAL;
	}
	return 0;
}

/* Checks e as the file would be checked: every node on the path listens
 * on the transport, a challenging proxy needs auth, ...  0 or EINVAL
 * with why. */
static int check_setting(const struct topo *t, const char *key,
			 const char *value, const struct topo_experiment *e,
			 char *why, size_t whysz)
{
	bool challenges = false;
	size_t nch = 0;

	for (size_t i = 0; i < t->nnodes; i++) {
		const struct topo_node *n = &t->nodes[i];

		nch += n->role == TOPO_CALLHANDLER;
		if (n->role == TOPO_STATEFUL && strcmp(n->auth, "none"))
			challenges = true;
		if (n->role != TOPO_LOADER && n->nlisten &&
		    !topo_node_listens(n, e->transport)) {
			snprintf(why, whysz,
				 "--%s %s: %s \"%s\" has no %s listener in %s",
				 key, value, topo_role_key(n->role), n->name,
				 sip_transport_name(e->transport), t->path);
			return EINVAL;
		}
	}
	if (topo_needs_callhandler(e) && !nch) {
		snprintf(why, whysz,
			 "--%s %s: the %s test needs a "
			 "callhandler",
			 key, value, e->test);
		return EINVAL;
	}
	if (topo_mix_splits_users(e) && e->user_count < 2) {
		snprintf(why, whysz,
			 "--%s %s: the mix splits the users in two: it needs "
			 "2 or more",
			 key, value);
		return EINVAL;
	}
	if (challenges && !e->auth) {
		snprintf(why, whysz,
			 "--%s %s: a stateful proxy of %s challenges but the "
			 "experiment would not authenticate",
			 key, value, t->path);
		return EINVAL;
	}
	if (e->preload_credentials && !e->auth) {
		snprintf(why, whysz,
			 "--%s %s: preloaded credentials need --auth true",
			 key, value);
		return EINVAL;
	}
	if (e->max_rate && e->max_rate < e->rate_final) {
		snprintf(why, whysz,
			 "--%s %s: max_rate %u is below the final rate %u",
			 key, value, e->max_rate, e->rate_final);
		return EINVAL;
	}
	return 0;
}

int topo_override(struct topo *t, const char *key, const char *value,
		  char *why, size_t whysz)
{
	struct topo_experiment e = t->exp;
	int err = topo_override_extra(t, key, value, why, whysz);

	if (err != ENOTSUP)
		return err;
	err = read_value(t, key, value, &e, why, whysz);

	if (err == ENOENT)
		snprintf(why, whysz, "--%s: bad value \"%s\"", key, value);
	if (!err)
		err = check_setting(t, key, value, &e, why, whysz);
	if (err)
		return EINVAL;
	t->exp = e;
	record_override(t, key, &e);
	return 0;
}
