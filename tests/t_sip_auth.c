/* Tests for sip_auth: digest parsing, hashing, server nonces, client. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "obj.h"
#include "pl.h"
#include "sip_auth.h"
#include "test.h"

static const char secret[] = "0123456789abcdef0123456789abcdef";

#define NOW 1700000000u
#define LIFE 300u
#define REALM "example.com"
#define USER "alice"
#define PASS "secret"

static struct pl plv(const char *s)
{
	struct pl pl;

	pl_set_str(&pl, s);
	return pl;
}

static struct sip_auth_server *server_new(uint32_t life, size_t cap)
{
	struct sip_auth_server *s = NULL;

	ASSERT_EQ(sip_auth_server_alloc(&s, secret, 32, life, cap), 0);
	ASSERT(s != NULL);
	return s;
}

/* HA1 of USER/REALM/PASS for both algorithms, in static storage. */
static struct sip_auth_ha1 user_ha1(void)
{
	static char md5[SIP_AUTH_HEX_SIZE], sha[SIP_AUTH_HEX_SIZE];
	struct pl u = plv(USER), r = plv(REALM), p = plv(PASS);
	struct sip_auth_ha1 h;

	ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &r, &p, md5), 0);
	ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_SHA256, &u, &r, &p, sha), 0);
	h.md5 = plv(md5);
	h.sha256 = plv(sha);
	return h;
}

/*
 * Builds a credentials value by hand (password pw); nc 0 means no qop
 * (RFC 2069 form).
 */
static void cred_value(struct buf *b, enum sip_auth_alg alg, const char *pw,
		       const char *nonce, uint32_t nc, const char *method)
{
	char ha1[SIP_AUTH_HEX_SIZE], resp[SIP_AUTH_HEX_SIZE], ncs[9];
	struct pl u = plv(USER), r = plv(REALM), p = plv(pw), n = plv(nonce);
	struct pl h, m = plv(method), uri = plv("sip:example.com");
	struct pl cn = plv("0a4f113b"), q = plv("auth"), pnc;

	snprintf(ncs, sizeof(ncs), "%08x", nc);
	pnc = plv(ncs);
	ASSERT_EQ(sip_auth_ha1(alg, &u, &r, &p, ha1), 0);
	h = plv(ha1);
	ASSERT_EQ(sip_auth_response(alg, &h, &n, &pnc, &cn, nc ? &q : NULL, &m,
				    &uri, resp),
		  0);
	buf_reset(b);
	ASSERT_EQ(buf_printf(b,
			     "Digest username=\"" USER "\", realm=\"" REALM
			     "\", nonce=\"%s\", uri=\"sip:example.com\", "
			     "response=\"%s\", algorithm=%s",
			     nonce, resp, sip_auth_alg_name(alg)),
		  0);
	if (nc)
		ASSERT_EQ(buf_printf(b,
				     ", qop=auth, nc=%s, cnonce=\"0a4f113b\"",
				     ncs),
			  0);
}

static enum sip_auth_result verify_buf(struct sip_auth_server *s,
				       const struct buf *b, const char *method,
				       uint64_t now)
{
	struct sip_auth_credentials cr;
	struct sip_auth_ha1 h = user_ha1();
	struct pl v = buf_pl(b), m = plv(method), r = plv(REALM);

	ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), 0);
	return sip_auth_verify(s, &cr, &m, &r, &h, now);
}

static enum sip_auth_result verify_nc(struct sip_auth_server *s,
				      const char *nonce, uint32_t nc,
				      const char *pw, uint64_t now)
{
	struct buf b;
	enum sip_auth_result r;

	buf_init(&b, 4096);
	cred_value(&b, SIP_AUTH_ALG_MD5, pw, nonce, nc, "REGISTER");
	r = verify_buf(s, &b, "REGISTER", now);
	buf_free(&b);
	return r;
}

/* ----- RFC vectors ----- */

/* RFC 2617 §3.5. */
TEST(sip_auth_rfc2617_example_response)
{
	struct pl u = plv("Mufasa"), r = plv("testrealm@host.com");
	struct pl p = plv("Circle Of Life"), h;
	struct pl n = plv("dcd98b7102dd2f0e8b11d0f600bfb0c093");
	struct pl nc = plv("00000001"), cn = plv("0a4f113b"), q = plv("auth");
	struct pl m = plv("GET"), uri = plv("/dir/index.html");
	char ha1[SIP_AUTH_HEX_SIZE], resp[SIP_AUTH_HEX_SIZE];

	ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &r, &p, ha1), 0);
	h = plv(ha1);
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &h, &n, &nc, &cn, &q, &m,
				    &uri, resp),
		  0);
	ASSERT_STR(resp, "6629fae49393a05397450978507c4ef1");
}

/* The RFC 2617 §3.5 Authorization value, parsed, gives its response. */
TEST(sip_auth_rfc2617_example_parsed_credentials)
{
	struct pl v = plv("Digest username=\"Mufasa\",\r\n"
			  "\trealm=\"testrealm@host.com\",\r\n"
			  "\tnonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n"
			  "\turi=\"/dir/index.html\",\r\n"
			  "\tqop=auth,\r\n"
			  "\tnc=00000001,\r\n"
			  "\tcnonce=\"0a4f113b\",\r\n"
			  "\tresponse=\"6629fae49393a05397450978507c4ef1\","
			  "\r\n"
			  "\topaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
	struct pl p = plv("Circle Of Life"), m = plv("GET"), h;
	struct sip_auth_credentials cr;
	char ha1[SIP_AUTH_HEX_SIZE], resp[SIP_AUTH_HEX_SIZE];

	ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), 0);
	ASSERT_PL(&cr.username, "Mufasa");
	ASSERT_PL(&cr.realm, "testrealm@host.com");
	ASSERT_PL(&cr.uri, "/dir/index.html");
	ASSERT_PL(&cr.qop, "auth");
	ASSERT_PL(&cr.nc, "00000001");
	ASSERT_EQ(cr.nc_value, 1);
	ASSERT_PL(&cr.cnonce, "0a4f113b");
	ASSERT_PL(&cr.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
	ASSERT_EQ(cr.alg, SIP_AUTH_ALG_MD5);
	ASSERT_EQ(cr.algorithm.l, 0);
	ASSERT_EQ(sip_auth_ha1(cr.alg, &cr.username, &cr.realm, &p, ha1), 0);
	h = plv(ha1);
	ASSERT_EQ(sip_auth_response(cr.alg, &h, &cr.nonce, &cr.nc, &cr.cnonce,
				    &cr.qop, &m, &cr.uri, resp),
		  0);
	ASSERT(pl_eq_str(&cr.response, resp));
}

static void rfc7616(enum sip_auth_alg alg, const char *want)
{
	struct pl u = plv("Mufasa"), r = plv("http-auth@example.org");
	struct pl p = plv("Circle of Life"), h;
	struct pl n = plv("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
	struct pl cn = plv("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ");
	struct pl nc = plv("00000001"), q = plv("auth");
	struct pl m = plv("GET"), uri = plv("/dir/index.html");
	char ha1[SIP_AUTH_HEX_SIZE], resp[SIP_AUTH_HEX_SIZE];

	ASSERT_EQ(sip_auth_ha1(alg, &u, &r, &p, ha1), 0);
	ASSERT_EQ(strlen(ha1), sip_auth_hex_len(alg));
	h = plv(ha1);
	ASSERT_EQ(sip_auth_response(alg, &h, &n, &nc, &cn, &q, &m, &uri, resp),
		  0);
	ASSERT_STR(resp, want);
}

/* RFC 7616 §3.9.1 (password "Circle of Life", erratum 4495). */
TEST(sip_auth_rfc7616_md5_example)
{
	rfc7616(SIP_AUTH_ALG_MD5, "8ca523f5e9506fed4657c9700eebdbec");
}

TEST(sip_auth_rfc7616_sha256_example)
{
	rfc7616(SIP_AUTH_ALG_SHA256, "753927fa0e85d155564e2e272a28d1802ca10daf"
				     "4496794697cf8db5856cb6c1");
}

/* Without qop: H(HA1:nonce:HA2) (RFC 2069, RFC 2617 §3.2.2.1). */
TEST(sip_auth_response_without_qop)
{
	/* Expected value computed independently (Python hashlib). */
	struct pl h = plv("939e7578ed9e3c518a452acee763bce9");
	struct pl n = plv("dcd98b7102dd2f0e8b11d0f600bfb0c093");
	struct pl m = plv("GET"), uri = plv("/dir/index.html"), e = PL_INIT;
	char resp[SIP_AUTH_HEX_SIZE];

	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &h, &n, NULL, NULL, NULL,
				    &m, &uri, resp),
		  0);
	ASSERT_STR(resp, "670fd8c2df070c60b045671b8b24ff02");
	/* An empty qop is the same as none. */
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &h, &n, NULL, NULL, &e,
				    &m, &uri, resp),
		  0);
	ASSERT_STR(resp, "670fd8c2df070c60b045671b8b24ff02");
}

