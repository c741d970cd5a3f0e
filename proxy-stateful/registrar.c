/*
 * registrar.c - REGISTER (RFC 3261 §10.3) on the shared location table
 * (registrar.h).
 */
#include "registrar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "registrar"
#include "log.h"
#include "obj.h"
#include "sip_build.h"
#include "sip_uri.h"

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

/* What a REGISTER asks for: its AOR and Contacts (§10.3 steps 5, 6). */
struct reg_request {
	struct location_update_contact uc[LOCATION_CONTACTS_MAX];
	size_t nc;
	bool star;
	struct pl aor;
	char aorbuf[LOCATION_AOR_MAX];
};

/*
 * §10.3 steps 5, 1, 3 and 4: the AOR is the To URI of one of our users,
 * who authenticates when asked to.  Returns 0, or an error with the
 * answer sent.
 */
static int check_aor(const struct registrar *reg, struct worker_ctx *w,
		     struct sip_txn *st, const struct sip_msg *msg,
		     struct reg_request *rq)
{
	const struct stateful_cfg *cfg = reg->cfg;
	const struct userdb_user *user = NULL;
	const struct sip_hdr *h;
	struct sip_addr to;
	struct sip_uri touri;
	struct pl dom;

	pl_set_str(&dom, cfg->domain);
	/* §10.3 step 5: the AOR is the To URI. */
	h = sip_msg_hdr(msg, SIP_HDR_TO);
	if (!h || sip_addr_decode(&to, &h->value) ||
	    sip_uri_decode(&touri, &to.uri)) {
		reply_status(w, st, msg, 400, "Bad To", NULL);
		return EBADMSG;
	}
	/* An AOR is a SIP or SIPS URI (RFC 4475 §3.3.4: 400). */
	if (touri.scheme_id != SIP_URI_SIP &&
	    touri.scheme_id != SIP_URI_SIPS) {
		reply_status(w, st, msg, 400, "AOR Not SIP", NULL);
		return EBADMSG;
	}
	if (!touri.user.l) {
		reply_status(w, st, msg, 404, "Not Found (no user)", NULL);
		return ENOENT;
	}
	/* Step 1: the domain is ours (the caller forwarded it otherwise);
	 * the AOR is user@domain in the configured spelling. */
	if (snprintf(rq->aorbuf, sizeof(rq->aorbuf), "%.*s@%s",
		     PL_FMT(&touri.user),
		     cfg->domain) >= (int)sizeof(rq->aorbuf)) {
		reply_status(w, st, msg, 400, "AOR Too Long", NULL);
		return EOVERFLOW;
	}
	pl_set_str(&rq->aor, rq->aorbuf);
	if (reg->users) {
		user = userdb_find(reg->users, &touri.user, &dom);
		/* No user enumeration where REGISTER is authenticated: an
		 * unknown user is challenged like a known one
		 * (reply_auth_check() never lets it through).  Without
		 * authentication a known user's 200 tells anyway: 404. */
		if (!user && ((cfg->auth & STATEFUL_AUTH_REGISTER) ||
			      userdb_any_auth_required(reg->users))) {
			reply_auth_check(w, reg->auth, st, msg, &touri.user,
					 &dom, false);
			return ENOENT;
		}
		if (!user) {
			reply_status(w, st, msg, 404, "User Not Found", NULL);
			return ENOENT;
		}
	}
	/* Steps 3-4: authentication, then the authenticated user may
	 * only register its own AOR (checked by reply_auth_check). */
	if (((cfg->auth & STATEFUL_AUTH_REGISTER) ||
	     (user && user->auth_required)) &&
	    reply_auth_check(w, reg->auth, st, msg, &touri.user, &dom, false))
		return EACCES;
	return 0;
}

/*
 * §10.3 step 6: the Contacts, with their expiry (§10.2.1.1) bounded by
 * the options.  Returns 0, or an error with the answer sent.
 */
static int read_contacts(const struct registrar *reg, struct worker_ctx *w,
			 struct sip_txn *st, const struct sip_msg *msg,
			 struct reg_request *rq)
{
	const struct stateful_cfg *cfg = reg->cfg;
	const struct sip_hdr *h;
	uint32_t hexp = cfg->default_expires;

