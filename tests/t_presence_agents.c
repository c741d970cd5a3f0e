/*
 * Tests for the agents' presence half: the PIDF publication stamp the
 * loader writes and the callhandler's watchers read (unit), and end to
 * end against Kamailio's presence server (presence + presence_xml,
 * tests/kamailio/presence.cfg): the loader's subscribe test (every
 * SUBSCRIBE answered 2xx and NOTIFYed, refreshed, unsubscribed with a
 * terminated NOTIFY), the callhandler watching W dialogs per presentity
 * while the loader publishes (every watcher gets every publication,
 * bodies checked), and the 412 path (Kamailio restarted under the
 * loader forgets the publications: each next modify gets 412 and is
 * published anew), over UDP and TCP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "kamailio.h"
#include "loadpres.h"
#include "proc.h"
#include "stack.h"
#include "jsonq.h"
#include "test.h"
#include "watch.h"

/* ---- unit: the publication stamp ---- */

TEST(presence_body_has_the_exact_size_and_its_stamp_reads_back)
{
	static char body[70000];
	const char *entity = "sip:B1000@example.com";
	size_t min = loadpres_body_min(entity);
	size_t sizes[] = {0, min, min + 1, min + 2, 1000, 60000};
	struct pl b, e;
	uint64_t seq, ts;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ASSERT_EQ(loadpres_body(body, sizeof(body), entity, 42 + i,
					1796160000123456789ull, sizes[i]),
			  0);
		ASSERT_EQ(strlen(body), sizes[i] ? sizes[i] : min);
		ASSERT(strstr(body, "<presence xmlns=\"urn:ietf:params:xml:"
				    "ns:pidf\""));
		ASSERT(strstr(body, "</note>\r\n</presence>\r\n"));
		pl_set_str(&b, body);
		ASSERT_EQ(watch_stamp_decode(&b, &e, &seq, &ts), 0);
		ASSERT_PL(&e, entity);
		ASSERT_EQ(seq, 42 + i);
		ASSERT_EQ(ts, 1796160000123456789ull);
	}
	ASSERT_EQ(loadpres_body(body, sizeof(body), entity, 1, 1, min - 1),
		  EOVERFLOW);
	ASSERT_EQ(loadpres_body(body, 100, entity, 1, 1, 0), EOVERFLOW);
}

TEST(presence_stamp_decode_rejects_bad_bodies)
{
	static const char *const bad[] = {
		"<note>sipstone seq= ts=1</note> entity=\"sip:a@b\"",
		"<note>sipstone seq=1 ts=</note> entity=\"sip:a@b\"",
		"<note>sipstone seq=1ts=2</note> entity=\"sip:a@b\"",
		"<note>sipstone seq=99999999999999999999999 ts=2</note>",
		"<note>sipstone seq=1 ts=2</note> no entity",
		"<note>sipstone seq=1 ts=2</note> entity=\"sip:unterminated",
		"sipstone seq=1",
	};
	struct pl b, e;
	uint64_t seq = 7, ts = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pl_set_str(&b, bad[i]);
		ASSERT_MSG(watch_stamp_decode(&b, &e, &seq, &ts) == EBADMSG,
			   "accepted: %s", bad[i]);
	}
	ASSERT_EQ(seq, 7);
	pl_set_str(&b, "<presence entity=\"sip:a@b\"><note>hi</note>");
	ASSERT_EQ(watch_stamp_decode(&b, &e, &seq, &ts), ENOENT);
	b.p = "";
	b.l = 0;
	ASSERT_EQ(watch_stamp_decode(&b, &e, &seq, &ts), ENOENT);
}

/* ---- end to end, against Kamailio's presence server ---- */

/*
 * Kamailio with tests/kamailio/presence.cfg on udp: and tcp: port, its
 * db_text tables a fresh copy in the test's directory.
 */
static void kam_start_with(struct kamailio *k, uint16_t port, bool auth);

static void kam_start(struct kamailio *k, uint16_t port)
{
	kam_start_with(k, port, false);
}

/*
 * With auth: digest on every PUBLISH and SUBSCRIBE, the users of
 * A1000-A1009, B1000-B1004 and W100-W104 with the password "secret".
 */
