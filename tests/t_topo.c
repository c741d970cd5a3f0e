/* Tests for the orchestrator's topology and inventory files. */
#include <errno.h>
#include <stdio.h>

#include "jsonpos.h"
#include "proc.h"
#include "fixture.h"
#include "test.h"
#include "topo.h"
#include "topo_override.h"

static const char *repo_file(const char *rel)
{
	return test_path(test_root_dir(), rel);
}

/* Asserts that some message ends with ":line:col: text". */
static void assert_msg(const struct topo_errors *e, int line, int col,
		       const char *text)
{
	char want[600];

	snprintf(want, sizeof(want), ":%d:%d: %s", line, col, text);
	for (size_t i = 0; i < e->n; i++) {
		const char *hit = strstr(e->lines[i], want);

		if (hit && strlen(hit) == strlen(want))
			return;
	}
	for (size_t i = 0; i < e->n; i++)
		fprintf(stderr, "  got: %s\n", e->lines[i]);
	test_fail(__FILE__, __LINE__, "no message %s", want);
}

/* The same, for a message whose end varies (a temporary path). */
static void assert_msg_starts(const struct topo_errors *e, int line, int col,
			      const char *text)
{
	char want[600];

	snprintf(want, sizeof(want), ":%d:%d: %s", line, col, text);
	for (size_t i = 0; i < e->n; i++)
		if (strstr(e->lines[i], want))
			return;
	for (size_t i = 0; i < e->n; i++)
		fprintf(stderr, "  got: %s\n", e->lines[i]);
	test_fail(__FILE__, __LINE__, "no message starting %s", want);
}

/* tests/data/topo/check/<name>, written to the test's directory as
 * name; its path. */
static const char *check(const char *name)
{
	char fixture[300];

	snprintf(fixture, sizeof(fixture), "topo/check/%s", name);
	return fixture_write(name, fixture, NULL);
}

TEST(topo_jsonpos_places_values_keys_and_escapes)
{
	const char *text = "{\n  \"a\": [1,\n    {\"b/c\": \"x\", \"é\": "
			   "2}],\n"
			   "  \"d~\": true\n}";
	struct jsonpos *jp;
	int line, col;

	ASSERT_EQ(jsonpos_index(&jp, text, strlen(text)), 0);
	jsonpos_find(jp, "/a/0", false, &line, &col);
	ASSERT(line == 2 && col == 9);
	jsonpos_find(jp, "/a/1/b~1c", false, &line, &col);
	ASSERT(line == 3 && col == 13);
	jsonpos_find(jp, "/a/1/b~1c", true, &line, &col);
	ASSERT(line == 3 && col == 6);
	/* Columns count characters: the é is one. */
	jsonpos_find(jp, "/a/1/é", false, &line, &col);
	ASSERT_MSG(line == 3 && col == 23, "%d:%d", line, col);
	jsonpos_find(jp, "/d~0", true, &line, &col);
	ASSERT(line == 4 && col == 3);
	/* A missing member points at its parent. */
	jsonpos_find(jp, "/a/1/zzz", false, &line, &col);
	ASSERT(line == 3 && col == 5);
	jsonpos_free(jp);
}

TEST(topo_jsonpos_survives_garbage)
{
	static const char *bad[] = {"",	       "{",	"[[[[",
				    "{\"a\":", "\"abc", "{\"a\" 1}",
				    "]",       "{\"\\", "[1,,2]"};
	char deep[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jsonpos *jp = NULL;
		int line, col;

		ASSERT_EQ(jsonpos_index(&jp, bad[i], strlen(bad[i])), 0);
		jsonpos_find(jp, "/a/b", false, &line, &col);
		ASSERT(line >= 1 && col >= 1);
		jsonpos_free(jp);
	}
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	{
		struct jsonpos *jp = NULL;

		ASSERT_EQ(jsonpos_index(&jp, deep, strlen(deep)), 0);
		jsonpos_free(jp);
	}
}

