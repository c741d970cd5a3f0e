/*
 * sip_auth.h - SIP digest authentication (RFC 3261 §22, RFC 2617,
 * RFC 7616, RFC 8760): parsing of challenge and credentials values,
 * MD5 and SHA-256 digests, stateless server nonces with a nonce-count
 * replay table, and the client side of a challenge.
 *
 * Parsing works on a header VALUE (what follows "WWW-Authenticate:",
 * "Authorization:", ...), given as a struct pl.  The parsed structs hold
 * views into that value and are valid as long as its buffer is.  A quoted
 * value's view is what lies between the quotes, quoted-pairs included
 * ("a\"b" views the 4 bytes a\"b); sip_auth_unquote() removes them.
 * Nothing here writes into the viewed bytes.
 *
 * Times ("now") are seconds on a clock of the caller's choice (wall clock
 * when nonces travel between cluster nodes sharing one secret); they are
 * passed in so that tests can drive expiry.
 */
#ifndef SIPSTONE_SIP_AUTH_H
#define SIPSTONE_SIP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pl.h"

/* Digest algorithms.  SIP_AUTH_ALG_OTHER is any other name (MD5-sess,
 * SHA-256-sess, SHA-512-256, ...): parsed, never computed. */
enum sip_auth_alg {
	SIP_AUTH_ALG_MD5 = 0,
	SIP_AUTH_ALG_SHA256,
	SIP_AUTH_ALG_OTHER,
};

/* Longest hex digest (SHA-256), without and with the NUL. */
#define SIP_AUTH_HEX_MAX 64u
#define SIP_AUTH_HEX_SIZE (SIP_AUTH_HEX_MAX + 1u)

/* Length of a nonce made by sip_auth_nonce_make() (base64url, no '='). */
#define SIP_AUTH_NONCE_LEN 48u

/* Default nonce lifetime (s) and nonce-count table capacity. */
#define SIP_AUTH_NONCE_LIFETIME 300u
#define SIP_AUTH_NC_CAPACITY 65536u

/*
 * A WWW-Authenticate / Proxy-Authenticate value (RFC 3261 §25.1
 * "challenge", RFC 7616 §3.3).  realm and nonce are always set.
 */
struct sip_auth_challenge {
	struct pl realm;
	struct pl nonce;
	struct pl opaque;    /* empty when absent */
	struct pl domain;    /* empty when absent */
	struct pl algorithm; /* the name as sent; empty when absent (MD5) */
	struct pl qop;	     /* the raw qop-options list; empty when absent */
	enum sip_auth_alg alg;
	bool stale;	   /* stale=true (any case); anything else is false */
	bool qop_auth;	   /* "auth" is among the qop options */
	bool qop_auth_int; /* "auth-int" is among the qop options */
};

/*
 * An Authorization / Proxy-Authorization value (RFC 3261 §25.1
 * "credentials", RFC 7616 §3.4).  username, realm, nonce, uri and
 * response are always set; with qop, cnonce and nc are too.
 */
struct sip_auth_credentials {
	struct pl username;
	struct pl realm;
	struct pl nonce;
	struct pl uri;
	struct pl response;
	struct pl algorithm; /* empty when absent (MD5) */
	struct pl cnonce;    /* empty when absent */
	struct pl opaque;    /* empty when absent */
	struct pl qop;	     /* empty when absent (RFC 2069 compatibility) */
	struct pl nc;	     /* the 8 hex digits; empty when absent */
	enum sip_auth_alg alg;
	uint32_t nc_value; /* nc decoded; 0 when absent */
};

/*
 * Parse a challenge value.  Returns 0 and fills *ch; ENOTSUP when the
 * scheme is not Digest (a registrar ignores such a header: RFC 4475
 * §3.1.2.12 regaut01); EBADMSG on malformed input: bad syntax, a
 * duplicated known parameter, realm or nonce missing.  Unknown
 * parameters are ignored; names are case-insensitive.
 */
int sip_auth_challenge_decode(struct sip_auth_challenge *ch,
			      const struct pl *value);

/*
 * Parse a credentials value.  Returns 0 and fills *cr; ENOTSUP for a
 * scheme other than Digest; EBADMSG on malformed input: bad syntax, a
 * duplicated known parameter, a required one missing, qop without cnonce
 * and nc, nc not exactly 8 hex digits.
 */
int sip_auth_credentials_decode(struct sip_auth_credentials *cr,
				const struct pl *value);

/*
 * Copies a quoted value's view into dst (dstsz bytes, NUL-terminated)
 * with its quoted-pairs undone.  Returns 0, or EOVERFLOW when it does not
 * fit (dst untouched).
 */
