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

#include "topo_reader.h"

/* The tests of "test": "sipstone", and the kinds of a mix (as
 * topo.h's TOPO_MIX_KINDS, in topo_mix_kinds' order). */
#define TOPO_SIPSTONE_TESTS 4
#define TOPO_SIPSTONE_MIX_KINDS 4

/* What topo_sipstone_parse() reads; topo.c copies it into the
 * experiment (struct topo_experiment's fields of the same names). */
struct topo_sipstone_cfg {
	bool hold_set; /* "hold" given: hold_ms, hold_exp */
	unsigned hold_ms;
	bool hold_exp;
	bool poisson;
	char profile[16]; /* "" when none: mix untouched */
	unsigned mix[TOPO_SIPSTONE_MIX_KINDS];
	double weights[TOPO_SIPSTONE_TESTS];
};

/* The tests "sipstone" measures in turn, as the composite names them
 * ("register", "proxy200", "redirect", "proxy480"), and the loader's
 * test for each ("register", "invite", "redirect", "proxy480"). */
extern const char *const topo_sipstone_names[TOPO_SIPSTONE_TESTS + 1];
extern const char *const topo_sipstone_loader_tests[TOPO_SIPSTONE_TESTS];

/*
 * Reads "hold", "arrivals", "profile" and "sipstone_weights" of the
 * experiment obj (of test test) into *out, every mistake added to c.
 * A profile fills out->mix; the defaults are no hold given, uniform
 * arrivals, no profile, equal weights.
 */
void topo_sipstone_parse(struct topo_reader *c, json_t *obj, const char *test,
			 struct topo_sipstone_cfg *out);

/* A mix profile's weights into mix (by topo_mix_kinds).  Returns false
 * for an unknown name. */
bool topo_sipstone_profile(const char *name,
			   unsigned mix[TOPO_SIPSTONE_MIX_KINDS]);

/* Whether test (a loader's) is an INVITE test: invite, redirect,
 * proxy480, proxy486. */
bool topo_is_call_test(const char *test);

#endif
