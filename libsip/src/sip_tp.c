#include "sip_tp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "sip_tp"
#include "buf.h"
#include "hash.h"
#include "list.h"
#include "log.h"
#include "obj.h"

#define TP_MAX_SOCKS 16
#define TP_UDP_BUF (SIP_MSG_MAX_SIZE + 1) /* +1 to see truncation */
#define TP_UDP_MAX 65507u		  /* largest IPv4 UDP payload */
#define TP_UDP_ARENA (256u * 1024u)	  /* queued datagram bytes */
#define TP_TCP_READS 16			  /* read() calls per wake-up */
#define TP_TCP_READ_CHUNK 16384u
#define TP_ACCEPTS 64 /* accept() calls per wake-up */
#define TP_SESS_MAX 256
#define TP_NAME_MAX 256

struct sip_tp_tls {
	SSL_CTX *ctx;
	bool client;
};

struct sip_tp_sock {
	struct sip_tp *tp;
	int fd;
	enum sip_transport proto;
	struct sip_tp_addr local;
	bool wildcard;
	/* UDP send queue: out_n queued, out_head already sent. */
	struct mmsghdr *out_mm;
	struct iovec *out_iov;
	struct sockaddr_in6 *out_addr;
	char *out_buf;
	size_t out_used;
	unsigned out_n, out_head;
	bool want_write;
	struct ev_timer pause; /* TCP/TLS: accept paused after EMFILE */
};

struct sess {
	struct le le;
	struct sip_tp_addr peer;
	char name[TP_NAME_MAX];
	SSL_SESSION *sess;
};

struct sip_tp_conn {
	struct le le;	    /* tp->conns */
	struct le le_dirty; /* tp->dirty: has bytes to write */
	struct sip_tp *tp;  /* NULL once closed */
	int fd;
	enum sip_transport proto;
	struct sip_tp_addr peer;
	struct sip_tp_addr local;
	bool outgoing;
	bool connecting;  /* TCP connect in progress */
	bool established; /* connected and, for TLS, handshake done */
	bool closed;
	bool resumed;
	bool ssl_want_write; /* an SSL call waits for writability */
	int events;
	struct buf rx;
	struct buf tx;
	unsigned tx_msgs;
	struct ev_timer timer;
	uint64_t last_active;
	uint64_t t_open; /* outgoing: when the connect started (monotonic) */
	SSL *ssl;
	char *tls_name;
};

struct sip_tp {
	struct ev *ev;
	struct sip_tp_opts opts;
	sip_tp_recv_h *h;
	void *arg;
	struct sip_tp_sock *socks[TP_MAX_SOCKS];
	unsigned nsocks;
	struct hash conns;
	size_t nconns;
	struct list dirty;
	struct list sessions;
	struct sip_tp_stats stats;
	bool flush_added;
	/* UDP receive batch */
	struct mmsghdr *in_mm;
	struct iovec *in_iov;
	struct sockaddr_in6 *in_addr;
	char *in_ctl;
	char *in_buf;
	unsigned in_used; /* entries the last recvmmsg filled */
};

/* Room for one packet-info (the larger, IPv6) and one timestamp. */
#define TP_CTL_SIZE                               \
	(CMSG_SPACE(sizeof(struct in6_pktinfo)) + \
	 CMSG_SPACE(sizeof(struct timespec)))

/* Where each SSL keeps its connection; set once per process. */
static int conn_ex_idx = -1;
static pthread_once_t conn_ex_once = PTHREAD_ONCE_INIT;

static void conn_ex_init(void)
{
	conn_ex_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Addresses. */

int sip_tp_addr_set(struct sip_tp_addr *addr, enum sip_transport proto,
		    const struct sockaddr *sa, socklen_t len)
{
	struct sip_tp_addr a;

	memset(&a, 0, sizeof(a));
	a.proto = proto;
	if (sa->sa_family == AF_INET && len >= sizeof(a.u.in))
		memcpy(&a.u.in, sa, sizeof(a.u.in));
	else if (sa->sa_family == AF_INET6 && len >= sizeof(a.u.in6))
		memcpy(&a.u.in6, sa, sizeof(a.u.in6));
	else
		return EAFNOSUPPORT;
	*addr = a;
	return 0;
}

static bool name_ok(const struct pl *h)
{
	size_t i;

	if (h->l == 0 || h->l > 253)
		return false;
	for (i = 0; i < h->l; i++) {
		char c = h->p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

int sip_tp_addr_decode(struct sip_tp_addr *addr, struct pl *host,
		       const char *str)
{
	struct sip_tp_addr a;
	struct pl s, h, port;
	const char *colon;
	char tmp[256];
	uint32_t p;

	if (!str)
		return EINVAL;
	pl_set_str(&s, str);
	memset(&a, 0, sizeof(a));
	if (s.l < 4 || s.p[3] != ':')
		return EINVAL;
	h.p = s.p;
	h.l = 3;
	if (pl_caseeq_str(&h, "udp"))
		a.proto = SIP_TP_UDP;
	else if (pl_caseeq_str(&h, "tcp"))
		a.proto = SIP_TP_TCP;
	else if (pl_caseeq_str(&h, "tls"))
		a.proto = SIP_TP_TLS;
	else
		return EINVAL;
	pl_advance(&s, 4);

	if (s.l > 0 && s.p[0] == '[') {
		const char *end = pl_chr(&s, ']');

		if (!end || end + 1 >= s.p + s.l || end[1] != ':')
			return EINVAL;
		h.p = s.p + 1;
		h.l = (size_t)(end - h.p);
		port.p = end + 2;
		port.l = (size_t)(s.p + s.l - port.p);
		if (pl_strcpy(&h, tmp, sizeof(tmp)) ||
		    inet_pton(AF_INET6, tmp, &a.u.in6.sin6_addr) != 1)
			return EINVAL;
		a.u.in6.sin6_family = AF_INET6;
	} else {
		colon = pl_chr(&s, ':');
		if (!colon)
			return EINVAL;
		h.p = s.p;
		h.l = (size_t)(colon - s.p);
		port.p = colon + 1;
		port.l = (size_t)(s.p + s.l - port.p);
		/* One colon only: a bare IPv6 address needs brackets. */
		if (pl_chr(&port, ':') || h.l == 0 ||
		    pl_strcpy(&h, tmp, sizeof(tmp)))
			return EINVAL;
		if (inet_pton(AF_INET, tmp, &a.u.in.sin_addr) == 1) {
			a.u.in.sin_family = AF_INET;
		} else {
			struct addrinfo hints, *res = NULL;

			if (!name_ok(&h))
				return EINVAL;
			memset(&hints, 0, sizeof(hints));
			hints.ai_family = AF_UNSPEC;
			hints.ai_socktype = a.proto == SIP_TP_UDP
						    ? SOCK_DGRAM
						    : SOCK_STREAM;
			if (getaddrinfo(tmp, NULL, &hints, &res) != 0 || !res)
				return ENOENT;
			if (sip_tp_addr_set(&a, a.proto, res->ai_addr,
					    res->ai_addrlen)) {
				freeaddrinfo(res);
				return ENOENT;
			}
			freeaddrinfo(res);
		}
	}
	if (port.l == 0 || port.l > 5 || pl_u32(&port, &p) || p > 65535)
		return EINVAL;
	sip_tp_addr_set_port(&a, (uint16_t)p);
	*addr = a;
	if (host)
		*host = h;
	return 0;
}

int sip_tp_addr_hostport(const struct sip_tp_addr *addr, char *buf,
			 size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (addr->u.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &addr->u.in.sin_addr, ip, sizeof(ip));
		n = snprintf(buf, size, "%s:%u", ip,
			     (unsigned)ntohs(addr->u.in.sin_port));
	} else if (addr->u.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &addr->u.in6.sin6_addr, ip, sizeof(ip));
		n = snprintf(buf, size, "[%s]:%u", ip,
			     (unsigned)ntohs(addr->u.in6.sin6_port));
	} else {
		n = snprintf(buf, size, "?");
	}
	return n < 0 || (size_t)n >= size ? EOVERFLOW : 0;
}

int sip_tp_addr_print(const struct sip_tp_addr *addr, char *buf, size_t size)
{
	static const char *const names[] = {"none", "udp", "tcp", "tls"};
	const char *name = (unsigned)addr->proto < SIP_TP_NPROTO
				   ? names[addr->proto]
				   : "other";
	size_t n = strlen(name) + 1;

	if (size <= n)
		return EOVERFLOW;
	memcpy(buf, name, n - 1);
	buf[n - 1] = ':';
	return sip_tp_addr_hostport(addr, buf + n, size - n);
}

uint16_t sip_tp_addr_port(const struct sip_tp_addr *addr)
{
	if (addr->u.sa.sa_family == AF_INET6)
		return ntohs(addr->u.in6.sin6_port);
	return ntohs(addr->u.in.sin_port);
}

void sip_tp_addr_set_port(struct sip_tp_addr *addr, uint16_t port)
{
	if (addr->u.sa.sa_family == AF_INET6)
		addr->u.in6.sin6_port = htons(port);
	else
		addr->u.in.sin_port = htons(port);
}

socklen_t sip_tp_addr_len(const struct sip_tp_addr *addr)
{
	return addr->u.sa.sa_family == AF_INET6 ? sizeof(addr->u.in6)
						: sizeof(addr->u.in);
}

bool sip_tp_addr_eq(const struct sip_tp_addr *a, const struct sip_tp_addr *b)
{
	if (a->proto != b->proto || a->u.sa.sa_family != b->u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.in.sin_port == b->u.in.sin_port &&
		       a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
	if (a->u.sa.sa_family == AF_INET6)
		return a->u.in6.sin6_port == b->u.in6.sin6_port &&
		       !memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr,
			       sizeof(a->u.in6.sin6_addr));
	return false;
}

static uint32_t addr_key(const struct sip_tp_addr *a)
{
	uint32_t k = (uint32_t)a->proto * 0x9e3779b1u;

	if (a->u.sa.sa_family == AF_INET6)
		k ^= hash_fnv32(&a->u.in6.sin6_addr,
				sizeof(a->u.in6.sin6_addr));
	else
		k ^= hash_fnv32(&a->u.in.sin_addr, sizeof(a->u.in.sin_addr));
	return k ^ ((uint32_t)sip_tp_addr_port(a) * 2654435761u);
}

/* OpenSSL. */

/* Logs OpenSSL's queue once, with context, and empties it. */
static void log_ssl(const char *what)
{
	unsigned long e;
	char msg[256];
	bool any = false;

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, msg, sizeof(msg));
		log_warn("%s: %s", what, msg);
		any = true;
	}
	if (!any)
		log_warn("%s", what);
}

