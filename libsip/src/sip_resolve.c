#include "sip_resolve.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dns_client.h"
#include "dns_msg.h"
#include "hash.h"
#include "obj.h"
#include "rcache.h"

#define LOG_MODULE "resolve"
#include "log.h"

#define NAMES_MAX 2048 /* bytes of target names per result */

struct sip_resolver {
	struct ev *ev;
	struct dns_client *dns;
	struct rcache cache;
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
struct nquery {
	char host[DNS_NAME_MAX];
	size_t len;
	uint32_t hash; /* rcache_name_hash() of host */
	bool numeric;
	uint16_t port;
	enum sip_transport proto;
	bool secure;
};

struct sip_resolve_req {
	struct le le; /* in sip_resolver.reqs, or a batch being walked */
	struct sip_resolver *r;
	struct nquery q;
	sip_resolve_h *h;
	void *arg;
	uint64_t start_ns;   /* ev_now() at the start */
	uint64_t start_mono; /* for the time counters */
};

struct sip_resolve_res {
	size_t n;
	size_t cursor;
	struct sip_resolve_target t[]; /* then the names */
};

/*
 * One pass of the RFC 3263 rules over the cache.  Whatever is missing
 * or expired is asked for (all that can be asked at this step, in
 * parallel) and the pass is "pending"; the resolution passes again
 * when answers come.  Answers that came since the resolution started
 * count even with a TTL of 0, so that each pass makes progress.
 */
struct walk {
	struct sip_resolver *r;
	uint64_t now;
	uint64_t fresh_since;
	bool pending;
	int err; /* the first failure seen */
	size_t n;
	struct sip_resolve_target t[SIP_RESOLVE_TARGETS_MAX];
	size_t name_off[SIP_RESOLVE_TARGETS_MAX];
	size_t names_len;
	char names[NAMES_MAX];
};

/* splitmix64 */
static uint64_t rnd(struct sip_resolver *r)
{
	r->rng += 0x9e3779b97f4a7c15ull;
	return hash_mix64(r->rng);
}

static uint16_t default_port(enum sip_transport proto)
{
	return proto == SIP_TP_TLS ? 5061 : 5060; /* RFC 3261 §19.1.2 */
}

static void note_err(struct walk *w, int err)
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
static int lookup(struct walk *w, const char *name, size_t len, uint32_t h,
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
		*ep = e;
		return 0;
	}
	w->pending = true;
	return EINPROGRESS;
}

