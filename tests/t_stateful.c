/*
 * Tests of proxy-stateful: the location table and user file directly,
 * then the real binary driven by sipp (an independent peer) over UDP
 * and TCP, raw datagrams for the error paths, and a private MariaDB for
 * the database modes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "location.h"
#include "mariadb.h"
#include "pki.h"
#include "proc.h"
#include "rfc4475.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "sip_auth.h"
#include "stack.h"
#include "test.h"
#include "userdb.h"

/* ------------------------------------------------------------------ */
/* Location table                                                      */

TEST(stateful_location_bindings_q_order_expiry_and_order_checks)
{
	struct location *loc;
	struct location_update_contact c[2];
	struct location_contact out[4];
	struct pl aor = PL("alice@example.com"), cid = PL("c1@h");
	struct pl cid2 = PL("c2@h");
	enum location_result res;
	size_t n;
	bool known;

	ASSERT_EQ(location_alloc(&loc, 4), 0);
	pl_set_str(&c[0].uri, "sip:alice@10.0.0.1:5060");
	c[0].expires = 60;
	c[0].q = 500;
	pl_set_str(&c[1].uri, "sip:alice@10.0.0.2:5060");
	c[1].expires = 120;
	c[1].q = 1000;
	ASSERT_EQ(location_update(loc, &aor, &cid, 1, SIP_TP_UDP, false, c, 2,
				  1000, &res, out, 4, &n),
		  0);
	ASSERT_EQ(res, LOCATION_OK);
	ASSERT_EQ(n, 2);
	/* Highest q first. */
	ASSERT_STR(out[0].uri, "sip:alice@10.0.0.2:5060");
	ASSERT_EQ(out[1].q, 500);
	/* §10.3 step 7: same Call-ID, CSeq not higher: refused. */
	ASSERT_EQ(location_update(loc, &aor, &cid, 1, SIP_TP_UDP, false, c, 1,
				  1000, &res, NULL, 0, &n),
		  0);
	ASSERT_EQ(res, LOCATION_OUT_OF_ORDER);
	/* Expiry: the first is gone at 1060, the second lives on. */
	ASSERT_EQ(location_lookup(loc, &aor, 1059, out, 4, &known), 2);
	ASSERT_EQ(location_lookup(loc, &aor, 1060, out, 4, &known), 1);
	ASSERT(known);
	ASSERT_EQ(location_bindings(loc), 2);
	ASSERT_EQ(location_sweep(loc, 1060, 1u << 20), 1);
	ASSERT_EQ(location_bindings(loc), 1);
	/* Expires 0 from another Call-ID removes it; the AOR goes. */
	c[1].expires = 0;
	ASSERT_EQ(location_update(loc, &aor, &cid2, 5, SIP_TP_UDP, false,
				  &c[1], 1, 1061, &res, out, 4, &n),
		  0);
	ASSERT_EQ(res, LOCATION_OK);
	ASSERT_EQ(n, 0);
	ASSERT_EQ(location_aors(loc), 0);
	ASSERT_EQ(location_lookup(loc, &aor, 1061, out, 4, &known), 0);
	ASSERT(!known);
	location_free(loc);
}

TEST(stateful_location_star_removes_all_and_limits_contacts)
{
	struct location *loc;
	struct location_update_contact c[LOCATION_CONTACTS_MAX + 1];
	char uris[LOCATION_CONTACTS_MAX + 1][40];
	struct pl aor = PL("bob@example.com"), cid = PL("x");
	enum location_result res;
	size_t n, i;

	ASSERT_EQ(location_alloc(&loc, 0), 0);
	for (i = 0; i <= LOCATION_CONTACTS_MAX; i++) {
		snprintf(uris[i], sizeof(uris[i]), "sip:bob@10.0.0.%zu", i);
		pl_set_str(&c[i].uri, uris[i]);
		c[i].expires = 100;
		c[i].q = 1000;
	}
	ASSERT_EQ(location_update(loc, &aor, &cid, 1, SIP_TP_TCP, false, c,
				  LOCATION_CONTACTS_MAX + 1, 0, &res, NULL, 0,
				  &n),
		  0);
	ASSERT_EQ(res, LOCATION_TOO_MANY);
	ASSERT_EQ(location_bindings(loc), 0);
	ASSERT_EQ(location_update(loc, &aor, &cid, 2, SIP_TP_TCP, false, c, 3,
				  0, &res, NULL, 0, &n),
		  0);
	ASSERT_EQ(n, 3);
	ASSERT_EQ(location_update(loc, &aor, &cid, 3, SIP_TP_TCP, true, NULL,
				  0, 0, &res, NULL, 0, &n),
		  0);
	ASSERT_EQ(res, LOCATION_OK);
	ASSERT_EQ(n, 0);
	ASSERT_EQ(location_bindings(loc), 0);
	location_free(loc);
}

TEST(stateful_userdb_file_and_bad_lines)
{
	struct userdb *db;
	const struct userdb_user *u;
	struct pl user = PL("alice"), dom = PL("EXAMPLE.com");
	FILE *fp = fopen("users.txt", "w");

	ASSERT(fp);
	fprintf(fp, "# comment\nalice example.com "
		    "0123456789abcdef0123456789abcdef - 1\n");
	fclose(fp);
	ASSERT_EQ(userdb_alloc(&db), 0);
	ASSERT_EQ(userdb_load_file(db, "users.txt"), 0);
	u = userdb_find(db, &user, &dom);
	ASSERT(u && u->auth_required && u->ha1.md5.l == 32 &&
	       u->ha1.sha256.l == 0);
	userdb_free(db);
	fp = fopen("bad.txt", "w");
	ASSERT(fp);
	fprintf(fp, "alice example.com nothex - 1\n");
	fclose(fp);
	ASSERT_EQ(userdb_alloc(&db), 0);
	ASSERT_EQ(userdb_load_file(db, "bad.txt"), EBADMSG);
	userdb_free(db);
}

/* ------------------------------------------------------------------ */
/* End to end                                                          */

/* users.txt: alice, bob, carol with password "pw-<name>". */
static void write_users(int auth_required)
{
	static const char *const names[] = {"alice", "bob", "carol"};

	stack_write_users_named(names, 3, auth_required);
}

/* sipp's injection file: user;domain;password;contact host;port. */
static void write_csv(const char *path, const char *user, uint16_t cport)
{
	FILE *fp = fopen(path, "w");

	ASSERT(fp);
	fprintf(fp, "SEQUENTIAL\n%s;example.com;pw-%s;127.0.0.1;%u\n", user,
		user, cport);
	fclose(fp);
}

static long long stat_int(struct proc *p, const char *key)
{
	json_t *r = proc_cmd(p, "stats", NULL, 3000);
	long long v;

	ASSERT_MSG(r, "no stats reply");
	v = json_integer_value(json_object_get(r, key));
	json_decref(r);
	return v;
}