static void kam_start_with(struct kamailio *k, uint16_t port, bool auth)
{
	char db[512], dburl[600], srv[80];
	const char *cp[] = {"cp", "-r", db, "kamdb", NULL};
	const char *defs[] = {dburl, srv, auth ? "WITH_AUTH" : NULL, NULL};
	const struct kamailio_opts o = {.tcp = true,
					.cfg = "presence.cfg",
					.no_ctl = true,
					.defines = defs,
					.shm_mb = 64,
					.pkg_mb = 8};

	if (!kamailio_has_module("presence") || !kamailio_has_module("presence"
								     "_xml"))
		test_skip("kamailio with presence and presence_xml is not "
			  "installed");
	snprintf(db, sizeof(db), "%s/tests/kamailio/presence-db",
		 test_root_dir());
	if (access("kamdb", F_OK)) {
		ASSERT_EQ(proc_run(cp, "cp.log", 5000), 0);
		if (auth) {
			static const char *const users[] = {"A100", "B100",
							    "W10"};
			FILE *f = fopen("kamdb/subscriber", "a");
			unsigned id = 1;

			ASSERT(f);
			for (unsigned u = 0; u < 3; u++)
				for (unsigned i = 0; i < (u ? 5 : 10); i++)
					fprintf(f,
						"%u:%s%u:127.0.0.1:secret:x:"
						"x\n",
						id++, users[u], i);
			fclose(f);
		}
	}
	snprintf(dburl, sizeof(dburl), "DB_URL=\"text://%s/kamdb\"",
		 test_tmp_dir());
	snprintf(srv, sizeof(srv), "SERVER_ADDRESS=\"sip:127.0.0.1:%u\"",
		 port);
	kamailio_start(k, port, &o);
}

static void subscribe_vs_kamailio(const char *tp)
{
	uint16_t kport = proc_free_port();
	char server[64];
	const char *argv[] = {
		"loader",      "--test",      "subscribe",   "--server",
		server,	       "--users",     "A1000-A1019", "--presentities",
		"B1000-B1004", "--domain",    "127.0.0.1",   "--rate",
		"40",	       "--duration",  "2.2",	     "--threads",
		"2",	       "--refresh-s", "1",	     "--expires",
		"60",	       "--drain-ms",  "5000",	     "--json",
		NULL};
	struct kamailio k;
	json_t *j, *p;

	kam_start(&k, kport);
	snprintf(server, sizeof(server), "%s:127.0.0.1:%u", tp, kport);
	j = stack_loader_json(argv, 0, 20000);
	p = json_object_get(j, "presence");
	ASSERT(p);
	/* one subscription per watcher: 20, the other attempts wait */
	JSONQ_EXPECT(j, {"attempts", 20}, {"successes", 20}, {"failures", 0});
	ASSERT(jsonq_int(j, "throttled") > 0);
	ASSERT_EQ(jsonq_int(json_object_get(j, "codes"), "200") +
			  (json_object_get(json_object_get(j, "codes"), "202")
				   ? jsonq_int(json_object_get(j, "codes"),
					       "20"
					       "2")
				   : 0),
		  20);
	JSONQ_EXPECT(p, {"sub_2xx", 20}, {"first_notifies", 20},
		     {"no_notify", 0}, {"no_dialog", 0});
	/* refreshed every second for 2 s, each answered 2xx */
	ASSERT(jsonq_int(p, "refreshes") >= 20);
	ASSERT_EQ(jsonq_int(p, "refresh_failures"), 0);
	/* the drain: every dialog unsubscribed, its terminated NOTIFY */
	JSONQ_EXPECT(p, {"unsubscribes", 20}, {"unsubscribed", 20},
		     {"unsub_failures", 0}, {"terminated", 20});
	/* a NOTIFY per subscription, per refresh, per unsubscribe */
	ASSERT(jsonq_int(p, "notifies") >=
	       20 + jsonq_int(p, "refreshes") + 20);
	ASSERT_EQ(jsonq_int(json_object_get(j, "snd_us"), "count"), 20);
	json_decref(j);
	kamailio_stop(&k);
}

TEST_TIMEOUT(presence_loader_subscribe_udp, 30)
{
	subscribe_vs_kamailio("udp");
}

TEST_TIMEOUT(presence_loader_subscribe_tcp, 30)
{
	subscribe_vs_kamailio("tcp");
}

/* The callhandler watching with W dialogs per presentity (password:
 * NULL for none). */
static void watchers_start_pw(struct proc *ch, const char *tp, uint16_t kport,
			      const char *presentities, const char *w,
			      const char *password);

static void watchers_start(struct proc *ch, const char *tp, uint16_t kport,
			   const char *presentities, const char *w)
{
	watchers_start_pw(ch, tp, kport, presentities, w, NULL);
}