TEST(sip_auth_response_checks_ha1_alg_and_qop)
{
	struct pl up = plv("939E7578ED9E3C518A452ACEE763BCE9");
	struct pl shortp = plv("939e7578ed9e3c518a452acee763bce");
	struct pl junk = plv("939e7578ed9e3c518a452acee763bcez");
	struct pl n = plv("n"), nc = plv("00000001"), cn = plv("c");
	struct pl q = plv("auth"), qi = plv("auth-int"), m = plv("GET");
	struct pl uri = plv("/"), lo = plv("939e7578ed9e3c518a452acee763bce9");
	char a[SIP_AUTH_HEX_SIZE] = "unchanged", b[SIP_AUTH_HEX_SIZE];

	/* Upper-case stored HA1 gives the same answer as lower-case. */
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &up, &n, &nc, &cn, &q,
				    &m, &uri, a),
		  0);
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &lo, &n, &nc, &cn, &q,
				    &m, &uri, b),
		  0);
	ASSERT_STR(a, b);
	snprintf(a, sizeof(a), "unchanged");
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &shortp, &n, &nc, &cn,
				    &q, &m, &uri, a),
		  EINVAL);
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &junk, &n, &nc, &cn, &q,
				    &m, &uri, a),
		  EINVAL);
	/* An MD5-length HA1 is not a SHA-256 one. */
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_SHA256, &lo, &n, &nc, &cn, &q,
				    &m, &uri, a),
		  EINVAL);
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_OTHER, &lo, &n, &nc, &cn, &q,
				    &m, &uri, a),
		  ENOTSUP);
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &lo, &n, &nc, &cn, &qi,
				    &m, &uri, a),
		  ENOTSUP);
	ASSERT_STR(a, "unchanged");
}

TEST(sip_auth_alg_names_and_lengths)
{
	ASSERT_STR(sip_auth_alg_name(SIP_AUTH_ALG_MD5), "MD5");
	ASSERT_STR(sip_auth_alg_name(SIP_AUTH_ALG_SHA256), "SHA-256");
	ASSERT_STR(sip_auth_alg_name(SIP_AUTH_ALG_OTHER), "");
	ASSERT_EQ(sip_auth_hex_len(SIP_AUTH_ALG_MD5), 32);
	ASSERT_EQ(sip_auth_hex_len(SIP_AUTH_ALG_SHA256), 64);
	ASSERT_EQ(sip_auth_hex_len(SIP_AUTH_ALG_OTHER), 0);
	ASSERT_STR(sip_auth_result_name(SIP_AUTH_REPLAY), "replay");
	ASSERT_STR(sip_auth_result_name(SIP_AUTH_OK), "ok");
}

/* ----- challenge parsing ----- */

TEST(sip_auth_challenge_rfc2617_example)
{
	struct pl v = plv("Digest\r\n realm=\"testrealm@host.com\",\r\n"
			  " qop=\"auth,auth-int\",\r\n"
			  " nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n"
			  " opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
	struct sip_auth_challenge ch;

	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	ASSERT_PL(&ch.realm, "testrealm@host.com");
	ASSERT_PL(&ch.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
	ASSERT_PL(&ch.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
	ASSERT_PL(&ch.qop, "auth,auth-int");
	ASSERT(ch.qop_auth);
	ASSERT(ch.qop_auth_int);
	ASSERT(!ch.stale);
	ASSERT_EQ(ch.alg, SIP_AUTH_ALG_MD5);
	ASSERT_EQ(ch.algorithm.l, 0);
	ASSERT_EQ(ch.domain.l, 0);
}

TEST(sip_auth_challenge_sha256_stale_true)
{
	struct pl v = plv("Digest realm=\"r\", nonce=\"n\", stale=TRUE, "
			  "algorithm=SHA-256, qop=\"auth\"");
	struct sip_auth_challenge ch;

	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	ASSERT(ch.stale);
	ASSERT_EQ(ch.alg, SIP_AUTH_ALG_SHA256);
	ASSERT_PL(&ch.algorithm, "SHA-256");
	ASSERT(ch.qop_auth);
	ASSERT(!ch.qop_auth_int);
}

TEST(sip_auth_challenge_stale_not_true_is_false)
{
	const char *vals[] = {
		"Digest realm=\"r\", nonce=\"n\", stale=false",
		"Digest realm=\"r\", nonce=\"n\", stale=FALSE",
		"Digest realm=\"r\", nonce=\"n\", stale=maybe",
		"Digest realm=\"r\", nonce=\"n\", stale=\"truex\"",
		"Digest realm=\"r\", nonce=\"n\", stale=nope",
		"Digest realm=\"r\", nonce=\"n\", stale=\"\"",
	};
	struct pl t = plv("Digest realm=\"r\", nonce=\"n\", stale=\"true\"");
	struct sip_auth_challenge ch;
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct pl v = plv(vals[i]);

		ch.stale = true;
		ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
		ASSERT_MSG(!ch.stale, "%s", vals[i]);
	}
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &t), 0);
	ASSERT(ch.stale);
}

TEST(sip_auth_challenge_quoted_escapes)
{
	struct pl v = plv("Digest realm=\"a\\\"b\\\\c, d\", nonce=\"x,y=z\"");
	struct sip_auth_challenge ch;
	char buf[16];

	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	/* The view keeps the quoted-pairs; unquote removes them. */
	ASSERT_PL(&ch.realm, "a\\\"b\\\\c, d");
	ASSERT_PL(&ch.nonce, "x,y=z");
	ASSERT_EQ(sip_auth_unquote(&ch.realm, buf, sizeof(buf)), 0);
	ASSERT_STR(buf, "a\"b\\c, d");
}

TEST(sip_auth_challenge_odd_spacing_and_folding)
{
	const char *vals[] = {
		"  Digest realm=\"r\",nonce=\"n\"",
		"Digest   realm = \"r\" ,\tnonce\t=\t\"n\"  ",
		"Digest realm=\"r\"\r\n ,\r\n\tnonce=\"n\"",
		"Digest\trealm=\"r\", nonce=\"n\", qop=\" auth , auth-int \"",
		"Digest realm=\"r\", nonce=\"n\", qop=auth",
	};
	struct sip_auth_challenge ch;
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct pl v = plv(vals[i]);

		ASSERT_MSG(sip_auth_challenge_decode(&ch, &v) == 0, "%s",
			   vals[i]);
		ASSERT_PL(&ch.realm, "r");
		ASSERT_PL(&ch.nonce, "n");
	}
	ASSERT(ch.qop_auth);
}

TEST(sip_auth_challenge_names_case_insensitive)
{
	struct pl v = plv("dIgEsT REALM=\"r\", NoNcE=\"n\", "
			  "ALGORITHM=sha-256, "
			  "Qop=\"AUTH\", Stale=True, OPAQUE=\"o\"");
	struct sip_auth_challenge ch;

	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	ASSERT_PL(&ch.realm, "r");
	ASSERT_PL(&ch.nonce, "n");
	ASSERT_PL(&ch.opaque, "o");
	ASSERT_EQ(ch.alg, SIP_AUTH_ALG_SHA256);
	ASSERT(ch.qop_auth);
	ASSERT(ch.stale);
}

TEST(sip_auth_challenge_unknown_params_ignored)
{
	struct pl v = plv("Digest charset=UTF-8, realm=\"r\", userhash=false, "
			  "x-foo=\"bar, baz=\\\"q\\\"\", nonce=\"n\", "
			  "domain=\"sip:a.example sip:b.example\", charset=x");
	struct sip_auth_challenge ch;

	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	ASSERT_PL(&ch.realm, "r");
	ASSERT_PL(&ch.nonce, "n");
	ASSERT_PL(&ch.domain, "sip:a.example sip:b.example");
}

TEST(sip_auth_challenge_missing_required)
{
	struct pl a = plv("Digest realm=\"r\"");
	struct pl b = plv("Digest nonce=\"n\"");
	struct pl c = plv("Digest opaque=\"o\", qop=\"auth\"");
	struct sip_auth_challenge ch;

	ASSERT_EQ(sip_auth_challenge_decode(&ch, &a), EBADMSG);
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &b), EBADMSG);
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &c), EBADMSG);
}