static int new_session(SSL *ssl, SSL_SESSION *s);

static void tls_destroy(void *obj)
{
	struct sip_tp_tls *tls = obj;

	SSL_CTX_free(tls->ctx);
}

int sip_tp_tls_alloc(struct sip_tp_tls **tlsp, bool client,
		     const struct sip_tp_tls_opts *opts)
{
	static const unsigned char sid_ctx[] = "sipstone";
	struct sip_tp_tls *tls;
	int err = EINVAL;

	if (!opts || (!client && (!opts->cert_file || !opts->key_file)))
		return EINVAL;
	{
		struct sigaction sa;

		/*
		 * OpenSSL writes with write(2): a peer that reset the
		 * connection would kill the process with SIGPIPE.  Ignore
		 * it unless the program chose a disposition itself.
		 */
		if (sigaction(SIGPIPE, NULL, &sa) == 0 &&
		    sa.sa_handler == SIG_DFL)
			signal(SIGPIPE, SIG_IGN);
	}
	pthread_once(&conn_ex_once, conn_ex_init);
	if (conn_ex_idx < 0)
		return ENOMEM;
	tls = obj_alloc(sizeof(*tls), tls_destroy);
	if (!tls)
		return ENOMEM;
	tls->client = client;
	tls->ctx = SSL_CTX_new(client ? TLS_client_method()
				      : TLS_server_method());
	if (!tls->ctx) {
		log_ssl("SSL_CTX_new");
		err = ENOMEM;
		goto out;
	}
	SSL_CTX_set_min_proto_version(tls->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(tls->ctx,
			 SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (opts->cert_file && SSL_CTX_use_certificate_chain_file(
				       tls->ctx, opts->cert_file) != 1) {
		log_ssl(opts->cert_file);
		goto out;
	}
	if (opts->key_file &&
	    (SSL_CTX_use_PrivateKey_file(tls->ctx, opts->key_file,
					 SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(tls->ctx) != 1)) {
		log_ssl(opts->key_file);
		goto out;
	}
	if (client) {
		if (opts->no_verify) {
			SSL_CTX_set_verify(tls->ctx, SSL_VERIFY_NONE, NULL);
		} else {
			if (opts->ca_file ? SSL_CTX_load_verify_locations(
						    tls->ctx, opts->ca_file,
						    NULL) != 1
					  : SSL_CTX_set_default_verify_paths(
						    tls->ctx) != 1) {
				log_ssl(opts->ca_file ? opts->ca_file
						      : "default CA paths");
				goto out;
			}
			SSL_CTX_set_verify(tls->ctx, SSL_VERIFY_PEER, NULL);
		}
		if (opts->no_resume) {
			/*
			 * Every handshake in full: no session kept, and no
			 * ticket asked for (TLS 1.2; a TLS 1.3 server sends
			 * them anyway, and they are dropped).
			 */
			SSL_CTX_set_session_cache_mode(tls->ctx,
						       SSL_SESS_CACHE_OFF);
			SSL_CTX_set_options(tls->ctx, SSL_OP_NO_TICKET);
		} else {
			/* Sessions go to the transport that made the
			 * connection. */
			SSL_CTX_set_session_cache_mode(
				tls->ctx,
				SSL_SESS_CACHE_CLIENT |
					SSL_SESS_CACHE_NO_INTERNAL_STORE);
			SSL_CTX_sess_set_new_cb(tls->ctx, new_session);
		}
	} else {
		SSL_CTX_set_session_cache_mode(tls->ctx,
					       SSL_SESS_CACHE_SERVER);
		SSL_CTX_set_session_id_context(tls->ctx, sid_ctx,
					       sizeof(sid_ctx) - 1);
		if (opts->ca_file) {
			if (SSL_CTX_load_verify_locations(
				    tls->ctx, opts->ca_file, NULL) != 1) {
				log_ssl(opts->ca_file);
				goto out;
			}
			SSL_CTX_set_verify(
				tls->ctx,
				SSL_VERIFY_PEER |
					SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				NULL);
		}
	}
	*tlsp = tls;
	tls = NULL;
	err = 0;
out:
	obj_deref(tls);
	return err;
}

static struct sess *sess_find(struct sip_tp *tp, const struct sip_tp_addr *a,
			      const char *name)
{
	struct le *le;

	for (le = tp->sessions.head; le; le = le->next) {
		struct sess *s = le->data;

		if (sip_tp_addr_eq(&s->peer, a) &&
		    !strcmp(s->name, name ? name : ""))
			return s;
	}
	return NULL;
}

/* OpenSSL hands us a client session (TLS 1.3: from a ticket). */
static int new_session(SSL *ssl, SSL_SESSION *session)
{
	struct sip_tp_conn *conn = SSL_get_ex_data(ssl, conn_ex_idx);
	struct sip_tp *tp;
	struct sess *s;

	if (!conn || !conn->tp)
		return 0;
	tp = conn->tp;
	s = sess_find(tp, &conn->peer, conn->tls_name);
	if (!s) {
		if (tp->sessions.count >= TP_SESS_MAX) {
			s = tp->sessions.head->data;
			list_unlink(&s->le);
			SSL_SESSION_free(s->sess);
			free(s);
		}
		s = calloc(1, sizeof(*s));
		if (!s)
			return 0;
		s->peer = conn->peer;
		snprintf(s->name, sizeof(s->name), "%s",
			 conn->tls_name ? conn->tls_name : "");
		list_append(&tp->sessions, &s->le, s);
	} else {
		SSL_SESSION_free(s->sess);
	}
	/* Returning 1 keeps the reference OpenSSL passed to us. */
	s->sess = session;
	return 1;
}

/* Connections. */

static void conn_update_events(struct sip_tp_conn *conn)
{
	int events = EV_READ;

	if (conn->closed)
		return;
	if (conn->connecting || conn->ssl_want_write ||
	    (conn->established && conn->tx.len > 0))
		events |= EV_WRITE;
	if (events != conn->events &&
	    !ev_fd_mod(conn->tp->ev, conn->fd, events))
		conn->events = events;
}

/* Ends conn: the table's reference goes, so hold one around the call. */
static void conn_close_why(struct sip_tp_conn *conn, const char *why)
{
	struct sip_tp *tp = conn->tp;

	if (conn->closed)
		return;
	conn->closed = true;
	if (log_get_level() >= LOG_LEVEL_DEBUG) {
		char a[SIP_TP_ADDR_STRLEN];

		sip_tp_addr_print(&conn->peer, a, sizeof(a));
		log_debug("%s: closed: %s", a, why);
	}
	ev_timer_cancel(tp->ev, &conn->timer);
	ev_fd_del(tp->ev, conn->fd);
	if (conn->ssl) {
		/* One try at close_notify; no waiting for the peer's. */
		if (conn->established)
			(void)SSL_shutdown(conn->ssl);
		ERR_clear_error();
	}
	close(conn->fd);
	conn->fd = -1;
	list_unlink(&conn->le_dirty);
	if (conn->tx.len > 0)
		tp->stats.drop_send += conn->tx_msgs ? conn->tx_msgs : 1;
	buf_free(&conn->tx);
	conn->tx_msgs = 0;
	tp->stats.conns_closed++;
	tp->nconns--;
	conn->tp = NULL;
	list_unlink(&conn->le);
	obj_deref(conn);
}

static void conn_destroy(void *obj)
{
	struct sip_tp_conn *conn = obj;

	if (!conn->closed && conn->tp) {
		/* Never linked (failed set-up): undo by hand. */
		ev_timer_cancel(conn->tp->ev, &conn->timer);
		if (conn->fd >= 0) {
			ev_fd_del(conn->tp->ev, conn->fd);
			close(conn->fd);
		}
	}
	SSL_free(conn->ssl);
	buf_free(&conn->rx);
	buf_free(&conn->tx);
	free(conn->tls_name);
}

static void conn_timer(void *arg);

static void conn_touch(struct sip_tp_conn *conn)
{
	conn->last_active = ev_now(conn->tp->ev);
}

static void conn_established(struct sip_tp_conn *conn)
{
	struct sip_tp *tp = conn->tp;

	conn->established = true;
	if (conn->outgoing) {
		tp->stats.conns_up++;
		tp->stats.conn_setup_ns += ev_monotonic_ns() - conn->t_open;
	}
	conn_touch(conn);
	ev_timer_start(tp->ev, &conn->timer, tp->opts.tcp_idle_ns, conn_timer,
		       conn);
	if (conn->tx.len > 0 && !le_linked(&conn->le_dirty))
		list_append(&tp->dirty, &conn->le_dirty, conn);
	conn_update_events(conn);
}

static void conn_timer(void *arg)
{
	struct sip_tp_conn *conn = arg;
	struct sip_tp *tp = conn->tp;
	uint64_t now = ev_now(tp->ev), idle;

	if (!conn->established) {
		tp->stats.conns_failed++;
		if (conn->ssl)
			tp->stats.tls_failed++;
		conn_close_why(conn, "connect/handshake timed out");
		return;
	}
	idle = now - conn->last_active;
	if (idle >= tp->opts.tcp_idle_ns) {
		tp->stats.conns_idle++;
		conn_close_why(conn, "idle");
		return;
	}
	ev_timer_start(tp->ev, &conn->timer, tp->opts.tcp_idle_ns - idle,
		       conn_timer, conn);
}

static int conn_alloc(struct sip_tp *tp, int fd, enum sip_transport proto,
		      const struct sip_tp_addr *peer,
		      const struct sip_tp_addr *local, bool outgoing,
		      struct sip_tp_conn **connp);

static void conn_handshake(struct sip_tp_conn *conn);
static void conn_read(struct sip_tp_conn *conn);
static void conn_write(struct sip_tp_conn *conn);

static int tls_start(struct sip_tp_conn *conn)
{
	struct sip_tp *tp = conn->tp;
	struct sip_tp_tls *tls = conn->outgoing ? tp->opts.tls_client
						: tp->opts.tls_server;

	conn->ssl = SSL_new(tls->ctx);
	if (!conn->ssl) {
		log_ssl("SSL_new");
		return ENOMEM;
	}
	SSL_set_ex_data(conn->ssl, conn_ex_idx, conn);
	if (SSL_set_fd(conn->ssl, conn->fd) != 1) {
		log_ssl("SSL_set_fd");
		return ENOMEM;
	}
	if (!conn->outgoing) {
		SSL_set_accept_state(conn->ssl);
		return 0;
	}
	SSL_set_connect_state(conn->ssl);
	if (conn->tls_name) {
		struct in6_addr ip;
		bool is_ip = inet_pton(AF_INET, conn->tls_name, &ip) == 1 ||
			     inet_pton(AF_INET6, conn->tls_name, &ip) == 1;

		/* RFC 6066 §3: no IP literals in SNI. */
		if (!is_ip)
			SSL_set_tlsext_host_name(conn->ssl, conn->tls_name);
		if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(
				    SSL_get0_param(conn->ssl),
				    conn->tls_name) != 1
			  : SSL_set1_host(conn->ssl, conn->tls_name) != 1) {
			log_ssl("TLS name");
			return EINVAL;
		}
	}
	{
		struct sess *s = sess_find(tp, &conn->peer, conn->tls_name);

		if (s && s->sess && SSL_SESSION_is_resumable(s->sess))
			SSL_set_session(conn->ssl, s->sess);
	}
	return 0;
}

static void conn_connected(struct sip_tp_conn *conn)
{
	struct sockaddr_in6 sa;
	socklen_t len = sizeof(sa);

	conn->connecting = false;
	if (getsockname(conn->fd, (struct sockaddr *)&sa, &len) == 0)
		(void)sip_tp_addr_set(&conn->local, conn->proto,
				      (struct sockaddr *)&sa, len);
	if (conn->proto == SIP_TP_TLS) {
		if (tls_start(conn)) {
			conn->tp->stats.conns_failed++;
			conn_close_why(conn, "TLS set-up failed");
			return;
		}
		conn_handshake(conn);
		return;
	}
	conn_established(conn);
}

static void conn_event(int fd, int events, void *arg)
{
	struct sip_tp_conn *conn = obj_ref(arg);

	(void)fd;
	if (conn->connecting) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) <
			    0 ||
		    soerr) {
			conn->tp->stats.conns_failed++;
			conn_close_why(conn, strerror(soerr ? soerr : errno));
		} else if (events & (EV_WRITE | EV_ERROR)) {
			conn_connected(conn);
		}
	} else if (conn->ssl && !conn->established) {
		conn_handshake(conn);
	} else if (conn->ssl) {
		/*
		 * Either direction may be waiting for the other (a read
		 * that must write, a write that must read): try both.
		 */
		conn_write(conn);
		if (!conn->closed)
			conn_read(conn);
	} else {
		if (!conn->closed && (events & EV_WRITE))
			conn_write(conn);
		if (!conn->closed && (events & (EV_READ | EV_ERROR)))
			conn_read(conn);
	}
	obj_deref(conn);
}

