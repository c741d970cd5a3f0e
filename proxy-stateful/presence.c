/*
 * presence.c - SUBSCRIBE/NOTIFY (RFC 6665, RFC 3856) and PUBLISH
 * (RFC 3903) for the users of our domain; see presence.h.
 */
#include "presence.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "presence"
#include "addressing.h"
#include "dbqueue.h"
#include "hash.h"
#include "list.h"
#include "location.h"
#include "log.h"
#include "obj.h"
#include "pidf.h"
#include "reply.h"
#include "sip_build.h"
#include "sip_uri.h"

/* NOTIFYs of one subscription in flight at once; past it the oldest is
 * forgotten (its retransmissions go on, its answer is not counted). */
#define SUB_INFLIGHT_MAX 8
/* Live publications of one presentity (one per device, say). */
#define PUBS_PER_PRESENTITY_MAX 16
#define ETAG_SIZE 24
#define FILTER_IDS_MAX 32
#define BODY_MAX (PIDF_MAX_SIZE * 2)
#define ALLOW_EVENTS "Allow-Events: presence\r\n"

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
	struct worker_ctx *w; /* owner; NULL once it stopped */
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

struct filter_entry {
	char watcher[LOCATION_AOR_MAX];
	char *ids[FILTER_IDS_MAX];
	size_t nids;
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
	struct filter_entry *filter; /* NULL: no filtering */
	size_t nfilter;
	const struct filter_entry *filter_default; /* the "*" line */
	uint64_t etag_seq, pub_seq;
	struct presence_counters c;
};

/* ------------------------------------------------------------------ */
/* The filter file                                                     */

static int filter_load(struct presence *p, const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[2048];
	unsigned lineno = 0;
	int err = 0;

	if (!fp) {
		err = errno;
		log_err("%s: %s", path, strerror(err));
		return err;
	}
	while (!err && fgets(line, sizeof(line), fp)) {
		struct filter_entry *e, *grown;
		char *save = NULL, *tok;

		lineno++;
		if (!strchr(line, '\n') && !feof(fp)) {
			log_err("%s:%u: line too long", path, lineno);
			err = EBADMSG;
			break;
		}
		tok = strtok_r(line, " \t\r\n", &save);
		if (!tok || tok[0] == '#')
			continue;
		grown = realloc(p->filter, (p->nfilter + 1) * sizeof(*grown));
		if (!grown) {
			err = ENOMEM;
			break;
		}
		p->filter = grown;
		e = &p->filter[p->nfilter];
		memset(e, 0, sizeof(*e));
		if (strlen(tok) >= sizeof(e->watcher)) {
			log_err("%s:%u: watcher too long", path, lineno);
			err = EBADMSG;
			break;
		}
		memcpy(e->watcher, tok, strlen(tok) + 1);
		p->nfilter++;
		while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
			if (e->nids == FILTER_IDS_MAX) {
				log_err("%s:%u: more than %d tuple ids", path,
					lineno, FILTER_IDS_MAX);
				err = EBADMSG;
				break;
			}
			e->ids[e->nids] = strdup(tok);
			if (!e->ids[e->nids]) {
				err = ENOMEM;
				break;
			}
			e->nids++;
		}
	}
	fclose(fp);
	if (!err && !p->filter) {
		/* An empty file still means "filter": nobody sees tuples. */
		p->filter = calloc(1, sizeof(*p->filter));
		if (!p->filter)
			err = ENOMEM;
	}
	return err;
}

static const struct filter_entry *filter_find(const struct presence *p,
					      const char *watcher)
{
	size_t i;

	for (i = 0; i < p->nfilter; i++)
		if (!strcasecmp(p->filter[i].watcher, watcher))
			return &p->filter[i];
	for (i = 0; i < p->nfilter; i++)
		if (!strcmp(p->filter[i].watcher, "*"))
			return &p->filter[i];
	return NULL;
}