TEST(sip_auth_challenge_duplicates_rejected)
{
	const char *vals[] = {
		"Digest realm=\"r\", nonce=\"n\", realm=\"r\"",
		"Digest realm=\"r\", nonce=\"n\", NONCE=\"m\"",
		"Digest realm=\"r\", nonce=\"n\", stale=true, stale=false",
		"Digest realm=\"r\", nonce=\"n\", algorithm=MD5, "
		"algorithm=MD5",
		"Digest realm=\"r\", nonce=\"n\", qop=\"auth\", qop=auth",
		"Digest realm=\"r\", nonce=\"n\", opaque=\"\", opaque=\"\"",
	};
	struct sip_auth_challenge ch;
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct pl v = plv(vals[i]);

		ASSERT_MSG(sip_auth_challenge_decode(&ch, &v) == EBADMSG, "%s",
			   vals[i]);
	}
}

TEST(sip_auth_challenge_non_digest_scheme)
{
	const char *vals[] = {
		"Basic realm=\"WallyWorld\"",
		/* RFC 4475 §3.1.2.12 (regaut01) */
		"NoOneKnowsThisScheme opaque-data=here",
		"Bearer",
		"DigestX realm=\"r\", nonce=\"n\"",
		"  basic  ",
	};
	struct sip_auth_challenge ch;
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct pl v = plv(vals[i]);

		ASSERT_MSG(sip_auth_challenge_decode(&ch, &v) == ENOTSUP, "%s",
			   vals[i]);
	}
}

/* The RFC 4475 regaut01 message's Authorization value, from the file. */
TEST(sip_auth_regaut01_from_corpus)
{
	char path[4096], *data, *p, *eol;
	struct sip_auth_credentials cr;
	struct pl v;
	size_t len;

	snprintf(path, sizeof(path), "%s/corpus/rfc4475/regaut01.dat",
		 test_shared_dir());
	if (access(path, R_OK) != 0)
		test_skip("%s not present", path);
	data = test_read_file(path, &len);
	p = strstr(data, "\nAuthorization:");
	ASSERT(p != NULL);
	p += strlen("\nAuthorization:");
	eol = strstr(p, "\r\n");
	if (!eol)
		eol = strchr(p, '\n');
	ASSERT(eol != NULL);
	v.p = p;
	v.l = (size_t)(eol - p);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), ENOTSUP);
	free(data);
}

TEST(sip_auth_challenge_bad_syntax)
{
	const char *vals[] = {
		"",
		"   ",
		"Digest",
		"Digest ",
		"Digest realm",
		"Digest realm=",
		"Digest realm= ,nonce=\"n\"",
		"Digest realm=\"unterminated, nonce=\"n",
		"Digest realm=\"r\" nonce=\"n\"",
		"Digest realm=\"r\",, nonce=\"n\"",
		"Digest realm=\"r\", nonce=\"n\",",
		"Digest realm=\"r\", nonce=\"n\", ",
		"Digest ,realm=\"r\", nonce=\"n\"",
		"Digest,realm=\"r\", nonce=\"n\"",
		"Digest realm=\"r\"; nonce=\"n\"",
		"Digest realm=\"r\x01\", nonce=\"n\"",
		"Digest realm=\"a\r\nb\", nonce=\"n\"",
		"Digest realm=\"a\nb\", nonce=\"n\"",
		"Digest realm=\"r\"\r\nnonce=\"n\"",
		"Digest realm=\"a\\",
		"Digest realm=\"r\", nonce=n\"",
		"Digest realm=\"r\", nonce=\"n\", qop=\"auth,,auth-int\"",
		"Digest realm=\"r\", nonce=\"n\", qop=\"\"",
		"Digest realm=\"r\", nonce=\"n\", qop=\"auth;x\"",
		"Digest realm=\"r\", nonce=\"n\"x",
		"Digest =\"r\", nonce=\"n\"",
		"Digest realm=r@x, nonce=\"n\"",
		"\"Digest\" realm=\"r\", nonce=\"n\"",
	};
	struct sip_auth_challenge ch;
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct pl v = plv(vals[i]);

		memset(&ch, 0x5a, sizeof(ch));
		ASSERT_MSG(sip_auth_challenge_decode(&ch, &v) == EBADMSG,
			   "accepted: %s", vals[i]);
		/* Out-parameters are written only on success. */
		ASSERT(((unsigned char *)&ch)[0] == 0x5a);
	}
}

TEST(sip_auth_challenge_bytes_after_nul_and_8bit)
{
	/* A NUL inside a quoted string is a control character. */
	static const char nul[] = "Digest realm=\"a\0b\", nonce=\"n\"";
	struct pl v = {nul, sizeof(nul) - 1};
	struct pl u = plv("Digest realm=\"caf\xc3\xa9\", nonce=\"n\"");
	struct sip_auth_challenge ch;

	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), EBADMSG);
	/* UTF8-NONASCII is qdtext. */
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &u), 0);
	ASSERT_PL(&ch.realm, "caf\xc3\xa9");
}

TEST(sip_auth_challenge_algorithms)
{
	struct {
		const char *v;
		enum sip_auth_alg alg;
	} cases[] = {
		{"Digest realm=\"r\", nonce=\"n\", algorithm=MD5",
		 SIP_AUTH_ALG_MD5},
		{"Digest realm=\"r\", nonce=\"n\", algorithm=md5",
		 SIP_AUTH_ALG_MD5},
		{"Digest realm=\"r\", nonce=\"n\", algorithm=\"SHA-256\"",
		 SIP_AUTH_ALG_SHA256},
		{"Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess",
		 SIP_AUTH_ALG_OTHER},
		{"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256-sess",
		 SIP_AUTH_ALG_OTHER},
		{"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256",
		 SIP_AUTH_ALG_OTHER},
		{"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-2566",
		 SIP_AUTH_ALG_OTHER},
	};
	struct sip_auth_challenge ch;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pl v = plv(cases[i].v);

		ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
		ASSERT_MSG(ch.alg == cases[i].alg, "%s", cases[i].v);
	}
	ASSERT_PL(&ch.algorithm, "SHA-2566");
}

TEST(sip_auth_challenge_qop_lists)
{
	struct pl a = plv("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"");
	struct pl b = plv("Digest realm=\"r\", nonce=\"n\", "
			  "qop=\"auth-int,token,auth\"");
	struct pl c = plv("Digest realm=\"r\", nonce=\"n\", "
			  "qop=\"auth-intx\"");
	struct sip_auth_challenge ch;

	ASSERT_EQ(sip_auth_challenge_decode(&ch, &a), 0);
	ASSERT(!ch.qop_auth);
	ASSERT(ch.qop_auth_int);
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &b), 0);
	ASSERT(ch.qop_auth);
	ASSERT(ch.qop_auth_int);
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &c), 0);
	ASSERT(!ch.qop_auth);
	ASSERT(!ch.qop_auth_int);
}

/* ----- credentials parsing ----- */

#define CRED_BASE                                                   \
	"username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", " \
	"response=\"0123456789abcdef0123456789abcdef\""

TEST(sip_auth_credentials_required_params)
{
	static const char *parts[] = {
		"username=\"u\"",
		"realm=\"r\"",
		"nonce=\"n\"",
		"uri=\"sip:r\"",
		"response=\"0123456789abcdef0123456789abcdef\"",
	};
	struct sip_auth_credentials cr;
	struct buf b;
	size_t skip, i;

	buf_init(&b, 1024);
	for (skip = 0; skip <= 5; skip++) {
		struct pl v;
		bool first = true;

		buf_reset(&b);
		ASSERT_EQ(buf_append_str(&b, "Digest "), 0);
		for (i = 0; i < 5; i++) {
			if (i == skip)
				continue;
			ASSERT_EQ(buf_printf(&b, "%s%s", first ? "" : ", ",
					     parts[i]),
				  0);
			first = false;
		}
		v = buf_pl(&b);
		ASSERT_EQ(sip_auth_credentials_decode(&cr, &v),
			  skip == 5 ? 0 : EBADMSG);
	}
	ASSERT_PL(&cr.username, "u");
	ASSERT_EQ(cr.qop.l, 0);
	ASSERT_EQ(cr.nc_value, 0);
	buf_free(&b);
}

TEST(sip_auth_credentials_qop_needs_cnonce_and_nc)
{
	struct pl a = plv("Digest " CRED_BASE ", qop=auth");
	struct pl b = plv("Digest " CRED_BASE ", qop=auth, nc=00000001");
	struct pl c = plv("Digest " CRED_BASE ", qop=auth, cnonce=\"c\"");
	struct pl d = plv("Digest " CRED_BASE ", qop=auth, cnonce=\"c\", "
			  "nc=0000002a");
	struct sip_auth_credentials cr;

	ASSERT_EQ(sip_auth_credentials_decode(&cr, &a), EBADMSG);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &b), EBADMSG);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &c), EBADMSG);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &d), 0);
	ASSERT_EQ(cr.nc_value, 42);
	ASSERT_PL(&cr.cnonce, "c");
}

