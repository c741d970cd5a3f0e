/*
 * The agents against kamailio as the independent server (the agents
 * issue's interoperability matrix): bin/loader registering with kamailio
 * as registrar (no auth, digest auth, preloaded credentials), and making
 * calls and OPTIONS through kamailio as proxy (usrloc lookup,
 * Record-Route) to bin/callhandler, which registered its users through
 * it; over UDP and TCP.  Every count is checked three ways: the loader's
 * figures, the callhandler's, and kamailio's own counters read over its
 * ctl socket (tests/kamailio.c).
 */
#include <stdio.h>
#include <string.h>

#include "kamailio.h"
#include "proc.h"
#include "test.h"

#define USERS "A1000-A1009"
#define NUSERS 10

static long long jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ASSERT_MSG(json_is_integer(v), "no counter %s", key);
	return json_integer_value(v);
}

static void need_kamailio(void)
{
	if (!kamailio_available())
		test_skip("kamailio (registrar, auth_db, db_text, ctl, tmx) "
			  "or kamcmd is not installed");
}

/* Runs bin/loader with argv to its end; its --json summary. */
static json_t *loader_json(const char *const *argv, int want_rc)
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

/* ------------------------------------------------------------------ */
/* loader -> kamailio as registrar                                     */

enum reg_auth {
	REG_NO_AUTH,
	REG_AUTH,	/* a 401 per REGISTER */
	REG_PRELOADED, /* a 401 per user, then credentials up front */
};

static void register_via_kamailio(const char *tp, enum reg_auth auth)
{
	struct kamailio_opts ko = {.tcp = true};
	uint16_t port = proc_free_port();
	char server[64];
	const char *argv[] = {"loader",
			      "--test",
			      "register",
			      "--server",
			      server,
			      "--users",
			      USERS,
			      "--domain",
			      "127.0.0.1",
			      "--rate",
			      "100",
			      "--duration",
			      "2",
			      "--threads",
			      "1",
			      "--json",
			      auth != REG_NO_AUTH ? "--password" : NULL,
			      "pw-%u",
			      auth == REG_PRELOADED ? "--preload-credentials"
						    : NULL,
			      NULL};
	struct kamailio k;
	json_t *before, *after, *j;
	long long att, ok, chal, retr, k_reg, k_200, k_401;

	need_kamailio();
	if (auth != REG_NO_AUTH) {
		ko.auth_prefix = "A";
		ko.auth_first = 1000;
		ko.auth_last = 1009;
	}
	kamailio_start(&k, port, &ko);
	snprintf(server, sizeof(server), "%s:127.0.0.1:%u", tp, port);
	before = kamailio_stats(&k);
	j = loader_json(argv, 0);
	after = kamailio_stats(&k);
	att = jint(j, "attempts");
	ok = jint(j, "successes");
	chal = jint(j, "auth_challenges");
	retr = jint(j, "retransmissions");
	/* 100/s for 2 s (the rate itself is t_loader's subject). */
	ASSERT_MSG(att >= 190 && att <= 202, "attempts %lld", att);
	ASSERT_EQ(ok, att);
	ASSERT_EQ(jint(j, "failures"), 0);
	ASSERT_EQ(jint(json_object_get(j, "codes"), "200"), att);
	if (auth == REG_NO_AUTH)
		ASSERT_EQ(chal, 0);
	else if (auth == REG_AUTH)
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
	k_reg = kamailio_stat_diff(after, before, "core:rcv_requests_register");
	k_200 = kamailio_stat_diff(after, before, "sl:200_replies");
	k_401 = kamailio_stat_diff(after, before, "sl:401_replies");
	ASSERT_MSG(k_reg == att + chal + retr,
		   "kamailio counted %lld REGISTERs, the loader sent %lld "
		   "attempts + %lld answered challenges + %lld "
		   "retransmissions",
		   k_reg, att, chal, retr);
	ASSERT_MSG(k_200 + k_401 == k_reg,
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
	ASSERT_EQ(jint(after, "usrloc:registered_users"), NUSERS);
	/* Over TCP, the loader's one connection (one thread). */
	if (!strcmp(tp, "tcp"))
		ASSERT_EQ(kamailio_stat_diff(after, before, "tcp:passive_open"),
			  1);
	json_decref(j);
	json_decref(before);
	json_decref(after);
	kamailio_stop(&k);
}

TEST_TIMEOUT(agents_kamailio_register_udp, 20)
{
	register_via_kamailio("udp", REG_NO_AUTH);
}

TEST_TIMEOUT(agents_kamailio_register_tcp, 20)
{
	register_via_kamailio("tcp", REG_NO_AUTH);
}

TEST_TIMEOUT(agents_kamailio_register_udp_auth, 20)
{
	register_via_kamailio("udp", REG_AUTH);
}

TEST_TIMEOUT(agents_kamailio_register_tcp_auth, 20)
{
	register_via_kamailio("tcp", REG_AUTH);
}

TEST_TIMEOUT(agents_kamailio_register_udp_preloaded_auth, 20)
{
	register_via_kamailio("udp", REG_PRELOADED);
}

TEST_TIMEOUT(agents_kamailio_register_tcp_preloaded_auth, 20)
{
	register_via_kamailio("tcp", REG_PRELOADED);
}
