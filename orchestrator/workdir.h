/*
 * workdir.h - the run's directories under /tmp, made fresh and private:
 * a name nobody can guess ahead (mkdtemp locally; remotely a random
 * name made with an exclusive mkdir -m 700 and checked to be ours and
 * not a symlink), so that a directory or symlink planted by another
 * user is never reused or followed (the orchestrator runs as root).
 * Failing to make one is an error, never a fallback.
 *
 * Both live in workdir_base() ("/tmp", or $SIPSTONE_TMPDIR) and are
 * named so that `orchestrator cleanup` (cleanup.h) finds them: local
 * "sipstone-work-<id>-XXXXXX", remote "sipstone-<id>-<16 hex digits>".
 * A running orchestrator holds an exclusive flock(2) on its local work
 * directory's WORKDIR_LOCK, which tells cleanup that the run is alive.
 */
#ifndef SIPSTONE_WORKDIR_H
#define SIPSTONE_WORKDIR_H

#include <stddef.h>

#include "host.h"

#define WORKDIR_LOCK ".alive"
/* In the local work directory: the run's database and account names,
 * one a line (cleanup spares them while the run is alive). */
#define WORKDIR_DB_FILE "rundb.live"

/* "/tmp", or $SIPSTONE_TMPDIR when it is an absolute path of safe
 * characters (tests keep their leftovers apart with it). */
const char *workdir_base(void);

/* Makes dir/WORKDIR_LOCK and locks it (LOCK_EX) for as long as the
 * returned descriptor is open (close-on-exec); -1 with errno. */
int workdir_lock(const char *dir);

/*
 * Makes "<base>/sipstone-work-<id>-XXXXXX" (mode 700) locally; its path
 * into out.  0 or the errno of mkdtemp (ENAMETOOLONG when out is short).
 */
int workdir_local_create(const char *id, char *out, size_t size);

/* A fresh remote name "<base>/sipstone-<id>-<16 random hex digits>"
 * into out (the same on every host of a run); 0 or ENAMETOOLONG. */
int workdir_remote_name(const char *id, char *out, size_t size);

/*
 * Makes dir on host h, mode 700, owned by the user we log in as (or
 * finds it so, made by another host of the run sharing this /tmp).  0,
 * EEXIST when it cannot be made, EACCES when what is there is not a
 * directory of ours with mode 700 (a symlink, another owner), or the
 * host_run errno; why says which.
 */
int workdir_remote_create(struct host *h, const char *dir, char *why,
			  size_t whysz);

/* Removes dir and what it holds without following symlinks; 0 or errno. */
int workdir_local_remove(const char *dir);

/* `rm -rf -- DIR` on h (dir quoted); 0, or the error of the command. */
int workdir_remote_remove(struct host *h, const char *dir);

/* Fills out with 2 * nbytes random hex digits (nbytes <= 32). */
void workdir_random_hex(char *out, size_t nbytes);

#endif