/* pidf_allow_h: arg is the watcher's entry, or NULL (sees no tuple). */
static bool filter_allows(const struct pl *id, void *arg)
{
	const struct filter_entry *e = arg;
	size_t i;

	for (i = 0; e && i < e->nids; i++)
		if (pl_eq_str(id, e->ids[i]))
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */

int presence_alloc(struct presence **pp, const struct presence_env *env)
{
	struct presence *p = calloc(1, sizeof(*p));
	unsigned i;
	int err;

	if (!p)
		return ENOMEM;
	p->env = env;
	pthread_mutex_init(&p->mu, NULL);
	list_init(&p->all_pubs);
	err = hash_init(&p->presentities, 4096);
	if (!err)
		err = hash_init(&p->dialogs, 4096);
	if (!err)
		err = hash_init(&p->etags, 4096);
	p->nboxes = env->nworkers;
	p->boxes = calloc(p->nboxes, sizeof(*p->boxes));
	if (!err && !p->boxes)
		err = ENOMEM;
	for (i = 0; !err && i < p->nboxes; i++) {
		p->boxes[i].p = p;
		list_init(&p->boxes[i].subs);
		list_init(&p->boxes[i].jobs);
	}
	if (!err && env->cfg->presence_filter[0]) {
		err = filter_load(p, env->cfg->presence_filter);
		if (!err)
			log_info("presence filter: %zu watchers from %s",
				 p->nfilter, env->cfg->presence_filter);
	}
	if (err) {
		presence_free(p);
		return err;
	}
	*pp = p;
	return 0;
}

static void pbody_destroy(void *arg)
{
	(void)arg;
}

static void sub_destroy(void *arg)
{
	struct subscription *s = arg;
	unsigned i;

	list_unlink(&s->ple);
	list_unlink(&s->hle);
	list_unlink(&s->wle);
	for (i = 0; i < s->nct; i++) {
		sip_txn_client_detach(s->ct[i]);
		obj_deref(s->ct[i]);
	}
	obj_deref(s->dst.conn);
	free(s->call_id); /* one allocation for all the strings */
}

static void presentity_maybe_free(struct presence *p, struct presentity *pr)
{
	if (!pr || !list_isempty(&pr->pubs) || !list_isempty(&pr->subs))
		return;
	list_unlink(&pr->hle);
	p->npresentities--;
	free(pr);
}

static void unpersist_pub(struct presence *p, const struct publication *pub);

/* Frees a publication; removed from the database too when unpersist. */
static void pub_free(struct presence *p, struct publication *pub,
		     bool unpersist)
{
	struct presentity *pr = pub->pr;

	if (unpersist)
		unpersist_pub(p, pub);
	list_unlink(&pub->ple);
	list_unlink(&pub->hle);
	list_unlink(&pub->ale);
	free(pub->body);
	free(pub);
	p->npubs--;
	presentity_maybe_free(p, pr);
}

void presence_free(struct presence *p)
{
	unsigned i;
	size_t k;

	if (!p)
		return;
	for (i = 0; p->boxes && i < p->nboxes; i++) {
		struct box *b = &p->boxes[i];

		while (b->jobs.head) {
			struct pjob *j = b->jobs.head->data;

			list_unlink(&j->le);
			obj_deref(j->s);
			obj_deref(j->body);
			free(j);
		}
		while (b->subs.head) {
			struct subscription *s = b->subs.head->data;

			list_unlink(&s->wle);
			if (s->pr) {
				struct presentity *pr = s->pr;

				list_unlink(&s->ple);
				s->pr = NULL;
				presentity_maybe_free(p, pr);
			}
			obj_deref(s);
		}
	}
	while (p->all_pubs.head)
		pub_free(p, p->all_pubs.head->data, false);
	free(p->boxes);
	for (k = 0; k < p->nfilter; k++) {
		size_t n;

		for (n = 0; n < p->filter[k].nids; n++)
			free(p->filter[k].ids[n]);
	}
	free(p->filter);
	hash_free(&p->presentities);
	hash_free(&p->dialogs);
	hash_free(&p->etags);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static uint32_t str_key(const char *s)
{
	return (uint32_t)hash_fnv64(s, strlen(s));
}

static struct presentity *presentity_find(struct presence *p, const char *aor,
					  bool create)
{
	struct presentity *pr;
	struct le *le;
	uint32_t key = str_key(aor);

	for (le = hash_bucket(&p->presentities, key)->head; le;
	     le = le->next) {
		pr = le->data;
		if (!strcmp(pr->aor, aor))
			return pr;
	}
	if (!create)
		return NULL;
	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return NULL;
	list_init(&pr->pubs);
	list_init(&pr->subs);
	snprintf(pr->aor, sizeof(pr->aor), "%s", aor);
	snprintf(pr->entity, sizeof(pr->entity), "sip:%s", aor);
	hash_append(&p->presentities, key, &pr->hle, pr);
	p->npresentities++;
	return pr;
}

static uint32_t dialog_key(const struct pl *call_id, const struct pl *ltag)
{
	uint64_t h = hash_fnv64(call_id->p, call_id->l);

	return (uint32_t)hash_mix64(h ^ hash_fnv64(ltag->p, ltag->l));
}

static struct subscription *dialog_find(struct presence *p,
					const struct sip_msg *msg)
{
	struct le *le;

	for (le = hash_bucket(&p->dialogs,
			      dialog_key(&msg->call_id, &msg->to_tag))
			  ->head;
	     le; le = le->next) {
		struct subscription *s = le->data;

		if (pl_eq_str(&msg->call_id, s->call_id) &&
		    pl_eq_str(&msg->to_tag, s->local_tag) &&
		    pl_eq_str(&msg->from_tag, s->remote_tag))
			return s;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Composition                                                         */

/* The presentity's document for one watcher (filter entry e). */
static int compose(struct presence *p, const struct presentity *pr,
		   const struct filter_entry *e, bool filtered,
		   struct buf *out)
{
	const struct pidf_doc *docs[PUBS_PER_PRESENTITY_MAX];
	struct le *le;
	size_t n = 0;

	(void)p;
	for (le = pr->pubs.head; le && n < PUBS_PER_PRESENTITY_MAX;
	     le = le->next)
		docs[n++] = &((struct publication *)le->data)->doc;
	return pidf_compose(out, pr->entity, docs, n,
			    filtered ? filter_allows : NULL, (void *)e);
}

static struct pbody *pbody_new(const struct buf *b)
{
	struct pbody *pb = obj_alloc(sizeof(*pb) + b->len, pbody_destroy);

	if (!pb)
		return NULL;
	pb->len = b->len;
	memcpy(pb->data, b->data, b->len);
	return pb;
}

/* ------------------------------------------------------------------ */
/* NOTIFY (RFC 6665 §4.2.2)                                            */

/* "<sip:user@host:port[;transport=x]>" from the worker's Record-Route
 * text "<sip:host:port[;transport=x];lr>". */
static void our_contact(const struct worker_ctx *w, enum sip_transport tp,
			const char *user, char *out, size_t size)
{
	const char *rr = w->rr[(int)tp < (int)SIP_TP_NPROTO ? tp : SIP_TP_UDP];
	size_t l = strlen(rr);

	if (l < 9 || strncmp(rr, "<sip:", 5)) {
		snprintf(out, size, "<sip:%s@%s>", user, rr);
		return;
	}
	snprintf(out, size, "<sip:%s@%.*s>", user, (int)(l - 5 - 4), rr + 5);
}

static void sub_release(struct presence *p, struct subscription *s)
{
	(void)p;
	if (!le_linked(&s->wle))
		return;
	list_unlink(&s->wle);
	obj_deref(s);
}

/* Ends the subscription: out of the tables at once, freed when its last
 * NOTIFY is over. */
static void unpersist_sub(struct presence *p, struct subscription *s);

static void sub_kill(struct presence *p, struct subscription *s)
{
	struct presentity *pr = s->pr;

	if (s->terminated)
		return;
	s->terminated = true;
	/* Not at shutdown (no owner any more): it is to be restored. */
	if (s->w)
		unpersist_sub(p, s);
	list_unlink(&s->ple);
	list_unlink(&s->hle);
	s->pr = NULL;
	p->nsubs--;
	presentity_maybe_free(p, pr);
	if (!s->nct)
		sub_release(p, s);
}

static void notify_event(struct sip_txn *t, enum sip_txn_event ev,
			 const struct sip_msg *msg, int err, void *arg);

/*
 * Sends one NOTIFY of s on w (its owner): active, or terminated with
 * reason; with a PIDF body unless body is NULL.  Lock held.
 */
static void notify_send(struct presence *p, struct worker_ctx *w,
			struct subscription *s, const char *reason,
			const char *body, size_t body_len)
{
	struct sip_build_req r;
	struct sip_txn_creq cr;
	struct sip_txn *ct = NULL;
	char branch[SIP_BRANCH_SIZE], via[SIP_TP_ADDR_STRLEN + 64];
	char from[LOCATION_URI_MAX + 4], to[LOCATION_URI_MAX + 4];
	char contact[SIP_TP_ADDR_STRLEN + 96], hdrs[160];
	uint64_t now = worker_now_s();
	int err;

	if (s->nct == SUB_INFLIGHT_MAX) {
		sip_txn_client_detach(s->ct[0]);
		obj_deref(s->ct[0]);
		memmove(&s->ct[0], &s->ct[1], (s->nct - 1) * sizeof(s->ct[0]));
		s->nct--;
	}
	sip_build_branch(branch);
	snprintf(via, sizeof(via), "%s;branch=%s",
		 w->via[(int)s->dst.tp < (int)SIP_TP_NPROTO ? s->dst.tp
							    : SIP_TP_UDP],
		 branch);
	snprintf(from, sizeof(from), "<%s>", s->local_uri);
	snprintf(to, sizeof(to), "<%s>", s->remote_uri);
	{
		/* The user part of our own URI, for our Contact. */
		struct sip_uri lu;
		struct pl lp;
		char user[LOCATION_AOR_MAX] = "presence";

		pl_set_str(&lp, s->local_uri);
		if (!sip_uri_decode(&lu, &lp) && lu.user.l)
			pl_strcpy(&lu.user, user, sizeof(user));
		our_contact(w, s->dst.tp, user, contact, sizeof(contact));
	}
	if (reason)
		snprintf(hdrs, sizeof(hdrs),
			 "Event: presence\r\n"
			 "Subscription-State: terminated;reason=%s\r\n",
			 reason);
	else
		snprintf(hdrs, sizeof(hdrs),
			 "Event: presence\r\n"
			 "Subscription-State: active;expires=%llu\r\n",
			 (unsigned long long)(s->expires > now
						      ? s->expires - now
						      : 0));
	memset(&r, 0, sizeof(r));
	pl_set_str(&r.method, "NOTIFY");
	pl_set_str(&r.ruri, s->target);
	pl_set_str(&r.via, via);
	pl_set_str(&r.from, from);
	pl_set_str(&r.from_tag, s->local_tag);
	pl_set_str(&r.to, to);
	pl_set_str(&r.to_tag, s->remote_tag);
	pl_set_str(&r.call_id, s->call_id);
	r.cseq = ++s->cseq;
	pl_set_str(&r.contact, contact);
	pl_set_str(&r.route, s->route);
	pl_set_str(&r.hdrs, hdrs);
	if (body) {
		pl_set_str(&r.ctype, PIDF_CTYPE);
		r.body.p = body;
		r.body.l = body_len;
	}
	buf_reset(&w->out);
	err = sip_build_request(&w->out, &r);
	if (!err) {
		memset(&cr, 0, sizeof(cr));
		cr.dst = &s->dst;
		pl_set_str(&cr.branch, branch);
		pl_set_str(&cr.method, "NOTIFY");
		cr.msg = buf_pl(&w->out);
		err = sip_txn_client_start(&ct, w->txl, &cr, notify_event, s);
	}
	if (err) {
		p->c.notify_send_errors++;
		log_debug("NOTIFY to %s: %s", s->target, strerror(err));
		/* §4.2.2: a NOTIFY that cannot leave ends it (as Timer F). */
		sub_kill(p, s);
		return;
	}
	s->ct[s->nct++] = ct;
	p->c.notify_sent++;
}

static void notify_event(struct sip_txn *t, enum sip_txn_event ev,
			 const struct sip_msg *msg, int err, void *arg)
{
	struct subscription *s = arg;
	struct presence *p = s->p;
	unsigned i;
	bool kill = false;

	(void)err;
	if (ev == SIP_TXN_EV_RESPONSE && msg->status < 200)
		return;
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < s->nct && s->ct[i] != t; i++)
		;
	if (i == s->nct) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	memmove(&s->ct[i], &s->ct[i + 1], (s->nct - i - 1) * sizeof(s->ct[0]));
	s->nct--;
	if (ev == SIP_TXN_EV_RESPONSE && msg->status < 300) {
		p->c.notify_answered++;
	} else {
		p->c.notify_failed++;
		/* RFC 6665 §4.2.2: 481 and a timeout (Timer F) end the
		 * subscription; other failures are counted only. */
		kill = ev != SIP_TXN_EV_RESPONSE || msg->status == 481;
	}
	if (kill && !s->terminated)
		p->c.subs_removed_by_notify++;
	/* The table's reference may be the last: hold ours to the end. */
	obj_ref(s);
	obj_deref(t);
	if (kill)
		sub_kill(p, s);
	else if (s->terminated && !s->nct)
		sub_release(p, s);
	pthread_mutex_unlock(&p->mu);
	obj_deref(s);
}

static void drain(void *arg);

/*
 * Leaves s's owner a job: a NOTIFY with body pb (a new reference is
 * taken), or with pb NULL the end of the subscription (lock held).
 */
static void post_job(struct presence *p, struct subscription *s,
		     struct pbody *pb)
{
	struct box *bx = &p->boxes[s->w->idx];
	struct pjob *j;

	if (bx->stopped)
		return;
	j = calloc(1, sizeof(*j));
	if (!j) {
		p->c.notify_send_errors++;
		return;
	}
	j->s = obj_ref(s);
	j->body = obj_ref(pb);
	list_append(&bx->jobs, &j->le, j);
	p->c.notify_jobs++;
	bx->w = s->w;
	if (!bx->posted && !ev_call(s->w->ev, drain, bx))
		bx->posted = true;
}

/*
 * A subscription restored from the database has no owner until worker 0
 * adopts it (here, or at its first tick); NULL once its owner stopped.
 */
static struct worker_ctx *owner(struct presence *p, struct subscription *s)
{
	if (!s->w && !s->terminated && p->env->worker0 && !p->boxes[0].stopped)
		s->w = p->env->worker0;
	return s->w;
}

/* The NOTIFY of a change, for whichever worker owns s (lock held). */
static void notify_change(struct presence *p, struct worker_ctx *w,
			  struct subscription *s, struct pbody *pb,
			  const struct buf *b)
{
	struct pbody *own = NULL;

	if (s->terminated || !owner(p, s))
		return;
	if (s->w == w) {
		notify_send(p, w, s, NULL, b->data, b->len);
		return;
	}
	if (!pb)
		pb = own = pbody_new(b);
	if (!pb) {
		p->c.notify_send_errors++;
		return;
	}
	post_job(p, s, pb);
	obj_deref(own);
}

/* Another worker's jobs for this one. */
static void drain(void *arg)
{
	struct box *bx = arg;
	struct presence *p = bx->p;

	pthread_mutex_lock(&p->mu);
	bx->posted = false;
	while (bx->jobs.head) {
		struct pjob *j = bx->jobs.head->data;

		list_unlink(&j->le);
		if (!j->s->terminated && j->s->w && j->body) {
			notify_send(p, j->s->w, j->s, NULL, j->body->data,
				    j->body->len);
		} else if (!j->s->terminated && j->s->w) {
			notify_send(p, j->s->w, j->s, "timeout", NULL, 0);
			sub_kill(p, j->s);
		}
		obj_deref(j->body);
		obj_deref(j->s);
		free(j);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Every watcher of pr learns its new state (lock held). */
static void notify_all(struct presence *p, struct worker_ctx *w,
		       struct presentity *pr)
{
	struct pbody *shared = NULL;
	struct buf b;
	struct le *le, *next;

	buf_init(&b, BODY_MAX);
	if (!p->filter && compose(p, pr, NULL, false, &b)) {
		p->c.notify_send_errors++;
		goto out;
	}
	for (le = pr->subs.head; le; le = next) {
		struct subscription *s = le->data;

		next = le->next;
		if (p->filter) {
			buf_reset(&b);
			if (compose(p, pr, filter_find(p, s->watcher), true,
				    &b)) {
				p->c.notify_send_errors++;
				continue;
			}
		} else if (!shared && s->w != w) {
			shared = pbody_new(&b);
		}
		notify_change(p, w, s, p->filter ? NULL : shared, &b);
	}
out:
	obj_deref(shared);
	buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* Persistence (schema.sql: presentity, active_watchers)               */

/* Whether this thread queued a statement for the current request. */
static __thread bool tl_db_queued;

static bool persisting(const struct presence *p)
{
	return p->env->db && p->env->cfg->db_mode != STATEFUL_DB_MEMORY;
}

/* A string as an SQL hex literal: nothing to escape, any byte. */
static int sql_hex(struct buf *b, const char *s, size_t l)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;
	int err;

	if (!l)
		return buf_append_str(b, "''");
	err = buf_reserve(b, 2 * l + 3);
	if (err)
		return err;
	b->data[b->len++] = 'X';
	b->data[b->len++] = '\'';
	for (i = 0; i < l; i++) {
		b->data[b->len++] = digits[(unsigned char)s[i] >> 4];
		b->data[b->len++] = digits[(unsigned char)s[i] & 15];
	}
	return buf_append(b, "'", 1);
}

static int sql_str(struct buf *b, const char *s)
{
	int err = sql_hex(b, s, strlen(s));

	return err ? err : buf_append(b, ",", 1);
}

static void db_exec(struct presence *p, struct buf *b, int err)
{
	if (!err)
		err = dbqueue_exec(p->env->db, b->data, b->len);
	if (err) {
		p->c.db_errors++;
		log_warn("a presence change is not persisted: %s",
			 strerror(err));
	} else {
		p->c.db_statements++;
		tl_db_queued = true;
	}
	buf_free(b);
}

static void persist_sub(struct presence *p, struct subscription *s)
{
	struct buf b;
	int err;

	if (!persisting(p))
		return;
	buf_init(&b, 1 << 20);
	err = buf_append_str(&b, "REPLACE INTO active_watchers VALUES (");
	err = err ? err : sql_str(&b, s->call_id);
	err = err ? err : sql_str(&b, s->local_tag);
	err = err ? err : sql_str(&b, s->remote_tag);
	err = err ? err : sql_str(&b, s->aor);
	err = err ? err : sql_str(&b, s->watcher);
	err = err ? err : sql_str(&b, s->local_uri);
	err = err ? err : sql_str(&b, s->remote_uri);
	err = err ? err : sql_str(&b, s->target);
	err = err ? err : sql_str(&b, s->route);
	err = err ? err
		  : buf_printf(&b, "%llu,%u,%u,%u)",
			       (unsigned long long)s->expires, s->cseq,
			       s->remote_cseq, (unsigned)s->dst.tp);
	s->in_db = true;
	db_exec(p, &b, err);
}

static void unpersist_sub(struct presence *p, struct subscription *s)
{
	struct buf b;
	int err;

	if (!persisting(p) || !s->in_db)
		return;
	s->in_db = false;
	buf_init(&b, 4096);
	err = buf_append_str(&b, "DELETE FROM active_watchers WHERE call_id=");
	err = err ? err : sql_hex(&b, s->call_id, strlen(s->call_id));
	err = err ? err : buf_append_str(&b, " AND local_tag=");
	err = err ? err : sql_hex(&b, s->local_tag, strlen(s->local_tag));
	db_exec(p, &b, err);
}

static void persist_pub(struct presence *p, const struct publication *pub)
{
	struct buf b;
	int err;

	if (!persisting(p))
		return;
	buf_init(&b, 4 * PIDF_MAX_SIZE);
	err = buf_printf(&b, "REPLACE INTO presentity VALUES (%llu,",
			 (unsigned long long)pub->id);
	err = err ? err : sql_str(&b, pub->pr->aor);
	err = err ? err : sql_str(&b, pub->etag);
	err = err ? err
		  : buf_printf(&b, "%llu,%llu,",
			       (unsigned long long)pub->expires,
			       (unsigned long long)pub->updated);
	err = err ? err : sql_hex(&b, pub->body, pub->body_len);
	err = err ? err : buf_append(&b, ")", 1);
	db_exec(p, &b, err);
}

static void unpersist_pub(struct presence *p, const struct publication *pub)
{
	struct buf b;

	if (!persisting(p))
		return;
	buf_init(&b, 128);
	db_exec(p, &b,
		buf_printf(&b, "DELETE FROM presentity WHERE id=%llu",
			   (unsigned long long)pub->id));
}

static void send_reply(struct presence *p, struct worker_ctx *w,
		       struct sip_txn *st, const struct sip_msg *msg)
{
	const struct presence_env *env = p->env;

	if (!tl_db_queued || env->cfg->db_mode != STATEFUL_DB_WRITE_THROUGH) {
		reply_send(w, st, w->out.data, w->out.len);
		return;
	}
	reply_after_commit(w, env->db, st, msg);
}

/* Copies a column into a NUL-terminated string of at most max bytes. */
static bool col_ok(char **row, unsigned i, size_t max)
{
	return row[i] && strlen(row[i]) < max;
}

static void load_pub_row(char **row, unsigned n, void *arg)
{
	struct presence *p = arg;
	struct publication *pub = NULL;
	struct presentity *pr;
	struct pl v;
	uint64_t id, expires, updated;
	size_t count = 0;
	struct le *le;

	if (n != 6 || !col_ok(row, 0, 32) ||
	    !col_ok(row, 1, LOCATION_AOR_MAX) || !col_ok(row, 2, ETAG_SIZE) ||
	    !col_ok(row, 3, 32) || !col_ok(row, 4, 32) || !row[5])
		goto bad;
	pl_set_str(&v, row[0]);
	if (pl_u64(&v, &id))
		goto bad;
	pl_set_str(&v, row[3]);
	if (pl_u64(&v, &expires))
		goto bad;
	pl_set_str(&v, row[4]);
	if (pl_u64(&v, &updated))
		goto bad;
	pub = calloc(1, sizeof(*pub));
	if (!pub)
		goto bad;
	pub->body_len = strlen(row[5]);
	pub->body = malloc(pub->body_len ? pub->body_len : 1);
	if (!pub->body)
		goto bad;
	memcpy(pub->body, row[5], pub->body_len);
	if (pidf_decode(&pub->doc, pub->body, pub->body_len))
		goto bad;
	pr = presentity_find(p, row[1], true);
	if (!pr)
		goto bad;
	for (le = pr->pubs.head; le; le = le->next)
		count++;
	if (count >= PUBS_PER_PRESENTITY_MAX) {
		presentity_maybe_free(p, pr);
		goto bad;
	}
	pub->pr = pr;
	pub->id = id;
	pub->expires = expires;
	pub->updated = updated;
	snprintf(pub->etag, sizeof(pub->etag), "%s", row[2]);
	pl_set_str(&v, pub->etag);
	hash_append(&p->etags, hash_pl(&v), &pub->hle, pub);
	/* The rows come newest first. */
	list_append(&pr->pubs, &pub->ple, pub);
	list_append(&p->all_pubs, &pub->ale, pub);
	p->npubs++;
	if (updated > p->pub_seq)
		p->pub_seq = updated;
	return;
bad:
	log_warn("presentity row %s: skipped", row[0] ? row[0] : "?");
	if (pub)
		free(pub->body);
	free(pub);
}

/* The first value of a route set "v1, v2" (commas inside <> kept). */
static struct pl route_first(const char *route)
{
	struct pl r;
	int depth = 0;
	size_t i;

	for (i = 0; route[i]; i++) {
		if (route[i] == '<')
			depth++;
		else if (route[i] == '>')
			depth--;
		else if (route[i] == ',' && depth <= 0)
			break;
	}
	r.p = route;
	r.l = i;
	return r;
}

static void load_sub_row(char **row, unsigned n, void *arg)
{
	struct presence *p = arg;
	struct subscription *s = NULL;
	struct presentity *pr;
	struct sip_addr ra;
	struct sip_uri du;
	struct pl first, v;
	struct buf b;
	size_t off[9], i;
	uint32_t num[4];
	uint64_t expires;
	int err = 0;

	buf_init(&b, 1 << 20);
	if (n != 13 || !col_ok(row, 0, 256) || !col_ok(row, 1, SIP_TAG_SIZE) ||
	    !col_ok(row, 2, 256) || !col_ok(row, 3, LOCATION_AOR_MAX) ||
	    !col_ok(row, 4, LOCATION_AOR_MAX) ||
	    !col_ok(row, 5, LOCATION_URI_MAX) ||
	    !col_ok(row, 6, LOCATION_URI_MAX) || !row[7] || !row[8] ||
	    !col_ok(row, 9, 32))
		goto bad;
	pl_set_str(&v, row[9]);
	if (pl_u64(&v, &expires))
		goto bad;
	for (i = 0; i < 3; i++) {
		if (!row[10 + i])
			goto bad;
		pl_set_str(&v, row[10 + i]);
		if (pl_u32(&v, &num[i]))
			goto bad;
	}
	/* call_id, tags, local and remote URI, target, route. */
	for (i = 0; !err && i < 9; i++) {
		if (i == 3 || i == 4)
			continue; /* aor and watcher: not in the blob */
		off[i] = b.len;
		err = buf_append(&b, row[i], strlen(row[i]) + 1);
	}
	if (err)
		goto bad;
	s = obj_alloc(sizeof(*s), sub_destroy);
	if (s)
		s->p = p;
	if (!s)
		goto bad;
	s->call_id = b.data + off[0];
	s->local_tag = b.data + off[1];
	s->remote_tag = b.data + off[2];
	s->local_uri = b.data + off[5];
	s->remote_uri = b.data + off[6];
	s->target = b.data + off[7];
	s->route = b.data + off[8];
	b.data = NULL; /* the subscription's now */
	snprintf(s->aor, sizeof(s->aor), "%s", row[3]);
	snprintf(s->watcher, sizeof(s->watcher), "%s", row[4]);
	s->expires = expires;
	/* NOTIFYs after the row was written went unrecorded: jump well
	 * past them, CSeq only has to grow (RFC 3261 §12.2.1.1). */
	s->cseq = num[0] + 10000;
	s->remote_cseq = num[1];
	s->in_db = true;
	first = route_first(s->route);
	if (first.l ? sip_addr_decode(&ra, &first) ||
			      sip_uri_decode(&du, &ra.uri)
		    : sip_uri_decode(&du, &(struct pl){s->target,
						       strlen(s->target)}))
		goto bad;
	if (addressing_uri_dest(&du, (enum sip_transport)num[2], &s->dst))
		goto bad;
	pr = presentity_find(p, s->aor, true);
	if (!pr)
		goto bad;
	s->pr = pr;
	list_append(&pr->subs, &s->ple, s);
	pl_set_str(&v, s->local_tag);
	hash_append(&p->dialogs,
		    dialog_key(&(struct pl){s->call_id, strlen(s->call_id)},
			       &v),
		    &s->hle, s);
	/* Worker 0's from its first tick (presence_tick). */
	list_append(&p->boxes[0].subs, &s->wle, s);
	p->nsubs++;
	return;
bad:
	log_warn("active_watchers row %s: skipped", row[0] ? row[0] : "?");
	buf_free(&b);
	obj_deref(s);
}

int presence_load(struct presence *p, struct dbqueue *db)
{
	char q[300];
	int err;

	snprintf(q, sizeof(q),
		 "SELECT id, aor, etag, expires, updated, body FROM "
		 "presentity WHERE expires > %llu ORDER BY updated DESC",
		 (unsigned long long)worker_now_s());
	err = dbqueue_select(db, q, load_pub_row, p);
	if (err)
		return err;
	snprintf(q, sizeof(q),
		 "SELECT call_id, local_tag, remote_tag, aor, watcher, "
		 "local_uri, remote_uri, target, route, expires, cseq, "
		 "remote_cseq, transport FROM active_watchers WHERE "
		 "expires > %llu",
		 (unsigned long long)worker_now_s());
	err = dbqueue_select(db, q, load_sub_row, p);
	if (!err)
		log_info("%zu publications, %zu subscriptions from the "
			 "database",
			 p->npubs, p->nsubs);
	return err;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

/* Whether the Event header names the presence package (§7.2.1). */
static bool event_is_presence(const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_EVENT);
	struct pl v;
	const char *semi;

	if (!h)
		return false;
	v = h->value;
	semi = pl_chr(&v, ';');
	if (semi)
		v.l = (size_t)(semi - v.p);
	pl_trim(&v);
	return pl_caseeq_str(&v, "presence");
}

/* Accept (RFC 3856 §6.7): absent, or naming application/pidf+xml. */
static bool accepts_pidf(const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_ACCEPT);

	if (!h)
		return true;
	for (; h; h = sip_msg_hdr_next(msg, h)) {
		struct pl v = h->value;
		const char *semi = pl_chr(&v, ';');

		if (semi)
			v.l = (size_t)(semi - v.p);
		pl_trim(&v);
		if (pidf_is_ctype(&v) || pl_eq_str(&v, "*/*") ||
		    pl_caseeq_str(&v, "application/*"))
			return true;
	}
	return false;
}

/* The Expires value bounded by the options; 423 or 400 answered. */
static int expires_get(struct presence *p, struct worker_ctx *w,
		       struct sip_txn *st, const struct sip_msg *msg,
		       uint32_t *e)
{
	const struct stateful_cfg *cfg = p->env->cfg;
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_EXPIRES);
	uint32_t v = cfg->presence_default_expires;
	char hdr[64];

	if (h && pl_u32(&h->value, &v)) {
		reply_status(w, st, msg, 400, "Bad Expires", NULL);
		return EBADMSG;
	}
	if (v && v < cfg->presence_min_expires) {
		/* RFC 6665 §4.2.1.1, RFC 3903 §6 step 5: 423. */
		snprintf(hdr, sizeof(hdr), "Min-Expires: %u\r\n",
			 cfg->presence_min_expires);
		reply_status(w, st, msg, 423, NULL, hdr);
		return ERANGE;
	}
	if (v > cfg->presence_max_expires)
		v = cfg->presence_max_expires;
	*e = v;
	return 0;
}

/* Sends a response with our To tag and extra lines (w->out). */
static void reply_tagged(struct presence *p, struct worker_ctx *w,
			 struct sip_txn *st, const struct sip_msg *msg,
			 uint16_t status, const char *tag, const char *hdrs)
{
	struct sip_build_resp_opts ro;

	memset(&ro, 0, sizeof(ro));
	pl_set_str(&ro.to_tag, tag);
	pl_set_str(&ro.hdrs, hdrs);
	buf_reset(&w->out);
	if (sip_build_response(&w->out, msg, status, NULL, &ro)) {
		reply_status(w, st, msg, 500, NULL, NULL);
		return;
	}
	send_reply(p, w, st, msg);
}

/*
 * The presentity AOR (Request-URI user @ our domain) and the From
 * URI's user@host (the watcher or publisher); digest authentication
 * like INVITE (the From user, --auth invite/all or auth_required), but
 * with 401: this is the UAS.  Returns 0, else an answer was sent.
 */
static int check_request(struct presence *p, struct worker_ctx *w,
			 struct sip_txn *st, const struct sip_msg *msg,
			 bool authenticate, char *aor, char *from_aor,
			 struct sip_addr *from)
{
	const struct presence_env *env = p->env;
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_FROM);
	struct sip_uri ru, fu;
	struct pl dom;

	pl_set_str(&dom, env->cfg->domain);
	if (sip_uri_decode(&ru, &msg->ruri) || !ru.user.l ||
	    snprintf(aor, LOCATION_AOR_MAX, "%.*s@%s", PL_FMT(&ru.user),
		     env->cfg->domain) >= LOCATION_AOR_MAX) {
		reply_status(w, st, msg, 404, NULL, NULL);
		return ENOENT;
	}
	if (!h || sip_addr_decode(from, &h->value) ||
	    sip_uri_decode(&fu, &from->uri) ||
	    from->uri.l >= LOCATION_URI_MAX ||
	    snprintf(from_aor, LOCATION_AOR_MAX, "%.*s@%.*s", PL_FMT(&fu.user),
		     PL_FMT(&fu.host)) >= LOCATION_AOR_MAX) {
		reply_status(w, st, msg, 400, "Bad From", NULL);
		return EBADMSG;
	}
	if (env->users && !userdb_find(env->users, &ru.user, &dom)) {
		reply_status(w, st, msg, 404, "User Not Found", NULL);
		return ENOENT;
	}
	if (authenticate) {
		const struct userdb_user *u =
			env->users ? userdb_find(env->users, &fu.user, &dom)
				   : NULL;

		if (((env->cfg->auth & STATEFUL_AUTH_INVITE) ||
		     (u && u->auth_required)) &&
		    reply_auth_check(w, env->auth, st, msg, &fu.user, &dom,
				     false))
			return EACCES;
	}
	return 0;
}

/* The dialog of an initial SUBSCRIBE (RFC 3261 §12.1.1). */
static int sub_new(struct presence *p, struct worker_ctx *w,
		   struct sip_txn *st, const struct sip_msg *msg,
		   const struct sip_addr *from, const char *watcher,
		   struct subscription **sp_out)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CONTACT), *rr;
	const struct sip_txn_dest *src = sip_txn_dest(st);
	struct subscription *s = NULL;
	struct sip_addr ca, ta, ra;
	struct sip_uri cu, du;
	struct pl first = PL_INIT;
	char tag[SIP_TAG_SIZE];
	struct buf b;
	size_t off[7];
	char *blob;
	int err = 0;

	if (!h || sip_addr_decode(&ca, &h->value) || ca.star ||
	    sip_uri_decode(&cu, &ca.uri)) {
		reply_status(w, st, msg, 400, "Bad Contact", NULL);
		return EBADMSG;
	}
	h = sip_msg_hdr(msg, SIP_HDR_TO);
	if (!h || sip_addr_decode(&ta, &h->value)) {
		reply_status(w, st, msg, 400, "Bad To", NULL);
		return EBADMSG;
	}
	sip_build_tag(tag);
	/* Every string in one allocation: NUL-separated in a buf. */
	buf_init(&b, 16384);
	off[0] = 0;
	err = buf_append_pl(&b, &msg->call_id);
	err = err ? err : buf_append(&b, "", 1);
	off[1] = b.len;
	err = err ? err : buf_append(&b, tag, strlen(tag) + 1);
	off[2] = b.len;
	err = err ? err : buf_append_pl(&b, &msg->from_tag);
	err = err ? err : buf_append(&b, "", 1);
	off[3] = b.len;
	err = err ? err : buf_append_pl(&b, &ta.uri);
	err = err ? err : buf_append(&b, "", 1);
	off[4] = b.len;
	err = err ? err : buf_append_pl(&b, &from->uri);
	err = err ? err : buf_append(&b, "", 1);
	off[5] = b.len;
	err = err ? err : buf_append_pl(&b, &ca.uri);
	err = err ? err : buf_append(&b, "", 1);
	off[6] = b.len;
	for (rr = sip_msg_hdr(msg, SIP_HDR_RECORD_ROUTE); !err && rr;
	     rr = sip_msg_hdr_next(msg, rr)) {
		if (sip_addr_decode(&ra, &rr->value)) {
			err = EBADMSG;
			break;
		}
		if (!first.l)
			first = ra.uri;
		if (b.len > off[6])
			err = buf_append(&b, ", ", 2);
		if (!err)
			err = buf_append_pl(&b, &rr->value);
	}
	err = err ? err : buf_append(&b, "", 1);
	if (err) {
		buf_free(&b);
		reply_status(w, st, msg, err == EBADMSG ? 400 : 500,
			     err == EBADMSG ? "Bad Record-Route" : NULL, NULL);
		return err;
	}
	s = obj_alloc(sizeof(*s), sub_destroy);
	if (s)
		s->p = p;
	if (!s) {
		buf_free(&b);
		reply_status(w, st, msg, 500, NULL, NULL);
		return ENOMEM;
	}
	blob = b.data; /* the buf's memory becomes the subscription's */
	s->call_id = blob + off[0];
	s->local_tag = blob + off[1];
	s->remote_tag = blob + off[2];
	s->local_uri = blob + off[3];
	s->remote_uri = blob + off[4];
	s->target = blob + off[5];
	s->route = blob + off[6];
	s->remote_cseq = msg->cseq.num;
	s->w = w;
	snprintf(s->watcher, sizeof(s->watcher), "%s", watcher);
	/* NOTIFYs go to the first route, else the remote target; over a
	 * connection the SUBSCRIBE's own one is reused while it lasts (a
	 * watcher behind a connection-oriented hop, RFC 5626 spirit). */
	if (first.l ? sip_uri_decode(&du, &first) ||
			      addressing_uri_dest(&du, src->tp, &s->dst)
		    : addressing_uri_dest(&cu, src->tp, &s->dst)) {
		s->dst = *src; /* a name we do not resolve: where it came */
		s->dst.conn = NULL;
	}
	if (src->conn && s->dst.tp == src->tp && src->tp != SIP_TP_UDP)
		s->dst.conn = obj_ref(src->conn);
	*sp_out = s;
	return 0;
}

