/*
 * topo_sipstone.c - SIPstone's experiment settings (see topo_sipstone.h).
 */
#include "topo_sipstone.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const topo_sipstone_names[TOPO_SIPSTONE_TESTS + 1] = {
	"register", "proxy200", "redirect", "proxy480", NULL};
const char *const topo_sipstone_loader_tests[TOPO_SIPSTONE_TESTS] = {
	"register", "invite", "redirect", "proxy480"};

/*
 * The named mixes, weights in topo_mix_kinds' order (register,
 * reregister, options, invite).  residential: phones that mostly
 * refresh their registrations and seldom call; callcentre: lines that
 * mostly call.  Relative weights, a judgement, not a measurement.
 */
static const struct {
	const char *name;
	unsigned mix[TOPO_SIPSTONE_MIX_KINDS];
} profiles[] = {
	{"residential", {5, 70, 5, 20}},
	{"callcentre", {0, 15, 5, 80}},
};

static const char *const profile_names[] = {"residential", "callcentre", NULL};
static const char *const arrivals[] = {"uniform", "poisson", NULL};

bool topo_sipstone_profile(const char *name,
			   unsigned mix[TOPO_SIPSTONE_MIX_KINDS])
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		if (strcmp(profiles[i].name, name))
			continue;
		memcpy(mix, profiles[i].mix, sizeof(profiles[i].mix));
		return true;
	}
	return false;
}

bool topo_is_call_test(const char *test)
{
	return !strcmp(test, "invite") || !strcmp(test, "redirect") ||
	       !strcmp(test, "proxy480") || !strcmp(test, "proxy486");
}

/* "hold": "fixed:MS" or "exp:MEAN_MS" (not with "hold_ms"). */
static void parse_hold(struct topo_reader *c, json_t *obj,
		       struct topo_sipstone_cfg *e)
{
	const char *p = "/experiment/hold";
	json_t *v = json_object_get(obj, "hold");
	const char *s, *colon;
	unsigned long ms;
	char *end;

	if (!v)
		return;
	s = json_string_value(v);
	colon = s ? strchr(s, ':') : NULL;
	if (json_object_get(obj, "hold_ms")) {
		topo_reader_error(c, p, true,
				  "\"hold\" and \"hold_ms\" exclude each "
				  "other");
		return;
	}
	if (!colon || (strncmp(s, "fixed:", 6) && strncmp(s, "exp:", 4)))
		goto bad;
	errno = 0;
	ms = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || ms > 3600000 ||
	    colon[1] == '-' || (!strncmp(s, "exp:", 4) && !ms))
		goto bad;
	e->hold_set = true;
	e->hold_ms = (unsigned)ms;
	e->hold_exp = !strncmp(s, "exp:", 4);
	return;
bad:
	topo_reader_error(c, p, false,
			  "\"hold\" must be \"fixed:MS\" or \"exp:MEAN_MS\" "
			  "(0..3600000 ms, an exponential's mean above 0)");
}

/* "profile": a named mix (with "test": "mix", instead of "mix"). */
static void parse_profile(struct topo_reader *c, json_t *obj, const char *test,
			  struct topo_sipstone_cfg *e)
{
	const char *p = "/experiment/profile";

	if (!json_object_get(obj, "profile"))
		return;
	if (strcmp(test, "mix")) {
		topo_reader_error(c, p, true,
				  "\"profile\" is for \"test\": \"mix\"");
		return;
	}
	if (json_object_get(obj, "mix")) {
		topo_reader_error(c, p, true,
				  "\"profile\" and \"mix\" exclude each "
				  "other: a profile is a named mix");
		return;
	}
	if (topo_reader_choice(c, obj, "/experiment", "profile", profile_names,
			       e->profile, sizeof(e->profile)))
		topo_sipstone_profile(e->profile, e->mix);
}

/*
 * "sipstone_weights": {"register": w, ...}, numbers >= 0, at least one
 * above 0; the tests left out keep their default weight.  Equal
 * weights by default: the SIPstone draft (2002) says SIPstone-A is a
 * weighted average of its tests' rates, but the weights themselves
 * could not be read here (docs/topology.md).
 */
static void parse_weights(struct topo_reader *c, json_t *obj, const char *test,
			  struct topo_sipstone_cfg *e)
{
	const char *p = "/experiment/sipstone_weights";
	json_t *w = json_object_get(obj, "sipstone_weights");
	double sum = 0;

	for (unsigned k = 0; k < TOPO_SIPSTONE_TESTS; k++)
		e->weights[k] = 1.0 / TOPO_SIPSTONE_TESTS;
	if (!w)
		return;
	if (strcmp(test, "sipstone")) {
		topo_reader_error(c, p, true,
				  "\"sipstone_weights\" is for \"test\": "
				  "\"sipstone\"");
		return;
	}
	if (!topo_reader_object(c, w, p, "sipstone_weights",
				topo_sipstone_names))
		return;
	for (unsigned k = 0; k < TOPO_SIPSTONE_TESTS; k++) {
		json_t *v = json_object_get(w, topo_sipstone_names[k]);
		char ptr[128];

		if (v && (!json_is_number(v) || json_number_value(v) < 0 ||
			  json_number_value(v) > 1e6)) {
			topo_reader_child(ptr, sizeof(ptr), p,
					  topo_sipstone_names[k]);
			topo_reader_error(c, ptr, false,
					  "a weight is a number in [0, "
					  "1000000]");
			continue;
		}
		if (v)
			e->weights[k] = json_number_value(v);
		sum += e->weights[k];
	}
	if (!(sum > 0))
		topo_reader_error(c, p, false,
				  "at least one weight must be above 0");
}

void topo_sipstone_parse(struct topo_reader *c, json_t *obj, const char *test,
			 struct topo_sipstone_cfg *e)
{
	char arr[16];

	memset(e, 0, sizeof(*e));
	parse_hold(c, obj, e);
	if (topo_reader_choice(c, obj, "/experiment", "arrivals", arrivals,
			       arr, sizeof(arr)))
		e->poisson = !strcmp(arr, "poisson");
	parse_profile(c, obj, test, e);
	parse_weights(c, obj, test, e);
}