TEST(topo_shipped_topologies_are_valid_on_the_local_inventory)
{
	static const char *names[] = {"s0p1", "s1p1", "s1p2", "s2p2"};
	static const size_t stateful[] = {1, 1, 2, 2};
	static const size_t stateless[] = {0, 1, 1, 2};
	struct topo_errors errs = {0};
	struct inventory *inv = NULL;

	ASSERT_EQ(inventory_load(&inv,
				 repo_file("topologies/hosts/local.json"),
				 &errs),
		  0);
	for (size_t i = 0; i < 4; i++) {
		char rel[64];
		struct topo *t = NULL;
		size_t count[TOPO_ROLE_COUNT] = {0};

		snprintf(rel, sizeof(rel), "topologies/%s.json", names[i]);
		ASSERT_EQ(topo_load(&t, repo_file(rel), inv, &errs), 0);
		ASSERT_EQ(errs.n, 0);
		ASSERT_STR(t->name, names[i]);
		for (size_t k = 0; k < t->nnodes; k++)
			count[t->nodes[k].role]++;
		ASSERT_EQ(count[TOPO_STATEFUL], stateful[i]);
		ASSERT_EQ(count[TOPO_STATELESS], stateless[i]);
		ASSERT_EQ(count[TOPO_LOADER], 2);
		/* The seed's REGISTER test: 200 users, 1000 ms, 50 %. */
		ASSERT_STR(t->exp.test, "register");
		ASSERT_EQ(t->exp.transport, SIP_TP_UDP);
		ASSERT_EQ(t->exp.user_count, 200);
		ASSERT_EQ(t->exp.ta_limit_ms, 1000);
		topo_free(t);
	}
	inventory_free(inv);
}

TEST(topo_references_and_defaults_resolve)
{
	struct topo_errors errs = {0};
	struct topo *t = NULL;
	const struct topo_node *sl, *ld, *ch;

	ASSERT_EQ(topo_load(&t, repo_file("topologies/s2p2.json"), NULL,
			    &errs),
		  0);
	sl = topo_node(t, "sl2");
	ASSERT(sl && sl->role == TOPO_STATELESS && sl->nnext == 2);
	ASSERT_STR(t->nodes[sl->next[0]].name, "sf1");
	ASSERT_STR(t->nodes[sl->next[1]].name, "sf2");
	ld = topo_node(t, "ld2");
	ASSERT_STR(t->nodes[ld->server].name, "sl2");
	ch = topo_node(t, "ch1");
	ASSERT_STR(t->nodes[ch->server].name, "sl1");
	ASSERT_EQ(t->db_port, 33060);
	ASSERT_STR(t->db_host, "db");
	topo_free(t);

	/* Everything optional left out: defaults, first stateful's host. */
	ASSERT_EQ(topo_load(&t,
			    check("references_and_defaults_resolve-min.json"),
			    NULL, &errs),
		  0);
	ASSERT_STR(t->db_host, "h");
	ASSERT_STR(t->exp.search, "ramp");
	ASSERT_EQ(t->exp.rate_start, 200);
	ASSERT(t->exp.success_pct == 50);
	ASSERT_STR(t->domain, "example.com");
	/* The loader defaults to the first stateless proxy. */
	ASSERT_STR(t->nodes[topo_node(t, "l")->server].name, "b");
	ASSERT_EQ(topo_node(t, "b")->next_weight[0], 3);
	ASSERT_STR(topo_node(t, "a")->db_mode, "memory");
	ASSERT(!topo_node(t, "a")->presence);
	topo_free(t);
	ASSERT_EQ(topo_load(&t,
			    check("references_and_defaults_resolve-pres.json"),
			    NULL, &errs),
		  0);
	ASSERT(topo_node(t, "a")->presence);
	topo_free(t);
}

