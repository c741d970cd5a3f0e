/*
 * stateful.c - the workers of proxy-stateful: receive, validate, feed the
 * transaction layer, and act as the TU of RFC 3261 §16 (stateful proxy)
 * for everything but REGISTER (registrar.c).
 */
#include "stateful.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define LOG_MODULE "stateful"
#include "log.h"
#include "obj.h"
#include "sip_build.h"
#include "sip_uri.h"
#include "stateful_int.h"

#define TICK_MS 200
#define COOKIE_LEN (sizeof(SIP_BRANCH_COOKIE) - 1)
/* A finished call is freed once its client transaction has ended and
 * any CANCEL it sent has had time for Timer F + K (§17.1.2.2). */
#define CANCEL_GRACE_NS EV_MS(40000)

struct pcall {
	struct le hle; /* w->calls, by server transaction */
	struct le dle; /* w->done once final */
	struct stateful_worker *w;
	struct sip_txn *st, *ct;
	char *req; /* the request as received, for local answers */
	size_t req_len;
	bool final_sent, final_2xx, prov_seen;
	uint64_t cancel_at;	    /* ev_now of the CANCEL sent, or 0 */
	struct ev_timer cancel_tmr; /* no final 64*T1 after our CANCEL */
};

uint64_t stateful_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

bool stateful_is_us(const struct stateful *sp, const struct pl *host,
		    uint16_t port)
{
	char hbuf[SIP_TP_ADDR_STRLEN];
	size_t i;

	if (pl_caseeq_str(host, sp->cfg.domain))
		return true;
	for (i = 0; i < sp->cfg.nlisten; i++) {
		const struct sip_tp_addr *a = &sp->listen[i];
		uint16_t lp = sip_tp_addr_port(a);
		const void *src = a->u.sa.sa_family == AF_INET6
					  ? (const void *)&a->u.in6.sin6_addr
					  : (const void *)&a->u.in.sin_addr;

		if (!inet_ntop(a->u.sa.sa_family, src, hbuf, sizeof(hbuf)))
			continue;
		if (!pl_caseeq_str(host, hbuf))
			continue;
		if (port == lp ||
		    (!port && lp == (a->proto == SIP_TP_TLS ? 5061 : 5060)))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */

static void count_out(struct stateful_worker *w, const char *buf, size_t len)
{
	unsigned s;

	if (len < 12)
		return;
	s = (unsigned)(buf[8] - '0') * 100 + (unsigned)(buf[9] - '0') * 10 +
	    (unsigned)(buf[10] - '0');
	if (s < 700)
		STATEFUL_CNT_INC(w->c.resp_out[s]);
}

void stateful_send_reply(struct stateful_worker *w, struct sip_txn *st,
			 const char *buf, size_t len)
{
	if (sip_txn_reply(st, buf, len))
		STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_SEND]);
	else
		count_out(w, buf, len);
}

static int build_reply(struct stateful_worker *w, const struct sip_msg *msg,
		       uint16_t status, const char *reason, const char *hdrs)
{
	struct sip_build_resp_opts ro;
	char tag[SIP_TAG_SIZE];

	memset(&ro, 0, sizeof(ro));
	sip_build_tag(tag);
	pl_set_str(&ro.to_tag, tag);
	if (hdrs)
		pl_set_str(&ro.hdrs, hdrs);
	buf_reset(&w->out);
	return sip_build_response(&w->out, msg, status, reason, &ro);
}

void stateful_reply(struct stateful_worker *w, struct sip_txn *st,
		    const struct sip_msg *msg, uint16_t status,
		    const char *reason, const char *hdrs)
{
	if (build_reply(w, msg, status, reason, hdrs)) {
		STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_SEND]);
		return;
	}
	stateful_send_reply(w, st, w->out.data, w->out.len);
}

/* The transaction layer's send callback. */
static int txn_send(void *arg, const struct sip_txn_dest *dst, const char *buf,
		    size_t len)
{
	struct stateful_worker *w = arg;
	struct sip_tp_addr a;
	bool resp = len >= 8 && !memcmp(buf, "SIP/2.0 ", 8);
	int err;

	if (dst->conn && sip_tp_conn_is_open(dst->conn))
		return sip_tp_conn_send(dst->conn, buf, len);
	err = sip_tp_addr_set(&a, dst->tp, &dst->addr.sa, dst->addrlen);
	if (err)
		return err;
	/* Responses leave from the shared port they were asked on;
	 * requests from this worker's private one (its Via). */
	return sip_tp_send(resp ? w->tp : w->priv, &a, buf, len);
}

/* ------------------------------------------------------------------ */
/* Authentication (RFC 3261 §22)                                       */

static void challenge(struct stateful_worker *w, struct sip_txn *st,
		      const struct sip_msg *msg, bool proxy, bool stale)
{
	struct stateful *sp = w->sp;
	struct buf b;
	struct pl realm;
	char *hdr = NULL;
	int err;

	pl_set_str(&realm, sp->cfg.domain);
	buf_init(&b, 1024);
	err = buf_append_str(&b, proxy ? "Proxy-Authenticate: "
				       : "WWW-Authenticate: ");
	if (!err)
		err = sip_auth_challenge_print(sp->auth, &b, &realm,
					       SIP_AUTH_ALG_MD5, NULL, stale,
					       stateful_now_s());
	if (!err)
		err = buf_append(&b, "\r\n", 3); /* with the NUL */
	if (!err)
		hdr = b.data;
	STATEFUL_CNT_INC(w->c.auth_challenges);
	if (hdr)
		stateful_reply(w, st, msg, proxy ? 407 : 401, NULL, hdr);
	else
		stateful_reply(w, st, msg, 500, NULL, NULL);
	buf_free(&b);
}

