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

#include <stddef.h>

#include "run_opts.h"
#include "topo.h"

/*
 * Runs the experiment.  Returns 0 when it completed, EINTR when it was
 * interrupted, another errno when it failed; in every case the bundle
 * directory (when one could be made) is written to bundle.
 */
int run_experiment(const struct topo *t, const struct inventory *inv,
		   const struct run_opts *o, char *bundle, size_t size);

#endif
