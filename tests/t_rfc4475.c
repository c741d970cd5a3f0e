/*
 * The RFC 4475 torture messages through sip_msg_decode() and
 * sip_msg_validate(): one test per corpus file, driven by the committed
 * table tests/data/rfc4475-parser.tsv, plus checks of what the RFC calls
 * out in particular messages.  The corpus is read from
 * test_shared_dir()/corpus/rfc4475.
 */
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#include "sip_msg.h"
#include "sip_uri.h"
#include "test.h"

struct row {
	char file[64];
	int decode;
	int status; /* -1: not validated, -2: drop */
	int stream;
	bool found;
};

static const char *corpus_dir(void)
{
	static char dir[PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/corpus/rfc4475", test_shared_dir());
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		test_skip("RFC 4475 corpus absent: %s (set SIPSTONE_SHARED)",
			  dir);
	return dir;
}

static int err_decode(const char *s)
{
	if (!strcmp(s, "0"))
		return 0;
	if (!strcmp(s, "EBADMSG"))
		return EBADMSG;
	if (!strcmp(s, "ENODATA"))
		return ENODATA;
	if (!strcmp(s, "EOVERFLOW"))
		return EOVERFLOW;
	test_fail(__FILE__, __LINE__, "bad error name in table: %s", s);
}

/* Reads the table row of file (e.g. "wsinv", "extras/test"). */
static struct row table_row(const char *file)
{
	char path[PATH_MAX], *data, *line, *save = NULL;
	struct row r;
	size_t len;

	memset(&r, 0, sizeof(r));
	snprintf(path, sizeof(path), "%s/tests/data/rfc4475-parser.tsv",
		 test_root_dir());
	data = test_read_file(path, &len);
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char f[64], d[16], s[16], st[16];

		if (line[0] == '#' || !strncmp(line, "file\t", 5))
			continue;
		if (sscanf(line, "%63[^\t]\t%15[^\t]\t%15[^\t]\t%15[^\t]", f,
			   d, s, st) != 4)
			test_fail(__FILE__, __LINE__, "bad table line: %s",
				  line);
		if (strcmp(f, file))
			continue;
		snprintf(r.file, sizeof(r.file), "%s", f);
		r.decode = err_decode(d);
		if (!strcmp(s, "-"))
			r.status = -1;
		else if (!strcmp(s, "drop"))
			r.status = -2;
		else
			r.status = (int)strtol(s, NULL, 10);
		r.stream = err_decode(st);
		r.found = true;
	}
	free(data);
	if (!r.found)
		test_fail(__FILE__, __LINE__, "%s: no row in the table", file);
	return r;
}

static char *load(const char *file, size_t *len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s.dat", corpus_dir(), file);
	return test_read_file(path, len);
}

static bool inside(const struct pl *v, const char *buf, size_t len)
{
	if (v->l == 0)
		return true;
	return v->p >= buf && v->p + v->l <= buf + len;
}

static void check_views(const struct sip_msg *m, const char *buf, size_t len)
{
	ASSERT(m->len <= len);
	ASSERT(inside(&m->start_line, buf, m->len));
	ASSERT(inside(&m->headers, buf, m->len));
	ASSERT(inside(&m->body, buf, m->len));
	for (uint16_t i = 0; i < m->nhdrs; i++) {
		ASSERT(inside(&m->hdrs[i].name, buf, m->len));
		ASSERT(inside(&m->hdrs[i].value, buf, m->len));
		ASSERT(inside(&m->hdrs[i].line, buf, m->len));
	}
}

/*
 * The whole check of one corpus file: datagram decode and validate as
 * the table says; stream decode as the table says; and when the stream
 * decode succeeds, every shorter prefix is ENODATA.
 */
