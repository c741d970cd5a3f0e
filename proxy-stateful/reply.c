/*
 * reply.c - the reply and authentication service of proxy-stateful's
 * request handlers (reply.h).
 */
#include "reply.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "reply"
#include "log.h"
#include "obj.h"
#include "dbqueue.h"
#include "sip_build.h"
#include "sip_uri.h"

void reply_count(struct worker_ctx *w, const char *buf, size_t len)
{
	unsigned s;

	if (len < 12)
		return;
	s = (unsigned)(buf[8] - '0') * 100 + (unsigned)(buf[9] - '0') * 10 +
	    (unsigned)(buf[10] - '0');
	if (s < 700)
		STATEFUL_CNT_INC(w->c.resp_out[s]);
}

void reply_send(struct worker_ctx *w, struct sip_txn *st, const char *buf,
		size_t len)
{
	if (sip_txn_reply(st, buf, len))
		STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_SEND]);
	else
		reply_count(w, buf, len);
}

int reply_build(struct worker_ctx *w, const struct sip_msg *msg,
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

void reply_status(struct worker_ctx *w, struct sip_txn *st,
		  const struct sip_msg *msg, uint16_t status,
		  const char *reason, const char *hdrs)
{
	if (reply_build(w, msg, status, reason, hdrs)) {
		STATEFUL_CNT_INC(w->c.drops[STATEFUL_DROP_SEND]);
		return;
	}
	reply_send(w, st, w->out.data, w->out.len);
}

/* RFC 3261 §22: the digest challenge and its check. */

static void challenge(struct worker_ctx *w, const struct reply_auth *ra,
		      struct sip_txn *st, const struct sip_msg *msg,
		      bool proxy, bool stale)
{
	struct buf b;
	struct pl realm;
	char *hdr = NULL;
	int err;

	pl_set_str(&realm, ra->realm);
	buf_init(&b, 1024);
	err = buf_append_str(&b, proxy ? "Proxy-Authenticate: "
				       : "WWW-Authenticate: ");
	if (!err)
		err = sip_auth_challenge_print(ra->server, &b, &realm,
					       SIP_AUTH_ALG_MD5, NULL, stale,
					       worker_now_s());
	if (!err)
		err = buf_append(&b, "\r\n", 3); /* with the NUL */
	if (!err)
		hdr = b.data;
	STATEFUL_CNT_INC(w->c.auth_challenges);
	if (hdr)
		reply_status(w, st, msg, proxy ? 407 : 401, NULL, hdr);
	else
		reply_status(w, st, msg, 500, NULL, NULL);
	buf_free(&b);
}

/*
 * RFC 2617 §3.2.2.5: the digest-uri must be the Request-URI, so that
 * credentials captured for one request do not serve another.  A URI
 * naming this server without a user is taken too: sipp, our load peer,
 * writes the address it sends to (the proxy) there.
 */
static bool digest_uri_ok(const struct reply_auth *ra,
			  const struct sip_auth_credentials *cr,
			  const struct sip_msg *msg)
{
	char buf[256];
	struct pl du;
	struct sip_uri u;

	if (sip_auth_uri_matches(cr, &msg->ruri))
		return true;
	if (!ra->addr || sip_auth_unquote(&cr->uri, buf, sizeof(buf)))
		return false;
	pl_set_str(&du, buf);
	return !sip_uri_decode(&u, &du) && !u.user.l &&
	       addressing_is_us(ra->addr, &u.host, u.port);
}

int reply_auth_check(struct worker_ctx *w, const struct reply_auth *ra,
		     struct sip_txn *st, const struct sip_msg *msg,
		     const struct pl *user, const struct pl *domain,
		     bool proxy)
{
	const struct userdb_user *u =
		ra->users ? userdb_find(ra->users, user, domain) : NULL;
	const struct sip_hdr *h;
	struct sip_auth_credentials cr;
	bool found = false;
	enum sip_auth_result r;

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
	/* An unknown user gets the challenge a known one gets, and its
	 * credentials a fresh one: a 403 would tell which users exist. */
	if (!u || !found) {
		if (found)
			STATEFUL_CNT_INC(w->c.auth_failures);
		challenge(w, ra, st, msg, proxy, false);
		return EACCES;
	}
	/* RFC 2617 §3.2.2.5: credentials for another request-URI. */
	if (!digest_uri_ok(ra, &cr, msg)) {
		STATEFUL_CNT_INC(w->c.auth_failures);
		reply_status(w, st, msg, 400, "Digest URI Mismatch", NULL);
		return EACCES;
	}
	/* §22.4 and §10.3 step 4: the credentials are the AOR's own. */
	if (!pl_eq(&cr.username, user)) {
		STATEFUL_CNT_INC(w->c.auth_failures);
		reply_status(w, st, msg, 403, "Wrong User", NULL);
		return EACCES;
	}
	r = sip_auth_verify(ra->server, &cr, &msg->method, domain, &u->ha1,
			    worker_now_s());
	switch (r) {
	case SIP_AUTH_OK:
		return 0;
	case SIP_AUTH_STALE:
		challenge(w, ra, st, msg, proxy, true);
		return EACCES;
	case SIP_AUTH_ERROR:
		reply_status(w, st, msg, 500, NULL, NULL);
		return EIO;
	default:
		/* Bad digest, replayed count, foreign nonce: a fresh
		 * challenge (what UAs expect after a wrong password). */
		STATEFUL_CNT_INC(w->c.auth_failures);
		challenge(w, ra, st, msg, proxy, false);
		return EACCES;
	}
}

/* write-through: a response held until the database commits. */
struct held_reply {
	struct worker_ctx *w;
	struct sip_txn *st;
	char *ok, *fail;
	size_t ok_len, fail_len;
	reply_undo_h *undo;
	void *undo_ctx;
};

static void held_destroy(void *arg)
{
	struct held_reply *h = arg;

	obj_deref(h->st);
	free(h->ok);
	free(h->fail);
	free(h->undo_ctx);
}

/* The commit (or its failure) came back to this loop. */
static void held_done(int err, void *arg)
{
	struct held_reply *h = arg;

	if (err) {
		if (h->undo)
			h->undo(h->undo_ctx);
		reply_send(h->w, h->st, h->fail, h->fail_len);
	} else
		reply_send(h->w, h->st, h->ok, h->ok_len);
	obj_deref(h);
}

void reply_after_commit(struct worker_ctx *w, struct dbqueue *db,
			struct sip_txn *st, const struct sip_msg *msg,
			reply_undo_h *undo, void *ctx)
{
	struct held_reply *h = NULL;

	h = obj_alloc(sizeof(*h), held_destroy);
	if (!h) {
		if (undo)
			undo(ctx);
		free(ctx);
		goto fail;
	}
	h->undo = undo;
	h->undo_ctx = ctx;
	h->w = w;
	h->st = obj_ref(st);
	h->ok_len = w->out.len;
	h->ok = malloc(h->ok_len);
	if (!h->ok)
		goto fail;
	memcpy(h->ok, w->out.data, h->ok_len);
	buf_reset(&w->out);
	if (sip_build_response(&w->out, msg, 500, "Database Error", NULL))
		goto fail;
	h->fail_len = w->out.len;
	h->fail = malloc(h->fail_len);
	if (!h->fail)
		goto fail;
	memcpy(h->fail, w->out.data, h->fail_len);
	if (dbqueue_wait(db, dbqueue_thread_seq(), w->ev, held_done, h))
		goto fail;
	return;
fail:
	if (h && h->undo) {
		h->undo(h->undo_ctx);
		h->undo = NULL;
	}
	obj_deref(h);
	reply_status(w, st, msg, 500, NULL, NULL);
}

int reply_expires_bound(struct worker_ctx *w, struct sip_txn *st,
			const struct sip_msg *msg, uint32_t v, uint32_t min,
			uint32_t max, uint32_t *out)
{
	char hdr[64];

	if (v && v < min) {
		snprintf(hdr, sizeof(hdr), "Min-Expires: %u\r\n", min);
		reply_status(w, st, msg, 423, NULL, hdr);
		return ERANGE;
	}
	*out = v > max ? max : v;
	return 0;
}
