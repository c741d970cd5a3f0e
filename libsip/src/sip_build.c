#include "sip_build.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"

bool sip_branch_has_cookie(const struct pl *branch)
{
	return branch->l >= 7 && memcmp(branch->p, SIP_BRANCH_COOKIE, 7) == 0;
}

static const struct {
	uint16_t status;
	const char *reason;
} reasons[] = {
	{100, "Trying"},
	{180, "Ringing"},
	{181, "Call Is Being Forwarded"},
	{182, "Queued"},
	{183, "Session Progress"},
	{200, "OK"},
	{202, "Accepted"},
	{301, "Moved Permanently"},
	{302, "Moved Temporarily"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{407, "Proxy Authentication Required"},
	{408, "Request Timeout"},
	{413, "Request Entity Too Large"},
	{414, "Request-URI Too Long"},
	{415, "Unsupported Media Type"},
	{416, "Unsupported URI Scheme"},
	{420, "Bad Extension"},
	{423, "Interval Too Brief"},
	{480, "Temporarily Unavailable"},
	{481, "Call/Transaction Does Not Exist"},
	{482, "Loop Detected"},
	{483, "Too Many Hops"},
	{486, "Busy Here"},
	{487, "Request Terminated"},
	{488, "Not Acceptable Here"},
	{500, "Server Internal Error"},
	{501, "Not Implemented"},
	{502, "Bad Gateway"},
	{503, "Service Unavailable"},
	{504, "Server Time-out"},
	{505, "Version Not Supported"},
	{513, "Message Too Large"},
	{600, "Busy Everywhere"},
	{603, "Decline"},
	{604, "Does Not Exist Anywhere"},
	{606, "Not Acceptable"},
};

const char *sip_reason(uint16_t status)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (reasons[i].status == status)
			return reasons[i].reason;
	}
	if (status < 200)
		return "Session Progress";
	if (status < 300)
		return "OK";
	if (status < 400)
		return "Redirected";
	if (status < 500)
		return "Client Error";
	if (status < 600)
		return "Server Error";
	return "Global Failure";
}

/* ------------------------------------------------------------------ */
/* Identifiers                                                         */

static __thread uint64_t id_seed;
static __thread uint64_t id_ctr;
static __thread bool id_seeded;

static uint64_t id_next(void)
{
	if (!id_seeded) {
		uint64_t s = 0;
		struct timespec ts;

		if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s)) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
		}
		/* The thread id keeps two threads seeded alike apart. */
		id_seed = s ^ ((uint64_t)gettid() << 40);
		id_seeded = true;
	}
	/* splitmix64's finaliser is a bijection: distinct counters give
	 * distinct values within a thread. */
	return hash_mix64(id_seed + id_ctr++);
}

static void hex16(char *out, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--) {
		out[i] = hex[v & 0xf];
		v >>= 4;
	}
}

void sip_build_branch(char out[SIP_BRANCH_SIZE])
{
	memcpy(out, SIP_BRANCH_COOKIE, 7);
	hex16(out + 7, id_next());
	out[23] = '\0';
}

void sip_build_tag(char out[SIP_TAG_SIZE])
{
	hex16(out, id_next());
	out[16] = '\0';
}

int sip_build_call_id(char *out, size_t size, const char *host)
{
	size_t hl = host ? strlen(host) : 0;
	size_t need = 16 + (hl ? 1 + hl : 0) + 1;

	if (size < need)
		return EOVERFLOW;
	hex16(out, id_next());
	if (hl) {
		out[16] = '@';
		memcpy(out + 17, host, hl);
	}
	out[need - 1] = '\0';
	return 0;
}

/* One field into the keyed hash, with a separator, so that ("ab","c")
 * and ("a","bc") differ. */
static void sip_add_pl(struct hash_sip *h, const struct pl *pl)
{
	static const unsigned char sep = 0xff;

	hash_sip_add(h, pl->p, pl->l);
	hash_sip_add(h, &sep, 1);
}

