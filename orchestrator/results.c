#include "results.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void res_run_clear(struct res_run *run)
{
	free(run->steps);
	free(run->samples);
	json_decref(run->setup);
	run->steps = NULL;
	run->samples = NULL;
	run->setup = NULL;
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

static bool is_presence(const struct res_run *run)
{
	return !strcmp(run->test, "subscribe") || !strcmp(run->test, "publis"
								     "h");
}

double res_capacity_notify(const struct res_run *run)
{
	const struct res_step *s = capacity_step(run);

	return is_presence(run) && s && s->notify_per_s >= 0 ? s->notify_per_s
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
	return 0;
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
	if (is_presence(run) && s->notify_per_s >= 0) {
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

static json_t *run_json(const struct res_run *run)
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
	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:i,s:f,s:f,s:f,s:o,"
		      "s:o,s:o,s:o}",
		      "id", run->id, "topology", run->topology, "test",
		      run->test, "transport", run->transport, "status",
		      run->status, "reason", run->reason, "started",
		      run->started, "success_threshold_pct",
		      run->success_threshold_pct, "ta_limit_ms",
		      (int)run->ta_limit_ms, "capacity", res_capacity(run),
		      "knee", res_knee(run), "baseline", run->baseline,
		      "rfc7502_rate", opt_real(run->rfc7502_rate), "proxies",
		      names, "steps", steps, "samples", samples);
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
	if (j && run->setup)
		json_object_set(j, "setup", run->setup);
	return j;
}

static double num(json_t *obj, const char *key, double dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : dflt;
}

static void str(json_t *obj, const char *key, char *out, size_t size)
{
	const char *s = json_string_value(json_object_get(obj, key));

	snprintf(out, size, "%s", s ? s : "");
}

static void proxies_from(json_t *arr, size_t n, struct res_proxy *p)
{
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(arr, i);

		p[i].cpu = num(o, "cpu", 0);
		p[i].rss_mb = num(o, "rss_mb", 0);
		p[i].share = num(o, "share", -1);
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
	str(j, "id", run->id, sizeof(run->id));
	str(j, "topology", run->topology, sizeof(run->topology));
	str(j, "test", run->test, sizeof(run->test));
	str(j, "transport", run->transport, sizeof(run->transport));
	str(j, "status", run->status, sizeof(run->status));
	str(j, "reason", run->reason, sizeof(run->reason));
	str(j, "started", run->started, sizeof(run->started));
	run->success_threshold_pct = num(j, "success_threshold_pct", 50);
	run->ta_limit_ms = (unsigned)num(j, "ta_limit_ms", 1000);
	run->baseline = num(j, "baseline", 0);
	run->rfc7502_rate = num(j, "rfc7502_rate", -1);
	str(j, "search", run->search, sizeof(run->search));
	run->threshold_ms = (unsigned)num(j, "threshold_ms", 32000);
	run->granularity = (unsigned)num(j, "granularity", 0);
	run->granularity_pct = num(j, "granularity_percent", 0);
	str(j, "search_end", run->search_end, sizeof(run->search_end));
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
	for (i = 0; i < json_array_size(steps); i++) {
		json_t *o = json_array_get(steps, i);
		struct res_step *s = &run->steps[run->nsteps++];

		s->index = (unsigned)num(o, "index", (double)i);
		s->offered = num(o, "offered", 0);
		s->achieved = num(o, "achieved", 0);
		s->attempts = (uint64_t)num(o, "attempts", 0);
		s->successes = (uint64_t)num(o, "successes", 0);
		s->failures = (uint64_t)num(o, "failures", 0);
		s->timeouts = (uint64_t)num(o, "timeouts", 0);
		s->retransmissions = (uint64_t)num(o, "retransmissions", 0);
		s->success_pct = num(o, "success_pct", 0);
		s->ta_avg_ms = num(o, "ta_avg_ms", 0);
		s->p50_ms = num(o, "p50_ms", 0);
		s->p90_ms = num(o, "p90_ms", 0);
		s->p95_ms = num(o, "p95_ms", 0);
		s->p99_ms = num(o, "p99_ms", 0);
		s->max_ms = num(o, "max_ms", 0);
		s->rrd_ms = num(o, "rrd_ms", -1);
		s->ira_pct = num(o, "ira_pct", -1);
		s->srd_ms = num(o, "srd_ms", -1);
		s->sdd_ms = num(o, "sdd_ms", -1);
		s->ser_pct = num(o, "ser_pct", -1);
		s->seer_pct = num(o, "seer_pct", -1);
		s->isa_pct = num(o, "isa_pct", -1);
		s->scr_pct = num(o, "scr_pct", -1);
		s->notifies = (uint64_t)num(o, "notifies", 0);
		s->notify_per_s = num(o, "notify_per_s", -1);
		s->notify_per_req = num(o, "notify_per_req", -1);
		s->notify_p50_ms = num(o, "notify_p50_ms", -1);
		s->notify_p95_ms = num(o, "notify_p95_ms", -1);
		s->notify_p99_ms = num(o, "notify_p99_ms", -1);
		s->server_notify_per_s = num(o, "server_notify_per_s", -1);
		s->generator_bound = json_is_true(json_object_get(o, "generato"
								     "r_"
								     "bound"));
		s->passed = json_is_true(json_object_get(o, "passed"));
		str(o, "phase", s->phase, sizeof(s->phase));
		proxies_from(json_object_get(o, "proxies"), run->nproxies,
			     s->proxy);
	}
	for (i = 0; i < json_array_size(samples); i++) {
		json_t *o = json_array_get(samples, i);
		struct res_sample *s = &run->samples[run->nsamples++];

		s->t_s = num(o, "t_s", 0);
		s->step = (unsigned)num(o, "step", 0);
		s->offered = num(o, "offered", 0);
		s->achieved = num(o, "achieved", 0);
		s->success_pct = num(o, "success_pct", 0);
		s->p95_ms = num(o, "p95_ms", 0);
		s->db_qps = num(o, "db_qps", -1);
		s->db_threads = num(o, "db_threads", -1);
		proxies_from(json_object_get(o, "proxies"), run->nproxies,
			     s->proxy);
	}
	run->setup = json_incref(json_object_get(j, "setup"));
	json_decref(j);
	return 0;
}

/* ---- CSV ---------------------------------------------------------- */

static void csv_opt(FILE *f, double v)
{
	if (v >= 0 && !isnan(v))
		fprintf(f, ",%.3f", v);
	else
		fputs(",", f);
}

static void write_steps_csv(const struct res_run *run, FILE *f)
{
	fputs("step,offered,achieved,attempts,successes,failures,timeouts,"
	      "retransmissions,success_pct,ta_avg_ms,p50_ms,p90_ms,p95_ms,"
	      "p99_ms,max_ms,rrd_ms,ira_pct,srd_ms,sdd_ms,ser_pct,seer_pct,"
	      "isa_pct,scr_pct,generator_bound,passed,phase",
	      f);
	for (size_t i = 0; i < run->nproxies; i++)
		fprintf(f, ",%s_cpu_pct,%s_rss_mb,%s_share_pct",
			run->proxy_names[i], run->proxy_names[i],
			run->proxy_names[i]);
	/* presence tests' columns, presence runs only, last: the
	 * others keep their places */
	if (is_presence(run))
		fputs(",notifies,notify_per_s,notify_per_req,notify_p50_ms,"
		      "notify_p95_ms,notify_p99_ms,server_notify_per_s,"
		      "aggregate_per_s",
		      f);
	fputc('\n', f);
	for (size_t i = 0; i < run->nsteps; i++) {
		const struct res_step *s = &run->steps[i];

		fprintf(f,
			"%u,%.1f,%.1f,%llu,%llu,%llu,%llu,%llu,%.3f,%.3f,%.3f,"
			"%.3f,%.3f,%.3f,%.3f",
			s->index, s->offered, s->achieved,
			(unsigned long long)s->attempts,
			(unsigned long long)s->successes,
			(unsigned long long)s->failures,
			(unsigned long long)s->timeouts,
			(unsigned long long)s->retransmissions, s->success_pct,
			s->ta_avg_ms, s->p50_ms, s->p90_ms, s->p95_ms,
			s->p99_ms, s->max_ms);
		csv_opt(f, s->rrd_ms);
		csv_opt(f, s->ira_pct);
		csv_opt(f, s->srd_ms);
		csv_opt(f, s->sdd_ms);
		csv_opt(f, s->ser_pct);
		csv_opt(f, s->seer_pct);
		csv_opt(f, s->isa_pct);
		csv_opt(f, s->scr_pct);
		fprintf(f, ",%d,%d,%s", s->generator_bound, s->passed,
			s->phase[0] ? s->phase : "ramp");
		for (size_t k = 0; k < run->nproxies; k++) {
			fprintf(f, ",%.1f,%.1f", s->proxy[k].cpu * 100,
				s->proxy[k].rss_mb);
			csv_opt(f, s->proxy[k].share < 0
					   ? -1
					   : s->proxy[k].share * 100);
		}
		if (is_presence(run) && s->notify_per_s >= 0) {
			fprintf(f, ",%llu", (unsigned long long)s->notifies);
			csv_opt(f, s->notify_per_s);
			csv_opt(f, s->notify_per_req);
			csv_opt(f, s->notify_p50_ms);
			csv_opt(f, s->notify_p95_ms);
			csv_opt(f, s->notify_p99_ms);
			csv_opt(f, s->server_notify_per_s);
			csv_opt(f, s->achieved + s->notify_per_s);
		} else if (is_presence(run)) {
			fputs(",,,,,,,,", f);
		}
		fputc('\n', f);
	}
}

static void write_samples_csv(const struct res_run *run, FILE *f)
{
	fputs("t_s,step,offered,achieved,success_pct,p95_ms", f);
	for (size_t i = 0; i < run->nproxies; i++)
		fprintf(f, ",%s_cpu_pct,%s_rss_mb,%s_threads_cpu_pct",
			run->proxy_names[i], run->proxy_names[i],
			run->proxy_names[i]);
	fputs(",db_questions_per_s,db_threads_connected\n", f);
	for (size_t i = 0; i < run->nsamples; i++) {
		const struct res_sample *s = &run->samples[i];

		fprintf(f, "%.1f,%u,%.1f,%.1f,%.3f,%.3f", s->t_s, s->step,
			s->offered, s->achieved, s->success_pct, s->p95_ms);
		for (size_t k = 0; k < run->nproxies; k++) {
			fprintf(f, ",%.1f,%.1f,", s->proxy[k].cpu * 100,
				s->proxy[k].rss_mb);
			/* One field: each thread's %, space-separated. */
			for (unsigned t = 0; t < s->proxy[k].nthreads; t++)
				fprintf(f, "%s%.1f", t ? " " : "",
					s->proxy[k].thread_cpu[t] * 100);
		}
		csv_opt(f, s->db_qps);
		csv_opt(f, s->db_threads);
		fputc('\n', f);
	}
}

/* ---- HTML and SVG ------------------------------------------------- */

static void html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

struct series {
	const char *name;
	const double *x, *y;
	size_t n;
	bool dashed;
};

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c",
				      "#ff7f0e", "#9467bd", "#8c564b",
				      "#e377c2", "#17becf"};

