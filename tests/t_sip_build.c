/*
 * Tests for sip_build: responses, requests, ACK/CANCEL, forwarding edits
 * (byte-exact), identifiers.  Messages are written with "\n" and turned
 * into CRLF by crlf() so that they stay readable.
 */
#include <errno.h>

#include "buf.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "test.h"

/* A message and the decoded view of it; heap: struct sip_msg is big. */
struct tmsg {
	char *text;
	size_t len;
	struct sip_msg m;
};

static char *crlf(const char *s, size_t *lenp)
{
	return test_crlf(s, strlen(s), lenp);
}

/* Decodes (datagram) and, when validate, validates; fails the test
 * when that does not work. */
static struct tmsg *tmsg_new(const char *s, bool validate)
{
	struct tmsg *t = calloc(1, sizeof(*t));
	uint16_t st = 0;
	const char *why = NULL;
	int err;

	ASSERT(t);
	t->text = crlf(s, &t->len);
	err = sip_msg_decode(&t->m, t->text, t->len, false);
	ASSERT_MSG(err == 0, "decode: %d", err);
	if (validate) {
		err = sip_msg_validate(&t->m, &st, &why);
		ASSERT_MSG(err == 0, "validate: %d %u %s", err, st,
			   why ? why : "");
	}
	return t;
}

static void tmsg_free(struct tmsg *t)
{
	if (!t)
		return;
	free(t->text);
	free(t);
}

/* The buffer equals s with "\n" turned into CRLF. */
#define ASSERT_BUF(b, s)                                                      \
	do {                                                                  \
		char *want_ = crlf((s), NULL);                                \
		size_t wl_ = strlen(want_);                                   \
		if ((b)->len != wl_ || memcmp((b)->data, want_, wl_))         \
			test_fail(__FILE__, __LINE__,                         \
				  "got:\n%.*s\n--- want:\n%s", (int)(b)->len, \
				  (b)->data ? (b)->data : "", want_);         \
		free(want_);                                                  \
	} while (0)

