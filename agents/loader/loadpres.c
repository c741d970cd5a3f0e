/*
 * loadpres.c - the loader's presence tests (see loadpres.h).
 */
#include "loadpres.h"

#define LOG_MODULE "loadpres"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "ev.h"
#include "hash.h"
#include "loadcfg.h"
#include "loadcount.h"
#include "loadcred.h"
#include "loadmsg.h"
#include "log.h"
#include "obj.h"
#include "sip_auth.h"
#include "sip_build.h"
#include "sip_tp.h"
#include "sip_txn_tp.h"

#define CALL_ID_SIZE 48
#define TARGET_MAX 256
#define ETAG_MAX 128
#define BODY_MAX 60000

enum sub_state {
	SUB_PENDING = 1, /* initial SUBSCRIBE sent */
	SUB_ACTIVE,	 /* 2xx (or a NOTIFY) came */
	SUB_ENDING,	 /* Expires: 0 sent, terminated NOTIFY awaited */
};

struct lp_sub;
struct lp_pub;

/* One user of the worker: watcher (subscribe) or presentity (publish). */
struct lp_slot {
	uint32_t num;
	struct sip_auth_client **auth;
	struct lp_sub *sub;
	struct lp_pub *pub;
	uint64_t seq; /* publications sent */
	char etag[ETAG_MAX];
};

struct lp_sub {
	struct le le; /* in lp->subs, by Call-ID */
	struct loadpres *lp;
	struct lp_slot *s;
	uint32_t pres; /* the presentity's number */
	enum sub_state state;
	bool got_2xx, got_notify, settled;
	bool refreshing; /* the transaction in ct is a refresh */
	unsigned auth_tries;
	bool proxy_auth;
	uint32_t cseq;
	uint32_t expires; /* granted */
	struct sip_txn *ct;
	uint64_t t_start;
	unsigned cohort;	 /* sent in (loadcount.h) */
	struct ev_timer wait;	 /* first or terminated NOTIFY */
	struct ev_timer refresh; /* the next refresh */
	char call_id[CALL_ID_SIZE];
	char tag[SIP_TAG_SIZE];
	char rtag[128];
	char target[TARGET_MAX];
};

struct lp_pub {
	struct loadpres *lp;
	struct lp_slot *s;
	struct sip_txn *ct;
	uint64_t t_start;
	unsigned cohort; /* sent in (loadcount.h) */
	unsigned auth_tries;
	bool proxy_auth;
	bool retried_412;
	uint32_t cseq;
	char call_id[CALL_ID_SIZE];
	char tag[SIP_TAG_SIZE];
};

struct loadpres {
	struct loadpres_env env;
	struct loadcfg pcfg; /* the presentities' names */
	struct lp_slot *slots;
	struct hash subs;
	uint64_t nsubs, npubs;
	uint64_t unsettled;
	uint64_t next_pres;
	bool draining;
	struct buf out, hdrs;
	char *body;
};

/* ---- the body ---- */

static const char body_head[] = "<?xml version=\"1.0\" "
				"encoding=\"UTF-8\"?>\r\n"
				"<presence "
				"xmlns=\"urn:ietf:params:xml:ns:pidf\" "
				"entity=\"";
static const char body_mid[] = "\">\r\n"
			       "<tuple id=\"sipstone\"><status><basic>open"
			       "</basic></status></tuple>\r\n"
			       "<note>sipstone seq=";
static const char body_ts[] = " ts=";
static const char body_tail[] = "</note>\r\n</presence>\r\n";
#define STAMP_DIGITS 20

size_t loadpres_body_min(const char *entity)
{
	return sizeof(body_head) - 1 + strlen(entity) + sizeof(body_mid) - 1 +
	       STAMP_DIGITS + sizeof(body_ts) - 1 + STAMP_DIGITS +
	       sizeof(body_tail) - 1;
}

