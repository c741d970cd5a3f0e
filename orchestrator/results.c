#include "results.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void res_run_clear(struct res_run *run)
{
	free(run->steps);
	free(run->samples);
	json_decref(run->setup);
	json_decref(run->crosscheck);
	json_decref(run->loaded);
	run->steps = NULL;
	run->samples = NULL;
	run->setup = NULL;
	run->crosscheck = NULL;
	run->loaded = NULL;
	json_decref(run->sipstone);
	run->sipstone = NULL;
	run->nsteps = run->nsamples = 0;
}

/*
 * The step whose delivered rate is the capacity, or NULL.  What a step
 * delivered, not what it asked for: with an open-loop generator and a
 * 32 s Timer B, an overloaded server queues rather than fails, so the
 * seed's criteria can still pass while far fewer requests complete than
 * were offered.
 */
static const struct res_step *capacity_step(const struct res_run *run)
{
	const struct res_step *at = NULL;
	double best = 0;

	for (size_t i = 0; i < run->nsteps; i++) {
		const struct res_step *s = &run->steps[i];
		double got = s->achieved < s->offered ? s->achieved
						      : s->offered;

		if (s->passed && got > best) {
			best = got;
			at = s;
		}
	}
	return at;
}

bool res_is_presence(const struct res_run *run)
{
	return !strcmp(run->test, "subscribe") || !strcmp(run->test, "publis"
								     "h");
}

double res_capacity_notify(const struct res_run *run)
{
	const struct res_step *s = capacity_step(run);

	return res_is_presence(run) && s && s->notify_per_s >= 0
		       ? s->notify_per_s
		       : -1;
}

double res_capacity_aggregate(const struct res_run *run)
{
	double n = res_capacity_notify(run);

	return n >= 0 ? res_capacity(run) + n : -1;
}

double res_capacity(const struct res_run *run)
{
	const struct res_step *s = capacity_step(run);

	if (!s)
		return 0;
	return s->achieved < s->offered ? s->achieved : s->offered;
}

double res_knee(const struct res_run *run)
{
	for (size_t i = 0; i < run->nsteps; i++) {
		const struct res_step *s = &run->steps[i];

		if (s->offered > 0 && s->achieved < 0.95 * s->offered)
			return i ? run->steps[i - 1].offered : s->offered;
	}
	return -1;
}

/* ---- summary.json ---------------------------------------------------- */

/* A figure that may be absent (< 0) is null in JSON. */
static json_t *opt_real(double v)
{
	return v < 0 || isnan(v) ? json_null() : json_real(v);
}

