#include "rwalk.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "dns_msg.h"
#include "hash.h"

#define LOG_MODULE "resolve"
#include "log.h"

/* splitmix64 */
uint64_t rwalk_rnd(void *arg)
{
	struct sip_resolver *r = arg;

	r->rng += 0x9e3779b97f4a7c15ull;
	return hash_mix64(r->rng);
}

static uint16_t default_port(enum sip_transport proto)
{
	return proto == SIP_TP_TLS ? 5061 : 5060; /* RFC 3261 §19.1.2 */
}

static void note_err(struct rwalk *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void on_answer(int err, const uint8_t *msg, size_t len, void *arg)
{
	struct rcache_entry *e = arg;
	struct sip_resolver *r = e->owner;

	rcache_fill(&r->cache, e, err, msg, len, ev_now(r->ev), &r->caps);
	if (e->state == RCACHE_FAIL) {
		r->st.query_failures++;
		log_debug("%s type %d: %s", e->name, (int)e->type,
			  strerror(e->err));
	}
}

/*
 * The usable entry of (name, type) in *ep; EINPROGRESS when a query is
 * out for it (now sent, or already); EINVAL for a name DNS cannot
 * carry, ENOMEM.
 */
static int lookup(struct rwalk *w, const char *name, size_t len, uint32_t h,
		  enum dns_type type, struct rcache_entry **ep)
{
	struct sip_resolver *r = w->r;
	struct rcache_entry *e;

	if (len == 0 || len >= DNS_NAME_MAX)
		return EINVAL;
	e = rcache_find(&r->cache, name, len, h, type);
	if (e && e->state == RCACHE_PENDING) {
		w->pending = true;
		return EINPROGRESS;
	}
	if (e && (e->expires_ns > w->now || e->filled_ns >= w->fresh_since)) {
		if (e->expires_ns < w->expires)
			w->expires = e->expires_ns;
		*ep = e;
		return 0;
	}
	if (e) {
		rcache_refresh(&r->cache, e);
	} else {
		e = rcache_add(&r->cache, name, len, h, type);
		if (!e) {
			note_err(w, ENOMEM);
			return ENOMEM;
		}
		e->owner = r;
	}
	r->st.queries++;
	dns_client_query(r->dns, e->name, type, on_answer, e);
	if (e->state != RCACHE_PENDING) { /* c-ares failed at once */
		if (e->expires_ns < w->expires)
			w->expires = e->expires_ns;
		*ep = e;
		return 0;
	}
	w->pending = true;
	return EINPROGRESS;
}

static void add_target(struct rwalk *w, enum sip_transport proto, int af,
		       const void *bytes, uint16_t port, const char *name,
		       size_t len)
{
	struct sip_resolve_target *t;
	uint16_t off = RPLAN_NO_NAME;

	if (w->n >= SIP_RESOLVE_TARGETS_MAX)
		return;
	/* Consecutive targets mostly share their name: stored once. */
	if (w->n > 0 && w->name_off[w->n - 1] != RPLAN_NO_NAME &&
	    strncmp(w->names + w->name_off[w->n - 1], name, len) == 0 &&
	    w->names[w->name_off[w->n - 1] + len] == '\0') {
		off = w->name_off[w->n - 1];
	} else if (w->names_len + len + 1 <= RWALK_NAMES_MAX) {
		off = (uint16_t)w->names_len;
		memcpy(w->names + off, name, len);
		w->names[off + len] = '\0';
		w->names_len += len + 1;
	}
	t = &w->t[w->n];
	memset(&t->addr, 0, sizeof(t->addr));
	t->addr.proto = proto;
	if (af == AF_INET) {
		t->addr.u.in.sin_family = AF_INET;
		memcpy(&t->addr.u.in.sin_addr, bytes, 4);
		t->addr.u.in.sin_port = htons(port);
	} else {
		t->addr.u.in6.sin6_family = AF_INET6;
		memcpy(&t->addr.u.in6.sin6_addr, bytes, 16);
		t->addr.u.in6.sin6_port = htons(port);
	}
	w->name_off[w->n] = off;
	w->n++;
}

static void add_entry_addrs(struct rwalk *w, const struct rcache_entry *e,
			    uint16_t port, enum sip_transport proto)
{
	if (!e)
		return;
	if (e->state == RCACHE_FAIL)
		note_err(w, e->err);
	if (e->state != RCACHE_OK)
		return;
	for (size_t i = 0; i < e->n; i++)
		add_target(w, proto, e->rec.addr[i].af, e->rec.addr[i].a, port,
			   e->name, e->len);
}

/* Whether name (NUL ended) is an IPv4 or IPv6 address; *af, bytes. */
bool rwalk_numeric(const char *name, size_t len, int *af, uint8_t bytes[16])
{
	bool maybe = len > 0;

	/* Most names are not: spare inet_pton() on every lookup. */
	for (size_t i = 0; i < len && maybe; i++)
		maybe = (name[i] >= '0' && name[i] <= '9') || name[i] == '.' ||
			name[i] == ':' || (name[i] >= 'a' && name[i] <= 'f') ||
			(name[i] >= 'A' && name[i] <= 'F');
	if (!maybe)
		return false;
	if (inet_pton(AF_INET, name, bytes) == 1) {
		*af = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, name, bytes) == 1) {
		*af = AF_INET6;
		return true;
	}
	return false;
}

