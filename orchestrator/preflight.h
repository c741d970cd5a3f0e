/*
 * preflight.h - before anything is touched, every host the topology uses
 * is checked in parallel: reachable, host key known, login works, same
 * architecture as the binaries, the ports its roles need are free, the
 * database server is installed where a managed one must start, clock
 * offset, open-file limit.  Each problem says the host, what, and how to
 * fix it.  What it learns (CPU, cores, memory, kernel) goes into the
 * result bundle's host inventory.
 */
#ifndef SIPSTONE_PREFLIGHT_H
#define SIPSTONE_PREFLIGHT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "topo.h"

#define PREFLIGHT_MAX_NOTES 16

struct preflight_host {
	char name[TOPO_NAME_MAX];
	char address[64];
	bool local;
	bool ok; /* no problems (warnings allowed) */
	char arch[32], kernel[96], cpu[128];
	unsigned cores;
	unsigned long mem_mb;
	long nofile;
	double clock_offset_ms;
	double clock_rtt_ms;	  /* the offset's error is at most half */
	unsigned clock_exchanges; /* 0: estimated from the probe alone */
	bool clock_biases_delays; /* clocksync.h */
	char problems[PREFLIGHT_MAX_NOTES][320];
	size_t nproblems;
	char warnings[PREFLIGHT_MAX_NOTES][320];
	size_t nwarnings;
};

/*
 * Checks every host the topology uses (nodes and the database host).
 * Returns 0 with *hosts (caller frees) and *n; the run may go on only if
 * every host's ok is set.  ENOMEM otherwise.
 */
int preflight_run(const struct topo *t, const struct inventory *inv,
		  bool accept_new, struct preflight_host **hosts, size_t *n);

/* The hosts as JSON for the bundle (no secrets). */
json_t *preflight_json(const struct preflight_host *hosts, size_t n);

#endif
