/*
 * Tests for the loader: user ranges and password files (unit), and end
 * to end: bin/loader against sipp as an independent registrar over UDP
 * and TCP, the control mode, an unreachable server, bad flags.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "loadgen.h"
#include "proc.h"
#include "test.h"

TEST(loader_users_parse_ranges)
{
	struct loadgen_cfg c;
	char name[64];

	memset(&c, 0, sizeof(c));
	ASSERT_EQ(loadgen_users_parse(&c, "A1000-A1999"), 0);
	ASSERT_STR(c.prefix, "A");
	ASSERT_EQ(c.ufirst, 1000);
	ASSERT_EQ(c.ulast, 1999);
	ASSERT_EQ(loadgen_user_name(&c, 1234, name, sizeof(name)), 0);
	ASSERT_STR(name, "A1234");
	ASSERT_EQ(loadgen_users_parse(&c, "user007-020"), 0);
	ASSERT_STR(c.prefix, "user");
	ASSERT_EQ(c.ufirst, 7);
	ASSERT_EQ(c.ulast, 20);
	ASSERT_EQ(loadgen_user_name(&c, 9, name, sizeof(name)), 0);
	ASSERT_STR(name, "user009");
	ASSERT_EQ(loadgen_users_parse(&c, "alice"), 0);
	ASSERT_EQ(loadgen_user_name(&c, 0, name, sizeof(name)), 0);
	ASSERT_STR(name, "alice");
	ASSERT_EQ(loadgen_users_parse(&c, "A1999-A1000"), EINVAL);
	ASSERT_EQ(loadgen_users_parse(&c, "A1-B2"), EINVAL);
	ASSERT_EQ(loadgen_users_parse(&c, "A1-"), EINVAL);
	ASSERT_EQ(loadgen_users_parse(&c, "a b"), EINVAL);
	ASSERT_EQ(loadgen_users_parse(&c, ""), EINVAL);
	ASSERT_EQ(loadgen_user_name(&c, 0, name, 3), EOVERFLOW);
}

TEST(loader_passwords_file)
{
	struct loadgen_cfg c;
	FILE *f;

	memset(&c, 0, sizeof(c));
	ASSERT_EQ(loadgen_users_parse(&c, "u10-u12"), 0);
	f = fopen("pw.txt", "w");
	ASSERT(f);
	fputs("# users\nu10 secret10\nu11:secret11\nother x\n", f);
	fclose(f);
	ASSERT_EQ(loadgen_passwords_load(&c, "pw.txt"), 0);
	ASSERT_STR(c.passwords[0], "secret10");
	ASSERT_STR(c.passwords[1], "secret11");
	ASSERT(c.passwords[2] == NULL);
	loadgen_passwords_free(&c);
	f = fopen("bad.txt", "w");
	ASSERT(f);
	fputs("u10 ok\nu11\n", f);
	fclose(f);
	ASSERT_EQ(loadgen_passwords_load(&c, "bad.txt"), EBADMSG);
	ASSERT(c.passwords == NULL);
	ASSERT_EQ(loadgen_passwords_load(&c, "missing.txt"), ENOENT);
}

TEST(loader_counts_diff_subtracts_exactly)
{
	static struct loadgen_counts a, b, d;

	memset(&a, 0, sizeof(a));
	hist_init(&a.rtt);
	hist_init(&a.rrd);
	a.attempts = 10;
	a.successes = 9;
	a.codes[200] = 9;
	hist_add(&a.rtt, 100);
	b = a;
	a.attempts = 15;
	a.successes = 13;
	a.codes[200] = 13;
	hist_add(&a.rtt, 300);
	ASSERT_EQ(loadgen_counts_diff(&d, &a, &b), 0);
	ASSERT_EQ(d.attempts, 5);
	ASSERT_EQ(d.codes[200], 4);
	ASSERT_EQ(d.rtt.count, 1);
	/* the interval's bounds are its bucket's, clamped to the run's */
	ASSERT_EQ(hist_bucket(d.rtt.min), hist_bucket(300));
	ASSERT_EQ(d.rtt.max, 300);
	ASSERT_EQ(loadgen_counts_diff(&d, &b, &a), EINVAL);
}

/* ---- end to end ---- */

static void need(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	if (system(cmd) != 0)
		test_skip("%s not installed", prog);
}

/* sipp as a registrar (tests/sipp/uas_register.xml), its screen output
 * to a file so that a full pipe never blocks it.  tr: "u1" or "t1". */
