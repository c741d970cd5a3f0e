/*
 * loadcall.c - the loader's INVITE call test (see loadcall.h).
 */
#include "loadcall.h"

#define LOG_MODULE "loadcall"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#include "sip_txn_tp.h"
#include "sip_uri.h"

#define CALL_ID_SIZE 48
#define TARGET_MAX 256
#define ROUTE_MAX 1024
#define SDP_MAX 400

enum call_state {
	CALL_INVITING = 1, /* INVITE sent, no final yet */
	CALL_HOLDING,	   /* 2xx ACKed, the hold timer runs */
	CALL_BYEING,	   /* our BYE sent */
};

struct lc_call {
	struct le le; /* in lc->calls, by Call-ID */
	struct loadcall *lc;
	enum call_state state;
	uint32_t num, callee;
	struct sip_auth_client **auth;
	unsigned auth_tries;
	bool proxy_auth; /* the last challenge was a 407 */
	bool ringing;
	bool active;		  /* answered, counted as concurrent */
	bool unexpected;	  /* a 2xx where a failure was expected */
	uint64_t hold_ns;	  /* this call's holding time */
	uint32_t cseq;		  /* of the INVITE (and then the BYE) */
	struct sip_txn *ict;	  /* the INVITE's transaction (ref) */
	struct sip_txn *bye;	  /* the BYE's (ref) */
	uint64_t t_start;	  /* first INVITE sent, ns */
	unsigned cohort;	  /* sent in (loadcount.h) */
	uint64_t t_answer;	  /* its 2xx, ns */
	uint64_t t_bye;		  /* BYE sent, ns */
	struct ev_timer hold;	  /* hold time, then BYE */
	struct sip_txn_dest next; /* in-dialog next hop */
	void *conn;		  /* its connection (env.conn_for) */
	char call_id[CALL_ID_SIZE];
	char tag[SIP_TAG_SIZE];
	char rtag[128];		 /* the far end's tag */
	char target[TARGET_MAX]; /* remote target (§12.1.2) */
	char route[ROUTE_MAX];	 /* route set, as a Route value */
};

struct loadcall {
	struct loadcall_env env;
	struct hash calls;
	uint64_t n;
	uint64_t rng; /* xorshift64* state: the holding times */
	bool draining;
	struct buf out, hdrs;
	char sdp[SDP_MAX];
	char ip[64];
};

/* ---- the module ---- */

int loadcall_sdp(char *out, size_t size, const char *ip)
{
	const char *fam = strchr(ip, ':') ? "IP6" : "IP4";
	int n;

	/* The seed's offer (its INVITE example), on our address. */
	n = snprintf(out, size,
		     "v=0\r\n"
		     "o=user1 53655765 2353687637 IN %s %s\r\n"
		     "s=Mbone Audio\r\n"
		     "i=Discussion of Mbone Engineering Issues\r\n"
		     "e=mbone@somewhere.com\r\n"
		     "c=IN %s %s\r\n"
		     "t=0 0\r\n"
		     "m=audio 3456 RTP/AVP 0\r\n"
		     "a=rtpmap:0 PCMU/8000\r\n",
		     fam, ip, fam, ip);
	return n < 0 || (size_t)n >= size ? EOVERFLOW : 0;
}

int loadcall_alloc(struct loadcall **lcp, const struct loadcall_env *env)
{
	struct loadcall *lc = calloc(1, sizeof(*lc));
	int err;

	if (!lc)
		return ENOMEM;
	lc->env = *env;
	err = hash_init(&lc->calls, 4096);
	if (err) {
		free(lc);
		return err;
	}
	buf_init(&lc->out, SIP_MSG_MAX_SIZE);
	buf_init(&lc->hdrs, 4096);
	snprintf(lc->ip, sizeof(lc->ip), "%s", env->cfg->local_ip);
	lc->rng = (ev_monotonic_ns() ^ (uint64_t)(uintptr_t)lc) | 1;
	err = loadcall_sdp(lc->sdp, sizeof(lc->sdp), lc->ip);
	if (err) {
		loadcall_free(lc);
		return err;
	}
	*lcp = lc;
	return 0;
}