/* RFC 3263 §4.2: the A and AAAA records of name, with port. */
static void walk_addrs(struct rwalk *w, const char *name, size_t len,
		       uint32_t h, uint16_t port, enum sip_transport proto)
{
	struct sip_resolver *r = w->r;
	struct rcache_entry *e4 = NULL, *e6 = NULL;
	uint8_t bytes[16];
	int af, rc4 = 0, rc6 = 0;

	if (rwalk_numeric(name, len, &af, bytes)) {
		add_target(w, proto, af, bytes, port, name, len);
		return;
	}
	if (!r->no_ipv6 || !r->prefer_ipv6)
		rc4 = lookup(w, name, len, h, DNS_T_A, &e4);
	if (!r->no_ipv6)
		rc6 = lookup(w, name, len, h, DNS_T_AAAA, &e6);
	if (rc4 == EINPROGRESS || rc6 == EINPROGRESS)
		return;
	if (rc4 == EINVAL || rc6 == EINVAL)
		note_err(w, EINVAL);
	if (r->prefer_ipv6) {
		add_entry_addrs(w, e6, port, proto);
		add_entry_addrs(w, e4, port, proto);
	} else {
		add_entry_addrs(w, e4, port, proto);
		add_entry_addrs(w, e6, port, proto);
	}
}

/*
 * RFC 2782 ordering into idx: by priority, and within a priority the
 * weighted random choice (rplan_weighted_order()).
 */
static void srv_order(struct sip_resolver *r, const struct rcache_entry *e,
		      uint8_t *idx)
{
	const struct rcache_srv *s = e->rec.srv;
	uint16_t weights[RCACHE_RECORDS_MAX];
	size_t n = e->n;

	for (size_t i = 0; i < n; i++) {
		idx[i] = (uint8_t)i;
		weights[i] = s[i].weight;
	}
	for (size_t i = 1; i < n; i++) { /* insertion sort: stable, n small */
		uint8_t v = idx[i];
		size_t j = i;

		for (; j > 0 && s[idx[j - 1]].priority > s[v].priority; j--)
			idx[j] = idx[j - 1];
		idx[j] = v;
	}
	for (size_t g = 0; g < n;) {
		size_t end = g;

		while (end < n && s[idx[end]].priority == s[idx[g]].priority)
			end++;
		rplan_weighted_order(weights, idx + g, end - g, rwalk_rnd, r);
		g = end;
	}
}

/* Notes for the plan that targets [first, w->n) came from a record. */
static void add_rec(struct rwalk *w, uint16_t set, uint16_t priority,
		    uint16_t weight, size_t first)
{
	struct rplan_rec *rec;

	if (w->n == first)
		return;
	if (w->nrecs >= RPLAN_RECS_MAX) {
		w->no_plan = true;
		return;
	}
	rec = &w->recs[w->nrecs++];
	rec->first = (uint16_t)first;
	rec->count = (uint16_t)(w->n - first);
	rec->priority = priority;
	rec->weight = weight;
	rec->set = set;
}

/* Addresses of a name that come from no SRV record: a set alone. */
static void walk_addrs_alone(struct rwalk *w, const char *name, size_t len,
			     uint32_t h, uint16_t port,
			     enum sip_transport proto)
{
	size_t first = w->n;

	walk_addrs(w, name, len, h, port, proto);
	add_rec(w, ++w->set, 0, 0, first);
}

/* RFC 3263 §4.2: the SRV records of name, then their targets' address
 * records.  *found: the name has SRV records. */