static void handle_subscribe(struct presence *p, struct worker_ctx *w,
			     struct sip_txn *st, const struct sip_msg *msg)
{
	struct subscription *s = NULL;
	struct presentity *pr;
	struct sip_addr from;
	char aor[LOCATION_AOR_MAX], watcher[LOCATION_AOR_MAX];
	char hdrs[SIP_TP_ADDR_STRLEN + 200], contact[SIP_TP_ADDR_STRLEN + 96];
	uint32_t e;
	bool initial = !msg->to_tag.l;
	struct buf b;

	tl_db_queued = false;
	if (!event_is_presence(msg)) {
		/* RFC 6665 §4.2.1.1 */
		p->c.subscribe_rejected++;
		reply_status(w, st, msg, 489, NULL, ALLOW_EVENTS);
		return;
	}
	if (!accepts_pidf(msg)) {
		p->c.subscribe_rejected++;
		reply_status(w, st, msg, 406, NULL,
			     "Accept: " PIDF_CTYPE "\r\n");
		return;
	}
	/* In-dialog requests are not challenged again: the dialog's tags
	 * (ours random) are the proof. */
	if (check_request(p, w, st, msg, initial, aor, watcher, &from) ||
	    expires_get(p, w, st, msg, &e)) {
		p->c.subscribe_rejected++;
		return;
	}
	buf_init(&b, BODY_MAX);
	pthread_mutex_lock(&p->mu);
	if (!initial) {
		s = dialog_find(p, msg);
		if (!s) {
			/* RFC 6665 §4.1.2.2: 481 for an unknown dialog. */
			p->c.subscribe_481++;
			pthread_mutex_unlock(&p->mu);
			reply_status(w, st, msg, 481, NULL, NULL);
			goto out;
		}
		if (msg->cseq.num <= s->remote_cseq) {
			/* §12.2.2: a lower CSeq is out of order. */
			pthread_mutex_unlock(&p->mu);
			reply_status(w, st, msg, 500, "Out Of Order", NULL);
			goto out;
		}
		s->remote_cseq = msg->cseq.num;
		owner(p, s);
		obj_ref(s);
	} else {
		if (sub_new(p, w, st, msg, &from, watcher, &s)) {
			pthread_mutex_unlock(&p->mu);
			goto out;
		}
	}
	pr = initial ? presentity_find(p, aor, true) : s->pr;
	if (!pr) {
		pthread_mutex_unlock(&p->mu);
		reply_status(w, st, msg, 500, NULL, NULL);
		goto out;
	}
	s->expires = worker_now_s() + e;
	if (initial)
		snprintf(s->aor, sizeof(s->aor), "%s", aor);
	/* Queued before the 200: write-through holds it for the commit. */
	if (e)
		persist_sub(p, s);
	else
		unpersist_sub(p, s);
	our_contact(w, sip_txn_dest(st)->tp, "presence", contact,
		    sizeof(contact));
	{
		struct sip_uri ru;

		if (!sip_uri_decode(&ru, &msg->ruri) && ru.user.l) {
			char user[LOCATION_AOR_MAX];

			if (!pl_strcpy(&ru.user, user, sizeof(user)))
				our_contact(w, sip_txn_dest(st)->tp, user,
					    contact, sizeof(contact));
		}
	}
	snprintf(hdrs, sizeof(hdrs), "Expires: %u\r\nContact: %s\r\n", e,
		 contact);
	/* The 200 first, then the NOTIFY (RFC 6665 §4.2.1.2). */
	reply_tagged(p, w, st, msg, 200, s->local_tag, hdrs);
	if (initial) {
		p->c.subscribe_new++;
		s->pr = pr;
		list_append(&pr->subs, &s->ple, s);
		hash_append(&p->dialogs,
			    dialog_key(&msg->call_id,
				       &(struct pl){s->local_tag,
						    strlen(s->local_tag)}),
			    &s->hle, s);
		list_append(&p->boxes[w->idx].subs, &s->wle, s);
		p->boxes[w->idx].w = w;
		p->nsubs++;
		obj_ref(s); /* ours until the end of the function */
	} else if (e) {
		p->c.subscribe_refresh++;
	} else {
		p->c.subscribe_remove++;
	}
	if (!e) {
		/* An unsubscribe or a fetch (RFC 6665 §4.4.3): the current
		 * state in a terminated NOTIFY. */
		if (s->w == w) {
			bool ok = !compose(
				p, pr,
				p->filter ? filter_find(p, s->watcher) : NULL,
				p->filter != NULL, &b);

			notify_send(p, w, s, "timeout", ok ? b.data : NULL,
				    ok ? b.len : 0);
			sub_kill(p, s);
		} else if (s->w) {
			/* Its transactions are its owner's to start. */
			post_job(p, s, NULL);
		}
	} else if (!compose(p, pr,
			    p->filter ? filter_find(p, s->watcher) : NULL,
			    p->filter != NULL, &b)) {
		notify_change(p, w, s, NULL, &b);
	}
	pthread_mutex_unlock(&p->mu);
out:
	obj_deref(s);
	buf_free(&b);
}