static long long stat_sub(struct proc *p, const char *obj, const char *key)
{
	json_t *r = proc_cmd(p, "stats", NULL, 3000);
	long long v;

	ASSERT_MSG(r, "no stats reply");
	v = json_integer_value(json_object_get(json_object_get(r, obj), key));
	json_decref(r);
	return v;
}

/* Registers user (contact 127.0.0.1:cport) with sipp over t ("u1",
 * "t1"); returns sipp's exit code. */
static int sipp_register(uint16_t port, const char *user, uint16_t cport,
			 const char *t, const char *log)
{
	char scen[512], dst[64], csv[64], pw[64];
	const char *argv[] = {"sipp",	  "-sf", scen,	      "-inf", csv,
			      "-au",	  user,	 "-ap",	      pw,     "-m",
			      "1",	  "-i",	 "127.0.0.1", "-t",   t,
			      "-timeout", "10s", "-nostdin",  dst,    NULL};

	snprintf(scen, sizeof(scen), "%s/tests/sipp/stateful_register.xml",
		 test_root_dir());
	snprintf(dst, sizeof(dst), "127.0.0.1:%u", port);
	snprintf(csv, sizeof(csv), "%s.csv", user);
	snprintf(pw, sizeof(pw), "pw-%s", user);
	write_csv(csv, user, cport);
	return proc_run(argv, log, 15000);
}

/*
 * Starts proxy-stateful as p with extra (stack_start_stateful()), then
 * sipp registers alice over UDP and user (contact port cport) over
 * TCP; both must succeed.
 */
static void register_two(struct proc *p, uint16_t port,
			 const char *const *extra, const char *user,
			 uint16_t cport)
{
	stack_need_sipp();
	stack_start_stateful(p, port, false, extra);
	ASSERT_EQ(sipp_register(port, "alice", 5999, "u1", "sipp-udp.log"), 0);
	ASSERT_EQ(sipp_register(port, user, cport, "t1", "sipp-tcp.log"), 0);
}

TEST_TIMEOUT(stateful_register_udp_tcp_no_auth, 20)
{
	struct proc p;
	uint16_t port = proc_free_port();

	register_two(&p, port, NULL, "bob", 5998);
	ASSERT_EQ(stat_int(&p, "registers_ok"), 2);
	ASSERT_EQ(stat_int(&p, "bindings"), 2);
	ASSERT_EQ(stat_sub(&p, "responses_sent", "200"), 2);
	/* Present (0 under ASan, whose allocator mallinfo2 cannot see). */
	{
		json_t *r = proc_cmd(&p, "stats", NULL, 3000);

		ASSERT(r && json_is_integer(json_object_get(r, "heap_bytes")));
		json_decref(r);
	}
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(stateful_register_digest_auth_udp_tcp, 20)
{
	struct proc p;
	uint16_t port = proc_free_port();
	const char *extra[] = {"--users-file", "users.txt", NULL};

	write_users(1);
	register_two(&p, port, extra, "carol", 5997);
	ASSERT_EQ(stat_int(&p, "registers_ok"), 2);
	ASSERT_EQ(stat_int(&p, "auth_challenges"), 2);
	ASSERT_EQ(stat_sub(&p, "responses_sent", "401"), 2);
	ASSERT_EQ(stat_int(&p, "bindings"), 2);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

/* ---- raw datagrams ---- */

static int udp_to(uint16_t port, struct sockaddr_in *sa, uint16_t *lport)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return proc_udp_bound(lport);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* Sends a request (%u in it: our port) and returns the first final
 * status that comes back within 3 s, or 0. */
static int udp_request(uint16_t port, const char *fmt)
{
	struct sockaddr_in sa;
	uint16_t lport;
	int fd = udp_to(port, &sa, &lport);
	char msg[2048], in[4096];
	int i, status = 0;

	snprintf(msg, sizeof(msg), fmt, lport, lport);
	ASSERT(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
		      sizeof(sa)) > 0);
	for (i = 0; i < 10 && !status; i++) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t n;

		if (poll(&pfd, 1, 300) <= 0)
			continue;
		n = recv(fd, in, sizeof(in) - 1, 0);
		if (n < 12)
			continue;
		in[n] = '\0';
		if (strncmp(in, "SIP/2.0 ", 8))
			continue;
		status = (in[8] - '0') * 100 + (in[9] - '0') * 10 +
			 (in[10] - '0');
		if (status < 200)
			status = 0;
	}
	close(fd);
	return status;
}
#pragma GCC diagnostic pop

#define CONTENT_LENGTH_0 "Content-Length: 0\r\n\r\n"
/* A request to ruri; %u twice: our port (Via, Contact). */
#define REQ(method, ruri, extra)                                             \
	method " " ruri " SIP/2.0\r\n"                                       \
	       "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-" method "\r\n" \
	       "From: <sip:alice@example.com>;tag=1\r\n"                     \
	       "To: <" ruri ">\r\n"                                          \
	       "Call-ID: raw-" method "@127.0.0.1\r\n"                       \
	       "CSeq: 1 " method "\r\n"                                      \
	       "Contact: <sip:alice@127.0.0.1:%u>\r\n" extra CONTENT_LENGTH_0