TEST(sip_auth_credentials_nc_format)
{
	const char *bad[] = {
		"nc=1",	       "nc=0000001",	 "nc=000000001",
		"nc=0000000g", "nc=\"0000001\"", "nc=-0000001",
	};
	struct pl up = plv("Digest " CRED_BASE ", qop=auth, cnonce=\"c\", "
			   "nc=FFFFFFFF");
	struct sip_auth_credentials cr;
	struct buf b;
	size_t i;

	buf_init(&b, 1024);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pl v;

		buf_reset(&b);
		ASSERT_EQ(buf_printf(&b,
				     "Digest " CRED_BASE ", qop=auth, "
				     "cnonce=\"c\", %s",
				     bad[i]),
			  0);
		v = buf_pl(&b);
		ASSERT_MSG(sip_auth_credentials_decode(&cr, &v) == EBADMSG,
			   "%s", bad[i]);
	}
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &up), 0);
	ASSERT_EQ(cr.nc_value, UINT32_MAX);
	buf_free(&b);
}

TEST(sip_auth_credentials_response_must_be_hex)
{
	struct pl a = plv("Digest username=\"u\", realm=\"r\", nonce=\"n\", "
			  "uri=\"sip:r\", response=\"0123456789abcdefg\"");
	struct pl b = plv("Digest username=\"u\", realm=\"r\", nonce=\"n\", "
			  "uri=\"sip:r\", response=\"\"");
	struct sip_auth_credentials cr;

	ASSERT_EQ(sip_auth_credentials_decode(&cr, &a), EBADMSG);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &b), EBADMSG);
}

TEST(sip_auth_credentials_duplicates_rejected)
{
	const char *vals[] = {
		"Digest " CRED_BASE ", username=\"v\"",
		"Digest " CRED_BASE ", URI=\"sip:x\"",
		"Digest " CRED_BASE ", "
		"response="
		"\"0123456789abcdef0123456789abcdef\"",
		"Digest " CRED_BASE ", qop=auth, qop=auth, cnonce=\"c\", "
		"nc=00000001",
		"Digest " CRED_BASE ", algorithm=MD5, Algorithm=SHA-256",
		"Digest " CRED_BASE ", opaque=\"a\", opaque=\"a\"",
		"Digest " CRED_BASE ", cnonce=\"a\", cnonce=\"b\"",
	};
	struct sip_auth_credentials cr;
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct pl v = plv(vals[i]);

		ASSERT_MSG(sip_auth_credentials_decode(&cr, &v) == EBADMSG,
			   "%s", vals[i]);
	}
}

TEST(sip_auth_credentials_unknown_and_case)
{
	struct pl v = plv("DIGEST UserName=\"u\", x-ext=tok, REALM=\"r\", "
			  "Nonce=\"n\", URI=\"sip:r\", userhash=false, "
			  "Response=\"0123456789ABCDEF0123456789abcdef\", "
			  "ALGORITHM=SHA-256, Opaque=\"o\"");
	struct pl o = plv("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	struct sip_auth_credentials cr;

	ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), 0);
	ASSERT_PL(&cr.username, "u");
	ASSERT_PL(&cr.realm, "r");
	ASSERT_PL(&cr.opaque, "o");
	ASSERT_EQ(cr.alg, SIP_AUTH_ALG_SHA256);
	ASSERT_PL(&cr.response, "0123456789ABCDEF0123456789abcdef");
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &o), ENOTSUP);
}

TEST(sip_auth_unquote_limits)
{
	struct pl v = plv("ab\\\"cd");
	char small[5] = "xxxx", ok[6];

	ASSERT_EQ(sip_auth_unquote(&v, small, sizeof(small)), EOVERFLOW);
	ASSERT_STR(small, "xxxx");
	ASSERT_EQ(sip_auth_unquote(&v, ok, sizeof(ok)), 0);
	ASSERT_STR(ok, "ab\"cd");
}

/* ----- server: nonces ----- */

TEST(sip_auth_nonce_round_trip)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1];
	struct pl n;

	ASSERT_EQ(sip_auth_nonce_make(s, NOW, nonce), 0);
	ASSERT_EQ(strlen(nonce), SIP_AUTH_NONCE_LEN);
	ASSERT(strspn(nonce, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
			     "wxyz0123456789-_") == SIP_AUTH_NONCE_LEN);
	n = plv(nonce);
	ASSERT_EQ(sip_auth_nonce_check(s, &n, NOW), SIP_AUTH_NONCE_OK);
	ASSERT_EQ(sip_auth_nonce_check(s, &n, NOW + LIFE - 1),
		  SIP_AUTH_NONCE_OK);
	ASSERT_EQ(sip_auth_nonce_check(s, &n, NOW + LIFE),
		  SIP_AUTH_NONCE_STALE);
	ASSERT_EQ(sip_auth_nonce_check(s, &n, NOW + 100 * LIFE),
		  SIP_AUTH_NONCE_STALE);
	obj_deref(s);
}

/* base64url without padding (RFC 4648 §5), as the nonce is written. */
static size_t b64url_decode(const char *in, unsigned char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789-_";
	size_t i, o = 0;
	uint32_t v = 0;

	for (i = 0; in[i]; i++) {
		v = v << 6 | (uint32_t)(strchr(abc, in[i]) - abc);
		if (i % 4 == 3) {
			out[o++] = (unsigned char)(v >> 16);
			out[o++] = (unsigned char)(v >> 8);
			out[o++] = (unsigned char)v;
			v = 0;
		}
	}
	return o;
}

/* The nonce's MAC is HMAC-SHA256 (RFC 2104) of its first 20 bytes, as
 * OpenSSL's own HMAC() computes it, for a short, a middle and a
 * whole-block secret. */
TEST(sip_auth_nonce_mac_is_hmac_sha256)
{
	static const size_t lens[] = {16, 32, 64};

	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		unsigned char key[64], raw[64], want[EVP_MAX_MD_SIZE];
		char nonce[SIP_AUTH_NONCE_LEN + 1];
		struct sip_auth_server *s = NULL;
		unsigned int wlen = 0;

		for (size_t i = 0; i < lens[k]; i++)
			key[i] = (unsigned char)(i * 7 + k + 1);
		ASSERT_EQ(sip_auth_server_alloc(&s, key, lens[k], LIFE, 0), 0);
		for (int n = 0; n < 3; n++) {
			ASSERT_EQ(sip_auth_nonce_make(s, NOW + (uint64_t)n,
						      nonce),
				  0);
			ASSERT_EQ(b64url_decode(nonce, raw), 36);
			ASSERT(HMAC(EVP_sha256(), key, (int)lens[k], raw, 20,
				    want, &wlen) != NULL);
			ASSERT_MSG(memcmp(raw + 20, want, 16) == 0,
				   "secret of %zu bytes, nonce %d", lens[k],
				   n);
		}
		obj_deref(s);
	}
}

TEST(sip_auth_nonce_tampered_is_bad)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1];
	size_t i;

	ASSERT_EQ(sip_auth_nonce_make(s, NOW, nonce), 0);
	/* Every character carries 6 bits of the 36 signed bytes. */
	for (i = 0; i < SIP_AUTH_NONCE_LEN; i++) {
		char save = nonce[i];
		struct pl n = plv(nonce);

		nonce[i] = save == 'A' ? 'B' : 'A';
		ASSERT_MSG(sip_auth_nonce_check(s, &n, NOW) ==
				   SIP_AUTH_NONCE_BAD,
			   "position %zu", i);
		nonce[i] = save;
	}
	obj_deref(s);
}

TEST(sip_auth_nonce_foreign_and_garbage_are_bad)
{
	struct sip_auth_server *s = server_new(LIFE, 0), *o = NULL;
	char nonce[SIP_AUTH_NONCE_LEN + 1], longer[SIP_AUTH_NONCE_LEN + 5];
	const char *junk[] = {
		"",
		"dcd98b7102dd2f0e8b11d0f600bfb0c093",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
	};
	struct pl n;
	size_t i;

	ASSERT_EQ(sip_auth_server_alloc(&o, "another secret of 32 bytes!!!!!!",
					32, LIFE, 0),
		  0);
	ASSERT_EQ(sip_auth_nonce_make(o, NOW, nonce), 0);
	n = plv(nonce);
	ASSERT_EQ(sip_auth_nonce_check(o, &n, NOW), SIP_AUTH_NONCE_OK);
	ASSERT_EQ(sip_auth_nonce_check(s, &n, NOW), SIP_AUTH_NONCE_BAD);
	snprintf(longer, sizeof(longer), "%sAAAA", nonce);
	n = plv(longer);
	ASSERT_EQ(sip_auth_nonce_check(o, &n, NOW), SIP_AUTH_NONCE_BAD);
	n.l = SIP_AUTH_NONCE_LEN - 4;
	ASSERT_EQ(sip_auth_nonce_check(o, &n, NOW), SIP_AUTH_NONCE_BAD);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		n = plv(junk[i]);
		ASSERT_EQ(sip_auth_nonce_check(s, &n, NOW),
			  SIP_AUTH_NONCE_BAD);
	}
	obj_deref(o);
	obj_deref(s);
}

