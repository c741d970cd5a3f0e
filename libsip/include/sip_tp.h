/*
 * sip_tp.h - SIP transports (RFC 3261 §18): UDP, TCP and TLS on one
 * event loop.
 *
 * One struct sip_tp per event loop (per worker thread); nothing in it is
 * shared between threads except the TLS contexts (struct sip_tp_tls),
 * which OpenSSL lets several threads use.  Workers that share a port
 * listen with SIP_TP_REUSEPORT.
 *
 * UDP: datagrams are read with recvmmsg in batches (a cap per wake-up)
 * and sends are queued and leave with sendmmsg once per loop iteration
 * (an ev flush hook), unless opts.udp_send_now.
 *
 * TCP/TLS: connections live in a table keyed by peer address; a send to
 * a destination reuses any open connection to it, incoming ones
 * included, and otherwise connects (non-blocking; sends queue until the
 * connection, and the TLS handshake, are up).  Streams are framed by
 * Content-Length (sip_msg_decode(stream=true)); CRLFCRLF keep-alives
 * are answered with CRLF (RFC 5626 §4.4.1).  A malformed stream, a
 * message past the receive buffer's maximum, a failed handshake or an
 * idle timeout closes the connection.  Writes are queued per connection
 * up to a maximum (backpressure: EOVERFLOW) and flushed once per
 * iteration.
 *
 * Plain TCP writes use MSG_NOSIGNAL; OpenSSL writes with write(2), so
 * sip_tp_tls_alloc() sets SIGPIPE to SIG_IGN if it is still SIG_DFL.
 */
#ifndef SIPSTONE_SIP_TP_H
#define SIPSTONE_SIP_TP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ev.h"
#include "pl.h"
#include "sip_msg.h"
#include "sip_tp_addr.h"
#include "sip_tp_tls.h"

struct sip_tp;
struct sip_tp_conn; /* an obj: obj_ref() / obj_deref() */
struct sip_tp_sock; /* a listening or UDP socket, owned by the sip_tp */

/* Zero means the default given in brackets. */
struct sip_tp_opts {
	unsigned udp_batch; /* datagrams per recvmmsg/sendmmsg [32] */
	unsigned udp_reads; /* recvmmsg calls per wake-up [4] */
	bool udp_send_now;  /* no send batching: sendto at once */
	int udp_sockbuf;    /* SO_RCVBUF/SO_SNDBUF bytes [4 MB] */
	/* SO_TIMESTAMPNS: sip_tp_rx.rx_ns is when the kernel received
	 * each datagram, exact however late the loop reads it. */
	bool udp_rx_timestamps;
	size_t tcp_rx_max;	 /* receive buffer max [SIP_MSG_MAX_SIZE+4K] */
	size_t tcp_tx_max;	 /* write queue max per connection [4 MB] */
	uint64_t tcp_idle_ns;	 /* close after so long unused [120 s] */
	uint64_t tcp_connect_ns; /* connect + handshake limit [10 s] */
	unsigned tcp_max_conns;	 /* accepted + outgoing [65536] */
	struct sip_tp_tls *tls_server; /* needed to listen on tls: */
	struct sip_tp_tls *tls_client; /* needed to connect to tls: */
};

/* What one message brings to the receive handler. */
struct sip_tp_rx {
	struct sip_tp *tp;
	/*
	 * Decoded, not validated (the handler may sip_msg_validate() it
	 * in place); it and the bytes it views are valid only during
	 * the call: copy what must outlive it.
	 */
	struct sip_msg *msg;
	enum sip_transport proto;
	struct sip_tp_addr src;	  /* the peer */
	struct sip_tp_addr local; /* where it arrived */
	/*
	 * TCP/TLS: the connection it came on (RFC 3261 §18.2.2: send the
	 * response back on it); borrowed: obj_ref() it to keep it past
	 * the call.  NULL for UDP.
	 */
	struct sip_tp_conn *conn;
	struct sip_tp_sock *sock; /* the socket it came in on */
	/*
	 * CLOCK_MONOTONIC ns when the kernel received it (UDP with
	 * opts.udp_rx_timestamps; converted from the kernel's
	 * CLOCK_REALTIME stamp, never later than the read), else 0.
	 */
	uint64_t rx_ns;
};

typedef void(sip_tp_recv_h)(const struct sip_tp_rx *rx, void *arg);

/* Counters, indexed by enum sip_transport where per transport. */
struct sip_tp_stats {
	uint64_t msgs_in[SIP_TP_NPROTO];
	uint64_t msgs_out[SIP_TP_NPROTO]; /* UDP: sent; streams: queued */
	uint64_t bytes_in[SIP_TP_NPROTO];
	uint64_t bytes_out[SIP_TP_NPROTO];
	uint64_t conns_opened;	 /* outgoing connects started */
	uint64_t conns_accepted; /* incoming */
	uint64_t conns_closed;	 /* either, for any reason */
	uint64_t conns_failed;	 /* connect or handshake failed/timed out */
	uint64_t conns_idle;	 /* closed by the idle timeout */
	uint64_t conns_reused;	 /* sends that found an open connection */
	uint64_t conns_rejected; /* accepted past tcp_max_conns, closed */
	uint64_t tls_full;	 /* handshakes completed in full */
	uint64_t tls_resumed;	 /* handshakes that resumed a session */
	uint64_t tls_failed;
	uint64_t conns_up;	/* outgoing ones established (TLS: shaken) */
	uint64_t conn_setup_ns; /* their connect + handshake times, summed */
	uint64_t keepalives;	/* CRLFCRLF pings answered */
	uint64_t drop_parse;	/* malformed: datagram dropped / conn closed */
	uint64_t drop_overflow; /* past a size limit */
	uint64_t drop_send; /* messages not sent (errors, closes, queues) */
};

