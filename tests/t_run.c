/* End-to-end: orchestrator run on the local machine and over real SSH. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "results.h"
#include "sshd.h"
#include "test.h"

static void need_root_and_mariadb(void)
{
	struct stat st;

	if (geteuid() != 0)
		test_skip("a managed mariadbd and sshd run as root here");
	if (stat("/usr/sbin/mariadbd", &st) != 0)
		test_skip("no mariadbd: run scripts/install-deps");
}

/* Runs the orchestrator; shows its output when it does not exit with want. */
static void run_expect(const char *const argv[], int want)
{
	int got = proc_run(argv, "run.log", 50000);

	if (got != want) {
		size_t len;
		char *log = test_read_file("run.log", &len);

		fprintf(stderr, "%s", log);
		free(log);
		test_fail(__FILE__, __LINE__, "orchestrator exited %d, not %d",
			  got, want);
	}
}

/* The only bundle under results/, loaded. */
static void load_bundle(struct res_run *run, char *dir, size_t size)
{
	char why[256] = "";
	struct dirent *de;
	DIR *d = opendir("results");
	int found = 0;

	ASSERT(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && !strstr(de->d_name, ".tar.gz")) {
			snprintf(dir, size, "results/%s", de->d_name);
			found++;
		}
	closedir(d);
	ASSERT_EQ(found, 1);
	ASSERT_MSG(res_load(run, dir, why, sizeof(why)) == 0, "%s", why);
}

/* Every "pid N" the run printed must be gone. */
static void assert_no_survivors(const char *log_name)
{
	size_t len;
	char *log = test_read_file(log_name, &len), *p = log;
	int seen = 0;

	while ((p = strstr(p, ", pid "))) {
		long pid = strtol(p + 6, &p, 10);

		ASSERT(pid > 1);
		ASSERT_MSG(kill((pid_t)pid, 0) != 0, "pid %ld still runs",
			   pid);
		seen++;
	}
	ASSERT(seen > 0);
	free(log);
}

TEST_TIMEOUT(run_deploy_only_locally_leaves_nothing_behind, 60)
{
	char topo[1024], dir[600];
	const char *argv[] = {"orchestrator", "run",	 "t.json",
			      "--hosts",      NULL,	 "--deploy-only",
			      "--results",    "results", NULL};
	char inv[600];
	struct res_run run;
	size_t len;
	char *text;

	need_root_and_mariadb();
	snprintf(inv, sizeof(inv), "%s/topologies/hosts/local.json",
		 test_root_dir());
	argv[4] = inv;
	snprintf(topo, sizeof(topo),
		 "{\"name\": \"mini\", \"database\": {\"host\": \"db\", "
		 "\"port\": %u},\n"
		 " \"stateful\": [{\"name\": \"sf1\", \"host\": \"proxy1\", "
		 "\"listen\": [\"udp:%u\"], \"auth\": \"register\"}],\n"
		 " \"callhandlers\": [{\"name\": \"ch1\", \"host\": "
		 "\"handler1\", \"listen\": [\"udp:%u\"]}],\n"
		 " \"loaders\": [{\"name\": \"ld1\", \"host\": "
		 "\"loader1\"}],\n"
		 " \"experiment\": {\"auth\": true, \"users\": {\"count\": "
		 "2000}}}\n",
		 proc_free_port(), proc_free_port(), proc_free_port());
	test_write_file("t.json", topo);
	run_expect(argv, 0);
	text = test_read_file("run.log", &len);
	ASSERT(strstr(text, "2000 users"));
	ASSERT(strstr(text, "[start] sf1 (proxy-stateful) on proxy1 ready"));
	/* 2000 users registered with digest auth through the proxy. */
	ASSERT(strstr(text, "[start] ch1 registered its users"));
	ASSERT(strstr(text, "[db] dropped sipstone_"));
	ASSERT(strstr(text, "[db] managed server stopped"));
	free(text);
	assert_no_survivors("run.log");
	load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "complete");
	ASSERT(strstr(run.reason, "deploy-only"));
	ASSERT(json_is_object(json_object_get(run.setup, "topology")));
	ASSERT_EQ(json_array_size(json_object_get(run.setup, "hosts")), 4);
	res_run_clear(&run);
	/* The proxy loaded the users from the per-run database. */
	{
		char path[700];

		snprintf(path, sizeof(path), "%s/logs/sf1.log", dir);
		text = test_read_file(path, &len);
		ASSERT(strstr(text, "2000 users from the database"));
		free(text);
	}
}

