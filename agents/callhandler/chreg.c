/*
 * chreg.c - registering the callhandler's users (see chreg.h).
 */
#include "chreg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "callhandler"
#include "buf.h"
#include "ev.h"
#include "log.h"
#include "obj.h"
#include "sip_auth.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "sip_txn.h"
#include "sip_txn_tp.h"

#define CHREG_MAX_USERS 1000000u
#define CHREG_NAME_MAX 64
#define CHREG_TICK_MS 1u

struct chreg_user {
	struct chreg *r;
	char name[CHREG_NAME_MAX];
	char call_id[48];
	char tag[SIP_TAG_SIZE];
	uint32_t cseq;
	struct sip_auth_client *auth;
	bool proxy_auth; /* the last challenge was a 407 */
	struct sip_txn *ct;
	struct ev_timer timer; /* retry or refresh */
	unsigned attempts;     /* failed attempts in a row */
	unsigned challenges;   /* challenges in this attempt */
	bool registered;
	bool settled; /* counted as registered or failed once */
};

struct chreg {
	struct chreg_cfg cfg;
	struct ev *ev;
	struct sip_tp *tp;
	struct sip_txn_layer *txl;
	struct sip_txn_tp bind; /* txl's sends: through tp */
	chreg_done_h *done_h;
	void *arg;
	struct chreg_user *users;
	uint32_t n;
	uint32_t next; /* first registrations sent */
	uint32_t settled;
	uint64_t start_ns;
	uint64_t done_ms;
	struct ev_timer pace;
	char via_hostport[SIP_TP_ADDR_STRLEN];
	char contact_hostport[SIP_TP_ADDR_STRLEN];
	struct buf out;
	struct buf auth;
	struct chreg_stats st;
};

int chreg_users_decode(struct chreg_users *u, const char *s)
{
	struct chreg_users v;
	const char *dash = strchr(s, '-');
	size_t plen, d1, d2;
	const char *p;
	struct pl a, b;

	memset(&v, 0, sizeof(v));
	if (!*s)
		return EINVAL;
	if (!dash) {
		if (strlen(s) >= sizeof(v.prefix))
			return EINVAL;
		for (p = s; *p; p++)
			if (!isgraph((unsigned char)*p) || *p == '@' ||
			    *p == ':' || *p == ';')
				return EINVAL;
		snprintf(v.prefix, sizeof(v.prefix), "%s", s);
		*u = v;
		return 0;
	}
	/* The digits before the dash start where the prefix ends. */
	p = dash;
	while (p > s && isdigit((unsigned char)p[-1]))
		p--;
	plen = (size_t)(p - s);
	d1 = (size_t)(dash - p);
	/* The second bound may repeat the prefix ("A1000-A1999"). */
	b.p = dash + 1;
	if (plen && !strncmp(b.p, s, plen))
		b.p += plen;
	b.l = strlen(b.p);
	d2 = b.l;
	a.p = p;
	a.l = d1;
	if (!d1 || d1 != d2 || d1 > 9 || plen >= sizeof(v.prefix) ||
	    pl_u32(&a, &v.first) || pl_u32(&b, &v.last) || v.first > v.last ||
	    v.last - v.first >= CHREG_MAX_USERS)
		return EINVAL;
	for (p = s; p < s + plen; p++)
		if (!isgraph((unsigned char)*p) || *p == '@' || *p == ':' ||
		    *p == ';')
			return EINVAL;
	memcpy(v.prefix, s, plen);
	v.width = (unsigned)d1;
	v.range = true;
	*u = v;
	return 0;
}

uint32_t chreg_users_count(const struct chreg_users *u)
{
	return u->range ? u->last - u->first + 1 : 1;
}

int chreg_users_name(const struct chreg_users *u, uint32_t i, char *out,
		     size_t size)
{
	int n;

	if (u->range)
		n = snprintf(out, size, "%s%0*u", u->prefix, (int)u->width,
			     u->first + i);
	else
		n = snprintf(out, size, "%s", u->prefix);
	return n < 0 || (size_t)n >= size ? EOVERFLOW : 0;
}

/* ------------------------------------------------------------------ */

static void on_recv(const struct sip_tp_rx *rx, void *arg)
{
	struct chreg *r = arg;
	const char *why;
	uint16_t status;

	if (sip_msg_validate(rx->msg, &status, &why) || rx->msg->is_request)
		return; /* nothing but our responses comes here */
	sip_txn_recv_response(r->txl, rx->msg);
}

static void on_txn(struct sip_txn *t, enum sip_txn_event ev,
		   const struct sip_msg *msg, int err, void *arg);