int sip_build_branch_stateless(char out[SIP_BRANCH_SIZE],
			       const struct sip_msg *msg, uint64_t secret)
{
	/* Keyed (SipHash) with the proxy's secret: peers choose the
	 * branches and Call-IDs that go in. */
	struct hash_key key = {hash_mix64(secret),
			       hash_mix64(secret ^ 0x9e3779b97f4a7c15ull)};
	struct hash_sip h;
	const struct sip_hdr *via;
	uint32_t num;

	if (!msg->validated || !msg->is_request)
		return EINVAL;
	hash_sip_init(&h, &key);
	if (sip_branch_has_cookie(&msg->via.branch)) {
		/* §16.11, §17.2.3: branch and sent-by identify the
		 * transaction; INVITE, its CANCEL and its non-2xx ACK
		 * share them. */
		sip_add_pl(&h, &msg->via.branch);
		sip_add_pl(&h, &msg->via.host);
		num = msg->via.port;
		hash_sip_add(&h, &num, sizeof(num));
	} else {
		/* §16.11 for RFC 2543 peers: the fields of the request
		 * that stay the same across retransmissions.  The CSeq
		 * method is left out so that a CANCEL matches. */
		via = sip_msg_hdr(msg, SIP_HDR_VIA);
		sip_add_pl(&h, &msg->ruri);
		sip_add_pl(&h, &msg->to_tag);
		sip_add_pl(&h, &msg->from_tag);
		sip_add_pl(&h, &msg->call_id);
		num = msg->cseq.num;
		hash_sip_add(&h, &num, sizeof(num));
		if (via)
			sip_add_pl(&h, &via->value);
	}
	memcpy(out, SIP_BRANCH_COOKIE, 7);
	hex16(out + 7, hash_sip_end(&h));
	out[23] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* Whole messages                                                      */

/* The line without its final CRLF (or bare LF). */
static struct pl line_body(const struct pl *line)
{
	struct pl l = *line;

	while (l.l && (l.p[l.l - 1] == '\n' || l.p[l.l - 1] == '\r'))
		l.l--;
	return l;
}

static int append_line(struct buf *b, const struct pl *line)
{
	struct pl l = line_body(line);
	int err;

	err = buf_append_pl(b, &l);
	if (err)
		return err;
	return buf_append(b, "\r\n", 2);
}

/* Appends every line that holds a value of id, each once, in order. */
static int append_lines(struct buf *b, const struct sip_msg *m,
			enum sip_hdr_id id)
{
	const struct sip_hdr *h;
	int last = -1;
	int err;

	for (h = sip_msg_hdr(m, id); h; h = sip_msg_hdr_next(m, h)) {
		if ((int)h->line_index == last)
			continue;
		last = h->line_index;
		err = append_line(b, &h->line);
		if (err)
			return err;
	}
	return 0;
}

/* Appends the first line of id, if any. */
static int append_first_line(struct buf *b, const struct sip_msg *m,
			     enum sip_hdr_id id)
{
	const struct sip_hdr *h = sip_msg_hdr(m, id);

	return h ? append_line(b, &h->line) : 0;
}

static bool to_has_tag(const struct sip_msg *req, const struct sip_hdr *to)
{
	struct sip_addr a;

	if (req->validated)
		return pl_isset(&req->to_tag);
	/* Not validated: a To we cannot parse is left as it is. */
	if (sip_addr_decode(&a, &to->value))
		return true;
	return pl_isset(&a.tag);
}

static int append_to(struct buf *b, const struct sip_msg *req, uint16_t status,
		     const struct pl *tag)
{
	const struct sip_hdr *to = sip_msg_hdr(req, SIP_HDR_TO);
	struct pl line, head, tail, fresh;
	char own[SIP_TAG_SIZE];
	size_t cut;
	int err;

	if (!to)
		return 0;
	if (status == 100 || to_has_tag(req, to))
		return append_line(b, &to->line);
	/* §8.2.6.2: a UAS MUST add a tag to a response > 100 whose request
	 * had none; a caller that passes none still gets one (the
	 * registrar's 200 to REGISTER missed it). */
	if (!tag || !pl_isset(tag)) {
		sip_build_tag(own);
		pl_set_str(&fresh, own);
		tag = &fresh;
	}
	/* §8.2.6.2: the tag goes after the value, inside the line. */
	line = line_body(&to->line);
	cut = (size_t)(to->value.p + to->value.l - line.p);
	if (cut > line.l)
		cut = line.l;
	head.p = line.p;
	head.l = cut;
	tail.p = line.p + cut;
	tail.l = line.l - cut;
	err = buf_append_pl(b, &head);
	if (err)
		return err;
	err = buf_append(b, ";tag=", 5);
	if (!err)
		err = buf_append_pl(b, tag);
	if (err)
		return err;
	err = buf_append_pl(b, &tail);
	if (err)
		return err;
	return buf_append(b, "\r\n", 2);
}

/* Appends the views in order: one reservation, then copies (the
 * builders of every request and response: no printf on this path). */
static int append_all(struct buf *b, const struct pl *v, size_t n)
{
	size_t total = 0, i;
	int err;

	for (i = 0; i < n; i++)
		total += v[i].l;
	err = buf_reserve(b, total);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		if (!v[i].l)
			continue;
		memcpy(b->data + b->len, v[i].p, v[i].l);
		b->len += v[i].l;
	}
	return 0;
}

