/*
 * sip_msg.h - zero-copy SIP message decoding (RFC 3261 §7, §20, §25).
 *
 * sip_msg_decode() makes one pass over the start line and the header
 * section: it splits the headers into a fixed array of views (struct pl)
 * into the caller's buffer, splitting comma-separated list headers (Via,
 * Route, Record-Route, Contact, ...) outside quotes and angle brackets,
 * and frames the body by Content-Length.  Nothing is copied and the
 * buffer is never written: every view in a struct sip_msg is valid as
 * long as the buffer passed to sip_msg_decode() is.
 *
 * Values are parsed lazily by the sip_*_decode() functions below, except
 * what every element needs for every message, which sip_msg_validate()
 * parses once and caches in the struct (top Via, Call-ID, CSeq, From and
 * To tags, Max-Forwards).
 */
#ifndef SIPSTONE_SIP_MSG_H
#define SIPSTONE_SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl.h"

/* Limits.  Past any of them sip_msg_decode() returns EOVERFLOW. */
#define SIP_MSG_MAX_SIZE 65535u	     /* whole message, body included */
#define SIP_MSG_MAX_START_LINE 4096u /* request or status line */
#define SIP_MSG_MAX_HDRS 160u	     /* header values after splitting */
#define SIP_HDR_END UINT16_MAX	     /* "no next header" index */

enum sip_method {
	SIP_METHOD_OTHER = 0, /* an extension method: see msg->method */
	SIP_METHOD_INVITE,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_REGISTER,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_PRACK,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_PUBLISH,
	SIP_METHOD_INFO,
	SIP_METHOD_REFER,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_UPDATE,
	SIP_METHOD_COUNT
};

enum sip_transport {
	SIP_TP_NONE = 0,
	SIP_TP_UDP,
	SIP_TP_TCP,
	SIP_TP_TLS,
	SIP_TP_SCTP,
	SIP_TP_OTHER, /* a transport token we do not speak */
};

/* Known headers; every other name is SIP_HDR_OTHER. */
enum sip_hdr_id {
	SIP_HDR_OTHER = 0,
	SIP_HDR_ACCEPT,
	SIP_HDR_ACCEPT_ENCODING,
	SIP_HDR_ACCEPT_LANGUAGE,
	SIP_HDR_ALERT_INFO,
	SIP_HDR_ALLOW,
	SIP_HDR_ALLOW_EVENTS, /* u */
	SIP_HDR_AUTHENTICATION_INFO,
	SIP_HDR_AUTHORIZATION,
	SIP_HDR_CALL_ID, /* i */
	SIP_HDR_CALL_INFO,
	SIP_HDR_CONTACT, /* m */
	SIP_HDR_CONTENT_DISPOSITION,
	SIP_HDR_CONTENT_ENCODING, /* e */
	SIP_HDR_CONTENT_LANGUAGE,
	SIP_HDR_CONTENT_LENGTH, /* l */
	SIP_HDR_CONTENT_TYPE,	/* c */
	SIP_HDR_CSEQ,
	SIP_HDR_DATE,
	SIP_HDR_ERROR_INFO,
	SIP_HDR_EVENT, /* o */
	SIP_HDR_EXPIRES,
	SIP_HDR_FROM, /* f */
	SIP_HDR_IN_REPLY_TO,
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_MIME_VERSION,
	SIP_HDR_MIN_EXPIRES,
	SIP_HDR_ORGANIZATION,
	SIP_HDR_PRIORITY,
	SIP_HDR_PROXY_AUTHENTICATE,
	SIP_HDR_PROXY_AUTHORIZATION,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_REFER_TO, /* r */
	SIP_HDR_REPLY_TO,
	SIP_HDR_REQUIRE,
	SIP_HDR_RETRY_AFTER,
	SIP_HDR_ROUTE,
	SIP_HDR_SERVER,
	SIP_HDR_SIP_ETAG,
	SIP_HDR_SIP_IF_MATCH,
	SIP_HDR_SUBJECT, /* s */
	SIP_HDR_SUBSCRIPTION_STATE,
	SIP_HDR_SUPPORTED, /* k */
	SIP_HDR_TIMESTAMP,
	SIP_HDR_TO, /* t */
	SIP_HDR_UNSUPPORTED,
	SIP_HDR_USER_AGENT,
	SIP_HDR_VIA, /* v */
	SIP_HDR_WARNING,
	SIP_HDR_WWW_AUTHENTICATE,
	SIP_HDR_COUNT
};

