/*
 * End-to-end: an orchestrated "test": "sipstone" run on the local
 * inventory (managed MariaDB, the real proxy, callhandler and loader):
 * the four tests in turn on one cluster, each with its steps, its rate
 * and weight, SIPstone-A in the bundle, and first in the comparison.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchrun.h"
#include "results.h"
#include "test.h"

/* A status's count in a role's summary (responses_sent). */
static long long sent(const char *dir, const char *role, const char *code)
{
	char path[800];
	json_t *j;
	long long n;

	snprintf(path, sizeof(path), "%s/logs/%s.summary.json", dir, role);
	j = json_load_file(path, 0, NULL);
	ASSERT_MSG(j, "no %s", path);
	n = json_integer_value(
		json_object_get(json_object_get(j, "responses_sent"), code));
	json_decref(j);
	return n;
}

TEST_TIMEOUT(run_sipstone_a_bundle_on_the_local_inventory, 200)
{
	const char *argv[] = {"orchestrator", "run", "t.json",
			      "--hosts",      NULL,  "--results",
			      "results",      NULL};
	char dir[600];
	const char *cargv[] = {"orchestrator", "compare", dir, dir, NULL};
	static const char *const names[] = {"register", "proxy200", "redirect",
					    "proxy480"};
	struct res_run run;
	json_t *tests;
	double sum = 0;
	size_t len;
	char *text;

	orchrun_prepare("s0p1-sipstone", NULL);
	argv[4] = orchrun_local_hosts();
	/* four searches and three loader restarts: more than 50 s */
	orchrun_expect(argv, 0, 180000);
	orchrun_assert_no_survivors("run.log");
	orchrun_load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "complete");
	ASSERT_STR(run.test, "sipstone");
	ASSERT(run.sipstone);
	tests = json_object_get(run.sipstone, "tests");
	ASSERT_EQ(json_array_size(tests), 4);
	for (size_t i = 0; i < 4; i++) {
		json_t *t = json_array_get(tests, i);
		double rate = res_json_number(t, "rate", -1);
		size_t first = (size_t)res_json_number(t, "first_step", -1);
		size_t n = (size_t)res_json_number(t, "steps", 0);

		ASSERT_STR(json_string_value(json_object_get(t, "test")),
			   names[i]);
		ASSERT(res_json_number(t, "weight", 0) == 0.25);
		/* each test passes both steps: 200/s (what a step delivered:
		 * a loaded machine delivers a few % less) */
		ASSERT_MSG(rate >= 170 && rate <= 210, "%s: %.1f/s", names[i],
			   rate);
		ASSERT_EQ(first, 2 * i);
		ASSERT_EQ(n, 2);
		for (size_t k = first; k < first + n; k++)
			ASSERT_MSG(run.steps[k].success_pct == 100,
				   "%s step %zu: %.2f %%", names[i], k,
				   run.steps[k].success_pct);
		sum += rate;
	}
	ASSERT_EQ(run.nsteps, 8);
	ASSERT_MSG(fabs(run.sipstone_a - sum / 4) < 1e-6, "%.3f vs %.3f",
		   run.sipstone_a, sum / 4);
	res_run_clear(&run);
	/* the server's part: 302s for the redirect test, 480s for the
	 * unregistered callees */
	ASSERT(sent(dir, "sf1", "302") > 0);
	ASSERT(sent(dir, "sf1", "480") > 0);
	orchrun_expect(cargv, 0, 30000);
	text = test_read_file("run.log", &len);
	/* SIPstone-A first, before the capacity and the rest */
	ASSERT_MSG(strstr(text, "SIPstone-A/s") &&
			   strstr(text, "SIPstone-A/s") < strstr(text, "capaci"
								       "ty/s"),
		   "%s", text);
	free(text);
}

/*
 * A mix by profile: "residential" sends re-registrations above all (70
 * of every 100 transactions), calls next (20); the loader's own counts
 * per kind show the weights the profile names.
 */
TEST_TIMEOUT(run_mix_profile_residential_weights_reach_the_loader, 90)
{
	char dir[600], path[800];
	json_t *sum, *mix;
	double att[4];
	static const char *const kinds[] = {"register", "reregister",
					    "options", "invite"};
	static const double want[] = {5, 70, 5, 20};
	double total = 0;

	orchrun_prepare("s0p1-residential", NULL);
	orchrun_local("run", NULL, 0);
	orchrun_bundle_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/logs/ld1.summary.json", dir);
	sum = json_load_file(path, 0, NULL);
	ASSERT_MSG(sum, "no %s", path);
	mix = json_object_get(sum, "mix");
	ASSERT(mix);
	for (int k = 0; k < 4; k++) {
		att[k] = res_json_number(json_object_get(mix, kinds[k]),
					 "attempts", 0);
		total += att[k];
	}
	ASSERT(total > 300);
	/* the smooth weighted round-robin: each kind within a slot per
	 * 100 of its weight */
	for (int k = 0; k < 4; k++)
		ASSERT_MSG(fabs(att[k] / total * 100 - want[k]) < 2,
			   "%s: %.0f of %.0f", kinds[k], att[k], total);
	ASSERT_EQ(res_json_number(sum, "failures", -1), 0);
	json_decref(sum);
}
