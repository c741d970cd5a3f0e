/*
 * proxy-stateless: the hash and its key, the configuration, and the
 * real binary relaying raw UDP/TCP messages between sockets the test
 * owns (Via, Max-Forwards, Route, Record-Route, received/rport, stray
 * responses, 400/420/483/503), the RFC 4475 corpus and bad flags.  The
 * sipp tests are in t_proxy_stateless_sipp.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dispatch.h"
#include "proc.h"
#include "rfc4475.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "slcfg.h"
#include "jsonq.h"
#include "stack.h"
#include "test.h"

/* ------------------------------------------------------------------ */
/* dispatch                                                            */

static void set2(struct dispatch_set *set, const char *a, const char *b)
{
	const char *why;

	memset(set, 0, sizeof(*set));
	ASSERT_EQ(dispatch_add(set, a, &why), 0);
	ASSERT_EQ(dispatch_add(set, b, &why), 0);
}

/*
 * How many of the users <prefix>0 .. <prefix>(count - 1) the two hops a
 * and b each get (every pick must be one of them).
 */
static void split2(const char *a, const char *b, const char *prefix,
		   unsigned count, unsigned n[2])
{
	struct dispatch_set set;
	char user[32];
	struct pl key;

	set2(&set, a, b);
	n[0] = n[1] = 0;
	for (unsigned i = 0; i < count; i++) {
		int k;

		snprintf(user, sizeof(user), "%s%u", prefix, i);
		pl_set_str(&key, user);
		k = dispatch_pick(&set, &key, true);
		ASSERT(k == 0 || k == 1);
		n[k]++;
	}
}

TEST(proxy_stateless_hrw_uniform_over_10000_users)
{
	unsigned n[2];

	split2("udp:127.0.0.1:5070", "udp:127.0.0.1:5071", "user", 10000, n);
	/* Within ±5% of uniform. */
	ASSERT_MSG(n[0] > 4750 && n[0] < 5250, "split %u / %u", n[0], n[1]);
}

TEST(proxy_stateless_hrw_moves_only_the_removed_hops_users)
{
	struct dispatch_set set;
	const char *why;
	unsigned i, moved = 0, on_removed = 0;
	char user[32];
	struct pl key;

	memset(&set, 0, sizeof(set));
	ASSERT_EQ(dispatch_add(&set, "udp:127.0.0.1:5070", &why), 0);
	ASSERT_EQ(dispatch_add(&set, "udp:127.0.0.1:5071;weight=2", &why), 0);
	ASSERT_EQ(dispatch_add(&set, "tcp:127.0.0.1:5072", &why), 0);
	ASSERT(!set.equal_weights);
	for (i = 0; i < 3000; i++) {
		int before, after;

		snprintf(user, sizeof(user), "u%u", i);
		pl_set_str(&key, user);
		before = dispatch_pick(&set, &key, true);
		dispatch_set_up(&set, 2, false);
		after = dispatch_pick(&set, &key, true);
		dispatch_set_up(&set, 2, true);
		ASSERT_EQ(dispatch_pick(&set, &key, true), before);
		if (before == 2) {
			on_removed++;
			ASSERT(after != 2);
		} else if (after != before) {
			moved++;
		}
	}
	ASSERT_EQ(moved, 0);
	/* Weights 1:2:1: the removed one had about a quarter. */
	ASSERT_MSG(on_removed > 600 && on_removed < 900, "%u", on_removed);
	dispatch_set_up(&set, 0, false);
	dispatch_set_up(&set, 1, false);
	dispatch_set_up(&set, 2, false);
	ASSERT_EQ(dispatch_pick(&set, &key, true), -1);
	ASSERT(dispatch_pick(&set, &key, false) >= 0);
}

TEST(proxy_stateless_hrw_weights_share_proportionally)
{
	unsigned n[2];

	split2("udp:127.0.0.1:5070;weight=3", "udp:127.0.0.1:5071", "sipuser",
	       20000, n);
	ASSERT_MSG(n[0] > 14400 && n[0] < 15600, "split %u / %u", n[0], n[1]);
}