TEST_TIMEOUT(stateful_options_errors_404_480_483_505, 20)
{
	struct proc p;
	uint16_t port = proc_free_port();
	const char *extra[] = {"--users-file", "users.txt", NULL};
	char ruri[64], req[1024];

	write_users(0);
	stack_start_stateful(&p, port, false, extra);
	/* OPTIONS to ourselves (the first stage's probe): 200. */
	snprintf(ruri, sizeof(ruri), "sip:127.0.0.1:%u", port);
	snprintf(req, sizeof(req),
		 "OPTIONS %s SIP/2.0\r\nVia: SIP/2.0/UDP "
		 "127.0.0.1:%%u;branch=z9hG4bK-o\r\nFrom: "
		 "<sip:a@example.com>;tag=1\r\nTo: <%s>\r\nCall-ID: o@h\r\n"
		 "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nX-Port: %%u\r\n"
		 "Content-Length: 0\r\n\r\n",
		 ruri, ruri);
	ASSERT_EQ(udp_request(port, req), 200);
	/* Unknown user: 404; known, not registered: 480. */
	ASSERT_EQ(udp_request(port, REQ("INVITE", "sip:nobody@example.com",
					"Max-Forwards: 70\r\n")),
		  404);
	ASSERT_EQ(udp_request(port, REQ("MESSAGE", "sip:bob@example.com",
					"Max-Forwards: 70\r\n")),
		  480);
	/* §16.3 step 3: Max-Forwards 0 is 483. */
	ASSERT_EQ(udp_request(port, REQ("MESSAGE", "sip:bob@example.com",
					"Max-Forwards: 0\r\n")),
		  483);
	/* Bad version: 505; unsupported scheme: 416; bad CSeq: 400. */
	ASSERT_EQ(udp_request(port, "MESSAGE sip:bob@example.com "
				    "SIP/7.0\r\nVia: "
				    "SIP/7.0/UDP "
				    "127.0.0.1:%u;branch=z9hG4bK-v\r\n"
				    "From: <sip:a@example.com>;tag=1\r\nTo: "
				    "<sip:bob@example.com>\r\nCall-ID: "
				    "v@h\r\nCSeq: "
				    "1 MESSAGE\r\nX: %u\r\nContent-Length: "
				    "0\r\n\r\n"),
		  505);
	ASSERT_EQ(udp_request(port,
			      REQ("MESSAGE", "mailto:bob@example.com", "")),
		  416);
	ASSERT_EQ(udp_request(port, "MESSAGE sip:bob@example.com "
				    "SIP/2.0\r\nVia: "
				    "SIP/2.0/UDP "
				    "127.0.0.1:%u;branch=z9hG4bK-c\r\n"
				    "From: <sip:a@example.com>;tag=1\r\nTo: "
				    "<sip:bob@example.com>\r\nCall-ID: "
				    "c@h\r\nCSeq: "
				    "x MESSAGE\r\nX: %u\r\nContent-Length: "
				    "0\r\n\r\n"),
		  400);
	/* 423 below Min-Expires. */
	ASSERT_EQ(udp_request(port, REQ("REGISTER", "sip:alice@example.com",
					"Expires: 5\r\n")),
		  423);
	/* It still answers. */
	ASSERT_EQ(udp_request(port, req), 200);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST(stateful_bad_flags_exit_2)
{
	const char *a1[] = {"proxy-stateful", "--no-such-flag", "x", NULL};
	const char *a2[] = {"proxy-stateful", "--listen",  "udp:127.0.0.1:1",
			    "--db-mode",      "sometimes", NULL};
	const char *a3[] = {"proxy-stateful", NULL};
	const char *a4[] = {"proxy-stateful", "--config", "bad.json", NULL};
	FILE *fp = fopen("bad.json", "w");

	ASSERT(fp);
	fputs("{\"listen\": [\"udp:127.0.0.1:1\"],\n \"workers\": }\n", fp);
	fclose(fp);
	ASSERT_EQ(proc_run(a1, "a1.log", 5000), 2);
	ASSERT_EQ(proc_run(a2, "a2.log", 5000), 2);
	ASSERT_EQ(proc_run(a3, "a3.log", 5000), 2);
	ASSERT_EQ(proc_run(a4, "a4.log", 5000), 2);
}

/* sipp uac -> proxy-stateful -> sipp uas that registered first. */
static void invite_through(const char *t, int auth)
{
	struct proc p, uas;
	uint16_t port = proc_free_port(), uport = proc_free_port();
	char dst[64], up[16], scen[512], csv[64];
	const char *extra[] = {"--users-file",	 "users.txt",
			       "--record-route", auth ? "--auth" : NULL,
			       "invite",	 NULL};
	const char *uas_argv[] = {"sipp",     "-sn", "uas", "-i", "127.0.0.1",
				  "-p",	      up,    "-t",  t,	  "-nostdin",
				  "-timeout", "15s", NULL};
	const char *uac_argv[] = {"sipp",      "-sf",	   scen,    "-inf",
				  csv,	       "-au",	   "alice", "-ap",
				  "pw-alice",  "-s",	   "bob",   "-m",
				  "3",	       "-r",	   "10",    "-i",
				  "127.0.0.1", "-t",	   t,	    "-timeout",
				  "10s",       "-nostdin", dst,	    NULL};

	stack_need_sipp();
	write_users(0);
	stack_start_stateful(&p, port, false, extra);
	snprintf(up, sizeof(up), "%u", uport);
	uas_argv[8] = !strcmp(t, "t1") ? "t1" : "u1";
	proc_start(&uas, uas_argv);
	ASSERT_EQ(sipp_register(port, "bob", uport, t, "sipp-reg.log"), 0);
	snprintf(dst, sizeof(dst), "127.0.0.1:%u", port);
	snprintf(scen, sizeof(scen), "%s/tests/sipp/stateful_uac.xml",
		 test_root_dir());
	snprintf(csv, sizeof(csv), "caller.csv");
	write_csv(csv, "alice", 0);
	ASSERT_EQ(proc_run(uac_argv, "sipp-uac.log", 15000), 0);
	ASSERT(stat_int(&p, "forwarded") >= 6); /* INVITE and BYE */
	ASSERT(stat_int(&p, "acks_forwarded") >= 3);
	ASSERT(stat_sub(&p, "responses_sent", "180") >= 3);
	if (auth)
		ASSERT_EQ(stat_sub(&p, "responses_sent", "407"), 3);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
	proc_signal(&uas, SIGTERM);
	proc_stop(&uas, 3000);
}

TEST_TIMEOUT(stateful_invite_bye_through_proxy_udp, 25)
{
	invite_through("u1", 0);
}

TEST_TIMEOUT(stateful_invite_bye_through_proxy_tcp_with_auth, 25)
{
	invite_through("t1", 1);
}

/* ---- database modes, with a private MariaDB ---- */

static void db_mode_case(const char *mode)
{
	struct mariadb m;
	struct proc p;
	uint16_t port = proc_free_port();
	char schema[512], out[256], ha1[SIP_AUTH_HEX_SIZE], sql[512];
	char ha1b[SIP_AUTH_HEX_SIZE];
	struct pl u = PL("alice"), r = PL("example.com"), pw = PL("pw-alice");
	struct pl ub = PL("bob"), pwb = PL("pw-bob");
	const char *extra[] = {"--db",	     m.url,    "--db-mode",
			       mode,	     "--auth", "register",
			       "--flush-ms", "200",    NULL};

	stack_need_sipp();
	if (!mariadb_available())
		test_skip("mariadb-server is not installed");
	snprintf(schema, sizeof(schema), "%s/proxy-stateful/schema.sql",
		 test_root_dir());
	mariadb_start(&m, "sipstone_test", schema);
	ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &r, &pw, ha1), 0);
	ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &ub, &r, &pwb, ha1b), 0);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO subscriber (username, domain, ha1, "
		 "auth_required) VALUES ('alice', 'example.com', '%s', 1), "
		 "('bob', 'example.com', '%s', 0)",
		 ha1, ha1b);
	ASSERT_EQ(mariadb_sql(&m, sql, NULL, 0), 0);
	stack_start_stateful(&p, port, false, extra);
	ASSERT_EQ(sipp_register(port, "alice", 5999, "u1", "sipp-udp.log"), 0);
	ASSERT_EQ(sipp_register(port, "bob", 5998, "t1", "sipp-tcp.log"), 0);
	ASSERT_EQ(stat_int(&p, "registers_ok"), 2);
	if (!strcmp(mode, "write-through")) {
		/* The 200s left after the commit: the rows are there. */
		ASSERT_EQ(mariadb_sql(&m, "SELECT COUNT(*) FROM location", out,
				      sizeof(out)),
			  0);
		ASSERT_STR(out, "2\n");
	}
	/* A clean stop loses nothing (write-back flushes). */
	ASSERT_EQ(proc_stop(&p, 8000), 0);
	ASSERT_EQ(mariadb_sql(&m,
			      "SELECT aor, contact FROM location ORDER BY aor",
			      out, sizeof(out)),
		  0);
	if (!strcmp(mode, "memory")) {
		ASSERT_STR(out, "");
	} else {
		ASSERT_STR(out, "alice@example.com\tsip:alice@127.0.0.1:5999;"
				"transport=UDP\nbob@example.com\t"
				"sip:bob@127.0.0.1:5998;transport=TCP\n");
		/* Reloaded at start. */
		stack_start_stateful(&p, port, false, extra);
		ASSERT_EQ(stat_int(&p, "bindings"), 2);
		ASSERT_EQ(proc_stop(&p, 8000), 0);
	}
	mariadb_stop(&m);
}

