/*
 * stack.h - the proxy-stateful and callhandler stack that the loader's
 * end-to-end tests (t_loader.c, t_loader_conn.c) run it through: the
 * proxy's users file, and starting a role up to its ready event.
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

#endif
