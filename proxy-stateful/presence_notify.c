/*
 * presence_notify.c - the presence agent's documents and NOTIFYs
 * (RFC 6665 §4.2.2): composed once per change (filtered per watcher),
 * sent by the worker that owns each subscription, handed to it as a job
 * when another worker saw the change (presence_state.h).
 */
#include "presence_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "presence"
#include "addressing.h"
#include "dbqueue.h"
#include "log.h"
#include "obj.h"
#include "reply.h"
#include "sip_build.h"
#include "sip_uri.h"

/* ------------------------------------------------------------------ */
/* Composition                                                         */

/* The presentity's document for one watcher (filter entry e). */
int presence_compose(struct presence *p, const struct presentity *pr,
		     const struct presence_filter_entry *e, bool filtered,
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
			    filtered ? presence_filter_allows : NULL,
			    (void *)e);
}

static struct pbody *pbody_new(const struct buf *b)
{
	struct pbody *pb =
		obj_alloc(sizeof(*pb) + b->len, presence_pbody_destroy);

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
void presence_our_contact(const struct worker_ctx *w, enum sip_transport tp,
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

void presence_sub_release(struct presence *p, struct subscription *s)
{
	(void)p;
	if (!le_linked(&s->wle))
		return;
	list_unlink(&s->wle);
	obj_deref(s);
}

/* Ends the subscription: out of the tables at once, freed when its last
 * NOTIFY is over. */

void presence_sub_kill(struct presence *p, struct subscription *s)
{
	struct presentity *pr = s->pr;

	if (s->terminated)
		return;
	s->terminated = true;
	/* Not at shutdown (no presence_owner any more): it is to be restored. */
	if (s->w)
		presence_unpersist_sub(p, s);
	list_unlink(&s->ple);
	list_unlink(&s->hle);
	s->pr = NULL;
	p->nsubs--;
	presence_presentity_maybe_free(p, pr);
	if (!s->nct)
		presence_sub_release(p, s);
}

static void notify_event(struct sip_txn *t, enum sip_txn_event ev,
			 const struct sip_msg *msg, int err, void *arg);

/*
 * Sends one NOTIFY of s on w (its presence_owner): active, or terminated with
 * reason; with a PIDF body unless body is NULL.  Lock held.
 */
void presence_notify_send(struct presence *p, struct worker_ctx *w,
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
		presence_our_contact(w, s->dst.tp, user, contact,
				     sizeof(contact));
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
		presence_sub_kill(p, s);
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
		presence_sub_kill(p, s);
	else if (s->terminated && !s->nct)
		presence_sub_release(p, s);
	pthread_mutex_unlock(&p->mu);
	obj_deref(s);
}

static void drain(void *arg);

/*
 * Leaves s's presence_owner a job: a NOTIFY with body pb (a new reference is
 * taken), or with pb NULL the end of the subscription (lock held).
 */
void presence_post_job(struct presence *p, struct subscription *s,
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
 * A subscription restored from the database has no presence_owner until worker 0
 * adopts it (here, or at its first tick); NULL once its presence_owner stopped.
 */
struct worker_ctx *presence_owner(struct presence *p, struct subscription *s)
{
	if (!s->w && !s->terminated && p->env->worker0 && !p->boxes[0].stopped)
		s->w = p->env->worker0;
	return s->w;
}

/* The NOTIFY of a change, for whichever worker owns s (lock held). */
void presence_notify_change(struct presence *p, struct worker_ctx *w,
			    struct subscription *s, struct pbody *pb,
			    const struct buf *b)
{
	struct pbody *own = NULL;

	if (s->terminated || !presence_owner(p, s))
		return;
	if (s->w == w) {
		presence_notify_send(p, w, s, NULL, b->data, b->len);
		return;
	}
	if (!pb)
		pb = own = pbody_new(b);
	if (!pb) {
		p->c.notify_send_errors++;
		return;
	}
	presence_post_job(p, s, pb);
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
			presence_notify_send(p, j->s->w, j->s, NULL,
					     j->body->data, j->body->len);
		} else if (!j->s->terminated && j->s->w) {
			presence_notify_send(p, j->s->w, j->s, "timeout", NULL,
					     0);
			presence_sub_kill(p, j->s);
		}
		obj_deref(j->body);
		obj_deref(j->s);
		free(j);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Every watcher of pr learns its new state (lock held). */
void presence_notify_all(struct presence *p, struct worker_ctx *w,
			 struct presentity *pr)
{
	struct pbody *shared = NULL;
	struct buf b;
	struct le *le, *next;

	buf_init(&b, BODY_MAX);
	if (!p->filter && presence_compose(p, pr, NULL, false, &b)) {
		p->c.notify_send_errors++;
		goto out;
	}
	for (le = pr->subs.head; le; le = next) {
		struct subscription *s = le->data;

		next = le->next;
		if (p->filter) {
			buf_reset(&b);
			if (presence_compose(p, pr,
					     presence_filter_find(p->filter,
								  s->watcher),
					     true, &b)) {
				p->c.notify_send_errors++;
				continue;
			}
		} else if (!shared && s->w != w) {
			shared = pbody_new(&b);
		}
		presence_notify_change(p, w, s, p->filter ? NULL : shared, &b);
	}
out:
	obj_deref(shared);
	buf_free(&b);
}