static bool has(const struct buf *b, const char *s)
{
	return b->data && memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static bool starts(const struct buf *b, const char *s)
{
	return b->data && b->len >= strlen(s) &&
	       !memcmp(b->data, s, strlen(s));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static const char invite_3vias[] =
	"INVITE sip:bob@biloxi.example.com SIP/2.0\n"
	"Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2\n"
	"Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1, "
	"SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKua\n"
	"Max-Forwards: 68\n"
	"To: Bob <sip:bob@biloxi.example.com>\n"
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\n"
	"Call-ID: a84b4c76e66710\n"
	"CSeq: 314159 INVITE\n"
	"Contact: <sip:alice@pc33.atlanta.example.com>\n"
	"Content-Type: application/sdp\n"
	"Content-Length: 4\n"
	"\n"
	"v=0\n";

/* ------------------------------------------------------------------ */
/* Responses                                                           */

TEST(sip_build_response_copies_via_lines_in_order_and_adds_to_tag)
{
	struct tmsg *r = tmsg_new(invite_3vias, true);
	struct sip_build_resp_opts o = {.to_tag = PL("abc")};
	struct buf b;

	buf_init(&b, 65535);
	ASSERT_EQ(sip_build_response(&b, &r->m, 486, NULL, &o), 0);
	ASSERT_BUF(&b, "SIP/2.0 486 Busy Here\n"
		       "Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2\n"
		       "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1, "
		       "SIP/2.0/UDP "
		       "pc33.atlanta.example.com;branch=z9hG4bKua\n"
		       "From: Alice <sip:alice@atlanta.example.com>"
		       ";tag=1928301774\n"
		       "To: Bob <sip:bob@biloxi.example.com>;tag=abc\n"
		       "Call-ID: a84b4c76e66710\n"
		       "CSeq: 314159 INVITE\n"
		       "Content-Length: 0\n"
		       "\n");
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_response_100_gets_no_to_tag)
{
	struct tmsg *r = tmsg_new(invite_3vias, true);
	struct sip_build_resp_opts o = {.to_tag = PL("abc")};
	struct buf b;

	buf_init(&b, 65535);
	ASSERT_EQ(sip_build_response(&b, &r->m, 100, NULL, &o), 0);
	ASSERT(has(&b, "To: Bob <sip:bob@biloxi.example.com>\r\n"));
	ASSERT(!has(&b, "tag=abc"));
	ASSERT(starts(&b, "SIP/2.0 100 Trying\r\n"));
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_response_keeps_existing_to_tag)
{
	static const char bye[] =
		"BYE sip:alice@pc33.atlanta.example.com SIP/2.0\n"
		"Via: SIP/2.0/TCP bob.example.com;branch=z9hG4bKbye\n"
		"Max-Forwards: 70\n"
		"From: <sip:bob@biloxi.example.com>;tag=8321234356\n"
		"To: <sip:alice@atlanta.example.com>;tag=1928301774\n"
		"Call-ID: a84b4c76e66710\n"
		"CSeq: 231 BYE\n"
		"Content-Length: 0\n\n";
	struct tmsg *r = tmsg_new(bye, true);
	struct sip_build_resp_opts o = {.to_tag = PL("zzz")};
	struct buf b;

	buf_init(&b, 65535);
	ASSERT_EQ(sip_build_response(&b, &r->m, 200, "Fine", &o), 0);
	ASSERT_BUF(&b, "SIP/2.0 200 Fine\n"
		       "Via: SIP/2.0/TCP bob.example.com;branch=z9hG4bKbye\n"
		       "From: <sip:bob@biloxi.example.com>;tag=8321234356\n"
		       "To: <sip:alice@atlanta.example.com>;tag=1928301774\n"
		       "Call-ID: a84b4c76e66710\n"
		       "CSeq: 231 BYE\n"
		       "Content-Length: 0\n\n");
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_response_copies_compact_headers_raw)
{
	static const char reg[] = "REGISTER sip:example.com SIP/2.0\n"
				  "v: SIP/2.0/UDP "
				  "192.0.2.1:5060;branch=z9hG4bKc1;rport\n"
				  "f: <sip:u@example.com>;tag=f1\n"
				  "t: <sip:u@example.com>\n"
				  "i: cid-compact@192.0.2.1\n"
				  "CSeq: 2 REGISTER\n"
				  "m: <sip:u@192.0.2.1>\n"
				  "l: 0\n\n";
	struct tmsg *r = tmsg_new(reg, true);
	struct sip_build_resp_opts o = {.to_tag = PL("t9")};
	struct buf b;

	buf_init(&b, 65535);
	ASSERT_EQ(sip_build_response(&b, &r->m, 401, NULL, &o), 0);
	ASSERT_BUF(&b, "SIP/2.0 401 Unauthorized\n"
		       "v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKc1;rport\n"
		       "f: <sip:u@example.com>;tag=f1\n"
		       "t: <sip:u@example.com>;tag=t9\n"
		       "i: cid-compact@192.0.2.1\n"
		       "CSeq: 2 REGISTER\n"
		       "Content-Length: 0\n\n");
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_response_to_tag_on_addr_spec_and_folded_to)
{
	static const char req[] = "OPTIONS sip:bob@example.com SIP/2.0\n"
				  "Via: SIP/2.0/UDP "
				  "h.example.com;branch=z9hG4bKas\n"
				  "Max-Forwards: 70\n"
				  "From: sip:a@example.com;tag=x\n"
				  "To: sip:bob@example.com ;user=ip\n"
				  "Call-ID: as\n"
				  "CSeq: 1 OPTIONS\n"
				  "Content-Length: 0\n\n";
	static const char folded[] = "OPTIONS sip:bob@example.com SIP/2.0\n"
				     "Via: SIP/2.0/UDP "
				     "h.example.com;branch=z9hG4bKas\n"
				     "Max-Forwards: 70\n"
				     "From: sip:a@example.com;tag=x\n"
				     "To: \"Bob\"\n"
				     "  <sip:bob@example.com>  \n"
				     "Call-ID: as\n"
				     "CSeq: 1 OPTIONS\n"
				     "Content-Length: 0\n\n";
	struct tmsg *r = tmsg_new(req, true), *f = tmsg_new(folded, true);
	struct sip_build_resp_opts o = {.to_tag = PL("T")};
	struct buf b;

	buf_init(&b, 65535);
	/* §20.10: after an addr-spec, parameters are the header's. */
	ASSERT_EQ(sip_build_response(&b, &r->m, 200, NULL, &o), 0);
	ASSERT(has(&b, "\r\nTo: sip:bob@example.com ;user=ip;tag=T\r\n"));
	buf_reset(&b);
	/* Folded: the tag right after the value, the blanks kept. */
	ASSERT_EQ(sip_build_response(&b, &f->m, 200, NULL, &o), 0);
	ASSERT(has(&b, "\r\nTo: \"Bob\"\r\n  <sip:bob@example.com>;tag=T  "
		       "\r\nCall-ID"));
	buf_free(&b);
	tmsg_free(r);
	tmsg_free(f);
}

TEST(sip_build_response_400_for_bad_cseq_after_validate_failed)
{
	static const char bad[] = "OPTIONS sip:bob@example.com SIP/2.0\n"
				  "Via: SIP/2.0/UDP "
				  "h.example.com;branch=z9hG4bKbad\n"
				  "Max-Forwards: 70\n"
				  "From: <sip:a@example.com>;tag=x\n"
				  "To: <sip:bob@example.com>\n"
				  "Call-ID: bad-cseq\n"
				  "CSeq: 9x OPTIONS\n"
				  "Content-Length: 0\n\n";
	struct tmsg *r = tmsg_new(bad, false);
	struct sip_build_resp_opts o = {.to_tag = PL("q")};
	uint16_t st = 0;
	const char *why = NULL;
	struct buf b;

	ASSERT_EQ(sip_msg_validate(&r->m, &st, &why), EBADMSG);
	ASSERT_EQ(st, 400);
	buf_init(&b, 65535);
	ASSERT_EQ(sip_build_response(&b, &r->m, st, NULL, &o), 0);
	ASSERT_BUF(&b, "SIP/2.0 400 Bad Request\n"
		       "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKbad\n"
		       "From: <sip:a@example.com>;tag=x\n"
		       "To: <sip:bob@example.com>;tag=q\n"
		       "Call-ID: bad-cseq\n"
		       "CSeq: 9x OPTIONS\n"
		       "Content-Length: 0\n\n");
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_response_400_for_bad_via_keeps_every_via_line)
{
	static const char bad[] = "OPTIONS sip:bob@example.com SIP/2.0\n"
				  "Via: this is not a via\n"
				  "Via: SIP/2.0/UDP "
				  "h.example.com;branch=z9hG4bKok\n"
				  "Max-Forwards: 70\n"
				  "From: <sip:a@example.com>;tag=x\n"
				  "To: <sip:bob@example.com>\n"
				  "Call-ID: bad-via\n"
				  "CSeq: 1 OPTIONS\n"
				  "Content-Length: 0\n\n";
	struct tmsg *r = tmsg_new(bad, false);
	uint16_t st = 0;
	const char *why = NULL;
	struct buf b;

	ASSERT_EQ(sip_msg_validate(&r->m, &st, &why), EBADMSG);
	ASSERT_EQ(st, 400);
	buf_init(&b, 65535);
	ASSERT_EQ(sip_build_response(&b, &r->m, st, NULL, NULL), 0);
	ASSERT(starts(&b, "SIP/2.0 400 Bad Request\r\n"
			  "Via: this is not a via\r\n"
			  "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKok\r\n"
			  "From: <sip:a@example.com>;tag=x\r\n"));
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_response_body_extra_headers_record_route)
{
	static const char inv[] = "INVITE sip:b@example.com SIP/2.0\n"
				  "Record-Route: <sip:p2.example.com;lr>\n"
				  "Via: SIP/2.0/TCP "
				  "h.example.com;branch=z9hG4bKrr\n"
				  "Record-Route: <sip:p1.example.com;lr>\n"
				  "From: <sip:a@example.com>;tag=x\n"
				  "To: <sip:b@example.com>\n"
				  "Call-ID: rr\n"
				  "CSeq: 1 INVITE\n"
				  "Max-Forwards: 70\n"
				  "Content-Length: 0\n\n";
	struct tmsg *r = tmsg_new(inv, true);
	struct sip_build_resp_opts o = {
		.to_tag = PL("tt"),
		.hdrs = PL("Contact: <sip:b@192.0.2.9>\r\n"),
		.copy_record_route = true,
		.ctype = PL("application/sdp"),
		.body = PL("v=0\r\n"),
	};
	struct buf b;

	buf_init(&b, 65535);
	ASSERT_EQ(sip_build_response(&b, &r->m, 200, NULL, &o), 0);
	ASSERT_BUF(&b, "SIP/2.0 200 OK\n"
		       "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bKrr\n"
		       "Record-Route: <sip:p2.example.com;lr>\n"
		       "Record-Route: <sip:p1.example.com;lr>\n"
		       "From: <sip:a@example.com>;tag=x\n"
		       "To: <sip:b@example.com>;tag=tt\n"
		       "Call-ID: rr\n"
		       "CSeq: 1 INVITE\n"
		       "Contact: <sip:b@192.0.2.9>\n"
		       "Content-Type: application/sdp\n"
		       "Content-Length: 5\n"
		       "\n"
		       "v=0\n");
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_response_rejects_bad_arguments_and_leaves_buf)
{
	struct tmsg *r = tmsg_new(invite_3vias, true);
	struct sip_build_resp_opts nobodytype = {.body = PL("x")};
	struct buf b, small;

	buf_init(&b, 65535);
	ASSERT_EQ(buf_append_str(&b, "keep"), 0);
	ASSERT_EQ(sip_build_response(&b, &r->m, 99, NULL, NULL), EINVAL);
	ASSERT_EQ(sip_build_response(&b, &r->m, 700, NULL, NULL), EINVAL);
	ASSERT_EQ(sip_build_response(&b, &r->m, 200, NULL, &nobodytype),
		  EINVAL);
	ASSERT_EQ(b.len, 4);
	buf_init(&small, 64);
	ASSERT_EQ(buf_append_str(&small, "keep"), 0);
	ASSERT_EQ(sip_build_response(&small, &r->m, 200, NULL, NULL),
		  EOVERFLOW);
	ASSERT_EQ(small.len, 4);
	buf_free(&small);
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_reason_phrases)
{
	ASSERT_STR(sip_reason(483), "Too Many Hops");
	ASSERT_STR(sip_reason(487), "Request Terminated");
	ASSERT_STR(sip_reason(499), "Client Error");
	ASSERT_STR(sip_reason(183), "Session Progress");
}

/* ------------------------------------------------------------------ */
/* Requests, ACK, CANCEL                                               */

TEST(sip_build_request_from_scratch_decodes_and_validates)
{
	struct sip_build_req r = {
		.method = PL("INVITE"),
		.ruri = PL("sip:bob@example.com"),
		.via = PL("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport"),
		.from = PL("<sip:alice@example.com>"),
		.from_tag = PL("ft"),
		.to = PL("<sip:bob@example.com>"),
		.call_id = PL("cid1@192.0.2.1"),
		.cseq = 7,
		.contact = PL("<sip:alice@192.0.2.1:5060>"),
		.route = PL("<sip:p1.example.com;lr>"),
		.hdrs = PL("Subject: load\r\n"),
		.ctype = PL("application/sdp"),
		.body = PL("v=0\r\n"),
	};
	struct sip_msg *m = malloc(sizeof(*m));
	uint16_t st;
	const char *why;
	struct buf b;

	ASSERT(m);
	buf_init(&b, 65535);
	ASSERT_EQ(sip_build_request(&b, &r), 0);
	ASSERT_BUF(&b, "INVITE sip:bob@example.com SIP/2.0\n"
		       "Via: SIP/2.0/UDP "
		       "192.0.2.1:5060;branch=z9hG4bK1;rport\n"
		       "Max-Forwards: 70\n"
		       "From: <sip:alice@example.com>;tag=ft\n"
		       "To: <sip:bob@example.com>\n"
		       "Call-ID: cid1@192.0.2.1\n"
		       "CSeq: 7 INVITE\n"
		       "Route: <sip:p1.example.com;lr>\n"
		       "Contact: <sip:alice@192.0.2.1:5060>\n"
		       "Subject: load\n"
		       "Content-Type: application/sdp\n"
		       "Content-Length: 5\n"
		       "\n"
		       "v=0\n");
	ASSERT_EQ(sip_msg_decode(m, b.data, b.len, false), 0);
	ASSERT_EQ(sip_msg_validate(m, &st, &why), 0);
	ASSERT_EQ(m->cseq.num, 7);
	ASSERT_PL(&m->from_tag, "ft");
	ASSERT_PL(&m->body, "v=0\r\n");
	free(m);
	buf_free(&b);
}

TEST(sip_build_request_rejects_missing_fields)
{
	struct sip_build_req r = {
		.method = PL("OPTIONS"),
		.ruri = PL("sip:bob@example.com"),
		.via = PL("SIP/2.0/UDP h;branch=z9hG4bK1"),
		.from = PL("<sip:a@example.com>"),
		.to = PL("<sip:bob@example.com>"),
		.call_id = PL("c"),
		.cseq = 1,
	};
	struct buf b;

	buf_init(&b, 65535);
	ASSERT_EQ(sip_build_request(&b, &r), EINVAL); /* no from tag */
	r.from_tag = (struct pl)PL("t");
	r.cseq = 0x80000000u;
	ASSERT_EQ(sip_build_request(&b, &r), EINVAL);
	r.cseq = 1;
	r.max_fwd = 0;
	ASSERT_EQ(sip_build_request(&b, &r), 0);
	ASSERT(has(&b, "Max-Forwards: 70\r\n"));
	ASSERT(has(&b, "Content-Length: 0\r\n\r\n"));
	buf_free(&b);
}

static const char invite_routes[] = "INVITE sip:bob@192.0.2.4 SIP/2.0\n"
				    "Via: SIP/2.0/UDP "
				    "uac.example.com:5060;branch=z9hG4bKinv1, "
				    "SIP/2.0/UDP "
				    "other.example.com;branch=z9hG4bKx\n"
				    "Route: <sip:p1.example.com;lr>, "
				    "<sip:p2.example.com;lr>\n"
				    "Max-Forwards: 70\n"
				    "From: \"A\" <sip:a@example.com>;tag=fa\n"
				    "To: <sip:bob@example.com>\n"
				    "Call-ID: cancel-me\n"
				    "CSeq: 42 INVITE\n"
				    "Content-Type: application/sdp\n"
				    "Content-Length: 5\n"
				    "\n"
				    "v=0\n\n";

TEST(sip_build_ack_for_non2xx)
{
	static const char resp[] = "SIP/2.0 486 Busy Here\n"
				   "Via: SIP/2.0/UDP "
				   "uac.example.com:5060;branch=z9hG4bKinv1\n"
				   "From: \"A\" <sip:a@example.com>;tag=fa\n"
				   "To: <sip:bob@example.com>;tag=busy1\n"
				   "Call-ID: cancel-me\n"
				   "CSeq: 42 INVITE\n"
				   "Content-Length: 0\n\n";
	struct tmsg *inv = tmsg_new(invite_routes, true);
	struct tmsg *rsp = tmsg_new(resp, true);
	struct buf b;

	buf_init(&b, 65535);
	ASSERT_EQ(sip_build_ack(&b, &inv->m, &rsp->m), 0);
	ASSERT_BUF(&b, "ACK sip:bob@192.0.2.4 SIP/2.0\n"
		       "Via: SIP/2.0/UDP "
		       "uac.example.com:5060;branch=z9hG4bKinv1\n"
		       "From: \"A\" <sip:a@example.com>;tag=fa\n"
		       "To: <sip:bob@example.com>;tag=busy1\n"
		       "Call-ID: cancel-me\n"
		       "CSeq: 42 ACK\n"
		       "Route: <sip:p1.example.com;lr>, "
		       "<sip:p2.example.com;lr>\n"
		       "Max-Forwards: 70\n"
		       "Content-Length: 0\n\n");
	/* Not for a 2xx (§13.2.2.4: the TU ACKs those end to end). */
	buf_reset(&b);
	rsp->m.status = 200;
	ASSERT_EQ(sip_build_ack(&b, &inv->m, &rsp->m), EINVAL);
	ASSERT_EQ(b.len, 0);
	buf_free(&b);
	tmsg_free(inv);
	tmsg_free(rsp);
}

TEST(sip_build_cancel_from_invite)
{
	struct tmsg *inv = tmsg_new(invite_routes, true);
	struct tmsg *c;
	struct buf b;

	buf_init(&b, 65535);
	ASSERT_EQ(sip_build_cancel(&b, &inv->m), 0);
	ASSERT_BUF(&b, "CANCEL sip:bob@192.0.2.4 SIP/2.0\n"
		       "Via: SIP/2.0/UDP "
		       "uac.example.com:5060;branch=z9hG4bKinv1\n"
		       "From: \"A\" <sip:a@example.com>;tag=fa\n"
		       "To: <sip:bob@example.com>\n"
		       "Call-ID: cancel-me\n"
		       "CSeq: 42 CANCEL\n"
		       "Route: <sip:p1.example.com;lr>, "
		       "<sip:p2.example.com;lr>\n"
		       "Max-Forwards: 70\n"
		       "Content-Length: 0\n\n");
	/* A CANCEL cannot be cancelled. */
	c = calloc(1, sizeof(*c));
	ASSERT(c);
	ASSERT_EQ(sip_msg_decode(&c->m, b.data, b.len, false), 0);
	{
		uint16_t st;
		const char *why;

		ASSERT_EQ(sip_msg_validate(&c->m, &st, &why), 0);
	}
	buf_reset(&b);
	ASSERT_EQ(sip_build_cancel(&b, &c->m), EINVAL);
	free(c);
	buf_free(&b);
	tmsg_free(inv);
}

/* ------------------------------------------------------------------ */
/* Forwarding edits                                                    */

static void apply_ok(struct sip_edits *ed, struct buf *b)
{
	buf_init(b, 65535);
	ASSERT_EQ(sip_edits_apply(ed, b), 0);
}

static const char simple_req[] = "OPTIONS sip:bob@example.com SIP/2.0\n"
				 "Via: SIP/2.0/UDP "
				 "a.example.com;branch=z9hG4bKa\n"
				 "Route: <sip:p1.example.com;lr>\n"
				 "Max-Forwards: 10\n"
				 "From: <sip:x@example.com>;tag=1\n"
				 "To: <sip:bob@example.com>\n"
				 "Call-ID: s1\n"
				 "CSeq: 1 OPTIONS\n"
				 "Content-Length: 0\n"
				 "\n";

TEST(sip_build_fwd_no_edits_copies_message)
{
	struct tmsg *r = tmsg_new(simple_req, true);
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	apply_ok(&ed, &b);
	ASSERT_BUF(&b, simple_req);
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_fwd_via_add_before_first_via)
{
	struct tmsg *r = tmsg_new(simple_req, true);
	struct pl v = PL("SIP/2.0/TCP p1.example.com;branch=z9hG4bKnew");
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_via_add(&ed, &v), 0);
	apply_ok(&ed, &b);
	ASSERT_BUF(&b, "OPTIONS sip:bob@example.com SIP/2.0\n"
		       "Via: SIP/2.0/TCP p1.example.com;branch=z9hG4bKnew\n"
		       "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa\n"
		       "Route: <sip:p1.example.com;lr>\n"
		       "Max-Forwards: 10\n"
		       "From: <sip:x@example.com>;tag=1\n"
		       "To: <sip:bob@example.com>\n"
		       "Call-ID: s1\n"
		       "CSeq: 1 OPTIONS\n"
		       "Content-Length: 0\n"
		       "\n");
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_fwd_via_pop_whole_line_when_alone)
{
	static const char resp[] = "SIP/2.0 200 OK\n"
				   "Via: SIP/2.0/UDP "
				   "p1.example.com;branch=z9hG4bKp\n"
				   "Via: SIP/2.0/UDP "
				   "a.example.com;branch=z9hG4bKa\n"
				   "From: <sip:x@example.com>;tag=1\n"
				   "To: <sip:bob@example.com>;tag=2\n"
				   "Call-ID: s1\n"
				   "CSeq: 1 OPTIONS\n"
				   "Content-Length: 0\n\n";
	struct tmsg *r = tmsg_new(resp, true);
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_via_pop(&ed), 0);
	apply_ok(&ed, &b);
	ASSERT_BUF(&b, "SIP/2.0 200 OK\n"
		       "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa\n"
		       "From: <sip:x@example.com>;tag=1\n"
		       "To: <sip:bob@example.com>;tag=2\n"
		       "Call-ID: s1\n"
		       "CSeq: 1 OPTIONS\n"
		       "Content-Length: 0\n\n");
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_fwd_via_pop_first_of_several_on_a_line)
{
	static const char resp[] = "SIP/2.0 180 Ringing\n"
				   "Via: SIP/2.0/UDP "
				   "p1.example.com;branch=z9hG4bKp ,  "
				   "SIP/2.0/UDP "
				   "a.example.com;branch=z9hG4bKa\n"
				   "From: <sip:x@example.com>;tag=1\n"
				   "To: <sip:bob@example.com>;tag=2\n"
				   "Call-ID: s1\n"
				   "CSeq: 1 INVITE\n"
				   "Content-Length: 0\n\n";
	struct tmsg *r = tmsg_new(resp, true);
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_via_pop(&ed), 0);
	apply_ok(&ed, &b);
	ASSERT_BUF(&b, "SIP/2.0 180 Ringing\n"
		       "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa\n"
		       "From: <sip:x@example.com>;tag=1\n"
		       "To: <sip:bob@example.com>;tag=2\n"
		       "Call-ID: s1\n"
		       "CSeq: 1 INVITE\n"
		       "Content-Length: 0\n\n");
	buf_free(&b);
	tmsg_free(r);
}