int stateful_auth_check(struct stateful_worker *w, struct sip_txn *st,
			const struct sip_msg *msg, const struct pl *user,
			const struct pl *domain, bool proxy)
{
	struct stateful *sp = w->sp;
	const struct userdb_user *u =
		sp->users ? userdb_find(sp->users, user, domain) : NULL;
	const struct sip_hdr *h;
	struct sip_auth_credentials cr;
	bool found = false;
	enum sip_auth_result r;

	if (!u) {
		STATEFUL_CNT_INC(w->c.auth_failures);
		stateful_reply(w, st, msg, 403, "Unknown User", NULL);
		return EACCES;
	}
	for (h = sip_msg_hdr(msg, proxy ? SIP_HDR_PROXY_AUTHORIZATION
					: SIP_HDR_AUTHORIZATION);
	     h; h = sip_msg_hdr_next(msg, h)) {
		if (sip_auth_credentials_decode(&cr, &h->value))
			continue;
		if (pl_caseeq(&cr.realm, domain)) {
			found = true;
			break;
		}
	}
	if (!found) {
		challenge(w, st, msg, proxy, false);
		return EACCES;
	}
	/* §22.4 and §10.3 step 4: the credentials are the AOR's own. */
	if (!pl_eq(&cr.username, user)) {
		STATEFUL_CNT_INC(w->c.auth_failures);
		stateful_reply(w, st, msg, 403, "Wrong User", NULL);
		return EACCES;
	}
	r = sip_auth_verify(sp->auth, &cr, &msg->method, domain, &u->ha1,
			    stateful_now_s());
	switch (r) {
	case SIP_AUTH_OK:
		return 0;
	case SIP_AUTH_STALE:
		challenge(w, st, msg, proxy, true);
		return EACCES;
	case SIP_AUTH_ERROR:
		stateful_reply(w, st, msg, 500, NULL, NULL);
		return EIO;
	default:
		/* Bad digest, replayed count, foreign nonce: a fresh
		 * challenge (what UAs expect after a wrong password). */
		STATEFUL_CNT_INC(w->c.auth_failures);
		challenge(w, st, msg, proxy, false);
		return EACCES;
	}
}

/* ------------------------------------------------------------------ */
/* Proxy calls                                                         */

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

static struct pcall *pcall_find(struct stateful_worker *w,
				const struct sip_txn *st)
{
	struct le *le;

	for (le = hash_bucket(&w->calls, st_key(st))->head; le;
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
		list_append(&c->w->done, &c->dle, c);
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
		stateful_reply(c->w, c->st, &m, status, NULL, NULL);
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
		       EV_MS(64 * (c->w->sp->cfg.t1_ms ? c->w->sp->cfg.t1_ms
						       : SIP_TXN_T1_MS)),
		       pcall_cancel_expired, c);
}

static void pcall_event(struct sip_txn *t, enum sip_txn_event ev,
			const struct sip_msg *msg, int err, void *arg)
{
	struct pcall *c = arg;
	struct stateful_worker *w = c->w;
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
		stateful_send_reply(w, c->st, w->out.data, w->out.len);
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

/* ------------------------------------------------------------------ */
/* Destinations                                                        */

/* RFC 3263 in outline (stateful_int.h). */
int stateful_uri_dest(const struct sip_uri *u, enum sip_transport dflt,
		      struct sip_txn_dest *d)
{
	char host[64];
	enum sip_transport tp = dflt;
	uint16_t port;

	if (u->scheme_id != SIP_URI_SIP && u->scheme_id != SIP_URI_SIPS)
		return EINVAL;
	if (u->scheme_id == SIP_URI_SIPS)
		tp = SIP_TP_TLS;
	else if (pl_caseeq_str(&u->transport, "tcp"))
		tp = SIP_TP_TCP;
	else if (pl_caseeq_str(&u->transport, "tls"))
		tp = SIP_TP_TLS;
	else if (pl_caseeq_str(&u->transport, "udp"))
		tp = SIP_TP_UDP;
	if (tp != SIP_TP_TCP && tp != SIP_TP_TLS)
		tp = SIP_TP_UDP;
	port = u->port ? u->port : (tp == SIP_TP_TLS ? 5061 : 5060);
	if (pl_strcpy(&u->host, host, sizeof(host)))
		return ENOENT;
	return sip_txn_dest_literal(d, tp, host, port);
}

/* The top Route when it names us, else NULL. */
static const struct sip_hdr *route_is_us(const struct stateful *sp,
					 const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_ROUTE);
	struct sip_addr a;
	struct sip_uri u;

	if (!h || sip_addr_decode(&a, &h->value) || sip_uri_decode(&u, &a.uri))
		return NULL;
	return stateful_is_us(sp, &u.host, u.port) ? h : NULL;
}

