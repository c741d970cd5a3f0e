/*
 * Tests for SIPstone's unsuccessful-call and redirect tests of the
 * loader, end to end through proxy-stateful: proxy480 (callees
 * provisioned but not registered: 480, RFC 3261 §21.4.18), proxy486
 * (a callhandler answering busy), each counted a success when the
 * expected final arrives and a failure otherwise; redirect against
 * proxy-stateful --redirect (RFC 3261 §8.3): 302 with every binding,
 * the ACK absorbed, no callee involved.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "sip_msg.h"
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
	/* every 480 ACKed and the ACK absorbed by its server transaction:
	 * no Timer G retransmission, no Timer H */
	ASSERT_EQ(jint(ps, "acks_absorbed"), att);
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

/*
 * One INVITE by hand to the redirect server on port: the 302's
 * Contacts (count and text into out), then its ACK (§17.1.1.3: same
 * branch, the 302's To tag), so that the transaction ends.
 */
static size_t probe_302(uint16_t port, char *out, size_t size)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	char req[1024], buf[4096];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	const struct sip_hdr *h;
	struct sip_msg m;
	size_t n = 0, o = 0;
	ssize_t got;
	uint16_t st;
	const char *why;
	socklen_t al = sizeof(a);
	uint16_t me;
	int len;

	ASSERT(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	me = ntohs(a.sin_port);
	len = snprintf(req, sizeof(req),
		       "INVITE sip:A1003@example.com SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKprobe1\r\n"
		       "Max-Forwards: 70\r\n"
		       "From: <sip:A1002@example.com>;tag=p1\r\n"
		       "To: <sip:A1003@example.com>\r\n"
		       "Call-ID: probe-302@127.0.0.1\r\n"
		       "CSeq: 1 INVITE\r\n"
		       "Contact: <sip:A1002@127.0.0.1:%u>\r\n"
		       "Content-Length: 0\r\n\r\n",
		       me, me);
	a.sin_port = htons(port);
	ASSERT(sendto(fd, req, (size_t)len, 0, (struct sockaddr *)&a,
		      sizeof(a)) == len);
	do { /* a 100 Trying may come first */
		ASSERT_MSG(poll(&pfd, 1, 3000) == 1, "no answer to the probe");
		got = recv(fd, buf, sizeof(buf) - 1, 0);
		ASSERT(got > 0);
		ASSERT_EQ(sip_msg_decode(&m, buf, (size_t)got, false), 0);
		ASSERT_EQ(sip_msg_validate(&m, &st, &why), 0);
	} while (m.status < 200);
	ASSERT_EQ(m.status, 302);
	out[0] = '\0';
	for (h = sip_msg_hdr(&m, SIP_HDR_CONTACT); h;
	     h = sip_msg_hdr_next(&m, h)) {
		int k = snprintf(out + o, size - o, "%.*s\n",
				 PL_FMT(&h->value));

		if (k > 0 && (size_t)k < size - o)
			o += (size_t)k;
		n++;
	}
	len = snprintf(req, sizeof(req),
		       "ACK sip:A1003@example.com SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKprobe1\r\n"
		       "Max-Forwards: 70\r\n"
		       "From: <sip:A1002@example.com>;tag=p1\r\n"
		       "To: <sip:A1003@example.com>;tag=%.*s\r\n"
		       "Call-ID: probe-302@127.0.0.1\r\n"
		       "CSeq: 1 ACK\r\n"
		       "Content-Length: 0\r\n\r\n",
		       me, PL_FMT(&m.to_tag));
	ASSERT(sendto(fd, req, (size_t)len, 0, (struct sockaddr *)&a,
		      sizeof(a)) == len);
	close(fd);
	return n;
}

/*
 * proxy-stateful --redirect with two callhandlers that registered the
 * same users, each its own Contact: every INVITE is answered 302 with
 * both bindings (q and expires), the loader ACKs it and counts it a
 * success, the proxy's server transactions absorb the ACKs (no 302
 * retransmitted, no Timer H), and no INVITE reaches a callhandler.
 */
