/*
 * proxy_core.c - the TU of RFC 3261 §16 (stateful proxy) for everything
 * proxy-stateful does not answer itself (proxy_core.h).
 */
#include "proxy_core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "obj.h"
#include "sip_build.h"

#define COOKIE_LEN (sizeof(SIP_BRANCH_COOKIE) - 1)
/* A finished call is freed once its client transaction has ended and
 * any CANCEL it sent has had time for Timer F + K (§17.1.2.2). */
#define CANCEL_GRACE_NS EV_MS(40000)

struct pcall {
	struct le hle; /* pc->calls, by server transaction */
	struct le dle; /* pc->done once final */
	struct proxy_core *pc;
	struct worker_ctx *w; /* pc->w */
	struct sip_txn *st, *ct;
	char *req; /* the request as received, for local answers */
	size_t req_len;
	bool final_sent, final_2xx, prov_seen;
	uint64_t cancel_at;	    /* ev_now of the CANCEL sent, or 0 */
	struct ev_timer cancel_tmr; /* no final 64*T1 after our CANCEL */
};

static uint32_t st_key(const struct sip_txn *st)
{
	return (uint32_t)hash_mix64((uint64_t)(uintptr_t)st);
}

static void pcall_destroy(void *arg)
{
	struct pcall *c = arg;

	list_unlink(&c->hle);
	list_unlink(&c->dle);
	ev_timer_cancel(c->w->ev, &c->cancel_tmr);
	obj_deref(c->st);
	obj_deref(c->ct);
	free(c->req);
	STATEFUL_CNT_SET(c->w->c.calls_alive, c->w->c.calls_alive - 1);
}

static struct pcall *pcall_find(struct proxy_core *pc,
				const struct sip_txn *st)
{
	struct le *le;

	for (le = hash_bucket(&pc->calls, st_key(st))->head; le;
	     le = le->next) {
		struct pcall *c = le->data;

		if (c->st == st)
			return c;
	}
	return NULL;
}

static void pcall_finish(struct pcall *c)
{
	c->final_sent = true;
	if (!le_linked(&c->dle))
		list_append(&c->pc->done, &c->dle, c);
}

/* A locally generated final answer to the call's request (408, 503). */
static void pcall_reply(struct pcall *c, uint16_t status)
{
	struct sip_msg m;
	uint16_t vs;
	const char *why;

	if (c->final_sent)
		return;
	if (!sip_msg_decode(&m, c->req, c->req_len, false) &&
	    !sip_msg_validate(&m, &vs, &why))
		reply_status(c->w, c->st, &m, status, NULL, NULL);
	pcall_finish(c);
}

/*
 * The branch was CANCELled and has sent no final response in 64*T1:
 * §9.1 (the UAC side) lets it go; upstream gets the 408 of §16.8 (a
 * branch that ended without a response), and nothing is left behind.
 */
static void pcall_cancel_expired(void *arg)
{
	struct pcall *c = arg;

	if (c->final_sent)
		return;
	sip_txn_terminate(c->ct);
	pcall_reply(c, 408);
}

/* §9.1, §16.10: CANCEL our branch (sent once a provisional came). */
static void pcall_cancel(struct pcall *c)
{
	if (c->final_sent || !c->ct || sip_txn_client_cancel(c->ct))
		return;
	c->cancel_at = ev_now(c->w->ev);
	ev_timer_start(c->w->ev, &c->cancel_tmr,
		       EV_MS(64 * (c->pc->shared->cfg->t1_ms
					   ? c->pc->shared->cfg->t1_ms
					   : SIP_TXN_T1_MS)),
		       pcall_cancel_expired, c);
}