/* c is concurrent from its 2xx to its end (delta +1, -1). */
static void set_active(struct lc_call *c, int delta)
{
	struct loadcall *lc = c->lc;

	c->active = delta > 0;
	pthread_mutex_lock(lc->env.mu);
	loadcount_call_settle(&lc->env.c->call, ev_monotonic_ns(), delta);
	pthread_mutex_unlock(lc->env.mu);
	if (!lc->env.active_all)
		return;
	if (delta > 0) {
		uint64_t n = atomic_fetch_add(lc->env.active_all, 1) + 1;
		uint64_t m = atomic_load(lc->env.active_max);

		while (n > m && !atomic_compare_exchange_weak(
					lc->env.active_max, &m, n))
			;
	} else {
		atomic_fetch_sub(lc->env.active_all, 1);
	}
}

/*
 * A holding time: the configured one, or an exponential draw of that
 * mean (SIPstone's call model: Poisson arrivals, exponential holding
 * times), by inversion of a xorshift64* uniform.
 */
static uint64_t draw_hold_ns(struct loadcall *lc)
{
	const struct loadcfg *cfg = lc->env.cfg;
	double u;

	if (!cfg->hold_exp)
		return EV_MS(cfg->hold_ms);
	lc->rng ^= lc->rng >> 12;
	lc->rng ^= lc->rng << 25;
	lc->rng ^= lc->rng >> 27;
	u = (double)((lc->rng * 2685821657736338717ull) >> 11) * 0x1p-53;
	return (uint64_t)(-log1p(-u) * (double)EV_MS(cfg->hold_ms));
}

static void call_free(struct lc_call *c)
{
	struct loadcall *lc = c->lc;

	if (c->active)
		set_active(c, -1);
	list_unlink(&c->le);
	ev_timer_cancel(lc->env.ev, &c->hold);
	/* The transactions finish their duties alone (absorbing
	 * retransmitted finals, ACKing a non-2xx again), telling no one. */
	sip_txn_client_detach(c->ict);
	c->ict = obj_deref(c->ict);
	sip_txn_client_detach(c->bye);
	c->bye = obj_deref(c->bye);
	if (c->conn && lc->env.conn_done)
		lc->env.conn_done(lc->env.arg, c->conn);
	obj_deref(c->conn);
	free(c);
	lc->n--;
	if (lc->draining && !lc->n && lc->env.idle)
		lc->env.idle(lc->env.arg);
}

void loadcall_free(struct loadcall *lc)
{
	uint32_t i;

	if (!lc)
		return;
	lc->draining = false;
	for (i = 0; i <= lc->calls.mask; i++) {
		struct list *l = &lc->calls.buckets[i];

		while (l->head)
			call_free(l->head->data);
	}
	hash_free(&lc->calls);
	buf_free(&lc->out);
	buf_free(&lc->hdrs);
	free(lc);
}

uint64_t loadcall_outstanding(const struct loadcall *lc)
{
	return lc->n;
}

static struct lc_call *call_find(struct loadcall *lc, const struct pl *cid)
{
	struct list *l = hash_bucket(&lc->calls, hash_pl(cid));

	for (struct le *le = l->head; le; le = le->next) {
		struct lc_call *c = le->data;

		if (pl_eq_str(cid, c->call_id))
			return c;
	}
	return NULL;
}

/* Ends call c with its outcome o. */
static void call_end(struct lc_call *c, enum loadcount_outcome o)
{
	loadcount_outcome(c->lc->env.c, c->lc->env.mu, o, c->cohort);
	call_free(c);
}

/* The INVITE's outcome (final response, timeout or send error). */
static void invite_done(struct lc_call *c, uint16_t status, bool timeout)
{
	struct loadcount *k = c->lc->env.c;
	uint64_t us = loadcount_us_since(c->lc->env.rx_ns, c->t_start);

	pthread_mutex_lock(c->lc->env.mu);
	k->call.invite_done++;
	if (timeout)
		k->call.invite_timeouts++;
	if (status) {
		hist_add(&k->rtt, us);
		if (status < LOADCOUNT_CODES)
			k->codes[status]++;
	}
	if (status >= 200 && status < 300) {
		k->call.answered++;
		if (!c->ringing)
			hist_add(&k->call.srd, us);
	}
	pthread_mutex_unlock(c->lc->env.mu);
}