/* A round number >= v for an axis maximum. */
static double nice_max(double v)
{
	double p = 1;

	if (v <= 0)
		return 1;
	while (p * 10 <= v)
		p *= 10;
	while (p > v * 10)
		p /= 10;
	for (int k = 1; k <= 10; k++)
		if (p * k >= v)
			return p * k;
	return v;
}

static void svg_chart(FILE *f, const char *title, const char *xlabel,
		      const char *ylabel, const struct series *s, size_t ns,
		      double ymax_fixed)
{
	const double h = 300, l = 64, t = 30, b = 44;
	double w, r = 150, xmax = 0, ymax = ymax_fixed;

	/* The legend on the right is as wide as the longest name (a
	 * comparison's labels), about 6 px a character at 11 px. */
	for (size_t i = 0; i < ns; i++)
		if (30 + 6.2 * (double)strlen(s[i].name) > r)
			r = 30 + 6.2 * (double)strlen(s[i].name);
	w = 490 + r;

	for (size_t i = 0; i < ns; i++)
		for (size_t k = 0; k < s[i].n; k++) {
			if (s[i].x[k] > xmax)
				xmax = s[i].x[k];
			if (!ymax_fixed && s[i].y[k] > ymax)
				ymax = s[i].y[k];
		}
	xmax = nice_max(xmax);
	if (!ymax_fixed)
		ymax = nice_max(ymax);
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n"
		"<title>",
		w, h, w, h);
	html_text(f, title);
	fprintf(f,
		"</title>\n<text x=\"%.0f\" y=\"18\" font-size=\"14\" "
		"font-weight=\"bold\">",
		l);
	html_text(f, title);
	fputs("</text>\n", f);
	for (int g = 0; g <= 5; g++) {
		double y = t + (h - t - b) * (1 - g / 5.0);
		double x = l + (w - l - r) * g / 5.0;

		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\" "
			"stroke=\"#ddd\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
			"font-size=\"10\" text-anchor=\"end\">%g</text>\n"
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
			"text-anchor=\"middle\">%g</text>\n",
			l, y, w - r, y, l - 4, y + 3, ymax * g / 5, x,
			h - b + 14, xmax * g / 5);
	}
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
		"text-anchor=\"middle\">",
		l + (w - l - r) / 2, h - 8);
	html_text(f, xlabel);
	fprintf(f,
		"</text>\n<text x=\"14\" y=\"%.1f\" font-size=\"11\" "
		"text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">",
		t + (h - t - b) / 2, t + (h - t - b) / 2);
	html_text(f, ylabel);
	fputs("</text>\n", f);
	for (size_t i = 0; i < ns; i++) {
		const char *color = palette[i % 8];

		if (s[i].n) {
			fprintf(f,
				"<polyline fill=\"none\" stroke=\"%s\" "
				"stroke-width=\"2\"%s points=\"",
				color,
				s[i].dashed ? " stroke-dasharray=\"5,3\""
					    : "");
			for (size_t k = 0; k < s[i].n; k++) {
				double y = s[i].y[k] > ymax ? ymax : s[i].y[k];

				fprintf(f, "%.1f,%.1f ",
					l + (w - l - r) * s[i].x[k] / xmax,
					t + (h - t - b) * (1 - y / ymax));
			}
			fputs("\"/>\n", f);
		}
		fprintf(f,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" "
			"height=\"3\" "
			"fill=\"%s\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
			"font-size=\"11\">",
			w - r + 10, t + 14.0 * (double)i + 2, color,
			w - r + 26, t + 14.0 * (double)i + 6);
		html_text(f, s[i].name);
		fputs("</text>\n", f);
	}
	fputs("</svg>\n", f);
}

