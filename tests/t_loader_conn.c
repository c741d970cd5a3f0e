/*
 * End-to-end tests of the loader's TCP/TLS connection policies and TLS:
 * bin/loader -> proxy-stateful (TCP and TLS listeners, digest auth) ->
 * the callhandler (registered over UDP, so that the proxy's TCP/TLS
 * connections are the loader's only); a persistent pool of N
 * connections, one connection per transaction (per call), TLS session
 * resumption on and off, a wrong CA; loader -> kamailio over TLS as
 * registrar.  The loader's counts are checked against the server's
 * (proxy-stateful's control stats, kamailio's answers).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "kamailio.h"
#include "pki.h"
#include "orchrun.h"
#include "proc.h"
#include "stack.h"
#include "jsonq.h"
#include "test.h"

static json_int_t jsub(json_t *o, const char *obj, const char *k)
{
	json_t *sub = json_object_get(o, obj);

	ASSERT_MSG(json_is_object(sub), "no object %s", obj);
	return jsonq_int(sub, k);
}

/* ca.pem, localhost.pem/.key (for localhost and 127.0.0.1), and a CA of
 * no one's, rogue/ca.pem. */
/* A status count of a "codes"-like object: 0 when absent. */
static json_int_t jcode(json_t *o, const char *obj, const char *k)
{
	json_t *v = json_object_get(json_object_get(o, obj), k);

	return v ? jsonq_int(json_object_get(o, obj), k) : 0;
}

static void make_pki(void)
{
	struct pki *pk = NULL, *rogue = NULL;
	char why[256];

	ASSERT_MSG(!pki_create(&pk, ".", 1, why, sizeof(why)), "%s", why);
	ASSERT_MSG(!pki_issue(pk, "localhost", "127.0.0.1", why, sizeof(why)),
		   "%s", why);
	pki_free(pk);
	ASSERT(mkdir("rogue", 0700) == 0);
	ASSERT_MSG(!pki_create(&rogue, "rogue", 1, why, sizeof(why)), "%s",
		   why);
	pki_free(rogue);
}

/* The proxy's connection counts are copied each 200 ms tick. */
static json_int_t proxy_conns(struct proc *px, const char *k)
{
	json_t *st;
	json_int_t v;

	usleep(300 * 1000);
	st = stack_stats(px);
	v = jsub(st, "connections", k);
	json_decref(st);
	return v;
}

/* proxy-stateful on udp/tcp:pport and tls:tport, users.txt, auth. */
struct setup {
	struct proc px, ch;
	bool with_ch;
	uint16_t pport, tport;
	char server[64];
};

/* proxy-stateful on s's ports (again after a stop: the same ports). */
static void proxy_start(struct setup *s, const char *auth)
{
	char pudp[64], ptcp[64], ptls[64];
	const char *pargv[] = {"proxy-stateful",
			       "--listen",
			       pudp,
			       "--listen",
			       ptcp,
			       "--listen",
			       ptls,
			       "--tls-cert",
			       "localhost.pem",
			       "--tls-key",
			       "localhost.key",
			       "--domain",
			       "example.com",
			       "--workers",
			       "1",
			       "--users-file",
			       "users.txt",
			       "--record-route",
			       "--auth",
			       auth,
			       "--control",
			       NULL};

	snprintf(pudp, sizeof(pudp), "udp:127.0.0.1:%u", s->pport);
	snprintf(ptcp, sizeof(ptcp), "tcp:127.0.0.1:%u", s->pport);
	snprintf(ptls, sizeof(ptls), "tls:127.0.0.1:%u", s->tport);
	stack_start_ready(&s->px, pargv, "ready");
}

