/*
 * sip_uri.c - SIP, SIPS and tel URIs as views (RFC 3261 §19, §25.1;
 * RFC 3966 for tel: in outline).
 */
#include "sip_uri.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "enum_name.h"

/* Character classes of RFC 3261 §25.1 (escaped is handled apart). */
enum {
	U_UNRES = 1 << 0, /* unreserved = alphanum / mark */
	U_USER = 1 << 1,  /* user-unreserved: & = + $ , ; ? / */
	U_PASS = 1 << 2,  /* password extras: & = + $ , */
	U_PARAM = 1 << 3, /* param-unreserved: [ ] / : & + $ */
	U_HNV = 1 << 4,	  /* hnv-unreserved: [ ] / ? : + $ */
	U_HOST = 1 << 5,  /* alphanum - . */
	U_TEL = 1 << 6,	  /* tel number: HEXDIG * # + - . ( ) */
	U_BAD = 1 << 7,	  /* never in a URI of any scheme */
};

#define ALNUM_(f) ['a' ... 'z'] = (f), ['A' ... 'Z'] = (f), ['0' ... '9'] = (f)

static const unsigned char utab[256] = {
	ALNUM_(U_UNRES | U_HOST),
	['-'] = U_UNRES | U_HOST | U_TEL,
	['.'] = U_UNRES | U_HOST | U_TEL,
	['_'] = U_UNRES,
	['!'] = U_UNRES,
	['~'] = U_UNRES,
	['*'] = U_UNRES | U_TEL,
	['\''] = U_UNRES,
	['('] = U_UNRES | U_TEL,
	[')'] = U_UNRES | U_TEL,
	['&'] = U_USER | U_PASS | U_PARAM,
	['='] = U_USER | U_PASS,
	['+'] = U_USER | U_PASS | U_PARAM | U_HNV | U_TEL,
	['$'] = U_USER | U_PASS | U_PARAM | U_HNV,
	[','] = U_USER | U_PASS,
	[';'] = U_USER,
	['?'] = U_USER | U_HNV,
	['/'] = U_USER | U_PARAM | U_HNV,
	['['] = U_PARAM | U_HNV,
	[']'] = U_PARAM | U_HNV,
	[':'] = U_PARAM | U_HNV,
	['#'] = U_TEL,
	[0 ... 0x20] = U_BAD,
	[0x7f ... 0xff] = U_BAD,
	['<'] = U_BAD,
	['>'] = U_BAD,
	['"'] = U_BAD,
};

#define UIS(c, f) (utab[(unsigned char)(c)] & (f))

static struct pl mkpl(const char *a, const char *b)
{
	struct pl pl = {a, (size_t)(b - a)};

	return pl;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Skips 1*(chars of class f / escaped) from p.  Returns the end, or NULL
 * on a bad escape.
 */
static const char *skip_class(const char *p, const char *end, unsigned f)
{
	while (p < end) {
		if (*p == '%') {
			if (end - p < 3 || hexval(p[1]) < 0 ||
			    hexval(p[2]) < 0)
				return NULL;
			p += 3;
		} else if (UIS(*p, f)) {
			p++;
		} else {
			break;
		}
	}
	return p;
}

/* Reads one byte of an escaped view, decoding %HH. */
static unsigned char esc_next(const char **pp, const char *end)
{
	const char *p = *pp;

	if (*p == '%' && end - p >= 3 && hexval(p[1]) >= 0 &&
	    hexval(p[2]) >= 0) {
		*pp = p + 3;
		return (unsigned char)(hexval(p[1]) * 16 + hexval(p[2]));
	}
	*pp = p + 1;
	return (unsigned char)*p;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* Equality after unescaping both sides. */
static bool esc_eq(const struct pl *a, const struct pl *b, bool icase)
{
	const char *p, *pe, *q, *qe;

	if (a->l == 0 || b->l == 0)
		return a->l == b->l;
	p = a->p;
	pe = p + a->l;
	q = b->p;
	qe = q + b->l;
	while (p < pe && q < qe) {
		unsigned char x = esc_next(&p, pe), y = esc_next(&q, qe);

		if (icase ? lower(x) != lower(y) : x != y)
			return false;
	}
	return p == pe && q == qe;
}

static bool esc_caseeq_str(const struct pl *a, const char *s)
{
	struct pl b;

	pl_set_str(&b, s);
	return esc_eq(a, &b, true);
}

/* ASCII case-insensitive equality of a view and a lower-case literal. */
static inline bool lit_caseeq(const struct pl *pl, const char *s, size_t n)
{
	if (pl->l != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)pl->p[i]) != (unsigned char)s[i])
			return false;
	return true;
}

