/*
 * sip_txn_tp.h - binds the transaction layer (sip_txn.h) to the
 * transports (sip_tp.h), so that no program writes the glue itself:
 *
 * - a server transaction's responses go back the way its request came
 *   (RFC 3261 §18.2.2): on the connection it arrived on while that is
 *   open, else to the source address and port (as with rport, RFC 3581,
 *   which is where sipp, proxies and our agents listen);
 * - a client transaction goes out on a given transport to a given
 *   address and, for TCP/TLS, on a given connection while it is open,
 *   else on any open connection to the address or a new one.
 *
 * The layer (sip_txn_tp_layer_alloc()) sends through the binding's
 * transports; the receive handler hands requests over with
 * sip_txn_tp_recv_request() and responses with sip_txn_recv_response().
 */
#ifndef SIPSTONE_SIP_TXN_TP_H
#define SIPSTONE_SIP_TXN_TP_H

#include "sip_tp.h"
#include "sip_txn.h"

/* Where a layer's messages leave from.  Borrowed by the layer: it must
 * outlive the layer (keep it in the worker that owns both). */
struct sip_txn_tp {
	/* Responses, and requests unless req_tp is set.  Required. */
	struct sip_tp *tp;
	/*
	 * Requests (client transactions, and the ACKs and CANCELs they
	 * send) when they must leave from another transport than the
	 * responses: a proxy worker's own port, the one in its Via, so
	 * that the responses come back to it.  NULL: tp.
	 */
	struct sip_tp *req_tp;
	/*
	 * New TLS connections that a send opens: the server name sent as
	 * SNI and verified against the certificate (sip_tp_conn_get()).
	 * NULL: the chain alone is verified.  Borrowed, like the struct.
	 */
	const char *tls_name;
};

/*
 * Creates a transaction layer as sip_txn_layer_alloc() does, whose
 * messages go out through bind's transports (the rules above).  reqh
 * and arg as there.  Returns 0, EINVAL (no bind->tp) or ENOMEM; *lp is
 * the caller's (obj_deref()).
 */
int sip_txn_tp_layer_alloc(struct sip_txn_layer **lp, struct ev *ev,
			   const struct sip_txn_cfg *cfg,
			   const struct sip_txn_tp *bind,
			   sip_txn_request_h *reqh, void *arg);

/*
 * The layer's send callback (sip_txn_send_h) with a struct sip_txn_tp
 * as arg: for layers made with sip_txn_layer_alloc() whose argument is
 * the binding.  Returns 0, EAFNOSUPPORT (a bad address in dst), or
 * sip_tp_conn_send()'s / sip_tp_send()'s error.
 */
int sip_txn_tp_send(void *arg, const struct sip_txn_dest *dst, const char *buf,
		    size_t len);

/*
 * Fills *src with where rx's request came from, for
 * sip_txn_recv_request(): its transport, the source address and port,
 * reliable unless UDP, and rx->conn (TCP/TLS; the server transaction
 * takes its own reference).
 */
void sip_txn_tp_src(struct sip_txn_dest *src, const struct sip_tp_rx *rx);

/*
 * Feeds rx's request (validated: sip_msg_validate()) to layer l with
 * its source (sip_txn_tp_src()).  Returns as sip_txn_recv_request().
 */
int sip_txn_tp_recv_request(struct sip_txn_layer *l,
			    const struct sip_tp_rx *rx);

/*
 * Fills *dst for a client transaction to addr over its transport
 * (reliable unless UDP) and, when conn is not NULL, on that connection
 * while it is open (the transaction takes its own reference).
 */
void sip_txn_tp_dest(struct sip_txn_dest *dst, const struct sip_tp_addr *addr,
		     struct sip_tp_conn *conn);

#endif
