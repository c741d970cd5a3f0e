/*
 * Tests for SIPstone's unsuccessful-call and redirect tests of the
 * loader, end to end through proxy-stateful: proxy480 (callees
 * provisioned but not registered: 480, RFC 3261 §21.4.18), proxy486
 * (a callhandler answering busy), each counted a success when the
 * expected final arrives and a failure otherwise.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "stack.h"
#include "test.h"

static json_int_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	ASSERT_MSG(json_is_integer(v), "no integer %s", k);
	return json_integer_value(v);
}

static json_int_t jsub(json_t *o, const char *obj, const char *k)
{
	json_t *v = json_object_get(json_object_get(o, obj), k);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* proxy-stateful on udp:127.0.0.1:port with users.txt (A1000-A1009,
 * provisioned), extra options after. */
static void start_proxy(struct proc *px, uint16_t port, const char *extra)
{
	static char listen[64];
	const char *argv[] = {"proxy-stateful",
			      "--listen",
			      listen,
			      "--domain",
			      "example.com",
			      "--workers",
			      "1",
			      "--users-file",
			      "users.txt",
			      "--t1-ms",
			      "100",
			      "--control",
			      extra,
			      NULL};

	stack_write_users();
	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u", port);
	stack_start_ready(px, argv, "ready");
}

/* The loader's --test test at 50 calls/s for 2 s against the proxy;
 * its summary (new reference), exit status want_rc. */
static json_t *run_loader(const char *test, uint16_t port, int want_rc)
{
	char server[64];
	const char *argv[] = {"loader",	     "--test",	test,
			      "--server",    server,	"--users",
			      "A1000-A1009", "--rate",	"50",
			      "--duration",  "2",	"--threads",
			      "1",	     "--t1-ms", "100",
			      "--json",	     NULL};

	snprintf(server, sizeof(server), "udp:127.0.0.1:%u", port);
	return stack_loader_json(argv, want_rc, 15000);
}

/*
 * proxy480: nobody registered; every INVITE is answered 480 by the
 * proxy, each a success; the 480's ACK (the loader's INVITE client
 * transaction's, §17.1.1.3) is absorbed by the proxy's server
 * transaction, which then retransmits nothing.
 */
TEST_TIMEOUT(loader_proxy480_counts_480_as_success, 25)
{
	struct proc px;
	uint16_t port = proc_free_port();
	json_t *j, *ps;
	json_int_t att;

	start_proxy(&px, port, NULL);
	j = run_loader("proxy480", port, 0);
	/* past Timer G's first firing (T1, 100 ms) after the last 480 */
	usleep(300 * 1000);
	ps = stack_stats(&px);
	att = jint(j, "attempts");
	ASSERT_MSG(att >= 99 && att <= 101, "attempts %lld", (long long)att);
	ASSERT_STR(json_string_value(json_object_get(j, "test")), "proxy480");
	ASSERT_EQ(jint(j, "successes"), att);
	ASSERT_EQ(jint(j, "failures"), 0);
	ASSERT_EQ(jsub(j, "codes", "480"), att);
	ASSERT_EQ(jsub(j, "calls", "answered"), 0);
	ASSERT_EQ(jsub(j, "calls", "invite_done"), att);
	ASSERT_EQ(jint(j, "retransmissions"), 0);
	ASSERT_EQ(jsub(ps, "responses_sent", "480"), att);
	ASSERT_EQ(jsub(ps, "requests", "INVITE"), att);
	/* every 480 ACKed: no Timer G retransmission, no Timer H */
	ASSERT_EQ(jint(ps, "retransmissions"), 0);
	ASSERT_EQ(jint(ps, "timeouts"), 0);
	ASSERT_EQ(jsub(ps, "drops", "stray_ack"), 0);
	ASSERT_EQ(jint(ps, "forwarded"), 0);
	json_decref(ps);
	json_decref(j);
	ASSERT_EQ(proc_stop(&px, 5000), 0);
}

/*
 * A callhandler that registered the users through the proxy and
 * answers every INVITE 486 (its --fail-486 100): proxy486 counts each
 * 486 a success.  The same callees answering (no busy) make proxy486
 * and proxy480 fail: their 2xx is unexpected; the call is ACKed and
 * hung up at once, and leaves nothing alive at the callhandler.
 */
static void busy_or_not(bool busy)
{
	struct proc px, ch;
	uint16_t port = proc_free_port(), cport = proc_free_port();
	char clisten[64], via[64];
	const char *cargv[] = {"callhandler",
			       "--listen",
			       clisten,
			       "--users",
			       "A1000-A1009",
			       "--domain",
			       "example.com",
			       "--register-via",
			       via,
			       "--password",
			       "pw-%u",
			       "--threads",
			       "1",
			       "--control",
			       busy ? "--fail-486" : NULL,
			       "100",
			       NULL};
	json_t *j, *cs;
	json_int_t att;

	start_proxy(&px, port, NULL);
	snprintf(clisten, sizeof(clisten), "udp:127.0.0.1:%u", cport);
	snprintf(via, sizeof(via), "udp:127.0.0.1:%u", port);
	stack_start_ready(&ch, cargv, "registered");
	j = run_loader("proxy486", port, busy ? 0 : 1);
	cs = stack_stats(&ch);
	att = jint(j, "attempts");
	ASSERT_MSG(att >= 99 && att <= 101, "attempts %lld", (long long)att);
	ASSERT_EQ(jint(cs, "invites"), att);
	if (busy) {
		ASSERT_EQ(jint(j, "successes"), att);
		ASSERT_EQ(jint(j, "failures"), 0);
		ASSERT_EQ(jsub(j, "codes", "486"), att);
		ASSERT_EQ(jint(cs, "fail_486"), att);
		ASSERT_EQ(jint(cs, "answered"), 0);
	} else {
		ASSERT_EQ(jint(j, "successes"), 0);
		ASSERT_EQ(jint(j, "failures"), att);
		ASSERT_EQ(jsub(j, "codes", "200"), att);
		ASSERT_EQ(jsub(j, "calls", "completed"), att);
		ASSERT_EQ(jint(cs, "acks"), att);
		ASSERT_EQ(jint(cs, "byes"), att);
	}
	ASSERT_EQ(jint(cs, "calls_alive"), 0);
	json_decref(cs);
	json_decref(j);
	if (!busy) {
		/* registered callees are no 480 either */
		j = run_loader("proxy480", port, 1);
		ASSERT_EQ(jint(j, "successes"), 0);
		ASSERT_EQ(jsub(j, "codes", "200"), jint(j, "attempts"));
		json_decref(j);
	}
	ASSERT_EQ(proc_stop(&ch, 5000), 0);
	ASSERT_EQ(proc_stop(&px, 5000), 0);
}

TEST_TIMEOUT(loader_proxy486_counts_busy_as_success, 30)
{
	busy_or_not(true);
}

TEST_TIMEOUT(loader_proxy486_and_480_fail_on_an_answer, 40)
{
	busy_or_not(false);
}
