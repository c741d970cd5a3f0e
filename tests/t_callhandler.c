/*
 * Tests for the callhandler (agents/callhandler/): its modules, and the
 * real binary answering sipp directly and through kamailio as registrar.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "user_range.h"
#include "kamailio.h"
#include "proc.h"
#include "jsonq.h"
#include "stack.h"
#include "test.h"
#include "uas.h"

TEST(callhandler_users_decode)
{
	static const char *const refused[] = {
		"A1999-A1000",	  "A100-A1999", "A1000-A19x9",
		"A1000-B1999",	  "",		"a@b",
		"0000000-9999999"};
	struct user_range u;
	char name[64];

	ASSERT_EQ(user_range_decode(&u, "A1000-A1999"), 0);
	ASSERT_STR(u.prefix, "A");
	ASSERT_EQ(u.first, 1000);
	ASSERT_EQ(u.last, 1999);
	ASSERT_EQ(user_range_count(&u), 1000);
	ASSERT_EQ(user_range_name(&u, 5, name, sizeof(name)), 0);
	ASSERT_STR(name, "A1005");
	/* Short form and zero padding. */
	ASSERT_EQ(user_range_decode(&u, "user0001-0010"), 0);
	ASSERT_EQ(user_range_count(&u), 10);
	ASSERT_EQ(user_range_name(&u, 9, name, sizeof(name)), 0);
	ASSERT_STR(name, "user0010");
	/* One name. */
	ASSERT_EQ(user_range_decode(&u, "alice"), 0);
	ASSERT_EQ(user_range_count(&u), 1);
	ASSERT_EQ(user_range_name(&u, 0, name, sizeof(name)), 0);
	ASSERT_STR(name, "alice");
	/* Refused: reversed, unequal widths, junk, empty, too many. */
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		ASSERT_MSG(user_range_decode(&u, refused[i]) == EINVAL,
			   "\"%s\" accepted", refused[i]);
}

TEST(callhandler_failure_injection_is_exact)
{
	struct uas_fail f;
	unsigned n486 = 0, n503 = 0, i;

	memset(&f, 0, sizeof(f));

	/* 12.5 % 486 and 5 % 503 of 999 INVITEs: exactly 124 and 49 (at
	 * 1000 both fall due together: the 486 waits one INVITE). */
	for (i = 0; i < 999; i++) {
		uint16_t s = uas_fail_next(&f, 1250, 500);

		n486 += s == 486;
		n503 += s == 503;
		ASSERT(s == 0 || s == 486 || s == 503);
	}
	ASSERT_EQ(n486, 124);
	ASSERT_EQ(n503, 49);
	ASSERT_EQ(uas_fail_next(&f, 1250, 500), 503);
	ASSERT_EQ(uas_fail_next(&f, 1250, 500), 486);
	memset(&f, 0, sizeof(f));
	for (i = 0; i < 100; i++)
		ASSERT_EQ(uas_fail_next(&f, 0, 0), 0);
}

TEST(callhandler_bad_flags_exit_2)
{
	const char *a1[] = {"callhandler", "--bogus", NULL};
	const char *a2[] = {"callhandler", "--listen", "udp:nohost", NULL};
	const char *a3[] = {"callhandler", "--listen", "udp:127.0.0.1:0",
			    "--fail-486",  "101",      NULL};
	const char *a4[] = {"callhandler",	  "--listen",
			    "udp:127.0.0.1:0",	  "--register-via",
			    "udp:127.0.0.1:5060", NULL};
	const char *a5[] = {"callhandler", NULL};
	const char *a6[] = {"callhandler", "--listen", "udp:127.0.0.1:0",
			    "--threads",   "0",	       NULL};
	char path[512];
	size_t len;
	char *log;

	snprintf(path, sizeof(path), "%s/callhandler", test_bin_dir());
	a1[0] = a2[0] = a3[0] = a4[0] = a5[0] = a6[0] = path;
	proc_expect_exits((const char *const *const[]){a1, a2, a3, a4, a5, a6},
			  6, 2);
	/* One line, naming the flag. */
	log = test_read_file("a3.log", &len);
	ASSERT(strstr(log, "--fail-486"));
	ASSERT(strchr(log, '\n') == log + len - 1);
	free(log);
}

