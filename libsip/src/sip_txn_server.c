/*
 * Server transactions (RFC 3261 §17.2): matching with the RFC 2543
 * fallback (§17.2.3), absorbing retransmissions, the TU's responses and
 * the ACK of non-2xx finals.
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

static uint32_t server_hash(const struct sip_msg *msg)
{
	if (sip_branch_has_cookie(&msg->via.branch))
		return hash_pl(&msg->via.branch);
	/* RFC 2543: what INVITE, its ACK and its CANCEL share. */
	return hash_pl(&msg->call_id) ^ msg->cseq.num;
}

enum match_mode {
	MATCH_SAME,   /* the same request (a retransmission) */
	MATCH_ACK,    /* an ACK for the INVITE of t */
	MATCH_CANCEL, /* a CANCEL for the INVITE of t */
};

static bool server_match(const struct sip_txn *t, const struct sip_msg *msg,
			 enum match_mode mode)
{
	const struct sip_hdr *via;
	struct pl k;

	if (mode == MATCH_SAME) {
		k = txn_key(t, KEY_METHOD);
		if (!pl_eq(&k, &msg->method))
			return false;
	} else if (t->kind != K_IST) {
		return false;
	}

	if (!t->rfc2543) {
		/* §17.2.3: branch, sent-by, method. */
		k = txn_key(t, KEY_BRANCH);
		if (!pl_eq(&k, &msg->via.branch))
			return false;
		k = txn_key(t, KEY_HOST);
		return pl_caseeq(&k, &msg->via.host) &&
		       t->port == msg->via.port;
	}
	if (sip_branch_has_cookie(&msg->via.branch))
		return false;
	/* §17.2.3, RFC 2543 peers: Request-URI, To tag, From tag,
	 * Call-ID, CSeq and top Via; an ACK carries the To tag of our
	 * response. */
	via = sip_msg_hdr(msg, SIP_HDR_VIA);
	if (!via || t->cseq != msg->cseq.num)
		return false;
	k = txn_key(t, KEY_RURI);
	if (!pl_eq(&k, &msg->ruri))
		return false;
	k = txn_key(t, KEY_FROM_TAG);
	if (!pl_eq(&k, &msg->from_tag))
		return false;
	k = txn_key(t, KEY_CALL_ID);
	if (!pl_eq(&k, &msg->call_id))
		return false;
	k = txn_key(t, KEY_VIA);
	if (!pl_eq(&k, &via->value))
		return false;
	if (mode == MATCH_ACK) {
		k.p = t->resp_to_tag;
		k.l = t->resp_to_tag_len;
	} else {
		k = txn_key(t, KEY_TO_TAG);
	}
	return pl_eq(&k, &msg->to_tag);
}

static struct sip_txn *server_find(const struct sip_txn_layer *l,
				   const struct sip_msg *msg,
				   enum match_mode mode)
{
	struct list *b = hash_bucket(&l->stab, server_hash(msg));

	for (struct le *le = b->head; le; le = le->next) {
		if (server_match(le->data, msg, mode))
			return le->data;
	}
	return NULL;
}

struct sip_txn *sip_txn_find_invite(struct sip_txn_layer *l,
				    const struct sip_msg *cancel)
{
	if (!l || !cancel->validated || !cancel->is_request)
		return NULL;
	/* §9.2: the INVITE the CANCEL would match but for the method. */
	return obj_ref(server_find(l, cancel, MATCH_CANCEL));
}

/* Re-sends the last response of a server transaction (absorption). */
static void server_resend(struct sip_txn *t)
{
	int err;

	if (!t->out)
		return;
	err = txn_send_out(t, t->out, t->outlen);
	if (err) {
		sip_txn_fail(t, err);
		return;
	}
	t->layer->stats.retransmissions++;
}

static void server_absorb(struct sip_txn *t)
{
	t->layer->stats.absorbed++;
	switch (t->state) {
	case S_PROCEEDING:
		/* §17.2.1, §17.2.2: the last provisional, if any. */
	case S_COMPLETED:
		/* §17.2.1, §17.2.2: the final response again. */
		server_resend(t);
		break;
	default:
		/* Trying (nothing sent yet), Confirmed, Accepted (RFC
		 * 6026 §7.1: the TU retransmits its 2xx). */
		break;
	}
}

