#include "topo.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"

/* One file being read: where messages go and how to place them. */
struct ctx {
	const char *path;
	struct jsonpos *pos;
	struct topo_errors *errs;
	size_t nerr_at_start;
};

static const char *const role_keys[TOPO_ROLE_COUNT] = {
	"stateful", "stateless", "callhandlers", "loaders"};

const char *topo_role_key(enum topo_role role)
{
	return role < TOPO_ROLE_COUNT ? role_keys[role] : "";
}

void topo_errors_free(struct topo_errors *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->lines[i]);
	free(e->lines);
	e->lines = NULL;
	e->n = 0;
}

/* "path:line:column: ..." sorts by path, then line, then column. */
static int cmp_place(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	const char *xc = strchr(x, ':'), *yc = strchr(y, ':');
	size_t xl = xc ? (size_t)(xc - x) : strlen(x);
	size_t yl = yc ? (size_t)(yc - y) : strlen(y);
	long xline = 0, yline = 0, xcol = 0, ycol = 0;
	int d;

	d = strncmp(x, y, xl < yl ? xl : yl);
	if (d || xl != yl)
		return d ? d : (xl < yl ? -1 : 1);
	if (xc && yc) {
		char *end;

		xline = strtol(xc + 1, &end, 10);
		xcol = *end == ':' ? strtol(end + 1, NULL, 10) : 0;
		yline = strtol(yc + 1, &end, 10);
		ycol = *end == ':' ? strtol(end + 1, NULL, 10) : 0;
	}
	if (xline != yline)
		return xline < yline ? -1 : 1;
	if (xcol != ycol)
		return xcol < ycol ? -1 : 1;
	return 0;
}

void topo_errors_sort(struct topo_errors *e)
{
	if (e->n > 1)
		qsort(e->lines, e->n, sizeof(*e->lines), cmp_place);
}

static void errs_add(struct topo_errors *e, char *line)
{
	char **lines;

	if (!line)
		return;
	lines = realloc(e->lines, (e->n + 1) * sizeof(*lines));
	if (!lines) {
		free(line);
		return;
	}
	e->lines = lines;
	e->lines[e->n++] = line;
}

static void err_at(struct ctx *c, const char *pointer, bool key,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void err_at(struct ctx *c, const char *pointer, bool key,
		   const char *fmt, ...)
{
	char text[512], *line = NULL;
	int l = 1, col = 1;
	va_list ap;

	jsonpos_find(c->pos, pointer, key, &l, &col);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (asprintf(&line, "%s:%d:%d: %s", c->path, l, col, text) < 0)
		return;
	errs_add(c->errs, line);
}

static bool had_errors(const struct ctx *c)
{
	return c->errs->n > c->nerr_at_start;
}

static void child(char *out, size_t size, const char *parent, const char *key)
{
	snprintf(out, size, "%s/%s", parent, key);
}

static void list_words(char *out, size_t size, const char *const words[])
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; words[i]; i++) {
		int n = snprintf(out + used, size - used, "%s%s",
				 i ? ", " : "", words[i]);

		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
}

/* Every key of obj must be one of allowed. */
static bool check_object(struct ctx *c, json_t *obj, const char *ptr,
			 const char *what, const char *const allowed[])
{
	const char *key;
	json_t *value;
	char words[512], p[256];

	if (!json_is_object(obj)) {
		err_at(c, ptr, false, "%s must be an object", what);
		return false;
	}
	list_words(words, sizeof(words), allowed);
	json_object_foreach(obj, key, value)
	{
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i])
			continue;
		child(p, sizeof(p), ptr, key);
		err_at(c, p, true,
		       "unknown field \"%s\" in %s (expected one of: %s)", key,
		       what, words);
	}
	return true;
}

/* "$schema", when there, is a location: a non-empty string. */
static void check_schema_key(struct ctx *c, json_t *root)
{
	json_t *v = json_object_get(root, "$schema");

	if (v && (!json_is_string(v) || json_string_length(v) == 0))
		err_at(c, "/$schema", false,
		       "\"$schema\" must be a non-empty string (the JSON "
		       "Schema's location)");
}

static bool get_string(struct ctx *c, json_t *obj, const char *ptr,
		       const char *key, bool required, const char *dflt,
		       char *out, size_t size)
{
	json_t *v = json_object_get(obj, key);
	char p[256];

	child(p, sizeof(p), ptr, key);
	if (!v) {
		if (required)
			err_at(c, ptr, false, "missing \"%s\"", key);
		snprintf(out, size, "%s", dflt ? dflt : "");
		return !required;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		err_at(c, p, false, "\"%s\" must be a non-empty string", key);
		return false;
	}
	if (json_string_length(v) >= size) {
		err_at(c, p, false, "\"%s\" is longer than %zu characters",
		       key, size - 1);
		return false;
	}
	snprintf(out, size, "%s", json_string_value(v));
	return true;
}

static bool get_choice(struct ctx *c, json_t *obj, const char *ptr,
		       const char *key, const char *const choices[], char *out,
		       size_t size)
{
	char words[256], p[256];

	if (!get_string(c, obj, ptr, key, false, choices[0], out, size))
		return false;
	for (size_t i = 0; choices[i]; i++)
		if (strcmp(out, choices[i]) == 0)
			return true;
	list_words(words, sizeof(words), choices);
	child(p, sizeof(p), ptr, key);
	err_at(c, p, false, "\"%s\" is \"%s\" (expected one of: %s)", key, out,
	       words);
	return false;
}

static bool get_uint(struct ctx *c, json_t *obj, const char *ptr,
		     const char *key, unsigned min, unsigned max,
		     unsigned dflt, unsigned *out)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;
	char p[256];

	*out = dflt;
	if (!v)
		return true;
	child(p, sizeof(p), ptr, key);
	if (!json_is_integer(v) || (n = json_integer_value(v)) < min ||
	    n > max) {
		err_at(c, p, false, "\"%s\" must be an integer from %u to %u",
		       key, min, max);
		return false;
	}
	*out = (unsigned)n;
	return true;
}

