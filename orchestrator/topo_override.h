/*
 * topo_override.h - one experiment setting of a loaded topology changed
 * from the command line (`orchestrator run --users 100 ...`).
 */
#ifndef SIPSTONE_TOPO_OVERRIDE_H
#define SIPSTONE_TOPO_OVERRIDE_H

#include <stddef.h>

struct topo;

/*
 * Overrides one experiment setting from the command line: key is one of
 * test, transport, connection, auth (true|false), preload-credentials
 * (true|false), users (a count), rate (START:STEP:FINAL), step-s,
 * warmup-s, ta-limit-ms, success-percent, search, threshold-ms,
 * granularity, baseline-s, hold-ms, and topo_override_extra.h's
 * (presence settings, the users' prefix and first number).  The result is checked as the file
 * would be (every node on the path listens on the transport, a
 * challenging proxy needs auth, ...) and written into t->json's
 * "experiment", so that the bundle records the settings the run had.
 * Returns 0, or EINVAL with why saying what is wrong.
 */
int topo_override(struct topo *t, const char *key, const char *value,
		  char *why, size_t whysz);

#endif
