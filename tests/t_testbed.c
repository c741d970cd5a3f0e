/*
 * The namespace testbed: hosts come up, a run crosses them, a host dies
 * mid-run, loss between the stages, and down leaves nothing behind.
 *
 * Each test has its own prefix and subnet, so that a testbed a person
 * has up (or another test's) is never touched, and a guard process that
 * brings the testbed down when the test ends without doing it itself (a
 * failed assertion, a crash, the runner's timeout).
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "orchrun.h"
#include "proc.h"
#include "results.h"
#include "test.h"

struct tb {
	char prefix[16];
	char state[600];
	char inv[700];
	int guard_fd; /* a byte on it disarms the guard; EOF fires it */
};

static void need_testbed_tools(void)
{
	struct stat st;

	if (geteuid() != 0)
		test_skip("the testbed needs root (namespaces, cgroups)");
	if (stat("/usr/sbin/sshd", &st) || stat("/usr/sbin/mariadbd", &st))
		test_skip("no sshd or mariadbd: run scripts/install-deps");
	if (system("ip netns list >/dev/null 2>&1") != 0)
		test_skip("no network namespaces here");
	if (system("command -v nft >/dev/null 2>&1") != 0)
		test_skip("no nft (the testbed's loss): run "
			  "scripts/install-deps");
}