/* RFC 4475 §3.1.1.1 style: compact names, folding, odd case. */
TEST(sip_build_fwd_via_pop_folded_compact_header)
{
	static const char resp[] = "SIP/2.0 200 OK\n"
				   "v:  SIP/2.0/UDP "
				   "p1.example.com;branch=z9hG4bKp,\n"
				   "  SIP/2.0/UDP "
				   "a.example.com;branch=z9hG4bKa\n"
				   "f: <sip:x@example.com>;tag=1\n"
				   "t: <sip:bob@example.com>\n"
				   " ;tag=2\n"
				   "i: s1\n"
				   "CSeq: 1 OPTIONS\n"
				   "l: 0\n\n";
	struct tmsg *r = tmsg_new(resp, true);
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_via_pop(&ed), 0);
	apply_ok(&ed, &b);
	ASSERT_BUF(&b, "SIP/2.0 200 OK\n"
		       "v:  SIP/2.0/UDP a.example.com;branch=z9hG4bKa\n"
		       "f: <sip:x@example.com>;tag=1\n"
		       "t: <sip:bob@example.com>\n"
		       " ;tag=2\n"
		       "i: s1\n"
		       "CSeq: 1 OPTIONS\n"
		       "l: 0\n\n");
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_fwd_via_pop_without_via_is_enoent)
{
	struct tmsg *r = tmsg_new(simple_req, true);
	struct sip_edits ed;

	/* Pretend the Via is gone: a response without one. */
	r->m.first[SIP_HDR_VIA] = SIP_HDR_END;
	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_via_pop(&ed), ENOENT);
	ASSERT_EQ(ed.n, 0);
	tmsg_free(r);
}