TEST(proxy_stateless_hop_specs_are_checked)
{
	struct dispatch_set set;
	const char *why;

	memset(&set, 0, sizeof(set));
	ASSERT_EQ(dispatch_add(&set, "udp:127.0.0.1", &why), EINVAL);
	ASSERT(why);
	ASSERT_EQ(dispatch_add(&set, "udp:127.0.0.1:5070;weight=0", &why),
		  EINVAL);
	ASSERT_EQ(dispatch_add(&set, "udp:127.0.0.1:5070;w=2", &why), EINVAL);
	ASSERT_EQ(dispatch_add(&set, "udp:127.0.0.1:5070;weight=2x", &why),
		  EINVAL);
	ASSERT_EQ(dispatch_add(&set, "udp:127.0.0.1:5070", &why), 0);
	ASSERT_EQ(dispatch_add(&set, "udp:127.0.0.1:5070", &why), EEXIST);
	ASSERT_EQ(set.n, 1);
	ASSERT_STR(set.hops[0].name, "udp:127.0.0.1:5070");
}

static void key_of(const char *text, enum dispatch_hash h, const char *want)
{
	struct sip_msg msg;
	uint16_t status;
	const char *why;
	struct pl key;

	ASSERT_EQ(sip_msg_decode(&msg, text, strlen(text), false), 0);
	ASSERT_EQ(sip_msg_validate(&msg, &status, &why), 0);
	ASSERT_EQ(dispatch_key(&msg, h, &key), 0);
	ASSERT_PL(&key, want);
}

#define HDRS                                                   \
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc\r\n" \
	"From: \"A\" <sip:alice@a.example;x=1>;tag=f1\r\n"     \
	"To: <sip:bob@b.example>\r\nCall-ID: cid-1@h\r\n"      \
	"Max-Forwards: 70\r\n"

TEST(proxy_stateless_key_is_the_aor_user)
{
	static const char reg[] = "REGISTER sip:b.example SIP/2.0\r\n" HDRS
				  "CSeq: 1 REGISTER\r\nContent-Length: "
				  "0\r\n\r\n";
	static const char inv[] = "INVITE sip:carol@b.example SIP/2.0\r\n" HDRS
				  "CSeq: 1 INVITE\r\nContent-Length: "
				  "0\r\n\r\n";
	static const char tel[] = "INVITE tel:+1234 SIP/2.0\r\n" HDRS
				  "CSeq: 1 INVITE\r\nContent-Length: "
				  "0\r\n\r\n";
	static const char nouser[] = "OPTIONS sip:b.example SIP/2.0\r\n" HDRS
				     "CSeq: 1 OPTIONS\r\n\r\n";

	key_of(reg, DISPATCH_HASH_USER, "bob");
	key_of(inv, DISPATCH_HASH_USER, "carol");
	key_of(inv, DISPATCH_HASH_CALLID, "cid-1@h");
	key_of(inv, DISPATCH_HASH_FROM, "alice");
	key_of(tel, DISPATCH_HASH_USER, "+1234");
	key_of(nouser, DISPATCH_HASH_USER, "cid-1@h");
}

