/*
 * sip_msg.c - zero-copy SIP message decoding (RFC 3261 §7, §18.3, §20,
 * §25).  One pass over the start line and the header section into the
 * fixed header array of struct sip_msg; values are views into the
 * caller's buffer, which is never written.
 */
#include "sip_msg.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sip_uri.h"

/* Character classes of RFC 3261 §25.1. */
enum {
	C_TOKEN = 1 << 0, /* token */
	C_WORD = 1 << 1,  /* word (Call-ID) */
	C_LWS = 1 << 2,	  /* SP HTAB CR LF */
	C_ALPHA = 1 << 3,
	C_SCHEME = 1 << 4, /* ALPHA DIGIT + - . */
	C_HOST = 1 << 6,   /* hostname and IPv4 characters */
};

#define ALNUM_(f) ['a' ... 'z'] = (f), ['A' ... 'Z'] = (f), ['0' ... '9'] = (f)

static const unsigned char ctab[256] = {
	ALNUM_(C_TOKEN | C_WORD | C_SCHEME | C_HOST),
	['-'] = C_TOKEN | C_WORD | C_SCHEME | C_HOST,
	['.'] = C_TOKEN | C_WORD | C_SCHEME | C_HOST,
	['!'] = C_TOKEN | C_WORD,
	['%'] = C_TOKEN | C_WORD,
	['*'] = C_TOKEN | C_WORD,
	['_'] = C_TOKEN | C_WORD,
	['+'] = C_TOKEN | C_WORD | C_SCHEME,
	['`'] = C_TOKEN | C_WORD,
	['\''] = C_TOKEN | C_WORD,
	['~'] = C_TOKEN | C_WORD,
	['('] = C_WORD,
	[')'] = C_WORD,
	['<'] = C_WORD,
	['>'] = C_WORD,
	[':'] = C_WORD,
	['\\'] = C_WORD,
	['"'] = C_WORD,
	['/'] = C_WORD,
	['['] = C_WORD,
	[']'] = C_WORD,
	['?'] = C_WORD,
	['{'] = C_WORD,
	['}'] = C_WORD,
	[' '] = C_LWS,
	['\t'] = C_LWS,
	['\r'] = C_LWS,
	['\n'] = C_LWS,
};

#define IS(c, f) (ctab[(unsigned char)(c)] & (f))

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *skip_lws(const char *p, const char *end)
{
	while (p < end && IS(*p, C_LWS))
		p++;
	return p;
}

static const char *skip_token(const char *p, const char *end)
{
	while (p < end && IS(*p, C_TOKEN))
		p++;
	return p;
}

/*
 * Skips a quoted-string starting at the DQUOTE at p (RFC 3261 §25.1:
 * quoted-pair is "\" and any octet but CR and LF).  Returns the byte
 * after the closing DQUOTE, or NULL when it is unterminated.
 */
static const char *skip_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p == end)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* ASCII case-insensitive equality of a view and a lower-case literal. */
static inline bool lit_caseeq(const struct pl *pl, const char *s, size_t n)
{
	if (pl->l != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)pl->p[i];

		if ((c >= 'A' && c <= 'Z' ? c | 0x20 : c) !=
		    (unsigned char)s[i])
			return false;
	}
	return true;
}

#define CASEEQ(pl, lit) lit_caseeq((pl), (lit), sizeof(lit) - 1)

static struct pl mkpl(const char *a, const char *b)
{
	struct pl pl = {a, (size_t)(b - a)};

	return pl;
}

/* ---------------------------------------------------------------- */
/* Names of headers, methods and transports */

static const char *const hdr_names[SIP_HDR_COUNT] = {
	[SIP_HDR_OTHER] = "",
	[SIP_HDR_ACCEPT] = "Accept",
	[SIP_HDR_ACCEPT_ENCODING] = "Accept-Encoding",
	[SIP_HDR_ACCEPT_LANGUAGE] = "Accept-Language",
	[SIP_HDR_ALERT_INFO] = "Alert-Info",
	[SIP_HDR_ALLOW] = "Allow",
	[SIP_HDR_ALLOW_EVENTS] = "Allow-Events",
	[SIP_HDR_AUTHENTICATION_INFO] = "Authentication-Info",
	[SIP_HDR_AUTHORIZATION] = "Authorization",
	[SIP_HDR_CALL_ID] = "Call-ID",
	[SIP_HDR_CALL_INFO] = "Call-Info",
	[SIP_HDR_CONTACT] = "Contact",
	[SIP_HDR_CONTENT_DISPOSITION] = "Content-Disposition",
	[SIP_HDR_CONTENT_ENCODING] = "Content-Encoding",
	[SIP_HDR_CONTENT_LANGUAGE] = "Content-Language",
	[SIP_HDR_CONTENT_LENGTH] = "Content-Length",
	[SIP_HDR_CONTENT_TYPE] = "Content-Type",
	[SIP_HDR_CSEQ] = "CSeq",
	[SIP_HDR_DATE] = "Date",
	[SIP_HDR_ERROR_INFO] = "Error-Info",
	[SIP_HDR_EVENT] = "Event",
	[SIP_HDR_EXPIRES] = "Expires",
	[SIP_HDR_FROM] = "From",
	[SIP_HDR_IN_REPLY_TO] = "In-Reply-To",
	[SIP_HDR_MAX_FORWARDS] = "Max-Forwards",
	[SIP_HDR_MIME_VERSION] = "MIME-Version",
	[SIP_HDR_MIN_EXPIRES] = "Min-Expires",
	[SIP_HDR_ORGANIZATION] = "Organization",
	[SIP_HDR_PRIORITY] = "Priority",
	[SIP_HDR_PROXY_AUTHENTICATE] = "Proxy-Authenticate",
	[SIP_HDR_PROXY_AUTHORIZATION] = "Proxy-Authorization",
	[SIP_HDR_PROXY_REQUIRE] = "Proxy-Require",
	[SIP_HDR_RECORD_ROUTE] = "Record-Route",
	[SIP_HDR_REFER_TO] = "Refer-To",
	[SIP_HDR_REPLY_TO] = "Reply-To",
	[SIP_HDR_REQUIRE] = "Require",
	[SIP_HDR_RETRY_AFTER] = "Retry-After",
	[SIP_HDR_ROUTE] = "Route",
	[SIP_HDR_SERVER] = "Server",
	[SIP_HDR_SIP_ETAG] = "SIP-ETag",
	[SIP_HDR_SIP_IF_MATCH] = "SIP-If-Match",
	[SIP_HDR_SUBJECT] = "Subject",
	[SIP_HDR_SUBSCRIPTION_STATE] = "Subscription-State",
	[SIP_HDR_SUPPORTED] = "Supported",
	[SIP_HDR_TIMESTAMP] = "Timestamp",
	[SIP_HDR_TO] = "To",
	[SIP_HDR_UNSUPPORTED] = "Unsupported",
	[SIP_HDR_USER_AGENT] = "User-Agent",
	[SIP_HDR_VIA] = "Via",
	[SIP_HDR_WARNING] = "Warning",
	[SIP_HDR_WWW_AUTHENTICATE] = "WWW-Authenticate",
};