static struct publication *etag_find(struct presence *p, const struct pl *tag)
{
	struct le *le;

	for (le = hash_bucket(&p->etags, hash_pl(tag))->head; le;
	     le = le->next) {
		struct publication *pub = le->data;

		if (pl_eq_str(tag, pub->etag))
			return pub;
	}
	return NULL;
}

static void etag_new(struct presence *p, struct publication *pub)
{
	struct pl t;

	list_unlink(&pub->hle);
	/* A counter mixed with the process secret: unique, unguessable. */
	snprintf(pub->etag, sizeof(pub->etag), "%016llx",
		 (unsigned long long)hash_mix64(++p->etag_seq ^
						p->env->secret));
	pl_set_str(&t, pub->etag);
	hash_append(&p->etags, hash_pl(&t), &pub->hle, pub);
}

static void handle_publish(struct presence *p, struct worker_ctx *w,
			   struct sip_txn *st, const struct sip_msg *msg)
{
	const struct sip_hdr *im = sip_msg_hdr(msg, SIP_HDR_SIP_IF_MATCH);
	const struct sip_hdr *ct = sip_msg_hdr(msg, SIP_HDR_CONTENT_TYPE);
	struct publication *pub = NULL;
	struct presentity *pr;
	struct pidf_doc *doc = NULL;
	struct sip_addr from;
	char aor[LOCATION_AOR_MAX], publisher[LOCATION_AOR_MAX], hdrs[128];
	char *body = NULL;
	uint32_t e;
	bool changed = false;
	char tag[SIP_TAG_SIZE];
	int err;

