/*
 * Client transactions (RFC 3261 §17.1): INVITE (§17.1.1) and non-INVITE
 * (§17.1.2), the ACK of non-2xx finals (§17.1.1.3) and CANCEL (§9.1).
 */
#include "sip_txn_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "sip_txn"
#include "buf.h"
#include "log.h"
#include "obj.h"
#include "sip_build.h"

static struct sip_txn *client_find(const struct sip_txn_layer *l,
				   const struct pl *branch,
				   const struct pl *method)
{
	struct list *b = hash_bucket(&l->ctab, hash_pl(branch));

	for (struct le *le = b->head; le; le = le->next) {
		struct sip_txn *t = le->data;
		struct pl kb = txn_key(t, KEY_BRANCH),
			  km = txn_key(t, KEY_METHOD);

		/* §17.1.3: branch and CSeq method. */
		if (pl_eq(&kb, branch) && pl_eq(&km, method))
			return t;
	}
	return NULL;
}

int sip_txn_client_start(struct sip_txn **ctp, struct sip_txn_layer *l,
			 const struct sip_txn_creq *req, sip_txn_event_h *h,
			 void *arg)
{
	struct pl f[KEY_N] = {{0}};
	struct sip_txn *t = NULL;
	bool invite;
	int err;

	if (!l || !req || !req->dst || !h || !req->msg.l || !req->method.l ||
	    !sip_branch_has_cookie(&req->branch) ||
	    pl_eq_str(&req->method, "ACK"))
		return EINVAL;
	if (client_find(l, &req->branch, &req->method))
		return EEXIST;
	invite = pl_eq_str(&req->method, "INVITE");
	f[KEY_BRANCH] = req->branch;
	f[KEY_METHOD] = req->method;
	err = sip_txn_new(&t, l, invite ? K_ICT : K_NICT, f, req->dst);
	if (err)
		goto out;
	t->h = h;
	t->arg = arg;
	t->timer_c = invite && req->timer_c;
	t->state = invite ? S_CALLING : S_TRYING;
	err = sip_txn_store_out(t, req->msg.p, req->msg.l);
	if (err)
		goto out;
	err = txn_send_out(t, t->out, t->outlen);
	if (err)
		goto out;

	hash_append(&l->ctab, hash_pl(&req->branch), &t->le, t);
	l->stats.alive++;
	l->stats.client_created++;
	/* §17.1.1.2 (A, B), §17.1.2.2 (E, F): retransmit only over
	 * unreliable transports; the timeout runs on all. */
	if (!req->dst->reliable)
		sip_txn_start_retx(t, l->cfg.t1_ms);
	ev_timer_start(l->ev, &t->tmr_end, txn_ms(txn_timer_64t1(l)),
		       sip_txn_on_end, t);
	if (t->timer_c)
		ev_timer_start(l->ev, &t->tmr_c, txn_ms(l->cfg.timer_c_ms),
			       sip_txn_on_timer_c, t);
	if (ctp)
		*ctp = obj_ref(t);
	t = NULL;
out:
	/* Not linked yet on error: the destructor frees what is set. */
	if (t)
		t->layer = NULL;
	obj_deref(t);
	return err;
}

/*
 * Decodes the request bytes the transaction keeps (the INVITE), which
 * ACK and CANCEL are built from.  Returns 0 with *reqp (caller frees).
 */
static int stored_request(const struct sip_txn *t, struct sip_msg **reqp)
{
	struct sip_msg *req;
	const char *why;
	uint16_t st;
	int err;

	req = malloc(sizeof(*req));
	if (!req)
		return ENOMEM;
	err = sip_msg_decode(req, t->out, t->outlen, false);
	if (!err)
		err = sip_msg_validate(req, &st, &why);
	if (err) {
		free(req);
		return err;
	}
	*reqp = req;
	return 0;
}

/* §17.1.1.3: the client transaction ACKs a non-2xx final itself. */
static void ict_send_ack(struct sip_txn *t, const struct sip_msg *resp)
{
	struct sip_msg *req = NULL;
	struct buf b;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	err = stored_request(t, &req);
	if (err)
		goto out;
	err = sip_build_ack(&b, req, resp);
	if (err)
		goto out;
	/* The ACK replaces the INVITE: the bytes are kept once, and a
	 * retransmitted final is answered with this ACK. */
	free(t->out);
	t->out = b.data;
	t->outlen = (uint32_t)b.len;
	b.data = NULL;
	err = txn_send_out(t, t->out, t->outlen);
	if (err) {
		free(req);
		sip_txn_fail(t, err);
		return;
	}
out:
	if (err) {
		/* Never answer a retransmitted final with the INVITE. */
		free(t->out);
		t->out = NULL;
		t->outlen = 0;
		log_warn("cannot ACK %u: %s", resp->status, strerror(err));
	}
	free(req);
	buf_free(&b);
}

/* §9.1: the CANCEL, from the INVITE bytes kept by the transaction. */
static int ict_send_cancel(struct sip_txn *t)
{
	struct sip_txn_creq r = {.dst = &t->dst,
				 .branch = txn_key(t, KEY_BRANCH),
				 .method = PL("CANCEL")};
	struct sip_msg *req = NULL;
	struct buf b;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	err = stored_request(t, &req);
	if (err)
		goto out;
	err = sip_build_cancel(&b, req);
	if (err)
		goto out;
	r.msg = buf_pl(&b);
	err = sip_txn_client_start(NULL, t->layer, &r, t->h, t->arg);
	if (err)
		goto out;
	t->cancel = CANCEL_SENT;
out:
	free(req);
	buf_free(&b);
	return err;
}

