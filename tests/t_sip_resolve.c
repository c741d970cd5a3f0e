/*
 * Tests for sip_resolve (RFC 3263 §4) against a real DNS server: a
 * knotd started by each test on a free port of 127.0.0.1 with the zone
 * tests/data/dns/sipstone.test.zone.in, stopped by its PID.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns_msg.h"
#include "ev.h"
#include "knot.h"
#include "obj.h"
#include "proc.h"
#include "sip_resolve.h"
#include "sip_uri.h"
#include "test.h"

/*
 * The runner's children end with _exit(), so LeakSanitizer would never
 * look: the sanitizer build checks here, after everything is freed
 * (the resolver, c-ares's channel and its library state).
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define CHECK_NO_LEAKS()                                                     \
	ASSERT_MSG(__lsan_do_recoverable_leak_check() == 0, "LeakSanitizer " \
							    "found leaks "   \
							    "(report above)")
#else
#define CHECK_NO_LEAKS() ((void)0)
#endif

#define ZONE_V1                                                         \
	(const char *const[])                                           \
	{                                                               \
		"SERIAL", "1", "TTLADDR", "127.0.3.1", "LATE", "", NULL \
	}

struct env {
	struct ev *ev;
	struct sip_resolver *r;
	struct knot knot;
	bool has_knot;
};

static void need_knot(void)
{
	if (!knot_available())
		test_skip("knotd/knotc absent (Debian package knot; "
			  "scripts/install-deps installs it)");
}

static void env_start(struct env *e, struct sip_resolve_opts *o,
		      const char *const *vars)
{
	memset(e, 0, sizeof(*e));
	ASSERT_EQ(ev_alloc(&e->ev), 0);
	if (vars) {
		knot_start(&e->knot, vars);
		e->has_knot = true;
		o->servers = e->knot.servers;
	}
	if (!o->timeout_ms)
		o->timeout_ms = 500;
	ASSERT_EQ(sip_resolver_alloc(&e->r, e->ev, o), 0);
}

static void env_stop(struct env *e)
{
	e->r = obj_deref(e->r);
	e->ev = obj_deref(e->ev);
	if (e->has_knot)
		knot_stop(&e->knot);
	CHECK_NO_LEAKS();
}

struct done {
	bool called;
	int err;
	struct sip_resolve_res *res;
};

static void on_done(int err, struct sip_resolve_res *res, void *arg)
{
	struct done *d = arg;

	ASSERT(!d->called);
	d->called = true;
	d->err = err;
	d->res = res;
}

/* Runs the loop (bounded: 5 s) until d is answered. */
static void wait_done(struct env *e, struct done *d)
{
	uint64_t end = ev_monotonic_ns() + EV_MS(5000);

	while (!d->called) {
		ASSERT_EQ(ev_run_once(e->ev, EV_MS(50)), 0);
		ASSERT_MSG(ev_monotonic_ns() < end, "no answer within 5 s");
	}
}

/*
 * Resolves q to the end; *async says whether DNS was asked (or the
 * cache answered at once).  Returns the error, *resp on success.
 */
static int resolve(struct env *e, const struct sip_resolve_query *q,
		   struct sip_resolve_res **resp, bool *async)
{
	struct done d = {0};
	int err = sip_resolve(e->r, q, resp, on_done, &d, NULL);

	if (async)
		*async = err == EINPROGRESS;
	if (err != EINPROGRESS) {
		ASSERT(!d.called);
		return err;
	}
	wait_done(e, &d);
	if (!d.err)
		*resp = d.res;
	else
		ASSERT(!d.res);
	return d.err;
}

static struct sip_resolve_query query(const char *host, uint16_t port,
				      enum sip_transport proto, bool secure)
{
	struct sip_resolve_query q = {
		{host, strlen(host)}, port, proto, secure};

	return q;
}

/* The targets as "udp:1.2.3.4:5060 tcp:..." */
static void targets_str(const struct sip_resolve_res *res, char *buf,
			size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sip_resolve_res_count(res); i++) {
		char a[SIP_TP_ADDR_STRLEN];

		ASSERT_EQ(sip_tp_addr_print(&sip_resolve_res_get(res, i)->addr,
					    a, sizeof(a)),
			  0);
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? " " : "",
				      a);
		ASSERT(n < size);
	}
}

