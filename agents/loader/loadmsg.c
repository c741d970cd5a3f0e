/*
 * loadmsg.c - the loader's message-building toolbox (see loadmsg.h).
 */
#include "loadmsg.h"

#include <errno.h>
#include <string.h>

#include "sip_txn.h"

struct pl loadmsg_pl(const char *s)
{
	struct pl p;

	pl_set_str(&p, s);
	return p;
}

int loadmsg_cat(char *out, size_t size, const char *const *parts)
{
	size_t o = 0;

	for (; *parts; parts++) {
		size_t l = strlen(*parts);

		if (l >= size - o)
			return EOVERFLOW;
		memcpy(out + o, *parts, l);
		o += l;
	}
	out[o] = '\0';
	return 0;
}

const char *loadmsg_tp_param(enum sip_transport tp)
{
	return tp == SIP_TP_UDP ? "udp" : tp == SIP_TP_TCP ? "tcp" : "tls";
}

void loadmsg_dest_server(const struct loadcfg *cfg, struct sip_txn_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->tp = cfg->server.proto;
	d->reliable = cfg->server.proto != SIP_TP_UDP;
	memcpy(&d->addr, &cfg->server.u, sizeof(d->addr));
	d->addrlen = sip_tp_addr_len(&cfg->server);
}
