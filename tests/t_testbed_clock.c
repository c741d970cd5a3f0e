/*
 * Clock offsets on the namespace testbed (issue 19): its four hosts
 * are one machine, so each must measure under 5 ms, where the old
 * one-command estimate counted the SSH round trip (220-319 ms).  The
 * preflight of a topology over the testbed's inventory measures them
 * (clocksync.h); the testbed is its own (prefix, subnet, state) and is
 * always brought down before anything is asserted.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preflight.h"
#include "proc.h"
#include "test.h"
#include "topo.h"

static int testbed(const char *what, const char *log)
{
	char script[600];
	const char *argv[] = {script, what, "4", NULL};

	snprintf(script, sizeof(script), "%s/scripts/testbed",
		 test_root_dir());
	if (strcmp(what, "up"))
		argv[2] = NULL;
	return proc_run(argv, log, 120000);
}

TEST_TIMEOUT(testbed_clock_offsets_under_5_ms, 240)
{
	struct topo_errors errs = {0};
	struct inventory *inv = NULL;
	struct topo *t = NULL;
	struct preflight_host *hosts = NULL;
	char state[600], inv_path[700], report[2048] = "";
	size_t n = 0, used = 0, bad = 0, measured = 0;
	struct stat st;
	int up;

	if (geteuid() != 0)
		test_skip("the testbed needs root (namespaces)");
	if (stat("/usr/sbin/sshd", &st) ||
	    system("ip netns list >/dev/null 2>&1") != 0 ||
	    system("command -v nft >/dev/null 2>&1") != 0)
		test_skip("no sshd, namespaces or nft: scripts/install-deps");
	snprintf(state, sizeof(state), "%s/tb", test_tmp_dir());
	snprintf(inv_path, sizeof(inv_path), "%s/hosts.json", state);
	setenv("SIPSTONE_TESTBED_PREFIX", "sstc", 1);
	setenv("SIPSTONE_TESTBED_NET", "10.204.0", 1);
	setenv("SIPSTONE_TESTBED_STATE", state, 1);
	testbed("down", "down0.log");
	up = testbed("up", "up.log");
	if (up == 0 && inventory_load(&inv, inv_path, &errs) == 0 &&
	    topo_load(&t,
		      test_write_file("t.json", "{\"name\": \"clock\", "
						"\"database\": {\"host\": "
						"\"h1\", \"managed\": "
						"false},\n"
						" \"stateful\": [{\"name\": "
						"\"sf1\", \"host\": "
						"\"h1\", \"listen\": "
						"[\"udp:5060\"]}],\n"
						" \"callhandlers\": "
						"[{\"name\": \"ch1\", "
						"\"host\": \"h2\", "
						"\"listen\": "
						"[\"udp:5080\"]}],\n"
						" \"loaders\": [{\"name\": "
						"\"ld1\", \"host\": "
						"\"h3\"}, {\"name\": \"ld2\", "
						"\"host\": "
						"\"h4\"}]}\n"),
		      inv, &errs) == 0)
		preflight_run(t, inv, false, &hosts, &n);
	for (size_t i = 0; i < n; i++) {
		const struct preflight_host *h = &hosts[i];

		if (h->clock_exchanges)
			measured++;
		if (!h->clock_exchanges || fabs(h->clock_offset_ms) >= 5.0 ||
		    h->clock_biases_delays)
			bad++;
		if (used < sizeof(report))
			used += (size_t)snprintf(
				report + used, sizeof(report) - used,
				"%s %s: offset %.3f ms, rtt %.3f ms, %u "
				"exchanges%s\n",
				h->name, h->address, h->clock_offset_ms,
				h->clock_rtt_ms, h->clock_exchanges,
				h->ok ? "" : " (not ok)");
	}
	fprintf(stderr, "%s", report);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.lines[i]);
	topo_errors_free(&errs);
	free(hosts);
	topo_free(t);
	inventory_free(inv);
	/* Down first: nothing below may leave the testbed up. */
	ASSERT_EQ(testbed("down", "down.log"), 0);
	ASSERT_EQ(up, 0);
	ASSERT_EQ(n, 4);
	ASSERT_EQ(measured, 4);
	ASSERT_EQ(bad, 0);
}
