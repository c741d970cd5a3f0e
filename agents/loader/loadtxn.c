/*
 * loadtxn.c - the engine's transaction-transport glue (see loadtxn.h).
 */
#include "loadtxn.h"

#include <string.h>

#include "loadconn.h"
#include "obj.h"
#include "sip_txn_tp.h"

/*
 * Every message leaves here (the layer's send callback, and the call
 * module's ACKs).  The loader's own rule: a message to the server goes
 * on its slot's connection (loadconn.h: opened again when it dropped).
 * The rest is libsip's (sip_txn_tp.h): a reply on the far end's
 * connection while it is open, else a datagram or any connection to
 * the destination.
 */
int loadtxn_send(void *arg, const struct sip_txn_dest *dst, const char *buf,
		 size_t len)
{
	struct loadworker *w = arg;
	struct loadconn_slot *sl = dst->conn;
	struct sip_txn_tp bind = {.tp = w->tp};
	struct sip_txn_dest d = *dst;
	struct sip_tp_addr a;
	int err;

	if (sl && !sl->incoming) {
		err = sip_tp_addr_set(&a, dst->tp, &dst->addr.sa,
				      dst->addrlen);
		if (err)
			return err;
		if (sip_tp_addr_eq(&a, &w->lg->cfg.server))
			return loadconn_slot_send(w, sl, buf, len);
	}
	d.conn = sl && sl->incoming ? sl->conn : NULL;
	return sip_txn_tp_send(&bind, &d, buf, len);
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

	sip_txn_tp_src(&src, rx);
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