#define U64_DIGITS 20

/* v in decimal, in d (no NUL). */
static struct pl dec_pl(char d[U64_DIGITS], uint64_t v)
{
	struct pl pl;
	size_t i = U64_DIGITS;

	do {
		d[--i] = (char)('0' + v % 10u);
		v /= 10u;
	} while (v);
	pl.p = d + i;
	pl.l = U64_DIGITS - i;
	return pl;
}

static int append_body(struct buf *b, const struct pl *ctype,
		       const struct pl *body)
{
	static const struct pl none = PL_INIT, ct = PL("Content-Type: "),
			       crlf = PL("\r\n"), cl = PL("Content-Length: "),
			       end = PL("\r\n\r\n");
	bool has = body && body->l;
	char d[U64_DIGITS];
	struct pl v[] = {
		has ? ct : none,
		has ? *ctype : none,
		has ? crlf : none,
		cl,
		dec_pl(d, body ? body->l : 0),
		end,
		has ? *body : none,
	};

	return append_all(b, v, sizeof(v) / sizeof(v[0]));
}

int sip_build_response(struct buf *out, const struct sip_msg *req,
		       uint16_t status, const char *reason,
		       const struct sip_build_resp_opts *opts)
{
	static const struct sip_build_resp_opts none;
	size_t start = out->len;
	int err;

	if (!opts)
		opts = &none;
	if (!req->is_request || status < 100 || status > 699)
		return EINVAL;
	if (opts->body.l && !opts->ctype.l)
		return EINVAL;

	err = buf_append(out, "SIP/2.0 ", 8);
	if (!err)
		err = buf_append_u64(out, status);
	if (!err)
		err = buf_append(out, " ", 1);
	if (!err)
		err = buf_append_str(out,
				     reason ? reason : sip_reason(status));
	if (!err)
		err = buf_append(out, "\r\n", 2);
	if (err)
		goto out;
	/* §8.2.6.2: Via values in the same order; copying whole lines
	 * keeps several values per line as they were. */
	err = append_lines(out, req, SIP_HDR_VIA);
	if (err)
		goto out;
	if (opts->copy_record_route) {
		err = append_lines(out, req, SIP_HDR_RECORD_ROUTE);
		if (err)
			goto out;
	}
	err = append_first_line(out, req, SIP_HDR_FROM);
	if (err)
		goto out;
	err = append_to(out, req, status, &opts->to_tag);
	if (err)
		goto out;
	err = append_first_line(out, req, SIP_HDR_CALL_ID);
	if (err)
		goto out;
	err = append_first_line(out, req, SIP_HDR_CSEQ);
	if (err)
		goto out;
	err = buf_append_pl(out, &opts->hdrs);
	if (err)
		goto out;
	err = append_body(out, &opts->ctype, &opts->body);
out:
	if (err)
		out->len = start;
	return err;
}

