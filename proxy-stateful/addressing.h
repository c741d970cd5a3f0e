/*
 * addressing.h - who this server is (its domain and bound listeners)
 * and where a SIP URI points (RFC 3263 in outline: numeric hosts only,
 * no DNS on a worker).  Read-only once the workers run.
 */
#ifndef SIPSTONE_ADDRESSING_H
#define SIPSTONE_ADDRESSING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl.h"
#include "sip_msg.h"
#include "sip_tp.h"
#include "sip_txn.h"
#include "sip_uri.h"

struct addressing {
	const char *domain;		  /* ours: requests for it are ours */
	const struct sip_tp_addr *listen; /* bound, nlisten of them */
	size_t nlisten;
};

/*
 * Whether host[:port] of a URI is this server: one of its listeners
 * (port 0: the transport's default), or its domain without a port or
 * with the port of one of its listeners (RFC 3261 §16.4: host and
 * port, so that a UA at the domain's address on another port is not
 * taken for us).
 */
bool addressing_is_us(const struct addressing *a, const struct pl *host,
		      uint16_t port);

/* The top Route of msg when it names us, else NULL. */
const struct sip_hdr *addressing_route_is_us(const struct addressing *a,
					     const struct sip_msg *msg);

/*
 * Where URI u points (dflt is the transport without a transport
 * param).  Returns 0 with *d written, ENOENT (a name, not an address),
 * EINVAL (not sip/sips).
 */
int addressing_uri_dest(const struct sip_uri *u, enum sip_transport dflt,
			struct sip_txn_dest *d);

#endif