TEST(topo_every_mistake_is_reported_with_its_place)
{
	struct topo_errors errs = {0};
	struct inventory *inv = NULL;
	struct topo *t = NULL;

	ASSERT_EQ(inventory_load(&inv,
				 check("every_mistake_is_reported_with_its_"
				       "place-inv.json"),
				 &errs),
		  0);
	ASSERT_EQ(topo_load(&t,
			    check("every_mistake_is_reported_with_its_place-"
				  "bad.json"),
			    inv, &errs),
		  EBADMSG);
	ASSERT(t == NULL);
	assert_msg(&errs, 4, 58,
		   "bad listen address udpp:1 (expected udp:PORT, tcp:PORT "
		   "or tls:PORT, PORT 1-65535)");
	assert_msg(&errs, 4, 69,
		   "unknown field \"wokers\" in stateful[0] (expected one of: "
		   "name, host, listen, workers, db_mode, auth, "
		   "record_route, presence)");
	assert_msg(&errs, 5, 14, "name \"sf1\" is used twice");
	assert_msg_starts(&errs, 5, 29,
			  "unknown host \"p9\" (not in the "
			  "inventory ");
	assert_msg(&errs, 5, 70,
		   "\"db_mode\" is \"sometimes\" (expected one of: memory, "
		   "write-through, write-back)");
	assert_msg(&errs, 7, 57,
		   "stateless \"sl1\" has no UDP listener, the experiment's "
		   "transport");
	assert_msg(&errs, 7, 80,
		   "\"nope\" is not a stateful proxy of this topology");
	assert_msg(&errs, 8, 55, "\"ch9\" is not a proxy of this topology");
	assert_msg(&errs, 9, 26,
		   "the invite test needs at least one callhandler");
	assert_msg(&errs, 9, 68, "\"final\" (100) is below \"start\" (500)");
	/* All of them, and nothing else. */
	ASSERT_EQ(errs.n, 10);
	/* Sorted, they come in the file's order. */
	topo_errors_sort(&errs);
	ASSERT(strstr(errs.lines[0], "bad.json:4:58: "));
	ASSERT(strstr(errs.lines[9], "bad.json:9:68: "));
	topo_errors_free(&errs);
	inventory_free(inv);
}

TEST(topo_inventory_mistakes)
{
	struct topo_errors errs = {0};
	struct inventory *inv = NULL;

	ASSERT_EQ(inventory_load(&inv, check("inventory_mistakes-inv.json"),
				 &errs),
		  EBADMSG);
	ASSERT(inv == NULL);
	assert_msg(&errs, 2, 8,
		   "host \"a\" is not local and has no \"ssh\" settings");
	assert_msg(&errs, 3, 40,
		   "ssh needs a \"key\" file or \"agent\": true");
	assert_msg(&errs, 4, 8, "missing \"address\"");
	assert_msg(&errs, 4, 24,
		   "unknown field \"adress\" in host \"c\" (expected one of: "
		   "address, local, ssh)");
	assert_msg(&errs, 5, 61,
		   "\"port\" must be an integer from 1 to 65535");
	/* A password never belongs in the inventory's JSON. */
	assert_msg(&errs, 6, 17,
		   "unknown field \"password\" in database (expected one of: "
		   "admin_user, password_env, password_file)");
	ASSERT_EQ(errs.n, 6);
	topo_errors_free(&errs);
}

TEST(topo_syntax_errors_and_unreadable_files)
{
	struct topo_errors errs = {0};
	struct topo *t = NULL;

	ASSERT_EQ(topo_load(&t,
			    check("syntax_errors_and_unreadable_files-syn."
				  "json"),
			    NULL, &errs),
		  EBADMSG);
	ASSERT_EQ(errs.n, 1);
	ASSERT(strstr(errs.lines[0], "syn.json:2:18: "));
	topo_errors_free(&errs);
	ASSERT_EQ(topo_load(&t,
			    check("syntax_errors_and_unreadable_files-dup."
				  "json"),
			    NULL, &errs),
		  EBADMSG);
	ASSERT(strstr(errs.lines[0], "duplicate"));
	topo_errors_free(&errs);
	ASSERT_EQ(topo_load(&t, "/nonexistent/t.json", NULL, &errs), ENOENT);
	ASSERT(strstr(errs.lines[0], "/nonexistent/t.json: cannot read"));
	topo_errors_free(&errs);
}