TEST_TIMEOUT(stateful_db_memory_users_from_database, 30)
{
	db_mode_case("memory");
}

TEST_TIMEOUT(stateful_db_write_through_rows_before_200, 30)
{
	db_mode_case("write-through");
}

TEST_TIMEOUT(stateful_db_write_back_flushed_at_stop_and_reloaded, 30)
{
	db_mode_case("write-back");
}

/* ---- CANCEL and Timer C ---- */

/* The callhandler as callee A1000@example.com, registered through the
 * proxy at port; it rings for ring_ms before it would answer. */
static void callee_start(struct proc *ch, uint16_t port, const char *ring_ms)
{
	char listen[64], via[64];
	const char *argv[] = {"callhandler", "--control",   "--listen",
			      listen,	     "--users",	    "A1000-A1000",
			      "--domain",    "example.com", "--register-via",
			      via,	     "--ring-ms",   ring_ms,
			      "--threads",   "1",	    NULL};
	json_t *ev;

	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u", proc_free_port());
	snprintf(via, sizeof(via), "udp:127.0.0.1:%u", port);
	proc_start(ch, argv);
	ev = proc_wait_event(ch, "registered", 8000);
	if (!ev)
		proc_dump_log(ch);
	ASSERT_MSG(ev, "callee not registered");
	ASSERT_EQ(json_integer_value(json_object_get(ev, "registered")), 1);
	json_decref(ev);
}

/* sipp's scenario scen (tests/sipp/) calling service through the proxy
 * over UDP, n calls; returns sipp's exit code. */
static int sipp_call(uint16_t port, const char *scen, const char *service,
		     const char *n)
{
	char path[512], dst[64];
	const char *argv[] = {"sipp",	   "-sf", path, "-s",	    service,
			      "-m",	   n,	  "-r", "10",	    "-i",
			      "127.0.0.1", "-t",  "u1", "-timeout", "60s",
			      "-nostdin",  dst,	  NULL};

	snprintf(path, sizeof(path), "%s/tests/sipp/%s", test_root_dir(),
		 scen);
	snprintf(dst, sizeof(dst), "127.0.0.1:%u", port);
	return proc_run(argv, "sipp-call.log", 60000);
}

static long long ch_stat(struct proc *ch, const char *key)
{
	return stat_int(ch, key);
}

TEST_TIMEOUT(stateful_cancel_200_upstream_cancel_downstream_487, 25)
{
	struct proc p, ch;
	uint16_t port = proc_free_port();

	stack_need_sipp();
	stack_start_stateful(&p, port, false, NULL);
	callee_start(&ch, port, "10000");
	/* sipp: INVITE, 180, CANCEL; wants 200 (CANCEL) and 487. */
	ASSERT_EQ(sipp_call(port, "uac_cancel.xml", "A1000", "5"), 0);
	ASSERT_EQ(stat_sub(&p, "requests", "CANCEL"), 5);
	ASSERT_EQ(stat_sub(&p, "responses_sent", "487"), 5);
	ASSERT_EQ(stat_sub(&p, "responses_received", "487"), 5);
	/* The callee saw our CANCELs and answered no call. */
	ASSERT_EQ(ch_stat(&ch, "cancels"), 5);
	ASSERT_EQ(ch_stat(&ch, "cancelled"), 5);
	ASSERT_EQ(ch_stat(&ch, "answered"), 0);
	ASSERT_EQ(proc_stop(&ch, 3000), 0);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(stateful_timer_c_cancels_a_ringing_callee_487, 25)
{
	struct proc p, ch;
	uint16_t port = proc_free_port();
	const char *extra[] = {"--timer-c-ms", "1000", NULL};

	stack_need_sipp();
	stack_start_stateful(&p, port, false, extra);
	callee_start(&ch, port, "20000");
	ASSERT_EQ(sipp_call(port, "stateful_uac_noanswer.xml", "A1000", "2"),
		  0);
	/* §16.8: a provisional came, so Timer C sent CANCEL downstream
	 * and the callee's 487 went upstream. */
	ASSERT_EQ(ch_stat(&ch, "cancels"), 2);
	ASSERT_EQ(stat_sub(&p, "responses_sent", "487"), 2);
	ASSERT_EQ(stat_sub(&p, "responses_sent", "408"), 0);
	ASSERT_EQ(proc_stop(&ch, 3000), 0);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

/* A raw UDP callee: registers user with the proxy at port (contact its
 * own port); returns the socket. */
static int mute_callee(uint16_t port, const char *user)
{
	struct sockaddr_in sa;
	uint16_t lport;
	int fd = udp_to(port, &sa, &lport);
	char msg[1024], in[4096];
	int i;

	snprintf(msg, sizeof(msg),
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-mute\r\n"
		 "From: <sip:%s@example.com>;tag=1\r\n"
		 "To: <sip:%s@example.com>\r\n"
		 "Call-ID: mute@127.0.0.1\r\nCSeq: 1 REGISTER\r\n"
		 "Contact: <sip:%s@127.0.0.1:%u>\r\nMax-Forwards: 70\r\n"
		 "Content-Length: 0\r\n\r\n",
		 lport, user, user, user, lport);
	ASSERT(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
		      sizeof(sa)) > 0);
	for (i = 0; i < 10; i++) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t n;

		if (poll(&pfd, 1, 300) <= 0)
			continue;
		n = recv(fd, in, sizeof(in) - 1, 0);
		if (n > 12 && !strncmp(in, "SIP/2.0 200", 11))
			return fd;
	}
	ASSERT_MSG(false, "the mute callee could not register");
	return -1;
}

/* Answers every INVITE on fd with 180 (when ring), nothing else, for
 * ms; returns the INVITEs seen (retransmissions included). */