static const char *const css =
	"<style>body{font-family:sans-serif;margin:2em;max-width:60em}"
	"table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid "
	"#bbb;padding:3px 8px;text-align:right}th{background:#eee}"
	"td.l,th.l{text-align:left}.bad{color:#b00}</style>\n";

static void setup_block(const struct res_run *run, FILE *f)
{
	json_t *exp = json_object_get(json_object_get(run->setup, "topology"),
				      "experiment");
	const char *key;
	json_t *v;

	/* RFC 7502 asks every report to say how the test was set up. */
	fputs("<h2>Setup</h2>\n<table>\n", f);
	fputs("<tr><th class=l>topology</th><td class=l>", f);
	html_text(f, run->topology);
	fputs("</td></tr>\n<tr><th class=l>test</th><td class=l>", f);
	html_text(f, run->test);
	fputs("</td></tr>\n<tr><th class=l>transport</th><td class=l>", f);
	html_text(f, run->transport);
	fprintf(f,
		"</td></tr>\n<tr><th class=l>criteria</th><td class=l>success "
		"&ge; %.1f %%, average turnaround &le; %u ms; failures "
		"include no final response within Timer B/F (32 "
		"s)</td></tr>\n",
		run->success_threshold_pct, run->ta_limit_ms);
	v = json_object_get(run->setup, "connection");
	if (json_is_string(v)) {
		fputs("<tr><th class=l>connection reuse</th><td class=l>", f);
		html_text(f, json_string_value(v));
		fputs("</td></tr>\n", f);
	}
	json_object_foreach(exp, key, v)
	{
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		fputs("<tr><th class=l>", f);
		html_text(f, key);
		fputs("</th><td class=l>", f);
		html_text(f, text ? text : "");
		fputs("</td></tr>\n", f);
		free(text);
	}
	fputs("</table>\n", f);
}

