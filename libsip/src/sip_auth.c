#include "sip_auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define LOG_MODULE "sip_auth"
#include "hash.h"
#include "list.h"
#include "log.h"
#include "obj.h"

/* ----- lexing (RFC 3261 §25.1) ----- */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" /
 * "'" / "~" */
static bool is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-.!%*_+`'~", c) != NULL;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* LWS = [*WSP CRLF] 1*WSP; a CRLF not followed by WSP is not LWS. */
static const char *skip_lws(const char *p, const char *end)
{
	for (;;) {
		while (p < end && is_wsp(*p))
			p++;
		if (end - p >= 3 && p[0] == '\r' && p[1] == '\n' &&
		    is_wsp(p[2])) {
			p += 2;
			continue;
		}
		return p;
	}
}

static const char *skip_token(const char *p, const char *end)
{
	while (p < end && is_tchar(*p))
		p++;
	return p;
}

/*
 * quoted-string body from just after the opening DQUOTE: qdtext is LWS,
 * %x21, %x23-5B, %x5D-7E or UTF8-NONASCII; quoted-pair is "\" and any
 * byte but CR, LF and those above %x7F.  Returns the closing DQUOTE or
 * NULL.
 */
static const char *skip_qbody(const char *p, const char *end)
{
	while (p < end) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			return p;
		if (c == '\\') {
			if (end - p < 2 || p[1] == '\r' || p[1] == '\n' ||
			    (unsigned char)p[1] > 0x7f)
				return NULL;
			p += 2;
			continue;
		}
		if (c == '\r' || c == '\n') {
			const char *q = skip_lws(p, end);

			if (q == p)
				return NULL;
			p = q;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return NULL;
		p++;
	}
	return NULL;
}

struct param {
	struct pl name;
	struct pl val;
	bool quoted;
};

typedef int(param_h)(const struct param *prm, void *arg);

/*
 * Splits "<scheme> LWS name EQUAL value *(COMMA name EQUAL value)".
 * Returns ENOTSUP for a scheme other than Digest, EBADMSG on bad syntax,
 * or the first non-zero return of ph.
 */
static int parse_auth(const struct pl *value, param_h *ph, void *arg)
{
	const char *p, *end, *q;
	struct pl scheme;
	int err;

	if (!value || !value->p)
		return EBADMSG;
	p = value->p;
	end = p + value->l;
	p = skip_lws(p, end);
	q = skip_token(p, end);
	if (q == p)
		return EBADMSG;
	scheme.p = p;
	scheme.l = (size_t)(q - p);
	if (!pl_caseeq_str(&scheme, "Digest"))
		return ENOTSUP;
	p = skip_lws(q, end);
	if (p == q || p == end)
		return EBADMSG;

	for (;;) {
		struct param prm;

		q = skip_token(p, end);
		if (q == p)
			return EBADMSG;
		prm.name.p = p;
		prm.name.l = (size_t)(q - p);
		p = skip_lws(q, end);
		if (p == end || *p != '=')
			return EBADMSG;
		p = skip_lws(p + 1, end);
		if (p < end && *p == '"') {
			q = skip_qbody(p + 1, end);
			if (!q)
				return EBADMSG;
			prm.val.p = p + 1;
			prm.val.l = (size_t)(q - p - 1);
			prm.quoted = true;
			p = q + 1;
		} else {
			q = skip_token(p, end);
			if (q == p)
				return EBADMSG;
			prm.val.p = p;
			prm.val.l = (size_t)(q - p);
			prm.quoted = false;
			p = q;
		}
		err = ph(&prm, arg);
		if (err)
			return err;
		p = skip_lws(p, end);
		if (p == end)
			return 0;
		if (*p != ',')
			return EBADMSG;
		p = skip_lws(p + 1, end);
	}
}

static enum sip_auth_alg alg_decode(const struct pl *name)
{
	/* Absent means MD5 (RFC 7616 §3.3). */
	if (name->l == 0 || pl_caseeq_str(name, "MD5"))
		return SIP_AUTH_ALG_MD5;
	if (pl_caseeq_str(name, "SHA-256"))
		return SIP_AUTH_ALG_SHA256;
	return SIP_AUTH_ALG_OTHER;
}

/* Marks a known parameter seen; EBADMSG the second time. */
static int seen_once(unsigned *seen, unsigned bit)
{
	if (*seen & bit)
		return EBADMSG;
	*seen |= bit;
	return 0;
}

/* qop-options: a comma-separated list of tokens (RFC 7616 §3.3). */
static int qop_options(struct sip_auth_challenge *ch, const struct pl *v)
{
	const char *p = v->p, *end = v->p + v->l, *q;

	p = skip_lws(p, end);
	for (;;) {
		struct pl opt;

		q = skip_token(p, end);
		if (q == p)
			return EBADMSG;
		opt.p = p;
		opt.l = (size_t)(q - p);
		if (pl_caseeq_str(&opt, "auth"))
			ch->qop_auth = true;
		else if (pl_caseeq_str(&opt, "auth-int"))
			ch->qop_auth_int = true;
		p = skip_lws(q, end);
		if (p == end)
			return 0;
		if (*p != ',')
			return EBADMSG;
		p = skip_lws(p + 1, end);
	}
}

enum {
	P_REALM = 1u << 0,
	P_NONCE = 1u << 1,
	P_OPAQUE = 1u << 2,
	P_DOMAIN = 1u << 3,
	P_ALG = 1u << 4,
	P_QOP = 1u << 5,
	P_STALE = 1u << 6,
	P_USER = 1u << 7,
	P_URI = 1u << 8,
	P_RESPONSE = 1u << 9,
	P_CNONCE = 1u << 10,
	P_NC = 1u << 11,
};

struct chal_state {
	struct sip_auth_challenge ch;
	unsigned seen;
};

static int chal_param(const struct param *prm, void *arg)
{
	struct chal_state *st = arg;
	struct sip_auth_challenge *ch = &st->ch;
	const struct pl *n = &prm->name;
	int err;

	if (pl_caseeq_str(n, "realm")) {
		err = seen_once(&st->seen, P_REALM);
		ch->realm = prm->val;
	} else if (pl_caseeq_str(n, "nonce")) {
		err = seen_once(&st->seen, P_NONCE);
		ch->nonce = prm->val;
	} else if (pl_caseeq_str(n, "opaque")) {
		err = seen_once(&st->seen, P_OPAQUE);
		ch->opaque = prm->val;
	} else if (pl_caseeq_str(n, "domain")) {
		err = seen_once(&st->seen, P_DOMAIN);
		ch->domain = prm->val;
	} else if (pl_caseeq_str(n, "algorithm")) {
		err = seen_once(&st->seen, P_ALG);
		ch->algorithm = prm->val;
		ch->alg = alg_decode(&prm->val);
	} else if (pl_caseeq_str(n, "qop")) {
		err = seen_once(&st->seen, P_QOP);
		if (!err)
			err = qop_options(ch, &prm->val);
		ch->qop = prm->val;
	} else if (pl_caseeq_str(n, "stale")) {
		/* Anything but TRUE counts as false (RFC 7616 §3.3). */
		err = seen_once(&st->seen, P_STALE);
		ch->stale = pl_caseeq_str(&prm->val, "true");
	} else {
		err = 0; /* charset, userhash, extensions: ignored */
	}
	return err;
}

int sip_auth_challenge_decode(struct sip_auth_challenge *ch,
			      const struct pl *value)
{
	struct chal_state st;
	int err;

	memset(&st, 0, sizeof(st));
	st.ch.alg = SIP_AUTH_ALG_MD5;
	err = parse_auth(value, chal_param, &st);
	if (err)
		return err;
	if (!(st.seen & P_REALM) || !(st.seen & P_NONCE))
		return EBADMSG;
	*ch = st.ch;
	return 0;
}

struct cred_state {
	struct sip_auth_credentials cr;
	unsigned seen;
};

static int cred_set(struct cred_state *st, unsigned bit, struct pl *dst,
		    const struct pl *v)
{
	int err = seen_once(&st->seen, bit);

	*dst = *v;
	return err;
}

static int cred_param(const struct param *prm, void *arg)
{
	struct cred_state *st = arg;
	struct sip_auth_credentials *cr = &st->cr;
	const struct pl *n = &prm->name, *v = &prm->val;
	int err;
	size_t i;

	if (pl_caseeq_str(n, "username"))
		return cred_set(st, P_USER, &cr->username, v);
	if (pl_caseeq_str(n, "realm"))
		return cred_set(st, P_REALM, &cr->realm, v);
	if (pl_caseeq_str(n, "nonce"))
		return cred_set(st, P_NONCE, &cr->nonce, v);
	if (pl_caseeq_str(n, "uri"))
		return cred_set(st, P_URI, &cr->uri, v);
	if (pl_caseeq_str(n, "cnonce"))
		return cred_set(st, P_CNONCE, &cr->cnonce, v);
	if (pl_caseeq_str(n, "opaque"))
		return cred_set(st, P_OPAQUE, &cr->opaque, v);
	if (pl_caseeq_str(n, "qop"))
		return cred_set(st, P_QOP, &cr->qop, v);
	if (pl_caseeq_str(n, "algorithm")) {
		cr->alg = alg_decode(v);
		return cred_set(st, P_ALG, &cr->algorithm, v);
	}
	if (pl_caseeq_str(n, "response")) {
		/* request-digest = LDQUOT 32LHEX RDQUOT; 64 for SHA-256. */
		if (v->l == 0)
			return EBADMSG;
		for (i = 0; i < v->l; i++)
			if (!is_hex(v->p[i]))
				return EBADMSG;
		return cred_set(st, P_RESPONSE, &cr->response, v);
	}
	if (pl_caseeq_str(n, "nc")) {
		uint32_t x = 0;

		/* nonce-count = "nc" EQUAL 8LHEX */
		if (v->l != 8)
			return EBADMSG;
		for (i = 0; i < 8; i++) {
			char c = v->p[i];

			if (!is_hex(c))
				return EBADMSG;
			x = x << 4 |
			    (uint32_t)(c <= '9' ? c - '0'
						: (c | 0x20) - 'a' + 10);
		}
		err = cred_set(st, P_NC, &cr->nc, v);
		cr->nc_value = x;
		return err;
	}
	return 0;
}

int sip_auth_credentials_decode(struct sip_auth_credentials *cr,
				const struct pl *value)
{
	const unsigned need = P_USER | P_REALM | P_NONCE | P_URI | P_RESPONSE;
	struct cred_state st;
	int err;

	memset(&st, 0, sizeof(st));
	st.cr.alg = SIP_AUTH_ALG_MD5;
	err = parse_auth(value, cred_param, &st);
	if (err)
		return err;
	if ((st.seen & need) != need)
		return EBADMSG;
	/* With qop, cnonce and nc MUST be sent (RFC 7616 §3.4). */
	if ((st.seen & P_QOP) &&
	    (st.seen & (P_CNONCE | P_NC)) != (P_CNONCE | P_NC))
		return EBADMSG;
	*cr = st.cr;
	return 0;
}

int sip_auth_unquote(const struct pl *v, char *dst, size_t dstsz)
{
	size_t i, n = 0;

	for (i = 0; i < v->l; i++, n++)
		if (v->p[i] == '\\')
			i++;
	if (n >= dstsz)
		return EOVERFLOW;
	n = 0;
	for (i = 0; i < v->l; i++) {
		if (v->p[i] == '\\' && i + 1 < v->l)
			i++;
		dst[n++] = v->p[i];
	}
	dst[n] = '\0';
	return 0;
}

/* Equality of a quoted value's view, unquoted, and plain bytes. */
static bool unq_eq(const struct pl *v, const struct pl *plain)
{
	size_t i, n = 0;

	for (i = 0; i < v->l; i++, n++) {
		if (v->p[i] == '\\' && i + 1 < v->l)
			i++;
		if (n >= plain->l || plain->p[n] != v->p[i])
			return false;
	}
	return n == plain->l;
}

/* ----- digests ----- */

const char *sip_auth_alg_name(enum sip_auth_alg alg)
{
	switch (alg) {
	case SIP_AUTH_ALG_MD5:
		return "MD5";
	case SIP_AUTH_ALG_SHA256:
		return "SHA-256";
	default:
		return "";
	}
}

size_t sip_auth_hex_len(enum sip_auth_alg alg)
{
	switch (alg) {
	case SIP_AUTH_ALG_MD5:
		return 32;
	case SIP_AUTH_ALG_SHA256:
		return 64;
	default:
		return 0;
	}
}

/* Logs OpenSSL's first queued error once, with context; returns EIO. */
static int ssl_err(const char *what)
{
	char msg[256];
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "no OpenSSL error queued");
	ERR_clear_error();
	log_err("%s: %s", what, msg);
	return EIO;
}

/* Fetched once: the implicit fetch of EVP_md5() costs a lookup a call. */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_fetched[2];

static void md_fetch(void)
{
	md_fetched[0] = EVP_MD_fetch(NULL, "MD5", NULL);
	md_fetched[1] = EVP_MD_fetch(NULL, "SHA256", NULL);
	ERR_clear_error();
}

static const EVP_MD *md_of(enum sip_auth_alg alg)
{
	pthread_once(&md_once, md_fetch);
	if (alg == SIP_AUTH_ALG_MD5)
		return md_fetched[0] ? md_fetched[0] : EVP_md5();
	if (alg == SIP_AUTH_ALG_SHA256)
		return md_fetched[1] ? md_fetched[1] : EVP_sha256();
	return NULL;
}

/* One input of a digest; unq: undo quoted-pairs while hashing. */
struct hpart {
	const char *p;
	size_t l;
	bool unq;
};

static int md_feed(EVP_MD_CTX *ctx, const struct hpart *part)
{
	const char *p = part->p, *end = part->p + part->l, *bs;

	if (!part->unq)
		return part->l == 0 || EVP_DigestUpdate(ctx, p, part->l);
	while (p < end) {
		bs = memchr(p, '\\', (size_t)(end - p));
		if (!bs)
			return EVP_DigestUpdate(ctx, p, (size_t)(end - p));
		if (bs > p && !EVP_DigestUpdate(ctx, p, (size_t)(bs - p)))
			return 0;
		p = bs + 1;
		if (p < end) {
			if (!EVP_DigestUpdate(ctx, p, 1))
				return 0;
			p++;
		}
	}
	return 1;
}

static void to_hex(const unsigned char *bin, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[bin[i] >> 4];
		hex[2 * i + 1] = digits[bin[i] & 15];
	}
	hex[2 * n] = '\0';
}

/* H(part0 ":" part1 ":" ...) in lower-case hex. */
static int digest_hex(enum sip_auth_alg alg, const struct hpart *parts,
		      size_t nparts, char hex[SIP_AUTH_HEX_SIZE])
{
	const EVP_MD *md = md_of(alg);
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int binlen = 0;
	EVP_MD_CTX *ctx = NULL;
	int err = 0;
	size_t i;

	if (!md)
		return ENOTSUP;
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		err = ENOMEM;
		goto out;
	}
	if (!EVP_DigestInit_ex(ctx, md, NULL)) {
		err = ssl_err("digest init");
		goto out;
	}
	for (i = 0; i < nparts; i++) {
		if ((i > 0 && !EVP_DigestUpdate(ctx, ":", 1)) ||
		    !md_feed(ctx, &parts[i])) {
			err = ssl_err("digest update");
			goto out;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, bin, &binlen) ||
	    binlen * 2 != sip_auth_hex_len(alg)) {
		err = ssl_err("digest final");
		goto out;
	}
	to_hex(bin, binlen, hex);
out:
	EVP_MD_CTX_free(ctx);
	return err;
}

static struct hpart hp(const struct pl *pl, bool unq)
{
	struct hpart h = {pl ? pl->p : NULL, pl ? pl->l : 0, unq};

	return h;
}

int sip_auth_ha1(enum sip_auth_alg alg, const struct pl *username,
		 const struct pl *realm, const struct pl *password,
		 char hex[SIP_AUTH_HEX_SIZE])
{
	struct hpart parts[3];

	parts[0] = hp(username, false);
	parts[1] = hp(realm, false);
	parts[2] = hp(password, false);
	return digest_hex(alg, parts, 3, hex);
}

/* Copies an HA1 in hex of alg's length into dst in lower case. */
static int ha1_norm(enum sip_auth_alg alg, const struct pl *ha1, char *dst)
{
	size_t i, n = sip_auth_hex_len(alg);

	if (n == 0)
		return ENOTSUP;
	if (!ha1 || ha1->l != n)
		return EINVAL;
	for (i = 0; i < n; i++) {
		if (!is_hex(ha1->p[i]))
			return EINVAL;
		dst[i] = (char)(ha1->p[i] >= 'A' && ha1->p[i] <= 'F'
					? ha1->p[i] | 0x20
					: ha1->p[i]);
	}
	dst[n] = '\0';
	return 0;
}

/*
 * The request-digest with HA1 already normalised.  q: the nonce, nc,
 * cnonce and qop views come from quoted strings (undo quoted-pairs);
 * quri: so does uri.
 */
static int response_hex(enum sip_auth_alg alg, const char *ha1,
			const struct pl *nonce, const struct pl *nc,
			const struct pl *cnonce, const struct pl *qop,
			const struct pl *method, const struct pl *uri, bool q,
			bool quri, char hex[SIP_AUTH_HEX_SIZE])
{
	char ha2[SIP_AUTH_HEX_SIZE];
	struct hpart parts[6];
	int err;

	parts[0] = hp(method, false);
	parts[1] = hp(uri, quri);
	err = digest_hex(alg, parts, 2, ha2);
	if (err)
		return err;
	parts[0].p = ha1;
	parts[0].l = sip_auth_hex_len(alg);
	parts[0].unq = false;
	parts[1] = hp(nonce, q);
	if (!qop || qop->l == 0) {
		parts[2].p = ha2;
		parts[2].l = sip_auth_hex_len(alg);
		parts[2].unq = false;
		return digest_hex(alg, parts, 3, hex);
	}
	parts[2] = hp(nc, q);
	parts[3] = hp(cnonce, q);
	parts[4] = hp(qop, q);
	parts[5].p = ha2;
	parts[5].l = sip_auth_hex_len(alg);
	parts[5].unq = false;
	return digest_hex(alg, parts, 6, hex);
}

static bool qop_is_auth(const struct pl *qop)
{
	return !qop || qop->l == 0 || pl_caseeq_str(qop, "auth");
}

int sip_auth_response(enum sip_auth_alg alg, const struct pl *ha1,
		      const struct pl *nonce, const struct pl *nc,
		      const struct pl *cnonce, const struct pl *qop,
		      const struct pl *method, const struct pl *uri,
		      char hex[SIP_AUTH_HEX_SIZE])
{
	char h1[SIP_AUTH_HEX_SIZE], out[SIP_AUTH_HEX_SIZE];
	int err;

	/* auth-int needs H(entity-body): not done here. */
	if (!qop_is_auth(qop))
		return ENOTSUP;
	err = ha1_norm(alg, ha1, h1);
	if (err)
		return err;
	err = response_hex(alg, h1, nonce, nc, cnonce, qop, method, uri, false,
			   false, out);
	if (err)
		return err;
	memcpy(hex, out, sip_auth_hex_len(alg) + 1);
	return 0;
}

/* ----- quoted output ----- */

/* Appends v as a quoted-string body, escaping '"' and '\'; EINVAL for
 * control characters. */
static int append_quoted(struct buf *b, const struct pl *v)
{
	size_t i, start = 0;
	int err;

	for (i = 0; i < v->l; i++) {
		char c = v->p[i];

		/* Controls would not parse back (and CRLF would end the
		 * header): refuse them. */
		if (((unsigned char)c < 0x20 && c != '\t') || c == 0x7f)
			return EINVAL;
		if (c != '"' && c != '\\')
			continue;
		err = buf_append(b, v->p + start, i - start);
		if (!err)
			err = buf_append(b, "\\", 1);
		if (err)
			return err;
		start = i;
	}
	return buf_append(b, v->p + start, v->l - start);
}

/* ----- server: nonces ----- */

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
	const EVP_MD *md = md_of(SIP_AUTH_ALG_SHA256);
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
		err = ssl_err("nonce HMAC key");
	for (i = 0; !err && i < sizeof(pad); i++)
		pad[i] = (unsigned char)((i < s->secret_len ? s->secret[i]
							    : 0) ^
					 0x5c);
	if (!err && (!EVP_DigestInit_ex(s->mac_outer, md, NULL) ||
		     !EVP_DigestUpdate(s->mac_outer, pad, sizeof(pad))))
		err = ssl_err("nonce HMAC key");
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
			err = ssl_err("random secret");
			goto out;
		}
	}
	/* The counter starts at random so that a restart with the same
	 * secret does not hand out the same nonces again. */
	if (RAND_bytes(seed, sizeof(seed)) != 1) {
		err = ssl_err("random counter");
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
		err = ssl_err("nonce HMAC");
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
		err = append_quoted(b, realm);
	if (!err)
		err = buf_printf(b,
				 "\", nonce=\"%s\", algorithm=%s, "
				 "qop=\"auth\"",
				 nonce, sip_auth_alg_name(alg));
	if (!err && opaque && opaque->l > 0) {
		err = buf_append_str(b, ", opaque=\"");
		if (!err)
			err = append_quoted(b, opaque);
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
	switch (r) {
	case SIP_AUTH_OK:
		return "ok";
	case SIP_AUTH_STALE:
		return "stale";
	case SIP_AUTH_BAD_NONCE:
		return "bad nonce";
	case SIP_AUTH_BAD_REALM:
		return "bad realm";
	case SIP_AUTH_BAD_DIGEST:
		return "bad digest";
	case SIP_AUTH_REPLAY:
		return "replay";
	case SIP_AUTH_UNSUPPORTED:
		return "unsupported";
	case SIP_AUTH_ERROR:
		return "error";
	}
	return "?";
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
	if (n == 0 || !qop_is_auth(&cr->qop))
		return SIP_AUTH_UNSUPPORTED;
	stored = cr->alg == SIP_AUTH_ALG_MD5 ? &ha1->md5 : &ha1->sha256;
	if (stored->l == 0)
		return SIP_AUTH_UNSUPPORTED;
	if (ha1_norm(cr->alg, stored, h1)) {
		log_warn("stored HA1 is not %zu hex digits", n);
		return SIP_AUTH_ERROR;
	}
	if (!unq_eq(&cr->realm, realm))
		return SIP_AUTH_BAD_REALM;
	ns = nonce_open(s, &cr->nonce, now, &issued, key);
	if (ns == SIP_AUTH_NONCE_BAD)
		return SIP_AUTH_BAD_NONCE;
	if (cr->response.l != n)
		return SIP_AUTH_BAD_DIGEST;
	if (response_hex(cr->alg, h1, &cr->nonce, &cr->nc, &cr->cnonce,
			 &cr->qop, method, &cr->uri, true, true, want))
		return SIP_AUTH_ERROR;
	for (i = 0; i < n; i++)
		got[i] = (char)(cr->response.p[i] | 0x20); /* hex: lower */
	if (CRYPTO_memcmp(got, want, n) != 0)
		return SIP_AUTH_BAD_DIGEST;
	/* stale only with a right digest (RFC 7616 §3.3). */
	if (ns == SIP_AUTH_NONCE_STALE)
		return SIP_AUTH_STALE;
	if (cr->qop.l == 0)
		return SIP_AUTH_OK;
	return nc_update(s, key, issued, cr->nc_value);
}

/* ----- client ----- */

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

	err = ha1_norm(alg, ha1, h1);
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
		parts[1] = hp(&ch->realm, true);
		parts[2].p = c->password.p;
		parts[2].l = c->password.l;
		parts[2].unq = false;
		err = digest_hex(ch->alg, parts, 3, h1);
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
			return ssl_err("cnonce");
		to_hex(rnd, sizeof(rnd), cnonce);
		snprintf(ncs, sizeof(ncs), "%08x", nc);
		pl_set_str(&pcnonce, cnonce);
		pl_set_str(&pnc, ncs);
	}
	/* The nonce keeps the challenge's quoted-pairs: q undoes them. */
	err = response_hex(c->alg, c->ha1, &nonce, c->qop ? &pnc : NULL,
			   c->qop ? &pcnonce : NULL, c->qop ? &qop : NULL,
			   method, uri, true, false, resp);
	if (err)
		return err;
	user = own_pl(&c->username);
	err = buf_append_str(b, "Digest username=\"");
	if (!err)
		err = append_quoted(b, &user);
	if (!err)
		err = buf_append(b, "\"", 1);
	if (!err)
		err = append_raw(b, "realm", &c->realm);
	if (!err)
		err = append_raw(b, "nonce", &c->nonce);
	if (!err)
		err = buf_append_str(b, ", uri=\"");
	if (!err)
		err = append_quoted(b, uri);
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