TEST(sip_build_fwd_hdr_remove_middle_and_last_value)
{
	static const char req[] = "OPTIONS sip:b@example.com SIP/2.0\n"
				  "Via: SIP/2.0/UDP "
				  "a.example.com;branch=z9hG4bKa\n"
				  "Route: <sip:r1.example.com;lr>, "
				  "<sip:r2.example.com;lr>,"
				  "<sip:r3.example.com;lr>\n"
				  "From: <sip:x@example.com>;tag=1\n"
				  "To: <sip:b@example.com>\n"
				  "Call-ID: s1\n"
				  "CSeq: 1 OPTIONS\n"
				  "Max-Forwards: 70\n"
				  "Content-Length: 0\n\n";
	struct tmsg *r = tmsg_new(req, true);
	const struct sip_hdr *h1 = sip_msg_hdr(&r->m, SIP_HDR_ROUTE);
	const struct sip_hdr *h2 = sip_msg_hdr_next(&r->m, h1);
	const struct sip_hdr *h3 = sip_msg_hdr_next(&r->m, h2);
	struct sip_edits ed;
	struct buf b;

	ASSERT(h3);
	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_edits_hdr_remove(&ed, h2), 0);
	apply_ok(&ed, &b);
	ASSERT(has(&b, "Route: <sip:r1.example.com;lr>,<sip:r3.example.com;lr>"
		       "\r\n"));
	buf_free(&b);
	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_edits_hdr_remove(&ed, h3), 0);
	apply_ok(&ed, &b);
	ASSERT(has(&b, "Route: <sip:r1.example.com;lr>, "
		       "<sip:r2.example.com;lr>"
		       "\r\nFrom"));
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_fwd_route_pop_alone_and_first_of_two)
{
	struct tmsg *r = tmsg_new(simple_req, true);
	struct tmsg *r2 = tmsg_new(invite_routes, true);
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_route_pop(&ed), 0);
	apply_ok(&ed, &b);
	ASSERT(!has(&b, "Route"));
	ASSERT_EQ(b.len, r->len - strlen("Route: "
					 "<sip:p1.example.com;lr>\r\n"));
	buf_free(&b);

	sip_edits_init(&ed, &r2->m);
	ASSERT_EQ(sip_fwd_route_pop(&ed), 0);
	apply_ok(&ed, &b);
	ASSERT(has(&b, "\r\nRoute: <sip:p2.example.com;lr>\r\n"));
	ASSERT(!has(&b, "p1.example.com"));
	buf_free(&b);

	/* No Route left: ENOENT. */
	r->m.first[SIP_HDR_ROUTE] = SIP_HDR_END;
	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_route_pop(&ed), ENOENT);
	tmsg_free(r);
	tmsg_free(r2);
}

