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

#define ALLOW_EVENTS "Allow-Events: presence\r\n"

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

void presence_unpersist_pub(struct presence *p, const struct publication *pub);

/* Frees a publication; removed from the database too when unpersist. */
static void pub_free(struct presence *p, struct publication *pub,
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
		pub_free(p, p->all_pubs.head->data, false);
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
	return (uint32_t)hash_fnv64(s, strlen(s));
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
	uint64_t h = hash_fnv64(call_id->p, call_id->l);

	return (uint32_t)hash_mix64(h ^ hash_fnv64(ltag->p, ltag->l));
}

static struct subscription *dialog_find(struct presence *p,
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
/* Requests                                                            */

/*
 * Sends the response built in w->out now, or with write-through once
 * what this request queued is committed (500 if that fails), like the
 * registrar's 200.
 */
static void send_reply(struct presence *p, struct worker_ctx *w,
		       struct sip_txn *st, const struct sip_msg *msg)
{
	const struct presence_env *env = p->env;

	if (!presence_store_queued() ||
	    env->cfg->db_mode != STATEFUL_DB_WRITE_THROUGH) {
		reply_send(w, st, w->out.data, w->out.len);
		return;
	}
	reply_after_commit(w, env->db, st, msg);
}

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

	if (h && pl_u32(&h->value, &v)) {
		reply_status(w, st, msg, 400, "Bad Expires", NULL);
		return EBADMSG;
	}
	/* RFC 6665 §4.2.1.1, RFC 3903 §6 step 5: 423. */
	if (reply_expires_bound(w, st, msg, v, cfg->presence_min_expires,
				cfg->presence_max_expires, e))
		return ERANGE;
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
	s = obj_alloc(sizeof(*s), presence_sub_destroy);
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

/* The 200 of a SUBSCRIBE: Expires and our Contact (RFC 6665 §4.2.1.2). */
static void answer_subscribe(struct presence *p, struct worker_ctx *w,
			     struct sip_txn *st, const struct sip_msg *msg,
			     const struct subscription *s, uint32_t e)
{
	char hdrs[SIP_TP_ADDR_STRLEN + 200], contact[SIP_TP_ADDR_STRLEN + 96];

	presence_our_contact(w, sip_txn_dest(st)->tp, "presence", contact,
			     sizeof(contact));
	{
		struct sip_uri ru;

		if (!sip_uri_decode(&ru, &msg->ruri) && ru.user.l) {
			char user[LOCATION_AOR_MAX];

			if (!pl_strcpy(&ru.user, user, sizeof(user)))
				presence_our_contact(w, sip_txn_dest(st)->tp,
						     user, contact,
						     sizeof(contact));
		}
	}
	snprintf(hdrs, sizeof(hdrs), "Expires: %u\r\nContact: %s\r\n", e,
		 contact);
	reply_tagged(p, w, st, msg, 200, s->local_tag, hdrs);
}

/* A new subscription s of presentity pr joins the tables (lock held). */
static void link_sub(struct presence *p, struct worker_ctx *w,
		     const struct sip_msg *msg, struct subscription *s,
		     struct presentity *pr)
{
	p->c.subscribe_new++;
	s->pr = pr;
	list_append(&pr->subs, &s->ple, s);
	hash_append(&p->dialogs,
		    presence_dialog_key(&msg->call_id,
					&(struct pl){s->local_tag,
						     strlen(s->local_tag)}),
		    &s->hle, s);
	list_append(&p->boxes[w->idx].subs, &s->wle, s);
	p->boxes[w->idx].w = w;
	p->nsubs++;
}

/*
 * The NOTIFY that follows a SUBSCRIBE's 200 (b: scratch): the current
 * state, terminated when e is 0 (lock held).
 */
static void notify_subscriber(struct presence *p, struct worker_ctx *w,
			      struct subscription *s,
			      const struct presentity *pr, uint32_t e,
			      struct buf *b)
{
	if (!e) {
		/* An unsubscribe or a fetch (RFC 6665 §4.4.3): the current
		 * state in a terminated NOTIFY. */
		if (s->w == w) {
			bool ok = !presence_compose(
				p, pr,
				p->filter ? presence_filter_find(p->filter,
								 s->watcher)
					  : NULL,
				p->filter != NULL, b);

			presence_notify_send(p, w, s, "timeout",
					     ok ? b->data : NULL,
					     ok ? b->len : 0);
			presence_sub_kill(p, s);
		} else if (s->w) {
			/* Its transactions are its presence_owner's to start. */
			presence_post_job(p, s, NULL);
		}
	} else if (!presence_compose(p, pr,
				     p->filter ? presence_filter_find(
							 p->filter, s->watcher)
					       : NULL,
				     p->filter != NULL, b)) {
		presence_notify_change(p, w, s, NULL, b);
	}
}

static void handle_subscribe(struct presence *p, struct worker_ctx *w,
			     struct sip_txn *st, const struct sip_msg *msg)
{
	struct subscription *s = NULL;
	struct presentity *pr;
	struct sip_addr from;
	char aor[LOCATION_AOR_MAX], watcher[LOCATION_AOR_MAX];
	uint32_t e;
	bool initial = !msg->to_tag.l;
	struct buf b;

	presence_store_begin();
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
		presence_owner(p, s);
		obj_ref(s);
	} else {
		if (sub_new(p, w, st, msg, &from, watcher, &s)) {
			pthread_mutex_unlock(&p->mu);
			goto out;
		}
	}
	pr = initial ? presence_presentity_find(p, aor, true) : s->pr;
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
		presence_persist_sub(p, s);
	else
		presence_unpersist_sub(p, s);
	/* The 200 first, then the NOTIFY (RFC 6665 §4.2.1.2). */
	answer_subscribe(p, w, st, msg, s, e);
	if (initial) {
		link_sub(p, w, msg, s, pr);
		obj_ref(s); /* ours until the end of the function */
	} else if (e) {
		p->c.subscribe_refresh++;
	} else {
		p->c.subscribe_remove++;
	}
	notify_subscriber(p, w, s, pr, e, &b);
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

/*
 * The PIDF body of a PUBLISH (RFC 3903 §6 step 4), decoded into *docp
 * viewing *bodyp (both the caller's to free, written even on error).
 * Returns 0 (also with no body, a refresh), else the answer was sent.
 */
static int read_body(struct presence *p, struct worker_ctx *w,
		     struct sip_txn *st, const struct sip_msg *msg,
		     bool has_etag, struct pidf_doc **docp, char **bodyp)
{
	const struct sip_hdr *ct = sip_msg_hdr(msg, SIP_HDR_CONTENT_TYPE);
	struct pidf_doc *doc;
	char *body;
	int err;

	if (msg->body.l) {
		/* RFC 3903 §6 step 4 */
		if (!ct || !pidf_is_ctype(&ct->value)) {
			p->c.publish_rejected++;
			reply_status(w, st, msg, 415, NULL,
				     "Accept: " PIDF_CTYPE "\r\n");
			return EPROTO;
		}
		*docp = doc = malloc(sizeof(*doc));
		*bodyp = body = malloc(msg->body.l);
		if (!doc || !body) {
			reply_status(w, st, msg, 500, NULL, NULL);
			return ENOMEM;
		}
		memcpy(body, msg->body.p, msg->body.l);
		err = pidf_decode(doc, body, msg->body.l);
		if (err) {
			p->c.publish_rejected++;
			reply_status(w, st, msg, err == EOVERFLOW ? 413 : 400,
				     err == EOVERFLOW ? NULL : "Bad PIDF",
				     NULL);
			return EBADMSG;
		}
	} else if (!has_etag) {
		/* An initial publication carries state (§6 step 4). */
		p->c.publish_rejected++;
		reply_status(w, st, msg, 400, "Missing Body", NULL);
		return EBADMSG;
	}
	return 0;
}

/* A new publication of pr (its ETag comes with the answer). */
static struct publication *pub_new(struct presence *p, struct presentity *pr)
{
	struct publication *pub = calloc(1, sizeof(*pub));

	if (!pub)
		return NULL;
	pub->pr = pr;
	pub->id = hash_mix64(++p->etag_seq ^ p->env->secret ^
			     0x9e3779b97f4a7c15ull);
	list_append(&p->all_pubs, &pub->ale, pub);
	p->npubs++;
	p->c.publish_initial++;
	return pub;
}

static void handle_publish(struct presence *p, struct worker_ctx *w,
			   struct sip_txn *st, const struct sip_msg *msg)
{
	const struct sip_hdr *im = sip_msg_hdr(msg, SIP_HDR_SIP_IF_MATCH);
	struct publication *pub = NULL;
	struct presentity *pr;
	struct pidf_doc *doc = NULL;
	struct sip_addr from;
	char aor[LOCATION_AOR_MAX], publisher[LOCATION_AOR_MAX], hdrs[128];
	char *body = NULL;
	uint32_t e;
	bool changed = false;
	char tag[SIP_TAG_SIZE];

	presence_store_begin();
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
	if (read_body(p, w, st, msg, !!im, &doc, &body))
		goto out;
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

		pr = presence_presentity_find(p, aor, true);
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
			presence_presentity_maybe_free(p, pr);
			pthread_mutex_unlock(&p->mu);
			reply_status(w, st, msg, 200, NULL, "Expires: 0\r\n");
			goto out;
		}
		p->c.publish_remove++;
		pub_free(p, pub, true);
		pub = NULL;
		pr = presence_presentity_find(p, aor, false);
		changed = true;
		snprintf(hdrs, sizeof(hdrs), "Expires: 0\r\n");
	} else {
		if (!pub) {
			pub = pub_new(p, pr);
			if (!pub) {
				pthread_mutex_unlock(&p->mu);
				reply_status(w, st, msg, 500, NULL, NULL);
				goto out;
			}
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
		presence_persist_pub(p, pub);
	}
	sip_build_tag(tag);
	reply_tagged(p, w, st, msg, 200, tag, hdrs);
	/* A presentity gone with its last publication had no watcher. */
	if (changed && pr)
		presence_notify_all(p, w, pr);
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
			pub_free(p, pub, true);
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