TEST(topo_port_clashes_by_address_and_port_space)
{
	/* a and b are two names for one address; c is elsewhere. */
	struct topo_errors errs = {0};
	struct inventory *inv = NULL;
	struct topo *t = NULL;

	ASSERT_EQ(inventory_load(&inv,
				 check("port_clashes_by_address_and_port_"
				       "space-inv.json"),
				 &errs),
		  0);
	ASSERT_EQ(topo_load(&t,
			    check("port_clashes_by_address_and_port_space-"
				  "clash.json"),
			    inv, &errs),
		  EBADMSG);
	/* s2 clashes with s1 twice (UDP 5060; TLS shares TCP's 5070)... */
	assert_msg(&errs, 5, 42,
		   "port clash: UDP port 5060 on 127.0.0.1 is also used by "
		   "\"s1\"");
	assert_msg(&errs, 5, 54,
		   "port clash: TCP port 5070 on 127.0.0.1 is also used by "
		   "\"s1\"");
	/* ...s3's UDP 5070 and TCP 5060 clash with nobody; s4 is elsewhere;
	 * the database's TCP 5070 clashes with s1's and s2's listeners. */
	assert_msg(&errs, 2, 36,
		   "port clash: the database's port 5070 is also used by "
		   "\"s1\"");
	assert_msg(&errs, 2, 36,
		   "port clash: the database's port 5070 is also used by "
		   "\"s2\"");
	ASSERT_EQ(errs.n, 4);
	topo_errors_free(&errs);
	inventory_free(inv);
}

TEST(topo_validate_command_exit_codes)
{
	char local[512], s2p2[512], bad[512];
	const char *ok[] = {"orchestrator", "validate", s2p2,
			    "--hosts",	    local,	NULL};
	const char *wrong[] = {"orchestrator", "validate", bad, NULL};
	const char *none[] = {"orchestrator", "validate", NULL};
	const char *run[] = {"orchestrator", "run", s2p2, NULL};
	size_t len;
	char *log;

	snprintf(local, sizeof(local), "%s",
		 repo_file("topologies/hosts/local.json"));
	snprintf(s2p2, sizeof(s2p2), "%s", repo_file("topologies/s2p2.json"));
	snprintf(bad, sizeof(bad), "%s",
		 check("validate_command_exit_codes-bad.json"));
	ASSERT_EQ(proc_run(ok, "ok.log", 5000), 0);
	ASSERT_EQ(proc_run(wrong, "wrong.log", 5000), 2);
	log = test_read_file("wrong.log", &len);
	ASSERT(strstr(log, "bad.json:1:10: \"name\" must be a non-empty "
			   "string"));
	ASSERT(strstr(log, "bad.json:1:24: \"loaders\" must be a list"));
	ASSERT(strstr(log, "missing role: at least one \"stateful\" proxy"));
	free(log);
	ASSERT_EQ(proc_run(none, "none.log", 5000), 2);
	/* run needs an inventory: usage, exit 2. */
	ASSERT_EQ(proc_run(run, "run.log", 5000), 2);
	log = test_read_file("run.log", &len);
	ASSERT(strstr(log, "usage:"));
	free(log);
}