static int conn_alloc(struct sip_tp *tp, int fd, enum sip_transport proto,
		      const struct sip_tp_addr *peer,
		      const struct sip_tp_addr *local, bool outgoing,
		      struct sip_tp_conn **connp)
{
	struct sip_tp_conn *conn;
	int err;

	conn = obj_alloc(sizeof(*conn), conn_destroy);
	if (!conn)
		return ENOMEM;
	conn->tp = tp;
	conn->fd = fd;
	conn->proto = proto;
	conn->peer = *peer;
	conn->peer.proto = proto;
	if (local) {
		conn->local = *local;
		conn->local.proto = proto;
	}
	conn->outgoing = outgoing;
	buf_init(&conn->rx, tp->opts.tcp_rx_max);
	buf_init(&conn->tx, tp->opts.tcp_tx_max);
	ev_timer_init(&conn->timer);
	conn->events = EV_READ;
	err = ev_fd_add(tp->ev, fd, EV_READ, conn_event, conn);
	if (err) {
		conn->fd = -1; /* the caller closes fd */
		obj_deref(conn);
		return err;
	}
	/* The table holds the reference obj_alloc gave. */
	hash_append(&tp->conns, addr_key(&conn->peer), &conn->le, conn);
	tp->nconns++;
	*connp = conn;
	return 0;
}