int sip_txn_client_cancel(struct sip_txn *ict)
{
	if (!ict || ict->kind != K_ICT)
		return EINVAL;
	if (ict->state == S_TERMINATED || !ict->layer)
		return ESHUTDOWN;
	if (ict->cancel != CANCEL_NONE ||
	    (ict->state != S_CALLING && ict->state != S_PROCEEDING))
		return EALREADY;
	if (ict->state == S_CALLING) {
		ict->cancel = CANCEL_PENDING;
		return 0;
	}
	return ict_send_cancel(ict);
}

static void ict_recv(struct sip_txn *t, const struct sip_msg *msg)
{
	struct sip_txn_layer *l = t->layer;
	uint16_t sc = msg->status;

	switch (t->state) {
	case S_CALLING:
	case S_PROCEEDING:
		t->status = sc;
		if (sc < 200) {
			t->state = S_PROCEEDING;
			ev_timer_cancel(l->ev, &t->tmr_retx);
			ev_timer_cancel(l->ev, &t->tmr_end);
			if (t->cancel == CANCEL_PENDING) {
				int err = ict_send_cancel(t);

				if (err)
					log_warn("CANCEL not sent: %s",
						 strerror(err));
			}
			/* §16.7 step 2: 101-199 reset Timer C. */
			if (t->timer_c && sc > 100)
				ev_timer_start(l->ev, &t->tmr_c,
					       txn_ms(l->cfg.timer_c_ms),
					       sip_txn_on_timer_c, t);
			txn_notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
			return;
		}
		ev_timer_cancel(l->ev, &t->tmr_retx);
		ev_timer_cancel(l->ev, &t->tmr_end);
		ev_timer_cancel(l->ev, &t->tmr_c);
		if (sc < 300) {
			/* RFC 6026 §8.4: Accepted, Timer M = 64*T1; later
			 * 2xx go to the TU too.  The INVITE is never sent
			 * again (the TU ACKs a 2xx, §13.2.2.4, and CANCEL
			 * is refused from here on): its bytes go, and what
			 * lingers for Timer M is small. */
			t->state = S_ACCEPTED;
			free(t->out);
			t->out = NULL;
			t->outlen = 0;
			ev_timer_start(l->ev, &t->tmr_end,
				       txn_ms(txn_timer_64t1(l)),
				       sip_txn_on_end, t);
			txn_notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
			return;
		}
		t->state = S_COMPLETED;
		ict_send_ack(t, msg);
		if (t->state == S_TERMINATED)
			return; /* the ACK could not be sent */
		txn_notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
		if (t->state == S_COMPLETED)
			/* §17.1.1.2: Timer D, 0 on reliable transports. */
			sip_txn_start_wait(
				t, t->dst.reliable ? 0 : l->cfg.timer_d_ms);
		return;
	case S_COMPLETED:
		/* A retransmitted final: ACK it again, absorb it. */
		l->stats.absorbed++;
		if (sc >= 300 && t->out) {
			int err = txn_send_out(t, t->out, t->outlen);

			if (err)
				sip_txn_fail(t, err);
			else
				l->stats.retransmissions++;
		}
		return;
	case S_ACCEPTED:
		if (sc >= 200 && sc < 300) {
			txn_notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
			return;
		}
		l->stats.absorbed++;
		return;
	default:
		return;
	}
}

static void nict_recv(struct sip_txn *t, const struct sip_msg *msg)
{
	struct sip_txn_layer *l = t->layer;
	uint16_t sc = msg->status;

	switch (t->state) {
	case S_TRYING:
	case S_PROCEEDING:
		t->status = sc;
		if (sc < 200) {
			t->state = S_PROCEEDING;
			txn_notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
			return;
		}
		/* §17.1.2.2: Completed, Timer K = T4 (0 if reliable).
		 * Nothing is retransmitted from here on: the request's
		 * bytes go, and what lingers for Timer K is small. */
		t->state = S_COMPLETED;
		ev_timer_cancel(l->ev, &t->tmr_retx);
		ev_timer_cancel(l->ev, &t->tmr_end);
		free(t->out);
		t->out = NULL;
		t->outlen = 0;
		txn_notify(t, SIP_TXN_EV_RESPONSE, msg, 0);
		if (t->state == S_COMPLETED)
			sip_txn_start_wait(t,
					   t->dst.reliable ? 0 : l->cfg.t4_ms);
		return;
	case S_COMPLETED:
		l->stats.absorbed++;
		return;
	default:
		return;
	}
}

int sip_txn_recv_response(struct sip_txn_layer *l, const struct sip_msg *msg)
{
	struct sip_txn *t;

	if (!msg->validated || msg->is_request)
		return EINVAL;
	t = client_find(l, &msg->via.branch, &msg->cseq.method);
	if (!t)
		return ENOENT;
	obj_ref(t);
	if (t->kind == K_ICT)
		ict_recv(t, msg);
	else
		nict_recv(t, msg);
	obj_deref(t);
	return 0;
}

void sip_txn_client_detach(struct sip_txn *ct)
{
	if (!ct || !txn_is_client(ct))
		return;
	ct->h = NULL;
	ct->arg = NULL;
}