/* A param name equal to lit, escapes decoded ("%6Cr" is "lr"). */
static bool name_is(const struct pl *name, const char *lit, size_t n)
{
	if (name->l == n)
		return lit_caseeq(name, lit, n);
	return name->l > n && memchr(name->p, '%', name->l) &&
	       esc_caseeq_str(name, lit);
}

#define NAME_IS(pl, lit) name_is((pl), (lit), sizeof(lit) - 1)

int sip_uri_unescape(const struct pl *src, char *dst, size_t dstsz,
		     size_t *len)
{
	const char *p, *end;
	size_t n = 0;

	if (!src || !dst || !len)
		return EINVAL;
	if (src->l == 0) {
		*len = 0;
		return 0;
	}
	p = src->p;
	end = p + src->l;
	while (p < end) {
		if (*p == '%' &&
		    (end - p < 3 || hexval(p[1]) < 0 || hexval(p[2]) < 0))
			return EBADMSG;
		if (n == dstsz)
			return EOVERFLOW;
		dst[n++] = (char)esc_next(&p, end);
	}
	*len = n;
	return 0;
}

/* ---------------------------------------------------------------- */

static bool ipv4_ok(const char *p, const char *end)
{
	int parts = 0;

	while (p < end) {
		unsigned v = 0, nd = 0;

		while (p < end && is_digit(*p)) {
			v = v * 10 + (unsigned)(*p - '0');
			if (++nd > 3)
				return false;
			p++;
		}
		if (nd == 0 || v > 255)
			return false;
		parts++;
		if (p < end) {
			if (*p != '.' || parts == 4)
				return false;
			p++;
			if (p == end)
				return false;
		}
	}
	return parts == 4;
}

/*
 * hostname = *( domainlabel "." ) toplabel [ "." ]; a host ending in a
 * label that starts with a digit can only be an IPv4address (§25.1).
 */
static bool hostname_ok(const char *p, const char *end)
{
	const char *label = p, *top = p, *q;

	if (p == end)
		return false;
	if (end[-1] == '.')
		end--;
	for (q = p; q <= end; q++) {
		if (q == end || *q == '.') {
			if (q == label || *label == '-' || q[-1] == '-')
				return false;
			top = label;
			label = q + 1;
		}
	}
	if (!is_alpha(*top))
		return ipv4_ok(p, end);
	return true;
}

static bool ipv6_ok(const char *p, const char *end)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];
	size_t n = (size_t)(end - p);

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, addr) == 1;
}

static bool port_ok(const char *p, const char *end, uint16_t *port)
{
	uint32_t v = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		if (!is_digit(*p))
			return false;
		v = v * 10 + (uint32_t)(*p - '0');
		if (v > 65535)
			return false;
	}
	*port = (uint16_t)v;
	return true;
}

struct uparam {
	struct pl name;
	struct pl value;
};

/* Next ";name[=value]" at *pp (uri-parameter, §25.1). */
static int uparam_next(const char **pp, const char *end, struct uparam *u)
{
	const char *p = *pp, *q;

	if (p == end || *p != ';')
		return ENOENT;
	p++;
	q = skip_class(p, end, U_UNRES | U_PARAM);
	if (!q || q == p)
		return EBADMSG;
	u->name = mkpl(p, q);
	u->value = mkpl(q, q);
	p = q;
	if (p < end && *p == '=') {
		p++;
		q = skip_class(p, end, U_UNRES | U_PARAM);
		if (!q || q == p)
			return EBADMSG;
		u->value = mkpl(p, q);
		p = q;
	}
	*pp = p;
	return 0;
}

/* Next "hname=hvalue" at *pp, after '?' or '&' (§25.1 headers). */
static int uheader_next(const char **pp, const char *end, struct uparam *u)
{
	const char *p = *pp, *q;

	if (p == end)
		return ENOENT;
	q = skip_class(p, end, U_UNRES | U_HNV);
	if (!q || q == p || q == end || *q != '=')
		return EBADMSG;
	u->name = mkpl(p, q);
	p = q + 1;
	q = skip_class(p, end, U_UNRES | U_HNV);
	if (!q)
		return EBADMSG;
	u->value = mkpl(p, q);
	p = q;
	if (p < end) {
		if (*p != '&' || p + 1 == end)
			return EBADMSG;
		p++;
	}
	*pp = p;
	return 0;
}

