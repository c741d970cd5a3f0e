/*
 * cleanup.h - `orchestrator cleanup --hosts INVENTORY.json [--dry-run]`:
 * finds what earlier runs left behind (a killed orchestrator, a lost
 * terminal) on this machine and on every host of the inventory, lists
 * it, then removes it: the run directories (workdir.h names, with the
 * keys, configs and the managed MariaDB's files in them) and every
 * process started from one of them (roles, a managed mariadbd, whose
 * run's database and accounts live in its data directory and go with
 * it), and, on the database server of each topology given whose
 * database is not managed, the per-run databases and accounts
 * (rundb_leftovers).  A run still in progress (its local work directory's lock is
 * held) is left alone, and so are its remote directories.
 */
#ifndef SIPSTONE_CLEANUP_H
#define SIPSTONE_CLEANUP_H

#include <stddef.h>

/* The command (argv[0] = "cleanup").  0 nothing left, 1 something
 * could not be removed or a host not reached, 2 bad usage. */
int cleanup_command(int argc, char **argv);

/* How many local work directories of runs no longer alive are in
 * workdir_base() (what `run` warns about at start). */
size_t cleanup_count_local(void);

#endif