TEST_TIMEOUT(run_fails_cleanly_when_a_port_is_taken, 60)
{
	const char *argv[] = {"orchestrator", "run", "t.json",
			      "--hosts",      NULL,  "--results",
			      "results",      NULL};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char topo[1024], inv[600], dir[600];
	uint16_t port = proc_free_port();
	struct res_run run;
	int fd;

	need_root_and_mariadb();
	snprintf(inv, sizeof(inv), "%s/topologies/hosts/local.json",
		 test_root_dir());
	argv[4] = inv;
	snprintf(topo, sizeof(topo),
		 "{\"name\": \"busy\", \"database\": {\"host\": \"db\", "
		 "\"port\": %u},\n"
		 " \"stateful\": [{\"name\": \"sf1\", \"host\": \"proxy1\", "
		 "\"listen\": [\"udp:%u\"]}],\n"
		 " \"loaders\": [{\"name\": \"ld1\", \"host\": "
		 "\"loader1\"}]}\n",
		 proc_free_port(), port);
	test_write_file("t.json", topo);
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	run_expect(argv, 1);
	close(fd);
	load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "failed");
	ASSERT_MSG(strstr(run.reason, "is in use") && strstr(run.reason, "sf1 "
									 "need"
									 "s "
									 "it"),
		   "%s", run.reason);
	res_run_clear(&run);
}

TEST_TIMEOUT(run_deploys_and_drives_a_role_over_ssh, 60)
{
	const char *argv[] = {"orchestrator", "run",	  "t.json",
			      "--hosts",      "inv.json", "--deploy-only",
			      "--results",    "results",  NULL};
	char topo[1024], inv[2048], dir[600], kh[600], remote[700];
	struct res_run run;
	struct sshd s;
	struct stat st;
	size_t len;
	char *text;

	need_root_and_mariadb();
	sshd_start(&s);
	snprintf(kh, sizeof(kh), "%s/kh", test_tmp_dir());
	sshd_write_known_hosts(&s, kh, false);
	/* proxy1 is "another machine" reached over SSH (this one, really). */
	snprintf(inv, sizeof(inv),
		 "{\"hosts\": {\"proxy1\": {\"address\": \"127.0.0.1\", "
		 "\"ssh\": {\"user\": \"root\", \"port\": %u, \"key\": "
		 "\"%s\", "
		 "\"known_hosts\": \"%s\"}},\n"
		 " \"db\": {\"address\": \"127.0.0.1\", \"local\": true},\n"
		 " \"loader1\": {\"address\": \"127.0.0.1\", \"local\": "
		 "true}}}\n",
		 s.port, s.client_key, kh);
	test_write_file("inv.json", inv);
	snprintf(topo, sizeof(topo),
		 "{\"name\": \"remote\", \"database\": {\"host\": \"db\", "
		 "\"port\": %u},\n"
		 " \"stateful\": [{\"name\": \"sf1\", \"host\": \"proxy1\", "
		 "\"listen\": [\"udp:%u\", \"tls:%u\"]}],\n"
		 " \"loaders\": [{\"name\": \"ld1\", \"host\": "
		 "\"loader1\"}]}\n",
		 proc_free_port(), proc_free_port(), proc_free_port());
	test_write_file("t.json", topo);
	run_expect(argv, 0);
	text = test_read_file("run.log", &len);
	ASSERT_MSG(strstr(text, "[deploy] proxy1: /tmp/sipstone-"), "%s",
		   text);
	ASSERT(strstr(text, "[start] sf1 (proxy-stateful) on proxy1 ready"));
	/* The remote run directory is gone again. */
	{
		char *d = strstr(text, "[deploy] proxy1: ");
		char *end = d ? strchr(d, '\n') : NULL;

		ASSERT(d && end);
		snprintf(remote, sizeof(remote), "%.*s", (int)(end - d - 17),
			 d + 17);
		ASSERT_MSG(stat(remote, &st) != 0, "%s is still there",
			   remote);
	}
	free(text);
	assert_no_survivors("run.log");
	load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "complete");
	res_run_clear(&run);
	/* The role's stderr came back over the SSH channel. */
	{
		char path[700];

		snprintf(path, sizeof(path), "%s/logs/sf1.log", dir);
		text = test_read_file(path, &len);
		ASSERT(strstr(text, "ready"));
		free(text);
	}
	sshd_stop(&s);
}

