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

#include "fixture.h"
#include "orchrun.h"
#include "proc.h"
#include "results.h"
#include "sshd.h"
#include "test.h"

TEST_TIMEOUT(run_deploy_only_locally_leaves_nothing_behind, 60)
{
	const char *deploy_only[] = {"--deploy-only", NULL};
	char dir[600];
	struct res_run run;
	size_t len;
	char *text;

	orchrun_prepare("mini", NULL);
	orchrun_local("run", deploy_only, 0);
	text = test_read_file("run.log", &len);
	ASSERT(strstr(text, "2000 users"));
	ASSERT(strstr(text, "[start] sf1 (proxy-stateful) on proxy1 ready"));
	/* 2000 users registered with digest auth through the proxy. */
	ASSERT(strstr(text, "[start] ch1 registered its users"));
	ASSERT(strstr(text, "[db] dropped sipstone_"));
	ASSERT(strstr(text, "[db] managed server stopped"));
	free(text);
	orchrun_assert_no_survivors("run.log");
	orchrun_load_bundle(&run, dir, sizeof(dir));
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
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char dir[600];
	struct res_run run;
	int fd;

	orchrun_prepare("busy", NULL);
	/* sf1's port (@PORT2@), taken before the run. */
	sa.sin_port = htons(fixture_port(2));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	orchrun_local("run", NULL, 1);
	close(fd);
	orchrun_load_bundle(&run, dir, sizeof(dir));
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
	char dir[600], kh[600], remote[700], ssh_port[8];
	struct res_run run;
	struct sshd s;
	struct stat st;
	size_t len;
	char *text;

	orchrun_prepare("remote", NULL);
	sshd_start(&s);
	snprintf(kh, sizeof(kh), "%s/kh", test_tmp_dir());
	sshd_write_known_hosts(&s, kh, false);
	/* proxy1 is "another machine" reached over SSH (this one, really). */
	snprintf(ssh_port, sizeof(ssh_port), "%u", s.port);
	fixture_write("inv.json", "hosts/proxy1-over-ssh.json", "SSH_PORT",
		      ssh_port, "SSH_KEY", s.client_key, "KNOWN_HOSTS", kh,
		      NULL);
	orchrun_expect(argv, 0, 50000);
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
	orchrun_assert_no_survivors("run.log");
	orchrun_load_bundle(&run, dir, sizeof(dir));
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

/* `orchestrator baseline`: the test bed alone (RFC 7502 §6.1), its own
 * command: every role started, the loaders straight to the callhandler,
 * no step, and a bundle that says so. */
TEST_TIMEOUT(run_baseline_command_measures_the_bed_alone, 60)
{
	const char *baseline_s[] = {"--baseline-s", "2", NULL};
	char dir[600];
	struct res_run run;
	size_t len;
	char *text;

	orchrun_prepare("s0p1-bed", NULL);
	orchrun_local("baseline", baseline_s, 0);
	text = test_read_file("run.log", &len);
	ASSERT(strstr(text, "[baseline] loaders straight to the callhandlers "
			    "(options): offered 400/s"));
	ASSERT(!strstr(text, "[step 1]"));
	ASSERT(!strstr(text, "[run] capacity"));
	free(text);
	orchrun_assert_no_survivors("run.log");
	orchrun_load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "complete");
	ASSERT(strstr(run.reason, "baseline only"));
	ASSERT_EQ(run.nsteps, 0);
	/* 2 s at 400/s, then at 800/s straight to the callhandler: clean
	 * at twice the ramp's top (max_rate 400), the search for the
	 * bed's limit stops there (a machine too busy for 800/s bisects
	 * below it, 400/s clean) */
	ASSERT_MSG(run.baseline > 380 && run.baseline < 840, "baseline %.1f/s",
		   run.baseline);
	ASSERT(run.nprobes >= 2 && run.probes[0].clean);
	ASSERT(run.baseline < 760 || !strcmp(run.baseline_bound, "lower"));
	res_run_clear(&run);
}