	h = sip_msg_hdr(msg, SIP_HDR_EXPIRES);
	if (h && pl_u32(&h->value, &hexp)) {
		reply_status(w, st, msg, 400, "Bad Expires", NULL);
		return EBADMSG;
	}
	for (h = sip_msg_hdr(msg, SIP_HDR_CONTACT); h;
	     h = sip_msg_hdr_next(msg, h)) {
		struct sip_addr ca;
		struct sip_uri cu;
		struct pl pv;
		uint32_t e = hexp;

		if (sip_addr_decode(&ca, &h->value)) {
			reply_status(w, st, msg, 400, "Bad Contact", NULL);
			return EBADMSG;
		}
		if (ca.star) {
			rq->star = true;
			continue;
		}
		if (sip_uri_decode(&cu, &ca.uri) ||
		    ca.uri.l >= LOCATION_URI_MAX) {
			reply_status(w, st, msg, 400, "Bad Contact URI", NULL);
			return EBADMSG;
		}
		if (rq->nc == LOCATION_CONTACTS_MAX) {
			reply_status(w, st, msg, 403, "Too Many Contacts",
				     NULL);
			return EBADMSG;
		}
		if (!sip_param_get(&ca.params, "expires", &pv) &&
		    pl_u32(&pv, &e)) {
			reply_status(w, st, msg, 400, "Bad Contact Expires",
				     NULL);
			return EBADMSG;
		}
		rq->uc[rq->nc].q = 1000;
		if (!sip_param_get(&ca.params, "q", &pv) &&
		    q_decode(&pv, &rq->uc[rq->nc].q)) {
			reply_status(w, st, msg, 400, "Bad q-value", NULL);
			return EBADMSG;
		}
		/* §10.3 step 6: 423 with Min-Expires. */
		if (reply_expires_bound(w, st, msg, e, cfg->min_expires,
					cfg->max_expires, &e))
			return EBADMSG;
		rq->uc[rq->nc].uri = ca.uri;
		rq->uc[rq->nc].expires = e;
		rq->nc++;
	}
	/* §10.2.2: "*" only alone and with Expires: 0. */
	if (rq->star &&
	    (rq->nc || hexp != 0 || !sip_msg_hdr(msg, SIP_HDR_EXPIRES))) {
		reply_status(w, st, msg, 400, "Bad Wildcard Contact", NULL);
		return EBADMSG;
	}
	return 0;
}

/* What a failed write-through commit puts back (reply_after_commit). */
struct reg_undo {
	struct location *loc;
	char aor[LOCATION_AOR_MAX];
	size_t n;
	struct location_contact prev[LOCATION_CONTACTS_MAX];
};

static void reg_undo_run(void *arg)
{
	struct reg_undo *u = arg;
	struct pl aor;

	pl_set_str(&aor, u->aor);
	if (location_restore(u->loc, &aor, u->prev, u->n))
		log_warn("cannot restore the bindings of %s", u->aor);
}

/* The bindings of aor before the update, when a commit may fail. */
static struct reg_undo *reg_undo_take(const struct registrar *reg,
				      const struct pl *aor, uint64_t now)
{
	struct reg_undo *u;

	if (!reg->db || reg->cfg->db_mode != STATEFUL_DB_WRITE_THROUGH)
		return NULL;
	u = malloc(sizeof(*u));
	if (!u)
		return NULL;
	u->loc = reg->loc;
	snprintf(u->aor, sizeof(u->aor), "%.*s", PL_FMT(aor));
	u->n = location_lookup(reg->loc, aor, now, u->prev,
			       LOCATION_CONTACTS_MAX, NULL);
	if (u->n > LOCATION_CONTACTS_MAX)
		u->n = LOCATION_CONTACTS_MAX;
	return u;
}

void registrar_handle(const struct registrar *reg, struct worker_ctx *w,
		      struct sip_txn *st, const struct sip_msg *msg)
{
	struct location_contact cur[LOCATION_CONTACTS_MAX];
	struct reg_request rq;
	size_t n = 0;
	enum location_result res;
	uint64_t now = worker_now_s();
	struct sip_build_resp_opts ro;
	struct reg_undo *undo = NULL;
	struct buf b;
	int err;

	rq.nc = 0;
	rq.star = false;
	if (check_aor(reg, w, st, msg, &rq) ||
	    read_contacts(reg, w, st, msg, &rq))
		return;
	if (rq.nc || rq.star)
		undo = reg_undo_take(reg, &rq.aor, now);
	err = location_update(reg->loc, &rq.aor, &msg->call_id, msg->cseq.num,
			      msg->via.tp, rq.star, rq.uc, rq.nc, now, &res,
			      cur, LOCATION_CONTACTS_MAX, &n);
	if (err) {
		reply_status(w, st, msg, 500, NULL, NULL);
		goto out;
	}
	if (res == LOCATION_OUT_OF_ORDER) {
		/* §10.3 step 7: the update is aborted, the request fails. */
		reply_status(w, st, msg, 500, "Out Of Order", NULL);
		goto out;
	}
	if (res == LOCATION_TOO_MANY) {
		reply_status(w, st, msg, 403, "Too Many Contacts", NULL);
		goto out;
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
		reply_status(w, st, msg, 500, NULL, NULL);
		goto out;
	}
	STATEFUL_CNT_INC(w->c.registers_ok);
	if (!reg->db || reg->cfg->db_mode != STATEFUL_DB_WRITE_THROUGH ||
	    (!rq.nc && !rq.star)) {
		reply_send(w, st, w->out.data, w->out.len);
		goto out;
	}
	/* write-through: the 200 leaves once the change is committed;
	 * a failed commit puts the bindings back before its 500. */
	reply_after_commit(w, reg->db, st, msg, reg_undo_run, undo);
	undo = NULL;
out:
	free(undo);
}