static void user_send(struct chreg_user *cu);

static void settle(struct chreg *r, struct chreg_user *cu)
{
	if (cu->settled)
		return;
	cu->settled = true;
	if (++r->settled == r->n) {
		r->done_ms = (ev_now(r->ev) - r->start_ns) / EV_NS_PER_MS;
		if (!r->done_ms)
			r->done_ms = 1;
		if (r->done_h)
			r->done_h(r, r->arg);
	}
}

static void on_user_timer(void *arg)
{
	struct chreg_user *cu = arg;

	if (cu->registered)
		cu->r->st.refreshes++;
	user_send(cu);
	sip_tp_flush(cu->r->tp); /* see on_pace */
}

static void user_failed(struct chreg_user *cu)
{
	struct chreg *r = cu->r;

	if (cu->registered) {
		cu->registered = false;
		r->st.registered--;
	}
	cu->challenges = 0;
	if (cu->attempts++ < r->cfg.retries) {
		r->st.retries++;
		ev_timer_start(r->ev, &cu->timer, EV_MS(r->cfg.retry_ms),
			       on_user_timer, cu);
		return;
	}
	r->st.failed++;
	log_warn("%s: not registered after %u attempts", cu->name,
		 cu->attempts);
	settle(r, cu);
}

/* The expiry the registrar granted our Contact (§10.2.4): its expires
 * parameter, else Expires, else what we asked for. */
static uint32_t granted(struct chreg *r, const struct chreg_user *cu,
			const struct sip_msg *msg)
{
	const struct sip_hdr *h;
	char want[CHREG_NAME_MAX + SIP_TP_ADDR_STRLEN + 8];
	uint32_t v;

	snprintf(want, sizeof(want), "sip:%s@%s", cu->name,
		 r->contact_hostport);
	for (h = sip_msg_hdr(msg, SIP_HDR_CONTACT); h;
	     h = sip_msg_hdr_next(msg, h)) {
		struct sip_addr a;
		struct pl e;

		if (sip_addr_decode(&a, &h->value) || a.uri.l < strlen(want) ||
		    strncasecmp(a.uri.p, want, strlen(want)))
			continue;
		if (!sip_param_get(&a.params, "expires", &e) &&
		    !pl_u32(&e, &v))
			return v;
	}
	h = sip_msg_hdr(msg, SIP_HDR_EXPIRES);
	if (h && !pl_u32(&h->value, &v))
		return v;
	return r->cfg.expires;
}

int chreg_auth_challenge(struct sip_auth_client **auth, const char *user,
			 const char *password, unsigned challenges,
			 const struct sip_msg *msg)
{
	const struct sip_hdr *h;
	struct sip_auth_challenge ch;
	struct pl u, pw;
	int err = ENOENT;

	h = sip_msg_hdr(msg, msg->status == 401 ? SIP_HDR_WWW_AUTHENTICATE
						: SIP_HDR_PROXY_AUTHENTICATE);
	if (!password || !h || challenges >= 2)
		return EACCES;
	if (!*auth) {
		pl_set_str(&u, user);
		pl_set_str(&pw, password);
		err = sip_auth_client_alloc(auth, &u, &pw);
		if (err)
			return err;
	}
	for (; h; h = sip_msg_hdr_next(msg, h)) {
		err = sip_auth_challenge_decode(&ch, &h->value);
		if (!err)
			err = sip_auth_client_challenge(*auth, &ch);
		if (!err)
			break;
	}
	return err;
}

int chreg_auth_print(struct buf *b, struct sip_auth_client *auth, bool proxy,
		     const struct pl *method, const char *ruri)
{
	struct pl uri;
	int err;

	if (!auth || !sip_auth_client_ready(auth))
		return 0;
	pl_set_str(&uri, ruri);
	err = buf_append_str(b, proxy ? "Proxy-Authorization: "
				      : "Authorization: ");
	if (!err)
		err = sip_auth_client_print(auth, b, method, &uri);
	if (!err)
		err = buf_append_str(b, "\r\n");
	return err;
}

uint32_t chreg_pace_due(uint64_t elapsed_ns, unsigned rate, uint32_t n)
{
	uint64_t due = elapsed_ns * rate / 1000000000ull + 1;

	return due > n ? n : (uint32_t)due;
}

static void on_challenge(struct chreg_user *cu, const struct sip_msg *msg)
{
	struct chreg *r = cu->r;
	int err;

	err = chreg_auth_challenge(&cu->auth, cu->name, r->cfg.password,
				   cu->challenges, msg);
	if (err) {
		if (err != EACCES)
			log_warn("%s: cannot answer the challenge: %s",
				 cu->name, strerror(err));
		r->st.rejected++;
		user_failed(cu);
		return;
	}
	cu->proxy_auth = msg->status == 407;
	cu->challenges++;
	r->st.challenged++;
	user_send(cu);
}

