/*
 * topo_sipstone.h - the experiment settings of SIPstone's workloads
 * (docs/topology.md): the call model ("hold": fixed or exponential
 * holding times, "arrivals": uniform or Poisson), the named profiles of
 * a "mix" ("profile": "residential", "callcentre"), and the tests of
 * "test": "sipstone" with their weights in the composite SIPstone-A
 * ("sipstone_weights").
 */
#ifndef SIPSTONE_TOPO_SIPSTONE_H
#define SIPSTONE_TOPO_SIPSTONE_H

#include <jansson.h>
#include <stdbool.h>

#include "topo.h"
#include "topo_reader.h"

/* The tests "sipstone" measures in turn, as the composite names them
 * ("register", "proxy200", "redirect", "proxy480"), and the loader's
 * test for each ("register", "invite", "redirect", "proxy480"). */
extern const char *const topo_sipstone_names[TOPO_SIPSTONE_TESTS + 1];
extern const char *const topo_sipstone_loader_tests[TOPO_SIPSTONE_TESTS];

/*
 * Reads "hold", "arrivals", "profile" and "sipstone_weights" of the
 * experiment obj into e (after "test" and "hold_ms"), every mistake
 * added to c.  A profile sets e->mix; the defaults are fixed holds,
 * uniform arrivals, no profile, equal weights.
 */
void topo_sipstone_parse(struct topo_reader *c, json_t *obj,
			 struct topo_experiment *e);

/* A mix profile's weights into mix (TOPO_MIX_KINDS, by
 * topo_mix_kinds).  Returns false for an unknown name. */
bool topo_sipstone_profile(const char *name, unsigned mix[TOPO_MIX_KINDS]);

/* Whether test (a loader's) is an INVITE test: invite, redirect,
 * proxy480, proxy486. */
bool topo_is_call_test(const char *test);

#endif
