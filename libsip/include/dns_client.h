/*
 * dns_client.h - DNS queries on an ev loop through c-ares.
 *
 * c-ares sends and retries; its sockets are watched by the loop (the
 * socket-state callback adds and removes ev fd watchers) and its
 * retransmission deadline is one ev timer, so nothing ever blocks.
 * One client per loop (per worker thread); not thread-safe.
 *
 * Every query's handler runs exactly once, from the loop (an fd or the
 * timer), or from dns_client_query() itself when c-ares fails at once,
 * but never from dns_client_free(): pending queries are dropped
 * silently.  After each batch of answers the done hook runs once, so an
 * owner can act on all of them together outside c-ares's callbacks.
 */
#ifndef SIPSTONE_DNS_CLIENT_H
#define SIPSTONE_DNS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "dns_msg.h"
#include "ev.h"

struct dns_client;

struct dns_client_opts {
	/*
	 * "127.0.0.1:5353,[::1]:53" (c-ares's csv of servers with ports);
	 * NULL or "": the nameservers of /etc/resolv.conf.
	 */
	const char *servers;
	uint32_t timeout_ms; /* first try's timeout [2000] */
	unsigned tries;	     /* tries per server [2] */
};

/*
 * err: 0 with the response (msg, len: valid during the call only; the
 * rcode is the caller's to read, NXDOMAIN included), ETIMEDOUT (no
 * answer), ECONNREFUSED (every server refused: RCODE 5, or nothing
 * listens on its port), EPROTO (server failure or a reply c-ares
 * rejects), EINVAL (a name c-ares cannot encode) or ENOMEM.
 */
typedef void(dns_client_h)(int err, const uint8_t *msg, size_t len, void *arg);
typedef void(dns_client_done_h)(void *arg);

/*
 * Creates a client on ev.  done (may be NULL) runs after each batch of
 * handlers called from the loop.  Returns 0, EINVAL (bad servers
 * string, logged), ENOMEM, or EIO (c-ares could not start, logged).
 */
int dns_client_alloc(struct dns_client **cp, struct ev *ev,
		     const struct dns_client_opts *opts,
		     dns_client_done_h *done, void *done_arg);

/* Drops pending queries (no handler runs) and frees c; NULL is fine. */
void dns_client_free(struct dns_client *c);

/* Sends a query for name (NUL ended) of class IN and type. */
void dns_client_query(struct dns_client *c, const char *name,
		      enum dns_type type, dns_client_h *h, void *arg);

#endif
