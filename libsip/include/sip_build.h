/*
 * sip_build.h - building SIP messages and editing them for forwarding.
 *
 * Three families:
 *
 *  - sip_build_response(), sip_build_request(), sip_build_ack(),
 *    sip_build_cancel(): whole messages written into a struct buf, with
 *    a Content-Length always.  Header lines taken from a decoded message
 *    are copied raw (compact names and folding kept), so a response can
 *    be built for a request that sip_msg_validate() refused, as long as
 *    sip_msg_decode() split its headers.
 *
 *  - struct sip_edits: the forwarding hot path.  Edits (insert at an
 *    offset, delete a span, replace a span) are collected against one
 *    decoded message, then sip_edits_apply() copies the untouched spans
 *    and the edits, in offset order, into the output buffer.  The edit
 *    list lives on the caller's stack (no allocation); inserted text is
 *    copied into its scratch area.  Helpers implement the RFC 3261 §16.6
 *    edits: add Via, pop Via, Max-Forwards, pop Route, add Record-Route,
 *    replace the Request-URI, body and Content-Length.
 *
 *  - Identifiers: branch IDs, the deterministic stateless branch of
 *    §16.11, tags and Call-IDs.
 */
#ifndef SIPSTONE_SIP_BUILD_H
#define SIPSTONE_SIP_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pl.h"
#include "sip_msg.h"

/* RFC 3261 §8.1.1.7 */
#define SIP_BRANCH_COOKIE "z9hG4bK"
/* "z9hG4bK" + 16 hex digits + NUL, rounded up. */
#define SIP_BRANCH_SIZE 32
/* 16 hex digits + NUL. */
#define SIP_TAG_SIZE 17
/* §8.1.1.6: the value a UAC puts in Max-Forwards; §16.6 step 3. */
#define SIP_MAX_FORWARDS 70

/* Whether branch starts with the RFC 3261 magic cookie (§8.1.1.7). */
bool sip_branch_has_cookie(const struct pl *branch);

/* The default reason phrase of a status code ("Not Found"), never NULL. */
const char *sip_reason(uint16_t status);

/* ------------------------------------------------------------------ */
/* Identifiers                                                         */

/*
 * Writes a fresh branch, "z9hG4bK" followed by 16 hex digits, NUL-
 * terminated, into out.  Unique per process and thread: a random 64-bit
 * seed per thread (getrandom) and a counter, mixed through a bijection.
 * Cheap: no system call after the first use in a thread.
 */
void sip_build_branch(char out[SIP_BRANCH_SIZE]);

/* Writes 16 random-looking hex digits (a From/To tag), NUL-terminated. */
void sip_build_tag(char out[SIP_TAG_SIZE]);

/*
 * Writes a Call-ID "<16 hex>@<host>" (host may be NULL or empty: no
 * "@host") into out, NUL-terminated.  Returns 0 or EOVERFLOW when it
 * does not fit in size bytes (out then untouched).
 */
int sip_build_call_id(char *out, size_t size, const char *host);

/*
 * The branch a stateless proxy puts in its Via for request msg
 * (RFC 3261 §16.11): the same for every retransmission of the request
 * and for the CANCEL and the non-2xx ACK of an INVITE, different for
 * different requests.  With a magic-cookie branch in the top Via it is a
 * hash of that branch and the Via sent-by; otherwise (RFC 2543 peers)
 * of the Request-URI, To tag, From tag, Call-ID, CSeq number and top
 * Via.  secret is mixed in so that peers cannot predict it (the proxy's
 * own random number; 0 is allowed).
 *
 * msg must have been validated.  Writes "z9hG4bK" + 16 hex, NUL-
 * terminated.  Returns 0, or EINVAL for a message not validated.
 */
int sip_build_branch_stateless(char out[SIP_BRANCH_SIZE],
			       const struct sip_msg *msg, uint64_t secret);

/* ------------------------------------------------------------------ */
/* Whole messages                                                      */

/* Optional parts of a response; every member may be left zero. */
struct sip_build_resp_opts {
	/*
	 * To-tag added when the request's To has none and status > 100
	 * (§8.2.6.2).  Empty: a fresh one (sip_build_tag) is added, so
	 * that every response > 100 to a tagless request carries one.
	 */
	struct pl to_tag;
	/* Extra header lines, each ending in CRLF, copied as they are. */
	struct pl hdrs;
	/* Record-Route lines copied from the request (§12.1.1). */
	bool copy_record_route;
	/* A body; ctype is the Content-Type value (needed with a body). */
	struct pl ctype;
	struct pl body;
};