static bool get_bool(struct ctx *c, json_t *obj, const char *ptr,
		     const char *key, bool dflt, bool *out)
{
	json_t *v = json_object_get(obj, key);
	char p[256];

	*out = dflt;
	if (!v)
		return true;
	if (!json_is_boolean(v)) {
		child(p, sizeof(p), ptr, key);
		err_at(c, p, false, "\"%s\" must be true or false", key);
		return false;
	}
	*out = json_is_true(v);
	return true;
}

/* "udp:5060", "tcp:5060", "tls:5061": the address comes from the host. */
static bool parse_listen(const char *s, struct topo_listen *l)
{
	struct pl proto;
	const char *colon = strchr(s, ':');
	uint32_t port;
	struct pl num;

	if (!colon)
		return false;
	proto.p = s;
	proto.l = (size_t)(colon - s);
	l->tp = sip_transport_decode(&proto);
	if (l->tp != SIP_TP_UDP && l->tp != SIP_TP_TCP && l->tp != SIP_TP_TLS)
		return false;
	if (proto.l != 3)
		return false;
	for (size_t i = 0; i < proto.l; i++)
		if (proto.p[i] < 'a')
			return false; /* lower case only, as everywhere else */
	pl_set_str(&num, colon + 1);
	if (pl_u32(&num, &port) || port == 0 || port > 65535)
		return false;
	l->port = (uint16_t)port;
	return true;
}

static void get_listen(struct ctx *c, json_t *obj, const char *ptr,
		       struct topo_node *n)
{
	json_t *arr = json_object_get(obj, "listen"), *v;
	char p[256], q[300];
	size_t i;

	child(p, sizeof(p), ptr, "listen");
	if (!arr) {
		err_at(c, ptr, false,
		       "missing \"listen\" (a list such as "
		       "[\"udp:5060\", \"tcp:5060\"])");
		return;
	}
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > TOPO_MAX_LISTEN) {
		err_at(c, p, false,
		       "\"listen\" must be a list of 1 to %d addresses",
		       TOPO_MAX_LISTEN);
		return;
	}
	json_array_foreach(arr, i, v)
	{
		snprintf(q, sizeof(q), "%s/%zu", p, i);
		if (!json_is_string(v) ||
		    !parse_listen(json_string_value(v),
				  &n->listen[n->nlisten])) {
			err_at(c, q, false,
			       "bad listen address %s (expected udp:PORT, "
			       "tcp:PORT or tls:PORT, PORT 1-65535)",
			       json_is_string(v) ? json_string_value(v)
						 : "(not a string)");
			continue;
		}
		for (size_t k = 0; k < n->nlisten; k++)
			if (n->listen[k].tp == n->listen[n->nlisten].tp)
				err_at(c, q, false,
				       "a second %s listener on one node",
				       sip_transport_name(n->listen[k].tp));
		n->nlisten++;
	}
}

static const char *const stateful_fields[] = {
	"name", "host",		"listen",   "workers", "db_mode",
	"auth", "record_route", "presence", NULL};
static const char *const stateless_fields[] = {
	"name", "host", "listen",	"workers",
	"next", "hash", "record_route", "probe_interval_ms",
	NULL};
static const char *const callhandler_fields[] = {
	"name", "host", "listen", "threads", "register_via", "ring_ms", NULL};
static const char *const loader_fields[] = {"name", "host", "server",
					    "threads", NULL};
static const char *const *const role_fields[TOPO_ROLE_COUNT] = {
	stateful_fields, stateless_fields, callhandler_fields, loader_fields};

static const char *const db_modes[] = {"memory", "write-through", "write-back",
				       NULL};
static const char *const auth_modes[] = {"none", "register", "invite", "all",
					 NULL};
static const char *const hash_keys[] = {"user", "callid", "from", NULL};

static void parse_node(struct ctx *c, json_t *obj, enum topo_role role,
		       size_t index, struct topo_node *n)
{
	char what[64];

	n->role = role;
	snprintf(n->pointer, sizeof(n->pointer), "/%s/%zu", role_keys[role],
		 index);
	snprintf(what, sizeof(what), "%s[%zu]", role_keys[role], index);
	if (!check_object(c, obj, n->pointer, what, role_fields[role]))
		return;
	get_string(c, obj, n->pointer, "name", true, NULL, n->name,
		   sizeof(n->name));
	get_string(c, obj, n->pointer, "host", true, NULL, n->host,
		   sizeof(n->host));
	if (role != TOPO_LOADER)
		get_listen(c, obj, n->pointer, n);
	get_uint(c, obj, n->pointer,
		 role == TOPO_CALLHANDLER || role == TOPO_LOADER ? "threads"
								 : "workers",
		 0, 256, 0, &n->workers);
	get_bool(c, obj, n->pointer, "record_route", false, &n->record_route);
	switch (role) {
	case TOPO_STATEFUL:
		get_choice(c, obj, n->pointer, "db_mode", db_modes, n->db_mode,
			   sizeof(n->db_mode));
		get_choice(c, obj, n->pointer, "auth", auth_modes, n->auth,
			   sizeof(n->auth));
		get_bool(c, obj, n->pointer, "presence", false, &n->presence);
		break;
	case TOPO_STATELESS:
		get_choice(c, obj, n->pointer, "hash", hash_keys, n->hash,
			   sizeof(n->hash));
		get_uint(c, obj, n->pointer, "probe_interval_ms", 50, 60000,
			 1000, &n->probe_interval_ms);
		break;
	case TOPO_CALLHANDLER:
		get_uint(c, obj, n->pointer, "ring_ms", 0, 60000, 0,
			 &n->ring_ms);
		break;
	default:
		break;
	}
}

