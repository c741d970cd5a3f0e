#include "metrics_feed.h"

#include <stdbool.h>

#include "metrics.h"
#include "sampler.h"

void metrics_feed_begin(const struct run *r)
{
	const char *names[METRICS_MAX_ROLES], *hosts[METRICS_MAX_ROLES];
	size_t n = 0;

	if (!r->o->metrics)
		return;
	for (size_t i = 0; i < r->t->nnodes && n < METRICS_MAX_ROLES; i++) {
		names[n] = r->t->nodes[i].name;
		hosts[n++] = r->t->nodes[i].host;
	}
	metrics_run_begin(r->o->metrics, names, hosts, n);
}

/* Whether node i is one of the proxies (k: which). */
static bool is_proxy(const size_t *pidx, size_t np, size_t i, size_t *k)
{
	for (*k = 0; *k < np; (*k)++)
		if (pidx[*k] == i)
			return true;
	return false;
}

void metrics_feed_second(struct run *r, const size_t *pidx,
			 const struct proxy_mark *marks, size_t np,
			 const struct res_sample *smp, uint64_t ok,
			 uint64_t bad, const struct hist *rtt_us)
{
	struct metrics *m = r->o->metrics;

	if (!m)
		return;
	metrics_second(m, smp->step, smp->offered, ok, bad, rtt_us);
	for (size_t i = 0; i < r->t->nnodes && i < METRICS_MAX_ROLES; i++) {
		struct proxy_mark mark;
		size_t k;

		if (is_proxy(pidx, np, i, &k)) {
			/* The stepper's own reading of this second. */
			mark = marks[k];
		} else if (!r->roles[i].proc || r->roles[i].to_fd < 0 ||
			   !sampler_proxy_read(r, &r->roles[i], &mark)) {
			continue;
		}
		metrics_role_mark(m, i, mark.cpu_us, mark.t_ms,
				  mark.rss_mb * 1024 * 1024);
	}
}
