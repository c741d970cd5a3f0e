/*
 * The agents against kamailio as the independent server (the agents
 * issue's interoperability matrix): bin/loader registering with kamailio
 * as registrar (no auth, digest auth, preloaded credentials, a wrong
 * password), and making calls and OPTIONS through kamailio as proxy
 * (usrloc lookup, Record-Route, digest on INVITE) to bin/callhandler,
 * which registered its users through it; over UDP, TCP and TLS (a CA and
 * a localhost certificate of the test's own, orchestrator/pki.c).  Every
 * count is checked three ways: the loader's figures, the callhandler's,
 * and kamailio's own counters read over its ctl socket
 * (tests/kamailio.c).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "kamailio.h"
#include "pki.h"
#include "proc.h"
#include "jsonq.h"
#include "test.h"

#define USERS "A1000-A1009"
#define NUSERS 10

static bool is_tls(const char *tp)
{
	return !strcmp(tp, "tls");
}

/*
 * Starts kamailio with UDP and TCP listeners, and over TLS a TLS one
 * with a certificate for localhost and 127.0.0.1 signed by ca.pem (all
 * in the test's directory); with reg_auth REGISTER and with invite_auth
 * initial INVITEs need the users' digest credentials ("pw-<user>").
 */
static void kamailio_for(struct kamailio *k, const char *tp, bool reg_auth,
			 bool invite_auth)
{
	struct kamailio_opts ko = {.tcp = true};
	char cert[PATH_MAX], key[PATH_MAX], why[256];
	struct pki *pk = NULL;

	if (!kamailio_available(is_tls(tp)))
		test_skip("kamailio (registrar, auth_db, db_text, ctl, tmx%s) "
			  "or kamcmd is not installed",
			  is_tls(tp) ? ", tls" : "");
	ko.auth_prefix = "A";
	ko.auth_first = 1000;
	ko.auth_last = 1000 + NUSERS - 1;
	ko.auth_register = reg_auth;
	ko.auth_invite = invite_auth;
	if (is_tls(tp)) {
		ASSERT_MSG(!pki_create(&pk, ".", 1, why, sizeof(why)), "%s",
			   why);
		ASSERT_MSG(!pki_issue(pk, "localhost", "127.0.0.1", why,
				      sizeof(why)),
			   "%s", why);
		pki_free(pk);
		snprintf(cert, sizeof(cert), "%s/localhost.pem",
			 test_tmp_dir());
		snprintf(key, sizeof(key), "%s/localhost.key", test_tmp_dir());
		ko.tls_cert = cert;
		ko.tls_key = key;
	}
	kamailio_start(k, proc_free_port(), &ko);
}

/* The loader's TLS flags: verify kamailio's certificate, by name. */
/* Over TLS: the loader's one connection was a verified TLS session. */
static void check_loader_tls(json_t *j, const char *tp)
{
	json_t *c = json_object_get(j, "connections");

	if (!is_tls(tp))
		return;
	ASSERT_MSG(c, "no connection counters in the loader's summary");
	ASSERT_EQ(jsonq_int(c, "tls_full"), 1);
	ASSERT_EQ(jsonq_int(c, "failed"), 0);
}

static void loader_tls_args(const char **argv, size_t *n, const char *tp)
{
	if (!is_tls(tp))
		return;
	argv[(*n)++] = "--tls-ca";
	argv[(*n)++] = "ca.pem";
	argv[(*n)++] = "--tls-name";
	argv[(*n)++] = "localhost";
}

/*
 * Runs bin/loader with argv to its end; its --json summary.  When it
 * fails, the logs of the loader and of its peers (NULL: none) show why.
 */
static json_t *loader_json(const char *const *argv, int want_rc,
			   struct kamailio *k, struct proc *ch)
{
	struct proc ld;
	json_t *j;
	int rc;

