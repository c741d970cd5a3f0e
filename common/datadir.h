/*
 * datadir.h - where the installed shared data is: shipped topologies
 * (topologies/, topologies/hosts/), their JSON Schemas
 * (topologies/schema/), the database schema (schema.sql) and the Grafana
 * dashboard (grafana/).  `make install PREFIX=P` puts them under
 * P/share/sipstone, and the programs are compiled with that directory
 * (DATADIR, default $(PREFIX)/share/sipstone), so an installed program
 * finds them wherever the user stands.
 */
#ifndef SIPSTONE_DATADIR_H
#define SIPSTONE_DATADIR_H

#include <stddef.h>

/*
 * The data directory: $SIPSTONE_DATADIR when set and not empty (tests,
 * an unpacked package), else the compiled-in one.  Never NULL; static
 * storage or the environment's.  It need not exist (a program run from
 * a checkout that was never installed).
 */
const char *datadir_get(void);

/*
 * Writes "<data directory>/<rel>" to out (rel is relative, e.g.
 * "topologies/s2p2.json").  Returns 0, or ENAMETOOLONG (out untouched
 * but for a NUL at [0]) when it does not fit.
 */
int datadir_path(char *out, size_t size, const char *rel);

#endif
