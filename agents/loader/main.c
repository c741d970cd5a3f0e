/*
 * loader: the UAC load generator.  Parses options, then either runs a
 * fixed-rate test and prints a summary (CLI) or obeys JSON-lines
 * commands on stdin (--control, docs/agents.md).  The options are
 * loadopts.c's, the run loadrun.c's.
 */
#include <malloc.h>
#include <stdio.h>

#include "argcfg.h"
#include "loadopts.h"
#include "loadrun.h"
#define LOG_MODULE "loader"
#include "log.h"
#include "version.h"

/* The command line with --config expanded (see argcfg.h). */
static char **volatile config_argv;

int main(int argc, char **argv)
{
	static struct loadopts opts;
	char why[600];
	int xargc, err;
	char **xargv;

	/* --config FILE.json: its keys are these flags' names. */
	if (argcfg_expand(argc, argv, &xargc, &xargv, why, sizeof(why))) {
		fprintf(stderr, "%s: %s\n", argv[0], why);
		return 2;
	}
	/* Kept for the process's life, reachable from a static so that
	 * leak checkers do not count it. */
	config_argv = xargv;
	err = loadopts_parse(&opts, xargc, xargv);
	if (err == LOADOPTS_HELP)
		return 0;
	if (err)
		return err;
	if (opts.log_level >= 0)
		log_set_level((enum log_level)opts.log_level);
	log_info("loader %s", version_string());
	/*
	 * Transactions come and go by the thousand per second and live
	 * for Timer K: the heap grows for seconds and then turns over.
	 * The threads' own arenas grow a page per mprotect (5% of the CPU
	 * in a 10 s run); one arena grows by M_TOP_PAD per brk, and keeps
	 * what is freed instead of trimming and growing again.  The
	 * threads' caches (tcache) keep the shared arena's lock rare.
	 */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_TOP_PAD, 64 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
	return loadrun_exec(&opts, xargv[0]);
}