static int testbed(const char *const *args, const char *log)
{
	char script[600];
	const char *argv[16] = {script};
	int n = 1;

	snprintf(script, sizeof(script), "%s/scripts/testbed",
		 test_root_dir());
	for (; args[n - 1] && n < 15; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	return proc_run(argv, log, 60000);
}

static int count_lines_of(const char *cmd)
{
	char line[256];
	FILE *p = popen(cmd, "r");
	int n = 0;

	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		n++;
	pclose(p);
	return n;
}

/*
 * Starts the guard: a process in a session of its own (the runner ends
 * the test's process group, not it) that waits on a pipe only the test
 * holds and runs "testbed down" unless the test wrote a byte first.
 */
static void start_guard(struct tb *tb)
{
	char script[600];
	int fds[2];
	pid_t pid;

	snprintf(script, sizeof(script), "%s/scripts/testbed",
		 test_root_dir());
	ASSERT(pipe2(fds, O_CLOEXEC) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		char c;

		setsid();
		close(fds[1]);
		if (read(fds[0], &c, 1) == 1)
			_exit(0);
		/* The environment names this test's testbed. */
		execl(script, script, "down", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	tb->guard_fd = fds[1];
}

/* Brings up a testbed of its own for this test (args: "up" and more). */
static void tb_up(struct tb *tb, const char *prefix, const char *net,
		  const char *const *args)
{
	const char *down[] = {"down", NULL};

	need_testbed_tools();
	snprintf(tb->prefix, sizeof(tb->prefix), "%s", prefix);
	snprintf(tb->state, sizeof(tb->state), "%s/tb", test_tmp_dir());
	snprintf(tb->inv, sizeof(tb->inv), "%s/hosts.json", tb->state);
	setenv("SIPSTONE_TESTBED_PREFIX", prefix, 1);
	setenv("SIPSTONE_TESTBED_NET", net, 1);
	setenv("SIPSTONE_TESTBED_STATE", tb->state, 1);
	testbed(down, "down0.log");
	start_guard(tb);
	if (testbed(args, "up.log") != 0) {
		size_t len;
		char *log = test_read_file("up.log", &len);

		fprintf(stderr, "%s", log);
		free(log);
		test_fail(__FILE__, __LINE__, "testbed up failed");
	}
}

/* The PIDs in every namespace of this testbed (at most max). */
static size_t tb_pids(const struct tb *tb, const char *host, long *pids,
		      size_t max)
{
	char cmd[300], line[64];
	size_t n = 0;
	FILE *p;

	if (host)
		snprintf(cmd, sizeof(cmd), "ip netns pids %s-%s 2>/dev/null",
			 tb->prefix, host);
	else
		snprintf(cmd, sizeof(cmd),
			 "for ns in $(ip netns list | awk '$1 ~ /^%s-/ "
			 "{print $1}'); do ip netns pids $ns; done",
			 tb->prefix);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	while (n < max && fgets(line, sizeof(line), p))
		pids[n++] = strtol(line, NULL, 10);
	pclose(p);
	return n;
}

/* A process's name, "" when it is gone. */
static void comm_of(long pid, char *out, size_t size)
{
	char path[64];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(out, (int)size, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/*
 * Whether a process still runs.  A zombie does not: it has ended and
 * waits for its parent (here init, which reaps when it gets to it).
 */
static bool runs(long pid)
{
	char path[64], buf[512], *close_paren;
	FILE *f;
	size_t n;

	if (kill((pid_t)pid, 0) != 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	close_paren = strrchr(buf, ')');
	return !(close_paren && close_paren[1] == ' ' &&
		 (close_paren[2] == 'Z' || close_paren[2] == 'X'));
}

/*
 * "down", then checks that nothing is left: no namespace, no link, no
 * cgroup, no state, none of the processes that ran in the namespaces.
 * Disarms the guard.
 */
static void tb_down_and_check(struct tb *tb)
{
	const char *down[] = {"down", NULL};
	long pids[512];
	size_t n = tb_pids(tb, NULL, pids, 512);
	char cmd[300], path[300];
	struct stat st;

	ASSERT(n > 0);
	ASSERT_EQ(testbed(down, "down.log"), 0);
	snprintf(cmd, sizeof(cmd), "ip netns list | grep '^%s-'", tb->prefix);
	ASSERT_EQ(count_lines_of(cmd), 0);
	snprintf(cmd, sizeof(cmd), "ip -o link show | grep ': %s[0-9]'",
		 tb->prefix);
	ASSERT_EQ(count_lines_of(cmd), 0);
	ASSERT(stat(tb->state, &st) != 0);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu/sipstone-%s",
		 tb->prefix);
	ASSERT(stat(path, &st) != 0);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/sipstone-%s", tb->prefix);
	ASSERT(stat(path, &st) != 0);
	for (size_t i = 0; i < n; i++) {
		char comm[64];

		comm_of(pids[i], comm, sizeof(comm));
		ASSERT_MSG(!runs(pids[i]),
			   "pid %ld (%s) survived testbed down", pids[i],
			   comm);
	}
	ASSERT(write(tb->guard_fd, "x", 1) == 1);
	close(tb->guard_fd);
	tb->guard_fd = -1;
}

/*
 * s1p2 across four hosts: h1 the first stage and the managed database,
 * h2 and h3 the second stage, h4 the callhandler and the loader.
 */
static void write_s1p2(unsigned start, unsigned step, unsigned final,
		       unsigned step_s, unsigned warmup_s)
{
	char topo[2048];

	/* The database on h4, with the agents: the loss test drops packets
	 * between the stages (h1 and h2/h3), and the stateful proxies'
	 * database connections must not cross those links. */
	snprintf(topo, sizeof(topo),
		 "{\"name\": \"s1p2-testbed\", \"database\": {\"host\": "
		 "\"h4\", \"port\": 33061},\n"
		 " \"stateful\": [{\"name\": \"sf1\", \"host\": \"h2\", "
		 "\"listen\": [\"udp:5060\"], \"workers\": 1},\n"
		 "  {\"name\": \"sf2\", \"host\": \"h3\", \"listen\": "
		 "[\"udp:5060\"], \"workers\": 1}],\n"
		 " \"stateless\": [{\"name\": \"sl1\", \"host\": \"h1\", "
		 "\"listen\": [\"udp:5060\"], \"next\": [\"sf1\", \"sf2\"], "
		 "\"workers\": 1}],\n"
		 " \"callhandlers\": [{\"name\": \"ch1\", \"host\": \"h4\", "
		 "\"listen\": [\"udp:5080\"], \"threads\": 1}],\n"
		 " \"loaders\": [{\"name\": \"ld1\", \"host\": \"h4\", "
		 "\"threads\": 1}],\n"
		 " \"experiment\": {\"users\": {\"count\": 200}, \"rate\": "
		 "{\"start\": %u, \"step\": %u, \"final\": %u},\n"
		 "   \"max_rate\": %u, \"step_duration_s\": %u, "
		 "\"warmup_s\": %u}}\n",
		 start, step, final, final, step_s, warmup_s);
	test_write_file("t.json", topo);
}

TEST_TIMEOUT(testbed_s1p2_across_four_hosts_then_nothing_left, 240)
{
	const char *up[] = {"up", "--cpu", "0.5", "4", NULL};
	struct tb tb;
	const char *run[] = {"orchestrator", "run",	  "t.json",  "--hosts",
			     tb.inv,	     "--results", "results", NULL};
	struct res_run r;
	char why[256], bundle[600] = "";

	tb_up(&tb, "sstt", "10.201.0", up);
	write_s1p2(200, 200, 400, 2, 1);
	orchrun_expect(run, 0, 180000);
	orchrun_bundle_dir(bundle, sizeof(bundle));
	ASSERT_EQ(res_load(&r, bundle, why, sizeof(why)), 0);
	ASSERT_STR(r.status, "complete");
	ASSERT_EQ(r.nsteps, 2);
	ASSERT_EQ(r.nproxies, 3);
	/* The bed alone (h4's loader to h4's callhandler) from the final
	 * rate up: clean at twice the most the steps may offer (max_rate
	 * 400), the search stops there. */
	ASSERT_MSG(r.baseline > 380 && r.baseline < 840, "baseline %.1f",
		   r.baseline);
	ASSERT(r.baseline < 760 || !strcmp(r.baseline_bound, "lower"));
	for (size_t i = 0; i < r.nsteps; i++) {
		ASSERT(r.steps[i].success_pct == 100);
		/* Both second-stage proxies took a share of the users. */
		ASSERT(r.steps[i].proxy[1].share > 0.2 &&
		       r.steps[i].proxy[2].share > 0.2);
	}
	res_run_clear(&r);
	tb_down_and_check(&tb);
}

/* Reads p's output into out until want appears or it ends (bounded). */
static void read_until(struct proc *p, char *out, size_t size, size_t *n,
		       const char *want, unsigned timeout_ms)
{
	unsigned waited = 0;

	while ((!want || !strstr(out, want)) && waited < timeout_ms &&
	       *n < size - 1) {
		struct pollfd pfd = {p->from_child, POLLIN, 0};
		ssize_t got;

		if (poll(&pfd, 1, 100) <= 0) {
			waited += 100;
			continue;
		}
		got = read(p->from_child, out + *n, size - *n - 1);
		if (got <= 0)
			break;
		*n += (size_t)got;
		out[*n] = '\0';
	}
}

TEST_TIMEOUT(testbed_host_killed_mid_run_ends_in_a_clean_failed_bundle, 240)
{
	const char *up[] = {"up", "4", NULL};
	struct tb tb;
	const char *run[] = {"orchestrator", "run",	  "t.json",  "--hosts",
			     tb.inv,	     "--results", "results", NULL};
	static char out[1 << 16];
	char why[256], bundle[600] = "", path[700], *p;
	long pids[64];
	size_t n = 0, np;
	struct res_run r;
	struct proc orch;
	struct stat st;
	int status, seen = 0;

	tb_up(&tb, "sstk", "10.202.0", up);
	/* Long steps: h3 dies in the middle of the first. */
	write_s1p2(200, 200, 1000, 60, 0);
	proc_start(&orch, run);
	read_until(&orch, out, sizeof(out), &n, "[start] ld1 (loader)", 90000);
	ASSERT_MSG(strstr(out, "[start] ld1 (loader)"), "%s", out);
	sleep(2);
	ASSERT(!proc_exited(&orch));
	/* The host dies: every process in its namespace, sshd too. */
	np = tb_pids(&tb, "h3", pids, 64);
	ASSERT(np >= 2); /* sshd and at least the proxy under it */
	for (size_t i = 0; i < np; i++)
		kill((pid_t)pids[i], SIGKILL);
	read_until(&orch, out, sizeof(out), &n, NULL, 60000);
	status = proc_stop(&orch, 30000);
	test_write_file("run.log", out);
	ASSERT_MSG(status == 1, "exit %d: %s", status, out);

	/* The bundle says what happened, naming the role and its host. */
	orchrun_bundle_dir(bundle, sizeof(bundle));
	ASSERT_EQ(res_load(&r, bundle, why, sizeof(why)), 0);
	ASSERT_STR(r.status, "failed");
	ASSERT_MSG(strstr(r.reason, "sf2") && strstr(r.reason, "h3"), "%s",
		   r.reason);
	fprintf(stderr, "bundle: %s: %s\n", r.status, r.reason);
	res_run_clear(&r);
	snprintf(path, sizeof(path), "%s/report.html", bundle);
	ASSERT_EQ(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s.tar.gz", bundle);
	ASSERT_EQ(stat(path, &st), 0);

	/* Nothing left: every role it started is gone, the database too. */
	for (p = out; (p = strstr(p, ", pid "));) {
		long pid = strtol(p + 6, &p, 10);

		ASSERT(pid > 1);
		ASSERT_MSG(!runs(pid), "pid %ld still runs", pid);
		seen++;
	}
	ASSERT_EQ(seen, 6); /* five roles and the baseline loader */
	ASSERT_MSG(strstr(out, "[db] dropped sipstone_") && strstr(out, "[db] "
									"manag"
									"ed "
									"serve"
									"r "
									"stopp"
									"ed"),
		   "%s", out);
	/* On the surviving hosts only their sshd is left; the run
	 * directory (one file system for all of them) is gone. */
	{
		static const char *const alive[] = {"h1", "h2", "h4"};

		for (size_t h = 0; h < 3; h++) {
			/* Sessions end just after the orchestrator. */
			for (int t = 0; t < 30; t++) {
				np = tb_pids(&tb, alive[h], pids, 64);
				if (np <= 1)
					break;
				usleep(100000);
			}
			ASSERT_MSG(np == 1, "%s: %zu processes", alive[h], np);
			{
				char comm[64];

				comm_of(pids[0], comm, sizeof(comm));
				ASSERT_STR(comm, "sshd");
			}
		}
		ASSERT_EQ(tb_pids(&tb, "h3", pids, 64), 0);
	}
	snprintf(path, sizeof(path), "/tmp/sipstone-%s",
		 strrchr(bundle, '/') + 1);
	ASSERT_MSG(stat(path, &st) != 0, "%s is left", path);
	tb_down_and_check(&tb);
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : -1;
}

TEST_TIMEOUT(testbed_udp_with_5pct_loss_between_stages_completes_all, 240)
{
	const char *up[] = {"up", "4", NULL};
	const char *loss1[] = {"netem", "h1", "--loss", "5",
			       "--to",	"h2", "h3",	NULL};
	const char *loss2[] = {"netem", "h2", "--loss", "5",
			       "--to",	"h1", NULL};
	const char *loss3[] = {"netem", "h3", "--loss", "5",
			       "--to",	"h1", NULL};
	struct tb tb;
	const char *run[] = {"orchestrator", "run",	  "t.json",  "--hosts",
			     tb.inv,	     "--results", "results", NULL};
	char why[256], bundle[600] = "", path[700];
	uint64_t retrans = 0;
	json_error_t jerr;
	struct res_run r;
	json_t *sum;

	tb_up(&tb, "sstl", "10.203.0", up);
	/* Both ways between the stages, nowhere else. */
	ASSERT_EQ(testbed(loss1, "loss1.log"), 0);
	ASSERT_EQ(testbed(loss2, "loss2.log"), 0);
	ASSERT_EQ(testbed(loss3, "loss3.log"), 0);
	write_s1p2(200, 200, 400, 3, 1);
	orchrun_expect(run, 0, 180000);
	orchrun_bundle_dir(bundle, sizeof(bundle));
	ASSERT_EQ(res_load(&r, bundle, why, sizeof(why)), 0);
	ASSERT_STR(r.status, "complete");
	ASSERT_EQ(r.nsteps, 2);
	for (size_t i = 0; i < r.nsteps; i++) {
		const struct res_step *s = &r.steps[i];

		ASSERT_MSG(s->failures == 0 && s->timeouts == 0 &&
				   s->success_pct == 100 && s->passed,
			   "step %zu: %llu failures, %llu timeouts", i,
			   (unsigned long long)s->failures,
			   (unsigned long long)s->timeouts);
		ASSERT(s->attempts > 2 * s->offered);
		retrans += s->retransmissions;
	}
	/* About 10 % of the transactions lose a message at 5 % each way. */
	ASSERT_MSG(retrans > 20, "%llu retransmissions",
		   (unsigned long long)retrans);
	res_run_clear(&r);
	/* Every transaction the loader began ended in a 2xx, warm-up and
	 * the stop's drain included. */
	snprintf(path, sizeof(path), "%s/logs/ld1.summary.json", bundle);
	sum = json_load_file(path, 0, &jerr);
	ASSERT_MSG(sum, "%s: %s", path, jerr.text);
	ASSERT(num(sum, "attempts") > 0);
	ASSERT_MSG(num(sum, "attempts") == num(sum, "successes") &&
			   num(sum, "failures") == 0,
		   "%.0f attempts, %.0f successes, %.0f failures, %.0f "
		   "timeouts, %.0f unfinished",
		   num(sum, "attempts"), num(sum, "successes"),
		   num(sum, "failures"), num(sum, "timeouts"),
		   num(sum, "unfinished"));
	ASSERT(num(sum, "retransmissions") >= (double)retrans);
	fprintf(stderr,
		"loader: %.0f attempts, %.0f successes, %.0f "
		"retransmissions (%llu in the steps)\n",
		num(sum, "attempts"), num(sum, "successes"),
		num(sum, "retransmissions"), (unsigned long long)retrans);
	json_decref(sum);
	tb_down_and_check(&tb);
}