/*
 * The destination of a URI with a numeric host (RFC 3263 would resolve
 * names; a load generator must not block on a resolver).  Returns 0 or
 * ENOENT (a name, a transport we do not speak).
 */
static int dest_of_uri(const struct loadcall *lc, const struct pl *text,
		       struct sip_txn_dest *d)
{
	enum sip_transport tp = lc->env.cfg->server.proto;
	struct sip_uri u;
	char host[64];
	uint16_t port;

	if (sip_uri_decode(&u, text) || u.host.l >= sizeof(host) ||
	    u.scheme_id != SIP_URI_SIP)
		return ENOENT;
	if (u.transport.l) {
		if (pl_caseeq_str(&u.transport, "udp"))
			tp = SIP_TP_UDP;
		else if (pl_caseeq_str(&u.transport, "tcp"))
			tp = SIP_TP_TCP;
		else if (pl_caseeq_str(&u.transport, "tls"))
			tp = SIP_TP_TLS;
		else
			return ENOENT;
	}
	if (tp != lc->env.cfg->server.proto)
		return ENOENT; /* one transport per run: no listener else */
	memcpy(host, u.host.p, u.host.l);
	host[u.host.l] = '\0';
	port = u.has_port ? u.port : 5060;
	return sip_txn_dest_literal(d, tp, host, port);
}

static int user_of(const struct loadcall *lc, uint32_t num, char *out,
		   size_t size)
{
	return loadcfg_user_name(lc->env.cfg, num, out, size);
}

/* Fills the parts of an in-dialog request common to ACK and BYE. */
static int dialog_req(struct lc_call *c, struct sip_build_req *br, char *via,
		      size_t vsz, char *from, char *to, size_t asz,
		      char branch[SIP_BRANCH_SIZE])
{
	struct loadcall *lc = c->lc;
	const struct loadcfg *cfg = lc->env.cfg;
	char user[LOADCFG_NAME_MAX * 2], callee[LOADCFG_NAME_MAX * 2];

	if (user_of(lc, c->num, user, sizeof(user)) ||
	    user_of(lc, c->callee, callee, sizeof(callee)))
		return EOVERFLOW;
	sip_build_branch(branch);
	/* once per ACK and BYE: copies, not printf */
	if (loadmsg_via(via, vsz, cfg->server.proto, lc->env.hostport,
			branch) ||
	    loadmsg_addr(from, asz, user, cfg->domain, NULL) ||
	    loadmsg_addr(to, asz, callee, cfg->domain, NULL))
		return EOVERFLOW;
	memset(br, 0, sizeof(*br));
	br->ruri = loadmsg_pl(c->target);
	br->via = loadmsg_pl(via);
	br->from = loadmsg_pl(from);
	br->from_tag = loadmsg_pl(c->tag);
	br->to = loadmsg_pl(to);
	br->to_tag = loadmsg_pl(c->rtag);
	br->call_id = loadmsg_pl(c->call_id);
	br->route = loadmsg_pl(c->route);
	return 0;
}

/* §13.2.2.4: the ACK for a 2xx, outside the transaction, end to end. */
static int send_ack(struct lc_call *c)
{
	struct loadcall *lc = c->lc;
	struct sip_build_req br;
	char via[256], from[256], to[256], branch[SIP_BRANCH_SIZE];
	int err;

	err = dialog_req(c, &br, via, sizeof(via), from, to, sizeof(from),
			 branch);
	if (err)
		return err;
	br.method = loadmsg_pl("ACK");
	br.cseq = c->cseq;
	buf_reset(&lc->out);
	err = sip_build_request(&lc->out, &br);
	if (!err)
		err = lc->env.send(lc->env.arg, &c->next, lc->out.data,
				   lc->out.len);
	return err;
}

static void bye_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg);