/* A mixed workload: its weights by kind, and its mistakes placed. */
TEST(topo_mix_weights_and_mistakes)
{
	struct topo_errors errs = {0};
	struct topo *t = NULL;
	char why[256];

	ASSERT_EQ(topo_load(&t, check("mix_weights_and_mistakes-mix.json"),
			    NULL, &errs),
		  0);
	ASSERT_STR(t->exp.test, "mix");
	ASSERT_EQ(t->exp.mix[0], 50); /* topo_mix_kinds' order */
	ASSERT_EQ(t->exp.mix[1], 0);
	ASSERT_EQ(t->exp.mix[2], 20);
	ASSERT_EQ(t->exp.mix[3], 30);
	ASSERT(topo_mix_splits_users(&t->exp));
	ASSERT(topo_needs_callhandler(&t->exp));
	ASSERT_EQ(topo_override(t, "users", "1", why, sizeof(why)), EINVAL);
	ASSERT(strstr(why, "splits the users"));
	ASSERT_EQ(t->exp.user_count, 200);
	ASSERT_EQ(topo_override(t, "test", "register", why, sizeof(why)), 0);
	ASSERT(!topo_mix_splits_users(&t->exp));
	topo_free(t);
	t = NULL;

	ASSERT_EQ(topo_load(&t, check("mix_weights_and_mistakes-mix2.json"),
			    NULL, &errs),
		  EBADMSG);
	assert_msg(&errs, 4, 69,
		   "unknown field \"bye\" in mix (expected one of: register, "
		   "reregister, options, invite)");
	assert_msg(&errs, 4, 52,
		   "\"register\" must be an integer from 1 to 1000000");
	ASSERT_EQ(errs.n, 2);
	topo_errors_free(&errs);

	ASSERT_EQ(topo_load(&t, check("mix_weights_and_mistakes-mix3.json"),
			    NULL, &errs),
		  EBADMSG);
	assert_msg(&errs, 4, 91,
		   "a mix of REGISTERs with INVITEs or OPTIONS splits the "
		   "users in two: \"count\" must be 2 or more");
	ASSERT_EQ(errs.n, 1);
	topo_errors_free(&errs);

	ASSERT_EQ(topo_load(&t, check("mix_weights_and_mistakes-mix4.json"),
			    NULL, &errs),
		  EBADMSG);
	assert_msg(&errs, 4, 37, "\"mix\" is for \"test\": \"mix\"");
	topo_errors_free(&errs);

	ASSERT_EQ(topo_load(&t, check("mix_weights_and_mistakes-mix5.json"),
			    NULL, &errs),
		  EBADMSG);
	assert_msg(&errs, 4, 25,
		   "the mix test needs \"mix\": {\"register\": 50, "
		   "\"invite\": 50, ...}");
	topo_errors_free(&errs);
}

/* The presence tests' settings, and their mistakes placed. */
TEST(topo_presence_settings_and_mistakes)
{
	struct topo_errors errs = {0};
	struct topo *t = NULL;
	char why[256];

	ASSERT_EQ(topo_load(&t, check("presence_settings_and_mistakes-p.json"),
			    NULL, &errs),
		  0);
	ASSERT(topo_is_presence(&t->exp));
	ASSERT(topo_needs_callhandler(&t->exp));
	ASSERT_EQ(t->exp.watchers, 4);
	ASSERT_EQ(t->exp.refresh_s, 30);
	ASSERT_EQ(t->exp.body_bytes, 800);
	ASSERT(t->exp.filter);
	/* subscribe needs no callhandler; register has no presence */
	ASSERT_EQ(topo_override(t, "test", "subscribe", why, sizeof(why)), 0);
	ASSERT(topo_is_presence(&t->exp));
	ASSERT(!topo_needs_callhandler(&t->exp));
	ASSERT_EQ(topo_override(t, "test", "register", why, sizeof(why)), 0);
	ASSERT(!topo_is_presence(&t->exp));
	topo_free(t);
	t = NULL;

	/* the default: 2 watchers, no filter */
	ASSERT_EQ(topo_load(&t,
			    check("presence_settings_and_mistakes-p0.json"),
			    NULL, &errs),
		  0);
	ASSERT_EQ(t->exp.watchers, 2);
	ASSERT(!t->exp.filter);
	topo_free(t);
	t = NULL;

	ASSERT_EQ(topo_load(&t,
			    check("presence_settings_and_mistakes-p2.json"),
			    NULL, &errs),
		  EBADMSG);
	assert_msg(&errs, 5, 43,
		   "\"watchers_per_presentity\" must be an integer from 1 "
		   "to 1000");
	assert_msg(&errs, 6, 15, "\"filter\" must be true or false");
	assert_msg(&errs, 6, 36,
		   "\"body_bytes\" must be an integer from 0 to 65536");
	assert_msg(&errs, 6, 40,
		   "unknown field \"size\" in presence (expected one of: "
		   "watchers_per_presentity, refresh_s, body_bytes, filter)");
	assert_msg(&errs, 7, 22,
		   "the publish test shares the users out between 2 loaders "
		   "or callhandlers: \"count\" must be 2 or more");
	assert_msg(&errs, 7, 39,
		   "the publish test runs over udp or tcp (the watchers have "
		   "no TLS)");
	topo_errors_free(&errs);

	ASSERT_EQ(topo_load(&t,
			    check("presence_settings_and_mistakes-p3.json"),
			    NULL, &errs),
		  EBADMSG);
	assert_msg(&errs, 5, 3,
		   "\"presence\" is for \"test\": \"subscribe\" or "
		   "\"publish\"");
	ASSERT_EQ(errs.n, 1);
	topo_errors_free(&errs);
}