static void setup_start(struct setup *s, const char *auth, bool callee)
{
	char clisten[64], via[64];
	const char *cargv[] = {
		"callhandler", "--listen",  clisten,	   "--users",
		"A1000-A1009", "--domain",  "example.com", "--register-via",
		via,	       "--threads", "1",	   "--control",
		NULL};

	memset(s, 0, sizeof(*s));
	make_pki();
	stack_write_users();
	s->pport = proc_free_port();
	s->tport = proc_free_port();
	proxy_start(s, auth);
	if (callee) {
		snprintf(clisten, sizeof(clisten), "udp:127.0.0.1:%u",
			 proc_free_port());
		snprintf(via, sizeof(via), "udp:127.0.0.1:%u", s->pport);
		stack_start_ready(&s->ch, cargv, "registered");
		s->with_ch = true;
	}
}

static void setup_stop(struct setup *s)
{
	if (s->with_ch)
		ASSERT_EQ(proc_stop(&s->ch, 5000), 0);
	ASSERT_EQ(proc_stop(&s->px, 5000), 0);
}

/*
 * Runs bin/loader with argv (a --json run) to its end; while it runs,
 * *mid (if not NULL) gets the proxy's open connections after mid_ms.
 */
static json_t *loader_run(struct setup *s, const char *const *argv,
			  int want_rc, unsigned mid_ms, json_int_t *mid)
{
	struct proc ld;
	json_t *j;
	int rc;

	proc_start(&ld, argv);
	if (mid) {
		usleep(mid_ms * 1000);
		*mid = proxy_conns(&s->px, "open");
	}
	j = proc_read_json(&ld, 20000);
	rc = proc_stop(&ld, 5000);
	if (!j || rc != want_rc) {
		char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;

		proc_dump_log(&ld);
		proc_dump_log(&s->px);
		fprintf(stderr, "loader summary: %s\n", d ? d : "none");
		free(d);
	}
	ASSERT(j);
	ASSERT_EQ(rc, want_rc);
	return j;
}

/* The loader's arguments: base, then extra (NULL-ended), then NULL. */
static void loader_argv(const char **argv, size_t max, const char *server,
			const char *test, const char *rate,
			const char *const *extra)
{
	const char *base[] = {"loader",	     "--test",	   test,
			      "--server",    server,	   "--users",
			      "A1000-A1009", "--domain",   "example.com",
			      "--rate",	     rate,	   "--duration",
			      "2",	     "--tls-ca",   "ca.pem",
			      "--json",	     "--password", "pw-%u"};
	size_t n = 0, i;

	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		argv[n++] = base[i];
	for (i = 0; extra && extra[i] && n + 1 < max; i++)
		argv[n++] = extra[i];
	ASSERT(n < max);
	argv[n] = NULL;
}

static void server_of(struct setup *s, const char *tp)
{
	snprintf(s->server, sizeof(s->server), "%s:127.0.0.1:%u", tp,
		 !strcmp(tp, "tls") ? s->tport : s->pport);
}

/* Every REGISTER answered 200, the proxy's count the same. */
static void check_registers(json_t *j, struct setup *s, json_int_t *att,
			    json_int_t want)
{
	json_t *ps = stack_stats(&s->px);
	json_int_t challenged;

	*att = jsonq_int(j, "attempts");
	ASSERT_MSG(*att >= want - want / 20 && *att <= want + want / 20,
		   "attempts %lld", (long long)*att);
	ASSERT_EQ(jsonq_int(j, "successes"), *att);
	ASSERT_EQ(jsonq_int(j, "failures"), 0);
	ASSERT_EQ(jsonq_int(ps, "registers_ok"), *att);
	challenged = jcode(ps, "responses_sent", "401");
	ASSERT_EQ(challenged, jsonq_int(j, "auth_challenges"));
	json_decref(ps);
}

/*
 * register over TCP with digest auth (a challenge per REGISTER), a
 * persistent pool of 3 over 2 threads: the proxy accepted exactly 3,
 * open throughout the run, each REGISTER and its retry on its user's.
 */
