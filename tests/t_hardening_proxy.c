/*
 * Hardening tests of the proxies (issue 16, the RFC details they owe):
 * the To tag of every final response (RFC 3261 §8.2.6.2), the Via
 * received/rport marks (§18.2.1, RFC 3581 §4), with proxy-stateful
 * driven by raw datagrams from a bound loopback socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "hash.h"
#include "mariadb.h"
#include "proc.h"
#include "sip_auth.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "stack.h"
#include "test.h"

/* ------------------------------------------------------------------ */
/* libsip                                                              */

static const char register_req[] = "REGISTER sip:example.com SIP/2.0\r\n"
				   "Via: SIP/2.0/UDP "
				   "127.0.0.1:5999;branch=z9hG4bKreg\r\n"
				   "Max-Forwards: 70\r\n"
				   "From: <sip:alice@example.com>;tag=f1\r\n"
				   "To: <sip:alice@example.com>\r\n"
				   "Call-ID: reg-1\r\n"
				   "CSeq: 1 REGISTER\r\n"
				   "Content-Length: 0\r\n\r\n";

TEST(sip_build_response_adds_a_to_tag_when_the_caller_passes_none)
{
	struct sip_msg *m = calloc(1, sizeof(*m));
	struct sip_msg *r = calloc(1, sizeof(*r));
	uint16_t st = 0;
	const char *why = NULL;
	struct buf b;

	ASSERT(m && r);
	ASSERT_EQ(sip_msg_decode(m, register_req, strlen(register_req), false),
		  0);
	ASSERT_EQ(sip_msg_validate(m, &st, &why), 0);
	buf_init(&b, 4096);
	/* §8.2.6.2: no caller tag, still one on a 200 ... */
	ASSERT_EQ(sip_build_response(&b, m, 200, NULL, NULL), 0);
	ASSERT_EQ(sip_msg_decode(r, b.data, b.len, false), 0);
	ASSERT_EQ(sip_msg_validate(r, &st, &why), 0);
	ASSERT_EQ(r->to_tag.l, SIP_TAG_SIZE - 1);
	/* ... and none on a 100. */
	buf_reset(&b);
	ASSERT_EQ(sip_build_response(&b, m, 100, NULL, NULL), 0);
	ASSERT(memmem(b.data, b.len, "To: <sip:alice@example.com>\r\n", 29));
	buf_free(&b);
	free(r);
	free(m);
}

TEST(sip_fwd_via_mark_fills_rport_and_received)
{
	static const char req[] = "OPTIONS sip:bob@example.com SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP "
				  "host.invalid:5999;rport;branch=z9hG4bKo\r\n"
				  "Max-Forwards: 70\r\n"
				  "From: <sip:alice@example.com>;tag=f1\r\n"
				  "To: <sip:bob@example.com>\r\n"
				  "Call-ID: o-1\r\n"
				  "CSeq: 1 OPTIONS\r\n"
				  "Content-Length: 0\r\n\r\n";
	struct sip_msg *m = calloc(1, sizeof(*m));
	struct sip_edits *ed = calloc(1, sizeof(*ed));
	uint16_t st = 0;
	const char *why = NULL;
	struct buf b;

	ASSERT(m && ed);
	ASSERT_EQ(sip_msg_decode(m, register_req, strlen(register_req), false),
		  0);
	ASSERT_EQ(sip_msg_validate(m, &st, &why), 0);
	/* Sent-by is the source, no rport asked: nothing owed. */
	sip_edits_init(ed, m);
	ASSERT_EQ(sip_fwd_via_mark(ed, "127.0.0.1", 9, 5999, false), 0);
	ASSERT_EQ(ed->n, 0u);
	ASSERT_EQ(sip_msg_decode(m, req, strlen(req), false), 0);
	ASSERT_EQ(sip_msg_validate(m, &st, &why), 0);
	sip_edits_init(ed, m);
	ASSERT_EQ(sip_fwd_via_mark(ed, "127.0.0.1", 9, 40000, false), 0);
	buf_init(&b, 4096);
	ASSERT_EQ(sip_edits_apply(ed, &b), 0);
	ASSERT_MSG(memmem(b.data, b.len,
			  "Via: SIP/2.0/UDP host.invalid:5999;rport=40000;"
			  "branch=z9hG4bKo;received=127.0.0.1\r\n",
			  72),
		   "%.*s", (int)b.len, b.data);
	buf_free(&b);
	free(ed);
	free(m);
}

