#include "bedcpu.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sampler.h"

void bedcpu_mark(struct run *r, struct bedcpu_mark *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < r->t->nnodes && m->n < BEDCPU_MAX; i++) {
		struct proxy_mark pm;
		size_t k = m->n;

		if (r->t->nodes[i].role != TOPO_CALLHANDLER ||
		    !r->roles[i].proc)
			continue;
		m->node[k] = i;
		/* the "stats" every role answers: its CPU counters */
		m->ok[k] = sampler_proxy_read(r, &r->roles[i], &pm);
		m->cpu_us[k] = pm.cpu_us;
		m->t_ms[k] = pm.t_ms;
		m->n++;
	}
}

/* The cores node i can use: its threads (0: one per core), at most its
 * host's cores (preflight; this machine's when unknown). */
static double usable_cores(const struct run *r, size_t i)
{
	const struct topo_node *n = &r->t->nodes[i];
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	double cores = online > 0 ? (double)online : 1;

	for (size_t h = 0; h < r->npf; h++)
		if (!strcmp(r->pf[h].name, n->host) && r->pf[h].cores)
			cores = r->pf[h].cores;
	return n->workers && n->workers < cores ? n->workers : cores;
}

bool bedcpu_bound(const struct run *r, const struct bedcpu_mark *a,
		  const struct bedcpu_mark *b, char *why, size_t whysz)
{
	for (size_t k = 0; k < a->n && k < b->n; k++) {
		double secs, used, cores;

		if (!a->ok[k] || !b->ok[k] || a->node[k] != b->node[k] ||
		    b->t_ms[k] <= a->t_ms[k] || b->cpu_us[k] < a->cpu_us[k])
			continue;
		secs = (double)(b->t_ms[k] - a->t_ms[k]) / 1000;
		used = (double)(b->cpu_us[k] - a->cpu_us[k]) / 1e6 / secs;
		cores = usable_cores(r, a->node[k]);
		if (used > BEDCPU_BOUND_SHARE * cores) {
			snprintf(why, whysz,
				 "callhandler %s at %.0f %% of its %.0f "
				 "core%s",
				 r->t->nodes[a->node[k]].name,
				 100 * used / cores, cores,
				 cores > 1 ? "s" : "");
			return true;
		}
	}
	return false;
}