static void watchers_start_pw(struct proc *ch, const char *tp, uint16_t kport,
			      const char *presentities, const char *w,
			      const char *password)
{
	char listen[64], via[64];
	const char *argv[] = {"callhandler",
			      "--control",
			      "--listen",
			      listen,
			      "--threads",
			      "1",
			      "--domain",
			      "127.0.0.1",
			      "--watch",
			      presentities,
			      "--watchers-per-presentity",
			      w,
			      "--watch-via",
			      via,
			      "--watch-users",
			      "W100-W199",
			      "--reg-timeout-ms",
			      "2000",
			      NULL,
			      NULL,
			      NULL};
	json_t *ev;

	if (password) {
		argv[sizeof(argv) / sizeof(argv[0]) - 3] = "--password";
		argv[sizeof(argv) / sizeof(argv[0]) - 2] = password;
	}

	snprintf(listen, sizeof(listen), "%s:127.0.0.1:%u", tp,
		 proc_free_port());
	snprintf(via, sizeof(via), "%s:127.0.0.1:%u", tp, kport);
	proc_start(ch, argv);
	ev = proc_wait_event(ch, "watching", 10000);
	if (!ev)
		proc_dump_log(ch);
	ASSERT_MSG(ev, "no watching event");
	JSONQ_EXPECT(ev, {"dialogs", 5 * strtol(w, NULL, 10)},
		     {"active", 5 * strtol(w, NULL, 10)}, {"failed", 0});
	json_decref(ev);
}

static json_t *watch_stats_of(struct proc *ch)
{
	json_t *r = proc_cmd(ch, "stats", NULL, 3000), *w;

	ASSERT_MSG(r, "no stats reply");
	w = json_object_get(r, "watch");
	ASSERT_MSG(w, "no watch stats");
	json_incref(w);
	json_decref(r);
	return w;
}

/* Polls the watchers until bodies_new reaches want (bounded: 5 s). */
static json_t *watch_until(struct proc *ch, long long want)
{
	json_t *w = NULL;

	for (int i = 0; i < 50; i++) {
		json_decref(w);
		w = watch_stats_of(ch);
		if (jsonq_int(w, "bodies_new") >= want)
			break;
		usleep(100000);
	}
	return w;
}

static void watchers_get_every_publication(const char *tp)
{
	uint16_t kport = proc_free_port();
	char server[64];
	const char *argv[] = {
		"loader",    "--test",	  "publish",	 "--server",
		server,	     "--users",	  "B1000-B1004", "--domain",
		"127.0.0.1", "--rate",	  "60",		 "--duration",
		"1",	     "--threads", "1",		 "--body-bytes",
		"700",	     "--json",	  NULL};
	struct kamailio k;
	struct proc ch;
	json_t *j, *p, *w, *h;
	long long pubs;

	kam_start(&k, kport);
	watchers_start(&ch, tp, kport, "B1000-B1004", "3");
	snprintf(server, sizeof(server), "%s:127.0.0.1:%u", tp, kport);
	j = stack_loader_json(argv, 0, 20000);
	pubs = jsonq_int(j, "attempts");
	ASSERT(pubs >= 50);
	ASSERT_EQ(jsonq_int(j, "successes"), pubs);
	ASSERT_EQ(jsonq_int(j, "failures"), 0);
	p = json_object_get(j, "presence");
	JSONQ_EXPECT(p, {"pub_initial", 5}, {"pub_modify", pubs - 5},
		     {"pub_412", 0}, {"pub_no_etag", 0});
	/* every watcher, every publication, in order, its own body */
	w = watch_until(&ch, pubs * 3);
	JSONQ_EXPECT(w, {"bodies_new", pubs * 3}, {"bodies_stale", 0},
		     {"bodies_mismatch", 0}, {"no_dialog", 0});
	ASSERT_EQ(jsonq_int(w, "notifies"),
		  jsonq_int(w, "bodies_new") + jsonq_int(w, "bodies_repeat") +
			  jsonq_int(w, "bodies_none"));
	ASSERT_EQ(jsonq_int(w, "active"), 15);
	h = json_object_get(w, "delay_us");
	ASSERT_EQ(jsonq_int(h, "count"), pubs * 3);
	/* a delay measured, under the Timer F of a lost NOTIFY */
	ASSERT(jsonq_int(h, "max") > 0 && jsonq_int(h, "max") < 32000000);
	json_decref(w);
	json_decref(j);
	ASSERT_EQ(proc_stop(&ch, 3000), 0);
	kamailio_stop(&k);
}

