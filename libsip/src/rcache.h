/*
 * rcache.h - the resolver's answer cache and its table of
 * targets marked down (internal to sip_resolve.c).
 *
 * The cache maps (name, type) to an entry: pending (a query is out),
 * answered (records with an expiry), negative (NXDOMAIN or no records:
 * RFC 2308) or failed (timeout, server failure).  Names are stored
 * lower-cased without a final dot.  Entries past the maximum are
 * evicted oldest-filled first by rcache_trim(); pending ones never are,
 * since a query's answer is written into its entry.
 */
#ifndef SIPSTONE_RCACHE_H
#define SIPSTONE_RCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_msg.h"
#include "hash.h"
#include "list.h"
#include "sip_msg.h"
#include "sip_tp.h"

/* Records kept per answer; a larger RRset is cut (in answer order). */
#define RCACHE_RECORDS_MAX 32

enum rcache_state {
	RCACHE_PENDING,
	RCACHE_OK,   /* n > 0 records */
	RCACHE_NEG,  /* the name or the records do not exist */
	RCACHE_FAIL, /* err: ETIMEDOUT, EPROTO, ... */
};

struct rcache_addr {
	int af; /* AF_INET or AF_INET6 */
	uint8_t a[16];
};

struct rcache_srv {
	uint16_t priority;
	uint16_t weight;
	uint16_t port;
	uint16_t target_len;
	uint32_t target_hash;	   /* rcache_name_hash(), for lookups */
	char target[DNS_NAME_MAX]; /* "" for "." (no service) */
};

/* A NAPTR record kept only when usable: flag "s", a SIP service. */
struct rcache_naptr {
	uint16_t order;
	uint16_t preference;
	enum sip_transport proto;
	uint16_t replacement_len;
	uint32_t replacement_hash; /* rcache_name_hash() */
	char replacement[DNS_NAME_MAX];
};

struct rcache_entry {
	struct le hle; /* in the hash bucket */
	struct le ale; /* in the age list */
	enum dns_type type;
	uint32_t key;
	enum rcache_state state;
	int err;	     /* RCACHE_FAIL */
	uint64_t filled_ns;  /* when the answer came */
	uint64_t expires_ns; /* answered, negative, failed: until */
	size_t n;
	union {
		struct rcache_addr *addr; /* A, AAAA */
		struct rcache_srv *srv;
		struct rcache_naptr *naptr; /* sorted: order, preference */
		void *any;
	} rec;
	void *owner; /* the resolver, for the query's handler */
	size_t len;
	char name[DNS_NAME_MAX];
};

struct rcache {
	struct hash table;
	struct list age; /* oldest filled first; pending ones at the end */
	size_t count;
	size_t max;
};

struct rcache_down {
	struct le hle;
	struct le ale;
	uint32_t key;
	struct sip_tp_addr addr;
	uint64_t until_ns;
};

struct rcache_downs {
	struct hash table;
	struct list age; /* oldest marked first */
	size_t count;
};

/* Returns 0 or ENOMEM. */
int rcache_init(struct rcache *c, size_t max);
void rcache_free(struct rcache *c);

/* Drops every entry that is not pending. */
void rcache_flush(struct rcache *c);

/*
 * Evicts the oldest filled entries while more than the maximum are
 * held.  Entries are only evicted here, so that those a resolution is
 * reading stay valid until it ends.
 */
void rcache_trim(struct rcache *c);

/* The hash of a name that rcache_find() and rcache_add() take. */
uint32_t rcache_name_hash(const char *name, size_t len);

/*
 * The entry of (name, type), name lower case without a final dot, of
 * length len and hash h (rcache_name_hash()); NULL when absent.
 */
struct rcache_entry *rcache_find(struct rcache *c, const char *name,
				 size_t len, uint32_t h, enum dns_type type);

/* Adds a pending entry.  Returns it, or NULL when out of memory. */
struct rcache_entry *rcache_add(struct rcache *c, const char *name, size_t len,
				uint32_t h, enum dns_type type);

/* Makes e pending again (a new query for an expired answer). */
void rcache_refresh(struct rcache *c, struct rcache_entry *e);

/*
 * Writes a query's outcome into e: err 0 with the response (msg, len),
 * else the failure.  Uses the TTL caps in seconds / ms as named.
 */
struct rcache_caps {
	uint32_t ttl_max_s;
	uint32_t neg_ttl_max_s;
	uint32_t neg_ttl_s;
	uint32_t fail_ttl_ms;
};
void rcache_fill(struct rcache *c, struct rcache_entry *e, int err,
		 const uint8_t *msg, size_t len, uint64_t now_ns,
		 const struct rcache_caps *caps);

/* Returns 0 or ENOMEM. */
int rcache_down_init(struct rcache_downs *d);
void rcache_down_free(struct rcache_downs *d);

/* Marks addr down until until_ns (a later mark extends it). */
void rcache_down_mark(struct rcache_downs *d, const struct sip_tp_addr *addr,
		      uint64_t until_ns, uint64_t now_ns);

/* Whether addr is marked down at now_ns (drops an expired mark). */
bool rcache_down_is_down(struct rcache_downs *d,
			 const struct sip_tp_addr *addr, uint64_t now_ns);

void rcache_down_flush(struct rcache_downs *d);

#endif
