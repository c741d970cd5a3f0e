/*
 * loadtxn.c - the engine's transaction-transport glue (see loadtxn.h).
 */
#include "loadtxn.h"

#include <string.h>

#include "loadconn.h"
#include "obj.h"

/*
 * Every message leaves here (the layer's send callback, and the call
 * module's ACKs): on its slot's connection when it goes to the server,
 * on the far end's connection for a reply to it, else on any connection
 * to the destination (a next hop other than the server).
 */
int loadtxn_send(void *arg, const struct sip_txn_dest *dst, const char *buf,
		 size_t len)
{
	struct loadworker *w = arg;
	struct loadconn_slot *sl = dst->conn;
	struct sip_tp_addr a;
	int err;

	err = sip_tp_addr_set(&a, dst->tp, &dst->addr.sa, dst->addrlen);
	if (err)
		return err;
	if (sl && sl->incoming) {
		if (sip_tp_conn_is_open(sl->conn))
			return sip_tp_conn_send(sl->conn, buf, len);
	} else if (sl && sip_tp_addr_eq(&a, &w->lg->cfg.server)) {
		return loadconn_slot_send(w, sl, buf, len);
	}
	return sip_tp_send(w->tp, &a, buf, len);
}

/* The layer that takes the far end's requests: the presence module's
 * (NOTIFYs) or the call module's. */
static struct sip_txn_layer *req_layer(struct loadworker *w)
{
	return w->pres_txl ? w->pres_txl : w->txl[LOADCFG_INVITE - 1];
}

/* invite, subscribe: requests from the far end go to the call or the
 * presence module. */
void loadtxn_request_in(struct loadworker *w, const struct sip_tp_rx *rx)
{
	struct sip_txn_dest src;

	memset(&src, 0, sizeof(src));
	src.tp = rx->proto;
	src.reliable = rx->proto != SIP_TP_UDP;
	memcpy(&src.addr, &rx->src.u, sizeof(src.addr));
	src.addrlen = sip_tp_addr_len(&rx->src);
	if (rx->conn) {
		/* The replies go back on the connection it came on
		 * (RFC 3261 §18.2.2), through loadtxn_send(). */
		struct loadconn_slot *sl = loadconn_slot_alloc(false);

		if (!sl)
			return;
		sl->incoming = true;
		sl->conn = obj_ref(rx->conn);
		src.conn = sl;
		sip_txn_recv_request(req_layer(w), rx->msg, &src);
		obj_deref(sl);
		return;
	}
	sip_txn_recv_request(req_layer(w), rx->msg, &src);
}
