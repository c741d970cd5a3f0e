/*
 * rplan.h - finished resolutions kept for reuse (internal to
 * sip_resolve.c): a cache hit then costs one lookup instead of a walk
 * over every NAPTR, SRV, A and AAAA answer.
 *
 * A plan is what a walk found for one query (host, port, transport,
 * sips): its targets in walk order, the SRV records they came from
 * (records of one SRV answer form a set, ordered by priority, so that
 * RFC 2782's weighted choice can be drawn again at every use), and the
 * earliest expiry of the answers it read, positive, negative or failed:
 * a plan never outlives any of them.  A plan of no target keeps the
 * error instead.
 */
#ifndef RPLAN_H
#define RPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "list.h"
#include "sip_msg.h"
#include "sip_tp.h"

#define RPLAN_RECS_MAX 64	 /* records per plan; more: no plan */
#define RPLAN_NO_NAME UINT16_MAX /* a target without a stored name */

/* Targets [first, first + count) came from one record of a set. */
struct rplan_rec {
	uint16_t first;
	uint16_t count;
	uint16_t priority;
	uint16_t weight;
	uint16_t set; /* records of one set and priority are drawn by weight */
};

/* What a plan is looked up by (host normalised, with its hash). */
struct rplan_key {
	const char *host;
	size_t len;
	uint32_t hash;
	uint16_t port;
	enum sip_transport proto;
	bool secure;
};

struct rplan {
	struct le hle;
	struct le ale;
	uint32_t key;
	uint64_t expires_ns;
	int err; /* when n == 0 */
	size_t n;
	size_t nrecs;
	size_t names_len;
	struct sip_tp_addr *t;
	uint16_t *name_off; /* into names, or RPLAN_NO_NAME */
	struct rplan_rec *recs;
	char *names;
	/* the key */
	uint16_t port;
	enum sip_transport proto;
	bool secure;
	size_t hlen;
	char *host;
};

struct rplans {
	struct hash table;
	struct list age; /* oldest stored first */
	size_t count;
	size_t max;
};

/* Returns 0 or ENOMEM. */
int rplan_init(struct rplans *ps, size_t max);
void rplan_free_all(struct rplans *ps);
void rplan_flush(struct rplans *ps);

/* The plan of k, NULL when none (expired ones included: check). */
struct rplan *rplan_find(struct rplans *ps, const struct rplan_key *k);

void rplan_drop(struct rplans *ps, struct rplan *p);

/*
 * Stores a plan for k (replacing one there), copying the arrays; the
 * oldest plans go beyond the maximum.  Returns 0 or ENOMEM (then the
 * next hit walks again: nothing is lost).
 */
struct rplan_data {
	uint64_t expires_ns;
	int err;
	size_t n;
	const struct sip_tp_addr *t; /* n */
	const uint16_t *name_off;    /* n */
	const char *names;
	size_t names_len;
	const struct rplan_rec *recs;
	size_t nrecs;
};
int rplan_put(struct rplans *ps, const struct rplan_key *k,
	      const struct rplan_data *d);

/*
 * RFC 2782's weighted random order of n (<= 255) records of one
 * priority: idx[0..n) (any permutation on entry) is reordered in place;
 * weights[idx[i]] is record idx[i]'s weight.  rnd returns uniform 64-bit
 * numbers.  The draw is in 1..sum, not 0..sum as RFC 2782 writes, which
 * would give the first record one chance too many (1:3 weights would
 * split 2:3); weight-0 records come last, in random order.
 */
typedef uint64_t(rplan_rnd_h)(void *arg);
void rplan_weighted_order(const uint16_t *weights, uint8_t *idx, size_t n,
			  rplan_rnd_h *rnd, void *arg);

#endif