static void pcall_event(struct sip_txn *t, enum sip_txn_event ev,
			const struct sip_msg *msg, int err, void *arg)
{
	struct pcall *c = arg;
	struct worker_ctx *w = c->w;
	struct sip_edits ed;
	uint16_t s;

	if (t != c->ct)
		return; /* our CANCEL's own transaction */
	switch (ev) {
	case SIP_TXN_EV_RESPONSE:
		s = msg->status;
		if (s < 700)
			STATEFUL_CNT_INC(w->c.resp_in[s]);
		if (s == 100)
			return; /* §16.7 step 3: a 100 is not forwarded */
		if (s < 200) {
			c->prov_seen = true;
			if (c->final_sent)
				return;
		} else if (c->final_sent) {
			/* RFC 6026: later 2xx to INVITE go upstream too. */
			if (!(c->final_2xx && s < 300))
				return;
		}
		/* §16.7 step 3: remove our Via, forward the rest. */
		sip_edits_init(&ed, msg);
		if (sip_fwd_via_pop(&ed) ||
		    (sip_msg_hdr(msg, SIP_HDR_VIA) == NULL)) {
			STATEFUL_CNT_INC(
				w->c.drops[STATEFUL_DROP_INVALID_RESP]);
			return;
		}
		buf_reset(&w->out);
		if (sip_edits_apply(&ed, &w->out)) {
			STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_SEND]);
			return;
		}
		reply_send(w, c->st, w->out.data, w->out.len);
		if (s >= 200) {
			c->final_2xx = c->final_2xx || s < 300;
			pcall_finish(c);
		}
		break;
	case SIP_TXN_EV_TIMER_C:
		/* §16.8: CANCEL after a provisional, else act as 408. */
		if (c->prov_seen) {
			pcall_cancel(c);
		} else {
			pcall_reply(c, 408);
		}
		break;
	case SIP_TXN_EV_TIMEOUT:
		pcall_reply(c, 408);
		break;
	case SIP_TXN_EV_TRANSPORT_ERROR:
		(void)err;
		pcall_reply(c, 503);
		break;
	}
}

/* Feeds a view into the keyed hash, with a separator. */
static void sip_pl(struct hash_sip *h, const struct pl *pl)
{
	static const unsigned char sep = 0xff;

	hash_sip_add(h, pl->p, pl->l);
	hash_sip_add(h, &sep, 1);
}

/*
 * The loop-detection part of our branch (§16.6 step 8): 8 hex digits of
 * a keyed hash of what identifies the request as received: Request-URI,
 * Call-ID, From and To tags, CSeq number, Route, Proxy-Require and
 * Proxy-Authorization.  The top Via is left out: on a loop it is the
 * previous hop's, never the one we saw (RFC 5393 §4.2 comes to the
 * same).
 */
static uint32_t loop_hash(uint64_t secret, const struct sip_msg *msg)
{
	static const enum sip_hdr_id ids[] = {SIP_HDR_ROUTE,
					      SIP_HDR_PROXY_REQUIRE,
					      SIP_HDR_PROXY_AUTHORIZATION};
	/* SipHash keyed with our secret: peers choose these fields. */
	struct hash_key key = {hash_mix64(secret), hash_mix64(~secret)};
	struct hash_sip h;
	const struct sip_hdr *hd;
	uint32_t num = msg->cseq.num;
	size_t i;

	hash_sip_init(&h, &key);
	sip_pl(&h, &msg->ruri);
	sip_pl(&h, &msg->call_id);
	sip_pl(&h, &msg->from_tag);
	sip_pl(&h, &msg->to_tag);
	hash_sip_add(&h, &num, sizeof(num));
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		for (hd = sip_msg_hdr(msg, ids[i]); hd;
		     hd = sip_msg_hdr_next(msg, hd))
			sip_pl(&h, &hd->value);
	return (uint32_t)hash_sip_end(&h);
}

/*
 * §16.3 step 4: a Via of ours whose branch carries this request's loop
 * hash means it looped; with another hash (the Request-URI was
 * retargeted, a Route changed) it is a spiral and goes on.
 */