TEST(sip_hash_siphash_vectors_incremental_and_seeds)
{
	/* The reference vectors of SipHash-2-4 (the paper, appendix A):
	 * key 00..0f, messages 00..(n-1). */
	struct hash_key k = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
	struct hash_key k2 = {1, 2};
	unsigned char m[64];
	struct hash_sip s;
	unsigned i, same = 0;

	for (i = 0; i < sizeof(m); i++)
		m[i] = (unsigned char)i;
	ASSERT(hash_siphash(&k, m, 0) == 0x726fdb47dd0e0e31ull);
	ASSERT(hash_siphash(&k, m, 15) == 0xa129ca6149be45e5ull);
	/* Pieces give the whole. */
	hash_sip_init(&s, &k);
	hash_sip_add(&s, m, 3);
	hash_sip_add(&s, m + 3, 9);
	hash_sip_add(&s, m + 12, 3);
	ASSERT(hash_sip_end(&s) == 0xa129ca6149be45e5ull);
	/* Another key, another layout: of 64 inputs none hashes alike. */
	for (i = 0; i < sizeof(m); i++)
		same += hash_siphash(&k, m, i) == hash_siphash(&k2, m, i);
	ASSERT_EQ(same, 0u);
	/* The process key is drawn at random, not a constant. */
	ASSERT(hash_process_key()->k0 || hash_process_key()->k1);
	ASSERT_EQ(hash_keyed32("abc", 3),
		  (uint32_t)hash_siphash(hash_process_key(), "abc", 3));
}

/* ------------------------------------------------------------------ */
/* proxy-stateful, raw datagrams                                       */

/*
 * Sends req (a format with %u: our local port, at most twice) to
 * 127.0.0.1:port from a fresh socket and copies the first final
 * response within 3 s into out (NUL-terminated); returns its length or
 * 0.  *lportp gets our port.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static size_t udp_exchange(uint16_t port, const char *fmt, char *out,
			   size_t size, uint16_t *lportp)
{
	struct sockaddr_in sa;
	uint16_t lport;
	int fd = proc_udp_bound(&lport);
	char msg[2048];
	size_t got = 0;

	ASSERT(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(msg, sizeof(msg), fmt, lport, lport);
	ASSERT(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
		      sizeof(sa)) > 0);
	for (int i = 0; i < 10 && !got; i++) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t n;

		if (poll(&pfd, 1, 300) <= 0)
			continue;
		n = recv(fd, out, size - 1, 0);
		if (n < 12 || strncmp(out, "SIP/2.0 ", 8) || out[8] == '1')
			continue;
		out[n] = '\0';
		got = (size_t)n;
	}
	close(fd);
	if (lportp)
		*lportp = lport;
	return got;
}
#pragma GCC diagnostic pop

/* The response in text decoded and validated into *m (heap). */
static struct sip_msg *decoded(const char *text, size_t len)
{
	struct sip_msg *m = calloc(1, sizeof(*m));
	uint16_t st = 0;
	const char *why = NULL;

	ASSERT(m);
	ASSERT_MSG(!sip_msg_decode(m, text, len, false) &&
			   !sip_msg_validate(m, &st, &why),
		   "bad response:\n%s", text);
	return m;
}