static void expect(struct env *e, const struct sip_resolve_query *q,
		   const char *want, bool want_async)
{
	struct sip_resolve_res *res = NULL;
	bool async;
	char got[1024];

	ASSERT_EQ(resolve(e, q, &res, &async), 0);
	targets_str(res, got, sizeof(got));
	ASSERT_MSG(strcmp(got, want) == 0, "%.*s: got \"%s\", want \"%s\"",
		   PL_FMT(&q->host), got, want);
	ASSERT_MSG(async == want_async, "%.*s: async %d", PL_FMT(&q->host),
		   async);
	obj_deref(res);
}

static void expect_uri(struct env *e, const char *uri_text, const char *want,
		       bool want_async)
{
	struct sip_uri uri;
	struct sip_resolve_query q;
	struct pl t = {uri_text, strlen(uri_text)};

	ASSERT_EQ(sip_uri_decode(&uri, &t), 0);
	ASSERT_EQ(sip_resolve_query_from_uri(&q, &uri), 0);
	expect(e, &q, want, want_async);
}

TEST_TIMEOUT(sip_resolve_naptr_srv_a, 20)
{
	struct sip_resolve_opts o = {0};
	struct sip_resolve_stats st;
	struct sip_resolve_res *res = NULL;
	struct sip_resolve_query q;
	struct env e;
	/* NAPTR (XMPP skipped) -> three SRV -> A and AAAA */
	const char *targets = "udp:127.0.1.1:5070 tcp:127.0.1.1:5071 "
			      "tls:127.0.1.2:5072 tls:[::1]:5072";

	need_knot();
	env_start(&e, &o, ZONE_V1);
	expect_uri(&e, "sip:alice@naptr.sipstone.test", targets, true);
	sip_resolver_stats(e.r, &st);
	ASSERT_EQ(st.lookups, 1);
	ASSERT_EQ(st.misses, 1);
	ASSERT_EQ(st.hits, 0);
	/* NAPTR, 3 SRV, A+AAAA of p1 and of p2 */
	ASSERT_EQ(st.queries, 8);
	ASSERT(st.time_ns > 0 && st.time_max_ns <= st.time_ns);

	/* Again: all from the cache, at once, no query. */
	q = query("naptr.sipstone.test", 0, SIP_TP_NONE, false);
	expect(&e, &q, targets, false);
	sip_resolver_stats(e.r, &st);
	ASSERT_EQ(st.hits, 1);
	ASSERT_EQ(st.queries, 8);
	ASSERT(st.cache_entries >= 8);

	/* The target's name comes with each address. */
	ASSERT_EQ(resolve(&e, &q, &res, NULL), 0);
	ASSERT_STR(sip_resolve_res_get(res, 0)->name, "p1.naptr.sipstone."
						      "test");
	ASSERT_STR(sip_resolve_res_get(res, 3)->name, "p2.naptr.sipstone."
						      "test");
	res = obj_deref(res);

	/* sips: TLS only; case and a final dot do not matter. */
	q = query("NAPTR.SipStone.Test.", 0, SIP_TP_NONE, true);
	expect(&e, &q, "tls:127.0.1.2:5072 tls:[::1]:5072", false);

	/* No NAPTR: SRV per transport; here only TCP has one. */
	expect_uri(&e, "sip:srvonly.sipstone.test", "tcp:127.0.1.1:5090",
		   true);
	/* A transport given: its SRV; none for UDP: A, port 5060. */
	q = query("srvonly.sipstone.test", 0, SIP_TP_TCP, false);
	expect(&e, &q, "tcp:127.0.1.1:5090", false);
	expect_uri(&e, "sip:srvonly.sipstone.test;transport=udp",
		   "udp:127.0.1.9:5060", true);
	/* A port given: A/AAAA only (cached already), no NAPTR or SRV. */
	expect_uri(&e, "sip:p1.naptr.sipstone.test:6000", "udp:127.0.1.1:6000",
		   false);
	/* maddr is the target (RFC 3263 §4). */
	expect_uri(&e, "sip:bob@example.invalid;maddr=plain.sipstone.test",
		   "udp:127.0.6.1:5060", true);
	/* No NAPTR, no SRV: A with the default port (TLS for sips:; the
	 * negative answers are cached from the maddr case but _sips). */
	expect_uri(&e, "sips:plain.sipstone.test", "tls:127.0.6.1:5061",
		   false);

	/* SRV target "." (RFC 2782): no service, and no A fallback. */
	q = query("nosip.sipstone.test", 0, SIP_TP_UDP, false);
	ASSERT_EQ(resolve(&e, &q, &res, NULL), ENOENT);
	/* NXDOMAIN everywhere. */
	q = query("nx.sipstone.test", 0, SIP_TP_NONE, false);
	ASSERT_EQ(resolve(&e, &q, &res, NULL), ENOENT);
	/* Outside the server's zone: it refuses (RCODE 5). */
	q = query("elsewhere.invalid", 0, SIP_TP_NONE, false);
	ASSERT_EQ(resolve(&e, &q, &res, NULL), ECONNREFUSED);
	sip_resolver_stats(e.r, &st);
	ASSERT_EQ(st.failures, 3);
	env_stop(&e);
}

