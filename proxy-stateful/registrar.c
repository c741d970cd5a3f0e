/*
 * registrar.c - REGISTER (RFC 3261 §10.3) on the shared location table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "registrar"
#include "log.h"
#include "obj.h"
#include "sip_build.h"
#include "sip_uri.h"
#include "stateful_int.h"

/* A q-value (§20.10: "0" to "1" with up to three decimals) * 1000. */
static int q_decode(const struct pl *v, uint16_t *q)
{
	uint32_t r = 0, scale = 1000;
	size_t i;

	if (!v->l || (v->p[0] != '0' && v->p[0] != '1'))
		return EBADMSG;
	r = (uint32_t)(v->p[0] - '0') * 1000;
	if (v->l > 1) {
		if (v->p[1] != '.' || v->l > 5)
			return EBADMSG;
		for (i = 2; i < v->l; i++) {
			if (v->p[i] < '0' || v->p[i] > '9')
				return EBADMSG;
			scale /= 10;
			r += (uint32_t)(v->p[i] - '0') * scale;
		}
	}
	if (r > 1000)
		return EBADMSG;
	*q = (uint16_t)r;
	return 0;
}

struct reg_pending {
	struct stateful_worker *w;
	struct sip_txn *st;
	char *ok, *fail;
	size_t ok_len, fail_len;
};

static void pending_destroy(void *arg)
{
	struct reg_pending *p = arg;

	obj_deref(p->st);
	free(p->ok);
	free(p->fail);
}

/* write-through: the commit (or its failure) came back to this loop. */
static void pending_done(int err, void *arg)
{
	struct reg_pending *p = arg;

	if (err)
		stateful_send_reply(p->w, p->st, p->fail, p->fail_len);
	else
		stateful_send_reply(p->w, p->st, p->ok, p->ok_len);
	obj_deref(p);
}

static int append_contacts(struct buf *b, const struct location_contact *c,
			   size_t n, uint64_t now)
{
	size_t i;
	int err = 0;

	for (i = 0; i < n && !err; i++) {
		uint64_t left = c[i].expires > now ? c[i].expires - now : 0;

		err = buf_append(b, "Contact: <", 10);
		if (!err)
			err = buf_append_str(b, c[i].uri);
		if (!err)
			err = buf_append(b, ">;expires=", 10);
		if (!err)
			err = buf_append_u64(b, left);
		if (!err && c[i].q != 1000)
			err = buf_printf(b, ";q=0.%03u", (unsigned)c[i].q);
		if (!err)
			err = buf_append(b, "\r\n", 2);
	}
	return err;
}

