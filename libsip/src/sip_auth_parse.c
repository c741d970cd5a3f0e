/*
 * Digest header grammar (RFC 3261 §25.1, RFC 2617 §3.2.1-§3.2.2):
 * WWW-/Proxy-Authenticate challenges and Authorization credentials
 * decoded into views.
 */
#include "sip_auth_int.h"

#include <errno.h>
#include <string.h>

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
			if (!auth_is_hex(v->p[i]))
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

			if (!auth_is_hex(c))
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
bool sip_auth_unq_eq(const struct pl *v, const struct pl *plain)
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