static void conn_handshake(struct sip_tp_conn *conn)
{
	struct sip_tp *tp = conn->tp;
	int rc, e;

	/* SSL_get_error() reads this thread's queue: start it empty. */
	ERR_clear_error();
	rc = SSL_do_handshake(conn->ssl);

	if (rc == 1) {
		conn->ssl_want_write = false;
		conn->resumed = SSL_session_reused(conn->ssl) == 1;
		if (conn->resumed)
			tp->stats.tls_resumed++;
		else
			tp->stats.tls_full++;
		conn_established(conn);
		/* Data may have come with the last handshake flight. */
		conn_read(conn);
		return;
	}
	e = SSL_get_error(conn->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		conn->ssl_want_write = e == SSL_ERROR_WANT_WRITE;
		conn_update_events(conn);
		return;
	}
	{
		char a[SIP_TP_ADDR_STRLEN], what[SIP_TP_ADDR_STRLEN + 64];
		long v = SSL_get_verify_result(conn->ssl);

		sip_tp_addr_print(&conn->peer, a, sizeof(a));
		snprintf(what, sizeof(what), "%s: TLS handshake failed%s%s", a,
			 v != X509_V_OK ? ": " : "",
			 v != X509_V_OK ? X509_verify_cert_error_string(v)
					: "");
		log_ssl(what);
	}
	tp->stats.tls_failed++;
	tp->stats.conns_failed++;
	conn_close_why(conn, "handshake failed");
}

/* Answers RFC 5626 §4.4.1 pings right away; they are tiny. */
static void conn_pong(struct sip_tp_conn *conn)
{
	conn->tp->stats.keepalives++;
	if (buf_append(&conn->tx, "\r\n", 2) == 0 &&
	    !le_linked(&conn->le_dirty))
		list_append(&conn->tp->dirty, &conn->le_dirty, conn);
}

/* Frames and delivers what rx holds. */
static void conn_process(struct sip_tp_conn *conn)
{
	struct sip_tp *tp = conn->tp;
	struct sip_msg msg;
	size_t off = 0;

	while (!conn->closed && off < conn->rx.len) {
		const char *p = conn->rx.data + off;
		size_t left = conn->rx.len - off;
		size_t n = sip_msg_skip_crlf(p, left);
		int err;

		if (n > 0) {
			if (memmem(p, n, "\r\n\r\n", 4)) {
				conn_pong(conn);
			} else if (n == left && n < 4) {
				break; /* maybe half a ping */
			}
			off += n;
			continue;
		}
		err = sip_msg_decode(&msg, p, left, true);
		if (err == ENODATA) {
			if (conn->rx.len >= conn->rx.max) {
				tp->stats.drop_overflow++;
				conn_close_why(conn, "message too large");
			}
			break;
		}
		if (err == EOVERFLOW) {
			tp->stats.drop_overflow++;
			conn_close_why(conn, "message too large");
			break;
		}
		if (err) {
			tp->stats.drop_parse++;
			conn_close_why(conn, "malformed stream");
			break;
		}
		{
			struct sip_tp_rx rx;

			memset(&rx, 0, sizeof(rx));
			rx.tp = tp;
			rx.msg = &msg;
			rx.proto = conn->proto;
			rx.src = conn->peer;
			rx.local = conn->local;
			rx.conn = conn;
			tp->stats.msgs_in[conn->proto]++;
			off += msg.len;
			tp->h(&rx, tp->arg);
		}
	}
	if (!conn->closed)
		buf_consume(&conn->rx, off);
}

static void conn_read(struct sip_tp_conn *conn)
{
	struct sip_tp *tp = conn->tp;
	int i;

	for (i = 0; !conn->closed; i++) {
		size_t room = conn->rx.max - conn->rx.len;
		ssize_t n;

		if (!conn->ssl && i >= TP_TCP_READS)
			break; /* level-triggered: we will be back */
		if (room == 0) {
			/* conn_process could not make room: too large. */
			tp->stats.drop_overflow++;
			conn_close_why(conn, "receive buffer full");
			break;
		}
		if (room > TP_TCP_READ_CHUNK)
			room = TP_TCP_READ_CHUNK;
		if (buf_reserve(&conn->rx, room)) {
			tp->stats.drop_overflow++;
			conn_close_why(conn, "out of memory");
			break;
		}
		if (conn->ssl) {
			int rc;

			ERR_clear_error();
			rc = SSL_read(conn->ssl, conn->rx.data + conn->rx.len,
				      (int)room);

			if (rc <= 0) {
				int e = SSL_get_error(conn->ssl, rc);

				if (e == SSL_ERROR_WANT_READ)
					break;
				if (e == SSL_ERROR_WANT_WRITE) {
					conn->ssl_want_write = true;
					conn_update_events(conn);
					break;
				}
				if (e != SSL_ERROR_ZERO_RETURN &&
				    e != SSL_ERROR_SYSCALL)
					log_ssl("SSL_read");
				ERR_clear_error();
				conn_close_why(conn, "TLS closed");
				break;
			}
			n = rc;
		} else {
			n = read(conn->fd, conn->rx.data + conn->rx.len, room);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				conn_close_why(conn, strerror(errno));
				break;
			}
			if (n == 0) {
				conn_close_why(conn, "closed by peer");
				break;
			}
		}
		conn->rx.len += (size_t)n;
		tp->stats.bytes_in[conn->proto] += (uint64_t)n;
		conn_touch(conn);
		conn_process(conn);
	}
}