TEST_TIMEOUT(run_register_steps_produce_a_complete_bundle, 90)
{
	char dir[600], path[700];
	struct res_run run;
	size_t len;
	char *text;

	orchrun_prepare("s0p1-short", NULL);
	orchrun_local("run", NULL, 0);
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
	orchrun_assert_no_survivors("run.log");
	orchrun_load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "complete");
	ASSERT_EQ(run.nsteps, 2);
	ASSERT_EQ(run.nsamples, 4);
	ASSERT_EQ(run.nproxies, 1);
	for (size_t i = 0; i < run.nsteps; i++) {
		const struct res_step *s = &run.steps[i];

		/* Two loaders each sent half: 2 s at the step's rate, +-5 %. */
		orchrun_assert_full_step(s, i, "attempts");
		ASSERT(s->passed);
		ASSERT(s->p50_ms > 0 && s->p50_ms <= s->p99_ms);
		ASSERT(s->rrd_ms > 0);
		ASSERT(s->proxy[0].cpu > 0 && s->proxy[0].rss_mb > 0);
	}
	/* What was delivered: at most the offered 400/s. */
	ASSERT(res_capacity(&run) > 390 && res_capacity(&run) <= 400);
	/* the bed clean at 400/s and (unless the machine is too busy)
	 * 800/s, twice the ramp's top */
	ASSERT_MSG(run.baseline > 380 && run.baseline < 840, "baseline %.1f",
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

/*
 * Starts `orchestrator run t.json` (local inventory, extra arguments
 * NULL-terminated or NULL), interrupts it 2 s after its loader is ready
 * (inside the first step) and reads its output to the end into out
 * (also run.log).  Returns its exit status.
 */
static int interrupt_in_first_step(const char *const *extra, char *out,
				   size_t size)
{
	const char *argv[16] = {
		"orchestrator",	       "run",	    "t.json", "--hosts",
		orchrun_local_hosts(), "--results", "results"};
	size_t n = 0, k = 7;
	struct proc p;
	int status;

	for (; extra && *extra; extra++)
		argv[k++] = *extra;
	argv[k] = NULL;
	proc_start(&p, argv);
	/* Its output until the load runs (the loader is ready). */
	orchrun_read_until(p.from_child, out, &n, size, "[start] ld1 (loader)",
			   60000);
	ASSERT_MSG(strstr(out, "[start] ld1 (loader)"), "%s", out);
	sleep(2); /* inside the first step */
	ASSERT(!proc_exited(&p));
	proc_signal(&p, SIGINT);
	/* Its output to the end: the teardown and the PIDs it ended. */
	orchrun_read_until(p.from_child, out, &n, size, NULL, 30000);
	status = proc_stop(&p, 30000);
	test_write_file("run.log", out);
	return status;
}

TEST_TIMEOUT(run_interrupted_mid_step_tears_down_and_says_aborted, 90)
{
	static char out[65536];
	char dir[600];
	struct res_run run;
	int status;

	/* Long steps: the interrupt lands in the middle of the first. */
	orchrun_prepare("s0p1-int", NULL);
	status = interrupt_in_first_step(NULL, out, sizeof(out));
	ASSERT_EQ(status, 1);
	orchrun_assert_no_survivors("run.log");
	{
		size_t len;
		char *text = test_read_file("run.log", &len);

		/* No database left behind either. */
		ASSERT_MSG(strstr(text, "[db] dropped sipstone_") &&
				   strstr(text, "[db] managed server stopped"),
			   "%s", text);
		free(text);
	}
	orchrun_load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "aborted");
	ASSERT(strstr(run.reason, "interrupted"));
	res_run_clear(&run);
}

/*
 * Runs a search (tests/data/topo/<name>.json: one proxy-stateful, one
 * loader, the search in its experiment) against the proxy held to 3 %
 * of a core in a cgroup, so that it fails well below what the loader
 * can send, at a rate the search has to find.  Its output into out
 * (NUL-terminated); the exit status must be 0.
 */