/* Presence runs: NOTIFYs and requests per second against the offered
 * rate, and the NOTIFYs' delay.  y has room for three series. */
static void presence_charts(const struct res_run *run, FILE *f,
			    const double *x, double *y, struct series *s)
{
	size_t n = run->nsteps;
	double *a = y, *b = y + (n + 1), *c = y + 2 * (n + 1);

	for (size_t i = 0; i < n; i++) {
		a[i] = run->steps[i].notify_per_s;
		b[i] = run->steps[i].achieved;
		c[i] = run->steps[i].server_notify_per_s < 0
			       ? 0
			       : run->steps[i].server_notify_per_s;
	}
	s[0] = (struct series){"NOTIFYs delivered/s", x, a, n, false};
	s[1] = (struct series){"requests/s", x, b, n, false};
	s[2] = (struct series){"NOTIFYs sent by the servers/s", x, c, n, true};
	svg_chart(f, "NOTIFYs per second", "offered rate (/s)", "/s", s, 3, 0);
	for (size_t i = 0; i < n; i++) {
		a[i] = run->steps[i].notify_p50_ms;
		b[i] = run->steps[i].notify_p95_ms;
		c[i] = run->steps[i].notify_p99_ms;
	}
	s[0] = (struct series){"p50", x, a, n, false};
	s[1] = (struct series){"p95", x, b, n, false};
	s[2] = (struct series){"p99", x, c, n, false};
	svg_chart(f,
		  strcmp(run->test, "publish") ? "SUBSCRIBE to first NOTIFY"
					       : "PUBLISH to NOTIFY delay",
		  "offered rate (/s)", "ms", s, 3, 0);
}