TEST_TIMEOUT(stateful_register_200_carries_a_to_tag, 20)
{
	static const char reg[] = "REGISTER sip:example.com SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP "
				  "127.0.0.1:%u;branch=z9hG4bKreg200\r\n"
				  "Max-Forwards: 70\r\n"
				  "From: <sip:alice@example.com>;tag=f1\r\n"
				  "To: <sip:alice@example.com>\r\n"
				  "Call-ID: reg-200-tag\r\n"
				  "CSeq: 1 REGISTER\r\n"
				  "Contact: <sip:alice@127.0.0.1:%u>\r\n"
				  "Expires: 60\r\n"
				  "Content-Length: 0\r\n\r\n";
	struct proc p;
	uint16_t port = proc_free_port();
	char in[4096];
	size_t n;
	struct sip_msg *m;

	stack_start_stateful(&p, port, false, NULL);
	n = udp_exchange(port, reg, in, sizeof(in), NULL);
	ASSERT_MSG(n, "no answer to REGISTER");
	m = decoded(in, n);
	ASSERT_MSG(!strncmp(in, "SIP/2.0 200 ", 12), "%s", in);
	ASSERT_MSG(m->to_tag.l > 0, "no To tag:\n%s", in);
	free(m);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(stateful_answer_fills_rport_and_received, 20)
{
	/* RFC 3581 §4: a bare rport gets the source port, and the
	 * sent-by that is not the source address gets received=. */
	static const char opt[] = "OPTIONS sip:nobody@example.com SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP "
				  "host.invalid:%u;rport;branch=z9hG4bKrp\r\n"
				  "Max-Forwards: 70\r\n"
				  "From: <sip:alice@example.com>;tag=f1\r\n"
				  "To: <sip:nobody@example.com>\r\n"
				  "Call-ID: rport-1\r\n"
				  "CSeq: 1 OPTIONS\r\n"
				  "Content-Length: 0\r\n\r\n";
	struct proc p;
	uint16_t port = proc_free_port(), lport = 0;
	char in[4096], want[128];
	size_t n;
	struct sip_msg *m;

	stack_start_stateful(&p, port, false, NULL);
	n = udp_exchange(port, opt, in, sizeof(in), &lport);
	ASSERT_MSG(n, "no answer to OPTIONS");
	m = decoded(in, n);
	ASSERT_EQ(m->via.rport, lport);
	ASSERT_MSG(pl_eq_str(&m->via.received, "127.0.0.1"), "%s", in);
	snprintf(want, sizeof(want),
		 ";rport=%u;branch=z9hG4bKrp;received=", lport);
	ASSERT_MSG(strstr(in, want), "%s", in);
	free(m);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

/* ------------------------------------------------------------------ */
/* proxy-stateful, --domain as an IP address, sipp uac/uas             */

/* sipp's injection file: user;domain;password;contact host;port. */
static void csv_line(const char *path, const char *user, const char *domain,
		     uint16_t cport)
{
	FILE *fp = fopen(path, "w");

	ASSERT(fp);
	fprintf(fp, "SEQUENTIAL\n%s;%s;pw-%s;127.0.0.1;%u\n", user, domain,
		user, cport);
	fclose(fp);
}

/*
 * RFC 3261 §16.4, §19.1.4: with --domain 127.0.0.1 the callee's Contact
 * (sip:127.0.0.1:UPORT, sipp's uas) is not us, so the in-dialog BYE
 * that carries our Route and that Contact as Request-URI is forwarded
 * by its Request-URI; it was taken for our domain and got 404.
 */
TEST_TIMEOUT(stateful_domain_ip_in_dialog_bye_reaches_callee, 40)
{
	struct proc p, uas;
	uint16_t port = proc_free_port(), uport = proc_free_port();
	char dst[64], up[16], reg[512], uac[512];
	const char *extra[] = {"--domain", "127.0.0.1", "--record-route",
			       NULL};
	const char *uas_argv[] = {"sipp",     "-sn", "uas", "-i", "127.0.0.1",
				  "-p",	      up,    "-t",  "u1", "-nostdin",
				  "-timeout", "30s", NULL};
	const char *reg_argv[] = {"sipp",      "-sf",	   reg,	 "-inf",
				  "bob.csv",   "-m",	   "1",	 "-i",
				  "127.0.0.1", "-t",	   "u1", "-timeout",
				  "10s",       "-nostdin", dst,	 NULL};
	const char *uac_argv[] = {"sipp",      "-sf",	   uac,	  "-inf",
				  "alice.csv", "-s",	   "bob", "-m",
				  "50",	       "-r",	   "25",  "-i",
				  "127.0.0.1", "-t",	   "u1",  "-timeout",
				  "20s",       "-nostdin", dst,	  NULL};
	json_t *st;

	stack_need_sipp();
	stack_start_stateful(&p, port, false, extra);
	snprintf(up, sizeof(up), "%u", uport);
	snprintf(dst, sizeof(dst), "127.0.0.1:%u", port);
	snprintf(reg, sizeof(reg), "%s/tests/sipp/stateful_register.xml",
		 test_root_dir());
	snprintf(uac, sizeof(uac), "%s/tests/sipp/stateful_uac.xml",
		 test_root_dir());
	csv_line("bob.csv", "bob", "127.0.0.1", uport);
	csv_line("alice.csv", "alice", "127.0.0.1", 0);
	proc_start(&uas, uas_argv);
	ASSERT_EQ(proc_run(reg_argv, "sipp-reg.log", 15000), 0);
	/* sipp exits 0 only when every call completed (BYE answered). */
	ASSERT_EQ(proc_run(uac_argv, "sipp-uac.log", 30000), 0);
	st = stack_stats(&p);
	ASSERT_EQ(json_integer_value(json_object_get(
			  json_object_get(st, "responses_sent"), "404")),
		  0);
	json_decref(st);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
	proc_signal(&uas, SIGTERM);
	proc_stop(&uas, 3000);
}

/* ------------------------------------------------------------------ */
/* proxy-stateful, digest (RFC 3261 §22, RFC 2617)                     */

/* REGISTER for alice, branch/CSeq n, with the Authorization value
 * auth (NULL: none); the first final response into out. */
static size_t register_auth(uint16_t port, unsigned n, const char *user,
			    const char *auth, char *out, size_t size)
{
	char fmt[2048];

	snprintf(fmt, sizeof(fmt),
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%%u;branch=z9hG4bKauth%u\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:%s@example.com>;tag=f%u\r\n"
		 "To: <sip:%s@example.com>\r\n"
		 "Call-ID: auth-%u@127.0.0.1\r\n"
		 "CSeq: %u REGISTER\r\n"
		 "Contact: <sip:%s@127.0.0.1:%%u>\r\n"
		 "%s%s%s"
		 "Content-Length: 0\r\n\r\n",
		 n, user, n, user, n, n, user, auth ? "Authorization: " : "",
		 auth ? auth : "", auth ? "\r\n" : "");
	return udp_exchange(port, fmt, out, size, NULL);
}

/* The nonce of the WWW-Authenticate in response text, into nonce. */
static void nonce_of(const char *text, char nonce[SIP_AUTH_NONCE_LEN + 1])
{
	const char *p = strstr(text, "nonce=\"");

	ASSERT_MSG(p, "no nonce in:\n%s", text);
	p += 7;
	ASSERT(strlen(p) > SIP_AUTH_NONCE_LEN);
	memcpy(nonce, p, SIP_AUTH_NONCE_LEN);
	nonce[SIP_AUTH_NONCE_LEN] = '\0';
}

/* Credentials of alice (password pw-alice) without qop for uri. */
static void creds_no_qop(char *out, size_t size, const char *nonce,
			 const char *uri)
{
	char ha1[SIP_AUTH_HEX_SIZE], resp[SIP_AUTH_HEX_SIZE];
	struct pl u, r, p, n, h, m, du;

	pl_set_str(&u, "alice");
	pl_set_str(&r, "example.com");
	pl_set_str(&p, "pw-alice");
	pl_set_str(&n, nonce);
	pl_set_str(&m, "REGISTER");
	pl_set_str(&du, uri);
	ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &r, &p, ha1), 0);
	pl_set_str(&h, ha1);
	ASSERT_EQ(sip_auth_response(SIP_AUTH_ALG_MD5, &h, &n, NULL, NULL, NULL,
				    &m, &du, resp),
		  0);
	snprintf(out, size,
		 "Digest username=\"alice\", realm=\"example.com\", "
		 "nonce=\"%s\", uri=\"%s\", response=\"%s\", "
		 "algorithm=MD5",
		 nonce, uri, resp);
}

