/*
 * sip_uri.h - zero-copy URI parsing and comparison (RFC 3261 §19, §25;
 * tel: RFC 3966).
 *
 * sip_uri_decode() splits a URI into views (struct pl) into the text it
 * was given; %HH escapes are kept as written (sip_uri_unescape() decodes
 * a view once into a caller's buffer).  Nothing is copied or written:
 * every view is valid as long as the decoded text is.
 */
#ifndef SIPSTONE_SIP_URI_H
#define SIPSTONE_SIP_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl.h"

enum sip_uri_scheme {
	SIP_URI_OTHER = 0, /* any other scheme: see opaque */
	SIP_URI_SIP,
	SIP_URI_SIPS,
	SIP_URI_TEL,
};

struct sip_uri {
	struct pl text;	  /* the whole URI */
	struct pl scheme; /* as written, without the ':' */
	enum sip_uri_scheme scheme_id;
	struct pl opaque; /* everything after "scheme:" */

	/* sip, sips (tel: user is the number, host empty) */
	struct pl user;	    /* escapes kept; empty when absent */
	struct pl password; /* empty when absent */
	bool has_password;
	struct pl host; /* IPv6 references without the brackets */
	bool host_is_ipv6;
	bool has_port;
	uint16_t port;	   /* 0 when absent */
	struct pl params;  /* from the first ';' after hostport (tel:
			    * after the number) up to '?', or empty */
	struct pl headers; /* after '?', without it, or empty */

	/* well-known uri-parameters (§19.1.1), empty when absent */
	struct pl transport;
	struct pl maddr;
	struct pl user_param; /* ";user=phone" */
	struct pl ttl;
	struct pl method;
	bool lr;
};

/*
 * Parses text as a URI.  sip: and sips: are checked against the RFC 3261
 * §25.1 grammar (userinfo with ';' '?' '/' allowed in the user part,
 * hostname / IPv4 / IPv6 reference, port 1..65535, uri-parameters,
 * headers, well-formed %HH); tel: as RFC 3966 in outline; any other
 * scheme only needs a well-formed scheme name and a non-empty rest
 * without whitespace.  Returns 0 or EBADMSG; *uri is written only on
 * success and views into text.
 */
int sip_uri_decode(struct sip_uri *uri, const struct pl *text);

/*
 * Finds uri-parameter name (case-insensitive) in params as returned in
 * sip_uri.params (";a=b;c").  Returns 0 with *value its value as written
 * (empty when it has none), or ENOENT.  value may be NULL.
 */
int sip_uri_param_get(const struct pl *params, const char *name,
		      struct pl *value);

/*
 * Finds header hname (case-insensitive, escapes compared decoded) in
 * headers as returned in sip_uri.headers ("a=b&c=d").  Returns 0 with
 * *value its value as written, or ENOENT.  value may be NULL.
 */
int sip_uri_header_get(const struct pl *headers, const char *name,
		       struct pl *value);

/*
 * Decodes the %HH escapes of src once (no recursive unescaping: "%2541"
 * gives "%41") into dst[0..dstsz).  No NUL is appended; the output may
 * contain NUL bytes ("%00").  Returns 0 with *len the bytes written,
 * EBADMSG for a '%' not followed by two hex digits, EOVERFLOW when dst
 * is too small (dst contents then unspecified, *len untouched).
 */
int sip_uri_unescape(const struct pl *src, char *dst, size_t dstsz,
		     size_t *len);

/*
 * RFC 3261 §19.1.4 comparison of two decoded URIs: same scheme; user
 * and password byte-equal after unescaping (case-sensitive); host
 * case-insensitive; ports equal and both present or both absent; the
 * user, ttl, method, maddr and transport parameters present in either
 * must be in both and equal; other parameters present in both equal;
 * headers the same set.  Parameter names and values compare
 * case-insensitively after unescaping; of a repeated parameter or
 * header only the first counts.  URIs of other schemes compare
 * their opaque parts byte for byte.
 */
bool sip_uri_equal(const struct sip_uri *a, const struct sip_uri *b);

/* "sip", "sips", "tel", "" for SIP_URI_OTHER. */
const char *sip_uri_scheme_name(enum sip_uri_scheme s);

#endif
