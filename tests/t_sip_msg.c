/*
 * sip_msg: decoding, framing, limits, header lookup, and the value
 * decoders (Via, CSeq, name-addr, params).  Messages are written with
 * "\n" and turned into CRLF by msg().
 */
#include <errno.h>

#include "sip_msg.h"
#include "test.h"

static char bufs[4][70000];

/* Copies s into buffer n with every "\n" made "\r\n". */
static size_t crlf(int n, const char *s, const char **out)
{
	char *d = bufs[n];
	size_t l = 0;

	for (; *s; s++) {
		if (*s == '\n')
			d[l++] = '\r';
		d[l++] = *s;
	}
	d[l] = '\0';
	*out = d;
	return l;
}

static struct sip_msg msg_, msg2_;

/* Decodes the CRLF form of s as a datagram; returns the error. */
static int dec(const char *s, bool stream, const char **bp, size_t *lp)
{
	const char *b;
	size_t l = crlf(0, s, &b);

	if (bp)
		*bp = b;
	if (lp)
		*lp = l;
	return sip_msg_decode(&msg_, b, l, stream);
}

static const char *invite_f1 = "INVITE sip:bob@biloxi.com SIP/2.0\n"
			       "Via: SIP/2.0/UDP "
			       "pc33.atlanta.com;branch=z9hG4bKnashds8\n"
			       "Max-Forwards: 70\n"
			       "To: Bob <sip:bob@biloxi.com>\n"
			       "From: Alice "
			       "<sip:alice@atlanta.com>;tag=1928301774\n"
			       "Call-ID: a84b4c76e66710\n"
			       "CSeq: 314159 INVITE\n"
			       "Contact: <sip:alice@pc33.atlanta.com>\n"
			       "Content-Type: application/sdp\n"
			       "Content-Length: 14\n"
			       "\n"
			       "v=0\no=alice\n"; /* 14 bytes once CRLF */

/* RFC 3261 §24.2 F1 */
TEST(sip_msg_rfc3261_invite_f1)
{
	const struct sip_hdr *h;
	uint16_t st = 0;
	const char *why = NULL, *b;
	size_t l;

	ASSERT_EQ(dec(invite_f1, false, &b, &l), 0);
	ASSERT(msg_.is_request);
	ASSERT_EQ(msg_.method_id, SIP_METHOD_INVITE);
	ASSERT_PL(&msg_.method, "INVITE");
	ASSERT_PL(&msg_.ruri, "sip:bob@biloxi.com");
	ASSERT_PL(&msg_.version, "SIP/2.0");
	ASSERT_PL(&msg_.start_line, "INVITE sip:bob@biloxi.com SIP/2.0");
	ASSERT_EQ(msg_.nhdrs, 9);
	ASSERT_EQ(msg_.nlines, 9);
	ASSERT_EQ(msg_.content_length, 14);
	ASSERT(msg_.has_content_length);
	ASSERT_PL(&msg_.body, "v=0\r\no=alice\r\n");
	ASSERT_EQ(msg_.len, l);
	ASSERT(msg_.buf == b);
	ASSERT(!msg_.validated);
	h = sip_msg_hdr(&msg_, SIP_HDR_TO);
	ASSERT(h);
	ASSERT_PL(&h->name, "To");
	ASSERT_PL(&h->value, "Bob <sip:bob@biloxi.com>");
	ASSERT_PL(&h->line, "To: Bob <sip:bob@biloxi.com>\r\n");
	ASSERT_EQ(h->line_index, 2);
	ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), 0);
	ASSERT(msg_.validated);
	ASSERT_PL(&msg_.call_id, "a84b4c76e66710");
	ASSERT_EQ(msg_.cseq.num, 314159);
	ASSERT_EQ(msg_.cseq.method_id, SIP_METHOD_INVITE);
	ASSERT_PL(&msg_.from_tag, "1928301774");
	ASSERT_EQ(msg_.to_tag.l, 0);
	ASSERT_EQ(msg_.max_forwards, 70);
	ASSERT_PL(&msg_.via.host, "pc33.atlanta.com");
	ASSERT_PL(&msg_.via.branch, "z9hG4bKnashds8");
	ASSERT_EQ(msg_.via.port, 0);
	ASSERT(msg_.headers.p == b + 35);
	ASSERT(msg_.headers.p + msg_.headers.l == msg_.body.p);
}

/* RFC 3261 §24.1 REGISTER and its 200 OK */
TEST(sip_msg_rfc3261_register_and_ok)
{
	uint16_t st;
	const char *why;

	ASSERT_EQ(dec("REGISTER sip:registrar.biloxi.com SIP/2.0\n"
		      "Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch="
		      "z9hG4bKnashds7\n"
		      "Max-Forwards: 70\n"
		      "To: Bob <sip:bob@biloxi.com>\n"
		      "From: Bob <sip:bob@biloxi.com>;tag=456248\n"
		      "Call-ID: 843817637684230@998sdasdh09\n"
		      "CSeq: 1826 REGISTER\n"
		      "Contact: <sip:bob@192.0.2.4>\n"
		      "Expires: 7200\n"
		      "Content-Length: 0\n\n",
		      false, NULL, NULL),
		  0);
	ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), 0);
	ASSERT_EQ(msg_.method_id, SIP_METHOD_REGISTER);
	ASSERT_EQ(msg_.via.port, 5060);
	ASSERT_EQ(msg_.body.l, 0);
	ASSERT_PL(&sip_msg_hdr(&msg_, SIP_HDR_EXPIRES)->value, "7200");

	ASSERT_EQ(dec("SIP/2.0 200 OK\n"
		      "Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch="
		      "z9hG4bKnashds7\n ;received=192.0.2.4\n"
		      "To: Bob <sip:bob@biloxi.com>;tag=2493k59kd\n"
		      "From: Bob <sip:bob@biloxi.com>;tag=456248\n"
		      "Call-ID: 843817637684230@998sdasdh09\n"
		      "CSeq: 1826 REGISTER\n"
		      "Contact: <sip:bob@192.0.2.4>\n"
		      "Expires: 7200\n"
		      "Content-Length: 0\n\n",
		      false, NULL, NULL),
		  0);
	ASSERT(!msg_.is_request);
	ASSERT_EQ(msg_.status, 200);
	ASSERT_PL(&msg_.reason, "OK");
	ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), 0);
	ASSERT_PL(&msg_.via.received, "192.0.2.4");
	ASSERT_PL(&msg_.to_tag, "2493k59kd");
	ASSERT_EQ(msg_.cseq.method_id, SIP_METHOD_REGISTER);
	ASSERT(!msg_.has_max_forwards);
}