TEST(sip_auth_nonces_are_unique)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	static char seen[2000][SIP_AUTH_NONCE_LEN + 1];
	size_t i, j;

	for (i = 0; i < 2000; i++)
		ASSERT_EQ(sip_auth_nonce_make(s, NOW, seen[i]), 0);
	for (i = 0; i < 2000; i++)
		for (j = i + 1; j < 2000; j++)
			ASSERT(strcmp(seen[i], seen[j]) != 0);
	obj_deref(s);
}

TEST(sip_auth_server_alloc_rejects_bad_args)
{
	struct sip_auth_server *s = NULL;

	ASSERT_EQ(sip_auth_server_alloc(&s, "short", 5, 0, 0), EINVAL);
	ASSERT_EQ(sip_auth_server_alloc(NULL, secret, 32, 0, 0), EINVAL);
	ASSERT(s == NULL);
	/* NULL secret: a random one. */
	ASSERT_EQ(sip_auth_server_alloc(&s, NULL, 0, 0, 20), 0);
	ASSERT_EQ(sip_auth_server_nc_capacity(s), 32);
	ASSERT_EQ(sip_auth_server_nc_count(s), 0);
	obj_deref(s);
}

/* ----- server: verification ----- */

static void fresh_nonce(struct sip_auth_server *s, uint64_t now,
			char nonce[SIP_AUTH_NONCE_LEN + 1])
{
	ASSERT_EQ(sip_auth_nonce_make(s, now, nonce), 0);
}

TEST(sip_auth_verify_ok_md5_and_sha256)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1];
	struct buf b;

	buf_init(&b, 4096);
	fresh_nonce(s, NOW, nonce);
	cred_value(&b, SIP_AUTH_ALG_MD5, PASS, nonce, 1, "REGISTER");
	ASSERT_EQ(verify_buf(s, &b, "REGISTER", NOW + 1), SIP_AUTH_OK);
	fresh_nonce(s, NOW, nonce);
	cred_value(&b, SIP_AUTH_ALG_SHA256, PASS, nonce, 1, "INVITE");
	ASSERT_EQ(verify_buf(s, &b, "INVITE", NOW + 1), SIP_AUTH_OK);
	/* The method is part of HA2. */
	fresh_nonce(s, NOW, nonce);
	cred_value(&b, SIP_AUTH_ALG_SHA256, PASS, nonce, 1, "INVITE");
	ASSERT_EQ(verify_buf(s, &b, "BYE", NOW + 1), SIP_AUTH_BAD_DIGEST);
	buf_free(&b);
	obj_deref(s);
}

TEST(sip_auth_verify_wrong_password_and_realm)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1];
	struct sip_auth_credentials cr;
	struct sip_auth_ha1 h = user_ha1();
	struct pl v, m = plv("REGISTER"), other = plv("other.com");
	struct buf b;

	buf_init(&b, 4096);
	fresh_nonce(s, NOW, nonce);
	ASSERT_EQ(verify_nc(s, nonce, 1, "wrong", NOW), SIP_AUTH_BAD_DIGEST);
	cred_value(&b, SIP_AUTH_ALG_MD5, PASS, nonce, 1, "REGISTER");
	v = buf_pl(&b);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), 0);
	ASSERT_EQ(sip_auth_verify(s, &cr, &m, &other, &h, NOW),
		  SIP_AUTH_BAD_REALM);
	buf_free(&b);
	obj_deref(s);
}

TEST(sip_auth_verify_expired_nonce_is_stale_only_with_right_digest)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1];

	fresh_nonce(s, NOW, nonce);
	ASSERT_EQ(verify_nc(s, nonce, 1, PASS, NOW + LIFE), SIP_AUTH_STALE);
	ASSERT_EQ(verify_nc(s, nonce, 2, "wrong", NOW + LIFE),
		  SIP_AUTH_BAD_DIGEST);
	obj_deref(s);
}

/* Every digit of the response counts; hex case does not. */
TEST(sip_auth_verify_response_every_digit)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1], *resp;
	uint32_t nc = 1;
	size_t i;
	struct buf b;

	buf_init(&b, 4096);
	fresh_nonce(s, NOW, nonce);
	for (i = 0; i < 64; i++) {
		cred_value(&b, SIP_AUTH_ALG_SHA256, PASS, nonce, nc++,
			   "REGISTER");
		resp = strstr(b.data, "response=\"");
		ASSERT(resp != NULL);
		resp += strlen("response=\"");
		resp[i] = resp[i] == '0' ? '1' : '0';
		ASSERT_MSG(verify_buf(s, &b, "REGISTER", NOW) ==
				   SIP_AUTH_BAD_DIGEST,
			   "digit %zu", i);
	}
	cred_value(&b, SIP_AUTH_ALG_SHA256, PASS, nonce, nc++, "REGISTER");
	resp = strstr(b.data, "response=\"") + strlen("response=\"");
	for (i = 0; i < 64; i++)
		if (resp[i] >= 'a' && resp[i] <= 'f')
			resp[i] = (char)(resp[i] - 'a' + 'A');
	ASSERT_EQ(verify_buf(s, &b, "REGISTER", NOW), SIP_AUTH_OK);
	buf_free(&b);
	obj_deref(s);
}

TEST(sip_auth_verify_foreign_nonce)
{
	struct sip_auth_server *s = server_new(LIFE, 0);

	ASSERT_EQ(verify_nc(s, "dcd98b7102dd2f0e8b11d0f600bfb0c093", 1, PASS,
			    NOW),
		  SIP_AUTH_BAD_NONCE);
	obj_deref(s);
}

TEST(sip_auth_verify_nc_replay)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1];

	fresh_nonce(s, NOW, nonce);
	ASSERT_EQ(verify_nc(s, nonce, 1, PASS, NOW), SIP_AUTH_OK);
	ASSERT_EQ(verify_nc(s, nonce, 1, PASS, NOW), SIP_AUTH_REPLAY);
	ASSERT_EQ(verify_nc(s, nonce, 2, PASS, NOW), SIP_AUTH_OK);
	ASSERT_EQ(verify_nc(s, nonce, 2, PASS, NOW), SIP_AUTH_REPLAY);
	ASSERT_EQ(verify_nc(s, nonce, 1, PASS, NOW), SIP_AUTH_REPLAY);
	/* Gaps are fine (lost requests); going back is not. */
	ASSERT_EQ(verify_nc(s, nonce, 7, PASS, NOW), SIP_AUTH_OK);
	ASSERT_EQ(verify_nc(s, nonce, 5, PASS, NOW), SIP_AUTH_REPLAY);
	ASSERT_EQ(verify_nc(s, nonce, 8, PASS, NOW), SIP_AUTH_OK);
	ASSERT_EQ(sip_auth_server_nc_count(s), 1);
	obj_deref(s);
}

/* With qop, nc=00000000 is never above the last count. */
TEST(sip_auth_verify_nc_zero_rejected)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1], ha1[SIP_AUTH_HEX_SIZE];
	char resp[SIP_AUTH_HEX_SIZE];
	struct sip_auth_credentials cr;
	struct sip_auth_ha1 h = user_ha1();
	struct pl m = plv("REGISTER"), r = plv(REALM), u = plv(USER);
	struct pl p = plv(PASS), hh, n, nc = plv("00000000"), cn = plv("c");
	struct pl q = plv("auth"), uri = plv("sip:example.com"), v;
	struct buf b;

	fresh_nonce(s, NOW, nonce);
	n = plv(nonce);
	ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &r, &p, ha1), 0);
	hh = plv(ha1);
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &hh, &n, &nc, &cn, &q,
				    &m, &uri, resp),
		  0);
	buf_init(&b, 4096);
	ASSERT_EQ(buf_printf(&b,
			     "Digest username=\"alice\", "
			     "realm=\"example.com\", "
			     "nonce=\"%s\", uri=\"sip:example.com\", "
			     "response=\"%s\", qop=auth, nc=00000000, "
			     "cnonce=\"c\"",
			     nonce, resp),
		  0);
	v = buf_pl(&b);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), 0);
	ASSERT_EQ(cr.nc_value, 0);
	ASSERT_EQ(sip_auth_verify(s, &cr, &m, &r, &h, NOW), SIP_AUTH_REPLAY);
	/* The same nonce with nc 1 still passes. */
	ASSERT_EQ(verify_nc(s, nonce, 1, PASS, NOW), SIP_AUTH_OK);
	buf_free(&b);
	obj_deref(s);
}

