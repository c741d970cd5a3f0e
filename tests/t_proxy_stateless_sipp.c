/*
 * proxy-stateless end to end with sipp: a sipp uac sends through the
 * real proxy to sipp uas instances standing in for the second stage.
 * Every request must reach the server its user hashes to, replies must
 * come back, in-dialog requests follow Record-Route (UDP and TCP
 * clients, a TLS hop between two proxies), and a killed server's users
 * move to the other within the probe window and back once it returns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "proc.h"
#include "stack.h"
#include "test.h"

static void write_users(const char *path, unsigned from, unsigned n)
{
	FILE *f = fopen(path, "w");
	unsigned i;

	ASSERT(f);
	fputs("SEQUENTIAL\n", f);
	for (i = from; i < from + n; i++)
		fprintf(f, "sipuser%u;\n", i);
	fclose(f);
}

/* How many of the users go to each of the two hops. */
static void expected_split(const char *h0, const char *h1, unsigned from,
			   unsigned n, unsigned out[2])
{
	struct dispatch_set set;
	const char *why;
	char user[32];
	struct pl key;
	unsigned i;

	memset(&set, 0, sizeof(set));
	ASSERT_EQ(dispatch_add(&set, h0, &why), 0);
	ASSERT_EQ(dispatch_add(&set, h1, &why), 0);
	out[0] = out[1] = 0;
	for (i = from; i < from + n; i++) {
		snprintf(user, sizeof(user), "sipuser%u", i);
		pl_set_str(&key, user);
		out[dispatch_pick(&set, &key, true)]++;
	}
}

static char *scenario(const char *name)
{
	static char paths[4][512];
	static unsigned k;
	char *p = paths[k++ % 4];

	snprintf(p, 512, "%s/tests/sipp/%s", test_root_dir(), name);
	return p;
}

/* sipp under sh -c "exec ...": same PID, its screen to a file. */
static void sipp_start(struct proc *p, const char *log, const char *args)
{
	char cmd[2048];
	const char *argv[] = {"sh", "-c", cmd, NULL};

	snprintf(cmd, sizeof(cmd), "exec sipp %s -nostdin > %s 2>&1", args,
		 log);
	proc_start(p, argv);
}

static int sipp_run(const char *log, const char *args, unsigned timeout_ms)
{
	char cmd[2048];
	const char *argv[] = {"sh", "-c", cmd, NULL};

	snprintf(cmd, sizeof(cmd), "exec sipp %s -nostdin", args);
	return proc_run(argv, log, timeout_ms);
}

/* Waits up to ms for p to exit; its exit code, or -1. */
static int wait_exit(struct proc *p, unsigned ms)
{
	unsigned i;

	for (i = 0; i < ms / 20; i++) {
		if (proc_exited(p))
			return WIFEXITED(p->status)
				       ? WEXITSTATUS(p->status)
				       : 128 + WTERMSIG(p->status);
		usleep(20000);
	}
	return -1;
}

/* The "Successful call" total of a sipp screen dump, or 0. */
static unsigned sipp_successful(const char *log)
{
	char line[512];
	unsigned n = 0;
	FILE *f = fopen(log, "r");

	ASSERT_MSG(f, "no %s", log);
	while (fgets(line, sizeof(line), f)) {
		char *bar;

		if (strncmp(line, "  Successful call", 17) ||
		    !(bar = strchr(line, '|')) ||
		    !(bar = strchr(bar + 1, '|')))
			continue;
		n = (unsigned)strtoul(bar + 1, NULL, 10);
	}
	fclose(f);
	return n;
}

struct px {
	struct proc p;
	uint16_t port;
};

static void px_start(struct px *px, const char *const *args)
{
	struct proc_argv argv = {.n = 0};

	proc_argv_add(&argv, "proxy-stateless", "--control", NULL);
	proc_argv_addv(&argv, args);
	stack_start_ready(&px->p, argv.v, "ready");
}

static long long hop_stat(struct px *px, unsigned i, const char *key)
{
	json_t *r = proc_cmd(&px->p, "stats", NULL, 3000), *h, *v;
	long long n;

	if (!r)
		proc_dump_log(&px->p);
	ASSERT_MSG(r, "no stats from %s (exited: %d, status 0x%x)", px->p.name,
		   proc_exited(&px->p), px->p.status);
	h = json_array_get(json_object_get(r, "next_hops"), i);
	v = json_object_get(h, key);
	if (!v)
		v = json_object_get(json_object_get(h, "probes"), key);
	ASSERT_MSG(v, "no next_hops.%u.%s", i, key);
	n = json_is_boolean(v) ? json_is_true(v) : json_integer_value(v);
	json_decref(r);
	return n;
}