/* RFC 3261 §24.2 F8: a 180 through the proxy, two Vias on one line */
TEST(sip_msg_rfc3261_ringing_via_list)
{
	const struct sip_hdr *h;
	struct sip_via v;
	uint16_t st;
	const char *why;

	ASSERT_EQ(dec("SIP/2.0 180 Ringing\n"
		      "Via: SIP/2.0/UDP server10.biloxi.com;branch="
		      "z9hG4bK4b43c2ff8.1;received=192.0.2.3, SIP/2.0/UDP "
		      "bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1"
		      ";received=192.0.2.2\n"
		      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8"
		      ";received=192.0.2.1\n"
		      "Record-Route: <sip:server10.biloxi.com;lr>, "
		      "<sip:bigbox3.site3.atlanta.com;lr>\n"
		      "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\n"
		      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"
		      "Call-ID: a84b4c76e66710@pc33.atlanta.com\n"
		      "Contact: <sip:bob@192.0.2.4>\n"
		      "CSeq: 314159 INVITE\n"
		      "Content-Length: 0\n\n",
		      false, NULL, NULL),
		  0);
	ASSERT_EQ(msg_.count[SIP_HDR_VIA], 3);
	ASSERT_EQ(msg_.count[SIP_HDR_RECORD_ROUTE], 2);
	ASSERT_EQ(msg_.nlines, 9);
	ASSERT_EQ(msg_.nhdrs, 11);
	h = sip_msg_hdr(&msg_, SIP_HDR_VIA);
	ASSERT(pl_eq(&h->line, &msg_.hdrs[h->next].line));
	ASSERT_EQ(h->line_index, 0);
	h = sip_msg_hdr_next(&msg_, h);
	ASSERT_EQ(h->line_index, 0);
	ASSERT_EQ(sip_via_decode(&v, &h->value), 0);
	ASSERT_PL(&v.host, "bigbox3.site3.atlanta.com");
	h = sip_msg_hdr_next(&msg_, h);
	ASSERT_EQ(h->line_index, 1);
	ASSERT_EQ(sip_via_decode(&v, &h->value), 0);
	ASSERT_PL(&v.received, "192.0.2.1");
	ASSERT(!sip_msg_hdr_next(&msg_, h));
	h = sip_msg_hdr(&msg_, SIP_HDR_RECORD_ROUTE);
	ASSERT_PL(&h->value, "<sip:server10.biloxi.com;lr>");
	ASSERT_PL(&sip_msg_hdr_next(&msg_, h)->value, "<sip:bigbox3.site3."
						      "atlanta.com;lr>");
	ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), 0);
	ASSERT_PL(&msg_.via.host, "server10.biloxi.com");
	ASSERT_EQ(msg_.status, 180);
	ASSERT_PL(&msg_.reason, "Ringing");
}

TEST(sip_msg_compact_forms)
{
	static const struct {
		const char *name;
		enum sip_hdr_id id;
	} c[] = {
		{"v", SIP_HDR_VIA},
		{"f", SIP_HDR_FROM},
		{"t", SIP_HDR_TO},
		{"i", SIP_HDR_CALL_ID},
		{"m", SIP_HDR_CONTACT},
		{"l", SIP_HDR_CONTENT_LENGTH},
		{"c", SIP_HDR_CONTENT_TYPE},
		{"e", SIP_HDR_CONTENT_ENCODING},
		{"s", SIP_HDR_SUBJECT},
		{"k", SIP_HDR_SUPPORTED},
		{"o", SIP_HDR_EVENT},
		{"r", SIP_HDR_REFER_TO},
		{"u", SIP_HDR_ALLOW_EVENTS},
		{"V", SIP_HDR_VIA},
		{"L", SIP_HDR_CONTENT_LENGTH},
		{"x", SIP_HDR_OTHER},
		{"a", SIP_HDR_OTHER},
	};
	uint16_t st;
	const char *why;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct pl n;

		pl_set_str(&n, c[i].name);
		ASSERT_MSG(sip_hdr_id_decode(&n) == c[i].id, "%s", c[i].name);
	}
	ASSERT_EQ(dec("OPTIONS sip:a@b.example SIP/2.0\n"
		      "v: SIP/2.0/TCP h.example;branch=z9hG4bK1\n"
		      "f: <sip:x@y.example>;tag=1\n"
		      "t: sip:a@b.example\n"
		      "i: abc@def\n"
		      "CSeq: 2 OPTIONS\n"
		      "k: path, gruu\n"
		      "s: hello\n"
		      "m: <sip:x@10.0.0.1>\n"
		      "c: text/plain\n"
		      "l: 2\n\nhi",
		      false, NULL, NULL),
		  0);
	ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), 0);
	ASSERT_PL(&msg_.call_id, "abc@def");
	ASSERT_PL(&msg_.from_tag, "1");
	ASSERT_EQ(msg_.count[SIP_HDR_SUPPORTED], 2);
	ASSERT_PL(&sip_msg_hdr_by_name(&msg_, "Subject")->value, "hello");
	ASSERT_PL(&sip_msg_hdr_by_name(&msg_, "SUPPORTED")->value, "path");
	ASSERT_PL(&sip_msg_hdr_by_name(&msg_, "l")->value, "2");
	ASSERT_PL(&msg_.body, "hi");
	ASSERT_EQ(msg_.via.tp, SIP_TP_TCP);
}