int sip_auth_unquote(const struct pl *v, char *dst, size_t dstsz);

/* "MD5", "SHA-256", or "" for SIP_AUTH_ALG_OTHER. */
const char *sip_auth_alg_name(enum sip_auth_alg alg);

/* Hex length of the algorithm's digest (32, 64), or 0 for OTHER. */
size_t sip_auth_hex_len(enum sip_auth_alg alg);

/*
 * HA1 = H(username ":" realm ":" password) in lower-case hex (RFC 7616
 * §3.4.2), the values as plain (unquoted) bytes.  hex must hold
 * SIP_AUTH_HEX_SIZE bytes.  Returns 0, ENOTSUP for SIP_AUTH_ALG_OTHER,
 * EIO when OpenSSL fails (logged).
 */
int sip_auth_ha1(enum sip_auth_alg alg, const struct pl *username,
		 const struct pl *realm, const struct pl *password,
		 char hex[SIP_AUTH_HEX_SIZE]);

/*
 * The request-digest (RFC 7616 §3.4.1) in lower-case hex:
 *   with qop:    H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)
 *   without qop: H(HA1 ":" nonce ":" HA2)   (RFC 2069)
 * with HA2 = H(method ":" uri).  qop NULL or empty means without; nc and
 * cnonce are then unused (may be NULL).  Only qop "auth" is computed.
 * Values are plain bytes.  Returns 0, ENOTSUP (algorithm OTHER or a qop
 * other than auth), EINVAL (ha1 not hex of the algorithm's length), EIO.
 */
int sip_auth_response(enum sip_auth_alg alg, const struct pl *ha1,
		      const struct pl *nonce, const struct pl *nc,
		      const struct pl *cnonce, const struct pl *qop,
		      const struct pl *method, const struct pl *uri,
		      char hex[SIP_AUTH_HEX_SIZE]);

/* ----- server side ----- */

/*
 * The verifier: a nonce secret and the nonce-count table.  Thread-safe:
 * one is shared by all worker threads.  Reference counted (obj.h);
 * release with obj_deref().
 */
struct sip_auth_server;

/*
 * Creates a verifier.  secret (secret_len bytes, at least 16) keys the
 * nonce HMAC; NULL draws a random one (then only this process can check
 * its nonces).  lifetime: seconds a nonce stays fresh (0: default).
 * nc_capacity: nonces whose count is tracked, rounded up to a multiple of
 * the shard count (0: default); past it the least recently used goes.
 * Returns 0 and *sp (the caller's reference), EINVAL, ENOMEM, EIO.
 */
int sip_auth_server_alloc(struct sip_auth_server **sp, const void *secret,
			  size_t secret_len, uint32_t lifetime,
			  size_t nc_capacity);

/* How many nonces the nc table tracks now, and at most. */
size_t sip_auth_server_nc_count(struct sip_auth_server *s);
size_t sip_auth_server_nc_capacity(const struct sip_auth_server *s);

/*
 * Makes a fresh nonce issued at now: base64url of issue time, lifetime,
 * a per-verifier counter and an HMAC-SHA256 (truncated to 128 bits) over
 * them.  Writes SIP_AUTH_NONCE_LEN characters and a NUL into nonce.
 * Returns 0 or EIO.
 */
int sip_auth_nonce_make(struct sip_auth_server *s, uint64_t now,
			char nonce[SIP_AUTH_NONCE_LEN + 1]);

enum sip_auth_nonce_state {
	SIP_AUTH_NONCE_OK = 0,
	SIP_AUTH_NONCE_STALE, /* ours, HMAC valid, but expired */
	SIP_AUTH_NONCE_BAD,   /* not ours: malformed, tampered, other key */
};

/* Checks a nonce (a view, possibly from a quoted string) at now. */
enum sip_auth_nonce_state sip_auth_nonce_check(struct sip_auth_server *s,
					       const struct pl *nonce,
					       uint64_t now);

/*
 * Appends a challenge value to b:
 *   Digest realm="<realm>", nonce="<new>", algorithm=<alg>, qop="auth"
 * then ', opaque="<opaque>"' when opaque is set and ', stale=true' when
 * stale.  realm and opaque are plain bytes (escaped here).  Returns 0,
 * EINVAL (alg OTHER, a control character in realm or opaque),
 * EOVERFLOW or ENOMEM (b unchanged in all these cases), EIO.
 */
int sip_auth_challenge_print(struct sip_auth_server *s, struct buf *b,
			     const struct pl *realm, enum sip_auth_alg alg,
			     const struct pl *opaque, bool stale,
			     uint64_t now);