static void walk_srv(struct rwalk *w, const char *name, size_t len, uint32_t h,
		     enum sip_transport proto, bool *found)
{
	struct rcache_entry *e;
	uint8_t idx[RCACHE_RECORDS_MAX];
	uint16_t set;
	int rc;

	rc = lookup(w, name, len, h, DNS_T_SRV, &e);
	if (rc)
		return;
	if (e->state == RCACHE_FAIL)
		note_err(w, e->err);
	if (e->state != RCACHE_OK)
		return;
	*found = true;
	srv_order(w->r, e, idx);
	set = ++w->set;
	for (size_t i = 0; i < e->n; i++) {
		const struct rcache_srv *s = &e->rec.srv[idx[i]];
		size_t first = w->n;

		/* "." as the target: decidedly not available here */
		if (s->target[0] == '\0')
			continue;
		walk_addrs(w, s->target, s->target_len, s->target_hash,
			   s->port, proto);
		add_rec(w, set, s->priority, s->weight, first);
	}
}

/* "_sip._udp." / "_sip._tcp." / "_sips._tcp." + host into buf. */
static size_t srv_name(char *buf, enum sip_transport proto, const char *host,
		       size_t len)
{
	const char *prefix = proto == SIP_TP_UDP   ? "_sip._udp."
			     : proto == SIP_TP_TCP ? "_sip._tcp."
						   : "_sips._tcp.";
	size_t pl = strlen(prefix);

	if (pl + len >= DNS_NAME_MAX)
		return 0; /* too long for DNS: treated as no records */
	memcpy(buf, prefix, pl);
	memcpy(buf + pl, host, len);
	buf[pl + len] = '\0';
	return pl + len;
}

static void walk_srv_proto(struct rwalk *w, const struct rwalk_query *q,
			   enum sip_transport proto, bool *found)
{
	char name[DNS_NAME_MAX];
	size_t len = srv_name(name, proto, q->host, q->len);

	if (len)
		walk_srv(w, name, len, rcache_name_hash(name, len), proto,
			 found);
}

/* RFC 3263 §4.1 (transport) and §4.2 (port and address). */
void rwalk_run(struct rwalk *w, const struct rwalk_query *q)
{
	enum sip_transport proto = q->secure ? SIP_TP_TLS : SIP_TP_UDP;
	struct rcache_entry *e;
	bool found = false, usable = false;

	if (q->proto != SIP_TP_NONE && !q->secure)
		proto = q->proto;
	if (q->numeric || q->port) {
		walk_addrs_alone(w, q->host, q->len, q->hash,
				 q->port ? q->port : default_port(proto),
				 proto);
		return;
	}
	if (q->proto != SIP_TP_NONE) {
		walk_srv_proto(w, q, proto, &found);
	} else {
		if (lookup(w, q->host, q->len, q->hash, DNS_T_NAPTR, &e))
			return;
		if (e->state == RCACHE_FAIL) {
			note_err(w, e->err);
			return;
		}
		for (size_t i = 0; e->state == RCACHE_OK && i < e->n; i++) {
			const struct rcache_naptr *n = &e->rec.naptr[i];

			/* sips: only over TLS (RFC 3263 §4.1) */
			if (q->secure && n->proto != SIP_TP_TLS)
				continue;
			usable = true;
			walk_srv(w, n->replacement, n->replacement_len,
				 n->replacement_hash, n->proto, &found);
		}
		/* No NAPTR: SRV for each transport we speak, in our order
		 * of preference. */
		if (!usable && !q->secure) {
			walk_srv_proto(w, q, SIP_TP_UDP, &found);
			walk_srv_proto(w, q, SIP_TP_TCP, &found);
		}
		if (!usable)
			walk_srv_proto(w, q, SIP_TP_TLS, &found);
	}
	/* No SRV records: the host's addresses, default port (§4.2). */
	if (!w->pending && !found && !w->err)
		walk_addrs_alone(w, q->host, q->len, q->hash,
				 default_port(proto), proto);
}

void rwalk_init(struct rwalk *w, struct sip_resolver *r, uint64_t fresh_since)
{
	w->r = r;
	w->now = ev_now(r->ev);
	w->fresh_since = fresh_since;
	w->expires = UINT64_MAX;
	w->pending = false;
	w->err = 0;
	w->n = 0;
	w->names_len = 0;
	w->nrecs = 0;
	w->set = 0;
	w->no_plan = false;
}