static json_t *proxies_json(const struct res_run *run,
			    const struct res_proxy *p)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < run->nproxies; i++) {
		json_t *o = json_pack("{s:s,s:f,s:f,s:o}", "name",
				      run->proxy_names[i], "cpu", p[i].cpu,
				      "rss_mb", p[i].rss_mb, "share",
				      opt_real(p[i].share));

		if (o && p[i].nthreads) {
			json_t *t = json_array();

			for (unsigned k = 0; k < p[i].nthreads; k++)
				json_array_append_new(
					t, json_real(p[i].thread_cpu[k]));
			json_object_set_new(o, "threads", t);
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *step_json(const struct res_run *run, const struct res_step *s)
{
	json_t *j = json_pack(
		"{s:i,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f,"
		"s:b,s:b}",
		"index", (int)s->index, "offered", s->offered, "achieved",
		s->achieved, "attempts", (json_int_t)s->attempts, "successes",
		(json_int_t)s->successes, "failures", (json_int_t)s->failures,
		"timeouts", (json_int_t)s->timeouts, "retransmissions",
		(json_int_t)s->retransmissions, "success_pct", s->success_pct,
		"ta_avg_ms", s->ta_avg_ms, "p50_ms", s->p50_ms, "p90_ms",
		s->p90_ms, "p95_ms", s->p95_ms, "p99_ms", s->p99_ms, "max_ms",
		s->max_ms, "generator_bound", s->generator_bound, "passed",
		s->passed);

	if (!j)
		return NULL;
	json_object_set_new(j, "phase",
			    json_string(s->phase[0] ? s->phase : "ramp"));
	json_object_set_new(j, "rrd_ms", opt_real(s->rrd_ms));
	json_object_set_new(j, "ira_pct", opt_real(s->ira_pct));
	json_object_set_new(j, "srd_ms", opt_real(s->srd_ms));
	json_object_set_new(j, "sdd_ms", opt_real(s->sdd_ms));
	json_object_set_new(j, "ser_pct", opt_real(s->ser_pct));
	json_object_set_new(j, "seer_pct", opt_real(s->seer_pct));
	json_object_set_new(j, "isa_pct", opt_real(s->isa_pct));
	json_object_set_new(j, "scr_pct", opt_real(s->scr_pct));
	if (res_is_presence(run) && s->notify_per_s >= 0) {
		json_object_set_new(j, "notifies",
				    json_integer((json_int_t)s->notifies));
		json_object_set_new(j, "notify_per_s",
				    json_real(s->notify_per_s));
		json_object_set_new(j, "notify_per_req",
				    opt_real(s->notify_per_req));
		json_object_set_new(j, "notify_p50_ms",
				    opt_real(s->notify_p50_ms));
		json_object_set_new(j, "notify_p95_ms",
				    opt_real(s->notify_p95_ms));
		json_object_set_new(j, "notify_p99_ms",
				    opt_real(s->notify_p99_ms));
		json_object_set_new(j, "server_notify_per_s",
				    opt_real(s->server_notify_per_s));
	}
	json_object_set_new(j, "proxies", proxies_json(run, s->proxy));
	json_object_set_new(j, "in_flight",
			    json_integer((json_int_t)s->in_flight));
	json_object_set_new(j, "machine_busy", opt_real(s->mach_busy));
	json_object_set_new(j, "machine_steal", opt_real(s->mach_steal));
	json_object_set_new(j, "machine_iowait", opt_real(s->mach_iowait));
	json_object_set_new(j, "machine_others", opt_real(s->mach_others));
	json_object_set_new(j, "machine_hosts", json_string(s->mach_hosts));
	json_object_set_new(j, "interfered", json_boolean(s->interfered));
	return j;
}

static json_t *sample_json(const struct res_run *run,
			   const struct res_sample *s)
{
	json_t *j = json_pack("{s:f,s:i,s:f,s:f,s:f,s:f}", "t_s", s->t_s,
			      "step", (int)s->step, "offered", s->offered,
			      "achieved", s->achieved, "success_pct",
			      s->success_pct, "p95_ms", s->p95_ms);

	if (j) {
		json_object_set_new(j, "proxies", proxies_json(run, s->proxy));
		json_object_set_new(j, "db_qps", opt_real(s->db_qps));
		json_object_set_new(j, "db_threads", opt_real(s->db_threads));
	}
	return j;
}

/* A presence run's capacity by request type: its requests' (named
 * by the test, upper case) and the NOTIFYs delivered at that step. */
static json_t *capacity_by_type(const struct res_run *run)
{
	char method[16];
	size_t i;

	for (i = 0; run->test[i] && i < sizeof(method) - 1; i++)
		method[i] = (char)toupper((unsigned char)run->test[i]);
	method[i] = '\0';
	return json_pack("{s:f,s:f}", method, res_capacity(run), "NOTIFY",
			 res_capacity_notify(run));
}

/* The bed's limit and its probes, the callhandlers' CPU and the
 * repetition this run is. */
static void bed_json(const struct res_run *run, json_t *j)
{
	json_t *probes = json_array();

	if (run->baseline_bound[0])
		json_object_set_new(j, "baseline_bound",
				    json_string(run->baseline_bound));
	for (size_t i = 0; i < run->nprobes; i++)
		json_array_append_new(
			probes, json_pack("{s:f,s:f,s:b}", "offered",
					  run->probes[i].offered, "achieved",
					  run->probes[i].achieved, "clean",
					  run->probes[i].clean));
	json_object_set_new(j, "baseline_probes", probes);
	json_object_set_new(j, "callhandler_bound_at",
			    run->handler_bound_at > 0
				    ? json_real(run->handler_bound_at)
				    : json_null());
	if (run->handler_bound_why[0])
		json_object_set_new(j, "callhandler_bound_why",
				    json_string(run->handler_bound_why));
	if (run->repeat_of > 1)
		json_object_set_new(j, "repeat",
				    json_pack("{s:i,s:i}", "index",
					      (int)run->repeat_index, "of",
					      (int)run->repeat_of));
}

json_t *res_run_json(const struct res_run *run)
{
	json_t *j, *steps = json_array(), *samples = json_array(),
		   *names = json_array();

	for (size_t i = 0; i < run->nsteps; i++)
		json_array_append_new(steps, step_json(run, &run->steps[i]));
	for (size_t i = 0; i < run->nsamples; i++)
		json_array_append_new(samples,
				      sample_json(run, &run->samples[i]));
	for (size_t i = 0; i < run->nproxies; i++)
		json_array_append_new(names, json_string(run->proxy_names[i]));
	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:i,s:f,s:o,s:f,s:o,"
		      "s:o,s:o,s:o}",
		      "id", run->id, "topology", run->topology, "test",
		      run->test, "transport", run->transport, "status",
		      run->status, "reason", run->reason, "started",
		      run->started, "success_threshold_pct",
		      run->success_threshold_pct, "ta_limit_ms",
		      (int)run->ta_limit_ms, "capacity", res_capacity(run),
		      "knee", opt_real(res_knee(run)), "baseline",
		      run->baseline, "rfc7502_rate",
		      opt_real(run->rfc7502_rate), "proxies", names, "steps",
		      steps, "samples", samples);
	if (j) {
		json_object_set_new(j, "search",
				    json_string(run->search[0] ? run->search
							       : "ramp"));
		json_object_set_new(j, "threshold_ms",
				    json_integer(run->threshold_ms));
		json_object_set_new(j, "granularity",
				    json_integer(run->granularity));
		json_object_set_new(j, "granularity_percent",
				    json_real(run->granularity_pct));
		if (run->search_end[0])
			json_object_set_new(j, "search_end",
					    json_string(run->search_end));
		if (res_capacity_notify(run) >= 0)
			json_object_set_new(j, "capacity_by_type",
					    capacity_by_type(run));
		if (res_capacity_aggregate(run) >= 0)
			json_object_set_new(
				j, "capacity_aggregate",
				json_real(res_capacity_aggregate(run)));
	}
	if (j && run->sipstone) {
		json_object_set(j, "sipstone", run->sipstone);
		json_object_set_new(j, "sipstone_a",
				    opt_real(run->sipstone_a));
	}
	if (j) {
		bed_json(run, j);
		json_object_set_new(j, "interference_max",
				    json_real(run->interference_max));
		json_object_set_new(
			j, "interfered_steps",
			json_integer((json_int_t)res_interfered_steps(run)));
		if (run->crosscheck)
			json_object_set(j, "crosscheck", run->crosscheck);
	}
	if (j && run->setup)
		json_object_set(j, "setup", run->setup);
	return j;
}

size_t res_interfered_steps(const struct res_run *run)
{
	size_t n = 0;

	for (size_t i = 0; i < run->nsteps; i++)
		n += run->steps[i].interfered;
	return n;
}

double res_json_number(json_t *obj, const char *key, double dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : dflt;
}

static void copy_string(json_t *obj, const char *key, char *out, size_t size)
{
	const char *s = json_string_value(json_object_get(obj, key));

	snprintf(out, size, "%s", s ? s : "");
}

static void proxies_from(json_t *arr, size_t n, struct res_proxy *p)
{
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(arr, i);

		p[i].cpu = res_json_number(o, "cpu", 0);
		p[i].rss_mb = res_json_number(o, "rss_mb", 0);
		p[i].share = res_json_number(o, "share", -1);
		p[i].nthreads = 0;
		for (size_t k = 0;
		     k < json_array_size(json_object_get(o, "threads")) &&
		     k < RES_MAX_THREADS;
		     k++)
			p[i].thread_cpu[p[i].nthreads++] =
				(float)json_number_value(json_array_get(
					json_object_get(o, "threads"), k));
	}
}

