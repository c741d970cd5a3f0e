/* The namespace testbed: hosts come up, a run crosses them, down cleans. */
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "results.h"
#include "test.h"

static void need_testbed_tools(void)
{
	struct stat st;

	if (geteuid() != 0)
		test_skip("the testbed needs root (namespaces, cgroups)");
	if (stat("/usr/sbin/sshd", &st) || stat("/usr/sbin/mariadbd", &st))
		test_skip("no sshd or mariadbd: run scripts/install-deps");
	if (system("ip netns list >/dev/null 2>&1") != 0)
		test_skip("no network namespaces here");
}

static int testbed(const char *const *args, const char *log)
{
	char script[600];
	const char *argv[12] = {script};
	int n = 1;

	snprintf(script, sizeof(script), "%s/scripts/testbed",
		 test_root_dir());
	for (; args[n - 1] && n < 11; n++)
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

TEST_TIMEOUT(testbed_s1p2_across_four_hosts_then_nothing_left, 240)
{
	const char *up[] = {"up", "--cpu", "0.5", "4", NULL};
	const char *down[] = {"down", NULL};
	char state[600], inv[700], topo[2048];
	const char *run[] = {"orchestrator", "run", "t.json",
			     "--hosts",	     inv,   "--results",
			     "results",	     NULL};
	struct res_run r;
	char why[256];
	struct stat st;
	DIR *d;
	struct dirent *de;
	char bundle[600] = "";

	need_testbed_tools();
	snprintf(state, sizeof(state), "%s/tb", test_tmp_dir());
	snprintf(inv, sizeof(inv), "%s/hosts.json", state);
	setenv("SIPSTONE_TESTBED_PREFIX", "sstt", 1);
	setenv("SIPSTONE_TESTBED_NET", "10.201.0", 1);
	setenv("SIPSTONE_TESTBED_STATE", state, 1);
	testbed(down, "down0.log");
	if (testbed(up, "up.log") != 0) {
		size_t len;
		char *log = test_read_file("up.log", &len);

		fprintf(stderr, "%s", log);
		free(log);
		testbed(down, "down1.log");
		test_fail(__FILE__, __LINE__, "testbed up failed");
	}
	/* h1: the first stage and the database; h2, h3: the second stage;
	 * h4: the callhandler and the loader. */
	snprintf(topo, sizeof(topo),
		 "{\"name\": \"s1p2-testbed\", \"database\": {\"host\": "
		 "\"h1\", \"port\": 33061},\n"
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
		 "{\"start\": 200, \"step\": 200, \"final\": 400},\n"
		 "   \"step_duration_s\": 2, \"warmup_s\": 1}}\n");
	test_write_file("t.json", topo);
	if (proc_run(run, "run.log", 180000) != 0) {
		size_t len;
		char *log = test_read_file("run.log", &len);

		fprintf(stderr, "%s", log);
		free(log);
		testbed(down, "down2.log");
		test_fail(__FILE__, __LINE__,
			  "the run over the testbed failed");
	}
	d = opendir("results");
	ASSERT(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && !strstr(de->d_name, ".tar.gz"))
			snprintf(bundle, sizeof(bundle), "results/%s",
				 de->d_name);
	closedir(d);
	ASSERT_EQ(res_load(&r, bundle, why, sizeof(why)), 0);
	ASSERT_STR(r.status, "complete");
	ASSERT_EQ(r.nsteps, 2);
	ASSERT_EQ(r.nproxies, 3);
	for (size_t i = 0; i < r.nsteps; i++) {
		ASSERT(r.steps[i].success_pct == 100);
		/* Both second-stage proxies took a share of the users. */
		ASSERT(r.steps[i].proxy[1].share > 0.2 &&
		       r.steps[i].proxy[2].share > 0.2);
	}
	res_run_clear(&r);

	ASSERT_EQ(testbed(down, "down.log"), 0);
	ASSERT_EQ(count_lines_of("ip netns list | grep '^sstt-'"), 0);
	ASSERT_EQ(count_lines_of("ip -o link show | grep ': sstt[0-9]'"), 0);
	ASSERT(stat(state, &st) != 0);
	ASSERT(stat("/sys/fs/cgroup/cpu/sipstone-sstt", &st) != 0);
	ASSERT(stat("/sys/fs/cgroup/sipstone-sstt", &st) != 0);
}