static long long stat2(struct px *px, const char *obj, const char *key)
{
	json_t *r = proc_cmd(&px->p, "stats", NULL, 3000), *v;
	long long n;

	ASSERT(r);
	v = obj ? json_object_get(json_object_get(r, obj), key)
		: json_object_get(r, key);
	ASSERT_MSG(json_is_integer(v), "no %s.%s", obj ? obj : "", key);
	n = json_integer_value(v);
	json_decref(r);
	return n;
}

TEST_TIMEOUT(proxy_stateless_sipp_10000_users_reach_their_server, 40)
{
	struct px px;
	struct proc uas[2];
	uint16_t u0 = proc_free_port(), u1 = proc_free_port();
	uint16_t c = proc_free_port();
	char h0[64], h1[64], listen[64], args[1024];
	unsigned want[2], i;
	int rc;

	stack_need_sipp();
	px.port = proc_free_port();
	snprintf(h0, sizeof(h0), "udp:127.0.0.1:%u", u0);
	snprintf(h1, sizeof(h1), "udp:127.0.0.1:%u", u1);
	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u", px.port);
	expected_split(h0, h1, 0, 10000, want);
	/* Within ±5% of uniform. */
	ASSERT_MSG(want[0] > 4750 && want[0] < 5250, "%u/%u", want[0],
		   want[1]);
	write_users("users.csv", 0, 10000);
	for (i = 0; i < 2; i++) {
		snprintf(args, sizeof(args), "-sf %s -i 127.0.0.1 -p %u",
			 scenario("pxsl_uas_register.xml"), i ? u1 : u0);
		sipp_start(&uas[i], i ? "uas1.out" : "uas0.out", args);
	}
	{
		const char *a[] = {"--listen",	listen,	  "--next",
				   h0,		"--next", h1,
				   "--workers", "2",	  "--probe-interval",
				   "0",		NULL};

		px_start(&px, a);
	}
	snprintf(args, sizeof(args),
		 "-sf %s -inf users.csv -i 127.0.0.1 -p %u 127.0.0.1:%u "
		 "-m 10000 -r 2000 -l 2000 -timeout 30s",
		 scenario("pxsl_uac_register.xml"), c, px.port);
	rc = sipp_run("uac.out", args, 35000);
	ASSERT_MSG(rc == 0, "sipp uac exit %d (see uac.out)", rc);
	/* Each server saw exactly its users (SIGUSR1: sipp prints its
	 * totals and exits); a response lost under load makes a
	 * retransmission a new call there, hence the 1 %. */
	for (i = 0; i < 2; i++) {
		unsigned got;

		proc_signal(&uas[i], SIGUSR1);
		ASSERT_EQ(wait_exit(&uas[i], 5000), 0);
		got = sipp_successful(i ? "uas1.out" : "uas0.out");
		ASSERT_MSG(got >= want[i] && got <= want[i] + want[i] / 100,
			   "server %u: %u calls, %u users hash to it", i, got,
			   want[i]);
		proc_stop(&uas[i], 1000);
	}
	/* The counters agree. */
	ASSERT(hop_stat(&px, 0, "forwarded") >= want[0]);
	ASSERT(hop_stat(&px, 1, "forwarded") >= want[1]);
	ASSERT(hop_stat(&px, 0, "forwarded") < want[0] + want[0] / 50);
	ASSERT(stat2(&px, "forwarded", "responses") >= 10000);
	ASSERT_EQ(proc_stop(&px.p, 5000), 0);
}

/* Waits up to ms for someone to hold UDP 127.0.0.1:port (sipp). */
static void wait_udp_taken(uint16_t port, unsigned ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	unsigned i;

	for (i = 0; i < ms / 20; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		int rc;

		ASSERT(fd >= 0);
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (rc < 0 && errno == EADDRINUSE)
			return;
		usleep(20000);
	}
	test_fail(__FILE__, __LINE__, "nobody on udp port %u", port);
}