/* One step of summary.json's "steps" (i: its place). */
static void step_from(json_t *o, size_t i, size_t nproxies, struct res_step *s)
{
	s->index = (unsigned)res_json_number(o, "index", (double)i);
	s->offered = res_json_number(o, "offered", 0);
	s->achieved = res_json_number(o, "achieved", 0);
	s->attempts = (uint64_t)res_json_number(o, "attempts", 0);
	s->successes = (uint64_t)res_json_number(o, "successes", 0);
	s->failures = (uint64_t)res_json_number(o, "failures", 0);
	s->timeouts = (uint64_t)res_json_number(o, "timeouts", 0);
	s->retransmissions =
		(uint64_t)res_json_number(o, "retransmissions", 0);
	s->success_pct = res_json_number(o, "success_pct", 0);
	s->ta_avg_ms = res_json_number(o, "ta_avg_ms", 0);
	s->p50_ms = res_json_number(o, "p50_ms", 0);
	s->p90_ms = res_json_number(o, "p90_ms", 0);
	s->p95_ms = res_json_number(o, "p95_ms", 0);
	s->p99_ms = res_json_number(o, "p99_ms", 0);
	s->max_ms = res_json_number(o, "max_ms", 0);
	s->rrd_ms = res_json_number(o, "rrd_ms", -1);
	s->ira_pct = res_json_number(o, "ira_pct", -1);
	s->srd_ms = res_json_number(o, "srd_ms", -1);
	s->sdd_ms = res_json_number(o, "sdd_ms", -1);
	s->ser_pct = res_json_number(o, "ser_pct", -1);
	s->seer_pct = res_json_number(o, "seer_pct", -1);
	s->isa_pct = res_json_number(o, "isa_pct", -1);
	s->scr_pct = res_json_number(o, "scr_pct", -1);
	s->notifies = (uint64_t)res_json_number(o, "notifies", 0);
	s->notify_per_s = res_json_number(o, "notify_per_s", -1);
	s->notify_per_req = res_json_number(o, "notify_per_req", -1);
	s->notify_p50_ms = res_json_number(o, "notify_p50_ms", -1);
	s->notify_p95_ms = res_json_number(o, "notify_p95_ms", -1);
	s->notify_p99_ms = res_json_number(o, "notify_p99_ms", -1);
	s->server_notify_per_s = res_json_number(o, "server_notify_per_s", -1);
	s->generator_bound = json_is_true(json_object_get(o, "generato"
							     "r_"
							     "bound"));
	s->passed = json_is_true(json_object_get(o, "passed"));
	copy_string(o, "phase", s->phase, sizeof(s->phase));
	s->in_flight = (uint64_t)res_json_number(o, "in_flight", 0);
	s->mach_busy = res_json_number(o, "machine_busy", -1);
	s->mach_steal = res_json_number(o, "machine_steal", -1);
	s->mach_iowait = res_json_number(o, "machine_iowait", -1);
	s->mach_others = res_json_number(o, "machine_others", -1);
	s->interfered = json_is_true(json_object_get(o, "interfered"));
	copy_string(o, "machine_hosts", s->mach_hosts, sizeof(s->mach_hosts));
	proxies_from(json_object_get(o, "proxies"), nproxies, s->proxy);
}