static void on_txn(struct sip_txn *t, enum sip_txn_event ev,
		   const struct sip_msg *msg, int err, void *arg)
{
	struct chreg_user *cu = arg;
	struct chreg *r = cu->r;
	uint32_t exp;

	if (t != cu->ct)
		return;
	if (ev == SIP_TXN_EV_RESPONSE && msg->status < 200)
		return;
	cu->ct = obj_deref(cu->ct);
	if (ev != SIP_TXN_EV_RESPONSE) {
		r->st.timeouts++;
		user_failed(cu);
		return;
	}
	if (msg->status == 401 || msg->status == 407) {
		on_challenge(cu, msg);
		return;
	}
	if (msg->status >= 300) {
		r->st.rejected++;
		log_debug("%s: %u", cu->name, msg->status);
		user_failed(cu);
		return;
	}
	r->st.ok++;
	cu->attempts = 0;
	cu->challenges = 0;
	if (!cu->registered) {
		cu->registered = true;
		r->st.registered++;
	}
	/* Refresh at 4/5 of the granted time, so that a slow server
	 * still sees it before the binding expires. */
	exp = granted(r, cu, msg);
	ev_timer_start(r->ev, &cu->timer,
		       exp > 1 ? EV_MS((uint64_t)exp * 800) : EV_MS(1000),
		       on_user_timer, cu);
	settle(r, cu);
}

static const char *tp_param(enum sip_transport tp)
{
	return tp == SIP_TP_TCP	  ? ";transport=tcp"
	       : tp == SIP_TP_TLS ? ";transport=tls"
				  : "";
}

static void user_send(struct chreg_user *cu)
{
	struct chreg *r = cu->r;
	char branch[SIP_BRANCH_SIZE], via[160], ruri[160], aor[200];
	char contact[256], hdrs[64];
	struct sip_build_req q;
	struct sip_txn_creq c;
	struct sip_txn_dest d;
	struct pl method = PL("REGISTER");
	int err;

	memset(&q, 0, sizeof(q));
	sip_build_branch(branch);
	snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=%s;rport",
		 sip_transport_name(r->cfg.server.proto), r->via_hostport,
		 branch);
	snprintf(ruri, sizeof(ruri), "sip:%s", r->cfg.domain);
	snprintf(aor, sizeof(aor), "<sip:%s@%s>", cu->name, r->cfg.domain);
	snprintf(contact, sizeof(contact), "<sip:%s@%s%s>", cu->name,
		 r->contact_hostport, tp_param(r->cfg.contact.proto));
	snprintf(hdrs, sizeof(hdrs), "Expires: %u\r\n", r->cfg.expires);
	buf_reset(&r->auth);
	err = buf_append_str(&r->auth, hdrs);
	if (!err)
		err = chreg_auth_print(&r->auth, cu->auth, cu->proxy_auth,
				       &method, ruri);
	if (err)
		goto fail;
	q.method = method;
	pl_set_str(&q.ruri, ruri);
	pl_set_str(&q.via, via);
	pl_set_str(&q.from, aor);
	pl_set_str(&q.from_tag, cu->tag);
	pl_set_str(&q.to, aor);
	pl_set_str(&q.call_id, cu->call_id);
	q.cseq = ++cu->cseq;
	pl_set_str(&q.contact, contact);
	q.hdrs = buf_pl(&r->auth);
	buf_reset(&r->out);
	err = sip_build_request(&r->out, &q);
	if (err)
		goto fail;
	sip_txn_tp_dest(&d, &r->cfg.server, NULL);
	memset(&c, 0, sizeof(c));
	c.dst = &d;
	pl_set_str(&c.branch, branch);
	c.method = method;
	c.msg = buf_pl(&r->out);
	cu->ct = obj_deref(cu->ct);
	err = sip_txn_client_start(&cu->ct, r->txl, &c, on_txn, cu);
	if (err)
		goto fail;
	r->st.sent++;
	return;
fail:
	log_debug("%s: REGISTER not sent: %s", cu->name, strerror(err));
	r->st.timeouts++;
	user_failed(cu);
}

