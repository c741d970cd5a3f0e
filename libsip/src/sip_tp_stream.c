/*
 * TCP and TLS connections (RFC 3261 §18.3): the table keyed by peer,
 * connect and accept, Content-Length framing with CRLFCRLF keep-alives
 * (RFC 5626 §4.4.1), write queues and the idle and set-up timers.  The
 * OpenSSL calls are in sip_tp_tls.c.
 */
#include "sip_tp_int.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "sip_tp"
#include "log.h"
#include "obj.h"

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

void sip_tp_stream_update_events(struct sip_tp_conn *conn)
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
void sip_tp_stream_close(struct sip_tp_conn *conn, const char *why)
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
	if (conn->ssl)
		sip_tp_tls_shutdown(conn);
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

void sip_tp_stream_established(struct sip_tp_conn *conn)
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
	sip_tp_stream_update_events(conn);
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
		sip_tp_stream_close(conn, "connect/handshake timed out");
		return;
	}
	idle = now - conn->last_active;
	if (idle >= tp->opts.tcp_idle_ns) {
		tp->stats.conns_idle++;
		sip_tp_stream_close(conn, "idle");
		return;
	}
	ev_timer_start(tp->ev, &conn->timer, tp->opts.tcp_idle_ns - idle,
		       conn_timer, conn);
}

static int conn_alloc(struct sip_tp *tp, int fd, enum sip_transport proto,
		      const struct sip_tp_addr *peer,
		      const struct sip_tp_addr *local, bool outgoing,
		      struct sip_tp_conn **connp);

static void conn_connected(struct sip_tp_conn *conn)
{
	struct sockaddr_in6 sa;
	socklen_t len = sizeof(sa);

	conn->connecting = false;
	if (getsockname(conn->fd, (struct sockaddr *)&sa, &len) == 0)
		(void)sip_tp_addr_set(&conn->local, conn->proto,
				      (struct sockaddr *)&sa, len);
	if (conn->proto == SIP_TP_TLS) {
		if (sip_tp_tls_start(conn)) {
			conn->tp->stats.conns_failed++;
			sip_tp_stream_close(conn, "TLS set-up failed");
			return;
		}
		sip_tp_tls_handshake(conn);
		return;
	}
	sip_tp_stream_established(conn);
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
			sip_tp_stream_close(conn,
					    strerror(soerr ? soerr : errno));
		} else if (events & (EV_WRITE | EV_ERROR)) {
			conn_connected(conn);
		}
	} else if (conn->ssl && !conn->established) {
		sip_tp_tls_handshake(conn);
	} else if (conn->ssl) {
		/*
		 * Either direction may be waiting for the other (a read
		 * that must write, a write that must read): try both.
		 */
		sip_tp_stream_write(conn);
		if (!conn->closed)
			sip_tp_stream_read(conn);
	} else {
		if (!conn->closed && (events & EV_WRITE))
			sip_tp_stream_write(conn);
		if (!conn->closed && (events & (EV_READ | EV_ERROR)))
			sip_tp_stream_read(conn);
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
		msg.bad_line = false;
		err = sip_msg_decode(&msg, p, left, true);
		/* A request with a line that is no header: framed, and
		 * answered 400 by whoever validates it. */
		if (err == EBADMSG && msg.bad_line)
			err = 0;
		if (err == ENODATA) {
			if (conn->rx.len >= conn->rx.max) {
				tp->stats.drop_overflow++;
				sip_tp_stream_close(conn, "message too large");
			}
			break;
		}
		if (err == EOVERFLOW) {
			tp->stats.drop_overflow++;
			sip_tp_stream_close(conn, "message too large");
			break;
		}
		if (err) {
			tp->stats.drop_parse++;
			sip_tp_stream_close(conn, "malformed stream");
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

void sip_tp_stream_read(struct sip_tp_conn *conn)
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
			sip_tp_stream_close(conn, "receive buffer full");
			break;
		}
		if (room > TP_TCP_READ_CHUNK)
			room = TP_TCP_READ_CHUNK;
		if (buf_reserve(&conn->rx, room)) {
			tp->stats.drop_overflow++;
			sip_tp_stream_close(conn, "out of memory");
			break;
		}
		if (conn->ssl) {
			n = (ssize_t)sip_tp_tls_read(
				conn, conn->rx.data + conn->rx.len, room);
			if (n == 0)
				break;
		} else {
			n = read(conn->fd, conn->rx.data + conn->rx.len, room);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				sip_tp_stream_close(conn, strerror(errno));
				break;
			}
			if (n == 0) {
				sip_tp_stream_close(conn, "closed by peer");
				break;
			}
		}
		conn->rx.len += (size_t)n;
		tp->stats.bytes_in[conn->proto] += (uint64_t)n;
		conn_touch(conn);
		conn_process(conn);
	}
}

void sip_tp_stream_write(struct sip_tp_conn *conn)
{
	struct sip_tp *tp = conn->tp;

	conn->ssl_want_write = false;
	while (!conn->closed && conn->tx.len > 0) {
		ssize_t n;

		if (conn->ssl) {
			n = (ssize_t)sip_tp_tls_write(conn, conn->tx.data,
						      conn->tx.len);
			if (n == 0)
				break;
		} else {
			n = send(conn->fd, conn->tx.data, conn->tx.len,
				 MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				sip_tp_stream_close(conn, strerror(errno));
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
	sip_tp_stream_update_events(conn);
}

static void accept_resume(void *arg)
{
	struct sip_tp_sock *sock = arg;

	(void)ev_fd_mod(sock->tp->ev, sock->fd, EV_READ);
}

void sip_tp_stream_accept_event(int fd, int events, void *arg)
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
			if (sip_tp_tls_start(conn)) {
				tp->stats.conns_failed++;
				sip_tp_stream_close(conn, "TLS set-up failed");
			}
		} else {
			sip_tp_stream_established(conn);
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
			sip_tp_stream_close(conn, "out of memory");
			return ENOMEM;
		}
	}
	ev_timer_start(tp->ev, &conn->timer, tp->opts.tcp_connect_ns,
		       conn_timer, conn);
	if (connect(fd, &dst->u.sa, sip_tp_addr_len(dst)) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			tp->stats.conns_failed++;
			sip_tp_stream_close(conn, strerror(err));
			return err;
		}
		conn->connecting = true;
		sip_tp_stream_update_events(conn);
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
	sip_tp_stream_close(conn, "closed locally");
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
