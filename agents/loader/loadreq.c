/*
 * loadreq.c - the engine's REGISTER/OPTIONS transactions (see
 * loadreq.h).
 */
#include "loadreq.h"

#define LOG_MODULE "loadgen"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loadconn.h"
#include "loadcred.h"
#include "loadmsg.h"
#include "log.h"
#include "obj.h"
#include "sip_msg.h"
#include "sip_txn_tp.h"

void loadreq_free(struct loadreq *r)
{
	struct loadworker *w = r->w;

	loadconn_slot_finish(r->slot);
	obj_deref(r->slot);
	if (r->prev)
		r->prev->next = r->next;
	else
		w->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	w->outstanding--;
	free(r);
	if (w->draining && !loadworker_in_flight(w))
		ev_stop(w->ev);
}

static void txn_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg);

/* Builds and sends the request of r (a new transaction). */
static int req_send(struct loadreq *r)
{
	struct loadworker *w = r->w;
	const struct loadcfg *cfg = &w->lg->cfg;
	struct loadworker_user *u = r->u;
	char user[LOADCFG_NAME_MAX * 2], branch[SIP_BRANCH_SIZE];
	char tag[SIP_TAG_SIZE];
	char via[256], aor[256], ruri[256], contact[256];
	struct sip_build_req br;
	struct sip_txn_dest dst;
	bool reg = r->kind != LOADCFG_OPTIONS;
	int err;

	err = loadcfg_user_name(cfg, u->num, user, sizeof(user));
	if (err)
		return err;
	sip_build_branch(branch);
	sip_build_tag(tag);
	/* The Contact names our transport, so that the server reaches us
	 * over the test's transport. */
	if (loadmsg_via(via, sizeof(via), cfg->server.proto, w->hostport,
			branch) ||
	    loadmsg_addr(aor, sizeof(aor), user, cfg->domain, NULL) ||
	    loadmsg_cat(ruri, sizeof(ruri),
			(const char *const[]){"sip:", reg ? cfg->domain : user,
					      reg ? NULL : "@", cfg->domain,
					      NULL}) ||
	    loadmsg_addr(contact, sizeof(contact), user, w->hostport,
			 loadmsg_tp_param(cfg->server.proto)))
		return EOVERFLOW;
	/* A reregister refreshes one binding: the same Call-ID for every
	 * REGISTER of a user (§10.2), CSeq up by one.  Other tests start a
	 * new Call-ID per transaction; an auth retry keeps it, CSeq + 1
	 * (§22.2). */
	if (!r->call_id[0]) {
		if (r->kind == LOADCFG_REREGISTER) {
			if (!u->call_id[0] &&
			    sip_build_call_id(u->call_id, sizeof(u->call_id),
					      cfg->local_ip))
				return EOVERFLOW;
			memcpy(r->call_id, u->call_id, sizeof(r->call_id));
			if (++u->cseq >= (1u << 30))
				u->cseq = 1;
			r->cseq = u->cseq;
		} else {
			if (sip_build_call_id(r->call_id, sizeof(r->call_id),
					      cfg->local_ip))
				return EOVERFLOW;
			r->cseq = 1;
		}
	} else {
		r->cseq++;
		if (r->kind == LOADCFG_REREGISTER)
			u->cseq = r->cseq;
	}
	buf_reset(&w->hdrs);
	if (reg) {
		err = buf_append_str(&w->hdrs, "Expires: ");
		if (!err)
			err = buf_append_u64(&w->hdrs, cfg->expires);
		if (!err)
			err = buf_append_str(&w->hdrs, "\r\n");
		if (err)
			return err;
	}
	err = loadcred_header(&w->hdrs, cfg, u->auth, r->auth_tries, false,
			      reg ? "REGISTER" : "OPTIONS", ruri);
	if (err)
		return err;
	memset(&br, 0, sizeof(br));
	br.method = loadmsg_pl(reg ? "REGISTER" : "OPTIONS");
	br.ruri = loadmsg_pl(ruri);
	br.via = loadmsg_pl(via);
	br.from = loadmsg_pl(aor);
	br.from_tag = loadmsg_pl(tag);
	br.to = loadmsg_pl(aor);
	br.call_id = loadmsg_pl(r->call_id);
	br.cseq = r->cseq;
	if (reg)
		br.contact = loadmsg_pl(contact);
	br.hdrs = buf_pl(&w->hdrs);
	buf_reset(&w->out);
	err = sip_build_request(&w->out, &br);
	if (err)
		return err;
	sip_txn_tp_dest(&dst, &cfg->server, NULL);
	if (dst.reliable) {
		/* per-request: each transaction (an auth retry too) on a
		 * connection of its own */
		if (!r->slot || r->slot->per_request) {
			loadconn_slot_finish(r->slot);
			obj_deref(r->slot);
			r->slot = loadconn_slot_for(w, (size_t)(u - w->users));
			if (!r->slot)
				return ENOMEM;
		}
		dst.conn = r->slot;
	}
	return loadmsg_client_start(NULL, w->txl[r->kind - 1], &dst, branch,
				    &br.method, &w->out, txn_event, r);
}