static bool looped(const struct proxy_core *pc, const struct sip_msg *msg)
{
	const struct sip_hdr *h;
	struct sip_via v;
	char want[COOKIE_LEN + 10];
	int tp;

	snprintf(want, sizeof(want), "%s%08x.", SIP_BRANCH_COOKIE,
		 loop_hash(pc->shared->secret, msg));
	for (h = sip_msg_hdr(msg, SIP_HDR_VIA); h;
	     h = sip_msg_hdr_next(msg, h)) {
		if (sip_via_decode(&v, &h->value))
			continue;
		if (v.branch.l <= strlen(want) ||
		    memcmp(v.branch.p, want, strlen(want)))
			continue;
		for (tp = SIP_TP_UDP; tp < SIP_TP_NPROTO; tp++) {
			const char *sb = pc->w->via[tp];
			const char *sp = strchr(sb, ' ');
			char hp[SIP_TP_ADDR_STRLEN + 8];

			if (!sp)
				continue;
			snprintf(hp, sizeof(hp), "%.*s:%u", PL_FMT(&v.host),
				 (unsigned)v.port);
			if (!strcmp(sp + 1, hp))
				return true;
		}
	}
	return false;
}

/*
 * The next hop of msg: after our Route (popped), the next Route's URI,
 * else the Request-URI (text in *target).  Returns the remaining top
 * Route or NULL.
 */
static void next_hop(const struct sip_msg *msg, const struct sip_hdr *ours,
		     struct pl *target)
{
	const struct sip_hdr *h = ours ? sip_msg_hdr_next(msg, ours)
				       : sip_msg_hdr(msg, SIP_HDR_ROUTE);
	struct sip_addr a;

	if (h && !sip_addr_decode(&a, &h->value)) {
		*target = a.uri;
		return;
	}
	*target = msg->ruri;
}

/* The ACK for a 2xx (§13.2.2.4): forwarded statelessly (§16.11). */
void proxy_core_ack(struct proxy_core *pc, const struct sip_msg *msg)
{
	const struct proxy_core_cfg *sh = pc->shared;
	struct worker_ctx *w = pc->w;
	const struct sip_hdr *ours = addressing_route_is_us(sh->addr, msg);
	struct sip_txn_dest d;
	struct sip_tp_addr a;
	struct sip_edits ed;
	struct sip_uri u;
	struct pl target, via;
	char branch[SIP_BRANCH_SIZE], vbuf[SIP_TP_ADDR_STRLEN + 64];

	struct location_contact lc;
	enum sip_transport dflt = SIP_TP_UDP;

	next_hop(msg, ours, &target);
	if (!msg->to_tag.l || sip_uri_decode(&u, &target)) {
		STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_STRAY_ACK]);
		return;
	}
	if (target.p == msg->ruri.p && u.user.l &&
	    addressing_is_us(sh->addr, &u.host, u.port)) {
		/* A UA that did not follow our Record-Route (or none was
		 * asked for) sends the ACK to us: the binding decides. */
		char aorbuf[LOCATION_AOR_MAX];
		struct pl aor;

		snprintf(aorbuf, sizeof(aorbuf), "%.*s@%s", PL_FMT(&u.user),
			 sh->cfg->domain);
		pl_set_str(&aor, aorbuf);
		if (!location_lookup(sh->loc, &aor, worker_now_s(), &lc, 1,
				     NULL) ||
		    sip_uri_decode(&u, &(struct pl){lc.uri, strlen(lc.uri)})) {
			STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_STRAY_ACK]);
			return;
		}
		dflt = lc.tp;
	} else if (!ours && addressing_is_us(sh->addr, &u.host, u.port)) {
		STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_STRAY_ACK]);
		return;
	}
	if (addressing_uri_dest(&u, dflt, &d) ||
	    sip_build_branch_stateless(branch, msg, sh->secret)) {
		STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_STRAY_ACK]);
		return;
	}
	snprintf(vbuf, sizeof(vbuf), "%s;branch=%s", w->via[d.tp], branch);
	pl_set_str(&via, vbuf);
	sip_edits_init(&ed, msg);
	buf_reset(&w->out);
	if (sip_fwd_via_add(&ed, &via) || sip_fwd_max_forwards_dec(&ed) ||
	    (ours && sip_fwd_route_pop(&ed)) || sip_fwd_content_length(&ed) ||
	    sip_edits_apply(&ed, &w->out) ||
	    sip_tp_addr_set(&a, d.tp, &d.addr.sa, d.addrlen) ||
	    sip_tp_send(w->priv, &a, w->out.data, w->out.len)) {
		STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_SEND]);
		return;
	}
	STATEFUL_CNT_INC(w->c.acks_forwarded);
}

