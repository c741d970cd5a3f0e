/*
 * The transport of one event loop: its sockets (listen), the send path
 * (sip_tp_send, sip_tp_reply) and the end-of-iteration flush.  UDP is in
 * sip_tp_udp.c, TCP/TLS connections in sip_tp_stream.c, OpenSSL in
 * sip_tp_tls.c, addresses in sip_tp_addr.c.
 */
#include "sip_tp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obj.h"
#include "sip_tp_int.h"

static void tp_flush(void *arg)
{
	struct sip_tp *tp = arg;
	unsigned i;

	for (i = 0; i < tp->nsocks; i++) {
		struct sip_tp_sock *sock = tp->socks[i];

		if (sock->proto == SIP_TP_UDP &&
		    sock->out_n > sock->out_head && !sock->want_write)
			sip_tp_udp_flush(sock);
	}
	while (tp->dirty.head) {
		struct sip_tp_conn *conn = obj_ref(tp->dirty.head->data);

		list_unlink(&conn->le_dirty);
		sip_tp_stream_write(conn);
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
		return sip_tp_udp_send(tp, sock, dst, data, len);
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
		return sip_tp_udp_send(rx->tp, rx->sock, &rx->src, data, len);
	return sip_tp_send(rx->tp, &rx->src, data, len);
}

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
				sip_tp_stream_close(conn, "transport freed");
				obj_deref(conn);
			}
		}
		hash_free(&tp->conns);
	}
	for (i = 0; i < tp->nsocks; i++)
		sock_free(tp, tp->socks[i]);
	sip_tp_tls_sessions_free(tp);
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
		if (!tp->in_buf && sip_tp_udp_rx_init(tp)) {
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
			udp ? sip_tp_udp_event : sip_tp_stream_accept_event,
			sock);
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
