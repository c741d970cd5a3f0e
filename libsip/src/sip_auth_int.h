/*
 * sip_auth_int.h - inside digest authentication (libsip only; programs
 * include sip_auth.h): what sip_auth.c (the digest computations, RFC 2617
 * §3.2.2, RFC 7616 §3.4.1) and sip_auth_parse.c (header grammar) offer
 * sip_auth_server.c (nonces, challenges, verification) and
 * sip_auth_client.c (credentials).
 */
#ifndef SIPSTONE_SIP_AUTH_INT_H
#define SIPSTONE_SIP_AUTH_INT_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "pl.h"
#include "sip_auth.h"

static inline bool auth_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* One input of a digest; unq: undo quoted-pairs while hashing. */
struct hpart {
	const char *p;
	size_t l;
	bool unq;
};

static inline struct hpart auth_part(const struct pl *pl, bool unq)
{
	struct hpart h = {pl ? pl->p : NULL, pl ? pl->l : 0, unq};

	return h;
}

/* sip_auth_parse.c */

/* Equality of a quoted value's view, unquoted, and plain bytes. */
bool sip_auth_unq_eq(const struct pl *v, const struct pl *plain);

/* sip_auth.c */

/* Logs OpenSSL's first queued error once, with context; returns EIO. */
int sip_auth_ssl_err(const char *what);

/* The message digest of alg (fetched once per process), or NULL. */
const EVP_MD *sip_auth_md(enum sip_auth_alg alg);

/* Writes n bytes as 2n lower-case hex digits and a NUL into hex. */
void sip_auth_to_hex(const unsigned char *bin, size_t n, char *hex);

/* H(part0 ":" part1 ":" ...) in lower-case hex.  Returns 0, ENOTSUP (an
 * unknown alg) or EIO (OpenSSL failed, logged). */
int sip_auth_digest_hex(enum sip_auth_alg alg, const struct hpart *parts,
			size_t nparts, char hex[SIP_AUTH_HEX_SIZE]);

/* Copies an HA1 in hex of alg's length into dst in lower case.
 * Returns 0, ENOTSUP (unknown alg) or EINVAL (wrong length, not
 * hex). */
int sip_auth_ha1_norm(enum sip_auth_alg alg, const struct pl *ha1, char *dst);

/*
 * The request-digest with HA1 already normalised.  q: the nonce, nc,
 * cnonce and qop views come from quoted strings (undo quoted-pairs);
 * quri: so does uri.  Returns as sip_auth_digest_hex().
 */
int sip_auth_response_hex(enum sip_auth_alg alg, const char *ha1,
			  const struct pl *nonce, const struct pl *nc,
			  const struct pl *cnonce, const struct pl *qop,
			  const struct pl *method, const struct pl *uri,
			  bool q, bool quri, char hex[SIP_AUTH_HEX_SIZE]);

/* qop absent, empty or "auth" (auth-int is not done). */
bool sip_auth_qop_is_auth(const struct pl *qop);

/* Appends v as a quoted-string body, escaping '"' and '\'.  Returns 0,
 * EINVAL for control characters, or buf_append()'s error. */
int sip_auth_append_quoted(struct buf *b, const struct pl *v);

#endif