/* §15.1.1: our BYE, in a new non-INVITE transaction. */
static void send_bye(struct lc_call *c)
{
	struct loadcall *lc = c->lc;
	struct sip_build_req br;
	char via[256], from[256], to[256], branch[SIP_BRANCH_SIZE];
	uint64_t now = ev_monotonic_ns();
	int err;

	ev_timer_cancel(lc->env.ev, &c->hold);
	err = dialog_req(c, &br, via, sizeof(via), from, to, sizeof(from),
			 branch);
	if (err)
		goto fail;
	br.method = loadmsg_pl("BYE");
	br.cseq = ++c->cseq;
	buf_reset(&lc->out);
	err = sip_build_request(&lc->out, &br);
	if (err)
		goto fail;
	c->state = CALL_BYEING;
	c->t_bye = now;
	pthread_mutex_lock(lc->env.mu);
	hist_add(&lc->env.c->call.sdt, (now - c->t_answer) / 1000u);
	pthread_mutex_unlock(lc->env.mu);
	err = loadmsg_client_start(&c->bye, lc->env.txl, &c->next, branch,
				   &br.method, &lc->out, bye_event, c);
	if (err)
		goto fail;
	return;
fail:
	log_debug("BYE: %s", strerror(err));
	loadcount_bump(lc->env.mu, &lc->env.c->call.bye_failures);
	call_end(c, LOADCOUNT_TP_ERROR);
}

/*
 * What is left of c's hold at now.  Once the loader is stopping, the
 * hold is cut to 2*T1 after the 2xx, not to nothing: a lost ACK is only
 * repaired when the callee retransmits its 2xx (at T1, §13.3.1.4), and
 * a BYE that overtook the ACK would reach a callee still waiting for
 * it.
 */
static uint64_t hold_left_ns(const struct lc_call *c, uint64_t now)
{
	const struct loadcfg *cfg = c->lc->env.cfg;
	uint64_t hold = c->hold_ns, end;

	if (c->lc->draining) {
		uint64_t quick = EV_MS(2 * (cfg->t1_ms ? cfg->t1_ms : 500));

		if (quick < hold)
			hold = quick;
	}
	end = c->t_answer + hold;
	return end > now ? end - now : 0;
}

static void on_hold(void *arg)
{
	struct lc_call *c = arg;
	struct sip_tp *tp = c->lc->env.tp;

	send_bye(c);
	/* Timers run after the loop's flush hook: send now, not after
	 * the next wait. */
	sip_tp_flush(tp);
}

static void bye_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg)
{
	struct lc_call *c = arg;
	struct loadcall *lc = c->lc;
	struct loadcount_call *k = &lc->env.c->call;

	(void)t;
	(void)err;
	switch (ev) {
	case SIP_TXN_EV_RESPONSE:
		if (msg->status < 200)
			return;
		if (msg->status < 300) {
			pthread_mutex_lock(lc->env.mu);
			k->completed++;
			hist_add(&k->sdd,
				 loadcount_us_since(lc->env.rx_ns, c->t_bye));
			pthread_mutex_unlock(lc->env.mu);
			call_end(c, c->unexpected ? LOADCOUNT_FAIL
						  : LOADCOUNT_OK);
			return;
		}
		loadcount_bump(lc->env.mu, &k->bye_failures);
		call_end(c, LOADCOUNT_FAIL);
		return;
	case SIP_TXN_EV_TIMEOUT:
		pthread_mutex_lock(lc->env.mu);
		k->bye_failures++;
		k->bye_timeouts++;
		pthread_mutex_unlock(lc->env.mu);
		call_end(c, LOADCOUNT_TIMEOUT);
		return;
	case SIP_TXN_EV_TRANSPORT_ERROR:
		loadcount_bump(lc->env.mu, &k->bye_failures);
		call_end(c, LOADCOUNT_TP_ERROR);
		return;
	case SIP_TXN_EV_TIMER_C:
		return;
	}
}

static void ict_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg);

