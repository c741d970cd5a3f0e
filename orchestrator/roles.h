/*
 * roles.h - the roles' processes and their control channel: start a
 * node's program with its config (rolecfg.h) and wait until it says
 * "ready", send it commands and read its JSON lines, notice one that
 * died, stop each (its "summary" saved to the bundle's logs/).  The
 * struct role (runctx.h) of each started node is owned by the run.
 */
#ifndef SIPSTONE_ROLES_H
#define SIPSTONE_ROLES_H

#include <jansson.h>

#include "runctx.h"

/* Starts node n as ro and waits for its "ready"; test, when given,
 * replaces a loader's test.  0, EINTR, or another errno with the run
 * marked failed. */
int roles_start_as(struct run *r, struct role *ro, const struct topo_node *n,
		   const char *test);

/* Starts every role in order (stateful, stateless, callhandlers,
 * loaders; no loader with --deploy-only) and waits until the
 * callhandlers have registered their users (publish: subscribed their
 * watchers). */
int roles_start_all(struct run *r);

/* Waits up to timeout_ms for event from ro; the event's JSON (caller
 * decrefs) or NULL.  A "summary" passing by is kept in ro->summary. */
json_t *roles_wait_event(struct run *r, struct role *ro, const char *event,
			 unsigned timeout_ms);

/* Sends command cmd (args merged in, not stolen) and waits for its
 * reply: the reply (caller decrefs) or NULL on timeout or a closed
 * channel. */
json_t *roles_command(struct run *r, struct role *ro, const char *cmd,
		      json_t *args, unsigned timeout_ms);

/* 0 while every role runs; EPIPE, the run failed with the dead role's
 * last log line, when one ended. */
int roles_check_alive(struct run *r);

/* Stops ro: "stop", then SIGTERM, then SIGKILL; its summary written to
 * the bundle's logs/.  Nothing when it never started. */
void roles_stop(struct run *r, struct role *ro);

/* Stops every started role, the loaders first. */
void roles_stop_all(struct run *r);

/* Stops the loaders only (each drains its transactions first). */
void roles_stop_loaders(struct run *r);

#endif