TEST_TIMEOUT(sip_resolve_srv_weights, 20)
{
	struct sip_resolve_opts o = {0};
	struct sip_resolve_stats st;
	struct sip_resolve_query q;
	struct env e;
	const int rounds = 10000;
	int w1 = 0, w3 = 0, e1 = 0, e2 = 0;

	need_knot();
	env_start(&e, &o, ZONE_V1);
	q = query("weights.sipstone.test", 0, SIP_TP_UDP, false);
	for (int i = 0; i < rounds; i++) {
		struct sip_resolve_res *res = NULL;
		const char *n[5];

		ASSERT_EQ(resolve(&e, &q, &res, NULL), 0);
		ASSERT_EQ(sip_resolve_res_count(res), 5);
		for (size_t k = 0; k < 5; k++)
			n[k] = sip_resolve_res_get(res, k)->name;
		/* Priorities in order: 10 (w1, w3), 20 (e1, e2), 30. */
		ASSERT_MSG(n[0][0] == 'w' && n[1][0] == 'w' &&
				   n[2][0] == 'e' && n[3][0] == 'e' &&
				   strcmp(n[4], "last.weights.sipstone."
						"test") == 0,
			   "order: %s %s %s %s %s", n[0], n[1], n[2], n[3],
			   n[4]);
		w1 += strcmp(n[0], "w1.weights.sipstone.test") == 0;
		w3 += strcmp(n[0], "w3.weights.sipstone.test") == 0;
		e1 += strcmp(n[2], "e1.weights.sipstone.test") == 0;
		e2 += strcmp(n[2], "e2.weights.sipstone.test") == 0;
		obj_deref(res);
	}
	ASSERT_EQ(w1 + w3, rounds);
	ASSERT_EQ(e1 + e2, rounds);
	/* Within 3 % of the weights: 1:3 is 25 %, 1:1 is 50 %. */
	ASSERT_MSG(w1 >= rounds * 22 / 100 && w1 <= rounds * 28 / 100,
		   "weight 1 of 1:3 first %d times of %d", w1, rounds);
	ASSERT_MSG(e1 >= rounds * 47 / 100 && e1 <= rounds * 53 / 100,
		   "weight 1 of 1:1 first %d times of %d", e1, rounds);
	sip_resolver_stats(e.r, &st);
	ASSERT_EQ(st.misses, 1);
	ASSERT_EQ(st.hits, rounds - 1);
	fprintf(stderr, "1:3 split %d:%d, 1:1 split %d:%d\n", w1, w3, e1, e2);
	env_stop(&e);
}

/* Runs the loop for ms (timers and ev_now() move on). */
static void run_for(struct env *e, unsigned ms)
{
	uint64_t end = ev_monotonic_ns() + EV_MS(ms);

	while (ev_monotonic_ns() < end)
		ASSERT_EQ(ev_run_once(e->ev, EV_MS(20)), 0);
}

/*
 * Resolves q every 100 ms until the answer is no longer old (bounded:
 * 6 s) and returns how long after t0 (ms) the change came.  Every
 * answer before must be old and from the cache; want is the new one.
 */