/* One header value.  List headers give one sip_hdr per element. */
struct sip_hdr {
	struct pl name;	 /* as written: "v", "ViA", "X-Foo" */
	struct pl value; /* this value (element), LWS trimmed */
	struct pl line;	 /* the whole field: name .. final CRLF of
				 * its last continuation line, inclusive;
				 * shared by the elements of one line */
	enum sip_hdr_id id;
	uint16_t next;	     /* next value with the same id, or
				 * SIP_HDR_END (SIP_HDR_OTHER: not linked) */
	uint16_t line_index; /* which header line (0-based) */
};

struct sip_via {
	struct pl value;     /* the whole via-parm */
	struct pl transport; /* "UDP", "TCP", "TLS", ... as written */
	enum sip_transport tp;
	struct pl host; /* IPv6 references without the brackets */
	bool host_is_ipv6;
	uint16_t port;	  /* 0 when absent */
	struct pl params; /* from the first ';' to the end, or empty */
	struct pl branch; /* empty when absent */
	struct pl received;
	struct pl maddr;
	struct pl ttl;
	bool has_rport; /* ";rport" with or without a value */
	uint16_t rport; /* 0 when empty or absent */
};

struct sip_cseq {
	uint32_t num;
	struct pl method;
	enum sip_method method_id;
};

struct sip_msg {
	const char *buf; /* first byte of this message */
	size_t len;	 /* bytes it spans, body included */

	bool is_request;
	struct pl start_line; /* without its CRLF */
	struct pl version;    /* as written; "SIP/2.0" when valid */
	/* requests */
	struct pl method;
	enum sip_method method_id;
	struct pl ruri;
	/* responses */
	uint16_t status;
	struct pl reason;

	struct pl headers; /* all header lines with their CRLFs */
	struct pl body;

	/*
	 * Datagram framing only: 0, or EBADMSG when Content-Length was
	 * malformed, repeated with different values or larger than the
	 * datagram.  body is then the rest of the datagram and
	 * sip_msg_validate() answers 400.
	 */
	int framing_error;
	/*
	 * A request with a header line that is not a header (no colon,
	 * RFC 3261 §7.3): the line is skipped, the rest decoded, and
	 * sip_msg_decode() returns EBADMSG with *msg written so that a
	 * server can answer 400 (sip_msg_validate() does).
	 */
	bool bad_line;
	bool has_content_length;
	uint32_t content_length;

	uint16_t nhdrs;
	uint16_t nlines;	       /* header lines (before splitting) */
	uint16_t first[SIP_HDR_COUNT]; /* index or SIP_HDR_END */
	uint16_t count[SIP_HDR_COUNT];
	struct sip_hdr hdrs[SIP_MSG_MAX_HDRS];

	/* Filled by sip_msg_validate(); valid only when validated is set. */
	bool validated;
	struct sip_via via; /* top Via */
	struct pl call_id;
	struct sip_cseq cseq;
	struct pl from_tag; /* empty when absent */
	struct pl to_tag;
	bool has_max_forwards;
	uint32_t max_forwards;
};

/*
 * Decodes one message from buf[0..len).
 *
 * stream = false: buf is one datagram.  The body is Content-Length
 * bytes (octets after it are ignored, RFC 3261 §18.3) or, without
 * Content-Length, the rest of the datagram.
 * stream = true: buf is the front of a TCP/TLS byte stream.  The message
 * ends Content-Length bytes after the empty line (no Content-Length:
 * empty body); msg->len tells the caller how much to consume.
 *
 * Returns 0 and fills *msg; ENODATA when more bytes are needed (stream,
 * or a datagram cut short); EBADMSG when the bytes cannot be a SIP
 * message (bad start line, header line without a colon, unframeable
 * Content-Length on a stream); EOVERFLOW past a limit above.  *msg is
 * written on success, and on EBADMSG for a request whose only fault is
 * a header line without a colon (msg->bad_line set: answer it 400;
 * msg->len frames it on a stream).  Leading
 * CRLFs (keep-alives) must be skipped by the caller first: see
 * sip_msg_skip_crlf().
 */