TEST(sip_msg_hdr_names_round_trip)
{
	for (int id = 1; id < SIP_HDR_COUNT; id++) {
		struct pl n;
		char up[64];
		size_t i;

		pl_set_str(&n, sip_hdr_name((enum sip_hdr_id)id));
		ASSERT_MSG(n.l > 0, "id %d has no name", id);
		ASSERT_MSG(sip_hdr_id_decode(&n) == (enum sip_hdr_id)id, "%s",
			   sip_hdr_name((enum sip_hdr_id)id));
		for (i = 0; i < n.l && i < sizeof(up) - 1; i++)
			up[i] = (char)(n.p[i] >= 'a' && n.p[i] <= 'z'
					       ? n.p[i] - 32
					       : n.p[i]);
		up[i] = '\0';
		pl_set_str(&n, up);
		ASSERT_EQ(sip_hdr_id_decode(&n), id);
	}
	ASSERT_STR(sip_hdr_name(SIP_HDR_OTHER), "");
	ASSERT_STR(sip_hdr_name(SIP_HDR_COUNT), "");
	{
		struct pl x = PL("Vias"), y = PL("X-Via"), z = PL("");

		ASSERT_EQ(sip_hdr_id_decode(&x), SIP_HDR_OTHER);
		ASSERT_EQ(sip_hdr_id_decode(&y), SIP_HDR_OTHER);
		ASSERT_EQ(sip_hdr_id_decode(&z), SIP_HDR_OTHER);
	}
	ASSERT(sip_hdr_is_list(SIP_HDR_VIA));
	ASSERT(sip_hdr_is_list(SIP_HDR_CONTACT));
	ASSERT(sip_hdr_is_list(SIP_HDR_ALLOW));
	ASSERT(!sip_hdr_is_list(SIP_HDR_AUTHORIZATION));
	ASSERT(!sip_hdr_is_list(SIP_HDR_WWW_AUTHENTICATE));
	ASSERT(!sip_hdr_is_list(SIP_HDR_REPLY_TO));
	ASSERT(!sip_hdr_is_list(SIP_HDR_OTHER));
}

TEST(sip_msg_methods_and_transports)
{
	for (int m = 1; m < SIP_METHOD_COUNT; m++) {
		struct pl n;

		pl_set_str(&n, sip_method_name((enum sip_method)m));
		ASSERT_EQ(sip_method_decode(&n), m);
	}
	{
		struct pl lc = PL("invite"), x = PL("INVITEX"), e = PL("");
		struct pl tcp = PL("tcp"), ws = PL("WS"), none = PL("");

		/* RFC 3261 §7.1: method names are case-sensitive */
		ASSERT_EQ(sip_method_decode(&lc), SIP_METHOD_OTHER);
		ASSERT_EQ(sip_method_decode(&x), SIP_METHOD_OTHER);
		ASSERT_EQ(sip_method_decode(&e), SIP_METHOD_OTHER);
		ASSERT_EQ(sip_transport_decode(&tcp), SIP_TP_TCP);
		ASSERT_EQ(sip_transport_decode(&ws), SIP_TP_OTHER);
		ASSERT_EQ(sip_transport_decode(&none), SIP_TP_NONE);
	}
	ASSERT_STR(sip_method_name(SIP_METHOD_OTHER), "");
	ASSERT_STR(sip_transport_name(SIP_TP_SCTP), "SCTP");
	ASSERT_STR(sip_transport_name(SIP_TP_OTHER), "");
}

/* RFC 3261 §7.3.1: folded lines stay inside the value view */
TEST(sip_msg_folding)
{
	const struct sip_hdr *h;

	ASSERT_EQ(dec("MESSAGE sip:a@b.example SIP/2.0\n"
		      "Subject: first\n  second\n\tthird\n"
		      "X-Empty:\n"
		      "X-Fold:\n value\n"
		      "Via: SIP/2.0/UDP h.example\n ;branch=z9hG4bKx\n"
		      "l: 0\n\n",
		      false, NULL, NULL),
		  0);
	h = sip_msg_hdr(&msg_, SIP_HDR_SUBJECT);
	ASSERT_PL(&h->value, "first\r\n  second\r\n\tthird");
	ASSERT_PL(&h->line, "Subject: first\r\n  second\r\n\tthird\r\n");
	h = sip_msg_hdr_by_name(&msg_, "x-empty");
	ASSERT(h);
	ASSERT_EQ(h->value.l, 0);
	ASSERT_PL(&sip_msg_hdr_by_name(&msg_, "X-Fold")->value, "value");
	ASSERT_EQ(msg_.nlines, 5);
	ASSERT_EQ(msg_.hdrs[4].line_index, 4);
}

TEST(sip_msg_comma_split_quotes_brackets)
{
	const struct sip_hdr *h;

	ASSERT_EQ(dec("INVITE sip:a@b.example SIP/2.0\n"
		      "Contact: \"Doe, John\" <sip:j@h.example;x=\"a,b\">;q=1,"
		      " <sip:odd,user@h.example> ,sip:c@d.example\n"
		      "Authorization: Digest username=\"a\", realm=\"b\", "
		      "nonce=\"c\"\n"
		      "WWW-Authenticate: Digest realm=\"x\", nonce=\"y\"\n"
		      "Warning: 399 h.example \"a, b\", 307 h2 \"c\"\n"
		      "Accept: text/plain,,application/sdp,\n"
		      "Supported:\n"
		      "Reply-To: Bob <sip:bob@b.example>\n"
		      "Route: <sip:p1.example;lr>,<sip:p2.example;lr>\n"
		      "l: 0\n\n",
		      false, NULL, NULL),
		  0);
	ASSERT_EQ(msg_.count[SIP_HDR_CONTACT], 3);
	h = sip_msg_hdr(&msg_, SIP_HDR_CONTACT);
	ASSERT_PL(&h->value, "\"Doe, John\" <sip:j@h.example;x=\"a,b\">;q=1");
	h = sip_msg_hdr_next(&msg_, h);
	ASSERT_PL(&h->value, "<sip:odd,user@h.example>");
	h = sip_msg_hdr_next(&msg_, h);
	ASSERT_PL(&h->value, "sip:c@d.example");
	ASSERT_EQ(msg_.count[SIP_HDR_AUTHORIZATION], 1);
	ASSERT_EQ(msg_.count[SIP_HDR_WWW_AUTHENTICATE], 1);
	ASSERT_EQ(msg_.count[SIP_HDR_WARNING], 2);
	ASSERT_PL(&sip_msg_hdr(&msg_, SIP_HDR_WARNING)->value, "399 h.example "
							       "\"a, b\"");
	/* empty elements are dropped */
	ASSERT_EQ(msg_.count[SIP_HDR_ACCEPT], 2);
	ASSERT_PL(&sip_msg_hdr_next(&msg_, sip_msg_hdr(&msg_, SIP_HDR_ACCEPT))
			   ->value,
		  "application/sdp");
	/* but an empty header still exists */
	ASSERT_EQ(msg_.count[SIP_HDR_SUPPORTED], 1);
	ASSERT_EQ(sip_msg_hdr(&msg_, SIP_HDR_SUPPORTED)->value.l, 0);
	ASSERT_EQ(msg_.count[SIP_HDR_REPLY_TO], 1);
	ASSERT_EQ(msg_.count[SIP_HDR_ROUTE], 2);
}

