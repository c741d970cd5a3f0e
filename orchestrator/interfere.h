/*
 * interfere.h - what else ran on the machines during a step (issue 13:
 * a noisy run must look noisy).  A mark reads every role's "stats":
 * the machine it runs on (its boot id and /proc/stat, common/machjson.h)
 * and the role's own CPU; roles of one machine (namespace hosts share a
 * kernel) are grouped by boot id.  The orchestrator's machine is read
 * here too, with the orchestrator's own CPU and the managed database's
 * when it runs on this machine.  Two marks give each machine's busy,
 * steal and iowait shares and "others": busy less our processes, the
 * work that is not the experiment's.
 */
#ifndef SIPSTONE_INTERFERE_H
#define SIPSTONE_INTERFERE_H

#include <stddef.h>
#include <stdint.h>

#include "machjson.h"
#include "procstat.h"
#include "results.h"
#include "runctx.h"

#define INTERFERE_MAX_MACHINES 16
#define INTERFERE_HOSTS_MAX 128

struct interfere_machine {
	char id[MACHJSON_ID_MAX];
	char hosts[INTERFERE_HOSTS_MAX]; /* inventory hosts on it, "a b" */
	struct procstat_machine m;
	uint64_t ours_us; /* our processes' CPU on it, cumulative */
};

struct interfere_mark {
	size_t n;
	struct interfere_machine mach[INTERFERE_MAX_MACHINES];
};

/* Takes a mark: every running role's stats (one "stats" command each)
 * and this machine.  Machines that did not answer are left out. */
void interfere_mark(struct run *r, struct interfere_mark *m);

/*
 * One machine's shares between marks a and b (matched by id) into
 * *out: 0, or ENOENT when a lacks it, or EINVAL as
 * procstat_machine_share() says.
 */
int interfere_machine_share(const struct interfere_mark *a,
			    const struct interfere_machine *b,
			    struct procstat_share *out);

/*
 * The step's figures between marks a and b into st: the machine whose
 * other work (others + steal) was the largest share, and interfered
 * when that is over max_share.  With no machine in both marks, the
 * figures are -1 and the step not interfered.  Returns that machine's
 * index in b, or -1.
 */
int interfere_step(const struct interfere_mark *a,
		   const struct interfere_mark *b, double max_share,
		   struct res_step *st);

#endif
