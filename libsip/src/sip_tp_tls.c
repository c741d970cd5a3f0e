#include "sip_tp_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "sip_tp"
#include "list.h"
#include "log.h"
#include "obj.h"
#include "sip_tp_int.h"

/* Where each SSL keeps its connection; set once per process. */
static int conn_ex_idx = -1;
static pthread_once_t conn_ex_once = PTHREAD_ONCE_INIT;

static void conn_ex_init(void)
{
	conn_ex_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Logs OpenSSL's queue once, with context, and empties it. */
static void log_ssl(const char *what)
{
	unsigned long e;
	char msg[256];
	bool any = false;

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, msg, sizeof(msg));
		log_warn("%s: %s", what, msg);
		any = true;
	}
	if (!any)
		log_warn("%s", what);
}

static int new_session(SSL *ssl, SSL_SESSION *s);

static void tls_destroy(void *obj)
{
	struct sip_tp_tls *tls = obj;

	SSL_CTX_free(tls->ctx);
}

int sip_tp_tls_alloc(struct sip_tp_tls **tlsp, bool client,
		     const struct sip_tp_tls_opts *opts)
{
	static const unsigned char sid_ctx[] = "sipstone";
	struct sip_tp_tls *tls;
	int err = EINVAL;

	if (!opts || (!client && (!opts->cert_file || !opts->key_file)))
		return EINVAL;
	{
		struct sigaction sa;

		/*
		 * OpenSSL writes with write(2): a peer that reset the
		 * connection would kill the process with SIGPIPE.  Ignore
		 * it unless the program chose a disposition itself.
		 */
		if (sigaction(SIGPIPE, NULL, &sa) == 0 &&
		    sa.sa_handler == SIG_DFL)
			signal(SIGPIPE, SIG_IGN);
	}
	pthread_once(&conn_ex_once, conn_ex_init);
	if (conn_ex_idx < 0)
		return ENOMEM;
	tls = obj_alloc(sizeof(*tls), tls_destroy);
	if (!tls)
		return ENOMEM;
	tls->client = client;
	tls->ctx = SSL_CTX_new(client ? TLS_client_method()
				      : TLS_server_method());
	if (!tls->ctx) {
		log_ssl("SSL_CTX_new");
		err = ENOMEM;
		goto out;
	}
	SSL_CTX_set_min_proto_version(tls->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(tls->ctx,
			 SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (opts->cert_file && SSL_CTX_use_certificate_chain_file(
				       tls->ctx, opts->cert_file) != 1) {
		log_ssl(opts->cert_file);
		goto out;
	}
	if (opts->key_file &&
	    (SSL_CTX_use_PrivateKey_file(tls->ctx, opts->key_file,
					 SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(tls->ctx) != 1)) {
		log_ssl(opts->key_file);
		goto out;
	}
	if (client) {
		if (opts->no_verify) {
			SSL_CTX_set_verify(tls->ctx, SSL_VERIFY_NONE, NULL);
		} else {
			if (opts->ca_file ? SSL_CTX_load_verify_locations(
						    tls->ctx, opts->ca_file,
						    NULL) != 1
					  : SSL_CTX_set_default_verify_paths(
						    tls->ctx) != 1) {
				log_ssl(opts->ca_file ? opts->ca_file
						      : "default CA paths");
				goto out;
			}
			SSL_CTX_set_verify(tls->ctx, SSL_VERIFY_PEER, NULL);
		}
		if (opts->no_resume) {
			/*
			 * Every handshake in full: no session kept, and no
			 * ticket asked for (TLS 1.2; a TLS 1.3 server sends
			 * them anyway, and they are dropped).
			 */
			SSL_CTX_set_session_cache_mode(tls->ctx,
						       SSL_SESS_CACHE_OFF);
			SSL_CTX_set_options(tls->ctx, SSL_OP_NO_TICKET);
		} else {
			/* Sessions go to the transport that made the
			 * connection. */
			SSL_CTX_set_session_cache_mode(
				tls->ctx,
				SSL_SESS_CACHE_CLIENT |
					SSL_SESS_CACHE_NO_INTERNAL_STORE);
			SSL_CTX_sess_set_new_cb(tls->ctx, new_session);
		}
	} else {
		SSL_CTX_set_session_cache_mode(tls->ctx,
					       SSL_SESS_CACHE_SERVER);
		SSL_CTX_set_session_id_context(tls->ctx, sid_ctx,
					       sizeof(sid_ctx) - 1);
		if (opts->ca_file) {
			if (SSL_CTX_load_verify_locations(
				    tls->ctx, opts->ca_file, NULL) != 1) {
				log_ssl(opts->ca_file);
				goto out;
			}
			SSL_CTX_set_verify(
				tls->ctx,
				SSL_VERIFY_PEER |
					SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				NULL);
		}
	}
	*tlsp = tls;
	tls = NULL;
	err = 0;
out:
	obj_deref(tls);
	return err;
}

static struct sess *sess_find(struct sip_tp *tp, const struct sip_tp_addr *a,
			      const char *name)
{
	struct le *le;

	for (le = tp->sessions.head; le; le = le->next) {
		struct sess *s = le->data;

		if (sip_tp_addr_eq(&s->peer, a) &&
		    !strcmp(s->name, name ? name : ""))
			return s;
	}
	return NULL;
}

/* OpenSSL hands us a client session (TLS 1.3: from a ticket). */
static int new_session(SSL *ssl, SSL_SESSION *session)
{
	struct sip_tp_conn *conn = SSL_get_ex_data(ssl, conn_ex_idx);
	struct sip_tp *tp;
	struct sess *s;

	if (!conn || !conn->tp)
		return 0;
	tp = conn->tp;
	s = sess_find(tp, &conn->peer, conn->tls_name);
	if (!s) {
		if (tp->sessions.count >= TP_SESS_MAX) {
			s = tp->sessions.head->data;
			list_unlink(&s->le);
			SSL_SESSION_free(s->sess);
			free(s);
		}
		s = calloc(1, sizeof(*s));
		if (!s)
			return 0;
		s->peer = conn->peer;
		snprintf(s->name, sizeof(s->name), "%s",
			 conn->tls_name ? conn->tls_name : "");
		list_append(&tp->sessions, &s->le, s);
	} else {
		SSL_SESSION_free(s->sess);
	}
	/* Returning 1 keeps the reference OpenSSL passed to us. */
	s->sess = session;
	return 1;
}

/* Connections. */

int sip_tp_tls_start(struct sip_tp_conn *conn)
{
	struct sip_tp *tp = conn->tp;
	struct sip_tp_tls *tls = conn->outgoing ? tp->opts.tls_client
						: tp->opts.tls_server;

	conn->ssl = SSL_new(tls->ctx);
	if (!conn->ssl) {
		log_ssl("SSL_new");
		return ENOMEM;
	}
	SSL_set_ex_data(conn->ssl, conn_ex_idx, conn);
	if (SSL_set_fd(conn->ssl, conn->fd) != 1) {
		log_ssl("SSL_set_fd");
		return ENOMEM;
	}
	if (!conn->outgoing) {
		SSL_set_accept_state(conn->ssl);
		return 0;
	}
	SSL_set_connect_state(conn->ssl);
	if (conn->tls_name) {
		struct in6_addr ip;
		bool is_ip = inet_pton(AF_INET, conn->tls_name, &ip) == 1 ||
			     inet_pton(AF_INET6, conn->tls_name, &ip) == 1;

		/* RFC 6066 §3: no IP literals in SNI. */
		if (!is_ip)
			SSL_set_tlsext_host_name(conn->ssl, conn->tls_name);
		if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(
				    SSL_get0_param(conn->ssl),
				    conn->tls_name) != 1
			  : SSL_set1_host(conn->ssl, conn->tls_name) != 1) {
			log_ssl("TLS name");
			return EINVAL;
		}
	}
	{
		struct sess *s = sess_find(tp, &conn->peer, conn->tls_name);

		if (s && s->sess && SSL_SESSION_is_resumable(s->sess))
			SSL_set_session(conn->ssl, s->sess);
	}
	return 0;
}

void sip_tp_tls_handshake(struct sip_tp_conn *conn)
{
	struct sip_tp *tp = conn->tp;
	int rc, e;

	/* SSL_get_error() reads this thread's queue: start it empty. */
	ERR_clear_error();
	rc = SSL_do_handshake(conn->ssl);

	if (rc == 1) {
		conn->ssl_want_write = false;
		conn->resumed = SSL_session_reused(conn->ssl) == 1;
		if (conn->resumed)
			tp->stats.tls_resumed++;
		else
			tp->stats.tls_full++;
		sip_tp_stream_established(conn);
		/* Data may have come with the last handshake flight. */
		sip_tp_stream_read(conn);
		return;
	}
	e = SSL_get_error(conn->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		conn->ssl_want_write = e == SSL_ERROR_WANT_WRITE;
		sip_tp_stream_update_events(conn);
		return;
	}
	{
		char a[SIP_TP_ADDR_STRLEN], what[SIP_TP_ADDR_STRLEN + 64];
		long v = SSL_get_verify_result(conn->ssl);

		sip_tp_addr_print(&conn->peer, a, sizeof(a));
		snprintf(what, sizeof(what), "%s: TLS handshake failed%s%s", a,
			 v != X509_V_OK ? ": " : "",
			 v != X509_V_OK ? X509_verify_cert_error_string(v)
					: "");
		log_ssl(what);
	}
	tp->stats.tls_failed++;
	tp->stats.conns_failed++;
	sip_tp_stream_close(conn, "handshake failed");
}

/* Answers RFC 5626 §4.4.1 pings right away; they are tiny. */

size_t sip_tp_tls_read(struct sip_tp_conn *conn, void *p, size_t room)
{
	int rc, e;

	ERR_clear_error();
	rc = SSL_read(conn->ssl, p, room > INT32_MAX ? INT32_MAX : (int)room);
	if (rc > 0)
		return (size_t)rc;
	e = SSL_get_error(conn->ssl, rc);
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (e == SSL_ERROR_WANT_WRITE) {
		conn->ssl_want_write = true;
		sip_tp_stream_update_events(conn);
		return 0;
	}
	if (e != SSL_ERROR_ZERO_RETURN && e != SSL_ERROR_SYSCALL)
		log_ssl("SSL_read");
	ERR_clear_error();
	sip_tp_stream_close(conn, "TLS closed");
	return 0;
}

size_t sip_tp_tls_write(struct sip_tp_conn *conn, const void *p, size_t len)
{
	int rc, e;

	ERR_clear_error();
	rc = SSL_write(conn->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
	if (rc > 0)
		return (size_t)rc;
	e = SSL_get_error(conn->ssl, rc);
	if (e == SSL_ERROR_WANT_WRITE) {
		conn->ssl_want_write = true;
		return 0;
	}
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	log_ssl("SSL_write");
	sip_tp_stream_close(conn, "TLS write failed");
	return 0;
}

void sip_tp_tls_shutdown(struct sip_tp_conn *conn)
{
	/* One try at close_notify; no waiting for the peer's. */
	if (conn->established)
		(void)SSL_shutdown(conn->ssl);
	ERR_clear_error();
}

void sip_tp_tls_sessions_free(struct sip_tp *tp)
{
	while (tp->sessions.head) {
		struct sess *s = tp->sessions.head->data;

		list_unlink(&s->le);
		SSL_SESSION_free(s->sess);
		free(s);
	}
}
