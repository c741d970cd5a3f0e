/*
 * presence_state.h - the presence agent's tables and what its files
 * (presence.c: tables, presence_request.c: SUBSCRIBE and PUBLISH, presence_notify.c: documents and
 * NOTIFYs, presence_store.c: the database) share; not for use outside
 * the presence agent (presence.h is its contract).
 *
 * Everything in struct presence is under p->mu; the functions below
 * that touch the tables are called with it held.
 */
#ifndef SIPSTONE_PRESENCE_STATE_H
#define SIPSTONE_PRESENCE_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hash.h"
#include "list.h"
#include "location.h"
#include "pidf.h"
#include "presence.h"
#include "presence_filter.h"
#include "sip_msg.h"
#include "sip_txn.h"

/* NOTIFYs of one subscription in flight at once; past it the oldest is
 * forgotten (its retransmissions go on, its answer is not counted). */
#define SUB_INFLIGHT_MAX 8
/* Live publications of one presentity (one per device, say). */
#define PUBS_PER_PRESENTITY_MAX 16
#define ETAG_SIZE 24
#define BODY_MAX (PIDF_MAX_SIZE * 2)

struct presentity {
	struct le hle;	  /* p->presentities */
	struct list pubs; /* newest first */
	struct list subs;
	char aor[LOCATION_AOR_MAX];
	char entity[LOCATION_AOR_MAX + 8]; /* "sip:" aor */
};

struct publication {
	struct le ple; /* presentity->pubs */
	struct le hle; /* p->etags */
	struct le ale; /* p->all_pubs, for the expiry sweep */
	struct presentity *pr;
	char etag[ETAG_SIZE];
	uint64_t id;	  /* its row in the database */
	uint64_t updated; /* p->pub_seq of its last change */
	uint64_t expires; /* Unix s */
	char *body;	  /* the PIDF as published; doc views into it */
	size_t body_len;
	struct pidf_doc doc;
};

struct subscription {
	struct le ple;	       /* presentity->subs, while active */
	struct le hle;	       /* p->dialogs, while active */
	struct le wle;	       /* box->subs: holds the table's reference */
	struct presentity *pr; /* NULL once terminated */
	struct presence *p;
	struct worker_ctx *w; /* presence_owner; NULL once it stopped */
	bool terminated;
	bool in_db;	  /* a row of ours is (to be) in active_watchers */
	uint64_t expires; /* Unix s */
	uint32_t cseq;	  /* ours, for NOTIFY (§12.2.1.1) */
	uint32_t remote_cseq;
	/* The dialog (RFC 3261 §12.1.1, as the UAS). */
	char *call_id, *local_tag, *remote_tag;
	char *local_uri;  /* the SUBSCRIBE's To URI: our From */
	char *remote_uri; /* its From URI: our To */
	char *target;	  /* its Contact URI */
	char *route;	  /* its Record-Route values, in order, or "" */
	char watcher[LOCATION_AOR_MAX]; /* From user@host, for the filter */
	char aor[LOCATION_AOR_MAX];	/* the presentity's */
	struct sip_txn_dest dst;	/* where NOTIFYs go (conn: ours) */
	struct sip_txn *ct[SUB_INFLIGHT_MAX];
	unsigned nct;
};

/* A composed document shared by the NOTIFYs of one change. */
struct pbody {
	size_t len;
	char data[];
};

/* A NOTIFY for another worker's subscription. */
struct pjob {
	struct le le;
	struct subscription *s; /* a reference */
	struct pbody *body;	/* a reference, or NULL: terminate */
};

/* Per worker: its subscriptions and the jobs other workers left it. */
struct box {
	struct presence *p;
	struct worker_ctx *w;
	struct list subs, jobs;
	uint64_t last_sweep_s;
	bool posted, stopped;
};

struct presence_counters {
	uint64_t subscribe_new, subscribe_refresh, subscribe_remove,
		subscribe_expired, subscribe_481, subscribe_rejected;
	uint64_t notify_sent, notify_answered, notify_failed,
		notify_send_errors, subs_removed_by_notify, notify_jobs;
	uint64_t publish_initial, publish_refresh, publish_modify,
		publish_remove, publish_expired, publish_412, publish_rejected;
	uint64_t db_statements, db_errors;
};