TEST(sip_msg_contact_star_one_value)
{
	struct sip_addr a;

	ASSERT_EQ(dec("REGISTER sip:r.example SIP/2.0\n"
		      "Contact: *\nExpires: 0\nl: 0\n\n",
		      false, NULL, NULL),
		  0);
	ASSERT_EQ(msg_.count[SIP_HDR_CONTACT], 1);
	ASSERT_EQ(sip_addr_decode(&a,
				  &sip_msg_hdr(&msg_, SIP_HDR_CONTACT)->value),
		  0);
	ASSERT(a.star);
}

/* RFC 3261 §18.3: a datagram's octets past Content-Length are noise */
TEST(sip_msg_datagram_trailing_junk)
{
	const char *b;
	size_t l;
	uint16_t st;
	const char *why;

	ASSERT_EQ(dec("OPTIONS sip:a@b.example SIP/2.0\n"
		      "Via: SIP/2.0/UDP h.example;branch=z9hG4bK1\n"
		      "From: <sip:x@y.example>;tag=1\nTo: <sip:a@b.example>\n"
		      "Call-ID: 1@h\nCSeq: 1 OPTIONS\nMax-Forwards: 70\n"
		      "Content-Length: 4\n\nbodyJUNKJUNK",
		      false, &b, &l),
		  0);
	ASSERT_PL(&msg_.body, "body");
	ASSERT_EQ(msg_.len, l - 8);
	ASSERT_EQ(msg_.framing_error, 0);
	ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), 0);
}

TEST(sip_msg_datagram_framing_errors)
{
	static const char *cl[] = {"100", "abc", "-1", "1 2", "99999999999"};
	uint16_t st = 0;
	const char *why = NULL;
	char m[512];

	for (size_t i = 0; i < sizeof(cl) / sizeof(cl[0]); i++) {
		snprintf(m, sizeof(m),
			 "OPTIONS sip:a@b.example SIP/2.0\n"
			 "Via: SIP/2.0/UDP h.example;branch=z9hG4bK1\n"
			 "From: <sip:x@y.example>;tag=1\n"
			 "To: <sip:a@b.example>\nCall-ID: 1@h\n"
			 "CSeq: 1 OPTIONS\nContent-Length: %s\n\nbody",
			 cl[i]);
		ASSERT_EQ(dec(m, false, NULL, NULL), 0);
		ASSERT_MSG(msg_.framing_error == EBADMSG, "CL %s", cl[i]);
		ASSERT_PL(&msg_.body, "body");
		ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), EBADMSG);
		ASSERT_EQ(st, 400);
		/* a stream cannot be framed with it */
		ASSERT_EQ(dec(m, true, NULL, NULL),
			  i == 0 ? ENODATA : EBADMSG);
	}
	/* no Content-Length: the rest of the datagram */
	ASSERT_EQ(dec("OPTIONS sip:a@b.example SIP/2.0\nX: y\n\nrest\n", false,
		      NULL, NULL),
		  0);
	ASSERT(!msg_.has_content_length);
	ASSERT_PL(&msg_.body, "rest\r\n");
	ASSERT_EQ(msg_.framing_error, 0);
	/* repeated with the same value is fine */
	ASSERT_EQ(dec("OPTIONS sip:a@b.example SIP/2.0\nl: 2\n"
		      "Content-Length: 02\n\nokJUNK",
		      false, NULL, NULL),
		  0);
	ASSERT_EQ(msg_.framing_error, 0);
	ASSERT_PL(&msg_.body, "ok");
}

/* Every split point of a stream message is ENODATA until complete. */
TEST(sip_msg_stream_every_split_point)
{
	const char *b;
	size_t l, k;

	l = crlf(1, invite_f1, &b);
	for (k = 0; k < l; k++)
		ASSERT_MSG(sip_msg_decode(&msg_, b, k, true) == ENODATA,
			   "split at %zu", k);
	ASSERT_EQ(sip_msg_decode(&msg_, b, l, true), 0);
	ASSERT_EQ(msg_.len, l);
	ASSERT_EQ(msg_.body.l, 14);
}

TEST(sip_msg_stream_two_coalesced)
{
	char both[2048];
	const char *b;
	size_t l, n;

	l = crlf(1, invite_f1, &b);
	memcpy(both, b, l);
	n = crlf(2, "OPTIONS sip:x@y.example SIP/2.0\nCSeq: 1 OPTIONS\n\n",
		 &b);
	memcpy(both + l, b, n);
	ASSERT_EQ(sip_msg_decode(&msg_, both, l + n, true), 0);
	ASSERT_EQ(msg_.len, l);
	ASSERT_EQ(msg_.method_id, SIP_METHOD_INVITE);
	ASSERT_EQ(sip_msg_decode(&msg2_, both + msg_.len, l + n - msg_.len,
				 true),
		  0);
	ASSERT_EQ(msg2_.len, n);
	ASSERT_EQ(msg2_.method_id, SIP_METHOD_OPTIONS);
	ASSERT_EQ(msg2_.body.l, 0);
	/* the first view survives the second decode */
	ASSERT_PL(&msg_.ruri, "sip:bob@biloxi.com");
}

/* Keep-alives (RFC 5626 §3.5.1): CRLFCRLF before a message */
TEST(sip_msg_keepalive_crlf)
{
	const char *ka = "\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\n\r\n";
	size_t n = sip_msg_skip_crlf(ka, strlen(ka));

	ASSERT_EQ(n, 4);
	ASSERT_EQ(sip_msg_skip_crlf("\r\n\r\n", 4), 4);
	ASSERT_EQ(sip_msg_skip_crlf("\r\n", 1), 1);
	ASSERT_EQ(sip_msg_skip_crlf("X\r\n", 3), 0);
	ASSERT_EQ(sip_msg_skip_crlf("", 0), 0);
	ASSERT_EQ(sip_msg_decode(&msg_, ka + n, strlen(ka) - n, true), 0);
	ASSERT_EQ(msg_.len, strlen(ka) - n);
	/* not skipped: the decoder says the start line is bad */
	ASSERT_EQ(sip_msg_decode(&msg_, ka, strlen(ka), true), EBADMSG);
	ASSERT_EQ(sip_msg_decode(&msg_, ka, 0, true), ENODATA);
}