static void conn_write(struct sip_tp_conn *conn)
{
	struct sip_tp *tp = conn->tp;

	conn->ssl_want_write = false;
	while (!conn->closed && conn->tx.len > 0) {
		ssize_t n;

		if (conn->ssl) {
			size_t want = conn->tx.len > INT32_MAX ? INT32_MAX
							       : conn->tx.len;
			int rc;

			ERR_clear_error();
			rc = SSL_write(conn->ssl, conn->tx.data, (int)want);

			if (rc <= 0) {
				int e = SSL_get_error(conn->ssl, rc);

				if (e == SSL_ERROR_WANT_WRITE) {
					conn->ssl_want_write = true;
					break;
				}
				if (e == SSL_ERROR_WANT_READ)
					break;
				log_ssl("SSL_write");
				conn_close_why(conn, "TLS write failed");
				return;
			}
			n = rc;
		} else {
			n = send(conn->fd, conn->tx.data, conn->tx.len,
				 MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				conn_close_why(conn, strerror(errno));
				return;
			}
		}
		buf_consume(&conn->tx, (size_t)n);
		tp->stats.bytes_out[conn->proto] += (uint64_t)n;
		conn_touch(conn);
	}
	if (conn->closed)
		return;
	if (conn->tx.len == 0)
		conn->tx_msgs = 0;
	conn_update_events(conn);
}

static void accept_resume(void *arg)
{
	struct sip_tp_sock *sock = arg;

	(void)ev_fd_mod(sock->tp->ev, sock->fd, EV_READ);
}

static void accept_event(int fd, int events, void *arg)
{
	struct sip_tp_sock *sock = arg;
	struct sip_tp *tp = sock->tp;
	int i;

	(void)events;
	for (i = 0; i < TP_ACCEPTS; i++) {
		struct sockaddr_in6 sa;
		socklen_t len = sizeof(sa);
		struct sip_tp_addr peer, local = sock->local;
		struct sip_tp_conn *conn = NULL;
		int cfd, one = 1;

		cfd = accept4(fd, (struct sockaddr *)&sa, &len,
			      SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/*
				 * Level-triggered: the pending connection
				 * would wake us at once, forever.  Stop
				 * listening for a while instead.
				 */
				log_warn("accept: %s: pausing 100 ms",
					 strerror(errno));
				(void)ev_fd_mod(tp->ev, fd, 0);
				ev_timer_start(tp->ev, &sock->pause,
					       EV_MS(100), accept_resume,
					       sock);
			} else if (errno != EAGAIN && errno != EINTR &&
				   errno != ECONNABORTED) {
				log_warn("accept: %s", strerror(errno));
			}
			return;
		}
		if (tp->nconns >= tp->opts.tcp_max_conns ||
		    sip_tp_addr_set(&peer, sock->proto, (struct sockaddr *)&sa,
				    len)) {
			tp->stats.conns_rejected++;
			close(cfd);
			continue;
		}
		(void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
		if (sock->wildcard) {
			len = sizeof(sa);
			if (getsockname(cfd, (struct sockaddr *)&sa, &len) ==
			    0)
				(void)sip_tp_addr_set(&local, sock->proto,
						      (struct sockaddr *)&sa,
						      len);
		}
		if (conn_alloc(tp, cfd, sock->proto, &peer, &local, false,
			       &conn)) {
			tp->stats.conns_rejected++;
			close(cfd);
			continue;
		}
		tp->stats.conns_accepted++;
		conn_touch(conn);
		if (sock->proto == SIP_TP_TLS) {
			/* Until the handshake is done: a set-up limit. */
			ev_timer_start(tp->ev, &conn->timer,
				       tp->opts.tcp_connect_ns, conn_timer,
				       conn);
			if (tls_start(conn)) {
				tp->stats.conns_failed++;
				conn_close_why(conn, "TLS set-up failed");
			}
		} else {
			conn_established(conn);
		}
	}
}

static struct sip_tp_conn *conn_find(struct sip_tp *tp,
				     const struct sip_tp_addr *dst)
{
	struct list *bucket = hash_bucket(&tp->conns, addr_key(dst));
	struct le *le;

	for (le = bucket->head; le; le = le->next) {
		struct sip_tp_conn *conn = le->data;

		if (!conn->closed && sip_tp_addr_eq(&conn->peer, dst))
			return conn;
	}
	return NULL;
}

/* A new outgoing connection to dst, in the table; connect started. */
static int conn_connect(struct sip_tp *tp, const struct sip_tp_addr *dst,
			const char *tls_name, struct sip_tp_conn **connp)
{
	struct sip_tp_conn *conn;
	int fd = -1, one = 1, err;

	if (tp->nconns >= tp->opts.tcp_max_conns)
		return EMFILE;
	fd = socket(dst->u.sa.sa_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	err = conn_alloc(tp, fd, dst->proto, dst, NULL, true, &conn);
	if (err) {
		close(fd);
		return err;
	}
	tp->stats.conns_opened++;
	conn->t_open = ev_monotonic_ns();
	if (tls_name) {
		conn->tls_name = strdup(tls_name);
		if (!conn->tls_name) {
			conn_close_why(conn, "out of memory");
			return ENOMEM;
		}
	}
	ev_timer_start(tp->ev, &conn->timer, tp->opts.tcp_connect_ns,
		       conn_timer, conn);
	if (connect(fd, &dst->u.sa, sip_tp_addr_len(dst)) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			tp->stats.conns_failed++;
			conn_close_why(conn, strerror(err));
			return err;
		}
		conn->connecting = true;
		conn_update_events(conn);
	} else {
		obj_ref(conn);
		conn_connected(conn);
		if (conn->closed) {
			obj_deref(conn);
			return ECONNREFUSED;
		}
		obj_deref(conn);
	}
	*connp = obj_ref(conn);
	return 0;
}

static int conn_args_check(struct sip_tp *tp, const struct sip_tp_addr *dst,
			   const char *tls_name)
{
	if (dst->proto != SIP_TP_TCP && dst->proto != SIP_TP_TLS)
		return EINVAL;
	if (dst->proto == SIP_TP_TLS && !tp->opts.tls_client)
		return EINVAL;
	if (tls_name && strlen(tls_name) >= TP_NAME_MAX)
		return EINVAL;
	return 0;
}

int sip_tp_conn_get(struct sip_tp *tp, const struct sip_tp_addr *dst,
		    const char *tls_name, struct sip_tp_conn **connp)
{
	struct sip_tp_conn *conn;
	int err = conn_args_check(tp, dst, tls_name);

	if (err)
		return err;
	conn = conn_find(tp, dst);
	if (conn) {
		tp->stats.conns_reused++;
		*connp = obj_ref(conn);
		return 0;
	}
	return conn_connect(tp, dst, tls_name, connp);
}

int sip_tp_conn_open(struct sip_tp *tp, const struct sip_tp_addr *dst,
		     const char *tls_name, struct sip_tp_conn **connp)
{
	int err = conn_args_check(tp, dst, tls_name);

	return err ? err : conn_connect(tp, dst, tls_name, connp);
}

