/*
 * Client credentials (RFC 3261 §22.2-§22.3): the state of the last
 * challenge, nonce reuse with nc++, the Authorization header.
 */
#include "sip_auth_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define CLIENT_MAX_USER 256u
#define CLIENT_MAX_REALM 256u
#define CLIENT_MAX_NONCE 1024u

/* Owned bytes; lengths are kept because quoted-pairs may carry a NUL. */
struct own {
	char *p;
	size_t l;
};

static int own_dup(struct own *o, const struct pl *pl)
{
	int err = pl_strdup(&o->p, pl);

	if (!err)
		o->l = pl->l;
	return err;
}

static struct pl own_pl(const struct own *o)
{
	struct pl pl = {o->p, o->l};

	return pl;
}

static void own_free(struct own *o, bool wipe)
{
	if (o->p && wipe)
		OPENSSL_cleanse(o->p, o->l);
	free(o->p);
	o->p = NULL;
	o->l = 0;
}

struct sip_auth_client {
	struct own username;
	struct own password;	 /* p NULL with a precomputed HA1 */
	enum sip_auth_alg fixed; /* the precomputed HA1's algorithm */
	char ha1[SIP_AUTH_HEX_SIZE];
	/* From the last challenge, as sent (quoted-pairs kept). */
	struct own realm;
	struct own nonce;
	struct own opaque; /* p NULL when none */
	enum sip_auth_alg alg;
	bool qop;
	bool ready;
	uint32_t nc;
};

static int client_new(struct sip_auth_client **cp, const struct pl *user)
{
	struct sip_auth_client *c;
	int err;

	if (!cp || !user || user->l == 0 || user->l > CLIENT_MAX_USER)
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	err = own_dup(&c->username, user);
	if (err) {
		free(c);
		return err;
	}
	*cp = c;
	return 0;
}

int sip_auth_client_alloc(struct sip_auth_client **cp,
			  const struct pl *username, const struct pl *password)
{
	struct sip_auth_client *c = NULL;
	int err;

	if (!password)
		return EINVAL;
	err = client_new(&c, username);
	if (err)
		return err;
	err = own_dup(&c->password, password);
	if (err)
		goto out;
	*cp = c;
	c = NULL;
out:
	sip_auth_client_free(c);
	return err;
}

int sip_auth_client_alloc_ha1(struct sip_auth_client **cp,
			      const struct pl *username, enum sip_auth_alg alg,
			      const struct pl *ha1)
{
	struct sip_auth_client *c = NULL;
	char h1[SIP_AUTH_HEX_SIZE];
	int err;

	err = sip_auth_ha1_norm(alg, ha1, h1);
	if (err)
		return err == ENOTSUP ? EINVAL : err;
	err = client_new(&c, username);
	if (err)
		return err;
	c->fixed = alg;
	memcpy(c->ha1, h1, sizeof(h1));
	*cp = c;
	return 0;
}

void sip_auth_client_free(struct sip_auth_client *c)
{
	if (!c)
		return;
	own_free(&c->username, false);
	own_free(&c->password, true);
	OPENSSL_cleanse(c->ha1, sizeof(c->ha1));
	own_free(&c->realm, false);
	own_free(&c->nonce, false);
	own_free(&c->opaque, false);
	free(c);
}