static uint64_t wait_change(struct env *e, const struct sip_resolve_query *q,
			    int old_err, const char *old, const char *want,
			    uint64_t t0)
{
	for (int i = 0; i < 60; i++) {
		struct sip_resolve_res *res = NULL;
		char got[256] = "";
		bool async;
		int err = resolve(e, q, &res, &async);

		if (!err) {
			targets_str(res, got, sizeof(got));
			obj_deref(res);
		}
		if (async) {
			ASSERT_EQ(err, 0);
			ASSERT_STR(got, want);
			return (ev_monotonic_ns() - t0) / EV_NS_PER_MS;
		}
		ASSERT_EQ(err, old_err);
		ASSERT_STR(got, old);
		run_for(e, 100);
	}
	test_fail(__FILE__, __LINE__, "the cache never expired");
}

TEST_TIMEOUT(sip_resolve_ttl_expiry, 20)
{
	struct sip_resolve_opts o = {.no_ipv6 = true};
	struct sip_resolve_stats st;
	struct sip_resolve_query q;
	struct env e;
	uint64_t t0, ms, queries;

	need_knot();
	env_start(&e, &o, ZONE_V1);
	q = query("ttl.sipstone.test", 5060, SIP_TP_NONE, false);
	expect(&e, &q, "udp:127.0.3.1:5060", true);
	t0 = ev_monotonic_ns();
	sip_resolver_stats(e.r, &st);
	queries = st.queries;

	/* The server changes; the cache keeps the old answer (TTL 2 s). */
	knot_reload(&e.knot,
		    (const char *const[]){"SERIAL", "2", "TTLADDR",
					  "127.0.3.2", "LATE", "", NULL});
	expect(&e, &q, "udp:127.0.3.1:5060", false);
	sip_resolver_stats(e.r, &st);
	ASSERT_EQ(st.queries, queries);

	ms = wait_change(&e, &q, 0, "udp:127.0.3.1:5060", "udp:127.0.3.2:5060",
			 t0);
	ASSERT_MSG(ms >= 1800 && ms <= 3500, "changed after %llu ms",
		   (unsigned long long)ms);
	fprintf(stderr, "TTL 2 s: new answer after %llu ms\n",
		(unsigned long long)ms);
	env_stop(&e);
}

TEST_TIMEOUT(sip_resolve_negative_cache, 20)
{
	struct sip_resolve_opts o = {.no_ipv6 = true};
	struct sip_resolve_stats st;
	struct sip_resolve_res *res = NULL;
	struct sip_resolve_query q;
	struct env e;
	uint64_t t0, ms, queries;
	bool async;

	need_knot();
	env_start(&e, &o, ZONE_V1);
	q = query("late.sipstone.test", 5060, SIP_TP_NONE, false);
	ASSERT_EQ(resolve(&e, &q, &res, &async), ENOENT);
	ASSERT(async);
	t0 = ev_monotonic_ns();
	sip_resolver_stats(e.r, &st);
	queries = st.queries;

	/* The name appears; NXDOMAIN stays cached for the SOA's 2 s. */
	knot_reload(&e.knot, (const char *const[]){
				     "SERIAL", "2", "TTLADDR", "127.0.3.1",
				     "LATE", "late IN A 127.0.4.1", NULL});
	ASSERT_EQ(resolve(&e, &q, &res, &async), ENOENT);
	ASSERT(!async);
	sip_resolver_stats(e.r, &st);
	ASSERT_EQ(st.queries, queries);

	ms = wait_change(&e, &q, ENOENT, "", "udp:127.0.4.1:5060", t0);
	ASSERT_MSG(ms >= 1800 && ms <= 3500, "found after %llu ms",
		   (unsigned long long)ms);
	env_stop(&e);
}

