/*
 * orchrun.h - what the orchestrator's end-to-end tests (t_run.c,
 * t_run_presence.c, t_loader_conn.c, t_testbed.c) share: the machine
 * they need, a topology fixture run on the local inventory, the bundle
 * it left under results/ and the processes it must not leave behind.
 */
#ifndef SIPSTONE_TEST_ORCHRUN_H
#define SIPSTONE_TEST_ORCHRUN_H

#include <stddef.h>

#include "proc.h"
#include "results.h"

/* Skips the test unless it runs as root with mariadbd installed (the
 * orchestrator starts a managed MariaDB, and sshd for the SSH tests). */
void orchrun_need_root_and_mariadb(void);

/* The local inventory's path (topologies/hosts/local.json); static. */
const char *orchrun_local_hosts(void);

/*
 * orchrun_need_root_and_mariadb(), then tests/data/topo/<name>.json
 * filled (fixture.h; pairs "KEY", "value" ending with NULL) into t.json.
 */
void orchrun_prepare(const char *name, ...) __attribute__((sentinel));

/*
 * Runs argv (proc_run) with its output to run.log, bounded by
 * timeout_ms; shows that output and fails the test unless it exits
 * with want.
 */
void orchrun_expect(const char *const argv[], int want, unsigned timeout_ms);

/*
 * `orchestrator CMD t.json --hosts <local> --results results EXTRA...`
 * (extra: NULL-terminated, may be NULL) through orchrun_expect() with
 * 50 s.
 */
void orchrun_local(const char *cmd, const char *const *extra, int want);

/* The only bundle directory under results/ into dir; fails the test
 * unless there is exactly one. */
void orchrun_bundle_dir(char *dir, size_t size);

/* orchrun_bundle_dir(), then res_load() of it into run (the caller
 * clears it with res_run_clear()). */
void orchrun_load_bundle(struct res_run *run, char *dir, size_t size);

/*
 * Step i of a 2 s-step run: every attempt succeeded (100 %) and its
 * attempts are the step's rate for 2 s, within 5 % (what: "calls",
 * "attempts", ... in the failure message).
 */
void orchrun_assert_full_step(const struct res_step *s, size_t i,
			      const char *what);

/* Every "pid N" that log_name (in the test's directory) names must be
 * gone, and it names at least one. */
void orchrun_assert_no_survivors(const char *log_name);

/*
 * Reads fd into out (size bytes, NUL-terminated, *n bytes already
 * there) until needle is in it (NULL: until the output ends), the
 * output ends, out is full or timeout_ms passed without output.
 * Returns whether needle (or the end) was reached.
 */
bool orchrun_read_until(int fd, char *out, size_t *n, size_t size,
			const char *needle, unsigned timeout_ms);

/*
 * A CPU cgroup of the test's own (v2, or v1's cpu controller) capping
 * what is put into it at frac of a core; its path into dir (the caller
 * puts PIDs in its cgroup.procs and removes it with rmdir).  false when
 * the machine has none.
 */
bool orchrun_cap_cgroup(char *dir, size_t size, double frac);

#endif