static void add_target(struct walk *w, enum sip_transport proto, int af,
		       const void *bytes, uint16_t port, const char *name,
		       size_t len)
{
	struct sip_resolve_target *t;
	size_t off = SIZE_MAX;

	if (w->n >= SIP_RESOLVE_TARGETS_MAX)
		return;
	/* Consecutive targets mostly share their name: stored once. */
	if (w->n > 0 && w->name_off[w->n - 1] != SIZE_MAX &&
	    strncmp(w->names + w->name_off[w->n - 1], name, len) == 0 &&
	    w->names[w->name_off[w->n - 1] + len] == '\0') {
		off = w->name_off[w->n - 1];
	} else if (w->names_len + len + 1 <= NAMES_MAX) {
		off = w->names_len;
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

static void add_entry_addrs(struct walk *w, const struct rcache_entry *e,
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
static bool numeric(const char *name, size_t len, int *af, uint8_t bytes[16])
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
static void walk_addrs(struct walk *w, const char *name, size_t len,
		       uint32_t h, uint16_t port, enum sip_transport proto)
{
	struct sip_resolver *r = w->r;
	struct rcache_entry *e4 = NULL, *e6 = NULL;
	uint8_t bytes[16];
	int af, rc4 = 0, rc6 = 0;

	if (numeric(name, len, &af, bytes)) {
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
 * RFC 2782 ordering into idx: by priority, and within a priority a
 * weighted random choice repeated over the records not chosen yet.
 * RFC 2782 draws in 0..sum inclusive, which gives the first record one
 * chance too many (1:3 weights would split 2:3); the draw here is in
 * 1..sum, so that shares follow the weights, and records of weight 0
 * come last, in random order, as the RFC intends.
 */
static void srv_order(struct sip_resolver *r, const struct rcache_entry *e,
		      uint8_t *idx)
{
	const struct rcache_srv *s = e->rec.srv;
	size_t n = e->n;

	for (size_t i = 0; i < n; i++)
		idx[i] = (uint8_t)i;
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
		for (size_t i = g; i + 1 < end; i++) {
			uint64_t sum = 0, run = 0, pick;
			size_t k = i;

			for (size_t j = i; j < end; j++)
				sum += s[idx[j]].weight;
			if (sum == 0) {
				k = i + (size_t)(rnd(r) % (end - i));
			} else {
				pick = rnd(r) % sum + 1;
				for (k = i; k < end; k++) {
					run += s[idx[k]].weight;
					if (run >= pick)
						break;
				}
			}
			uint8_t v = idx[k];

			idx[k] = idx[i];
			idx[i] = v;
		}
		g = end;
	}
}

/* RFC 3263 §4.2: the SRV records of name, then their targets' address
 * records.  *found: the name has SRV records. */
static void walk_srv(struct walk *w, const char *name, size_t len, uint32_t h,
		     enum sip_transport proto, bool *found)
{
	struct rcache_entry *e;
	uint8_t idx[RCACHE_RECORDS_MAX];
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
	for (size_t i = 0; i < e->n; i++) {
		const struct rcache_srv *s = &e->rec.srv[idx[i]];

		/* "." as the target: decidedly not available here */
		if (s->target[0] == '\0')
			continue;
		walk_addrs(w, s->target, s->target_len, s->target_hash,
			   s->port, proto);
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

static void walk_srv_proto(struct walk *w, const struct nquery *q,
			   enum sip_transport proto, bool *found)
{
	char name[DNS_NAME_MAX];
	size_t len = srv_name(name, proto, q->host, q->len);

	if (len)
		walk_srv(w, name, len, rcache_name_hash(name, len), proto,
			 found);
}

/* RFC 3263 §4.1 (transport) and §4.2 (port and address). */
static void walk(struct walk *w, const struct nquery *q)
{
	enum sip_transport proto = q->secure ? SIP_TP_TLS : SIP_TP_UDP;
	struct rcache_entry *e;
	bool found = false, usable = false;

	if (q->proto != SIP_TP_NONE && !q->secure)
		proto = q->proto;
	if (q->numeric || q->port) {
		walk_addrs(w, q->host, q->len, q->hash,
			   q->port ? q->port : default_port(proto), proto);
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
		walk_addrs(w, q->host, q->len, q->hash, default_port(proto),
			   proto);
}

static void walk_init(struct walk *w, struct sip_resolver *r,
		      uint64_t fresh_since)
{
	w->r = r;
	w->now = ev_now(r->ev);
	w->fresh_since = fresh_since;
	w->pending = false;
	w->err = 0;
	w->n = 0;
	w->names_len = 0;
}

/* The walk's targets as a result object; or its error. */
static int walk_result(const struct walk *w, struct sip_resolve_res **resp)
{
	struct sip_resolve_res *res;
	size_t tsz = w->n * sizeof(res->t[0]);
	char *names;

	if (w->n == 0)
		return w->err ? w->err : ENOENT;
	res = obj_alloc(sizeof(*res) + tsz + w->names_len + 1, NULL);
	if (!res)
		return ENOMEM;
	names = (char *)res->t + tsz;
	memcpy(names, w->names, w->names_len);
	names[w->names_len] = '\0';
	res->n = w->n;
	for (size_t i = 0; i < w->n; i++) {
		res->t[i].addr = w->t[i].addr;
		res->t[i].name = w->name_off[i] == SIZE_MAX
					 ? names + w->names_len
					 : names + w->name_off[i];
	}
	*resp = res;
	return 0;
}

/* A pending resolution ends: counters, handler, free. */
static void finish_req(struct sip_resolver *r, struct sip_resolve_req *req,
		       const struct walk *w)
{
	struct sip_resolve_res *res = NULL;
	uint64_t dt = ev_monotonic_ns() - req->start_mono;
	int err = walk_result(w, &res);

	r->st.time_ns += dt;
	if (dt > r->st.time_max_ns)
		r->st.time_max_ns = dt;
	if (err)
		r->st.failures++;
	req->h(err, res, req->arg);
	free(req);
}

/* Answers came (dns_client's done hook): every pending one passes again. */
static void on_dns_done(void *arg)
{
	struct sip_resolver *r = arg;
	struct list batch = LIST_INIT;
	struct le *le;
	struct walk *w;

	w = malloc(sizeof(*w));
	if (!w)
		return; /* the next answer or timeout comes back here */
	while ((le = r->reqs.head)) {
		list_unlink(le);
		list_append(&batch, le, le->data);
	}
	rcache_trim(&r->cache);
	/* A handler may cancel others of the batch: take one at a time. */
	while ((le = batch.head)) {
		struct sip_resolve_req *req = le->data;

		list_unlink(le);
		walk_init(w, r, req->start_ns);
		walk(w, &req->q);
		if (w->pending)
			list_append(&r->reqs, le, req);
		else
			finish_req(r, req, w);
	}
	free(w);
}

/* Lower case, no brackets around an IPv6 reference, no final dot. */
static int normalise(struct nquery *nq, const struct sip_resolve_query *q)
{
	struct pl h = q->host;
	int af;
	uint8_t bytes[16];

	if (!h.p || h.l == 0)
		return EINVAL;
	if (h.l >= 2 && h.p[0] == '[' && h.p[h.l - 1] == ']') {
		h.p++;
		h.l -= 2;
	}
	if (h.l >= DNS_NAME_MAX)
		return EINVAL;
	memcpy(nq->host, h.p, h.l);
	nq->host[h.l] = '\0';
	nq->len = h.l;
	nq->numeric = numeric(nq->host, nq->len, &af, bytes);
	if (!nq->numeric) {
		if (dns_name_check(&h))
			return EINVAL;
		if (nq->host[nq->len - 1] == '.')
			nq->host[--nq->len] = '\0';
		for (size_t i = 0; i < nq->len; i++)
			nq->host[i] =
				(char)tolower((unsigned char)nq->host[i]);
	}
	nq->hash = rcache_name_hash(nq->host, nq->len);
	if (q->proto != SIP_TP_NONE && q->proto != SIP_TP_UDP &&
	    q->proto != SIP_TP_TCP && q->proto != SIP_TP_TLS)
		return EINVAL;
	nq->port = q->port;
	nq->proto = q->proto;
	nq->secure = q->secure;
	return 0;
}

int sip_resolve(struct sip_resolver *r, const struct sip_resolve_query *q,
		struct sip_resolve_res **resp, sip_resolve_h *h, void *arg,
		struct sip_resolve_req **reqp)
{
	struct sip_resolve_req *req;
	struct nquery nq;
	struct walk w; /* on the stack: a cache hit allocates only *resp */
	int err;

	r->st.lookups++;
	err = normalise(&nq, q);
	if (err)
		goto out;
	rcache_trim(&r->cache);
	walk_init(&w, r, ev_now(r->ev));
	walk(&w, &nq);
	if (!w.pending) {
		r->st.hits++;
		err = walk_result(&w, resp);
		goto out;
	}
	r->st.misses++;
	req = calloc(1, sizeof(*req));
	if (!req) {
		err = ENOMEM;
		goto out;
	}
	req->q = nq;
	req->r = r;
	req->h = h;
	req->arg = arg;
	req->start_ns = w.fresh_since;
	req->start_mono = ev_monotonic_ns();
	list_append(&r->reqs, &req->le, req);
	if (reqp)
		*reqp = req;
	err = EINPROGRESS;
out:
	if (err && err != EINPROGRESS)
		r->st.failures++;
	return err;
}

void sip_resolve_cancel(struct sip_resolve_req *req)
{
	if (!req)
		return;
	list_unlink(&req->le);
	free(req);
}

int sip_resolve_query_from_uri(struct sip_resolve_query *q,
			       const struct sip_uri *uri)
{
	struct sip_resolve_query t;

	if (uri->scheme_id != SIP_URI_SIP && uri->scheme_id != SIP_URI_SIPS)
		return EINVAL;
	memset(&t, 0, sizeof(t));
	/* RFC 3263 §4: maddr, when present, is the TARGET. */
	t.host = uri->maddr.l ? uri->maddr : uri->host;
	t.port = uri->has_port ? uri->port : 0;
	t.secure = uri->scheme_id == SIP_URI_SIPS;
	t.proto = SIP_TP_NONE;
	if (uri->transport.l) {
		t.proto = sip_transport_decode(&uri->transport);
		if (t.proto != SIP_TP_UDP && t.proto != SIP_TP_TCP &&
		    t.proto != SIP_TP_TLS)
			return EINVAL;
	}
	*q = t;
	return 0;
}

size_t sip_resolve_res_count(const struct sip_resolve_res *res)
{
	return res ? res->n : 0;
}

const struct sip_resolve_target *
sip_resolve_res_get(const struct sip_resolve_res *res, size_t i)
{
	return res && i < res->n ? &res->t[i] : NULL;
}

const struct sip_resolve_target *
sip_resolve_res_target(struct sip_resolver *r, struct sip_resolve_res *res)
{
	uint64_t now = ev_now(r->ev);

	while (res->cursor < res->n) {
		const struct sip_resolve_target *t = &res->t[res->cursor];

		if (!rcache_down_is_down(&r->downs, &t->addr, now))
			return t;
		r->st.down_skips++;
		res->cursor++;
	}
	return NULL;
}

const struct sip_resolve_target *
sip_resolve_res_failover(struct sip_resolver *r, struct sip_resolve_res *res)
{
	const struct sip_resolve_target *t = sip_resolve_res_target(r, res);

	if (!t)
		return NULL;
	sip_resolver_mark_down(r, &t->addr);
	res->cursor++;
	return sip_resolve_res_target(r, res);
}

void sip_resolver_mark_down(struct sip_resolver *r,
			    const struct sip_tp_addr *addr)
{
	uint64_t now = ev_now(r->ev);

	rcache_down_mark(&r->downs, addr, now + r->down_ns, now);
}

bool sip_resolver_is_down(struct sip_resolver *r,
			  const struct sip_tp_addr *addr)
{
	return rcache_down_is_down(&r->downs, addr, ev_now(r->ev));
}

void sip_resolver_flush(struct sip_resolver *r)
{
	rcache_flush(&r->cache);
	rcache_down_flush(&r->downs);
}

void sip_resolver_stats(const struct sip_resolver *r,
			struct sip_resolve_stats *st)
{
	*st = r->st;
	st->cache_entries = r->cache.count;
}

static void resolver_destroy(void *arg)
{
	struct sip_resolver *r = arg;
	struct le *le;

	/* First: c-ares drops its queries, which point into the cache. */
	dns_client_free(r->dns);
	while ((le = r->reqs.head)) {
		list_unlink(le);
		free(le->data);
	}
	rcache_free(&r->cache);
	rcache_down_free(&r->downs);
}

#define OPT(v, def) ((v) ? (v) : (def))

int sip_resolver_alloc(struct sip_resolver **rp, struct ev *ev,
		       const struct sip_resolve_opts *opts)
{
	static const struct sip_resolve_opts none;
	struct sip_resolver *r = NULL;
	struct dns_client_opts dopts;
	int err;

	if (!opts)
		opts = &none;
	/* The destructor copes with a half-made resolver: all zeroed. */
	r = obj_alloc(sizeof(*r), resolver_destroy);
	if (!r)
		return ENOMEM;
	r->ev = ev;
	list_init(&r->reqs);
	r->caps.ttl_max_s = OPT(opts->ttl_max_s, 3600);
	r->caps.neg_ttl_max_s = OPT(opts->neg_ttl_max_s, 300);
	r->caps.neg_ttl_s = OPT(opts->neg_ttl_s, 30);
	r->caps.fail_ttl_ms = OPT(opts->fail_ttl_ms, 1000);
	r->down_ns = (uint64_t)OPT(opts->down_ms, 30000) * EV_NS_PER_MS;
	r->no_ipv6 = opts->no_ipv6;
	r->prefer_ipv6 = opts->prefer_ipv6;
	r->rng = opts->seed;
	if (!r->rng && getrandom(&r->rng, sizeof(r->rng), GRND_NONBLOCK) !=
			       (ssize_t)sizeof(r->rng))
		r->rng = ev_monotonic_ns();
	/* At least what one resolution can hold at once (NAPTR, three
	 * SRV, A and AAAA of 32 targets), so that it never evicts its own
	 * answers between passes. */
	err = rcache_init(&r->cache, opts->cache_max > 128 ? opts->cache_max
				     : opts->cache_max	   ? 128
							   : 4096);
	if (err)
		goto out;
	err = rcache_down_init(&r->downs);
	if (err)
		goto out;
	memset(&dopts, 0, sizeof(dopts));
	dopts.servers = opts->servers;
	dopts.timeout_ms = opts->timeout_ms;
	dopts.tries = opts->tries;
	err = dns_client_alloc(&r->dns, ev, &dopts, on_dns_done, r);
	if (err)
		goto out;
	*rp = r;
	r = NULL;
out:
	obj_deref(r);
	return err;
}
