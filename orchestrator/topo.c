#include "topo.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"
#include "topo_reader.h"

static const char *const role_keys[TOPO_ROLE_COUNT] = {
	"stateful", "stateless", "callhandlers", "loaders"};

const char *topo_role_key(enum topo_role role)
{
	return role < TOPO_ROLE_COUNT ? role_keys[role] : "";
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

static void get_listen(struct topo_reader *c, json_t *obj, const char *ptr,
		       struct topo_node *n)
{
	json_t *arr = json_object_get(obj, "listen"), *v;
	char p[256], q[300];
	size_t i;

	topo_reader_child(p, sizeof(p), ptr, "listen");
	if (!arr) {
		topo_reader_error(c, ptr, false,
				  "missing \"listen\" (a list such as "
				  "[\"udp:5060\", \"tcp:5060\"])");
		return;
	}
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > TOPO_MAX_LISTEN) {
		topo_reader_error(c, p, false,
				  "\"listen\" must be a list of 1 to %d "
				  "addresses",
				  TOPO_MAX_LISTEN);
		return;
	}
	json_array_foreach(arr, i, v)
	{
		snprintf(q, sizeof(q), "%s/%zu", p, i);
		if (!json_is_string(v) ||
		    !parse_listen(json_string_value(v),
				  &n->listen[n->nlisten])) {
			topo_reader_error(c, q, false,
					  "bad listen address %s (expected "
					  "udp:PORT, "
					  "tcp:PORT or tls:PORT, PORT "
					  "1-65535)",
					  json_is_string(v)
						  ? json_string_value(v)
						  : "(not a string)");
			continue;
		}
		for (size_t k = 0; k < n->nlisten; k++)
			if (n->listen[k].tp == n->listen[n->nlisten].tp)
				topo_reader_error(
					c, q, false,
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

static void parse_node(struct topo_reader *c, json_t *obj, enum topo_role role,
		       size_t index, struct topo_node *n)
{
	char what[64];

	n->role = role;
	snprintf(n->pointer, sizeof(n->pointer), "/%s/%zu", role_keys[role],
		 index);
	snprintf(what, sizeof(what), "%s[%zu]", role_keys[role], index);
	if (!topo_reader_object(c, obj, n->pointer, what, role_fields[role]))
		return;
	topo_reader_name(c, obj, n->pointer, "name", true, "node name",
			 n->name, sizeof(n->name));
	topo_reader_name(c, obj, n->pointer, "host", true, "host name",
			 n->host, sizeof(n->host));
	if (role != TOPO_LOADER)
		get_listen(c, obj, n->pointer, n);
	topo_reader_uint(c, obj, n->pointer,
			 role == TOPO_CALLHANDLER || role == TOPO_LOADER
				 ? "threads"
				 : "workers",
			 0, 256, 0, &n->workers);
	topo_reader_bool(c, obj, n->pointer, "record_route", false,
			 &n->record_route);
	switch (role) {
	case TOPO_STATEFUL:
		topo_reader_choice(c, obj, n->pointer, "db_mode", db_modes,
				   n->db_mode, sizeof(n->db_mode));
		topo_reader_choice(c, obj, n->pointer, "auth", auth_modes,
				   n->auth, sizeof(n->auth));
		topo_reader_bool(c, obj, n->pointer, "presence", false,
				 &n->presence);
		break;
	case TOPO_STATELESS:
		topo_reader_choice(c, obj, n->pointer, "hash", hash_keys,
				   n->hash, sizeof(n->hash));
		topo_reader_uint(c, obj, n->pointer, "probe_interval_ms", 50,
				 60000, 1000, &n->probe_interval_ms);
		break;
	case TOPO_CALLHANDLER:
		topo_reader_uint(c, obj, n->pointer, "ring_ms", 0, 60000, 0,
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

bool topo_node_listens(const struct topo_node *n, enum sip_transport tp)
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
static void resolve_next(struct topo_reader *c, struct topo *t, json_t *obj,
			 struct topo_node *n)
{
	json_t *arr = json_object_get(obj, "next"), *v;
	char p[128], q[160];
	size_t i;

	topo_reader_child(p, sizeof(p), n->pointer, "next");
	if (!arr) {
		topo_reader_error(c, n->pointer, false,
				  "missing \"next\" (the stateful proxies it "
				  "shares "
				  "load to)");
		return;
	}
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > TOPO_MAX_NEXT) {
		topo_reader_error(c, p, false,
				  "\"next\" must list 1 to %d stateful "
				  "proxies",
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
			topo_reader_error(c, q, false,
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
				topo_reader_error(c, q, false,
						  "bad weight in \"%s\" "
						  "(expected "
						  "NAME;weight=1..1000)",
						  json_string_value(v));
				continue;
			}
			weight = wv;
		}
		k = find_node(t, name);
		if (k < 0 || t->nodes[k].role != TOPO_STATEFUL) {
			topo_reader_error(c, q, false,
					  "\"%s\" is not a stateful proxy of "
					  "this "
					  "topology",
					  name);
			continue;
		}
		for (size_t j = 0; j < n->nnext; j++)
			if (n->next[j] == (size_t)k)
				topo_reader_error(c, q, false,
						  "\"%s\" listed twice", name);
		n->next_weight[n->nnext] = weight;
		n->next[n->nnext++] = (size_t)k;
	}
}

static void resolve_server(struct topo_reader *c, struct topo *t, json_t *obj,
			   struct topo_node *n, const char *key)
{
	char name[TOPO_NAME_MAX], p[128];
	ssize_t k;

	if (!json_object_get(obj, key)) {
		k = entry_proxy(t);
		n->server = k < 0 ? 0 : (size_t)k;
		return;
	}
	if (!topo_reader_string(c, obj, n->pointer, key, false, NULL, name,
				sizeof(name)))
		return;
	topo_reader_child(p, sizeof(p), n->pointer, key);
	k = find_node(t, name);
	if (k < 0 || (t->nodes[k].role != TOPO_STATEFUL &&
		      t->nodes[k].role != TOPO_STATELESS)) {
		topo_reader_error(c, p, false,
				  "\"%s\" is not a proxy of this topology",
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
					 "interference_max",
					 "hold_ms",
					 "hold",
					 "arrivals",
					 "max_rate",
					 "repeat",
					 "mix",
					 "profile",
					 "sipstone_weights",
					 "presence",
					 NULL};
static const char *const users_fields[] = {"prefix", "first", "count", NULL};
static const char *const rate_fields[] = {"start", "step", "final", NULL};
const char *const topo_tests[] = {"register", "reregister", "invite",
				  "options",  "mix",	    "subscribe",
				  "publish",  "redirect",   "proxy480",
				  "proxy486", "sipstone",   NULL};
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
	/* redirect: the bindings the 302 lists are the callhandlers' */
	return !strcmp(e->test, "invite") || mix_has(e, "invite") ||
	       mix_has(e, "options") || !strcmp(e->test, "publish") ||
	       !strcmp(e->test, "redirect") || !strcmp(e->test, "proxy486") ||
	       !strcmp(e->test, "sipstone");
}

unsigned topo_callee_count(const struct topo_experiment *e)
{
	if (!strcmp(e->test, "sipstone"))
		return e->user_count / 3;
	return topo_mix_splits_users(e) ? e->user_count / 2 : e->user_count;
}

bool topo_is_presence(const struct topo_experiment *e)
{
	return !strcmp(e->test, "subscribe") || !strcmp(e->test, "publish");
}
static const char *const transports[] = {"udp", "tcp", "tls", NULL};
const char *const topo_connections[] = {"persistent", "per-request", NULL};
const char *const topo_searches[] = {"ramp", "rfc7502", "bisect", NULL};

/* The "presence" object: only for the presence topo_tests. */
static void parse_presence(struct topo_reader *c, json_t *obj,
			   struct topo_experiment *e)
{
	json_t *sub = json_object_get(obj, "presence");
	const char *p = "/experiment/presence";

	e->watchers = 2;
	if (!sub)
		return;
	if (!topo_is_presence(e)) {
		topo_reader_error(c, p, true,
				  "\"presence\" is for \"test\": "
				  "\"subscribe\" or "
				  "\"publish\"");
		return;
	}
	if (!topo_reader_object(c, sub, p, "presence", presence_fields))
		return;
	topo_reader_uint(c, sub, p, "watchers_per_presentity", 1, 1000, 2,
			 &e->watchers);
	topo_reader_uint(c, sub, p, "refresh_s", 0, 86400, 0, &e->refresh_s);
	/* the loader names the least a body takes (its entity's size) */
	topo_reader_uint(c, sub, p, "body_bytes", 0, 65536, 0, &e->body_bytes);
	topo_reader_bool(c, sub, p, "filter", false, &e->filter);
}

/* "users" and "rate", with their defaults (200 users from A1000, 200
 * to 10,000 by 200). */
static void parse_users_and_rate(struct topo_reader *c, json_t *obj,
				 struct topo_experiment *e)
{
	json_t *sub;

	sub = json_object_get(obj, "users");
	snprintf(e->user_prefix, sizeof(e->user_prefix), "A");
	e->user_first = 1000;
	e->user_count = 200;
	if (sub && topo_reader_object(c, sub, "/experiment/users", "users",
				      users_fields)) {
		topo_reader_string(c, sub, "/experiment/users", "prefix",
				   false, "A", e->user_prefix,
				   sizeof(e->user_prefix));
		topo_reader_uint(c, sub, "/experiment/users", "first", 0,
				 999999999, 1000, &e->user_first);
		topo_reader_uint(c, sub, "/experiment/users", "count", 1,
				 10000000, 200, &e->user_count);
	}

	sub = json_object_get(obj, "rate");
	e->rate_start = 200;
	e->rate_step = 200;
	e->rate_final = 10000;
	if (sub && topo_reader_object(c, sub, "/experiment/rate", "rate",
				      rate_fields)) {
		topo_reader_uint(c, sub, "/experiment/rate", "start", 1,
				 10000000, 200, &e->rate_start);
		topo_reader_uint(c, sub, "/experiment/rate", "step", 1,
				 10000000, 200, &e->rate_step);
		topo_reader_uint(c, sub, "/experiment/rate", "final", 1,
				 10000000, 10000, &e->rate_final);
		if (e->rate_final < e->rate_start)
			topo_reader_error(c, "/experiment/rate/final", false,
					  "\"final\" (%u) is below \"start\" "
					  "(%u)",
					  e->rate_final, e->rate_start);
	}
}

/* "mix": only with "test": "mix", which needs it. */
static void parse_mix(struct topo_reader *c, json_t *obj,
		      struct topo_experiment *e)
{
	json_t *sub;

	sub = json_object_get(obj, "mix");
	if (sub && strcmp(e->test, "mix"))
		topo_reader_error(c, "/experiment/mix", true,
				  "\"mix\" is for \"test\": \"mix\"");
	else if (sub && topo_reader_object(c, sub, "/experiment/mix", "mix",
					   topo_mix_kinds))
		for (unsigned k = 0; k < TOPO_MIX_KINDS; k++)
			topo_reader_uint(c, sub, "/experiment/mix",
					 topo_mix_kinds[k], 1, 1000000, 0,
					 &e->mix[k]);
	if (!strcmp(e->test, "mix") && !sub && !e->profile[0])
		topo_reader_error(c, "/experiment/test", false,
				  "the mix test needs \"mix\": {\"register\": "
				  "50, "
				  "\"invite\": 50, ...}");
	else if (!strcmp(e->test, "mix") && sub && json_is_object(sub) &&
		 !json_object_size(sub))
		topo_reader_error(c, "/experiment/mix", false,
				  "\"mix\" needs at least one of register, "
				  "reregister, options, invite");
	if (topo_mix_splits_users(e) && e->user_count < 2)
		topo_reader_error(c, "/experiment/users/count", false,
				  "a mix of REGISTERs with INVITEs or OPTIONS "
				  "splits "
				  "the users in two: \"count\" must be 2 or "
				  "more");
}

_Static_assert(TOPO_SIPSTONE_MIX_KINDS == TOPO_MIX_KINDS, "a profile has a "
							  "weight for each "
							  "kind of a mix");

/* The call model, a mix's profile and sipstone's weights
 * (topo_sipstone.h), after "test" and "hold_ms". */
static void parse_sipstone(struct topo_reader *c, json_t *obj,
			   struct topo_experiment *e)
{
	struct topo_sipstone_cfg s;

	topo_sipstone_parse(c, obj, e->test, &s);
	if (s.hold_set) {
		e->hold_ms = s.hold_ms;
		e->hold_exp = s.hold_exp;
	}
	e->poisson = s.poisson;
	snprintf(e->profile, sizeof(e->profile), "%s", s.profile);
	if (s.profile[0])
		memcpy(e->mix, s.mix, sizeof(e->mix));
	memcpy(e->sipstone_weights, s.weights, sizeof(e->sipstone_weights));
}

static void parse_experiment(struct topo_reader *c, json_t *root,
			     struct topo *t)
{
	struct topo_experiment *e = &t->exp;
	json_t *obj = json_object_get(root, "experiment");
	char transport[8];
	json_t *pct;
	struct pl tp;

	/* Every field has a default: the seed's REGISTER over UDP test. */
	if (!obj)
		obj = json_object();
	else
		json_incref(obj);
	if (!topo_reader_object(c, obj, "/experiment", "experiment",
				exp_fields))
		goto out;
	topo_reader_choice(c, obj, "/experiment", "test", topo_tests, e->test,
			   sizeof(e->test));
	if (topo_reader_choice(c, obj, "/experiment", "transport", transports,
			       transport, sizeof(transport))) {
		pl_set_str(&tp, transport);
		e->transport = sip_transport_decode(&tp);
	}
	topo_reader_choice(c, obj, "/experiment", "connection",
			   topo_connections, e->connection,
			   sizeof(e->connection));
	topo_reader_bool(c, obj, "/experiment", "auth", false, &e->auth);
	topo_reader_bool(c, obj, "/experiment", "preload_credentials", false,
			 &e->preload_credentials);
	topo_reader_choice(c, obj, "/experiment", "search", topo_searches,
			   e->search, sizeof(e->search));
	topo_reader_uint(c, obj, "/experiment", "step_duration_s", 1, 86400,
			 100, &e->step_s);
	topo_reader_uint(c, obj, "/experiment", "warmup_s", 0, 3600, 2,
			 &e->warmup_s);
	topo_reader_uint(c, obj, "/experiment", "ta_limit_ms", 1, 600000, 1000,
			 &e->ta_limit_ms);
	topo_reader_uint(c, obj, "/experiment", "hold_ms", 0, 3600000, 0,
			 &e->hold_ms);
	/* RFC 7501's Establishment Threshold Time: by default Timer B/F
	 * (64 * T1 = 32 s), as RFC 7502 recommends. */
	topo_reader_uint(c, obj, "/experiment", "threshold_ms", 100, 600000,
			 32000, &e->threshold_ms);
	topo_reader_uint(c, obj, "/experiment", "granularity", 1, 1000000, 5,
			 &e->granularity);
	topo_reader_uint(c, obj, "/experiment", "max_trials", 1, 256, 40,
			 &e->max_trials);
	topo_reader_uint(c, obj, "/experiment", "confirm_s", 0, 86400, 0,
			 &e->confirm_s);
	e->granularity_pct = 1;
	pct = json_object_get(obj, "granularity_percent");
	if (pct) {
		if (!json_is_number(pct) || json_number_value(pct) < 0 ||
		    json_number_value(pct) >= 100)
			topo_reader_error(c, "/experiment/granularity_percent",
					  false,
					  "\"granularity_percent\" must be a "
					  "number in "
					  "[0, 100)");
		else
			e->granularity_pct = json_number_value(pct);
	}
	topo_reader_uint(c, obj, "/experiment", "baseline_s", 0, 3600, 3,
			 &e->baseline_s);
	/* 0: the ramp's extension up to search.c's default cap */
	topo_reader_uint(c, obj, "/experiment", "max_rate", 0, 10000000, 0,
			 &e->max_rate);
	topo_reader_uint(c, obj, "/experiment", "repeat", 1, 64, 1,
			 &e->repeat);
	e->interference_max = 0.15;
	pct = json_object_get(obj, "interference_max");
	if (pct) {
		if (!json_is_number(pct) || !(json_number_value(pct) > 0) ||
		    json_number_value(pct) > 1)
			topo_reader_error(c, "/experiment/interference_max",
					  false,
					  "\"interference_max\" must be a "
					  "number in (0, 1]");
		else
			e->interference_max = json_number_value(pct);
	}
	e->success_pct = 50;
	pct = json_object_get(obj, "success_percent");
	if (pct) {
		if (!json_is_number(pct) || json_number_value(pct) <= 0 ||
		    json_number_value(pct) > 100)
			topo_reader_error(c, "/experiment/success_percent",
					  false,
					  "\"success_percent\" must be a "
					  "number in "
					  "(0, 100]");
		else
			e->success_pct = json_number_value(pct);
	}

	parse_users_and_rate(c, obj, e);
	if (e->max_rate && e->max_rate < e->rate_final)
		topo_reader_error(c, "/experiment/max_rate", false,
				  "\"max_rate\" (%u) is below the final rate "
				  "(%u): give at least the final rate (no "
				  "extension) or 0 (the default cap)",
				  e->max_rate, e->rate_final);
	if (e->preload_credentials && !e->auth)
		topo_reader_error(c, "/experiment/preload_credentials", false,
				  "preload_credentials needs \"auth\": true");

	parse_sipstone(c, obj, e);
	parse_mix(c, obj, e);
	parse_presence(c, obj, e);
	if (!strcmp(e->test, "sipstone") && e->user_count < 3)
		topo_reader_error(c, "/experiment/users/count", false,
				  "sipstone splits the users in three "
				  "(callees, registrations, unregistered "
				  "callees): \"count\" must be 3 or more");
out:
	json_decref(obj);
}

static void check_semantics(struct topo_reader *c, struct topo *t)
{
	size_t count[TOPO_ROLE_COUNT] = {0};
	bool challenges = false;

	for (size_t i = 0; i < t->nnodes; i++)
		count[t->nodes[i].role]++;
	if (!count[TOPO_STATEFUL])
		topo_reader_error(c, "", false,
				  "missing role: at least one \"stateful\" "
				  "proxy");
	if (!count[TOPO_LOADER])
		topo_reader_error(c, "", false,
				  "missing role: at least one \"loaders\" "
				  "entry");
	if (topo_needs_callhandler(&t->exp) && !count[TOPO_CALLHANDLER])
		topo_reader_error(c, "/experiment/test", false,
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
			topo_reader_error(c, "/experiment/users/count", false,
					  "the %s test shares the users out "
					  "between "
					  "%zu loaders or callhandlers: "
					  "\"count\" must "
					  "be %zu or more",
					  t->exp.test, most, most);
		if (t->exp.transport == SIP_TP_TLS)
			topo_reader_error(c, "/experiment/transport", false,
					  "the %s test runs over udp or tcp "
					  "(the "
					  "watchers have no TLS)",
					  t->exp.test);
	}

	for (size_t i = 0; i < t->nnodes; i++) {
		struct topo_node *n = &t->nodes[i];
		char p[96];

		if (n->name[0] && find_node(t, n->name) != (ssize_t)i) {
			topo_reader_child(p, sizeof(p), n->pointer, "name");
			topo_reader_error(c, p, false,
					  "name \"%s\" is used twice",
					  n->name);
		}
		if (n->role == TOPO_STATEFUL && strcmp(n->auth, "none"))
			challenges = true;
	}
	if (challenges && !t->exp.auth)
		topo_reader_error(c, "/experiment", false,
				  "a stateful proxy challenges (\"auth\" is "
				  "not "
				  "\"none\") "
				  "but the experiment does not authenticate: "
				  "set "
				  "\"auth\": true");

	/* Everything on the request path must speak the test's transport. */
	for (size_t i = 0; i < t->nnodes; i++) {
		struct topo_node *n = &t->nodes[i];
		const char *tpname = sip_transport_name(t->exp.transport);
		char p[96];

		if (t->exp.transport == SIP_TP_NONE)
			break;
		if (n->role != TOPO_LOADER && n->nlisten &&
		    !topo_node_listens(n, t->exp.transport)) {
			topo_reader_child(p, sizeof(p), n->pointer, "listen");
			topo_reader_error(c, p, false,
					  "%s \"%s\" has no %s listener, the "
					  "experiment's transport",
					  role_keys[n->role], n->name, tpname);
		}
	}
}

/* UDP has its own port space; TCP and TLS share one. */
static bool same_space(enum sip_transport a, enum sip_transport b)
{
	return (a == SIP_TP_UDP) == (b == SIP_TP_UDP);
}

/* Every host known, no two listeners on one address and port. */
static void check_inventory(struct topo_reader *cp, const struct topo *t,
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
			topo_reader_child(p, sizeof(p), n->pointer, "host");
			topo_reader_error(&c, p, false,
					  "unknown host \"%s\" (not in the "
					  "inventory %s)",
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
					topo_reader_error(
						&c, p, false,
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
			topo_reader_error(&c, "/database/host", false,
					  "unknown database host \"%s\" (not "
					  "in the "
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
						topo_reader_error(
							&c, "/database/port",
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
	struct topo_reader c = {path, NULL, errs, errs->n};
	struct topo *t = NULL;
	json_t *root = NULL, *db;
	size_t total = 0;
	int err;

	err = topo_reader_load(path, errs, &root, &c.pos);
	if (err)
		goto out;
	t = calloc(1, sizeof(*t));
	if (!t) {
		err = ENOMEM;
		goto out;
	}
	snprintf(t->path, sizeof(t->path), "%s", path);
	if (!topo_reader_object(&c, root, "", "the topology", top_fields)) {
		err = EBADMSG;
		goto out;
	}
	topo_reader_schema_key(&c, root);
	topo_reader_name(&c, root, "", "name", true, "topology name", t->name,
			 sizeof(t->name));
	topo_reader_string(&c, root, "", "description", false, "",
			   t->description, sizeof(t->description));
	topo_reader_string(&c, root, "", "domain", false, "example.com",
			   t->domain, sizeof(t->domain));

	for (int r = 0; r < TOPO_ROLE_COUNT; r++) {
		json_t *arr = json_object_get(root, role_keys[r]);

		if (arr && !json_is_array(arr)) {
			char p[32];

			snprintf(p, sizeof(p), "/%s", role_keys[r]);
			topo_reader_error(&c, p, false,
					  "\"%s\" must be a list",
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
	if (db &&
	    topo_reader_object(&c, db, "/database", "database", db_fields)) {
		unsigned port;

		topo_reader_name(&c, db, "/database", "host", false,
				 "host name", t->db_host, sizeof(t->db_host));
		topo_reader_bool(&c, db, "/database", "managed", true,
				 &t->db_managed);
		if (topo_reader_uint(&c, db, "/database", "port", 1, 65535,
				     3306, &port))
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
	if (topo_reader_failed(&c)) {
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

unsigned topo_max_rate(const struct topo_experiment *e)
{
	unsigned cap = e->max_rate ? e->max_rate : TOPO_DEFAULT_MAX_RATE;

	if (strcmp(e->search, "ramp") && e->search[0])
		return e->rate_final;
	return cap > e->rate_final ? cap : e->rate_final;
}