static void run_file(const char *file)
{
	struct row r = table_row(file);
	struct sip_msg *m = calloc(1, sizeof(*m));
	uint16_t status = 999;
	const char *why = NULL;
	size_t len, k;
	char *buf;
	int err;

	ASSERT(m);
	buf = load(file, &len);
	err = sip_msg_decode(m, buf, len, false);
	ASSERT_MSG(err == r.decode, "%s: decode %d, table says %d", file, err,
		   r.decode);
	if (!err) {
		check_views(m, buf, len);
		err = sip_msg_validate(m, &status, &why);
		if (r.status == 0) {
			ASSERT_MSG(err == 0, "%s: validate %d (%u %s)", file,
				   err, status, why ? why : "");
			ASSERT(m->validated);
		} else {
			ASSERT_MSG(err == EBADMSG, "%s: validate %d", file,
				   err);
			ASSERT(why && *why);
			ASSERT(!m->validated);
			ASSERT_EQ(status, r.status == -2 ? 0 : r.status);
			ASSERT_EQ(m->is_request, r.status != -2);
		}
	}

	err = sip_msg_decode(m, buf, len, true);
	ASSERT_MSG(err == r.stream, "%s: stream decode %d, table says %d",
		   file, err, r.stream);
	if (!err) {
		size_t full = m->len;

		check_views(m, buf, len);
		for (k = 0; k < full; k++) {
			err = sip_msg_decode(m, buf, k, true);
			ASSERT_MSG(err == ENODATA, "%s: prefix %zu: %d", file,
				   k, err);
		}
		ASSERT_EQ(sip_msg_decode(m, buf, full, true), 0);
		ASSERT_EQ(m->len, full);
	}
	free(buf);
	free(m);
}