/* The start line and the headers every request has (§8.1.1). */
static int append_request_head(struct buf *out, const struct sip_build_req *r)
{
	static const struct pl none = PL_INIT, crlf = PL("\r\n"),
			       tag = PL(";tag="), route = PL("Route: "),
			       contact = PL("Contact: ");
	char mf[U64_DIGITS], cs[U64_DIGITS];
	struct pl v[] = {
		r->method,
		PL(" "),
		r->ruri,
		PL(" SIP/2.0\r\nVia: "),
		r->via,
		PL("\r\nMax-Forwards: "),
		dec_pl(mf, r->max_fwd ? r->max_fwd : SIP_MAX_FORWARDS),
		PL("\r\nFrom: "),
		r->from,
		tag,
		r->from_tag,
		PL("\r\nTo: "),
		r->to,
		r->to_tag.l ? tag : none,
		r->to_tag,
		PL("\r\nCall-ID: "),
		r->call_id,
		PL("\r\nCSeq: "),
		dec_pl(cs, r->cseq),
		PL(" "),
		r->method,
		crlf,
		r->route.l ? route : none,
		r->route,
		r->route.l ? crlf : none,
		r->contact.l ? contact : none,
		r->contact,
		r->contact.l ? crlf : none,
	};

	return append_all(out, v, sizeof(v) / sizeof(v[0]));
}

int sip_build_request(struct buf *out, const struct sip_build_req *r)
{
	size_t start = out->len;
	int err;

	if (!r->method.l || !r->ruri.l || !r->via.l || !r->from.l ||
	    !r->from_tag.l || !r->to.l || !r->call_id.l ||
	    r->cseq > INT32_MAX || (r->body.l && !r->ctype.l))
		return EINVAL;

	err = append_request_head(out, r);
	if (err)
		goto out;
	err = buf_append_pl(out, &r->hdrs);
	if (err)
		goto out;
	err = append_body(out, &r->ctype, &r->body);
out:
	if (err)
		out->len = start;
	return err;
}

/* ACK and CANCEL share their shape (§9.1, §17.1.1.3). */
static int build_ack_cancel(struct buf *out, const struct sip_msg *req,
			    const struct sip_msg *resp, const char *method)
{
	const struct sip_hdr *via = sip_msg_hdr(req, SIP_HDR_VIA);
	size_t start = out->len;
	int err;

	if (!via)
		return EINVAL;
	/* §17.1.1.3: only the top Via of the original request. */
	err = buf_printf(out, "%s %.*s SIP/2.0\r\nVia: %.*s\r\n", method,
			 PL_FMT(&req->ruri), PL_FMT(&via->value));
	if (err)
		goto out;
	err = append_first_line(out, req, SIP_HDR_FROM);
	if (err)
		goto out;
	/* The ACK's To is the response's (with its tag). */
	err = append_first_line(out, resp ? resp : req, SIP_HDR_TO);
	if (err)
		goto out;
	err = append_first_line(out, req, SIP_HDR_CALL_ID);
	if (err)
		goto out;
	err = buf_printf(out, "CSeq: %" PRIu32 " %s\r\n", req->cseq.num,
			 method);
	if (err)
		goto out;
	/* §17.1.1.3 and §9.1: the Route header fields of the request. */
	err = append_lines(out, req, SIP_HDR_ROUTE);
	if (err)
		goto out;
	err = buf_printf(out, "Max-Forwards: %u\r\nContent-Length: 0\r\n\r\n",
			 SIP_MAX_FORWARDS);
out:
	if (err)
		out->len = start;
	return err;
}

int sip_build_ack(struct buf *out, const struct sip_msg *invite,
		  const struct sip_msg *resp)
{
	if (!invite->validated || !resp->validated || !invite->is_request ||
	    invite->method_id != SIP_METHOD_INVITE || resp->is_request ||
	    resp->status < 300 || resp->status > 699)
		return EINVAL;
	return build_ack_cancel(out, invite, resp, "ACK");
}

int sip_build_cancel(struct buf *out, const struct sip_msg *req)
{
	if (!req->validated || !req->is_request ||
	    req->method_id == SIP_METHOD_ACK ||
	    req->method_id == SIP_METHOD_CANCEL)
		return EINVAL;
	return build_ack_cancel(out, req, NULL, "CANCEL");
}

/* ------------------------------------------------------------------ */
/* Forwarding edits                                                    */