int res_report_html(const struct res_run *run, FILE *f)
{
	size_t n = run->nsteps, np = run->nproxies;
	double *x = calloc(n + 1, sizeof(double));
	double *y = calloc((n + 1) * (np + 8), sizeof(double));
	struct series s[RES_MAX_PROXIES + 8];
	char names[RES_MAX_PROXIES][RES_NAME_MAX + 16];
	size_t ns = 0;

	if (!x || !y) {
		free(x);
		free(y);
		return ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		x[i] = run->steps[i].offered;
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	      "<title>",
	      f);
	html_text(f, run->id);
	fprintf(f, "</title>\n%s</head><body>\n<h1>", css);
	html_text(f, run->topology);
	fputs(": ", f);
	html_text(f, run->test);
	fputs(" over ", f);
	html_text(f, run->transport);
	fputs("</h1>\n<p>Run <code>", f);
	html_text(f, run->id);
	fputs("</code>, started ", f);
	html_text(f, run->started);
	fputs(" UTC, ", f);
	fprintf(f, "<b%s>",
		strcmp(run->status, "complete") ? " class=bad" : "");
	html_text(f, run->status);
	fputs("</b>", f);
	if (run->reason[0]) {
		fputs(": ", f);
		html_text(f, run->reason);
	}
	fprintf(f,
		".</p>\n<p><b>Capacity: %.0f/s</b> (the most a step that met "
		"the criteria delivered)",
		res_capacity(run));
	if (res_knee(run) > 0)
		fprintf(f, "; knee %.0f/s", res_knee(run));
	else
		fputs("; no knee within these steps", f);
	if (run->baseline > 0)
		fprintf(f, "; generators alone reached %.0f/s", run->baseline);
	else
		fputs("; generator baseline not measured", f);
	if (run->rfc7502_rate >= 0 && !strcmp(run->search, "bisect"))
		fprintf(f,
			"; zero-failure rate by bisection %.0f/s (%zu trials, "
			"within %u/s; a failure: no final 2xx within %u ms)",
			run->rfc7502_rate, run->nsteps, run->granularity,
			run->threshold_ms);
	else if (run->rfc7502_rate >= 0)
		fprintf(f,
			"; RFC 7502 zero-failure rate %.0f/s (%zu trials, "
			"within %u/s or %g%%; a failure: no final 2xx within "
			"%u ms)",
			run->rfc7502_rate, run->nsteps, run->granularity,
			run->granularity_pct, run->threshold_ms);
	else if (!strcmp(run->search, "rfc7502") && run->search_end[0]) {
		fputs("; RFC 7502 search: no answer (", f);
		html_text(f, run->search_end);
		fputs(")", f);
	}
	fputs(".</p>\n", f);
	if (res_capacity_aggregate(run) >= 0)
		fprintf(f,
			"<p><b>Presence: %.0f NOTIFYs/s</b> delivered at that "
			"step; aggregate %.0f requests + NOTIFYs per "
			"second.</p>\n",
			res_capacity_notify(run), res_capacity_aggregate(run));

	/* Seed Figures 3-6: success rate and each proxy's CPU. */
	for (size_t i = 0; i < n; i++)
		y[i] = run->steps[i].success_pct;
	s[ns++] = (struct series){"success %", x, y, n, false};
	for (size_t k = 0; k < np; k++) {
		double *yk = y + (k + 1) * (n + 1);

		for (size_t i = 0; i < n; i++)
			yk[i] = run->steps[i].proxy[k].cpu * 100;
		snprintf(names[k], sizeof(names[k]), "%s CPU %%",
			 run->proxy_names[k]);
		s[ns++] = (struct series){names[k], x, yk, n, true};
	}
	svg_chart(f, "Success rate and proxy CPU", "offered rate (/s)", "%", s,
		  ns, 100);
	/* Latency percentiles. */
	{
		double *p[4];
		static const char *const pn[] = {"p50", "p95", "p99", "max"};

		for (int q = 0; q < 4; q++)
			p[q] = y + (np + 1 + (size_t)q) * (n + 1);
		for (size_t i = 0; i < n; i++) {
			p[0][i] = run->steps[i].p50_ms;
			p[1][i] = run->steps[i].p95_ms;
			p[2][i] = run->steps[i].p99_ms;
			p[3][i] = run->steps[i].max_ms;
		}
		ns = 0;
		for (int q = 0; q < 4; q++)
			s[ns++] = (struct series){pn[q], x, p[q], n, q == 3};
		svg_chart(f, "Turnaround time", "offered rate (/s)", "ms", s,
			  ns, 0);
	}
	if (n && is_presence(run) && run->steps[0].notify_per_s >= 0)
		presence_charts(run, f, x, y + (np + 5) * (n + 1), s);
	/* Per-proxy share of requests (load sharing). */
	if (np > 1) {
		ns = 0;
		for (size_t k = 0; k < np; k++) {
			double *yk = y + (k + 1) * (n + 1);

			/* First-stage proxies see every request: no share. */
			if (n && run->steps[0].proxy[k].share < 0)
				continue;
			for (size_t i = 0; i < n; i++)
				yk[i] = run->steps[i].proxy[k].share < 0
						? 0
						: run->steps[i].proxy[k].share *
							  100;
			s[ns++] = (struct series){run->proxy_names[k], x, yk,
						  n, false};
		}
		if (ns > 1)
			svg_chart(f, "Share of requests per proxy",
				  "offered rate (/s)", "% of requests", s, ns,
				  100);
	}

	fputs("<h2>Steps</h2>\n<div style=\"overflow-x:auto\"><table>\n"
	      "<tr><th>offered/s</th>"
	      "<th>achieved/s</th><th>success %</th><th>TA avg ms</th>"
	      "<th>p50</th><th>p95</th><th>p99</th><th>max</th>"
	      "<th>timeouts</th><th>retrans.</th>",
	      f);
	for (size_t k = 0; k < np; k++) {
		fputs("<th>", f);
		html_text(f, run->proxy_names[k]);
		fputs(" CPU %</th>", f);
	}
	fputs("<th>passed</th></tr>\n", f);
	for (size_t i = 0; i < n; i++) {
		const struct res_step *st = &run->steps[i];

		fprintf(f,
			"<tr><td>%.0f</td><td>%.0f</td><td>%.2f</td>"
			"<td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"
			"<td>%.2f</td><td>%llu</td><td>%llu</td>",
			st->offered, st->achieved, st->success_pct,
			st->ta_avg_ms, st->p50_ms, st->p95_ms, st->p99_ms,
			st->max_ms, (unsigned long long)st->timeouts,
			(unsigned long long)st->retransmissions);
		for (size_t k = 0; k < np; k++)
			fprintf(f, "<td>%.1f</td>", st->proxy[k].cpu * 100);
		fprintf(f, "<td%s>%s%s%s%s</td></tr>\n",
			st->passed ? "" : " class=bad",
			st->passed ? "yes" : "no",
			st->generator_bound ? " (generator bound)" : "",
			st->phase[0] && strcmp(st->phase, "ramp") ? ", trial: "
								  : "",
			st->phase[0] && strcmp(st->phase, "ramp") ? st->phase
								  : "");
	}
	fputs("</table></div>\n", f);
	setup_block(run, f);
	fputs("<p>Files: summary.json, steps.csv, samples.csv, "
	      "logs/.</p>\n</body></html>\n",
	      f);
	free(x);
	free(y);
	return ferror(f) ? EIO : 0;
}

