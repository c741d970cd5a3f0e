/*
 * stateful_int.h - what the modules of proxy-stateful share inside the
 * program (stateful.c, registrar.c); not a public contract.
 */
#ifndef SIPSTONE_STATEFUL_INT_H
#define SIPSTONE_STATEFUL_INT_H

#include <pthread.h>
#include <stdint.h>

#include "buf.h"
#include "ev.h"
#include "hash.h"
#include "list.h"
#include "location.h"
#include "presence.h"
#include "dbqueue.h"
#include "sip_auth.h"
#include "sip_msg.h"
#include "sip_tp.h"
#include "sip_txn.h"
#include "sip_uri.h"
#include "stateful.h"
#include "userdb.h"

/* Counters: written by their worker only, read by any thread. */
#define STATEFUL_CNT_INC(x) __atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)
#define STATEFUL_CNT_SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define STATEFUL_CNT_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

enum stateful_drop {
	STATEFUL_DROP_INVALID_REQ = 0, /* answered 4xx/5xx statelessly */
	STATEFUL_DROP_INVALID_RESP,
	STATEFUL_DROP_STRAY_RESP,
	STATEFUL_DROP_STRAY_ACK,
	STATEFUL_DROP_SEND,
	STATEFUL_DROP_COUNT
};

struct stateful_counters {
	uint64_t req_in[SIP_METHOD_COUNT];
	uint64_t resp_out[700]; /* responses sent upstream, by status */
	uint64_t resp_in[700];	/* responses from downstream, by status */
	uint64_t drops[STATEFUL_DROP_COUNT];
	uint64_t registers_ok, auth_challenges, auth_failures;
	uint64_t calls_forwarded, acks_forwarded;
	/* copied from the transaction layer and transports each tick */
	uint64_t txn_alive, txn_retrans, txn_timeouts, tp_drop_parse;
	uint64_t calls_alive;
	/* TCP/TLS connections of the shared listeners' transport */
	uint64_t conns_accepted, conns_opened, conns_closed, conns_open;
	uint64_t tls_full, tls_resumed, tls_failed;
};

struct stateful;

struct stateful_worker {
	struct stateful *sp;
	unsigned idx;
	pthread_t th;
	bool started;
	struct ev *ev;
	struct sip_tp *tp;   /* the shared listeners */
	struct sip_tp *priv; /* private UDP socket, outgoing requests */
	struct sip_txn_layer *txl;
	struct ev_timer tick;
	/* "SIP/2.0/UDP 127.0.0.1:40000" etc. per transport, for Via */
	char via[SIP_TP_NPROTO][SIP_TP_ADDR_STRLEN + 16];
	/* "<sip:127.0.0.1:5060;lr>" etc. per transport, for Record-Route */
	char rr[SIP_TP_NPROTO][SIP_TP_ADDR_STRLEN + 32];
	struct hash calls; /* by server transaction pointer */
	struct list done;  /* calls with a final response, to free */
	struct buf out;	   /* scratch for outgoing messages */
	struct stateful_counters c;
};

struct stateful {
	struct stateful_cfg cfg;
	struct sip_tp_addr listen[STATEFUL_LISTEN_MAX];
	struct sip_tp_tls *tls_server, *tls_client;
	struct location *loc;
	struct userdb *users; /* NULL: anyone may register */
	struct sip_auth_server *auth;
	struct dbqueue *db;
	struct presence *pres; /* NULL without --presence */
	struct stateful_worker *w;
	unsigned nworkers;
	uint64_t secret; /* stateless ACK branches */
};

/* Unix seconds now. */
uint64_t stateful_now_s(void);

/* Whether host[:port] of a URI is this server (listener or domain). */
bool stateful_is_us(const struct stateful *sp, const struct pl *host,
		    uint16_t port);

/*
 * Answers request msg in server transaction st with a status and
 * optional extra header lines (hdrs may be NULL).  Counts it.
 */
void stateful_reply(struct stateful_worker *w, struct sip_txn *st,
		    const struct sip_msg *msg, uint16_t status,
		    const char *reason, const char *hdrs);

/* Sends a built response in st, counting it. */
void stateful_send_reply(struct stateful_worker *w, struct sip_txn *st,
			 const char *buf, size_t len);

/*
 * Digest check of msg for user@domain (RFC 3261 §22): returns 0 when
 * the request may go on, else an answer was sent (401/407/403/500).
 */
int stateful_auth_check(struct stateful_worker *w, struct sip_txn *st,
			const struct sip_msg *msg, const struct pl *user,
			const struct pl *domain, bool proxy);

/*
 * Where URI u points (numeric hosts only, no DNS on a worker; dflt is
 * the transport without a transport param).  Returns 0, ENOENT (a
 * name, not an address), EINVAL (not sip/sips).
 */
int stateful_uri_dest(const struct sip_uri *u, enum sip_transport dflt,
		      struct sip_txn_dest *d);

/* The registrar (RFC 3261 §10.3): answers REGISTER msg in st. */
void registrar_handle(struct stateful_worker *w, struct sip_txn *st,
		      const struct sip_msg *msg);

#endif
