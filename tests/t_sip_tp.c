/*
 * Tests for the transports, on loopback only (127.0.0.1, ::1), ports
 * chosen by the kernel.  Every loop is bounded in count and time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ev.h"
#include "obj.h"
#include "sip_tp.h"
#include "test.h"

#define MAX_RX 64

struct peer {
	struct ev *ev;
	struct sip_tp *tp;
	int nrx;
	bool count_only; /* keep no copies, just count */
	bool reply;	 /* answer every request with a 200 via sip_tp_reply */
	struct {
		bool is_request;
		uint16_t status;
		char body[64];
		size_t len;
		struct sip_tp_addr src, local;
		enum sip_transport proto;
		struct sip_tp_conn *conn; /* a reference */
		uint64_t rx_ns;
	} rx[MAX_RX];
};

static int build_msg(char *buf, size_t size, bool request, int n,
		     const char *body)
{
	int len;

	if (request)
		len = snprintf(buf, size,
			       "OPTIONS sip:u%d@example.com SIP/2.0\r\n"
			       "Via: SIP/2.0/UDP "
			       "127.0.0.1:5060;branch=z9hG4bK%d\r\n"
			       "Max-Forwards: 70\r\n"
			       "To: <sip:u%d@example.com>\r\n"
			       "From: <sip:a@example.com>;tag=%d\r\n"
			       "Call-ID: c%d@example.com\r\n"
			       "CSeq: %d OPTIONS\r\n"
			       "Content-Length: %zu\r\n"
			       "\r\n%s",
			       n, n, n, n, n, n + 1, strlen(body), body);
	else
		len = snprintf(buf, size,
			       "SIP/2.0 200 OK\r\n"
			       "Via: SIP/2.0/UDP "
			       "127.0.0.1:5060;branch=z9hG4bK%d\r\n"
			       "To: <sip:u%d@example.com>;tag=x\r\n"
			       "From: <sip:a@example.com>;tag=%d\r\n"
			       "Call-ID: c%d@example.com\r\n"
			       "CSeq: %d OPTIONS\r\n"
			       "Content-Length: %zu\r\n"
			       "\r\n%s",
			       n, n, n, n, n + 1, strlen(body), body);
	ASSERT(len > 0 && (size_t)len < size);
	return len;
}

static void on_rx(const struct sip_tp_rx *rx, void *arg)
{
	struct peer *p = arg;
	const struct sip_msg *m = rx->msg;

	if (p->count_only) {
		p->nrx++;
		return;
	}
	ASSERT(p->nrx < MAX_RX);
	{
		uint16_t status = 0;
		const char *why = NULL;

		/* The framing kept every message whole. */
		ASSERT_MSG(sip_msg_validate(rx->msg, &status, &why) == 0,
			   "invalid: %s", why ? why : "?");
	}
	p->rx[p->nrx].is_request = m->is_request;
	p->rx[p->nrx].status = m->status;
	p->rx[p->nrx].len = m->body.l;
	ASSERT(m->body.l < sizeof(p->rx[0].body));
	memcpy(p->rx[p->nrx].body, m->body.p, m->body.l);
	p->rx[p->nrx].src = rx->src;
	p->rx[p->nrx].local = rx->local;
	p->rx[p->nrx].proto = rx->proto;
	p->rx[p->nrx].conn = obj_ref(rx->conn);
	p->rx[p->nrx].rx_ns = rx->rx_ns;
	p->nrx++;
	if (p->reply && m->is_request) {
		char buf[1024];
		int len = build_msg(buf, sizeof(buf), false, p->nrx, "ok");

		ASSERT_EQ(sip_tp_reply(rx, buf, (size_t)len), 0);
	}
}

static void peer_init(struct peer *p, struct ev *ev,
		      const struct sip_tp_opts *opts)
{
	memset(p, 0, sizeof(*p));
	p->ev = ev;
	ASSERT_EQ(sip_tp_alloc(&p->tp, ev, opts, on_rx, p), 0);
}

static void peer_free(struct peer *p)
{
	for (int i = 0; !p->count_only && i < p->nrx; i++)
		obj_deref(p->rx[i].conn);
	p->tp = obj_deref(p->tp);
}

/* Runs the loop until *count reaches want (bounded: 3 s, 3000 turns). */
static void run_until_count(struct ev *ev, const int *count, int want)
{
	uint64_t end = ev_monotonic_ns() + EV_MS(3000);

	for (int i = 0; i < 3000 && *count < want; i++) {
		ASSERT_EQ(ev_run_once(ev, EV_MS(10)), 0);
		ASSERT_MSG(ev_monotonic_ns() < end,
			   "waited too long: %d of %d", *count, want);
	}
}

static void run_for(struct ev *ev, uint64_t ns)
{
	uint64_t end = ev_monotonic_ns() + ns;

	for (int i = 0; i < 1000 && ev_monotonic_ns() < end; i++)
		ASSERT_EQ(ev_run_once(ev, EV_MS(5)), 0);
}

static void listen_on(struct sip_tp *tp, const char *spec,
		      struct sip_tp_addr *bound)
{
	struct sip_tp_addr a;

	ASSERT_EQ(sip_tp_addr_decode(&a, NULL, spec), 0);
	ASSERT_EQ(sip_tp_listen(tp, &a, SIP_TP_REUSEPORT, bound), 0);
	ASSERT(sip_tp_addr_port(bound) != 0);
}

/* A plain blocking TCP client for byte-level tests. */
static int raw_connect(const struct sip_tp_addr *a)
{
	int fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	int one = 1;

	ASSERT(fd >= 0);
	/* No Nagle: a small write must leave now, not after an ACK. */
	ASSERT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)),
		  0);
	ASSERT_EQ(connect(fd, &a->u.sa, sip_tp_addr_len(a)), 0);
	return fd;
}

static void raw_write(int fd, const void *p, size_t n)
{
	ASSERT_EQ(write(fd, p, n), (ssize_t)n);
}

/* Reads what is there within ms (0 bytes: EOF or reset). */
static ssize_t raw_read(int fd, char *buf, size_t size, int ms)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	ssize_t n;

	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	n = recv(fd, buf, size, MSG_DONTWAIT);
	if (n < 0 && errno == ECONNRESET)
		return 0;
	return n;
}

/* Runs the loop while waiting for bytes on fd (bounded: 1 s). */
static ssize_t raw_read_loop(struct ev *ev, int fd, char *buf, size_t size)
{
	for (int i = 0; i < 200; i++) {
		ssize_t n;

		ASSERT_EQ(ev_run_once(ev, EV_MS(5)), 0);
		n = raw_read(fd, buf, size, 0);
		if (n >= 0)
			return n;
	}
	return -1;
}

/* Whether the server closed fd: EOF or reset within the bound. */
static bool raw_closed(struct ev *ev, int fd)
{
	char b[256];

	for (int i = 0; i < 300; i++) {
		ssize_t n;

		ASSERT_EQ(ev_run_once(ev, EV_MS(5)), 0);
		n = raw_read(fd, b, sizeof(b), 0);
		if (n == 0)
			return true;
	}
	return false;
}