TEST_TIMEOUT(presence_watchers_get_every_publication_udp, 30)
{
	watchers_get_every_publication("udp");
}

TEST_TIMEOUT(presence_watchers_get_every_publication_tcp, 30)
{
	watchers_get_every_publication("tcp");
}

/*
 * RFC 3903 §6: Kamailio restarted (publications in memory only) no
 * longer knows the loader's entity-tags: each presentity's next modify
 * gets 412 and is published anew, none fails.
 */
static void publish_412_reinitial(const char *tp)
{
	uint16_t kport = proc_free_port();
	char server[64];
	const char *argv[] = {"loader",	     "--test",	  "publish",
			      "--server",    server,	  "--users",
			      "D1000-D1001", "--domain",  "127.0.0.1",
			      "--rate",	     "4",	  "--duration",
			      "4",	     "--threads", "1",
			      "--json",	     NULL};
	struct kamailio k;
	struct proc ld;
	json_t *j, *p;
	int rc;

	kam_start(&k, kport);
	snprintf(server, sizeof(server), "%s:127.0.0.1:%u", tp, kport);
	proc_start(&ld, argv);
	usleep(1200000);
	kamailio_stop(&k);
	kam_start(&k, kport);
	j = proc_read_json(&ld, 15000);
	rc = proc_stop(&ld, 5000);
	if (!j || rc)
		proc_dump_log(&ld);
	ASSERT(j);
	ASSERT_EQ(rc, 0);
	p = json_object_get(j, "presence");
	ASSERT_EQ(jsonq_int(j, "failures"), 0);
	ASSERT_EQ(jsonq_int(j, "successes"), jsonq_int(j, "attempts"));
	ASSERT_EQ(jsonq_int(p, "pub_412"), 2);
	ASSERT_EQ(jsonq_int(p, "pub_initial"), 4);
	ASSERT_EQ(jsonq_int(p, "pub_initial") + jsonq_int(p, "pub_modify"),
		  jsonq_int(j, "attempts") + 2);
	json_decref(j);
	kamailio_stop(&k);
}

TEST_TIMEOUT(presence_publish_412_publishes_anew_udp, 30)
{
	publish_412_reinitial("udp");
}

/*
 * Sends a NOTIFY for no dialog to 127.0.0.1:port over UDP, then junk;
 * returns the status of the answer to the NOTIFY (0: none in 2 s).
 */
static unsigned stray_notify(uint16_t port)
{
	static const char junk[] = "NOTIFY sip:x SIP/2.0\r\nVia: \r\n\r\n";
	char req[1024], buf[4096];
	unsigned status = 0;
	int fd = proc_udp_to(port, 2000), n;
	ssize_t got;

	n = snprintf(req, sizeof(req),
		     "NOTIFY sip:W100@127.0.0.1:%u SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKstray\r\n"
		     "From: <sip:B1000@127.0.0.1>;tag=nobody\r\n"
		     "To: <sip:W100@127.0.0.1>;tag=unknown\r\n"
		     "Call-ID: no-such-dialog\r\nCSeq: 1 NOTIFY\r\n"
		     "Max-Forwards: 70\r\nEvent: presence\r\n"
		     "Subscription-State: active;expires=60\r\n"
		     "Content-Length: 0\r\n\r\n",
		     port);
	ASSERT(send(fd, junk, sizeof(junk) - 1, 0) > 0);
	ASSERT(send(fd, req, (size_t)n, 0) == n);
	for (;;) {
		got = recv(fd, buf, sizeof(buf) - 1, 0);
		if (got <= 0)
			break;
		buf[got] = '\0';
		/* the answer to the NOTIFY, not the junk's 400 */
		if (strstr(buf, "no-such-dialog") &&
		    sscanf(buf, "SIP/2.0 %u", &status) == 1)
			break;
	}
	close(fd);
	return status;
}

/* The port of a "udp:127.0.0.1:PORT" or "127.0.0.1:PORT". */
static uint16_t port_of(const char *addr)
{
	const char *c = strrchr(addr, ':');

	ASSERT(c);
	return (uint16_t)strtoul(c + 1, NULL, 10);
}