int loadpres_body(char *out, size_t outsz, const char *entity, uint64_t seq,
		  uint64_t ts_ns, size_t size)
{
	size_t min = loadpres_body_min(entity), pad;
	int n;

	if (size && size < min)
		return EOVERFLOW;
	pad = size ? size - min : 0;
	if (min + pad >= outsz)
		return EOVERFLOW;
	/* Fixed-width numbers: the size is the same for every
	 * publication; the padding goes before the note's end, where an
	 * XML rewrite by the server keeps it. */
	n = snprintf(out, outsz, "%s%s%s%0*llu%s%0*llu", body_head, entity,
		     body_mid, STAMP_DIGITS, (unsigned long long)seq, body_ts,
		     STAMP_DIGITS, (unsigned long long)ts_ns);
	if (n < 0 || (size_t)n + pad + sizeof(body_tail) > outsz)
		return EOVERFLOW;
	if (pad) {
		out[n] = ' ';
		memset(out + n + 1, 'x', pad - 1);
	}
	memcpy(out + n + pad, body_tail, sizeof(body_tail));
	return 0;
}

/* ---- helpers ---- */

static bool is_publish(const struct loadpres *lp)
{
	return lp->env.cfg->test == LOADCFG_PUBLISH;
}

static void maybe_idle(struct loadpres *lp)
{
	if (lp->draining && !lp->nsubs && !lp->npubs && lp->env.idle)
		lp->env.idle(lp->env.arg);
}

/* The cohort of the attempt being started (loadcount.h). */
static unsigned cohort_now(const struct loadpres *lp)
{
	return lp->env.cohort ? *lp->env.cohort : 0;
}

/* An attempt's outcome, once. */

static void outcome(struct loadpres *lp, unsigned cohort,
		    enum loadcount_outcome o)
{
	lp->unsettled--;
	loadcount_outcome(lp->env.c, lp->env.mu, o, cohort);
}

/* The final of an attempt's request: codes and rtt. */
static void final_of(struct loadpres *lp, uint64_t t_start, uint16_t status)
{
	struct loadcount *k = lp->env.c;

	pthread_mutex_lock(lp->env.mu);
	hist_add(&k->rtt, loadcount_us_since(lp->env.rx_ns, t_start));
	if (status < LOADCOUNT_CODES)
		k->codes[status]++;
	pthread_mutex_unlock(lp->env.mu);
}

static bool has_password(const struct loadpres *lp)
{
	return lp->env.cfg->password[0] || lp->env.cfg->passwords;
}

/* ---- subscriptions ---- */

static void sub_free(struct lp_sub *sb)
{
	struct loadpres *lp = sb->lp;

	list_unlink(&sb->le);
	ev_timer_cancel(lp->env.ev, &sb->wait);
	ev_timer_cancel(lp->env.ev, &sb->refresh);
	sip_txn_client_detach(sb->ct);
	sb->ct = obj_deref(sb->ct);
	if (sb->s->sub == sb)
		sb->s->sub = NULL;
	if (!sb->settled)
		lp->unsettled--; /* only at loadpres_free */
	free(sb);
	lp->nsubs--;
	maybe_idle(lp);
}

/* Ends an attempt that failed: outcome and the dialog go. */
static void sub_fail(struct lp_sub *sb, enum loadcount_outcome o)
{
	if (!sb->settled) {
		sb->settled = true;
		outcome(sb->lp, sb->cohort, o);
	}
	sub_free(sb);
}

static void sub_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg);

/* SUBSCRIBE of sb with Expires: expires (0 unsubscribes), in the
 * dialog once the far end's tag is known. */
