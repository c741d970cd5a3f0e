/*
 * rwalk.h - one pass of the RFC 3263 §4 rules over the resolver's
 * cache (internal to sip_resolve.c): what the walk finds becomes the
 * targets, what is missing or expired is asked for.  Also the
 * resolver's own state, which the walk reads and counts into.
 */
#ifndef RWALK_H
#define RWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_client.h"
#include "list.h"
#include "rcache.h"
#include "rplan.h"
#include "sip_resolve.h"

#define RWALK_NAMES_MAX 2048 /* bytes of target names per result */

struct sip_resolver {
	struct ev *ev;
	struct dns_client *dns;
	struct rcache cache;
	struct rplans plans;
	struct rcache_downs downs;
	struct rcache_caps caps;
	uint64_t down_ns;
	bool no_ipv6;
	bool prefer_ipv6;
	uint64_t rng;
	struct list reqs; /* pending resolutions */
	struct sip_resolve_stats st;
};

/* A query with its host normalised: lower case, no brackets or dot. */
struct rwalk_query {
	char host[DNS_NAME_MAX];
	size_t len;
	uint32_t hash; /* rcache_name_hash() of host */
	bool numeric;
	uint16_t port;
	enum sip_transport proto;
	bool secure;
};

/*
 * One pass of the RFC 3263 rules over the cache.  Whatever is missing
 * or expired is asked for (all that can be asked at this step, in
 * parallel) and the pass is "pending"; the resolution passes again
 * when answers come.  Answers that came since the resolution started
 * count even with a TTL of 0, so that each pass makes progress.
 */
struct rwalk {
	struct sip_resolver *r;
	uint64_t now;
	uint64_t fresh_since;
	uint64_t expires; /* the earliest expiry of the answers read */
	bool pending;
	int err; /* the first failure seen */
	size_t n;
	struct sip_resolve_target t[SIP_RESOLVE_TARGETS_MAX];
	uint16_t name_off[SIP_RESOLVE_TARGETS_MAX];
	size_t names_len;
	char names[RWALK_NAMES_MAX];
	/* for the plan: which record gave which targets */
	size_t nrecs;
	uint16_t set;
	bool no_plan;
	struct rplan_rec recs[RPLAN_RECS_MAX];
};

/* Uniform 64-bit numbers from the resolver's generator (splitmix64). */
uint64_t rwalk_rnd(void *resolver);

/* Whether name[0..len) (NUL ended) is an IPv4 or IPv6 address. */
bool rwalk_numeric(const char *name, size_t len, int *af, uint8_t bytes[16]);

/*
 * Starts a pass: answers filled at or after fresh_since count even if
 * their TTL has run out (they came for this resolution).
 */
void rwalk_init(struct rwalk *w, struct sip_resolver *r, uint64_t fresh_since);

/*
 * Walks q over the cache: w->t[0..n) the targets found, w->pending
 * when queries are out (sent now or before), w->err the first failure.
 */
void rwalk_run(struct rwalk *w, const struct rwalk_query *q);

#endif