/* ------------------------------------------------------------------ */
/* e2e helpers                                                         */

/* Starts bin/callhandler --control with args; waits for "ready". */
static void ch_start(struct proc *p, const char *const *args)
{
	struct proc_argv argv = {.n = 0};

	proc_argv_add(&argv, "callhandler", "--control", NULL);
	proc_argv_addv(&argv, args);
	stack_start_ready(p, argv.v, "ready");
}

static json_t *ch_stats(struct proc *p)
{
	json_t *r = proc_cmd(p, "stats", NULL, 3000);

	ASSERT_MSG(r, "no stats reply");
	ASSERT(json_is_true(json_object_get(r, "ok")));
	return r;
}

/*
 * A column of the last row of a sipp -trace_stat file (';' separated,
 * a header row first).  Fails the test when absent.
 */
static long long sipp_stat(const char *file, const char *col)
{
	char *text, *line, *last = NULL, *save = NULL, *hdr;
	size_t len;
	int idx = -1, i;
	long long v = -1;

	text = test_read_file(file, &len);
	hdr = strtok_r(text, "\n", &save);
	while ((line = strtok_r(NULL, "\n", &save)) != NULL)
		last = line;
	ASSERT_MSG(hdr && last, "%s: no rows", file);
	{
		char *f, *s2 = NULL;

		for (i = 0, f = strtok_r(hdr, ";", &s2); f;
		     i++, f = strtok_r(NULL, ";", &s2))
			if (!strcmp(f, col))
				idx = i;
	}
	ASSERT_MSG(idx >= 0, "%s: no column %s", file, col);
	{
		char *f, *s2 = NULL;

		for (i = 0, f = strtok_r(last, ";", &s2); f;
		     i++, f = strtok_r(NULL, ";", &s2))
			if (i == idx)
				v = strtoll(f, NULL, 10);
	}
	free(text);
	return v;
}

