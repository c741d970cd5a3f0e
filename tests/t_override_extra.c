/*
 * The command-line overrides of the presence settings and the users'
 * names (topo_override_extra.h): applied, checked, and written into the
 * topology the bundle keeps.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "jsonq.h"
#include "orchrun.h"
#include "test.h"
#include "topo.h"
#include "topo_override.h"

static struct topo *load_fixture(const char *name)
{
	struct topo_errors errs = {0};
	struct topo *t = NULL;
	char fixture[200];

	snprintf(fixture, sizeof(fixture), "topo/%s.json", name);
	fixture_write("t.json", fixture, NULL);
	if (topo_load(&t, "t.json", NULL, &errs)) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		topo_errors_free(&errs);
		test_fail(__FILE__, __LINE__, "%s does not load", name);
	}
	return t;
}

TEST(override_presence_settings_and_users_names)
{
	struct topo *t = load_fixture("s0p1-presence-publish");
	char why[400];

	ASSERT_EQ(topo_override(t, "watchers", "5", why, sizeof(why)), 0);
	ASSERT_EQ(topo_override(t, "refresh-s", "30", why, sizeof(why)), 0);
	ASSERT_EQ(topo_override(t, "body-bytes", "0", why, sizeof(why)), 0);
	ASSERT_EQ(topo_override(t, "filter", "false", why, sizeof(why)), 0);
	ASSERT_EQ(topo_override(t, "users-prefix", "bob.", why, sizeof(why)),
		  0);
	ASSERT_EQ(topo_override(t, "users-first", "0", why, sizeof(why)), 0);
	ASSERT_EQ(t->exp.watchers, 5);
	ASSERT_EQ(t->exp.refresh_s, 30);
	ASSERT_EQ(t->exp.body_bytes, 0);
	ASSERT(!t->exp.filter);
	ASSERT_STR(t->exp.user_prefix, "bob.");
	ASSERT_EQ(t->exp.user_first, 0);
	/* The bundle's copy says so, as the file would. */
	JSONQ_EXPECT(t->json,
		     {"experiment.presence.watchers_per_presentity", 5},
		     {"experiment.presence.refresh_s", 30},
		     {"experiment.presence.body_bytes", 0},
		     {"experiment.users.first", 0},
		     {"experiment.users.count", 10});
	ASSERT_EQ(jsonq_bool(t->json, "experiment.presence.filter"), 0);
	ASSERT_STR(json_string_value(json_object_get(
			   json_object_get(json_object_get(t->json, "experimen"
								    "t"),
					   "users"),
			   "prefix")),
		   "bob.");

	/* Bad values leave the topology as it was. */
	ASSERT_EQ(topo_override(t, "watchers", "0", why, sizeof(why)), EINVAL);
	ASSERT_STR(why, "--watchers: bad value \"0\"");
	ASSERT_EQ(topo_override(t, "watchers", "1001", why, sizeof(why)),
		  EINVAL);
	ASSERT_EQ(topo_override(t, "refresh-s", "86401", why, sizeof(why)),
		  EINVAL);
	ASSERT_EQ(topo_override(t, "body-bytes", "65537", why, sizeof(why)),
		  EINVAL);
	ASSERT_EQ(topo_override(t, "body-bytes", "", why, sizeof(why)),
		  EINVAL);
	ASSERT_EQ(topo_override(t, "filter", "yes", why, sizeof(why)), EINVAL);
	ASSERT_EQ(topo_override(t, "users-prefix", "a'b", why, sizeof(why)),
		  EINVAL);
	ASSERT_EQ(topo_override(t, "users-prefix", "", why, sizeof(why)),
		  EINVAL);
	ASSERT_EQ(topo_override(t, "users-prefix",
				"abcdefghijabcdefghijabcdefghij12", why,
				sizeof(why)),
		  EINVAL);
	ASSERT_EQ(topo_override(t, "users-first", "1000000000", why,
				sizeof(why)),
		  EINVAL);
	ASSERT_EQ(topo_override(t, "users-first", "-1", why, sizeof(why)),
		  EINVAL);
	ASSERT_EQ(t->exp.watchers, 5);
	ASSERT_STR(t->exp.user_prefix, "bob.");
	ASSERT_EQ(jsonq_int(t->json, "experiment.presence.watchers_per_"
				     "presentity"),
		  5);
	topo_free(t);
}

TEST(override_presence_settings_only_for_presence_tests)
{
	struct topo *t = load_fixture("s0p1-short");
	char why[400];

	ASSERT_EQ(topo_override(t, "watchers", "3", why, sizeof(why)), EINVAL);
	ASSERT_STR(why, "--watchers 3: presence settings are for the "
			"subscribe and publish tests, and t.json runs "
			"register");
	ASSERT_EQ(topo_override(t, "filter", "true", why, sizeof(why)),
		  EINVAL);
	ASSERT(!json_object_get(json_object_get(t->json, "experiment"), "prese"
									"nc"
									"e"));
	/* The users' names are every test's. */
	ASSERT_EQ(topo_override(t, "users-prefix", "U", why, sizeof(why)), 0);
	/* After --test publish they apply. */
	ASSERT_EQ(topo_override(t, "test", "publish", why, sizeof(why)), 0);
	ASSERT_EQ(topo_override(t, "watchers", "3", why, sizeof(why)), 0);
	topo_free(t);
}

/* From the command line to the bundle: a deploy-only publish run with
 * every new override keeps them in summary.json's topology, and a bad
 * one stops the command before anything runs. */
TEST_TIMEOUT(override_extra_reach_the_bundle, 60)
{
	static const char *const extra[] = {"--deploy-only",
					    "--watchers",
					    "4",
					    "--refresh-s",
					    "60",
					    "--body-bytes",
					    "700",
					    "--filter",
					    "false",
					    "--users-prefix",
					    "pres.",
					    "--users-first",
					    "5000",
					    "--quiet",
					    NULL};
	static const char *const bad[] = {"--watchers", "0", NULL};
	struct res_run run;
	char dir[600];
	json_t *topo;

	orchrun_prepare("s0p1-presence-publish", NULL);
	orchrun_local("run", bad, 2);
	orchrun_local("run", extra, 0);
	orchrun_load_bundle(&run, dir, sizeof(dir));
	topo = json_object_get(run.setup, "topology");
	JSONQ_EXPECT(topo, {"experiment.presence.watchers_per_presentity", 4},
		     {"experiment.presence.refresh_s", 60},
		     {"experiment.presence.body_bytes", 700},
		     {"experiment.users.first", 5000});
	ASSERT_EQ(jsonq_bool(topo, "experiment.presence.filter"), 0);
	ASSERT_STR(json_string_value(json_object_get(
			   json_object_get(json_object_get(topo, "experiment"),
					   "users"),
			   "prefix")),
		   "pres.");
	res_run_clear(&run);
}