static int sub_send(struct lp_sub *sb, uint32_t expires)
{
	struct loadpres *lp = sb->lp;
	const struct loadcfg *cfg = lp->env.cfg;
	char user[LOADCFG_NAME_MAX * 2], pres[LOADCFG_NAME_MAX * 2];
	char branch[SIP_BRANCH_SIZE], via[256], from[256], to[256];
	char ruri[TARGET_MAX], contact[256];
	struct sip_build_req br;
	struct sip_txn_dest dst;
	int err;

	if (loadcfg_user_name(cfg, sb->s->num, user, sizeof(user)) ||
	    loadcfg_user_name(&lp->pcfg, sb->pres, pres, sizeof(pres)))
		return EOVERFLOW;
	sip_build_branch(branch);
	if (loadmsg_via(via, sizeof(via), cfg->server.proto, lp->env.hostport,
			branch) ||
	    loadmsg_addr(from, sizeof(from), user, cfg->domain, NULL) ||
	    loadmsg_addr(to, sizeof(to), pres, cfg->domain, NULL))
		return EOVERFLOW;
	/* §4.1.2.1 of RFC 6665: a refresh goes to the remote target */
	if (sb->target[0])
		snprintf(ruri, sizeof(ruri), "%s", sb->target);
	else
		snprintf(ruri, sizeof(ruri), "sip:%s@%s", pres, cfg->domain);
	if (loadmsg_addr(contact, sizeof(contact), user, lp->env.hostport,
			 loadmsg_tp_param(cfg->server.proto)))
		return EOVERFLOW;
	buf_reset(&lp->hdrs);
	err = buf_printf(&lp->hdrs,
			 "Event: presence\r\n"
			 "Accept: application/pidf+xml\r\n"
			 "Expires: %u\r\n",
			 expires);
	if (!err)
		err = loadcred_header(&lp->hdrs, cfg, *sb->s->auth,
				      sb->auth_tries, sb->proxy_auth,
				      "SUBSCRIBE", ruri);
	if (err)
		return err;
	memset(&br, 0, sizeof(br));
	br.method = loadmsg_pl("SUBSCRIBE");
	br.ruri = loadmsg_pl(ruri);
	br.via = loadmsg_pl(via);
	br.from = loadmsg_pl(from);
	br.from_tag = loadmsg_pl(sb->tag);
	br.to = loadmsg_pl(to);
	br.to_tag = loadmsg_pl(sb->rtag);
	br.call_id = loadmsg_pl(sb->call_id);
	br.cseq = sb->cseq;
	br.contact = loadmsg_pl(contact);
	br.hdrs = buf_pl(&lp->hdrs);
	buf_reset(&lp->out);
	err = sip_build_request(&lp->out, &br);
	if (err)
		return err;
	sip_txn_tp_dest(&dst, &lp->env.cfg->server, NULL);
	sip_txn_client_detach(sb->ct);
	sb->ct = obj_deref(sb->ct);
	return loadmsg_client_start(&sb->ct, lp->env.txl, &dst, branch,
				    &br.method, &lp->out, sub_event, sb);
}

static void on_refresh(void *arg);

static void refresh_arm(struct lp_sub *sb)
{
	struct loadpres *lp = sb->lp;
	uint64_t ms = lp->env.cfg->pres.refresh_s
			      ? 1000ull * lp->env.cfg->pres.refresh_s
			      : 800ull * (sb->expires ? sb->expires : 1);

	ev_timer_start(lp->env.ev, &sb->refresh, EV_MS(ms), on_refresh, sb);
}

static uint32_t timer_f_ms(const struct loadpres *lp)
{
	const struct loadcfg *cfg = lp->env.cfg;

	if (cfg->timer_b_ms)
		return cfg->timer_b_ms;
	return 64u * (cfg->t1_ms ? cfg->t1_ms : 500u);
}

static void unsubscribe(struct lp_sub *sb);

/* The 2xx and the first NOTIFY have both come: the attempt worked. */
static void sub_maybe_settle(struct lp_sub *sb)
{
	struct loadpres *lp = sb->lp;

	if (sb->settled || !sb->got_2xx || !sb->got_notify)
		return;
	sb->settled = true;
	ev_timer_cancel(lp->env.ev, &sb->wait);
	outcome(lp, sb->cohort, LOADCOUNT_OK);
	if (lp->draining)
		unsubscribe(sb);
	else
		refresh_arm(sb);
}

static void on_wait(void *arg)
{
	struct lp_sub *sb = arg;
	struct loadpres *lp = sb->lp;

	if (sb->state == SUB_ENDING) {
		loadcount_bump(lp->env.mu, &lp->env.c->pres.unsub_failures);
		sub_free(sb);
		return;
	}
	loadcount_bump(lp->env.mu, &lp->env.c->pres.no_notify);
	sub_fail(sb, LOADCOUNT_TIMEOUT);
}