TEST_TIMEOUT(loader_redirect_302_every_binding_ack_absorbed, 30)
{
	struct proc px, ch1, ch2;
	uint16_t port = proc_free_port(), c1 = proc_free_port(),
		 c2 = proc_free_port();
	char l1[64], l2[64], via[64], contacts[2048], p1[16], p2[16];
	const char *c1argv[] = {"callhandler", "--listen",	 l1,
				"--users",     "A1000-A1009",	 "--domain",
				"example.com", "--register-via", via,
				"--password",  "pw-%u",		 "--threads",
				"1",	       "--control",	 NULL};
	const char *c2argv[] = {"callhandler", "--listen",	 l2,
				"--users",     "A1000-A1009",	 "--domain",
				"example.com", "--register-via", via,
				"--password",  "pw-%u",		 "--threads",
				"1",	       "--control",	 NULL};
	json_t *j, *ps, *cs1, *cs2;
	json_int_t att;

	start_proxy(&px, port, "--redirect");
	snprintf(l1, sizeof(l1), "udp:127.0.0.1:%u", c1);
	snprintf(l2, sizeof(l2), "udp:127.0.0.1:%u", c2);
	snprintf(via, sizeof(via), "udp:127.0.0.1:%u", port);
	stack_start_ready(&ch1, c1argv, "registered");
	stack_start_ready(&ch2, c2argv, "registered");
	/* the 302 itself: both bindings, with q and expires (§20.10) */
	ASSERT_EQ(probe_302(port, contacts, sizeof(contacts)), 2);
	snprintf(p1, sizeof(p1), ":%u", c1);
	snprintf(p2, sizeof(p2), ":%u", c2);
	ASSERT_MSG(strstr(contacts, p1) && strstr(contacts, p2), "%s",
		   contacts);
	ASSERT_MSG(strstr(contacts, ";q=1.000;expires="), "%s", contacts);
	j = run_loader("redirect", port, 0);
	usleep(300 * 1000); /* past Timer G's first firing after the last */
	ps = stack_stats(&px);
	cs1 = stack_stats(&ch1);
	cs2 = stack_stats(&ch2);
	att = jint(j, "attempts");
	ASSERT_MSG(att >= 99 && att <= 101, "attempts %lld", (long long)att);
	ASSERT_STR(json_string_value(json_object_get(j, "test")), "redirect");
	ASSERT_EQ(jint(j, "successes"), att);
	ASSERT_EQ(jint(j, "failures"), 0);
	ASSERT_EQ(jsub(j, "codes", "302"), att);
	ASSERT_EQ(jsub(j, "calls", "redirect_contacts"), 2 * att);
	ASSERT_EQ(jsub(j, "calls", "redirect_empty"), 0);
	ASSERT_EQ(jint(j, "retransmissions"), 0);
	/* the probe's and the loader's */
	ASSERT_EQ(jsub(ps, "responses_sent", "302"), att + 1);
	ASSERT_EQ(jint(ps, "acks_absorbed"), att + 1);
	ASSERT_EQ(jint(ps, "retransmissions"), 0);
	ASSERT_EQ(jint(ps, "timeouts"), 0);
	ASSERT_EQ(jint(ps, "forwarded"), 0);
	ASSERT_EQ(jint(ps, "bindings"), 20);
	ASSERT_EQ(jint(cs1, "invites") + jint(cs2, "invites"), 0);
	json_decref(cs1);
	json_decref(cs2);
	json_decref(ps);
	json_decref(j);
	ASSERT_EQ(proc_stop(&ch1, 5000), 0);
	ASSERT_EQ(proc_stop(&ch2, 5000), 0);
	ASSERT_EQ(proc_stop(&px, 5000), 0);
}

/* The "redirect" command turns the mode on and off while running. */
TEST_TIMEOUT(stateful_redirect_command_switches_the_mode, 20)
{
	struct proc px;
	uint16_t port = proc_free_port();
	json_t *r, *args, *j;

	start_proxy(&px, port, NULL);
	r = proc_cmd(&px, "redirect", NULL, 2000);
	ASSERT(r && json_is_false(json_object_get(r, "redirect")));
	json_decref(r);
	args = json_pack("{s:s}", "on", "yes");
	r = proc_cmd(&px, "redirect", args, 2000);
	ASSERT(r && json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	json_decref(args);
	args = json_pack("{s:b}", "on", 1);
	r = proc_cmd(&px, "redirect", args, 2000);
	ASSERT(r && json_is_true(json_object_get(r, "redirect")));
	json_decref(r);
	json_decref(args);
	/* nobody registered: a redirect server answers 480 as well */
	j = run_loader("proxy480", port, 0);
	ASSERT_EQ(jsub(j, "codes", "480"), jint(j, "attempts"));
	json_decref(j);
	r = stack_stats(&px);
	ASSERT(json_is_true(json_object_get(r, "redirect")));
	json_decref(r);
	ASSERT_EQ(proc_stop(&px, 5000), 0);
}