static void ist_ack(struct sip_txn *t)
{
	struct sip_txn_layer *l = t->layer;

	l->stats.acks_absorbed++;
	if (t->state != S_COMPLETED)
		return;
	/* §17.2.1: Confirmed; Timer I = T4 (0 if reliable) absorbs
	 * further ACKs. */
	t->state = S_CONFIRMED;
	ev_timer_cancel(l->ev, &t->tmr_retx);
	ev_timer_cancel(l->ev, &t->tmr_end);
	sip_txn_start_wait(t, t->dst.reliable ? 0 : l->cfg.t4_ms);
}

static int server_create(struct sip_txn **tp, struct sip_txn_layer *l,
			 const struct sip_msg *msg,
			 const struct sip_txn_dest *src)
{
	struct pl f[KEY_N] = {{0}};
	const struct sip_hdr *via;
	struct sip_txn *t = NULL;
	bool invite = msg->method_id == SIP_METHOD_INVITE;
	int err;

	f[KEY_BRANCH] = msg->via.branch;
	f[KEY_METHOD] = msg->method;
	f[KEY_HOST] = msg->via.host;
	if (!sip_branch_has_cookie(&msg->via.branch)) {
		via = sip_msg_hdr(msg, SIP_HDR_VIA);
		f[KEY_RURI] = msg->ruri;
		f[KEY_FROM_TAG] = msg->from_tag;
		f[KEY_TO_TAG] = msg->to_tag;
		f[KEY_CALL_ID] = msg->call_id;
		if (via)
			f[KEY_VIA] = via->value;
	}
	err = sip_txn_new(&t, l, invite ? K_IST : K_NIST, f, src);
	if (err)
		return err;
	t->rfc2543 = !sip_branch_has_cookie(&msg->via.branch);
	t->port = msg->via.port;
	t->cseq = msg->cseq.num;
	t->state = invite ? S_PROCEEDING : S_TRYING;
	hash_append(&l->stab, server_hash(msg), &t->le, t);
	l->stats.alive++;
	l->stats.server_created++;
	*tp = t;
	return 0;
}

int sip_txn_recv_request(struct sip_txn_layer *l, const struct sip_msg *msg,
			 const struct sip_txn_dest *src)
{
	struct sip_txn *t;
	struct buf b;
	int err;

	if (!msg->validated || !msg->is_request)
		return EINVAL;

	if (msg->method_id == SIP_METHOD_ACK) {
		t = server_find(l, msg, MATCH_ACK);
		/* §17.2.1: the ACK for a non-2xx belongs to the INVITE
		 * server transaction; the ACK for a 2xx (Accepted, or
		 * no transaction) goes to the TU. */
		if (t &&
		    (t->state == S_COMPLETED || t->state == S_CONFIRMED)) {
			obj_ref(t);
			ist_ack(t);
			obj_deref(t);
			return 0;
		}
		if (l->reqh)
			l->reqh(l->arg, NULL, msg, src);
		return 0;
	}

	t = server_find(l, msg, MATCH_SAME);
	if (t) {
		obj_ref(t);
		server_absorb(t);
		obj_deref(t);
		return 0;
	}
	if (!l->reqh)
		return 0;

	err = server_create(&t, l, msg, src);
	if (err)
		return err;
	obj_ref(t);
	if (t->kind == K_IST && l->cfg.auto_100) {
		/* §17.2.1, §16.2: 100 Trying at once (no To tag). */
		buf_init(&b, SIP_MSG_MAX_SIZE);
		err = sip_build_response(&b, msg, 100, NULL, NULL);
		if (!err)
			err = sip_txn_reply(t, b.data, b.len);
		buf_free(&b);
		if (err)
			log_debug("100 Trying not sent: %s", strerror(err));
		err = 0;
	}
	if (t->state != S_TERMINATED)
		l->reqh(l->arg, t, msg, src);
	obj_deref(t);
	return 0;
}