int sip_auth_client_challenge(struct sip_auth_client *c,
			      const struct sip_auth_challenge *ch)
{
	struct own nrealm = {NULL, 0}, nnonce = {NULL, 0}, nopaque = {NULL, 0};
	char h1[SIP_AUTH_HEX_SIZE];
	struct hpart parts[3];
	int err;

	if (sip_auth_hex_len(ch->alg) == 0)
		return ENOTSUP;
	if (!c->password.p && ch->alg != c->fixed)
		return ENOTSUP;
	/* qop present but without auth: only auth-int, not done here. */
	if (ch->qop.l > 0 && !ch->qop_auth)
		return ENOTSUP;
	if (ch->realm.l > CLIENT_MAX_REALM || ch->nonce.l > CLIENT_MAX_NONCE ||
	    ch->opaque.l > CLIENT_MAX_NONCE)
		return EOVERFLOW;
	if (c->password.p) {
		/* HA1 is over the realm's value, its quoted-pairs undone. */
		parts[0].p = c->username.p;
		parts[0].l = c->username.l;
		parts[0].unq = false;
		parts[1] = auth_part(&ch->realm, true);
		parts[2].p = c->password.p;
		parts[2].l = c->password.l;
		parts[2].unq = false;
		err = sip_auth_digest_hex(ch->alg, parts, 3, h1);
		if (err)
			return err;
	}
	err = own_dup(&nrealm, &ch->realm);
	if (!err)
		err = own_dup(&nnonce, &ch->nonce);
	if (!err && ch->opaque.l > 0)
		err = own_dup(&nopaque, &ch->opaque);
	if (err)
		goto out;
	if (c->password.p)
		memcpy(c->ha1, h1, sizeof(h1));
	own_free(&c->realm, false);
	own_free(&c->nonce, false);
	own_free(&c->opaque, false);
	c->realm = nrealm;
	c->nonce = nnonce;
	c->opaque = nopaque;
	nrealm.p = nnonce.p = nopaque.p = NULL;
	c->alg = ch->alg;
	c->qop = ch->qop_auth;
	c->nc = 0;
	c->ready = true;
out:
	own_free(&nrealm, false);
	own_free(&nnonce, false);
	own_free(&nopaque, false);
	return err;
}

bool sip_auth_client_ready(const struct sip_auth_client *c)
{
	return c && c->ready;
}

uint32_t sip_auth_client_nc(const struct sip_auth_client *c)
{
	return c->nc;
}

/* Appends name="<raw>" where raw is already a quoted-string body. */
static int append_raw(struct buf *b, const char *name, const struct own *o)
{
	int err = buf_printf(b, ", %s=\"", name);

	if (!err)
		err = buf_append(b, o->p, o->l);
	if (!err)
		err = buf_append(b, "\"", 1);
	return err;
}

int sip_auth_client_print(struct sip_auth_client *c, struct buf *b,
			  const struct pl *method, const struct pl *uri)
{
	char resp[SIP_AUTH_HEX_SIZE], cnonce[33], ncs[9];
	struct pl nonce, pcnonce, pnc, qop = PL("auth"), user;
	unsigned char rnd[16];
	size_t start = b->len;
	uint32_t nc;
	int err;

	if (!c->ready)
		return EINVAL;
	if (c->qop && c->nc == UINT32_MAX)
		return EOVERFLOW;
	nc = c->nc + 1;
	nonce = own_pl(&c->nonce);
	if (c->qop) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return sip_auth_ssl_err("cnonce");
		sip_auth_to_hex(rnd, sizeof(rnd), cnonce);
		snprintf(ncs, sizeof(ncs), "%08x", nc);
		pl_set_str(&pcnonce, cnonce);
		pl_set_str(&pnc, ncs);
	}
	/* The nonce keeps the challenge's quoted-pairs: q undoes them. */
	err = sip_auth_response_hex(c->alg, c->ha1, &nonce,
				    c->qop ? &pnc : NULL,
				    c->qop ? &pcnonce : NULL,
				    c->qop ? &qop : NULL, method, uri, true,
				    false, resp);
	if (err)
		return err;
	user = own_pl(&c->username);
	err = buf_append_str(b, "Digest username=\"");
	if (!err)
		err = sip_auth_append_quoted(b, &user);
	if (!err)
		err = buf_append(b, "\"", 1);
	if (!err)
		err = append_raw(b, "realm", &c->realm);
	if (!err)
		err = append_raw(b, "nonce", &c->nonce);
	if (!err)
		err = buf_append_str(b, ", uri=\"");
	if (!err)
		err = sip_auth_append_quoted(b, uri);
	if (!err)
		err = buf_printf(b, "\", response=\"%s\", algorithm=%s", resp,
				 sip_auth_alg_name(c->alg));
	if (!err && c->qop)
		err = buf_printf(b, ", cnonce=\"%s\", qop=auth, nc=%s", cnonce,
				 ncs);
	if (!err && c->opaque.p)
		err = append_raw(b, "opaque", &c->opaque);
	if (err) {
		b->len = start;
		return err;
	}
	if (c->qop)
		c->nc = nc;
	return 0;
}
