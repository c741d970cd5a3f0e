/*
 * loadtxn.h - the engine's glue between libsip's transaction layers and
 * its transport: where a transaction's messages go out (its connection
 * slot, the far end's connection, or a datagram) and the source a far
 * end's request is handed to the layer with.  What is not the loader's
 * own (its connection slots) is libsip's sip_txn_tp.h.
 */
#ifndef LOADER_LOADTXN_H
#define LOADER_LOADTXN_H

#include <stddef.h>

#include "loadworker.h"

/*
 * The layers' send callback (sip_txn_send_h, arg the worker), and the
 * call module's for ACKs: on dst's slot's connection when it goes to
 * the server, else as sip_txn_tp_send() does (the far end's connection
 * for a reply to it, else a datagram or any connection to the
 * destination).  Returns 0 or an errno of the transport.
 */
int loadtxn_send(void *arg, const struct sip_txn_dest *dst, const char *buf,
		 size_t len);

/* invite, subscribe: a request from the far end, to the call or the
 * presence module's layer (its replies go back the way it came). */
void loadtxn_request_in(struct loadworker *w, const struct sip_tp_rx *rx);

#endif