TEST(sip_msg_limit_header_count)
{
	static char m[20000];
	size_t l = 0;
	int i;

	l += (size_t)snprintf(m + l, sizeof(m) - l,
			      "OPTIONS sip:a@b SIP/2.0\n");
	for (i = 0; i < (int)SIP_MSG_MAX_HDRS; i++)
		l += (size_t)snprintf(m + l, sizeof(m) - l, "X-H%d: %d\n", i,
				      i);
	snprintf(m + l, sizeof(m) - l, "\n");
	ASSERT_EQ(dec(m, false, NULL, NULL), 0);
	ASSERT_EQ(msg_.nhdrs, SIP_MSG_MAX_HDRS);
	snprintf(m + l, sizeof(m) - l, "X-Last: 1\n\n");
	ASSERT_EQ(dec(m, false, NULL, NULL), EOVERFLOW);
	/* list elements count too */
	l = (size_t)snprintf(m, sizeof(m), "OPTIONS sip:a@b SIP/2.0\nAllow: ");
	for (i = 0; i <= (int)SIP_MSG_MAX_HDRS; i++)
		l += (size_t)snprintf(m + l, sizeof(m) - l, "M%d,", i);
	snprintf(m + l, sizeof(m) - l, "\n\n");
	ASSERT_EQ(dec(m, false, NULL, NULL), EOVERFLOW);
	ASSERT_EQ(dec(m, true, NULL, NULL), EOVERFLOW);
}

TEST(sip_msg_limit_start_line)
{
	static char m[SIP_MSG_MAX_START_LINE + 200];
	size_t pre = strlen("OPTIONS sip:"), post = strlen(" SIP/2.0");
	size_t ulen = SIP_MSG_MAX_START_LINE - pre - post;

	memcpy(m, "OPTIONS sip:", pre);
	memset(m + pre, 'a', ulen);
	memcpy(m + pre + ulen, " SIP/2.0\r\n\r\n", 13);
	ASSERT_EQ(sip_msg_decode(&msg_, m, strlen(m), false), 0);
	ASSERT_EQ(msg_.start_line.l, SIP_MSG_MAX_START_LINE);
	memset(m + pre, 'a', ulen + 1);
	memcpy(m + pre + ulen + 1, " SIP/2.0\r\n\r\n", 13);
	ASSERT_EQ(sip_msg_decode(&msg_, m, strlen(m), false), EOVERFLOW);
	/* no line end in sight: over the limit without waiting */
	memset(m, 'a', sizeof(m));
	ASSERT_EQ(sip_msg_decode(&msg_, m, sizeof(m), true), EOVERFLOW);
	ASSERT_EQ(sip_msg_decode(&msg_, m, 100, true), ENODATA);
}

TEST(sip_msg_limit_message_size)
{
	static char m[SIP_MSG_MAX_SIZE + 1000];
	size_t l;

	/* a header section that never ends */
	l = (size_t)snprintf(m, sizeof(m),
			     "OPTIONS sip:a@b SIP/2.0\r\nX-Big: ");
	memset(m + l, 'x', sizeof(m) - l);
	ASSERT_EQ(sip_msg_decode(&msg_, m, sizeof(m), true), EOVERFLOW);
	ASSERT_EQ(sip_msg_decode(&msg_, m, sizeof(m), false), EOVERFLOW);
	/* a body that makes it too big */
	l = (size_t)snprintf(m, sizeof(m),
			     "OPTIONS sip:a@b SIP/2.0\r\nl: %u\r\n\r\n",
			     SIP_MSG_MAX_SIZE);
	ASSERT_EQ(sip_msg_decode(&msg_, m, l, true), EOVERFLOW);
	memset(m + l, 'b', sizeof(m) - l);
	ASSERT_EQ(sip_msg_decode(&msg_, m, sizeof(m), false), EOVERFLOW);
	/* just fits */
	l = (size_t)snprintf(m, sizeof(m),
			     "OPTIONS sip:a@b SIP/2.0\r\nl: %zu\r\n\r\n",
			     (size_t)SIP_MSG_MAX_SIZE - 37);
	ASSERT_EQ(l, 37);
	ASSERT_EQ(sip_msg_decode(&msg_, m, SIP_MSG_MAX_SIZE, true), 0);
	ASSERT_EQ(msg_.len, SIP_MSG_MAX_SIZE);
}

TEST(sip_msg_bad_framing_and_lines)
{
	static const char *bad[] = {
		"OPTIONS sip:a@b SIP/2.0\nNoColonHere\n\n",
		"OPTIONS sip:a@b SIP/2.0\n folded-first: x\n\n",
		"OPTIONS sip:a@b SIP/2.0\nBad Name: x\n\n",
		"OPTIONS sip:a@b SIP/2.0\n: empty name\n\n",
		"OPTIONS sip:a@b\n\n",
		"OPTIONS sip:a@b HTTP/1.1\n\n",
		"OPTIONS\n\n",
		"OPT<IONS sip:a@b SIP/2.0\n\n",
		"OPTIONS  SIP/2.0\n\n",
		"\nOPTIONS sip:a@b SIP/2.0\n\n",
		"SIP/2.0 20 OK\n\n",
		"SIP/2.0 2000 OK\n\n",
		"SIP/2.0 099 Low\n\n",
		"SIP/2.0 700 High\n\n",
		"SIP/2.0 200OK\n\n",
		"SIP/2.0\n\n",
		"OPTIONS sip:a@b SIP/2.0\nX: y\n\rZ: w\n\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = dec(bad[i], false, NULL, NULL);

		ASSERT_MSG(err == EBADMSG, "case %zu: %d", i, err);
	}
}

TEST(sip_msg_out_param_untouched_on_error)
{
	static struct sip_msg m;
	const char *b;
	/* A response: a request with a line without a colon is written
	 * (bad_line) so that it can be answered 400. */
	size_t l = crlf(0, "SIP/2.0 200 OK\nBad\n\n", &b);

	memset(&m, 0x5a, sizeof(m));
	ASSERT_EQ(sip_msg_decode(&m, b, l, false), EBADMSG);
	ASSERT_EQ(m.nhdrs, 0x5a5a);
	ASSERT_EQ(sip_msg_decode(&m, b, 10, true), ENODATA);
	ASSERT_EQ(m.nhdrs, 0x5a5a);
}

TEST(sip_msg_bare_lf_lines)
{
	const char *m = "OPTIONS sip:a@b.example SIP/2.0\nVia: SIP/2.0/UDP "
			"h.example;branch=z9hG4bK1\nFrom: <sip:x@y.example>"
			";tag=1\nTo: <sip:a@b.example>\nCall-ID: 1@h\n"
			"CSeq: 1 OPTIONS\nl: 3\n\nabc";
	uint16_t st;
	const char *why;

	ASSERT_EQ(sip_msg_decode(&msg_, m, strlen(m), true), 0);
	ASSERT_PL(&msg_.body, "abc");
	ASSERT_PL(&msg_.start_line, "OPTIONS sip:a@b.example SIP/2.0");
	ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), 0);
}