void sip_txn_server_set_handler(struct sip_txn *st, sip_txn_event_h *h,
				void *arg)
{
	if (!st || txn_is_client(st))
		return;
	st->h = h;
	st->arg = arg;
}

static int status_of(const char *buf, size_t len, uint16_t *sc)
{
	uint16_t v = 0;

	if (len < 12 || memcmp(buf, "SIP/2.0 ", 8) != 0 || buf[11] != ' ')
		return EINVAL;
	for (int i = 8; i < 11; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return EINVAL;
		v = (uint16_t)(v * 10 + (buf[i] - '0'));
	}
	if (v < 100 || v > 699)
		return EINVAL;
	*sc = v;
	return 0;
}

/* RFC 2543 INVITE: remember our To tag to match the ACK (§17.2.3). */
static void remember_to_tag(struct sip_txn *t, const char *buf, size_t len)
{
	struct sip_msg *m = malloc(sizeof(*m));
	const struct sip_hdr *to;
	struct sip_addr a;
	char *c;

	if (!m)
		return;
	if (sip_msg_decode(m, buf, len, false))
		goto out;
	to = sip_msg_hdr(m, SIP_HDR_TO);
	if (!to || sip_addr_decode(&a, &to->value) || a.tag.l > UINT16_MAX)
		goto out;
	c = malloc(a.tag.l ? a.tag.l : 1);
	if (!c)
		goto out;
	memcpy(c, a.tag.p, a.tag.l);
	free(t->resp_to_tag);
	t->resp_to_tag = c;
	t->resp_to_tag_len = (uint16_t)a.tag.l;
out:
	free(m);
}

int sip_txn_reply(struct sip_txn *st, const char *buf, size_t len)
{
	struct sip_txn_layer *l;
	uint16_t sc;
	int err;

	if (!st || txn_is_client(st))
		return EINVAL;
	if (st->state == S_TERMINATED || !st->layer)
		return ESHUTDOWN;
	l = st->layer;
	err = status_of(buf, len, &sc);
	if (err)
		return err;
	switch (st->state) {
	case S_TRYING:
	case S_PROCEEDING:
		break;
	case S_ACCEPTED:
		/* RFC 6026 §7.1: the TU's 2xx retransmissions. */
		if (sc >= 200 && sc < 300)
			break;
		return EINVAL;
	default:
		return EINVAL;
	}
	err = sip_txn_store_out(st, buf, len);
	if (err)
		return err;
	st->status = sc;
	if (st->rfc2543 && st->kind == K_IST && sc > 100)
		remember_to_tag(st, buf, len);
	err = txn_send_out(st, st->out, st->outlen);
	if (err) {
		sip_txn_fail(st, err);
		return err;
	}
	if (sc < 200) {
		st->state = S_PROCEEDING;
		return 0;
	}
	obj_ref(st);
	if (st->kind == K_NIST) {
		/* §17.2.2: Completed, Timer J = 64*T1 (0 if reliable). */
		st->state = S_COMPLETED;
		sip_txn_start_wait(st,
				   st->dst.reliable ? 0 : txn_timer_64t1(l));
	} else if (sc < 300) {
		if (st->state != S_ACCEPTED) {
			/* RFC 6026 §7.1: Accepted, Timer L = 64*T1. */
			st->state = S_ACCEPTED;
			ev_timer_start(l->ev, &st->tmr_end,
				       txn_ms(txn_timer_64t1(l)),
				       sip_txn_on_end, st);
		}
	} else {
		/* §17.2.1: Completed; G retransmits the final over
		 * unreliable transports, H waits for the ACK. */
		st->state = S_COMPLETED;
		if (!st->dst.reliable)
			sip_txn_start_retx(st, l->cfg.t1_ms);
		ev_timer_start(l->ev, &st->tmr_end, txn_ms(txn_timer_64t1(l)),
			       sip_txn_on_end, st);
	}
	obj_deref(st);
	return 0;
}