/* §16.10: CANCEL is answered here and cancels our client branch. */
void proxy_core_cancel(struct proxy_core *pc, struct sip_txn *st,
		       const struct sip_msg *msg)
{
	struct worker_ctx *w = pc->w;
	struct sip_txn *ist = sip_txn_find_invite(w->txl, msg);
	struct pcall *c;

	if (!ist) {
		reply_status(w, st, msg, 481, NULL, NULL);
		return;
	}
	reply_status(w, st, msg, 200, NULL, NULL);
	c = pcall_find(pc, ist);
	if (c)
		pcall_cancel(c);
	obj_deref(ist);
}

/* §16.3 steps 3 to 5: whether msg may be forwarded; answered if not. */
static bool request_ok(struct proxy_core *pc, struct sip_txn *st,
		       const struct sip_msg *msg)
{
	struct worker_ctx *w = pc->w;
	const struct sip_hdr *h;

	/* §16.3 step 3 */
	if (msg->has_max_forwards && msg->max_forwards == 0) {
		reply_status(w, st, msg, 483, NULL, NULL);
		return false;
	}
	if (looped(pc, msg)) {
		reply_status(w, st, msg, 482, NULL, NULL);
		return false;
	}
	/* §16.3 step 5: we support no extensions. */
	h = sip_msg_hdr(msg, SIP_HDR_PROXY_REQUIRE);
	if (h) {
		char hdr[300];

		snprintf(hdr, sizeof(hdr), "Unsupported: %.*s\r\n",
			 (int)(h->value.l > 256 ? 256 : h->value.l),
			 h->value.p);
		reply_status(w, st, msg, 420, NULL, hdr);
		return false;
	}
	return true;
}

/* Where an initial INVITE's caller must authenticate (§22.3). */
static int caller_auth(struct proxy_core *pc, struct sip_txn *st,
		       const struct sip_msg *msg, const struct pl *dom)
{
	const struct proxy_core_cfg *sh = pc->shared;
	const struct userdb_user *fu = NULL;
	const struct sip_hdr *h;
	struct sip_addr fa;
	struct sip_uri fru;

	h = sip_msg_hdr(msg, SIP_HDR_FROM);
	if (!h || sip_addr_decode(&fa, &h->value) ||
	    sip_uri_decode(&fru, &fa.uri)) {
		reply_status(pc->w, st, msg, 400, "Bad From", NULL);
		return EBADMSG;
	}
	if (sh->users)
		fu = userdb_find(sh->users, &fru.user, dom);
	if (((sh->cfg->auth & STATEFUL_AUTH_INVITE) ||
	     (fu && fu->auth_required)) &&
	    reply_auth_check(pc->w, sh->auth, st, msg, &fru.user, dom, true))
		return EACCES;
	return 0;
}

/* The most bindings a 302 lists (the highest q first; any more are
 * left out). */
#define REDIRECT_MAX_CONTACTS 16

/*
 * A redirect server's answer (RFC 3261 §8.3, §21.3.3): 302 with every
 * live binding of aor as a Contact, with its q and the seconds it has
 * left (expires, §20.10); 480 or 404 as the proxy answers without one.
 * The ACK of the 302 ends our server transaction (§17.2.1).  Returns
 * ENOENT (answered either way).
 */