static int params_decode(struct sip_uri *u, const char **pp, const char *end)
{
	const char *p = *pp, *start = p;
	struct uparam up;
	int err;

	while ((err = uparam_next(&p, end, &up)) == 0) {
		if (NAME_IS(&up.name, "transport"))
			u->transport = up.value;
		else if (NAME_IS(&up.name, "maddr"))
			u->maddr = up.value;
		else if (NAME_IS(&up.name, "user"))
			u->user_param = up.value;
		else if (NAME_IS(&up.name, "ttl"))
			u->ttl = up.value;
		else if (NAME_IS(&up.name, "method"))
			u->method = up.value;
		else if (NAME_IS(&up.name, "lr"))
			u->lr = true;
	}
	if (err != ENOENT)
		return EBADMSG;
	u->params = mkpl(start, p);
	*pp = p;
	return 0;
}

static int headers_decode(struct sip_uri *u, const char *p, const char *end)
{
	const char *start;
	struct uparam up;
	int err;

	if (p == end)
		return 0;
	if (*p != '?' || p + 1 == end)
		return EBADMSG;
	start = ++p;
	while ((err = uheader_next(&p, end, &up)) == 0)
		;
	if (err != ENOENT)
		return EBADMSG;
	u->headers = mkpl(start, end);
	return 0;
}

/* SIP-URI / SIPS-URI (§19.1.1, §25.1) */
static int sip_decode(struct sip_uri *u, const char *p, const char *end)
{
	const char *at, *q, *colon;

	at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		q = skip_class(p, at, U_UNRES | U_USER);
		if (!q || q == p)
			return EBADMSG;
		u->user = mkpl(p, q);
		if (q < at) {
			if (*q != ':')
				return EBADMSG;
			colon = q + 1;
			q = skip_class(colon, at, U_UNRES | U_PASS);
			if (!q || q != at)
				return EBADMSG;
			u->password = mkpl(colon, at);
			u->has_password = true;
		}
		p = at + 1;
	}

	if (p < end && *p == '[') {
		q = memchr(p, ']', (size_t)(end - p));
		if (!q || !ipv6_ok(p + 1, q))
			return EBADMSG;
		u->host = mkpl(p + 1, q);
		u->host_is_ipv6 = true;
		p = q + 1;
	} else {
		q = p;
		while (q < end && UIS(*q, U_HOST))
			q++;
		if (!hostname_ok(p, q))
			return EBADMSG;
		u->host = mkpl(p, q);
		p = q;
	}
	if (p < end && *p == ':') {
		q = ++p;
		while (q < end && is_digit(*q))
			q++;
		if (!port_ok(p, q, &u->port))
			return EBADMSG;
		u->has_port = true;
		p = q;
	}
	if (params_decode(u, &p, end))
		return EBADMSG;
	return headers_decode(u, p, end);
}

/* telephone-subscriber in outline (RFC 3966 §3): number *par */
static int tel_decode(struct sip_uri *u, const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q != ';') {
		if (!UIS(*q, U_TEL) && hexval(*q) < 0)
			return EBADMSG;
		q++;
	}
	if (q == p)
		return EBADMSG;
	u->user = mkpl(p, q);
	p = q;
	if (params_decode(u, &p, end))
		return EBADMSG;
	return p == end ? 0 : EBADMSG;
}

int sip_uri_decode(struct sip_uri *uri, const struct pl *text)
{
	struct sip_uri u;
	const char *p, *end, *q;
	int err;

	if (!uri || !text || !text->p || text->l == 0)
		return EBADMSG;
	memset(&u, 0, sizeof(u));
	p = text->p;
	end = p + text->l;
	u.text = *text;

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	if (!is_alpha(*p))
		return EBADMSG;
	for (q = p + 1; q < end && (UIS(*q, U_HOST) || *q == '+'); q++)
		;
	if (q == end || *q != ':' || q + 1 == end)
		return EBADMSG;
	u.scheme = mkpl(p, q);
	u.opaque = mkpl(q + 1, end);
	for (p = q + 1; p < end; p++)
		if (UIS(*p, U_BAD))
			return EBADMSG;
	p = q + 1;

	if (lit_caseeq(&u.scheme, "sip", sizeof("sip") - 1))
		u.scheme_id = SIP_URI_SIP;
	else if (lit_caseeq(&u.scheme, "sips", sizeof("sips") - 1))
		u.scheme_id = SIP_URI_SIPS;
	else if (lit_caseeq(&u.scheme, "tel", sizeof("tel") - 1))
		u.scheme_id = SIP_URI_TEL;

	switch (u.scheme_id) {
	case SIP_URI_SIP:
	case SIP_URI_SIPS:
		err = sip_decode(&u, p, end);
		break;
	case SIP_URI_TEL:
		err = tel_decode(&u, p, end);
		break;
	default:
		err = 0;
		break;
	}
	if (err)
		return err;
	*uri = u;
	return 0;
}

