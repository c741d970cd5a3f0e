/*
 * The verifier (RFC 3261 §22.4, RFC 7616 §3.3-§3.5): stateless HMAC
 * nonces with stale detection, the sharded nonce-count replay table,
 * challenges and verification.
 */
#include "sip_auth_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define LOG_MODULE "sip_auth"
#include "enum_name.h"
#include "hash.h"
#include "list.h"
#include "log.h"
#include "obj.h"
#include "sip_uri.h"

/*
 * A nonce is base64url (RFC 4648 §5, no padding) of 36 bytes:
 *   issued (8, big endian) | lifetime (4) | counter (8) | MAC (16)
 * with MAC the first 16 bytes of HMAC-SHA256(secret, first 20 bytes).
 * The verifier needs no state to check it (RFC 7616 §5.4's advice).
 */
#define NONCE_RAW 36u
#define NONCE_SIGNED 20u
#define NONCE_MAC 16u
#define NC_KEY 16u /* counter and half the MAC: unique per verifier */
#define NC_SHARDS 16u

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
			     "wxyz0123456789-_";

static void b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	/* n is a multiple of 3 here. */
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];

		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Strict: exactly SIP_AUTH_NONCE_LEN alphabet characters. */
static bool b64_decode_nonce(const struct pl *in, unsigned char *out)
{
	size_t i, o = 0;

	if (in->l != SIP_AUTH_NONCE_LEN)
		return false;
	for (i = 0; i < in->l; i += 4) {
		uint32_t v = 0;
		int k;

		for (k = 0; k < 4; k++) {
			int d = b64_val(in->p[i + (size_t)k]);

			if (d < 0)
				return false;
			v = v << 6 | (uint32_t)d;
		}
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	return true;
}

static void put_be(unsigned char *p, uint64_t v, size_t n)
{
	while (n--) {
		p[n] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t get_be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

struct nc_entry {
	struct le hle; /* in the shard's hash */
	struct le lle; /* in the shard's LRU list, oldest first */
	unsigned char key[NC_KEY];
	uint64_t issued;
	uint64_t ctr; /* the nonce's counter: first 8 bytes of key */
	uint32_t nc;
};

/* (t1, c1) <= (t2, c2), issue time first. */
static bool not_newer(uint64_t t1, uint64_t c1, uint64_t t2, uint64_t c2)
{
	return t1 < t2 || (t1 == t2 && c1 <= c2);
}

struct nc_shard {
	pthread_mutex_t lock;
	bool lock_ok;
	struct hash hash;
	struct list lru;
	struct nc_entry *ents;
	size_t used;
	size_t cap;
	/*
	 * The newest (issue time, counter) among evicted nonces.  A nonce
	 * not in the table and not newer than that may have been evicted
	 * with its count, so it is answered stale rather than trusted from
	 * nc 1 again.  Nonces made after the eviction are newer.
	 */
	uint64_t horizon_t;
	uint64_t horizon_c;
	bool evicted;
};

struct sip_auth_server {
	unsigned char secret[64];
	size_t secret_len;
	/* HMAC-SHA256 (RFC 2104) keyed once: SHA-256 states after the
	 * key XOR ipad and XOR opad blocks, copied for each nonce instead
	 * of OpenSSL's one-shot HMAC() fetching, keying and freeing a MAC
	 * context per call (about 20,000 instructions each). */
	EVP_MD_CTX *mac_inner;
	EVP_MD_CTX *mac_outer;
	uint32_t lifetime;
	atomic_uint_fast64_t counter;
	size_t cap;
	struct nc_shard shards[NC_SHARDS];
};

static void server_destroy(void *arg)
{
	struct sip_auth_server *s = arg;
	size_t i;

	for (i = 0; i < NC_SHARDS; i++) {
		struct nc_shard *sh = &s->shards[i];

		hash_free(&sh->hash);
		free(sh->ents);
		if (sh->lock_ok)
			pthread_mutex_destroy(&sh->lock);
	}
	EVP_MD_CTX_free(s->mac_inner);
	EVP_MD_CTX_free(s->mac_outer);
	OPENSSL_cleanse(s->secret, sizeof(s->secret));
}

/* The keyed HMAC-SHA256 states of RFC 2104 §2: H(K XOR ipad, ...) and
 * H(K XOR opad, ...) after their first block (the secret is at most one
 * block, 64 bytes, so K is the secret padded with zeros). */
static int mac_key(struct sip_auth_server *s)
{
	unsigned char pad[64];
	const EVP_MD *md = sip_auth_md(SIP_AUTH_ALG_SHA256);
	int err = 0;
	size_t i;

	s->mac_inner = EVP_MD_CTX_new();
	s->mac_outer = EVP_MD_CTX_new();
	if (!md || !s->mac_inner || !s->mac_outer)
		return ENOMEM;
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = (unsigned char)((i < s->secret_len ? s->secret[i]
							    : 0) ^
					 0x36);
	if (!EVP_DigestInit_ex(s->mac_inner, md, NULL) ||
	    !EVP_DigestUpdate(s->mac_inner, pad, sizeof(pad)))
		err = sip_auth_ssl_err("nonce HMAC key");
	for (i = 0; !err && i < sizeof(pad); i++)
		pad[i] = (unsigned char)((i < s->secret_len ? s->secret[i]
							    : 0) ^
					 0x5c);
	if (!err && (!EVP_DigestInit_ex(s->mac_outer, md, NULL) ||
		     !EVP_DigestUpdate(s->mac_outer, pad, sizeof(pad))))
		err = sip_auth_ssl_err("nonce HMAC key");
	OPENSSL_cleanse(pad, sizeof(pad));
	return err;
}

int sip_auth_server_alloc(struct sip_auth_server **sp, const void *secret,
			  size_t secret_len, uint32_t lifetime,
			  size_t nc_capacity)
{
	struct sip_auth_server *s = NULL;
	unsigned char seed[8];
	size_t i, per;
	int err = 0;

	if (!sp || (secret && (secret_len < 16 || secret_len > 64)))
		return EINVAL;
	if (nc_capacity == 0)
		nc_capacity = SIP_AUTH_NC_CAPACITY;
	if (nc_capacity > (1u << 28))
		return EINVAL;
	s = obj_alloc(sizeof(*s), server_destroy);
	if (!s)
		return ENOMEM;
	if (secret) {
		memcpy(s->secret, secret, secret_len);
		s->secret_len = secret_len;
	} else {
		s->secret_len = 32;
		if (RAND_bytes(s->secret, (int)s->secret_len) != 1) {
			err = sip_auth_ssl_err("random secret");
			goto out;
		}
	}
	/* The counter starts at random so that a restart with the same
	 * secret does not hand out the same nonces again. */
	if (RAND_bytes(seed, sizeof(seed)) != 1) {
		err = sip_auth_ssl_err("random counter");
		goto out;
	}
	atomic_init(&s->counter, get_be(seed, sizeof(seed)));
	err = mac_key(s);
	if (err)
		goto out;
	s->lifetime = lifetime ? lifetime : SIP_AUTH_NONCE_LIFETIME;
	per = (nc_capacity + NC_SHARDS - 1) / NC_SHARDS;
	s->cap = per * NC_SHARDS;
	for (i = 0; i < NC_SHARDS; i++) {
		struct nc_shard *sh = &s->shards[i];

		if (pthread_mutex_init(&sh->lock, NULL) != 0) {
			err = ENOMEM;
			goto out;
		}
		sh->lock_ok = true;
		list_init(&sh->lru);
		sh->cap = per;
		sh->ents = calloc(per, sizeof(*sh->ents));
		if (!sh->ents) {
			err = ENOMEM;
			goto out;
		}
		err = hash_init(&sh->hash, (uint32_t)per);
		if (err)
			goto out;
	}
	*sp = s;
	s = NULL;
out:
	obj_deref(s);
	return err;
}

size_t sip_auth_server_nc_count(struct sip_auth_server *s)
{
	size_t i, n = 0;

	for (i = 0; i < NC_SHARDS; i++) {
		pthread_mutex_lock(&s->shards[i].lock);
		n += s->shards[i].used;
		pthread_mutex_unlock(&s->shards[i].lock);
	}
	return n;
}

size_t sip_auth_server_nc_capacity(const struct sip_auth_server *s)
{
	return s->cap;
}

/* HMAC-SHA256(secret, raw[0..NONCE_SIGNED)) cut to NONCE_MAC bytes:
 * H(K^opad, H(K^ipad, text)) from the keyed states (mac_key). */
static int nonce_mac(const struct sip_auth_server *s, const unsigned char *raw,
		     unsigned char *mac)
{
	unsigned char inner[EVP_MAX_MD_SIZE], full[EVP_MAX_MD_SIZE];
	unsigned int ilen = 0, len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int err = 0;

	if (!c)
		return ENOMEM;
	if (!EVP_MD_CTX_copy_ex(c, s->mac_inner) ||
	    !EVP_DigestUpdate(c, raw, NONCE_SIGNED) ||
	    !EVP_DigestFinal_ex(c, inner, &ilen) ||
	    !EVP_MD_CTX_copy_ex(c, s->mac_outer) ||
	    !EVP_DigestUpdate(c, inner, ilen) ||
	    !EVP_DigestFinal_ex(c, full, &len) || len < NONCE_MAC)
		err = sip_auth_ssl_err("nonce HMAC");
	else
		memcpy(mac, full, NONCE_MAC);
	EVP_MD_CTX_free(c);
	return err;
}

int sip_auth_nonce_make(struct sip_auth_server *s, uint64_t now,
			char nonce[SIP_AUTH_NONCE_LEN + 1])
{
	unsigned char raw[NONCE_RAW];
	uint64_t n;
	int err;

	n = atomic_fetch_add(&s->counter, 1);
	put_be(raw, now, 8);
	put_be(raw + 8, s->lifetime, 4);
	put_be(raw + 12, n, 8);
	err = nonce_mac(s, raw, raw + NONCE_SIGNED);
	if (err)
		return err;
	b64_encode(raw, NONCE_RAW, nonce);
	return 0;
}

/* Checks a nonce; on OK or STALE also gives its issue time and key. */
static enum sip_auth_nonce_state nonce_open(struct sip_auth_server *s,
					    const struct pl *nonce,
					    uint64_t now, uint64_t *issued,
					    unsigned char *key)
{
	unsigned char raw[NONCE_RAW], mac[NONCE_MAC];
	uint64_t t, life;

	if (!nonce || !b64_decode_nonce(nonce, raw))
		return SIP_AUTH_NONCE_BAD;
	if (nonce_mac(s, raw, mac))
		return SIP_AUTH_NONCE_BAD;
	if (CRYPTO_memcmp(mac, raw + NONCE_SIGNED, NONCE_MAC) != 0)
		return SIP_AUTH_NONCE_BAD;
	t = get_be(raw, 8);
	life = get_be(raw + 8, 4);
	if (issued)
		*issued = t;
	if (key)
		memcpy(key, raw + 12, NC_KEY);
	/* The nonce says its own lifetime (under the MAC), so that cluster
	 * nodes with different settings agree on it. */
	if (now >= t && now - t >= life)
		return SIP_AUTH_NONCE_STALE;
	return SIP_AUTH_NONCE_OK;
}

enum sip_auth_nonce_state sip_auth_nonce_check(struct sip_auth_server *s,
					       const struct pl *nonce,
					       uint64_t now)
{
	return nonce_open(s, nonce, now, NULL, NULL);
}

/* Records nc for the nonce: OK when above the last one, else REPLAY. */
static enum sip_auth_result nc_update(struct sip_auth_server *s,
				      const unsigned char *key,
				      uint64_t issued, uint32_t nc)
{
	uint32_t h = hash_fnv32(key, NC_KEY);
	struct nc_shard *sh = &s->shards[h % NC_SHARDS];
	enum sip_auth_result r = SIP_AUTH_OK;
	struct nc_entry *e = NULL;
	struct le *le;
	uint64_t ctr;

	/* Counts start at 1: 0 is never above the last one. */
	if (nc == 0)
		return SIP_AUTH_REPLAY;
	h /= NC_SHARDS;
	pthread_mutex_lock(&sh->lock);
	for (le = hash_bucket(&sh->hash, h)->head; le; le = le->next) {
		struct nc_entry *x = le->data;

		if (memcmp(x->key, key, NC_KEY) == 0) {
			e = x;
			break;
		}
	}
	if (e) {
		if (nc <= e->nc) {
			r = SIP_AUTH_REPLAY;
			goto out;
		}
		e->nc = nc;
		list_unlink(&e->lle);
		list_append(&sh->lru, &e->lle, e);
		goto out;
	}
	ctr = get_be(key, 8);
	if (sh->evicted &&
	    not_newer(issued, ctr, sh->horizon_t, sh->horizon_c)) {
		r = SIP_AUTH_STALE;
		goto out;
	}
	if (sh->used < sh->cap) {
		e = &sh->ents[sh->used++];
	} else {
		e = sh->lru.head->data;
		list_unlink(&e->hle);
		list_unlink(&e->lle);
		if (!sh->evicted || !not_newer(e->issued, e->ctr,
					       sh->horizon_t, sh->horizon_c)) {
			sh->horizon_t = e->issued;
			sh->horizon_c = e->ctr;
		}
		sh->evicted = true;
	}
	memcpy(e->key, key, NC_KEY);
	e->issued = issued;
	e->ctr = ctr;
	e->nc = nc;
	hash_append(&sh->hash, h, &e->hle, e);
	list_append(&sh->lru, &e->lle, e);
out:
	pthread_mutex_unlock(&sh->lock);
	return r;
}

int sip_auth_challenge_print(struct sip_auth_server *s, struct buf *b,
			     const struct pl *realm, enum sip_auth_alg alg,
			     const struct pl *opaque, bool stale, uint64_t now)
{
	char nonce[SIP_AUTH_NONCE_LEN + 1];
	size_t start = b->len;
	int err;

	if (sip_auth_hex_len(alg) == 0 || !realm)
		return EINVAL;
	err = sip_auth_nonce_make(s, now, nonce);
	if (err)
		return err;
	err = buf_append_str(b, "Digest realm=\"");
	if (!err)
		err = sip_auth_append_quoted(b, realm);
	if (!err)
		err = buf_printf(b,
				 "\", nonce=\"%s\", algorithm=%s, "
				 "qop=\"auth\"",
				 nonce, sip_auth_alg_name(alg));
	if (!err && opaque && opaque->l > 0) {
		err = buf_append_str(b, ", opaque=\"");
		if (!err)
			err = sip_auth_append_quoted(b, opaque);
		if (!err)
			err = buf_append(b, "\"", 1);
	}
	if (!err && stale)
		err = buf_append_str(b, ", stale=true");
	if (err)
		b->len = start;
	return err;
}

const char *sip_auth_result_name(enum sip_auth_result r)
{
	static const char *const names[] = {
		[SIP_AUTH_OK] = "ok",
		[SIP_AUTH_STALE] = "stale",
		[SIP_AUTH_BAD_NONCE] = "bad nonce",
		[SIP_AUTH_BAD_REALM] = "bad realm",
		[SIP_AUTH_BAD_DIGEST] = "bad digest",
		[SIP_AUTH_REPLAY] = "replay",
		[SIP_AUTH_UNSUPPORTED] = "unsupported",
		[SIP_AUTH_ERROR] = "error",
	};

	return enum_name(names, ENUM_NAMES_LEN(names), r, "?");
}

enum sip_auth_result sip_auth_verify(struct sip_auth_server *s,
				     const struct sip_auth_credentials *cr,
				     const struct pl *method,
				     const struct pl *realm,
				     const struct sip_auth_ha1 *ha1,
				     uint64_t now)
{
	char h1[SIP_AUTH_HEX_SIZE], want[SIP_AUTH_HEX_SIZE];
	char got[SIP_AUTH_HEX_SIZE];
	unsigned char key[NC_KEY];
	enum sip_auth_nonce_state ns;
	const struct pl *stored;
	uint64_t issued = 0;
	size_t i, n;

	n = sip_auth_hex_len(cr->alg);
	if (n == 0 || !sip_auth_qop_is_auth(&cr->qop))
		return SIP_AUTH_UNSUPPORTED;
	stored = cr->alg == SIP_AUTH_ALG_MD5 ? &ha1->md5 : &ha1->sha256;
	if (stored->l == 0)
		return SIP_AUTH_UNSUPPORTED;
	if (sip_auth_ha1_norm(cr->alg, stored, h1)) {
		log_warn("stored HA1 is not %zu hex digits", n);
		return SIP_AUTH_ERROR;
	}
	if (!sip_auth_unq_eq(&cr->realm, realm))
		return SIP_AUTH_BAD_REALM;
	ns = nonce_open(s, &cr->nonce, now, &issued, key);
	if (ns == SIP_AUTH_NONCE_BAD)
		return SIP_AUTH_BAD_NONCE;
	if (cr->response.l != n)
		return SIP_AUTH_BAD_DIGEST;
	if (sip_auth_response_hex(cr->alg, h1, &cr->nonce, &cr->nc,
				  &cr->cnonce, &cr->qop, method, &cr->uri,
				  true, true, want))
		return SIP_AUTH_ERROR;
	for (i = 0; i < n; i++)
		got[i] = (char)(cr->response.p[i] | 0x20); /* hex: lower */
	if (CRYPTO_memcmp(got, want, n) != 0)
		return SIP_AUTH_BAD_DIGEST;
	/* stale only with a right digest (RFC 7616 §3.3). */
	if (ns == SIP_AUTH_NONCE_STALE)
		return SIP_AUTH_STALE;
	/* Without qop (RFC 2069) there is no count: the nonce is good for
	 * one request, as if its count were 1, so that a captured
	 * Authorization does not replay for the nonce's lifetime. */
	return nc_update(s, key, issued, cr->qop.l ? cr->nc_value : 1);
}

bool sip_auth_uri_matches(const struct sip_auth_credentials *cr,
			  const struct pl *ruri)
{
	char buf[1024];
	struct pl du;
	struct sip_uri a, b;

	if (sip_auth_unquote(&cr->uri, buf, sizeof(buf)))
		return false;
	pl_set_str(&du, buf);
	if (pl_eq(&du, ruri))
		return true;
	/* §19.1.4: the same URI written differently still matches. */
	return !sip_uri_decode(&a, &du) && !sip_uri_decode(&b, ruri) &&
	       sip_uri_equal(&a, &b);
}