/* Feeds a view into a running 64-bit FNV-1a, with a separator. */
static uint64_t fnv_pl(uint64_t h, const struct pl *pl)
{
	size_t i;

	for (i = 0; i < pl->l; i++)
		h = (h ^ (uint8_t)pl->p[i]) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

/*
 * The loop-detection part of our branch (§16.6 step 8): 8 hex digits of
 * a keyed hash of what identifies the request as received: Request-URI,
 * Call-ID, From and To tags, CSeq number, Route, Proxy-Require and
 * Proxy-Authorization.  The top Via is left out: on a loop it is the
 * previous hop's, never the one we saw (RFC 5393 §4.2 comes to the
 * same).
 */
static uint32_t loop_hash(const struct stateful *sp, const struct sip_msg *msg)
{
	static const enum sip_hdr_id ids[] = {SIP_HDR_ROUTE,
					      SIP_HDR_PROXY_REQUIRE,
					      SIP_HDR_PROXY_AUTHORIZATION};
	uint64_t h = 0xcbf29ce484222325ull ^ sp->secret;
	const struct sip_hdr *hd;
	struct pl num;
	char nb[16];
	size_t i;

	h = fnv_pl(h, &msg->ruri);
	h = fnv_pl(h, &msg->call_id);
	h = fnv_pl(h, &msg->from_tag);
	h = fnv_pl(h, &msg->to_tag);
	snprintf(nb, sizeof(nb), "%u", (unsigned)msg->cseq.num);
	pl_set_str(&num, nb);
	h = fnv_pl(h, &num);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		for (hd = sip_msg_hdr(msg, ids[i]); hd;
		     hd = sip_msg_hdr_next(msg, hd))
			h = fnv_pl(h, &hd->value);
	return (uint32_t)hash_mix64(h);
}

/*
 * §16.3 step 4: a Via of ours whose branch carries this request's loop
 * hash means it looped; with another hash (the Request-URI was
 * retargeted, a Route changed) it is a spiral and goes on.
 */
static bool looped(const struct stateful_worker *w, const struct sip_msg *msg)
{
	const struct sip_hdr *h;
	struct sip_via v;
	char want[COOKIE_LEN + 10];
	int tp;

	snprintf(want, sizeof(want), "%s%08x.", SIP_BRANCH_COOKIE,
		 loop_hash(w->sp, msg));
	for (h = sip_msg_hdr(msg, SIP_HDR_VIA); h;
	     h = sip_msg_hdr_next(msg, h)) {
		if (sip_via_decode(&v, &h->value))
			continue;
		if (v.branch.l <= strlen(want) ||
		    memcmp(v.branch.p, want, strlen(want)))
			continue;
		for (tp = SIP_TP_UDP; tp < SIP_TP_NPROTO; tp++) {
			const char *sb = w->via[tp];
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
static void forward_ack(struct stateful_worker *w, const struct sip_msg *msg)
{
	struct stateful *sp = w->sp;
	const struct sip_hdr *ours = route_is_us(sp, msg);
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
	    stateful_is_us(sp, &u.host, u.port)) {
		/* A UA that did not follow our Record-Route (or none was
		 * asked for) sends the ACK to us: the binding decides. */
		char aorbuf[LOCATION_AOR_MAX];
		struct pl aor;

		snprintf(aorbuf, sizeof(aorbuf), "%.*s@%s", PL_FMT(&u.user),
			 sp->cfg.domain);
		pl_set_str(&aor, aorbuf);
		if (!location_lookup(sp->loc, &aor, stateful_now_s(), &lc, 1,
				     NULL) ||
		    sip_uri_decode(&u, &(struct pl){lc.uri, strlen(lc.uri)})) {
			STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_STRAY_ACK]);
			return;
		}
		dflt = lc.tp;
	} else if (!ours && stateful_is_us(sp, &u.host, u.port)) {
		STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_STRAY_ACK]);
		return;
	}
	if (stateful_uri_dest(&u, dflt, &d) ||
	    sip_build_branch_stateless(branch, msg, sp->secret)) {
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
static void handle_cancel(struct stateful_worker *w, struct sip_txn *st,
			  const struct sip_msg *msg)
{
	struct sip_txn *ist = sip_txn_find_invite(w->txl, msg);
	struct pcall *c;

	if (!ist) {
		stateful_reply(w, st, msg, 481, NULL, NULL);
		return;
	}
	stateful_reply(w, st, msg, 200, NULL, NULL);
	c = pcall_find(w, ist);
	if (c)
		pcall_cancel(c);
	obj_deref(ist);
}

static void proxy_request(struct stateful_worker *w, struct sip_txn *st,
			  const struct sip_msg *msg)
{
	struct stateful *sp = w->sp;
	const struct stateful_cfg *cfg = &sp->cfg;
	const struct sip_hdr *ours, *h;
	struct location_contact lc;
	struct sip_txn_dest d;
	struct sip_txn_creq cr;
	struct sip_edits ed;
	struct sip_uri u;
	struct pl target, newruri = PL_INIT, via, rr;
	enum sip_transport dflt = SIP_TP_UDP;
	char branch[COOKIE_LEN + 24], rnd[SIP_BRANCH_SIZE];
	char vbuf[SIP_TP_ADDR_STRLEN + 80];
	struct pcall *c = NULL;
	bool initial = !msg->to_tag.l;
	int err;

	/* §16.3 step 3 */
	if (msg->has_max_forwards && msg->max_forwards == 0) {
		stateful_reply(w, st, msg, 483, NULL, NULL);
		return;
	}
	if (looped(w, msg)) {
		stateful_reply(w, st, msg, 482, NULL, NULL);
		return;
	}
	/* §16.3 step 5: we support no extensions. */
	h = sip_msg_hdr(msg, SIP_HDR_PROXY_REQUIRE);
	if (h) {
		char hdr[300];

		snprintf(hdr, sizeof(hdr), "Unsupported: %.*s\r\n",
			 (int)(h->value.l > 256 ? 256 : h->value.l),
			 h->value.p);
		stateful_reply(w, st, msg, 420, NULL, hdr);
		return;
	}
	ours = route_is_us(sp, msg);
	next_hop(msg, ours, &target);
	if (sip_uri_decode(&u, &target)) {
		stateful_reply(w, st, msg, 400, "Bad Target URI", NULL);
		return;
	}
	if (target.p == msg->ruri.p && u.scheme_id != SIP_URI_SIP &&
	    u.scheme_id != SIP_URI_SIPS) {
		stateful_reply(w, st, msg, 416, NULL, NULL);
		return;
	}
	if (target.p == msg->ruri.p && stateful_is_us(sp, &u.host, u.port)) {
		/* §16.5: our domain: the location service decides. */
		struct pl dom, aor;
		char aorbuf[LOCATION_AOR_MAX];
		bool known = false;
		size_t n;

		pl_set_str(&dom, cfg->domain);
		if (!u.user.l) {
			stateful_reply(w, st, msg, 404, NULL, NULL);
			return;
		}
		if (initial && msg->method_id == SIP_METHOD_INVITE) {
			const struct userdb_user *fu = NULL;
			struct sip_addr fa;
			struct sip_uri fru;

			h = sip_msg_hdr(msg, SIP_HDR_FROM);
			if (!h || sip_addr_decode(&fa, &h->value) ||
			    sip_uri_decode(&fru, &fa.uri)) {
				stateful_reply(w, st, msg, 400, "Bad From",
					       NULL);
				return;
			}
			if (sp->users)
				fu = userdb_find(sp->users, &fru.user, &dom);
			if (((cfg->auth & STATEFUL_AUTH_INVITE) ||
			     (fu && fu->auth_required)) &&
			    stateful_auth_check(w, st, msg, &fru.user, &dom,
						true))
				return;
		}
		if (sp->users && !userdb_find(sp->users, &u.user, &dom)) {
			stateful_reply(w, st, msg, 404, NULL, NULL);
			return;
		}
		if (snprintf(aorbuf, sizeof(aorbuf), "%.*s@%s",
			     PL_FMT(&u.user),
			     cfg->domain) >= (int)sizeof(aorbuf)) {
			stateful_reply(w, st, msg, 404, NULL, NULL);
			return;
		}
		pl_set_str(&aor, aorbuf);
		n = location_lookup(sp->loc, &aor, stateful_now_s(), &lc, 1,
				    &known);
		if (!n) {
			stateful_reply(w, st, msg,
				       known || sp->users ? 480 : 404, NULL,
				       NULL);
			return;
		}
		/* One branch, the highest q (no forking). */
		pl_set_str(&newruri, lc.uri);
		dflt = lc.tp;
		if (sip_uri_decode(&u, &newruri)) {
			stateful_reply(w, st, msg, 480, NULL, NULL);
			return;
		}
	} else if (initial && target.p == msg->ruri.p && cfg->closed) {
		stateful_reply(w, st, msg, 403, "Foreign Domain", NULL);
		return;
	}
	err = stateful_uri_dest(&u, dflt, &d);
	if (err) {
		stateful_reply(w, st, msg, err == ENOENT ? 503 : 416,
			       err == ENOENT ? "No DNS Here" : NULL, NULL);
		return;
	}
	/* §16.6: copy, edit, add our Via, send in a client transaction. */
	/* Cookie, loop hash, '.', 12 random hex digits (§16.6 step 8). */
	sip_build_branch(rnd);
	snprintf(branch, sizeof(branch), "%s%08x.%.12s", SIP_BRANCH_COOKIE,
		 loop_hash(sp, msg), rnd + COOKIE_LEN);
	snprintf(vbuf, sizeof(vbuf), "%s;branch=%s", w->via[d.tp], branch);
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
		struct sip_auth_credentials pc;

		if (!sip_auth_credentials_decode(&pc, &h->value) &&
		    pl_caseeq_str(&pc.realm, cfg->domain))
			err = sip_edits_hdr_remove(&ed, h);
	}
	if (!err && newruri.l)
		err = sip_fwd_ruri_set(&ed, &newruri);
	if (!err && cfg->record_route && initial &&
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
	if (err) {
		stateful_reply(w, st, msg, err == ELOOP ? 483 : 500, NULL,
			       NULL);
		return;
	}
	c = obj_alloc(sizeof(*c), pcall_destroy);
	if (!c)
		goto fail;
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
	cr.dst = &d;
	pl_set_str(&cr.branch, branch);
	cr.method = msg->method;
	cr.msg = buf_pl(&w->out);
	cr.timer_c = msg->method_id == SIP_METHOD_INVITE;
	err = sip_txn_client_start(&c->ct, w->txl, &cr, pcall_event, c);
	if (err) {
		stateful_reply(w, st, msg, 503, NULL, NULL);
		obj_deref(c);
		return;
	}
	hash_append(&w->calls, st_key(st), &c->hle, c);
	STATEFUL_CNT_INC(w->c.calls_forwarded);
	return;
fail:
	obj_deref(c);
	stateful_reply(w, st, msg, 500, NULL, NULL);
}

/* The transaction layer's request handler. */
static void on_request(void *arg, struct sip_txn *st,
		       const struct sip_msg *msg,
		       const struct sip_txn_dest *src)
{
	struct stateful_worker *w = arg;
	struct sip_uri u;

	(void)src;
	STATEFUL_CNT_INC(w->c.req_in[msg->method_id]);
	if (!st) {
		forward_ack(w, msg);
		return;
	}
	switch (msg->method_id) {
	case SIP_METHOD_REGISTER:
		if (!sip_uri_decode(&u, &msg->ruri) &&
		    (u.scheme_id == SIP_URI_SIP ||
		     u.scheme_id == SIP_URI_SIPS) &&
		    stateful_is_us(w->sp, &u.host, u.port) &&
		    !route_is_us(w->sp, msg) &&
		    !sip_msg_hdr(msg, SIP_HDR_ROUTE)) {
			registrar_handle(w, st, msg);
			return;
		}
		break;
	case SIP_METHOD_SUBSCRIBE:
	case SIP_METHOD_PUBLISH:
		/* Our users' presence is ours with --presence (presence.h);
		 * forwarded like any request otherwise. */
		if (w->sp->pres && !sip_uri_decode(&u, &msg->ruri) &&
		    (u.scheme_id == SIP_URI_SIP ||
		     u.scheme_id == SIP_URI_SIPS) &&
		    u.user.l && stateful_is_us(w->sp, &u.host, u.port) &&
		    !sip_msg_hdr(msg, SIP_HDR_ROUTE)) {
			presence_handle(w, st, msg);
			return;
		}
		break;
	case SIP_METHOD_CANCEL:
		handle_cancel(w, st, msg);
		return;
	case SIP_METHOD_OPTIONS:
		/* The first stage probes us with OPTIONS to ourselves. */
		if (!sip_uri_decode(&u, &msg->ruri) && !u.user.l &&
		    stateful_is_us(w->sp, &u.host, u.port) &&
		    !sip_msg_hdr(msg, SIP_HDR_ROUTE)) {
			stateful_reply(w, st, msg, 200, NULL,
				       "Allow: INVITE, ACK, BYE, CANCEL, "
				       "OPTIONS, REGISTER\r\n");
			return;
		}
		break;
	default:
		break;
	}
	proxy_request(w, st, msg);
}

/* Both transports' receive handler. */
static void on_recv(const struct sip_tp_rx *rx, void *arg)
{
	struct stateful_worker *w = arg;
	struct sip_msg *msg = rx->msg;
	struct sip_txn_dest d;
	uint16_t status = 0;
	const char *why = NULL;

	if (sip_msg_validate(msg, &status, &why)) {
		if (!msg->is_request || !status ||
		    msg->method_id == SIP_METHOD_ACK) {
			/* §16.7, §17.2.3: bad responses and ACKs are
			 * dropped. */
			STATEFUL_CNT_INC(
				w->c.drops[msg->is_request
						   ? STATEFUL_DROP_INVALID_REQ
						   : STATEFUL_DROP_INVALID_RESP]);
			return;
		}
		STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_INVALID_REQ]);
		if (!build_reply(w, msg, status, NULL, NULL) &&
		    !sip_tp_reply(rx, w->out.data, w->out.len))
			count_out(w, w->out.data, w->out.len);
		return;
	}
	if (!msg->is_request) {
		if (sip_txn_recv_response(w->txl, msg) == ENOENT)
			STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_STRAY_RESP]);
		return;
	}
	memset(&d, 0, sizeof(d));
	d.tp = rx->proto;
	d.reliable = rx->proto != SIP_TP_UDP;
	/* §18.2.2 with rport semantics: answer where it came from. */
	memcpy(&d.addr, &rx->src.u, sizeof(d.addr));
	d.addrlen = sip_tp_addr_len(&rx->src);
	d.conn = rx->conn;
	sip_txn_recv_request(w->txl, msg, &d);
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */

struct start_sync {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int err;
};

struct worker_arg {
	struct stateful_worker *w;
	struct start_sync *sync;
};

static void tick(void *arg)
{
	struct stateful_worker *w = arg;
	struct sip_txn_stats ts;
	const struct sip_tp_stats *ps;
	uint64_t now = ev_now(w->ev);
	struct le *le, *next;

	sip_txn_layer_stats(w->txl, &ts);
	STATEFUL_CNT_SET(w->c.txn_alive, ts.alive);
	STATEFUL_CNT_SET(w->c.txn_retrans, ts.retransmissions);
	STATEFUL_CNT_SET(w->c.txn_timeouts, ts.timeouts);
	ps = sip_tp_stats(w->tp);
	STATEFUL_CNT_SET(w->c.tp_drop_parse, ps->drop_parse);
	STATEFUL_CNT_SET(w->c.conns_accepted, ps->conns_accepted);
	STATEFUL_CNT_SET(w->c.conns_opened, ps->conns_opened);
	STATEFUL_CNT_SET(w->c.conns_closed, ps->conns_closed);
	STATEFUL_CNT_SET(w->c.conns_open, sip_tp_conn_count(w->tp));
	STATEFUL_CNT_SET(w->c.tls_full, ps->tls_full);
	STATEFUL_CNT_SET(w->c.tls_resumed, ps->tls_resumed);
	STATEFUL_CNT_SET(w->c.tls_failed, ps->tls_failed);
	/* Incremental sweep: every bucket about every 10 s. */
	if (w->idx == 0)
		location_sweep(w->sp->loc, stateful_now_s(),
			       64 * 1024 / (10000 / TICK_MS) + 1);
	presence_tick(w);
	for (le = w->done.head; le; le = next) {
		struct pcall *c = le->data;

		next = le->next;
		if (c->ct && !sip_txn_is_terminated(c->ct))
			continue;
		if (c->cancel_at && now - c->cancel_at < CANCEL_GRACE_NS)
			continue;
		obj_deref(c);
	}
	ev_timer_start(w->ev, &w->tick, EV_MS(TICK_MS), tick, w);
}