TEST(proxy_stateless_config_flags_and_json)
{
	struct slcfg cfg;
	char err[SLCFG_ERR_SIZE];
	char *ok[] = {"p",
		      "--listen",
		      "udp:127.0.0.1:5060",
		      "--next",
		      "udp:127.0.0.1:5070;weight=2",
		      "--hash",
		      "from",
		      "--record-route",
		      "--workers",
		      "3",
		      NULL};
	char *bad[] = {"p",	    "--listen", "udp:127.0.0.1:5060",
		       "--workers", "0",	NULL};
	char *nonext[] = {"p", "--listen", "udp:127.0.0.1:5060", NULL};
	char *cfgfile[] = {"p", "--config", "c.json", NULL};
	FILE *f;

	slcfg_init(&cfg);
	ASSERT_EQ(slcfg_parse_args(&cfg, 10, ok, err, sizeof(err)), 0);
	ASSERT_EQ(cfg.next.hops[0].weight, 2);
	ASSERT_EQ(cfg.hash, DISPATCH_HASH_FROM);
	ASSERT(cfg.record_route);
	ASSERT_EQ(cfg.workers, 3);
	slcfg_init(&cfg);
	ASSERT_EQ(slcfg_parse_args(&cfg, 5, bad, err, sizeof(err)), EINVAL);
	ASSERT(strstr(err, "--workers"));
	slcfg_init(&cfg);
	ASSERT_EQ(slcfg_parse_args(&cfg, 3, nonext, err, sizeof(err)), EINVAL);
	ASSERT(strstr(err, "--next"));

	f = fopen("c.json", "w");
	ASSERT(f);
	fputs("{\"listen\": [\"udp:127.0.0.1:5060\"], \"next\": "
	      "[\"udp:127.0.0.1:5070\", \"udp:127.0.0.1:5071;weight=4\"], "
	      "\"probe-interval\": 250, \"record-route\": true}",
	      f);
	fclose(f);
	slcfg_init(&cfg);
	ASSERT_EQ(slcfg_parse_args(&cfg, 3, cfgfile, err, sizeof(err)), 0);
	ASSERT_EQ(cfg.next.n, 2);
	ASSERT_EQ(cfg.probe_interval_ms, 250);
	ASSERT(cfg.record_route);
	f = fopen("c.json", "w");
	ASSERT(f);
	fputs("{\"listen\": \"udp:127.0.0.1:5060\",\n \"nope\": 1}", f);
	fclose(f);
	slcfg_init(&cfg);
	ASSERT_EQ(slcfg_parse_args(&cfg, 3, cfgfile, err, sizeof(err)),
		  EINVAL);
	ASSERT(strstr(err, "nope"));
}

TEST(proxy_stateless_bad_flags_exit_2_with_one_line)
{
	const char *argv[] = {"proxy-stateless", "--listen",	       "bogus",
			      "--next",		 "udp:127.0.0.1:5070", NULL};
	char path[512];
	size_t len;
	char *log;

	ASSERT_EQ(proc_run(argv, "bad.log", 5000), 2);
	snprintf(path, sizeof(path), "%s/bad.log", test_tmp_dir());
	log = test_read_file(path, &len);
	ASSERT(strstr(log, "--listen bogus"));
	ASSERT(strchr(log, '\n') == log + len - 1);
	free(log);
}

/* ------------------------------------------------------------------ */
/* The real binary, raw messages                                       */

struct px {
	struct proc p;
	uint16_t port;
};

