/* End-to-end: orchestrated presence runs (publish, subscribe) on the
 * local inventory, with a managed MariaDB and the real agents. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "results.h"
#include "test.h"

static void need_root_and_mariadb(void)
{
	struct stat st;

	if (geteuid() != 0)
		test_skip("a managed mariadbd runs as root here");
	if (stat("/usr/sbin/mariadbd", &st) != 0)
		test_skip("no mariadbd: run scripts/install-deps");
}

/* Runs the orchestrator on t.json; shows its output unless it exits 0. */
static void run_ok(void)
{
	char inv[600];
	const char *argv[] = {"orchestrator", "run", "t.json",
			      "--hosts",      inv,   "--results",
			      "results",      NULL};
	int got;

	snprintf(inv, sizeof(inv), "%s/topologies/hosts/local.json",
		 test_root_dir());
	got = proc_run(argv, "run.log", 50000);
	if (got) {
		size_t len;
		char *log = test_read_file("run.log", &len);

		fprintf(stderr, "%s", log);
		free(log);
		test_fail(__FILE__, __LINE__, "orchestrator exited %d", got);
	}
}

/* The bundle's directory: the only one under results/. */
static void bundle_dir(char *dir, size_t size)
{
	DIR *d = opendir("results");
	struct dirent *de;
	int found = 0;

	ASSERT(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && !strstr(de->d_name, ".tar.gz")) {
			snprintf(dir, size, "results/%s", de->d_name);
			found++;
		}
	closedir(d);
	ASSERT_EQ(found, 1);
}

/* s0p1 with one callhandler and one loader, the experiment given. */
static void write_topology(const char *experiment)
{
	char topo[2048];

	snprintf(topo, sizeof(topo),
		 "{\"name\": \"s0p1-presence\", \"database\": {\"host\": "
		 "\"db\", \"port\": %u},\n"
		 " \"stateful\": [{\"name\": \"sf1\", \"host\": \"proxy1\", "
		 "\"listen\": [\"udp:%u\"], \"workers\": 1}],\n"
		 " \"callhandlers\": [{\"name\": \"ch1\", \"host\": "
		 "\"handler1\", \"listen\": [\"udp:%u\"], \"threads\": 1, "
		 "\"register_via\": \"sf1\"}],\n"
		 " \"loaders\": [{\"name\": \"ld1\", \"host\": \"loader1\", "
		 "\"server\": \"sf1\", \"threads\": 1}],\n"
		 " \"experiment\": %s}\n",
		 proc_free_port(), proc_free_port(), proc_free_port(),
		 experiment);
	test_write_file("t.json", topo);
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
	char why[256] = "";
	size_t len;
	char *text;

	need_root_and_mariadb();
	write_topology("{\"test\": \"publish\", \"users\": {\"count\": 10},\n"
		       "   \"rate\": {\"start\": 20, \"step\": 20, \"final\": "
		       "40}, \"max_rate\": 40,\n"
		       "   \"step_duration_s\": 2, \"warmup_s\": 1, "
		       "\"baseline_s\": 0,\n"
		       "   \"presence\": {\"watchers_per_presentity\": 3, "
		       "\"body_bytes\": 600, \"filter\": true}}");
	run_ok();
	bundle_dir(dir, sizeof(dir));
	ASSERT_MSG(res_load(&run, dir, why, sizeof(why)) == 0, "%s", why);
	ASSERT_STR(run.status, "complete");
	ASSERT_STR(run.test, "publish");
	ASSERT_EQ(run.nsteps, 2);
	for (size_t i = 0; i < run.nsteps; i++) {
		const struct res_step *s = &run.steps[i];
		double want = (double)s->successes * w;
		double edge =
			2 * w * (s->offered * 0.1 > 2 ? s->offered * 0.1 : 2);

		ASSERT_MSG(s->success_pct == 100, "step %zu: %.2f %%", i,
			   s->success_pct);
		ASSERT_MSG(s->attempts > 1.9 * s->offered &&
				   s->attempts < 2.1 * s->offered,
			   "step %zu: %llu PUBLISHes at %.0f/s", i,
			   (unsigned long long)s->attempts, s->offered);
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
	char why[256] = "";

	need_root_and_mariadb();
	write_topology("{\"test\": \"subscribe\", \"users\": {\"count\": "
		       "200},\n"
		       "   \"rate\": {\"start\": 20, \"step\": 20, \"final\": "
		       "40}, \"max_rate\": 40,\n"
		       "   \"step_duration_s\": 2, \"warmup_s\": 1, "
		       "\"baseline_s\": 0}");
	run_ok();
	bundle_dir(dir, sizeof(dir));
	ASSERT_MSG(res_load(&run, dir, why, sizeof(why)) == 0, "%s", why);
	ASSERT_STR(run.status, "complete");
	ASSERT_STR(run.test, "subscribe");
	ASSERT_EQ(run.nsteps, 2);
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
