/*
 * loadrun.h - one run of the loader as its options say: a fixed-rate
 * test (--rate --duration) with its summary, a schedule (--ramp,
 * --search: loadstepper.h) with its per-step table, or the
 * orchestrator's JSON-lines control channel on stdin/stdout (--control,
 * docs/agents.md); per-second CSV rows and a live line on a terminal
 * all along.  SIGINT/SIGTERM end it early, with the figures so far.
 */
#ifndef LOADER_LOADRUN_H
#define LOADER_LOADRUN_H

#include "loadopts.h"

/*
 * Runs the loader configured by o (borrowed for the call; me, argv[0],
 * names it in messages).  Returns the exit status: 0 (every attempt
 * succeeded; a schedule found its answer; control mode ended), 1
 * (failures, or an error said in the log), 2 (an unreadable
 * --passwords or --csv file, said on stderr).
 */
int loadrun_exec(const struct loadopts *o, const char *me);

#endif
