/*
 * registration.c - registering the callhandler's users (see registration.h).
 */
#include "registration.h"

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
#include "uac.h"
#include "user_range.h"

#define REGISTRATION_MAX_USERS 1000000u
#define REGISTRATION_NAME_MAX 64

struct reg_user {
	struct registration *r;
	char name[REGISTRATION_NAME_MAX];
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

struct registration {
	struct registration_cfg cfg;
	struct ev *ev;
	struct sip_tp *tp;
	struct sip_txn_layer *txl;
	struct sip_txn_tp bind; /* txl's sends: through tp */
	registration_done_h *done_h;
	void *arg;
	struct reg_user *users;
	uint32_t n;
	struct uac_pacer pacer; /* first registrations; settled ones */
	char via_hostport[SIP_TP_ADDR_STRLEN];
	char contact_hostport[SIP_TP_ADDR_STRLEN];
	struct buf out;
	struct buf auth;
	struct registration_stats st;
};

static void on_recv(const struct sip_tp_rx *rx, void *arg)
{
	struct registration *r = arg;
	const char *why;
	uint16_t status;

	if (sip_msg_validate(rx->msg, &status, &why) || rx->msg->is_request)
		return; /* nothing but our responses comes here */
	sip_txn_recv_response(r->txl, rx->msg);
}

static void on_txn(struct sip_txn *t, enum sip_txn_event ev,
		   const struct sip_msg *msg, int err, void *arg);
static void user_send(struct reg_user *cu);

static void on_user_timer(void *arg)
{
	struct reg_user *cu = arg;

	if (cu->registered)
		cu->r->st.refreshes++;
	user_send(cu);
	sip_tp_flush(cu->r->tp); /* see pacer_tick() in uac.c */
}

static void user_failed(struct reg_user *cu)
{
	struct registration *r = cu->r;

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
	uac_pacer_settle(&r->pacer, &cu->settled);
}

/* The expiry the registrar granted our Contact (§10.2.4): its expires
 * parameter, else Expires, else what we asked for. */
static uint32_t granted(struct registration *r, const struct reg_user *cu,
			const struct sip_msg *msg)
{
	const struct sip_hdr *h;
	char want[REGISTRATION_NAME_MAX + SIP_TP_ADDR_STRLEN + 8];
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

static void on_challenge(struct reg_user *cu, const struct sip_msg *msg)
{
	struct registration *r = cu->r;
	int err;

	err = uac_auth_challenge(&cu->auth, cu->name, r->cfg.password,
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
	struct reg_user *cu = arg;
	struct registration *r = cu->r;
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
	uac_pacer_settle(&r->pacer, &cu->settled);
}

static void user_send(struct reg_user *cu)
{
	struct registration *r = cu->r;
	char ruri[160], aor[200], contact[256];
	struct uac_req q;
	int err;

	snprintf(ruri, sizeof(ruri), "sip:%s", r->cfg.domain);
	snprintf(aor, sizeof(aor), "<sip:%s@%s>", cu->name, r->cfg.domain);
	snprintf(contact, sizeof(contact), "<sip:%s@%s%s>", cu->name,
		 r->contact_hostport,
		 uac_transport_param(r->cfg.contact.proto));
	buf_reset(&r->auth);
	err = buf_printf(&r->auth, "Expires: %u\r\n", r->cfg.expires);
	if (err)
		goto fail;
	memset(&q, 0, sizeof(q));
	q.txl = r->txl;
	q.server = &r->cfg.server;
	q.via_hostport = r->via_hostport;
	q.method = (struct pl)PL("REGISTER");
	q.ruri = ruri;
	q.from = aor;
	q.from_tag = cu->tag;
	q.to = aor;
	q.call_id = cu->call_id;
	q.cseq = ++cu->cseq;
	q.contact = contact;
	q.hdrs = &r->auth;
	q.auth = cu->auth;
	q.proxy_auth = cu->proxy_auth;
	q.out = &r->out;
	q.h = on_txn;
	q.arg = cu;
	err = uac_send(&q, &cu->ct);
	if (err)
		goto fail;
	r->st.sent++;
	return;
fail:
	log_debug("%s: REGISTER not sent: %s", cu->name, strerror(err));
	r->st.timeouts++;
	user_failed(cu);
}

static void pace_send(uint32_t i, void *arg)
{
	struct registration *r = arg;

	user_send(&r->users[i]);
}

static void pace_done(void *arg)
{
	struct registration *r = arg;

	if (r->done_h)
		r->done_h(r, r->arg);
}

void registration_start(struct registration *r)
{
	uac_pacer_start(&r->pacer, r->tp);
}

static void registration_destroy(void *arg)
{
	struct registration *r = arg;
	uint32_t i;

	uac_pacer_cancel(&r->pacer);
	for (i = 0; r->users && i < r->n; i++) {
		struct reg_user *cu = &r->users[i];

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

int registration_alloc(struct registration **rp, struct ev *ev,
		       const struct registration_cfg *cfg,
		       registration_done_h *done_h, void *arg)
{
	struct sip_tp_opts topts;
	struct sip_txn_cfg tcfg;
	struct registration *r;
	uint32_t i;
	int err;

	if (!cfg->domain || !cfg->rate || !cfg->expires)
		return EINVAL;
	r = obj_alloc(sizeof(*r), registration_destroy);
	if (!r)
		return ENOMEM;
	r->cfg = *cfg;
	r->ev = ev;
	r->done_h = done_h;
	r->arg = arg;
	buf_init(&r->out, SIP_MSG_MAX_SIZE);
	buf_init(&r->auth, 4096);
	r->n = user_range_count(&cfg->users);
	uac_pacer_init(&r->pacer, ev, r->n, cfg->rate, pace_send, pace_done,
		       r);
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
		struct reg_user *cu = &r->users[i];

		cu->r = r;
		ev_timer_init(&cu->timer);
		err = user_range_name(&cfg->users, i, cu->name,
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

void registration_stats(const struct registration *r,
			struct registration_stats *st)
{
	struct sip_txn_stats xs;

	*st = r->st;
	sip_txn_layer_stats(r->txl, &xs);
	st->retransmissions = xs.retransmissions;
}

uint64_t registration_done_ms(const struct registration *r)
{
	return r->pacer.done_ms;
}