#define GOOD_OPTS                                      \
	"OPTIONS sip:a@b.example SIP/2.0\n"            \
	"Via: SIP/2.0/UDP h.example;branch=z9hG4bK1\n" \
	"From: <sip:x@y.example>;tag=1\n"              \
	"To: <sip:a@b.example>\n"                      \
	"Call-ID: 1@h\n"                               \
	"CSeq: 1 OPTIONS\n"                            \
	"%s\n"                                         \
	"l: 0\n\n"

/* Validates good_opts with one more header line; returns the status. */
static int validate_with(const char *extra, const char *why_part)
{
	char m[1024];
	uint16_t st = 0;
	const char *why = NULL;
	int err;

	snprintf(m, sizeof(m), GOOD_OPTS, extra);
	ASSERT_EQ(dec(m, false, NULL, NULL), 0);
	err = sip_msg_validate(&msg_, &st, &why);
	if (err == 0)
		return 0;
	ASSERT_EQ(err, EBADMSG);
	ASSERT(why != NULL);
	if (why_part)
		ASSERT_MSG(strstr(why, why_part), "why: %s", why);
	return st;
}

TEST(sip_msg_validate_header_rules)
{
	ASSERT_EQ(validate_with("Max-Forwards: 255", NULL), 0);
	ASSERT_EQ(msg_.max_forwards, 255);
	ASSERT_EQ(validate_with("Max-Forwards: 256", "Max-Forwards"), 400);
	ASSERT_EQ(validate_with("Max-Forwards: x", "Max-Forwards"), 400);
	ASSERT_EQ(validate_with("Max-Forwards: 1\nMax-Forwards: 1", NULL),
		  400);
	ASSERT_EQ(validate_with("Call-ID: 2@h", "Call-ID"), 400);
	ASSERT_EQ(validate_with("CSeq: 2 OPTIONS", "CSeq"), 400);
	ASSERT_EQ(validate_with("To: <sip:c@d>", "To"), 400);
	ASSERT_EQ(validate_with("From: <sip:c@d>", "From"), 400);
	ASSERT_EQ(validate_with("Contact: <sip:c@d", "Contact"), 400);
	ASSERT_EQ(validate_with("Contact: <sip:c@d>, *", NULL), 0);
	ASSERT_EQ(validate_with("X-Any: ,,,", NULL), 0);
}

TEST(sip_msg_validate_start_line_rules)
{
	static const struct {
		const char *line;
		int status;
	} c[] = {
		{"OPTIONS sip:a@b.example SIP/2.0", 0},
		{"OPTIONS sips:a@b.example SIP/2.0", 0},
		{"OPTIONS tel:+1-555-0100 SIP/2.0", 0},
		{"OPTIONS sip:a@b.example sip/2.0", 0},
		{"OPTIONS sip:a@b.example SIP/2.1", 505},
		{"OPTIONS sip:a@b.example SIP/3.0", 505},
		{"OPTIONS sip:a@b.example SIP/2.", 400},
		{"OPTIONS sip:a@b.example SIP/2.0x", 400},
		{"OPTIONS mailto:a@b.example SIP/2.0", 416},
		{"OPTIONS urn:service:sos SIP/2.0", 416},
		{"OPTIONS sip:a@b.example?X=y SIP/2.0", 400},
		{"OPTIONS sip:a@b..example SIP/2.0", 400},
		{"OPTIONS a@b.example SIP/2.0", 400},
		{"OPTIONS 1sip:a@b.example SIP/2.0", 400},
		{"OPTIONS sip:a@b.example  SIP/2.0", 400},
		{"OPTIONS sip:a@b.example SIP/2.0 ", 400},
		{"OPTIONS sip:a@b.example ;x SIP/2.0", 400},
		{"INVITE sip:a@b.example SIP/2.0", 400}, /* CSeq OPTIONS */
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char m[512];
		uint16_t st = 0;
		const char *why = NULL;
		int err;

		snprintf(m, sizeof(m),
			 "%s\nVia: SIP/2.0/UDP h.example;branch=z9hG4bK1\n"
			 "From: <sip:x@y.example>;tag=1\n"
			 "To: <sip:a@b.example>\nCall-ID: 1@h\n"
			 "CSeq: 1 OPTIONS\nl: 0\n\n",
			 c[i].line);
		ASSERT_EQ(dec(m, false, NULL, NULL), 0);
		err = sip_msg_validate(&msg_, &st, &why);
		ASSERT_MSG(err == (c[i].status ? EBADMSG : 0), "%s: %d %s",
			   c[i].line, err, why ? why : "");
		if (c[i].status)
			ASSERT_MSG(st == c[i].status, "%s: %u", c[i].line, st);
	}
}

TEST(sip_msg_validate_responses_drop)
{
	uint16_t st = 123;
	const char *why = NULL;

	ASSERT_EQ(dec("SIP/2.0 200 OK\n"
		      "Via: SIP/2.0/UDP h.example;branch=z9hG4bK1\n"
		      "From: <sip:x@y.example>;tag=1\n"
		      "To: <sip:a@b.example>;tag=2\n"
		      "CSeq: 1 OPTIONS\n"
		      "l: 0\n\n",
		      false, NULL, NULL),
		  0);
	ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), EBADMSG);
	ASSERT_EQ(st, 0);
	ASSERT_STR(why, "Missing Call-ID");
	ASSERT(!msg_.validated);
	ASSERT_EQ(dec("SIP/2.0 183 \n"
		      "Via: SIP/2.0/UDP h.example;branch=z9hG4bK1\n"
		      "From: <sip:x@y.example>;tag=1\n"
		      "To: <sip:a@b.example>;tag=2\n"
		      "Call-ID: c\nCSeq: 1 INVITE\n"
		      "l: 0\n\n",
		      false, NULL, NULL),
		  0);
	ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), 0);
	ASSERT_EQ(msg_.reason.l, 0);
	/* validated stays: a second call answers 0 at once */
	ASSERT_EQ(sip_msg_validate(&msg_, NULL, NULL), 0);
}