int sip_msg_decode(struct sip_msg *msg, const char *buf, size_t len,
		   bool stream);

/* Returns the number of leading CR and LF bytes in buf[0..len). */
size_t sip_msg_skip_crlf(const char *buf, size_t len);

/*
 * Parses and checks what every element relies on: a SIP/2.0 version,
 * exactly one well-formed Call-ID, CSeq (number < 2^31, method equal to
 * the request's), From, To and Max-Forwards (0..255 when present), a
 * well-formed top Via, a Request-URI with a scheme, the datagram
 * framing.  Fills msg->via, call_id, cseq, from_tag, to_tag and
 * max_forwards and sets msg->validated.
 *
 * Returns 0, or EBADMSG with *status the response a server must send to
 * a request (400, or 505 for a version other than SIP/2.0, 416 for a
 * Request-URI scheme other than sip, sips or tel) and *why a short
 * static text for a Warning or a log line.  For a response that fails,
 * *status is 0: it is to be dropped.
 */
int sip_msg_validate(struct sip_msg *msg, uint16_t *status, const char **why);

/* The first value of header id, or NULL. */
const struct sip_hdr *sip_msg_hdr(const struct sip_msg *msg,
				  enum sip_hdr_id id);

/* The value after h with the same id, or NULL. */
const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg,
				       const struct sip_hdr *h);

/*
 * The first value whose name equals name case-insensitively, compact
 * forms included ("Subject" finds "s:").  Works for extension headers.
 */
const struct sip_hdr *sip_msg_hdr_by_name(const struct sip_msg *msg,
					  const char *name);

/* Maps a header name (long or compact, any case) to its id. */
enum sip_hdr_id sip_hdr_id_decode(const struct pl *name);

/* The canonical long name of id ("Via"), "" for SIP_HDR_OTHER. */
const char *sip_hdr_name(enum sip_hdr_id id);

/* Whether id is a comma-separated list header (split by decode). */
bool sip_hdr_is_list(enum sip_hdr_id id);

enum sip_method sip_method_decode(const struct pl *name);

/* "INVITE", ...; "" for SIP_METHOD_OTHER. */
const char *sip_method_name(enum sip_method m);

enum sip_transport sip_transport_decode(const struct pl *name);

/* "UDP", "TCP", "TLS", "SCTP"; "" otherwise. */
const char *sip_transport_name(enum sip_transport tp);

/*
 * Parses one via-parm (RFC 3261 §20.42, §18.2.2).  Returns 0 or
 * EBADMSG; *via is written only on success.
 */
int sip_via_decode(struct sip_via *via, const struct pl *value);

/* Parses a CSeq value.  Returns 0, EBADMSG or EOVERFLOW (> 2^31-1). */
int sip_cseq_decode(struct sip_cseq *cseq, const struct pl *value);

/*
 * A From/To/Contact/Route/Record-Route value: name-addr or addr-spec.
 * For an addr-spec (no angle brackets) the parameters after the URI
 * belong to the header, not the URI (RFC 3261 §20.10).
 */
struct sip_addr {
	struct pl dname;  /* display name, quotes kept, may be empty */
	struct pl uri;	  /* the URI text without < > */
	struct pl params; /* header params from the first ';' */
	struct pl tag;	  /* the tag param's value, or empty */
	bool angle;	  /* written as name-addr */
	bool star;	  /* Contact: * */
};

/* Returns 0 or EBADMSG; *addr is written only on success. */
int sip_addr_decode(struct sip_addr *addr, const struct pl *value);

/*
 * Finds param name (case-insensitive) in ";a=b;c;d=e" (leading ';'
 * optional, LWS around ';' and '=' allowed).  Returns 0 with *value the
 * value (empty when the param has none; quotes kept), or ENOENT.
 */
int sip_param_get(const struct pl *params, const char *name, struct pl *value);

/* Whether the param is present at all. */
bool sip_param_exists(const struct pl *params, const char *name);

#endif