static int mute_serve(int fd, bool ring, unsigned ms)
{
	char in[8192];
	struct buf out;
	int invites = 0;
	unsigned waited = 0;

	buf_init(&out, 8192);
	while (waited < ms) {
		struct pollfd pfd = {fd, POLLIN, 0};
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		struct sip_build_resp_opts ro;
		struct sip_msg m;
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0) {
			waited += 100;
			continue;
		}
		n = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from,
			     &flen);
		if (n <= 0 || sip_msg_decode(&m, in, (size_t)n, false) ||
		    !m.is_request || m.method_id != SIP_METHOD_INVITE)
			continue;
		invites++;
		if (!ring)
			continue;
		memset(&ro, 0, sizeof(ro));
		pl_set_str(&ro.to_tag, "mute");
		buf_reset(&out);
		ASSERT_EQ(sip_build_response(&out, &m, 180, NULL, &ro), 0);
		ASSERT(sendto(fd, out.data, out.len, 0,
			      (struct sockaddr *)&from, flen) > 0);
	}
	buf_free(&out);
	return invites;
}

/* The mute callee in a child process for ms; returns the INVITEs it
 * saw (at most 255) after run_sipp's call. */
static int mute_around(int fd, bool ring, unsigned ms, uint16_t port,
		       const char *user, int *sipp_rc)
{
	int status;
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		int n = mute_serve(fd, ring, ms);

		_exit(n > 255 ? 255 : n);
	}
	*sipp_rc = sipp_call(port, "stateful_uac_noanswer.xml", user, "1");
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT(WIFEXITED(status));
	return WEXITSTATUS(status);
}

TEST_TIMEOUT(stateful_timer_c_without_provisional_is_408, 25)
{
	struct proc p;
	uint16_t port = proc_free_port();
	const char *extra[] = {"--timer-c-ms", "1000", NULL};
	int fd, rc, invites;

	stack_need_sipp();
	stack_start_stateful(&p, port, false, extra);
	fd = mute_callee(port, "mute");
	invites = mute_around(fd, false, 3000, port, "mute", &rc);
	ASSERT_EQ(rc, 0);
	/* The INVITE and its Timer A retransmissions, never answered:
	 * §16.8, no provisional, so Timer C acts as a 408. */
	ASSERT(invites >= 2);
	ASSERT_EQ(stat_sub(&p, "responses_sent", "408"), 1);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
	close(fd);
}

TEST_TIMEOUT(stateful_cancelled_branch_without_final_is_408_after_64t1, 30)
{
	struct proc p;
	uint16_t port = proc_free_port();
	/* T1 100 ms: 64*T1 is 6.4 s, not 32 */
	const char *extra[] = {"--timer-c-ms", "1000", "--t1-ms", "100", NULL};
	int fd, rc;

	stack_need_sipp();
	stack_start_stateful(&p, port, false, extra);
	fd = mute_callee(port, "deaf");
	/* It rings, then ignores our CANCEL: 64*T1 after it the branch
	 * is given up and the caller gets 408 (not a call hung for ever). */
	ASSERT_EQ(mute_around(fd, true, 9000, port, "deaf", &rc), 1);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(stat_sub(&p, "responses_sent", "180"), 1);
	ASSERT_EQ(stat_sub(&p, "responses_sent", "408"), 1);
	ASSERT_EQ(stat_int(&p, "proxy_calls_alive"), 1); /* freed later */
	ASSERT_EQ(proc_stop(&p, 5000), 0);
	close(fd);
}

/* ---- loops and spirals (§16.3 step 4) ---- */

/* REGISTERs user@example.com with contact (raw, from a new socket);
 * returns the final status. */
static int register_contact(uint16_t port, const char *user,
			    const char *contact)
{
	char req[1024];

	snprintf(req, sizeof(req),
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%%u;branch=z9hG4bK-r%s\r\n"
		 "From: <sip:%s@example.com>;tag=1\r\n"
		 "To: <sip:%s@example.com>\r\nCall-ID: reg-%s@h\r\n"
		 "CSeq: 1 REGISTER\r\nContact: <%s>\r\nX-Port: %%u\r\n"
		 "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		 user, user, user, user, contact);
	return udp_request(port, req);
}

TEST_TIMEOUT(stateful_spiral_goes_on_loop_is_482, 20)
{
	struct proc p;
	uint16_t port = proc_free_port();
	char self[64], buf[4096];
	int fd;
	ssize_t n;
	struct pollfd pfd;

	stack_start_stateful(&p, port, false, NULL);
	/* "a" is bound to b at ourselves: a spiral (the Request-URI
	 * changes), then b's binding, the test's socket. */
	fd = mute_callee(port, "b");
	snprintf(self, sizeof(self), "sip:b@127.0.0.1:%u", port);
	ASSERT_EQ(register_contact(port, "a", self), 200);
	/* "loop" is bound to itself at ourselves: the second time round
	 * the request is the same as the first: a loop. */
	snprintf(self, sizeof(self), "sip:loop@127.0.0.1:%u", port);
	ASSERT_EQ(register_contact(port, "loop", self), 200);
	ASSERT_EQ(udp_request(port, REQ("MESSAGE", "sip:loop@example.com",
					"Max-Forwards: 70\r\n")),
		  482);
	/* The spiral reaches b with two Vias of ours; its 200 comes back
	 * through both. */
	{
		struct sockaddr_in sa;
		uint16_t lport;
		int cfd = udp_to(port, &sa, &lport);
		char req[1024];
		struct sip_msg m;
		struct buf out;
		struct sip_build_resp_opts ro;
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		const struct sip_hdr *h;
		int vias = 0;

		snprintf(req, sizeof(req),
			 REQ("MESSAGE", "sip:a@example.com",
			     "Max-Forwards: 70\r\n"),
			 lport, lport);
		ASSERT(sendto(cfd, req, strlen(req), 0, (struct sockaddr *)&sa,
			      sizeof(sa)) > 0);
		pfd.fd = fd;
		pfd.events = POLLIN;
		ASSERT_MSG(poll(&pfd, 1, 3000) == 1, "the spiral stopped");
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			     &flen);
		ASSERT(n > 0);
		ASSERT_EQ(sip_msg_decode(&m, buf, (size_t)n, false), 0);
		ASSERT_PL(&m.method, "MESSAGE");
		for (h = sip_msg_hdr(&m, SIP_HDR_VIA); h;
		     h = sip_msg_hdr_next(&m, h))
			vias++;
		ASSERT_EQ(vias, 3);
		memset(&ro, 0, sizeof(ro));
		pl_set_str(&ro.to_tag, "b");
		buf_init(&out, 8192);
		ASSERT_EQ(sip_build_response(&out, &m, 200, NULL, &ro), 0);
		ASSERT(sendto(fd, out.data, out.len, 0,
			      (struct sockaddr *)&from, flen) > 0);
		buf_free(&out);
		pfd.fd = cfd;
		ASSERT(poll(&pfd, 1, 3000) == 1);
		n = recv(cfd, buf, sizeof(buf) - 1, 0);
		ASSERT(n > 12);
		ASSERT(!strncmp(buf, "SIP/2.0 200", 11));
		close(cfd);
	}
	ASSERT_EQ(proc_stop(&p, 5000), 0);
	close(fd);
}

