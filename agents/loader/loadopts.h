/*
 * loadopts.h - the loader's command line: every option (and, through
 * common/argcfg, every key of --config FILE.json) into the run
 * configuration (loadcfg.h), the schedule (loadstepper.h) and the
 * output choices, with the checks of values and combinations.  A bad
 * option or combination is said in one line on stderr (exit status 2).
 */
#ifndef LOADER_LOADOPTS_H
#define LOADER_LOADOPTS_H

#include <stdbool.h>
#include <stdio.h>

#include "loadcfg.h"
#include "loadstepper.h"

struct loadopts {
	struct loadcfg cfg;
	struct loadstepper_cfg sched; /* --ramp, --search */
	double duration;	      /* --duration, s (0: none) */
	bool control;		      /* --control: the orchestrator's */
	bool json;		      /* --json: the summary as JSON */
	int log_level; /* --log-level: an enum log_level; -1: not given */
	/* borrowed from argv: --passwords FILE, --csv FILE, or NULL */
	const char *pwfile, *csv;
};

/* loadopts_parse(): --help or --version was given, the usage or the
 * version went to stdout (exit 0). */
#define LOADOPTS_HELP (-1)

/*
 * Parses argv (argv[0] names the program in messages) into *o, which
 * it first fills with the defaults (threads: the CPUs online).  Returns
 * 0, 2 (a bad option, value or combination, said on stderr) or
 * LOADOPTS_HELP.  The strings of o point into argv.
 */
int loadopts_parse(struct loadopts *o, int argc, char **argv);

/* The usage text, argv0 the program's name. */
void loadopts_usage(FILE *f, const char *argv0);

#endif
