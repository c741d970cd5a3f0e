#include "interfere.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "roles.h"
#include "rundb.h"

/* The machine called id in m, added (with hosts empty) when new; NULL
 * when m is full. */
static struct interfere_machine *machine_of(struct interfere_mark *m,
					    const char *id, bool *added)
{
	*added = false;
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->mach[i].id, id))
			return &m->mach[i];
	if (m->n == INTERFERE_MAX_MACHINES)
		return NULL;
	memset(&m->mach[m->n], 0, sizeof(m->mach[m->n]));
	snprintf(m->mach[m->n].id, sizeof(m->mach[m->n].id), "%s", id);
	*added = true;
	return &m->mach[m->n++];
}

/* Adds host to the machine's list unless it is there. */
static void host_add(struct interfere_machine *mc, const char *host)
{
	size_t len = strlen(mc->hosts), hl = strlen(host);
	const char *p = mc->hosts;

	while ((p = strstr(p, host))) {
		if ((p == mc->hosts || p[-1] == ' ') &&
		    (p[hl] == ' ' || !p[hl]))
			return;
		p += hl;
	}
	snprintf(mc->hosts + len, sizeof(mc->hosts) - len, "%s%s",
		 len ? " " : "", host);
}

/* A role's own CPU from its stats (exact nanoseconds when given). */
static uint64_t role_cpu_us(json_t *st)
{
	json_t *cpu = json_object_get(st, "cpu");

	if (json_object_get(cpu, "total_ns"))
		return (uint64_t)(runctx_json_number(cpu, "total_ns") / 1000);
	return (uint64_t)(runctx_json_number(cpu, "user_us") +
			  runctx_json_number(cpu, "sys_us"));
}

/* This machine: the orchestrator itself and the managed database when
 * it runs here are ours. */
static void mark_here(struct run *r, struct interfere_mark *m)
{
	struct interfere_machine *mc;
	struct procstat_machine pm;
	char id[MACHJSON_ID_MAX];
	pid_t pids[2];
	size_t n = 0;
	uint64_t us = 0;
	bool added;

	if (machjson_boot_id(id, sizeof(id)) || procstat_machine_read(&pm))
		return;
	mc = machine_of(m, id, &added);
	if (!mc)
		return;
	if (added)
		mc->m = pm;
	host_add(mc, "orchestrator");
	pids[n++] = getpid();
	if (r->dbsrv && rundb_server_is_local(r->dbsrv) &&
	    rundb_server_pid(r->dbsrv) > 0)
		pids[n++] = (pid_t)rundb_server_pid(r->dbsrv);
	if (procstat_pids_cpu_us(pids, n, &us, NULL) == 0)
		mc->ours_us += us;
}

void interfere_mark(struct run *r, struct interfere_mark *m)
{
	m->n = 0;
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		struct interfere_machine *mc;
		struct procstat_machine pm;
		char id[MACHJSON_ID_MAX];
		json_t *st;
		bool added;

		if (!ro->proc)
			continue;
		st = roles_command(r, ro, "stats", NULL, 3000);
		if (!st)
			continue;
		if (machjson_parse(json_object_get(st, "machine"), &pm, id,
				   sizeof(id)) == 0 &&
		    (mc = machine_of(m, id, &added))) {
			/* The first role of a machine reads it for all. */
			if (added)
				mc->m = pm;
			mc->ours_us += role_cpu_us(st);
			host_add(mc, r->t->nodes[i].host);
		}
		json_decref(st);
	}
	mark_here(r, m);
}

int interfere_machine_share(const struct interfere_mark *a,
			    const struct interfere_machine *b,
			    struct procstat_share *out)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct interfere_machine *ma = &a->mach[i];
		struct procstat_machine x = ma->m, y = b->m;

		if (strcmp(ma->id, b->id))
			continue;
		/* Read by a role, whose clock is not ours: the shares need
		 * only an order, which the counters' sums give. */
		x.t_ns = 1;
		y.t_ns = 2;
		return procstat_machine_share(
			&x, &y,
			b->ours_us > ma->ours_us ? b->ours_us - ma->ours_us
						 : 0,
			out);
	}
	return ENOENT;
}

int interfere_step(const struct interfere_mark *a,
		   const struct interfere_mark *b, double max_share,
		   struct res_step *st)
{
	double worst = -1;
	int at = -1;

	st->mach_busy = st->mach_steal = st->mach_iowait = -1;
	st->mach_others = -1;
	st->interfered = false;
	for (size_t i = 0; i < b->n; i++) {
		struct procstat_share sh;
		double other;

		if (interfere_machine_share(a, &b->mach[i], &sh))
			continue;
		other = (sh.others > 0 ? sh.others : 0) + sh.steal;
		if (other <= worst)
			continue;
		worst = other;
		at = (int)i;
		st->mach_busy = sh.busy;
		st->mach_steal = sh.steal;
		st->mach_iowait = sh.iowait;
		st->mach_others = sh.others > 0 ? sh.others : 0;
	}
	st->interfered = at >= 0 && worst > max_share;
	snprintf(st->mach_hosts, sizeof(st->mach_hosts), "%s",
		 at >= 0 ? b->mach[at].hosts : "");
	return at;
}