void sip_edits_init(struct sip_edits *ed, const struct sip_msg *msg)
{
	ed->msg = msg;
	ed->n = 0;
	ed->scratch_len = 0;
	ed->body_delta = 0;
	ed->cl_done = false;
}

/* Where the output ends: trailing datagram bytes are not forwarded. */
static size_t msg_end(const struct sip_msg *m)
{
	if (m->body.p)
		return (size_t)(m->body.p - m->buf) + m->body.l;
	return m->len;
}

static size_t off_of(const struct sip_msg *m, const char *p)
{
	return (size_t)(p - m->buf);
}

/*
 * The offset of the empty line that ends the header section: the end of
 * the last header line (msg->headers may or may not include the empty
 * line itself; this does not depend on it).
 */
static int hdr_end(const struct sip_msg *m, size_t *off)
{
	const struct sip_hdr *last;

	if (!m->nhdrs)
		return EINVAL;
	last = &m->hdrs[m->nhdrs - 1];
	*off = off_of(m, last->line.p) + last->line.l;
	return 0;
}

int sip_edits_add_ref(struct sip_edits *ed, size_t off, size_t del,
		      const char *ins, size_t ins_len)
{
	struct sip_edit *e;

	if (off > msg_end(ed->msg) || del > msg_end(ed->msg) - off ||
	    ins_len > UINT32_MAX)
		return EINVAL;
	if (ed->n == SIP_EDITS_MAX)
		return EOVERFLOW;
	e = &ed->e[ed->n];
	e->off = (uint32_t)off;
	e->del = (uint32_t)del;
	e->ins = ins;
	e->ins_len = (uint32_t)ins_len;
	e->seq = (uint16_t)ed->n;
	ed->n++;
	return 0;
}

int sip_edits_add(struct sip_edits *ed, size_t off, size_t del,
		  const char *ins, size_t ins_len)
{
	char *p = ed->scratch + ed->scratch_len;
	int err;

	if (ins_len > sizeof(ed->scratch) - ed->scratch_len)
		return EOVERFLOW;
	err = sip_edits_add_ref(ed, off, del, p, ins_len);
	if (err)
		return err;
	if (ins_len)
		memcpy(p, ins, ins_len);
	ed->scratch_len += ins_len;
	return 0;
}

