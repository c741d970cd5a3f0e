/*
 * UDP (RFC 3261 §18): datagrams read with recvmmsg in batches, with the
 * local address of wildcard sockets and the kernel's receive times from
 * control messages; sends queued per socket and sent with sendmmsg once
 * per loop iteration.
 */
#include "sip_tp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "sip_tp"
#include "log.h"

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
	msg.bad_line = false;
	err = sip_msg_decode(&msg, p + skip, len - skip, false);
	/* A request with a line that is no header: answered 400 by
	 * whoever validates it (sip_msg_validate()). */
	if (err == EBADMSG && msg.bad_line)
		err = 0;
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

/* The receive batch: its buffers and headers, set up once. */
int sip_tp_udp_rx_init(struct sip_tp *tp)
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

void sip_tp_udp_event(int fd, int events, void *arg)
{
	struct sip_tp_sock *sock = arg;
	struct sip_tp *tp = sock->tp;
	unsigned batch = tp->opts.udp_batch, r, i;
	uint64_t mono_now = 0;
	int64_t real_off = 0;

	if (events & EV_WRITE)
		sip_tp_udp_flush(sock);
	if (!(events & (EV_READ | EV_ERROR)))
		return;
	for (r = 0; r < tp->opts.udp_reads; r++) {
		int n;

		/* The kernel changed only the entries it filled last time
		 * (in_used); the pointers stay as sip_tp_udp_rx_init set them. */
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

void sip_tp_udp_flush(struct sip_tp_sock *sock)
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

int sip_tp_udp_send(struct sip_tp *tp, struct sip_tp_sock *sock,
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
		sip_tp_udp_flush(sock);
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