TEST(topo_search_bounds_are_checked)
{
	struct topo_errors errs = {0};
	struct topo *t = NULL;

	ASSERT_EQ(topo_load(&t, check("search_bounds_are_checked-b.json"),
			    NULL, &errs),
		  EBADMSG);
	ASSERT_EQ(errs.n, 3);
	assert_msg(&errs, 3, 51,
		   "\"max_trials\" must be an integer from 1 to 256");
	assert_msg(&errs, 3, 77,
		   "\"granularity_percent\" must be a number in [0, 100)");
	assert_msg(&errs, 3, 95,
		   "\"confirm_s\" must be an integer from 0 to 86400");
	topo_errors_free(&errs);
}

TEST(topo_search_settings_and_their_overrides)
{
	struct topo_errors errs = {0};
	struct topo *t = NULL;
	char why[256];

	ASSERT_EQ(topo_load(&t, repo_file("topologies/s0p1.json"), NULL,
			    &errs),
		  0);
	/* RFC 7502's recommended threshold: Timer B/F, 64 * T1. */
	ASSERT_STR(t->exp.search, "ramp");
	ASSERT_EQ(t->exp.threshold_ms, 32000);
	ASSERT_EQ(t->exp.granularity, 5);
	/* the RFC 7502 search's bounds */
	ASSERT(t->exp.granularity_pct == 1);
	ASSERT_EQ(t->exp.max_trials, 40);
	ASSERT_EQ(t->exp.confirm_s, 0);
	ASSERT_EQ(topo_override(t, "search", "bisect", why, sizeof(why)), 0);
	ASSERT_STR(t->exp.search, "bisect");
	ASSERT_EQ(topo_override(t, "search", "rfc7502", why, sizeof(why)), 0);
	ASSERT_EQ(topo_override(t, "threshold-ms", "1500", why, sizeof(why)),
		  0);
	ASSERT_EQ(topo_override(t, "granularity", "50", why, sizeof(why)), 0);
	ASSERT_STR(t->exp.search, "rfc7502");
	ASSERT_EQ(t->exp.threshold_ms, 1500);
	ASSERT_EQ(t->exp.granularity, 50);
	ASSERT_EQ(topo_override(t, "search", "binary", why, sizeof(why)),
		  EINVAL);
	ASSERT(strstr(why, "--search: bad value \"binary\""));
	ASSERT_EQ(topo_override(t, "threshold-ms", "10", why, sizeof(why)),
		  EINVAL);
	ASSERT_EQ(topo_override(t, "granularity", "0", why, sizeof(why)),
		  EINVAL);
	ASSERT_EQ(t->exp.granularity, 50);
	topo_free(t);
	topo_errors_free(&errs);
}