/* One sample of summary.json's "samples". */
static void sample_from(json_t *o, size_t nproxies, struct res_sample *s)
{
	s->t_s = res_json_number(o, "t_s", 0);
	s->step = (unsigned)res_json_number(o, "step", 0);
	s->offered = res_json_number(o, "offered", 0);
	s->achieved = res_json_number(o, "achieved", 0);
	s->success_pct = res_json_number(o, "success_pct", 0);
	s->p95_ms = res_json_number(o, "p95_ms", 0);
	s->db_qps = res_json_number(o, "db_qps", -1);
	s->db_threads = res_json_number(o, "db_threads", -1);
	proxies_from(json_object_get(o, "proxies"), nproxies, s->proxy);
}

static void probes_from(json_t *arr, struct res_run *run)
{
	for (size_t i = 0; i < json_array_size(arr) && i < RES_MAX_PROBES;
	     i++) {
		json_t *o = json_array_get(arr, i);

		run->probes[i].offered = res_json_number(o, "offered", 0);
		run->probes[i].achieved = res_json_number(o, "achieved", 0);
		run->probes[i].clean = json_is_true(json_object_get(o, "clea"
								       "n"));
		run->nprobes = i + 1;
	}
}

int res_load(struct res_run *run, const char *dir, char *why, size_t whysz)
{
	json_t *j, *steps, *samples, *names;
	json_error_t jerr;
	char path[1024];
	size_t i;

	memset(run, 0, sizeof(*run));
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		struct stat st;

		snprintf(why, whysz, "%s:%d:%d: %s", path, jerr.line,
			 jerr.column, jerr.text);
		return stat(path, &st) == 0 ? EBADMSG : ENOENT;
	}
	steps = json_object_get(j, "steps");
	samples = json_object_get(j, "samples");
	names = json_object_get(j, "proxies");
	if (!json_is_array(steps) || !json_is_array(samples) ||
	    !json_is_array(names) ||
	    json_array_size(names) > RES_MAX_PROXIES) {
		snprintf(why, whysz,
			 "%s: not a result summary (steps, samples, proxies)",
			 path);
		json_decref(j);
		return EBADMSG;
	}
	copy_string(j, "id", run->id, sizeof(run->id));
	copy_string(j, "topology", run->topology, sizeof(run->topology));
	copy_string(j, "test", run->test, sizeof(run->test));
	copy_string(j, "transport", run->transport, sizeof(run->transport));
	copy_string(j, "status", run->status, sizeof(run->status));
	copy_string(j, "reason", run->reason, sizeof(run->reason));
	copy_string(j, "started", run->started, sizeof(run->started));
	run->success_threshold_pct =
		res_json_number(j, "success_threshold_pct", 50);
	run->ta_limit_ms = (unsigned)res_json_number(j, "ta_limit_ms", 1000);
	run->baseline = res_json_number(j, "baseline", 0);
	run->rfc7502_rate = res_json_number(j, "rfc7502_rate", -1);
	copy_string(j, "search", run->search, sizeof(run->search));
	copy_string(j, "baseline_bound", run->baseline_bound,
		    sizeof(run->baseline_bound));
	probes_from(json_object_get(j, "baseline_probes"), run);
	run->handler_bound_at = res_json_number(j, "callhandler_bound_at", 0);
	copy_string(j, "callhandler_bound_why", run->handler_bound_why,
		    sizeof(run->handler_bound_why));
	run->repeat_index = (unsigned)res_json_number(json_object_get(j, "repe"
									 "at"),
						      "index", 0);
	run->repeat_of = (unsigned)res_json_number(json_object_get(j, "repea"
								      "t"),
						   "of", 0);
	run->threshold_ms =
		(unsigned)res_json_number(j, "threshold_ms", 32000);
	run->granularity = (unsigned)res_json_number(j, "granularity", 0);
	run->granularity_pct = res_json_number(j, "granularity_percent", 0);
	copy_string(j, "search_end", run->search_end, sizeof(run->search_end));
	run->nproxies = json_array_size(names);
	for (i = 0; i < run->nproxies; i++)
		snprintf(run->proxy_names[i], RES_NAME_MAX, "%s",
			 json_string_value(json_array_get(names, i))
				 ? json_string_value(json_array_get(names, i))
				 : "?");
	run->steps = calloc(json_array_size(steps) + 1, sizeof(*run->steps));
	run->samples =
		calloc(json_array_size(samples) + 1, sizeof(*run->samples));
	if (!run->steps || !run->samples) {
		json_decref(j);
		res_run_clear(run);
		return ENOMEM;
	}
	for (i = 0; i < json_array_size(steps); i++)
		step_from(json_array_get(steps, i), i, run->nproxies,
			  &run->steps[run->nsteps++]);
	for (i = 0; i < json_array_size(samples); i++)
		sample_from(json_array_get(samples, i), run->nproxies,
			    &run->samples[run->nsamples++]);
	run->setup = json_incref(json_object_get(j, "setup"));
	run->sipstone = json_incref(json_object_get(j, "sipstone"));
	run->sipstone_a = res_json_number(j, "sipstone_a", -1);
	run->interference_max = res_json_number(j, "interference_max", 0.15);
	run->crosscheck = json_incref(json_object_get(j, "crosscheck"));
	run->loaded = j;
	return 0;
}