	tl_db_queued = false;
	if (!event_is_presence(msg)) {
		p->c.publish_rejected++;
		reply_status(w, st, msg, 489, NULL, ALLOW_EVENTS);
		return;
	}
	if (check_request(p, w, st, msg, true, aor, publisher, &from) ||
	    expires_get(p, w, st, msg, &e)) {
		p->c.publish_rejected++;
		return;
	}
	if (msg->body.l) {
		/* RFC 3903 §6 step 4 */
		if (!ct || !pidf_is_ctype(&ct->value)) {
			p->c.publish_rejected++;
			reply_status(w, st, msg, 415, NULL,
				     "Accept: " PIDF_CTYPE "\r\n");
			return;
		}
		doc = malloc(sizeof(*doc));
		body = malloc(msg->body.l);
		if (!doc || !body) {
			reply_status(w, st, msg, 500, NULL, NULL);
			goto out;
		}
		memcpy(body, msg->body.p, msg->body.l);
		err = pidf_decode(doc, body, msg->body.l);
		if (err) {
			p->c.publish_rejected++;
			reply_status(w, st, msg, err == EOVERFLOW ? 413 : 400,
				     err == EOVERFLOW ? NULL : "Bad PIDF",
				     NULL);
			goto out;
		}
	} else if (!im) {
		/* An initial publication carries state (§6 step 4). */
		p->c.publish_rejected++;
		reply_status(w, st, msg, 400, "Missing Body", NULL);
		goto out;
	}
	pthread_mutex_lock(&p->mu);
	if (im) {
		pub = etag_find(p, &im->value);
		if (!pub || strcmp(pub->pr->aor, aor)) {
			/* §6 step 3 */
			p->c.publish_412++;
			pthread_mutex_unlock(&p->mu);
			reply_status(w, st, msg, 412, NULL, NULL);
			goto out;
		}
		pr = pub->pr;
	} else {
		struct le *le;
		size_t n = 0;

		pr = presentity_find(p, aor, true);
		if (!pr) {
			pthread_mutex_unlock(&p->mu);
			reply_status(w, st, msg, 500, NULL, NULL);
			goto out;
		}
		for (le = pr->pubs.head; le; le = le->next)
			n++;
		if (n >= PUBS_PER_PRESENTITY_MAX) {
			p->c.publish_rejected++;
			pthread_mutex_unlock(&p->mu);
			reply_status(w, st, msg, 403, "Too Many Publications",
				     NULL);
			goto out;
		}
	}
	if (!e) {
		/* §6 step 6: a removal; what it had is gone. */
		if (!pub) {
			presentity_maybe_free(p, pr);
			pthread_mutex_unlock(&p->mu);
			reply_status(w, st, msg, 200, NULL, "Expires: 0\r\n");
			goto out;
		}
		p->c.publish_remove++;
		pub_free(p, pub, true);
		pub = NULL;
		pr = presentity_find(p, aor, false);
		changed = true;
		snprintf(hdrs, sizeof(hdrs), "Expires: 0\r\n");
	} else {
		if (!pub) {
			pub = calloc(1, sizeof(*pub));
			if (!pub) {
				pthread_mutex_unlock(&p->mu);
				reply_status(w, st, msg, 500, NULL, NULL);
				goto out;
			}
			pub->pr = pr;
			pub->id = hash_mix64(++p->etag_seq ^ p->env->secret ^
					     0x9e3779b97f4a7c15ull);
			list_append(&p->all_pubs, &pub->ale, pub);
			p->npubs++;
			p->c.publish_initial++;
		} else if (doc) {
			p->c.publish_modify++;
		} else {
			p->c.publish_refresh++;
		}
		if (doc) {
			free(pub->body);
			pub->body = body;
			pub->body_len = msg->body.l;
			pub->doc = *doc;
			pub->updated = ++p->pub_seq;
			body = NULL;
			changed = true;
			/* Newest first: its tuples win the composition. */
			list_unlink(&pub->ple);
			list_prepend(&pr->pubs, &pub->ple, pub);
		}
		pub->expires = worker_now_s() + e;
		/* §6 step 8: a new entity-tag for every success. */
		etag_new(p, pub);
		snprintf(hdrs, sizeof(hdrs), "SIP-ETag: %s\r\nExpires: %u\r\n",
			 pub->etag, e);
		persist_pub(p, pub);
	}
	sip_build_tag(tag);
	reply_tagged(p, w, st, msg, 200, tag, hdrs);
	/* A presentity gone with its last publication had no watcher. */
	if (changed && pr)
		notify_all(p, w, pr);
	pthread_mutex_unlock(&p->mu);
out:
	free(doc);
	free(body);
}

