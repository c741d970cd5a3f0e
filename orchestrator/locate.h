/*
 * locate.h - where the orchestrator's files are, for a user who
 * installed it: what it writes goes below the directory the user stands
 * in (never next to the executable), and the shipped topologies and
 * inventories are found by name (docs/topology.md, "Names").
 */
#ifndef SIPSTONE_LOCATE_H
#define SIPSTONE_LOCATE_H

#include <stddef.h>

/* The environment variable naming the results directory. */
#define LOCATE_RESULTS_ENV "SIPSTONE_RESULTS"

enum locate_kind {
	LOCATE_TOPOLOGY,  /* NAME.json, topologies/NAME.json */
	LOCATE_INVENTORY, /* hosts/NAME.json, topologies/hosts/NAME.json */
};

/*
 * The results directory: given (--results DIR) when not NULL, else
 * $SIPSTONE_RESULTS when set and not empty, else "results" (relative:
 * below the current directory).  Never NULL; given, the environment's
 * or static storage.
 */
const char *locate_results_dir(const char *given);

/*
 * The file a user means by arg.  An existing file is itself.  A name
 * without a '/' is then looked for as NAME (".json" added unless it
 * ends so): a topology in the current directory, then in topologies/;
 * an inventory in hosts/, then topologies/hosts/; then in
 * the installed data directory (datadir.h: topologies/,
 * topologies/hosts/).  Returns 0 with the path in out, or ENOENT with
 * every place it looked in why; ENAMETOOLONG when a path does not fit.
 */
int locate_file(enum locate_kind kind, const char *arg, char *out, size_t size,
		char *why, size_t whysz);

#endif