static int redirect(struct proxy_core *pc, struct sip_txn *st,
		    const struct sip_msg *msg, const struct pl *aor)
{
	const struct proxy_core_cfg *sh = pc->shared;
	struct worker_ctx *w = pc->w;
	struct location_contact lc[REDIRECT_MAX_CONTACTS];
	char hdrs[REDIRECT_MAX_CONTACTS * (LOCATION_URI_MAX + 48)];
	uint64_t now = worker_now_s();
	bool known = false;
	size_t n, i, o = 0;

	n = location_lookup(sh->loc, aor, now, lc, REDIRECT_MAX_CONTACTS,
			    &known);
	if (!n) {
		reply_status(w, st, msg, known || sh->users ? 480 : 404, NULL,
			     NULL);
		return ENOENT;
	}
	if (n > REDIRECT_MAX_CONTACTS)
		n = REDIRECT_MAX_CONTACTS;
	for (i = 0; i < n; i++) {
		int k = snprintf(
			hdrs + o, sizeof(hdrs) - o,
			"Contact: <%s>;q=%u.%03u;expires=%llu\r\n", lc[i].uri,
			lc[i].q / 1000u, lc[i].q % 1000u,
			(unsigned long long)(lc[i].expires > now
						     ? lc[i].expires - now
						     : 0));

		if (k < 0 || (size_t)k >= sizeof(hdrs) - o)
			break; /* cannot happen: room for every URI */
		o += (size_t)k;
	}
	reply_status(w, st, msg, 302, NULL, hdrs);
	return ENOENT;
}

/*
 * §16.5: a request for our domain: the location service decides.  On
 * 0, *u is the binding's URI (text in lc, also in *newruri) and *dflt
 * its transport; else the answer was sent.
 */
static int route_local(struct proxy_core *pc, struct sip_txn *st,
		       const struct sip_msg *msg, struct sip_uri *u,
		       struct location_contact *lc, struct pl *newruri,
		       enum sip_transport *dflt)
{
	const struct proxy_core_cfg *sh = pc->shared;
	struct worker_ctx *w = pc->w;
	struct pl dom, aor;
	char aorbuf[LOCATION_AOR_MAX];
	bool known = false;

	pl_set_str(&dom, sh->cfg->domain);
	if (!u->user.l) {
		reply_status(w, st, msg, 404, NULL, NULL);
		return ENOENT;
	}
	if (!msg->to_tag.l && msg->method_id == SIP_METHOD_INVITE &&
	    caller_auth(pc, st, msg, &dom))
		return EACCES;
	if (sh->users && !userdb_find(sh->users, &u->user, &dom)) {
		reply_status(w, st, msg, 404, NULL, NULL);
		return ENOENT;
	}
	if (snprintf(aorbuf, sizeof(aorbuf), "%.*s@%s", PL_FMT(&u->user),
		     sh->cfg->domain) >= (int)sizeof(aorbuf)) {
		reply_status(w, st, msg, 404, NULL, NULL);
		return ENOENT;
	}
	pl_set_str(&aor, aorbuf);
	/* a redirect server answers an initial INVITE itself (§8.3) */
	if (msg->method_id == SIP_METHOD_INVITE && !msg->to_tag.l &&
	    atomic_load(&sh->redirect))
		return redirect(pc, st, msg, &aor);
	if (!location_lookup(sh->loc, &aor, worker_now_s(), lc, 1, &known)) {
		reply_status(w, st, msg, known || sh->users ? 480 : 404, NULL,
			     NULL);
		return ENOENT;
	}
	/* One branch, the highest q (no forking). */
	pl_set_str(newruri, lc->uri);
	*dflt = lc->tp;
	if (sip_uri_decode(u, newruri)) {
		reply_status(w, st, msg, 480, NULL, NULL);
		return EBADMSG;
	}
	return 0;
}