static int listen_all(struct stateful_worker *w)
{
	struct stateful *sp = w->sp;
	struct sip_tp_addr bound, priv;
	char hp[SIP_TP_ADDR_STRLEN];
	bool have_priv = false;
	size_t i;
	int err, tp;

	for (i = 0; i < sp->cfg.nlisten; i++) {
		err = sip_tp_listen(w->tp, &sp->listen[i], SIP_TP_REUSEPORT,
				    &bound);
		if (err) {
			log_err("listen %s: %s", sp->cfg.listen[i],
				strerror(err));
			return err;
		}
		/* Port 0: the other workers share what the first got. */
		sp->listen[i] = bound;
		if (!have_priv) {
			priv = bound;
			have_priv = true;
		}
	}
	if (!have_priv)
		return EINVAL;
	priv.proto = SIP_TP_UDP;
	sip_tp_addr_set_port(&priv, 0);
	err = sip_tp_listen(w->priv, &priv, 0, &bound);
	if (err) {
		log_err("private UDP socket: %s", strerror(err));
		return err;
	}
	if (sip_tp_addr_hostport(&bound, hp, sizeof(hp)))
		return EOVERFLOW;
	for (tp = SIP_TP_UDP; tp < SIP_TP_NPROTO; tp++) {
		struct sip_tp_addr l;
		char lhp[SIP_TP_ADDR_STRLEN];
		const char *name = sip_transport_name((enum sip_transport)tp);

		if (sip_tp_local(w->tp, (enum sip_transport)tp, AF_UNSPEC, &l))
			l = sp->listen[0];
		if (sip_tp_addr_hostport(&l, lhp, sizeof(lhp)))
			return EOVERFLOW;
		snprintf(w->via[tp], sizeof(w->via[tp]), "SIP/2.0/%s %s", name,
			 tp == SIP_TP_UDP ? hp : lhp);
		snprintf(w->rr[tp], sizeof(w->rr[tp]), "<sip:%s%s;lr>", lhp,
			 tp == SIP_TP_TCP   ? ";transport=tcp"
			 : tp == SIP_TP_TLS ? ";transport=tls"
					    : "");
	}
	return 0;
}