static ssize_t find_node(const struct topo *t, const char *name)
{
	for (size_t i = 0; i < t->nnodes; i++)
		if (strcmp(t->nodes[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

const struct topo_node *topo_node(const struct topo *t, const char *name)
{
	ssize_t i = find_node(t, name);

	return i < 0 ? NULL : &t->nodes[i];
}

static bool node_listens(const struct topo_node *n, enum sip_transport tp)
{
	for (size_t i = 0; i < n->nlisten; i++)
		if (n->listen[i].tp == tp)
			return true;
	return false;
}

/* The proxy clients reach first: the first stateless, else stateful. */
static ssize_t entry_proxy(const struct topo *t)
{
	for (size_t i = 0; i < t->nnodes; i++)
		if (t->nodes[i].role == TOPO_STATELESS)
			return (ssize_t)i;
	for (size_t i = 0; i < t->nnodes; i++)
		if (t->nodes[i].role == TOPO_STATEFUL)
			return (ssize_t)i;
	return -1;
}

/* "sf1" or "sf1;weight=2" naming a stateful node. */
static void resolve_next(struct ctx *c, struct topo *t, json_t *obj,
			 struct topo_node *n)
{
	json_t *arr = json_object_get(obj, "next"), *v;
	char p[128], q[160];
	size_t i;

	child(p, sizeof(p), n->pointer, "next");
	if (!arr) {
		err_at(c, n->pointer, false,
		       "missing \"next\" (the stateful proxies it shares "
		       "load to)");
		return;
	}
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > TOPO_MAX_NEXT) {
		err_at(c, p, false,
		       "\"next\" must list 1 to %d stateful proxies",
		       TOPO_MAX_NEXT);
		return;
	}
	json_array_foreach(arr, i, v)
	{
		char name[TOPO_NAME_MAX + 32], *semi;
		unsigned weight = 1;
		ssize_t k;

		snprintf(q, sizeof(q), "%s/%zu", p, i);
		if (!json_is_string(v) ||
		    json_string_length(v) >= sizeof(name)) {
			err_at(c, q, false,
			       "expected a stateful proxy's name");
			continue;
		}
		snprintf(name, sizeof(name), "%s", json_string_value(v));
		semi = strchr(name, ';');
		if (semi) {
			struct pl w;
			uint32_t wv;

			*semi = '\0';
			pl_set_str(&w, semi + 1);
			if (w.l < 8 || strncmp(w.p, "weight=", 7) != 0 ||
			    (pl_advance(&w, 7), pl_u32(&w, &wv)) || wv == 0 ||
			    wv > 1000) {
				err_at(c, q, false,
				       "bad weight in \"%s\" (expected "
				       "NAME;weight=1..1000)",
				       json_string_value(v));
				continue;
			}
			weight = wv;
		}
		k = find_node(t, name);
		if (k < 0 || t->nodes[k].role != TOPO_STATEFUL) {
			err_at(c, q, false,
			       "\"%s\" is not a stateful proxy of this "
			       "topology",
			       name);
			continue;
		}
		for (size_t j = 0; j < n->nnext; j++)
			if (n->next[j] == (size_t)k)
				err_at(c, q, false, "\"%s\" listed twice",
				       name);
		n->next_weight[n->nnext] = weight;
		n->next[n->nnext++] = (size_t)k;
	}
}

static void resolve_server(struct ctx *c, struct topo *t, json_t *obj,
			   struct topo_node *n, const char *key)
{
	char name[TOPO_NAME_MAX], p[128];
	ssize_t k;

	if (!json_object_get(obj, key)) {
		k = entry_proxy(t);
		n->server = k < 0 ? 0 : (size_t)k;
		return;
	}
	if (!get_string(c, obj, n->pointer, key, false, NULL, name,
			sizeof(name)))
		return;
	child(p, sizeof(p), n->pointer, key);
	k = find_node(t, name);
	if (k < 0 || (t->nodes[k].role != TOPO_STATEFUL &&
		      t->nodes[k].role != TOPO_STATELESS)) {
		err_at(c, p, false, "\"%s\" is not a proxy of this topology",
		       name);
		return;
	}
	n->server = (size_t)k;
}

/* "$schema" names the JSON Schema for editors (topologies/schema/). */
static const char *const top_fields[] = {
	"$schema",  "name",	  "description", "domain",
	"database", "stateful",	  "stateless",	 "callhandlers",
	"loaders",  "experiment", NULL};
static const char *const db_fields[] = {"host", "managed", "port", NULL};
static const char *const exp_fields[] = {"test",
					 "transport",
					 "connection",
					 "auth",
					 "preload_credentials",
					 "users",
					 "rate",
					 "step_duration_s",
					 "warmup_s",
					 "ta_limit_ms",
					 "success_percent",
					 "search",
					 "threshold_ms",
					 "granularity",
					 "granularity_percent",
					 "max_trials",
					 "confirm_s",
					 "baseline_s",
					 "hold_ms",
					 "mix",
					 "presence",
					 NULL};
static const char *const users_fields[] = {"prefix", "first", "count", NULL};
static const char *const rate_fields[] = {"start", "step", "final", NULL};
static const char *const tests[] = {"register", "reregister", "invite",
				    "options",	"mix",	      "subscribe",
				    "publish",	NULL};
static const char *const presence_fields[] = {
	"watchers_per_presentity", "refresh_s", "body_bytes", "filter", NULL};
const char *const topo_mix_kinds[TOPO_MIX_KINDS + 1] = {
	"register", "reregister", "options", "invite", NULL};

static bool mix_has(const struct topo_experiment *e, const char *kind)
{
	for (unsigned k = 0; k < TOPO_MIX_KINDS; k++)
		if (!strcmp(topo_mix_kinds[k], kind))
			return !strcmp(e->test, "mix") && e->mix[k] > 0;
	return false;
}

bool topo_mix_splits_users(const struct topo_experiment *e)
{
	return (mix_has(e, "register") || mix_has(e, "reregister")) &&
	       (mix_has(e, "invite") || mix_has(e, "options"));
}

bool topo_needs_callhandler(const struct topo_experiment *e)
{
	return !strcmp(e->test, "invite") || mix_has(e, "invite") ||
	       mix_has(e, "options") || !strcmp(e->test, "publish");
}

bool topo_is_presence(const struct topo_experiment *e)
{
	return !strcmp(e->test, "subscribe") || !strcmp(e->test, "publish");
}
static const char *const transports[] = {"udp", "tcp", "tls", NULL};
static const char *const connections[] = {"persistent", "per-request", NULL};
static const char *const searches[] = {"ramp", "rfc7502", "bisect", NULL};

/* The "presence" object: only for the presence tests. */
static void parse_presence(struct ctx *c, json_t *obj,
			   struct topo_experiment *e)
{
	json_t *sub = json_object_get(obj, "presence");
	const char *p = "/experiment/presence";

	e->watchers = 2;
	if (!sub)
		return;
	if (!topo_is_presence(e)) {
		err_at(c, p, true,
		       "\"presence\" is for \"test\": \"subscribe\" or "
		       "\"publish\"");
		return;
	}
	if (!check_object(c, sub, p, "presence", presence_fields))
		return;
	get_uint(c, sub, p, "watchers_per_presentity", 1, 1000, 2,
		 &e->watchers);
	get_uint(c, sub, p, "refresh_s", 0, 86400, 0, &e->refresh_s);
	/* the loader names the least a body takes (its entity's size) */
	get_uint(c, sub, p, "body_bytes", 0, 65536, 0, &e->body_bytes);
	get_bool(c, sub, p, "filter", false, &e->filter);
}

static void parse_experiment(struct ctx *c, json_t *root, struct topo *t)
{
	struct topo_experiment *e = &t->exp;
	json_t *obj = json_object_get(root, "experiment"), *sub;
	char transport[8];
	json_t *pct;
	struct pl tp;

	/* Every field has a default: the seed's REGISTER over UDP test. */
	if (!obj)
		obj = json_object();
	else
		json_incref(obj);
	if (!check_object(c, obj, "/experiment", "experiment", exp_fields))
		goto out;
	get_choice(c, obj, "/experiment", "test", tests, e->test,
		   sizeof(e->test));
	if (get_choice(c, obj, "/experiment", "transport", transports,
		       transport, sizeof(transport))) {
		pl_set_str(&tp, transport);
		e->transport = sip_transport_decode(&tp);
	}
	get_choice(c, obj, "/experiment", "connection", connections,
		   e->connection, sizeof(e->connection));
	get_bool(c, obj, "/experiment", "auth", false, &e->auth);
	get_bool(c, obj, "/experiment", "preload_credentials", false,
		 &e->preload_credentials);
	get_choice(c, obj, "/experiment", "search", searches, e->search,
		   sizeof(e->search));
	get_uint(c, obj, "/experiment", "step_duration_s", 1, 86400, 100,
		 &e->step_s);
	get_uint(c, obj, "/experiment", "warmup_s", 0, 3600, 2, &e->warmup_s);
	get_uint(c, obj, "/experiment", "ta_limit_ms", 1, 600000, 1000,
		 &e->ta_limit_ms);
	get_uint(c, obj, "/experiment", "hold_ms", 0, 3600000, 0, &e->hold_ms);
	/* RFC 7501's Establishment Threshold Time: by default Timer B/F
	 * (64 * T1 = 32 s), as RFC 7502 recommends. */
	get_uint(c, obj, "/experiment", "threshold_ms", 100, 600000, 32000,
		 &e->threshold_ms);
	get_uint(c, obj, "/experiment", "granularity", 1, 1000000, 5,
		 &e->granularity);
	get_uint(c, obj, "/experiment", "max_trials", 1, 256, 40,
		 &e->max_trials);
	get_uint(c, obj, "/experiment", "confirm_s", 0, 86400, 0,
		 &e->confirm_s);
	e->granularity_pct = 1;
	pct = json_object_get(obj, "granularity_percent");
	if (pct) {
		if (!json_is_number(pct) || json_number_value(pct) < 0 ||
		    json_number_value(pct) >= 100)
			err_at(c, "/experiment/granularity_percent", false,
			       "\"granularity_percent\" must be a number in "
			       "[0, 100)");
		else
			e->granularity_pct = json_number_value(pct);
	}
	get_uint(c, obj, "/experiment", "baseline_s", 0, 3600, 3,
		 &e->baseline_s);
	e->success_pct = 50;
	pct = json_object_get(obj, "success_percent");
	if (pct) {
		if (!json_is_number(pct) || json_number_value(pct) <= 0 ||
		    json_number_value(pct) > 100)
			err_at(c, "/experiment/success_percent", false,
			       "\"success_percent\" must be a number in "
			       "(0, 100]");
		else
			e->success_pct = json_number_value(pct);
	}

	sub = json_object_get(obj, "users");
	snprintf(e->user_prefix, sizeof(e->user_prefix), "A");
	e->user_first = 1000;
	e->user_count = 200;
	if (sub &&
	    check_object(c, sub, "/experiment/users", "users", users_fields)) {
		get_string(c, sub, "/experiment/users", "prefix", false, "A",
			   e->user_prefix, sizeof(e->user_prefix));
		get_uint(c, sub, "/experiment/users", "first", 0, 999999999,
			 1000, &e->user_first);
		get_uint(c, sub, "/experiment/users", "count", 1, 10000000,
			 200, &e->user_count);
	}

	sub = json_object_get(obj, "rate");
	e->rate_start = 200;
	e->rate_step = 200;
	e->rate_final = 10000;
	if (sub &&
	    check_object(c, sub, "/experiment/rate", "rate", rate_fields)) {
		get_uint(c, sub, "/experiment/rate", "start", 1, 10000000, 200,
			 &e->rate_start);
		get_uint(c, sub, "/experiment/rate", "step", 1, 10000000, 200,
			 &e->rate_step);
		get_uint(c, sub, "/experiment/rate", "final", 1, 10000000,
			 10000, &e->rate_final);
		if (e->rate_final < e->rate_start)
			err_at(c, "/experiment/rate/final", false,
			       "\"final\" (%u) is below \"start\" (%u)",
			       e->rate_final, e->rate_start);
	}
	if (e->preload_credentials && !e->auth)
		err_at(c, "/experiment/preload_credentials", false,
		       "preload_credentials needs \"auth\": true");

	sub = json_object_get(obj, "mix");
	if (sub && strcmp(e->test, "mix"))
		err_at(c, "/experiment/mix", true,
		       "\"mix\" is for \"test\": \"mix\"");
	else if (sub && check_object(c, sub, "/experiment/mix", "mix",
				     topo_mix_kinds))
		for (unsigned k = 0; k < TOPO_MIX_KINDS; k++)
			get_uint(c, sub, "/experiment/mix", topo_mix_kinds[k],
				 1, 1000000, 0, &e->mix[k]);
	if (!strcmp(e->test, "mix") && !sub)
		err_at(c, "/experiment/test", false,
		       "the mix test needs \"mix\": {\"register\": 50, "
		       "\"invite\": 50, ...}");
	else if (!strcmp(e->test, "mix") && sub && json_is_object(sub) &&
		 !json_object_size(sub))
		err_at(c, "/experiment/mix", false,
		       "\"mix\" needs at least one of register, "
		       "reregister, options, invite");
	if (topo_mix_splits_users(e) && e->user_count < 2)
		err_at(c, "/experiment/users/count", false,
		       "a mix of REGISTERs with INVITEs or OPTIONS splits "
		       "the users in two: \"count\" must be 2 or more");
	parse_presence(c, obj, e);
out:
	json_decref(obj);
}

static void check_semantics(struct ctx *c, struct topo *t)
{
	size_t count[TOPO_ROLE_COUNT] = {0};
	bool challenges = false;

	for (size_t i = 0; i < t->nnodes; i++)
		count[t->nodes[i].role]++;
	if (!count[TOPO_STATEFUL])
		err_at(c, "", false,
		       "missing role: at least one \"stateful\" proxy");
	if (!count[TOPO_LOADER])
		err_at(c, "", false,
		       "missing role: at least one \"loaders\" "
		       "entry");
	if (topo_needs_callhandler(&t->exp) && !count[TOPO_CALLHANDLER])
		err_at(c, "/experiment/test", false,
		       "the %s test needs at least one callhandler",
		       t->exp.test);
	/* Each presentity is one loader's (its publications' sequence
	 * numbers are that loader's) and one callhandler's to watch. */
	if (topo_is_presence(&t->exp)) {
		size_t most = count[TOPO_LOADER];

		if (!strcmp(t->exp.test, "publish") &&
		    count[TOPO_CALLHANDLER] > most)
			most = count[TOPO_CALLHANDLER];
		if (t->exp.user_count < most)
			err_at(c, "/experiment/users/count", false,
			       "the %s test shares the users out between "
			       "%zu loaders or callhandlers: \"count\" must "
			       "be %zu or more",
			       t->exp.test, most, most);
		if (t->exp.transport == SIP_TP_TLS)
			err_at(c, "/experiment/transport", false,
			       "the %s test runs over udp or tcp (the "
			       "watchers have no TLS)",
			       t->exp.test);
	}

	for (size_t i = 0; i < t->nnodes; i++) {
		struct topo_node *n = &t->nodes[i];
		char p[96];

		if (n->name[0] && find_node(t, n->name) != (ssize_t)i) {
			child(p, sizeof(p), n->pointer, "name");
			err_at(c, p, false, "name \"%s\" is used twice",
			       n->name);
		}
		if (n->role == TOPO_STATEFUL && strcmp(n->auth, "none"))
			challenges = true;
	}
	if (challenges && !t->exp.auth)
		err_at(c, "/experiment", false,
		       "a stateful proxy challenges (\"auth\" is not "
		       "\"none\") "
		       "but the experiment does not authenticate: set "
		       "\"auth\": true");

	/* Everything on the request path must speak the test's transport. */
	for (size_t i = 0; i < t->nnodes; i++) {
		struct topo_node *n = &t->nodes[i];
		const char *tpname = sip_transport_name(t->exp.transport);
		char p[96];

		if (t->exp.transport == SIP_TP_NONE)
			break;
		if (n->role != TOPO_LOADER && n->nlisten &&
		    !node_listens(n, t->exp.transport)) {
			child(p, sizeof(p), n->pointer, "listen");
			err_at(c, p, false,
			       "%s \"%s\" has no %s listener, the "
			       "experiment's transport",
			       role_keys[n->role], n->name, tpname);
		}
	}
}

static int read_file(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	if (!f)
		return errno;
	for (;;) {
		size_t got;

		if (cap - n < 4096) {
			char *more;

			if (cap > (64u << 20)) {
				err = EFBIG;
				break;
			}
			cap = cap ? cap * 2 : 8192;
			more = realloc(data, cap);
			if (!more) {
				err = ENOMEM;
				break;
			}
			data = more;
		}
		got = fread(data + n, 1, cap - n - 1, f);
		if (got == 0) {
			if (ferror(f))
				err = EIO;
			break;
		}
		n += got;
	}
	fclose(f);
	if (err) {
		free(data);
		return err;
	}
	data[n] = '\0';
	*text = data;
	*len = n;
	return 0;
}

/* Reads and parses path; a syntax error is placed by jansson. */
static int load_json(const char *path, struct topo_errors *errs, json_t **root,
		     struct jsonpos **pos)
{
	json_error_t jerr;
	char *text = NULL, *line = NULL;
	size_t len = 0;
	int err;

	err = read_file(path, &text, &len);
	if (err) {
		if (asprintf(&line, "%s: cannot read: %s", path,
			     strerror(err)) >= 0)
			errs_add(errs, line);
		return err;
	}
	*root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*root) {
		if (asprintf(&line, "%s:%d:%d: %s", path, jerr.line,
			     jerr.column, jerr.text) >= 0)
			errs_add(errs, line);
		free(text);
		return EBADMSG;
	}
	err = jsonpos_index(pos, text, len);
	free(text);
	if (err) {
		json_decref(*root);
		*root = NULL;
	}
	return err;
}

/* UDP has its own port space; TCP and TLS share one. */
static bool same_space(enum sip_transport a, enum sip_transport b)
{
	return (a == SIP_TP_UDP) == (b == SIP_TP_UDP);
}

/* Every host known, no two listeners on one address and port. */
static void check_inventory(struct ctx *cp, const struct topo *t,
			    const struct inventory *inv)
{
#define c (*cp)
	for (size_t i = 0; i < t->nnodes; i++) {
		const struct topo_node *n = &t->nodes[i];
		const struct inventory_host *h = inventory_host(inv, n->host);
		char p[96];

		if (!n->host[0])
			continue;
		if (!h) {
			child(p, sizeof(p), n->pointer, "host");
			err_at(&c, p, false,
			       "unknown host \"%s\" (not in the inventory %s)",
			       n->host, inv->path);
			continue;
		}
		for (size_t l = 0; l < n->nlisten; l++) {
			/* Compare with every earlier listener on the address. */
			for (size_t j = 0; j <= i; j++) {
				const struct topo_node *m = &t->nodes[j];
				const struct inventory_host *mh =
					inventory_host(inv, m->host);

				if (!mh || strcmp(mh->address, h->address))
					continue;
				for (size_t k = 0;
				     k < (j == i ? l : m->nlisten); k++) {
					if (m->listen[k].port !=
						    n->listen[l].port ||
					    !same_space(m->listen[k].tp,
							n->listen[l].tp))
						continue;
					snprintf(p, sizeof(p), "%s/listen/%zu",
						 n->pointer, l);
					err_at(&c, p, false,
					       "port clash: %s port %u on %s "
					       "is also used by \"%s\"",
					       n->listen[l].tp == SIP_TP_UDP
						       ? "UDP"
						       : "TCP",
					       n->listen[l].port, h->address,
					       m->name);
				}
			}
		}
	}
	if (t->db_host[0]) {
		const struct inventory_host *h =
			inventory_host(inv, t->db_host);

		if (!h)
			err_at(&c, "/database/host", false,
			       "unknown database host \"%s\" (not in the "
			       "inventory %s)",
			       t->db_host, inv->path);
		else
			for (size_t i = 0; i < t->nnodes; i++) {
				const struct topo_node *n = &t->nodes[i];
				const struct inventory_host *nh =
					inventory_host(inv, n->host);

				if (!nh || strcmp(nh->address, h->address))
					continue;
				for (size_t l = 0; l < n->nlisten; l++)
					if (n->listen[l].tp != SIP_TP_UDP &&
					    n->listen[l].port == t->db_port)
						err_at(&c, "/database/port",
						       false,
						       "port clash: the "
						       "database's port %u "
						       "is also used by "
						       "\"%s\"",
						       t->db_port, n->name);
			}
	}
#undef c
}

int topo_load(struct topo **tp, const char *path, const struct inventory *inv,
	      struct topo_errors *errs)
{
	struct ctx c = {path, NULL, errs, errs->n};
	struct topo *t = NULL;
	json_t *root = NULL, *db;
	size_t total = 0;
	int err;

	err = load_json(path, errs, &root, &c.pos);
	if (err)
		goto out;
	t = calloc(1, sizeof(*t));
	if (!t) {
		err = ENOMEM;
		goto out;
	}
	snprintf(t->path, sizeof(t->path), "%s", path);
	if (!check_object(&c, root, "", "the topology", top_fields)) {
		err = EBADMSG;
		goto out;
	}
	check_schema_key(&c, root);
	get_string(&c, root, "", "name", true, NULL, t->name, sizeof(t->name));
	get_string(&c, root, "", "description", false, "", t->description,
		   sizeof(t->description));
	get_string(&c, root, "", "domain", false, "example.com", t->domain,
		   sizeof(t->domain));

	for (int r = 0; r < TOPO_ROLE_COUNT; r++) {
		json_t *arr = json_object_get(root, role_keys[r]);

		if (arr && !json_is_array(arr)) {
			char p[32];

			snprintf(p, sizeof(p), "/%s", role_keys[r]);
			err_at(&c, p, false, "\"%s\" must be a list",
			       role_keys[r]);
			continue;
		}
		total += json_array_size(arr);
	}
	t->nodes = calloc(total ? total : 1, sizeof(*t->nodes));
	if (!t->nodes) {
		err = ENOMEM;
		goto out;
	}
	for (int r = 0; r < TOPO_ROLE_COUNT; r++) {
		json_t *arr = json_object_get(root, role_keys[r]), *v;
		size_t i;

		if (!json_is_array(arr))
			continue;
		json_array_foreach(arr, i, v) parse_node(
			&c, v, (enum topo_role)r, i, &t->nodes[t->nnodes++]);
	}
	/* References need every name first. */
	for (size_t i = 0; i < t->nnodes; i++) {
		struct topo_node *n = &t->nodes[i];
		json_t *obj = json_array_get(
			json_object_get(root, role_keys[n->role]),
			(size_t)strtoul(strrchr(n->pointer, '/') + 1, NULL,
					10));

		if (!json_is_object(obj))
			continue;
		if (n->role == TOPO_STATELESS)
			resolve_next(&c, t, obj, n);
		else if (n->role == TOPO_CALLHANDLER)
			resolve_server(&c, t, obj, n, "register_via");
		else if (n->role == TOPO_LOADER)
			resolve_server(&c, t, obj, n, "server");
	}

	t->db_managed = true;
	t->db_port = 3306;
	db = json_object_get(root, "database");
	if (db && check_object(&c, db, "/database", "database", db_fields)) {
		unsigned port;

		get_string(&c, db, "/database", "host", false, "", t->db_host,
			   sizeof(t->db_host));
		get_bool(&c, db, "/database", "managed", true, &t->db_managed);
		if (get_uint(&c, db, "/database", "port", 1, 65535, 3306,
			     &port))
			t->db_port = (uint16_t)port;
	}
	if (!t->db_host[0]) {
		/* The per-run database goes next to the first stateful. */
		for (size_t i = 0; i < t->nnodes; i++)
			if (t->nodes[i].role == TOPO_STATEFUL) {
				snprintf(t->db_host, sizeof(t->db_host), "%s",
					 t->nodes[i].host);
				break;
			}
	}
	parse_experiment(&c, root, t);
	check_semantics(&c, t);
	if (inv)
		check_inventory(&c, t, inv);
	if (had_errors(&c)) {
		err = EBADMSG;
		goto out;
	}
	t->json = root;
	root = NULL;
	*tp = t;
	t = NULL;
out:
	topo_free(t);
	json_decref(root);
	jsonpos_free(c.pos);
	return err;
}

void topo_free(struct topo *t)
{
	if (!t)
		return;
	json_decref(t->json);
	free(t->nodes);
	free(t);
}

static const char *const inv_fields[] = {"$schema", "hosts", "database", NULL};

static const char *const host_fields[] = {"address", "local", "ssh", NULL};
static const char *const ssh_fields[] = {"user",  "port",	 "key",
					 "agent", "known_hosts", NULL};
static const char *const invdb_fields[] = {"admin_user", "password_env",
					   "password_file", NULL};

static void parse_host(struct ctx *c, const char *name, json_t *obj,
		       struct inventory_host *h)
{
	char p[160], q[200], what[96];
	json_t *ssh;

	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(p, sizeof(p), "/hosts/%s", name);
	snprintf(what, sizeof(what), "host \"%s\"", name);
	if (!check_object(c, obj, p, what, host_fields))
		return;
	get_string(c, obj, p, "address", true, NULL, h->address,
		   sizeof(h->address));
	get_bool(c, obj, p, "local", false, &h->local);
	ssh = json_object_get(obj, "ssh");
	h->ssh_port = 22;
	if (!ssh) {
		if (!h->local)
			err_at(c, p, false,
			       "host \"%s\" is not local and has no \"ssh\" "
			       "settings",
			       name);
		return;
	}
	snprintf(q, sizeof(q), "%s/ssh", p);
	if (!check_object(c, ssh, q, "ssh", ssh_fields))
		return;
	{
		unsigned port;

		get_string(c, ssh, q, "user", false, "root", h->ssh_user,
			   sizeof(h->ssh_user));
		if (get_uint(c, ssh, q, "port", 1, 65535, 22, &port))
			h->ssh_port = (uint16_t)port;
		get_string(c, ssh, q, "key", false, "", h->ssh_key,
			   sizeof(h->ssh_key));
		get_bool(c, ssh, q, "agent", false, &h->ssh_agent);
		get_string(c, ssh, q, "known_hosts", false, "", h->known_hosts,
			   sizeof(h->known_hosts));
		if (!h->ssh_key[0] && !h->ssh_agent)
			err_at(c, q, false,
			       "ssh needs a \"key\" file or \"agent\": true");
	}
}

int inventory_load(struct inventory **ip, const char *path,
		   struct topo_errors *errs)
{
	struct ctx c = {path, NULL, errs, errs->n};
	struct inventory *inv = NULL;
	json_t *root = NULL, *hosts, *db, *v;
	const char *name;
	int err;

	err = load_json(path, errs, &root, &c.pos);
	if (err)
		goto out;
	inv = calloc(1, sizeof(*inv));
	if (!inv) {
		err = ENOMEM;
		goto out;
	}
	snprintf(inv->path, sizeof(inv->path), "%s", path);
	if (!check_object(&c, root, "", "the inventory", inv_fields)) {
		err = EBADMSG;
		goto out;
	}
	check_schema_key(&c, root);
	hosts = json_object_get(root, "hosts");
	if (!json_is_object(hosts) || json_object_size(hosts) == 0) {
		err_at(&c, hosts ? "/hosts" : "", false,
		       "\"hosts\" must be an object naming at least one host");
	} else {
		inv->hosts =
			calloc(json_object_size(hosts), sizeof(*inv->hosts));
		if (!inv->hosts) {
			err = ENOMEM;
			goto out;
		}
		json_object_foreach(hosts, name, v)
		{
			if (strlen(name) >= TOPO_NAME_MAX) {
				char p[TOPO_NAME_MAX * 2 + 16];

				snprintf(p, sizeof(p), "/hosts/%.*s",
					 TOPO_NAME_MAX * 2, name);
				err_at(&c, p, true, "host name too long");
				continue;
			}
			parse_host(&c, name, v, &inv->hosts[inv->nhosts++]);
		}
	}
	snprintf(inv->db_admin_user, sizeof(inv->db_admin_user), "root");
	db = json_object_get(root, "database");
	if (db &&
	    check_object(&c, db, "/database", "database", invdb_fields)) {
		get_string(&c, db, "/database", "admin_user", false, "root",
			   inv->db_admin_user, sizeof(inv->db_admin_user));
		get_string(&c, db, "/database", "password_env", false, "",
			   inv->db_password_env, sizeof(inv->db_password_env));
		get_string(&c, db, "/database", "password_file", false, "",
			   inv->db_password_file,
			   sizeof(inv->db_password_file));
	}
	if (had_errors(&c)) {
		err = EBADMSG;
		goto out;
	}
	inv->json = root;
	root = NULL;
	*ip = inv;
	inv = NULL;
out:
	inventory_free(inv);
	json_decref(root);
	jsonpos_free(c.pos);
	return err;
}

void inventory_free(struct inventory *inv)
{
	if (!inv)
		return;
	json_decref(inv->json);
	free(inv->hosts);
	free(inv);
}

const struct inventory_host *inventory_host(const struct inventory *inv,
					    const char *name)
{
	for (size_t i = 0; i < inv->nhosts; i++)
		if (strcmp(inv->hosts[i].name, name) == 0)
			return &inv->hosts[i];
	return NULL;
}

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

int topo_override(struct topo *t, const char *key, const char *value,
		  char *why, size_t whysz)
{
	struct topo_experiment e = t->exp;
	bool challenges = false;
	size_t nch = 0;

	if (!strcmp(key, "test")) {
		size_t i;

		for (i = 0; tests[i] && strcmp(tests[i], value); i++)
			;
		if (!tests[i])
			goto bad;
		snprintf(e.test, sizeof(e.test), "%s", value);
		if (!strcmp(value, "mix") && !e.mix[0] && !e.mix[1] &&
		    !e.mix[2] && !e.mix[3]) {
			snprintf(why, whysz,
				 "--%s %s: %s has no \"mix\" weights", key,
				 value, t->path);
			return EINVAL;
		}
	} else if (!strcmp(key, "transport")) {
		struct pl p;

		pl_set_str(&p, value);
		e.transport = sip_transport_decode(&p);
		if ((e.transport != SIP_TP_UDP && e.transport != SIP_TP_TCP &&
		     e.transport != SIP_TP_TLS) ||
		    value[0] < 'a')
			goto bad;
	} else if (!strcmp(key, "connection")) {
		size_t i;

		for (i = 0; connections[i] && strcmp(connections[i], value);
		     i++)
			;
		if (!connections[i])
			goto bad;
		snprintf(e.connection, sizeof(e.connection), "%s", value);
	} else if (!strcmp(key, "auth")) {
		if (!parse_bool(value, &e.auth))
			goto bad;
	} else if (!strcmp(key, "preload-credentials")) {
		if (!parse_bool(value, &e.preload_credentials))
			goto bad;
	} else if (!strcmp(key, "users")) {
		if (!parse_uint(value, 1, 10000000, &e.user_count))
			goto bad;
	} else if (!strcmp(key, "rate")) {
		unsigned v[3];
		char buf[64], *part, *save = NULL;
		int n = 0;

		snprintf(buf, sizeof(buf), "%s", value);
		for (part = strtok_r(buf, ":", &save); part && n < 3;
		     part = strtok_r(NULL, ":", &save))
			if (!parse_uint(part, 1, 10000000, &v[n++]))
				goto bad;
		if (n != 3 || part || v[2] < v[0])
			goto bad;
		e.rate_start = v[0];
		e.rate_step = v[1];
		e.rate_final = v[2];
	} else if (!strcmp(key, "step-s")) {
		if (!parse_uint(value, 1, 86400, &e.step_s))
			goto bad;
	} else if (!strcmp(key, "warmup-s")) {
		if (!parse_uint(value, 0, 3600, &e.warmup_s))
			goto bad;
	} else if (!strcmp(key, "ta-limit-ms")) {
		if (!parse_uint(value, 1, 600000, &e.ta_limit_ms))
			goto bad;
	} else if (!strcmp(key, "search")) {
		size_t i;

		for (i = 0; searches[i] && strcmp(searches[i], value); i++)
			;
		if (!searches[i])
			goto bad;
		snprintf(e.search, sizeof(e.search), "%s", value);
	} else if (!strcmp(key, "threshold-ms")) {
		if (!parse_uint(value, 100, 600000, &e.threshold_ms))
			goto bad;
	} else if (!strcmp(key, "baseline-s")) {
		if (!parse_uint(value, 0, 3600, &e.baseline_s))
			goto bad;
	} else if (!strcmp(key, "granularity")) {
		if (!parse_uint(value, 1, 1000000, &e.granularity))
			goto bad;
	} else if (!strcmp(key, "hold-ms")) {
		if (!parse_uint(value, 0, 3600000, &e.hold_ms))
			goto bad;
	} else if (!strcmp(key, "success-percent")) {
		char *end;
		double v = strtod(value, &end);

		if (*end || v <= 0 || v > 100)
			goto bad;
		e.success_pct = v;
	} else {
		snprintf(why, whysz, "--%s: not an experiment setting", key);
		return EINVAL;
	}
	for (size_t i = 0; i < t->nnodes; i++) {
		const struct topo_node *n = &t->nodes[i];

		nch += n->role == TOPO_CALLHANDLER;
		if (n->role == TOPO_STATEFUL && strcmp(n->auth, "none"))
			challenges = true;
		if (n->role != TOPO_LOADER && n->nlisten &&
		    !node_listens(n, e.transport)) {
			snprintf(why, whysz,
				 "--%s %s: %s \"%s\" has no %s listener in %s",
				 key, value, role_keys[n->role], n->name,
				 sip_transport_name(e.transport), t->path);
			return EINVAL;
		}
	}
	if (topo_needs_callhandler(&e) && !nch) {
		snprintf(why, whysz,
			 "--%s %s: the %s test needs a "
			 "callhandler",
			 key, value, e.test);
		return EINVAL;
	}
	if (topo_mix_splits_users(&e) && e.user_count < 2) {
		snprintf(why, whysz,
			 "--%s %s: the mix splits the users in two: it needs "
			 "2 or more",
			 key, value);
		return EINVAL;
	}
	if (challenges && !e.auth) {
		snprintf(why, whysz,
			 "--%s %s: a stateful proxy of %s challenges but the "
			 "experiment would not authenticate",
			 key, value, t->path);
		return EINVAL;
	}
	if (e.preload_credentials && !e.auth) {
		snprintf(why, whysz,
			 "--%s %s: preloaded credentials need --auth true",
			 key, value);
		return EINVAL;
	}
	t->exp = e;
	record_override(t, key, &e);
	return 0;
bad:
	snprintf(why, whysz, "--%s: bad value \"%s\"", key, value);
	return EINVAL;
}
