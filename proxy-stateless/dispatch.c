/* dispatch.c - the key and the weighted rendezvous choice (dispatch.h). */
#include "dispatch.h"

#include <errno.h>
#include <string.h>

#include "enum_name.h"
#include "hash.h"
#include "sip_uri.h"

int dispatch_hash_decode(const char *s, enum dispatch_hash *h)
{
	if (!strcmp(s, "user"))
		*h = DISPATCH_HASH_USER;
	else if (!strcmp(s, "callid"))
		*h = DISPATCH_HASH_CALLID;
	else if (!strcmp(s, "from"))
		*h = DISPATCH_HASH_FROM;
	else
		return EINVAL;
	return 0;
}

const char *dispatch_hash_name(enum dispatch_hash h)
{
	/* DISPATCH_HASH_USER, and any other value, is the fallback. */
	static const char *const names[] = {
		[DISPATCH_HASH_CALLID] = "callid",
		[DISPATCH_HASH_FROM] = "from",
	};

	return enum_name(names, ENUM_NAMES_LEN(names), h, "user");
}

int dispatch_add(struct dispatch_set *set, const char *spec, const char **why)
{
	struct dispatch_hop *hop;
	const char *semi = strchr(spec, ';');
	char addr[SIP_TP_ADDR_STRLEN];
	struct pl host, wv;
	uint32_t weight = 1;
	size_t alen = semi ? (size_t)(semi - spec) : strlen(spec);
	unsigned i;
	int err;

	*why = NULL;
	if (set->n >= DISPATCH_MAX_HOPS) {
		*why = "too many next hops";
		return EOVERFLOW;
	}
	if (alen == 0 || alen >= sizeof(addr)) {
		*why = "bad address";
		return EINVAL;
	}
	memcpy(addr, spec, alen);
	addr[alen] = '\0';
	if (semi) {
		if (strncmp(semi, ";weight=", 8) != 0) {
			*why = "only ;weight=N may follow the address";
			return EINVAL;
		}
		pl_set_str(&wv, semi + 8);
		if (pl_u32(&wv, &weight) || weight == 0 ||
		    weight > DISPATCH_MAX_WEIGHT) {
			*why = "weight must be 1..1000";
			return EINVAL;
		}
	}
	hop = &set->hops[set->n];
	memset(hop, 0, sizeof(*hop));
	err = sip_tp_addr_decode(&hop->addr, &host, addr);
	if (err) {
		*why = err == ENOENT ? "host does not resolve"
				     : "expected udp:|tcp:|tls:HOST:PORT";
		return err;
	}
	if (sip_tp_addr_port(&hop->addr) == 0) {
		*why = "port 0";
		return EINVAL;
	}
	for (i = 0; i < set->n; i++) {
		if (sip_tp_addr_eq(&set->hops[i].addr, &hop->addr)) {
			*why = "next hop given twice";
			return EEXIST;
		}
	}
	if (pl_strcpy(&host, hop->host, sizeof(hop->host)) ||
	    sip_tp_addr_print(&hop->addr, hop->name, sizeof(hop->name))) {
		*why = "address too long";
		return EINVAL;
	}
	hop->weight = weight;
	/* Seeded by the resolved address, not the position: the order of
	 * --next flags does not change who gets which user. */
	hop->seed = hash_mix64(hash_fnv64(hop->name, strlen(hop->name)));
	hop->up = 1;
	set->n++;
	set->equal_weights = true;
	for (i = 1; i < set->n; i++)
		if (set->hops[i].weight != set->hops[0].weight)
			set->equal_weights = false;
	return 0;
}

static int addr_user(const struct sip_msg *msg, enum sip_hdr_id id,
		     struct pl *user)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, id);
	struct sip_addr a;
	struct sip_uri u;

	if (!h || sip_addr_decode(&a, &h->value) || sip_uri_decode(&u, &a.uri))
		return EBADMSG;
	*user = u.user;
	return 0;
}

int dispatch_key(const struct sip_msg *msg, enum dispatch_hash h,
		 struct pl *key)
{
	struct pl user = PL_INIT;
	struct sip_uri u;
	int err;

