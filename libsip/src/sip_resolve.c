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
#include "rplan.h"
#include "rwalk.h"

#define LOG_MODULE "resolve"
#include "log.h"

struct sip_resolve_req {
	struct le le; /* in sip_resolver.reqs, or a batch being walked */
	struct sip_resolver *r;
	struct rwalk_query q;
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

/* The walk's targets as a result object; or its error. */
static int walk_result(const struct rwalk *w, struct sip_resolve_res **resp)
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
		res->t[i].name = w->name_off[i] == RPLAN_NO_NAME
					 ? names + w->names_len
					 : names + w->name_off[i];
	}
	*resp = res;
	return 0;
}

static struct rplan_key plan_key(const struct rwalk_query *q)
{
	struct rplan_key k = {q->host, q->len,	 q->hash,
			      q->port, q->proto, q->secure};

	return k;
}

/* Keeps a finished walk's outcome for the next hits, until the first
 * answer it read expires. */
static void plan_store(struct sip_resolver *r, const struct rwalk_query *q,
		       const struct rwalk *w)
{
	struct rplan_key k = plan_key(q);
	struct sip_tp_addr t[SIP_RESOLVE_TARGETS_MAX];
	struct rplan_data d;

	if (w->no_plan || w->err == ENOMEM || w->expires <= w->now)
		return;
	for (size_t i = 0; i < w->n; i++)
		t[i] = w->t[i].addr;
	d.expires_ns = w->expires;
	d.err = w->err ? w->err : ENOENT;
	d.n = w->n;
	d.t = t;
	d.name_off = w->name_off;
	d.names = w->names;
	d.names_len = w->names_len;
	d.recs = w->recs;
	d.nrecs = w->nrecs;
	(void)rplan_put(&r->plans, &k, &d);
}

/* A result from a plan, the SRV weighted choice drawn again. */
static int plan_result(struct sip_resolver *r, const struct rplan *p,
		       struct sip_resolve_res **resp)
{
	struct sip_resolve_res *res;
	size_t tsz = p->n * sizeof(res->t[0]), out = 0;
	char *names;

	if (p->n == 0)
		return p->err;
	res = obj_alloc(sizeof(*res) + tsz + p->names_len + 1, NULL);
	if (!res)
		return ENOMEM;
	names = (char *)res->t + tsz;
	memcpy(names, p->names, p->names_len + 1);
	for (size_t i = 0; i < p->nrecs;) {
		uint16_t weights[RPLAN_RECS_MAX];
		uint8_t idx[RPLAN_RECS_MAX];
		size_t j = i;

		while (j < p->nrecs && p->recs[j].set == p->recs[i].set &&
		       p->recs[j].priority == p->recs[i].priority) {
			idx[j - i] = (uint8_t)(j - i);
			weights[j - i] = p->recs[j].weight;
			j++;
		}
		if (j - i > 1)
			rplan_weighted_order(weights, idx, j - i, rwalk_rnd,
					     r);
		for (size_t k = 0; k < j - i; k++) {
			const struct rplan_rec *rec = &p->recs[i + idx[k]];

			for (size_t t = rec->first;
			     t < (size_t)rec->first + rec->count && out < p->n;
			     t++, out++) {
				res->t[out].addr = p->t[t];
				res->t[out].name =
					p->name_off[t] == RPLAN_NO_NAME
						? names + p->names_len
						: names + p->name_off[t];
			}
		}
		i = j;
	}
	res->n = out;
	*resp = res;
	return 0;
}

/* A pending resolution ends: counters, handler, free. */
static void finish_req(struct sip_resolver *r, struct sip_resolve_req *req,
		       const struct rwalk *w)
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
	struct rwalk *w;

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
		rwalk_init(w, r, req->start_ns);
		rwalk_run(w, &req->q);
		if (w->pending) {
			list_append(&r->reqs, le, req);
			continue;
		}
		plan_store(r, &req->q, w);
		finish_req(r, req, w);
	}
	free(w);
}

/* Lower case, no brackets around an IPv6 reference, no final dot. */
static int normalise(struct rwalk_query *nq, const struct sip_resolve_query *q)
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
	nq->numeric = rwalk_numeric(nq->host, nq->len, &af, bytes);
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
	struct rplan_key k;
	struct rplan *p;
	struct rwalk_query nq;
	struct rwalk w; /* on the stack: a cache hit allocates only *resp */
	int err;

	r->st.lookups++;
	err = normalise(&nq, q);
	if (err)
		goto out;
	k = plan_key(&nq);
	p = rplan_find(&r->plans, &k);
	if (p && p->expires_ns > ev_now(r->ev)) {
		r->st.hits++;
		err = plan_result(r, p, resp);
		goto out;
	}
	if (p)
		rplan_drop(&r->plans, p);
	rcache_trim(&r->cache);
	rwalk_init(&w, r, ev_now(r->ev));
	rwalk_run(&w, &nq);
	if (!w.pending) {
		r->st.hits++;
		plan_store(r, &nq, &w);
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
	rplan_flush(&r->plans);
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
	rplan_free_all(&r->plans);
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
	err = rplan_init(&r->plans, r->cache.max);
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