/*
 * Appends a response to req (RFC 3261 §8.2.6) to out: status line
 * (reason NULL: sip_reason(status)), every Via line in order, From, To
 * (+ tag, see above), Call-ID, CSeq lines copied raw from the request,
 * the optional parts, Content-Length.  Only sip_msg_decode() must have
 * succeeded on req (a 400 can answer a request with a malformed CSeq);
 * missing headers are simply not copied.
 *
 * Returns 0, EINVAL (req is a response, status out of 100..699, a body
 * without ctype), EOVERFLOW/ENOMEM from the buffer; out is unchanged on
 * error.
 */
int sip_build_response(struct buf *out, const struct sip_msg *req,
		       uint16_t status, const char *reason,
		       const struct sip_build_resp_opts *opts);

/* A request from scratch (the load generator's UAC). */
struct sip_build_req {
	struct pl method; /* "INVITE"; also the CSeq method */
	struct pl ruri;
	struct pl via;	    /* via-parm: "SIP/2.0/UDP h:p;branch=..." */
	struct pl from;	    /* name-addr without tag: "<sip:a@h>" */
	struct pl from_tag; /* required (§8.1.1.3) */
	struct pl to;	    /* name-addr without tag */
	struct pl to_tag;   /* empty outside a dialog */
	struct pl call_id;  /* required */
	uint32_t cseq;	    /* < 2^31 */
	uint32_t max_fwd;   /* 0 writes SIP_MAX_FORWARDS */
	struct pl contact;  /* Contact value, empty: none */
	struct pl route;    /* Route value(s), empty: none */
	struct pl hdrs;	    /* extra lines, each ending in CRLF */
	struct pl ctype;    /* Content-Type, required with a body */
	struct pl body;
};

/*
 * Appends the request described by r to out.  Returns 0, EINVAL for a
 * missing method/ruri/via/from/from_tag/to/call_id, a CSeq >= 2^31 or a
 * body without ctype, EOVERFLOW/ENOMEM; out is unchanged on error.
 */
int sip_build_request(struct buf *out, const struct sip_build_req *r);

/*
 * Appends the ACK for a non-2xx final response resp to INVITE invite
 * (RFC 3261 §17.1.1.3): Request-URI of the INVITE, its top Via value
 * only, its From, Call-ID and Route lines, the To of the response, CSeq
 * with the INVITE's number and method ACK, Max-Forwards 70, no body.
 * Both messages must have been validated.  Returns 0, EINVAL (not
 * validated, not an INVITE, resp not a 300-699 response), EOVERFLOW or
 * ENOMEM; out is unchanged on error.
 */
int sip_build_ack(struct buf *out, const struct sip_msg *invite,
		  const struct sip_msg *resp);

/*
 * Appends the CANCEL for request req (RFC 3261 §9.1): same Request-URI,
 * top Via value, From, To, Call-ID and Route, CSeq number with method
 * CANCEL, Max-Forwards 70, no body.  req must have been validated.
 * Returns 0, EINVAL (not validated, an ACK or CANCEL), EOVERFLOW or
 * ENOMEM; out is unchanged on error.
 */
int sip_build_cancel(struct buf *out, const struct sip_msg *req);

/* ------------------------------------------------------------------ */
/* Forwarding edits                                                    */

#define SIP_EDITS_MAX 16
#define SIP_EDITS_SCRATCH 1024

struct sip_edit {
	uint32_t off;	  /* into msg->buf */
	uint32_t del;	  /* bytes removed from off */
	const char *ins;  /* bytes inserted at off (scratch or caller's) */
	uint32_t ins_len; /* bytes at ins */
	uint16_t seq;	  /* order of addition, for equal offsets */
};

/*
 * An edit list against one decoded message.  Allocate it on the stack,
 * sip_edits_init() it, add edits, sip_edits_apply().  The message and
 * its buffer must stay valid and unchanged until the apply.
 */
struct sip_edits {
	const struct sip_msg *msg;
	unsigned n;
	size_t scratch_len;
	int32_t body_delta; /* bytes the body grew by (set_body) */
	bool cl_done;	    /* Content-Length already edited */
	struct sip_edit e[SIP_EDITS_MAX];
	char scratch[SIP_EDITS_SCRATCH];
};

void sip_edits_init(struct sip_edits *ed, const struct sip_msg *msg);

