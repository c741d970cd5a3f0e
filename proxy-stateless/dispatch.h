/*
 * dispatch.h - the load-sharing decision of proxy-stateless: which
 * second-stage server (next hop) a request goes to.
 *
 * The key is chosen in one function, dispatch_key(): the AOR user (To
 * user for REGISTER, Request-URI user otherwise), or the Call-ID, or the
 * From user.  It is mapped onto the healthy next hops with weighted
 * rendezvous (highest random weight) hashing: every hop scores the key,
 * score = -weight / ln(u) with u in (0,1) from a hash of the key and the
 * hop, and the highest score wins.  Removing a hop moves only the keys
 * it won; adding it back moves them back.
 *
 * The health flags are shared between threads: the prober (one thread)
 * writes them, workers read them, and a worker may mark a hop down on a
 * passive failure signal.  All accesses are relaxed atomics: a stale
 * read only sends one more request to the old choice.
 */
#ifndef SIPSTONE_DISPATCH_H
#define SIPSTONE_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "pl.h"
#include "sip_msg.h"
#include "sip_tp.h"

#define DISPATCH_MAX_HOPS 64
#define DISPATCH_MAX_WEIGHT 1000

enum dispatch_hash {
	DISPATCH_HASH_USER = 0, /* To user for REGISTER, R-URI user */
	DISPATCH_HASH_CALLID,
	DISPATCH_HASH_FROM,
};

struct dispatch_hop {
	struct sip_tp_addr addr;
	char name[SIP_TP_ADDR_STRLEN]; /* "udp:127.0.0.1:5070" */
	char host[SIP_TP_ADDR_STRLEN]; /* as given: TLS server name */
	uint32_t weight;	       /* 1..DISPATCH_MAX_WEIGHT */
	uint64_t seed;		       /* hash of name: stable per hop */
	uint8_t up;		       /* atomic: 1 up, 0 down */
	/* atomic: 1 when a response from this hop was relayed since the
	 * prober last looked (dispatch_heard(), dispatch_take_heard()) */
	uint8_t heard;
	/* atomic: 1 when a request that expects an answer was relayed to
	 * this hop since the prober last looked (dispatch_given()) */
	uint8_t given;
};

struct dispatch_set {
	unsigned n;
	bool equal_weights;
	struct dispatch_hop hops[DISPATCH_MAX_HOPS];
};

/*
 * Adds a hop from "udp:HOST:PORT[;weight=W]" (resolved now: start-up
 * only).  The hop starts up.  Returns 0, EINVAL with *why a static
 * text for bad syntax, ENOENT when the host does not resolve,
 * EOVERFLOW past DISPATCH_MAX_HOPS, EEXIST for a duplicate.
 */
int dispatch_add(struct dispatch_set *set, const char *spec, const char **why);

/* Parses "user", "callid", "from".  Returns 0 or EINVAL. */
int dispatch_hash_decode(const char *s, enum dispatch_hash *h);
const char *dispatch_hash_name(enum dispatch_hash h);

/*
 * The key of request msg (validated) for mode h, a view into the
 * message.  A request without the chosen user part (tel:, no user)
 * falls back to its Call-ID, so that every request has a key.
 * Returns 0, or EBADMSG when the To/From/Request-URI needed does not
 * parse (*key untouched).
 */
int dispatch_key(const struct sip_msg *msg, enum dispatch_hash h,
		 struct pl *key);

/*
 * The hop that key hashes to among the hops that are up (only_up) or
 * among all.  Returns its index, or -1 when none qualifies.
 */
int dispatch_pick(const struct dispatch_set *set, const struct pl *key,
		  bool only_up);

static inline bool dispatch_is_up(const struct dispatch_set *set, unsigned i)
{
	return __atomic_load_n(&set->hops[i].up, __ATOMIC_RELAXED) != 0;
}

/* Sets the health flag; returns whether it changed. */
bool dispatch_set_up(struct dispatch_set *set, unsigned i, bool up);

/*
 * Passive health signal: a response came from addr (a worker, any
 * thread).  Sets the heard flag of that hop, if addr is one; written
 * only when not set already, so that busy workers do not bounce the
 * cache line.
 */
void dispatch_heard(struct dispatch_set *set, const struct sip_tp_addr *addr);

/* Whether hop i was heard from since the last call; clears the flag. */
bool dispatch_take_heard(struct dispatch_set *set, unsigned i);

/* A worker relayed a request that expects an answer to hop i. */
void dispatch_given(struct dispatch_set *set, unsigned i);

/* Whether hop i was given one since the last call; clears the flag. */
bool dispatch_take_given(struct dispatch_set *set, unsigned i);

/* The hop whose address equals addr (same transport), or -1. */
int dispatch_find(const struct dispatch_set *set,
		  const struct sip_tp_addr *addr);

#endif
