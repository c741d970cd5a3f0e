/* End-to-end: orchestrated presence runs (publish, subscribe) on the
 * local inventory, with a managed MariaDB and the real agents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orchrun.h"
#include "results.h"
#include "test.h"

/*
 * Runs tests/data/topo/s0p1-presence-<test>.json on the local inventory
 * and loads its bundle into run (dir: its directory): complete, of that
 * test, with its two steps.
 */
static void run_two_steps(const char *test, struct res_run *run, char *dir,
			  size_t size)
{
	char name[64];

	snprintf(name, sizeof(name), "s0p1-presence-%s", test);
	orchrun_prepare(name, NULL);
	orchrun_local("run", NULL, 0);
	orchrun_load_bundle(run, dir, size);
	ASSERT_STR(run->status, "complete");
	ASSERT_STR(run->test, test);
	ASSERT_EQ(run->nsteps, 2);
}

/*
 * publish: 10 presentities, 3 watchers each (the callhandler's), two 2 s
 * steps at 20 and 40 PUBLISHes/s, filtering on.  Each step's NOTIFYs
 * must be its publications x 3, within the steps' edges: the loader's
 * step and the watchers' counters are read one after the other, a few
 * milliseconds apart, and a NOTIFY follows its 200 by about a
 * millisecond, so a publication at an edge may land its NOTIFYs in the
 * next step.  We allow the NOTIFYs of 100 ms worth of publications at
 * each edge (and at least 2): far less than a step's (40 or 80 x 3).
 */
TEST_TIMEOUT(run_presence_publish_counts_every_watchers_notify, 120)
{
	const unsigned w = 3;
	char dir[300], path[400];
	struct res_run run;
	size_t len;
	char *text;

	run_two_steps("publish", &run, dir, sizeof(dir));
	for (size_t i = 0; i < run.nsteps; i++) {
		const struct res_step *s = &run.steps[i];
		double want = (double)s->successes * w;
		double edge =
			2 * w * (s->offered * 0.1 > 2 ? s->offered * 0.1 : 2);

		orchrun_assert_full_step(s, i, "PUBLISHes");
		ASSERT_MSG((double)s->notifies >= want - edge &&
				   (double)s->notifies <= want + edge,
			   "step %zu: %llu NOTIFYs for %llu PUBLISHes x %u", i,
			   (unsigned long long)s->notifies,
			   (unsigned long long)s->successes, w);
		ASSERT(s->notify_per_s > 0);
		ASSERT(s->notify_per_req > w - 0.5 &&
		       s->notify_per_req < w + 0.5);
		/* the servers sent them, the watchers timed them */
		ASSERT(s->server_notify_per_s > 0);
		ASSERT(s->notify_p50_ms > 0 &&
		       s->notify_p50_ms <= s->notify_p95_ms &&
		       s->notify_p95_ms <= s->notify_p99_ms);
	}
	res_run_clear(&run);

	snprintf(path, sizeof(path), "%s/steps.csv", dir);
	text = test_read_file(path, &len);
	ASSERT(strstr(text, ",notifies,notify_per_s,notify_per_req,"
			    "notify_p50_ms,notify_p95_ms,notify_p99_ms,"
			    "server_notify_per_s,aggregate_per_s"));
	free(text);
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	text = test_read_file(path, &len);
	ASSERT(strstr(text, "\"capacity_by_type\""));
	ASSERT(strstr(text, "\"PUBLISH\""));
	ASSERT(strstr(text, "\"NOTIFY\""));
	ASSERT(strstr(text, "\"capacity_aggregate\""));
	free(text);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	text = test_read_file(path, &len);
	ASSERT(strstr(text, "NOTIFYs per second"));
	ASSERT(strstr(text, "PUBLISH to NOTIFY delay"));
	free(text);
}

/*
 * subscribe: the loader subscribes (a new dialog per attempt, 200
 * watchers for the 1 + 2 s of each step at 20 and 40/s) to presentities
 * nobody publishes for: each SUBSCRIBE succeeds on its 2xx and its
 * first NOTIFY, so every step has a NOTIFY per success, but for those
 * at the step's edges (the step's figures and the NOTIFY counter are
 * read a few milliseconds apart; we allow 100 ms worth, at least 2).
 */
TEST_TIMEOUT(run_presence_subscribe_steps_get_their_notifies, 120)
{
	char dir[300];
	struct res_run run;

	run_two_steps("subscribe", &run, dir, sizeof(dir));
	for (size_t i = 0; i < run.nsteps; i++) {
		const struct res_step *s = &run.steps[i];
		double edge = s->offered * 0.1 > 2 ? s->offered * 0.1 : 2;

		ASSERT_MSG(s->success_pct == 100, "step %zu: %.2f %%", i,
			   s->success_pct);
		ASSERT_MSG(s->successes > 1.8 * s->offered,
			   "step %zu: %llu SUBSCRIBEs at %.0f/s", i,
			   (unsigned long long)s->successes, s->offered);
		ASSERT_MSG((double)s->notifies >=
					   (double)s->successes - edge &&
				   (double)s->notifies <=
					   (double)s->successes + edge,
			   "step %zu: %llu NOTIFYs for %llu SUBSCRIBEs", i,
			   (unsigned long long)s->notifies,
			   (unsigned long long)s->successes);
		ASSERT(s->server_notify_per_s > 0);
		ASSERT(s->notify_p50_ms > 0);
	}
	res_run_clear(&run);
}