/* Builds and sends the INVITE of c (a new transaction each time). */
static int send_invite(struct lc_call *c)
{
	struct loadcall *lc = c->lc;
	const struct loadcfg *cfg = lc->env.cfg;
	char user[LOADCFG_NAME_MAX * 2], callee[LOADCFG_NAME_MAX * 2];
	char branch[SIP_BRANCH_SIZE], via[256], from[256], to[256];
	char ruri[256], contact[256];
	struct sip_build_req br;
	struct sip_txn_dest dst;
	int err;

	if (user_of(lc, c->num, user, sizeof(user)) ||
	    user_of(lc, c->callee, callee, sizeof(callee)))
		return EOVERFLOW;
	sip_build_branch(branch);
	/* once per INVITE: copies, not printf */
	if (loadmsg_via(via, sizeof(via), cfg->server.proto, lc->env.hostport,
			branch) ||
	    loadmsg_addr(from, sizeof(from), user, cfg->domain, NULL) ||
	    loadmsg_addr(to, sizeof(to), callee, cfg->domain, NULL) ||
	    loadmsg_cat(ruri, sizeof(ruri),
			(const char *const[]){"sip:", callee, "@", cfg->domain,
					      NULL}) ||
	    loadmsg_addr(contact, sizeof(contact), user, lc->env.hostport,
			 loadmsg_tp_param(cfg->server.proto)))
		return EOVERFLOW;
	buf_reset(&lc->hdrs);
	err = buf_append_str(&lc->hdrs, "Subject: sipstone invite test\r\n");
	if (err)
		return err;
	/* Credentials: after a challenge, or preloaded from the user's
	 * last call (as Proxy-Authorization: INVITEs are challenged by
	 * proxies with 407, §22.3). */
	err = loadcred_header(&lc->hdrs, cfg, *c->auth, c->auth_tries,
			      !c->auth_tries || c->proxy_auth, "INVITE", ruri);
	if (err)
		return err;
	memset(&br, 0, sizeof(br));
	br.method = loadmsg_pl("INVITE");
	br.ruri = loadmsg_pl(ruri);
	br.via = loadmsg_pl(via);
	br.from = loadmsg_pl(from);
	br.from_tag = loadmsg_pl(c->tag);
	br.to = loadmsg_pl(to);
	br.call_id = loadmsg_pl(c->call_id);
	br.cseq = c->cseq;
	br.contact = loadmsg_pl(contact);
	br.hdrs = buf_pl(&lc->hdrs);
	br.ctype = loadmsg_pl("application/sdp");
	br.body = loadmsg_pl(lc->sdp);
	buf_reset(&lc->out);
	err = sip_build_request(&lc->out, &br);
	if (err)
		return err;
	sip_txn_tp_dest(&dst, &lc->env.cfg->server, NULL);
	dst.conn = c->conn;
	/* The challenged INVITE's transaction finishes alone (it ACKs a
	 * retransmitted 407): it must not call back into a call that may
	 * be gone by then. */
	sip_txn_client_detach(c->ict);
	c->ict = obj_deref(c->ict);
	return loadmsg_client_start(&c->ict, lc->env.txl, &dst, branch,
				    &br.method, &lc->out, ict_event, c);
}

void loadcall_start(struct loadcall *lc, uint32_t num, uint32_t callee,
		    struct sip_auth_client **auth)
{
	struct lc_call *c = calloc(1, sizeof(*c));
	int err;

	if (!c) {
		/* counted as an attempt by the caller: end it as failed */
		pthread_mutex_lock(lc->env.mu);
		lc->env.c->failures++;
		loadcount_cohort(lc->env.c,
				 lc->env.cohort ? *lc->env.cohort : 0)
			->failures++;
		lc->env.c->transport_errors++;
		pthread_mutex_unlock(lc->env.mu);
		return;
	}
	c->lc = lc;
	c->cohort = lc->env.cohort ? *lc->env.cohort : 0;
	c->num = num;
	c->callee = callee;
	c->auth = auth;
	c->cseq = 1;
	c->state = CALL_INVITING;
	c->t_start = ev_monotonic_ns();
	ev_timer_init(&c->hold);
	if (lc->env.conn_for)
		c->conn = lc->env.conn_for(lc->env.arg, num);
	sip_build_tag(c->tag);
	if (sip_build_call_id(c->call_id, sizeof(c->call_id), lc->ip))
		snprintf(c->call_id, sizeof(c->call_id), "%s", c->tag);
	hash_append(&lc->calls, hash_keyed32(c->call_id, strlen(c->call_id)),
		    &c->le, c);
	lc->n++;
	err = send_invite(c);
	if (err) {
		log_debug("INVITE: %s", strerror(err));
		invite_done(c, 0, false);
		call_end(c, LOADCOUNT_TP_ERROR);
	}
}