TEST(sip_build_fwd_max_forwards_decrement)
{
	struct tmsg *r = tmsg_new(simple_req, true);
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_max_forwards_dec(&ed), 0);
	apply_ok(&ed, &b);
	ASSERT(has(&b, "\r\nMax-Forwards: 9\r\n"));
	ASSERT_EQ(b.len, r->len - 1);
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_fwd_max_forwards_absent_inserts_70)
{
	static const char req[] = "MESSAGE sip:b@example.com SIP/2.0\n"
				  "Via: SIP/2.0/UDP "
				  "a.example.com;branch=z9hG4bKa\n"
				  "From: <sip:x@example.com>;tag=1\n"
				  "To: <sip:b@example.com>\n"
				  "Call-ID: mf\n"
				  "CSeq: 1 MESSAGE\n"
				  "Content-Type: text/plain\n"
				  "Content-Length: 2\n"
				  "\n"
				  "hi";
	struct tmsg *r = tmsg_new(req, true);
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_max_forwards_dec(&ed), 0);
	apply_ok(&ed, &b);
	ASSERT_BUF(&b, "MESSAGE sip:b@example.com SIP/2.0\n"
		       "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa\n"
		       "From: <sip:x@example.com>;tag=1\n"
		       "To: <sip:b@example.com>\n"
		       "Call-ID: mf\n"
		       "CSeq: 1 MESSAGE\n"
		       "Content-Type: text/plain\n"
		       "Content-Length: 2\n"
		       "Max-Forwards: 70\n"
		       "\n"
		       "hi");
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_fwd_max_forwards_zero_is_eloop)
{
	static const char req[] = "OPTIONS sip:b@example.com SIP/2.0\n"
				  "Via: SIP/2.0/UDP "
				  "a.example.com;branch=z9hG4bKa\n"
				  "Max-Forwards: 0\n"
				  "From: <sip:x@example.com>;tag=1\n"
				  "To: <sip:b@example.com>\n"
				  "Call-ID: mf0\n"
				  "CSeq: 1 OPTIONS\n"
				  "Content-Length: 0\n\n";
	struct tmsg *r = tmsg_new(req, true);
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_max_forwards_dec(&ed), ELOOP);
	ASSERT_EQ(ed.n, 0);
	ASSERT_EQ(sip_fwd_max_forwards_set(&ed, 5), 0);
	apply_ok(&ed, &b);
	ASSERT(has(&b, "\r\nMax-Forwards: 5\r\n"));
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_fwd_record_route_above_existing_and_when_none)
{
	static const char req[] = "INVITE sip:b@example.com SIP/2.0\n"
				  "Via: SIP/2.0/UDP "
				  "a.example.com;branch=z9hG4bKa\n"
				  "Max-Forwards: 69\n"
				  "Record-Route: <sip:p0.example.com;lr>\n"
				  "From: <sip:x@example.com>;tag=1\n"
				  "To: <sip:b@example.com>\n"
				  "Call-ID: rr\n"
				  "CSeq: 1 INVITE\n"
				  "Content-Length: 0\n\n";
	struct tmsg *r = tmsg_new(req, true);
	struct tmsg *r2 = tmsg_new(simple_req, true);
	struct pl rr = PL("<sip:p1.example.com;lr>");
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_rr_add(&ed, &rr), 0);
	apply_ok(&ed, &b);
	ASSERT(has(&b, "Max-Forwards: 69\r\n"
		       "Record-Route: <sip:p1.example.com;lr>\r\n"
		       "Record-Route: <sip:p0.example.com;lr>\r\n"));
	buf_free(&b);

	sip_edits_init(&ed, &r2->m);
	ASSERT_EQ(sip_fwd_rr_add(&ed, &rr), 0);
	apply_ok(&ed, &b);
	ASSERT(has(&b, "SIP/2.0\r\nRecord-Route: "
		       "<sip:p1.example.com;lr>\r\nVia:"));
	buf_free(&b);
	tmsg_free(r);
	tmsg_free(r2);
}