static int udp_sock(uint16_t *port)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ASSERT(fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(*port);
	ASSERT(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ASSERT(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void udp_to(int fd, uint16_t port, const char *data, size_t len)
{
	struct sockaddr_in a = {0};

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ASSERT(sendto(fd, data, len, 0, (struct sockaddr *)&a, sizeof(a)) ==
	       (ssize_t)len);
}

/* One datagram within ms into buf (NUL-terminated); its length or -1. */
static ssize_t recv_within(int fd, char *buf, size_t size, unsigned ms,
			   uint16_t *from)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	ssize_t n;

	if (poll(&pfd, 1, (int)ms) != 1)
		return -1;
	n = recvfrom(fd, buf, size - 1, 0, (struct sockaddr *)&a, &alen);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	if (from)
		*from = ntohs(a.sin_port);
	return n;
}

static void px_start_tcp(struct px *px, const char *const *extra, bool tcp)
{
	struct proc_argv argv = {.n = 0};
	char listen[64], listen_tcp[64];

	px->port = proc_free_port();
	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u", px->port);
	snprintf(listen_tcp, sizeof(listen_tcp), "tcp:127.0.0.1:%u", px->port);
	proc_argv_add(&argv, "proxy-stateless", "--control", "--listen",
		      listen, NULL);
	if (tcp)
		proc_argv_add(&argv, "--listen", listen_tcp, NULL);
	proc_argv_addv(&argv, extra);
	stack_start_ready(&px->p, argv.v, "ready");
}

static void px_start(struct px *px, const char *const *extra)
{
	px_start_tcp(px, extra, false);
}

static json_t *px_stats(struct px *px)
{
	json_t *r = proc_cmd(&px->p, "stats", NULL, 3000);

	ASSERT(r);
	return r;
}

static const char req_fmt[] = "%s sip:%s@127.0.0.1:%u SIP/2.0\r\n"
			      "Via: SIP/2.0/UDP "
			      "127.0.0.1:%u;branch=z9hG4bK%s;rport\r\n"
			      "%s"
			      "From: <sip:a@x>;tag=1\r\nTo: <sip:%s@x>%s\r\n"
			      "Call-ID: %s\r\nCSeq: 1 %s\r\nMax-Forwards: "
			      "%s\r\n"
			      "Content-Length: 0\r\n\r\n";

TEST_TIMEOUT(proxy_stateless_relays_requests_and_responses, 20)
{
	struct px px;
	uint16_t hport = 0, cport = 0, from;
	int hop = udp_sock(&hport), cli = udp_sock(&cport);
	char next[64], req[1024], buf[4096], rr[96];
	const char *extra[] = {"--next",	   next, "--record-route",
			       "--probe-interval", "0",	 NULL};
	struct sip_msg msg;
	const struct sip_hdr *h;
	uint16_t status;
	const char *why;
	ssize_t n;
	char *via;
	json_t *st;

	snprintf(next, sizeof(next), "udp:127.0.0.1:%u", hport);
	px_start(&px, extra);
	snprintf(req, sizeof(req), req_fmt, "INVITE", "bob", px.port, cport,
		 "b1", "", "bob", "", "c1", "INVITE", "70");
	udp_to(cli, px.port, req, strlen(req));
	n = recv_within(hop, buf, sizeof(buf), 3000, &from);
	ASSERT_MSG(n > 0, "nothing forwarded");
	ASSERT_EQ(sip_msg_decode(&msg, buf, (size_t)n, false), 0);
	ASSERT_EQ(sip_msg_validate(&msg, &status, &why), 0);
	/* Our Via on top with a stateless branch, the client's below. */
	ASSERT_EQ(msg.count[SIP_HDR_VIA], 2);
	ASSERT(msg.via.port == px.port);
	ASSERT(sip_branch_has_cookie(&msg.via.branch));
	ASSERT_EQ(msg.max_forwards, 69);
	h = sip_msg_hdr(&msg, SIP_HDR_RECORD_ROUTE);
	ASSERT(h);
	snprintf(rr, sizeof(rr), "<sip:127.0.0.1:%u;transport=udp;lr>",
		 px.port);
	ASSERT_PL(&h->value, rr);
	/* rport filled in for the client (RFC 3581). */
	h = sip_msg_hdr_next(&msg, sip_msg_hdr(&msg, SIP_HDR_VIA));
	snprintf(rr, sizeof(rr), "rport=%u", cport);
	ASSERT(memmem(h->value.p, h->value.l, rr, strlen(rr)));

	/* A retransmission leaves with the same branch (§16.11). */
	via = strndup(msg.via.branch.p, msg.via.branch.l);
	udp_to(cli, px.port, req, strlen(req));
	n = recv_within(hop, buf, sizeof(buf), 3000, NULL);
	ASSERT(n > 0);
	ASSERT(strstr(buf, via));

	/* The response: our Via popped, back to the client's rport. */
	{
		char resp[1024];
		const char *v1 = strstr(buf, "Via:");
		const char *end = strstr(buf, "\r\n\r\n");

		ASSERT(v1 && end);
		n = snprintf(resp, sizeof(resp),
			     "SIP/2.0 200 OK\r\n%.*s\r\n\r\n", (int)(end - v1),
			     v1);
		udp_to(hop, from, resp, (size_t)n);
	}
	n = recv_within(cli, buf, sizeof(buf), 3000, NULL);
	ASSERT_MSG(n > 0, "response not relayed");
	ASSERT(!strncmp(buf, "SIP/2.0 200 OK", 14));
	ASSERT(strstr(buf, "branch=z9hG4bKb1"));
	ASSERT(!strstr(buf, via));
	free(via);

	/* A response whose top Via is not ours is dropped. */
	snprintf(req, sizeof(req),
		 "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch="
		 "z9hG4bKzz\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
		 "Call-ID: s\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
		 cport);
	udp_to(hop, px.port, req, strlen(req));
	ASSERT(recv_within(cli, buf, sizeof(buf), 300, NULL) < 0);

	/* In-dialog: our Route popped, on to the Request-URI. */
	snprintf(req, sizeof(req),
		 "BYE sip:bob@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKbye\r\n"
		 "Route: <sip:127.0.0.1:%u;transport=udp;lr>\r\n"
		 "From: <sip:a@x>;tag=1\r\nTo: <sip:bob@x>;tag=2\r\n"
		 "Call-ID: c1\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\n"
		 "Content-Length: 0\r\n\r\n",
		 hport, cport, px.port);
	udp_to(cli, px.port, req, strlen(req));
	n = recv_within(hop, buf, sizeof(buf), 3000, NULL);
	ASSERT(n > 0);
	ASSERT(!strncmp(buf, "BYE ", 4));
	ASSERT(!strstr(buf, "Route:"));

	/* Max-Forwards 0: 483; Proxy-Require: 420. */
	snprintf(req, sizeof(req), req_fmt, "OPTIONS", "bob", px.port, cport,
		 "mf", "", "bob", "", "c2", "OPTIONS", "0");
	udp_to(cli, px.port, req, strlen(req));
	ASSERT(recv_within(cli, buf, sizeof(buf), 3000, NULL) > 0);
	ASSERT(!strncmp(buf, "SIP/2.0 483", 11));
	snprintf(req, sizeof(req), req_fmt, "OPTIONS", "bob", px.port, cport,
		 "pr", "Proxy-Require: foo\r\n", "bob", "", "c3", "OPTIONS",
		 "70");
	udp_to(cli, px.port, req, strlen(req));
	ASSERT(recv_within(cli, buf, sizeof(buf), 3000, NULL) > 0);
	ASSERT(!strncmp(buf, "SIP/2.0 420", 11));
	ASSERT(strstr(buf, "Unsupported: foo\r\n"));

	st = px_stats(&px);
	JSONQ_EXPECT(st, {"forwarded.requests", 3}, {"forwarded.responses", 1},
		     {"forwarded.by_route", 1}, {"next_hops.0.forwarded", 2},
		     {"drops.stray_response", 1}, {"answered.483", 1},
		     {"answered.420", 1});
	json_decref(st);
	ASSERT_EQ(proc_stop(&px.p, 5000), 0);
	close(hop);
	close(cli);
}

/* §18.2.1 received and RFC 3581 rport, exactly as the client's Via
 * leaves the proxy. */
TEST_TIMEOUT(proxy_stateless_marks_received_and_rport, 20)
{
	static const char fmt[] = "OPTIONS sip:bob@127.0.0.1:%u SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP %s\r\n"
				  "From: <sip:a@x>;tag=1\r\nTo: "
				  "<sip:bob@x>\r\n"
				  "Call-ID: rr%d\r\nCSeq: 1 OPTIONS\r\n"
				  "Max-Forwards: 70\r\nContent-Length: "
				  "0\r\n\r\n";
	struct px px;
	uint16_t hport = 0, cport = 0;
	int hop = udp_sock(&hport), cli = udp_sock(&cport);
	char next[64], req[1024], buf[4096], via[128], want[160];
	const char *extra[] = {"--next", next, "--probe-interval", "0", NULL};
	struct sip_msg msg;
	const struct sip_hdr *h;
	ssize_t n;

	snprintf(next, sizeof(next), "udp:127.0.0.1:%u", hport);
	px_start(&px, extra);
	for (int i = 0; i < 4; i++) {
		switch (i) {
		case 0: /* other host, bare rport: both */
			snprintf(via, sizeof(via),
				 "10.1.2.3:5060;branch=z9hG4bKr0;rport");
			snprintf(want, sizeof(want),
				 "SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bKr0;"
				 "rport=%u;received=127.0.0.1",
				 cport);
			break;
		case 1: /* our source, bare rport in the middle */
			snprintf(via, sizeof(via),
				 "127.0.0.1:%u;rport;branch=z9hG4bKr1", cport);
			snprintf(want, sizeof(want),
				 "SIP/2.0/UDP 127.0.0.1:%u;rport=%u;branch="
				 "z9hG4bKr1",
				 cport, cport);
			break;
		case 2: /* other host, no rport: received only */
			snprintf(via, sizeof(via),
				 "10.1.2.3;branch=z9hG4bKr2");
			snprintf(want, sizeof(want),
				 "SIP/2.0/UDP 10.1.2.3;branch=z9hG4bKr2;"
				 "received=127.0.0.1");
			break;
		default: /* our source, no rport: untouched */
			snprintf(via, sizeof(via),
				 "127.0.0.1:%u;branch=z9hG4bKr3", cport);
			snprintf(want, sizeof(want), "SIP/2.0/UDP %s", via);
			break;
		}
		snprintf(req, sizeof(req), fmt, px.port, via, i);
		udp_to(cli, px.port, req, strlen(req));
		n = recv_within(hop, buf, sizeof(buf), 3000, NULL);
		ASSERT_MSG(n > 0, "request %d not forwarded", i);
		ASSERT_EQ(sip_msg_decode(&msg, buf, (size_t)n, false), 0);
		h = sip_msg_hdr_next(&msg, sip_msg_hdr(&msg, SIP_HDR_VIA));
		ASSERT(h);
		ASSERT_PL(&h->value, want);
	}
	ASSERT_EQ(proc_stop(&px.p, 5000), 0);
	close(hop);
	close(cli);
}

TEST_TIMEOUT(proxy_stateless_503_when_no_hop_answers_probes, 20)
{
	struct px px;
	uint16_t dead = proc_free_port(), cport = 0;
	int cli = udp_sock(&cport);
	char next[64], req[1024], buf[4096];
	const char *extra[] = {
		"--next", next, "--probe-interval", "50", "--retry-after",
		"7",	  NULL};
	json_t *st;
	unsigned i;
	ssize_t n = -1;

	snprintf(next, sizeof(next), "udp:127.0.0.1:%u", dead);
	px_start(&px, extra);
	/* Nobody listens there: ICMP port unreachable takes it out. */
	for (i = 0; i < 40; i++) {
		snprintf(req, sizeof(req), req_fmt, "REGISTER", "bob", px.port,
			 cport, "r1", "", "bob", "", "c9", "REGISTER", "70");
		udp_to(cli, px.port, req, strlen(req));
		n = recv_within(cli, buf, sizeof(buf), 200, NULL);
		if (n > 0)
			break;
	}
	ASSERT_MSG(n > 0, "no 503 within 8 s");
	ASSERT(!strncmp(buf, "SIP/2.0 503", 11));
	ASSERT(strstr(buf, "Retry-After: 7\r\n"));
	ASSERT(strstr(buf, "To: <sip:bob@x>;tag="));
	st = px_stats(&px);
	ASSERT_EQ(jsonq_bool(st, "next_hops.0.up"), 0);
	ASSERT(jsonq_int(st, "next_hops.0.probes.refused") >= 1);
	ASSERT(jsonq_int(st, "answered.503") >= 1);
	json_decref(st);
	ASSERT_EQ(proc_stop(&px.p, 5000), 0);
	close(cli);
}

/* ------------------------------------------------------------------ */
/* RFC 4475 replayed over UDP and TCP                                  */

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT(fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ASSERT(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	return fd;
}

static void replay_4475(bool tcp)
{
	struct px px;
	uint16_t hport = 0, cport = 0;
	int hop = udp_sock(&hport), cli = udp_sock(&cport);
	char next[64], buf[70000];
	const char *extra[] = {"--next", next, "--probe-interval", "0", NULL};
	struct rfc4475_case rc;
	unsigned checked = 0;
	FILE *man;

	snprintf(next, sizeof(next), "udp:127.0.0.1:%u", hport);
	px_start_tcp(&px, extra, tcp);
	man = rfc4475_open();
	while (rfc4475_next(man, &rc)) {
		struct pollfd pfd[2];
		unsigned status = 0;
		bool forwarded = false;
		int conn = -1;

		/* On a stream, dblreq's trailing INVITE is a message of its
		 * own: let what the last one caused arrive first. */
		while (recv_within(hop, buf, sizeof(buf), 30, NULL) > 0 ||
		       recv_within(cli, buf, sizeof(buf), 0, NULL) > 0)
			;
		if (tcp) {
			conn = tcp_connect(px.port);
			ASSERT(write(conn, rc.msg, rc.len) == (ssize_t)rc.len);
		} else {
			udp_to(cli, px.port, rc.msg, rc.len);
		}
		free(rc.msg);
		pfd[0].fd = tcp ? conn : cli;
		pfd[1].fd = hop;
		pfd[0].events = pfd[1].events = POLLIN;
		while (poll(pfd, 2, 250) > 0) {
			ssize_t n;

			if (pfd[1].revents & POLLIN) {
				struct sip_msg m;
				uint16_t st;
				const char *why;

				n = recv(hop, buf, sizeof(buf) - 1, 0);
				ASSERT(n > 0);
				/* Nothing invalid is forwarded. */
				ASSERT_MSG(!sip_msg_decode(&m, buf, (size_t)n,
							   false) &&
						   !sip_msg_validate(&m, &st,
								     &why),
					   "%s forwarded invalid", rc.name);
				forwarded = true;
			}
			if (pfd[0].revents & POLLIN) {
				n = recv(pfd[0].fd, buf, sizeof(buf) - 1, 0);
				if (n <= 0)
					break; /* TCP closed by the proxy */
				buf[n] = '\0';
				if (!strncmp(buf, "SIP/2.0 ", 8) && !status)
					status = (unsigned)strtoul(buf + 8,
								   NULL, 10);
			}
			if (forwarded || status)
				break;
		}
		if (conn >= 0)
			close(conn);
		rfc4475_judge(&rc, false, status, forwarded);
		checked++;
	}
	fclose(man);
	ASSERT_MSG(checked >= 49, "only %u messages", checked);
	/* Still answering afterwards. */
	{
		char req[1024];
		ssize_t n;

		snprintf(req, sizeof(req), req_fmt, "OPTIONS", "bob", px.port,
			 cport, "after", "", "bob", "", "c-after", "OPTIONS",
			 "70");
		udp_to(cli, px.port, req, strlen(req));
		n = recv_within(hop, buf, sizeof(buf), 3000, NULL);
		while (n > 0 && !strstr(buf, "c-after"))
			n = recv_within(hop, buf, sizeof(buf), 3000, NULL);
		ASSERT_MSG(n > 0, "not forwarding after the corpus");
	}
	ASSERT_EQ(proc_stop(&px.p, 5000), 0);
	close(hop);
	close(cli);
}

TEST_TIMEOUT(proxy_stateless_rfc4475_over_udp, 25)
{
	replay_4475(false);
}

TEST_TIMEOUT(proxy_stateless_rfc4475_over_tcp, 25)
{
	replay_4475(true);
}