static void worker_cleanup(struct stateful_worker *w)
{
	uint32_t b;

	ev_timer_cancel(w->ev, &w->tick);
	presence_worker_stop(w);
	for (b = 0; w->calls.buckets && b <= w->calls.mask; b++)
		while (w->calls.buckets[b].head)
			obj_deref(w->calls.buckets[b].head->data);
	while (w->done.head)
		obj_deref(w->done.head->data);
	hash_free(&w->calls);
	w->txl = obj_deref(w->txl);
	w->priv = obj_deref(w->priv);
	w->tp = obj_deref(w->tp);
	buf_free(&w->out);
}

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct stateful_worker *w = wa->w;
	struct stateful *sp = w->sp;
	struct sip_tp_opts o;
	struct sip_txn_cfg tc;
	struct start_sync *sync = wa->sync;
	int err;

	memset(&o, 0, sizeof(o));
	o.tls_server = sp->tls_server;
	o.tls_client = sp->tls_client;
	memset(&tc, 0, sizeof(tc));
	tc.auto_100 = true;
	/* Over UDP a non-INVITE server transaction waits out Timer J
	 * (64*T1, §17.2.2): at 5,000 REGISTER/s 160,000 are alive, so
	 * the 4,096 default buckets made chains of 40 (perf: 5 % of the
	 * CPU in the lookup). */
	tc.buckets = 65536;
	tc.timer_c_ms = sp->cfg.timer_c_ms;
	tc.t1_ms = sp->cfg.t1_ms;
	buf_init(&w->out, SIP_MSG_MAX_SIZE + 4096);
	list_init(&w->done);
	err = hash_init(&w->calls, 4096);
	if (!err)
		err = sip_tp_alloc(&w->tp, w->ev, &o, on_recv, w);
	if (!err)
		err = sip_tp_alloc(&w->priv, w->ev, &o, on_recv, w);
	if (!err)
		err = sip_txn_layer_alloc(&w->txl, w->ev, &tc, txn_send,
					  on_request, w);
	if (!err)
		err = listen_all(w);
	pthread_mutex_lock(&sync->mu);
	sync->err = err;
	sync->done = true;
	pthread_cond_signal(&sync->cv);
	pthread_mutex_unlock(&sync->mu);
	if (!err) {
		ev_timer_init(&w->tick);
		ev_timer_start(w->ev, &w->tick, EV_MS(TICK_MS), tick, w);
		ev_run(w->ev);
	}
	worker_cleanup(w);
	return NULL;
}