static void capped_search(const char *name, char *out, size_t outsz)
{
	char cg[300], path[800];
	const char *argv[] = {
		"orchestrator",	       "run",	    "t.json",  "--hosts",
		orchrun_local_hosts(), "--results", "results", NULL};
	size_t n = 0;
	struct proc p;
	char *pidp;
	int status;
	long pid;
	FILE *f;

	out[0] = '\0';
	orchrun_prepare(name, NULL);
	if (!orchrun_cap_cgroup(cg, sizeof(cg), 0.03))
		test_skip("no cgroup CPU controller here");
	proc_start(&p, argv);
	/* The proxy into the capped cgroup before the first trial. */
	orchrun_read_until(p.from_child, out, &n, outsz,
			   "[start] sf1 (proxy-stateful)", 60000);
	pidp = strstr(out, "[start] sf1 (proxy-stateful)");
	ASSERT_MSG(pidp && strstr(pidp, ", pid "), "%s", out);
	pid = strtol(strstr(pidp, ", pid ") + 6, NULL, 10);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	f = fopen(path, "w");
	ASSERT(f);
	fprintf(f, "%ld\n", pid);
	ASSERT(fclose(f) == 0);
	/* Its output to the end (bounded), then its exit status. */
	orchrun_read_until(p.from_child, out, &n, outsz, NULL, 200000);
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
	capped_search("s0p1-bisect", out, sizeof(out));
	ASSERT(strstr(out, "[bisect] "));
	orchrun_load_bundle(&run, dir, sizeof(dir));
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
		orchrun_load_bundle(&run, dir, sizeof(dir));
		ASSERT_EQ(lines, run.nsteps + 1);
		res_run_clear(&run);
	}
	free(text);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	text = test_read_file(path, &n);
	ASSERT(strstr(text, "zero-failure rate by bisection"));
	free(text);
	orchrun_assert_no_survivors("run.log");
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

	capped_search("s0p1-rfc7502", out, sizeof(out));
	ASSERT(strstr(out, "[rfc7502] "));
	orchrun_load_bundle(&run, dir, sizeof(dir));
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
			ASSERT(s->offered == 600);
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
	/* (+ 0.01/s: the rates are r * 1.1^n, a failure one step above
	 * the answer is 10 % above it give or take their rounding) */
	ASSERT_MSG(fail_above > best &&
			   fail_above - best <= fmax(50, best / 10) + 0.01,
		   "%.3f..%.3f", best, fail_above);
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
	orchrun_assert_no_survivors("run.log");
}

