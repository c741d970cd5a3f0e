/*
 * sip_resolve.h - locating SIP servers (RFC 3263 §4) on an ev loop:
 * from a SIP URI (or host, port, transport) to an ordered list of
 * targets (transport, address, port), with DNS NAPTR (RFC 3403), SRV
 * (RFC 2782), A and AAAA (RFC 3596) asked through c-ares, never
 * blocking.
 *
 * Rules (RFC 3263 §4.1, §4.2): a numeric host is the target itself; an
 * explicit port means A/AAAA of the host; an explicit transport means
 * SRV _sip._udp / _sip._tcp / _sips._tcp of the host (A/AAAA with the
 * default port when there is none); with neither, NAPTR first
 * (SIP+D2U, SIP+D2T, SIPS+D2T, by order and preference), then SRV of
 * each transport (UDP, TCP, TLS), then A/AAAA with the default port
 * (5060, 5061 for TLS).  sips: URIs only use TLS.  SRV records are
 * ordered by priority, and within a priority by RFC 2782's weighted
 * random choice, drawn again at every sip_resolve().
 *
 * Answers are cached by (name, type) for their TTL (at most
 * ttl_max_s); NXDOMAIN and empty answers for the SOA's negative TTL
 * (RFC 2308 §5, at most neg_ttl_max_s); failed queries (timeout,
 * server failure) for fail_ttl_ms.  A target the caller reports as
 * failed (a timeout or a 503, RFC 3263 §4.3) is skipped by every
 * result of this resolver for down_ms.
 *
 * One resolver per event loop (per worker thread); nothing here is
 * thread-safe.  Free the resolver before its loop, and never from one
 * of its own handlers.
 */
#ifndef SIPSTONE_SIP_RESOLVE_H
#define SIPSTONE_SIP_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "pl.h"
#include "sip_msg.h"
#include "sip_tp.h"
#include "sip_uri.h"

/* Targets kept per result; more are dropped (the last in order). */
#define SIP_RESOLVE_TARGETS_MAX 32

struct sip_resolver;	/* an obj: obj_deref() frees it */
struct sip_resolve_res; /* an obj: obj_deref() frees it */
struct sip_resolve_req; /* a pending resolution */

/* Zero means the default given in brackets. */
struct sip_resolve_opts {
	/*
	 * DNS servers as "127.0.0.1:5353,[::1]:53" (the per-run server);
	 * NULL or "": those of /etc/resolv.conf.
	 */
	const char *servers;
	/* first try's timeout; c-ares doubles it at each further try, so
	 * one query gives up after about timeout*(2^tries-1) [2000] */
	uint32_t timeout_ms;
	unsigned tries;	    /* [2] */
	uint32_t down_ms;   /* how long a failed target is skipped [30000] */
	uint32_t ttl_max_s; /* cap on positive TTLs [3600] */
	uint32_t neg_ttl_max_s; /* cap on negative TTLs [300] */
	uint32_t neg_ttl_s;	/* negative TTL without an SOA [30] */
	uint32_t fail_ttl_ms;	/* failed queries are cached [1000] */
	unsigned cache_max;	/* (name, type) answers [4096], at least 128 */
	bool no_ipv6;		/* ask no AAAA */
	bool prefer_ipv6;	/* AAAA addresses before A ones */
	uint64_t seed;		/* weighted choice; 0: from getrandom() */
};

/* What to resolve: RFC 3263 §4's TARGET, port and transport. */
struct sip_resolve_query {
	struct pl host;		  /* a name, or a numeric IPv4/IPv6 host */
	uint16_t port;		  /* 0: none given */
	enum sip_transport proto; /* SIP_TP_NONE: none given */
	bool secure;		  /* a sips: URI: TLS only */
};

struct sip_resolve_target {
	struct sip_tp_addr addr; /* transport, address and port */
	/* the name the address belongs to (an SRV target, or the host),
	 * NUL ended, valid as long as the result */
	const char *name;
};