/*
 * Issue 16 item 13: second-stage servers that answer REGISTER but not
 * OPTIONS (sipp without -aa) stay up under probing, because the
 * responses they send to relayed requests count as answers: every
 * REGISTER is answered 200, none 503 (it was 503 once both hops missed
 * K probes).
 */
TEST_TIMEOUT(proxy_stateless_sipp_servers_without_options_stay_up, 40)
{
	struct px px;
	struct proc uas[2];
	uint16_t u0 = proc_free_port(), u1 = proc_free_port();
	uint16_t c = proc_free_port();
	char h0[64], h1[64], listen[64], args[1024];
	unsigned i;
	int rc;

	stack_need_sipp();
	px.port = proc_free_port();
	snprintf(h0, sizeof(h0), "udp:127.0.0.1:%u", u0);
	snprintf(h1, sizeof(h1), "udp:127.0.0.1:%u", u1);
	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u", px.port);
	write_users("users.csv", 0, 2000);
	for (i = 0; i < 2; i++) {
		snprintf(args, sizeof(args), "-sf %s -i 127.0.0.1 -p %u",
			 scenario("pxsl_uas_register.xml"), i ? u1 : u0);
		sipp_start(&uas[i], i ? "uas1.out" : "uas0.out", args);
		wait_udp_taken(i ? u1 : u0, 5000);
	}
	{
		/* 100 ms, K = 2: a hop would be out after 0.2 s. */
		const char *a[] = {"--listen",
				   listen,
				   "--next",
				   h0,
				   "--next",
				   h1,
				   "--probe-interval",
				   "100",
				   "--probe-misses",
				   "2",
				   NULL};

		px_start(&px, a);
	}
	snprintf(args, sizeof(args),
		 "-sf %s -inf users.csv -i 127.0.0.1 -p %u 127.0.0.1:%u "
		 "-m 2000 -r 500 -timeout 20s",
		 scenario("pxsl_uac_register.xml"), c, px.port);
	rc = sipp_run("uac.out", args, 25000);
	ASSERT_EQ(stat2(&px, "answered", "503"), 0);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(hop_stat(&px, i, "downs"), 0);
		ASSERT_EQ(hop_stat(&px, i, "up"), 1);
		ASSERT(hop_stat(&px, i, "heard") > 0);
		ASSERT_EQ(hop_stat(&px, i, "answered"), 0);
		proc_signal(&uas[i], SIGTERM);
		proc_stop(&uas[i], 1000);
	}
	/* Retransmissions under load may still fail a call in sipp; the
	 * proxy's part is above: no 503, no hop ever out. */
	ASSERT_MSG(rc == 0 || sipp_successful("uac.out") >= 1980,
		   "sipp uac exit %d, %u successful (see uac.out)", rc,
		   sipp_successful("uac.out"));
	ASSERT_EQ(proc_stop(&px.p, 5000), 0);
}

