/*
 * sipstone.c - SIPstone's tests in turn and SIPstone-A (see sipstone.h).
 */
#include "sipstone.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOG_MODULE "sipstone"
#include "log.h"
#include "roles.h"
#include "search.h"
#include "topo_sipstone.h"

double sipstone_composite(const double *rate, const double *weight, unsigned n)
{
	double sum = 0, wsum = 0;

	for (unsigned i = 0; i < n; i++) {
		sum += weight[i] * (rate[i] > 0 ? rate[i] : 0);
		wsum += weight[i];
	}
	return wsum > 0 ? sum / wsum : -1;
}

/* Every stateful proxy redirects INVITEs (302) or proxies them. */
static int set_redirect(struct run *r, bool on)
{
	for (size_t i = 0; i < r->t->nnodes; i++) {
		json_t *args, *reply;
		bool ok;

		if (r->t->nodes[i].role != TOPO_STATEFUL)
			continue;
		args = json_pack("{s:b}", "on", on);
		reply = roles_command(r, &r->roles[i], "redirect", args, 5000);
		json_decref(args);
		ok = reply && json_is_true(json_object_get(reply, "ok"));
		json_decref(reply);
		if (!ok)
			return runctx_fail(r, EPROTO,
					   "%s refused \"redirect\" (a server "
					   "without a redirect mode?)",
					   r->t->nodes[i].name);
	}
	return 0;
}

/* The loaders again, running the test now in r->subtest. */
static int restart_loaders(struct run *r)
{
	int err = 0;

	for (size_t i = 0; i < r->t->nnodes && !err; i++)
		if (r->t->nodes[i].role == TOPO_LOADER)
			roles_stop(r, &r->roles[i]);
	for (size_t i = 0; i < r->t->nnodes && !err; i++)
		if (r->t->nodes[i].role == TOPO_LOADER)
			err = roles_start_as(r, &r->roles[i], &r->t->nodes[i],
					     NULL);
	return err;
}

/* The capacity of the steps first.. of the run: the search's answer,
 * or the ramp's (res_capacity over them). */
static double test_rate(struct run *r, size_t first)
{
	struct res_run view = r->res;

	if (strcmp(r->t->exp.search, "ramp") && r->res.rfc7502_rate >= 0)
		return r->res.rfc7502_rate;
	view.steps = r->res.steps + first;
	view.nsteps = r->res.nsteps - first;
	return res_capacity(&view);
}

static json_t *test_json(const char *name, const char *loader_test,
			 double weight, double rate, size_t first, size_t n)
{
	return json_pack("{s:s,s:s,s:f,s:o,s:I,s:I}", "test", name,
			 "loader_test", loader_test, "weight", weight, "rate",
			 rate >= 0 ? json_real(rate) : json_null(),
			 "first_step", (json_int_t)first, "steps",
			 (json_int_t)n);
}

int sipstone_run(struct run *r)
{
	const struct topo_experiment *e = &r->t->exp;
	double rate[TOPO_SIPSTONE_TESTS];
	json_t *tests = json_array();
	unsigned k, done = 0;
	int err = 0;

	if (!tests)
		return runctx_fail(r, ENOMEM, "out of memory");
	for (k = 0; k < TOPO_SIPSTONE_TESTS; k++)
		rate[k] = -1;
	for (k = 0; k < TOPO_SIPSTONE_TESTS && !err; k++) {
		const char *lt = topo_sipstone_loader_tests[k];
		bool redirect = !strcmp(lt, "redirect");
		size_t first = r->res.nsteps;

		runctx_say(r, "[sipstone] test %u/%u: %s", k + 1,
			   TOPO_SIPSTONE_TESTS, topo_sipstone_names[k]);
		r->subtest = lt;
		/* the loaders started with the first test */
		if (k)
			err = restart_loaders(r);
		if (!err && redirect)
			err = set_redirect(r, true);
		r->res.rfc7502_rate = -1;
		if (!err)
			err = search_run(r);
		if (redirect && !err)
			err = set_redirect(r, false);
		if (err)
			break;
		rate[k] = test_rate(r, first);
		done++;
		json_array_append_new(
			tests, test_json(topo_sipstone_names[k], lt,
					 e->sipstone_weights[k], rate[k],
					 first, r->res.nsteps - first));
		runctx_say(r, "[sipstone] %s: %.0f/s", topo_sipstone_names[k],
			   rate[k]);
	}
	r->res.rfc7502_rate = -1;
	r->res.sipstone_a = done == TOPO_SIPSTONE_TESTS
				    ? sipstone_composite(rate,
							 e->sipstone_weights,
							 TOPO_SIPSTONE_TESTS)
				    : -1;
	r->res.sipstone = json_pack("{s:o,s:s}", "tests", tests, "weights",
				    "the experiment's \"sipstone_weights\" "
				    "(default equal: the "
				    "SIPstone draft's own weights could not "
				    "be read)");
	if (r->res.sipstone_a >= 0)
		runctx_say(r,
			   "[sipstone] SIPstone-A %.1f/s (the weighted "
			   "average of the tests' rates)",
			   r->res.sipstone_a);
	return err;
}