#define RFC4475(name)            \
	TEST(rfc4475_##name)     \
	{                        \
		run_file(#name); \
	}

RFC4475(wsinv)
RFC4475(intmeth)
RFC4475(esc01)
RFC4475(escnull)
RFC4475(esc02)
RFC4475(lwsdisp)
RFC4475(longreq)
RFC4475(dblreq)
RFC4475(semiuri)
RFC4475(transports)
RFC4475(mpart01)
RFC4475(unreason)
RFC4475(noreason)
RFC4475(badinv01)
RFC4475(clerr)
RFC4475(ncl)
RFC4475(scalar02)
RFC4475(scalarlg)
RFC4475(quotbal)
RFC4475(ltgtruri)
RFC4475(lwsruri)
RFC4475(lwsstart)
RFC4475(trws)
RFC4475(escruri)
RFC4475(baddate)
RFC4475(regbadct)
RFC4475(badaspec)
RFC4475(baddn)
RFC4475(badvers)
RFC4475(mismatch01)
RFC4475(mismatch02)
RFC4475(bigcode)
RFC4475(badbranch)
RFC4475(insuf)
RFC4475(unkscm)
RFC4475(novelsc)
RFC4475(unksm2)
RFC4475(bext01)
RFC4475(invut)
RFC4475(regaut01)
RFC4475(multi01)
RFC4475(mcl01)
RFC4475(bcast)
RFC4475(zeromf)
RFC4475(cparam01)
RFC4475(cparam02)
RFC4475(regescrt)
RFC4475(sdp01)
RFC4475(inv2543)

TEST(rfc4475_extras_test)
{
	run_file("extras/test");
}

TEST(rfc4475_extras_baddn_crlf)
{
	run_file("extras/baddn-crlf");
}

/*
 * The table agrees with the corpus manifest: every message has a row;
 * valid ones decode and validate clean; invalid ones are rejected
 * (decode error, or 4xx/5xx, or dropped for a response), baddate apart
 * (liberal, "*": we do not parse Date); the semantic ones give what the
 * RFC says at parser level.
 */
TEST(rfc4475_table_matches_manifest)
{
	char path[PATH_MAX], *data, *line, *save = NULL;
	size_t len;
	int n = 0;

	snprintf(path, sizeof(path), "%s/manifest.tsv", corpus_dir());
	data = test_read_file(path, &len);
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[64], sec[16], cls[16];
		struct row r;

		if (line[0] == '#' || !strncmp(line, "name\t", 5))
			continue;
		ASSERT(sscanf(line, "%63[^\t]\t%15[^\t]\t%15[^\t]", name, sec,
			      cls) == 3);
		r = table_row(name);
		n++;
		if (!strcmp(cls, "valid")) {
			ASSERT_MSG(r.decode == 0 && r.status == 0, "%s", name);
		} else if (!strcmp(cls, "invalid")) {
			bool rejected = r.decode != 0 || r.status == -2 ||
					(r.status >= 400 && r.status < 600);

			if (!strcmp(name, "baddate"))
				continue;
			ASSERT_MSG(rejected, "%s: invalid but accepted", name);
			if (!strcmp(name, "badvers"))
				ASSERT_EQ(r.status, 505);
		} else {
			int want = 0;

			if (!strcmp(name, "unkscm") || !strcmp(name, "novels"
								     "c"))
				want = 416;
			ASSERT_MSG(r.decode == 0 && r.status == want,
				   "%s: %d, want %d", name, r.status, want);
		}
	}
	free(data);
	ASSERT_EQ(n, 49);
}

/* Decodes and validates a corpus message that must be valid. */
static char *valid(const char *file, struct sip_msg *m, size_t *lenp)
{
	uint16_t status = 0;
	const char *why = NULL;
	size_t len;
	char *buf = load(file, &len);

	ASSERT_EQ(sip_msg_decode(m, buf, len, false), 0);
	ASSERT_MSG(sip_msg_validate(m, &status, &why) == 0, "%s: %u %s", file,
		   status, why);
	if (lenp)
		*lenp = len;
	return buf;
}

TEST(rfc4475_wsinv_details)
{
	static struct sip_msg m;
	const struct sip_hdr *h;
	struct sip_via via;
	struct sip_addr ct;
	struct pl v;
	char *buf = valid("wsinv", &m, NULL);

	ASSERT(m.has_max_forwards);
	ASSERT_EQ(m.max_forwards, 68);
	ASSERT_EQ(m.cseq.num, 9);
	ASSERT_EQ(m.cseq.method_id, SIP_METHOD_INVITE);
	ASSERT_PL(&m.from_tag, "98asjd8");
	ASSERT_PL(&m.to_tag, "1918181833n");
	ASSERT_PL(&m.via.host, "192.0.2.2");
	ASSERT_PL(&m.via.branch, "390skdjuw");
	ASSERT_EQ(m.via.tp, SIP_TP_UDP);
	ASSERT_EQ(m.count[SIP_HDR_VIA], 3);
	h = sip_msg_hdr_next(&m, sip_msg_hdr(&m, SIP_HDR_VIA));
	ASSERT(h);
	ASSERT_EQ(sip_via_decode(&via, &h->value), 0);
	ASSERT_EQ(via.tp, SIP_TP_TCP);
	ASSERT_PL(&via.host, "spindle.example.com");
	ASSERT_PL(&via.branch, "z9hG4bK9ikj8");
	h = sip_msg_hdr_next(&m, h);
	ASSERT_EQ(sip_via_decode(&via, &h->value), 0);
	ASSERT_PL(&via.host, "192.168.255.111");
	ASSERT_PL(&via.branch, "z9hG4bK30239");
	/* unknown headers kept, the folded one with its continuation */
	h = sip_msg_hdr_by_name(&m, "NewFangledHeader");
	ASSERT(h && h->id == SIP_HDR_OTHER);
	ASSERT_PL(&h->value, "newfangled value\r\n continued newfangled "
			     "value");
	h = sip_msg_hdr_by_name(&m, "unknownheaderwithunusualvalue");
	ASSERT(h);
	ASSERT_PL(&h->value, ";;,,;;,;");
	h = sip_msg_hdr(&m, SIP_HDR_SUBJECT);
	ASSERT(h);
	ASSERT_PL(&h->name, "s");
	ASSERT_EQ(h->value.l, 0);
	h = sip_msg_hdr(&m, SIP_HDR_CONTACT);
	ASSERT_EQ(sip_addr_decode(&ct, &h->value), 0);
	ASSERT_PL(&ct.dname, "\"Quoted string \\\"\\\"\"");
	ASSERT_PL(&ct.uri, "sip:jdrosen@example.com");
	ASSERT_EQ(sip_param_get(&ct.params, "q", &v), 0);
	ASSERT_PL(&v, "0.33");
	ASSERT_EQ(sip_param_get(&ct.params, "newparam", &v), 0);
	ASSERT_PL(&v, "newvalue");
	ASSERT(sip_param_exists(&ct.params, "secondparam"));
	ASSERT_EQ(m.body.l, 150);
	free(buf);
}

TEST(rfc4475_esc02_percent_is_no_escape)
{
	static struct sip_msg m;
	const struct sip_hdr *h;
	char *buf = valid("esc02", &m, NULL);

	ASSERT_EQ(m.method_id, SIP_METHOD_OTHER);
	ASSERT_PL(&m.method, "RE%47IST%45R");
	ASSERT_EQ(m.count[SIP_HDR_CONTACT], 2);
	h = sip_msg_hdr_by_name(&m, "C%6Fntact");
	ASSERT(h && h->id == SIP_HDR_OTHER);
	ASSERT_PL(&h->value, "<sip:alias2@host2.example.com>");
	ASSERT_PL(&m.via.branch, "z9hG4bK209%fzsnel234");
	free(buf);
}

TEST(rfc4475_escnull_two_contacts)
{
	static struct sip_msg m;
	const struct sip_hdr *h;
	struct sip_addr a;
	struct sip_uri u;
	char out[16];
	size_t n;
	char *buf = valid("escnull", &m, NULL);

	ASSERT_EQ(m.count[SIP_HDR_CONTACT], 2);
	h = sip_msg_hdr(&m, SIP_HDR_CONTACT);
	h = sip_msg_hdr_next(&m, h);
	ASSERT_EQ(sip_addr_decode(&a, &h->value), 0);
	ASSERT_EQ(sip_uri_decode(&u, &a.uri), 0);
	ASSERT_PL(&u.user, "%00%00");
	ASSERT_EQ(sip_uri_unescape(&u.user, out, sizeof(out), &n), 0);
	ASSERT_EQ(n, 2);
	ASSERT(out[0] == 0 && out[1] == 0);
	/* the AOR is not cut at the NUL */
	h = sip_msg_hdr(&m, SIP_HDR_TO);
	ASSERT_EQ(sip_addr_decode(&a, &h->value), 0);
	ASSERT_EQ(sip_uri_decode(&u, &a.uri), 0);
	ASSERT_EQ(sip_uri_unescape(&u.user, out, sizeof(out), &n), 0);
	ASSERT_EQ(n, 11);
	ASSERT(memcmp(out, "null-\0-null", 11) == 0);
	free(buf);
}

TEST(rfc4475_longreq_all_vias)
{
	static struct sip_msg m;
	const struct sip_hdr *h;
	struct sip_addr to;
	unsigned n = 0;
	char *buf = valid("longreq", &m, NULL);

	ASSERT_EQ(m.count[SIP_HDR_VIA], 34);
	for (h = sip_msg_hdr(&m, SIP_HDR_VIA); h; h = sip_msg_hdr_next(&m, h))
		n++;
	ASSERT_EQ(n, 34);
	ASSERT_PL(&m.via.host, "sip33.example.com");
	ASSERT_EQ(m.via.tp, SIP_TP_TCP);
	h = sip_msg_hdr(&m, SIP_HDR_TO);
	ASSERT_EQ(sip_addr_decode(&to, &h->value), 0);
	ASSERT(to.angle);
	ASSERT_EQ(to.dname.l, 105); /* quotes included */
	ASSERT(m.from_tag.l > 50);
	ASSERT(m.call_id.l > 100);
	free(buf);
}

TEST(rfc4475_dblreq_ends_after_register)
{
	static struct sip_msg m;
	size_t len;
	char *buf = valid("dblreq", &m, &len);
	const char *end = strstr(buf, "\r\n\r\n");

	ASSERT(end);
	ASSERT_EQ(m.method_id, SIP_METHOD_REGISTER);
	ASSERT_EQ(m.len, (size_t)(end + 4 - buf));
	ASSERT(m.len < len);
	ASSERT_EQ(m.body.l, 0);
	ASSERT(!strncmp(buf + m.len, "\r\nINVITE", 8));
	ASSERT_EQ(m.nhdrs, 8);
	ASSERT(!sip_msg_hdr(&m, SIP_HDR_CONTENT_TYPE));
	free(buf);
}

TEST(rfc4475_mpart01_binary_body)
{
	static struct sip_msg m;
	size_t len;
	char *buf = valid("mpart01", &m, &len);

	ASSERT(m.has_content_length);
	ASSERT_EQ(m.content_length, 553);
	ASSERT_EQ(m.body.l, 553);
	ASSERT(m.body.p + m.body.l == buf + len);
	ASSERT(memchr(m.body.p, '\0', m.body.l));
	ASSERT_EQ(m.method_id, SIP_METHOD_MESSAGE);
	ASSERT(m.via.has_rport);
	ASSERT_EQ(m.via.rport, 0);
	ASSERT_EQ(m.via.port, 5070);
	free(buf);
}

TEST(rfc4475_transports_five_vias)
{
	static struct sip_msg m;
	static const enum sip_transport want[] = {
		SIP_TP_UDP, SIP_TP_SCTP, SIP_TP_TLS, SIP_TP_OTHER, SIP_TP_TCP};
	const struct sip_hdr *h;
	struct sip_via via;
	int i = 0;
	char *buf = valid("transports", &m, NULL);

	for (h = sip_msg_hdr(&m, SIP_HDR_VIA); h;
	     h = sip_msg_hdr_next(&m, h), i++) {
		ASSERT(i < 5);
		ASSERT_EQ(sip_via_decode(&via, &h->value), 0);
		ASSERT_EQ(via.tp, want[i]);
	}
	ASSERT_EQ(i, 5);
	ASSERT_PL(&via.transport, "TCP");
	free(buf);
}

TEST(rfc4475_semiuri_user_part)
{
	static struct sip_msg m;
	struct sip_uri u;
	char out[64];
	size_t n;
	char *buf = valid("semiuri", &m, NULL);

	ASSERT_EQ(sip_uri_decode(&u, &m.ruri), 0);
	ASSERT_PL(&u.user, "user;par=u%40example.net");
	ASSERT_PL(&u.host, "example.com");
	ASSERT_EQ(u.params.l, 0);
	ASSERT_EQ(sip_uri_unescape(&u.user, out, sizeof(out), &n), 0);
	ASSERT(n == 22 && !memcmp(out, "user;par=u@example.net", n));
	ASSERT_EQ(m.count[SIP_HDR_ACCEPT], 6);
	free(buf);
}

/* RFC 3261 §20.10: an addr-spec's params belong to the header. */
TEST(rfc4475_cparam01_contact_param)
{
	static struct sip_msg m;
	struct sip_addr a;
	struct sip_uri u;
	char *buf = valid("cparam01", &m, NULL);

	ASSERT_EQ(sip_addr_decode(&a,
				  &sip_msg_hdr(&m, SIP_HDR_CONTACT)->value),
		  0);
	ASSERT(!a.angle);
	ASSERT_PL(&a.uri, "sip:+19725552222@gw1.example.net");
	ASSERT_PL(&a.params, ";unknownparam");
	ASSERT_EQ(sip_uri_decode(&u, &a.uri), 0);
	ASSERT_EQ(u.params.l, 0);
	free(buf);
}

TEST(rfc4475_cparam02_uri_param)
{
	static struct sip_msg m;
	struct sip_addr a;
	struct sip_uri u;
	char *buf = valid("cparam02", &m, NULL);

	ASSERT_EQ(sip_addr_decode(&a,
				  &sip_msg_hdr(&m, SIP_HDR_CONTACT)->value),
		  0);
	ASSERT(a.angle);
	ASSERT_PL(&a.uri, "sip:+19725552222@gw1.example.net;unknownparam");
	ASSERT_EQ(a.params.l, 0);
	ASSERT_EQ(sip_uri_decode(&u, &a.uri), 0);
	ASSERT(sip_uri_param_get(&u.params, "unknownparam", NULL) == 0);
	free(buf);
}

TEST(rfc4475_esc01_no_recursive_unescape)
{
	static struct sip_msg m;
	struct sip_addr a;
	struct sip_uri u;
	struct pl v;
	char out[64];
	size_t n;
	char *buf = valid("esc01", &m, NULL);

	ASSERT_EQ(sip_uri_decode(&u, &m.ruri), 0);
	ASSERT_EQ(sip_uri_unescape(&u.user, out, sizeof(out), &n), 0);
	ASSERT(n == 21 && !memcmp(out, "sips:user@example.com", n));
	ASSERT_EQ(sip_addr_decode(&a,
				  &sip_msg_hdr(&m, SIP_HDR_CONTACT)->value),
		  0);
	ASSERT_EQ(sip_uri_decode(&u, &a.uri), 0);
	ASSERT(u.lr); /* ";%6C%72" */
	ASSERT_EQ(sip_uri_param_get(&u.params, "name", &v), 0);
	ASSERT_PL(&v, "v%61lue%25%34%31");
	ASSERT_EQ(sip_uri_unescape(&v, out, sizeof(out), &n), 0);
	ASSERT(n == 8 && !memcmp(out, "value%41", n));
	free(buf);
}

TEST(rfc4475_intmeth_unknown_method)
{
	static struct sip_msg m;
	char *buf = valid("intmeth", &m, NULL);

	ASSERT_EQ(m.method_id, SIP_METHOD_OTHER);
	ASSERT_PL(&m.method, "!interesting-Method0123456789_*+`.%indeed'~");
	ASSERT(pl_eq(&m.cseq.method, &m.method));
	ASSERT_PL(&m.call_id, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
	ASSERT_PL(&m.via.branch, "z9hG4bK-.!%66*_+`'~");
	ASSERT_EQ(m.max_forwards, 255);
	free(buf);
}

TEST(rfc4475_regescrt_escaped_route)
{
	static struct sip_msg m;
	struct sip_addr a;
	struct sip_uri u;
	struct pl v;
	char *buf = valid("regescrt", &m, NULL);

	ASSERT_EQ(sip_addr_decode(&a,
				  &sip_msg_hdr(&m, SIP_HDR_CONTACT)->value),
		  0);
	ASSERT_EQ(sip_uri_decode(&u, &a.uri), 0);
	ASSERT_EQ(sip_uri_header_get(&u.headers, "route", &v), 0);
	ASSERT_PL(&v, "%3Csip:sip.example.com%3E");
	ASSERT(m.has_content_length && m.content_length == 0);
	free(buf);
}

TEST(rfc4475_inv2543_old_syntax)
{
	static struct sip_msg m;
	size_t len;
	char *buf = valid("inv2543", &m, &len);

	ASSERT(!m.has_content_length);
	ASSERT(m.body.p + m.body.l == buf + len);
	ASSERT(m.body.l > 0);
	ASSERT(!m.has_max_forwards);
	ASSERT_EQ(m.via.branch.l, 0);
	ASSERT_EQ(m.from_tag.l, 0);
	ASSERT_EQ(m.count[SIP_HDR_RECORD_ROUTE], 1);
	free(buf);
}

TEST(rfc4475_bcast_second_via)
{
	static struct sip_msg m;
	struct sip_via via;
	char *buf = valid("bcast", &m, NULL);

	ASSERT(!m.is_request);
	ASSERT_EQ(m.status, 200);
	ASSERT_EQ(sip_via_decode(
			  &via,
			  &sip_msg_hdr_next(&m, sip_msg_hdr(&m, SIP_HDR_VIA))
				   ->value),
		  0);
	ASSERT_PL(&via.host, "255.255.255.255");
	free(buf);
}

TEST(rfc4475_noreason_unreason)
{
	static struct sip_msg m;
	char *buf = valid("noreason", &m, NULL);

	ASSERT_EQ(m.status, 100);
	ASSERT_EQ(m.reason.l, 0);
	free(buf);
	buf = valid("unreason", &m, NULL);
	ASSERT_EQ(m.status, 200);
	ASSERT(m.reason.l > 20);
	ASSERT(m.reason.p[0] == '=');
	free(buf);
}

TEST(rfc4475_zeromf_and_unksm2)
{
	static struct sip_msg m;
	struct sip_addr a;
	struct sip_uri u;
	char *buf = valid("zeromf", &m, NULL);

	ASSERT(m.has_max_forwards);
	ASSERT_EQ(m.max_forwards, 0);
	free(buf);
	buf = valid("unksm2", &m, NULL);
	ASSERT_EQ(sip_addr_decode(&a, &sip_msg_hdr(&m, SIP_HDR_TO)->value), 0);
	ASSERT_EQ(sip_uri_decode(&u, &a.uri), 0);
	ASSERT_EQ(u.scheme_id, SIP_URI_OTHER);
	ASSERT_PL(&u.scheme, "isbn");
	free(buf);
}

/* clerr on a stream: ENODATA until the 9999 body bytes are there. */
TEST(rfc4475_clerr_stream_completes)
{
	static struct sip_msg m;
	size_t len;
	char *buf = load("clerr", &len), *big;
	const char *end = strstr(buf, "\r\n\r\n");
	size_t hlen = (size_t)(end + 4 - buf);

	big = calloc(1, hlen + 9999 + 10);
	ASSERT(big);
	memcpy(big, buf, len);
	ASSERT_EQ(sip_msg_decode(&m, big, hlen + 9998, true), ENODATA);
	ASSERT_EQ(sip_msg_decode(&m, big, hlen + 9999 + 10, true), 0);
	ASSERT_EQ(m.len, hlen + 9999);
	ASSERT_EQ(m.body.l, 9999);
	free(big);
	free(buf);
}
