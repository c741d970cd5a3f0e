/*
 * sip_tp_addr.h - transport addresses: "udp:HOST:PORT", "tcp:..." and
 * "tls:..." (RFC 3261 §18, §19.1.2), their socket addresses, printing and
 * comparison.  Plain values: no allocation, no state.
 */
#ifndef SIPSTONE_SIP_TP_ADDR_H
#define SIPSTONE_SIP_TP_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pl.h"
#include "sip_msg.h"

/* An address with its transport: "udp:HOST:PORT" and the like. */
struct sip_tp_addr {
	enum sip_transport proto; /* SIP_TP_UDP, SIP_TP_TCP or SIP_TP_TLS */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} u;
};

/* Enough for "tls:[ffff:...:ffff%scope]:65535" and a NUL. */
#define SIP_TP_ADDR_STRLEN 80

/*
 * Decodes "udp:HOST:PORT", "tcp:HOST:PORT" or "tls:HOST:PORT" (scheme
 * in any case).  HOST is an IPv4 address, an IPv6 address in brackets,
 * or a DNS name, resolved now with getaddrinfo (blocking: do it at
 * start-up, not per message); PORT is 0..65535 and required.  When host
 * is not NULL it receives a view of HOST inside str (without brackets),
 * e.g. for the TLS server name.  Returns 0, EINVAL for bad syntax, or
 * ENOENT when the name does not resolve.  Outputs written on success.
 */
int sip_tp_addr_decode(struct sip_tp_addr *addr, struct pl *host,
		       const char *str);

/* Builds an address from a socket address.  Returns 0 or EAFNOSUPPORT. */
int sip_tp_addr_set(struct sip_tp_addr *addr, enum sip_transport proto,
		    const struct sockaddr *sa, socklen_t len);

/*
 * Prints "udp:127.0.0.1:5060" / "tls:[::1]:5061" into buf (NUL ended).
 * Returns 0, or EOVERFLOW if size is too small (buf then unspecified).
 */
int sip_tp_addr_print(const struct sip_tp_addr *addr, char *buf, size_t size);

/* Prints "127.0.0.1:5060" / "[::1]:5060" (for Via, Contact). Same rc. */
int sip_tp_addr_hostport(const struct sip_tp_addr *addr, char *buf,
			 size_t size);

/*
 * The address alone as text ("127.0.0.1", "::1": no brackets, as in a
 * Via received parameter), NUL-terminated in ip; returns its length (0
 * for a family that is neither IPv4 nor IPv6).
 */
size_t sip_tp_addr_ip(const struct sip_tp_addr *addr,
		      char ip[INET6_ADDRSTRLEN]);

uint16_t sip_tp_addr_port(const struct sip_tp_addr *addr);
void sip_tp_addr_set_port(struct sip_tp_addr *addr, uint16_t port);
socklen_t sip_tp_addr_len(const struct sip_tp_addr *addr);

/* Same transport, family, address and port. */
bool sip_tp_addr_eq(const struct sip_tp_addr *a, const struct sip_tp_addr *b);

/* The number of transports, for tables indexed by enum sip_transport. */
enum sip_tp_proto_count { SIP_TP_NPROTO = SIP_TP_TLS + 1 };

#endif
