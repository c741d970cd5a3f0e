#include "topo_override_extra.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "topo.h"

/* value as a whole number in [min, max] into *out. */
static bool read_uint(const char *value, unsigned min, unsigned max,
		      unsigned *out)
{
	struct pl p;
	uint32_t v;

	pl_set_str(&p, value);
	if (!value[0] || pl_u32(&p, &v) || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* A user name's prefix: characters RFC 3261 §25.1 leaves unescaped in
 * a user part, the shell and SQL quoting too. */
static bool prefix_ok(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 31)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

/* The object at key of parent, made when missing (borrowed). */
static json_t *object_at(json_t *parent, const char *key)
{
	json_t *o = json_object_get(parent, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(parent, key, o);
	}
	return o;
}

static const char *const presence_keys[] = {"watchers", "refresh-s",
					    "body-bytes", "filter", NULL};

static bool is_presence_key(const char *key)
{
	for (size_t i = 0; presence_keys[i]; i++)
		if (!strcmp(key, presence_keys[i]))
			return true;
	return false;
}

/* Reads value into e and the field's JSON into *field and *json (new
 * reference).  0, EINVAL (bad value) or ENOTSUP (not ours). */
static int read_value(const char *key, const char *value,
		      struct topo_experiment *e, const char **field,
		      json_t **json)
{
	unsigned v;

	if (!strcmp(key, "filter")) {
		if (strcmp(value, "true") && strcmp(value, "false"))
			return EINVAL;
		e->filter = !strcmp(value, "true");
		*field = "filter";
		*json = json_boolean(e->filter);
		return 0;
	}
	if (!strcmp(key, "users-prefix")) {
		if (!prefix_ok(value))
			return EINVAL;
		snprintf(e->user_prefix, sizeof(e->user_prefix), "%s", value);
		*field = "prefix";
		*json = json_string(value);
		return 0;
	}
	if (!strcmp(key, "watchers")) {
		if (!read_uint(value, 1, 1000, &v))
			return EINVAL;
		e->watchers = v;
		*field = "watchers_per_presentity";
	} else if (!strcmp(key, "refresh-s")) {
		if (!read_uint(value, 0, 86400, &v))
			return EINVAL;
		e->refresh_s = v;
		*field = "refresh_s";
	} else if (!strcmp(key, "body-bytes")) {
		if (!read_uint(value, 0, 65536, &v))
			return EINVAL;
		e->body_bytes = v;
		*field = "body_bytes";
	} else if (!strcmp(key, "users-first")) {
		if (!read_uint(value, 0, 999999999, &v))
			return EINVAL;
		e->user_first = v;
		*field = "first";
	} else {
		return ENOTSUP;
	}
	*json = json_integer(v);
	return 0;
}

int topo_override_extra(struct topo *t, const char *key, const char *value,
			char *why, size_t whysz)
{
	struct topo_experiment e = t->exp;
	const char *field = NULL;
	json_t *json = NULL, *exp;
	bool presence = is_presence_key(key);
	int err = read_value(key, value, &e, &field, &json);

	if (err == ENOTSUP)
		return err;
	if (err) {
		snprintf(why, whysz, "--%s: bad value \"%s\"", key, value);
		return EINVAL;
	}
	if (presence && !topo_is_presence(&e)) {
		snprintf(why, whysz,
			 "--%s %s: presence settings are for the subscribe "
			 "and publish tests, and %s runs %s",
			 key, value, t->path, e.test);
		json_decref(json);
		return EINVAL;
	}
	t->exp = e;
	if (!json_is_object(t->json)) {
		json_decref(json);
		return 0;
	}
	exp = object_at(t->json, "experiment");
	json_object_set_new(object_at(exp, presence ? "presence" : "users"),
			    field, json);
	return 0;
}