TEST_TIMEOUT(stateful_own_proxy_authorization_not_forwarded, 15)
{
	struct proc p;
	uint16_t port = proc_free_port();
	char buf[4096];
	struct pollfd pfd;
	ssize_t n;
	int fd;

	stack_start_stateful(&p, port, false, NULL);
	fd = mute_callee(port, "b");
	/* No answer is awaited: only what reaches b matters. */
	udp_request(port, REQ("MESSAGE", "sip:b@example.com",
			      "Max-Forwards: 70\r\n"
			      "Proxy-Authorization: Digest "
			      "username=\"alice\", "
			      "realm=\"example.com\", nonce=\"n1\", "
			      "uri=\"sip:b@example.com\", response=\"0\"\r\n"
			      "Proxy-Authorization: Digest "
			      "username=\"alice\", "
			      "realm=\"other.net\", nonce=\"n2\", "
			      "uri=\"sip:b@example.com\", "
			      "response=\"0\"\r\n"));
	pfd.fd = fd;
	pfd.events = POLLIN;
	ASSERT(poll(&pfd, 1, 1000) == 1);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	ASSERT(n > 0);
	buf[n] = '\0';
	ASSERT_MSG(!strstr(buf, "realm=\"example.com\""), "our credentials "
							  "forwarded");
	ASSERT_MSG(strstr(buf, "realm=\"other.net\""), "another realm's "
						       "credentials dropped");
	ASSERT_EQ(proc_stop(&p, 5000), 0);
	close(fd);
}

/* ---- retransmissions through a lossy UDP relay ---- */

/*
 * Two relays in a child process for ms: the caller's leg (caller <->
 * front, back <-> the proxy at pport) and the callee's (the proxy ->
 * cfront -> cback -> the callee at chport, and back), dropping every
 * nth datagram of all they carry.  Ends when the parent closes *stopw
 * (or after ms), exiting with the number dropped (at most 255).
 */
static pid_t lossy_relays(int front, int back, int cfront, int cback,
			  uint16_t pport, uint16_t chport, unsigned n,
			  unsigned ms, int *stopw)
{
	int pp[2], stop;
	pid_t pid;
	struct sockaddr_in caller, proxy, callee, cproxy;
	unsigned seen = 0, dropped = 0, waited = 0;
	bool have_caller = false, have_cproxy = false;
	char buf[65536];

	ASSERT_EQ(pipe2(pp, O_CLOEXEC), 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid) {
		close(pp[0]);
		*stopw = pp[1];
		return pid;
	}
	close(pp[1]);
	stop = pp[0];
	memset(&proxy, 0, sizeof(proxy));
	proxy.sin_family = AF_INET;
	proxy.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	proxy.sin_port = htons(pport);
	callee = proxy;
	callee.sin_port = htons(chport);
	while (waited < ms) {
		struct pollfd pfd[5] = {{front, POLLIN, 0},
					{back, POLLIN, 0},
					{cfront, POLLIN, 0},
					{cback, POLLIN, 0},
					{stop, POLLIN, 0}};
		int i;

		if (poll(pfd, 5, 100) <= 0) {
			waited += 100;
			continue;
		}
		if (pfd[4].revents)
			break;
		for (i = 0; i < 4; i++) {
			struct sockaddr_in from;
			socklen_t flen = sizeof(from);
			ssize_t len;
			int out;
			const struct sockaddr_in *to;

			if (!(pfd[i].revents & POLLIN))
				continue;
			len = recvfrom(pfd[i].fd, buf, sizeof(buf), 0,
				       (struct sockaddr *)&from, &flen);
			if (len <= 0)
				continue;
			if (i == 0) {
				caller = from;
				have_caller = true;
				out = back, to = &proxy;
			} else if (i == 1) {
				if (!have_caller)
					continue;
				out = front, to = &caller;
			} else if (i == 2) {
				cproxy = from;
				have_cproxy = true;
				out = cback, to = &callee;
			} else {
				if (!have_cproxy)
					continue;
				out = cfront, to = &cproxy;
			}
			if (++seen % n == 0) {
				dropped++;
				continue;
			}
			sendto(out, buf, (size_t)len, 0,
			       (const struct sockaddr *)to, sizeof(*to));
		}
	}
	_exit(dropped > 255 ? 255 : (int)dropped);
}

TEST_TIMEOUT(stateful_calls_complete_through_a_relay_dropping_every_5th, 60)
{
	struct proc p, ch;
	uint16_t port = proc_free_port(), chport = proc_free_port();
	uint16_t rport, bport, cfport, cbport;
	int front = proc_udp_bound(&rport), back = proc_udp_bound(&bport);
	int cfront = proc_udp_bound(&cfport), cback = proc_udp_bound(&cbport);
	char listen[64], contact[64], scen[512], dst[64], csv[64];
	const char *ch_argv[] = {"callhandler", "--control", "--listen",
				 listen,	"--threads", "1",
				 NULL};
	const char *uac_argv[] = {"sipp",      "-sf",	   scen,    "-inf",
				  csv,	       "-s",	   "A1000", "-m",
				  "20",	       "-r",	   "10",    "-i",
				  "127.0.0.1", "-t",	   "u1",    "-timeout",
				  "45s",       "-nostdin", dst,	    NULL};
	int status, rc, stopw;
	pid_t relay;
	json_t *ev;

	stack_need_sipp();
	stack_start_stateful(&p, port, false, NULL);
	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u", chport);
	proc_start(&ch, ch_argv);
	ev = proc_wait_event(&ch, "ready", 5000);
	ASSERT_MSG(ev, "callhandler not ready");
	json_decref(ev);
	/* The callee is reached through the lossy relay. */
	snprintf(contact, sizeof(contact), "sip:A1000@127.0.0.1:%u", cfport);
	ASSERT_EQ(register_contact(port, "A1000", contact), 200);
	relay = lossy_relays(front, back, cfront, cback, port, chport, 5,
			     50000, &stopw);
	snprintf(scen, sizeof(scen), "%s/tests/sipp/stateful_uac.xml",
		 test_root_dir());
	snprintf(csv, sizeof(csv), "caller.csv");
	write_csv(csv, "alice", 0);
	snprintf(dst, sizeof(dst), "127.0.0.1:%u", rport);
	rc = proc_run(uac_argv, "sipp-uac.log", 55000);
	close(stopw);
	ASSERT_EQ(waitpid(relay, &status, 0), relay);
	ASSERT(WIFEXITED(status));
	/* Every call completed (INVITE, 180, 200, ACK, BYE, 200) though
	 * one datagram in five was lost, each leg retransmitting. */
	ASSERT_EQ(rc, 0);
	ASSERT(WEXITSTATUS(status) >= 20);
	ASSERT(stat_int(&p, "retransmissions") > 0);
	ASSERT(stat_int(&ch, "answered") >= 20);
	ASSERT_EQ(proc_stop(&ch, 3000), 0);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
	close(front);
	close(back);
	close(cfront);
	close(cback);
}

