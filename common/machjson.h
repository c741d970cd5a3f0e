/*
 * machjson.h - the machine a role runs on, for the "machine" object of
 * every role's stats (ctl.c) and the orchestrator that reads it back
 * (interfere.c): which machine (its boot id: roles on namespace hosts
 * of one kernel share it, and /proc/stat) and its cumulative CPU
 * counters (procstat_machine).  Two readings give the shares of the
 * machine that were busy, stolen by the hypervisor, waiting for I/O.
 */
#ifndef SIPSTONE_MACHJSON_H
#define SIPSTONE_MACHJSON_H

#include <jansson.h>
#include <stddef.h>

#include "procstat.h"

#define MACHJSON_ID_MAX 40

/*
 * {"id": boot id, "ncpu", "user_us", "nice_us", "system_us", "idle_us",
 * "iowait_us", "irq_us", "softirq_us", "steal_us"} read now: a new
 * reference, or NULL when /proc/stat cannot be read or out of memory.
 */
json_t *machjson_read(void);

/*
 * The reverse: m (t_ns left 0) and id (NUL-terminated, at most
 * MACHJSON_ID_MAX - 1 characters) from such an object.  Returns 0, or
 * EBADMSG when a counter is missing or not an integer >= 0, or the id
 * is missing or too long; out-params are written only on success.
 */
int machjson_parse(json_t *o, struct procstat_machine *m, char *id,
		   size_t idsz);

/* This machine's boot id into id (idsz >= MACHJSON_ID_MAX): 0 or an
 * errno of reading /proc/sys/kernel/random/boot_id. */
int machjson_boot_id(char *id, size_t idsz);

#endif
