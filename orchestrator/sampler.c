#include "sampler.h"

#include <string.h>

#include "roles.h"

/* The proxies, in the order of the report: stateless, then stateful. */
size_t sampler_proxy_list(const struct run *r, size_t *idx, size_t max)
{
	size_t n = 0;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < r->t->nnodes && n < max; i++)
			if (r->t->nodes[i].role ==
			    (pass ? TOPO_STATEFUL : TOPO_STATELESS))
				idx[n++] = i;
	return n;
}

/* Each thread's CPU between two marks, matched by thread id. */
void sampler_thread_cpu(const struct proxy_mark *a, const struct proxy_mark *b,
			struct res_proxy *out)
{
	double dt = (double)(b->t_ms - a->t_ms) * 1000;

	out->nthreads = 0;
	for (unsigned i = 0; i < b->nthreads && dt > 0; i++) {
		double v = 0;

		for (unsigned k = 0; k < a->nthreads; k++)
			if (a->tid[k] == b->tid[i] &&
			    b->thread_us[i] >= a->thread_us[k])
				v = (double)(b->thread_us[i] -
					     a->thread_us[k]) /
				    dt;
		out->thread_cpu[out->nthreads++] = (float)v;
	}
}

/* Cumulative CPU, RSS and requests of a proxy from its stats. */
bool sampler_proxy_read(struct run *r, struct role *ro, struct proxy_mark *m)
{
	json_t *st = roles_command(r, ro, "stats", NULL, 3000), *req, *v;
	const char *key;

	if (!st)
		return false;
	m->t_ms = runctx_now_ms();
	/* Exact nanoseconds when the role gives them, else /proc's ticks. */
	if (json_object_get(json_object_get(st, "cpu"), "total_ns"))
		m->cpu_us =
			(uint64_t)(runctx_json_number(json_object_get(st, "cp"
									  "u"),
						      "total_"
						      "ns") /
				   1000);
	else
		m->cpu_us =
			(uint64_t)(runctx_json_number(json_object_get(st, "cp"
									  "u"),
						      "user_"
						      "us") +
				   runctx_json_number(json_object_get(st, "cp"
									  "u"),
						      "sys_"
						      "us"));
	m->rss_mb = runctx_json_number(st, "rss_kb") / 1024;
	m->nthreads = 0;
	{
		json_t *thr = json_object_get(json_object_get(st, "cpu"), "thr"
									  "ead"
									  "s");

		for (size_t i = 0;
		     i < json_array_size(thr) && m->nthreads < RES_MAX_THREADS;
		     i++) {
			json_t *t = json_array_get(thr, i);

			m->tid[m->nthreads] = (long)runctx_json_number(t, "ti"
									  "d");
			m->thread_us[m->nthreads++] =
				(uint64_t)(runctx_json_number(t, "user_us") +
					   runctx_json_number(t, "sys_us"));
		}
	}
	m->notify_sent = (uint64_t)runctx_json_number(
		json_object_get(json_object_get(st, "presence"), "notify"),
		"sent");
	m->requests = 0;
	req = json_object_get(st, "requests");
	json_object_foreach(req, key, v)
		m->requests += (uint64_t)runctx_json_number(req, key);
	json_decref(st);
	return true;
}

void sampler_loaders_read(struct run *r, struct loader_mark *m)
{
	memset(m, 0, sizeof(*m));
	hist_init(&m->rtt);
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *st, *fig;
		struct hist h;

		if (r->t->nodes[i].role != TOPO_LOADER || !ro->proc)
			continue;
		st = roles_command(r, ro, "stats", NULL, 3000);
		fig = json_object_get(st, "loader");
		m->successes += (uint64_t)runctx_json_number(fig, "successes");
		m->failures += (uint64_t)runctx_json_number(fig, "failures");
		if (hist_from_json(&h, json_object_get(fig, "rtt_us")) == 0) {
			hist_merge(&m->rtt, &h);
			m->have_rtt = true;
		}
		json_decref(st);
	}
}

void sampler_notify_read(struct run *r, struct notify_mark *m)
{
	bool publish = !strcmp(r->t->exp.test, "publish");
	enum topo_role role = publish ? TOPO_CALLHANDLER : TOPO_LOADER;
	const char *where = publish ? "watch" : "loader";
	const char *count = publish ? "bodies_new" : "notifies";
	const char *delay = publish ? "delay_us" : "snd_us";

	m->notifies = 0;
	hist_init(&m->delay);
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *st, *fig, *counts;
		struct hist h;

		if (r->t->nodes[i].role != role || !ro->proc)
			continue;
		st = roles_command(r, ro, "stats", NULL, 3000);
		fig = json_object_get(st, where);
		counts = publish ? fig : json_object_get(fig, "presence");
		m->notifies += (uint64_t)runctx_json_number(counts, count);
		if (hist_from_json(&h, json_object_get(fig, delay)) == 0)
			hist_merge(&m->delay, &h);
		json_decref(st);
	}
}

/* A presence step's NOTIFY figures, between marks a and b. */
void sampler_notify_step(const struct notify_mark *a,
			 const struct notify_mark *b, double secs,
			 struct res_step *st)
{
	struct hist d;

	st->notifies = b->notifies > a->notifies ? b->notifies - a->notifies
						 : 0;
	st->notify_per_s = secs > 0 ? (double)st->notifies / secs : 0;
	st->notify_per_req =
		st->successes ? (double)st->notifies / (double)st->successes
			      : -1;
	st->notify_p50_ms = st->notify_p95_ms = st->notify_p99_ms = -1;
	if (hist_diff(&d, &b->delay, &a->delay) == 0 && d.count) {
		st->notify_p50_ms = (double)hist_quantile(&d, 0.50) / 1000;
		st->notify_p95_ms = (double)hist_quantile(&d, 0.95) / 1000;
		st->notify_p99_ms = (double)hist_quantile(&d, 0.99) / 1000;
	}
}

/* The loaders' transactions still open, or -1 when one did not say. */
long sampler_loaders_in_flight(struct run *r)
{
	long n = 0;

	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *st, *v;

		if (r->t->nodes[i].role != TOPO_LOADER || !ro->proc)
			continue;
		st = roles_command(r, ro, "stats", NULL, 3000);
		v = json_object_get(json_object_get(st, "loader"), "in_"
								   "flight");
		if (!json_is_integer(v)) {
			json_decref(st);
			return -1;
		}
		n += (long)json_integer_value(v);
		json_decref(st);
	}
	return n;
}

/* Requests the proxies have received so far, all of them together. */
uint64_t sampler_proxies_requests(struct run *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct proxy_mark m;

		if ((r->t->nodes[i].role == TOPO_STATEFUL ||
		     r->t->nodes[i].role == TOPO_STATELESS) &&
		    sampler_proxy_read(r, &r->roles[i], &m))
			n += m.requests;
	}
	return n;
}
