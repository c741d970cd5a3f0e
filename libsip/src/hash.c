#include "hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

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

/* ------------------------------------------------------------------ */
/* SipHash-2-4 (Aumasson, Bernstein 2012): keyed, so that peers who
 * choose Call-IDs and branches cannot aim them at one bucket. */

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL64(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL64(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL64(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL64(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL64(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL64(v[2], 32);
}

static inline uint64_t le64(const unsigned char *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

static inline void sip_block(struct hash_sip *s, uint64_t m)
{
	s->v[3] ^= m;
	sip_round(s->v);
	sip_round(s->v);
	s->v[0] ^= m;
}

void hash_sip_init(struct hash_sip *s, const struct hash_key *k)
{
	s->v[0] = k->k0 ^ 0x736f6d6570736575ull;
	s->v[1] = k->k1 ^ 0x646f72616e646f6dull;
	s->v[2] = k->k0 ^ 0x6c7967656e657261ull;
	s->v[3] = k->k1 ^ 0x7465646279746573ull;
	s->tail = 0;
	s->len = 0;
}

void hash_sip_add(struct hash_sip *s, const void *data, size_t n)
{
	const unsigned char *p = data;
	unsigned fill = s->len & 7;

	s->len += n;
	while (fill && n) {
		s->tail |= (uint64_t)*p++ << (8 * fill);
		n--;
		if (++fill == 8) {
			sip_block(s, s->tail);
			s->tail = 0;
			fill = 0;
		}
	}
	for (; n >= 8; n -= 8, p += 8)
		sip_block(s, le64(p));
	for (unsigned i = 0; i < n; i++)
		s->tail |= (uint64_t)p[i] << (8 * i);
}

uint64_t hash_sip_end(const struct hash_sip *st)
{
	struct hash_sip s = *st;

	sip_block(&s, s.tail | ((uint64_t)(s.len & 0xff) << 56));
	s.v[2] ^= 0xff;
	sip_round(s.v);
	sip_round(s.v);
	sip_round(s.v);
	sip_round(s.v);
	return s.v[0] ^ s.v[1] ^ s.v[2] ^ s.v[3];
}

uint64_t hash_siphash(const struct hash_key *k, const void *p, size_t n)
{
	struct hash_sip s;

	hash_sip_init(&s, k);
	hash_sip_add(&s, p, n);
	return hash_sip_end(&s);
}

static struct hash_key process_key;
static pthread_once_t process_once = PTHREAD_ONCE_INIT;

static void process_key_init(void)
{
	uint64_t k[2] = {0, 0};
	size_t got = 0;

	/* getrandom blocks only before the pool is initialised (boot). */
	while (got < sizeof(k)) {
		ssize_t n = getrandom((char *)k + got, sizeof(k) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* No entropy source at all: still keyed, by time
			 * and address, better than a constant. */
			k[0] ^= (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&k;
			k[1] ^= hash_mix64(k[0] + (uint64_t)getpid());
			break;
		}
		got += (size_t)n;
	}
	process_key.k0 = k[0];
	process_key.k1 = k[1];
}

const struct hash_key *hash_process_key(void)
{
	pthread_once(&process_once, process_key_init);
	return &process_key;
}

uint32_t hash_keyed32(const void *p, size_t n)
{
	return (uint32_t)hash_siphash(hash_process_key(), p, n);
}
