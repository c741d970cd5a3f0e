/* Tests for the per-run CA: chains, names, and a real TLS handshake. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki.h"
#include "proc.h"
#include "test.h"

static void make_pki(const char *sub, const char *host, const char *addr)
{
	char dir[600], why[256] = "";
	struct pki *p = NULL;

	snprintf(dir, sizeof(dir), "%s/%s", test_tmp_dir(), sub);
	ASSERT_MSG(pki_create(&p, dir, 1, why, sizeof(why)) == 0, "%s", why);
	ASSERT_MSG(pki_issue(p, host, addr, why, sizeof(why)) == 0, "%s", why);
	pki_free(p);
}

TEST(pki_certificates_verify_with_openssl_and_carry_the_names)
{
	const char *verify[] = {"openssl",	  "verify",   "-CAfile",
				"run/ca.pem",	  "-purpose", "sslserver",
				"run/proxy1.pem", NULL};
	const char *rogue[] = {"openssl",      "verify",	 "-CAfile",
			       "other/ca.pem", "run/proxy1.pem", NULL};
	const char *show[] = {"openssl",	"x509",		  "-in",
			      "run/proxy1.pem", "-noout",	  "-subject",
			      "-ext",		"subjectAltName", NULL};
	struct stat st;
	size_t len;
	char *text;

	make_pki("run", "proxy1", "127.0.0.1");
	make_pki("other", "proxy1", "127.0.0.1");
	ASSERT_EQ(proc_run(verify, "verify.log", 10000), 0);
	/* Another run's CA must not vouch for this run's hosts. */
	ASSERT(proc_run(rogue, "rogue.log", 10000) != 0);
	ASSERT_EQ(proc_run(show, "show.log", 10000), 0);
	text = test_read_file("show.log", &len);
	ASSERT_MSG(strstr(text, "CN = proxy1"), "%s", text);
	ASSERT(strstr(text, "DNS:proxy1"));
	ASSERT(strstr(text, "IP Address:127.0.0.1"));
	free(text);
	ASSERT_EQ(stat("run/proxy1.key", &st), 0);
	ASSERT_EQ(st.st_mode & 0777, 0600);
}

TEST(pki_rejects_names_that_are_not_host_names)
{
	char why[256] = "";
	struct pki *p = NULL;

	ASSERT_EQ(pki_create(&p, "run", 1, why, sizeof(why)), 0);
	ASSERT_EQ(pki_issue(p, "../etc/x", NULL, why, sizeof(why)), EINVAL);
	ASSERT(strstr(why, "not usable as a host name"));
	ASSERT_EQ(pki_issue(p, "", NULL, why, sizeof(why)), EINVAL);
	ASSERT_EQ(pki_issue(p, ".hidden", NULL, why, sizeof(why)), EINVAL);
	/* A name without an IP address: DNS name only. */
	ASSERT_EQ(pki_issue(p, "lb-1.example", "lb-1.example", why,
			    sizeof(why)),
		  0);
	pki_free(p);
	ASSERT_EQ(pki_create(&p, "/nonexistent/dir", 1, why, sizeof(why)),
		  ENOENT);
	ASSERT(strstr(why, "cannot create /nonexistent/dir"));
}

struct server_arg {
	int fd;
	int ok;
};

static void *tls_server(void *arg)
{
	struct server_arg *a = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL *ssl;

	SSL_CTX_use_certificate_file(ctx, "run/proxy1.pem", SSL_FILETYPE_PEM);
	SSL_CTX_use_PrivateKey_file(ctx, "run/proxy1.key", SSL_FILETYPE_PEM);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, a->fd);
	a->ok = SSL_accept(ssl) == 1;
	if (a->ok)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(a->fd);
	return NULL;
}

/* A handshake that checks the chain and the expected host name. */
static bool handshake(const char *ca, const char *expect_name)
{
	struct server_arg sa;
	pthread_t thread;
	SSL_CTX *ctx;
	SSL *ssl;
	int sv[2];
	bool ok;

	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sa.fd = sv[1];
	sa.ok = 0;
	ASSERT_EQ(pthread_create(&thread, NULL, tls_server, &sa), 0);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	ASSERT(SSL_CTX_load_verify_locations(ctx, ca, NULL) == 1);
	ssl = SSL_new(ctx);
	SSL_set1_host(ssl, expect_name);
	SSL_set_fd(ssl, sv[0]);
	ok = SSL_connect(ssl) == 1;
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(sv[0]);
	pthread_join(thread, NULL);
	ERR_clear_error();
	return ok;
}

TEST(pki_tls_handshake_by_name_and_by_address)
{
	make_pki("run", "proxy1", "127.0.0.1");
	make_pki("other", "proxy1", "127.0.0.1");
	ASSERT(handshake("run/ca.pem", "proxy1"));
	ASSERT(handshake("run/ca.pem", "127.0.0.1"));
	ASSERT(!handshake("run/ca.pem", "proxy2"));
	ASSERT(!handshake("other/ca.pem", "proxy1"));
}
