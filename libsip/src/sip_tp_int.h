/*
 * sip_tp_int.h - inside the transports (libsip only; programs include
 * sip_tp.h): the objects that sip_tp.c (the transport, its sockets and
 * send path), sip_tp_stream.c (TCP/TLS connections), sip_tp_udp.c (UDP
 * batches) and sip_tp_tls.c (OpenSSL) share, and what each of those
 * files offers the others.  Everything here runs on the transport's one
 * event loop.
 */
#ifndef SIPSTONE_SIP_TP_INT_H
#define SIPSTONE_SIP_TP_INT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "ev.h"
#include "hash.h"
#include "list.h"
#include "sip_tp.h"

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

/* sip_tp_stream.c: TCP and TLS connections. */

/*
 * Ends conn, logging why at debug level: the table's reference goes, so
 * a caller that uses conn afterwards holds one around the call.  A closed
 * connection stays closed; a second call does nothing.
 */
void sip_tp_stream_close(struct sip_tp_conn *conn, const char *why);

/* Connected and, for TLS, shaken hands: starts the idle timer and the
 * queued writes. */
void sip_tp_stream_established(struct sip_tp_conn *conn);

/* Asks the loop for the events conn waits for now. */
void sip_tp_stream_update_events(struct sip_tp_conn *conn);

/* Reads what conn has (a cap per wake-up for TCP) and delivers every
 * whole message; may close conn. */
void sip_tp_stream_read(struct sip_tp_conn *conn);

/* Writes conn's queue as far as the socket takes it; may close conn. */
void sip_tp_stream_write(struct sip_tp_conn *conn);

/* The ev handler of a TCP or TLS listening socket (arg: the sock). */
void sip_tp_stream_accept_event(int fd, int events, void *arg);

/* sip_tp_udp.c: UDP datagrams in batches. */

/* The receive batch's buffers and headers, set up once per transport.
 * Returns 0 or ENOMEM. */
int sip_tp_udp_rx_init(struct sip_tp *tp);

/* The ev handler of a UDP socket (arg: the sock): reads batches and
 * delivers each datagram; sends what waited for writability. */
void sip_tp_udp_event(int fd, int events, void *arg);

/* Sends sock's queued datagrams (sendmmsg) until done or blocked. */
void sip_tp_udp_flush(struct sip_tp_sock *sock);

/*
 * Queues (or with opts.udp_send_now sends) one datagram to dst from
 * sock.  Returns 0, EMSGSIZE (> 65507 bytes), ENOBUFS (queue full and
 * the socket blocked) or sendto's errno.
 */
int sip_tp_udp_send(struct sip_tp *tp, struct sip_tp_sock *sock,
		    const struct sip_tp_addr *dst, const void *data,
		    size_t len);

/* sip_tp_tls.c: OpenSSL on a connection. */

/*
 * Gives conn (TLS, fd set) its SSL object: server or client side, SNI
 * and name verification for tls_name, the session last used with the
 * peer.  Returns 0, ENOMEM or EINVAL (a bad TLS name); the caller closes
 * conn on failure.
 */
int sip_tp_tls_start(struct sip_tp_conn *conn);

/* Moves conn's handshake on; on success conn is established and read,
 * on failure closed. */
void sip_tp_tls_handshake(struct sip_tp_conn *conn);

/*
 * One SSL_read into p (room bytes).  Returns the bytes read (> 0), or 0
 * when the caller must stop reading: OpenSSL waits for the socket (conn
 * then waits for the right event) or conn was closed.
 */
size_t sip_tp_tls_read(struct sip_tp_conn *conn, void *p, size_t room);

/*
 * One SSL_write of p.  Returns the bytes written (> 0), or 0 when the
 * caller must stop writing: OpenSSL waits for the socket
 * (ssl_want_write says which way) or conn was closed.
 */
size_t sip_tp_tls_write(struct sip_tp_conn *conn, const void *p, size_t len);

/* One try at close_notify (no waiting for the peer's), for conn about
 * to close. */
void sip_tp_tls_shutdown(struct sip_tp_conn *conn);

/* Frees the client sessions tp keeps per destination and name. */
void sip_tp_tls_sessions_free(struct sip_tp *tp);

#endif