int sip_tp_conn_send(struct sip_tp_conn *conn, const void *data, size_t len)
{
	struct sip_tp *tp = conn->tp;
	int err;

	if (conn->closed)
		return ENOTCONN;
	err = buf_append(&conn->tx, data, len);
	if (err) {
		tp->stats.drop_send++;
		return err;
	}
	conn->tx_msgs++;
	tp->stats.msgs_out[conn->proto]++;
	if (conn->established && !le_linked(&conn->le_dirty))
		list_append(&tp->dirty, &conn->le_dirty, conn);
	return 0;
}

void sip_tp_conn_close(struct sip_tp_conn *conn)
{
	if (!conn || conn->closed)
		return;
	obj_ref(conn);
	conn_close_why(conn, "closed locally");
	obj_deref(conn);
}

bool sip_tp_conn_is_open(const struct sip_tp_conn *conn)
{
	return !conn->closed;
}

bool sip_tp_conn_is_established(const struct sip_tp_conn *conn)
{
	return !conn->closed && conn->established;
}

bool sip_tp_conn_tls_resumed(const struct sip_tp_conn *conn)
{
	return conn->resumed;
}

const struct sip_tp_addr *sip_tp_conn_peer(const struct sip_tp_conn *conn)
{
	return &conn->peer;
}

const struct sip_tp_addr *sip_tp_conn_local(const struct sip_tp_conn *conn)
{
	return &conn->local;
}

size_t sip_tp_conn_count(const struct sip_tp *tp)
{
	return tp->nconns;
}

/* UDP. */

static void udp_deliver(struct sip_tp *tp, struct sip_tp_sock *sock,
			const char *p, size_t len,
			const struct sip_tp_addr *src,
			const struct sip_tp_addr *local, uint64_t rx_ns)
{
	struct sip_msg msg;
	struct sip_tp_rx rx;
	size_t skip = sip_msg_skip_crlf(p, len);
	int err;

	if (skip == len) {
		/* A CRLF keep-alive datagram: nothing to answer on UDP. */
		return;
	}
	err = sip_msg_decode(&msg, p + skip, len - skip, false);
	if (err) {
		if (err == EOVERFLOW)
			tp->stats.drop_overflow++;
		else
			tp->stats.drop_parse++;
		return;
	}
	memset(&rx, 0, sizeof(rx));
	rx.tp = tp;
	rx.msg = &msg;
	rx.proto = SIP_TP_UDP;
	rx.src = *src;
	rx.local = *local;
	rx.sock = sock;
	rx.rx_ns = rx_ns;
	tp->stats.msgs_in[SIP_TP_UDP]++;
	tp->h(&rx, tp->arg);
}

/*
 * The local address (from the packet info, for a wildcard socket) and
 * the kernel's receive time: a CLOCK_REALTIME stamp, made monotonic with
 * real_off (realtime - monotonic, read with the batch) and capped at
 * mono_now, so that a step of the wall clock cannot give a time after
 * the read.
 */
static void udp_cmsgs(struct sip_tp_sock *sock, struct msghdr *mh,
		      struct sip_tp_addr *local, int64_t real_off,
		      uint64_t mono_now, uint64_t *rx_ns)
{
	struct cmsghdr *c;

	*local = sock->local;
	*rx_ns = 0;
	if (!sock->wildcard && !sock->tp->opts.udp_rx_timestamps)
		return;
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			int64_t t;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			t = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec -
			    real_off;
			*rx_ns = t <= 0			  ? 0
				 : (uint64_t)t > mono_now ? mono_now
							  : (uint64_t)t;
		} else if (!sock->wildcard) {
			continue;
		} else if (c->cmsg_level == IPPROTO_IP &&
			   c->cmsg_type == IP_PKTINFO &&
			   local->u.sa.sa_family == AF_INET) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local->u.in.sin_addr = pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO &&
			   local->u.sa.sa_family == AF_INET6) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local->u.in6.sin6_addr = pi.ipi6_addr;
		}
	}
}

static void udp_flush_sock(struct sip_tp_sock *sock);

/* The receive batch: its buffers and headers, set up once. */
static int udp_rx_init(struct sip_tp *tp)
{
	unsigned i;

	tp->in_buf = malloc((size_t)tp->opts.udp_batch * TP_UDP_BUF);
	if (!tp->in_buf)
		return ENOMEM;
	for (i = 0; i < tp->opts.udp_batch; i++) {
		struct msghdr *mh = &tp->in_mm[i].msg_hdr;

		tp->in_iov[i].iov_base = tp->in_buf + (size_t)i * TP_UDP_BUF;
		tp->in_iov[i].iov_len = TP_UDP_BUF;
		mh->msg_iov = &tp->in_iov[i];
		mh->msg_iovlen = 1;
		mh->msg_name = &tp->in_addr[i];
		mh->msg_namelen = sizeof(tp->in_addr[i]);
		mh->msg_control = tp->in_ctl + (size_t)i * TP_CTL_SIZE;
		mh->msg_controllen = TP_CTL_SIZE;
		mh->msg_flags = 0;
	}
	return 0;
}

static void udp_event(int fd, int events, void *arg)
{
	struct sip_tp_sock *sock = arg;
	struct sip_tp *tp = sock->tp;
	unsigned batch = tp->opts.udp_batch, r, i;
	uint64_t mono_now = 0;
	int64_t real_off = 0;

	if (events & EV_WRITE)
		udp_flush_sock(sock);
	if (!(events & (EV_READ | EV_ERROR)))
		return;
	for (r = 0; r < tp->opts.udp_reads; r++) {
		int n;

		/* The kernel changed only the entries it filled last time
		 * (in_used); the pointers stay as udp_rx_init set them. */
		for (i = 0; i < tp->in_used; i++) {
			struct msghdr *mh = &tp->in_mm[i].msg_hdr;

			mh->msg_namelen = sizeof(tp->in_addr[i]);
			mh->msg_controllen = TP_CTL_SIZE;
			mh->msg_flags = 0;
		}
		n = recvmmsg(fd, tp->in_mm, batch, MSG_DONTWAIT, NULL);
		/* a failure may have touched the first entry */
		tp->in_used = n > 0 ? (unsigned)n : 1;
		if (n <= 0) {
			/* ECONNREFUSED and the like: ICMP for a send. */
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_debug("recvmmsg: %s", strerror(errno));
			return;
		}
		if (tp->opts.udp_rx_timestamps) {
			struct timespec rt;

			clock_gettime(CLOCK_REALTIME, &rt);
			mono_now = ev_monotonic_ns();
			real_off = (int64_t)rt.tv_sec * 1000000000ll +
				   rt.tv_nsec - (int64_t)mono_now;
		}
		for (i = 0; i < (unsigned)n; i++) {
			struct msghdr *mh = &tp->in_mm[i].msg_hdr;
			size_t len = tp->in_mm[i].msg_len;
			struct sip_tp_addr src, local;
			uint64_t rx_ns;

			tp->stats.bytes_in[SIP_TP_UDP] += len;
			if (mh->msg_flags & MSG_TRUNC ||
			    len > SIP_MSG_MAX_SIZE) {
				tp->stats.drop_overflow++;
				continue;
			}
			if (sip_tp_addr_set(&src, SIP_TP_UDP, mh->msg_name,
					    mh->msg_namelen))
				continue;
			udp_cmsgs(sock, mh, &local, real_off, mono_now,
				  &rx_ns);
			udp_deliver(tp, sock,
				    tp->in_buf + (size_t)i * TP_UDP_BUF, len,
				    &src, &local, rx_ns);
		}
		if ((unsigned)n < batch)
			return;
	}
}