TEST_TIMEOUT(run_progress_redraws_one_line_on_a_terminal_only, 90)
{
	const char *inv = orchrun_local_hosts();
	static char out[1 << 16];
	char prog[700];
	size_t n = 0, len;
	struct winsize ws = {.ws_row = 24, .ws_col = 200};
	int fd, status = -1;
	char *text;
	pid_t pid;

	orchrun_prepare("s0p1-tty", NULL);
	snprintf(prog, sizeof(prog), "%s/orchestrator", test_bin_dir());
	pid = forkpty(&fd, NULL, NULL, &ws);
	ASSERT(pid >= 0);
	if (pid == 0) {
		execl(prog, prog, "run", "t.json", "--hosts", inv, "--results",
		      "results", (char *)NULL);
		_exit(127);
	}
	/* Its terminal's output to the end (bounded; EIO once the child
	 * has gone). */
	orchrun_read_until(fd, out, &n, sizeof(out), NULL, 60000);
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

		orchrun_expect(argv, 0, 50000);
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
	char dir[600], path[700];
	struct res_run run;
	size_t len;
	char *text;

	orchrun_prepare("s0p1-invite", NULL);
	orchrun_local("run", NULL, 0);
	orchrun_assert_no_survivors("run.log");
	orchrun_load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "complete");
	ASSERT_STR(run.test, "invite");
	ASSERT_EQ(run.nsteps, 2);
	for (size_t i = 0; i < run.nsteps; i++) {
		const struct res_step *s = &run.steps[i];

		/* 2 s at the step's rate, +-5 % */
		orchrun_assert_full_step(s, i, "calls");
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

/* ---- lists of runs ------------------------------------------------- */

/*
 * A short s0p1 run (one 2 s step at 200/s, no baseline) that listens on
 * UDP and TCP, for the lists below.  step_s long steps for an interrupt.
 */
static void write_list_topology(unsigned step_s)
{
	char final[16], step[16];

	snprintf(final, sizeof(final), "%u", step_s > 2 ? 1000 : 200);
	snprintf(step, sizeof(step), "%u", step_s);
	fixture_write("t.json", "topo/s0p1-list.json", "FINAL", final,
		      "STEP_S", step, NULL);
}

/* The bundles under results/ (not the archives), oldest first. */
static size_t list_bundles(char (*dirs)[300], size_t max)
{
	struct dirent **names;
	int n = scandir("results", &names, NULL, alphasort);
	size_t got = 0;

	ASSERT(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *d = names[i]->d_name;

		if (d[0] != '.' && !strstr(d, ".tar.gz") &&
		    strncmp(d, "compare-", 8) && got < max)
			snprintf(dirs[got++], sizeof(dirs[0]), "results/%s",
				 d);
		free(names[i]);
	}
	free(names);
	return got;
}

/* The comparison page under results/, read (caller frees). */
static char *read_comparison(void)
{
	struct dirent *de;
	char path[600] = "";
	DIR *d = opendir("results");
	size_t len;

	ASSERT(d);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "compare-", 8))
			snprintf(path, sizeof(path), "results/%s", de->d_name);
	closedir(d);
	ASSERT_MSG(path[0], "no compare-*.html under results/");
	return test_read_file(path, &len);
}

static unsigned setup_users(const struct res_run *run)
{
	json_t *exp = json_object_get(json_object_get(run->setup, "topology"),
				      "experiment");

	return (unsigned)json_integer_value(
		json_object_get(json_object_get(exp, "users"), "count"));
}

TEST_TIMEOUT(run_list_of_users_gives_a_bundle_each_and_a_comparison, 90)
{
	const char *inv = orchrun_local_hosts();
	char dirs[4][300];
	const char *argv[] = {
		"orchestrator", "run",	   "t.json",  "--hosts", inv,
		"--results",	"results", "--users", "10,20",	 NULL};
	struct res_run run;
	size_t len;
	char *text;

	orchrun_need_root_and_mariadb();
	write_list_topology(2);
	orchrun_expect(argv, 0, 50000);
	text = test_read_file("run.log", &len);
	ASSERT(strstr(text, "[list] run 1 of 2: t.json --users 10\n"));
	ASSERT(strstr(text, "[list] run 2 of 2: t.json --users 20\n"));
	/* Each run had its own population in its own database. */
	ASSERT(strstr(text, ": 10 users in "));
	ASSERT(strstr(text, ": 20 users in "));
	ASSERT(strstr(text, "[list] run 2") < strstr(text, ": 20 users in "));
	/* The table names the runs by what varied; ratio to the first. */
	ASSERT_MSG(strstr(text, "\ns0p1-list users=10 ") &&
			   strstr(text, "\ns0p1-list users=20 ") &&
			   strstr(text, "1.00x"),
		   "%s", text);
	ASSERT(strstr(text, "comparison: results/compare-"));
	free(text);
	orchrun_assert_no_survivors("run.log");
	ASSERT_EQ(list_bundles(dirs, 4), 2);
	for (size_t i = 0; i < 2; i++) {
		char why[256] = "", archive[400];
		struct stat st;

		ASSERT_MSG(res_load(&run, dirs[i], why, sizeof(why)) == 0,
			   "%s", why);
		ASSERT_STR(run.status, "complete");
		ASSERT_EQ(run.nsteps, 1);
		ASSERT(run.steps[0].passed);
		ASSERT_EQ(setup_users(&run), i == 0 ? 10 : 20);
		res_run_clear(&run);
		snprintf(archive, sizeof(archive), "%.300s.tar.gz", dirs[i]);
		ASSERT_EQ(stat(archive, &st), 0);
	}
	text = read_comparison();
	ASSERT(strstr(text, "<td class=l>s0p1-list users=10</td>"));
	ASSERT(strstr(text, "<td class=l>s0p1-list users=20</td>"));
	ASSERT(strstr(text, "<svg"));
	free(text);
}