/* python3's HTML parser over the report: tags balanced, charts there. */
static void assert_report_parses(const char *path)
{
	const char *script = "import sys, html.parser\n"
			     "class P(html.parser.HTMLParser):\n"
			     "    svg = 0\n"
			     "    def handle_starttag(s, t, a):\n"
			     "        s.svg += t == 'svg'\n"
			     "p = P(); p.feed(open(sys.argv[1]).read()); "
			     "p.close()\n"
			     "sys.exit(0 if p.svg >= 2 else 1)\n";
	const char *argv[] = {"python3", NULL, path, NULL};

	argv[1] = test_write_file("check.py", script);
	ASSERT_EQ(proc_run(argv, "check.log", 10000), 0);
}

TEST_TIMEOUT(run_register_steps_produce_a_complete_bundle, 90)
{
	const char *argv[] = {"orchestrator", "run", "t.json",
			      "--hosts",      NULL,  "--results",
			      "results",      NULL};
	char topo[2048], inv[600], dir[600], path[700];
	struct res_run run;
	size_t len;
	char *text;

	need_root_and_mariadb();
	snprintf(inv, sizeof(inv), "%s/topologies/hosts/local.json",
		 test_root_dir());
	argv[4] = inv;
	snprintf(topo, sizeof(topo),
		 "{\"name\": \"s0p1-short\", \"database\": {\"host\": \"db\", "
		 "\"port\": %u},\n"
		 " \"stateful\": [{\"name\": \"sf1\", \"host\": \"proxy1\", "
		 "\"listen\": [\"udp:%u\"], \"workers\": 1}],\n"
		 " \"callhandlers\": [{\"name\": \"ch1\", \"host\": "
		 "\"handler1\", \"listen\": [\"udp:%u\"], \"threads\": 1}],\n"
		 " \"loaders\": [{\"name\": \"ld1\", \"host\": \"loader1\", "
		 "\"threads\": 1},\n"
		 "             {\"name\": \"ld2\", \"host\": \"loader2\", "
		 "\"threads\": 1}],\n"
		 " \"experiment\": {\"users\": {\"count\": 100}, \"rate\": "
		 "{\"start\": 200, \"step\": 200, \"final\": 400},\n"
		 "   \"step_duration_s\": 2, \"warmup_s\": 1}}\n",
		 proc_free_port(), proc_free_port(), proc_free_port());
	test_write_file("t.json", topo);
	run_expect(argv, 0);
	text = test_read_file("run.log", &len);
	ASSERT(strstr(text, "[step 1] offered 200/s"));
	ASSERT(strstr(text, "[step 2] offered 400/s"));
	/* 390-400/s: checked in the bundle below (a step's achieved rate
	 * is its successes over the loader's own interval). */
	ASSERT(strstr(text, "[run] capacity "));
	/* The test bed alone first: loaders straight to the callhandler. */
	ASSERT(strstr(text, "[start] ld1-baseline (loader)"));
	ASSERT(strstr(text, "[baseline] loaders straight to the callhandlers "
			    "(options): offered 400/s"));
	ASSERT(strstr(text, "[baseline]") < strstr(text, "[step 1]"));
	free(text);
	assert_no_survivors("run.log");
	load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "complete");
	ASSERT_EQ(run.nsteps, 2);
	ASSERT_EQ(run.nsamples, 4);
	ASSERT_EQ(run.nproxies, 1);
	for (size_t i = 0; i < run.nsteps; i++) {
		const struct res_step *s = &run.steps[i];

		ASSERT_MSG(s->success_pct == 100, "step %zu: %.2f %%", i,
			   s->success_pct);
		ASSERT(s->passed);
		/* Two loaders each sent half: 2 s at the step's rate, +-5 %. */
		ASSERT_MSG(s->attempts > 1.9 * s->offered &&
				   s->attempts < 2.1 * s->offered,
			   "step %zu: %llu attempts at %.0f/s", i,
			   (unsigned long long)s->attempts, s->offered);
		ASSERT(s->p50_ms > 0 && s->p50_ms <= s->p99_ms);
		ASSERT(s->rrd_ms > 0);
		ASSERT(s->proxy[0].cpu > 0 && s->proxy[0].rss_mb > 0);
	}
	/* What was delivered: at most the offered 400/s. */
	ASSERT(res_capacity(&run) > 390 && res_capacity(&run) <= 400);
	ASSERT_MSG(run.baseline > 380 && run.baseline < 420, "baseline %.1f",
		   run.baseline);
	/* Every second: each proxy thread's CPU and the database's
	 * counters (our own connection at least). */
	{
		double busiest = 0;

		for (size_t i = 0; i < run.nsamples; i++) {
			const struct res_sample *s = &run.samples[i];

			ASSERT(s->proxy[0].nthreads >= 1);
			for (unsigned t = 0; t < s->proxy[0].nthreads; t++)
				if (s->proxy[0].thread_cpu[t] > busiest)
					busiest = s->proxy[0].thread_cpu[t];
			ASSERT_MSG(s->db_qps >= 0 && s->db_threads >= 1,
				   "sample %zu: %.1f q/s, %.0f threads", i,
				   s->db_qps, s->db_threads);
		}
		ASSERT(busiest > 0 && busiest <= 1.05);
	}
	res_run_clear(&run);
	snprintf(path, sizeof(path), "%s/steps.csv", dir);
	text = test_read_file(path, &len);
	{
		size_t lines = 0;

		for (size_t i = 0; i < len; i++)
			lines += text[i] == '\n';
		ASSERT_EQ(lines, 3);
	}
	free(text);
	snprintf(path, sizeof(path), "%s/samples.csv", dir);
	text = test_read_file(path, &len);
	ASSERT(strstr(text, ",sf1_cpu_pct,sf1_rss_mb,sf1_threads_cpu_pct,"
			    "db_questions_per_s,db_threads_connected\n"));
	free(text);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	assert_report_parses(path);
	snprintf(path, sizeof(path), "%s.tar.gz", dir);
	{
		struct stat st;

		ASSERT_EQ(stat(path, &st), 0);
	}
}