TEST(sip_auth_verify_forged_digest_does_not_burn_nc)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1];

	fresh_nonce(s, NOW, nonce);
	ASSERT_EQ(verify_nc(s, nonce, UINT32_MAX, "guess", NOW),
		  SIP_AUTH_BAD_DIGEST);
	ASSERT_EQ(verify_nc(s, nonce, 1, PASS, NOW), SIP_AUTH_OK);
	obj_deref(s);
}

TEST(sip_auth_verify_unsupported)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1];
	struct sip_auth_credentials cr;
	struct sip_auth_ha1 h = user_ha1(), none = {PL_INIT, PL_INIT};
	struct pl m = plv("REGISTER"), r = plv(REALM), v;
	struct buf b;

	buf_init(&b, 4096);
	fresh_nonce(s, NOW, nonce);
	ASSERT_EQ(buf_printf(&b,
			     "Digest username=\"alice\", "
			     "realm=\"example.com\", "
			     "nonce=\"%s\", uri=\"sip:x\", response=\"00\", "
			     "algorithm=MD5-sess, qop=auth, nc=00000001, "
			     "cnonce=\"c\"",
			     nonce),
		  0);
	v = buf_pl(&b);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), 0);
	ASSERT_EQ(sip_auth_verify(s, &cr, &m, &r, &h, NOW),
		  SIP_AUTH_UNSUPPORTED);
	cred_value(&b, SIP_AUTH_ALG_SHA256, PASS, nonce, 1, "REGISTER");
	v = buf_pl(&b);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), 0);
	ASSERT_EQ(sip_auth_verify(s, &cr, &m, &r, &none, NOW),
		  SIP_AUTH_UNSUPPORTED);
	cr.qop = plv("auth-int");
	ASSERT_EQ(sip_auth_verify(s, &cr, &m, &r, &h, NOW),
		  SIP_AUTH_UNSUPPORTED);
	/* A broken stored HA1 is our error, not the client's. */
	none.sha256 = plv("not hex at all");
	cr.qop = plv("auth");
	ASSERT_EQ(sip_auth_verify(s, &cr, &m, &r, &none, NOW), SIP_AUTH_ERROR);
	buf_free(&b);
	obj_deref(s);
}

TEST(sip_auth_verify_rfc2069_without_qop)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1];

	fresh_nonce(s, NOW, nonce);
	ASSERT_EQ(verify_nc(s, nonce, 0, "wrong", NOW), SIP_AUTH_BAD_DIGEST);
	ASSERT_EQ(verify_nc(s, nonce, 0, PASS, NOW), SIP_AUTH_OK);
	/* No count: one request per nonce, a replay is refused. */
	ASSERT_EQ(verify_nc(s, nonce, 0, PASS, NOW), SIP_AUTH_REPLAY);
	ASSERT_EQ(sip_auth_server_nc_count(s), 1);
	obj_deref(s);
}

TEST(sip_auth_nc_table_eviction_bounded)
{
	struct sip_auth_server *s = server_new(LIFE, 16);
	char first[SIP_AUTH_NONCE_LEN + 1], nonce[SIP_AUTH_NONCE_LEN + 1];
	int i;

	ASSERT_EQ(sip_auth_server_nc_capacity(s), 16);
	fresh_nonce(s, NOW, first);
	ASSERT_EQ(verify_nc(s, first, 1, PASS, NOW), SIP_AUTH_OK);
	for (i = 0; i < 300; i++) {
		fresh_nonce(s, NOW + 1 + (uint64_t)i / 100, nonce);
		ASSERT_EQ(verify_nc(s, nonce, 1, PASS, NOW + 3), SIP_AUTH_OK);
		ASSERT(sip_auth_server_nc_count(s) <= 16);
	}
	ASSERT_EQ(sip_auth_server_nc_count(s), 16);
	/*
	 * The first nonce's count was evicted: replaying its nc 1 must not
	 * pass, nor may nc 2 be trusted; the client gets a new nonce.
	 */
	ASSERT_EQ(verify_nc(s, first, 1, PASS, NOW + 3), SIP_AUTH_STALE);
	ASSERT_EQ(verify_nc(s, first, 2, PASS, NOW + 3), SIP_AUTH_STALE);
	/* A nonce issued after everything evicted is still welcome. */
	fresh_nonce(s, NOW + 10, nonce);
	ASSERT_EQ(verify_nc(s, nonce, 1, PASS, NOW + 10), SIP_AUTH_OK);
	obj_deref(s);
}

TEST(sip_auth_nc_table_lru_keeps_active_nonce)
{
	struct sip_auth_server *s = server_new(LIFE, 32); /* 2 a shard */
	char hot[SIP_AUTH_NONCE_LEN + 1], nonce[SIP_AUTH_NONCE_LEN + 1];
	uint32_t nc = 1;
	int i;

	fresh_nonce(s, NOW, hot);
	ASSERT_EQ(verify_nc(s, hot, nc++, PASS, NOW), SIP_AUTH_OK);
	for (i = 0; i < 200; i++) {
		fresh_nonce(s, NOW + 1, nonce);
		ASSERT_EQ(verify_nc(s, nonce, 1, PASS, NOW + 1), SIP_AUTH_OK);
		/* Used between the others, it stays the most recent. */
		ASSERT_EQ(verify_nc(s, hot, nc++, PASS, NOW + 1), SIP_AUTH_OK);
	}
	ASSERT_EQ(verify_nc(s, hot, nc - 1, PASS, NOW + 1), SIP_AUTH_REPLAY);
	obj_deref(s);
}

struct race {
	struct sip_auth_server *s;
	char nonce[SIP_AUTH_NONCE_LEN + 1];
	uint32_t n;
	bool ok[401];
	unsigned oks;
	unsigned bad;
};

static void *race_run(void *arg)
{
	struct race *r = arg;
	uint32_t i;

	for (i = 1; i <= r->n; i++) {
		enum sip_auth_result x =
			verify_nc(r->s, r->nonce, i, PASS, NOW);

		if (x == SIP_AUTH_OK) {
			r->ok[i] = true;
			r->oks++;
		} else if (x != SIP_AUTH_REPLAY) {
			r->bad++;
		}
	}
	return NULL;
}