TEST_TIMEOUT(run_list_of_transports_is_uploaded_bundle_by_bundle, 90)
{
	const char *inv = orchrun_local_hosts();
	char dirs[4][300], url[128], script[600], port[8];
	const char *argv[] = {"orchestrator", "run",	     "t.json",
			      "--hosts",      inv,	     "--results",
			      "results",      "--transport", "udp,tcp",
			      "--upload",     url,	     NULL};
	const char *sink[] = {"python3", script, port, NULL, "0", NULL};
	uint16_t sink_port = proc_free_port();
	struct res_run run;
	struct proc p;
	size_t len;
	char *text;

	orchrun_need_root_and_mariadb();
	snprintf(script, sizeof(script), "%s/tests/data/http_sink.py",
		 test_root_dir());
	snprintf(port, sizeof(port), "%u", sink_port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/in/", sink_port);
	sink[3] = test_tmp_dir();
	proc_start(&p, sink);
	/* The first upload comes after a whole run: the sink listens by
	 * then (and a refused try is retried). */
	write_list_topology(2);
	orchrun_expect(argv, 0, 50000);
	proc_stop(&p, 100);
	text = test_read_file("run.log", &len);
	ASSERT_MSG(strstr(text, "\ns0p1-list udp "), "%s", text);
	ASSERT_MSG(strstr(text, "\ns0p1-list tcp "), "%s", text);
	free(text);
	orchrun_assert_no_survivors("run.log");
	ASSERT_EQ(list_bundles(dirs, 4), 2);
	/* Every bundle, as written, and the comparison reached the server. */
	text = test_read_file("requests.log", &len);
	for (size_t i = 0; i < 2; i++) {
		char why[256] = "", want[400], archive[400];
		size_t a_len, b_len;
		char *a, *b, body[32];
		bool udp;

		ASSERT_MSG(res_load(&run, dirs[i], why, sizeof(why)) == 0,
			   "%s", why);
		ASSERT_STR(run.status, "complete");
		/* Named by transport: tcp's bundle sorts first, udp ran
		 * (and was sent) first. */
		ASSERT_STR(run.transport, i == 0 ? "tcp" : "udp");
		udp = !strcmp(run.transport, "udp");
		res_run_clear(&run);
		snprintf(want, sizeof(want), "put /in/%s.tar.gz - ",
			 dirs[i] + strlen("results/"));
		ASSERT_MSG(strstr(text, want), "%s not in %s", want, text);
		snprintf(archive, sizeof(archive), "%.300s.tar.gz", dirs[i]);
		snprintf(body, sizeof(body), "%d.put.body", udp ? 1 : 2);
		a = test_read_file(archive, &a_len);
		b = test_read_file(body, &b_len);
		ASSERT(a_len == b_len && memcmp(a, b, a_len) == 0);
		free(a);
		free(b);
	}
	ASSERT_MSG(strstr(text, "put /in/compare-"), "%s", text);
	free(text);
}

TEST_TIMEOUT(run_list_with_a_failing_upload_keeps_every_bundle, 90)
{
	const char *inv = orchrun_local_hosts();
	char dirs[4][300], url[128];
	const char *argv[] = {"orchestrator",
			      "run",
			      "t.json",
			      "--hosts",
			      inv,
			      "--results",
			      "results",
			      "--users",
			      "10,20",
			      "--upload",
			      url,
			      "--tries",
			      "1",
			      NULL};
	struct res_run run;
	size_t len;
	char *text, *p;
	int failures = 0;

	orchrun_need_root_and_mariadb();
	/* Nobody listens there. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/in/",
		 proc_free_port());
	write_list_topology(2);
	orchrun_expect(argv, 1, 50000);
	text = test_read_file("run.log", &len);
	/* Each bundle's failure is said, with which one and why, and the
	 * comparison page's. */
	for (p = text; (p = strstr(p, "orchestrator: upload of results/"));
	     p++) {
		const char *eol = strchr(p, '\n');
		const char *why = strstr(p, " failed: http://127.0.0.1:");

		ASSERT(eol && why && why < eol);
		failures++;
	}
	ASSERT_MSG(failures == 3, "%d failures in %s", failures, text);
	ASSERT(strstr(text, "compare-"));
	ASSERT(strstr(text, "[list] run 2 of 2"));
	free(text);
	orchrun_assert_no_survivors("run.log");
	ASSERT_EQ(list_bundles(dirs, 4), 2);
	for (size_t i = 0; i < 2; i++) {
		char why[256] = "";

		ASSERT_MSG(res_load(&run, dirs[i], why, sizeof(why)) == 0,
			   "%s", why);
		ASSERT_STR(run.status, "complete");
		res_run_clear(&run);
	}
}

TEST_TIMEOUT(run_list_bad_values_exit_2_before_anything_runs, 30)
{
	static const struct {
		const char *opt, *value, *said;
	} cases[] = {
		{"--users", "10,,20", "--users 10,,20: value 2 is empty\n"},
		{"--users", "10,", "--users 10,: value 2 is empty\n"},
		{"--users", "10,10", "--users 10,10: \"10\" is given twice\n"},
		{"--users", "0,10", "--users: bad value \"0\"\n"},
		{"--transport", "udp,sctp",
		 "--transport: bad value \"sctp\"\n"},
		{"--transport", "udp,tls",
		 "--transport tls: stateful \"sf1\" has no TLS listener"},
		{"--connection", "persistent,sometimes",
		 "--connection: bad value \"sometimes\"\n"},
		{"--preload-credentials", "true",
		 "preloaded credentials need --auth true\n"},
		/* Said before a run, not after it. */
		{"--upload", "ftp://127.0.0.1/in/",
		 "--upload ftp://127.0.0.1/in/: not an http or https URL\n"},
		{"--token-env", "SIPSTONE_TEST_UNSET_TOKEN",
		 "--post, --token-env, --ca and --tries go with --upload"},
		{"--rate",
		 "1:1:1,1:1:2,1:1:3,1:1:4,1:1:5,1:1:6,1:1:7,1:1:8,"
		 "1:1:9,1:1:10,1:1:11,1:1:12,1:1:13,1:1:14,1:1:15,"
		 "1:1:16,1:1:17",
		 "--rate: at most 16 values\n"},
	};
	const char *inv = orchrun_local_hosts();
	struct stat st;

	write_list_topology(2);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[] = {"orchestrator",
				      "run",
				      "t.json",
				      "--hosts",
				      inv,
				      "--results",
				      "results",
				      cases[i].opt,
				      cases[i].value,
				      NULL};
		size_t len, lines = 0;
		char *text;

		unlink(test_write_file("bad.log", ""));
		ASSERT_EQ(proc_run(argv, "bad.log", 10000), 2);
		text = test_read_file("bad.log", &len);
		for (size_t k = 0; k < len; k++)
			lines += text[k] == '\n';
		/* One clear line. */
		ASSERT_MSG(strstr(text, cases[i].said) && lines == 1,
			   "%s %s said: %s", cases[i].opt, cases[i].value,
			   text);
		free(text);
	}
	/* The same setting twice, and over 64 runs. */
	{
		const char *twice[] = {"orchestrator", "run",	  "t.json",
				       "--hosts",      inv,	  "--results",
				       "results",      "--users", "10",
				       "--users",      "20",	  NULL};
		const char *many[] = {"orchestrator",
				      "run",
				      "t.json",
				      "--hosts",
				      inv,
				      "--results",
				      "results",
				      "--users",
				      "1,2,3,4,5,6,7,8,9",
				      "--step-s",
				      "1,2,3,4,5,6,7,8",
				      NULL};
		const char *no_token[] = {"orchestrator",
					  "run",
					  "t.json",
					  "--hosts",
					  inv,
					  "--results",
					  "results",
					  "--upload",
					  "http://127.0.0.1:1/in/",
					  "--token-env",
					  "SIPSTONE_TEST_UNSET_TOKEN",
					  NULL};
		size_t len;
		char *text;

		ASSERT_EQ(proc_run(twice, "twice.log", 10000), 2);
		text = test_read_file("twice.log", &len);
		ASSERT(strstr(text, "--users is given twice"));
		free(text);
		ASSERT_EQ(proc_run(many, "many.log", 10000), 2);
		text = test_read_file("many.log", &len);
		ASSERT(strstr(text, "more than 64 runs"));
		free(text);
		unsetenv("SIPSTONE_TEST_UNSET_TOKEN");
		ASSERT_EQ(proc_run(no_token, "token.log", 10000), 2);
		text = test_read_file("token.log", &len);
		ASSERT(strstr(text, "the variable SIPSTONE_TEST_UNSET_TOKEN "
				    "is "
				    "not set"));
		free(text);
	}
	/* Nothing ran: no bundle was even begun. */
	ASSERT(stat("results", &st) != 0);
}