TEST_TIMEOUT(proxy_stateless_sipp_failover_and_back, 40)
{
	struct px px;
	struct proc uas[2], uac;
	uint16_t u0 = proc_free_port(), u1 = proc_free_port();
	uint16_t c = proc_free_port();
	char h0[64], h1[64], listen[64], args[1024], uas_args[2][512];
	unsigned want[2], i;
	long long before;
	int rc;

	stack_need_sipp();
	px.port = proc_free_port();
	snprintf(h0, sizeof(h0), "udp:127.0.0.1:%u", u0);
	snprintf(h1, sizeof(h1), "udp:127.0.0.1:%u", u1);
	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u", px.port);
	for (i = 0; i < 2; i++) {
		snprintf(uas_args[i], sizeof(uas_args[i]),
			 "-sf %s -i 127.0.0.1 -p %u -aa",
			 scenario("pxsl_uas_register.xml"), i ? u1 : u0);
		sipp_start(&uas[i], i ? "uas1.out" : "uas0.out", uas_args[i]);
	}
	{
		const char *a[] = {"--listen",
				   listen,
				   "--next",
				   h0,
				   "--next",
				   h1,
				   "--probe-interval",
				   "100",
				   "--probe-misses",
				   "2",
				   NULL};

		px_start(&px, a);
	}
	/* Both answer probes (sipp may have come up after the first). */
	for (i = 0;
	     i < 100 &&
	     !(hop_stat(&px, 0, "answered") && hop_stat(&px, 1, "answered") &&
	       hop_stat(&px, 0, "up") && hop_stat(&px, 1, "up"));
	     i++)
		usleep(20000);
	/* 2000 users over 5 s; server 0 dies after 1.5 s. */
	write_users("users.csv", 0, 2000);
	snprintf(args, sizeof(args),
		 "-sf %s -inf users.csv -i 127.0.0.1 -p %u 127.0.0.1:%u "
		 "-m 2000 -r 400 -timeout 30s",
		 scenario("pxsl_uac_register.xml"), c, px.port);
	sipp_start(&uac, "uac.out", args);
	usleep(1500000);
	proc_signal(&uas[0], SIGKILL);
	ASSERT(wait_exit(&uas[0], 2000) >= 0);
	/* Out within the probe window (refused at once, or K misses). */
	for (i = 0; i < 50 && hop_stat(&px, 0, "up"); i++)
		usleep(20000);
	ASSERT_MSG(!hop_stat(&px, 0, "up"), "server 0 still up after 1 s");
	before = hop_stat(&px, 0, "forwarded");
	/* Its users go to server 1; retransmissions recover the lost
	 * ones, so every REGISTER of the run succeeds. */
	rc = wait_exit(&uac, 25000);
	ASSERT_MSG(rc == 0, "sipp uac exit %d (see uac.out)", rc);
	ASSERT_EQ(hop_stat(&px, 0, "forwarded"), before);
	ASSERT(hop_stat(&px, 0, "downs") >= 1);

	/* Back: once it answers probes its users move back. */
	sipp_start(&uas[0], "uas0b.out", uas_args[0]);
	for (i = 0; i < 100 && !hop_stat(&px, 0, "up"); i++)
		usleep(20000);
	ASSERT_MSG(hop_stat(&px, 0, "up"), "server 0 not back after 2 s");
	expected_split(h0, h1, 5000, 400, want);
	write_users("users2.csv", 5000, 400);
	snprintf(args, sizeof(args),
		 "-sf %s -inf users2.csv -i 127.0.0.1 -p %u 127.0.0.1:%u "
		 "-m 400 -r 400 -timeout 20s",
		 scenario("pxsl_uac_register.xml"), c, px.port);
	rc = sipp_run("uac2.out", args, 20000);
	ASSERT_MSG(rc == 0, "sipp uac (second run) exit %d", rc);
	ASSERT(hop_stat(&px, 0, "forwarded") - before >= want[0]);
	ASSERT(hop_stat(&px, 0, "ups") >= 1);
	ASSERT_EQ(proc_stop(&px.p, 5000), 0);
	proc_signal(&uas[0], SIGTERM);
	proc_signal(&uas[1], SIGTERM);
	wait_exit(&uas[0], 3000);
	wait_exit(&uas[1], 3000);
	proc_stop(&uas[0], 1000);
	proc_stop(&uas[1], 1000);
}

/* INVITE calls: ACK and BYE come back through the proxy by Route. */
static void calls(bool tcp, struct px *px, uint16_t uas_port,
		  const char *px_target)
{
	struct proc uas;
	char args[1024];
	int rc;

	write_users("callees.csv", 0, 200);
	/* No -m: sipp would count the OPTIONS probes it answers (-aa) as
	 * calls.  The uac's success says the calls went through. */
	snprintf(args, sizeof(args), "-sf %s -i 127.0.0.1 -p %u -aa",
		 scenario("pxsl_uas_call.xml"), uas_port);
	sipp_start(&uas, "uas.out", args);
	usleep(200000);
	snprintf(args, sizeof(args),
		 "-sf %s -inf callees.csv -i 127.0.0.1 -p %u %s %s -m 200 "
		 "-r 100 -timeout 20s",
		 scenario("pxsl_uac_call.xml"), proc_free_port(), px_target,
		 tcp ? "-t tn -max_socket 1000" : "");
	rc = sipp_run("uac.out", args, 25000);
	ASSERT_MSG(rc == 0, "sipp uac exit %d (see uac.out)", rc);
	ASSERT(!proc_exited(&uas));
	/* SIGKILL: sipp's SIGTERM handler signals its whole process
	 * group, which is the test's and the proxy's. */
	proc_signal(&uas, SIGKILL);
	wait_exit(&uas, 3000);
	proc_stop(&uas, 1000);
	(void)px;
}

