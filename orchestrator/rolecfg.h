/*
 * rolecfg.h - what each role is told: its configuration file, the
 * role's own long flags as JSON keys, made from the topology, the
 * inventory and the run (addresses, users, database account,
 * certificates), written mode 0600 to the work directory and put on
 * the role's host.
 */
#ifndef SIPSTONE_ROLECFG_H
#define SIPSTONE_ROLECFG_H

#include <stddef.h>

#include "runctx.h"

/*
 * Writes node n's configuration and puts it on its host; its path
 * there goes to path.  test, when not NULL, replaces a loader's test
 * (and drops the settings of the topology's own test).  Returns 0 or a
 * positive errno, the run marked failed.
 */
int rolecfg_write(struct run *r, const struct topo_node *n, const char *test,
		  char *path, size_t size);

#endif