void presence_handle(struct presence *p, struct worker_ctx *w,
		     struct sip_txn *st, const struct sip_msg *msg)
{
	if (msg->method_id == SIP_METHOD_SUBSCRIBE)
		handle_subscribe(p, w, st, msg);
	else
		handle_publish(p, w, st, msg);
}

/* ------------------------------------------------------------------ */
/* Expiry, shutdown, stats                                             */

void presence_tick(struct presence *p, struct worker_ctx *w)
{
	struct box *bx;
	struct le *le, *next;
	uint64_t now = worker_now_s();

	if (!p)
		return;
	bx = &p->boxes[w->idx];
	pthread_mutex_lock(&p->mu);
	if (bx->last_sweep_s == now) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	bx->last_sweep_s = now;
	for (le = bx->subs.head; le; le = next) {
		struct subscription *s = le->data;

		next = le->next;
		/* Restored from the database: worker 0 adopts them. */
		if (!s->w && !s->terminated)
			s->w = w;
		if (s->terminated || s->expires > now)
			continue;
		/* RFC 6665 §4.2.2: terminated;reason=timeout. */
		p->c.subscribe_expired++;
		obj_ref(s);
		notify_send(p, w, s, "timeout", NULL, 0);
		sub_kill(p, s);
		next = le_linked(&s->wle) ? s->wle.next : bx->subs.head;
		obj_deref(s);
	}
	if (w->idx == 0) {
		for (le = p->all_pubs.head; le; le = next) {
			struct publication *pub = le->data;
			struct presentity *pr = pub->pr;
			char aor[LOCATION_AOR_MAX];

			next = le->next;
			if (pub->expires > now)
				continue;
			/* RFC 3903 §6: an expired publication is removed. */
			p->c.publish_expired++;
			snprintf(aor, sizeof(aor), "%s", pr->aor);
			pub_free(p, pub, true);
			pr = presentity_find(p, aor, false);
			if (pr)
				notify_all(p, w, pr);
		}
	}
	pthread_mutex_unlock(&p->mu);
}