/* Counters for the agents' statistics (never reset). */
struct sip_resolve_stats {
	uint64_t lookups;	 /* sip_resolve() calls */
	uint64_t hits;		 /* answered at once, from the cache */
	uint64_t misses;	 /* that needed DNS queries */
	uint64_t failures;	 /* ended with an error (hit or miss) */
	uint64_t queries;	 /* DNS queries sent */
	uint64_t query_failures; /* of which timed out or failed */
	uint64_t time_ns;	 /* misses: summed start-to-answer time */
	uint64_t time_max_ns;	 /* misses: the longest */
	uint64_t down_skips;	 /* targets skipped because down */
	size_t cache_entries;	 /* (name, type) answers held now */
};

/*
 * Handler of a pending resolution, called once from the loop: err 0
 * with res (a reference the handler owns: obj_deref() it), or err as
 * sip_resolve() returns it with res NULL.
 */
typedef void(sip_resolve_h)(int err, struct sip_resolve_res *res, void *arg);

/*
 * Creates a resolver on ev.  Returns 0, EINVAL (a bad servers string,
 * logged), ENOMEM or EIO (c-ares failed to start, logged).
 */
int sip_resolver_alloc(struct sip_resolver **rp, struct ev *ev,
		       const struct sip_resolve_opts *opts);

/*
 * Fills q from a sip: or sips: URI (RFC 3263 §4: maddr, if present, is
 * the TARGET; the transport parameter and the port as given).  q->host
 * views into the URI's text.  Returns 0, or EINVAL for another scheme
 * or an unknown transport.
 */
int sip_resolve_query_from_uri(struct sip_resolve_query *q,
			       const struct sip_uri *uri);

/*
 * Resolves q.  Returns
 *   0 with *resp (the caller's reference) when the cache held
 *     everything: h is not called;
 *   EINPROGRESS when DNS must be asked: h(arg) runs later, once, unless
 *     sip_resolve_cancel(*reqp) comes first (reqp may be NULL);
 *   EINVAL for a host that is not a valid name or address, ENOENT when
 *     DNS says there is no target, ETIMEDOUT when it did not answer,
 *     ECONNREFUSED when it refused (RCODE 5, or nothing listens),
 *     EPROTO when it failed otherwise (SERVFAIL, a malformed answer),
 *     ENOMEM (the errors but EINVAL come from cached answers at once,
 *     or through h later).
 * q->host is copied: it need not outlive the call.
 */
int sip_resolve(struct sip_resolver *r, const struct sip_resolve_query *q,
		struct sip_resolve_res **resp, sip_resolve_h *h, void *arg,
		struct sip_resolve_req **reqp);

/*
 * Drops a pending resolution: its handler never runs.  req must be one
 * whose handler has not run yet (it is freed when the handler returns).
 */
void sip_resolve_cancel(struct sip_resolve_req *req);

/* How many targets res holds, and the i-th in order (i < count). */
size_t sip_resolve_res_count(const struct sip_resolve_res *res);
const struct sip_resolve_target *
sip_resolve_res_get(const struct sip_resolve_res *res, size_t i);

/*
 * The target to use now: the first at or after res's cursor that is
 * not marked down; NULL when none is left.  Stays the same until
 * sip_resolve_res_failover().
 */
const struct sip_resolve_target *
sip_resolve_res_target(struct sip_resolver *r, struct sip_resolve_res *res);

/*
 * The current target failed (a timeout or a 503, RFC 3263 §4.3): marks
 * it down for down_ms and returns the next one usable, or NULL.
 */
const struct sip_resolve_target *
sip_resolve_res_failover(struct sip_resolver *r, struct sip_resolve_res *res);

/* Marks addr (transport, address, port) down for opts.down_ms. */
void sip_resolver_mark_down(struct sip_resolver *r,
			    const struct sip_tp_addr *addr);

/* Whether addr is marked down now. */
bool sip_resolver_is_down(struct sip_resolver *r,
			  const struct sip_tp_addr *addr);

/* Forgets every cached answer (not the pending ones) and down mark. */
void sip_resolver_flush(struct sip_resolver *r);

void sip_resolver_stats(const struct sip_resolver *r,
			struct sip_resolve_stats *st);

#endif
