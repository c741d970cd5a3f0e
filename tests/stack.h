/*
 * stack.h - what the end-to-end tests of the agents and proxy-stateful
 * (t_loader.c, t_loader_conn.c, t_presence_agents.c, t_stateful.c,
 * t_presence.c, t_proxy_stateless_sipp.c) share: sipp, proxy-stateful's
 * users file, starting a role up to its ready event, and running the
 * loader to its summary.
 */
#ifndef SIPSTONE_TEST_STACK_H
#define SIPSTONE_TEST_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proc.h"

/* Skips the test unless sipp (Debian's sip-tester) is installed. */
void stack_need_sipp(void);

/*
 * Writes users.txt (proxy-stateful --users-file) in the test's
 * directory: A1000..A1009 of realm example.com, password "pw-<user>".
 */
void stack_write_users(void);

/*
 * The same for the n users named, each with the auth_required flag
 * given (0 or 1).
 */
void stack_write_users_named(const char *const *names, size_t n,
			     int auth_required);

/*
 * Starts proxy-stateful as p on UDP and TCP 127.0.0.1:port, domain
 * example.com, one worker, --control (and --presence when presence),
 * then the NULL-terminated extra options (may be NULL; at most 28), up
 * to its ready event (stack_start_ready()).
 */
void stack_start_stateful(struct proc *p, uint16_t port, bool presence,
			  const char *const *extra);

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
