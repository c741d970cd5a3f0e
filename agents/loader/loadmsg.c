/*
 * loadmsg.c - the loader's message-building toolbox (see loadmsg.h).
 */
#include "loadmsg.h"

#include <errno.h>
#include <string.h>

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

int loadmsg_via(char *out, size_t size, enum sip_transport tp,
		const char *hostport, const char *branch)
{
	return loadmsg_cat(out, size,
			   (const char *const[]){"SIP/2.0/",
						 sip_transport_name(tp), " ",
						 hostport, ";branch=", branch,
						 ";rport", NULL});
}

int loadmsg_addr(char *out, size_t size, const char *user, const char *host,
		 const char *tp_param)
{
	return loadmsg_cat(
		out, size,
		(const char *const[]){"<sip:", user, "@", host,
				      tp_param ? ";transport=" : ">",
				      tp_param ? tp_param : NULL, ">", NULL});
}

int loadmsg_client_start(struct sip_txn **ctp, struct sip_txn_layer *l,
			 const struct sip_txn_dest *dst, const char *branch,
			 const struct pl *method, const struct buf *msg,
			 sip_txn_event_h *h, void *arg)
{
	struct sip_txn_creq creq;

	memset(&creq, 0, sizeof(creq));
	creq.dst = dst;
	creq.branch = loadmsg_pl(branch);
	creq.method = *method;
	creq.msg = buf_pl(msg);
	return sip_txn_client_start(ctp, l, &creq, h, arg);
}