int sip_edits_printf(struct sip_edits *ed, size_t off, const char *fmt, ...)
{
	size_t room = sizeof(ed->scratch) - ed->scratch_len;
	char *p = ed->scratch + ed->scratch_len;
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(p, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return EOVERFLOW;
	err = sip_edits_add_ref(ed, off, 0, p, (size_t)n);
	if (err)
		return err;
	ed->scratch_len += (size_t)n;
	return 0;
}

static int insert_line(struct sip_edits *ed, size_t off, const char *name,
		       const struct pl *value);

/* Writes v in decimal at the end of num[24]; returns the first digit. */
static char *u64_dec(char num[24], uint64_t v, size_t *len)
{
	char *p = num + 24;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	*len = (size_t)(num + 24 - p);
	return p;
}

/* Replaces a span with a decimal number. */
static int edits_replace_u(struct sip_edits *ed, const struct pl *span,
			   uint64_t v)
{
	char num[24];
	size_t n;
	const char *p = u64_dec(num, v, &n);

	return sip_edits_add(ed, off_of(ed->msg, span->p), span->l, p, n);
}

/* Inserts "<name>: <v>\r\n" at off. */
static int insert_line_u(struct sip_edits *ed, size_t off, const char *name,
			 uint64_t v)
{
	char num[24];
	struct pl val;

	val.p = u64_dec(num, v, &val.l);
	return insert_line(ed, off, name, &val);
}

int sip_edits_hdr_remove(struct sip_edits *ed, const struct sip_hdr *h)
{
	const struct sip_msg *m = ed->msg;
	const struct sip_hdr *prev = NULL, *next = NULL;
	size_t idx, a, z;

	if (h < m->hdrs || h >= m->hdrs + m->nhdrs)
		return EINVAL;
	idx = (size_t)(h - m->hdrs);
	/* Decoding stores the values of one line next to each other. */
	if (idx > 0 && m->hdrs[idx - 1].line_index == h->line_index)
		prev = &m->hdrs[idx - 1];
	if (idx + 1 < m->nhdrs && m->hdrs[idx + 1].line_index == h->line_index)
		next = &m->hdrs[idx + 1];

	if (!prev && !next) {
		a = off_of(m, h->line.p);
		z = a + h->line.l;
	} else if (!prev) {
		/* "Via: A, B" -> "Via: B": the value, the comma and the
		 * blanks (or folding) up to the next value. */
		a = off_of(m, h->value.p);
		z = off_of(m, next->value.p);
	} else {
		/* "Via: A, B" -> "Via: A": the comma before the value. */
		a = off_of(m, prev->value.p + prev->value.l);
		z = off_of(m, h->value.p + h->value.l);
	}
	return sip_edits_add(ed, a, z - a, NULL, 0);
}

/*
 * Inserts "<name>: <value>\r\n" at off.  Hot path: plain copies into
 * the scratch area, no printf.
 */
static int insert_line(struct sip_edits *ed, size_t off, const char *name,
		       const struct pl *value)
{
	size_t nl = strlen(name), n = nl + 2 + value->l + 2;
	char *p = ed->scratch + ed->scratch_len;
	int err;

	if (n > sizeof(ed->scratch) - ed->scratch_len)
		return EOVERFLOW;
	memcpy(p, name, nl);
	memcpy(p + nl, ": ", 2);
	if (value->l)
		memcpy(p + nl + 2, value->p, value->l);
	memcpy(p + nl + 2 + value->l, "\r\n", 2);
	err = sip_edits_add_ref(ed, off, 0, p, n);
	if (err)
		return err;
	ed->scratch_len += n;
	return 0;
}

/* Before the first line of id, or at the top of the header section. */
static int insert_top(struct sip_edits *ed, enum sip_hdr_id id,
		      const char *name, const struct pl *value)
{
	const struct sip_hdr *h = sip_msg_hdr(ed->msg, id);
	const char *p = h ? h->line.p : ed->msg->headers.p;

	if (!p)
		return EINVAL;
	return insert_line(ed, off_of(ed->msg, p), name, value);
}

int sip_fwd_via_add(struct sip_edits *ed, const struct pl *value)
{
	return insert_top(ed, SIP_HDR_VIA, "Via", value);
}

int sip_fwd_via_pop(struct sip_edits *ed)
{
	const struct sip_hdr *h = sip_msg_hdr(ed->msg, SIP_HDR_VIA);

	return h ? sip_edits_hdr_remove(ed, h) : ENOENT;
}

int sip_fwd_route_pop(struct sip_edits *ed)
{
	const struct sip_hdr *h = sip_msg_hdr(ed->msg, SIP_HDR_ROUTE);

	return h ? sip_edits_hdr_remove(ed, h) : ENOENT;
}

int sip_fwd_rr_add(struct sip_edits *ed, const struct pl *value)
{
	/* §16.6 step 4: above any Record-Route already there. */
	return insert_top(ed, SIP_HDR_RECORD_ROUTE, "Record-Route", value);
}

int sip_fwd_max_forwards_set(struct sip_edits *ed, uint32_t value)
{
	const struct sip_hdr *h = sip_msg_hdr(ed->msg, SIP_HDR_MAX_FORWARDS);
	size_t end;
	int err;

	if (h)
		return edits_replace_u(ed, &h->value, value);
	err = hdr_end(ed->msg, &end);
	if (err)
		return err;
	return insert_line_u(ed, end, "Max-Forwards", value);
}

int sip_fwd_max_forwards_dec(struct sip_edits *ed)
{
	const struct sip_hdr *h = sip_msg_hdr(ed->msg, SIP_HDR_MAX_FORWARDS);
	uint32_t v;

	/* §16.6 step 3: absent -> add one with the value 70. */
	if (!h)
		return sip_fwd_max_forwards_set(ed, SIP_MAX_FORWARDS);
	if (pl_u32(&h->value, &v))
		return EBADMSG;
	if (v == 0)
		return ELOOP;
	return edits_replace_u(ed, &h->value, v - 1);
}

int sip_fwd_ruri_set(struct sip_edits *ed, const struct pl *uri)
{
	const struct sip_msg *m = ed->msg;

	if (!m->is_request || !m->ruri.p)
		return EINVAL;
	return sip_edits_add(ed, off_of(m, m->ruri.p), m->ruri.l, uri->p,
			     uri->l);
}

static int set_content_length(struct sip_edits *ed, size_t len)
{
	const struct sip_hdr *h = sip_msg_hdr(ed->msg, SIP_HDR_CONTENT_LENGTH);
	size_t end;
	int err;

	if (h)
		return edits_replace_u(ed, &h->value, len);
	err = hdr_end(ed->msg, &end);
	if (err)
		return err;
	return insert_line_u(ed, end, "Content-Length", len);
}

int sip_fwd_body_set(struct sip_edits *ed, const struct pl *ctype,
		     const struct pl *body)
{
	const struct sip_msg *m = ed->msg;
	const struct sip_hdr *ct = sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE);
	size_t boff = m->body.p ? off_of(m, m->body.p) : msg_end(m);
	size_t end;
	int err;

	if (ed->cl_done)
		return EINVAL;
	err = hdr_end(m, &end);
	if (err)
		return err;
	if (ctype && ctype->l) {
		if (ct)
			err = sip_edits_add(ed, off_of(m, ct->value.p),
					    ct->value.l, ctype->p, ctype->l);
		else
			err = insert_line(ed, end, "Content-Type", ctype);
		if (err)
			return err;
	}
	err = set_content_length(ed, body->l);
	if (err)
		return err;
	err = sip_edits_add_ref(ed, boff, m->body.l, body->p, body->l);
	if (err)
		return err;
	ed->body_delta = (int32_t)((int64_t)body->l - (int64_t)m->body.l);
	ed->cl_done = true;
	return 0;
}