static void udp_flush_sock(struct sip_tp_sock *sock)
{
	struct sip_tp *tp = sock->tp;

	while (sock->out_head < sock->out_n) {
		int n = sendmmsg(sock->fd, sock->out_mm + sock->out_head,
				 sock->out_n - sock->out_head, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == ENOBUFS) {
				if (!sock->want_write &&
				    !ev_fd_mod(tp->ev, sock->fd,
					       EV_READ | EV_WRITE))
					sock->want_write = true;
				return;
			}
			if (errno == EINTR)
				continue;
			/* The first datagram failed (unreachable...). */
			log_debug("sendmmsg: %s", strerror(errno));
			tp->stats.drop_send++;
			sock->out_head++;
			continue;
		}
		for (int i = 0; i < n; i++) {
			tp->stats.msgs_out[SIP_TP_UDP]++;
			tp->stats.bytes_out[SIP_TP_UDP] +=
				sock->out_mm[sock->out_head + (unsigned)i]
					.msg_len;
		}
		sock->out_head += (unsigned)n;
	}
	sock->out_n = sock->out_head = 0;
	sock->out_used = 0;
	if (sock->want_write && !ev_fd_mod(tp->ev, sock->fd, EV_READ))
		sock->want_write = false;
}

static int udp_send(struct sip_tp *tp, struct sip_tp_sock *sock,
		    const struct sip_tp_addr *dst, const void *data,
		    size_t len)
{
	struct mmsghdr *m;

	if (len > TP_UDP_MAX) {
		tp->stats.drop_send++;
		return EMSGSIZE;
	}
	if (tp->opts.udp_send_now && sock->out_n == 0) {
		ssize_t n = sendto(sock->fd, data, len, MSG_NOSIGNAL,
				   &dst->u.sa, sip_tp_addr_len(dst));

		if (n >= 0) {
			tp->stats.msgs_out[SIP_TP_UDP]++;
			tp->stats.bytes_out[SIP_TP_UDP] += (uint64_t)n;
			return 0;
		}
		if (errno != EAGAIN && errno != ENOBUFS) {
			int err = errno;

			tp->stats.drop_send++;
			return err;
		}
		/* Blocked: queue it for when the socket drains. */
	}
	if (sock->out_n == tp->opts.udp_batch ||
	    TP_UDP_ARENA - sock->out_used < len)
		udp_flush_sock(sock);
	if (sock->out_n == tp->opts.udp_batch ||
	    TP_UDP_ARENA - sock->out_used < len) {
		tp->stats.drop_send++;
		return ENOBUFS;
	}
	memcpy(sock->out_buf + sock->out_used, data, len);
	memcpy(&sock->out_addr[sock->out_n], &dst->u, sip_tp_addr_len(dst));
	sock->out_iov[sock->out_n].iov_base = sock->out_buf + sock->out_used;
	sock->out_iov[sock->out_n].iov_len = len;
	m = &sock->out_mm[sock->out_n];
	memset(m, 0, sizeof(*m));
	m->msg_hdr.msg_name = &sock->out_addr[sock->out_n];
	m->msg_hdr.msg_namelen = sip_tp_addr_len(dst);
	m->msg_hdr.msg_iov = &sock->out_iov[sock->out_n];
	m->msg_hdr.msg_iovlen = 1;
	sock->out_used += len;
	sock->out_n++;
	return 0;
}

static void tp_flush(void *arg)
{
	struct sip_tp *tp = arg;
	unsigned i;

	for (i = 0; i < tp->nsocks; i++) {
		struct sip_tp_sock *sock = tp->socks[i];

		if (sock->proto == SIP_TP_UDP &&
		    sock->out_n > sock->out_head && !sock->want_write)
			udp_flush_sock(sock);
	}
	while (tp->dirty.head) {
		struct sip_tp_conn *conn = obj_ref(tp->dirty.head->data);

		list_unlink(&conn->le_dirty);
		conn_write(conn);
		obj_deref(conn);
	}
}

void sip_tp_flush(struct sip_tp *tp)
{
	tp_flush(tp);
}

static struct sip_tp_sock *udp_sock_for(struct sip_tp *tp, int family)
{
	unsigned i;

	for (i = 0; i < tp->nsocks; i++)
		if (tp->socks[i]->proto == SIP_TP_UDP &&
		    tp->socks[i]->local.u.sa.sa_family == family)
			return tp->socks[i];
	return NULL;
}

int sip_tp_send(struct sip_tp *tp, const struct sip_tp_addr *dst,
		const void *data, size_t len)
{
	struct sip_tp_conn *conn = NULL;
	int err;

	if (dst->proto == SIP_TP_UDP) {
		struct sip_tp_sock *sock =
			udp_sock_for(tp, dst->u.sa.sa_family);

		if (!sock) {
			tp->stats.drop_send++;
			return ENOENT;
		}
		return udp_send(tp, sock, dst, data, len);
	}
	err = sip_tp_conn_get(tp, dst, NULL, &conn);
	if (err) {
		tp->stats.drop_send++;
		return err;
	}
	err = sip_tp_conn_send(conn, data, len);
	obj_deref(conn);
	return err;
}

/*
 * RFC 3261 §18.2.2: a response goes back on the connection the request
 * came on; only when it is gone does it go to the sent-by (here the
 * source), over a new connection.  For UDP the reply leaves from the
 * socket the request arrived on.
 */
int sip_tp_reply(const struct sip_tp_rx *rx, const void *data, size_t len)
{
	if (rx->conn && !rx->conn->closed)
		return sip_tp_conn_send(rx->conn, data, len);
	if (rx->proto == SIP_TP_UDP && rx->sock)
		return udp_send(rx->tp, rx->sock, &rx->src, data, len);
	return sip_tp_send(rx->tp, &rx->src, data, len);
}

/* The transport. */

static void sock_free(struct sip_tp *tp, struct sip_tp_sock *sock)
{
	if (!sock)
		return;
	ev_timer_cancel(tp->ev, &sock->pause);
	if (sock->fd >= 0) {
		ev_fd_del(tp->ev, sock->fd);
		close(sock->fd);
	}
	free(sock->out_mm);
	free(sock->out_iov);
	free(sock->out_addr);
	free(sock->out_buf);
	free(sock);
}

static void tp_destroy(void *obj)
{
	struct sip_tp *tp = obj;
	unsigned i;

	if (tp->conns.buckets) {
		for (i = 0; i <= tp->conns.mask; i++) {
			while (tp->conns.buckets[i].head) {
				struct sip_tp_conn *conn =
					tp->conns.buckets[i].head->data;

				obj_ref(conn);
				conn_close_why(conn, "transport freed");
				obj_deref(conn);
			}
		}
		hash_free(&tp->conns);
	}
	for (i = 0; i < tp->nsocks; i++)
		sock_free(tp, tp->socks[i]);
	while (tp->sessions.head) {
		struct sess *s = tp->sessions.head->data;

		list_unlink(&s->le);
		SSL_SESSION_free(s->sess);
		free(s);
	}
	if (tp->flush_added)
		ev_flush_del(tp->ev, tp_flush, tp);
	free(tp->in_mm);
	free(tp->in_iov);
	free(tp->in_addr);
	free(tp->in_ctl);
	free(tp->in_buf);
	obj_deref(tp->opts.tls_server);
	obj_deref(tp->opts.tls_client);
	obj_deref(tp->ev);
}