void registrar_handle(struct stateful_worker *w, struct sip_txn *st,
		      const struct sip_msg *msg)
{
	struct stateful *sp = w->sp;
	const struct stateful_cfg *cfg = &sp->cfg;
	struct location_update_contact uc[LOCATION_CONTACTS_MAX];
	struct location_contact cur[LOCATION_CONTACTS_MAX];
	const struct userdb_user *user = NULL;
	const struct sip_hdr *h;
	struct sip_addr to;
	struct sip_uri touri;
	struct pl aor;
	char aorbuf[LOCATION_AOR_MAX], hdrs[512];
	uint32_t hexp = cfg->default_expires;
	bool star = false, need_auth;
	size_t nc = 0, n = 0;
	enum location_result res;
	uint64_t now = stateful_now_s();
	struct sip_build_resp_opts ro;
	struct reg_pending *p = NULL;
	struct buf b;
	int err;

	/* §10.3 step 5: the AOR is the To URI. */
	h = sip_msg_hdr(msg, SIP_HDR_TO);
	if (!h || sip_addr_decode(&to, &h->value) ||
	    sip_uri_decode(&touri, &to.uri)) {
		stateful_reply(w, st, msg, 400, "Bad To", NULL);
		return;
	}
	/* An AOR is a SIP or SIPS URI (RFC 4475 §3.3.4: 400). */
	if (touri.scheme_id != SIP_URI_SIP &&
	    touri.scheme_id != SIP_URI_SIPS) {
		stateful_reply(w, st, msg, 400, "AOR Not SIP", NULL);
		return;
	}
	if (!touri.user.l) {
		stateful_reply(w, st, msg, 404, "Not Found (no user)", NULL);
		return;
	}
	/* Step 1: the domain is ours (the caller forwarded it otherwise);
	 * the AOR is user@domain in the configured spelling. */
	if (snprintf(aorbuf, sizeof(aorbuf), "%.*s@%s", PL_FMT(&touri.user),
		     cfg->domain) >= (int)sizeof(aorbuf)) {
		stateful_reply(w, st, msg, 400, "AOR Too Long", NULL);
		return;
	}
	pl_set_str(&aor, aorbuf);
	if (sp->users) {
		struct pl dom;

		pl_set_str(&dom, cfg->domain);
		user = userdb_find(sp->users, &touri.user, &dom);
		if (!user) {
			stateful_reply(w, st, msg, 404, "User Not Found",
				       NULL);
			return;
		}
	}
	/* Steps 3-4: authentication, then the authenticated user may
	 * only register its own AOR (checked by stateful_auth_check). */
	need_auth = (cfg->auth & STATEFUL_AUTH_REGISTER) ||
		    (user && user->auth_required);
	if (need_auth) {
		struct pl dom;

		pl_set_str(&dom, cfg->domain);
		if (stateful_auth_check(w, st, msg, &touri.user, &dom, false))
			return;
	}
	/* Step 6: the Contacts, with their expiry (§10.2.1.1). */
	h = sip_msg_hdr(msg, SIP_HDR_EXPIRES);
	if (h && pl_u32(&h->value, &hexp)) {
		stateful_reply(w, st, msg, 400, "Bad Expires", NULL);
		return;
	}
	for (h = sip_msg_hdr(msg, SIP_HDR_CONTACT); h;
	     h = sip_msg_hdr_next(msg, h)) {
		struct sip_addr ca;
		struct sip_uri cu;
		struct pl pv;
		uint32_t e = hexp;

		if (sip_addr_decode(&ca, &h->value)) {
			stateful_reply(w, st, msg, 400, "Bad Contact", NULL);
			return;
		}
		if (ca.star) {
			star = true;
			continue;
		}
		if (sip_uri_decode(&cu, &ca.uri) ||
		    ca.uri.l >= LOCATION_URI_MAX) {
			stateful_reply(w, st, msg, 400, "Bad Contact URI",
				       NULL);
			return;
		}
		if (nc == LOCATION_CONTACTS_MAX) {
			stateful_reply(w, st, msg, 403, "Too Many Contacts",
				       NULL);
			return;
		}
		if (!sip_param_get(&ca.params, "expires", &pv) &&
		    pl_u32(&pv, &e)) {
			stateful_reply(w, st, msg, 400, "Bad Contact Expires",
				       NULL);
			return;
		}
		uc[nc].q = 1000;
		if (!sip_param_get(&ca.params, "q", &pv) &&
		    q_decode(&pv, &uc[nc].q)) {
			stateful_reply(w, st, msg, 400, "Bad q-value", NULL);
			return;
		}
		if (e && e < cfg->min_expires) {
			/* §10.3 step 6: 423 with Min-Expires. */
			snprintf(hdrs, sizeof(hdrs), "Min-Expires: %u\r\n",
				 cfg->min_expires);
			stateful_reply(w, st, msg, 423, NULL, hdrs);
			return;
		}
		if (e > cfg->max_expires)
			e = cfg->max_expires;
		uc[nc].uri = ca.uri;
		uc[nc].expires = e;
		nc++;
	}
	/* §10.2.2: "*" only alone and with Expires: 0. */
	if (star && (nc || hexp != 0 || !sip_msg_hdr(msg, SIP_HDR_EXPIRES))) {
		stateful_reply(w, st, msg, 400, "Bad Wildcard Contact", NULL);
		return;
	}
	err = location_update(sp->loc, &aor, &msg->call_id, msg->cseq.num,
			      msg->via.tp, star, uc, nc, now, &res, cur,
			      LOCATION_CONTACTS_MAX, &n);
	if (err) {
		stateful_reply(w, st, msg, 500, NULL, NULL);
		return;
	}
	if (res == LOCATION_OUT_OF_ORDER) {
		/* §10.3 step 7: the update is aborted, the request fails. */
		stateful_reply(w, st, msg, 500, "Out Of Order", NULL);
		return;
	}
	if (res == LOCATION_TOO_MANY) {
		stateful_reply(w, st, msg, 403, "Too Many Contacts", NULL);
		return;
	}
	/* Step 8: 200 with every current binding. */
	buf_init(&b, 8192);
	err = append_contacts(
		&b, cur, n < LOCATION_CONTACTS_MAX ? n : LOCATION_CONTACTS_MAX,
		now);
	memset(&ro, 0, sizeof(ro));
	ro.hdrs = buf_pl(&b);
	buf_reset(&w->out);
	if (!err)
		err = sip_build_response(&w->out, msg, 200, NULL, &ro);
	buf_free(&b);
	if (err) {
		stateful_reply(w, st, msg, 500, NULL, NULL);
		return;
	}
	STATEFUL_CNT_INC(w->c.registers_ok);
	if (!sp->db || cfg->db_mode != STATEFUL_DB_WRITE_THROUGH ||
	    (!nc && !star)) {
		stateful_send_reply(w, st, w->out.data, w->out.len);
		return;
	}
	/* write-through: the 200 leaves once the change is committed. */
	p = obj_alloc(sizeof(*p), pending_destroy);
	if (!p)
		goto fail;
	p->w = w;
	p->st = obj_ref(st);
	p->ok_len = w->out.len;
	p->ok = malloc(p->ok_len);
	if (!p->ok)
		goto fail;
	memcpy(p->ok, w->out.data, p->ok_len);
	buf_reset(&w->out);
	if (sip_build_response(&w->out, msg, 500, "Database Error", NULL))
		goto fail;
	p->fail_len = w->out.len;
	p->fail = malloc(p->fail_len);
	if (!p->fail)
		goto fail;
	memcpy(p->fail, w->out.data, p->fail_len);
	if (dbqueue_wait(sp->db, dbqueue_thread_seq(), w->ev, pending_done, p))
		goto fail;
	return;
fail:
	obj_deref(p);
	stateful_reply(w, st, msg, 500, NULL, NULL);
}