static int worker_start(struct stateful_worker *w)
{
	struct start_sync sync;
	struct worker_arg wa = {w, &sync};
	sigset_t all, old;
	char name[16];
	int err;

	err = ev_alloc(&w->ev);
	if (err)
		return err;
	memset(&sync, 0, sizeof(sync));
	pthread_mutex_init(&sync.mu, NULL);
	pthread_cond_init(&sync.cv, NULL);
	/* Workers take no signals: the main thread's signalfd does. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&w->th, NULL, worker_main, &wa);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out;
	w->started = true;
	snprintf(name, sizeof(name), "worker-%u", w->idx);
	pthread_setname_np(w->th, name);
	pthread_mutex_lock(&sync.mu);
	while (!sync.done)
		pthread_cond_wait(&sync.cv, &sync.mu);
	err = sync.err;
	pthread_mutex_unlock(&sync.mu);
out:
	pthread_mutex_destroy(&sync.mu);
	pthread_cond_destroy(&sync.cv);
	return err;
}

int stateful_start(struct stateful **spp, const struct stateful_cfg *cfg)
{
	struct stateful *sp;
	struct sip_tp_tls_opts to;
	size_t i;
	int err;

	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return ENOMEM;
	sp->cfg = *cfg;
	if (getrandom(&sp->secret, sizeof(sp->secret), 0) !=
	    sizeof(sp->secret))
		sp->secret = (uint64_t)time(NULL);
	for (i = 0; i < cfg->nlisten; i++) {
		err = sip_tp_addr_decode(&sp->listen[i], NULL, cfg->listen[i]);
		if (err) {
			log_err("bad listen address %s", cfg->listen[i]);
			goto fail;
		}
	}
	if (cfg->tls_cert[0]) {
		memset(&to, 0, sizeof(to));
		to.cert_file = cfg->tls_cert;
		to.key_file = cfg->tls_key;
		err = sip_tp_tls_alloc(&sp->tls_server, false, &to);
		if (err)
			goto fail;
		memset(&to, 0, sizeof(to));
		to.ca_file = cfg->tls_ca[0] ? cfg->tls_ca : NULL;
		to.no_verify = !cfg->tls_ca[0];
		err = sip_tp_tls_alloc(&sp->tls_client, true, &to);
		if (err)
			goto fail;
	}
	err = location_alloc(&sp->loc, 0);
	if (err)
		goto fail;
	err = sip_auth_server_alloc(&sp->auth, NULL, 0, 0, 0);
	if (err)
		goto fail;
	if (cfg->users_file[0]) {
		err = userdb_alloc(&sp->users);
		if (!err)
			err = userdb_load_file(sp->users, cfg->users_file);
		if (err)
			goto fail;
		log_info("%zu users from %s", userdb_count(sp->users),
			 cfg->users_file);
	}
	if (cfg->presence) {
		err = presence_alloc(&sp->pres, sp);
		if (err)
			goto fail;
	}
	if (cfg->db_url[0]) {
		err = dbqueue_open(&sp->db, cfg->db_url, cfg->db_mode,
				   cfg->flush_ms);
		if (!err && !sp->users) {
			err = userdb_alloc(&sp->users);
			if (!err)
				err = dbqueue_load_users(sp->db, sp->users);
		}
		if (!err)
			err = dbqueue_load_bindings(sp->db, sp->loc,
						    stateful_now_s());
		if (!err && sp->pres)
			err = presence_load(sp->pres, sp->db);
		if (!err && cfg->db_mode != STATEFUL_DB_MEMORY) {
			location_set_change_handler(sp->loc, dbqueue_change,
						    sp->db);
			err = dbqueue_start(sp->db);
		}
		if (err)
			goto fail;
	}
	sp->nworkers = cfg->workers ? cfg->workers : 1;
	sp->w = calloc(sp->nworkers, sizeof(*sp->w));
	if (!sp->w) {
		err = ENOMEM;
		goto fail;
	}
	for (i = 0; i < sp->nworkers; i++) {
		sp->w[i].sp = sp;
		sp->w[i].idx = (unsigned)i;
		err = worker_start(&sp->w[i]);
		if (err)
			goto fail;
	}
	*spp = sp;
	return 0;
fail:
	stateful_free(sp);
	return err;
}

void stateful_free(struct stateful *sp)
{
	unsigned i;

	if (!sp)
		return;
	for (i = 0; sp->w && i < sp->nworkers; i++)
		if (sp->w[i].started)
			ev_stop(sp->w[i].ev);
	for (i = 0; sp->w && i < sp->nworkers; i++) {
		if (sp->w[i].started)
			pthread_join(sp->w[i].th, NULL);
	}
	/* Write-back: what is queued is flushed before we go (and
	 * write-through waiters are gone with their workers). */
	dbqueue_close(sp->db);
	for (i = 0; sp->w && i < sp->nworkers; i++)
		obj_deref(sp->w[i].ev);
	free(sp->w);
	presence_free(sp->pres);
	location_free(sp->loc);
	userdb_free(sp->users);
	obj_deref(sp->auth);
	obj_deref(sp->tls_server);
	obj_deref(sp->tls_client);
	free(sp);
}

json_t *stateful_listen_json(const struct stateful *sp)
{
	json_t *a = json_array();
	char s[SIP_TP_ADDR_STRLEN];
	size_t i;

	for (i = 0; a && i < sp->cfg.nlisten; i++)
		if (!sip_tp_addr_print(&sp->listen[i], s, sizeof(s)))
			json_array_append_new(a, json_string(s));
	return a;
}

static void add_codes(json_t *o, const char *name, uint64_t *sum)
{
	json_t *m = json_object();
	char k[8];
	unsigned s;

	for (s = 100; m && s < 700; s++) {
		if (!sum[s])
			continue;
		snprintf(k, sizeof(k), "%u", s);
		json_object_set_new(m, k, json_integer((json_int_t)sum[s]));
	}
	json_object_set_new(o, name, m);
}