int sip_uri_param_get(const struct pl *params, const char *name,
		      struct pl *value)
{
	const char *p, *end;
	struct uparam up;

	if (!params || !params->p || !name)
		return ENOENT;
	p = params->p;
	end = p + params->l;
	while (uparam_next(&p, end, &up) == 0) {
		if (esc_caseeq_str(&up.name, name)) {
			if (value)
				*value = up.value;
			return 0;
		}
	}
	return ENOENT;
}

int sip_uri_header_get(const struct pl *headers, const char *name,
		       struct pl *value)
{
	const char *p, *end;
	struct uparam up;

	if (!headers || !headers->p || !name)
		return ENOENT;
	p = headers->p;
	end = p + headers->l;
	while (uheader_next(&p, end, &up) == 0) {
		if (esc_caseeq_str(&up.name, name)) {
			if (value)
				*value = up.value;
			return 0;
		}
	}
	return ENOENT;
}

const char *sip_uri_scheme_name(enum sip_uri_scheme s)
{
	static const char *const names[] = {
		[SIP_URI_SIP] = "sip",
		[SIP_URI_SIPS] = "sips",
		[SIP_URI_TEL] = "tel",
	};

	return enum_name(names, ENUM_NAMES_LEN(names), s, "");
}

/* ---------------------------------------------------------------- */
/* Comparison (RFC 3261 §19.1.4) */

static bool special_param(const struct pl *name)
{
	return NAME_IS(name, "user") || NAME_IS(name, "ttl") ||
	       NAME_IS(name, "method") || NAME_IS(name, "maddr") ||
	       NAME_IS(name, "transport");
}

typedef int(uiter_h)(const char **pp, const char *end, struct uparam *u);

static bool ufind(uiter_h *next, const struct pl *list, const struct pl *name,
		  struct pl *value)
{
	const char *p = list->p, *end;
	struct uparam up;

	if (!p)
		return false;
	end = p + list->l;
	while (next(&p, end, &up) == 0) {
		if (esc_eq(&up.name, name, true)) {
			*value = up.value;
			return true;
		}
	}
	return false;
}

/*
 * §19.1.4: every element of a that b also has matches.  A URI param
 * that b lacks is ignored unless it is one of the special ones; a
 * header must be in both.  Param values compare without case, header
 * values with.  A repeated element: its first occurrence counts.
 */
static bool usub(bool params, const struct pl *a, const struct pl *b)
{
	uiter_h *next = params ? uparam_next : uheader_next;
	const char *p = a->p, *end;
	struct uparam up;
	struct pl v;

	if (!p)
		return true;
	end = p + a->l;
	while (next(&p, end, &up) == 0) {
		if (ufind(next, a, &up.name, &v) && v.p != up.value.p)
			continue;
		if (!ufind(next, b, &up.name, &v)) {
			if (!params || special_param(&up.name))
				return false;
			continue;
		}
		if (!esc_eq(&up.value, &v, params))
			return false;
	}
	return true;
}

bool sip_uri_equal(const struct sip_uri *a, const struct sip_uri *b)
{
	if (!a || !b || a->scheme_id != b->scheme_id)
		return false;
	if (a->scheme_id == SIP_URI_OTHER)
		return pl_caseeq(&a->scheme, &b->scheme) &&
		       pl_eq(&a->opaque, &b->opaque);
	if (!esc_eq(&a->user, &b->user, false))
		return false;
	if (a->has_password != b->has_password ||
	    !esc_eq(&a->password, &b->password, false))
		return false;
	if (!pl_caseeq(&a->host, &b->host))
		return false;
	if (a->has_port != b->has_port || a->port != b->port)
		return false;
	if (!usub(true, &a->params, &b->params) ||
	    !usub(true, &b->params, &a->params))
		return false;
	return usub(false, &a->headers, &b->headers) &&
	       usub(false, &b->headers, &a->headers);
}
