/*
 * presence_request.c - SUBSCRIBE (RFC 6665, RFC 3856) and PUBLISH
 * (RFC 3903) for the users of our domain: checks, the tables' changes,
 * the answer (presence.h: presence_handle()).
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
	reply_after_commit(w, env->db, st, msg, NULL, NULL);
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
		s = presence_dialog_find(p, msg);
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
		presence_pub_free(p, pub, true);
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