TEST(sip_build_fwd_ruri_replaced)
{
	struct tmsg *r = tmsg_new(simple_req, true);
	struct pl u = PL("sip:bob@192.0.2.77:5070;transport=tcp");
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_ruri_set(&ed, &u), 0);
	apply_ok(&ed, &b);
	ASSERT(starts(&b, "OPTIONS sip:bob@192.0.2.77:5070;transport=tcp "
			  "SIP/2.0\r\nVia:"));
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_fwd_content_length_added_for_udp_without_one)
{
	static const char req[] = "MESSAGE sip:b@example.com SIP/2.0\n"
				  "Via: SIP/2.0/UDP "
				  "a.example.com;branch=z9hG4bKa\n"
				  "Max-Forwards: 70\n"
				  "From: <sip:x@example.com>;tag=1\n"
				  "To: <sip:b@example.com>\n"
				  "Call-ID: nocl\n"
				  "CSeq: 1 MESSAGE\n"
				  "Content-Type: text/plain\n"
				  "\n"
				  "hello";
	struct tmsg *r = tmsg_new(req, true);
	struct sip_edits ed;
	struct buf b;

	ASSERT(!r->m.has_content_length);
	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_content_length(&ed), 0);
	apply_ok(&ed, &b);
	ASSERT_BUF(&b, "MESSAGE sip:b@example.com SIP/2.0\n"
		       "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa\n"
		       "Max-Forwards: 70\n"
		       "From: <sip:x@example.com>;tag=1\n"
		       "To: <sip:b@example.com>\n"
		       "Call-ID: nocl\n"
		       "CSeq: 1 MESSAGE\n"
		       "Content-Type: text/plain\n"
		       "Content-Length: 5\n"
		       "\n"
		       "hello");
	buf_free(&b);
	/* Present and right: nothing to do. */
	tmsg_free(r);
	r = tmsg_new(simple_req, true);
	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_content_length(&ed), 0);
	ASSERT_EQ(ed.n, 0);
	tmsg_free(r);
}

TEST(sip_build_fwd_datagram_trailing_bytes_not_forwarded)
{
	static const char req[] = "MESSAGE sip:b@example.com SIP/2.0\n"
				  "Via: SIP/2.0/UDP "
				  "a.example.com;branch=z9hG4bKa\n"
				  "Max-Forwards: 70\n"
				  "From: <sip:x@example.com>;tag=1\n"
				  "To: <sip:b@example.com>\n"
				  "Call-ID: trail\n"
				  "CSeq: 1 MESSAGE\n"
				  "Content-Type: text/plain\n"
				  "Content-Length: 2\n"
				  "\n"
				  "hiJUNK";
	struct tmsg *r = tmsg_new(req, true);
	struct sip_edits ed;
	struct buf b;

	ASSERT_PL(&r->m.body, "hi");
	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_content_length(&ed), 0);
	apply_ok(&ed, &b);
	ASSERT_EQ(b.len, r->len - 4);
	ASSERT(!memcmp(b.data + b.len - 6, "\r\n\r\nhi", 6));
	buf_free(&b);
	tmsg_free(r);
}

TEST(sip_build_fwd_body_replaced_with_length_and_type)
{
	static const char req[] = "MESSAGE sip:b@example.com SIP/2.0\n"
				  "Via: SIP/2.0/UDP "
				  "a.example.com;branch=z9hG4bKa\n"
				  "Max-Forwards: 70\n"
				  "From: <sip:x@example.com>;tag=1\n"
				  "To: <sip:b@example.com>\n"
				  "Call-ID: body\n"
				  "CSeq: 1 MESSAGE\n"
				  "c: text/plain\n"
				  "Content-Length: 2\n"
				  "\n"
				  "hi";
	struct tmsg *r = tmsg_new(req, true);
	struct pl ct = PL("text/html"), body = PL("<p>longer</p>");
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_body_set(&ed, &ct, &body), 0);
	ASSERT_EQ(sip_fwd_body_set(&ed, &ct, &body), EINVAL);
	ASSERT_EQ(sip_fwd_content_length(&ed), 0); /* no-op now */
	apply_ok(&ed, &b);
	ASSERT_BUF(&b, "MESSAGE sip:b@example.com SIP/2.0\n"
		       "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa\n"
		       "Max-Forwards: 70\n"
		       "From: <sip:x@example.com>;tag=1\n"
		       "To: <sip:b@example.com>\n"
		       "Call-ID: body\n"
		       "CSeq: 1 MESSAGE\n"
		       "c: text/html\n"
		       "Content-Length: 13\n"
		       "\n"
		       "<p>longer</p>");
	buf_free(&b);
	tmsg_free(r);
}