int sip_tp_alloc(struct sip_tp **tpp, struct ev *ev,
		 const struct sip_tp_opts *opts, sip_tp_recv_h *h, void *arg)
{
	struct sip_tp *tp;
	struct sip_tp_opts o;
	int err;

	if (!ev || !h)
		return EINVAL;
	if (opts)
		o = *opts;
	else
		memset(&o, 0, sizeof(o));
	if (!o.udp_batch)
		o.udp_batch = 32;
	if (o.udp_batch > 1024)
		return EINVAL;
	if (!o.udp_reads)
		o.udp_reads = 4;
	if (!o.udp_sockbuf)
		o.udp_sockbuf = 4 * 1024 * 1024;
	if (!o.tcp_rx_max)
		o.tcp_rx_max = SIP_MSG_MAX_SIZE + 4096;
	if (!o.tcp_tx_max)
		o.tcp_tx_max = 4 * 1024 * 1024;
	if (!o.tcp_idle_ns)
		o.tcp_idle_ns = 120ull * 1000 * EV_NS_PER_MS;
	if (!o.tcp_connect_ns)
		o.tcp_connect_ns = 10ull * 1000 * EV_NS_PER_MS;
	if (!o.tcp_max_conns)
		o.tcp_max_conns = 65536;
	if ((o.tls_server && o.tls_server->client) ||
	    (o.tls_client && !o.tls_client->client))
		return EINVAL;

	tp = obj_alloc(sizeof(*tp), tp_destroy);
	if (!tp)
		return ENOMEM;
	tp->ev = obj_ref(ev);
	tp->opts = o;
	obj_ref(o.tls_server);
	obj_ref(o.tls_client);
	tp->h = h;
	tp->arg = arg;
	list_init(&tp->dirty);
	list_init(&tp->sessions);
	/* About four connections per bucket at the limit. */
	err = hash_init(&tp->conns, o.tcp_max_conns / 4 < 64 ? 64
				    : o.tcp_max_conns / 4 > 16384
					    ? 16384
					    : o.tcp_max_conns / 4);
	if (err)
		goto out;
	tp->in_mm = calloc(o.udp_batch, sizeof(*tp->in_mm));
	tp->in_iov = calloc(o.udp_batch, sizeof(*tp->in_iov));
	tp->in_addr = calloc(o.udp_batch, sizeof(*tp->in_addr));
	tp->in_ctl = calloc(o.udp_batch, TP_CTL_SIZE);
	if (!tp->in_mm || !tp->in_iov || !tp->in_addr || !tp->in_ctl) {
		err = ENOMEM;
		goto out;
	}
	err = ev_flush_add(ev, tp_flush, tp);
	if (err)
		goto out;
	tp->flush_added = true;
	*tpp = tp;
	tp = NULL;
out:
	obj_deref(tp);
	return err;
}

int sip_tp_listen(struct sip_tp *tp, const struct sip_tp_addr *local,
		  unsigned flags, struct sip_tp_addr *bound)
{
	struct sip_tp_sock *sock = NULL;
	struct sockaddr_in6 sa;
	socklen_t len = sizeof(sa);
	int one = 1, err = 0, fam = local->u.sa.sa_family;
	bool udp = local->proto == SIP_TP_UDP;

	if (local->proto != SIP_TP_UDP && local->proto != SIP_TP_TCP &&
	    local->proto != SIP_TP_TLS)
		return EINVAL;
	if (local->proto == SIP_TP_TLS && !tp->opts.tls_server)
		return EINVAL;
	if (fam != AF_INET && fam != AF_INET6)
		return EINVAL;
	if (tp->nsocks == TP_MAX_SOCKS)
		return EMFILE;
	sock = calloc(1, sizeof(*sock));
	if (!sock)
		return ENOMEM;
	sock->tp = tp;
	sock->proto = local->proto;
	sock->fd = socket(fam,
			  (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK |
				  SOCK_CLOEXEC,
			  0);
	if (sock->fd < 0) {
		err = errno;
		goto out;
	}
	if (fam == AF_INET6)
		(void)setsockopt(sock->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				 sizeof(one));
	if (!udp)
		(void)setsockopt(sock->fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one));
	if ((flags & SIP_TP_REUSEPORT) &&
	    setsockopt(sock->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) <
		    0) {
		err = errno;
		goto out;
	}
	if (udp) {
		/* Best effort: the kernel caps these at rmem/wmem_max. */
		(void)setsockopt(sock->fd, SOL_SOCKET, SO_RCVBUF,
				 &tp->opts.udp_sockbuf,
				 sizeof(tp->opts.udp_sockbuf));
		(void)setsockopt(sock->fd, SOL_SOCKET, SO_SNDBUF,
				 &tp->opts.udp_sockbuf,
				 sizeof(tp->opts.udp_sockbuf));
		if (tp->opts.udp_rx_timestamps &&
		    setsockopt(sock->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one,
			       sizeof(one)) < 0) {
			err = errno;
			goto out;
		}
		/* The destination address of each datagram is only read
		 * on a wildcard socket (udp_local()): elsewhere it would
		 * cost a control message per datagram for nothing. */
		if (fam == AF_INET &&
		    local->u.in.sin_addr.s_addr == INADDR_ANY)
			(void)setsockopt(sock->fd, IPPROTO_IP, IP_PKTINFO,
					 &one, sizeof(one));
		else if (fam == AF_INET6 &&
			 IN6_IS_ADDR_UNSPECIFIED(&local->u.in6.sin6_addr))
			(void)setsockopt(sock->fd, IPPROTO_IPV6,
					 IPV6_RECVPKTINFO, &one, sizeof(one));
	}
	if (bind(sock->fd, &local->u.sa, sip_tp_addr_len(local)) < 0 ||
	    (!udp && listen(sock->fd, 1024) < 0) ||
	    getsockname(sock->fd, (struct sockaddr *)&sa, &len) < 0) {
		err = errno;
		goto out;
	}
	err = sip_tp_addr_set(&sock->local, local->proto,
			      (struct sockaddr *)&sa, len);
	if (err)
		goto out;
	sock->wildcard =
		fam == AF_INET
			? local->u.in.sin_addr.s_addr == INADDR_ANY
			: IN6_IS_ADDR_UNSPECIFIED(&local->u.in6.sin6_addr);
	if (udp) {
		unsigned n = tp->opts.udp_batch;

		sock->out_mm = calloc(n, sizeof(*sock->out_mm));
		sock->out_iov = calloc(n, sizeof(*sock->out_iov));
		sock->out_addr = calloc(n, sizeof(*sock->out_addr));
		sock->out_buf = malloc(TP_UDP_ARENA);
		if (!tp->in_buf && udp_rx_init(tp)) {
			err = ENOMEM;
			goto out;
		}
		if (!sock->out_mm || !sock->out_iov || !sock->out_addr ||
		    !sock->out_buf) {
			err = ENOMEM;
			goto out;
		}
	}
	err = ev_fd_add(tp->ev, sock->fd, EV_READ,
			udp ? udp_event : accept_event, sock);
	if (err)
		goto out;
	if (bound)
		*bound = sock->local;
	tp->socks[tp->nsocks++] = sock;
	sock = NULL;
out:
	if (sock) {
		if (sock->fd >= 0)
			close(sock->fd);
		sock->fd = -1;
		sock_free(tp, sock);
	}
	return err;
}

int sip_tp_local(const struct sip_tp *tp, enum sip_transport proto, int af,
		 struct sip_tp_addr *local)
{
	unsigned i;

	for (i = 0; i < tp->nsocks; i++) {
		const struct sip_tp_sock *s = tp->socks[i];

		if (s->proto == proto &&
		    (af == AF_UNSPEC || s->local.u.sa.sa_family == af)) {
			*local = s->local;
			return 0;
		}
	}
	return ENOENT;
}

const struct sip_tp_stats *sip_tp_stats(const struct sip_tp *tp)
{
	return &tp->stats;
}