/*
 * Creates the transport of loop ev; h gets every message received.
 * opts may be NULL (defaults); the TLS contexts in it get a reference.
 * Returns 0, EINVAL or ENOMEM.  obj_deref() closes every socket and
 * connection (connections others still hold stay as closed objects).
 * Never free it from inside its own receive handler.
 */
int sip_tp_alloc(struct sip_tp **tpp, struct ev *ev,
		 const struct sip_tp_opts *opts, sip_tp_recv_h *h, void *arg);

enum sip_tp_listen_flags {
	SIP_TP_REUSEPORT = 1 << 0, /* share the port with other workers */
};

/*
 * Listens on local (port 0: the kernel chooses).  UDP sockets also
 * carry the UDP sends.  bound (may be NULL) receives the address
 * actually bound.  Returns 0, EINVAL (tls without tls_server),
 * EMFILE when out of listener slots, or the socket call's errno.
 */
int sip_tp_listen(struct sip_tp *tp, const struct sip_tp_addr *local,
		  unsigned flags, struct sip_tp_addr *bound);

/*
 * The first listener of proto in family af (AF_UNSPEC: any), e.g. for
 * the Via sent-by.  Returns 0 or ENOENT.
 */
int sip_tp_local(const struct sip_tp *tp, enum sip_transport proto, int af,
		 struct sip_tp_addr *local);

/*
 * Sends one whole message to dst.  UDP: from the first UDP listener of
 * dst's family (queued until the end of the iteration unless
 * udp_send_now).  TCP/TLS: on an open connection to dst or a new one
 * (sip_tp_conn_get with no TLS name).  The bytes are copied.
 * Returns 0, EMSGSIZE (UDP > 65507), ENOENT (no UDP socket of that
 * family), ENOBUFS (UDP queue full and the socket blocked), EOVERFLOW
 * (connection write queue full), or an errno from connecting.
 */
int sip_tp_send(struct sip_tp *tp, const struct sip_tp_addr *dst,
		const void *data, size_t len);

/*
 * Replies to rx during its receive call: on rx->conn if it is still
 * open, else to rx->src (from the UDP socket the request came in on,
 * or a new connection).  Returns as sip_tp_send().
 */
int sip_tp_reply(const struct sip_tp_rx *rx, const void *data, size_t len);

/* Sends any queued UDP datagrams now (the flush hook does it anyway). */
void sip_tp_flush(struct sip_tp *tp);

/*
 * Returns a new reference to an open connection to dst (TCP or TLS),
 * connecting when there is none.  Any open connection to dst is reused,
 * whatever tls_name it was opened with.  tls_name (may be NULL) is sent as SNI
 * and, unless the client context has no_verify, must match the server
 * certificate; without it only the chain is verified.  A new
 * connection resumes the TLS session last used with dst and tls_name.
 * Returns 0, EINVAL (UDP, or tls without tls_client), EMFILE (past
 * tcp_max_conns), ENOMEM, or the socket/connect errno.
 */
int sip_tp_conn_get(struct sip_tp *tp, const struct sip_tp_addr *dst,
		    const char *tls_name, struct sip_tp_conn **connp);

/*
 * As sip_tp_conn_get(), but always connects anew, even when connections
 * to dst are open (a pool of connections, or one per transaction).  The
 * new connection joins the table: later sip_tp_send() and
 * sip_tp_conn_get() calls may reuse it.  Same return codes.
 */
int sip_tp_conn_open(struct sip_tp *tp, const struct sip_tp_addr *dst,
		     const char *tls_name, struct sip_tp_conn **connp);

/*
 * Queues one whole message on conn (flushed at the end of the
 * iteration).  Returns 0, ENOTCONN (closed), EOVERFLOW (the write
 * queue would pass tcp_tx_max; nothing queued) or ENOMEM.
 */
int sip_tp_conn_send(struct sip_tp_conn *conn, const void *data, size_t len);

/* Closes conn now (queued writes are dropped); closed stays closed. */
void sip_tp_conn_close(struct sip_tp_conn *conn);

bool sip_tp_conn_is_open(const struct sip_tp_conn *conn);
/* Connected (and for TLS, handshake done): messages flow now. */
bool sip_tp_conn_is_established(const struct sip_tp_conn *conn);
bool sip_tp_conn_tls_resumed(const struct sip_tp_conn *conn);
const struct sip_tp_addr *sip_tp_conn_peer(const struct sip_tp_conn *conn);
const struct sip_tp_addr *sip_tp_conn_local(const struct sip_tp_conn *conn);

/* Open connections in the table. */
size_t sip_tp_conn_count(const struct sip_tp *tp);

const struct sip_tp_stats *sip_tp_stats(const struct sip_tp *tp);

#endif