/*
 * §16.6: the request to forward into w->out: a copy with our Via
 * (branch), Max-Forwards less one, our Route popped (ours), our realm's
 * credentials consumed, the new Request-URI and our Record-Route.
 * Returns 0 or an errno (ELOOP: Max-Forwards was 0).
 */
static int build_forward(struct proxy_core *pc, struct sip_txn *st,
			 const struct sip_msg *msg, const struct sip_hdr *ours,
			 const struct pl *newruri, const char *branch,
			 enum sip_transport tp)
{
	const struct stateful_cfg *cfg = pc->shared->cfg;
	struct worker_ctx *w = pc->w;
	const struct sip_hdr *h;
	struct sip_edits ed;
	struct pl via, rr;
	char vbuf[SIP_TP_ADDR_STRLEN + 80];
	int err;

	snprintf(vbuf, sizeof(vbuf), "%s;branch=%s", w->via[tp], branch);
	pl_set_str(&via, vbuf);
	sip_edits_init(&ed, msg);
	err = sip_fwd_via_add(&ed, &via);
	if (!err)
		err = sip_fwd_max_forwards_dec(&ed);
	if (!err && ours)
		err = sip_fwd_route_pop(&ed);
	/* §22.3: credentials for our realm were for us (consumed here);
	 * other realms' go on to their proxies. */
	for (h = sip_msg_hdr(msg, SIP_HDR_PROXY_AUTHORIZATION); !err && h;
	     h = sip_msg_hdr_next(msg, h)) {
		struct sip_auth_credentials pc_cr;

		if (!sip_auth_credentials_decode(&pc_cr, &h->value) &&
		    pl_caseeq_str(&pc_cr.realm, cfg->domain))
			err = sip_edits_hdr_remove(&ed, h);
	}
	if (!err && newruri->l)
		err = sip_fwd_ruri_set(&ed, newruri);
	if (!err && cfg->record_route && !msg->to_tag.l &&
	    (msg->method_id == SIP_METHOD_INVITE ||
	     msg->method_id == SIP_METHOD_SUBSCRIBE)) {
		struct sip_txn_dest src = *sip_txn_dest(st);

		pl_set_str(
			&rr,
			w->rr[(int)src.tp < (int)SIP_TP_NPROTO ? src.tp
							       : SIP_TP_UDP]);
		err = sip_fwd_rr_add(&ed, &rr);
	}
	if (!err)
		err = sip_fwd_content_length(&ed);
	buf_reset(&w->out);
	if (!err)
		err = sip_edits_apply(&ed, &w->out);
	return err;
}

/* Sends w->out to d in a client transaction bound to st's call. */
static void start_branch(struct proxy_core *pc, struct sip_txn *st,
			 const struct sip_msg *msg, struct sip_txn_dest *d,
			 const char *branch)
{
	struct worker_ctx *w = pc->w;
	struct sip_txn_creq cr;
	struct pcall *c = NULL;

	c = obj_alloc(sizeof(*c), pcall_destroy);
	if (!c)
		goto fail;
	c->pc = pc;
	c->w = w;
	ev_timer_init(&c->cancel_tmr);
	c->req = malloc(msg->len);
	if (!c->req)
		goto fail;
	memcpy(c->req, msg->buf, msg->len);
	c->req_len = msg->len;
	c->st = obj_ref(st);
	STATEFUL_CNT_SET(w->c.calls_alive, w->c.calls_alive + 1);
	memset(&cr, 0, sizeof(cr));
	cr.dst = d;
	pl_set_str(&cr.branch, branch);
	cr.method = msg->method;
	cr.msg = buf_pl(&w->out);
	cr.timer_c = msg->method_id == SIP_METHOD_INVITE;
	if (sip_txn_client_start(&c->ct, w->txl, &cr, pcall_event, c)) {
		reply_status(w, st, msg, 503, NULL, NULL);
		obj_deref(c);
		return;
	}
	hash_append(&pc->calls, st_key(st), &c->hle, c);
	STATEFUL_CNT_INC(w->c.calls_forwarded);
	return;
fail:
	obj_deref(c);
	reply_status(w, st, msg, 500, NULL, NULL);
}

