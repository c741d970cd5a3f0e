/*
 * hash.h - hash functions and a chained hash table of intrusive lists.
 *
 * The table only links elements (struct le) that live inside the
 * objects; it never owns them.  Not thread-safe: callers that share a
 * table between threads shard it and lock each shard.
 */
#ifndef SIPSTONE_HASH_H
#define SIPSTONE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "pl.h"

struct hash {
	struct list *buckets;
	uint32_t mask; /* bucket count - 1; the count is a power of 2 */
};

/*
 * Allocates at least nbuckets buckets (rounded up to a power of two).
 * Returns 0, EINVAL for 0, or ENOMEM.
 */
int hash_init(struct hash *h, uint32_t nbuckets);

/* Frees the buckets; elements still linked are unlinked, not freed. */
void hash_free(struct hash *h);

/* Links le (pointing at data) into the bucket of key. */
void hash_append(struct hash *h, uint32_t key, struct le *le, void *data);

/* Returns the bucket list of key (iterate it and compare your keys). */
struct list *hash_bucket(const struct hash *h, uint32_t key);

/* 32-bit FNV-1a of the bytes, and of the bytes folded to lower case. */
uint32_t hash_fnv32(const void *p, size_t n);
uint32_t hash_fnv32_ci(const void *p, size_t n);

/* 64-bit mixing of a 64-bit value (splitmix64 finaliser). */
uint64_t hash_mix64(uint64_t x);

/* 64-bit FNV-1a, for keys that feed rendezvous hashing. */
uint64_t hash_fnv64(const void *p, size_t n);

/*
 * Keyed hashing for keys a peer chooses (Call-IDs, branches, tags,
 * AORs): SipHash-2-4 with a 128-bit key.  FNV above is for keys we
 * choose (configuration, our own nonces): a peer can aim FNV inputs at
 * one bucket and turn every lookup into a list walk.
 */
struct hash_key {
	uint64_t k0, k1;
};

/* Incremental SipHash-2-4 state: init, add pieces, end. */
struct hash_sip {
	uint64_t v[4];
	uint64_t tail; /* bytes of the unfinished 8-byte block */
	uint64_t len;  /* bytes added */
};

void hash_sip_init(struct hash_sip *s, const struct hash_key *k);
void hash_sip_add(struct hash_sip *s, const void *p, size_t n);
/* The hash of what was added so far (s is left as it was). */
uint64_t hash_sip_end(const struct hash_sip *s);

/* SipHash-2-4 of the bytes under key k. */
uint64_t hash_siphash(const struct hash_key *k, const void *p, size_t n);

/*
 * The process's key: 128 random bits (getrandom) drawn on first use,
 * thread-safe.  Tables keyed with it are laid out differently in every
 * process, so never store these hashes or send them to another one.
 */
const struct hash_key *hash_process_key(void);

/* 32 bits of SipHash-2-4 of the bytes under the process's key. */
uint32_t hash_keyed32(const void *p, size_t n);

/* The table hash of a view a peer may have chosen (keyed). */
static inline uint32_t hash_pl(const struct pl *pl)
{
	return hash_keyed32(pl->p, pl->l);
}

#endif