static bool have_ipv6(void)
{
	struct sockaddr_in6 a;
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

TEST(sip_tp_addr_decode_good)
{
	struct sip_tp_addr a;
	struct pl host;
	char s[SIP_TP_ADDR_STRLEN];

	ASSERT_EQ(sip_tp_addr_decode(&a, &host, "udp:127.0.0.1:5060"), 0);
	ASSERT_EQ(a.proto, SIP_TP_UDP);
	ASSERT_EQ(a.u.sa.sa_family, AF_INET);
	ASSERT_EQ(sip_tp_addr_port(&a), 5060);
	ASSERT_PL(&host, "127.0.0.1");
	ASSERT_EQ(sip_tp_addr_print(&a, s, sizeof(s)), 0);
	ASSERT_STR(s, "udp:127.0.0.1:5060");

	ASSERT_EQ(sip_tp_addr_decode(&a, &host, "TCP:[::1]:0"), 0);
	ASSERT_EQ(a.proto, SIP_TP_TCP);
	ASSERT_EQ(a.u.sa.sa_family, AF_INET6);
	ASSERT_EQ(sip_tp_addr_port(&a), 0);
	ASSERT_PL(&host, "::1");
	ASSERT_EQ(sip_tp_addr_print(&a, s, sizeof(s)), 0);
	ASSERT_STR(s, "tcp:[::1]:0");
	ASSERT_EQ(sip_tp_addr_hostport(&a, s, sizeof(s)), 0);
	ASSERT_STR(s, "[::1]:0");

	ASSERT_EQ(sip_tp_addr_decode(&a, &host, "tls:localhost:65535"), 0);
	ASSERT_EQ(a.proto, SIP_TP_TLS);
	ASSERT_PL(&host, "localhost");
	ASSERT_EQ(sip_tp_addr_port(&a), 65535);

	ASSERT_EQ(sip_tp_addr_decode(&a, NULL, "tls:[2001:db8::1]:5061"), 0);
	ASSERT_EQ(sip_tp_addr_print(&a, s, sizeof(s)), 0);
	ASSERT_STR(s, "tls:[2001:db8::1]:5061");
	/* Too small a buffer is EOVERFLOW, not a cut string. */
	ASSERT_EQ(sip_tp_addr_print(&a, s, 10), EOVERFLOW);
}

TEST(sip_tp_addr_decode_bad)
{
	static const char *const bad[] = {
		"",
		"udp",
		"udp:",
		"sctp:1.2.3.4:5060",
		"ud:1.2.3.4:5060",
		"udp:1.2.3.4",
		"udp:1.2.3.4:",
		"udp:1.2.3.4:65536",
		"udp:1.2.3.4:-1",
		"udp:1.2.3.4:+1",
		"udp:1.2.3.4:5x",
		"udp:1.2.3.4:000005060",
		"udp:::1:5060",
		"udp:[::1]5060",
		"udp:[::1]:",
		"udp:[::1",
		"udp:[zz::]:5",
		"udp:[1.2.3.4]:5",
		"udp::5060",
		"udp:bad_name!:5060",
		"udp:a b:5060",
		"tcp:1.2.3.4:5060 ",
	};
	struct sip_tp_addr a, keep;
	struct pl host = PL("untouched");

	memset(&keep, 0x5a, sizeof(keep));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = keep;
		ASSERT_MSG(sip_tp_addr_decode(&a, &host, bad[i]) == EINVAL,
			   "\"%s\" accepted", bad[i]);
		ASSERT(!memcmp(&a, &keep, sizeof(a)));
		ASSERT_PL(&host, "untouched");
	}
	ASSERT_EQ(sip_tp_addr_decode(&a, NULL, NULL), EINVAL);
	ASSERT_EQ(sip_tp_addr_decode(&a, NULL, "udp:no-such-host.invalid:5"),
		  ENOENT);
}

TEST(sip_tp_udp_batch_and_replies)
{
	struct ev *ev = NULL;
	struct peer srv, cli;
	struct sip_tp_addr saddr, caddr;
	const struct sip_tp_stats *ss, *cs;
	char buf[1024];

	ASSERT_EQ(ev_alloc(&ev), 0);
	peer_init(&srv, ev, NULL);
	peer_init(&cli, ev, NULL);
	srv.reply = true;
	listen_on(srv.tp, "udp:127.0.0.1:0", &saddr);
	listen_on(cli.tp, "udp:127.0.0.1:0", &caddr);
	for (int i = 0; i < 20; i++) {
		char body[24];
		int len;

		snprintf(body, sizeof(body), "b%d", i);
		len = build_msg(buf, sizeof(buf), true, i, body);
		ASSERT_EQ(sip_tp_send(cli.tp, &saddr, buf, (size_t)len), 0);
	}
	/* Queued, not sent, until the loop flushes. */
	cs = sip_tp_stats(cli.tp);
	ASSERT_EQ(cs->msgs_out[SIP_TP_UDP], 0);
	run_until_count(ev, &cli.nrx, 20);
	ASSERT_EQ(srv.nrx, 20);
	for (int i = 0; i < 20; i++) {
		char body[24];

		snprintf(body, sizeof(body), "b%d", i);
		ASSERT(srv.rx[i].is_request);
		ASSERT_STR(srv.rx[i].body, body);
		ASSERT_EQ(srv.rx[i].proto, SIP_TP_UDP);
		ASSERT(srv.rx[i].conn == NULL);
		ASSERT(sip_tp_addr_eq(&srv.rx[i].src, &caddr));
		ASSERT(sip_tp_addr_eq(&srv.rx[i].local, &saddr));
		ASSERT(!cli.rx[i].is_request);
		ASSERT_EQ(cli.rx[i].status, 200);
		ASSERT(sip_tp_addr_eq(&cli.rx[i].src, &saddr));
	}
	ss = sip_tp_stats(srv.tp);
	ASSERT_EQ(cs->msgs_out[SIP_TP_UDP], 20);
	ASSERT_EQ(ss->msgs_in[SIP_TP_UDP], 20);
	ASSERT_EQ(ss->msgs_out[SIP_TP_UDP], 20);
	ASSERT_EQ(cs->msgs_in[SIP_TP_UDP], 20);
	ASSERT(ss->bytes_in[SIP_TP_UDP] > 20 * 200);
	ASSERT_EQ(ss->drop_parse + ss->drop_send + cs->drop_send, 0);
	peer_free(&cli);
	peer_free(&srv);
	obj_deref(ev);
}

/* A wildcard socket reports each datagram's own destination address
 * (IP_PKTINFO); a socket bound to one address reports that one. */