TEST_TIMEOUT(loader_conn_tcp_register_auth_persistent_pool_of_3, 40)
{
	struct setup s;
	const char *extra[] = {"--conn", "persistent:3", "--threads", "2",
			       NULL};
	const char *argv[40];
	json_t *j;
	json_int_t att, mid = -1;

	setup_start(&s, "register", false);
	server_of(&s, "tcp");
	loader_argv(argv, 40, s.server, "register", "50", extra);
	j = loader_run(&s, argv, 0, 1000, &mid);
	check_registers(j, &s, &att, 100);
	ASSERT_EQ(jsonq_int(j, "auth_challenges"), att);
	ASSERT_EQ(mid, 3);
	ASSERT_EQ(jsub(j, "connections", "opened"), 3);
	ASSERT_EQ(jsub(j, "connections", "established"), 3);
	ASSERT_EQ(jsub(j, "connections", "failed"), 0);
	ASSERT_EQ(jsub(j, "connections", "reopened"), 0);
	ASSERT(jsub(j, "connections", "pool_open_us") > 0);
	ASSERT_EQ(proxy_conns(&s.px, "accepted"), 3);
	json_decref(j);
	setup_stop(&s);
}

/*
 * register over TLS, per-request, preloaded credentials (one challenge
 * per user), resumption on: a connection per transaction, closed at
 * its end; the handshakes after the first session resume.  25/s: a
 * user's REGISTERs 400 ms apart, so that none overtakes the previous
 * one on its own connection (the proxy refuses a nonce count that goes
 * back, a replay to it, RFC 7616 §3.4, and challenges again).
 */
TEST_TIMEOUT(loader_conn_tls_register_per_request_preloaded_resumes, 40)
{
	struct setup s;
	const char *extra[] = {"--conn", "per-request",		  "--threads",
			       "1",	 "--preload-credentials", NULL};
	const char *argv[40];
	json_t *j;
	json_int_t att, opened, full, resumed, challenged;

	setup_start(&s, "register", false);
	server_of(&s, "tls");
	loader_argv(argv, 40, s.server, "register", "25", extra);
	j = loader_run(&s, argv, 0, 0, NULL);
	check_registers(j, &s, &att, 50);
	/* one per user, and (rarely, on a loaded machine) one more for a
	 * REGISTER that overtook its predecessor: the proxy's 401s are
	 * the same count (check_registers) */
	challenged = jsonq_int(j, "auth_challenges");
	ASSERT_MSG(challenged >= 10 && challenged <= 12, "%lld challenges",
		   (long long)challenged);
	opened = jsub(j, "connections", "opened");
	full = jsub(j, "connections", "tls_full");
	resumed = jsub(j, "connections", "tls_resumed");
	/* one per transaction: the REGISTERs and their retries */
	ASSERT_EQ(opened, att + challenged);
	ASSERT_EQ(jsub(j, "connections", "closed"), opened);
	ASSERT_EQ(full + resumed, opened);
	ASSERT(full >= 1);
	ASSERT_MSG(resumed > opened / 2, "resumed %lld of %lld",
		   (long long)resumed, (long long)opened);
	ASSERT_EQ(proxy_conns(&s.px, "accepted"), opened);
	ASSERT_EQ(proxy_conns(&s.px, "tls_resumed"), resumed);
	ASSERT_EQ(proxy_conns(&s.px, "tls_full"), full);
	ASSERT_EQ(proxy_conns(&s.px, "open"), 0);
	json_decref(j);
	setup_stop(&s);
}

/* The same without resumption: every handshake in full. */
TEST_TIMEOUT(loader_conn_tls_register_per_request_no_resume_all_full, 40)
{
	struct setup s;
	const char *extra[] = {"--conn",       "per-request", "--threads", "2",
			       "--tls-resume", "off",	      NULL};
	const char *argv[40];
	json_t *j;
	json_int_t att;

	setup_start(&s, "none", false);
	server_of(&s, "tls");
	loader_argv(argv, 40, s.server, "register", "50", extra);
	j = loader_run(&s, argv, 0, 0, NULL);
	check_registers(j, &s, &att, 100);
	ASSERT_EQ(jsonq_int(j, "auth_challenges"), 0);
	ASSERT_EQ(jsub(j, "connections", "opened"), att);
	ASSERT_EQ(jsub(j, "connections", "closed"), att);
	ASSERT_EQ(jsub(j, "connections", "tls_full"), att);
	ASSERT_EQ(jsub(j, "connections", "tls_resumed"), 0);
	ASSERT_EQ(proxy_conns(&s.px, "tls_full"), att);
	ASSERT_EQ(proxy_conns(&s.px, "tls_resumed"), 0);
	json_decref(j);
	setup_stop(&s);
}

