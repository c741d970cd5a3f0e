/*
 * stateful.h - the stateful proxy server: N worker threads, each with its
 * own event loop, transports and transaction layer, sharing the
 * location table, the user table and the digest verifier.
 *
 * Each worker listens on every --listen address with SO_REUSEPORT (the
 * kernel spreads datagrams and connections) and owns a second, private
 * UDP socket from which it forwards requests: that port is in the Via
 * it adds, so downstream responses come back to the worker that owns
 * the client transaction (STYLE.md "Event loop and cores").
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

/* Adds every counter to a stats object (any thread). */
void stateful_stats(struct stateful *sp, json_t *stats);

#endif