TEST_TIMEOUT(run_interrupted_mid_step_tears_down_and_says_aborted, 90)
{
	char topo[2048], inv[600], dir[600];
	const char *argv[] = {"orchestrator", "run", "t.json",
			      "--hosts",      inv,   "--results",
			      "results",      NULL};
	struct res_run run;
	struct proc p;
	int status;

	need_root_and_mariadb();
	snprintf(inv, sizeof(inv), "%s/topologies/hosts/local.json",
		 test_root_dir());
	/* Long steps: the interrupt lands in the middle of the first. */
	snprintf(topo, sizeof(topo),
		 "{\"name\": \"s0p1-int\", \"database\": {\"host\": \"db\", "
		 "\"port\": %u},\n"
		 " \"stateful\": [{\"name\": \"sf1\", \"host\": \"proxy1\", "
		 "\"listen\": [\"udp:%u\"], \"workers\": 1}],\n"
		 " \"loaders\": [{\"name\": \"ld1\", \"host\": \"loader1\", "
		 "\"threads\": 1}],\n"
		 " \"experiment\": {\"users\": {\"count\": 100}, \"rate\": "
		 "{\"start\": 100, \"step\": 100, \"final\": 1000},\n"
		 "   \"step_duration_s\": 60, \"warmup_s\": 0}}\n",
		 proc_free_port(), proc_free_port());
	test_write_file("t.json", topo);
	proc_start(&p, argv);
	/* Read its output until the load runs (the loader is ready). */
	{
		static char out[65536];
		size_t n = 0;
		uint64_t waited = 0;

		while (!strstr(out, "[start] ld1 (loader)") &&
		       waited < 60000) {
			struct pollfd pfd = {p.from_child, POLLIN, 0};
			ssize_t got;

			if (poll(&pfd, 1, 100) <= 0) {
				waited += 100;
				continue;
			}
			got = read(p.from_child, out + n, sizeof(out) - n - 1);
			if (got <= 0)
				break;
			n += (size_t)got;
			out[n] = '\0';
		}
		ASSERT_MSG(strstr(out, "[start] ld1 (loader)"), "%s", out);
		sleep(2); /* inside the first step */
		ASSERT(!proc_exited(&p));
		proc_signal(&p, SIGINT);
		/* Its output to the end: the teardown and the PIDs it ended. */
		for (waited = 0; waited < 30000 && n < sizeof(out) - 1;) {
			struct pollfd pfd = {p.from_child, POLLIN, 0};
			ssize_t got;

			if (poll(&pfd, 1, 100) <= 0) {
				waited += 100;
				continue;
			}
			got = read(p.from_child, out + n, sizeof(out) - n - 1);
			if (got <= 0)
				break;
			n += (size_t)got;
			out[n] = '\0';
		}
		status = proc_stop(&p, 30000);
		test_write_file("run.log", out);
	}
	ASSERT_EQ(status, 1);
	assert_no_survivors("run.log");
	{
		size_t len;
		char *text = test_read_file("run.log", &len);

		/* No database left behind either. */
		ASSERT_MSG(strstr(text, "[db] dropped sipstone_") &&
				   strstr(text, "[db] managed server stopped"),
			   "%s", text);
		free(text);
	}
	load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "aborted");
	ASSERT(strstr(run.reason, "interrupted"));
	res_run_clear(&run);
}