static bool have(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/*
 * Runs sipp as a UAC against port with scenario ("uac" built in, else a
 * file under tests/sipp/), calls at rate, transport "u1" or "t1".
 * Returns sipp's exit code; its statistics go to stat.csv.
 */
static int run_sipp(const char *scenario, uint16_t port, const char *service,
		    unsigned calls, unsigned rate, const char *tmode)
{
	char dst[64], m[16], r[16], lp[16], sf[512];
	struct proc_argv argv = {.n = 0};

	snprintf(dst, sizeof(dst), "127.0.0.1:%u", port);
	snprintf(m, sizeof(m), "%u", calls);
	snprintf(r, sizeof(r), "%u", rate);
	snprintf(lp, sizeof(lp), "%u", proc_free_port());
	proc_argv_add(&argv, "sipp", NULL);
	if (!strcmp(scenario, "uac")) {
		proc_argv_add(&argv, "-sn", "uac", NULL);
	} else {
		snprintf(sf, sizeof(sf), "%s/tests/sipp/%s", test_root_dir(),
			 scenario);
		proc_argv_add(&argv, "-sf", sf, NULL);
	}
	proc_argv_add(&argv, dst, "-s", service, "-m", m, "-r", r, "-i",
		      "127.0.0.1", "-p", lp, "-t", tmode, "-nostdin",
		      "-timeout", "15s", "-trace_stat", "-stf", "stat.csv",
		      "-trace_err", NULL);
	return proc_run(argv.v, "sipp.log", 18000);
}

/*
 * Starts the callhandler as ch listening on proto:127.0.0.1:<fresh
 * port>, with the options opts (NULL-terminated), and runs sipp's
 * scenario (run_sipp(), transport tmode) calls at rate against it:
 * sipp must exit 0 with every call successful.  Returns the
 * callhandler's stats after (caller decrefs); ch still runs.
 */
static json_t *sipp_against_ch(struct proc *ch, const char *proto,
			       const char *const *opts, const char *scenario,
			       unsigned calls, unsigned rate,
			       const char *tmode)
{
	struct proc_argv args = {.n = 0};
	uint16_t port = proc_free_port();
	char listen[64];
	json_t *st;
	int rc;

	if (!have("sipp"))
		test_skip("sipp is not installed");
	snprintf(listen, sizeof(listen), "%s:127.0.0.1:%u", proto, port);
	proc_argv_add(&args, "--listen", listen, NULL);
	proc_argv_addv(&args, opts);
	ch_start(ch, args.v);
	rc = run_sipp(scenario, port, "A1000", calls, rate, tmode);
	st = ch_stats(ch);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(sipp_stat("stat.csv", "SuccessfulCall(C)"), calls);
	return st;
}

static void sipp_uac(const char *tmode, const char *proto)
{
	const char *opts[] = {"--threads", "2", NULL};
	struct proc ch;
	json_t *st;

	/* sipp's own figures: every call made and successful. */
	st = sipp_against_ch(&ch, proto, opts, "uac", 100, 200, tmode);
	ASSERT_EQ(sipp_stat("stat.csv", "FailedCall(C)"), 0);
	/* ...and the callhandler saw exactly those calls. */
	JSONQ_EXPECT(st, {"invites", 100}, {"ringing", 100}, {"answered", 100},
		     {"acks", 100}, {"byes", 100}, {"calls_alive", 0},
		     {"bad_in", 0});
	if (!strcmp(proto, "tcp"))
		ASSERT(jsonq_int(st, "conns_accepted") >= 1);
	json_decref(st);
	ASSERT_EQ(proc_stop(&ch, 3000), 0);
}

TEST_TIMEOUT(callhandler_sipp_uac_udp, 20)
{
	sipp_uac("u1", "udp");
}

TEST_TIMEOUT(callhandler_sipp_uac_tcp, 20)
{
	sipp_uac("t1", "tcp");
}

TEST_TIMEOUT(callhandler_sipp_cancel, 20)
{
	const char *opts[] = {"--ring-ms", "10000", "--threads", "1", NULL};
	struct proc ch;
	json_t *st;

	st = sipp_against_ch(&ch, "udp", opts, "uac_cancel.xml", 20, 100,
			     "u1");
	JSONQ_EXPECT(st, {"invites", 20}, {"cancels", 20}, {"cancelled", 20},
		     {"answered", 0}, {"calls_alive", 0});
	json_decref(st);
	ASSERT_EQ(proc_stop(&ch, 3000), 0);
}

TEST_TIMEOUT(callhandler_failure_ratios, 20)
{
	const char *opts[] = {"--fail-486", "20", "--threads", "1",
			      "--fail-503", "10", NULL};
	struct proc ch;
	json_t *st;

	st = sipp_against_ch(&ch, "udp", opts, "uac_fail.xml", 100, 200, "u1");
	/* One worker: the ratios are exact, but that on the 100th INVITE
	 * both kinds fall due and the 486 waits for the next. */
	JSONQ_EXPECT(st, {"invites", 100}, {"fail_503", 10}, {"fail_486", 19},
		     {"answered", 71}, {"acks", 71}, {"byes", 71});
	/* The ACKs of the 486/503 were absorbed by their transactions. */
	ASSERT_EQ(jsonq_int(st, "acks_stray"), 0);
	ASSERT_EQ(jsonq_int(st, "txn_timeouts"), 0);
	json_decref(st);
	ASSERT_EQ(proc_stop(&ch, 3000), 0);
}

TEST(callhandler_bad_input_counted)
{
	char listen[64];
	uint16_t port = proc_free_port();
	const char *args[] = {"--listen", listen, "--threads", "1", NULL};
	static const char junk[] = "this is not SIP\r\n\r\n";
	static const char nocseq[] = "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\n"
				     "Via: SIP/2.0/UDP "
				     "127.0.0.1:9;branch=z9hG4bKx1\r\n"
				     "From: <sip:b@127.0.0.1>;tag=1\r\n"
				     "To: <sip:a@127.0.0.1>\r\n"
				     "Call-ID: bad1\r\n"
				     "Content-Length: 0\r\n\r\n";
	struct sockaddr_in sa;
	struct proc ch;
	json_t *st;
	int fd, i;

	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u", port);
	ch_start(&ch, args);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 5; i++) {
		ASSERT(sendto(fd, junk, sizeof(junk) - 1, 0,
			      (struct sockaddr *)&sa, sizeof(sa)) > 0);
		ASSERT(sendto(fd, nocseq, sizeof(nocseq) - 1, 0,
			      (struct sockaddr *)&sa, sizeof(sa)) > 0);
	}
	close(fd);
	/* Bounded wait for the datagrams to be read. */
	for (i = 0; i < 50; i++) {
		st = ch_stats(&ch);
		if (jsonq_int(st, "drop_parse") == 5 &&
		    jsonq_int(st, "bad_in") == 5)
			break;
		json_decref(st);
		st = NULL;
		usleep(20000);
	}
	ASSERT_MSG(st, "bad input not counted");
	ASSERT_EQ(jsonq_int(st, "requests"), 0);
	json_decref(st);
	ASSERT(!proc_exited(&ch));
	ASSERT_EQ(proc_stop(&ch, 3000), 0);
}