static void unsubscribe(struct lp_sub *sb)
{
	struct loadpres *lp = sb->lp;
	int err;

	ev_timer_cancel(lp->env.ev, &sb->refresh);
	ev_timer_cancel(lp->env.ev, &sb->wait);
	sb->state = SUB_ENDING;
	sb->refreshing = false;
	sb->auth_tries = 0;
	sb->cseq++;
	loadcount_bump(lp->env.mu, &lp->env.c->pres.unsubscribes);
	err = sub_send(sb, 0);
	if (err) {
		log_debug("unsubscribe: %s", strerror(err));
		loadcount_bump(lp->env.mu, &lp->env.c->pres.unsub_failures);
		sub_free(sb);
	}
}

static void on_refresh(void *arg)
{
	struct lp_sub *sb = arg;
	struct loadpres *lp = sb->lp;
	int err;

	sb->refreshing = true;
	sb->auth_tries = 0;
	sb->cseq++;
	loadcount_bump(lp->env.mu, &lp->env.c->pres.refreshes);
	err = sub_send(sb, lp->env.cfg->expires);
	if (err) {
		loadcount_bump(lp->env.mu, &lp->env.c->pres.refresh_failures);
		sub_free(sb);
	}
	/* Timers run after the loop's flush hook: send now. */
	sip_tp_flush(lp->env.tp);
}

/* The expiry granted (§4.1.2.1: the 2xx's Expires), else ours. */
static uint32_t granted(const struct loadpres *lp, const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_EXPIRES);
	uint32_t v;

	if (h && !pl_u32(&h->value, &v))
		return v;
	return lp->env.cfg->expires;
}

static int sub_challenge(struct lp_sub *sb, const struct sip_msg *msg)
{
	struct loadpres *lp = sb->lp;
	int err;

	if (!has_password(lp))
		return EPERM;
	err = loadcred_answer(lp->env.cfg, sb->s->num, sb->s->auth,
			      sb->auth_tries, msg);
	if (err)
		return err;
	sb->auth_tries++;
	sb->proxy_auth = msg->status == 407;
	sb->cseq++; /* RFC 3261 §22.2 */
	loadcount_bump(lp->env.mu, &lp->env.c->auth_challenges);
	return sub_send(sb,
			sb->state == SUB_ENDING ? 0 : lp->env.cfg->expires);
}

static void sub_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg)
{
	struct lp_sub *sb = arg;
	struct loadpres *lp = sb->lp;
	struct loadcount_pres *k = &lp->env.c->pres;
	const struct sip_hdr *h;
	struct sip_addr a;
	uint16_t status = ev == SIP_TXN_EV_RESPONSE ? msg->status : 0;

	(void)err;
	if (t != sb->ct || ev == SIP_TXN_EV_TIMER_C ||
	    (status && status < 200))
		return;
	if ((status == 401 || status == 407) && !sub_challenge(sb, msg))
		return;
	if (sb->state == SUB_ENDING) {
		if (status >= 200 && status < 300) {
			/* the terminated NOTIFY, within Timer F */
			ev_timer_start(lp->env.ev, &sb->wait,
				       EV_MS(timer_f_ms(lp)), on_wait, sb);
			return;
		}
		loadcount_bump(lp->env.mu, &k->unsub_failures);
		sub_free(sb);
		return;
	}
	if (sb->refreshing) {
		sb->refreshing = false;
		if (status >= 200 && status < 300) {
			sb->expires = granted(lp, msg);
			refresh_arm(sb);
			return;
		}
		/* 481 and the like: the subscription is gone */
		loadcount_bump(lp->env.mu, &k->refresh_failures);
		sub_free(sb);
		return;
	}
	/* the initial SUBSCRIBE */
	if (status)
		final_of(lp, sb->t_start, status);
	if (!status) {
		sub_fail(sb, ev == SIP_TXN_EV_TIMEOUT ? LOADCOUNT_TIMEOUT
						      : LOADCOUNT_TP_ERROR);
		return;
	}
	if (status >= 300) {
		sub_fail(sb, LOADCOUNT_FAIL);
		return;
	}
	loadcount_bump(lp->env.mu, &k->sub_2xx);
	sb->got_2xx = true;
	sb->state = SUB_ACTIVE;
	sb->expires = granted(lp, msg);
	if (!sb->rtag[0] &&
	    pl_strcpy(&msg->to_tag, sb->rtag, sizeof(sb->rtag))) {
		loadcount_bump(lp->env.mu, &lp->env.c->bad_msgs);
		sub_fail(sb, LOADCOUNT_FAIL);
		return;
	}
	h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	if (h && !sip_addr_decode(&a, &h->value) && !a.star)
		pl_strcpy(&a.uri, sb->target, sizeof(sb->target));
	if (!sb->got_notify)
		ev_timer_start(lp->env.ev, &sb->wait, EV_MS(timer_f_ms(lp)),
			       on_wait, sb);
	sub_maybe_settle(sb);
}

