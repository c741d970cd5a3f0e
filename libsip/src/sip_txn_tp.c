#include "sip_txn_tp.h"

#include <errno.h>
#include <string.h>

#include "obj.h"
#include "sip_txn_int.h"

int sip_txn_tp_layer_alloc(struct sip_txn_layer **lp, struct ev *ev,
			   const struct sip_txn_cfg *cfg,
			   const struct sip_txn_tp *bind,
			   sip_txn_request_h *reqh, void *arg)
{
	struct sip_txn_layer *l = NULL;
	int err;

	if (!bind || !bind->tp)
		return EINVAL;
	err = sip_txn_layer_alloc(&l, ev, cfg, sip_txn_tp_send, reqh, arg);
	if (err)
		return err;
	/* The TU's handlers get arg; the sends get the binding. */
	l->send_arg = (void *)bind;
	*lp = l;
	return 0;
}

int sip_txn_tp_send(void *arg, const struct sip_txn_dest *dst, const char *buf,
		    size_t len)
{
	const struct sip_txn_tp *b = arg;
	struct sip_tp *tp = b->tp;
	struct sip_tp_conn *conn = NULL;
	struct sip_tp_addr a;
	int err;

	/* §18.2.2: a response goes back on the connection the request
	 * came on while it is open; a request keeps to the connection
	 * its transaction was given. */
	if (dst->conn && sip_tp_conn_is_open(dst->conn))
		return sip_tp_conn_send(dst->conn, buf, len);
	err = sip_tp_addr_set(&a, dst->tp, &dst->addr.sa, dst->addrlen);
	if (err)
		return err;
	/* Only a binding with two transports looks at what it sends. */
	if (b->req_tp && !(len >= 8 && !memcmp(buf, "SIP/2.0 ", 8)))
		tp = b->req_tp;
	if (a.proto != SIP_TP_TLS || !b->tls_name)
		return sip_tp_send(tp, &a, buf, len);
	err = sip_tp_conn_get(tp, &a, b->tls_name, &conn);
	if (err)
		return err;
	err = sip_tp_conn_send(conn, buf, len);
	obj_deref(conn);
	return err;
}

void sip_txn_tp_src(struct sip_txn_dest *src, const struct sip_tp_rx *rx)
{
	memset(src, 0, sizeof(*src));
	src->tp = rx->proto;
	src->reliable = rx->proto != SIP_TP_UDP;
	memcpy(&src->addr, &rx->src.u, sizeof(src->addr));
	src->addrlen = sip_tp_addr_len(&rx->src);
	src->conn = rx->conn;
}

int sip_txn_tp_recv_request(struct sip_txn_layer *l,
			    const struct sip_tp_rx *rx)
{
	struct sip_txn_dest src;

	sip_txn_tp_src(&src, rx);
	return sip_txn_recv_request(l, rx->msg, &src);
}

void sip_txn_tp_dest(struct sip_txn_dest *dst, const struct sip_tp_addr *addr,
		     struct sip_tp_conn *conn)
{
	memset(dst, 0, sizeof(*dst));
	dst->tp = addr->proto;
	dst->reliable = addr->proto != SIP_TP_UDP;
	memcpy(&dst->addr, &addr->u, sizeof(dst->addr));
	dst->addrlen = sip_tp_addr_len(addr);
	dst->conn = conn;
}