/* ------------------------------------------------------------------ */
/* Through kamailio as registrar                                       */

/*
 * Registers through kamailio over UDP with the Contact of the callhandler's
 * listener of proto (;transport=tcp for tcp), then calls reach it through
 * kamailio over that transport.
 */
static void via_kamailio(const char *proto)
{
	uint16_t kport = proc_free_port(), cport = proc_free_port();
	char l1[64], l2[64], via[64];
	const char *args[] = {"--listen",
			      l2,
			      "--listen",
			      l1,
			      "--users",
			      "A1000-A1019",
			      "--domain",
			      "127.0.0.1",
			      "--register-via",
			      via,
			      "--threads",
			      "2",
			      "--reg-timeout-ms",
			      "2000",
			      NULL};
	const struct kamailio_opts ko = {.tcp = true};
	struct kamailio k;
	struct proc ch;
	json_t *ev, *st;
	int rc;

	if (!have("sipp"))
		test_skip("sipp is not installed");
	if (!kamailio_available(false))
		test_skip("kamailio (with registrar) is not installed");
	kamailio_start(&k, kport, &ko);
	/* l2 first: without a listener of the registrar's transport the
	 * Contact is the first listener. */
	snprintf(l1, sizeof(l1), "udp:127.0.0.1:%u", cport);
	snprintf(l2, sizeof(l2), "%s:127.0.0.1:%u", proto, cport);
	if (!strcmp(proto, "udp")) {
		args[2] = "--threads"; /* one listener only */
		args[3] = "2";
	}
	snprintf(via, sizeof(via), "udp:127.0.0.1:%u", kport);
	ch_start(&ch, args);
	/* kamailio may still be starting: the retries cover it. */
	ev = proc_wait_event(&ch, "registered", 8000);
	if (!ev) {
		proc_dump_log(&ch);
		proc_dump_log(&k.proc);
	}
	ASSERT_MSG(ev, "no registered event");
	JSONQ_EXPECT(ev, {"users", 20}, {"registered", 20}, {"failed", 0});
	json_decref(ev);
	/* Calls to a registered user reach us through the registrar
	 * (over the Contact's transport); an unknown one gets 404. */
	rc = run_sipp("uac", kport, "A1007", 20, 100, "u1");
	if (rc != 0 && system("tail -n 30 *errors.log >&2"))
		fprintf(stderr, "no sipp error log\n");
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(sipp_stat("stat.csv", "SuccessfulCall(C)"), 20);
	rc = run_sipp("uac", kport, "B9999", 1, 10, "u1");
	ASSERT(rc != 0);
	st = ch_stats(&ch);
	JSONQ_EXPECT(st, {"invites", 20}, {"answered", 20}, {"byes", 20});
	if (!strcmp(proto, "tcp"))
		ASSERT(jsonq_int(st, "conns_accepted") >= 1);
	{
		json_t *reg = json_object_get(st, "register");

		ASSERT(reg);
		ASSERT_EQ(jsonq_int(reg, "ok"), 20);
		ASSERT_EQ(jsonq_int(reg, "registered"), 20);
	}
	json_decref(st);
	ASSERT_EQ(proc_stop(&ch, 3000), 0);
	kamailio_stop(&k);
}

TEST_TIMEOUT(callhandler_kamailio_register_udp, 25)
{
	via_kamailio("udp");
}