void presence_worker_stop(struct presence *p, struct worker_ctx *w)
{
	struct box *bx;

	if (!p)
		return;
	bx = &p->boxes[w->idx];
	pthread_mutex_lock(&p->mu);
	bx->stopped = true;
	while (bx->jobs.head) {
		struct pjob *j = bx->jobs.head->data;

		list_unlink(&j->le);
		obj_deref(j->body);
		obj_deref(j->s);
		free(j);
	}
	while (bx->subs.head) {
		struct subscription *s = bx->subs.head->data;
		unsigned i;

		/* The transactions and the connection are this worker's:
		 * let go of them here, on its thread. */
		for (i = 0; i < s->nct; i++) {
			sip_txn_client_detach(s->ct[i]);
			obj_deref(s->ct[i]);
		}
		s->nct = 0;
		s->dst.conn = obj_deref(s->dst.conn);
		s->w = NULL;
		obj_ref(s);
		sub_kill(p, s);
		sub_release(p, s);
		obj_deref(s);
	}
	pthread_mutex_unlock(&p->mu);
}

void presence_stats(struct presence *p, json_t *stats)
{
	struct presence_counters c;
	json_t *o, *x;
	size_t nsubs, npubs, npres;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	c = p->c;
	nsubs = p->nsubs;
	npubs = p->npubs;
	npres = p->npresentities;
	pthread_mutex_unlock(&p->mu);
	o = json_object();
	if (!o)
		return;
#define NUM(obj, name, v) \
	json_object_set_new(obj, name, json_integer((json_int_t)(v)))
	NUM(o, "subscriptions", nsubs);
	NUM(o, "publications", npubs);
	NUM(o, "presentities", npres);
	x = json_object();
	NUM(x, "new", c.subscribe_new);
	NUM(x, "refreshed", c.subscribe_refresh);
	NUM(x, "removed", c.subscribe_remove);
	NUM(x, "expired", c.subscribe_expired);
	NUM(x, "unknown_dialog", c.subscribe_481);
	NUM(x, "rejected", c.subscribe_rejected);
	json_object_set_new(o, "subscribe", x);
	x = json_object();
	NUM(x, "sent", c.notify_sent);
	NUM(x, "answered", c.notify_answered);
	NUM(x, "failed", c.notify_failed);
	NUM(x, "send_errors", c.notify_send_errors);
	NUM(x, "subscriptions_removed", c.subs_removed_by_notify);
	NUM(x, "from_other_workers", c.notify_jobs);
	json_object_set_new(o, "notify", x);
	x = json_object();
	NUM(x, "initial", c.publish_initial);
	NUM(x, "refreshed", c.publish_refresh);
	NUM(x, "modified", c.publish_modify);
	NUM(x, "removed", c.publish_remove);
	NUM(x, "expired", c.publish_expired);
	NUM(x, "unknown_etag", c.publish_412);
	NUM(x, "rejected", c.publish_rejected);
	json_object_set_new(o, "publish", x);
	NUM(o, "db_statements", c.db_statements);
	NUM(o, "db_errors", c.db_errors);
#undef NUM
	json_object_set_new(stats, "presence", o);
}