void proxy_core_request(struct proxy_core *pc, struct sip_txn *st,
			const struct sip_msg *msg)
{
	const struct proxy_core_cfg *sh = pc->shared;
	struct worker_ctx *w = pc->w;
	const struct sip_hdr *ours;
	struct location_contact lc;
	struct sip_txn_dest d;
	struct sip_uri u;
	struct pl target, newruri = PL_INIT;
	enum sip_transport dflt = SIP_TP_UDP;
	char branch[COOKIE_LEN + 24], rnd[SIP_BRANCH_SIZE];
	int err;

	if (!request_ok(pc, st, msg))
		return;
	ours = addressing_route_is_us(sh->addr, msg);
	next_hop(msg, ours, &target);
	if (sip_uri_decode(&u, &target)) {
		reply_status(w, st, msg, 400, "Bad Target URI", NULL);
		return;
	}
	if (target.p == msg->ruri.p && u.scheme_id != SIP_URI_SIP &&
	    u.scheme_id != SIP_URI_SIPS) {
		reply_status(w, st, msg, 416, NULL, NULL);
		return;
	}
	if (target.p == msg->ruri.p &&
	    addressing_is_us(sh->addr, &u.host, u.port)) {
		if (route_local(pc, st, msg, &u, &lc, &newruri, &dflt))
			return;
	} else if (!msg->to_tag.l && target.p == msg->ruri.p &&
		   sh->cfg->closed) {
		reply_status(w, st, msg, 403, "Foreign Domain", NULL);
		return;
	}
	err = addressing_uri_dest(&u, dflt, &d);
	if (err) {
		reply_status(w, st, msg, err == ENOENT ? 503 : 416,
			     err == ENOENT ? "No DNS Here" : NULL, NULL);
		return;
	}
	/* §16.6: copy, edit, add our Via, send in a client transaction. */
	/* Cookie, loop hash, '.', 12 random hex digits (§16.6 step 8). */
	sip_build_branch(rnd);
	snprintf(branch, sizeof(branch), "%s%08x.%.12s", SIP_BRANCH_COOKIE,
		 loop_hash(sh->secret, msg), rnd + COOKIE_LEN);
	err = build_forward(pc, st, msg, ours, &newruri, branch, d.tp);
	if (err) {
		reply_status(w, st, msg, err == ELOOP ? 483 : 500, NULL, NULL);
		return;
	}
	start_branch(pc, st, msg, &d, branch);
}

int proxy_core_init(struct proxy_core *pc, const struct proxy_core_cfg *shared,
		    struct worker_ctx *w)
{
	pc->shared = shared;
	pc->w = w;
	list_init(&pc->done);
	return hash_init(&pc->calls, 4096);
}

void proxy_core_tick(struct proxy_core *pc)
{
	uint64_t now = ev_now(pc->w->ev);
	struct le *le, *next;

	for (le = pc->done.head; le; le = next) {
		struct pcall *c = le->data;

		next = le->next;
		if (c->ct && !sip_txn_is_terminated(c->ct))
			continue;
		if (c->cancel_at && now - c->cancel_at < CANCEL_GRACE_NS)
			continue;
		obj_deref(c);
	}
}

void proxy_core_stop(struct proxy_core *pc)
{
	uint32_t b;

	for (b = 0; pc->calls.buckets && b <= pc->calls.mask; b++)
		while (pc->calls.buckets[b].head)
			obj_deref(pc->calls.buckets[b].head->data);
	while (pc->done.head)
		obj_deref(pc->done.head->data);
	hash_free(&pc->calls);
}