/*
 * A CPU cgroup of the test's own capping a process at frac of a core
 * (v1 or v2).  Writes its path to dir; false when the machine has none.
 */
static bool cap_cgroup(char *dir, size_t size, double frac)
{
	char path[700], val[64];
	struct stat st;
	bool v2 = stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;
	FILE *f;

	if (v2)
		snprintf(dir, size, "/sys/fs/cgroup/sipstone-t%d",
			 (int)getpid());
	else if (stat("/sys/fs/cgroup/cpu", &st) == 0)
		snprintf(dir, size, "/sys/fs/cgroup/cpu/sipstone-t%d",
			 (int)getpid());
	else
		return false;
	rmdir(dir);
	if (mkdir(dir, 0755) != 0)
		return false;
	if (v2) {
		snprintf(path, sizeof(path), "%s/cpu.max", dir);
		snprintf(val, sizeof(val), "%d 100000\n",
			 (int)(frac * 100000));
	} else {
		snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
		snprintf(val, sizeof(val), "%d\n", (int)(frac * 100000));
	}
	f = fopen(path, "w");
	if (!f)
		return false;
	fputs(val, f);
	return fclose(f) == 0;
}

/*
 * Runs a search ("experiment" fields after the rate in exp) against one
 * proxy-stateful held to 3 % of a core in a cgroup, so that it fails
 * well below what the loader can send, at a rate the search has to
 * find.  Its output into out (NUL-terminated); the exit status must be
 * 0.
 */
static void capped_search(const char *name, const char *exp, char *out,
			  size_t outsz)
{
	char topo[2048], inv[600], cg[300], path[800];
	const char *argv[] = {"orchestrator", "run", "t.json",
			      "--hosts",      inv,   "--results",
			      "results",      NULL};
	size_t n = 0;
	struct proc p;
	char *pidp;
	int status;
	long pid;
	FILE *f;

	out[0] = '\0';
	need_root_and_mariadb();
	snprintf(inv, sizeof(inv), "%s/topologies/hosts/local.json",
		 test_root_dir());
	if (!cap_cgroup(cg, sizeof(cg), 0.03))
		test_skip("no cgroup CPU controller here");
	snprintf(topo, sizeof(topo),
		 "{\"name\": \"%s\", \"database\": {\"host\": "
		 "\"db\", \"port\": %u},\n"
		 " \"stateful\": [{\"name\": \"sf1\", \"host\": \"proxy1\", "
		 "\"listen\": [\"udp:%u\"], \"workers\": 1}],\n"
		 " \"loaders\": [{\"name\": \"ld1\", \"host\": \"loader1\", "
		 "\"threads\": 1}],\n"
		 " \"experiment\": {\"users\": {\"count\": 100}, %s}}\n",
		 name, proc_free_port(), proc_free_port(), exp);
	test_write_file("t.json", topo);
	proc_start(&p, argv);
	/* The proxy into the capped cgroup before the first trial. */
	{
		uint64_t waited = 0;

		while (!strstr(out, "[start] sf1 (proxy-stateful)") &&
		       waited < 60000) {
			struct pollfd pfd = {p.from_child, POLLIN, 0};
			ssize_t got;

			if (poll(&pfd, 1, 100) <= 0) {
				waited += 100;
				continue;
			}
			got = read(p.from_child, out + n, outsz - n - 1);
			if (got <= 0)
				break;
			n += (size_t)got;
			out[n] = '\0';
		}
	}
	pidp = strstr(out, "[start] sf1 (proxy-stateful)");
	ASSERT_MSG(pidp && strstr(pidp, ", pid "), "%s", out);
	pid = strtol(strstr(pidp, ", pid ") + 6, NULL, 10);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	f = fopen(path, "w");
	ASSERT(f);
	fprintf(f, "%ld\n", pid);
	ASSERT(fclose(f) == 0);
	/* Its output to the end (bounded), then its exit status. */
	for (uint64_t waited = 0; waited < 200000 && n < outsz - 1;) {
		struct pollfd pfd = {p.from_child, POLLIN, 0};
		ssize_t got;

		if (poll(&pfd, 1, 100) <= 0) {
			waited += 100;
			continue;
		}
		got = read(p.from_child, out + n, outsz - n - 1);
		if (got <= 0)
			break;
		n += (size_t)got;
		out[n] = '\0';
	}
	status = proc_stop(&p, 30000);
	test_write_file("run.log", out);
	rmdir(cg);
	ASSERT_MSG(status == 0, "exit %d: %s", status, out);
	fprintf(stderr, "%s",
		strstr(out, "[step 1]") ? strstr(out, "[step 1]") : out);
}