void stateful_stats(struct stateful *sp, json_t *stats)
{
	static const char *drop_names[STATEFUL_DROP_COUNT] = {
		"invalid_request", "invalid_response", "stray_response",
		"stray_ack", "send"};
	struct stateful_counters *t = calloc(1, sizeof(*t));
	json_t *o;
	unsigned i, k;

	if (!t)
		return;
	for (i = 0; i < sp->nworkers; i++) {
		struct stateful_counters *c = &sp->w[i].c;

		for (k = 0; k < SIP_METHOD_COUNT; k++)
			t->req_in[k] += STATEFUL_CNT_GET(c->req_in[k]);
		for (k = 0; k < 700; k++) {
			t->resp_out[k] += STATEFUL_CNT_GET(c->resp_out[k]);
			t->resp_in[k] += STATEFUL_CNT_GET(c->resp_in[k]);
		}
		for (k = 0; k < STATEFUL_DROP_COUNT; k++)
			t->drops[k] += STATEFUL_CNT_GET(c->drops[k]);
		t->registers_ok += STATEFUL_CNT_GET(c->registers_ok);
		t->auth_challenges += STATEFUL_CNT_GET(c->auth_challenges);
		t->auth_failures += STATEFUL_CNT_GET(c->auth_failures);
		t->calls_forwarded += STATEFUL_CNT_GET(c->calls_forwarded);
		t->acks_forwarded += STATEFUL_CNT_GET(c->acks_forwarded);
		t->txn_alive += STATEFUL_CNT_GET(c->txn_alive);
		t->txn_retrans += STATEFUL_CNT_GET(c->txn_retrans);
		t->txn_timeouts += STATEFUL_CNT_GET(c->txn_timeouts);
		t->tp_drop_parse += STATEFUL_CNT_GET(c->tp_drop_parse);
		t->calls_alive += STATEFUL_CNT_GET(c->calls_alive);
		t->conns_accepted += STATEFUL_CNT_GET(c->conns_accepted);
		t->conns_opened += STATEFUL_CNT_GET(c->conns_opened);
		t->conns_closed += STATEFUL_CNT_GET(c->conns_closed);
		t->conns_open += STATEFUL_CNT_GET(c->conns_open);
		t->tls_full += STATEFUL_CNT_GET(c->tls_full);
		t->tls_resumed += STATEFUL_CNT_GET(c->tls_resumed);
		t->tls_failed += STATEFUL_CNT_GET(c->tls_failed);
	}
	o = json_object();
	for (k = 1; o && k < SIP_METHOD_COUNT; k++)
		if (t->req_in[k])
			json_object_set_new(
				o, sip_method_name((enum sip_method)k),
				json_integer((json_int_t)t->req_in[k]));
	if (o && t->req_in[0])
		json_object_set_new(o, "other",
				    json_integer((json_int_t)t->req_in[0]));
	json_object_set_new(stats, "requests", o);
	add_codes(stats, "responses_sent", t->resp_out);
	add_codes(stats, "responses_received", t->resp_in);
	o = json_object();
	for (k = 0; o && k < STATEFUL_DROP_COUNT; k++)
		json_object_set_new(o, drop_names[k],
				    json_integer((json_int_t)t->drops[k]));
	if (o)
		json_object_set_new(
			o, "transport_parse",
			json_integer((json_int_t)t->tp_drop_parse));
	json_object_set_new(stats, "drops", o);
	/* as of the workers' last tick (200 ms) */
	o = json_object();
	if (o) {
		json_object_set_new(
			o, "accepted",
			json_integer((json_int_t)t->conns_accepted));
		json_object_set_new(o, "opened",
				    json_integer((json_int_t)t->conns_opened));
		json_object_set_new(o, "closed",
				    json_integer((json_int_t)t->conns_closed));
		json_object_set_new(o, "open",
				    json_integer((json_int_t)t->conns_open));
		json_object_set_new(o, "tls_full",
				    json_integer((json_int_t)t->tls_full));
		json_object_set_new(o, "tls_resumed",
				    json_integer((json_int_t)t->tls_resumed));
		json_object_set_new(o, "tls_failed",
				    json_integer((json_int_t)t->tls_failed));
	}
	json_object_set_new(stats, "connections", o);
#define NUM(name, v) \
	json_object_set_new(stats, name, json_integer((json_int_t)(v)))
	NUM("registers_ok", t->registers_ok);
	NUM("auth_challenges", t->auth_challenges);
	NUM("auth_failures", t->auth_failures);
	NUM("forwarded", t->calls_forwarded);
	NUM("acks_forwarded", t->acks_forwarded);
	NUM("transactions_alive", t->txn_alive);
	NUM("retransmissions", t->txn_retrans);
	NUM("timeouts", t->txn_timeouts);
	NUM("proxy_calls_alive", t->calls_alive);
	NUM("bindings", location_bindings(sp->loc));
	NUM("aors", location_aors(sp->loc));
	NUM("workers", sp->nworkers);
	{
		/* The allocator's bytes in use (the memory per binding and
		 * per transaction of docs/perf-proxy-stateful.md). */
		struct mallinfo2 mi = mallinfo2();

		NUM("heap_bytes", mi.uordblks + mi.hblkhd);
	}
	presence_stats(sp->pres, stats);
	if (sp->db) {
		struct dbqueue_stats ds;

		dbqueue_stats(sp->db, &ds);
		o = json_object();
		json_object_set_new(o, "commits",
				    json_integer((json_int_t)ds.commits));
		json_object_set_new(o, "rows",
				    json_integer((json_int_t)ds.rows));
		json_object_set_new(o, "failures",
				    json_integer((json_int_t)ds.failures));
		json_object_set_new(o, "queued",
				    json_integer((json_int_t)ds.queued));
		json_object_set_new(stats, "db", o);
	}
#undef NUM
	free(t);
}
