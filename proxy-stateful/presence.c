/*
 * presence.c - the presence agent's tables: presentities, publications,
 * subscriptions by dialog; their expiry, shutdown and figures
 * (presence.h, presence_state.h).
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
#include "presence_filter.h"
#include "presence_state.h"
#include "reply.h"
#include "sip_build.h"
#include "sip_uri.h"

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
		err = presence_filter_load(&p->filter,
					   env->cfg->presence_filter);
		if (!err)
			log_info("presence filter: %zu watchers from %s",
				 presence_filter_count(p->filter),
				 env->cfg->presence_filter);
	}
	if (err) {
		presence_free(p);
		return err;
	}
	*pp = p;
	return 0;
}

void presence_pbody_destroy(void *arg)
{
	(void)arg;
}

void presence_sub_destroy(void *arg)
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

void presence_presentity_maybe_free(struct presence *p, struct presentity *pr)
{
	if (!pr || !list_isempty(&pr->pubs) || !list_isempty(&pr->subs))
		return;
	list_unlink(&pr->hle);
	p->npresentities--;
	free(pr);
}

/* Frees a publication; removed from the database too when unpersist. */
void presence_pub_free(struct presence *p, struct publication *pub,
		       bool unpersist)
{
	struct presentity *pr = pub->pr;

	if (unpersist)
		presence_unpersist_pub(p, pub);
	list_unlink(&pub->ple);
	list_unlink(&pub->hle);
	list_unlink(&pub->ale);
	free(pub->body);
	free(pub);
	p->npubs--;
	presence_presentity_maybe_free(p, pr);
}

void presence_free(struct presence *p)
{
	unsigned i;

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
				presence_presentity_maybe_free(p, pr);
			}
			obj_deref(s);
		}
	}
	while (p->all_pubs.head)
		presence_pub_free(p, p->all_pubs.head->data, false);
	free(p->boxes);
	presence_filter_free(p->filter);
	hash_free(&p->presentities);
	hash_free(&p->dialogs);
	hash_free(&p->etags);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static uint32_t str_key(const char *s)
{
	return hash_keyed32(s, strlen(s));
}

struct presentity *presence_presentity_find(struct presence *p,
					    const char *aor, bool create)
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

uint32_t presence_dialog_key(const struct pl *call_id, const struct pl *ltag)
{
	/* Keyed: the peer chooses the Call-ID (and the tag, in a
	 * forged request). */
	static const unsigned char sep = 0xff;
	struct hash_sip h;

	hash_sip_init(&h, hash_process_key());
	hash_sip_add(&h, call_id->p, call_id->l);
	hash_sip_add(&h, &sep, 1);
	hash_sip_add(&h, ltag->p, ltag->l);
	return (uint32_t)hash_sip_end(&h);
}

struct subscription *presence_dialog_find(struct presence *p,
					  const struct sip_msg *msg)
{
	struct le *le;

	for (le = hash_bucket(&p->dialogs,
			      presence_dialog_key(&msg->call_id, &msg->to_tag))
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
		presence_notify_send(p, w, s, "timeout", NULL, 0);
		presence_sub_kill(p, s);
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
			presence_pub_free(p, pub, true);
			pr = presence_presentity_find(p, aor, false);
			if (pr)
				presence_notify_all(p, w, pr);
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
		presence_sub_kill(p, s);
		presence_sub_release(p, s);
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