/* A NOTIFY for no subscription gets 481, counted; junk no crash. */
TEST_TIMEOUT(presence_notify_outside_a_dialog_gets_481, 30)
{
	uint16_t kport = proc_free_port();
	char server[64], listen[64], via[64];
	const char *ld_argv[] = {"loader",	"--test",   "subscribe",
				 "--server",	server,	    "--users",
				 "A1000-A1001", "--domain", "127.0.0.1",
				 "--threads",	"1",	    "--control",
				 NULL};
	const char *ch_argv[] = {"callhandler", "--control",   "--listen",
				 listen,	"--threads",   "1",
				 "--domain",	"127.0.0.1",   "--watch",
				 "B1000",	"--watch-via", via,
				 NULL};
	struct kamailio k;
	struct proc ch, ld;
	json_t *ev, *w, *r, *l;

	kam_start(&k, kport);
	snprintf(server, sizeof(server), "udp:127.0.0.1:%u", kport);
	snprintf(via, sizeof(via), "udp:127.0.0.1:%u", kport);
	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u", proc_free_port());
	proc_start(&ch, ch_argv);
	ev = proc_wait_event(&ch, "watching", 10000);
	ASSERT_MSG(ev, "no watching event");
	ASSERT_EQ(jsonq_int(ev, "active"), 1);
	ASSERT_EQ(stray_notify(port_of(
			  json_string_value(json_object_get(ev, "contact")))),
		  481);
	json_decref(ev);
	w = watch_stats_of(&ch);
	ASSERT_EQ(jsonq_int(w, "no_dialog"), 1);
	ASSERT_EQ(jsonq_int(w, "active"), 1);
	json_decref(w);
	ASSERT_EQ(proc_stop(&ch, 3000), 0);

	proc_start(&ld, ld_argv);
	ev = proc_wait_event(&ld, "ready", 5000);
	ASSERT_MSG(ev, "loader not ready");
	l = json_array_get(json_object_get(ev, "local"), 0);
	ASSERT(json_is_string(l));
	ASSERT_EQ(stray_notify(port_of(json_string_value(l))), 481);
	json_decref(ev);
	r = proc_cmd(&ld, "stats", NULL, 3000);
	ASSERT(r);
	ASSERT_EQ(jsonq_int(json_object_get(json_object_get(r, "loader"), "pre"
									  "sen"
									  "c"
									  "e"),
			    "no_dialog"),
		  1);
	json_decref(r);
	ASSERT_EQ(proc_stop(&ld, 5000), 0);
	kamailio_stop(&k);
}

/*
 * Digest auth (RFC 3261 §22) on every PUBLISH and SUBSCRIBE, refreshes
 * and unsubscribes included: the watchers, the loader's publish and
 * subscribe tests answer the 401s and all of it still works.
 */
TEST_TIMEOUT(presence_digest_auth_watch_publish_subscribe_udp, 40)
{
	uint16_t kport = proc_free_port();
	char server[64];
	const char *pub[] = {
		"loader",     "--test",	     "publish",	 "--server",  server,
		"--users",    "B1000-B1004", "--domain", "127.0.0.1", "--rate",
		"20",	      "--duration",  "1",	 "--threads", "1",
		"--password", "secret",	     "--json",	 NULL};
	const char *sub[] = {
		"loader",      "--test",      "subscribe",   "--server",
		server,	       "--users",     "A1000-A1009", "--presentities",
		"B1000-B1004", "--domain",    "127.0.0.1",   "--rate",
		"20",	       "--duration",  "1.5",	     "--threads",
		"1",	       "--refresh-s", "1",	     "--password",
		"secret",      "--drain-ms",  "5000",	     "--json",
		NULL};
	struct kamailio k;
	struct proc ch;
	json_t *j, *w, *p;
	long long pubs;

	kam_start_with(&k, kport, true);
	snprintf(server, sizeof(server), "udp:127.0.0.1:%u", kport);
	watchers_start_pw(&ch, "udp", kport, "B1000-B1004", "1", "secret");
	w = watch_stats_of(&ch);
	ASSERT_EQ(jsonq_int(w, "challenged"), 5);
	json_decref(w);

	j = stack_loader_json(pub, 0, 20000);
	pubs = jsonq_int(j, "attempts");
	ASSERT(pubs >= 15);
	ASSERT_EQ(jsonq_int(j, "successes"), pubs);
	ASSERT_EQ(jsonq_int(j, "auth_challenges"), pubs);
	json_decref(j);
	w = watch_until(&ch, pubs);
	ASSERT_EQ(jsonq_int(w, "bodies_new"), pubs);
	ASSERT_EQ(jsonq_int(w, "bodies_mismatch"), 0);
	json_decref(w);
	ASSERT_EQ(proc_stop(&ch, 3000), 0);

	j = stack_loader_json(sub, 0, 20000);
	p = json_object_get(j, "presence");
	ASSERT_EQ(jsonq_int(j, "attempts"), 10);
	ASSERT_EQ(jsonq_int(j, "successes"), 10);
	ASSERT_EQ(jsonq_int(p, "refresh_failures"), 0);
	ASSERT_EQ(jsonq_int(p, "unsubscribed"), 10);
	/* the initial SUBSCRIBEs, the refreshes and the unsubscribes */
	ASSERT_EQ(jsonq_int(j, "auth_challenges"),
		  10 + jsonq_int(p, "refreshes") +
			  jsonq_int(p, "unsubscribes"));
	json_decref(j);
	kamailio_stop(&k);
}