TEST_TIMEOUT(sip_resolve_down_target, 20)
{
	struct sip_resolve_opts o = {.down_ms = 500};
	struct sip_resolve_stats st;
	struct sip_resolve_res *res = NULL, *res2 = NULL;
	const struct sip_resolve_target *t;
	struct sip_resolve_query q;
	struct sip_tp_addr a_fo;
	char s[SIP_TP_ADDR_STRLEN];
	struct env e;

	need_knot();
	env_start(&e, &o, ZONE_V1);
	q = query("fo.sipstone.test", 0, SIP_TP_UDP, false);
	ASSERT_EQ(resolve(&e, &q, &res, NULL), 0);
	t = sip_resolve_res_target(e.r, res);
	ASSERT(t);
	ASSERT_STR(t->name, "a.fo.sipstone.test");
	a_fo = t->addr;
	ASSERT_EQ(sip_resolve_res_target(e.r, res), t); /* stays */

	/* A timeout or a 503 from a.fo: the next one (RFC 3263 §4.3). */
	t = sip_resolve_res_failover(e.r, res);
	ASSERT(t);
	ASSERT_STR(t->name, "b.fo.sipstone.test");
	ASSERT(sip_resolver_is_down(e.r, &a_fo));

	/* A new resolution skips a.fo while it is down. */
	ASSERT_EQ(resolve(&e, &q, &res2, NULL), 0);
	ASSERT_EQ(sip_resolve_res_count(res2), 2);
	t = sip_resolve_res_target(e.r, res2);
	ASSERT(t);
	ASSERT_EQ(sip_tp_addr_print(&t->addr, s, sizeof(s)), 0);
	ASSERT_STR(s, "udp:127.0.7.2:5060");
	sip_resolver_stats(e.r, &st);
	ASSERT_EQ(st.down_skips, 1);
	res2 = obj_deref(res2);

	/* Both down: nothing left to try. */
	ASSERT(!sip_resolve_res_failover(e.r, res));
	res = obj_deref(res);

	/* After down_ms both come back, in SRV order. */
	run_for(&e, 600);
	ASSERT(!sip_resolver_is_down(e.r, &a_fo));
	ASSERT_EQ(resolve(&e, &q, &res, NULL), 0);
	t = sip_resolve_res_target(e.r, res);
	ASSERT(t);
	ASSERT_STR(t->name, "a.fo.sipstone.test");
	res = obj_deref(res);
	env_stop(&e);
}

/* A UDP socket on 127.0.0.1 that is never read: a server that is dead. */
static int silent_server(char *servers, size_t size)
{
	uint16_t port;
	int fd = proc_udp_bound(&port);

	snprintf(servers, size, "127.0.0.1:%u", port);
	return fd;
}

static void never(int err, struct sip_resolve_res *res, void *arg)
{
	(void)err;
	(void)res;
	(void)arg;
	test_fail(__FILE__, __LINE__, "a cancelled handler ran");
}

TEST_TIMEOUT(sip_resolve_timeout, 20)
{
	struct sip_resolve_opts o = {.timeout_ms = 200, .tries = 2};
	struct sip_resolve_stats st;
	struct sip_resolve_res *res = NULL;
	struct sip_resolve_req *req = NULL;
	struct sip_resolve_query q, q2;
	struct pollfd pfd;
	struct done d = {0};
	struct env e;
	char servers[32];
	uint64_t t0, ms;
	int fd = silent_server(servers, sizeof(servers));

	o.servers = servers;
	env_start(&e, &o, NULL);
	q = query("dead.sipstone.test", 0, SIP_TP_NONE, false);
	q2 = query("cancelled.sipstone.test", 0, SIP_TP_NONE, false);
	t0 = ev_monotonic_ns();
	ASSERT_EQ(sip_resolve(e.r, &q, &res, on_done, &d, NULL), EINPROGRESS);
	/* The call itself never waits for the server. */
	ASSERT_MSG(ev_monotonic_ns() - t0 < EV_MS(50), "sip_resolve blocked");
	ASSERT_EQ(sip_resolve(e.r, &q2, &res, never, NULL, &req), EINPROGRESS);
	sip_resolve_cancel(req);
	wait_done(&e, &d);
	ms = (ev_monotonic_ns() - t0) / EV_NS_PER_MS;
	ASSERT_EQ(d.err, ETIMEDOUT);
	ASSERT(!d.res);
	/* 200 ms, then 400 ms: about 600 ms, and never a hang. */
	ASSERT_MSG(ms >= 500 && ms <= 1500, "timed out after %llu ms",
		   (unsigned long long)ms);
	fprintf(stderr, "timeout 200 ms x 2 tries: error after %llu ms\n",
		(unsigned long long)ms);
	/* The queries did reach the silent server. */
	pfd.fd = fd;
	pfd.events = POLLIN;
	ASSERT_EQ(poll(&pfd, 1, 0), 1);

	/* The failure is cached for fail_ttl_ms: an error at once. */
	ASSERT_EQ(sip_resolve(e.r, &q, &res, on_done, &d, NULL), ETIMEDOUT);
	sip_resolver_stats(e.r, &st);
	ASSERT(st.query_failures >= 1);
	ASSERT_EQ(st.failures, 2);

	/* Freed with a resolution pending: no handler, nothing leaks. */
	memset(&d, 0, sizeof(d));
	q = query("pending.sipstone.test", 0, SIP_TP_NONE, false);
	ASSERT_EQ(sip_resolve(e.r, &q, &res, never, NULL, NULL), EINPROGRESS);
	env_stop(&e);
	close(fd);
}

