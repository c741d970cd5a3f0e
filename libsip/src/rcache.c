#include "rcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define DOWN_MAX 4096 /* marks kept; the oldest goes first */

uint32_t rcache_name_hash(const char *name, size_t len)
{
	return hash_fnv32(name, len);
}

static uint32_t entry_key(uint32_t h, enum dns_type type)
{
	return h ^ ((uint32_t)type * 0x9e3779b1u);
}

int rcache_init(struct rcache *c, size_t max)
{
	memset(c, 0, sizeof(*c));
	list_init(&c->age);
	c->max = max;
	return hash_init(&c->table, (uint32_t)(max < 64 ? 64 : max));
}

static void entry_free(struct rcache *c, struct rcache_entry *e)
{
	list_unlink(&e->hle);
	list_unlink(&e->ale);
	free(e->rec.any);
	free(e);
	c->count--;
}

void rcache_free(struct rcache *c)
{
	struct le *le;

	while ((le = c->age.head))
		entry_free(c, le->data);
	hash_free(&c->table);
}

void rcache_flush(struct rcache *c)
{
	struct le *le = c->age.head;

	while (le) {
		struct rcache_entry *e = le->data;

		le = le->next;
		if (e->state != RCACHE_PENDING)
			entry_free(c, e);
	}
}

void rcache_trim(struct rcache *c)
{
	struct le *le = c->age.head;

	/* Pending entries sit at the young end: refreshed or added last. */
	while (le && c->count > c->max) {
		struct rcache_entry *e = le->data;

		le = le->next;
		if (e->state != RCACHE_PENDING)
			entry_free(c, e);
	}
}

struct rcache_entry *rcache_find(struct rcache *c, const char *name,
				 size_t len, uint32_t h, enum dns_type type)
{
	uint32_t key = entry_key(h, type);
	struct list *b = hash_bucket(&c->table, key);

	for (struct le *le = b->head; le; le = le->next) {
		struct rcache_entry *e = le->data;

		if (e->key == key && e->type == type && e->len == len &&
		    memcmp(e->name, name, len) == 0)
			return e;
	}
	return NULL;
}

struct rcache_entry *rcache_add(struct rcache *c, const char *name, size_t len,
				uint32_t h, enum dns_type type)
{
	struct rcache_entry *e;

	if (len >= DNS_NAME_MAX)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	e->len = len;
	e->type = type;
	e->key = entry_key(h, type);
	e->state = RCACHE_PENDING;
	hash_append(&c->table, e->key, &e->hle, e);
	list_append(&c->age, &e->ale, e);
	c->count++;
	return e;
}

void rcache_refresh(struct rcache *c, struct rcache_entry *e)
{
	e->state = RCACHE_PENDING;
	list_unlink(&e->ale);
	list_append(&c->age, &e->ale, e);
}

static uint32_t cap(uint32_t v, uint32_t max)
{
	return v < max ? v : max;
}

static int naptr_cmp(const void *a, const void *b)
{
	const struct rcache_naptr *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	return 0;
}

/* RFC 3263 §4.1: only records for SIP services we speak, flag "s". */
static enum sip_transport naptr_proto(const struct dns_rr *rr)
{
	if (strcmp(rr->u.naptr.flags, "s") != 0 || rr->u.naptr.has_regexp ||
	    rr->u.naptr.replacement[0] == '\0')
		return SIP_TP_NONE;
	if (strcmp(rr->u.naptr.service, "sip+d2u") == 0)
		return SIP_TP_UDP;
	if (strcmp(rr->u.naptr.service, "sip+d2t") == 0)
		return SIP_TP_TCP;
	if (strcmp(rr->u.naptr.service, "sips+d2t") == 0)
		return SIP_TP_TLS;
	return SIP_TP_NONE;
}

static size_t rec_size(enum dns_type type)
{
	switch (type) {
	case DNS_T_SRV:
		return sizeof(struct rcache_srv);
	case DNS_T_NAPTR:
		return sizeof(struct rcache_naptr);
	default:
		return sizeof(struct rcache_addr);
	}
}