TEST(sip_tp_udp_local_address_of_wildcard_and_bound_sockets)
{
	struct ev *ev = NULL;
	struct peer srv, cli;
	struct sip_tp_addr waddr, caddr, dst;
	char buf[1024];
	int len;

	ASSERT_EQ(ev_alloc(&ev), 0);
	peer_init(&srv, ev, NULL);
	peer_init(&cli, ev, NULL);
	listen_on(srv.tp, "udp:0.0.0.0:0", &waddr);
	listen_on(cli.tp, "udp:127.0.0.1:0", &caddr);
	ASSERT_EQ(sip_tp_addr_decode(&dst, NULL, "udp:127.0.0.2:0"), 0);
	sip_tp_addr_set_port(&dst, sip_tp_addr_port(&waddr));
	len = build_msg(buf, sizeof(buf), true, 1, "w");
	ASSERT_EQ(sip_tp_send(cli.tp, &dst, buf, (size_t)len), 0);
	run_until_count(ev, &srv.nrx, 1);
	ASSERT(sip_tp_addr_eq(&srv.rx[0].local, &dst));
	ASSERT(sip_tp_addr_eq(&srv.rx[0].src, &caddr));
	/* And the other way: the client's socket is bound to 127.0.0.1. */
	len = build_msg(buf, sizeof(buf), true, 2, "b");
	ASSERT_EQ(sip_tp_send(srv.tp, &caddr, buf, (size_t)len), 0);
	run_until_count(ev, &cli.nrx, 1);
	ASSERT(sip_tp_addr_eq(&cli.rx[0].local, &caddr));
	peer_free(&cli);
	peer_free(&srv);
	obj_deref(ev);
}

TEST(sip_tp_udp_ipv6_send_now_and_bad_datagrams)
{
	struct ev *ev = NULL;
	struct peer srv, cli;
	struct sip_tp_opts o = {0};
	struct sip_tp_addr saddr, caddr;
	char buf[1024];
	int len;

	if (!have_ipv6())
		test_skip("no IPv6 loopback");
	ASSERT_EQ(ev_alloc(&ev), 0);
	o.udp_send_now = true;
	peer_init(&srv, ev, NULL);
	peer_init(&cli, ev, &o);
	listen_on(srv.tp, "udp:[::1]:0", &saddr);
	listen_on(cli.tp, "udp:[::1]:0", &caddr);

	/* Sent at once: counted before the loop runs. */
	len = build_msg(buf, sizeof(buf), true, 1, "v6");
	ASSERT_EQ(sip_tp_send(cli.tp, &saddr, buf, (size_t)len), 0);
	ASSERT_EQ(sip_tp_stats(cli.tp)->msgs_out[SIP_TP_UDP], 1);
	/* Junk, a CRLF keep-alive, then a good one: only junk counts. */
	ASSERT_EQ(sip_tp_send(cli.tp, &saddr, "\x01garbage\r\n\r\n", 12), 0);
	ASSERT_EQ(sip_tp_send(cli.tp, &saddr, "\r\n\r\n", 4), 0);
	ASSERT_EQ(sip_tp_send(cli.tp, &saddr, buf, (size_t)len), 0);
	run_until_count(ev, &srv.nrx, 2);
	ASSERT_EQ(srv.nrx, 2);
	ASSERT_STR(srv.rx[0].body, "v6");
	ASSERT(sip_tp_addr_eq(&srv.rx[0].src, &caddr));
	ASSERT_EQ(sip_tp_stats(srv.tp)->drop_parse, 1);
	/* No IPv4 UDP socket: nothing to send from. */
	{
		struct sip_tp_addr v4;

		ASSERT_EQ(sip_tp_addr_decode(&v4, NULL, "udp:127.0.0.1:9"), 0);
		ASSERT_EQ(sip_tp_send(cli.tp, &v4, buf, (size_t)len), ENOENT);
	}
	peer_free(&cli);
	peer_free(&srv);
	obj_deref(ev);
}

TEST(sip_tp_tcp_split_reads)
{
	struct ev *ev = NULL;
	struct peer srv;
	struct sip_tp_addr saddr;
	char buf[3 * 1024];
	size_t len = 0, off;
	unsigned seed = 7;
	int fd;

	ASSERT_EQ(ev_alloc(&ev), 0);
	peer_init(&srv, ev, NULL);
	listen_on(srv.tp, "tcp:127.0.0.1:0", &saddr);
	fd = raw_connect(&saddr);

	/* One message, byte by byte. */
	len = (size_t)build_msg(buf, sizeof(buf), true, 1, "byte-by-byte");
	for (off = 0; off < len; off++) {
		raw_write(fd, buf + off, 1);
		ASSERT_EQ(ev_run_once(ev, EV_MS(1)), 0);
		if (off + 1 < len)
			ASSERT_EQ(srv.nrx, 0);
	}
	run_until_count(ev, &srv.nrx, 1);
	ASSERT_STR(srv.rx[0].body, "byte-by-byte");
	ASSERT_EQ(srv.rx[0].proto, SIP_TP_TCP);
	ASSERT(srv.rx[0].conn != NULL);

	/* Three messages in random chunks, across message boundaries. */
	len = 0;
	for (int i = 0; i < 3; i++) {
		char body[24];

		snprintf(body, sizeof(body), "chunk%d", i);
		len += (size_t)build_msg(buf + len, sizeof(buf) - len, true, i,
					 body);
	}
	for (off = 0; off < len;) {
		size_t n;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 16) % 97;
		if (n > len - off)
			n = len - off;
		raw_write(fd, buf + off, n);
		off += n;
		ASSERT_EQ(ev_run_once(ev, EV_MS(1)), 0);
	}
	run_until_count(ev, &srv.nrx, 4);
	ASSERT_EQ(srv.nrx, 4);
	for (int i = 0; i < 3; i++) {
		char body[24];

		snprintf(body, sizeof(body), "chunk%d", i);
		ASSERT_STR(srv.rx[i + 1].body, body);
		ASSERT(srv.rx[i + 1].conn == srv.rx[0].conn);
	}
	ASSERT_EQ(sip_tp_stats(srv.tp)->msgs_in[SIP_TP_TCP], 4);
	ASSERT_EQ(sip_tp_stats(srv.tp)->conns_accepted, 1);
	close(fd);
	peer_free(&srv);
	obj_deref(ev);
}

TEST(sip_tp_tcp_coalesced_and_keepalive)
{
	struct ev *ev = NULL;
	struct peer srv;
	struct sip_tp_addr saddr;
	char buf[4 * 1024], got[16];
	size_t len = 0;
	ssize_t n;
	int fd;

	ASSERT_EQ(ev_alloc(&ev), 0);
	peer_init(&srv, ev, NULL);
	listen_on(srv.tp, "tcp:127.0.0.1:0", &saddr);
	fd = raw_connect(&saddr);

	/* A bare CRLF first (skipped, unanswered), then three at once. */
	memcpy(buf, "\r\n", 2);
	len = 2;
	for (int i = 0; i < 3; i++) {
		char body[24];

		snprintf(body, sizeof(body), "co%d", i);
		len += (size_t)build_msg(buf + len, sizeof(buf) - len, true, i,
					 body);
	}
	raw_write(fd, buf, len);
	run_until_count(ev, &srv.nrx, 3);
	ASSERT_EQ(srv.nrx, 3);
	ASSERT_STR(srv.rx[0].body, "co0");
	ASSERT_STR(srv.rx[2].body, "co2");
	ASSERT_EQ(raw_read(fd, got, sizeof(got), 20), -1);

	/* RFC 5626 §4.4.1: CRLFCRLF gets one CRLF back. */
	raw_write(fd, "\r\n\r\n", 4);
	n = raw_read_loop(ev, fd, got, sizeof(got));
	ASSERT_EQ(n, 2);
	ASSERT(!memcmp(got, "\r\n", 2));
	ASSERT_EQ(sip_tp_stats(srv.tp)->keepalives, 1);

	/* A ping split in two halves still gets its pong. */
	raw_write(fd, "\r\n", 2);
	run_for(ev, EV_MS(20));
	raw_write(fd, "\r\n", 2);
	n = raw_read_loop(ev, fd, got, sizeof(got));
	ASSERT_EQ(n, 2);
	ASSERT_EQ(sip_tp_stats(srv.tp)->keepalives, 2);
	ASSERT_EQ(sip_tp_conn_count(srv.tp), 1);
	close(fd);
	peer_free(&srv);
	obj_deref(ev);
}