/* Control mode: the pool is up before the first send, and "ready" says
 * so; nothing has been sent yet. */
TEST_TIMEOUT(loader_conn_pool_is_open_before_start, 30)
{
	struct setup s;
	struct proc ld;
	const char *argv[] = {"loader",	  "--control",	 "--test",
			      "register", "--server",	 NULL,
			      "--users",  "A1000-A1009", "--threads",
			      "2",	  "--conn",	 "persistent:4",
			      NULL};
	json_t *ev, *r, *st;

	setup_start(&s, "none", false);
	server_of(&s, "tcp");
	argv[5] = s.server;
	proc_start(&ld, argv);
	ev = proc_wait_event(&ld, "ready", 10000);
	ASSERT(ev);
	ASSERT_STR(json_string_value(json_object_get(ev, "conn")), "persisten"
								   "t");
	json_decref(ev);
	r = proc_cmd(&ld, "stats", NULL, 3000);
	ASSERT(r);
	st = json_object_get(r, "loader");
	ASSERT_EQ(jsonq_int(st, "attempts"), 0);
	ASSERT_EQ(jsub(st, "connections", "opened"), 4);
	ASSERT_EQ(jsub(st, "connections", "established"), 4);
	ASSERT(jsub(st, "connections", "pool_open_us") > 0);
	json_decref(r);
	ASSERT_EQ(proxy_conns(&s.px, "open"), 4);
	ASSERT_EQ(proxy_conns(&s.px, "accepted"), 4);
	ASSERT_EQ(proc_stop(&ld, 5000), 0);
	ASSERT_EQ(proxy_conns(&s.px, "open"), 0);
	setup_stop(&s);
}

/* invite through the proxy to the callhandler: the three agree. */
static void check_calls(json_t *j, struct setup *s, json_int_t *att)
{
	json_t *ps = stack_stats(&s->px), *cs = stack_stats(&s->ch);
	json_int_t challenged;

	*att = jsonq_int(j, "attempts");
	ASSERT_MSG(*att >= 38 && *att <= 42, "attempts %lld", (long long)*att);
	ASSERT_EQ(jsonq_int(j, "successes"), *att);
	ASSERT_EQ(jsonq_int(j, "failures"), 0);
	ASSERT_EQ(jsub(j, "calls", "completed"), *att);
	JSONQ_EXPECT(cs, {"invites", *att}, {"answered", *att}, {"acks", *att},
		     {"byes", *att});
	/* the ACKs followed the Record-Route, through the proxy */
	ASSERT_EQ(jsonq_int(ps, "acks_forwarded"), *att);
	challenged = jcode(ps, "responses_sent", "407");
	ASSERT_EQ(challenged, jsonq_int(j, "auth_challenges"));
	json_decref(ps);
	json_decref(cs);
}

/* Calls over TLS on a pool of 2 (one per thread): the whole dialogs
 * of every call on its caller's connection. */
TEST_TIMEOUT(loader_conn_tls_invite_persistent_via_proxy, 40)
{
	struct setup s;
	const char *extra[] = {"--conn",    "persistent", "--threads", "2",
			       "--hold-ms", "100",	  NULL};
	const char *argv[40];
	json_t *j;
	json_int_t att, mid = -1;

	setup_start(&s, "invite", true);
	server_of(&s, "tls");
	loader_argv(argv, 40, s.server, "invite", "20", extra);
	j = loader_run(&s, argv, 0, 1000, &mid);
	check_calls(j, &s, &att);
	ASSERT_EQ(jsonq_int(j, "auth_challenges"), att);
	ASSERT_EQ(mid, 2);
	ASSERT_EQ(jsub(j, "connections", "opened"), 2);
	ASSERT_EQ(jsub(j, "connections", "reopened"), 0);
	ASSERT_EQ(jsub(j, "connections", "tls_full") +
			  jsub(j, "connections", "tls_resumed"),
		  2);
	ASSERT_EQ(proxy_conns(&s.px, "accepted"), 2);
	json_decref(j);
	setup_stop(&s);
}

