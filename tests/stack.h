/*
 * stack.h - what the loader's end-to-end tests (t_loader.c,
 * t_loader_conn.c, t_presence_agents.c) share: proxy-stateful's users
 * file, starting a role up to its ready event, and running the loader
 * to its summary.
 */
#ifndef SIPSTONE_TEST_STACK_H
#define SIPSTONE_TEST_STACK_H

#include <jansson.h>

#include "proc.h"

/*
 * Writes users.txt (proxy-stateful --users-file) in the test's
 * directory: A1000..A1009 of realm example.com, password "pw-<user>".
 */
void stack_write_users(void);

/*
 * Starts argv as p and waits (15 s) for its event ("ready",
 * "registered"); fails the test, with its log, without it.
 */
void stack_start_ready(struct proc *p, const char *const *argv,
		       const char *event);

/* Its "stats" reply (new reference); fails the test without one. */
json_t *stack_stats(struct proc *p);

/*
 * Runs bin/loader (argv) to its end; its --json summary (new
 * reference).  Fails the test, with the loader's log and summary, when
 * there is none within timeout_ms or it exits other than want_rc.
 */
json_t *stack_loader_json(const char *const *argv, int want_rc,
			  unsigned timeout_ms);

#endif