TEST_TIMEOUT(sip_auth_verify_concurrent_two_threads, 60)
{
	struct sip_auth_server *s = server_new(LIFE, 64);
	static struct race a, b;
	pthread_t ta, tb;
	uint32_t i;

	/* Own nonces: every count passes on both threads. */
	a.s = b.s = s;
	a.n = b.n = 400;
	fresh_nonce(s, NOW, a.nonce);
	fresh_nonce(s, NOW, b.nonce);
	ASSERT_EQ(pthread_create(&ta, NULL, race_run, &a), 0);
	ASSERT_EQ(pthread_create(&tb, NULL, race_run, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ASSERT_EQ(a.oks, 400);
	ASSERT_EQ(b.oks, 400);
	ASSERT_EQ(a.bad + b.bad, 0);

	/* One nonce raced: no count is ever accepted twice. */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.s = b.s = s;
	a.n = b.n = 400;
	fresh_nonce(s, NOW, a.nonce);
	memcpy(b.nonce, a.nonce, sizeof(a.nonce));
	ASSERT_EQ(pthread_create(&ta, NULL, race_run, &a), 0);
	ASSERT_EQ(pthread_create(&tb, NULL, race_run, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ASSERT_EQ(a.bad + b.bad, 0);
	for (i = 1; i <= 400; i++)
		ASSERT_MSG(!(a.ok[i] && b.ok[i]), "nc %u accepted twice", i);
	ASSERT(a.oks + b.oks >= 400);
	ASSERT(a.oks + b.oks <= 400);
	obj_deref(s);
}

/* ----- challenge building ----- */

TEST(sip_auth_challenge_print_round_trip)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	struct pl realm = plv("we\"ird\\realm"), op = plv("op\"q");
	struct sip_auth_challenge ch;
	char buf[64];
	struct buf b;
	struct pl v;

	buf_init(&b, 1024);
	ASSERT_EQ(buf_append_str(&b, "keep|"), 0);
	ASSERT_EQ(sip_auth_challenge_print(s, &b, &realm, SIP_AUTH_ALG_SHA256,
					   &op, true, NOW),
		  0);
	v = buf_pl(&b);
	ASSERT(v.l > 5 && memcmp(v.p, "keep|", 5) == 0);
	pl_advance(&v, 5);
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	ASSERT_EQ(sip_auth_unquote(&ch.realm, buf, sizeof(buf)), 0);
	ASSERT_STR(buf, "we\"ird\\realm");
	ASSERT_EQ(sip_auth_unquote(&ch.opaque, buf, sizeof(buf)), 0);
	ASSERT_STR(buf, "op\"q");
	ASSERT_EQ(ch.alg, SIP_AUTH_ALG_SHA256);
	ASSERT(ch.stale);
	ASSERT(ch.qop_auth);
	ASSERT_EQ(sip_auth_nonce_check(s, &ch.nonce, NOW), SIP_AUTH_NONCE_OK);

	buf_reset(&b);
	ASSERT_EQ(sip_auth_challenge_print(s, &b, &realm, SIP_AUTH_ALG_MD5,
					   NULL, false, NOW),
		  0);
	v = buf_pl(&b);
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	ASSERT(!ch.stale);
	ASSERT_EQ(ch.opaque.l, 0);
	ASSERT_PL(&ch.algorithm, "MD5");
	buf_free(&b);
	obj_deref(s);
}

TEST(sip_auth_challenge_print_errors_leave_buffer)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	struct pl realm = plv(REALM), crlf = plv("evil\r\nVia: x");
	struct buf b;

	buf_init(&b, 40);
	ASSERT_EQ(buf_append_str(&b, "abc"), 0);
	ASSERT_EQ(sip_auth_challenge_print(s, &b, &realm, SIP_AUTH_ALG_MD5,
					   NULL, false, NOW),
		  EOVERFLOW);
	ASSERT_EQ(b.len, 3);
	buf_free(&b);
	buf_init(&b, 1024);
	ASSERT_EQ(sip_auth_challenge_print(s, &b, &crlf, SIP_AUTH_ALG_MD5,
					   NULL, false, NOW),
		  EINVAL);
	ASSERT_EQ(b.len, 0);
	ASSERT_EQ(sip_auth_challenge_print(s, &b, &realm, SIP_AUTH_ALG_OTHER,
					   NULL, false, NOW),
		  EINVAL);
	buf_free(&b);
	obj_deref(s);
}

/* ----- client ----- */

/* Server side of one request: credentials value -> result. */
static enum sip_auth_result server_check(struct sip_auth_server *s,
					 const struct buf *b,
					 const char *method, uint64_t now)
{
	return verify_buf(s, b, method, now);
}

static void challenge_to(struct sip_auth_server *s, struct sip_auth_client *c,
			 enum sip_auth_alg alg, bool stale, uint64_t now,
			 struct buf *scratch)
{
	struct sip_auth_challenge ch;
	struct pl realm = plv(REALM), v;

	buf_reset(scratch);
	ASSERT_EQ(sip_auth_challenge_print(s, scratch, &realm, alg, NULL,
					   stale, now),
		  0);
	v = buf_pl(scratch);
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	ASSERT_EQ(sip_auth_client_challenge(c, &ch), 0);
}

static struct sip_auth_client *client_new(void)
{
	struct sip_auth_client *c = NULL;
	struct pl u = plv(USER), p = plv(PASS);

	ASSERT_EQ(sip_auth_client_alloc(&c, &u, &p), 0);
	return c;
}

static void client_req(struct sip_auth_client *c, struct buf *b,
		       const char *method)
{
	struct pl m = plv(method), uri = plv("sip:example.com");

	buf_reset(b);
	ASSERT_EQ(sip_auth_client_print(c, b, &m, &uri), 0);
}

TEST(sip_auth_client_credentials_accepted)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	struct sip_auth_client *c = client_new();
	enum sip_auth_alg algs[] = {SIP_AUTH_ALG_MD5, SIP_AUTH_ALG_SHA256};
	struct buf b, sc;
	size_t i;

	buf_init(&b, 4096);
	buf_init(&sc, 4096);
	ASSERT(!sip_auth_client_ready(c));
	for (i = 0; i < 2; i++) {
		challenge_to(s, c, algs[i], false, NOW, &sc);
		ASSERT(sip_auth_client_ready(c));
		client_req(c, &b, "REGISTER");
		ASSERT_EQ(sip_auth_client_nc(c), 1);
		ASSERT_EQ(server_check(s, &b, "REGISTER", NOW), SIP_AUTH_OK);
	}
	buf_free(&b);
	buf_free(&sc);
	sip_auth_client_free(c);
	obj_deref(s);
}

TEST(sip_auth_client_reuse_increments_nc)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	struct sip_auth_client *c = client_new();
	struct sip_auth_credentials cr;
	char last_cnonce[64] = "";
	struct buf b, sc, old;
	struct pl v;
	uint32_t i;

	buf_init(&b, 4096);
	buf_init(&sc, 4096);
	buf_init(&old, 4096);
	challenge_to(s, c, SIP_AUTH_ALG_SHA256, false, NOW, &sc);
	for (i = 1; i <= 5; i++) {
		client_req(c, &b, i % 2 ? "REGISTER" : "INVITE");
		v = buf_pl(&b);
		ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), 0);
		ASSERT_EQ(cr.nc_value, i);
		ASSERT(!pl_eq_str(&cr.cnonce, last_cnonce));
		ASSERT_EQ(pl_strcpy(&cr.cnonce, last_cnonce,
				    sizeof(last_cnonce)),
			  0);
		ASSERT_EQ(server_check(s, &b, i % 2 ? "REGISTER" : "INVITE",
				       NOW + i),
			  SIP_AUTH_OK);
		if (i == 2) {
			buf_reset(&old);
			ASSERT_EQ(buf_append(&old, b.data, b.len), 0);
		}
	}
	/* A captured earlier request replays: rejected. */
	ASSERT_EQ(server_check(s, &old, "INVITE", NOW + 6), SIP_AUTH_REPLAY);
	buf_free(&b);
	buf_free(&sc);
	buf_free(&old);
	sip_auth_client_free(c);
	obj_deref(s);
}

TEST(sip_auth_client_stale_flow)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	struct sip_auth_client *c = client_new();
	struct buf b, sc;

	buf_init(&b, 4096);
	buf_init(&sc, 4096);
	challenge_to(s, c, SIP_AUTH_ALG_MD5, false, NOW, &sc);
	client_req(c, &b, "REGISTER");
	ASSERT_EQ(server_check(s, &b, "REGISTER", NOW), SIP_AUTH_OK);
	client_req(c, &b, "REGISTER");
	ASSERT_EQ(sip_auth_client_nc(c), 2);
	ASSERT_EQ(server_check(s, &b, "REGISTER", NOW + LIFE), SIP_AUTH_STALE);
	/* 401 with stale=true: the client takes the new nonce. */
	challenge_to(s, c, SIP_AUTH_ALG_MD5, true, NOW + LIFE, &sc);
	client_req(c, &b, "REGISTER");
	ASSERT_EQ(sip_auth_client_nc(c), 1);
	ASSERT_EQ(server_check(s, &b, "REGISTER", NOW + LIFE), SIP_AUTH_OK);
	buf_free(&b);
	buf_free(&sc);
	sip_auth_client_free(c);
	obj_deref(s);
}

TEST(sip_auth_client_precomputed_ha1)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	struct sip_auth_client *c = NULL;
	struct sip_auth_ha1 h = user_ha1();
	struct sip_auth_challenge ch;
	struct pl u = plv(USER), bad = plv("xyz"), v;
	struct buf b, sc;

	buf_init(&b, 4096);
	buf_init(&sc, 4096);
	ASSERT_EQ(sip_auth_client_alloc_ha1(&c, &u, SIP_AUTH_ALG_SHA256, &bad),
		  EINVAL);
	ASSERT_EQ(sip_auth_client_alloc_ha1(&c, &u, SIP_AUTH_ALG_OTHER,
					    &h.sha256),
		  EINVAL);
	ASSERT(c == NULL);
	ASSERT_EQ(sip_auth_client_alloc_ha1(&c, &u, SIP_AUTH_ALG_SHA256,
					    &h.sha256),
		  0);
	challenge_to(s, c, SIP_AUTH_ALG_SHA256, false, NOW, &sc);
	client_req(c, &b, "REGISTER");
	ASSERT_EQ(server_check(s, &b, "REGISTER", NOW), SIP_AUTH_OK);
	/* An MD5 challenge cannot be answered with a SHA-256 HA1. */
	buf_reset(&sc);
	v = plv("Digest realm=\"example.com\", nonce=\"n\", algorithm=MD5");
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	ASSERT_EQ(sip_auth_client_challenge(c, &ch), ENOTSUP);
	buf_free(&b);
	buf_free(&sc);
	sip_auth_client_free(c);
	obj_deref(s);
}