/* HA1 of a user as stored (lower- or upper-case hex); empty = none. */
struct sip_auth_ha1 {
	struct pl md5;
	struct pl sha256;
};

enum sip_auth_result {
	SIP_AUTH_OK = 0,
	SIP_AUTH_STALE,	      /* right digest, but the nonce expired (or its
			       * count was evicted): stale=true */
	SIP_AUTH_BAD_NONCE,   /* not our nonce: challenge again */
	SIP_AUTH_BAD_REALM,   /* not the realm we asked for */
	SIP_AUTH_BAD_DIGEST,  /* wrong response (password) */
	SIP_AUTH_REPLAY,      /* nc not above the last one seen: reject */
	SIP_AUTH_UNSUPPORTED, /* algorithm or qop we do not do, no HA1 */
	SIP_AUTH_ERROR,	      /* internal failure (logged) */
};

/* A short name for the result ("ok", "stale", ...), for logs. */
const char *sip_auth_result_name(enum sip_auth_result r);

/*
 * Verifies credentials of a request with the given method against the
 * realm we challenge with and the user's HA1 for the credentials'
 * algorithm.  The digest is compared in constant time and checked before
 * the nonce count, so a forged request cannot burn counts; with qop the
 * nc must be above the highest seen for the nonce (RFC 7616 §3.4.5).
 * Without qop (RFC 2069) there is no count: a nonce is good for one
 * request (as with nc 1), a second use is SIP_AUTH_REPLAY.  The caller
 * checks that the username is the one whose HA1 it gave and that uri
 * matches the Request-URI (sip_auth_uri_matches()).
 */
enum sip_auth_result sip_auth_verify(struct sip_auth_server *s,
				     const struct sip_auth_credentials *cr,
				     const struct pl *method,
				     const struct pl *realm,
				     const struct sip_auth_ha1 *ha1,
				     uint64_t now);

/*
 * Whether the credentials' digest-uri names the Request-URI ruri
 * (RFC 2617 §3.2.2.5: a server SHOULD check it, and answer 400 when
 * they differ): byte-equal after unquoting, or equal by RFC 3261
 * §19.1.4.  A digest-uri over 1,023 bytes never matches.
 */
bool sip_auth_uri_matches(const struct sip_auth_credentials *cr,
			  const struct pl *ruri);

/* ----- client side ----- */

/*
 * The state of one user towards one server: the last challenge's realm,
 * nonce, opaque and algorithm, and the nonce count.  Not thread-safe:
 * one per user (per thread).  Caller frees with sip_auth_client_free().
 */
struct sip_auth_client;

/*
 * Creates the state for username with its password (plain bytes),
 * or with a precomputed HA1 (hex) valid for one algorithm (and the realm
 * it was computed for).  Returns 0 and *cp, EINVAL, ENOMEM.
 */
int sip_auth_client_alloc(struct sip_auth_client **cp,
			  const struct pl *username,
			  const struct pl *password);
int sip_auth_client_alloc_ha1(struct sip_auth_client **cp,
			      const struct pl *username, enum sip_auth_alg alg,
			      const struct pl *ha1);

/* Frees the state (NULL is fine). */
void sip_auth_client_free(struct sip_auth_client *c);

/*
 * Takes a challenge (from a 401/407): its realm, nonce, opaque,
 * algorithm and qop; the nonce count restarts.  A stale=true challenge
 * is taken the same way (RFC 7616 §3.3: retry with the new nonce).
 * Returns 0; ENOTSUP for an algorithm we do not compute (or not the one
 * of a precomputed HA1), or qop options without "auth"; EOVERFLOW for
 * oversized values; ENOMEM.  The state is unchanged on error.
 */
int sip_auth_client_challenge(struct sip_auth_client *c,
			      const struct sip_auth_challenge *ch);

/* True once a challenge was taken (credentials can be preloaded). */
bool sip_auth_client_ready(const struct sip_auth_client *c);

/* The nonce count of the last credentials printed (0 before any, and
 * always 0 without qop). */
uint32_t sip_auth_client_nc(const struct sip_auth_client *c);

/*
 * Appends an Authorization / Proxy-Authorization value for a request
 * (method, Request-URI) to b, with the next nonce count and a fresh
 * cnonce (qop=auth), or in RFC 2069 form when the challenge had no qop.
 * Returns 0; EINVAL before any challenge or for a control character in
 * uri; EOVERFLOW when the count is exhausted or b is full; ENOMEM; EIO.
 * On error b and the count are unchanged.
 */
int sip_auth_client_print(struct sip_auth_client *c, struct buf *b,
			  const struct pl *method, const struct pl *uri);

#endif