static void sipp_registrar(struct proc *p, uint16_t port, const char *tr)
{
	char cmd[1024];
	const char *argv[] = {"sh", "-c", cmd, NULL};

	need("sipp");
	snprintf(cmd, sizeof(cmd),
		 "exec sipp -sf %s/tests/sipp/uas_register.xml -i 127.0.0.1 "
		 "-p %u -t %s -nostdin -trace_msg -message_file sipp_msgs.log "
		 ">sipp.out 2>&1",
		 test_root_dir(), port, tr);
	proc_start(p, argv);
	usleep(300 * 1000);
	ASSERT_MSG(!proc_exited(p), "sipp did not start");
}

/* How many requests starting with line sipp logged as received. */
static long sipp_count(const char *line)
{
	size_t len;
	char *s = test_read_file("sipp_msgs.log", &len), *q = s;
	long n = 0;

	while ((q = strstr(q, line))) {
		n++;
		q += strlen(line);
	}
	free(s);
	return n;
}

static json_int_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	ASSERT_MSG(json_is_integer(v), "no integer %s", k);
	return json_integer_value(v);
}

static void register_vs_sipp(const char *tr, const char *scheme,
			     const char *threads)
{
	struct proc sipp, ld;
	uint16_t port = proc_free_port();
	char server[64];
	const char *argv[] = {
		"loader",  "--test",	  "register", "--server",    server,
		"--users", "A1000-A1049", "--domain", "example.com", "--rate",
		"300",	   "--duration",  "2",	      "--threads",   threads,
		"--json",  "--csv",	  "rows.csv", NULL};
	json_t *j, *codes;
	json_int_t att;
	int rc;

	sipp_registrar(&sipp, port, tr);
	snprintf(server, sizeof(server), "%s:127.0.0.1:%u", scheme, port);
	proc_start(&ld, argv);
	j = proc_read_json(&ld, 8000);
	rc = proc_stop(&ld, 3000);
	if (!j || rc != 0)
		proc_dump_log(&ld);
	ASSERT(j);
	ASSERT_EQ(rc, 0);
	att = jint(j, "attempts");
	/* Open loop from the clock: 300/s for 2 s is 600 sends (within
	 * 1%: the last tick may fall either side of the end). */
	ASSERT_MSG(att >= 594 && att <= 606, "attempts %lld", (long long)att);
	ASSERT_EQ(jint(j, "successes"), att);
	ASSERT_EQ(jint(j, "failures"), 0);
	codes = json_object_get(j, "codes");
	ASSERT_EQ(jint(codes, "200"), att);
	ASSERT_EQ(jint(json_object_get(j, "rrd_us"), "count"), att);
	proc_signal(&sipp, SIGTERM);
	proc_stop(&sipp, 3000);
	/* The peer's count agrees: every REGISTER reached sipp once
	 * (retransmissions aside). */
	ASSERT_EQ(sipp_count("REGISTER sip:example.com SIP/2.0"),
		  att + jint(j, "retransmissions"));
	json_decref(j);
}

TEST_TIMEOUT(loader_register_udp_vs_sipp, 20)
{
	size_t len;
	char *csv;

	register_vs_sipp("u1", "udp", "2");
	csv = test_read_file("rows.csv", &len);
	ASSERT(strncmp(csv, "t_s,attempts,", 13) == 0);
	/* at least one per-second row after the header */
	ASSERT(strchr(csv, '\n') && strchr(strchr(csv, '\n') + 1, '\n'));
	free(csv);
}

TEST_TIMEOUT(loader_register_tcp_vs_sipp, 20)
{
	register_vs_sipp("t1", "tcp", "1");
}