TEST_TIMEOUT(run_bisect_search_finds_the_highest_clean_rate, 180)
{
	char dir[600], path[800];
	static char out[1 << 17];
	double lo = 0, hi = 0, first_fail = 0;
	size_t n = 0, fails = 0;
	struct res_run run;
	char *text;

	/* 1 s without a final response is a failure. */
	capped_search("s0p1-bisect",
		      "\"rate\": {\"start\": 200, \"step\": 800, "
		      "\"final\": 20000},\n"
		      "   \"step_duration_s\": 2, \"warmup_s\": 1, "
		      "\"search\": \"bisect\",\n"
		      "   \"threshold_ms\": 1000, \"granularity\": 100",
		      out, sizeof(out));
	ASSERT(strstr(out, "[bisect] "));
	load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "complete");
	ASSERT_STR(run.search, "bisect");
	ASSERT_STR(run.search_end, "found");
	ASSERT(run.nsteps >= 3);
	/* Up by the step until a trial fails, then bisection: each trial
	 * inside the interval the earlier ones left. */
	for (size_t i = 0; i < run.nsteps; i++) {
		const struct res_step *s = &run.steps[i];

		ASSERT(s->attempts > 0);
		if (!fails) {
			ASSERT_STR(s->phase, "up");
			ASSERT(i == 0 ||
			       s->offered == run.steps[i - 1].offered + 800);
		} else {
			ASSERT_STR(s->phase, "bisect");
			ASSERT_MSG(s->offered > lo && s->offered < hi,
				   "trial %zu at %.0f/s outside (%.0f, %.0f)",
				   i, s->offered, lo, hi);
		}
		if (s->passed) {
			ASSERT(s->failures == 0 && s->timeouts == 0);
			lo = s->offered;
		} else {
			ASSERT(s->failures > 0 || s->timeouts > 0);
			hi = s->offered;
			if (!fails++)
				first_fail = s->offered;
		}
	}
	ASSERT_MSG(fails > 0, "no trial failed up to %.0f/s", lo);
	ASSERT(first_fail > 200); /* the start rate itself was clean */
	/* The rate found: the last clean one, within the granularity. */
	ASSERT(run.rfc7502_rate == lo && lo > 0);
	ASSERT_MSG(hi - lo <= 100, "%.0f..%.0f", lo, hi);
	ASSERT_EQ(run.granularity, 100);
	ASSERT_EQ(run.threshold_ms, 1000);
	res_run_clear(&run);
	/* Every trial is a row of steps.csv, with its phase. */
	snprintf(path, sizeof(path), "%s/steps.csv", dir);
	text = test_read_file(path, &n);
	{
		size_t lines = 0;

		for (size_t i = 0; i < n; i++)
			lines += text[i] == '\n';
		ASSERT(strstr(text, ",passed,phase,"));
		ASSERT(strstr(text, ",bisect,"));
		load_bundle(&run, dir, sizeof(dir));
		ASSERT_EQ(lines, run.nsteps + 1);
		res_run_clear(&run);
	}
	free(text);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	text = test_read_file(path, &n);
	ASSERT(strstr(text, "zero-failure rate by bisection"));
	free(text);
	assert_no_survivors("run.log");
}