struct presence {
	const struct presence_env *env;
	pthread_mutex_t mu; /* everything below */
	struct hash presentities, dialogs, etags;
	struct list all_pubs;
	size_t nsubs, npubs, npresentities;
	struct box *boxes;
	unsigned nboxes;
	struct presence_filter *filter; /* NULL: no filtering */
	uint64_t etag_seq, pub_seq;
	struct presence_counters c;
};

/* Tables (presence.c) */

/* Destructors of a composed body and of a subscription (obj.h). */
void presence_pbody_destroy(void *arg);

void presence_sub_destroy(void *arg);

/* Frees pr once it has no publication and no subscription. */
void presence_presentity_maybe_free(struct presence *p, struct presentity *pr);

/* The presentity of aor; created when create (NULL: none, or ENOMEM). */
struct presentity *presence_presentity_find(struct presence *p,
					    const char *aor, bool create);

/* Frees a publication; removed from the database too when unpersist. */
void presence_pub_free(struct presence *p, struct publication *pub,
		       bool unpersist);

/* The active subscription of msg's dialog (its To tag ours), or NULL. */
struct subscription *presence_dialog_find(struct presence *p,
					  const struct sip_msg *msg);

/* The key of a dialog in p->dialogs (Call-ID and our tag). */
uint32_t presence_dialog_key(const struct pl *call_id, const struct pl *ltag);

/* Documents and NOTIFYs (presence_notify.c) */

/* The presentity's document for one watcher (filter entry e). */
int presence_compose(struct presence *p, const struct presentity *pr,
		     const struct presence_filter_entry *e, bool filtered,
		     struct buf *out);

/* "<sip:user@host:port[;transport=x]>" from the worker's Record-Route
 * text "<sip:host:port[;transport=x];lr>". */
void presence_our_contact(const struct worker_ctx *w, enum sip_transport tp,
			  const char *user, char *out, size_t size);

/* Drops the reference of its owner's list (box->subs) to s. */
void presence_sub_release(struct presence *p, struct subscription *s);

/* Ends s: out of the tables (and the database) at once, freed when
 * its last NOTIFY is answered. */
void presence_sub_kill(struct presence *p, struct subscription *s);

/*
 * Sends one NOTIFY of s on w (its owner): active, or terminated with
 * reason; with a PIDF body unless body is NULL.  Lock held.
 */
void presence_notify_send(struct presence *p, struct worker_ctx *w,
			  struct subscription *s, const char *reason,
			  const char *body, size_t body_len);

/*
 * Leaves s's owner a job: a NOTIFY with body pb (a new reference is
 * taken), or with pb NULL the end of the subscription (lock held).
 */
void presence_post_job(struct presence *p, struct subscription *s,
		       struct pbody *pb);

/*
 * A subscription restored from the database has no owner until worker 0
 * adopts it (here, or at its first tick); NULL once its owner stopped.
 */
struct worker_ctx *presence_owner(struct presence *p, struct subscription *s);

/* The NOTIFY of a change, for whichever worker owns s (lock held). */
void presence_notify_change(struct presence *p, struct worker_ctx *w,
			    struct subscription *s, struct pbody *pb,
			    const struct buf *b);

/* Every watcher of pr learns its new state (lock held). */
void presence_notify_all(struct presence *p, struct worker_ctx *w,
			 struct presentity *pr);

/* The database (presence_store.c): statements queued through
 * dbqueue_exec() in the order of the changes. */

/* Starts a request: nothing queued for it yet (this thread). */
void presence_store_begin(void);

/* Whether this thread queued a statement for the current request. */
bool presence_store_queued(void);

/* Writes (persist) or deletes (unpersist) the row of s / pub. */
void presence_persist_sub(struct presence *p, struct subscription *s);

void presence_unpersist_sub(struct presence *p, struct subscription *s);

void presence_persist_pub(struct presence *p, const struct publication *pub);

void presence_unpersist_pub(struct presence *p, const struct publication *pub);

#endif