static void sub_start(struct loadpres *lp, struct lp_slot *s)
{
	const struct loadcfg *cfg = lp->env.cfg;
	struct lp_sub *sb = calloc(1, sizeof(*sb));
	uint64_t npres = (uint64_t)lp->pcfg.ulast - lp->pcfg.ufirst + 1;
	int err;

	lp->unsettled++;
	if (!sb) {
		outcome(lp, cohort_now(lp), LOADCOUNT_TP_ERROR);
		return;
	}
	sb->cohort = cohort_now(lp);
	sb->lp = lp;
	sb->s = s;
	sb->pres = lp->pcfg.ufirst + (uint32_t)(lp->next_pres++ % npres);
	sb->state = SUB_PENDING;
	sb->cseq = 1;
	sb->t_start = ev_monotonic_ns();
	ev_timer_init(&sb->wait);
	ev_timer_init(&sb->refresh);
	sip_build_tag(sb->tag);
	if (sip_build_call_id(sb->call_id, sizeof(sb->call_id), cfg->local_ip))
		snprintf(sb->call_id, sizeof(sb->call_id), "%s", sb->tag);
	hash_append(&lp->subs, hash_keyed32(sb->call_id, strlen(sb->call_id)),
		    &sb->le, sb);
	lp->nsubs++;
	s->sub = sb;
	err = sub_send(sb, cfg->expires);
	if (err) {
		log_debug("SUBSCRIBE: %s", strerror(err));
		sub_fail(sb, LOADCOUNT_TP_ERROR);
	}
}

static struct lp_sub *sub_find(struct loadpres *lp, const struct sip_msg *msg)
{
	struct list *l = hash_bucket(&lp->subs, hash_pl(&msg->call_id));

	for (struct le *le = l->head; le; le = le->next) {
		struct lp_sub *sb = le->data;

		/* RFC 6665 §4.1.2.4: the NOTIFY's To tag is our From tag;
		 * its From tag the notifier's, known or new */
		if (pl_eq_str(&msg->call_id, sb->call_id) &&
		    pl_eq_str(&msg->to_tag, sb->tag) &&
		    (!sb->rtag[0] || pl_eq_str(&msg->from_tag, sb->rtag)))
			return sb;
	}
	return NULL;
}

static void answer(struct loadpres *lp, struct sip_txn *st,
		   const struct sip_msg *msg, uint16_t status)
{
	struct sip_build_resp_opts o;
	int err;

	memset(&o, 0, sizeof(o));
	buf_reset(&lp->out);
	err = sip_build_response(&lp->out, msg, status, NULL, &o);
	if (!err)
		err = sip_txn_reply(st, lp->out.data, lp->out.len);
	if (err)
		log_debug("answering %u: %s", status, strerror(err));
}

/* Whether a Subscription-State value is "terminated" (§8.2.3). */
static bool is_terminated(const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_SUBSCRIPTION_STATE);
	struct pl v;

	if (!h)
		return false;
	v = h->value;
	pl_trim(&v);
	return v.l >= 10 && !strncasecmp(v.p, "terminated", 10) &&
	       (v.l == 10 || v.p[10] == ';' || v.p[10] == ' ');
}