TEST_TIMEOUT(loader_control_mode_steps_and_rates, 20)
{
	struct proc sipp, ld;
	uint16_t port = proc_free_port();
	char server[64];
	const char *argv[] = {"loader",	  "--control",	 "--test",
			      "register", "--server",	 server,
			      "--users",  "A1000-A1009", "--threads",
			      "2",	  NULL};
	json_t *j, *r, *args, *s;
	json_int_t a0, a1;

	sipp_registrar(&sipp, port, "u1");
	snprintf(server, sizeof(server), "udp:127.0.0.1:%u", port);
	proc_start(&ld, argv);
	j = proc_wait_event(&ld, "ready", 5000);
	ASSERT(j);
	ASSERT_EQ(json_array_size(json_object_get(j, "local")), 2);
	json_decref(j);
	/* no rate yet */
	r = proc_cmd(&ld, "start", NULL, 2000);
	ASSERT(r && json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	r = proc_cmd(&ld, "step", NULL, 2000);
	ASSERT(r && json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	args = json_pack("{si}", "rate", 200);
	r = proc_cmd(&ld, "start", args, 2000);
	ASSERT(r && json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	r = proc_cmd(&ld, "start", args, 2000);
	ASSERT(r && json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	json_decref(args);
	usleep(1000 * 1000);
	r = proc_cmd(&ld, "step", NULL, 2000);
	ASSERT(r && json_is_true(json_object_get(r, "ok")));
	ASSERT_EQ(jint(r, "step"), 0);
	a0 = jint(r, "attempts");
	json_decref(r);
	args = json_pack("{si}", "rate", 600);
	r = proc_cmd(&ld, "set-rate", args, 2000);
	ASSERT(r && json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	json_decref(args);
	args = json_pack("{si}", "rate", -1);
	r = proc_cmd(&ld, "set-rate", args, 2000);
	ASSERT(r && json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	json_decref(args);
	usleep(1000 * 1000);
	r = proc_cmd(&ld, "step", NULL, 2000);
	ASSERT(r);
	ASSERT_EQ(jint(r, "step"), 1);
	a1 = jint(r, "attempts");
	json_decref(r);
	/* generous bounds: the machine is shared; the ratio is what counts */
	ASSERT_MSG(a0 >= 150 && a0 <= 260, "step 0: %lld", (long long)a0);
	ASSERT_MSG(a1 >= 450 && a1 <= 780, "step 1: %lld", (long long)a1);
	r = proc_cmd(&ld, "stats", NULL, 2000);
	ASSERT(r);
	s = json_object_get(r, "loader");
	ASSERT(s);
	ASSERT(jint(s, "attempts") >= a0 + a1);
	ASSERT(json_object_get(r, "cpu"));
	json_decref(r);
	r = proc_cmd(&ld, "stop", NULL, 2000);
	ASSERT(r);
	json_decref(r);
	j = proc_wait_event(&ld, "summary", 5000);
	ASSERT(j);
	ASSERT_EQ(jint(j, "failures"), 0);
	ASSERT_EQ(jint(j, "successes"), jint(j, "attempts"));
	json_decref(j);
	ASSERT_EQ(proc_stop(&ld, 5000), 0);
	proc_signal(&sipp, SIGTERM);
	proc_stop(&sipp, 3000);
}

TEST_TIMEOUT(loader_unreachable_server_times_out_with_retransmissions, 15)
{
	struct proc ld;
	uint16_t port = proc_free_port();
	char server[64];
	const char *argv[] = {
		"loader", "--test",	"options", "--server",
		server,	  "--users",	"A1-A5",   "--rate",
		"20",	  "--duration", "1",	   "--threads",
		"1",	  "--t1-ms",	"50",	   "--timer-b-ms",
		"400",	  "--drain-ms", "2000",	   "--json",
		NULL};
	json_t *j;
	json_int_t att;

	snprintf(server, sizeof(server), "udp:127.0.0.1:%u", port);
	proc_start(&ld, argv);
	j = proc_read_json(&ld, 8000);
	ASSERT(j);
	ASSERT_EQ(proc_stop(&ld, 3000), 1);
	att = jint(j, "attempts");
	ASSERT(att >= 18 && att <= 22);
	ASSERT_EQ(jint(j, "timeouts"), att);
	ASSERT_EQ(jint(j, "failures"), att);
	ASSERT_EQ(jint(j, "successes"), 0);
	/* Timer E: 50, 100, 200 ms before Timer F at 400 */
	ASSERT(jint(j, "retransmissions") >= 2 * att);
	json_decref(j);
}

TEST(loader_bad_flags_exit_2)
{
	const char *a1[] = {"loader", "--rate", "10", NULL};
	const char *a2[] = {"loader", "--server", "bogus", "--users",
			    "A1-A2",  "--rate",	  "10",	   "--duration",
			    "1",      NULL};
	const char *a3[] = {"loader",  "--server",   "udp:127.0.0.1:5060",
			    "--users", "A2-A1",	     "--rate",
			    "10",      "--duration", "1",
			    NULL};
	const char *a4[] = {"loader",  "--server",   "udp:127.0.0.1:5060",
			    "--users", "A1-A2",	     "--rate",
			    "-5",      "--duration", "1",
			    NULL};
	const char *a5[] = {"loader", "--frobnicate", NULL};
	const char *a6[] = {"loader",	  "--server", "udp:127.0.0.1:5060",
			    "--users",	  "A1-A2",    "--test",
			    "invite2",	  "--rate",   "1",
			    "--duration", "1",	      NULL};

	ASSERT_EQ(proc_run(a1, "a1.log", 5000), 2);
	ASSERT_EQ(proc_run(a2, "a2.log", 5000), 2);
	ASSERT_EQ(proc_run(a3, "a3.log", 5000), 2);
	ASSERT_EQ(proc_run(a4, "a4.log", 5000), 2);
	ASSERT_EQ(proc_run(a5, "a5.log", 5000), 2);
	ASSERT_EQ(proc_run(a6, "a6.log", 5000), 2);
}