/* ---- RFC 4475 replayed over UDP and TCP ---- */

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ASSERT(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	return fd;
}

/* Whether a datagram is waiting on fd within ms; reads it into buf. */
static ssize_t recv_ms(int fd, char *buf, size_t size, int ms)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	n = recv(fd, buf, size - 1, 0);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* A UDP socket per client: messages with the same top Via line come
 * from the same one (cparam02 repeats cparam01's branch and sent-by:
 * by §17.2.3 a retransmission, answered where the first came from). */
struct udp_socks {
	char via[64][256];
	int fd[64];
	size_t n;
};

static int udp_for(struct udp_socks *u, const char *msg, uint16_t port,
		   struct sockaddr_in *sa)
{
	const char *v = strstr(msg, "\nVia:");
	size_t i, l = 0;
	uint16_t lport;

	if (v)
		l = strcspn(v + 1, "\r\n");
	if (l >= sizeof(u->via[0]))
		l = sizeof(u->via[0]) - 1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; v && i < u->n; i++)
		if (strlen(u->via[i]) == l && !memcmp(u->via[i], v + 1, l))
			return u->fd[i];
	ASSERT(u->n < 64);
	u->fd[u->n] = udp_to(port, sa, &lport);
	memcpy(u->via[u->n], v ? v + 1 : "", l);
	u->via[u->n][l] = '\0';
	return u->fd[u->n++];
}

/* The hop ends what reached it with a 486, so that the proxy's
 * retransmissions do not spill into the next message's window. */
static void hop_answer(int fd, const struct sip_msg *m,
		       const struct sockaddr_in *to, socklen_t tolen)
{
	struct sip_build_resp_opts ro;
	struct buf out;

	memset(&ro, 0, sizeof(ro));
	pl_set_str(&ro.to_tag, "hop");
	buf_init(&out, 80000);
	ASSERT_EQ(sip_build_response(&out, m, 486, NULL, &ro), 0);
	ASSERT(sendto(fd, out.data, out.len, 0, (const struct sockaddr *)to,
		      tolen) > 0);
	buf_free(&out);
}

/*
 * Every corpus message at the proxy (registrar of example.com, where
 * user@example.com is bound to a socket of the test): REGISTERs get
 * what INDEX.md's registrar column says, the rest its proxy column
 * (forwarded, or a routing error that is not 400); nothing invalid is
 * forwarded; the server answers afterwards.
 */
static void replay_4475(bool tcp)
{
	struct proc p;
	uint16_t port = proc_free_port();
	struct sockaddr_in sa;
	struct udp_socks socks;
	int hop;
	size_t i;
	char buf[70000], opt[1024];
	struct rfc4475_case rc;
	unsigned checked = 0;
	FILE *man;

	memset(&socks, 0, sizeof(socks));
	stack_start_stateful(&p, port, false, NULL);
	hop = mute_callee(port, "user");
	man = rfc4475_open();
	while (rfc4475_next(man, &rc)) {
		struct pollfd pfd[2];
		unsigned status = 0;
		bool forwarded = false;
		int conn = -1, polls = 0;
		struct sockaddr_in from;
		socklen_t flen;

		/* What the last message caused is not this one's: a fresh
		 * socket or connection each (the finals to earlier ones
		 * are retransmitted to theirs, never ACKed). */
		while (recv_ms(hop, buf, sizeof(buf), 30) >= 0)
			;
		if (tcp) {
			conn = tcp_connect(port);
			ASSERT(write(conn, rc.msg, rc.len) == (ssize_t)rc.len);
		} else {
			conn = udp_for(&socks, rc.msg, port, &sa);
			ASSERT(sendto(conn, rc.msg, rc.len, 0,
				      (struct sockaddr *)&sa,
				      sizeof(sa)) == (ssize_t)rc.len);
		}
		pfd[0].fd = conn;
		pfd[1].fd = hop;
		pfd[0].events = pfd[1].events = POLLIN;
		/* A 100 Trying is not the outcome: wait on for a final or
		 * the forwarded request (bounded). */
		while (!forwarded && !status && polls++ < 8 &&
		       poll(pfd, 2, 250) > 0) {
			ssize_t n;

			if (pfd[1].revents & POLLIN) {
				struct sip_msg m;
				uint16_t vs;
				const char *why;

				flen = sizeof(from);
				n = recvfrom(hop, buf, sizeof(buf) - 1, 0,
					     (struct sockaddr *)&from, &flen);
				ASSERT(n > 0);
				ASSERT_MSG(!sip_msg_decode(&m, buf, (size_t)n,
							   false) &&
						   !sip_msg_validate(&m, &vs,
								     &why),
					   "%s forwarded invalid", rc.name);
				forwarded = m.is_request;
				if (forwarded && m.method_id != SIP_METHOD_ACK)
					hop_answer(hop, &m, &from, flen);
			}
			if (pfd[0].revents & POLLIN) {
				unsigned s;

				n = recv(pfd[0].fd, buf, sizeof(buf) - 1, 0);
				if (n <= 0)
					break; /* TCP closed by the proxy */
				buf[n] = '\0';
				s = strncmp(buf, "SIP/2.0 ", 8)
					    ? 0
					    : (unsigned)strtoul(buf + 8, NULL,
								10);
				if (s >= 200)
					status = s;
			}
		}
		if (tcp)
			close(conn);
		rfc4475_judge(&rc, !strncmp(rc.msg, "REGISTER ", 9), status,
			      forwarded);
		free(rc.msg);
		checked++;
	}
	fclose(man);
	ASSERT_MSG(checked >= 49, "only %u messages", checked);
	/* Still answering afterwards. */
	snprintf(opt, sizeof(opt),
		 "OPTIONS sip:127.0.0.1:%u SIP/2.0\r\nVia: SIP/2.0/UDP "
		 "127.0.0.1:%%u;branch=z9hG4bK-after\r\nFrom: "
		 "<sip:a@example.com>;tag=1\r\nTo: <sip:127.0.0.1:%u>\r\n"
		 "Call-ID: after@h\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
		 "X-Port: %%u\r\nContent-Length: 0\r\n\r\n",
		 port, port);
	ASSERT_EQ(udp_request(port, opt), 200);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
	close(hop);
	for (i = 0; i < socks.n; i++)
		close(socks.fd[i]);
}