TEST(sip_msg_validate_missing_via)
{
	uint16_t st = 0;
	const char *why = NULL;

	ASSERT_EQ(dec("OPTIONS sip:a@b.example SIP/2.0\n"
		      "From: <sip:x@y.example>;tag=1\n"
		      "To: <sip:a@b.example>\nCall-ID: 1@h\n"
		      "CSeq: 1 OPTIONS\nl: 0\n\n",
		      false, NULL, NULL),
		  0);
	ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), EBADMSG);
	ASSERT_EQ(st, 400);
	ASSERT_STR(why, "Missing Via");
	ASSERT_EQ(validate_with("X: 1", NULL), 0);
	ASSERT_EQ(dec("OPTIONS sip:a@b.example SIP/2.0\n"
		      "Via: SIP/3.0/UDP h.example\n"
		      "From: <sip:x@y.example>;tag=1\n"
		      "To: <sip:a@b.example>\nCall-ID: 1@h\n"
		      "CSeq: 1 OPTIONS\nl: 0\n\n",
		      false, NULL, NULL),
		  0);
	ASSERT_EQ(sip_msg_validate(&msg_, &st, &why), EBADMSG);
	ASSERT_EQ(st, 400);
}

/* ---------------------------------------------------------------- */

TEST(sip_msg_via_decode_params)
{
	struct pl v = PL("SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK77;"
			 "received=10.0.0.1;rport=5070;maddr=224.0.0.1;ttl=16"
			 ";x-y");
	struct sip_via via;

	ASSERT_EQ(sip_via_decode(&via, &v), 0);
	ASSERT_PL(&via.transport, "UDP");
	ASSERT_EQ(via.tp, SIP_TP_UDP);
	ASSERT_PL(&via.host, "192.0.2.1");
	ASSERT(!via.host_is_ipv6);
	ASSERT_EQ(via.port, 5062);
	ASSERT_PL(&via.branch, "z9hG4bK77");
	ASSERT_PL(&via.received, "10.0.0.1");
	ASSERT(via.has_rport);
	ASSERT_EQ(via.rport, 5070);
	ASSERT_PL(&via.maddr, "224.0.0.1");
	ASSERT_PL(&via.ttl, "16");
	ASSERT(via.params.p[0] == ';');
	ASSERT(sip_param_exists(&via.params, "x-y"));
	ASSERT(pl_eq(&via.value, &v));
}

TEST(sip_msg_via_decode_rport_forms)
{
	struct pl a = PL("SIP/2.0/TCP h.example;rport;branch=z9hG4bK1");
	struct pl b = PL("SIP/2.0/TCP h.example;branch=z9hG4bK1");
	struct pl c = PL("SIP/2.0/TCP h.example;rport=");
	struct pl d = PL("SIP/2.0/TCP h.example;rport=70000");
	struct sip_via via;

	ASSERT_EQ(sip_via_decode(&via, &a), 0);
	ASSERT(via.has_rport);
	ASSERT_EQ(via.rport, 0);
	ASSERT_EQ(sip_via_decode(&via, &b), 0);
	ASSERT(!via.has_rport);
	ASSERT_EQ(sip_via_decode(&via, &c), EBADMSG);
	ASSERT_EQ(sip_via_decode(&via, &d), EBADMSG);
}

TEST(sip_msg_via_decode_ipv6_and_lws)
{
	struct pl a = PL("SIP/2.0/TLS [2001:db8::9:1]:5061;branch=z9hG4bKx;"
			 "received=[2001:db8::9:255]");
	struct pl b = PL(" SIP / 2.0 / udp\r\n  host.example : 5060 ;\r\n "
			 "branch = z9hG4bK1 ; rport ");
	struct sip_via via;

	ASSERT_EQ(sip_via_decode(&via, &a), 0);
	ASSERT(via.host_is_ipv6);
	ASSERT_PL(&via.host, "2001:db8::9:1");
	ASSERT_EQ(via.port, 5061);
	ASSERT_EQ(via.tp, SIP_TP_TLS);
	ASSERT_PL(&via.received, "[2001:db8::9:255]");
	ASSERT_EQ(sip_via_decode(&via, &b), 0);
	ASSERT_EQ(via.tp, SIP_TP_UDP);
	ASSERT_PL(&via.transport, "udp");
	ASSERT_PL(&via.host, "host.example");
	ASSERT_EQ(via.port, 5060);
	ASSERT_PL(&via.branch, "z9hG4bK1");
	ASSERT(via.has_rport);
}

TEST(sip_msg_via_decode_rejects)
{
	static const char *bad[] = {
		"",
		"SIP/2.0/UDP",
		"SIP/2.0 host.example",
		"SIP/2.0/UDPhost.example",
		"SIP/2.0/UDP host.example:0",
		"SIP/2.0/UDP host.example:65536",
		"SIP/2.0/UDP host.example:",
		"SIP/2.0/UDP host.example;;",
		"SIP/2.0/UDP host.example;branch",
		"SIP/2.0/UDP host.example;branch=",
		"SIP/2.0/UDP host.example;ttl=256",
		"SIP/2.0/UDP [::1",
		"SIP/2.0/UDP []",
		"SIP/2.0/UDP host.example junk",
		"SIP/2.0/UDP host_example",
	};
	struct sip_via via;

	memset(&via, 0x5a, sizeof(via));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pl v;

		pl_set_str(&v, bad[i]);
		ASSERT_MSG(sip_via_decode(&via, &v) == EBADMSG, "\"%s\"",
			   bad[i]);
	}
	ASSERT_EQ(via.port, 0x5a5a);
}

TEST(sip_msg_cseq_decode)
{
	struct pl ok = PL("2147483647 INVITE"), over = PL("2147483648 ACK");
	struct pl huge = PL("36893488147419103232 REGISTER");
	struct pl lws = PL(" 0009\r\n  INVITE "), ext = PL("1 FOO-BAR");
	struct sip_cseq c;

	ASSERT_EQ(sip_cseq_decode(&c, &ok), 0);
	ASSERT_EQ(c.num, 2147483647u);
	ASSERT_EQ(c.method_id, SIP_METHOD_INVITE);
	c.num = 7;
	ASSERT_EQ(sip_cseq_decode(&c, &over), EOVERFLOW);
	ASSERT_EQ(sip_cseq_decode(&c, &huge), EOVERFLOW);
	ASSERT_EQ(c.num, 7);
	ASSERT_EQ(sip_cseq_decode(&c, &lws), 0);
	ASSERT_EQ(c.num, 9);
	ASSERT_PL(&c.method, "INVITE");
	ASSERT_EQ(sip_cseq_decode(&c, &ext), 0);
	ASSERT_EQ(c.method_id, SIP_METHOD_OTHER);
	ASSERT_PL(&c.method, "FOO-BAR");
	{
		static const char *bad[] = {
			"",	 "INVITE", "1",	      "1INVITE",   "-1 INVITE",
			"1 A B", "x1 ACK", "1 <ACK>", "99999x ACK"};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct pl v;

			pl_set_str(&v, bad[i]);
			ASSERT_MSG(sip_cseq_decode(&c, &v) == EBADMSG, "%s",
				   bad[i]);
		}
	}
}