/* Takes the challenge of a 401/407 and sends again.  0 when resent. */
static int answer_challenge(struct lc_call *c, const struct sip_msg *msg)
{
	struct loadcall *lc = c->lc;
	const struct loadcfg *cfg = lc->env.cfg;
	int err;

	if (!cfg->password[0] && !cfg->passwords)
		return EPERM;
	err = loadcred_answer(cfg, c->num, c->auth, c->auth_tries, msg);
	if (err)
		return err;
	c->auth_tries++;
	c->proxy_auth = msg->status == 407;
	c->cseq++; /* §22.2: the same Call-ID and tags, CSeq + 1 */
	loadcount_bump(lc->env.mu, &lc->env.c->auth_challenges);
	return send_invite(c);
}

/* Copies the route set (§12.1.2: the 2xx's Record-Route reversed) and
 * the remote target (its Contact).  Returns 0, EBADMSG, EOVERFLOW. */
static int dialog_from(struct lc_call *c, const struct sip_msg *msg)
{
	const struct sip_hdr *rr[32], *h;
	struct sip_addr a;
	size_t n = 0, o = 0;

	h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	if (!h || sip_addr_decode(&a, &h->value) || a.star)
		return EBADMSG;
	if (pl_strcpy(&a.uri, c->target, sizeof(c->target)))
		return EOVERFLOW;
	if (pl_strcpy(&msg->to_tag, c->rtag, sizeof(c->rtag)))
		return EOVERFLOW;
	for (h = sip_msg_hdr(msg, SIP_HDR_RECORD_ROUTE); h;
	     h = sip_msg_hdr_next(msg, h)) {
		if (n == sizeof(rr) / sizeof(rr[0]))
			return EOVERFLOW;
		rr[n++] = h;
	}
	c->route[0] = '\0';
	/* The next hop: the first route (loose routing, §12.2.1.1), else
	 * the remote target; the server when it names no numeric
	 * address. */
	if (n && sip_addr_decode(&a, &rr[n - 1]->value))
		return EBADMSG;
	while (n--) {
		int k = snprintf(c->route + o, sizeof(c->route) - o, "%s%.*s",
				 o ? ", " : "", PL_FMT(&rr[n]->value));

		if (k < 0 || (size_t)k >= sizeof(c->route) - o)
			return EOVERFLOW;
		o += (size_t)k;
	}
	if (dest_of_uri(c->lc, &a.uri, &c->next))
		sip_txn_tp_dest(&c->next, &c->lc->env.cfg->server, NULL);
	c->next.conn = c->conn; /* used when the hop is the server */
	return 0;
}

/* The INVITE's final that makes the call a success (loadcfg.expect). */
static uint16_t expected(const struct loadcall *lc)
{
	return lc->env.cfg->expect ? lc->env.cfg->expect : 200;
}

/* §8.1.3.4, §21.3: the targets a redirect's Contact offers. */
static void count_contacts(struct lc_call *c, const struct sip_msg *msg)
{
	const struct sip_hdr *h;
	uint64_t n = 0;

	for (h = sip_msg_hdr(msg, SIP_HDR_CONTACT); h;
	     h = sip_msg_hdr_next(msg, h))
		n++;
	pthread_mutex_lock(c->lc->env.mu);
	c->lc->env.c->call.redirect_contacts += n;
	if (!n)
		c->lc->env.c->call.redirect_empty++;
	pthread_mutex_unlock(c->lc->env.mu);
}

/*
 * The INVITE's final response: a challenge answered; the expected
 * non-2xx (redirect, proxy480, proxy486) or any other ends the call; a
 * 2xx makes the dialog, ACKed (§13.2.2.4), then held and hung up (at
 * once when a failure was expected).
 */