TEST(sip_tp_tcp_oversize_closes)
{
	struct ev *ev = NULL;
	struct peer srv;
	struct sip_tp_opts o = {0};
	struct sip_tp_addr saddr;
	char line[128];
	int fd;

	ASSERT_EQ(ev_alloc(&ev), 0);
	o.tcp_rx_max = 4096;
	peer_init(&srv, ev, &o);
	listen_on(srv.tp, "tcp:127.0.0.1:0", &saddr);
	fd = raw_connect(&saddr);
	raw_write(fd, "OPTIONS sip:a@b SIP/2.0\r\n", 25);
	/* Headers that never end, past the 4 KB receive maximum. */
	for (int i = 0; i < 60; i++) {
		int n = snprintf(line, sizeof(line), "X-Pad-%d: %060d\r\n", i,
				 0);

		raw_write(fd, line, (size_t)n);
	}
	ASSERT(raw_closed(ev, fd));
	ASSERT_EQ(srv.nrx, 0);
	ASSERT_EQ(sip_tp_stats(srv.tp)->drop_overflow, 1);
	ASSERT_EQ(sip_tp_stats(srv.tp)->conns_closed, 1);
	ASSERT_EQ(sip_tp_conn_count(srv.tp), 0);
	close(fd);
	peer_free(&srv);
	obj_deref(ev);
}

TEST(sip_tp_tcp_malformed_closes)
{
	struct ev *ev = NULL;
	struct peer srv;
	struct sip_tp_addr saddr;
	static const char junk[] = "THIS IS NOT SIP\r\nno colon here\r\n\r\n";
	int fd;

	ASSERT_EQ(ev_alloc(&ev), 0);
	peer_init(&srv, ev, NULL);
	listen_on(srv.tp, "tcp:127.0.0.1:0", &saddr);
	fd = raw_connect(&saddr);
	raw_write(fd, junk, sizeof(junk) - 1);
	ASSERT(raw_closed(ev, fd));
	ASSERT_EQ(srv.nrx, 0);
	ASSERT_EQ(sip_tp_stats(srv.tp)->drop_parse, 1);
	ASSERT_EQ(sip_tp_conn_count(srv.tp), 0);
	close(fd);
	peer_free(&srv);
	obj_deref(ev);
}

TEST(sip_tp_tcp_idle_timeout_closes)
{
	struct ev *ev = NULL;
	struct peer srv;
	struct sip_tp_opts o = {0};
	struct sip_tp_addr saddr;
	uint64_t start;
	int fd;

	ASSERT_EQ(ev_alloc(&ev), 0);
	o.tcp_idle_ns = EV_MS(150);
	peer_init(&srv, ev, &o);
	listen_on(srv.tp, "tcp:127.0.0.1:0", &saddr);
	fd = raw_connect(&saddr);
	start = ev_monotonic_ns();
	/* Activity at 100 ms pushes the deadline out. */
	run_for(ev, EV_MS(100));
	ASSERT_EQ(sip_tp_conn_count(srv.tp), 1);
	raw_write(fd, "\r\n\r\n", 4);
	run_for(ev, EV_MS(100));
	ASSERT_EQ(sip_tp_conn_count(srv.tp), 1);
	ASSERT(raw_closed(ev, fd));
	ASSERT(ev_monotonic_ns() - start >= EV_MS(250));
	ASSERT_EQ(sip_tp_conn_count(srv.tp), 0);
	ASSERT_EQ(sip_tp_stats(srv.tp)->conns_idle, 1);
	close(fd);
	peer_free(&srv);
	obj_deref(ev);
}

TEST(sip_tp_tcp_reuse_and_reply_on_same_conn)
{
	struct ev *ev = NULL;
	struct peer srv, cli;
	struct sip_tp_addr saddr;
	const struct sip_tp_stats *cs, *ss;
	char buf[1024];
	int len;

	ASSERT_EQ(ev_alloc(&ev), 0);
	peer_init(&srv, ev, NULL);
	peer_init(&cli, ev, NULL);
	srv.reply = true;
	listen_on(srv.tp, "tcp:127.0.0.1:0", &saddr);
	/* Both sends go before the connection is even up. */
	len = build_msg(buf, sizeof(buf), true, 1, "one");
	ASSERT_EQ(sip_tp_send(cli.tp, &saddr, buf, (size_t)len), 0);
	len = build_msg(buf, sizeof(buf), true, 2, "two");
	ASSERT_EQ(sip_tp_send(cli.tp, &saddr, buf, (size_t)len), 0);
	run_until_count(ev, &cli.nrx, 2);
	ASSERT_EQ(srv.nrx, 2);
	ASSERT_STR(srv.rx[0].body, "one");
	ASSERT_STR(srv.rx[1].body, "two");
	ASSERT(srv.rx[0].conn == srv.rx[1].conn);
	/* The responses came back on the client's own connection. */
	ASSERT_EQ(cli.rx[0].status, 200);
	ASSERT(cli.rx[0].conn != NULL);
	ASSERT(sip_tp_addr_eq(&cli.rx[0].src, &saddr));
	ASSERT(sip_tp_addr_eq(sip_tp_conn_peer(cli.rx[0].conn), &saddr));
	ASSERT(sip_tp_addr_eq(sip_tp_conn_local(cli.rx[0].conn),
			      &srv.rx[0].src));
	cs = sip_tp_stats(cli.tp);
	ss = sip_tp_stats(srv.tp);
	ASSERT_EQ(cs->conns_opened, 1);
	ASSERT_EQ(cs->conns_reused, 1);
	ASSERT_EQ(ss->conns_accepted, 1);
	ASSERT_EQ(ss->conns_opened, 0);
	ASSERT_EQ(sip_tp_conn_count(cli.tp), 1);
	ASSERT_EQ(sip_tp_conn_count(srv.tp), 1);
	ASSERT_EQ(ss->msgs_out[SIP_TP_TCP], 2);
	ASSERT_EQ(cs->msgs_in[SIP_TP_TCP], 2);

	/* A send to the client's address reuses the incoming conn. */
	len = build_msg(buf, sizeof(buf), true, 3, "back");
	ASSERT_EQ(sip_tp_send(srv.tp, &srv.rx[0].src, buf, (size_t)len), 0);
	run_until_count(ev, &cli.nrx, 3);
	ASSERT_STR(cli.rx[2].body, "back");
	ASSERT_EQ(ss->conns_opened, 0);

	/* Closed by the holder: sends on it fail, the table drops it. */
	sip_tp_conn_close(srv.rx[0].conn);
	ASSERT(!sip_tp_conn_is_open(srv.rx[0].conn));
	ASSERT_EQ(sip_tp_conn_send(srv.rx[0].conn, buf, (size_t)len),
		  ENOTCONN);
	ASSERT_EQ(sip_tp_conn_count(srv.tp), 0);
	for (int i = 0; i < 100 && sip_tp_conn_count(cli.tp) > 0; i++)
		ASSERT_EQ(ev_run_once(ev, EV_MS(10)), 0);
	ASSERT_EQ(sip_tp_conn_count(cli.tp), 0);
	peer_free(&cli);
	peer_free(&srv);
	obj_deref(ev);
}