TEST(sip_msg_addr_decode_forms)
{
	struct pl a = PL("\"Alice \\\"A\\\"\" <sip:alice@atlanta.example>"
			 ";tag=88sja8x");
	struct pl b = PL("Bob Smith<sips:bob@b.example;transport=tcp>;q=0.5");
	struct pl c = PL("sip:carol@c.example;tag=x;expires=60");
	struct pl d = PL("<sip:d@d.example?Subject=hi>");
	struct pl e = PL("  tel:+15551234 ;tag=t ");
	struct sip_addr ad;

	ASSERT_EQ(sip_addr_decode(&ad, &a), 0);
	ASSERT(ad.angle);
	ASSERT_PL(&ad.dname, "\"Alice \\\"A\\\"\"");
	ASSERT_PL(&ad.uri, "sip:alice@atlanta.example");
	ASSERT_PL(&ad.tag, "88sja8x");
	ASSERT_EQ(sip_addr_decode(&ad, &b), 0);
	ASSERT_PL(&ad.dname, "Bob Smith");
	ASSERT_PL(&ad.uri, "sips:bob@b.example;transport=tcp");
	ASSERT_PL(&ad.params, ";q=0.5");
	ASSERT_EQ(ad.tag.l, 0);
	ASSERT_EQ(sip_addr_decode(&ad, &c), 0);
	ASSERT(!ad.angle);
	ASSERT_EQ(ad.dname.l, 0);
	ASSERT_PL(&ad.uri, "sip:carol@c.example");
	ASSERT_PL(&ad.tag, "x");
	ASSERT_PL(&ad.params, ";tag=x;expires=60");
	ASSERT_EQ(sip_addr_decode(&ad, &d), 0);
	ASSERT_PL(&ad.uri, "sip:d@d.example?Subject=hi");
	ASSERT_EQ(sip_addr_decode(&ad, &e), 0);
	ASSERT_PL(&ad.uri, "tel:+15551234");
	ASSERT_PL(&ad.tag, "t");
}

TEST(sip_msg_addr_decode_rejects)
{
	static const char *bad[] = {
		"",
		"\"unterminated <sip:a@b>",
		"<sip:a@b",
		"<sip:a@b> junk",
		"<sip:a@b>;;",
		"Bell, Alexander <sip:a@b>",
		"< sip:a@b >",
		"<sip:a @b>",
		"sip:a@b?Route=x",
		"noscheme@b",
		"\"x\" sip:a@b",
		"<>",
		"<sip:a@b>;tag=",
		"sip:a@b;tag=\"open",
	};
	struct sip_addr ad;

	memset(&ad, 0x5a, sizeof(ad));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pl v;

		pl_set_str(&v, bad[i]);
		ASSERT_MSG(sip_addr_decode(&ad, &v) == EBADMSG, "\"%s\"",
			   bad[i]);
	}
	ASSERT_EQ(ad.uri.l, 0x5a5a5a5a5a5a5a5aull);
}

TEST(sip_msg_param_get)
{
	struct pl p = PL(";a=b;c;D=e ; f = \"q;x\" ;ip=[::1]");
	struct pl noleading = PL("tag=1;x");
	struct pl v = PL("unchanged");

	ASSERT_EQ(sip_param_get(&p, "a", &v), 0);
	ASSERT_PL(&v, "b");
	ASSERT_EQ(sip_param_get(&p, "c", &v), 0);
	ASSERT_EQ(v.l, 0);
	ASSERT_EQ(sip_param_get(&p, "d", &v), 0);
	ASSERT_PL(&v, "e");
	ASSERT_EQ(sip_param_get(&p, "F", &v), 0);
	ASSERT_PL(&v, "\"q;x\"");
	ASSERT_EQ(sip_param_get(&p, "ip", &v), 0);
	ASSERT_PL(&v, "[::1]");
	v.l = 3;
	ASSERT_EQ(sip_param_get(&p, "x", &v), ENOENT);
	ASSERT_EQ(sip_param_get(&p, "q", &v), ENOENT);
	ASSERT_EQ(v.l, 3);
	ASSERT_EQ(sip_param_get(&noleading, "tag", &v), 0);
	ASSERT_PL(&v, "1");
	ASSERT(sip_param_exists(&noleading, "X"));
	ASSERT(!sip_param_exists(&noleading, "ta"));
}

TEST(sip_msg_hdr_lookup)
{
	const struct sip_hdr *h;

	ASSERT_EQ(dec("OPTIONS sip:a@b SIP/2.0\n"
		      "Route: <sip:1>\nX-A: 1\nroute: <sip:2>, <sip:3>\n"
		      "x-a: 2\nROUTE: <sip:4>\n\n",
		      false, NULL, NULL),
		  0);
	ASSERT_EQ(msg_.count[SIP_HDR_ROUTE], 4);
	ASSERT_EQ(msg_.count[SIP_HDR_OTHER], 2);
	h = sip_msg_hdr(&msg_, SIP_HDR_ROUTE);
	for (int i = 1; i <= 4; i++) {
		char want[32];

		snprintf(want, sizeof(want), "<sip:%d>", i);
		ASSERT(h);
		ASSERT_PL(&h->value, want);
		h = sip_msg_hdr_next(&msg_, h);
	}
	ASSERT(!h);
	ASSERT(!sip_msg_hdr(&msg_, SIP_HDR_VIA));
	ASSERT(!sip_msg_hdr(&msg_, SIP_HDR_OTHER));
	ASSERT(!sip_msg_hdr(&msg_, SIP_HDR_COUNT));
	ASSERT_PL(&sip_msg_hdr_by_name(&msg_, "X-a")->value, "1");
	ASSERT_PL(&sip_msg_hdr_by_name(&msg_, "route")->value, "<sip:1>");
	ASSERT(!sip_msg_hdr_by_name(&msg_, "X-B"));
	ASSERT(!sip_msg_hdr_by_name(&msg_, "v"));
	ASSERT_EQ(msg_.first[SIP_HDR_VIA], SIP_HDR_END);
}
