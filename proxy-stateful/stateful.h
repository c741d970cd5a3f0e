/*
 * stateful.h - proxy-stateful as a whole: N worker threads
 * (stateful_worker.h), each with its own event loop, transports and
 * transaction layer, sharing the location table, the user table, the
 * digest verifier, the database queue (dbqueue.h) and the presence
 * agent (presence.h).  What main.c and the control channel use.
 */
#ifndef SIPSTONE_STATEFUL_H
#define SIPSTONE_STATEFUL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stateful_cfg.h"

struct stateful;

/*
 * Loads users and bindings, binds every listener and starts the
 * workers.  Returns 0 or an errno (logged).  Free with stateful_free(),
 * which stops the workers, flushes the database (write-back) and frees.
 */
int stateful_start(struct stateful **spp, const struct stateful_cfg *cfg);
void stateful_free(struct stateful *sp);

/* The bound listen addresses as "udp:127.0.0.1:5060" strings. */
json_t *stateful_listen_json(const struct stateful *sp);

/* Redirect server on or off (any thread; the workers see it at their
 * next INVITE). */
void stateful_set_redirect(struct stateful *sp, bool on);

/* Whether it is on. */
bool stateful_redirect(const struct stateful *sp);

/* Adds every counter to a stats object (any thread). */
void stateful_stats(struct stateful *sp, json_t *stats);

#endif