TEST(sip_tp_tcp_write_queue_limit_and_refused)
{
	struct ev *ev = NULL;
	struct peer cli;
	struct sip_tp_opts o = {0};
	struct sip_tp_addr dst;
	struct sip_tp_conn *conn = NULL;
	char big[1000];
	int fd;

	ASSERT_EQ(ev_alloc(&ev), 0);
	o.tcp_tx_max = 2048;
	peer_init(&cli, ev, &o);
	/* A port nobody listens on: bound, then closed. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT(fd >= 0);
	ASSERT_EQ(sip_tp_addr_decode(&dst, NULL, "tcp:127.0.0.1:0"), 0);
	ASSERT_EQ(bind(fd, &dst.u.sa, sip_tp_addr_len(&dst)), 0);
	{
		socklen_t l = sizeof(dst.u.in);

		ASSERT_EQ(getsockname(fd, &dst.u.sa, &l), 0);
	}
	close(fd);
	memset(big, 'x', sizeof(big));
	ASSERT_EQ(sip_tp_conn_get(cli.tp, &dst, NULL, &conn), 0);
	ASSERT_EQ(sip_tp_conn_send(conn, big, sizeof(big)), 0);
	ASSERT_EQ(sip_tp_conn_send(conn, big, sizeof(big)), 0);
	ASSERT_EQ(sip_tp_conn_send(conn, big, sizeof(big)), EOVERFLOW);
	for (int i = 0; i < 100 && sip_tp_conn_is_open(conn); i++)
		ASSERT_EQ(ev_run_once(ev, EV_MS(10)), 0);
	ASSERT(!sip_tp_conn_is_open(conn));
	ASSERT_EQ(sip_tp_stats(cli.tp)->conns_failed, 1);
	/* One refused by the limit, two lost with the connection. */
	ASSERT_EQ(sip_tp_stats(cli.tp)->drop_send, 3);
	obj_deref(conn);
	peer_free(&cli);
	obj_deref(ev);
}

/* TLS: a CA, a server certificate for localhost/127.0.0.1, a rogue CA. */

static void make_certs(void)
{
	static const char script[] =
		"set -e\n"
		"gen() { openssl req -x509 -newkey ec -pkeyopt "
		"ec_paramgen_curve:prime256v1 -nodes -days 2 -subj \"/CN=$1\" "
		"-keyout $2.key -out $2.pem 2>/dev/null; }\n"
		"gen TestCA ca\n"
		"gen RogueCA rogue\n"
		"openssl req -new -newkey ec -pkeyopt "
		"ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost "
		"-keyout srv.key -out srv.csr 2>/dev/null\n"
		"printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n"
		"basicConstraints=CA:FALSE\\n' > ext.cnf\n"
		"openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
		"-CAcreateserial -days 2 -extfile ext.cnf -out srv.pem "
		"2>/dev/null\n";
	FILE *f;

	if (system("command -v openssl >/dev/null 2>&1") != 0)
		test_skip("the openssl command is needed to make "
			  "certificates");
	f = fopen("gen.sh", "w");
	ASSERT(f);
	fputs(script, f);
	fclose(f);
	ASSERT_MSG(system("sh gen.sh") == 0, "certificate generation failed");
}

static struct sip_tp_tls *tls_server(void)
{
	struct sip_tp_tls *tls = NULL;
	struct sip_tp_tls_opts o = {0};

	o.cert_file = "srv.pem";
	o.key_file = "srv.key";
	ASSERT_EQ(sip_tp_tls_alloc(&tls, false, &o), 0);
	return tls;
}

static struct sip_tp_tls *tls_client_opts(const char *ca, bool no_resume)
{
	struct sip_tp_tls *tls = NULL;
	struct sip_tp_tls_opts o = {0};

	o.ca_file = ca;
	o.no_resume = no_resume;
	ASSERT_EQ(sip_tp_tls_alloc(&tls, true, &o), 0);
	return tls;
}

struct tls_pair {
	struct ev *ev;
	struct peer srv, cli;
	struct sip_tp_addr saddr;
};

static void tls_pair_init_opts(struct tls_pair *p, const char *ca,
			       bool no_resume)
{
	struct sip_tp_opts so = {0}, co = {0};

	make_certs();
	ASSERT_EQ(ev_alloc(&p->ev), 0);
	so.tls_server = tls_server();
	co.tls_client = tls_client_opts(ca, no_resume);
	peer_init(&p->srv, p->ev, &so);
	peer_init(&p->cli, p->ev, &co);
	/* The transports hold their own references. */
	obj_deref(so.tls_server);
	obj_deref(co.tls_client);
	p->srv.reply = true;
	listen_on(p->srv.tp, "tls:127.0.0.1:0", &p->saddr);
}

static void tls_pair_init(struct tls_pair *p, const char *ca)
{
	tls_pair_init_opts(p, ca, false);
}

static void tls_pair_free(struct tls_pair *p)
{
	peer_free(&p->cli);
	peer_free(&p->srv);
	p->ev = obj_deref(p->ev);
}

TEST(sip_tp_tls_message_and_reply)
{
	struct tls_pair p;
	char buf[1024];
	int len;

	tls_pair_init(&p, "ca.pem");
	len = build_msg(buf, sizeof(buf), true, 1, "secret");
	ASSERT_EQ(sip_tp_send(p.cli.tp, &p.saddr, buf, (size_t)len), 0);
	run_until_count(p.ev, &p.cli.nrx, 1);
	ASSERT_EQ(p.srv.nrx, 1);
	ASSERT_STR(p.srv.rx[0].body, "secret");
	ASSERT_EQ(p.srv.rx[0].proto, SIP_TP_TLS);
	ASSERT_EQ(p.cli.rx[0].status, 200);
	ASSERT_EQ(p.cli.rx[0].proto, SIP_TP_TLS);
	ASSERT_EQ(sip_tp_stats(p.cli.tp)->tls_full, 1);
	ASSERT_EQ(sip_tp_stats(p.srv.tp)->tls_full, 1);
	ASSERT_EQ(sip_tp_stats(p.srv.tp)->msgs_in[SIP_TP_TLS], 1);
	ASSERT_EQ(sip_tp_stats(p.cli.tp)->msgs_in[SIP_TP_TLS], 1);
	ASSERT_EQ(sip_tp_stats(p.cli.tp)->tls_failed, 0);
	tls_pair_free(&p);
}