TEST_TIMEOUT(stateful_rfc4475_over_udp, 40)
{
	replay_4475(false);
}

TEST_TIMEOUT(stateful_rfc4475_over_tcp, 40)
{
	replay_4475(true);
}

/* ---- the database down mid-run ---- */

/* Lines of the proxy's log that are errors of the database module. */
static int db_error_lines(const struct proc *p)
{
	size_t len;
	char *log = test_read_file(p->log_path, &len), *q = log;
	int n = 0;

	while ((q = strstr(q, " E dbqueue: ")))
		n++, q++;
	free(log);
	return n;
}

static void db_rows(struct mariadb *m, const char *want, unsigned wait_ms)
{
	char out[512];
	unsigned waited = 0;

	for (;;) {
		ASSERT_EQ(mariadb_sql(m,
				      "SELECT aor FROM location ORDER BY aor",
				      out, sizeof(out)),
			  0);
		if (!strcmp(out, want) || waited >= wait_ms)
			break;
		usleep(200000);
		waited += 200;
	}
	ASSERT_STR(out, want);
}

static void db_down_case(bool write_back)
{
	struct mariadb m;
	struct proc p;
	uint16_t port = proc_free_port();
	char schema[512];
	const char *extra[] = {
		"--db",	      m.url,
		"--db-mode",  write_back ? "write-back" : "write-through",
		"--flush-ms", "200",
		NULL};
	int want_down = write_back ? 200 : 500;

	if (!mariadb_available())
		test_skip("mariadb-server is not installed");
	snprintf(schema, sizeof(schema), "%s/proxy-stateful/schema.sql",
		 test_root_dir());
	mariadb_start(&m, "sipstone_test", schema);
	ASSERT_EQ(mariadb_sql(&m,
			      "INSERT INTO subscriber (username, domain, "
			      "auth_required) VALUES ('alice', 'example.com', "
			      "0), ('bob', 'example.com', 0), ('carol', "
			      "'example.com', 0), ('dave', 'example.com', 0)",
			      NULL, 0),
		  0);
	stack_start_stateful(&p, port, false, extra);
	ASSERT_EQ(register_contact(port, "alice", "sip:alice@127.0.0.1:1"),
		  200);
	db_rows(&m, "alice@example.com\n", 3000);
	mariadb_stop(&m);
	/* Down: write-through refuses what it cannot commit (500);
	 * write-back serves from memory and keeps the changes. */
	ASSERT_EQ(register_contact(port, "bob", "sip:bob@127.0.0.1:1"),
		  want_down);
	ASSERT_EQ(register_contact(port, "carol", "sip:carol@127.0.0.1:1"),
		  want_down);
	usleep(1000000); /* write-back: five failed flushes */
	/* Logged once for the interval (5 s), not per REGISTER or
	 * flush. */
	ASSERT_EQ(db_error_lines(&p), 1);
	ASSERT(stat_sub(&p, "db", "failures") >= 2);
	mariadb_restart(&m);
	ASSERT_EQ(register_contact(port, "dave", "sip:dave@127.0.0.1:1"), 200);
	if (write_back)
		db_rows(&m,
			"alice@example.com\nbob@example.com\n"
			"carol@example.com\ndave@example.com\n",
			5000);
	else
		db_rows(&m, "alice@example.com\ndave@example.com\n", 0);
	ASSERT_EQ(proc_stop(&p, 8000), 0);
	mariadb_stop(&m);
}

TEST_TIMEOUT(stateful_db_down_write_through_500_logged_once, 60)
{
	db_down_case(false);
}

TEST_TIMEOUT(stateful_db_down_write_back_serves_and_loses_nothing, 60)
{
	db_down_case(true);
}

/* ---- TLS ---- */

/*
 * sipp (no TLS in Debian's build) over TCP into socat, which speaks TLS
 * to the proxy's TLS listener, verifying its certificate against a CA
 * of the test; the callee (the callhandler) registered over UDP.
 */
TEST_TIMEOUT(stateful_invite_bye_through_tls_listener, 30)
{
	struct proc p, ch, so;
	uint16_t port = proc_free_port(), sport = proc_free_port();
	char tls[64], lsn[64], conn[256], why[256], dst[64], scen[512];
	char csv[64];
	const char *extra[] = {"--listen",	 tls,	      "--tls-cert",
			       "localhost.pem",	 "--tls-key", "localhost.key",
			       "--record-route", NULL};
	const char *so_argv[] = {"socat", lsn, conn, NULL};
	const char *uac_argv[] = {"sipp",      "-sf",	   scen,    "-inf",
				  csv,	       "-s",	   "A1000", "-m",
				  "5",	       "-r",	   "10",    "-i",
				  "127.0.0.1", "-t",	   "t1",    "-timeout",
				  "20s",       "-nostdin", dst,	    NULL};
	struct pki *pk;
	int i;

	stack_need_sipp();
	if (access("/usr/bin/socat", X_OK))
		test_skip("socat is not installed");
	ASSERT_MSG(!pki_create(&pk, ".", 1, why, sizeof(why)), "%s", why);
	ASSERT_MSG(!pki_issue(pk, "localhost", "127.0.0.1", why, sizeof(why)),
		   "%s", why);
	pki_free(pk);
	snprintf(tls, sizeof(tls), "tls:127.0.0.1:%u", proc_free_port());
	stack_start_stateful(&p, port, false, extra);
	callee_start(&ch, port, "0");
	snprintf(lsn, sizeof(lsn), "TCP-LISTEN:%u,bind=127.0.0.1,reuseaddr",
		 sport);
	snprintf(conn, sizeof(conn),
		 "OPENSSL:127.0.0.1:%s,cafile=ca.pem,commonname=localhost",
		 strrchr(tls, ':') + 1);
	proc_start(&so, so_argv);
	/* Listening once the port cannot be bound (no connection: socat
	 * without fork serves one). */
	for (i = 0; i < 100; i++) {
		struct sockaddr_in a;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int busy;

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons(sport);
		busy = bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0;
		close(fd);
		if (busy)
			break;
		usleep(50000);
	}
	ASSERT_MSG(i < 100, "socat is not listening");
	snprintf(scen, sizeof(scen), "%s/tests/sipp/stateful_uac.xml",
		 test_root_dir());
	snprintf(csv, sizeof(csv), "caller.csv");
	write_csv(csv, "alice", 0);
	snprintf(dst, sizeof(dst), "127.0.0.1:%u", sport);
	ASSERT_EQ(proc_run(uac_argv, "sipp-uac.log", 25000), 0);
	ASSERT(stat_int(&p, "forwarded") >= 10); /* INVITE and BYE */
	ASSERT_EQ(stat_sub(&p, "responses_sent", "180"), 5);
	ASSERT_EQ(stat_int(&ch, "answered"), 5);
	proc_stop(&so, 3000);
	ASSERT_EQ(proc_stop(&ch, 3000), 0);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}
