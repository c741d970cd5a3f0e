/*
 * run.h - one experiment from start to bundle: preflight every host,
 * deploy (binaries, per-role configs, per-run certificates), create the
 * per-run database, start the roles in order (stateful, stateless,
 * callhandlers, loaders) and wait until each says it is ready, run the
 * load steps, then tear everything down (every process ended by its
 * PID, logs fetched, database dropped, remote directories removed) and
 * write the result bundle.  A failure anywhere, or an interrupt, leads
 * to the same teardown; the bundle is written all the same, marked
 * failed or aborted with the reason.
 */
#ifndef SIPSTONE_RUN_H
#define SIPSTONE_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "topo.h"

struct run_opts {
	const char *bin_dir;	 /* this machine's programs */
	const char *results_dir; /* bundles go below it */
	const char *schema;	 /* proxy-stateful/schema.sql */
	bool accept_new;	 /* add unknown host keys (never changed) */
	bool keep_db;		 /* leave the run's database */
	bool keep_remote;	 /* leave remote run directories */
	bool deploy_only;	 /* everything but the load steps */
	bool baseline_only;	 /* deploy, the test bed baseline, no steps */
	bool quiet;
	unsigned ready_timeout_ms; /* per role; 0 = 20 s */
	/* Set by a signal handler: tear down and mark the run aborted. */
	volatile sig_atomic_t *interrupted;
};

/*
 * Runs the experiment.  Returns 0 when it completed, EINTR when it was
 * interrupted, another errno when it failed; in every case the bundle
 * directory (when one could be made) is written to bundle.
 */
int run_experiment(const struct topo *t, const struct inventory *inv,
		   const struct run_opts *o, char *bundle, size_t size);

#endif