void loadpres_request(void *arg, struct sip_txn *st, const struct sip_msg *msg,
		      const struct sip_txn_dest *src)
{
	struct loadpres *lp = arg;
	struct loadcount_pres *k = &lp->env.c->pres;
	struct lp_sub *sb;
	bool terminated;

	(void)src;
	if (!st)
		return; /* a stray ACK */
	sb = msg->method_id == SIP_METHOD_NOTIFY ? sub_find(lp, msg) : NULL;
	if (!sb) {
		if (msg->method_id == SIP_METHOD_OPTIONS && !msg->to_tag.l) {
			answer(lp, st, msg, 200);
			return;
		}
		loadcount_bump(lp->env.mu, &k->no_dialog);
		/* RFC 6665 §4.1.3: a NOTIFY matching no subscription */
		answer(lp, st, msg,
		       msg->method_id == SIP_METHOD_NOTIFY ? 481 : 405);
		return;
	}
	terminated = is_terminated(msg);
	answer(lp, st, msg, 200);
	if (!sb->rtag[0])
		pl_strcpy(&msg->from_tag, sb->rtag, sizeof(sb->rtag));
	pthread_mutex_lock(lp->env.mu);
	k->notifies++;
	if (terminated)
		k->terminated++;
	if (!sb->got_notify) {
		k->first_notifies++;
		hist_add(&k->snd,
			 loadcount_us_since(lp->env.rx_ns, sb->t_start));
	}
	pthread_mutex_unlock(lp->env.mu);
	if (!sb->target[0]) {
		const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
		struct sip_addr a;

		if (h && !sip_addr_decode(&a, &h->value) && !a.star)
			pl_strcpy(&a.uri, sb->target, sizeof(sb->target));
	}
	if (sb->state == SUB_PENDING)
		sb->state = SUB_ACTIVE;
	sb->got_notify = true;
	if (terminated) {
		if (sb->state == SUB_ENDING)
			loadcount_bump(lp->env.mu, &k->unsubscribed);
		if (!sb->settled) /* refused or ended before its 2xx */
			sub_fail(sb, LOADCOUNT_FAIL);
		else
			sub_free(sb);
		return;
	}
	sub_maybe_settle(sb);
}

/* ---- publications ---- */

static void pub_free(struct lp_pub *p)
{
	struct loadpres *lp = p->lp;

	sip_txn_client_detach(p->ct);
	p->ct = obj_deref(p->ct);
	if (p->s->pub == p)
		p->s->pub = NULL;
	free(p);
	lp->npubs--;
	maybe_idle(lp);
}

static void pub_end(struct lp_pub *p, enum loadcount_outcome o)
{
	outcome(p->lp, p->cohort, o);
	pub_free(p);
}

static void pub_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg);

static int pub_send(struct lp_pub *p)
{
	struct loadpres *lp = p->lp;
	const struct loadcfg *cfg = lp->env.cfg;
	struct lp_slot *s = p->s;
	char user[LOADCFG_NAME_MAX * 2], branch[SIP_BRANCH_SIZE], via[256];
	char aor[256], ruri[256];
	struct sip_build_req br;
	struct sip_txn_dest dst;
	struct timespec ts;
	int err;

	if (loadcfg_user_name(cfg, s->num, user, sizeof(user)))
		return EOVERFLOW;
	sip_build_branch(branch);
	if (loadmsg_via(via, sizeof(via), cfg->server.proto, lp->env.hostport,
			branch) ||
	    loadmsg_addr(aor, sizeof(aor), user, cfg->domain, NULL))
		return EOVERFLOW;
	snprintf(ruri, sizeof(ruri), "sip:%s@%s", user, cfg->domain);
	/* The watchers compare this clock with theirs: the wall clock,
	 * the one hosts keep in step. */
	clock_gettime(CLOCK_REALTIME, &ts);
	err = loadpres_body(lp->body, BODY_MAX, ruri, s->seq,
			    (uint64_t)ts.tv_sec * 1000000000ull +
				    (uint64_t)ts.tv_nsec,
			    cfg->pres.body_bytes);
	if (err)
		return err;
	buf_reset(&lp->hdrs);
	err = buf_printf(&lp->hdrs, "Event: presence\r\nExpires: %u\r\n",
			 cfg->expires);
	/* RFC 3903 §4.4: a modify names the entity-tag it replaces */
	if (!err && s->etag[0])
		err = buf_printf(&lp->hdrs, "SIP-If-Match: %s\r\n", s->etag);
	if (!err)
		err = loadcred_header(&lp->hdrs, cfg, *s->auth, p->auth_tries,
				      p->proxy_auth, "PUBLISH", ruri);
	if (err)
		return err;
	loadcount_bump(lp->env.mu, s->etag[0] ? &lp->env.c->pres.pub_modify
					      : &lp->env.c->pres.pub_initial);
	memset(&br, 0, sizeof(br));
	br.method = loadmsg_pl("PUBLISH");
	br.ruri = loadmsg_pl(ruri);
	br.via = loadmsg_pl(via);
	br.from = loadmsg_pl(aor);
	br.from_tag = loadmsg_pl(p->tag);
	br.to = loadmsg_pl(aor);
	br.call_id = loadmsg_pl(p->call_id);
	br.cseq = p->cseq;
	br.hdrs = buf_pl(&lp->hdrs);
	br.ctype = loadmsg_pl("application/pidf+xml");
	br.body = loadmsg_pl(lp->body);
	buf_reset(&lp->out);
	err = sip_build_request(&lp->out, &br);
	if (err)
		return err;
	sip_txn_tp_dest(&dst, &lp->env.cfg->server, NULL);
	sip_txn_client_detach(p->ct);
	p->ct = obj_deref(p->ct);
	return loadmsg_client_start(&p->ct, lp->env.txl, &dst, branch,
				    &br.method, &lp->out, pub_event, p);
}

