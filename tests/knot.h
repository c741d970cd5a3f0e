/*
 * knot.h - a private authoritative DNS server (Knot DNS) for tests:
 * configuration, zone, database and control socket in the test's
 * directory, UDP and TCP on a free port of 127.0.0.1, stopped by its
 * PID.  The zone is tests/data/dns/sipstone.test.zone.in with its
 * @NAME@ placeholders filled.
 */
#ifndef SIPSTONE_TEST_KNOT_H
#define SIPSTONE_TEST_KNOT_H

#include <stdbool.h>
#include <stdint.h>

#include "proc.h"

struct knot {
	struct proc server;
	uint16_t port;
	char dir[300];
	char sock[320];
	char servers[32]; /* "127.0.0.1:PORT", for sip_resolve_opts */
};

/* Whether knotd and knotc are installed (else skip, naming them). */
bool knot_available(void);

/*
 * Writes the configuration and the zone (vars: NAME, VALUE pairs, NULL
 * ended, for @NAME@), starts knotd and waits (bounded, 5 s) until it
 * answers for the zone.  Fails the test when it cannot.
 */
void knot_start(struct knot *k, const char *const *vars);

/* Writes the zone again with vars and reloads it (knotc, blocking). */
void knot_reload(struct knot *k, const char *const *vars);

/* Stops knotd by its PID (SIGTERM, bounded wait, then SIGKILL). */
void knot_stop(struct knot *k);

#endif