/* The stateful proxy's request path: every edit at once. */
TEST(sip_build_fwd_proxy_request_all_edits_byte_exact)
{
	static const char req[] =
		"INVITE sip:bob@biloxi.example.com SIP/2.0\n"
		"Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>\n"
		"v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKua\n"
		"Max-Forwards: 70\n"
		"t: Bob <sip:bob@biloxi.example.com>\n"
		"f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\n"
		"i: a84b4c76e66710\n"
		"CSeq: 314159 INVITE\n"
		"c: application/sdp\n"
		"\n"
		"v=0\n";
	struct tmsg *r = tmsg_new(req, true);
	struct pl via = PL("SIP/2.0/TCP p1.example.com;branch=z9hG4bKp1x");
	struct pl rr = PL("<sip:p1.example.com;lr>");
	struct sip_edits ed;
	struct buf b;

	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_fwd_route_pop(&ed), 0);
	ASSERT_EQ(sip_fwd_max_forwards_dec(&ed), 0);
	ASSERT_EQ(sip_fwd_rr_add(&ed, &rr), 0);
	ASSERT_EQ(sip_fwd_via_add(&ed, &via), 0);
	ASSERT_EQ(sip_fwd_content_length(&ed), 0);
	apply_ok(&ed, &b);
	ASSERT_BUF(&b, "INVITE sip:bob@biloxi.example.com SIP/2.0\n"
		       "Record-Route: <sip:p1.example.com;lr>\n"
		       "Route: <sip:p2.example.com;lr>\n"
		       "Via: SIP/2.0/TCP p1.example.com;branch=z9hG4bKp1x\n"
		       "v: SIP/2.0/UDP "
		       "pc33.atlanta.example.com;branch=z9hG4bKua\n"
		       "Max-Forwards: 69\n"
		       "t: Bob <sip:bob@biloxi.example.com>\n"
		       "f: Alice "
		       "<sip:alice@atlanta.example.com>;tag=1928301774\n"
		       "i: a84b4c76e66710\n"
		       "CSeq: 314159 INVITE\n"
		       "c: application/sdp\n"
		       "Content-Length: 5\n"
		       "\n"
		       "v=0\n");
	buf_free(&b);
	tmsg_free(r);
}

/* A TCP stream with two messages: only the first is forwarded. */
TEST(sip_build_fwd_stream_stops_at_message_end)
{
	static const char two[] = "MESSAGE sip:b@example.com SIP/2.0\n"
				  "Via: SIP/2.0/TCP "
				  "a.example.com;branch=z9hG4bKa\n"
				  "Max-Forwards: 70\n"
				  "From: <sip:x@example.com>;tag=1\n"
				  "To: <sip:b@example.com>\n"
				  "Call-ID: st\n"
				  "CSeq: 1 MESSAGE\n"
				  "Content-Type: text/plain\n"
				  "Content-Length: 2\n"
				  "\n"
				  "hi"
				  "OPTIONS sip:b@example.com SIP/2.0\n";
	char *text = crlf(two, NULL);
	struct sip_msg *m = malloc(sizeof(*m));
	struct pl rr = PL("<sip:p;lr>");
	struct sip_edits ed;
	uint16_t st;
	const char *why;
	struct buf b;

	ASSERT(m);
	ASSERT_EQ(sip_msg_decode(m, text, strlen(text), true), 0);
	ASSERT_EQ(sip_msg_validate(m, &st, &why), 0);
	sip_edits_init(&ed, m);
	ASSERT_EQ(sip_fwd_rr_add(&ed, &rr), 0);
	ASSERT_EQ(sip_fwd_max_forwards_dec(&ed), 0);
	apply_ok(&ed, &b);
	ASSERT_EQ(b.len, m->len + strlen("Record-Route: <sip:p;lr>\r\n"));
	ASSERT(!memcmp(b.data + b.len - 6, "\r\n\r\nhi", 6));
	ASSERT(has(&b, "Max-Forwards: 69\r\n"));
	buf_free(&b);
	free(m);
	free(text);
}

TEST(sip_build_edits_overlap_and_limits)
{
	struct tmsg *r = tmsg_new(simple_req, true);
	struct sip_edits ed;
	struct buf b;
	char big[SIP_EDITS_SCRATCH + 1];

	buf_init(&b, 65535);
	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_edits_add(&ed, 10, 5, NULL, 0), 0);
	ASSERT_EQ(sip_edits_add(&ed, 12, 5, "x", 1), 0);
	ASSERT_EQ(sip_edits_apply(&ed, &b), EINVAL);
	ASSERT_EQ(b.len, 0);
	/* Outside the message. */
	ASSERT_EQ(sip_edits_add(&ed, r->len, 1, NULL, 0), EINVAL);
	memset(big, 'x', sizeof(big));
	ASSERT_EQ(sip_edits_add(&ed, 0, 0, big, sizeof(big)), EOVERFLOW);
	sip_edits_init(&ed, &r->m);
	for (int i = 0; i < SIP_EDITS_MAX; i++)
		ASSERT_EQ(sip_edits_add(&ed, 0, 0, "a", 1), 0);
	ASSERT_EQ(sip_edits_add(&ed, 0, 0, "a", 1), EOVERFLOW);
	/* Inserts at one offset keep their order. */
	sip_edits_init(&ed, &r->m);
	ASSERT_EQ(sip_edits_add(&ed, 0, 0, "1", 1), 0);
	ASSERT_EQ(sip_edits_add(&ed, 0, 7, NULL, 0), 0);
	ASSERT_EQ(sip_edits_add(&ed, 0, 0, "2", 1), 0);
	ASSERT_EQ(sip_edits_apply(&ed, &b), 0);
	ASSERT(starts(&b, "12 sip:bob@"));
	buf_free(&b);
	tmsg_free(r);
}

/* ------------------------------------------------------------------ */
/* Identifiers                                                         */

