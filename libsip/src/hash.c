#include "hash.h"

#include <errno.h>
#include <stdlib.h>

int hash_init(struct hash *h, uint32_t nbuckets)
{
	uint32_t n = 1;

	if (nbuckets == 0 || nbuckets > (1u << 30))
		return EINVAL;
	while (n < nbuckets)
		n <<= 1;
	h->buckets = calloc(n, sizeof(*h->buckets));
	if (!h->buckets)
		return ENOMEM;
	h->mask = n - 1;
	return 0;
}

void hash_free(struct hash *h)
{
	uint32_t i;

	if (!h->buckets)
		return;
	for (i = 0; i <= h->mask; i++) {
		while (h->buckets[i].head)
			list_unlink(h->buckets[i].head);
	}
	free(h->buckets);
	h->buckets = NULL;
	h->mask = 0;
}

void hash_append(struct hash *h, uint32_t key, struct le *le, void *data)
{
	list_append(&h->buckets[key & h->mask], le, data);
}

struct list *hash_bucket(const struct hash *h, uint32_t key)
{
	return &h->buckets[key & h->mask];
}

uint32_t hash_fnv32(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t x = 2166136261u;

	while (n--) {
		x ^= *s++;
		x *= 16777619u;
	}
	return x;
}

uint32_t hash_fnv32_ci(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t x = 2166136261u;

	while (n--) {
		unsigned char c = *s++;

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		x ^= c;
		x *= 16777619u;
	}
	return x;
}

uint64_t hash_fnv64(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t x = 14695981039346656037ull;

	while (n--) {
		x ^= *s++;
		x *= 1099511628211ull;
	}
	return x;
}

uint64_t hash_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}