static void finish(struct loadreq *r, uint16_t status, bool timeout,
		   bool tp_error)
{
	struct loadworker *w = r->w;
	uint64_t end = w->rx_ns ? w->rx_ns : ev_monotonic_ns();
	uint64_t us = end > r->t_start ? (end - r->t_start) / 1000u : 0;
	struct loadcount_kind *k = &w->c.kind[r->kind - 1];

	pthread_mutex_lock(&w->mu);
	if (status) {
		hist_add(&w->c.rtt, us);
		hist_add(&k->rtt, us);
		if (status < LOADCOUNT_CODES) {
			w->c.codes[status]++;
			k->codes[status]++;
		}
	}
	if (status >= 200 && status < 300) {
		w->c.successes++;
		loadcount_cohort(&w->c, r->cohort)->successes++;
		k->successes++;
		if (r->kind != LOADCFG_OPTIONS) {
			hist_add(&w->c.rrd, us);
			hist_add(&k->rrd, us);
		}
	} else {
		w->c.failures++;
		loadcount_cohort(&w->c, r->cohort)->failures++;
		k->failures++;
		if (timeout) {
			w->c.timeouts++;
			k->timeouts++;
		}
		if (tp_error) {
			w->c.transport_errors++;
			k->transport_errors++;
		}
	}
	pthread_mutex_unlock(&w->mu);
	loadreq_free(r);
}

static int answer_challenge(struct loadreq *r, const struct sip_msg *msg)
{
	struct loadworker *w = r->w;
	int err;

	err = loadcred_answer(&w->lg->cfg, r->u->num, &r->u->auth,
			      r->auth_tries, msg);
	if (err)
		return err;
	r->auth_tries++;
	pthread_mutex_lock(&w->mu);
	w->c.auth_challenges++;
	w->c.kind[r->kind - 1].auth_challenges++;
	pthread_mutex_unlock(&w->mu);
	return req_send(r);
}

static void txn_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg)
{
	struct loadreq *r = arg;

	(void)t;
	(void)err;
	switch (ev) {
	case SIP_TXN_EV_RESPONSE:
		if (msg->status < 200)
			return;
		if ((msg->status == 401 || msg->status == 407) &&
		    (r->w->lg->cfg.password[0] || r->w->lg->cfg.passwords) &&
		    !answer_challenge(r, msg))
			return;
		finish(r, msg->status, false, false);
		return;
	case SIP_TXN_EV_TIMEOUT:
		finish(r, 0, true, false);
		return;
	case SIP_TXN_EV_TRANSPORT_ERROR:
		finish(r, 0, false, true);
		return;
	case SIP_TXN_EV_TIMER_C:
		return;
	}
}

void loadreq_start(struct loadworker *w, enum loadcfg_test kind,
		   struct loadworker_user *u, uint64_t now)
{
	struct loadreq *r = calloc(1, sizeof(*r));
	int err;

	if (!r) {
		/* counted as an attempt: end it as failed */
		pthread_mutex_lock(&w->mu);
		w->c.failures++;
		loadcount_cohort(&w->c, w->send_cohort)->failures++;
		w->c.transport_errors++;
		w->c.kind[kind - 1].failures++;
		w->c.kind[kind - 1].transport_errors++;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	r->w = w;
	r->kind = kind;
	r->u = u;
	r->t_start = now;
	r->cohort = w->send_cohort;
	r->next = w->reqs;
	if (w->reqs)
		w->reqs->prev = r;
	w->reqs = r;
	w->outstanding++;
	err = req_send(r);
	if (err) {
		log_debug("send: %s", strerror(err));
		finish(r, 0, false, true);
	}
}