/*
 * Generic edit at byte offset off of msg->buf (off + del <= msg->len):
 * remove del bytes and put ins_len bytes there (either may be 0).  The
 * inserted bytes are copied into the scratch area.  Several inserts at
 * one offset come out in the order they were added; overlapping
 * deletions are refused by sip_edits_apply().  Returns 0, EINVAL for a
 * span outside the message, EOVERFLOW when the list or the scratch area
 * is full; nothing is added on error.
 */
int sip_edits_add(struct sip_edits *ed, size_t off, size_t del,
		  const char *ins, size_t ins_len);

/* The same without copying: ins must stay valid until the apply. */
int sip_edits_add_ref(struct sip_edits *ed, size_t off, size_t del,
		      const char *ins, size_t ins_len);

/* Inserts a formatted string at off (through the scratch area). */
int sip_edits_printf(struct sip_edits *ed, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Removes one value of a header: the whole line when it is alone on its
 * line, otherwise the value and the comma that separates it from its
 * neighbour (the first value of a line takes the comma after it, any
 * other the comma before it).  h must point into msg->hdrs.
 */
int sip_edits_hdr_remove(struct sip_edits *ed, const struct sip_hdr *h);

/*
 * Adds "Via: <value>\r\n" before the first Via line (§16.6 step 8), at
 * the start of the header section when there is none.
 */
int sip_fwd_via_add(struct sip_edits *ed, const struct pl *value);

/*
 * Marks the top Via of the validated request ed->msg, received from
 * ip (text, as sip_tp_addr_ip() writes it) and port: ";received=ip"
 * when the sent-by host is not that address (RFC 3261 §18.2.1), the
 * port as the value of a bare ";rport" (RFC 3581 §4), and
 * ";rport=port" even without one when always_rport (a stream: the
 * response must find its connection).  Adds nothing when nothing is
 * owed (ed->n unchanged).  Returns 0, EINVAL (not a validated request,
 * no Via, ip longer than 80 bytes), EOVERFLOW.
 */
int sip_fwd_via_mark(struct sip_edits *ed, const char *ip, size_t ip_len,
		     uint16_t port, bool always_rport);

/*
 * Removes the top Via value (§16.7 step 3, a proxy forwarding a
 * response).  Returns 0, ENOENT when there is no Via.
 */
int sip_fwd_via_pop(struct sip_edits *ed);

/*
 * §16.6 step 3: decrements Max-Forwards, or inserts "Max-Forwards: 70"
 * at the end of the header section when absent.  Returns 0, EBADMSG for
 * a value that is not a number, ELOOP when it is 0 already (the proxy
 * answers 483, §16.3 step 3), EOVERFLOW.
 */
int sip_fwd_max_forwards_dec(struct sip_edits *ed);

/* Sets Max-Forwards to value (replacing or inserting it). */
int sip_fwd_max_forwards_set(struct sip_edits *ed, uint32_t value);

/*
 * Removes the top Route value (loose routing, §16.4; the caller has
 * checked that it is this proxy).  Returns 0, ENOENT without Route.
 */
int sip_fwd_route_pop(struct sip_edits *ed);

/*
 * Adds "Record-Route: <value>\r\n" above the existing Record-Route
 * values (§16.6 step 4), at the start of the header section when there
 * is none.  value is a name-addr such as "<sip:p1.example.com;lr>".
 */
int sip_fwd_rr_add(struct sip_edits *ed, const struct pl *value);

/* Replaces the Request-URI (§16.6 step 2, §16.6 step 6 strict routing). */
int sip_fwd_ruri_set(struct sip_edits *ed, const struct pl *uri);

/*
 * Replaces the body (not copied: body must stay valid until the apply)
 * and its Content-Length; ctype, when set, replaces or adds
 * Content-Type.  Returns 0, EINVAL (twice), EOVERFLOW.
 */
int sip_fwd_body_set(struct sip_edits *ed, const struct pl *ctype,
		     const struct pl *body);

/*
 * Makes sure the output carries a Content-Length equal to its body:
 * inserted at the end of the header section when absent (a request
 * that arrived over UDP without one, leaving over TCP, §18.3), replaced
 * when it does not match msg->body (a datagram with trailing bytes).
 * A no-op after sip_fwd_body_set().  Returns 0 or EOVERFLOW.
 */
int sip_fwd_content_length(struct sip_edits *ed);

/*
 * Appends msg with the edits applied to out: the untouched spans are
 * copied, the edits applied in offset order.  One buf_reserve() for the
 * whole message.  Returns 0, EINVAL for overlapping edits, EOVERFLOW or
 * ENOMEM; out is unchanged on error.
 */
int sip_edits_apply(const struct sip_edits *ed, struct buf *out);

#endif
