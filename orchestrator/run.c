#include "run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "run"
#include "baseline.h"
#include "database.h"
#include "deploy.h"
#include "crosscheck.h"
#include "log.h"
#include "metrics.h"
#include "metrics_feed.h"
#include "res_bundle.h"
#include "res_verdict.h"
#include "roles.h"
#include "runctx.h"
#include "search.h"
#include "sipstone.h"
#include "versions.h"
#include "workdir.h"

static void teardown(struct run *r)
{
	/* Every transaction has ended when the loaders have: their
	 * counts against the proxies' while these still run. */
	roles_stop_loaders(r);
	crosscheck_end(r);
	roles_stop_all(r);
	database_drop(r);
	deploy_cleanup(r);
}

static int mkdirs(const char *path)
{
	char tmp[820];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return errno;
		*p = '/';
	}
	return mkdir(tmp, 0755) < 0 && errno != EEXIST ? errno : 0;
}

static void write_bundle(struct run *r)
{
	struct res_run *res = &r->res;
	json_t *setup;
	int err;

	snprintf(res->id, sizeof(res->id), "%s", r->id);
	snprintf(res->topology, sizeof(res->topology), "%s", r->t->name);
	snprintf(res->test, sizeof(res->test), "%s", r->t->exp.test);
	snprintf(res->transport, sizeof(res->transport), "%s",
		 sip_transport_name(r->t->exp.transport));
	for (char *c = res->transport; *c; c++)
		*c = (char)(*c | 0x20);
	snprintf(res->status, sizeof(res->status), "%s", r->status);
	snprintf(res->reason, sizeof(res->reason), "%.255s", r->reason);
	res->success_threshold_pct = r->t->exp.success_pct;
	snprintf(res->search, sizeof(res->search), "%s", r->t->exp.search);
	res->threshold_ms = r->t->exp.threshold_ms;
	res->granularity = r->t->exp.granularity;
	res->granularity_pct = r->t->exp.granularity_pct;
	res->interference_max = r->t->exp.interference_max;
	res->ta_limit_ms = r->t->exp.ta_limit_ms;
	res->repeat_index = r->o->repeat_index;
	res->repeat_of = r->o->repeat_of;
	/* The inventory file never holds secrets (validation refuses one). */
	setup = json_pack("{s:O,s:O,s:o,s:s}", "topology", r->t->json,
			  "inventory", r->inv->json, "hosts",
			  preflight_json(r->pf, r->npf), "connection",
			  r->t->exp.transport == SIP_TP_UDP
				  ? "none (udp)"
				  : runctx_connection(&r->t->exp));
	json_object_set_new(setup, "versions", versions_json(r));
	res->setup = setup;
	err = res_write(res, r->bundle);
	if (!err)
		err = res_pack(r->bundle);
	if (err)
		fprintf(stderr, "orchestrator: writing %s: %s\n", r->bundle,
			strerror(err));
	res->setup = NULL;
	json_decref(setup);
}

/* The run's last lines: its capacity with its bound, the knee, and
 * what bounded the figure (res_verdict.h). */
static void say_verdict(struct run *r)
{
	struct res_verdict v;
	char cap[48];
	double knee = res_knee(&r->res), top = 0;

	res_verdict_of(&r->res, &v);
	res_verdict_capacity_text(&v, cap, sizeof(cap));
	for (size_t i = 0; i < r->res.nsteps; i++)
		if (r->res.steps[i].offered > top)
			top = r->res.steps[i].offered;
	if (knee >= 0)
		runctx_say(r,
			   "[run] capacity %s/s (the most a step that met the "
			   "criteria delivered); knee %.0f/s",
			   cap, knee);
	else
		runctx_say(r,
			   "[run] capacity %s/s (the most a step that met the "
			   "criteria delivered); knee: none below %.0f/s",
			   cap, top);
	runctx_say(r, "[run] verdict: %s, %s: %s", v.name ? v.name : "none",
		   v.name ? res_verdict_bound_name(v.bound) : "-",
		   v.name ? v.reason : "no load step ran");
}

/* The run's id ("s0p1-register-udp-20260101-120000", unique among the
 * bundles), its start time, and its directories: the bundle, the
 * remote run directory and the local private work directory. */
static void name_run(struct run *r)
{
	const struct topo *t = r->t;
	const struct run_opts *o = r->o;
	char stamp[32];
	struct tm tm;
	time_t now;

	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(r->id, sizeof(r->id), "%s-%s-%s-%s", t->name, t->exp.test,
		 sip_transport_name(t->exp.transport), stamp);
	for (char *c = r->id; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c | 0x20);
	strftime(r->res.started, sizeof(r->res.started), "%Y-%m-%dT%H:%M:%S",
		 &tm);
	snprintf(r->bundle, sizeof(r->bundle), "%s/%s", o->results_dir, r->id);
	/* Runs of one list can start within a second (a quick failure):
	 * each keeps its own bundle. */
	{
		size_t base = strlen(r->id);

		for (int k = 2; k < 100 && access(r->bundle, F_OK) == 0; k++) {
			snprintf(r->id + base, sizeof(r->id) - base, "-%d", k);
			snprintf(r->bundle, sizeof(r->bundle), "%s/%s",
				 o->results_dir, r->id);
		}
	}
	/* r->work and r->remote are made fresh later (workdir.h). */
}