static void start_with_auth(struct proc *p, uint16_t port)
{
	static const char *const names[] = {"alice", "bob"};
	const char *extra[] = {"--users-file", "users.txt", NULL};

	stack_write_users_named(names, 2, 1);
	stack_start_stateful(p, port, false, extra);
}

TEST_TIMEOUT(stateful_digest_without_qop_is_not_replayed, 20)
{
	struct proc p;
	uint16_t port = proc_free_port();
	char in[4096], nonce[SIP_AUTH_NONCE_LEN + 1], cred[512];

	start_with_auth(&p, port);
	ASSERT(register_auth(port, 1, "alice", NULL, in, sizeof(in)));
	ASSERT_MSG(!strncmp(in, "SIP/2.0 401 ", 12), "%s", in);
	nonce_of(in, nonce);
	creds_no_qop(cred, sizeof(cred), nonce, "sip:example.com");
	ASSERT(register_auth(port, 2, "alice", cred, in, sizeof(in)));
	ASSERT_MSG(!strncmp(in, "SIP/2.0 200 ", 12), "%s", in);
	/* The same Authorization in a new request: a replay. */
	ASSERT(register_auth(port, 3, "alice", cred, in, sizeof(in)));
	ASSERT_MSG(!strncmp(in, "SIP/2.0 401 ", 12), "replay taken:\n%s", in);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(stateful_digest_uri_must_be_the_request_uri, 20)
{
	struct proc p;
	uint16_t port = proc_free_port();
	char in[4096], nonce[SIP_AUTH_NONCE_LEN + 1], cred[512];

	start_with_auth(&p, port);
	ASSERT(register_auth(port, 1, "alice", NULL, in, sizeof(in)));
	nonce_of(in, nonce);
	/* RFC 2617 §3.2.2.5: credentials for another URI: 400. */
	creds_no_qop(cred, sizeof(cred), nonce, "sip:other.example.net");
	ASSERT(register_auth(port, 2, "alice", cred, in, sizeof(in)));
	ASSERT_MSG(!strncmp(in, "SIP/2.0 400 ", 12), "%s", in);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(stateful_digest_unknown_user_is_challenged_like_a_known, 20)
{
	struct proc p;
	uint16_t port = proc_free_port();
	char in[4096], nonce[SIP_AUTH_NONCE_LEN + 1], cred[512], *c;

	start_with_auth(&p, port);
	/* No user enumeration: 401 for mallory as for alice. */
	ASSERT(register_auth(port, 1, "mallory", NULL, in, sizeof(in)));
	ASSERT_MSG(!strncmp(in, "SIP/2.0 401 ", 12), "%s", in);
	ASSERT(strstr(in, "WWW-Authenticate: Digest realm=\"example.com\""));
	/* And with credentials: challenged again, not 403. */
	nonce_of(in, nonce);
	creds_no_qop(cred, sizeof(cred), nonce, "sip:example.com");
	c = strstr(cred, "alice");
	memcpy(c, "malle", 5);
	ASSERT(register_auth(port, 2, "malle", cred, in, sizeof(in)));
	ASSERT_MSG(!strncmp(in, "SIP/2.0 401 ", 12), "%s", in);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

/* Two proxy-stateful processes key their hashes differently: the
 * stateless ACK branch of the same request differs.  (Seen from the
 * library: the branch of one message under two secrets.) */
TEST(sip_build_branch_stateless_is_keyed_by_the_secret)
{
	struct sip_msg *m = calloc(1, sizeof(*m));
	char b1[SIP_BRANCH_SIZE], b2[SIP_BRANCH_SIZE], b3[SIP_BRANCH_SIZE];
	uint16_t st = 0;
	const char *why = NULL;

	ASSERT(m);
	ASSERT_EQ(sip_msg_decode(m, register_req, strlen(register_req), false),
		  0);
	ASSERT_EQ(sip_msg_validate(m, &st, &why), 0);
	ASSERT_EQ(sip_build_branch_stateless(b1, m, 1), 0);
	ASSERT_EQ(sip_build_branch_stateless(b2, m, 2), 0);
	ASSERT_EQ(sip_build_branch_stateless(b3, m, 1), 0);
	ASSERT(strcmp(b1, b2));
	ASSERT_STR(b1, b3);
	free(m);
}

/* ------------------------------------------------------------------ */
/* A header line without a colon: 400, not silence                     */

TEST(sip_msg_request_with_a_line_without_colon_is_answerable)
{
	char path[512], *text;
	size_t len;
	struct sip_msg *m = calloc(1, sizeof(*m));
	uint16_t st = 0;
	const char *why = NULL;
	FILE *f;

	ASSERT(m);
	snprintf(path, sizeof(path), "%s/tests/data/013-no-colon.sip",
		 test_root_dir());
	f = fopen(path, "rb");
	ASSERT(f);
	text = calloc(1, 4096);
	ASSERT(text);
	len = fread(text, 1, 4095, f);
	fclose(f);
	/* The verdict stays (tests/data/013-no-colon.out) ... */
	ASSERT_EQ(sip_msg_decode(m, text, len, false), EBADMSG);
	/* ... but the request is there to answer. */
	ASSERT(m->bad_line);
	ASSERT(sip_msg_hdr(m, SIP_HDR_VIA));
	ASSERT_EQ(sip_msg_validate(m, &st, &why), EBADMSG);
	ASSERT_EQ(st, 400);
	free(text);
	free(m);
}

static const char no_colon_req[] = "OPTIONS sip:nobody@example.com SIP/2.0\r\n"
				   "Via: SIP/2.0/UDP "
				   "127.0.0.1:%u;branch=z9hG4bKnocolon\r\n"
				   "Max-Forwards: 70\r\n"
				   "This line has no colon\r\n"
				   "From: <sip:alice@example.com>;tag=f1\r\n"
				   "To: <sip:nobody@example.com>\r\n"
				   "Call-ID: no-colon-%u\r\n"
				   "CSeq: 1 OPTIONS\r\n"
				   "Content-Length: 0\r\n\r\n";

TEST_TIMEOUT(stateful_line_without_colon_gets_400, 20)
{
	struct proc p;
	uint16_t port = proc_free_port();
	char in[4096];

	stack_start_stateful(&p, port, false, NULL);
	ASSERT_MSG(udp_exchange(port, no_colon_req, in, sizeof(in), NULL),
		   "no answer: silence");
	ASSERT_MSG(!strncmp(in, "SIP/2.0 400 ", 12), "%s", in);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(proxy_stateless_line_without_colon_gets_400, 20)
{
	struct proc p;
	uint16_t port = proc_free_port(), hop = proc_free_port();
	char listen[64], next[64], in[4096];
	const char *argv[] = {
		"proxy-stateless",  "--listen", listen,	     "--next", next,
		"--probe-interval", "0",	"--control", NULL};

	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u", port);
	snprintf(next, sizeof(next), "udp:127.0.0.1:%u", hop);
	stack_start_ready(&p, argv, "ready");
	ASSERT_MSG(udp_exchange(port, no_colon_req, in, sizeof(in), NULL),
		   "no answer: silence");
	ASSERT_MSG(!strncmp(in, "SIP/2.0 400 ", 12), "%s", in);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

/* ------------------------------------------------------------------ */
/* write-through: a failed commit undoes the binding it answered 500   */

/* REGISTER user with contact (CSeq cseq); the final status or 0. */
static int register_status(uint16_t port, const char *user,
			   const char *contact, unsigned cseq)
{
	char fmt[1024], in[4096];

	snprintf(fmt, sizeof(fmt),
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%%u;branch=z9hG4bKwt%s%u\r\n"
		 "From: <sip:%s@example.com>;tag=1\r\n"
		 "To: <sip:%s@example.com>\r\nCall-ID: wt-%s@h\r\n"
		 "CSeq: %u REGISTER\r\nContact: <%s>\r\nX-Port: %%u\r\n"
		 "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		 user, cseq, user, user, user, cseq, contact);
	if (!udp_exchange(port, fmt, in, sizeof(in), NULL))
		return 0;
	return (int)strtol(in + 8, NULL, 10);
}

static long long bindings_of(struct proc *p)
{
	json_t *st = stack_stats(p);
	long long v = json_integer_value(json_object_get(st, "bindings"));

	json_decref(st);
	return v;
}

TEST_TIMEOUT(stateful_write_through_failed_commit_undoes_the_binding, 60)
{
	struct mariadb m;
	struct proc p;
	uint16_t port = proc_free_port();
	char schema[512];
	const char *extra[] = {"--db", m.url, "--db-mode", "write-through",
			       NULL};

	if (!mariadb_available())
		test_skip("mariadb-server is not installed");
	snprintf(schema, sizeof(schema), "%s/proxy-stateful/schema.sql",
		 test_root_dir());
	mariadb_start(&m, "sipstone_undo", schema);
	ASSERT_EQ(mariadb_sql(&m,
			      "INSERT INTO subscriber (username, domain, "
			      "auth_required) VALUES ('alice', 'example.com', "
			      "0), ('bob', 'example.com', 0)",
			      NULL, 0),
		  0);
	stack_start_stateful(&p, port, false, extra);
	ASSERT_EQ(register_status(port, "alice", "sip:alice@127.0.0.1:1", 1),
		  200);
	ASSERT_EQ(bindings_of(&p), 1);
	mariadb_stop(&m);
	/* Refused with 500: neither a new binding (bob) nor a changed one
	 * (alice's second contact) may stay in memory. */
	ASSERT_EQ(register_status(port, "bob", "sip:bob@127.0.0.1:1", 1), 500);
	ASSERT_EQ(register_status(port, "alice", "sip:alice@127.0.0.1:2", 2),
		  500);
	ASSERT_EQ(bindings_of(&p), 1);
	ASSERT_EQ(proc_stop(&p, 8000), 0);
}