/*
 * The headers whose grammar is a '#' list (RFC 3261 §25.1, §20):
 * "Name HCOLON elem *(COMMA elem)".  The authentication headers hold
 * comma-separated parameters of one challenge or credential and
 * Authentication-Info one ainfo list: those are not split.
 */
static const bool hdr_list[SIP_HDR_COUNT] = {
	[SIP_HDR_ACCEPT] = true,
	[SIP_HDR_ACCEPT_ENCODING] = true,
	[SIP_HDR_ACCEPT_LANGUAGE] = true,
	[SIP_HDR_ALERT_INFO] = true,
	[SIP_HDR_ALLOW] = true,
	[SIP_HDR_ALLOW_EVENTS] = true,
	[SIP_HDR_CALL_INFO] = true,
	[SIP_HDR_CONTACT] = true,
	[SIP_HDR_CONTENT_ENCODING] = true,
	[SIP_HDR_CONTENT_LANGUAGE] = true,
	[SIP_HDR_ERROR_INFO] = true,
	[SIP_HDR_IN_REPLY_TO] = true,
	[SIP_HDR_PROXY_REQUIRE] = true,
	[SIP_HDR_RECORD_ROUTE] = true,
	[SIP_HDR_REQUIRE] = true,
	[SIP_HDR_ROUTE] = true,
	[SIP_HDR_SUPPORTED] = true,
	[SIP_HDR_UNSUPPORTED] = true,
	[SIP_HDR_VIA] = true,
	[SIP_HDR_WARNING] = true,
};

const char *sip_hdr_name(enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_HDR_COUNT)
		return "";
	return hdr_names[id];
}

bool sip_hdr_is_list(enum sip_hdr_id id)
{
	return (unsigned)id < SIP_HDR_COUNT && hdr_list[id];
}

static enum sip_hdr_id compact_id(char c)
{
	/* RFC 3261 §7.3.3 and the extensions' compact forms. */
	switch (c | 0x20) {
	case 'c':
		return SIP_HDR_CONTENT_TYPE;
	case 'e':
		return SIP_HDR_CONTENT_ENCODING;
	case 'f':
		return SIP_HDR_FROM;
	case 'i':
		return SIP_HDR_CALL_ID;
	case 'k':
		return SIP_HDR_SUPPORTED;
	case 'l':
		return SIP_HDR_CONTENT_LENGTH;
	case 'm':
		return SIP_HDR_CONTACT;
	case 'o':
		return SIP_HDR_EVENT; /* RFC 6665 */
	case 'r':
		return SIP_HDR_REFER_TO; /* RFC 3515 */
	case 's':
		return SIP_HDR_SUBJECT;
	case 't':
		return SIP_HDR_TO;
	case 'u':
		return SIP_HDR_ALLOW_EVENTS; /* RFC 6665 */
	case 'v':
		return SIP_HDR_VIA;
	default:
		return SIP_HDR_OTHER;
	}
}

/*
 * Header names by lower-cased first letter, with their lengths, so that
 * a lookup is a switch on one byte, a length compare and at most a few
 * case-insensitive compares.
 */
struct hname {
	uint8_t len;
	uint8_t id;
};

static const struct hname hdr_by_letter[26][10] = {
	['a' - 'a'] = {{6, SIP_HDR_ACCEPT},
		       {15, SIP_HDR_ACCEPT_ENCODING},
		       {15, SIP_HDR_ACCEPT_LANGUAGE},
		       {10, SIP_HDR_ALERT_INFO},
		       {5, SIP_HDR_ALLOW},
		       {12, SIP_HDR_ALLOW_EVENTS},
		       {19, SIP_HDR_AUTHENTICATION_INFO},
		       {13, SIP_HDR_AUTHORIZATION}},
	['c' - 'a'] = {{7, SIP_HDR_CALL_ID},
		       {9, SIP_HDR_CALL_INFO},
		       {7, SIP_HDR_CONTACT},
		       {19, SIP_HDR_CONTENT_DISPOSITION},
		       {16, SIP_HDR_CONTENT_ENCODING},
		       {16, SIP_HDR_CONTENT_LANGUAGE},
		       {14, SIP_HDR_CONTENT_LENGTH},
		       {12, SIP_HDR_CONTENT_TYPE},
		       {4, SIP_HDR_CSEQ}},
	['d' - 'a'] = {{4, SIP_HDR_DATE}},
	['e' - 'a'] = {{10, SIP_HDR_ERROR_INFO},
		       {5, SIP_HDR_EVENT},
		       {7, SIP_HDR_EXPIRES}},
	['f' - 'a'] = {{4, SIP_HDR_FROM}},
	['i' - 'a'] = {{11, SIP_HDR_IN_REPLY_TO}},
	['m' - 'a'] = {{12, SIP_HDR_MAX_FORWARDS},
		       {12, SIP_HDR_MIME_VERSION},
		       {11, SIP_HDR_MIN_EXPIRES}},
	['o' - 'a'] = {{12, SIP_HDR_ORGANIZATION}},
	['p' - 'a'] = {{8, SIP_HDR_PRIORITY},
		       {18, SIP_HDR_PROXY_AUTHENTICATE},
		       {19, SIP_HDR_PROXY_AUTHORIZATION},
		       {13, SIP_HDR_PROXY_REQUIRE}},
	['r' - 'a'] = {{12, SIP_HDR_RECORD_ROUTE},
		       {8, SIP_HDR_REFER_TO},
		       {8, SIP_HDR_REPLY_TO},
		       {7, SIP_HDR_REQUIRE},
		       {11, SIP_HDR_RETRY_AFTER},
		       {5, SIP_HDR_ROUTE}},
	['s' - 'a'] = {{6, SIP_HDR_SERVER},
		       {8, SIP_HDR_SIP_ETAG},
		       {12, SIP_HDR_SIP_IF_MATCH},
		       {7, SIP_HDR_SUBJECT},
		       {18, SIP_HDR_SUBSCRIPTION_STATE},
		       {9, SIP_HDR_SUPPORTED}},
	['t' - 'a'] = {{9, SIP_HDR_TIMESTAMP}, {2, SIP_HDR_TO}},
	['u' - 'a'] = {{11, SIP_HDR_UNSUPPORTED}, {10, SIP_HDR_USER_AGENT}},
	['v' - 'a'] = {{3, SIP_HDR_VIA}},
	['w' - 'a'] = {{7, SIP_HDR_WARNING}, {16, SIP_HDR_WWW_AUTHENTICATE}},
};