	proc_start(&ld, argv);
	j = proc_read_json(&ld, 15000);
	rc = proc_stop(&ld, 5000);
	if (!j || rc != want_rc) {
		char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;

		proc_dump_log(&ld);
		if (k)
			proc_dump_log(&k->proc);
		if (ch)
			proc_dump_log(ch);
		fprintf(stderr, "loader summary: %s\n", d ? d : "none");
		free(d);
	}
	ASSERT_MSG(j, "the loader printed no summary");
	ASSERT_MSG(rc == want_rc, "the loader exited %d, not %d", rc, want_rc);
	return j;
}

/*
 * What kamailio counted (got) against what the agents' figures say it
 * must have (want): equal, but that each of the loader's retransmissions
 * over UDP (slack) may add one.
 */
static void agree(const char *what, long long got, long long want,
		  long long slack)
{
	ASSERT_MSG(got >= want && got <= want + slack,
		   "%s: kamailio counted %lld, the agents %lld "
		   "(+ up to %lld retransmissions)",
		   what, got, want, slack);
}

/* The replies kamailio sent statelessly (sl.stats's classes are
 * disjoint: "2xx" is a 2xx other than 200 and 202). */
static long long sl_replies(json_t *after, json_t *before)
{
	const char *name;
	json_t *v;
	long long n = 0;

	json_object_foreach(after, name, v)
	{
		if (!strncmp(name, "sl.stats:", 9))
			n += kamailio_stat_diff(after, before, name);
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* loader -> kamailio as registrar                                     */

enum auth_mode {
	AUTH_NONE,
	AUTH_DIGEST,	/* a challenge per request */
	AUTH_PRELOADED, /* a challenge per user, then credentials up front */
};

static void register_via_kamailio(const char *tp, enum auth_mode auth)
{
	char server[64];
	const char *argv[32] = {"loader",   "--test",	 "register",
				"--server", server,	 "--users",
				USERS,	    "--domain",	 "127.0.0.1",
				"--rate",   "100",	 "--duration",
				"2",	    "--threads", "1",
				"--json"};
	size_t n = 16;
	struct kamailio k;
	json_t *before, *after, *j;
	long long att, ok, chal, retr, k_reg, k_200, k_401;

	kamailio_for(&k, tp, auth != AUTH_NONE, false);
	kamailio_addr(&k, tp, server, sizeof(server));
	if (auth != AUTH_NONE) {
		argv[n++] = "--password";
		argv[n++] = "pw-%u";
	}
	if (auth == AUTH_PRELOADED)
		argv[n++] = "--preload-credentials";
	loader_tls_args(argv, &n, tp);
	argv[n] = NULL;
	before = kamailio_stats_settled(&k);
	j = loader_json(argv, 0, &k, NULL);
	after = kamailio_stats_settled(&k);
	att = jsonq_int(j, "attempts");
	ok = jsonq_int(j, "successes");
	chal = jsonq_int(j, "auth_challenges");
	retr = jsonq_int(j, "retransmissions");
	/* 100/s for 2 s (the rate itself is t_loader's subject). */
	ASSERT_MSG(att >= 190 && att <= 202, "attempts %lld", att);
	ASSERT_EQ(ok, att);
	ASSERT_EQ(jsonq_int(j, "failures"), 0);
	ASSERT_EQ(jsonq_int(json_object_get(j, "codes"), "200"), att);
	if (auth == AUTH_NONE)
		ASSERT_EQ(chal, 0);
	else if (auth == AUTH_DIGEST)
		ASSERT_EQ(chal, att);
	else
		ASSERT_MSG(chal == NUSERS,
			   "preloaded: %lld challenges, not one per user",
			   chal);
	/*
	 * kamailio got each attempt, each answer to a challenge and each
	 * retransmission, and answered every one of them statelessly
	 * (a retransmission again): a 401 or a 200.
	 */
	k_reg = kamailio_stat_diff(after, before,
				   "core:rcv_requests_register");
	k_200 = kamailio_stat_diff(after, before, "sl.stats:200");
	k_401 = kamailio_stat_diff(after, before, "sl.stats:401");
	ASSERT_MSG(k_reg == att + chal + retr,
		   "kamailio counted %lld REGISTERs, the loader sent %lld "
		   "attempts + %lld answered challenges + %lld "
		   "retransmissions",
		   k_reg, att, chal, retr);
	ASSERT_MSG(k_200 + k_401 == k_reg &&
			   sl_replies(after, before) == k_reg,
		   "kamailio sent %lld 200 + %lld 401 to %lld REGISTERs",
		   k_200, k_401, k_reg);
	agree("REGISTER 200s", k_200, ok, retr);
	agree("REGISTER 401s", k_401, chal, retr);
	agree("registrar:accepted_regs",
	      kamailio_stat_diff(after, before, "registrar:accepted_regs"), ok,
	      retr);
	ASSERT_EQ(kamailio_stat_diff(after, before, "registrar:rejected_regs"),
		  0);
	/* One binding per user: a new Call-ID each time, the same
	 * Contact. */
	ASSERT_EQ(jsonq_int(after, "usrloc:registered_users"), NUSERS);
	/* Over TCP and TLS, the loader's one connection (one thread). */
	if (strcmp(tp, "udp"))
		ASSERT_EQ(kamailio_stat_diff(after, before,
					     "tcp:passive_open"),
			  1);
	check_loader_tls(j, tp);
	json_decref(j);
	json_decref(before);
	json_decref(after);
	kamailio_stop(&k);
}

TEST_TIMEOUT(agents_kamailio_register_udp, 20)
{
	register_via_kamailio("udp", AUTH_NONE);
}

TEST_TIMEOUT(agents_kamailio_register_tcp, 20)
{
	register_via_kamailio("tcp", AUTH_NONE);
}

TEST_TIMEOUT(agents_kamailio_register_udp_auth, 20)
{
	register_via_kamailio("udp", AUTH_DIGEST);
}

TEST_TIMEOUT(agents_kamailio_register_tcp_auth, 20)
{
	register_via_kamailio("tcp", AUTH_DIGEST);
}

TEST_TIMEOUT(agents_kamailio_register_udp_preloaded_auth, 20)
{
	register_via_kamailio("udp", AUTH_PRELOADED);
}

TEST_TIMEOUT(agents_kamailio_register_tcp_preloaded_auth, 20)
{
	register_via_kamailio("tcp", AUTH_PRELOADED);
}

TEST_TIMEOUT(agents_kamailio_register_tls, 20)
{
	register_via_kamailio("tls", AUTH_NONE);
}

TEST_TIMEOUT(agents_kamailio_register_tls_auth, 20)
{
	register_via_kamailio("tls", AUTH_DIGEST);
}

TEST_TIMEOUT(agents_kamailio_register_tls_preloaded_auth, 20)
{
	register_via_kamailio("tls", AUTH_PRELOADED);
}

/*
 * A wrong password: kamailio challenges each REGISTER, refuses the
 * credentials with another 401, and the loader, having answered one
 * challenge, counts the second as the REGISTER's failure.
 */
TEST_TIMEOUT(agents_kamailio_register_udp_wrong_password, 20)
{
	char server[64];
	const char *argv[] = {
		"loader",     "--test",	    "register", "--server",  server,
		"--users",    USERS,	    "--domain", "127.0.0.1", "--rate",
		"50",	      "--duration", "1",	"--threads", "1",
		"--password", "wrong-%u",   "--json",	NULL};
	struct kamailio k;
	json_t *before, *after, *j;
	long long att, retr;

	kamailio_for(&k, "udp", true, false);
	kamailio_addr(&k, "udp", server, sizeof(server));
	before = kamailio_stats_settled(&k);
	j = loader_json(argv, 1, &k, NULL);
	after = kamailio_stats_settled(&k);
	att = jsonq_int(j, "attempts");
	retr = jsonq_int(j, "retransmissions");
	ASSERT_MSG(att >= 45 && att <= 52, "attempts %lld", att);
	ASSERT_EQ(jsonq_int(j, "successes"), 0);
	ASSERT_EQ(jsonq_int(j, "failures"), att);
	ASSERT_EQ(jsonq_int(json_object_get(j, "codes"), "401"), att);
	ASSERT_EQ(jsonq_int(j, "auth_challenges"), att);
	agree("REGISTERs received",
	      kamailio_stat_diff(after, before, "core:rcv_requests_register"),
	      2 * att, retr);
	agree("401s sent", kamailio_stat_diff(after, before, "sl.stats:401"),
	      2 * att, retr);
	ASSERT_EQ(sl_replies(after, before),
		  kamailio_stat_diff(after, before, "sl.stats:401"));
	ASSERT_EQ(kamailio_stat_diff(after, before, "registrar:accepted_regs"),
		  0);
	ASSERT_EQ(jsonq_int(after, "usrloc:registered_users"), 0);
	json_decref(j);
	json_decref(before);
	json_decref(after);
	kamailio_stop(&k);
}

/* ------------------------------------------------------------------ */
/* loader -> kamailio as proxy -> callhandler                          */

/*
 * Starts the callhandler listening on tp (its only listener, so its
 * Contact) with the users registered through kamailio over tp; waits
 * until every one is.  fail_486: the percentage it answers busy.
 */
static void callhandler_via(struct proc *ch, struct kamailio *k,
			    const char *tp, const char *fail_486)
{
	char listen[64], via[64];
	struct proc_argv argv = {.n = 0};
	json_t *ev;

	snprintf(listen, sizeof(listen), "%s:127.0.0.1:%u", tp,
		 proc_free_port());
	kamailio_addr(k, tp, via, sizeof(via));
	proc_argv_add(&argv, "callhandler", "--control", "--listen", listen,
		      "--users", USERS, "--domain", "127.0.0.1",
		      "--register-via", via, "--threads", "1", "--fail-486",
		      fail_486, NULL);
	/* Over TLS it serves with kamailio's certificate (localhost,
	 * 127.0.0.1) and verifies kamailio's as the registrar's. */
	if (is_tls(tp))
		proc_argv_add(&argv, "--tls-cert", "localhost.pem",
			      "--tls-key", "localhost.key", "--tls-ca",
			      "ca.pem", NULL);
	proc_start(ch, argv.v);
	ev = proc_wait_event(ch, "registered", 8000);
	if (!ev) {
		proc_dump_log(ch);
		proc_dump_log(&k->proc);
	}
	ASSERT_MSG(ev, "the callhandler did not register through kamailio");
	ASSERT_MSG(
		jsonq_int(ev, "registered") == NUSERS && !jsonq_int(ev, "faile"
									"d"),
		"the callhandler registered %lld of %d users (%lld failed)",
		jsonq_int(ev, "registered"), NUSERS, jsonq_int(ev, "failed"));
	json_decref(ev);
}

static json_t *stats_of(struct proc *p)
{
	json_t *r = proc_cmd(p, "stats", NULL, 3000);

	ASSERT_MSG(r && json_is_true(json_object_get(r, "ok")), "%s: no stats",
		   p->name);
	return r;
}

/*
 * Calls from the loader through kamailio (lookup, record_route, t_relay)
 * to the callhandler, which answers 10% of them 486.  The ACKs and BYEs
 * follow the Record-Route back through kamailio.  With auth, kamailio
 * challenges the initial INVITEs (407, statelessly) for the caller's
 * credentials.
 */
static void invite_via_kamailio(const char *tp, enum auth_mode auth)
{
	char server[64];
	const char *argv[32] = {"loader",    "--test",	  "invite",
				"--server",  server,	  "--users",
				USERS,	     "--domain",  "127.0.0.1",
				"--rate",    "50",	  "--duration",
				"2",	     "--threads", "1",
				"--hold-ms", "100",	  "--json"};
	size_t n = 18;
	struct kamailio k;
	struct proc ch;
	json_t *before, *after, *j, *cs;
	long long att, ans, busy, retr, slack, chal;

	kamailio_for(&k, tp, false, auth != AUTH_NONE);
	callhandler_via(&ch, &k, tp, "10");
	kamailio_addr(&k, tp, server, sizeof(server));
	if (auth != AUTH_NONE) {
		argv[n++] = "--password";
		argv[n++] = "pw-%u";
	}
	if (auth == AUTH_PRELOADED)
		argv[n++] = "--preload-credentials";
	loader_tls_args(argv, &n, tp);
	argv[n] = NULL;
	before = kamailio_stats_settled(&k);
	/* the 486s are failures: exit 1 */
	j = loader_json(argv, 1, &k, &ch);
	after = kamailio_stats_settled(&k);
	cs = stats_of(&ch);
	att = jsonq_int(j, "attempts");
	ans = jsonq_int(json_object_get(j, "calls"), "answered");
	busy = jsonq_int(json_object_get(j, "codes"), "486");
	retr = jsonq_int(j, "retransmissions");
	chal = jsonq_int(j, "auth_challenges");
	ASSERT_MSG(att >= 95 && att <= 101, "attempts %lld", att);
	ASSERT_EQ(chal, auth == AUTH_NONE     ? 0
			: auth == AUTH_DIGEST ? att
					      : NUSERS);
	/* The loader and the callhandler agree call by call. */
	ASSERT_EQ(busy, att / 10);
	ASSERT_EQ(ans + busy, att);
	ASSERT_EQ(jsonq_int(j, "successes"), ans);
	ASSERT_EQ(jsonq_int(j, "failures"), busy);
	ASSERT_EQ(jsonq_int(json_object_get(j, "calls"), "completed"), ans);
	JSONQ_EXPECT(cs, {"invites", att}, {"fail_486", busy},
		     {"answered", ans}, {"acks", ans}, {"byes", ans},
		     {"calls_alive", 0}, {"bad_in", 0});
	/*
	 * kamailio: a transaction per INVITE and per BYE (retransmissions
	 * absorbed), ending 2xx or 486 as the agents say.  Every ACK
	 * passed it: the 2xx ACKs along the Record-Route, end to end,
	 * forwarded statelessly; the 486 ACKs hop by hop to its
	 * transaction.  A challenged INVITE is answered statelessly, and
	 * sl absorbs the ACK of its 407.  Each retransmission, by the
	 * loader or of a 2xx by the callhandler (the loader ACKs it again),
	 * may add a message.
	 */
	slack = retr + jsonq_int(cs, "retrans_2xx");
	ASSERT_MSG(kamailio_stat_diff(after, before, "tm.stats:total") ==
			   att + ans,
		   "kamailio made %lld transactions for %lld INVITEs and "
		   "%lld BYEs",
		   kamailio_stat_diff(after, before, "tm.stats:total"), att,
		   ans);
	ASSERT_EQ(kamailio_stat_diff(after, before, "tm.stats:2xx"), 2 * ans);
	ASSERT_EQ(kamailio_stat_diff(after, before, "tm.stats:4xx"), busy);
	agree("INVITEs received",
	      kamailio_stat_diff(after, before, "core:rcv_requests_invite"),
	      att + chal, slack);
	agree("407s sent", kamailio_stat_diff(after, before, "sl.stats:407"),
	      chal, slack);
	ASSERT_EQ(sl_replies(after, before),
		  kamailio_stat_diff(after, before, "sl.stats:407"));
	agree("BYEs received",
	      kamailio_stat_diff(after, before, "core:rcv_requests_bye"), ans,
	      slack);
	agree("ACKs received",
	      kamailio_stat_diff(after, before, "core:rcv_requests_ack"),
	      ans + busy + chal, slack);
	agree("2xx ACKs forwarded",
	      kamailio_stat_diff(after, before, "core:fwd_requests"), ans,
	      slack);
	agree("486s from the callhandler",
	      kamailio_stat_diff(after, before, "core:rcv_replies_486"), busy,
	      slack);
	agree("INVITE 2xx from the callhandler",
	      kamailio_stat_diff(after, before, "core:rcv_replies_2xx_invite"),
	      ans, slack);
	agree("BYE 2xx from the callhandler",
	      kamailio_stat_diff(after, before, "core:rcv_replies_2xx_bye"),
	      ans, slack);
	/* Nothing else came: no REGISTER refresh, no stray request. */
	ASSERT_EQ(kamailio_stat_diff(after, before, "core:rcv_requests"),
		  kamailio_stat_diff(after, before,
				     "core:rcv_requests_invite") +
			  kamailio_stat_diff(after, before,
					     "core:rcv_requests_bye") +
			  kamailio_stat_diff(after, before,
					     "core:rcv_requests_ack"));
	/* Over TCP and TLS: the loader's one connection in, one out to
	 * the callhandler's listener (its Contact). */
	if (strcmp(tp, "udp")) {
		ASSERT_EQ(kamailio_stat_diff(after, before,
					     "tcp:passive_open"),
			  1);
		ASSERT_EQ(kamailio_stat_diff(after, before,
					     "tcp:connect_success"),
			  1);
		ASSERT(jsonq_int(cs, "conns_accepted") >= 1);
	}
	/* Over TLS, kamailio's connection to the callhandler too. */
	check_loader_tls(j, tp);
	if (is_tls(tp))
		ASSERT(jsonq_int(cs, "tls_handshakes") >= 1);
	json_decref(j);
	json_decref(cs);
	json_decref(before);
	json_decref(after);
	ASSERT_EQ(proc_stop(&ch, 5000), 0);
	kamailio_stop(&k);
}

TEST_TIMEOUT(agents_kamailio_invite_udp, 25)
{
	invite_via_kamailio("udp", AUTH_NONE);
}

TEST_TIMEOUT(agents_kamailio_invite_tcp, 25)
{
	invite_via_kamailio("tcp", AUTH_NONE);
}

TEST_TIMEOUT(agents_kamailio_invite_tls, 25)
{
	invite_via_kamailio("tls", AUTH_NONE);
}

TEST_TIMEOUT(agents_kamailio_invite_udp_auth, 25)
{
	invite_via_kamailio("udp", AUTH_DIGEST);
}

TEST_TIMEOUT(agents_kamailio_invite_tcp_preloaded_auth, 25)
{
	invite_via_kamailio("tcp", AUTH_PRELOADED);
}

TEST_TIMEOUT(agents_kamailio_invite_tls_preloaded_auth, 25)
{
	invite_via_kamailio("tls", AUTH_PRELOADED);
}

/*
 * One user more on the loader's side than registered: the calls to
 * A1010 find no binding and kamailio answers them 404 itself, the others
 * reach the callhandler.  The failures agree as the successes do.
 */
TEST_TIMEOUT(agents_kamailio_invite_unregistered_callee_udp, 25)
{
	char server[64];
	const char *argv[] = {
		"loader",    "--test",	    "invite",	"--server",  server,
		"--users",   "A1000-A1010", "--domain", "127.0.0.1", "--rate",
		"50",	     "--duration",  "2",	"--threads", "1",
		"--hold-ms", "50",	    "--json",	NULL};
	struct kamailio k;
	struct proc ch;
	json_t *before, *after, *j, *cs;
	long long att, n404, retr;

	kamailio_for(&k, "udp", false, false);
	callhandler_via(&ch, &k, "udp", "0");
	kamailio_addr(&k, "udp", server, sizeof(server));
	before = kamailio_stats_settled(&k);
	j = loader_json(argv, 1, &k, &ch);
	after = kamailio_stats_settled(&k);
	cs = stats_of(&ch);
	att = jsonq_int(j, "attempts");
	n404 = jsonq_int(json_object_get(j, "codes"), "404");
	retr = jsonq_int(j, "retransmissions");
	ASSERT_MSG(att >= 95 && att <= 101, "attempts %lld", att);
	ASSERT_MSG(n404 >= 1, "no call to the unregistered user failed");
	ASSERT_EQ(jsonq_int(j, "failures"), n404);
	ASSERT_EQ(jsonq_int(j, "successes"), att - n404);
	ASSERT_EQ(jsonq_int(cs, "invites"), att - n404);
	ASSERT_EQ(jsonq_int(cs, "byes"), att - n404);
	agree("404s sent", kamailio_stat_diff(after, before, "sl.stats:404"),
	      n404, retr);
	ASSERT_EQ(sl_replies(after, before),
		  kamailio_stat_diff(after, before, "sl.stats:404"));
	ASSERT_EQ(kamailio_stat_diff(after, before, "tm.stats:total"),
		  2 * (att - n404));
	json_decref(j);
	json_decref(cs);
	json_decref(before);
	json_decref(after);
	ASSERT_EQ(proc_stop(&ch, 5000), 0);
	kamailio_stop(&k);
}

/*
 * OPTIONS to the registered users: kamailio looks each one up and
 * relays it in a transaction to the callhandler, which answers 200.
 */
static void options_via_kamailio(const char *tp)
{
	char server[64];
	const char *argv[32] = {"loader",   "--test",	 "options",
				"--server", server,	 "--users",
				USERS,	    "--domain",	 "127.0.0.1",
				"--rate",   "100",	 "--duration",
				"2",	    "--threads", "1",
				"--json"};
	size_t n = 16;
	struct kamailio k;
	struct proc ch;
	json_t *before, *after, *j, *cs;
	long long att, retr;

	kamailio_for(&k, tp, false, false);
	callhandler_via(&ch, &k, tp, "0");
	kamailio_addr(&k, tp, server, sizeof(server));
	loader_tls_args(argv, &n, tp);
	argv[n] = NULL;
	before = kamailio_stats_settled(&k);
	j = loader_json(argv, 0, &k, &ch);
	after = kamailio_stats_settled(&k);
	cs = stats_of(&ch);
	att = jsonq_int(j, "attempts");
	retr = jsonq_int(j, "retransmissions");
	ASSERT_MSG(att >= 190 && att <= 202, "attempts %lld", att);
	ASSERT_EQ(jsonq_int(j, "successes"), att);
	ASSERT_EQ(jsonq_int(json_object_get(j, "codes"), "200"), att);
	ASSERT_MSG(jsonq_int(cs, "options") == att,
		   "the callhandler answered %lld OPTIONS, the loader sent "
		   "%lld",
		   jsonq_int(cs, "options"), att);
	ASSERT_EQ(kamailio_stat_diff(after, before, "tm.stats:total"), att);
	ASSERT_EQ(kamailio_stat_diff(after, before, "tm.stats:2xx"), att);
	agree("OPTIONS received",
	      kamailio_stat_diff(after, before, "core:rcv_requests_options"),
	      att, retr);
	agree("OPTIONS 200s from the callhandler",
	      kamailio_stat_diff(after, before, "core:rcv_replies_2xx"), att,
	      retr);
	/* kamailio answered none itself (no 404: every user found). */
	ASSERT_EQ(sl_replies(after, before), 0);
	check_loader_tls(j, tp);
	if (is_tls(tp))
		ASSERT(jsonq_int(cs, "tls_handshakes") >= 1);
	json_decref(j);
	json_decref(cs);
	json_decref(before);
	json_decref(after);
	ASSERT_EQ(proc_stop(&ch, 5000), 0);
	kamailio_stop(&k);
}

TEST_TIMEOUT(agents_kamailio_options_udp, 25)
{
	options_via_kamailio("udp");
}

TEST_TIMEOUT(agents_kamailio_options_tcp, 25)
{
	options_via_kamailio("tcp");
}

TEST_TIMEOUT(agents_kamailio_options_tls, 25)
{
	options_via_kamailio("tls");
}
