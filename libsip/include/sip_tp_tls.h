/*
 * sip_tp_tls.h - TLS contexts for the transports (sip_tp.h): OpenSSL
 * server and client settings, made once at start-up and shared by the
 * transports of every worker thread.
 */
#ifndef SIPSTONE_SIP_TP_TLS_H
#define SIPSTONE_SIP_TP_TLS_H

#include <stdbool.h>

/* TLS contexts: an obj, shareable between the transports of threads. */
struct sip_tp_tls;

struct sip_tp_tls_opts {
	const char *cert_file; /* PEM certificate chain (server: required) */
	const char *key_file;  /* PEM private key of cert_file */
	/*
	 * Server: when set, clients must present a certificate that
	 * verifies against these CAs.  Client: the CAs that server
	 * certificates must verify against (unset: the system's).
	 */
	const char *ca_file;
	bool no_verify; /* client: accept any server certificate */
	/* client: keep no session, so that every new connection makes a
	 * full handshake (none resumes) */
	bool no_resume;
};

/*
 * Creates a server (client = false) or client context.  The server
 * side keeps a session cache and issues session tickets; the client
 * side's sessions are kept per destination by each transport.
 * Returns 0, EINVAL (unreadable or mismatched files: logged with
 * OpenSSL's reason) or ENOMEM.  obj_deref() frees it.
 */
int sip_tp_tls_alloc(struct sip_tp_tls **tlsp, bool client,
		     const struct sip_tp_tls_opts *opts);

#endif