/* ---- comparison ---------------------------------------------------- */

/*
 * One run's experiment settings as "name" -> "value" strings, from the
 * file it ran with (overrides included: topo_override writes them
 * there).  users is its count, rate is START:STEP:FINAL; test and
 * transport come from the run itself, which always has them.
 */
static json_t *flat_settings(const struct res_run *run)
{
	json_t *exp = json_object_get(json_object_get(run->setup, "topology"),
				      "experiment");
	json_t *flat = json_object(), *v;
	const char *key;

	if (!flat)
		return NULL;
	json_object_set_new(flat, "test", json_string(run->test));
	json_object_set_new(flat, "transport", json_string(run->transport));
	json_object_foreach(exp, key, v)
	{
		char text[128];

		if (!strcmp(key, "test") || !strcmp(key, "transport"))
			continue;
		if (!strcmp(key, "rate") && json_is_object(v)) {
			snprintf(text, sizeof(text), "%g:%g:%g",
				 num(v, "start", 0), num(v, "step", 0),
				 num(v, "final", 0));
			json_object_set_new(flat, key, json_string(text));
		} else if (json_is_object(v)) {
			const char *sub;
			json_t *sv;

			json_object_foreach(v, sub, sv)
			{
				char name[96], *d;
				bool users_count;

				d = json_dumps(sv,
					       JSON_ENCODE_ANY | JSON_COMPACT);
				users_count = !strcmp(key, "users") &&
					      !strcmp(sub, "count");
				if (users_count)
					snprintf(name, sizeof(name), "users");
				else
					snprintf(name, sizeof(name), "%s.%s",
						 key, sub);
				json_object_set_new(flat, name,
						    json_string(d ? d : "?"));
				free(d);
			}
		} else {
			char *d =
				json_is_string(v)
					? strdup(json_string_value(v))
					: json_dumps(v, JSON_ENCODE_ANY |
								JSON_COMPACT);

			json_object_set_new(flat, key,
					    json_string(d ? d : "?"));
			free(d);
		}
	}
	return flat;
}

static void label_add(char *label, const char *name, const char *value)
{
	size_t len = strlen(label);

	/* A test or a transport reads alone ("s0p1 tcp"); a number needs
	 * its name ("s0p1 users=10000"). */
	if (!strcmp(name, "test") || !strcmp(name, "transport"))
		snprintf(label + len, RES_LABEL_MAX - len, " %s", value);
	else
		snprintf(label + len, RES_LABEL_MAX - len, " %s=%s", name,
			 value);
}