TEST_TIMEOUT(run_list_interrupted_in_its_first_run_stops_the_list, 90)
{
	const char *users[] = {"--users", "10,20", NULL};
	static char out[65536];
	char dirs[4][300];
	struct res_run run;
	size_t len;
	char *text;
	int status;

	orchrun_need_root_and_mariadb();
	write_list_topology(60);
	/* Interrupted inside the first step of the first run. */
	status = interrupt_in_first_step(users, out, sizeof(out));
	ASSERT_EQ(status, 1);
	orchrun_assert_no_survivors("run.log");
	/* No database left behind either. */
	ASSERT_MSG(strstr(out, "[db] dropped sipstone_"), "%s", out);
	ASSERT_MSG(strstr(out, "[db] managed server stopped"), "%s", out);
	/* No second run, not even begun, and no comparison. */
	ASSERT_MSG(!strstr(out, "[list] run 2 of 2") &&
			   !strstr(out, ": 20 users in ") &&
			   !strstr(out, "comparison:"),
		   "%s", out);
	text = test_read_file("orchestrator.log", &len);
	ASSERT_MSG(strstr(text, "interrupted: 1 of the 2 runs not started"),
		   "%s", text);
	free(text);
	ASSERT_EQ(list_bundles(dirs, 4), 1);
	{
		char why[256] = "";

		ASSERT_MSG(res_load(&run, dirs[0], why, sizeof(why)) == 0,
			   "%s", why);
	}
	ASSERT_STR(run.status, "aborted");
	ASSERT(strstr(run.reason, "interrupted"));
	ASSERT_EQ(setup_users(&run), 10);
	res_run_clear(&run);
}

/* A mix on the local inventory: the loaders get the weights and the
 * register users apart from the callhandler's (every call and OPTIONS
 * still reaches it: 100 %), steps.csv has the totals. */
TEST_TIMEOUT(run_mix_steps_count_every_kind, 90)
{
	char dir[600], path[700];
	struct res_run run;
	size_t len;
	char *text;

	orchrun_prepare("s0p1-mix", NULL);
	orchrun_local("run", NULL, 0);
	orchrun_assert_no_survivors("run.log");
	orchrun_load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "complete");
	ASSERT_STR(run.test, "mix");
	ASSERT_EQ(run.nsteps, 1);
	orchrun_assert_full_step(&run.steps[0], 0, "attempts");
	res_run_clear(&run);
	snprintf(path, sizeof(path), "%s/steps.csv", dir);
	text = test_read_file(path, &len);
	ASSERT(strstr(text, "\n0,100.0,"));
	free(text);
}