static void pub_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg)
{
	struct lp_pub *p = arg;
	struct loadpres *lp = p->lp;
	const struct sip_hdr *h;
	uint16_t status = ev == SIP_TXN_EV_RESPONSE ? msg->status : 0;

	(void)err;
	if (t != p->ct || ev == SIP_TXN_EV_TIMER_C || (status && status < 200))
		return;
	if ((status == 401 || status == 407) && has_password(lp) &&
	    !loadcred_answer(lp->env.cfg, p->s->num, p->s->auth, p->auth_tries,
			     msg)) {
		p->auth_tries++;
		p->proxy_auth = status == 407;
		p->cseq++;
		loadcount_bump(lp->env.mu, &lp->env.c->auth_challenges);
		if (!pub_send(p))
			return;
		pub_end(p, LOADCOUNT_TP_ERROR);
		return;
	}
	/* RFC 3903 §6: 412, the entity-tag is unknown (the publication
	 * expired or the server lost it): publish anew, once. */
	if (status == 412 && !p->retried_412 && p->s->etag[0]) {
		p->retried_412 = true;
		p->s->etag[0] = '\0';
		p->cseq++;
		loadcount_bump(lp->env.mu, &lp->env.c->pres.pub_412);
		if (!pub_send(p))
			return;
		pub_end(p, LOADCOUNT_TP_ERROR);
		return;
	}
	if (!status) {
		pub_end(p, ev == SIP_TXN_EV_TIMEOUT ? LOADCOUNT_TIMEOUT
						    : LOADCOUNT_TP_ERROR);
		return;
	}
	final_of(lp, p->t_start, status);
	if (status >= 300) {
		pub_end(p, LOADCOUNT_FAIL);
		return;
	}
	h = sip_msg_hdr(msg, SIP_HDR_SIP_ETAG);
	if (!h || pl_strcpy(&h->value, p->s->etag, sizeof(p->s->etag))) {
		p->s->etag[0] = '\0';
		loadcount_bump(lp->env.mu, &lp->env.c->pres.pub_no_etag);
	}
	pub_end(p, LOADCOUNT_OK);
}

static void pub_start(struct loadpres *lp, struct lp_slot *s)
{
	struct lp_pub *p = calloc(1, sizeof(*p));
	int err;

	lp->unsettled++;
	if (!p) {
		outcome(lp, cohort_now(lp), LOADCOUNT_TP_ERROR);
		return;
	}
	p->cohort = cohort_now(lp);
	p->lp = lp;
	p->s = s;
	p->cseq = 1;
	p->t_start = ev_monotonic_ns();
	sip_build_tag(p->tag);
	if (sip_build_call_id(p->call_id, sizeof(p->call_id),
			      lp->env.cfg->local_ip))
		snprintf(p->call_id, sizeof(p->call_id), "%s", p->tag);
	s->pub = p;
	s->seq++;
	lp->npubs++;
	err = pub_send(p);
	if (err) {
		log_debug("PUBLISH: %s", strerror(err));
		pub_end(p, LOADCOUNT_TP_ERROR);
	}
}

