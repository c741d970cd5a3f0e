/*
 * dns_msg.h - reading DNS answers (RFC 1035 §4.1) for the record types
 * SIP resolution needs: A, AAAA (RFC 3596), SRV (RFC 2782) and NAPTR
 * (RFC 3403), with their TTLs, and the negative-caching TTL of an
 * answer without them (RFC 2308 §5).
 *
 * Pure functions over a received message: nothing is allocated; names
 * are written, decompressed, lower-cased and without the final dot,
 * into caller buffers.  Malformed input (truncated records, compression
 * loops, over-long names) is EBADMSG, never a crash.
 */
#ifndef SIPSTONE_DNS_MSG_H
#define SIPSTONE_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl.h"

enum dns_type {
	DNS_T_A = 1,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_AAAA = 28,
	DNS_T_SRV = 33,
	DNS_T_NAPTR = 35,
};

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
};

/* A name in text form: 253 characters at most (RFC 1035 §2.3.4). */
#define DNS_NAME_MAX 254

/* One record's data, as dns_msg_next() returns it. */
struct dns_rr {
	enum dns_type type;
	uint32_t ttl;
	union {
		uint8_t a[4];
		uint8_t aaaa[16];
		struct {
			uint16_t priority;
			uint16_t weight;
			uint16_t port;
			char target[DNS_NAME_MAX]; /* "" for "." */
		} srv;
		struct {
			uint16_t order;
			uint16_t preference;
			char flags[16];	  /* lower case, truncated */
			char service[32]; /* lower case, truncated */
			bool has_regexp;  /* a non-empty regexp */
			char replacement[DNS_NAME_MAX]; /* "" for "." */
		} naptr;
	} u;
};

/* A cursor over the answer section of one message. */
struct dns_msg {
	const uint8_t *buf;
	size_t len;
	size_t off;	  /* the next answer record */
	unsigned left;	  /* answer records not read yet */
	unsigned nscount; /* authority records (after the answers) */
	enum dns_rcode rcode;
	bool truncated;
};

/*
 * Checks the header and skips the question section.  Returns 0 with *m
 * ready for dns_msg_next(), or EBADMSG (not a response, or malformed).
 */
int dns_msg_open(struct dns_msg *m, const uint8_t *buf, size_t len);

/*
 * Reads the next answer record of type want (others, CNAMEs included,
 * are skipped: their data does not matter here).  Returns 0 with *rr,
 * ENOENT when no more answers remain, or EBADMSG.
 */
int dns_msg_next(struct dns_msg *m, enum dns_type want, struct dns_rr *rr);

/*
 * The TTL to cache "no such record" for (RFC 2308 §5): the smaller of
 * the authority SOA's own TTL and its MINIMUM field.  Returns 0 with
 * *ttl, ENOENT without an SOA, or EBADMSG.  Reads from the start, so
 * it may be called at any time.
 */
int dns_msg_negative_ttl(const struct dns_msg *m, uint32_t *ttl);

/*
 * Checks that name is a host name DNS can carry: 1..253 characters
 * (one final dot allowed), labels of 1..63 letters, digits, '-' or '_'
 * (SRV owner names, RFC 2782).  Returns 0 or EINVAL.
 */
int dns_name_check(const struct pl *name);

#endif