/* Copies one record of the entry's type into slot i of recs. */
static bool keep_record(enum dns_type type, const struct dns_rr *rr,
			void *recs, size_t i)
{
	switch (type) {
	case DNS_T_A: {
		struct rcache_addr *a = (struct rcache_addr *)recs + i;

		a->af = AF_INET;
		memcpy(a->a, rr->u.a, 4);
		return true;
	}
	case DNS_T_AAAA: {
		struct rcache_addr *a = (struct rcache_addr *)recs + i;

		a->af = AF_INET6;
		memcpy(a->a, rr->u.aaaa, 16);
		return true;
	}
	case DNS_T_SRV: {
		struct rcache_srv *s = (struct rcache_srv *)recs + i;

		s->priority = rr->u.srv.priority;
		s->weight = rr->u.srv.weight;
		s->port = rr->u.srv.port;
		memcpy(s->target, rr->u.srv.target, sizeof(s->target));
		s->target_len = (uint16_t)strlen(s->target);
		s->target_hash = rcache_name_hash(s->target, s->target_len);
		return true;
	}
	case DNS_T_NAPTR: {
		struct rcache_naptr *n = (struct rcache_naptr *)recs + i;

		n->proto = naptr_proto(rr);
		if (n->proto == SIP_TP_NONE)
			return false;
		n->order = rr->u.naptr.order;
		n->preference = rr->u.naptr.preference;
		memcpy(n->replacement, rr->u.naptr.replacement,
		       sizeof(n->replacement));
		n->replacement_len = (uint16_t)strlen(n->replacement);
		n->replacement_hash =
			rcache_name_hash(n->replacement, n->replacement_len);
		return true;
	}
	default:
		return false;
	}
}

/*
 * Reads the records of e's type from msg into a new array.  Returns 0
 * with *recsp (NULL when none), *np and *ttl (the smallest), or
 * EBADMSG / ENOMEM.
 */
static int read_records(enum dns_type type, struct dns_msg *m, void **recsp,
			size_t *np, uint32_t *ttl)
{
	void *recs = calloc(RCACHE_RECORDS_MAX, rec_size(type));
	struct dns_rr rr;
	uint32_t min_ttl = UINT32_MAX;
	size_t n = 0;
	int err = 0;

	if (!recs)
		return ENOMEM;
	while (n < RCACHE_RECORDS_MAX &&
	       (err = dns_msg_next(m, type, &rr)) == 0) {
		if (!keep_record(type, &rr, recs, n))
			continue;
		if (rr.ttl < min_ttl)
			min_ttl = rr.ttl;
		n++;
	}
	if (err && err != ENOENT && n < RCACHE_RECORDS_MAX) {
		free(recs);
		return err;
	}
	if (n == 0) {
		free(recs);
		recs = NULL;
	} else if (type == DNS_T_NAPTR) {
		qsort(recs, n, sizeof(struct rcache_naptr), naptr_cmp);
	}
	*recsp = recs;
	*np = n;
	*ttl = min_ttl;
	return 0;
}

static void set_failed(struct rcache_entry *e, int err, uint64_t now_ns,
		       const struct rcache_caps *caps)
{
	e->state = RCACHE_FAIL;
	e->err = err;
	e->expires_ns = now_ns + (uint64_t)caps->fail_ttl_ms * 1000000ull;
}