static void on_pace(void *arg)
{
	struct chreg *r = arg;
	uint32_t due =
		chreg_pace_due(ev_now(r->ev) - r->start_ns, r->cfg.rate, r->n);

	while (r->next < due)
		user_send(&r->users[r->next++]);
	/* Timers run after the loop's flush hook: a TCP write queued
	 * here would otherwise wait for the next wake-up (for the last
	 * users, their timeout). */
	sip_tp_flush(r->tp);
	if (r->next < r->n)
		ev_timer_start(r->ev, &r->pace, EV_MS(CHREG_TICK_MS), on_pace,
			       r);
}

void chreg_start(struct chreg *r)
{
	r->start_ns = ev_now(r->ev);
	on_pace(r);
}

static void chreg_destroy(void *arg)
{
	struct chreg *r = arg;
	uint32_t i;

	if (r->ev)
		ev_timer_cancel(r->ev, &r->pace);
	for (i = 0; r->users && i < r->n; i++) {
		struct chreg_user *cu = &r->users[i];

		ev_timer_cancel(r->ev, &cu->timer);
		sip_txn_terminate(cu->ct);
		obj_deref(cu->ct);
		sip_auth_client_free(cu->auth);
	}
	free(r->users);
	obj_deref(r->txl);
	obj_deref(r->tp);
	buf_free(&r->out);
	buf_free(&r->auth);
}

int chreg_alloc(struct chreg **rp, struct ev *ev, const struct chreg_cfg *cfg,
		chreg_done_h *done_h, void *arg)
{
	struct sip_tp_opts topts;
	struct sip_txn_cfg tcfg;
	struct chreg *r;
	uint32_t i;
	int err;

	if (!cfg->domain || !cfg->rate || !cfg->expires)
		return EINVAL;
	r = obj_alloc(sizeof(*r), chreg_destroy);
	if (!r)
		return ENOMEM;
	r->cfg = *cfg;
	r->ev = ev;
	r->done_h = done_h;
	r->arg = arg;
	ev_timer_init(&r->pace);
	buf_init(&r->out, SIP_MSG_MAX_SIZE);
	buf_init(&r->auth, 4096);
	r->n = chreg_users_count(&cfg->users);
	r->st.users = r->n;
	r->users = calloc(r->n, sizeof(*r->users));
	err = ENOMEM;
	if (!r->users)
		goto out;
	err = sip_tp_addr_hostport(&cfg->contact, r->contact_hostport,
				   sizeof(r->contact_hostport));
	if (err)
		goto out;
	memset(&topts, 0, sizeof(topts));
	topts.tls_client = cfg->tls_client;
	err = sip_tp_alloc(&r->tp, ev, &topts, on_recv, r);
	if (err)
		goto out;
	memset(&tcfg, 0, sizeof(tcfg));
	tcfg.timer_b_ms = cfg->timeout_ms ? cfg->timeout_ms : 4000;
	r->bind.tp = r->tp;
	r->bind.tls_name = r->cfg.server_name;
	err = sip_txn_tp_layer_alloc(&r->txl, ev, &tcfg, &r->bind, NULL, r);
	if (err)
		goto out;
	if (cfg->server.proto == SIP_TP_UDP) {
		/* Our own UDP socket (port chosen by the kernel) on the
		 * contact's address: responses come back to it. */
		struct sip_tp_addr local = cfg->contact, bound;

		local.proto = SIP_TP_UDP;
		sip_tp_addr_set_port(&local, 0);
		err = sip_tp_listen(r->tp, &local, 0, &bound);
		if (err) {
			log_err("registration socket: %s", strerror(err));
			goto out;
		}
		err = sip_tp_addr_hostport(&bound, r->via_hostport,
					   sizeof(r->via_hostport));
	} else {
		/* TCP/TLS: responses come back on the connection (§18.2.2);
		 * the sent-by names our listener. */
		snprintf(r->via_hostport, sizeof(r->via_hostport), "%s",
			 r->contact_hostport);
	}
	if (err)
		goto out;
	for (i = 0; i < r->n; i++) {
		struct chreg_user *cu = &r->users[i];

		cu->r = r;
		ev_timer_init(&cu->timer);
		err = chreg_users_name(&cfg->users, i, cu->name,
				       sizeof(cu->name));
		if (err)
			goto out;
		sip_build_tag(cu->tag);
		sip_build_call_id(cu->call_id, sizeof(cu->call_id), NULL);
	}
	*rp = r;
	return 0;
out:
	obj_deref(r);
	return err;
}

void chreg_stats(const struct chreg *r, struct chreg_stats *st)
{
	struct sip_txn_stats xs;

	*st = r->st;
	sip_txn_layer_stats(r->txl, &xs);
	st->retransmissions = xs.retransmissions;
}

uint64_t chreg_done_ms(const struct chreg *r)
{
	return r->done_ms;
}