void res_compare_labels(const struct res_run *const *runs, size_t n,
			char (*labels)[RES_LABEL_MAX])
{
	json_t **flat = calloc(n + 1, sizeof(*flat));
	json_t *names = json_array();
	bool *same = calloc(n + 1, sizeof(*same));

	for (size_t i = 0; i < n; i++)
		snprintf(labels[i], RES_LABEL_MAX, "%s", runs[i]->topology);
	if (!flat || !names || !same)
		goto out;
	/* Every setting any run has, in the order they first appear. */
	for (size_t i = 0; i < n; i++) {
		const char *key;
		json_t *v;

		flat[i] = flat_settings(runs[i]);
		json_object_foreach(flat[i], key, v)
		{
			size_t k;

			for (k = 0; k < json_array_size(names); k++)
				if (!strcmp(json_string_value(
						    json_array_get(names, k)),
					    key))
					break;
			if (k == json_array_size(names))
				json_array_append_new(names, json_string(key));
		}
	}
	for (size_t k = 0; k < json_array_size(names); k++) {
		const char *name = json_string_value(json_array_get(names, k));
		const char *first =
			json_string_value(json_object_get(flat[0], name));
		bool varies = false;

		for (size_t i = 1; i < n && !varies; i++) {
			const char *v = json_string_value(
				json_object_get(flat[i], name));

			varies = !first != !v || (v && strcmp(v, first));
		}
		for (size_t i = 0; varies && i < n; i++) {
			const char *v = json_string_value(
				json_object_get(flat[i], name));

			label_add(labels[i], name, v ? v : "(default)");
		}
	}
	/* Runs that differ in nothing recorded are told apart by number. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (i != j && !strcmp(labels[i], labels[j]))
				same[i] = true;
	for (size_t i = 0; i < n; i++)
		if (same[i]) {
			size_t len = strlen(labels[i]);

			snprintf(labels[i] + len, RES_LABEL_MAX - len, " #%zu",
				 i + 1);
		}
out:
	for (size_t i = 0; flat && i < n; i++)
		json_decref(flat[i]);
	free(flat);
	free(same);
	json_decref(names);
}

/* Capacity relative to the first run's; 0 when that has none. */
static double ratio_to_first(const struct res_run *const *runs, size_t i)
{
	double base = res_capacity(runs[0]);

	return base > 0 ? res_capacity(runs[i]) / base : 0;
}

void res_compare_table(const struct res_run *const *runs, size_t n, FILE *f)
{
	char(*labels)[RES_LABEL_MAX] = calloc(n + 1, sizeof(*labels));
	bool presence = false;
	int width = 3;

	if (!labels)
		return;
	res_compare_labels(runs, n, labels);
	for (size_t i = 0; i < n; i++)
		if ((int)strlen(labels[i]) > width)
			width = (int)strlen(labels[i]);
	for (size_t i = 0; i < n; i++)
		presence |= is_presence(runs[i]);
	fprintf(f, "%-*s %-10s %-5s %10s %8s %10s  ", width, "run", "test",
		"tp", "capacity/s", "ratio", "knee/s");
	/* presence runs: the NOTIFYs at the capacity step, and the sum */
	if (presence)
		fprintf(f, "%10s %12s  ", "NOTIFY/s", "aggregate/s");
	fputs("status\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%-*s %-10s %-5s %10.0f %7.2fx %10.0f  ", width,
			labels[i], runs[i]->test, runs[i]->transport,
			res_capacity(runs[i]), ratio_to_first(runs, i),
			res_knee(runs[i]));
		if (presence && res_capacity_aggregate(runs[i]) >= 0)
			fprintf(f, "%10.0f %12.0f  ",
				res_capacity_notify(runs[i]),
				res_capacity_aggregate(runs[i]));
		else if (presence)
			fprintf(f, "%10s %12s  ", "-", "-");
		fprintf(f, "%s\n", runs[i]->status);
	}
	free(labels);
}

/* The seed's Figure 10: one bar per run, its capacity. */
static void svg_bars(FILE *f, const char *title, const char *ylabel,
		     char (*names)[RES_LABEL_MAX], const double *v, size_t n)
{
	const double bar = 44, gap = 16, t = 30, ph = 200;
	double l = 64, b, w, h, ymax = 0;
	size_t longest = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i] > ymax)
			ymax = v[i];
		if (strlen(names[i]) > longest)
			longest = strlen(names[i]);
	}
	/* The names run down-left at 45 degrees under the bars (about 6
	 * px a character at 10 px, 4.3 px each way): room below and, for
	 * the first, to the left. */
	b = 30 + 4.3 * (double)longest;
	if (4.3 * (double)longest - 40 > l)
		l = 4.3 * (double)longest - 40;
	w = l + (double)n * (bar + gap) + gap;
	h = t + ph + b;
	ymax = nice_max(ymax);
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n"
		"<title>",
		w, h, w, h);
	html_text(f, title);
	fprintf(f,
		"</title>\n<text x=\"%.0f\" y=\"18\" font-size=\"14\" "
		"font-weight=\"bold\">",
		l);
	html_text(f, title);
	fputs("</text>\n", f);
	for (int g = 0; g <= 5; g++) {
		double y = t + ph * (1 - g / 5.0);

		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\" stroke=\"#ddd\"/>\n<text x=\"%.1f\" "
			"y=\"%.1f\" font-size=\"10\" "
			"text-anchor=\"end\">%g</text>\n",
			l, y, w, y, l - 4, y + 3, ymax * g / 5);
	}
	fprintf(f,
		"<text x=\"14\" y=\"%.1f\" font-size=\"11\" "
		"text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">",
		t + ph / 2, t + ph / 2);
	html_text(f, ylabel);
	fputs("</text>\n", f);
	for (size_t i = 0; i < n; i++) {
		double x = l + gap + (double)i * (bar + gap);
		double bh = ph * v[i] / ymax;

		fprintf(f,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" "
			"height=\"%.1f\" fill=\"%s\"/>\n<text x=\"%.1f\" "
			"y=\"%.1f\" font-size=\"10\" "
			"text-anchor=\"middle\">%.0f</text>\n"
			"<text font-size=\"10\" text-anchor=\"end\" "
			"transform=\"translate(%.1f %.1f) rotate(-45)\">",
			x, t + ph - bh, bar, bh, palette[i % 8], x + bar / 2,
			t + ph - bh - 3, v[i], x + bar / 2 + 4, t + ph + 12);
		html_text(f, names[i]);
		fputs("</text>\n", f);
	}
	fputs("</svg>\n", f);
}