TEST(sip_auth_client_rejects_unsupported_and_keeps_state)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	struct sip_auth_client *c = client_new();
	struct sip_auth_challenge ch;
	struct pl sess = plv("Digest realm=\"example.com\", nonce=\"n\", "
			     "algorithm=MD5-sess, qop=\"auth\"");
	struct pl aint = plv("Digest realm=\"example.com\", nonce=\"n\", "
			     "qop=\"auth-int\"");
	struct buf b, sc;

	buf_init(&b, 4096);
	buf_init(&sc, 4096);
	challenge_to(s, c, SIP_AUTH_ALG_MD5, false, NOW, &sc);
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &sess), 0);
	ASSERT_EQ(sip_auth_client_challenge(c, &ch), ENOTSUP);
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &aint), 0);
	ASSERT_EQ(sip_auth_client_challenge(c, &ch), ENOTSUP);
	/* The earlier nonce is still in use. */
	client_req(c, &b, "REGISTER");
	ASSERT_EQ(server_check(s, &b, "REGISTER", NOW), SIP_AUTH_OK);
	buf_free(&b);
	buf_free(&sc);
	sip_auth_client_free(c);
	obj_deref(s);
}

TEST(sip_auth_client_rfc2069_challenge)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	struct sip_auth_client *c = client_new();
	struct sip_auth_credentials cr;
	struct sip_auth_challenge ch;
	char nonce[SIP_AUTH_NONCE_LEN + 1];
	struct buf b;
	struct pl v;

	buf_init(&b, 4096);
	fresh_nonce(s, NOW, nonce);
	ASSERT_EQ(buf_printf(&b, "Digest realm=\"example.com\", nonce=\"%s\"",
			     nonce),
		  0);
	v = buf_pl(&b);
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	ASSERT_EQ(sip_auth_client_challenge(c, &ch), 0);
	client_req(c, &b, "REGISTER");
	v = buf_pl(&b);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), 0);
	ASSERT_EQ(cr.qop.l, 0);
	ASSERT_EQ(cr.cnonce.l, 0);
	ASSERT_EQ(sip_auth_client_nc(c), 0);
	ASSERT_EQ(server_check(s, &b, "REGISTER", NOW), SIP_AUTH_OK);
	buf_free(&b);
	sip_auth_client_free(c);
	obj_deref(s);
}

TEST(sip_auth_client_errors)
{
	struct sip_auth_client *c = NULL;
	struct pl u = plv(USER), e = PL_INIT, m = plv("REGISTER");
	struct pl uri = plv("sip:x");
	struct buf b;

	ASSERT_EQ(sip_auth_client_alloc(&c, &e, &u), EINVAL);
	ASSERT_EQ(sip_auth_client_alloc(&c, &u, NULL), EINVAL);
	ASSERT(c == NULL);
	c = client_new();
	buf_init(&b, 4096);
	ASSERT_EQ(sip_auth_client_print(c, &b, &m, &uri), EINVAL);
	ASSERT_EQ(b.len, 0);
	buf_free(&b);
	sip_auth_client_free(c);
	sip_auth_client_free(NULL);
}

TEST(sip_auth_client_escapes_and_opaque)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	struct sip_auth_client *c = NULL;
	struct pl u = plv("al\"ice"), p = plv("p\\w"), v, m = plv("INVITE");
	struct pl realm = plv("ex\"ample"), op = plv("o\\\"paque");
	struct pl uri = plv("sip:bob@example.com;transport=tcp");
	struct sip_auth_credentials cr;
	struct sip_auth_challenge ch;
	char ha1[SIP_AUTH_HEX_SIZE], un[64];
	struct sip_auth_ha1 h;
	struct buf b, sc;

	buf_init(&b, 4096);
	buf_init(&sc, 4096);
	ASSERT_EQ(sip_auth_client_alloc(&c, &u, &p), 0);
	ASSERT_EQ(sip_auth_challenge_print(s, &sc, &realm, SIP_AUTH_ALG_MD5,
					   &op, false, NOW),
		  0);
	v = buf_pl(&sc);
	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	ASSERT_EQ(sip_auth_client_challenge(c, &ch), 0);
	ASSERT_EQ(sip_auth_client_print(c, &b, &m, &uri), 0);
	v = buf_pl(&b);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), 0);
	ASSERT_EQ(sip_auth_unquote(&cr.username, un, sizeof(un)), 0);
	ASSERT_STR(un, "al\"ice");
	/* The opaque comes back exactly as the server sent it. */
	ASSERT(pl_eq(&cr.opaque, &ch.opaque));
	ASSERT_PL(&cr.uri, "sip:bob@example.com;transport=tcp");
	/* The server's HA1 is over the plain (unquoted) values. */
	ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &realm, &p, ha1), 0);
	h.md5 = plv(ha1);
	h.sha256 = plv("");
	ASSERT_EQ(sip_auth_verify(s, &cr, &m, &realm, &h, NOW), SIP_AUTH_OK);
	buf_free(&b);
	buf_free(&sc);
	sip_auth_client_free(c);
	obj_deref(s);
}

TEST(sip_auth_client_print_full_buffer_keeps_nc)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	struct sip_auth_client *c = client_new();
	struct pl m = plv("REGISTER"), uri = plv("sip:example.com");
	struct buf b, sc;

	buf_init(&b, 64);
	buf_init(&sc, 4096);
	challenge_to(s, c, SIP_AUTH_ALG_MD5, false, NOW, &sc);
	ASSERT_EQ(sip_auth_client_print(c, &b, &m, &uri), EOVERFLOW);
	ASSERT_EQ(b.len, 0);
	ASSERT_EQ(sip_auth_client_nc(c), 0);
	buf_free(&b);
	buf_free(&sc);
	sip_auth_client_free(c);
	obj_deref(s);
}

/* Quoted-pairs are undone before hashing (RFC 7616 §3.4: unq()). */
TEST(sip_auth_verify_hashes_unquoted_values)
{
	struct sip_auth_server *s = server_new(LIFE, 0);
	char nonce[SIP_AUTH_NONCE_LEN + 1], ha1[SIP_AUTH_HEX_SIZE];
	char resp[SIP_AUTH_HEX_SIZE];
	struct pl u = plv(USER), r = plv(REALM), p = plv(PASS), h, n;
	struct pl nc = plv("00000001"), cn = plv("x\"y\\z"), q = plv("auth");
	struct pl m = plv("MESSAGE"), uri = plv("sip:a\"b@example.com");
	struct buf b;

	fresh_nonce(s, NOW, nonce);
	n = plv(nonce);
	ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &r, &p, ha1), 0);
	h = plv(ha1);
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &h, &n, &nc, &cn, &q, &m,
				    &uri, resp),
		  0);
	buf_init(&b, 4096);
	ASSERT_EQ(buf_printf(&b,
			     "Digest username=\"alice\", "
			     "realm=\"exam\\ple.com\", "
			     "nonce=\"%s\", uri=\"sip:a\\\"b@example.com\", "
			     "response=\"%s\", qop=auth, nc=00000001, "
			     "cnonce=\"x\\\"y\\\\z\"",
			     nonce, resp),
		  0);
	ASSERT_EQ(verify_buf(s, &b, "MESSAGE", NOW), SIP_AUTH_OK);
	buf_free(&b);
	obj_deref(s);
}

/* The client hashes the challenge's realm and nonce unquoted too. */
TEST(sip_auth_client_hashes_unquoted_nonce_and_realm)
{
	struct sip_auth_client *c = client_new();
	struct pl v = plv("Digest realm=\"ex\\ample.com\", nonce=\"a\\\"b\", "
			  "qop=\"auth\"");
	struct pl u = plv(USER), r = plv(REALM), p = plv(PASS), h;
	struct pl n = plv("a\"b"), q = plv("auth"), m = plv("REGISTER");
	struct pl uri = plv("sip:example.com");
	char ha1[SIP_AUTH_HEX_SIZE], want[SIP_AUTH_HEX_SIZE];
	struct sip_auth_credentials cr;
	struct sip_auth_challenge ch;
	struct buf b;

	ASSERT_EQ(sip_auth_challenge_decode(&ch, &v), 0);
	ASSERT_EQ(sip_auth_client_challenge(c, &ch), 0);
	buf_init(&b, 4096);
	client_req(c, &b, "REGISTER");
	v = buf_pl(&b);
	ASSERT_EQ(sip_auth_credentials_decode(&cr, &v), 0);
	ASSERT_PL(&cr.nonce, "a\\\"b");
	ASSERT_PL(&cr.realm, "ex\\ample.com");
	ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &r, &p, ha1), 0);
	h = plv(ha1);
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &h, &n, &cr.nc,
				    &cr.cnonce, &q, &m, &uri, want),
		  0);
	ASSERT(pl_eq_str(&cr.response, want));
	buf_free(&b);
	sip_auth_client_free(c);
}