static void invite_final(struct lc_call *c, const struct sip_msg *msg)
{
	struct loadcall *lc = c->lc;

	if ((msg->status == 401 || msg->status == 407) &&
	    !answer_challenge(c, msg))
		return;
	invite_done(c, msg->status, false);
	if (msg->status >= 300) {
		/* The layer ACKs a non-2xx itself (§17.1.1.3): the ACK of
		 * the redirect and unsuccessful-call tests. */
		if (msg->status == expected(lc) && msg->status < 400)
			count_contacts(c, msg);
		call_end(c, msg->status == expected(lc) ? LOADCOUNT_OK
							: LOADCOUNT_FAIL);
		return;
	}
	c->unexpected = expected(lc) >= 300;
	c->t_answer = loadcount_rx_now(lc->env.rx_ns);
	c->hold_ns = draw_hold_ns(lc);
	set_active(c, +1);
	if (dialog_from(c, msg)) {
		loadcount_bump(lc->env.mu, &lc->env.c->bad_msgs);
		call_end(c, LOADCOUNT_FAIL);
		return;
	}
	c->state = CALL_HOLDING;
	if (send_ack(c)) {
		call_end(c, LOADCOUNT_TP_ERROR);
		return;
	}
	loadcount_bump(lc->env.mu, &lc->env.c->call.acks);
	if (!c->hold_ns || c->unexpected)
		send_bye(c);
	else /* due at t_answer + hold: counted from the loop's clock,
	      * which timers start from (it may lag the real one) */
		ev_timer_start(lc->env.ev, &c->hold,
			       hold_left_ns(c, ev_now(lc->env.ev)), on_hold,
			       c);
}

static void ict_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg)
{
	struct lc_call *c = arg;
	struct loadcall *lc = c->lc;

	(void)err;
	if (t != c->ict)
		return; /* an earlier INVITE of the call (auth) */
	switch (ev) {
	case SIP_TXN_EV_RESPONSE:
		if (c->state != CALL_INVITING) {
			/* RFC 6026: a 2xx again (our ACK was lost, or
			 * another fork): ACK it again, same dialog only. */
			if (msg->status >= 200 && msg->status < 300 &&
			    pl_eq_str(&msg->to_tag, c->rtag) && !send_ack(c))
				loadcount_bump(lc->env.mu,
					       &lc->env.c->call.acks_resent);
			return;
		}
		if (msg->status == 100)
			return;
		if (msg->status < 200) {
			if (!c->ringing &&
			    (msg->status == 180 || msg->status == 183)) {
				c->ringing = true;
				pthread_mutex_lock(lc->env.mu);
				lc->env.c->call.ringing++;
				hist_add(&lc->env.c->call.srd,
					 loadcount_us_since(lc->env.rx_ns,
							    c->t_start));
				pthread_mutex_unlock(lc->env.mu);
			}
			return;
		}
		invite_final(c, msg);
		return;
	case SIP_TXN_EV_TIMEOUT:
		if (c->state != CALL_INVITING)
			return;
		invite_done(c, 0, true);
		call_end(c, LOADCOUNT_TIMEOUT);
		return;
	case SIP_TXN_EV_TRANSPORT_ERROR:
		if (c->state != CALL_INVITING)
			return;
		invite_done(c, 0, false);
		call_end(c, LOADCOUNT_TP_ERROR);
		return;
	case SIP_TXN_EV_TIMER_C:
		return;
	}
}

void loadcall_drain(struct loadcall *lc)
{
	uint64_t now;
	uint32_t i;

	lc->draining = true;
	if (!lc->n) {
		if (lc->env.idle)
			lc->env.idle(lc->env.arg);
		return;
	}
	/* Cut the holds short (hold_left_ns); the timers send the BYEs,
	 * so this walk ends no call. */
	now = ev_now(lc->env.ev);
	for (i = 0; i <= lc->calls.mask; i++) {
		for (struct le *le = lc->calls.buckets[i].head; le;
		     le = le->next) {
			struct lc_call *c = le->data;

			if (c->state == CALL_HOLDING)
				ev_timer_start(lc->env.ev, &c->hold,
					       hold_left_ns(c, now), on_hold,
					       c);
		}
	}
}

