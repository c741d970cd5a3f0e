/*
 * addressing.c - who we are and where a URI points (addressing.h).
 */
#include "addressing.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

bool addressing_is_us(const struct addressing *ad, const struct pl *host,
		      uint16_t port)
{
	char hbuf[SIP_TP_ADDR_STRLEN];
	size_t i;

	/* §16.4, §19.1.4: host AND port.  Our domain without a port is
	 * ours; with one it must be a port we listen on: with --domain
	 * 127.0.0.1 a callee's Contact sip:bob@127.0.0.1:5070 is not us
	 * (an in-dialog BYE to it was looked up and got 404). */
	if (pl_caseeq_str(host, ad->domain)) {
		if (!port)
			return true;
		for (i = 0; i < ad->nlisten; i++)
			if (sip_tp_addr_port(&ad->listen[i]) == port)
				return true;
	}
	for (i = 0; i < ad->nlisten; i++) {
		const struct sip_tp_addr *a = &ad->listen[i];
		uint16_t lp = sip_tp_addr_port(a);
		const void *src = a->u.sa.sa_family == AF_INET6
					  ? (const void *)&a->u.in6.sin6_addr
					  : (const void *)&a->u.in.sin_addr;

		if (!inet_ntop(a->u.sa.sa_family, src, hbuf, sizeof(hbuf)))
			continue;
		if (!pl_caseeq_str(host, hbuf))
			continue;
		if (port == lp ||
		    (!port && lp == (a->proto == SIP_TP_TLS ? 5061 : 5060)))
			return true;
	}
	return false;
}

const struct sip_hdr *addressing_route_is_us(const struct addressing *ad,
					     const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_ROUTE);
	struct sip_addr a;
	struct sip_uri u;

	if (!h || sip_addr_decode(&a, &h->value) || sip_uri_decode(&u, &a.uri))
		return NULL;
	return addressing_is_us(ad, &u.host, u.port) ? h : NULL;
}

/* RFC 3263 in outline: the URI's own transport, port and numeric host. */
int addressing_uri_dest(const struct sip_uri *u, enum sip_transport dflt,
			struct sip_txn_dest *d)
{
	char host[64];
	enum sip_transport tp = dflt;
	uint16_t port;

	if (u->scheme_id != SIP_URI_SIP && u->scheme_id != SIP_URI_SIPS)
		return EINVAL;
	if (u->scheme_id == SIP_URI_SIPS)
		tp = SIP_TP_TLS;
	else if (pl_caseeq_str(&u->transport, "tcp"))
		tp = SIP_TP_TCP;
	else if (pl_caseeq_str(&u->transport, "tls"))
		tp = SIP_TP_TLS;
	else if (pl_caseeq_str(&u->transport, "udp"))
		tp = SIP_TP_UDP;
	if (tp != SIP_TP_TCP && tp != SIP_TP_TLS)
		tp = SIP_TP_UDP;
	port = u->port ? u->port : (tp == SIP_TP_TLS ? 5061 : 5060);
	if (pl_strcpy(&u->host, host, sizeof(host)))
		return ENOENT;
	return sip_txn_dest_literal(d, tp, host, port);
}