/* Calls over TCP, per-request, preloaded: a connection per call (its
 * challenged INVITE included), INVITE to BYE, then closed. */
TEST_TIMEOUT(loader_conn_tcp_invite_per_request_preloaded, 40)
{
	struct setup s;
	const char *extra[] = {"--conn",
			       "per-request",
			       "--threads",
			       "1",
			       "--hold-ms",
			       "100",
			       "--preload-credentials",
			       NULL};
	const char *argv[40];
	json_t *j;
	json_int_t att;

	setup_start(&s, "invite", true);
	server_of(&s, "tcp");
	loader_argv(argv, 40, s.server, "invite", "20", extra);
	j = loader_run(&s, argv, 0, 0, NULL);
	check_calls(j, &s, &att);
	ASSERT_EQ(jsonq_int(j, "auth_challenges"), 10);
	ASSERT_EQ(jsub(j, "connections", "opened"), att);
	ASSERT_EQ(jsub(j, "connections", "closed"), att);
	ASSERT_EQ(proxy_conns(&s.px, "accepted"), att);
	ASSERT_EQ(proxy_conns(&s.px, "open"), 0);
	json_decref(j);
	setup_stop(&s);
}

/*
 * The server goes away mid-run and comes back on the same port: the
 * pool's connection is opened again on the next send (the connects
 * refused meanwhile count as failed), the REGISTERs lost with it time
 * out, and both servers' counts add up to the loader's successes.
 */
TEST_TIMEOUT(loader_conn_tcp_dropped_pool_connection_is_reopened, 40)
{
	struct setup s;
	const char *extra[] = {"--conn",
			       "persistent",
			       "--threads",
			       "1",
			       "--duration",
			       "3",
			       "--timer-b-ms",
			       "500",
			       "--drain-ms",
			       "1000",
			       NULL};
	const char *argv[40];
	struct proc ld;
	json_t *j, *r, *sum;
	json_int_t att, ok, ok1, ok2;
	int rc;

	setup_start(&s, "none", false);
	server_of(&s, "tcp");
	loader_argv(argv, 40, s.server, "register", "50", extra);
	proc_start(&ld, argv);
	usleep(1000 * 1000);
	r = proc_cmd(&s.px, "stop", NULL, 3000);
	ASSERT(r);
	json_decref(r);
	sum = proc_wait_event(&s.px, "summary", 5000);
	ASSERT_MSG(sum, "no summary from the first proxy");
	ok1 = jsonq_int(sum, "registers_ok");
	ASSERT(ok1 >= 40);
	ASSERT_EQ(jsub(sum, "connections", "accepted"), 1);
	json_decref(sum);
	ASSERT_EQ(proc_stop(&s.px, 5000), 0);
	proxy_start(&s, "none");
	j = proc_read_json(&ld, 20000);
	rc = proc_stop(&ld, 5000);
	if (!j)
		proc_dump_log(&ld);
	ASSERT(j);
	att = jsonq_int(j, "attempts");
	ok = jsonq_int(j, "successes");
	ok2 = proxy_conns(&s.px, "accepted");
	ASSERT_EQ(ok2, 1);
	{
		json_t *ps = stack_stats(&s.px);

		ok2 = jsonq_int(ps, "registers_ok");
		json_decref(ps);
	}
	ASSERT_MSG(ok2 >= 40, "after the restart: %lld", (long long)ok2);
	/* The first proxy's summary is a snapshot taken as it stops: a
	 * REGISTER in flight may be answered after it, or counted and its
	 * 200 lost with the connection. */
	ASSERT_MSG(ok + 2 >= ok1 + ok2 && ok <= ok1 + ok2 + 2,
		   "loader %lld, proxies %lld + %lld", (long long)ok,
		   (long long)ok1, (long long)ok2);
	ASSERT_EQ(jsonq_int(j, "failures"), att - ok);
	/* lost with the first server, or refused while it was away */
	ASSERT_EQ(jsonq_int(j, "timeouts") + jsonq_int(j, "transport_errors"),
		  att - ok);
	ASSERT(jsub(j, "connections", "reopened") >= 1);
	ASSERT_EQ(jsub(j, "connections", "opened"),
		  1 + jsub(j, "connections", "reopened"));
	ASSERT_EQ(jsub(j, "connections", "established"), 2);
	ASSERT_EQ(rc, att == ok ? 0 : 1);
	json_decref(j);
	setup_stop(&s);
}