int loadcall_response(struct loadcall *lc, const struct sip_msg *msg)
{
	struct lc_call *c = call_find(lc, &msg->call_id);

	if (!c || c->state == CALL_INVITING ||
	    msg->cseq.method_id != SIP_METHOD_INVITE || msg->status < 200 ||
	    msg->status >= 300 || !pl_eq_str(&msg->to_tag, c->rtag))
		return ENOENT;
	if (!send_ack(c))
		loadcount_bump(lc->env.mu, &lc->env.c->call.acks_resent);
	return 0;
}

/* Answers st with status; for 200 to an INVITE, our Contact and SDP. */
static void answer(struct loadcall *lc, struct sip_txn *st,
		   const struct sip_msg *msg, uint16_t status, bool sdp)
{
	struct sip_build_resp_opts o;
	char contact[300];
	int err;

	memset(&o, 0, sizeof(o));
	if (sdp) {
		snprintf(contact, sizeof(contact),
			 "Contact: <sip:loader@%s;transport=%s>\r\n",
			 lc->env.hostport,
			 loadmsg_tp_param(lc->env.cfg->server.proto));
		o.hdrs = loadmsg_pl(contact);
		o.ctype = loadmsg_pl("application/sdp");
		o.body = loadmsg_pl(lc->sdp);
	}
	buf_reset(&lc->out);
	err = sip_build_response(&lc->out, msg, status, NULL, &o);
	if (!err)
		err = sip_txn_reply(st, lc->out.data, lc->out.len);
	if (err)
		log_debug("answering %u: %s", status, strerror(err));
}

void loadcall_request(void *arg, struct sip_txn *st, const struct sip_msg *msg,
		      const struct sip_txn_dest *src)
{
	struct loadcall *lc = arg;
	struct loadcount_call *k = &lc->env.c->call;
	struct lc_call *c = call_find(lc, &msg->call_id);
	const struct sip_hdr *h;
	struct sip_addr a;

	(void)src;
	/* §12.2.2: in a dialog of ours the To tag is our tag, the From
	 * tag theirs. */
	if (c &&
	    (c->state == CALL_INVITING || !pl_eq_str(&msg->to_tag, c->tag) ||
	     !pl_eq_str(&msg->from_tag, c->rtag)))
		c = NULL;
	if (!st)
		return; /* an ACK (for our 200 to a re-INVITE, or stray) */
	if (!c) {
		if (msg->method_id == SIP_METHOD_OPTIONS && !msg->to_tag.l) {
			answer(lc, st, msg, 200, false);
			return;
		}
		loadcount_bump(lc->env.mu, &k->no_dialog);
		answer(lc, st, msg, msg->to_tag.l ? 481 : 405, false);
		return;
	}
	switch (msg->method_id) {
	case SIP_METHOD_BYE: {
		uint64_t now = loadcount_rx_now(lc->env.rx_ns);
		bool held = c->state == CALL_HOLDING;

		answer(lc, st, msg, 200, false);
		pthread_mutex_lock(lc->env.mu);
		k->completed++;
		k->far_byes++;
		if (held)
			hist_add(&k->sdt, now > c->t_answer
						  ? (now - c->t_answer) / 1000u
						  : 0);
		pthread_mutex_unlock(lc->env.mu);
		/* Our own BYE, if it crossed theirs, is dropped with the
		 * call. */
		call_end(c, LOADCOUNT_OK);
		return;
	}
	case SIP_METHOD_INVITE:
		/* A target refresh (§12.2.2): their new Contact. */
		h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
		if (h && !sip_addr_decode(&a, &h->value) && !a.star &&
		    !pl_strcpy(&a.uri, c->target, sizeof(c->target)) &&
		    !c->route[0]) {
			/* no route set: the target is the hop */
			if (dest_of_uri(lc, &a.uri, &c->next))
				sip_txn_tp_dest(&c->next, &lc->env.cfg->server,
						NULL);
			c->next.conn = c->conn;
		}
		loadcount_bump(lc->env.mu, &k->reinvites);
		answer(lc, st, msg, 200, true);
		return;
	default:
		loadcount_bump(lc->env.mu, &k->in_dialog_other);
		answer(lc, st, msg, 200, false);
		return;
	}
}