TEST(sip_tp_tls_wrong_ca_fails)
{
	struct tls_pair p;
	char buf[1024];
	int len;

	tls_pair_init(&p, "rogue.pem");
	len = build_msg(buf, sizeof(buf), true, 1, "never");
	ASSERT_EQ(sip_tp_send(p.cli.tp, &p.saddr, buf, (size_t)len), 0);
	for (int i = 0; i < 300 && sip_tp_stats(p.cli.tp)->tls_failed == 0;
	     i++)
		ASSERT_EQ(ev_run_once(p.ev, EV_MS(10)), 0);
	run_for(p.ev, EV_MS(50));
	ASSERT_EQ(sip_tp_stats(p.cli.tp)->tls_failed, 1);
	ASSERT_EQ(sip_tp_stats(p.cli.tp)->tls_full, 0);
	ASSERT_EQ(sip_tp_stats(p.cli.tp)->drop_send, 1);
	ASSERT_EQ(sip_tp_conn_count(p.cli.tp), 0);
	ASSERT_EQ(p.srv.nrx, 0);
	tls_pair_free(&p);
}

TEST(sip_tp_tls_hostname_check)
{
	struct tls_pair p;
	struct sip_tp_conn *bad = NULL, *good = NULL;

	tls_pair_init(&p, "ca.pem");
	ASSERT_EQ(sip_tp_conn_get(p.cli.tp, &p.saddr, "wrong.example", &bad),
		  0);
	for (int i = 0; i < 300 && sip_tp_conn_is_open(bad); i++)
		ASSERT_EQ(ev_run_once(p.ev, EV_MS(10)), 0);
	ASSERT(!sip_tp_conn_is_open(bad));
	ASSERT_EQ(sip_tp_stats(p.cli.tp)->tls_failed, 1);

	ASSERT_EQ(sip_tp_conn_get(p.cli.tp, &p.saddr, "localhost", &good), 0);
	for (int i = 0; i < 300 && !sip_tp_conn_is_established(good); i++)
		ASSERT_EQ(ev_run_once(p.ev, EV_MS(10)), 0);
	ASSERT(sip_tp_conn_is_established(good));
	ASSERT_EQ(sip_tp_stats(p.cli.tp)->tls_full, 1);
	obj_deref(bad);
	obj_deref(good);
	tls_pair_free(&p);
}

TEST(sip_tp_tls_session_resumption)
{
	struct tls_pair p;
	struct sip_tp_conn *c1 = NULL, *c2 = NULL;
	char buf[1024];
	int len;

	tls_pair_init(&p, "ca.pem");
	ASSERT_EQ(sip_tp_conn_get(p.cli.tp, &p.saddr, "localhost", &c1), 0);
	len = build_msg(buf, sizeof(buf), true, 1, "first");
	ASSERT_EQ(sip_tp_conn_send(c1, buf, (size_t)len), 0);
	/* The reply also carries the TLS 1.3 tickets past the client. */
	run_until_count(p.ev, &p.cli.nrx, 1);
	ASSERT(!sip_tp_conn_tls_resumed(c1));
	sip_tp_conn_close(c1);
	for (int i = 0; i < 100 && sip_tp_conn_count(p.srv.tp) > 0; i++)
		ASSERT_EQ(ev_run_once(p.ev, EV_MS(10)), 0);

	ASSERT_EQ(sip_tp_conn_get(p.cli.tp, &p.saddr, "localhost", &c2), 0);
	ASSERT(c2 != c1);
	len = build_msg(buf, sizeof(buf), true, 2, "second");
	ASSERT_EQ(sip_tp_conn_send(c2, buf, (size_t)len), 0);
	run_until_count(p.ev, &p.cli.nrx, 2);
	ASSERT_STR(p.srv.rx[1].body, "second");
	ASSERT(sip_tp_conn_tls_resumed(c2));
	ASSERT_EQ(sip_tp_stats(p.cli.tp)->tls_full, 1);
	ASSERT_EQ(sip_tp_stats(p.cli.tp)->tls_resumed, 1);
	ASSERT_EQ(sip_tp_stats(p.srv.tp)->tls_resumed, 1);
	ASSERT_EQ(sip_tp_stats(p.cli.tp)->conns_opened, 2);
	obj_deref(c1);
	obj_deref(c2);
	tls_pair_free(&p);
}

/* Two connections to one server at once, each a handshake of its own;
 * the second resumes the first's session unless no_resume. */
static void tls_two_conns(bool no_resume)
{
	struct tls_pair p;
	struct sip_tp_conn *c1 = NULL, *c2 = NULL;
	const struct sip_tp_stats *cs;
	char buf[1024];
	int len;

	tls_pair_init_opts(&p, "ca.pem", no_resume);
	cs = sip_tp_stats(p.cli.tp);
	ASSERT_EQ(sip_tp_conn_open(p.cli.tp, &p.saddr, "localhost", &c1), 0);
	len = build_msg(buf, sizeof(buf), true, 1, "first");
	ASSERT_EQ(sip_tp_conn_send(c1, buf, (size_t)len), 0);
	/* The reply also carries the TLS 1.3 tickets past the client. */
	run_until_count(p.ev, &p.cli.nrx, 1);
	ASSERT_EQ(sip_tp_conn_open(p.cli.tp, &p.saddr, "localhost", &c2), 0);
	ASSERT(c2 != c1);
	len = build_msg(buf, sizeof(buf), true, 2, "second");
	ASSERT_EQ(sip_tp_conn_send(c2, buf, (size_t)len), 0);
	run_until_count(p.ev, &p.cli.nrx, 2);
	ASSERT(sip_tp_conn_is_established(c1));
	ASSERT(p.srv.rx[0].conn != p.srv.rx[1].conn);
	ASSERT_EQ(sip_tp_stats(p.srv.tp)->conns_accepted, 2);
	ASSERT_EQ(cs->conns_opened, 2);
	ASSERT_EQ(cs->conns_up, 2);
	ASSERT(cs->conn_setup_ns > 0);
	ASSERT_EQ(sip_tp_conn_tls_resumed(c2), !no_resume);
	ASSERT_EQ(cs->tls_full, no_resume ? 2 : 1);
	ASSERT_EQ(cs->tls_resumed, no_resume ? 0 : 1);
	ASSERT_EQ(sip_tp_stats(p.srv.tp)->tls_resumed, no_resume ? 0 : 1);
	obj_deref(c1);
	obj_deref(c2);
	tls_pair_free(&p);
}

TEST(sip_tp_tls_conn_open_resumes_a_second_connection)
{
	tls_two_conns(false);
}

TEST(sip_tp_tls_no_resume_every_handshake_full)
{
	tls_two_conns(true);
}