static double now_s(void)
{
	return (double)ev_monotonic_ns() / 1e9;
}

/*
 * A CA that did not sign the proxy's certificate: every handshake
 * fails, each counted, the transactions time out (Timer B), the run
 * ends within its duration and drain, exit code 1.
 */
TEST_TIMEOUT(loader_conn_tls_wrong_ca_counts_failures_and_exits_1, 30)
{
	struct setup s;
	const char *extra[] = {"--tls-ca",   "rogue/ca.pem", "--threads",
			       "1",	     "--timer-b-ms", "500",
			       "--drain-ms", "1000",	     NULL};
	const char *argv[40];
	json_t *j;
	json_int_t att, failed;
	double t0;

	setup_start(&s, "none", false);
	server_of(&s, "tls");
	loader_argv(argv, 40, s.server, "register", "20", extra);
	t0 = now_s();
	j = loader_run(&s, argv, 1, 0, NULL);
	/* 2 s of sending, 1 s of drain; start-up and exit in the rest */
	ASSERT_MSG(now_s() - t0 < 5.0, "took %.1f s", now_s() - t0);
	att = jsonq_int(j, "attempts");
	failed = jsub(j, "connections", "failed");
	ASSERT(att >= 38 && att <= 42);
	ASSERT_EQ(jsonq_int(j, "successes"), 0);
	ASSERT_EQ(jsonq_int(j, "failures"), att);
	ASSERT(failed >= 1);
	ASSERT_EQ(jsub(j, "connections", "tls_full"), 0);
	ASSERT_EQ(jsub(j, "connections", "established"), 0);
	/* the pool's one connection, then one reopen per failed one */
	ASSERT_EQ(jsub(j, "connections", "opened"), failed);
	ASSERT_EQ(jsub(j, "connections", "reopened"), failed - 1);
	ASSERT_EQ(proxy_conns(&s.px, "tls_failed"), failed);
	json_decref(j);
	setup_stop(&s);
}

/* Bad connection and TLS flags: exit 2; an unreadable CA file: a clear
 * error naming it, exit 1, before anything is sent. */
TEST(loader_conn_bad_flags_and_files)
{
	const char *base[] = {"loader",	 "--server",   "tls:127.0.0.1:5061",
			      "--users", "A1-A2",      "--rate",
			      "1",	 "--duration", "1",
			      NULL,	 NULL,	       NULL,
			      NULL};
	static const char *const bad[][3] = {
		{"--conn", "bogus", NULL},
		{"--conn", "persistent:0", NULL},
		{"--conn", "persistent:x", NULL},
		{"--conn", "per-requests", NULL},
		{"--tls-resume", "maybe", NULL},
		{"--tls-cert", "c.pem", NULL}, /* no --tls-key */
	};
	size_t len;
	char *log;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		base[9] = bad[i][0];
		base[10] = bad[i][1];
		base[11] = bad[i][2];
		ASSERT_MSG(proc_run(base, "bad.log", 5000) == 2, "%s %s",
			   bad[i][0], bad[i][1]);
	}
	base[9] = "--tls-ca";
	base[10] = "missing-ca.pem";
	base[11] = NULL;
	ASSERT_EQ(proc_run(base, "ca.log", 5000), 1);
	log = test_read_file("ca.log", &len);
	ASSERT_MSG(strstr(log, "missing-ca.pem"), "%s", log);
	free(log);
}

