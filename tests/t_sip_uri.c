/* sip_uri: decoding, escapes, params and headers, RFC 3261 §19.1.4. */
#include <errno.h>

#include "sip_uri.h"
#include "test.h"

static struct sip_uri dec_ok(const char *s)
{
	struct sip_uri u;
	struct pl t;

	pl_set_str(&t, s);
	ASSERT_MSG(sip_uri_decode(&u, &t) == 0, "\"%s\" rejected", s);
	ASSERT(u.text.p == s && u.text.l == strlen(s));
	return u;
}

TEST(sip_uri_full_sip_uri)
{
	struct sip_uri u = dec_ok("sip:alice:secretword@atlanta.com:5061;"
				  "transport=tcp;lr;maddr=239.255.255.1;"
				  "ttl=15;user=phone;method=INVITE;x?"
				  "subject=project%20x&priority=urgent");

	ASSERT_EQ(u.scheme_id, SIP_URI_SIP);
	ASSERT_PL(&u.scheme, "sip");
	ASSERT_PL(&u.user, "alice");
	ASSERT(u.has_password);
	ASSERT_PL(&u.password, "secretword");
	ASSERT_PL(&u.host, "atlanta.com");
	ASSERT(u.has_port);
	ASSERT_EQ(u.port, 5061);
	ASSERT_PL(&u.transport, "tcp");
	ASSERT(u.lr);
	ASSERT_PL(&u.maddr, "239.255.255.1");
	ASSERT_PL(&u.ttl, "15");
	ASSERT_PL(&u.user_param, "phone");
	ASSERT_PL(&u.method, "INVITE");
	ASSERT_PL(&u.params, ";transport=tcp;lr;maddr=239.255.255.1;ttl=15;"
			     "user=phone;method=INVITE;x");
	ASSERT_PL(&u.headers, "subject=project%20x&priority=urgent");
}

TEST(sip_uri_minimal_forms)
{
	struct sip_uri u = dec_ok("sip:atlanta.com");

	ASSERT_EQ(u.user.l, 0);
	ASSERT(!u.has_password);
	ASSERT_PL(&u.host, "atlanta.com");
	ASSERT(!u.has_port);
	ASSERT_EQ(u.port, 0);
	ASSERT_EQ(u.params.l, 0);
	ASSERT_EQ(u.headers.l, 0);
	ASSERT(!u.lr);
	u = dec_ok("SIPS:Bob@Biloxi.COM.");
	ASSERT_EQ(u.scheme_id, SIP_URI_SIPS);
	ASSERT_PL(&u.host, "Biloxi.COM.");
	u = dec_ok("sip:192.0.2.4:5060");
	ASSERT_PL(&u.host, "192.0.2.4");
	ASSERT_EQ(u.port, 5060);
	u = dec_ok("sip:+1-212-555-1212:1234@gateway.com;user=phone");
	ASSERT_PL(&u.user, "+1-212-555-1212");
	ASSERT_PL(&u.password, "1234");
	ASSERT_PL(&u.user_param, "phone");
}

TEST(sip_uri_ipv6)
{
	struct sip_uri u = dec_ok("sip:bob@[2001:db8::10]:5070;transport=udp");

	ASSERT(u.host_is_ipv6);
	ASSERT_PL(&u.host, "2001:db8::10");
	ASSERT_EQ(u.port, 5070);
	u = dec_ok("sips:[::ffff:192.0.2.1]");
	ASSERT(u.host_is_ipv6);
	ASSERT_PL(&u.host, "::ffff:192.0.2.1");
	ASSERT(!u.has_port);
	u = dec_ok("sip:[::1];maddr=[ff02::1]");
	ASSERT_PL(&u.maddr, "[ff02::1]");
}