int run_experiment(const struct topo *t, const struct inventory *inv,
		   const struct run_opts *o, char *bundle, size_t size)
{
	struct run *r = calloc(1, sizeof(*r));
	bool verdict = false;
	char logs[800];
	int err, lock_fd = -1;

	if (!r)
		return ENOMEM;
	r->t = t;
	r->inv = inv;
	r->o = o;
	snprintf(r->status, sizeof(r->status), "complete");
	r->res.rfc7502_rate = -1;
	r->res.sipstone_a = -1;
	name_run(r);
	snprintf(logs, sizeof(logs), "%s/logs", r->bundle);
	r->hosts = calloc(inv->nhosts + 1, sizeof(*r->hosts));
	r->roles = calloc(t->nnodes + 1, sizeof(*r->roles));
	if (!r->hosts || !r->roles) {
		err = ENOMEM;
		goto out;
	}
	snprintf(bundle, size, "%s", r->bundle);
	err = mkdirs(logs);
	if (err) {
		fprintf(stderr, "orchestrator: cannot create %s: %s\n", logs,
			strerror(err));
		goto out;
	}
	err = workdir_remote_name(r->id, r->remote, sizeof(r->remote));
	if (!err)
		err = workdir_local_create(r->id, r->work, sizeof(r->work));
	if (err) {
		fprintf(stderr,
			"orchestrator: cannot create a private work directory "
			"in /tmp: %s\n",
			strerror(err));
		r->work[0] = '\0';
		goto out;
	}
	/* Held until the end: cleanup leaves a live run alone. */
	lock_fd = workdir_lock(r->work);
	if (lock_fd < 0) {
		err = errno;
		fprintf(stderr, "orchestrator: cannot lock %s: %s\n", r->work,
			strerror(err));
		goto out;
	}
	runctx_say(r, "[run] %s", r->id);
	metrics_feed_begin(r);
	err = deploy_preflight(r);
	if (!err && !runctx_interrupted(r))
		err = deploy_open_hosts(r);
	if (!err && !runctx_interrupted(r))
		err = deploy_files(r);
	if (!err && !runctx_interrupted(r))
		err = database_create(r);
	if (!err && !runctx_interrupted(r))
		err = roles_start_all(r);
	if (!err && !runctx_interrupted(r) && !o->deploy_only)
		err = baseline_run(r);
	if (!err && !runctx_interrupted(r) && !o->deploy_only &&
	    !o->baseline_only)
		err = strcmp(t->exp.test, "sipstone") ? search_run(r)
						      : sipstone_run(r);
	if (!err && o->baseline_only && !runctx_interrupted(r)) {
		snprintf(r->reason, sizeof(r->reason),
			 "baseline only: %.0f/s from the loaders straight to "
			 "the callhandlers; no load steps were run",
			 r->res.baseline);
		runctx_say(r, "[run] %s", r->reason);
	}
	/* said after the teardown's lines: the run's last words */
	verdict = !err && !o->deploy_only && !o->baseline_only &&
		  !runctx_interrupted(r);
	if (!err && res_interfered_steps(&r->res))
		runctx_say(r,
			   "[run] %zu of %zu steps interfered: other work "
			   "took "
			   "more than %.0f %% of a machine during them",
			   res_interfered_steps(&r->res), r->res.nsteps,
			   r->t->exp.interference_max * 100);
	if (!err && o->deploy_only && !runctx_interrupted(r)) {
		snprintf(r->reason, sizeof(r->reason),
			 "deploy-only: every role started and became ready; "
			 "no load steps were run");
		runctx_say(r, "[run] %s", r->reason);
	}
	teardown(r);
	if (runctx_interrupted(r))
		err = EINTR;
	metrics_run_end(o->metrics, r->status);
	write_bundle(r);
	if (verdict)
		say_verdict(r);
	runctx_say(r, "[run] %s: %s%s%s", r->status, r->bundle,
		   r->reason[0] ? ": " : "", r->reason);
out:
	/* The private work dir holds keys and configs: never kept. */
	if (r->work[0] && workdir_local_remove(r->work))
		log_warn("could not remove %s", r->work);
	if (lock_fd >= 0)
		close(lock_fd);
	free(r->pf);
	free(r->hosts);
	for (size_t i = 0; r->roles && i < t->nnodes; i++)
		json_decref(r->roles[i].summary);
	free(r->roles);
	res_run_clear(&r->res);
	free(r);
	return err;
}