/* ---- kamailio over TLS ---- */

/* kamailio (tests/kamailio/registrar.cfg) with a TLS listener (the
 * certificate make_pki() wrote) and UDP on uport; digest auth of
 * A1000..A1009 on REGISTER when auth. */
static void kam_tls_start(struct kamailio *k, uint16_t uport, bool auth)
{
	char cert[600], key[600];
	struct kamailio_opts o = {.tls_cert = cert, .tls_key = key};

	if (!kamailio_available(true))
		test_skip("kamailio with its tls module is not installed");
	snprintf(cert, sizeof(cert), "%s/localhost.pem", test_tmp_dir());
	snprintf(key, sizeof(key), "%s/localhost.key", test_tmp_dir());
	if (auth) {
		o.auth_prefix = "A";
		o.auth_first = 1000;
		o.auth_last = 1009;
		o.auth_register = true;
	}
	kamailio_start(k, uport, &o);
}

/*
 * kamailio as registrar over TLS (its own session cache and tickets),
 * per-request with resumption, then a pool of 2: every REGISTER 200,
 * and the name the loader verifies is the certificate's.
 */
TEST_TIMEOUT(loader_conn_tls_register_to_kamailio, 40)
{
	struct kamailio k;
	struct proc ld;
	uint16_t uport = proc_free_port();
	char server[64];
	const char *argv[] = {
		"loader",   "--test",	   "register",	 "--server",  server,
		"--users",  "A1000-A1009", "--domain",	 "127.0.0.1", "--rate",
		"50",	    "--duration",  "1",		 "--threads", "1",
		"--tls-ca", "ca.pem",	   "--tls-name", "localhost", "--json",
		"--conn",   "per-request", NULL};
	json_t *j;
	json_int_t att, opened;
	int rc;

	make_pki();
	kam_tls_start(&k, uport, false);
	kamailio_addr(&k, "tls", server, sizeof(server));
	proc_start(&ld, argv);
	j = proc_read_json(&ld, 15000);
	rc = proc_stop(&ld, 5000);
	if (!j || rc) {
		proc_dump_log(&ld);
		proc_dump_log(&k.proc);
	}
	ASSERT(j);
	ASSERT_EQ(rc, 0);
	att = jsonq_int(j, "attempts");
	opened = jsub(j, "connections", "opened");
	ASSERT(att >= 48 && att <= 52);
	ASSERT_EQ(jsonq_int(j, "successes"), att);
	ASSERT_EQ(jsub(j, "codes", "200"), att);
	ASSERT_EQ(opened, att);
	ASSERT_EQ(jsub(j, "connections", "closed"), att);
	ASSERT(jsub(j, "connections", "tls_resumed") > 0);
	ASSERT_EQ(jsub(j, "connections", "tls_full") +
			  jsub(j, "connections", "tls_resumed"),
		  att);
	json_decref(j);

	/* A name the certificate does not carry: no connection. */
	argv[10] = "10";
	argv[18] = "wrong.example";
	argv[21] = "persistent";
	proc_start(&ld, argv);
	j = proc_read_json(&ld, 15000);
	rc = proc_stop(&ld, 8000);
	ASSERT(j);
	ASSERT_EQ(rc, 1);
	ASSERT_EQ(jsonq_int(j, "successes"), 0);
	ASSERT(jsub(j, "connections", "failed") >= 1);
	json_decref(j);
	kamailio_stop(&k);
}

/* ---- through the orchestrator ---- */

/*
 * orchestrator run over TLS with --connection per-request on the local
 * inventory: the per-run CA signs every role's certificate, the loader
 * verifies the proxy's, a connection per REGISTER, and the bundle's
 * setup says so.
 */