int res_compare_html(const struct res_run *const *runs, size_t n, FILE *f)
{
	char(*labels)[RES_LABEL_MAX] = NULL;
	struct series s[16] = {0};
	double *y[16] = {0}, cap[16];
	size_t ns = 0;
	int err = 0;

	if (n > 16)
		n = 16;
	labels = calloc(n + 1, sizeof(*labels));
	if (!labels)
		return ENOMEM;
	res_compare_labels(runs, n, labels);
	fprintf(f,
		"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		"<title>Comparison</title>\n%s</head><body>\n"
		"<h1>Comparison of %zu runs</h1>\n",
		css, n);
	/* The seed's Figure 7: success rate of every run on one chart. */
	for (size_t i = 0; i < n; i++) {
		const struct res_run *r = runs[i];
		double *x = calloc(r->nsteps + 1, sizeof(double));

		y[i] = calloc(r->nsteps + 1, sizeof(double));
		if (!x || !y[i]) {
			free(x);
			err = ENOMEM;
			goto out;
		}
		for (size_t k = 0; k < r->nsteps; k++) {
			x[k] = r->steps[k].offered;
			y[i][k] = r->steps[k].success_pct;
		}
		s[ns++] =
			(struct series){labels[i], x, y[i], r->nsteps, false};
		cap[i] = res_capacity(r);
	}
	svg_chart(f, "Success rate against offered rate", "offered rate (/s)",
		  "success %", s, ns, 100);
	svg_bars(f, "Capacity of each run", "capacity (/s)", labels, cap, n);
	fputs("<table>\n<tr><th class=l>run</th><th class=l>test</th>"
	      "<th class=l>transport</th><th>capacity/s</th>"
	      "<th>ratio to the first</th><th>knee/s</th>"
	      "<th class=l>status</th><th class=l>bundle</th></tr>\n",
	      f);
	for (size_t i = 0; i < n; i++) {
		bool complete = !strcmp(runs[i]->status, "complete");

		fputs("<tr><td class=l>", f);
		html_text(f, labels[i]);
		fputs("</td><td class=l>", f);
		html_text(f, runs[i]->test);
		fputs("</td><td class=l>", f);
		html_text(f, runs[i]->transport);
		fprintf(f,
			"</td><td>%.0f</td><td>%.2f&times;</td><td>%.0f</td>"
			"<td class=l>",
			cap[i], ratio_to_first(runs, i), res_knee(runs[i]));
		html_text(f, runs[i]->status);
		if (runs[i]->reason[0] && !complete) {
			fputs(": ", f);
			html_text(f, runs[i]->reason);
		}
		fputs("</td><td class=l>", f);
		html_text(f, runs[i]->id);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n</body></html>\n", f);
	err = ferror(f) ? EIO : 0;
out:
	for (size_t i = 0; i < n; i++) {
		free((void *)s[i].x);
		free(y[i]);
	}
	free(labels);
	return err;
}

/* ---- the bundle ---------------------------------------------------- */

static int write_with(const char *dir, const char *name,
		      int (*fn)(const struct res_run *, FILE *),
		      const struct res_run *run)
{
	char path[1024];
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return errno;
	err = fn(run, f);
	if (fclose(f) != 0 && !err)
		err = errno;
	return err;
}

static int steps_csv(const struct res_run *run, FILE *f)
{
	write_steps_csv(run, f);
	return ferror(f) ? EIO : 0;
}

static int samples_csv(const struct res_run *run, FILE *f)
{
	write_samples_csv(run, f);
	return ferror(f) ? EIO : 0;
}

static int summary(const struct res_run *run, FILE *f)
{
	json_t *j = run_json(run);
	int rc;

	if (!j)
		return ENOMEM;
	rc = json_dumpf(j, f, JSON_INDENT(1));
	fputc('\n', f);
	json_decref(j);
	return rc ? EIO : 0;
}

int res_write(const struct res_run *run, const char *dir)
{
	int err;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return errno;
	err = write_with(dir, "summary.json", summary, run);
	if (!err)
		err = write_with(dir, "steps.csv", steps_csv, run);
	if (!err)
		err = write_with(dir, "samples.csv", samples_csv, run);
	if (!err)
		err = write_with(dir, "report.html", res_report_html, run);
	return err;
}

int res_pack(const char *dir)
{
	char parent[1024], archive[1100];
	const char *base;
	pid_t pid;
	int status;

	snprintf(parent, sizeof(parent), "%s", dir);
	base = strrchr(parent, '/');
	if (base) {
		parent[base - parent] = '\0';
		base = dir + (base - parent) + 1;
		if (!parent[0])
			snprintf(parent, sizeof(parent), "/");
	} else {
		snprintf(parent, sizeof(parent), ".");
		base = dir;
	}
	snprintf(archive, sizeof(archive), "%s.tar.gz", dir);
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		execlp("tar", "tar", "-C", parent, "-czf", archive, base,
		       (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EIO;
}