static unsigned char lc(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* the first letter is already known to match */
static bool name_eq(const char *name, const char *p, size_t l)
{
	for (size_t i = 1; i < l; i++)
		if (lc((unsigned char)name[i]) != lc((unsigned char)p[i]))
			return false;
	return true;
}

static enum sip_hdr_id hdr_id(const char *p, size_t l)
{
	const struct hname *hn;
	unsigned c;

	if (l == 1)
		return compact_id(p[0]);
	c = lc((unsigned char)p[0]) - 'a';
	if (l == 0 || c >= 26)
		return SIP_HDR_OTHER;
	for (hn = hdr_by_letter[c]; hn < hdr_by_letter[c] + 10 && hn->len;
	     hn++)
		if (hn->len == l && name_eq(hdr_names[hn->id], p, l))
			return (enum sip_hdr_id)hn->id;
	return SIP_HDR_OTHER;
}

enum sip_hdr_id sip_hdr_id_decode(const struct pl *name)
{
	if (!name || !name->p)
		return SIP_HDR_OTHER;
	return hdr_id(name->p, name->l);
}

static const char *const method_names[SIP_METHOD_COUNT] = {
	[SIP_METHOD_OTHER] = "",
	[SIP_METHOD_INVITE] = "INVITE",
	[SIP_METHOD_ACK] = "ACK",
	[SIP_METHOD_BYE] = "BYE",
	[SIP_METHOD_CANCEL] = "CANCEL",
	[SIP_METHOD_REGISTER] = "REGISTER",
	[SIP_METHOD_OPTIONS] = "OPTIONS",
	[SIP_METHOD_PRACK] = "PRACK",
	[SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE",
	[SIP_METHOD_NOTIFY] = "NOTIFY",
	[SIP_METHOD_PUBLISH] = "PUBLISH",
	[SIP_METHOD_INFO] = "INFO",
	[SIP_METHOD_REFER] = "REFER",
	[SIP_METHOD_MESSAGE] = "MESSAGE",
	[SIP_METHOD_UPDATE] = "UPDATE",
};

const char *sip_method_name(enum sip_method m)
{
	if ((unsigned)m >= SIP_METHOD_COUNT)
		return "";
	return method_names[m];
}

/* Method names are case-sensitive (RFC 3261 §7.1). */
enum sip_method sip_method_decode(const struct pl *name)
{
	int m;

	if (!name || !name->p || name->l < 3 || name->l > 9)
		return SIP_METHOD_OTHER;
	for (m = 1; m < SIP_METHOD_COUNT; m++) {
		const char *n = method_names[m];

		if (n[0] == name->p[0] && strlen(n) == name->l &&
		    memcmp(n, name->p, name->l) == 0)
			return (enum sip_method)m;
	}
	return SIP_METHOD_OTHER;
}

static const char *const tp_names[] = {
	[SIP_TP_NONE] = "",   [SIP_TP_UDP] = "UDP",   [SIP_TP_TCP] = "TCP",
	[SIP_TP_TLS] = "TLS", [SIP_TP_SCTP] = "SCTP", [SIP_TP_OTHER] = "",
};

/* Transport tokens are case-insensitive (RFC 3261 §25.1 ABNF). */
enum sip_transport sip_transport_decode(const struct pl *name)
{
	if (!name || !name->p || name->l == 0)
		return SIP_TP_NONE;
	if (CASEEQ(name, "udp"))
		return SIP_TP_UDP;
	if (CASEEQ(name, "tcp"))
		return SIP_TP_TCP;
	if (CASEEQ(name, "tls"))
		return SIP_TP_TLS;
	if (CASEEQ(name, "sctp"))
		return SIP_TP_SCTP;
	return SIP_TP_OTHER;
}

const char *sip_transport_name(enum sip_transport tp)
{
	if ((unsigned)tp > SIP_TP_OTHER)
		return "";
	return tp_names[tp];
}

/* ---------------------------------------------------------------- */
/* Decoding */

size_t sip_msg_skip_crlf(const char *buf, size_t len)
{
	size_t n = 0;

	while (n < len && (buf[n] == '\r' || buf[n] == '\n'))
		n++;
	return n;
}

/* More bytes could complete it, unless there are already too many. */
static int need_more(size_t len)
{
	return len >= SIP_MSG_MAX_SIZE ? EOVERFLOW : ENODATA;
}

/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT: only the prefix here. */
static bool version_prefix(const char *p, size_t l)
{
	return l >= 4 && strncasecmp(p, "SIP/", 4) == 0;
}

/* RFC 3261 §7.1 Request-Line, §7.2 Status-Line. */
static int decode_start_line(struct sip_msg *m, const char *p, const char *end)
{
	const char *q, *r;

	m->start_line = mkpl(p, end);
	if (version_prefix(p, (size_t)(end - p))) {
		m->is_request = false;
		q = memchr(p, ' ', (size_t)(end - p));
		if (!q)
			return EBADMSG;
		m->version = mkpl(p, q);
		q++;
		if (end - q < 3 || !is_digit(q[0]) || !is_digit(q[1]) ||
		    !is_digit(q[2]))
			return EBADMSG;
		m->status = (uint16_t)((q[0] - '0') * 100 + (q[1] - '0') * 10 +
				       (q[2] - '0'));
		if (m->status < 100 || m->status > 699)
			return EBADMSG;
		q += 3;
		if (q < end && *q != ' ')
			return EBADMSG;
		if (q < end)
			q++;
		m->reason = mkpl(q, end);
		return 0;
	}

	m->is_request = true;
	q = skip_token(p, end);
	if (q == p || q == end || *q != ' ')
		return EBADMSG;
	m->method = mkpl(p, q);
	m->method_id = sip_method_decode(&m->method);

	/*
	 * Liberal on the separators here (RFC 4475 §3.1.2.9, §3.1.2.10):
	 * the version is the last word, the Request-URI what lies between;
	 * sip_msg_validate() answers 400 to extra whitespace.
	 */
	q++;
	while (end > q && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	r = end;
	while (r > q && r[-1] != ' ' && r[-1] != '\t')
		r--;
	if (r == q || !version_prefix(r, (size_t)(end - r)))
		return EBADMSG;
	m->version = mkpl(r, end);
	m->ruri = mkpl(q, r);
	pl_trim(&m->ruri);
	if (m->ruri.l == 0)
		return EBADMSG;
	return 0;
}

struct hdr_state {
	uint16_t last[SIP_HDR_COUNT];
};

static inline int add_hdr(struct sip_msg *m, struct hdr_state *st,
			  enum sip_hdr_id id, const struct pl *name,
			  const struct pl *value, const struct pl *line)
{
	struct sip_hdr *h;
	uint16_t i;

	if (m->nhdrs >= SIP_MSG_MAX_HDRS)
		return EOVERFLOW;
	i = m->nhdrs++;
	h = &m->hdrs[i];
	h->name = *name;
	h->value = *value;
	h->line = *line;
	h->id = id;
	h->next = SIP_HDR_END;
	h->line_index = m->nlines;
	m->count[id]++;
	if (id == SIP_HDR_OTHER)
		return 0;
	if (m->first[id] == SIP_HDR_END)
		m->first[id] = i;
	else
		m->hdrs[st->last[id]].next = i;
	st->last[id] = i;
	return 0;
}

/*
 * Splits a list header's value at the commas outside quoted strings and
 * angle brackets (RFC 3261 §7.3.1); empty elements are dropped, but a
 * header with nothing at all keeps one empty value.
 */
static int split_list(struct sip_msg *m, struct hdr_state *st,
		      enum sip_hdr_id id, const struct pl *name, const char *p,
		      const char *end, const struct pl *line)
{
	const char *start = p, *q;
	bool angle = false, any = false;
	struct pl v;
	int err;

	/* Most list values hold one element: no comma, nothing to split. */
	if (!memchr(p, ',', (size_t)(end - p))) {
		v = mkpl(p, end);
		pl_trim(&v);
		return add_hdr(m, st, id, name, &v, line);
	}
	while (p < end) {
		switch (*p) {
		case '"':
			q = skip_quoted(p, end);
			p = q ? q : end;
			continue;
		case '<':
			angle = true;
			break;
		case '>':
			angle = false;
			break;
		case ',':
			if (angle)
				break;
			v = mkpl(start, p);
			pl_trim(&v);
			if (v.l) {
				err = add_hdr(m, st, id, name, &v, line);
				if (err)
					return err;
				any = true;
			}
			start = p + 1;
			break;
		default:
			break;
		}
		p++;
	}
	v = mkpl(start, end);
	pl_trim(&v);
	if (v.l || !any)
		return add_hdr(m, st, id, name, &v, line);
	return 0;
}

/*
 * Content-Length (RFC 3261 §20.14, §18.3): all values must be equal,
 * well-formed numbers.  Returns 0 (*has set when present) or EBADMSG.
 */
static int content_length(const struct sip_msg *m, bool *has, uint32_t *cl)
{
	uint16_t i;
	uint32_t v, first = 0;
	bool seen = false;

	for (i = m->first[SIP_HDR_CONTENT_LENGTH]; i != SIP_HDR_END;
	     i = m->hdrs[i].next) {
		if (pl_u32(&m->hdrs[i].value, &v))
			return EBADMSG;
		if (seen && v != first)
			return EBADMSG;
		first = v;
		seen = true;
	}
	*has = seen;
	*cl = first;
	return 0;
}

/*
 * After the blank line at p: the Content-Length, the body and the
 * message's length.  Streams are framed by Content-Length alone (§18.3);
 * a datagram without a usable one takes the rest as its body.
 */
static int decode_body(struct sip_msg *m, const char *buf, const char *p,
		       size_t len, bool stream)
{
	const char *end = buf + len;
	size_t hlen, avail;
	bool has_cl = false;
	uint32_t cl = 0;
	int err;

	hlen = (size_t)(p - buf);
	m->headers.l = hlen - (size_t)(m->headers.p - buf);
	avail = len - hlen;

	err = content_length(m, &has_cl, &cl);
	if (err) {
		/* A stream cannot be framed without it (§18.3). */
		if (stream)
			return EBADMSG;
		m->framing_error = EBADMSG;
		has_cl = false;
	}
	m->has_content_length = has_cl;
	m->content_length = cl;

	if (stream) {
		if (cl > SIP_MSG_MAX_SIZE - hlen)
			return EOVERFLOW;
		if (cl > avail)
			return ENODATA;
		m->body = mkpl(p, p + cl);
	} else if (has_cl && cl <= avail) {
		/* Octets after the body are noise (RFC 3261 §18.3). */
		m->body = mkpl(p, p + cl);
	} else {
		if (has_cl)
			m->framing_error = EBADMSG;
		m->body = mkpl(p, end);
	}
	m->len = hlen + m->body.l;
	if (m->len > SIP_MSG_MAX_SIZE)
		return EOVERFLOW;
	return 0;
}

/* Moves *pp past the line at *pp and its continuation lines. */
static int skip_bad_line(const char **pp, const char *end, size_t len)
{
	const char *q = *pp, *nl;

	for (;;) {
		nl = memchr(q, '\n', (size_t)(end - q));
		if (!nl || nl + 1 >= end)
			return need_more(len);
		if (nl[1] != ' ' && nl[1] != '\t')
			break;
		q = nl + 1;
	}
	*pp = nl + 1;
	return 0;
}

static int decode(struct sip_msg *m, struct hdr_state *st, const char *buf,
		  size_t len, bool stream)
{
	const char *p = buf, *end = buf + len, *nl, *q, *ln;
	size_t lim;
	int err;

	memset(m, 0, offsetof(struct sip_msg, hdrs));
	memset(&m->validated, 0,
	       sizeof(*m) - offsetof(struct sip_msg, validated));
	memset(m->first, 0xff, sizeof(m->first));
	m->buf = buf;

	lim = len < SIP_MSG_MAX_START_LINE + 2 ? len
					       : SIP_MSG_MAX_START_LINE + 2;
	nl = memchr(p, '\n', lim);
	if (!nl)
		return len >= SIP_MSG_MAX_START_LINE + 2 ? EOVERFLOW : ENODATA;
	q = nl;
	if (q > p && q[-1] == '\r')
		q--;
	if ((size_t)(q - p) > SIP_MSG_MAX_START_LINE)
		return EOVERFLOW;
	if (q == p)
		return EBADMSG;
	err = decode_start_line(m, p, q);
	if (err)
		return err;
	p = nl + 1;
	m->headers.p = p;

	/* RFC 3261 §7.3.1: a line starting with SP or HTAB continues. */
	for (;;) {
		struct pl name, line;
		enum sip_hdr_id id;
		const char *vstart;

		if (p >= end)
			return need_more(len);
		if (*p == '\n') {
			p++;
			break;
		}
		if (*p == '\r') {
			if (p + 1 >= end)
				return need_more(len);
			if (p[1] != '\n')
				return EBADMSG;
			p += 2;
			break;
		}
		ln = p;
		q = skip_token(p, end);
		if (q == end)
			return need_more(len);
		name = mkpl(p, q);
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (q == end)
			return need_more(len);
		if (q == ln || *q != ':') {
			/* §7.3: not a header.  A request is still worth a
			 * 400 (RFC 4475 §3.1.2.x): skip the line and its
			 * continuations, remember it. */
			if (!m->is_request)
				return EBADMSG;
			err = skip_bad_line(&p, end, len);
			if (err)
				return err;
			m->bad_line = true;
			continue;
		}
		vstart = ++q;
		for (;;) {
			nl = memchr(q, '\n', (size_t)(end - q));
			if (!nl || nl + 1 >= end)
				return need_more(len);
			if (nl[1] != ' ' && nl[1] != '\t')
				break;
			q = nl + 1;
		}
		line = mkpl(ln, nl + 1);
		id = hdr_id(name.p, name.l);
		if (hdr_list[id]) {
			err = split_list(m, st, id, &name, vstart, nl, &line);
		} else {
			struct pl v = mkpl(vstart, nl);

			pl_trim(&v);
			err = add_hdr(m, st, id, &name, &v, &line);
		}
		if (err)
			return err;
		if (m->nlines == UINT16_MAX)
			return EOVERFLOW;
		m->nlines++;
		p = nl + 1;
		if ((size_t)(p - buf) > SIP_MSG_MAX_SIZE)
			return EOVERFLOW;
	}
	return decode_body(m, buf, p, len, stream);
}

int sip_msg_decode(struct sip_msg *msg, const char *buf, size_t len,
		   bool stream)
{
	struct sip_msg m;
	struct hdr_state st;
	int err;

	if (!msg || (!buf && len))
		return EINVAL;
	if (len == 0)
		return ENODATA;
	err = decode(&m, &st, buf, len, stream);
	if (err)
		return err;
	/* *msg is written only on success (and for an answerable bad
	 * request), and only the used part. */
	memcpy(msg, &m, offsetof(struct sip_msg, hdrs));
	memcpy(msg->hdrs, m.hdrs, m.nhdrs * sizeof(m.hdrs[0]));
	memcpy(&msg->validated, &m.validated,
	       sizeof(*msg) - offsetof(struct sip_msg, validated));
	return m.bad_line ? EBADMSG : 0;
}

/* ---------------------------------------------------------------- */
/* Header lookup */

const struct sip_hdr *sip_msg_hdr(const struct sip_msg *msg,
				  enum sip_hdr_id id)
{
	uint16_t i;

	if (!msg || (unsigned)id >= SIP_HDR_COUNT || id == SIP_HDR_OTHER)
		return NULL;
	i = msg->first[id];
	return i == SIP_HDR_END || i >= msg->nhdrs ? NULL : &msg->hdrs[i];
}

const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg,
				       const struct sip_hdr *h)
{
	if (!msg || !h || h->next == SIP_HDR_END || h->next >= msg->nhdrs)
		return NULL;
	return &msg->hdrs[h->next];
}

const struct sip_hdr *sip_msg_hdr_by_name(const struct sip_msg *msg,
					  const char *name)
{
	enum sip_hdr_id id;
	size_t n;
	uint16_t i;

	if (!msg || !name)
		return NULL;
	n = strlen(name);
	id = hdr_id(name, n);
	if (id != SIP_HDR_OTHER)
		return sip_msg_hdr(msg, id);
	for (i = 0; i < msg->nhdrs; i++) {
		const struct sip_hdr *h = &msg->hdrs[i];

		if (h->id == SIP_HDR_OTHER && pl_caseeq_str(&h->name, name))
			return h;
	}
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Parameters: *(SEMI generic-param), RFC 3261 §25.1 */

struct param {
	struct pl name;
	struct pl value; /* empty without "=" */
	bool has_value;
};

/*
 * Reads the param at *pp (LWS and one ';' before it allowed when
 * semi_opt, required otherwise).  Returns 0, ENOENT at the end, or
 * EBADMSG.
 */
static int param_next(const char **pp, const char *end, struct param *prm,
		      bool semi_opt)
{
	const char *p = skip_lws(*pp, end), *q;

	if (p == end)
		return ENOENT;
	if (*p == ';')
		p = skip_lws(p + 1, end);
	else if (!semi_opt)
		return EBADMSG;
	q = skip_token(p, end);
	if (q == p)
		return EBADMSG;
	prm->name = mkpl(p, q);
	prm->value = mkpl(q, q);
	prm->has_value = false;
	p = skip_lws(q, end);
	if (p < end && *p == '=') {
		p = skip_lws(p + 1, end);
		if (p < end && *p == '"') {
			q = skip_quoted(p, end);
			if (!q)
				return EBADMSG;
		} else {
			/* token / host (IPv6 reference included) */
			q = p;
			while (q < end && (IS(*q, C_TOKEN) || *q == '[' ||
					   *q == ']' || *q == ':'))
				q++;
		}
		if (q == p)
			return EBADMSG;
		prm->value = mkpl(p, q);
		prm->has_value = true;
		p = q;
	}
	p = skip_lws(p, end);
	if (p < end && *p != ';')
		return EBADMSG;
	*pp = p;
	return 0;
}

/* 0 when every param of [p, end) is well-formed, else EBADMSG. */
static int params_check(const char *p, const char *end)
{
	struct param prm;
	int err;

	while ((err = param_next(&p, end, &prm, false)) == 0)
		;
	return err == ENOENT ? 0 : err;
}

int sip_param_get(const struct pl *params, const char *name, struct pl *value)
{
	const char *p, *end;
	struct param prm;
	bool first = true;

	if (!params || !params->p || !name)
		return ENOENT;
	p = params->p;
	end = p + params->l;
	while (param_next(&p, end, &prm, first) == 0) {
		first = false;
		if (pl_caseeq_str(&prm.name, name)) {
			if (value)
				*value = prm.value;
			return 0;
		}
	}
	return ENOENT;
}

bool sip_param_exists(const struct pl *params, const char *name)
{
	return sip_param_get(params, name, NULL) == 0;
}

/* ---------------------------------------------------------------- */
/* Via (RFC 3261 §20.42, §25.1 via-parm) */

static const char *skip_host(const char *p, const char *end, bool *v6)
{
	const char *q;

	*v6 = false;
	if (p < end && *p == '[') {
		q = memchr(p, ']', (size_t)(end - p));
		if (!q || q == p + 1)
			return NULL;
		for (const char *r = p + 1; r < q; r++)
			if (!(is_digit(*r) || (*r >= 'a' && *r <= 'f') ||
			      (*r >= 'A' && *r <= 'F') || *r == ':' ||
			      *r == '.'))
				return NULL;
		*v6 = true;
		return q + 1;
	}
	while (p < end && IS(*p, C_HOST))
		p++;
	return p;
}

/* port = 1*DIGIT, 1..65535 here.  Returns the end or NULL. */
static const char *port_decode(const char *p, const char *end, uint16_t *out)
{
	uint32_t v = 0;
	const char *s = p;

	while (p < end && is_digit(*p)) {
		v = v * 10 + (uint32_t)(*p - '0');
		if (v > 65535)
			return NULL;
		p++;
	}
	if (p == s || v == 0)
		return NULL;
	*out = (uint16_t)v;
	return p;
}

int sip_via_decode(struct sip_via *via, const struct pl *value)
{
	struct sip_via v;
	const char *p, *end, *q;
	struct pl proto, ver;
	struct param prm;
	bool v6;
	int err;

	if (!via || !value || !value->p)
		return EBADMSG;
	memset(&v, 0, sizeof(v));
	p = value->p;
	end = p + value->l;
	p = skip_lws(p, end);
	while (end > p && IS(end[-1], C_LWS))
		end--;
	v.value = mkpl(p, end);

	/* sent-protocol = protocol-name SLASH protocol-version SLASH
	 * transport, SLASH = SWS "/" SWS */
	q = skip_token(p, end);
	if (q == p)
		return EBADMSG;
	proto = mkpl(p, q);
	p = skip_lws(q, end);
	if (p == end || *p != '/')
		return EBADMSG;
	p = skip_lws(p + 1, end);
	q = skip_token(p, end);
	if (q == p)
		return EBADMSG;
	ver = mkpl(p, q);
	p = skip_lws(q, end);
	if (p == end || *p != '/')
		return EBADMSG;
	p = skip_lws(p + 1, end);
	q = skip_token(p, end);
	if (q == p)
		return EBADMSG;
	v.transport = mkpl(p, q);
	v.tp = sip_transport_decode(&v.transport);
	(void)proto;
	(void)ver;

	/* LWS sent-by */
	p = q;
	if (p == end || !IS(*p, C_LWS))
		return EBADMSG;
	p = skip_lws(p, end);
	q = skip_host(p, end, &v6);
	if (!q || q == p)
		return EBADMSG;
	v.host_is_ipv6 = v6;
	v.host = v6 ? mkpl(p + 1, q - 1) : mkpl(p, q);
	p = skip_lws(q, end);
	if (p < end && *p == ':') {
		p = skip_lws(p + 1, end);
		p = port_decode(p, end, &v.port);
		if (!p)
			return EBADMSG;
		p = skip_lws(p, end);
	}
	if (p < end && *p != ';')
		return EBADMSG;
	v.params = mkpl(p, end);

	while ((err = param_next(&p, end, &prm, false)) == 0) {
		const struct pl *n = &prm.name;

		if (CASEEQ(n, "branch")) {
			if (!prm.has_value)
				return EBADMSG;
			v.branch = prm.value;
		} else if (CASEEQ(n, "received")) {
			if (!prm.has_value)
				return EBADMSG;
			v.received = prm.value;
		} else if (CASEEQ(n, "maddr")) {
			if (!prm.has_value)
				return EBADMSG;
			v.maddr = prm.value;
		} else if (CASEEQ(n, "ttl")) {
			uint32_t ttl;

			/* ttl = 1*3DIGIT ; 0 to 255 */
			if (pl_u32(&prm.value, &ttl) || ttl > 255)
				return EBADMSG;
			v.ttl = prm.value;
		} else if (CASEEQ(n, "rport")) {
			/* RFC 3581: rport with or without a port */
			v.has_rport = true;
			v.rport = 0;
			if (prm.has_value) {
				q = port_decode(prm.value.p,
						prm.value.p + prm.value.l,
						&v.rport);
				if (q != prm.value.p + prm.value.l)
					return EBADMSG;
			}
		}
	}
	if (err != ENOENT)
		return EBADMSG;
	*via = v;
	return 0;
}

/* ---------------------------------------------------------------- */
/* CSeq (RFC 3261 §20.16): 1*DIGIT LWS Method, number < 2^31 */

int sip_cseq_decode(struct sip_cseq *cseq, const struct pl *value)
{
	const char *p, *end, *q;
	uint64_t n = 0;
	struct pl method;

	if (!cseq || !value || !value->p)
		return EBADMSG;
	p = skip_lws(value->p, value->p + value->l);
	end = value->p + value->l;
	while (end > p && IS(end[-1], C_LWS))
		end--;
	q = p;
	while (q < end && is_digit(*q)) {
		n = n * 10 + (uint64_t)(*q - '0');
		if (n > 0x7fffffffu) {
			/* Still junk if what follows is not a number. */
			while (q < end && is_digit(*q))
				q++;
			if (q == end || !IS(*q, C_LWS))
				return EBADMSG;
			return EOVERFLOW;
		}
		q++;
	}
	if (q == p || q == end || !IS(*q, C_LWS))
		return EBADMSG;
	p = skip_lws(q, end);
	q = skip_token(p, end);
	if (q == p || q != end)
		return EBADMSG;
	method = mkpl(p, q);
	cseq->num = (uint32_t)n;
	cseq->method = method;
	cseq->method_id = sip_method_decode(&method);
	return 0;
}

/* ---------------------------------------------------------------- */
/* name-addr / addr-spec (RFC 3261 §20.10, §25.1) */

/* scheme ":" with scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static bool has_scheme(const char *p, const char *end)
{
	if (p == end || !is_alpha(*p))
		return false;
	for (p++; p < end && IS(*p, C_SCHEME); p++)
		;
	return p < end && *p == ':';
}

int sip_addr_decode(struct sip_addr *addr, const struct pl *value)
{
	struct sip_addr a;
	const char *p, *end, *q, *u;
	struct pl tag;

	if (!addr || !value || !value->p)
		return EBADMSG;
	memset(&a, 0, sizeof(a));
	p = skip_lws(value->p, value->p + value->l);
	end = value->p + value->l;
	while (end > p && IS(end[-1], C_LWS))
		end--;
	if (p == end)
		return EBADMSG;

	/* Contact: "*" (§20.10) */
	if (end - p == 1 && *p == '*') {
		a.star = true;
		a.uri = mkpl(p, end);
		a.params = mkpl(end, end);
		a.tag = mkpl(end, end);
		*addr = a;
		return 0;
	}

	if (*p == '"') {
		q = skip_quoted(p, end);
		if (!q)
			return EBADMSG;
		a.dname = mkpl(p, q);
		q = skip_lws(q, end);
		if (q == end || *q != '<')
			return EBADMSG;
		a.angle = true;
	} else {
		/* display-name = *(token LWS): up to '<' if it comes
		 * before any ';' (an addr-spec's params start there). */
		for (q = p; q < end && *q != '<' && *q != ';'; q++)
			;
		if (q < end && *q == '<') {
			for (u = p; u < q; u++)
				if (!IS(*u, C_TOKEN | C_LWS))
					return EBADMSG;
			a.dname = mkpl(p, q);
			pl_trim(&a.dname);
			a.angle = true;
		}
	}

	if (a.angle) {
		u = q + 1;
		q = memchr(u, '>', (size_t)(end - u));
		if (!q)
			return EBADMSG;
		a.uri = mkpl(u, q);
		p = skip_lws(q + 1, end);
	} else {
		/* addr-spec: the params after the URI are the header's
		 * (§20.10); a URI with ',', '?' or ';' needs <>. */
		u = p;
		q = memchr(u, ';', (size_t)(end - u));
		if (!q)
			q = end;
		a.uri = mkpl(u, q);
		pl_trim(&a.uri);
		if (pl_chr(&a.uri, '?') || pl_chr(&a.uri, ','))
			return EBADMSG;
		p = q;
	}
	if (a.uri.l == 0)
		return EBADMSG;
	for (u = a.uri.p; u < a.uri.p + a.uri.l; u++)
		if (IS(*u, C_LWS))
			return EBADMSG;
	if (!has_scheme(a.uri.p, a.uri.p + a.uri.l))
		return EBADMSG;
	if (p < end && *p != ';')
		return EBADMSG;
	if (params_check(p, end))
		return EBADMSG;
	a.params = mkpl(p, end);
	if (sip_param_get(&a.params, "tag", &tag) == 0)
		a.tag = tag;
	else
		a.tag = mkpl(end, end);
	*addr = a;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Validation */

/* exactly one value of a single-valued header */
static const struct sip_hdr *single(const struct sip_msg *m,
				    enum sip_hdr_id id)
{
	if (m->count[id] != 1)
		return NULL;
	return sip_msg_hdr(m, id);
}

/* callid = word [ "@" word ] (RFC 3261 §25.1) */
static bool callid_ok(const struct pl *v)
{
	size_t i, at = 0;

	if (v->l == 0)
		return false;
	for (i = 0; i < v->l; i++) {
		char c = v->p[i];

		if (c == '@') {
			if (++at > 1 || i == 0 || i + 1 == v->l)
				return false;
		} else if (!IS(c, C_WORD)) {
			return false;
		}
	}
	return true;
}

/* "SIP/2.0"; 1 when well-formed but another version, -1 when junk. */
static int version_check(const struct pl *v)
{
	size_t i = 4, d1 = 0, d2 = 0;

	if (!version_prefix(v->p, v->l))
		return -1;
	while (i < v->l && is_digit(v->p[i]))
		i++, d1++;
	if (i == v->l || v->p[i] != '.')
		return -1;
	for (i++; i < v->l && is_digit(v->p[i]); i++)
		d2++;
	if (i != v->l || !d1 || !d2)
		return -1;
	return v->l == 7 && memcmp(v->p + 4, "2.0", 3) == 0 ? 0 : 1;
}

static int check_ruri(const struct sip_msg *m, uint16_t *st, const char **why)
{
	const struct pl *r = &m->ruri;
	struct sip_uri uri;
	size_t i;

	/* Request-Line = Method SP Request-URI SP SIP-Version CRLF (§7.1):
	 * exactly one SP each, nothing after the version. */
	if (m->start_line.l != m->method.l + 1 + r->l + 1 + m->version.l) {
		*st = 400;
		*why = "Malformed Request-Line";
		return EBADMSG;
	}
	for (i = 0; i < r->l; i++) {
		if (IS(r->p[i], C_LWS) || r->p[i] == '<' || r->p[i] == '>') {
			*st = 400;
			*why = "Malformed Request-URI";
			return EBADMSG;
		}
	}
	if (!has_scheme(r->p, r->p + r->l)) {
		*st = 400;
		*why = "Malformed Request-URI";
		return EBADMSG;
	}
	if (sip_uri_decode(&uri, r)) {
		*st = 400;
		*why = "Malformed Request-URI";
		return EBADMSG;
	}
	/* §8.2.2.1 */
	if (uri.scheme_id == SIP_URI_OTHER) {
		*st = 416;
		*why = "Unsupported URI Scheme";
		return EBADMSG;
	}
	/* §19.1.1 table: no headers in a Request-URI */
	if (uri.headers.l) {
		*st = 400;
		*why = "Headers in Request-URI";
		return EBADMSG;
	}
	return 0;
}

int sip_msg_validate(struct sip_msg *msg, uint16_t *status, const char **why)
{
	const struct sip_hdr *h;
	struct sip_via via;
	struct sip_cseq cseq;
	struct sip_addr from, to, ct;
	uint32_t mf = 0;
	uint16_t st = 0;
	const char *w = NULL;
	int vc, err;

	if (!msg)
		return EINVAL;
	if (msg->validated)
		return 0;
#define BAD(s, t)          \
	do {               \
		st = (s);  \
		w = (t);   \
		goto fail; \
	} while (0)

	vc = version_check(&msg->version);
	if (vc > 0)
		BAD(505, "Version Not Supported");
	if (vc < 0)
		BAD(400, "Malformed SIP-Version");
	if (msg->is_request) {
		err = check_ruri(msg, &st, &w);
		if (err)
			goto fail;
	}
	if (msg->framing_error)
		BAD(400, "Bad Content-Length");
	if (msg->bad_line)
		BAD(400, "Header Line Without Colon");

	h = sip_msg_hdr(msg, SIP_HDR_VIA);
	if (!h)
		BAD(400, "Missing Via");
	if (sip_via_decode(&via, &h->value))
		BAD(400, "Malformed Via");
	/* sent-protocol of §20.42: SIP/2.0 */
	{
		const char *p = via.value.p, *end = p + via.value.l;
		const char *q = skip_token(p, end);

		if (q - p != 3 || strncasecmp(p, "SIP", 3))
			BAD(400, "Malformed Via");
		p = skip_lws(skip_lws(q, end) + 1, end);
		q = skip_token(p, end);
		if (q - p != 3 || memcmp(p, "2.0", 3))
			BAD(400, "Via version not SIP/2.0");
	}

	if (msg->count[SIP_HDR_CALL_ID] != 1)
		BAD(400, msg->count[SIP_HDR_CALL_ID] ? "Multiple Call-ID"
						     : "Missing Call-ID");
	h = single(msg, SIP_HDR_CALL_ID);
	if (!h || !callid_ok(&h->value))
		BAD(400, "Malformed Call-ID");

	h = single(msg, SIP_HDR_CSEQ);
	if (!h)
		BAD(400, msg->count[SIP_HDR_CSEQ] ? "Multiple CSeq"
						  : "Missing CSeq");
	if (sip_cseq_decode(&cseq, &h->value))
		BAD(400, "Malformed CSeq");
	/* §8.2 / §20.16: the CSeq method matches the request's */
	if (msg->is_request && !pl_eq(&cseq.method, &msg->method))
		BAD(400, "CSeq method does not match");

	h = single(msg, SIP_HDR_FROM);
	if (!h)
		BAD(400, msg->count[SIP_HDR_FROM] ? "Multiple From"
						  : "Missing From");
	if (sip_addr_decode(&from, &h->value) || from.star)
		BAD(400, "Malformed From");
	h = single(msg, SIP_HDR_TO);
	if (!h)
		BAD(400,
		    msg->count[SIP_HDR_TO] ? "Multiple To" : "Missing To");
	if (sip_addr_decode(&to, &h->value) || to.star)
		BAD(400, "Malformed To");

	if (msg->count[SIP_HDR_MAX_FORWARDS] > 1)
		BAD(400, "Multiple Max-Forwards");
	h = sip_msg_hdr(msg, SIP_HDR_MAX_FORWARDS);
	if (h && (pl_u32(&h->value, &mf) || mf > 255))
		BAD(400, "Malformed Max-Forwards");

	for (h = sip_msg_hdr(msg, SIP_HDR_CONTACT); h;
	     h = sip_msg_hdr_next(msg, h))
		if (sip_addr_decode(&ct, &h->value))
			BAD(400, "Malformed Contact");

	msg->via = via;
	msg->call_id = sip_msg_hdr(msg, SIP_HDR_CALL_ID)->value;
	msg->cseq = cseq;
	msg->from_tag = from.tag;
	msg->to_tag = to.tag;
	msg->has_max_forwards = sip_msg_hdr(msg, SIP_HDR_MAX_FORWARDS);
	msg->max_forwards = mf;
	msg->validated = true;
	return 0;

fail:
	if (status)
		*status = msg->is_request ? st : 0;
	if (why)
		*why = w;
	return EBADMSG;
}