TEST(sip_uri_user_part_chars)
{
	/* RFC 4475 §3.1.1.2 and §3.1.1.9 */
	struct sip_uri u = dec_ok("sip:1_unusual.URI~(to-be!sure)&isn't+it$/"
				  "crazy?,/;;*:&it+has=1"
				  ",weird!*pas$wo~d_too.(doesn't-it)@example."
				  "com");

	ASSERT_PL(&u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
	ASSERT_PL(&u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
	ASSERT_PL(&u.host, "example.com");
	u = dec_ok("sip:user;par=u%40example.net@example.com;lr");
	ASSERT_PL(&u.user, "user;par=u%40example.net");
	ASSERT(u.lr);
}

TEST(sip_uri_tel_and_other_schemes)
{
	struct sip_uri u = dec_ok("tel:+1-201-555-0123;phone-context=example");
	struct pl v;

	ASSERT_EQ(u.scheme_id, SIP_URI_TEL);
	ASSERT_PL(&u.user, "+1-201-555-0123");
	ASSERT_EQ(u.host.l, 0);
	ASSERT_EQ(sip_uri_param_get(&u.params, "phone-context", &v), 0);
	ASSERT_PL(&v, "example");
	u = dec_ok("tel:7042;phone-context=+1.555");
	ASSERT_PL(&u.user, "7042");
	u = dec_ok("nobodyKnowsThisScheme:totallyopaquecontent");
	ASSERT_EQ(u.scheme_id, SIP_URI_OTHER);
	ASSERT_PL(&u.scheme, "nobodyKnowsThisScheme");
	ASSERT_PL(&u.opaque, "totallyopaquecontent");
	u = dec_ok("soap.beep://192.0.2.103:3002");
	ASSERT_EQ(u.scheme_id, SIP_URI_OTHER);
	ASSERT_PL(&u.opaque, "//192.0.2.103:3002");
	u = dec_ok("urn:service:sos");
	ASSERT_STR(sip_uri_scheme_name(u.scheme_id), "");
	ASSERT_STR(sip_uri_scheme_name(SIP_URI_SIPS), "sips");
}

TEST(sip_uri_rejects)
{
	static const char *bad[] = {
		"",
		"sip",
		"sip:",
		":user@host",
		"1sip:host",
		"s p:host",
		"sip:@host",
		"sip:user@",
		"sip:user@host:",
		"sip:user@host:65536",
		"sip:user@host:12a",
		"sip:user@host;",
		"sip:user@host;;lr",
		"sip:user@host;=x",
		"sip:user@host;x=",
		"sip:user@host?",
		"sip:user@host?a",
		"sip:user@host?a=b&",
		"sip:user@host; lr",
		"sip:user@host>",
		"sip:us er@host",
		"sip:user@ho st",
		"sip:user@host.-bad",
		"sip:user@-host.com",
		"sip:user@host..com",
		"sip:user@host.123",
		"sip:user@192.0.2.256",
		"sip:user@192.0.2",
		"sip:user@1.2.3.4.5",
		"sip:user@[::1",
		"sip:user@[2001:db8::g]",
		"sip:user@[192.0.2.1]",
		"sip:%4@host",
		"sip:%zz@host",
		"sip:user@host;a=%4",
		"sip:user:pa:ss@host",
		"sip:user@host#frag",
		"tel:",
		"tel:+1 555",
		"tel:+1555;",
		"tel:+1555?x=y",
		"other:with space",
		"other:<x>",
	};
	struct sip_uri u;

	memset(&u, 0x5a, sizeof(u));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pl t;

		pl_set_str(&t, bad[i]);
		ASSERT_MSG(sip_uri_decode(&u, &t) == EBADMSG,
			   "\"%s\" accepted", bad[i]);
	}
	ASSERT_EQ(u.port, 0x5a5a);
	ASSERT_EQ(sip_uri_decode(&u, NULL), EBADMSG);
}

TEST(sip_uri_escapes_kept_and_unescaped_once)
{
	struct sip_uri u = dec_ok("sip:cal%6Cer@host5.example.net;%6C%72;"
				  "n%61me=v%61lue%25%34%31");
	char out[32];
	size_t n = 99;
	struct pl v, bad = PL("ab%4"), bad2 = PL("%G0");

	ASSERT_PL(&u.user, "cal%6Cer");
	ASSERT(u.lr);
	ASSERT_EQ(sip_uri_unescape(&u.user, out, sizeof(out), &n), 0);
	ASSERT(n == 6 && !memcmp(out, "caller", 6));
	ASSERT_EQ(sip_uri_param_get(&u.params, "NAME", &v), 0);
	ASSERT_EQ(sip_uri_unescape(&v, out, sizeof(out), &n), 0);
	ASSERT(n == 8 && !memcmp(out, "value%41", 8));
	n = 99;
	ASSERT_EQ(sip_uri_unescape(&bad, out, sizeof(out), &n), EBADMSG);
	ASSERT_EQ(sip_uri_unescape(&bad2, out, sizeof(out), &n), EBADMSG);
	ASSERT_EQ(sip_uri_unescape(&u.user, out, 5, &n), EOVERFLOW);
	ASSERT_EQ(n, 99);
	ASSERT_EQ(sip_uri_unescape(&u.user, out, 6, &n), 0);
	ASSERT_EQ(n, 6);
}

TEST(sip_uri_param_and_header_get)
{
	struct sip_uri u = dec_ok("sip:biloxi.com;transport=tcp;method="
				  "REGISTER;Flag?to=sip:bob%40biloxi.com&"
				  "Call-ID=abc&empty=");
	struct pl v = PL("keep");

	ASSERT_EQ(sip_uri_param_get(&u.params, "METHOD", &v), 0);
	ASSERT_PL(&v, "REGISTER");
	ASSERT_EQ(sip_uri_param_get(&u.params, "flag", &v), 0);
	ASSERT_EQ(v.l, 0);
	v.l = 1;
	ASSERT_EQ(sip_uri_param_get(&u.params, "lr", &v), ENOENT);
	ASSERT_EQ(v.l, 1);
	ASSERT_EQ(sip_uri_header_get(&u.headers, "To", &v), 0);
	ASSERT_PL(&v, "sip:bob%40biloxi.com");
	ASSERT_EQ(sip_uri_header_get(&u.headers, "call-id", &v), 0);
	ASSERT_PL(&v, "abc");
	ASSERT_EQ(sip_uri_header_get(&u.headers, "empty", &v), 0);
	ASSERT_EQ(v.l, 0);
	ASSERT_EQ(sip_uri_header_get(&u.headers, "from", NULL), ENOENT);
	ASSERT_EQ(sip_uri_param_get(NULL, "x", NULL), ENOENT);
}

struct cmp {
	const char *a, *b;
	bool equal;
};

/* RFC 3261 §19.1.4, the RFC's own lists and a few more. */
static const struct cmp cmps[] = {
	{"sip:%61lice@atlanta.com;transport=TCP",
	 "sip:alice@AtLanTa.CoM;Transport=tcp", true},
	{"sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", true},
	{"sip:carol@chicago.com", "sip:carol@chicago.com;security=on", true},
	{"sip:carol@chicago.com;newparam=5",
	 "sip:carol@chicago.com;security=on", true},
	{"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi."
	 "com",
	 "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi."
	 "com",
	 true},
	{"sip:alice@atlanta.com?subject=project%20x&priority=urgent",
	 "sip:alice@atlanta.com?priority=urgent&subject=project%20x", true},
	{"SIP:ALICE@AtLanTa.CoM;Transport=udp",
	 "sip:alice@AtLanTa.CoM;Transport=UDP", false},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", false},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", false},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp", false},
	{"sip:carol@chicago.com",
	 "sip:carol@chicago.com?Subject=next%20meeting", false},
	{"sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4", false},
	{"sip:carol@chicago.com;security=on",
	 "sip:carol@chicago.com;security=off", false},
	{"sip:alice@atlanta.com", "sips:alice@atlanta.com", false},
	{"sip:alice:pw@atlanta.com", "sip:alice@atlanta.com", false},
	{"sip:alice:pw@atlanta.com", "sip:alice:p%77@atlanta.com", true},
	{"sip:a@h;user=phone", "sip:a@h", false},
	{"sip:a@h;ttl=1", "sip:a@h", false},
	{"sip:a@h;method=INVITE", "sip:a@h", false},
	{"sip:a@h;maddr=1.2.3.4", "sip:a@h;maddr=1.2.3.4", true},
	{"sip:a@h;maddr=1.2.3.4", "sip:a@h", false},
	{"sip:a@h;lr", "sip:a@h", true},
	{"sip:a@h;%6Cr", "sip:a@h;LR", true},
	{"sip:a@h?x=1", "sip:a@h?x=2", false},
	{"sip:a@h?x=1", "sip:a@h?X=1", true},
	{"sip:a@[2001:DB8::1]", "sip:a@[2001:db8::1]", true},
	{"tel:+1555", "tel:+1555", true},
	{"tel:+1555", "tel:+1556", false},
	{"urn:x:y", "URN:x:y", true},
	{"urn:x:y", "urn:x:Y", false},
};

TEST(sip_uri_equal_rfc3261_19_1_4)
{
	for (size_t i = 0; i < sizeof(cmps) / sizeof(cmps[0]); i++) {
		struct sip_uri a = dec_ok(cmps[i].a), b = dec_ok(cmps[i].b);

		ASSERT_MSG(sip_uri_equal(&a, &b) == cmps[i].equal,
			   "%s vs %s: want %s", cmps[i].a, cmps[i].b,
			   cmps[i].equal ? "equal" : "different");
		/* symmetric, and reflexive */
		ASSERT_MSG(sip_uri_equal(&b, &a) == cmps[i].equal, "%s vs %s",
			   cmps[i].b, cmps[i].a);
		ASSERT(sip_uri_equal(&a, &a));
	}
	ASSERT(!sip_uri_equal(NULL, NULL));
}