TEST(sip_build_branch_tag_callid_format_and_uniqueness)
{
	char a[SIP_BRANCH_SIZE], b[SIP_BRANCH_SIZE], t[SIP_TAG_SIZE];
	char c[64], small[10];
	struct pl pa;

	sip_build_branch(a);
	sip_build_branch(b);
	ASSERT_EQ(strlen(a), 23);
	pl_set_str(&pa, a);
	ASSERT(sip_branch_has_cookie(&pa));
	ASSERT(strcmp(a, b) != 0);
	sip_build_tag(t);
	ASSERT_EQ(strlen(t), 16);
	ASSERT_EQ(sip_build_call_id(c, sizeof(c), "192.0.2.1"), 0);
	ASSERT_EQ(strlen(c), 26);
	ASSERT(!strcmp(c + 16, "@192.0.2.1"));
	ASSERT_EQ(sip_build_call_id(small, sizeof(small), NULL), EOVERFLOW);
	ASSERT_EQ(sip_build_call_id(c, sizeof(c), NULL), 0);
	ASSERT_EQ(strlen(c), 16);
}

TEST(sip_build_branches_unique_over_many)
{
	enum { N = 20000 };
	char(*v)[SIP_BRANCH_SIZE] = malloc(N * sizeof(*v));

	ASSERT(v);
	for (int i = 0; i < N; i++)
		sip_build_branch(v[i]);
	qsort(v, N, sizeof(*v), cmp_str);
	for (int i = 1; i < N; i++)
		ASSERT(strcmp(v[i - 1], v[i]) != 0);
	free(v);
}

TEST(sip_build_stateless_branch_deterministic)
{
	struct tmsg *inv = tmsg_new(invite_routes, true);
	struct tmsg *inv2 = tmsg_new(invite_routes, true);
	struct tmsg *other = tmsg_new(simple_req, true);
	struct tmsg *cancel;
	char b1[SIP_BRANCH_SIZE], b2[SIP_BRANCH_SIZE], b3[SIP_BRANCH_SIZE];
	struct buf cb;

	ASSERT_EQ(sip_build_branch_stateless(b1, &inv->m, 7), 0);
	/* A retransmission (another buffer, same bytes): the same. */
	ASSERT_EQ(sip_build_branch_stateless(b2, &inv2->m, 7), 0);
	ASSERT_STR(b1, b2);
	ASSERT(!strncmp(b1, "z9hG4bK", 7));
	/* The CANCEL of that INVITE: the same (§16.11). */
	buf_init(&cb, 65535);
	ASSERT_EQ(sip_build_cancel(&cb, &inv->m), 0);
	cancel = calloc(1, sizeof(*cancel));
	ASSERT(cancel);
	cancel->text = malloc(cb.len);
	ASSERT(cancel->text);
	memcpy(cancel->text, cb.data, cb.len);
	ASSERT_EQ(sip_msg_decode(&cancel->m, cancel->text, cb.len, false), 0);
	{
		uint16_t st;
		const char *why;

		ASSERT_EQ(sip_msg_validate(&cancel->m, &st, &why), 0);
	}
	ASSERT_EQ(sip_build_branch_stateless(b3, &cancel->m, 7), 0);
	ASSERT_STR(b1, b3);
	/* Another request, another secret: different. */
	ASSERT_EQ(sip_build_branch_stateless(b3, &other->m, 7), 0);
	ASSERT(strcmp(b1, b3) != 0);
	ASSERT_EQ(sip_build_branch_stateless(b3, &inv->m, 8), 0);
	ASSERT(strcmp(b1, b3) != 0);
	/* The same branch from another sent-by (§17.2.3): different. */
	{
		char *alt = strdup(invite_routes);
		char *h = strstr(alt, "uac.example.com");
		struct tmsg *o2;

		ASSERT(alt && h);
		memcpy(h, "uad", 3);
		o2 = tmsg_new(alt, true);
		ASSERT_PL(&o2->m.via.branch, "z9hG4bKinv1");
		ASSERT_EQ(sip_build_branch_stateless(b3, &o2->m, 7), 0);
		ASSERT(strcmp(b1, b3) != 0);
		tmsg_free(o2);
		free(alt);
	}
	buf_free(&cb);
	tmsg_free(inv);
	tmsg_free(inv2);
	tmsg_free(other);
	tmsg_free(cancel);
}

TEST(sip_build_stateless_branch_rfc2543_fallback)
{
	static const char old[] = "INVITE sip:bob@example.com SIP/2.0\n"
				  "Via: SIP/2.0/UDP old.example.com\n"
				  "Max-Forwards: 70\n"
				  "From: <sip:a@example.com>;tag=1\n"
				  "To: <sip:bob@example.com>\n"
				  "Call-ID: old-1\n"
				  "CSeq: 5 INVITE\n"
				  "Content-Length: 0\n\n";
	static const char old_cseq6[] = "INVITE sip:bob@example.com SIP/2.0\n"
					"Via: SIP/2.0/UDP old.example.com\n"
					"Max-Forwards: 70\n"
					"From: <sip:a@example.com>;tag=1\n"
					"To: <sip:bob@example.com>\n"
					"Call-ID: old-1\n"
					"CSeq: 6 INVITE\n"
					"Content-Length: 0\n\n";
	static const char old_cancel[] = "CANCEL sip:bob@example.com SIP/2.0\n"
					 "Via: SIP/2.0/UDP old.example.com\n"
					 "Max-Forwards: 70\n"
					 "From: <sip:a@example.com>;tag=1\n"
					 "To: <sip:bob@example.com>\n"
					 "Call-ID: old-1\n"
					 "CSeq: 5 CANCEL\n"
					 "Content-Length: 0\n\n";
	struct tmsg *a = tmsg_new(old, true), *b = tmsg_new(old_cseq6, true);
	struct tmsg *c = tmsg_new(old_cancel, true);
	char ba[SIP_BRANCH_SIZE], bb[SIP_BRANCH_SIZE], bc[SIP_BRANCH_SIZE];

	ASSERT_EQ(sip_build_branch_stateless(ba, &a->m, 1), 0);
	ASSERT_EQ(sip_build_branch_stateless(bb, &b->m, 1), 0);
	ASSERT_EQ(sip_build_branch_stateless(bc, &c->m, 1), 0);
	ASSERT(strcmp(ba, bb) != 0);
	ASSERT_STR(ba, bc);
	a->m.validated = false;
	ASSERT_EQ(sip_build_branch_stateless(ba, &a->m, 1), EINVAL);
	tmsg_free(a);
	tmsg_free(b);
	tmsg_free(c);
}