TEST_TIMEOUT(run_rfc7502_search_moves_as_the_rfc_says, 260)
{
	char dir[600], path[800];
	static char out[1 << 17];
	double prev = 0, w = 0.10, best = 0, fail_above = 0;
	bool prev_clean = false;
	size_t n = 0, counted = 0;
	struct res_run run;
	char *text;

	capped_search("s0p1-rfc7502",
		      "\"rate\": {\"start\": 200, \"step\": 800, "
		      "\"final\": 20000},\n"
		      "   \"step_duration_s\": 2, \"warmup_s\": 1, "
		      "\"search\": \"rfc7502\",\n"
		      "   \"threshold_ms\": 1000, \"granularity\": 50, "
		      "\"granularity_percent\": 10, \"max_trials\": 40",
		      out, sizeof(out));
	ASSERT(strstr(out, "[rfc7502] "));
	load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "complete");
	ASSERT_STR(run.search, "rfc7502");
	ASSERT_MSG(!strcmp(run.search_end, "found"), "%s: %s", run.search_end,
		   out);
	for (size_t i = 0; i < run.nsteps; i++) {
		const struct res_step *s = &run.steps[i];

		ASSERT(s->attempts > 0);
		if (!strcmp(s->phase, "discard")) {
			/* failed while generator bound: the same rate again */
			ASSERT(!s->passed && s->generator_bound);
			continue;
		}
		ASSERT_STR(s->phase, "trial");
		/* RFC 7502 Appendix A: the first at r, then r += w * r
		 * after a clean trial, r -= d * r (d = 0.10 here) and w
		 * halved after a failed one */
		if (!counted) {
			ASSERT(s->offered == 200);
		} else {
			double want = prev_clean ? prev * (1 + w) : prev * 0.9;

			ASSERT_MSG(fabs(s->offered - want) < 1e-6 * want,
				   "trial %zu at %.3f/s, not %.3f/s", i,
				   s->offered, want);
		}
		ASSERT_EQ(s->passed, s->failures == 0 && s->timeouts == 0);
		if (s->passed && s->offered > best)
			best = s->offered;
		if (!s->passed)
			w /= 2;
		prev = s->offered;
		prev_clean = s->passed;
		counted++;
	}
	ASSERT(counted <= 40);
	for (size_t i = 0; i < run.nsteps; i++)
		if (!run.steps[i].passed && run.steps[i].offered > best &&
		    strcmp(run.steps[i].phase, "discard") &&
		    (!fail_above || run.steps[i].offered < fail_above))
			fail_above = run.steps[i].offered;
	/* the answer: the highest clean rate, a failure within the
	 * granularity (50/s or 10 %) above it */
	ASSERT(run.rfc7502_rate == best && best > 0);
	ASSERT_MSG(fail_above > best &&
			   fail_above - best <= fmax(50, best / 10),
		   "%.0f..%.0f", best, fail_above);
	res_run_clear(&run);
	snprintf(path, sizeof(path), "%s/steps.csv", dir);
	text = test_read_file(path, &n);
	ASSERT(strstr(text, ",trial\n") || strstr(text, ",trial,"));
	free(text);
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	text = test_read_file(path, &n);
	ASSERT(strstr(text, "\"search_end\": \"found\""));
	free(text);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	text = test_read_file(path, &n);
	ASSERT(strstr(text, "RFC 7502 zero-failure rate"));
	free(text);
	assert_no_survivors("run.log");
}

