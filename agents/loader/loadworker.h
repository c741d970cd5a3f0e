/*
 * loadworker.h - the state of the loader's engine, shared by the
 * engine's own files only (loadgen.c: threads and control; loadpace.c:
 * pacing and sending; loadreq.c: REGISTER/OPTIONS transactions;
 * loadconn.c: TCP/TLS connections; loadtxn.c: the transaction-transport
 * glue).  Each worker thread owns its struct loadworker; other threads
 * touch only its counters, under its mutex, and reach the loop only
 * through ev_call.
 */
#ifndef LOADER_LOADWORKER_H
#define LOADER_LOADWORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "ev.h"
#include "loadcall.h"
#include "loadcfg.h"
#include "loadcount.h"
#include "loadpres.h"
#include "sip_build.h"
#include "sip_tp.h"
#include "sip_txn.h"

#define CALL_ID_SIZE 48

struct loadworker_user {
	uint32_t num;
	uint32_t cseq;
	char call_id[CALL_ID_SIZE];
	struct sip_auth_client *auth;
};

struct loadworker;

/*
 * A connection slot: the struct sip_txn_dest.conn of the transactions
 * sent over TCP/TLS (an obj: each transaction holds a reference), so
 * that txn_send() knows the connection a user or a call is bound to.
 * A slot's connection that dropped is opened again on the next send;
 * a per-request slot is closed when its transaction (call) is over and
 * sends on it fail from then on.
 */
struct loadconn_slot {
	struct sip_tp_conn *conn; /* NULL until first opened */
	bool tried;		  /* opened once: the next open is a reopen */
	bool per_request;
	bool done;     /* per-request and over */
	bool incoming; /* the far end's connection: never reopened */
};

/* One transaction in flight (and its auth retry). */
struct loadreq {
	struct loadreq *prev, *next;
	struct loadworker *w;
	struct loadworker_user *u;
	struct loadconn_slot *slot; /* TCP/TLS */
	enum loadcfg_test kind;	    /* register, reregister or options */
	uint64_t t_start;	    /* first request sent, ns */
	unsigned cohort;	    /* sent in (loadcount.h) */
	unsigned auth_tries;
	uint32_t cseq;
	char call_id[CALL_ID_SIZE];
};

struct loadworker {
	struct loadgen *lg;
	unsigned idx;
	/* the cohort of the attempt being started (admit()), lent to the
	 * call and presence modules */
	unsigned send_cohort;
	pthread_t th;
	bool th_started;
	struct ev *ev;
	struct sip_tp *tp;
	/* A transaction layer per kind of the run (index test - 1, NULL
	 * for the others), so that each kind's retransmissions are its
	 * own; the invite kind's takes the far end's requests. */
	struct sip_txn_layer *txl[LOADCFG_KINDS];
	struct sip_tp_addr local;
	char hostport[SIP_TP_ADDR_STRLEN];
	struct loadworker_user *users, *rusers; /* rusers: cfg.reg_users' */
	size_t nusers, nrusers;
	size_t next_user[LOADCFG_KINDS]; /* each kind's own walk */
	size_t next_pres;		 /* subscribe, publish: the walk */
	int64_t swrr[LOADCFG_KINDS];	 /* mix: the round-robin's state */
	/* pacer */
	struct ev_timer tick;
	bool sending, anchored;
	double gap_ns;
	uint64_t next_ns;
	/* a bounded run (loadgen_start_for): this thread's slots left, and
	 * for Poisson arrivals the time the run ends; else UINT64_MAX */
	uint64_t slots_left, end_ns;
	uint64_t rng;
	/* drain */
	bool draining;
	struct ev_timer drain;
	struct loadreq *reqs;
	uint64_t outstanding;
	struct loadcall *call; /* the invite test's calls, or NULL */
	/* persistent TCP/TLS: this thread's share of the pool */
	struct loadconn_slot **pool;
	unsigned npool;
	uint64_t pool_t0;
	struct ev_timer pool_check;
	struct loadpres *pres; /* subscribe/publish dialogs, or NULL */
	struct sip_txn_layer *pres_txl; /* theirs, or NULL */
	uint64_t rx_ns; /* kernel time of the response being handled */
	struct buf out, hdrs;
	pthread_mutex_t mu;
	struct loadcount c;  /* under mu: all but the calls' */
	struct loadcount cc; /* under mu: the call module's */
};

struct loadgen {
	struct loadcfg cfg;
	struct loadworker *w;
	unsigned nw;
	struct sip_tp_tls *tls_client, *tls_server;
	/* threads whose pool is up (or failed), under pool_mu */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cond;
	unsigned pools_ready;
	_Atomic uint64_t rate_bits;
	/* concurrent calls (answered, not ended) and their highest */
	_Atomic uint64_t calls_active, calls_active_max;
	atomic_bool started;
	/* the cohort new attempts are counted in (loadcount.h) */
	atomic_uint cohort;
	/* Written before the threads are told to start (ev_call orders
	 * it): the time of slot 0 and the length of a bounded run. */
	uint64_t anchor_ns;
	double run_secs; /* 0: until loadgen_stop */
};

/* In flight in w: transactions and calls. */
static inline uint64_t loadworker_in_flight(const struct loadworker *w)
{
	return w->outstanding + (w->call ? loadcall_outstanding(w->call) : 0);
}

#endif