TEST(sip_tp_tcp_conn_open_always_connects_anew)
{
	struct ev *ev = NULL;
	struct peer srv, cli;
	struct sip_tp_addr saddr, udp;
	struct sip_tp_conn *c1 = NULL, *c2 = NULL, *c3 = NULL;
	const struct sip_tp_stats *cs;
	char buf[1024];
	int len;

	ASSERT_EQ(ev_alloc(&ev), 0);
	peer_init(&srv, ev, NULL);
	peer_init(&cli, ev, NULL);
	srv.reply = true;
	listen_on(srv.tp, "tcp:127.0.0.1:0", &saddr);
	cs = sip_tp_stats(cli.tp);
	ASSERT_EQ(sip_tp_conn_get(cli.tp, &saddr, NULL, &c1), 0);
	ASSERT_EQ(sip_tp_conn_open(cli.tp, &saddr, NULL, &c2), 0);
	ASSERT(c1 != c2);
	ASSERT_EQ(cs->conns_opened, 2);
	ASSERT_EQ(cs->conns_reused, 0);
	ASSERT_EQ(sip_tp_conn_count(cli.tp), 2);
	len = build_msg(buf, sizeof(buf), true, 1, "on-one");
	ASSERT_EQ(sip_tp_conn_send(c1, buf, (size_t)len), 0);
	len = build_msg(buf, sizeof(buf), true, 2, "on-two");
	ASSERT_EQ(sip_tp_conn_send(c2, buf, (size_t)len), 0);
	run_until_count(ev, &cli.nrx, 2);
	ASSERT_EQ(sip_tp_stats(srv.tp)->conns_accepted, 2);
	ASSERT(srv.rx[0].conn != srv.rx[1].conn);
	/* Each response came back on its request's connection. */
	ASSERT(cli.rx[0].conn != cli.rx[1].conn);
	ASSERT_EQ(cs->conns_up, 2);
	/* sip_tp_conn_get still reuses what is open. */
	ASSERT_EQ(sip_tp_conn_get(cli.tp, &saddr, NULL, &c3), 0);
	ASSERT(c3 == c1 || c3 == c2);
	ASSERT_EQ(cs->conns_opened, 2);
	ASSERT_EQ(cs->conns_reused, 1);
	/* Not for UDP. */
	ASSERT_EQ(sip_tp_addr_decode(&udp, NULL, "udp:127.0.0.1:5060"), 0);
	ASSERT_EQ(sip_tp_conn_open(cli.tp, &udp, NULL, &c3), EINVAL);
	obj_deref(c1);
	obj_deref(c2);
	obj_deref(c3);
	peer_free(&cli);
	peer_free(&srv);
	obj_deref(ev);
}

TEST(sip_tp_udp_flood_capped_per_wakeup)
{
	struct ev *ev = NULL;
	struct peer srv, cli;
	struct sip_tp_opts o = {0};
	struct sip_tp_addr saddr, caddr;
	char buf[1024];
	int len, sent = 0;

	ASSERT_EQ(ev_alloc(&ev), 0);
	o.udp_batch = 8;
	o.udp_reads = 2;
	peer_init(&srv, ev, &o);
	peer_init(&cli, ev, &o);
	srv.count_only = true;
	listen_on(srv.tp, "udp:127.0.0.1:0", &saddr);
	listen_on(cli.tp, "udp:127.0.0.1:0", &caddr);
	len = build_msg(buf, sizeof(buf), true, 1, "flood");
	/* A full queue leaves at once (sendmmsg), the rest at flush. */
	for (int i = 0; i < 100; i++, sent++)
		ASSERT_EQ(sip_tp_send(cli.tp, &saddr, buf, (size_t)len), 0);
	ASSERT_EQ(sip_tp_stats(cli.tp)->msgs_out[SIP_TP_UDP], 96);
	ASSERT_EQ(ev_run_once(ev, EV_MS(100)), 0);
	/* One wake-up reads at most udp_reads * udp_batch datagrams. */
	ASSERT_EQ(srv.nrx, 16);
	ASSERT_EQ(sip_tp_stats(cli.tp)->msgs_out[SIP_TP_UDP], 100);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 100; i++, sent++)
			ASSERT_EQ(sip_tp_send(cli.tp, &saddr, buf,
					      (size_t)len),
				  0);
		run_until_count(ev, &srv.nrx, sent);
	}
	ASSERT_EQ(srv.nrx, 500);
	ASSERT_EQ(sip_tp_stats(srv.tp)->msgs_in[SIP_TP_UDP], 500);
	ASSERT_EQ(sip_tp_stats(cli.tp)->drop_send, 0);
	peer_free(&cli);
	peer_free(&srv);
	obj_deref(ev);
}

TEST(sip_tp_tcp_junk_never_crashes)
{
	struct ev *ev = NULL;
	struct peer srv, cli;
	struct sip_tp_opts o = {0};
	struct sip_tp_addr saddr;
	unsigned seed = 99;
	int fds[20];
	char junk[3000], buf[1024];
	int len;

	ASSERT_EQ(ev_alloc(&ev), 0);
	o.tcp_rx_max = 2048;
	peer_init(&srv, ev, &o);
	peer_init(&cli, ev, NULL);
	srv.count_only = true;
	listen_on(srv.tp, "tcp:127.0.0.1:0", &saddr);
	for (int c = 0; c < 20; c++) {
		size_t n, off = 0;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 8) % sizeof(junk);
		/* Half start like a request, to reach the header code. */
		if (c % 2 == 0)
			off = (size_t)snprintf(junk, sizeof(junk),
					       "INVITE sip:x SIP/2.0\r\n");
		for (size_t i = off; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			/* Mostly printable, with CR, LF, ':' and NUL. */
			junk[i] = "\r\n: \0aZ9;,<>\"\\"[(seed >> 16) % 15];
			if ((seed >> 24) % 3 == 0)
				junk[i] = (char)(seed >> 8);
		}
		if (n < off)
			n = off;
		fds[c] = raw_connect(&saddr);
		raw_write(fds[c], junk, n);
	}
	run_for(ev, EV_MS(100));
	/* Still serving: a good message on a fresh connection. */
	len = build_msg(buf, sizeof(buf), true, 1, "fine");
	{
		int before = srv.nrx;

		ASSERT_EQ(sip_tp_send(cli.tp, &saddr, buf, (size_t)len), 0);
		run_until_count(ev, &srv.nrx, before + 1);
	}
	for (int c = 0; c < 20; c++)
		close(fds[c]);
	run_for(ev, EV_MS(20));
	ASSERT_EQ(sip_tp_conn_count(srv.tp), 1);
	peer_free(&cli);
	peer_free(&srv);
	obj_deref(ev);
}

TEST(sip_tp_tls_client_certificate_required)
{
	struct tls_pair p;
	struct sip_tp_tls *srv_tls = NULL, *cli_tls = NULL;
	struct sip_tp_tls_opts so = {0}, co = {0};
	struct sip_tp_opts o = {0};
	struct peer mcli;
	char buf[1024];
	int len;

	tls_pair_init(&p, "ca.pem");
	/* Replace the server by one that wants client certificates. */
	peer_free(&p.srv);
	so.cert_file = "srv.pem";
	so.key_file = "srv.key";
	so.ca_file = "ca.pem";
	ASSERT_EQ(sip_tp_tls_alloc(&srv_tls, false, &so), 0);
	o.tls_server = srv_tls;
	peer_init(&p.srv, p.ev, &o);
	obj_deref(srv_tls);
	p.srv.reply = true;
	listen_on(p.srv.tp, "tls:127.0.0.1:0", &p.saddr);

	/* Without a certificate: the server refuses the handshake. */
	len = build_msg(buf, sizeof(buf), true, 1, "anon");
	ASSERT_EQ(sip_tp_send(p.cli.tp, &p.saddr, buf, (size_t)len), 0);
	for (int i = 0; i < 300 && sip_tp_stats(p.srv.tp)->tls_failed == 0;
	     i++)
		ASSERT_EQ(ev_run_once(p.ev, EV_MS(10)), 0);
	ASSERT_EQ(sip_tp_stats(p.srv.tp)->tls_failed, 1);
	ASSERT_EQ(p.srv.nrx, 0);

	/* With one signed by the CA: accepted. */
	co.cert_file = "srv.pem";
	co.key_file = "srv.key";
	co.ca_file = "ca.pem";
	ASSERT_EQ(sip_tp_tls_alloc(&cli_tls, true, &co), 0);
	memset(&o, 0, sizeof(o));
	o.tls_client = cli_tls;
	peer_init(&mcli, p.ev, &o);
	obj_deref(cli_tls);
	len = build_msg(buf, sizeof(buf), true, 2, "mutual");
	ASSERT_EQ(sip_tp_send(mcli.tp, &p.saddr, buf, (size_t)len), 0);
	run_until_count(p.ev, &mcli.nrx, 1);
	ASSERT_EQ(p.srv.nrx, 1);
	ASSERT_STR(p.srv.rx[0].body, "mutual");
	peer_free(&mcli);
	tls_pair_free(&p);
}