/* ---- the module ---- */

int loadpres_alloc(struct loadpres **lpp, const struct loadpres_env *env)
{
	const struct loadcfg *cfg = env->cfg;
	struct loadpres *lp;
	int err;

	if (!env->nslots)
		return EINVAL;
	lp = calloc(1, sizeof(*lp));
	if (!lp)
		return ENOMEM;
	lp->env = *env;
	/* the presentities' names come from a copy of the users' part */
	lp->pcfg = *cfg;
	if (cfg->pres.set) {
		snprintf(lp->pcfg.prefix, sizeof(lp->pcfg.prefix), "%s",
			 cfg->pres.prefix);
		lp->pcfg.ufirst = cfg->pres.first;
		lp->pcfg.ulast = cfg->pres.last;
		lp->pcfg.width = cfg->pres.width;
	}
	lp->pcfg.passwords = NULL;
	buf_init(&lp->out, SIP_MSG_MAX_SIZE);
	buf_init(&lp->hdrs, 4096);
	lp->slots = calloc(env->nslots, sizeof(*lp->slots));
	lp->body = malloc(BODY_MAX);
	err = ENOMEM;
	if (!lp->slots || !lp->body)
		goto fail;
	err = hash_init(&lp->subs, 4096);
	if (err)
		goto fail;
	*lpp = lp;
	return 0;
fail:
	free(lp->slots);
	free(lp->body);
	buf_free(&lp->out);
	buf_free(&lp->hdrs);
	free(lp);
	return err;
}

void loadpres_free(struct loadpres *lp)
{
	size_t i;

	if (!lp)
		return;
	lp->draining = false;
	for (i = 0; i <= lp->subs.mask; i++) {
		struct list *l = &lp->subs.buckets[i];

		while (l->head)
			sub_free(l->head->data);
	}
	for (i = 0; i < lp->env.nslots; i++)
		if (lp->slots[i].pub)
			pub_free(lp->slots[i].pub);
	hash_free(&lp->subs);
	free(lp->slots);
	free(lp->body);
	buf_free(&lp->out);
	buf_free(&lp->hdrs);
	free(lp);
}

bool loadpres_can_start(const struct loadpres *lp, size_t slot)
{
	const struct lp_slot *s;

	if (slot >= lp->env.nslots || lp->draining)
		return false;
	/* --max-outstanding: live dialogs, or PUBLISHes in flight */
	if (lp->env.cfg->max_outstanding &&
	    (is_publish(lp) ? lp->npubs : lp->nsubs) >=
		    lp->env.cfg->max_outstanding)
		return false;
	s = &lp->slots[slot];
	return is_publish(lp) ? !s->pub : !s->sub;
}

void loadpres_start(struct loadpres *lp, size_t slot, uint32_t num,
		    struct sip_auth_client **auth)
{
	struct lp_slot *s = &lp->slots[slot];

	s->num = num;
	s->auth = auth;
	if (is_publish(lp))
		pub_start(lp, s);
	else
		sub_start(lp, s);
}

uint64_t loadpres_outstanding(const struct loadpres *lp)
{
	return lp->unsettled;
}

void loadpres_drain(struct loadpres *lp)
{
	uint32_t i;

	lp->draining = true;
	/* Unsubscribing may end a dialog at once (a send error): walk
	 * each bucket from a saved next. */
	for (i = 0; i <= lp->subs.mask; i++) {
		struct le *le = lp->subs.buckets[i].head, *next;

		for (; le; le = next) {
			struct lp_sub *sb = le->data;

			next = le->next;
			/* pending ones unsubscribe once settled
			 * (sub_maybe_settle) */
			if (sb->settled && sb->state == SUB_ACTIVE)
				unsubscribe(sb);
		}
	}
	maybe_idle(lp);
}
