/*
 * uac.c - the steps the registrations and the watchers share (see
 * uac.h).
 */
#include "uac.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "ev.h"
#include "obj.h"
#include "sip_auth.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "sip_txn_tp.h"

uint32_t uac_pace_due(uint64_t elapsed_ns, unsigned rate, uint32_t n)
{
	uint64_t due = elapsed_ns * rate / 1000000000ull + 1;

	return due > n ? n : (uint32_t)due;
}

int uac_auth_challenge(struct sip_auth_client **auth, const char *user,
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

int uac_auth_print(struct buf *b, struct sip_auth_client *auth, bool proxy,
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

void uac_pacer_init(struct uac_pacer *p, struct ev *ev, uint32_t n,
		    unsigned rate, uac_pacer_send_h *send,
		    uac_pacer_done_h *done, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->ev = ev;
	p->n = n;
	p->rate = rate;
	p->send = send;
	p->done = done;
	p->arg = arg;
	ev_timer_init(&p->tick);
}

static void pacer_tick(void *arg)
{
	struct uac_pacer *p = arg;
	uint32_t due =
		uac_pace_due(ev_now(p->ev) - p->start_ns, p->rate, p->n);

	while (p->next < due)
		p->send(p->next++, p->arg);
	/* Timers run after the loop's flush hook: a TCP write queued
	 * here would otherwise wait for the next wake-up (for the last
	 * ones, their timeout). */
	sip_tp_flush(p->tp);
	if (p->next < p->n)
		ev_timer_start(p->ev, &p->tick, EV_MS(1), pacer_tick, p);
}

void uac_pacer_start(struct uac_pacer *p, struct sip_tp *tp)
{
	p->tp = tp;
	p->start_ns = ev_now(p->ev);
	pacer_tick(p);
}

void uac_pacer_settle(struct uac_pacer *p, bool *settled)
{
	if (*settled)
		return;
	*settled = true;
	if (++p->settled == p->n) {
		p->done_ms = (ev_now(p->ev) - p->start_ns) / EV_NS_PER_MS;
		if (!p->done_ms)
			p->done_ms = 1;
		if (p->done)
			p->done(p->arg);
	}
}

void uac_pacer_cancel(struct uac_pacer *p)
{
	if (p->ev)
		ev_timer_cancel(p->ev, &p->tick);
}

const char *uac_transport_param(enum sip_transport tp)
{
	return tp == SIP_TP_TCP	  ? ";transport=tcp"
	       : tp == SIP_TP_TLS ? ";transport=tls"
				  : "";
}

int uac_send(const struct uac_req *r, struct sip_txn **ctp)
{
	char branch[SIP_BRANCH_SIZE], via[256];
	struct sip_build_req q;
	struct sip_txn_creq c;
	struct sip_txn_dest d;
	int n, err;

	sip_txn_client_detach(*ctp);
	*ctp = obj_deref(*ctp);
	sip_build_branch(branch);
	n = snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=%s;rport",
		     sip_transport_name(r->server->proto), r->via_hostport,
		     branch);
	if (n < 0 || (size_t)n >= sizeof(via))
		return EOVERFLOW;
	err = uac_auth_print(r->hdrs, r->auth, r->proxy_auth, &r->method,
			     r->ruri);
	if (err)
		return err;
	memset(&q, 0, sizeof(q));
	q.method = r->method;
	pl_set_str(&q.ruri, r->ruri);
	pl_set_str(&q.via, via);
	pl_set_str(&q.from, r->from);
	pl_set_str(&q.from_tag, r->from_tag);
	pl_set_str(&q.to, r->to);
	if (r->to_tag)
		pl_set_str(&q.to_tag, r->to_tag);
	pl_set_str(&q.call_id, r->call_id);
	q.cseq = r->cseq;
	pl_set_str(&q.contact, r->contact);
	q.hdrs = buf_pl(r->hdrs);
	buf_reset(r->out);
	err = sip_build_request(r->out, &q);
	if (err)
		return err;
	sip_txn_tp_dest(&d, r->server, NULL);
	memset(&c, 0, sizeof(c));
	c.dst = &d;
	pl_set_str(&c.branch, branch);
	c.method = r->method;
	c.msg = buf_pl(r->out);
	return sip_txn_client_start(ctp, r->txl, &c, r->h, r->arg);
}