TEST_TIMEOUT(run_progress_redraws_one_line_on_a_terminal_only, 90)
{
	char topo[2048], inv[600], prog[700];
	static char out[1 << 16];
	size_t n = 0, len;
	struct winsize ws = {.ws_row = 24, .ws_col = 200};
	int fd, status = -1;
	char *text;
	pid_t pid;

	need_root_and_mariadb();
	snprintf(inv, sizeof(inv), "%s/topologies/hosts/local.json",
		 test_root_dir());
	snprintf(prog, sizeof(prog), "%s/orchestrator", test_bin_dir());
	snprintf(topo, sizeof(topo),
		 "{\"name\": \"s0p1-tty\", \"database\": {\"host\": \"db\", "
		 "\"port\": %u},\n"
		 " \"stateful\": [{\"name\": \"sf1\", \"host\": \"proxy1\", "
		 "\"listen\": [\"udp:%u\"], \"workers\": 1}],\n"
		 " \"loaders\": [{\"name\": \"ld1\", \"host\": \"loader1\", "
		 "\"threads\": 1}],\n"
		 " \"experiment\": {\"users\": {\"count\": 100}, \"rate\": "
		 "{\"start\": 200, \"step\": 200, \"final\": 400},\n"
		 "   \"step_duration_s\": 3, \"warmup_s\": 0}}\n",
		 proc_free_port(), proc_free_port());
	test_write_file("t.json", topo);
	pid = forkpty(&fd, NULL, NULL, &ws);
	ASSERT(pid >= 0);
	if (pid == 0) {
		execl(prog, prog, "run", "t.json", "--hosts", inv, "--results",
		      "results", (char *)NULL);
		_exit(127);
	}
	/* Its terminal's output to the end (bounded). */
	for (unsigned waited = 0; waited < 60000 && n < sizeof(out) - 1;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t got;

		if (poll(&pfd, 1, 100) <= 0) {
			waited += 100;
			continue;
		}
		got = read(fd, out + n, sizeof(out) - n - 1);
		if (got <= 0)
			break; /* EIO once the child has gone */
		n += (size_t)got;
		out[n] = '\0';
	}
	close(fd);
	for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(100000);
	if (!WIFEXITED(status)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
	/* Each second of step 1 of 2 redrawn in place, then replaced by
	 * the step's own line. */
	ASSERT_MSG(strstr(out, "[step 1/2] 1/3 s offered 200/s"), "%s", out);
	ASSERT(strstr(out, "[step 1/2] 3/3 s offered 200/s"));
	ASSERT(strstr(out, "[step 2/2] 2/3 s offered 400/s"));
	ASSERT(strstr(out, "\r\033[K[step 1/2] 2/3 s"));
	ASSERT(strstr(out, "\r\033[K[step 1] offered 200/s"));
	/* Not on a pipe: the plain lines alone. */
	{
		const char *argv[] = {"orchestrator", "run", "t.json",
				      "--hosts",      inv,   "--results",
				      "results2",     NULL};

		run_expect(argv, 0);
		text = test_read_file("run.log", &len);
		ASSERT(strstr(text, "[step 2] offered 400/s"));
		ASSERT(!strchr(text, '\033') && !strchr(text, '\r'));
		ASSERT(!strstr(text, "[step 1/2]"));
		free(text);
	}
}

/* The invite test on the local inventory: loaders -> sf1 (with
 * Record-Route) -> the callhandler that registered through it; the
 * bundle's steps carry the RFC 6076 call metrics. */
TEST_TIMEOUT(run_invite_steps_carry_call_metrics, 90)
{
	const char *argv[] = {"orchestrator", "run", "t.json",
			      "--hosts",      NULL,  "--results",
			      "results",      NULL};
	char topo[2048], inv[600], dir[600], path[700];
	struct res_run run;
	size_t len;
	char *text;

	need_root_and_mariadb();
	snprintf(inv, sizeof(inv), "%s/topologies/hosts/local.json",
		 test_root_dir());
	argv[4] = inv;
	snprintf(topo, sizeof(topo),
		 "{\"name\": \"s0p1-invite\", \"database\": {\"host\": "
		 "\"db\", \"port\": %u},\n"
		 " \"stateful\": [{\"name\": \"sf1\", \"host\": \"proxy1\", "
		 "\"listen\": [\"udp:%u\"], \"workers\": 1, "
		 "\"record_route\": true}],\n"
		 " \"callhandlers\": [{\"name\": \"ch1\", \"host\": "
		 "\"handler1\", \"listen\": [\"udp:%u\"], \"threads\": 1, "
		 "\"register_via\": \"sf1\"}],\n"
		 " \"loaders\": [{\"name\": \"ld1\", \"host\": \"loader1\", "
		 "\"server\": \"sf1\", \"threads\": 1}],\n"
		 " \"experiment\": {\"test\": \"invite\", \"hold_ms\": 100, "
		 "\"users\": {\"count\": 20}, \"rate\": "
		 "{\"start\": 50, \"step\": 50, \"final\": 100},\n"
		 "   \"step_duration_s\": 2, \"warmup_s\": 1}}\n",
		 proc_free_port(), proc_free_port(), proc_free_port());
	test_write_file("t.json", topo);
	run_expect(argv, 0);
	assert_no_survivors("run.log");
	load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "complete");
	ASSERT_STR(run.test, "invite");
	ASSERT_EQ(run.nsteps, 2);
	for (size_t i = 0; i < run.nsteps; i++) {
		const struct res_step *s = &run.steps[i];

		ASSERT_MSG(s->success_pct == 100, "step %zu: %.2f %%", i,
			   s->success_pct);
		/* 2 s at the step's rate, +-5 % */
		ASSERT_MSG(s->attempts > 1.9 * s->offered &&
				   s->attempts < 2.1 * s->offered,
			   "step %zu: %llu calls at %.0f/s", i,
			   (unsigned long long)s->attempts, s->offered);
		/* SRD and SDD measured; the ratios those of a clean run;
		 * no REGISTER metrics */
		ASSERT(s->srd_ms > 0 && s->sdd_ms > 0);
		ASSERT(s->ser_pct == 100 && s->seer_pct == 100);
		ASSERT(s->isa_pct == 0 && s->scr_pct == 100);
		ASSERT(s->rrd_ms < 0 && s->ira_pct < 0);
	}
	res_run_clear(&run);
	snprintf(path, sizeof(path), "%s/steps.csv", dir);
	text = test_read_file(path, &len);
	ASSERT(strstr(text, ",srd_ms,sdd_ms,ser_pct,seer_pct,isa_pct,"
			    "scr_pct,"));
	ASSERT(strstr(text, "\n0,50.0,"));
	free(text);
}