TEST_TIMEOUT(proxy_stateless_sipp_calls_follow_record_route_tcp, 30)
{
	struct px px;
	uint16_t u = proc_free_port();
	char next[64], lu[64], lt[64], target[64];

	stack_need_sipp();
	px.port = proc_free_port();
	snprintf(next, sizeof(next), "udp:127.0.0.1:%u", u);
	snprintf(lu, sizeof(lu), "udp:127.0.0.1:%u", px.port);
	snprintf(lt, sizeof(lt), "tcp:127.0.0.1:%u", px.port);
	snprintf(target, sizeof(target), "127.0.0.1:%u", px.port);
	{
		const char *a[] = {"--listen",
				   lu,
				   "--listen",
				   lt,
				   "--next",
				   next,
				   "--record-route",
				   "--probe-interval",
				   "0",
				   "--workers",
				   "2",
				   NULL};

		px_start(&px, a);
	}
	calls(true, &px, u, target);
	/* INVITEs by hash; ACK and BYE by their Route set. */
	ASSERT_EQ(hop_stat(&px, 0, "forwarded"), 200);
	ASSERT_EQ(stat2(&px, "forwarded", "by_route"), 400);
	ASSERT(stat2(&px, "transport", "tcp_in") >= 600);
	/* A connection per call over two workers: some answers reached
	 * the worker without the connection and were handed over. */
	ASSERT(stat2(&px, NULL, "handoffs") > 0);
	ASSERT_EQ(proc_stop(&px.p, 5000), 0);
}

static void make_certs(void)
{
	static const char script[] =
		"set -e\n"
		"openssl req -x509 -newkey ec -pkeyopt "
		"ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=CA "
		"-keyout ca.key -out ca.pem 2>/dev/null\n"
		"openssl req -new -newkey ec -pkeyopt "
		"ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost "
		"-keyout srv.key -out srv.csr 2>/dev/null\n"
		"printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' "
		"> ext.cnf\n"
		"openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
		"-CAcreateserial -days 2 -extfile ext.cnf -out srv.pem "
		"2>/dev/null\n";
	FILE *f;

	if (system("command -v openssl >/dev/null 2>&1") != 0)
		test_skip("the openssl command is needed for certificates");
	f = fopen("gen.sh", "w");
	ASSERT(f);
	fputs(script, f);
	fclose(f);
	ASSERT_MSG(system("sh gen.sh") == 0, "certificate generation failed");
}

/* UDP client -> proxy A -> TLS -> proxy B -> UDP server, and back. */
TEST_TIMEOUT(proxy_stateless_sipp_calls_through_a_tls_hop, 30)
{
	struct px a, b;
	uint16_t u = proc_free_port();
	char next_b[64], la[64], lb[64], next_a[64], target[64];

	stack_need_sipp();
	make_certs();
	a.port = proc_free_port();
	b.port = proc_free_port();
	snprintf(la, sizeof(la), "udp:127.0.0.1:%u", a.port);
	snprintf(next_a, sizeof(next_a), "tls:127.0.0.1:%u", b.port);
	snprintf(lb, sizeof(lb), "tls:127.0.0.1:%u", b.port);
	snprintf(next_b, sizeof(next_b), "udp:127.0.0.1:%u", u);
	snprintf(target, sizeof(target), "127.0.0.1:%u", a.port);
	{
		const char *args[] = {"--listen",
				      lb,
				      "--next",
				      next_b,
				      "--tls-cert",
				      "srv.pem",
				      "--tls-key",
				      "srv.key",
				      "--record-route",
				      "--probe-interval",
				      "200",
				      NULL};

		px_start(&b, args);
	}
	{
		const char *args[] = {"--listen",
				      la,
				      "--next",
				      next_a,
				      "--tls-ca",
				      "ca.pem",
				      "--record-route",
				      "--probe-interval",
				      "200",
				      NULL};

		px_start(&a, args);
	}
	calls(false, &a, u, target);
	ASSERT_EQ(hop_stat(&a, 0, "forwarded"), 200);
	ASSERT(hop_stat(&a, 0, "up"));
	ASSERT(hop_stat(&a, 0, "answered") >= 1);
	ASSERT(stat2(&b, "transport", "tls_in") >= 600);
	ASSERT_EQ(stat2(&b, "forwarded", "by_route"), 400);
	ASSERT_EQ(proc_stop(&a.p, 5000), 0);
	ASSERT_EQ(proc_stop(&b.p, 5000), 0);
}
