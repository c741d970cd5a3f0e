/*
 * runlist.h - `orchestrator run` and `orchestrator baseline`: the
 * options, the list of runs they make (every topology file with every
 * combination of the settings given as lists, --users 100,10000), each
 * run checked before the first starts, then run one after another,
 * each bundle uploaded when asked, and their comparison.
 */
#ifndef SIPSTONE_RUNLIST_H
#define SIPSTONE_RUNLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "run.h"
#include "topo.h"
#include "upload.h"

/* One command, one experiment: bounded so that a typo cannot queue
 * days. */
#define RUNLIST_MAX_RUNS 64
#define RUNLIST_MAX_VALUES 16
#define RUNLIST_MAX_SETTINGS 32

/* An experiment setting given on the command line, split on commas. */
struct runlist_setting {
	const char *key; /* the option's name: "users" */
	const char *arg; /* as given: "100,10000" */
	char *copy;
	const char *item[RUNLIST_MAX_VALUES];
	size_t n;
};

struct runlist {
	char bin[900], root[900], schema[1000], results[1000];
	const char *hosts; /* --hosts INVENTORY.json */
	char **files;	   /* the topology files (argv's) */
	size_t nfiles;
	struct runlist_setting set[RUNLIST_MAX_SETTINGS];
	size_t nset;
	size_t configs;	       /* files times every list */
	unsigned repeat;       /* --repeat N; 0: the files' "repeat" */
	unsigned repeats;      /* the repetitions of each configuration */
	size_t total;	       /* runs: configs times repeats */
	struct run_opts o;     /* o.bin_dir etc. point into this struct */
	struct upload_opts uo; /* uo.url NULL: no upload */
	struct inventory *inv; /* runlist_check's, owned */
	/* The files found by name (locate.h), owned; files[i] points to
	 * located[i] when set. */
	char hosts_path[1000];
	const char *metrics_addr; /* --metrics HOST:PORT, NULL: none */
	char *located[RUNLIST_MAX_RUNS];
};

/* Reads the options of run (baseline_only: of baseline) into *rl.
 * 0, or COMMANDS_BAD_USAGE with the reason on stderr; runlist_free
 * afterwards either way. */
int runlist_parse(struct runlist *rl, int argc, char **argv,
		  bool baseline_only);

/* Loads the inventory and checks every run of the list (each file's
 * mistakes and every value) before any starts: 0 or COMMANDS_BAD_USAGE
 * (said on stderr). */
int runlist_check(struct runlist *rl);

/* Runs the list, uploads and compares: 0 when every run completed,
 * 1 otherwise. */
int runlist_execute(struct runlist *rl);

/* Frees what rl owns (not rl). */
void runlist_free(struct runlist *rl);

/* The whole command: parse, check, execute.  The exit status. */
int runlist_command(int argc, char **argv, bool baseline_only);

#endif