void rcache_fill(struct rcache *c, struct rcache_entry *e, int err,
		 const uint8_t *msg, size_t len, uint64_t now_ns,
		 const struct rcache_caps *caps)
{
	struct dns_msg m;
	void *recs = NULL;
	size_t n = 0;
	uint32_t ttl = 0;

	free(e->rec.any);
	e->rec.any = NULL;
	e->n = 0;
	e->filled_ns = now_ns;
	list_unlink(&e->ale);
	list_append(&c->age, &e->ale, e);
	if (err) {
		set_failed(e, err, now_ns, caps);
		return;
	}
	err = dns_msg_open(&m, msg, len);
	if (!err && m.rcode != DNS_RCODE_NOERROR &&
	    m.rcode != DNS_RCODE_NXDOMAIN)
		err = EPROTO;
	if (!err)
		err = read_records(e->type, &m, &recs, &n, &ttl);
	if (err) {
		set_failed(e, err == ENOMEM ? ENOMEM : EPROTO, now_ns, caps);
		return;
	}
	if (n > 0) {
		e->state = RCACHE_OK;
		e->rec.any = recs;
		e->n = n;
		ttl = cap(ttl, caps->ttl_max_s);
	} else {
		/* RFC 2308 §5: NXDOMAIN and NODATA alike, for the SOA's
		 * negative TTL. */
		e->state = RCACHE_NEG;
		if (dns_msg_negative_ttl(&m, &ttl))
			ttl = caps->neg_ttl_s;
		ttl = cap(ttl, caps->neg_ttl_max_s);
	}
	e->expires_ns = now_ns + (uint64_t)ttl * 1000000000ull;
}

/* ---------------------------------------------------------------- */
/* Targets marked down (RFC 3263 §4.3) */

static uint32_t addr_key(const struct sip_tp_addr *a)
{
	uint32_t h = (uint32_t)a->proto * 0x9e3779b1u;

	if (a->u.sa.sa_family == AF_INET6)
		return h ^ hash_fnv32(&a->u.in6.sin6_addr, 16) ^
		       a->u.in6.sin6_port;
	return h ^ hash_fnv32(&a->u.in.sin_addr, 4) ^ a->u.in.sin_port;
}

int rcache_down_init(struct rcache_downs *d)
{
	memset(d, 0, sizeof(*d));
	list_init(&d->age);
	return hash_init(&d->table, 256);
}

static void down_free(struct rcache_downs *d, struct rcache_down *x)
{
	list_unlink(&x->hle);
	list_unlink(&x->ale);
	free(x);
	d->count--;
}

void rcache_down_flush(struct rcache_downs *d)
{
	struct le *le;

	while ((le = d->age.head))
		down_free(d, le->data);
}

void rcache_down_free(struct rcache_downs *d)
{
	rcache_down_flush(d);
	hash_free(&d->table);
}

static struct rcache_down *
down_find(struct rcache_downs *d, const struct sip_tp_addr *addr, uint32_t key)
{
	struct list *b = hash_bucket(&d->table, key);

	for (struct le *le = b->head; le; le = le->next) {
		struct rcache_down *x = le->data;

		if (x->key == key && sip_tp_addr_eq(&x->addr, addr))
			return x;
	}
	return NULL;
}

void rcache_down_mark(struct rcache_downs *d, const struct sip_tp_addr *addr,
		      uint64_t until_ns, uint64_t now_ns)
{
	uint32_t key = addr_key(addr);
	struct rcache_down *x = down_find(d, addr, key);

	/* Expired marks at the old end go first, then the oldest. */
	while (d->age.head) {
		struct rcache_down *old = d->age.head->data;

		if (old == x ||
		    (old->until_ns > now_ns && d->count < DOWN_MAX))
			break;
		down_free(d, old);
	}
	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x)
			return; /* not remembered: it is tried again */
		x->key = key;
		x->addr = *addr;
		hash_append(&d->table, key, &x->hle, x);
		d->count++;
	}
	list_unlink(&x->ale);
	list_append(&d->age, &x->ale, x);
	x->until_ns = until_ns;
}

bool rcache_down_is_down(struct rcache_downs *d,
			 const struct sip_tp_addr *addr, uint64_t now_ns)
{
	struct rcache_down *x;

	if (d->count == 0)
		return false;
	x = down_find(d, addr, addr_key(addr));
	if (!x)
		return false;
	if (x->until_ns > now_ns)
		return true;
	down_free(d, x);
	return false;
}