TEST_TIMEOUT(loader_conn_orchestrator_tls_per_request_run, 120)
{
	const char *argv[] = {
		"orchestrator",	       "run",	    "t.json",  "--hosts",
		orchrun_local_hosts(), "--results", "results", "--connection",
		"per-request",	       NULL};
	char dir[600], path[800], cmd[1400];
	json_t *sum, *setup;
	json_error_t jerr;
	json_int_t att;
	size_t len;
	char *text;

	orchrun_prepare("s0p1-tls", NULL);
	orchrun_expect(argv, 0, 100000);
	orchrun_bundle_dir(dir, sizeof(dir));
	/* The loader's own summary: a connection per REGISTER, each one
	 * verified against the run's CA and closed. */
	snprintf(path, sizeof(path), "%s/logs/ld1.summary.json", dir);
	sum = json_load_file(path, 0, &jerr);
	ASSERT_MSG(sum, "%s: %s", path, jerr.text);
	att = jsonq_int(sum, "attempts");
	if (jsonq_int(sum, "successes") != att) {
		char *d = json_dumps(sum, JSON_COMPACT);

		fprintf(stderr, "ld1 summary: %s\n", d ? d : "?");
		free(d);
		text = test_read_file("run.log", &len);
		fprintf(stderr, "%s", text);
		free(text);
		snprintf(cmd, sizeof(cmd),
			 "tail -n 20 %s/logs/ld1.log %s/logs/sf1.log >&2", dir,
			 dir);
		if (system(cmd))
			fprintf(stderr, "no role logs\n");
	}
	ASSERT(att >= 250);
	ASSERT_EQ(jsonq_int(sum, "successes"), att);
	ASSERT_EQ(jsub(sum, "connections", "opened"), att);
	ASSERT_EQ(jsub(sum, "connections", "closed"), att);
	ASSERT_EQ(jsub(sum, "connections", "failed"), 0);
	ASSERT_EQ(jsub(sum, "connections", "tls_full") +
			  jsub(sum, "connections", "tls_resumed"),
		  att);
	json_decref(sum);
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	setup = json_load_file(path, 0, &jerr);
	ASSERT_MSG(setup, "%s: %s", path, jerr.text);
	ASSERT_STR(json_string_value(json_object_get(
			   json_object_get(setup, "setup"), "connection")),
		   "per-request");
	json_decref(setup);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	text = test_read_file(path, &len);
	ASSERT(strstr(text, "connection reuse</th><td class=l>per-request"));
	free(text);
}

/* kamailio over TLS with digest auth (auth_db, db_text), persistent,
 * preloaded credentials: a challenge per user, then none. */
TEST_TIMEOUT(loader_conn_tls_register_to_kamailio_digest_preloaded, 40)
{
	struct kamailio k;
	struct proc ld;
	uint16_t uport = proc_free_port();
	char server[64];
	const char *argv[] = {"loader",	     "--test",
			      "register",    "--server",
			      server,	     "--users",
			      "A1000-A1009", "--domain",
			      "127.0.0.1",   "--rate",
			      "50",	     "--duration",
			      "1",	     "--threads",
			      "1",	     "--tls-ca",
			      "ca.pem",	     "--tls-name",
			      "localhost",   "--password",
			      "pw-%u",	     "--preload-credentials",
			      "--json",	     NULL};
	json_t *j;
	json_int_t att;
	int rc;

	make_pki();
	kam_tls_start(&k, uport, true);
	kamailio_addr(&k, "tls", server, sizeof(server));
	proc_start(&ld, argv);
	j = proc_read_json(&ld, 15000);
	rc = proc_stop(&ld, 5000);
	if (!j || rc) {
		proc_dump_log(&ld);
		proc_dump_log(&k.proc);
	}
	ASSERT(j);
	ASSERT_EQ(rc, 0);
	att = jsonq_int(j, "attempts");
	ASSERT(att >= 48 && att <= 52);
	ASSERT_EQ(jsonq_int(j, "successes"), att);
	ASSERT_EQ(jsub(j, "codes", "200"), att);
	ASSERT_EQ(jsonq_int(j, "auth_challenges"), 10);
	ASSERT_EQ(jsub(j, "connections", "opened"), 1);
	ASSERT_EQ(jsub(j, "connections", "tls_full"), 1);
	json_decref(j);
	kamailio_stop(&k);
}