/* --max-outstanding bounds the live dialogs of a thread. */
TEST_TIMEOUT(presence_loader_subscribe_max_outstanding_caps_dialogs, 30)
{
	uint16_t kport = proc_free_port();
	char server[64];
	const char *argv[] = {"loader",	     "--test",
			      "subscribe",   "--server",
			      server,	     "--users",
			      "A1000-A1019", "--presentities",
			      "B1000",	     "--domain",
			      "127.0.0.1",   "--rate",
			      "40",	     "--duration",
			      "1",	     "--threads",
			      "1",	     "--max-outstanding",
			      "5",	     "--json",
			      NULL};
	struct kamailio k;
	json_t *j, *p;

	kam_start(&k, kport);
	snprintf(server, sizeof(server), "udp:127.0.0.1:%u", kport);
	j = stack_loader_json(argv, 0, 20000);
	p = json_object_get(j, "presence");
	ASSERT_EQ(jsonq_int(j, "attempts"), 5);
	ASSERT_EQ(jsonq_int(j, "successes"), 5);
	ASSERT(jsonq_int(j, "throttled") >= 30);
	ASSERT_EQ(jsonq_int(p, "unsubscribed"), 5);
	json_decref(j);
	kamailio_stop(&k);
}

/* Bad presence flags: one line on stderr, exit 2, nothing sent. */
TEST(presence_bad_flags_exit_2)
{
	static const char *const loader[][16] = {
		{"loader", "--test", "publish", "--server", "udp:127.0.0.1:9",
		 "--users", "B1", "--rate", "1", "--duration", "1",
		 "--body-bytes", "100", NULL},
		{"loader", "--test", "publish", "--server", "udp:127.0.0.1:9",
		 "--users", "B1", "--rate", "1", "--duration", "1",
		 "--body-bytes", "60001", NULL},
		{"loader", "--test", "subscribe", "--server",
		 "udp:127.0.0.1:9", "--users", "B1", "--rate", "1",
		 "--duration", "1", "--presentities", "B9-A2", NULL},
		{"loader", "--test", "subscribe", "--server",
		 "udp:127.0.0.1:9", "--users", "B1", "--rate", "1",
		 "--duration", "1", "--refresh-s", "0", NULL},
		{"callhandler", "--listen", "udp:127.0.0.1:0", "--watch",
		 "B1-B2", NULL},
		{"callhandler", "--listen", "udp:127.0.0.1:0", "--watch",
		 "B1-B2", "--domain", "x", "--watch-via", "tls:127.0.0.1:9",
		 NULL},
		{"callhandler", "--listen", "udp:127.0.0.1:0", "--watch",
		 "B1@x", "--domain", "x", "--watch-via", "udp:127.0.0.1:9",
		 NULL},
		{"callhandler", "--listen", "udp:127.0.0.1:0", "--watch",
		 "B1-B2", "--domain", "x", "--watch-via", "udp:127.0.0.1:9",
		 "--watchers-per-presentity", "0", NULL},
	};

	for (size_t i = 0; i < sizeof(loader) / sizeof(loader[0]); i++) {
		char log[32];
		char *text;
		size_t len;

		snprintf(log, sizeof(log), "bad%zu.log", i);
		ASSERT_EQ(proc_run(loader[i], log, 5000), 2);
		text = test_read_file(log, &len);
		ASSERT_MSG(len > 0 && strchr(text, '\n') == text + len - 1,
			   "%s: not one line: %s", log, text);
		free(text);
	}
}