static const char *field(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v ? v : "(none)";
}

TEST(topo_connection_auth_and_preload_overrides_are_recorded)
{
	struct topo_errors errs = {0};
	struct topo *t = NULL;
	json_t *exp, *users, *rate;
	char why[256];

	ASSERT_EQ(topo_load(&t, repo_file("topologies/s0p1.json"), NULL,
			    &errs),
		  0);
	ASSERT_EQ(topo_override(t, "connection", "per-request", why,
				sizeof(why)),
		  0);
	ASSERT_STR(t->exp.connection, "per-request");
	ASSERT_EQ(topo_override(t, "connection", "sometimes", why,
				sizeof(why)),
		  EINVAL);
	ASSERT(strstr(why, "--connection: bad value \"sometimes\""));
	/* Preloaded credentials need auth: refused, then fine after it. */
	ASSERT_EQ(topo_override(t, "preload-credentials", "true", why,
				sizeof(why)),
		  EINVAL);
	ASSERT_MSG(strstr(why, "need --auth true"), "%s", why);
	ASSERT(!t->exp.preload_credentials);
	ASSERT_EQ(topo_override(t, "auth", "true", why, sizeof(why)), 0);
	ASSERT_EQ(topo_override(t, "preload-credentials", "true", why,
				sizeof(why)),
		  0);
	ASSERT(t->exp.auth && t->exp.preload_credentials);
	ASSERT_EQ(topo_override(t, "auth", "yes", why, sizeof(why)), EINVAL);
	ASSERT_EQ(topo_override(t, "users", "0", why, sizeof(why)), EINVAL);
	ASSERT_EQ(topo_override(t, "users", "10000", why, sizeof(why)), 0);
	ASSERT_EQ(topo_override(t, "transport", "tcp", why, sizeof(why)), 0);
	ASSERT_EQ(topo_override(t, "rate", "10:20:90", why, sizeof(why)), 0);
	ASSERT_EQ(topo_override(t, "step-s", "3", why, sizeof(why)), 0);
	/* The file's experiment now says what the run will have. */
	exp = json_object_get(t->json, "experiment");
	ASSERT_STR(field(exp, "connection"), "per-request");
	ASSERT(json_is_true(json_object_get(exp, "auth")));
	ASSERT(json_is_true(json_object_get(exp, "preload_credentials")));
	users = json_object_get(exp, "users");
	rate = json_object_get(exp, "rate");
	ASSERT_EQ(json_integer_value(json_object_get(users, "count")), 10000);
	ASSERT_STR(field(exp, "transport"), "tcp");
	ASSERT_EQ(json_integer_value(json_object_get(rate, "final")), 90);
	ASSERT_EQ(json_integer_value(json_object_get(exp, "step_duration_s")),
		  3);
	/* A refused override changes nothing, in the file either. */
	ASSERT_EQ(topo_override(t, "step-s", "0", why, sizeof(why)), EINVAL);
	ASSERT_EQ(json_integer_value(json_object_get(exp, "step_duration_s")),
		  3);
	topo_free(t);
	topo_errors_free(&errs);
}

TEST(topo_auth_override_cannot_silence_a_challenging_proxy)
{
	struct topo_errors errs = {0};
	struct topo *t = NULL;
	char why[256];
	const char *path = check("auth_override_cannot_silence_a_challenging_"
				 "proxy-auth.json");
	ASSERT_EQ(topo_load(&t, path, NULL, &errs), 0);
	ASSERT_EQ(topo_override(t, "auth", "false", why, sizeof(why)), EINVAL);
	ASSERT_MSG(strstr(why, "challenges"), "%s", why);
	ASSERT(t->exp.auth);
	topo_free(t);
	topo_errors_free(&errs);
}