	switch (h) {
	case DISPATCH_HASH_CALLID:
		*key = msg->call_id;
		return 0;
	case DISPATCH_HASH_FROM:
		err = addr_user(msg, SIP_HDR_FROM, &user);
		break;
	default:
		/* The AOR's user: a REGISTER's Request-URI is the domain
		 * (§10.2), its To is the AOR. */
		if (msg->method_id == SIP_METHOD_REGISTER) {
			err = addr_user(msg, SIP_HDR_TO, &user);
		} else {
			err = sip_uri_decode(&u, &msg->ruri);
			if (!err)
				user = u.user;
		}
		break;
	}
	if (err)
		return err;
	*key = pl_isset(&user) ? user : msg->call_id;
	return 0;
}

/*
 * -ln(u) for u in (0,1) taken from the top 53 bits of x (never 0 nor
 * 1).  Written out rather than libm's log(): u = m * 2^-e with m in
 * [1,2), ln m = 2 atanh((m-1)/(m+1)), |z| <= 1/3, so a dozen terms give
 * far more precision than a ranking needs.
 */
static double neg_ln_unit(uint64_t x)
{
	uint64_t v = (x >> 11) * 2 + 1; /* u = v / 2^54, v odd > 0 */
	int e = 54;
	double m, z, z2, t, sum = 0.0;
	int k;

	while (!(v & (1ull << 53))) {
		v <<= 1;
		e++;
	}
	/* v in [2^53, 2^54): m = v / 2^53, u = m / 2^(e-53). */
	m = (double)v / 9007199254740992.0;
	z = (m - 1.0) / (m + 1.0);
	z2 = z * z;
	t = z;
	for (k = 1; k < 26; k += 2) {
		sum += t / k;
		t *= z2;
	}
	return (double)(e - 53) * 0.69314718055994530942 - 2.0 * sum;
}

int dispatch_pick(const struct dispatch_set *set, const struct pl *key,
		  bool only_up)
{
	uint64_t k = hash_fnv64(key->p, key->l);
	uint64_t best_u = 0;
	double best = -1.0;
	int pick = -1;
	unsigned i;

	for (i = 0; i < set->n; i++) {
		const struct dispatch_hop *hop = &set->hops[i];
		uint64_t x;
		double s;

		if (only_up && !dispatch_is_up(set, i))
			continue;
		x = hash_mix64(k ^ hop->seed);
		if (set->equal_weights) {
			/* -w/ln(u) grows with u: compare u itself. */
			if (pick < 0 || x > best_u) {
				best_u = x;
				pick = (int)i;
			}
			continue;
		}
		s = (double)hop->weight / neg_ln_unit(x);
		if (s > best) {
			best = s;
			pick = (int)i;
		}
	}
	return pick;
}

bool dispatch_set_up(struct dispatch_set *set, unsigned i, bool up)
{
	uint8_t v = up ? 1 : 0;

	return __atomic_exchange_n(&set->hops[i].up, v, __ATOMIC_RELAXED) != v;
}

void dispatch_heard(struct dispatch_set *set, const struct sip_tp_addr *addr)
{
	int i = dispatch_find(set, addr);

	if (i >= 0 && !__atomic_load_n(&set->hops[i].heard, __ATOMIC_RELAXED))
		__atomic_store_n(&set->hops[i].heard, 1, __ATOMIC_RELAXED);
}

bool dispatch_take_heard(struct dispatch_set *set, unsigned i)
{
	return __atomic_exchange_n(&set->hops[i].heard, 0, __ATOMIC_RELAXED) !=
	       0;
}

void dispatch_given(struct dispatch_set *set, unsigned i)
{
	if (!__atomic_load_n(&set->hops[i].given, __ATOMIC_RELAXED))
		__atomic_store_n(&set->hops[i].given, 1, __ATOMIC_RELAXED);
}

bool dispatch_take_given(struct dispatch_set *set, unsigned i)
{
	return __atomic_exchange_n(&set->hops[i].given, 0, __ATOMIC_RELAXED) !=
	       0;
}

int dispatch_find(const struct dispatch_set *set,
		  const struct sip_tp_addr *addr)
{
	unsigned i;

	for (i = 0; i < set->n; i++)
		if (sip_tp_addr_eq(&set->hops[i].addr, addr))
			return (int)i;
	return -1;
}
