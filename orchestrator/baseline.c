#include "baseline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roles.h"

/* The measured interval of `orchestrator baseline` when the experiment
 * has none. */
#define BASELINE_DEFAULT_S 5

/*
 * The test bed's own reach (RFC 7502 §6.1): a loader of the same kind
 * next to each loader, sending straight to the callhandlers at the
 * final rate, no proxy between.  A callhandler answers OPTIONS but is
 * no registrar: the REGISTER tests measure the bed with OPTIONS, a
 * transaction of the same shape; the invite test with INVITE.
 */
int baseline_run(struct run *r)
{
	const struct topo_experiment *e = &r->t->exp;
	const char *test = strcmp(e->test, "invite") ? "options" : "invite";
	/* `orchestrator baseline` measures it even when the experiment
	 * leaves it out (baseline_s 0) */
	unsigned baseline_s = e->baseline_s || !r->o->baseline_only
				      ? e->baseline_s
				      : BASELINE_DEFAULT_S;
	size_t ch[TOPO_MAX_NEXT], nch = 0, nld = 0, started = 0;
	struct topo_node *nodes = NULL;
	struct role *roles = NULL;
	double secs = 0, rate = e->rate_final;
	uint64_t ok = 0, bad = 0;
	bool bound = false;
	int err = 0;

	if (!baseline_s)
		return 0;
	for (size_t i = 0; i < r->t->nnodes; i++) {
		if (r->t->nodes[i].role == TOPO_CALLHANDLER &&
		    nch < TOPO_MAX_NEXT)
			ch[nch++] = i;
		nld += r->t->nodes[i].role == TOPO_LOADER;
	}
	if (!nch || !nld) {
		if (r->o->baseline_only)
			return runctx_fail(r, EINVAL,
					   "the baseline needs a loader and a "
					   "callhandler in the topology");
		runctx_say(r, "[baseline] no callhandler to send to: not "
			      "measured");
		return 0;
	}
	nodes = calloc(nld, sizeof(*nodes));
	roles = calloc(nld, sizeof(*roles));
	if (!nodes || !roles) {
		err = runctx_fail(r, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0, k = 0; i < r->t->nnodes && !err; i++) {
		if (r->t->nodes[i].role != TOPO_LOADER)
			continue;
		nodes[k] = r->t->nodes[i];
		snprintf(nodes[k].name, sizeof(nodes[k].name),
			 "%.50s-baseline", r->t->nodes[i].name);
		nodes[k].server = ch[k % nch];
		roles[k].to_fd = roles[k].from_fd = -1;
		err = roles_start_as(r, &roles[k], &nodes[k], test);
		started = ++k;
	}
	for (size_t k = 0; k < started && !err; k++) {
		json_t *args = json_pack("{s:f}", "rate", rate / (double)nld);
		json_t *reply =
			roles_command(r, &roles[k], "start", args, 5000);

		if (!reply || !json_is_true(json_object_get(reply, "ok")))
			err = runctx_fail(r, EPROTO, "%s refused its rate",
					  nodes[k].name);
		json_decref(args);
		json_decref(reply);
	}
	/* Warm-up, then the measured interval: two "step"s. */
	for (int pass = 0; pass < 2 && !err; pass++) {
		err = runctx_sleep_until(
			r,
			runctx_now_ms() +
				(pass ? baseline_s : e->warmup_s) * 1000ull);
		for (size_t k = 0; k < started && !err; k++) {
			json_t *st = roles_command(r, &roles[k], "step", NULL,
						   5000);

			if (!st || !json_is_true(json_object_get(st, "ok"))) {
				json_decref(st);
				err = runctx_fail(r, EPROTO,
						  "%s did not end its step",
						  nodes[k].name);
				break;
			}
			if (pass) {
				ok += (uint64_t)runctx_json_number(st, "succes"
								       "ses");
				bad += (uint64_t)runctx_json_number(st, "failu"
									"res");
				if (runctx_json_number(st, "secs") > secs)
					secs = runctx_json_number(st, "secs");
				bound |= json_is_true(
					json_object_get(st, "generator_"
							    "bound"));
			}
			json_decref(st);
		}
	}
	if (!err) {
		r->res.baseline = secs > 0 ? (double)ok / secs : 0;
		runctx_say(r,
			   "[baseline] loaders straight to the callhandlers "
			   "(%s): "
			   "offered %.0f/s achieved %.0f/s, %llu failures%s",
			   test, rate, r->res.baseline,
			   (unsigned long long)bad,
			   bound ? " | generator bound" : "");
	}
out:
	for (size_t k = 0; k < started; k++)
		roles_stop(r, &roles[k]);
	for (size_t k = 0; roles && k < nld; k++)
		json_decref(roles[k].summary);
	free(roles);
	free(nodes);
	return err;
}