TEST(sip_tp_tls_config_errors)
{
	struct sip_tp_tls *tls = NULL;
	struct sip_tp_tls_opts o = {0};
	struct sip_tp_opts to = {0};
	struct sip_tp *tp = NULL;
	struct ev *ev = NULL;
	struct sip_tp_addr a;

	make_certs();
	/* A server needs a certificate and its key. */
	ASSERT_EQ(sip_tp_tls_alloc(&tls, false, &o), EINVAL);
	o.cert_file = "srv.pem";
	o.key_file = "ca.key"; /* not the certificate's key */
	ASSERT_EQ(sip_tp_tls_alloc(&tls, false, &o), EINVAL);
	o.key_file = "missing.key";
	ASSERT_EQ(sip_tp_tls_alloc(&tls, false, &o), EINVAL);
	ASSERT(tls == NULL);
	/* No TLS context: no tls listener, no tls connection. */
	ASSERT_EQ(ev_alloc(&ev), 0);
	ASSERT_EQ(sip_tp_alloc(&tp, ev, &to, on_rx, NULL), 0);
	ASSERT_EQ(sip_tp_addr_decode(&a, NULL, "tls:127.0.0.1:0"), 0);
	ASSERT_EQ(sip_tp_listen(tp, &a, 0, NULL), EINVAL);
	ASSERT_EQ(sip_tp_send(tp, &a, "x", 1), EINVAL);
	obj_deref(tp);
	obj_deref(ev);
}

TEST(sip_tp_reuseport_shares_a_port)
{
	struct ev *ev = NULL;
	struct peer w1, w2, w3;
	struct sip_tp_addr a1, a2, a, local;

	ASSERT_EQ(ev_alloc(&ev), 0);
	peer_init(&w1, ev, NULL);
	peer_init(&w2, ev, NULL);
	peer_init(&w3, ev, NULL);
	for (int p = 0; p < 2; p++) {
		listen_on(w1.tp, p ? "tcp:127.0.0.1:0" : "udp:127.0.0.1:0",
			  &a1);
		/* A second worker binds the same port with the flag... */
		ASSERT_EQ(sip_tp_listen(w2.tp, &a1, SIP_TP_REUSEPORT, &a2), 0);
		ASSERT(sip_tp_addr_eq(&a1, &a2));
		/* ...and without it the port is taken. */
		ASSERT_EQ(sip_tp_listen(w3.tp, &a1, 0, &a), EADDRINUSE);
	}
	ASSERT_EQ(sip_tp_local(w2.tp, SIP_TP_TCP, AF_INET, &local), 0);
	ASSERT(sip_tp_addr_eq(&local, &a2));
	ASSERT_EQ(sip_tp_local(w2.tp, SIP_TP_TLS, AF_UNSPEC, &local), ENOENT);
	peer_free(&w1);
	peer_free(&w2);
	peer_free(&w3);
	obj_deref(ev);
}

TEST(sip_tp_tcp_max_conns_rejects)
{
	struct ev *ev = NULL;
	struct peer srv;
	struct sip_tp_opts o = {0};
	struct sip_tp_addr saddr;
	int fds[3];

	ASSERT_EQ(ev_alloc(&ev), 0);
	o.tcp_max_conns = 2;
	peer_init(&srv, ev, &o);
	listen_on(srv.tp, "tcp:127.0.0.1:0", &saddr);
	for (int i = 0; i < 3; i++) {
		fds[i] = raw_connect(&saddr);
		for (int k = 0;
		     k < 100 &&
		     sip_tp_stats(srv.tp)->conns_accepted +
				     sip_tp_stats(srv.tp)->conns_rejected <
			     (uint64_t)i + 1;
		     k++)
			ASSERT_EQ(ev_run_once(ev, EV_MS(10)), 0);
	}
	ASSERT_EQ(sip_tp_stats(srv.tp)->conns_accepted, 2);
	ASSERT_EQ(sip_tp_stats(srv.tp)->conns_rejected, 1);
	ASSERT_EQ(sip_tp_conn_count(srv.tp), 2);
	ASSERT(raw_closed(ev, fds[2]));
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	peer_free(&srv);
	obj_deref(ev);
}

/* The arrival time is the kernel's, however late the loop reads. */
TEST(sip_tp_udp_rx_timestamps_are_arrival_times)
{
	struct ev *ev = NULL;
	struct peer srv, plain, cli;
	struct sip_tp_opts o = {0};
	struct sip_tp_addr saddr, paddr, caddr;
	char buf[1024];
	uint64_t t0, t1, t_read;
	int len;

	ASSERT_EQ(ev_alloc(&ev), 0);
	o.udp_rx_timestamps = true;
	peer_init(&srv, ev, &o);
	peer_init(&plain, ev, NULL);
	peer_init(&cli, ev, NULL);
	listen_on(srv.tp, "udp:127.0.0.1:0", &saddr);
	listen_on(plain.tp, "udp:127.0.0.1:0", &paddr);
	listen_on(cli.tp, "udp:127.0.0.1:0", &caddr);
	len = build_msg(buf, sizeof(buf), true, 1, "ts");
	/* The kernel turns receive stamping on from a work queue: until
	 * then it stamps at the read. */
	usleep(100 * 1000);
	t0 = ev_monotonic_ns();
	ASSERT_EQ(sip_tp_send(cli.tp, &saddr, buf, (size_t)len), 0);
	ASSERT_EQ(sip_tp_send(cli.tp, &paddr, buf, (size_t)len), 0);
	sip_tp_flush(cli.tp);
	t1 = ev_monotonic_ns();
	usleep(100 * 1000);
	t_read = ev_monotonic_ns();
	run_until_count(ev, &srv.nrx, 1);
	run_until_count(ev, &plain.nrx, 1);
	ASSERT_EQ(srv.nrx, 1);
	/* 1 ms of slack for the wall clock's slew between the stamp and
	 * the read (the kernel stamps CLOCK_REALTIME) */
	ASSERT_MSG(srv.rx[0].rx_ns + EV_MS(1) >= t0 &&
			   srv.rx[0].rx_ns <= t1 + EV_MS(1),
		   "arrival %lld us after the send, read %lld us after",
		   (long long)(srv.rx[0].rx_ns - t0) / 1000,
		   (long long)(t_read - t0) / 1000);
	/* without the option: no time */
	ASSERT_EQ(plain.rx[0].rx_ns, 0);
	peer_free(&cli);
	peer_free(&plain);
	peer_free(&srv);
	obj_deref(ev);
}