int sip_fwd_content_length(struct sip_edits *ed)
{
	const struct sip_msg *m = ed->msg;
	const struct sip_hdr *h;
	uint32_t v;
	int err;

	if (ed->cl_done)
		return 0;
	h = sip_msg_hdr(m, SIP_HDR_CONTENT_LENGTH);
	/* §18.3: a stream needs it; a datagram may have carried bytes
	 * past the body, which are not forwarded. */
	if (!h || pl_u32(&h->value, &v) || v != m->body.l) {
		err = set_content_length(ed, m->body.l);
		if (err)
			return err;
	}
	ed->cl_done = true;
	return 0;
}

static bool edit_before(const struct sip_edit *a, const struct sip_edit *b)
{
	if (a->off != b->off)
		return a->off < b->off;
	/* At one offset, insertions come before a deletion starting
	 * there ("insert before line X" and "delete line X"). */
	if ((a->del == 0) != (b->del == 0))
		return a->del == 0;
	return a->seq < b->seq;
}

int sip_edits_apply(const struct sip_edits *ed, struct buf *out)
{
	const struct sip_msg *m = ed->msg;
	const struct sip_edit *order[SIP_EDITS_MAX];
	size_t end = msg_end(m), total = end, pos = 0;
	char *w;
	unsigned i, j;
	int err;

	/* Insertion sort: a handful of edits, stable by seq. */
	for (i = 0; i < ed->n; i++) {
		const struct sip_edit *e = &ed->e[i];

		for (j = i; j > 0 && edit_before(e, order[j - 1]); j--)
			order[j] = order[j - 1];
		order[j] = e;
		total += e->ins_len;
		total -= e->del;
	}
	for (i = 0; i < ed->n; i++) {
		if (order[i]->off < pos)
			return EINVAL;
		pos = order[i]->off + order[i]->del;
	}
	err = buf_reserve(out, total);
	if (err)
		return err;

	w = out->data + out->len;
	pos = 0;
	for (i = 0; i < ed->n; i++) {
		const struct sip_edit *e = order[i];

		memcpy(w, m->buf + pos, e->off - pos);
		w += e->off - pos;
		if (e->ins_len)
			memcpy(w, e->ins, e->ins_len);
		w += e->ins_len;
		pos = e->off + e->del;
	}
	memcpy(w, m->buf + pos, end - pos);
	out->len += total;
	return 0;
}
