/*
 * run_opts.h - the options of one run, as the command line gives them
 * (runlist.c fills them, run_experiment and its phases read them).
 */
#ifndef SIPSTONE_RUN_OPTS_H
#define SIPSTONE_RUN_OPTS_H

#include <signal.h>
#include <stdbool.h>

struct metrics;

struct run_opts {
	const char *bin_dir;	 /* this machine's programs */
	const char *results_dir; /* bundles go below it */
	const char *schema;	 /* proxy-stateful/schema.sql */
	bool accept_new;	 /* add unknown host keys (never changed) */
	bool keep_db;		 /* leave the run's database */
	bool keep_remote;	 /* leave remote run directories */
	bool deploy_only;	 /* everything but the load steps */
	bool baseline_only;	 /* deploy, the test bed baseline, no steps */
	bool quiet;
	unsigned ready_timeout_ms; /* per role; 0 = 20 s */
	struct metrics *metrics;   /* --metrics: live figures; NULL none */
	/* --repeat: this run is repetition repeat_index (1-based) of
	 * repeat_of; 0 of 0 (or 1 of 1) when not repeated */
	unsigned repeat_index, repeat_of;
	/* Counted by a signal handler (SIGINT, SIGTERM, SIGHUP): 1 tear
	 * down and mark the run aborted; 2 (a second Ctrl-C during the
	 * teardown) end the roles at once, a short best-effort cleanup. */
	volatile sig_atomic_t *interrupted;
};

#endif