TEST_TIMEOUT(sip_resolve_aaaa, 20)
{
	struct sip_resolve_opts o = {0};
	struct sip_resolve_res *res = NULL;
	struct sip_resolve_query q;
	struct env e;

	need_knot();
	env_start(&e, &o, ZONE_V1);
	q = query("v6.sipstone.test", 5060, SIP_TP_NONE, false);
	expect(&e, &q, "udp:[::1]:5060", true);
	q = query("both.sipstone.test", 5062, SIP_TP_TCP, false);
	expect(&e, &q, "tcp:127.0.5.1:5062 tcp:[::2]:5062", true);
	e.r = obj_deref(e.r);

	o.prefer_ipv6 = true;
	ASSERT_EQ(sip_resolver_alloc(&e.r, e.ev, &o), 0);
	expect(&e, &q, "tcp:[::2]:5062 tcp:127.0.5.1:5062", true);
	e.r = obj_deref(e.r);

	o.prefer_ipv6 = false;
	o.no_ipv6 = true;
	ASSERT_EQ(sip_resolver_alloc(&e.r, e.ev, &o), 0);
	expect(&e, &q, "tcp:127.0.5.1:5062", true);
	q = query("v6.sipstone.test", 5060, SIP_TP_NONE, false);
	ASSERT_EQ(resolve(&e, &q, &res, NULL), ENOENT);
	env_stop(&e);
}

/* Bad input gets EINVAL at once, never a query or a crash. */
TEST(sip_resolve_bad_names)
{
	static const char *const bad[] = {"",
					  ".",
					  "..",
					  "a..b",
					  ".a",
					  "a b",
					  "a/b",
					  "[]",
					  "[::1",
					  "a_b\xff",
					  "exa\tmple.test",
					  "a.b.c:5060"};
	struct sip_resolve_opts o = {0};
	struct sip_resolve_stats st;
	struct sip_resolve_res *res = NULL;
	struct sip_resolve_query q;
	struct sip_uri uri;
	struct pl t;
	struct env e;
	char name[400], servers[32];
	uint64_t x = 12345;
	int fd = silent_server(servers, sizeof(servers));

	o.servers = servers;
	env_start(&e, &o, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		q = query(bad[i], 0, SIP_TP_NONE, false);
		ASSERT_MSG(sip_resolve(e.r, &q, &res, never, NULL, NULL) ==
				   EINVAL,
			   "\"%s\"", bad[i]);
	}
	/* A label of 64, a name of 254, an embedded NUL */
	memset(name, 'a', 64);
	memcpy(name + 64, ".test", 6);
	q = query(name, 0, SIP_TP_NONE, false);
	ASSERT_EQ(sip_resolve(e.r, &q, &res, never, NULL, NULL), EINVAL);
	for (int i = 0; i < 254; i++)
		name[i] = i % 10 == 9 ? '.' : 'a';
	name[254] = '\0';
	q = query(name, 0, SIP_TP_NONE, false);
	ASSERT_EQ(sip_resolve(e.r, &q, &res, never, NULL, NULL), EINVAL);
	q.host.p = "a\0b.test";
	q.host.l = 8;
	ASSERT_EQ(sip_resolve(e.r, &q, &res, never, NULL, NULL), EINVAL);
	q = query("ok.test", 0, SIP_TP_SCTP, false);
	ASSERT_EQ(sip_resolve(e.r, &q, &res, never, NULL, NULL), EINVAL);
	sip_resolver_stats(e.r, &st);
	ASSERT_EQ(st.queries, 0);

	/* Random bytes: an error or a pending query (then cancelled). */
	for (int i = 0; i < 2000; i++) {
		struct sip_resolve_req *req = NULL;
		size_t len;
		int err;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		len = (size_t)(x >> 33) % 300;
		for (size_t j = 0; j < len; j++) {
			x = x * 6364136223846793005ull + 1;
			name[j] = (char)(x >> 56);
			if (i % 2) /* mostly valid characters */
				name[j] = "ab.-_9."[(x >> 40) % 7];
		}
		q.host.p = name;
		q.host.l = len;
		q.proto = SIP_TP_NONE;
		err = sip_resolve(e.r, &q, &res, never, NULL, &req);
		ASSERT_MSG(err == EINVAL || err == EINPROGRESS, "err %d", err);
		if (err == EINPROGRESS)
			sip_resolve_cancel(req);
	}

	/* Numeric hosts are their own targets, at once. */
	q = query("127.0.0.9", 0, SIP_TP_NONE, false);
	expect(&e, &q, "udp:127.0.0.9:5060", false);
	q = query("[::1]", 0, SIP_TP_NONE, true);
	expect(&e, &q, "tls:[::1]:5061", false);
	q = query("::1", 7000, SIP_TP_TCP, false);
	expect(&e, &q, "tcp:[::1]:7000", false);

	/* Only sip: and sips: URIs, with a transport we speak. */
	t = (struct pl){"tel:+12345", 10};
	ASSERT_EQ(sip_uri_decode(&uri, &t), 0);
	ASSERT_EQ(sip_resolve_query_from_uri(&q, &uri), EINVAL);
	t = (struct pl){"sip:a@b.test;transport=sctp", 27};
	ASSERT_EQ(sip_uri_decode(&uri, &t), 0);
	ASSERT_EQ(sip_resolve_query_from_uri(&q, &uri), EINVAL);
	env_stop(&e);
	close(fd);
}

/* Malformed DNS messages are EBADMSG, never a crash. */
TEST(sip_resolve_dns_msg_robust)
{
	/* One SRV answer: _sip._udp.x. -> port 5060, target "t.x" */
	static const uint8_t good[] = {
		0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		/* question */
		4, '_', 's', 'i', 'p', 4, '_', 'u', 'd', 'p', 1, 'x', 0, 0, 33,
		0, 1,
		/* answer: name -> offset 12, SRV IN TTL 60 */
		0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60, 0, 10,
		/* prio 1, weight 2, port 5060, "t" + pointer to "x" */
		0, 1, 0, 2, 0x13, 0xc4, 1, 't', 0xc0, 22};
	uint8_t buf[sizeof(good)];
	struct dns_msg m;
	struct dns_rr rr;
	uint32_t ttl;
	uint64_t x = 99;

	ASSERT_EQ(dns_msg_open(&m, good, sizeof(good)), 0);
	ASSERT_EQ(dns_msg_next(&m, DNS_T_SRV, &rr), 0);
	ASSERT_EQ(rr.ttl, 60);
	ASSERT_EQ(rr.u.srv.port, 5060);
	ASSERT_STR(rr.u.srv.target, "t.x");
	ASSERT_EQ(dns_msg_next(&m, DNS_T_SRV, &rr), ENOENT);
	ASSERT_EQ(dns_msg_negative_ttl(&m, &ttl), ENOENT);

	/* A pointer to itself: a loop */
	memcpy(buf, good, sizeof(good));
	buf[sizeof(good) - 1] = (uint8_t)(sizeof(good) - 2);
	ASSERT_EQ(dns_msg_open(&m, buf, sizeof(buf)), 0);
	ASSERT_EQ(dns_msg_next(&m, DNS_T_SRV, &rr), EBADMSG);
	/* Every truncation */
	for (size_t n = 0; n < sizeof(good); n++) {
		if (dns_msg_open(&m, good, n) == 0)
			ASSERT_EQ(dns_msg_next(&m, DNS_T_SRV, &rr), EBADMSG);
	}
	/* Random mutations: any result but a crash (ASan watches). */
	for (int i = 0; i < 20000; i++) {
		memcpy(buf, good, sizeof(good));
		for (int k = 0; k < 3; k++) {
			x = x * 6364136223846793005ull +
			    1442695040888963407ull;
			buf[(x >> 33) % sizeof(buf)] = (uint8_t)(x >> 56);
		}
		if (dns_msg_open(&m, buf, sizeof(buf)) == 0) {
			while (dns_msg_next(&m, DNS_T_SRV, &rr) == 0)
				ASSERT(strlen(rr.u.srv.target) < DNS_NAME_MAX);
			(void)dns_msg_negative_ttl(&m, &ttl);
		}
	}
}
