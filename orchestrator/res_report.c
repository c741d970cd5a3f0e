#include "res_report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "res_figures.h"
#include "res_html.h"
#include "res_verdict.h"
#include "results.h"

static void setup_block(const struct res_run *run, FILE *f)
{
	json_t *exp = json_object_get(json_object_get(run->setup, "topology"),
				      "experiment");
	const char *key;
	json_t *v;

	/* RFC 7502 asks every report to say how the test was set up. */
	fputs("<h2>Setup</h2>\n<table>\n", f);
	fputs("<tr><th class=l>topology</th><td class=l>", f);
	res_html_text(f, run->topology);
	fputs("</td></tr>\n<tr><th class=l>test</th><td class=l>", f);
	res_html_text(f, run->test);
	fputs("</td></tr>\n<tr><th class=l>transport</th><td class=l>", f);
	res_html_text(f, run->transport);
	fprintf(f,
		"</td></tr>\n<tr><th class=l>criteria</th><td class=l>success "
		"&ge; %.1f %%, average turnaround &le; %u ms; failures "
		"include no final response within Timer B/F (32 "
		"s)</td></tr>\n",
		run->success_threshold_pct, run->ta_limit_ms);
	v = json_object_get(run->setup, "connection");
	if (json_is_string(v)) {
		fputs("<tr><th class=l>connection reuse</th><td class=l>", f);
		res_html_text(f, json_string_value(v));
		fputs("</td></tr>\n", f);
	}
	json_object_foreach(exp, key, v)
	{
		char *text;

		/* Each setting once: the run's own are above. */
		if (!strcmp(key, "test") || !strcmp(key, "transport"))
			continue;
		text = json_is_string(v)
			       ? strdup(json_string_value(v))
			       : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT |
						       JSON_REAL_PRECISION(6));

		fputs("<tr><th class=l>", f);
		res_html_text(f, key);
		fputs("</th><td class=l>", f);
		res_html_text(f, text ? text : "");
		fputs("</td></tr>\n", f);
		free(text);
	}
	fputs("</table>\n", f);
}

/* Presence runs: NOTIFYs and requests per second against the offered
 * rate, and the NOTIFYs' delay.  y has room for three series. */
static void presence_charts(const struct res_run *run, FILE *f,
			    const double *x, double *y,
			    struct res_html_series *s)
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
	s[0] = res_html_line("NOTIFYs delivered/s", x, a, n, false);
	s[1] = res_html_line("requests/s", x, b, n, false);
	s[2] = res_html_line("NOTIFYs sent by the servers/s", x, c, n, true);
	res_html_chart(f, "NOTIFYs per second", "offered rate (/s)", "/s", s,
		       3, 0);
	for (size_t i = 0; i < n; i++) {
		a[i] = run->steps[i].notify_p50_ms;
		b[i] = run->steps[i].notify_p95_ms;
		c[i] = run->steps[i].notify_p99_ms;
	}
	s[0] = res_html_line("p50", x, a, n, false);
	s[1] = res_html_line("p95", x, b, n, false);
	s[2] = res_html_line("p99", x, c, n, false);
	res_html_chart(f,
		       strcmp(run->test, "publish") ? "SUBSCRIBE to first "
						      "NOTIFY"
						    : "PUBLISH to NOTIFY "
						      "delay",
		       "offered rate (/s)", "ms", s, 3, 0);
}

/* The title, the run's outcome and its headline figures. */
/* sipstone: SIPstone-A and each test's rate and weight. */
static void sipstone_block(const struct res_run *run, FILE *f)
{
	json_t *tests = json_object_get(run->sipstone, "tests"), *t;
	size_t i;

	if (run->sipstone_a >= 0)
		fprintf(f, "<p><b>SIPstone-A: %.1f/s</b>", run->sipstone_a);
	else
		fputs("<p><b>SIPstone-A: none</b> (a test did not finish)", f);
	fputs(", the weighted average of the tests' rates:", f);
	json_array_foreach(tests, i, t)
	{
		json_t *rate = json_object_get(t, "rate");

		fputs(i ? ", " : " ", f);
		res_html_text(f, json_string_value(json_object_get(t, "test"))
					 ?: "?");
		if (json_is_number(rate))
			fprintf(f, " %.0f/s", json_number_value(rate));
		else
			fputs(" none", f);
		fprintf(f, " (weight %g)", res_json_number(t, "weight", 0));
	}
	fputs(".</p>\n", f);
}

static void report_heading(const struct res_run *run, FILE *f)
{
	struct res_verdict v;
	char cap[48];
	double top = 0;

	for (size_t i = 0; i < run->nsteps; i++)
		if (run->steps[i].offered > top)
			top = run->steps[i].offered;
	res_html_page_open(f, run->id);
	fputs("<h1>", f);
	res_html_text(f, run->topology);
	fputs(": ", f);
	res_html_text(f, run->test);
	fputs(" over ", f);
	res_html_text(f, run->transport);
	fputs("</h1>\n<p>Run <code>", f);
	res_html_text(f, run->id);
	fputs("</code>, started ", f);
	res_html_text(f, run->started);
	fputs(" UTC, ", f);
	fprintf(f, "<b%s>",
		strcmp(run->status, "complete") ? " class=bad" : "");
	res_html_text(f, run->status);
	fputs("</b>", f);
	if (run->reason[0]) {
		fputs(": ", f);
		res_html_text(f, run->reason);
	}
	res_verdict_of(run, &v);
	res_verdict_capacity_text(&v, cap, sizeof(cap));
	fputs(".</p>\n<p><b>Capacity: ", f);
	res_html_text(f, cap);
	fputs("/s</b> (the most a step that met the criteria delivered)", f);
	if (res_knee(run) >= 0)
		fprintf(f, "; knee %.0f/s", res_knee(run));
	else
		fprintf(f, "; knee: none below %.0f/s", top);
	if (run->baseline > 0)
		fprintf(f, "; generators alone reached %s%.0f/s",
			strcmp(run->baseline_bound, "lower") ? ""
							     : "at least ",
			run->baseline);
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
		res_html_text(f, run->search_end);
		fputs(")", f);
	}
	fputs(".</p>\n", f);
	if (run->sipstone)
		sipstone_block(run, f);
	if (res_capacity_aggregate(run) >= 0)
		fprintf(f,
			"<p><b>Presence: %.0f NOTIFYs/s</b> delivered at that "
			"step; aggregate %.0f requests + NOTIFYs per "
			"second.</p>\n",
			res_capacity_notify(run), res_capacity_aggregate(run));
	if (v.name) {
		fprintf(f, "<p><b%s>Verdict: ",
			strcmp(v.name, "server") ? " class=bad" : "");
		res_html_text(f, v.name);
		fputs("</b> (", f);
		res_html_text(f, v.bound == RES_BOUND_EXACT   ? "the servers' "
								"figure"
				 : v.bound == RES_BOUND_LOWER ? "a lower bound"
							      : "an upper "
								"bound");
		fputs("): ", f);
		res_html_text(f, v.reason);
		fputs(".</p>\n", f);
	}
}

/* The charts against the offered rate; x holds the steps' offered
 * rates, y room for (nproxies + 8) series of nsteps + 1. */
static void report_charts(const struct res_run *run, FILE *f, const double *x,
			  double *y)
{
	size_t n = run->nsteps, np = run->nproxies;
	struct res_html_series s[RES_MAX_PROXIES + 8];
	char names[RES_MAX_PROXIES][RES_NAME_MAX + 16];
	size_t ns = 0;

	/* Seed Figures 3-6: success rate and each proxy's CPU. */
	for (size_t i = 0; i < n; i++)
		y[i] = run->steps[i].success_pct;
	s[ns++] = res_html_line("success %", x, y, n, false);
	for (size_t k = 0; k < np; k++) {
		double *yk = y + (k + 1) * (n + 1);

		for (size_t i = 0; i < n; i++)
			yk[i] = run->steps[i].proxy[k].cpu * 100;
		snprintf(names[k], sizeof(names[k]), "%s CPU %%",
			 run->proxy_names[k]);
		s[ns++] = res_html_line(names[k], x, yk, n, true);
	}
	res_html_chart(f, "Success rate and proxy CPU", "offered rate (/s)",
		       "%", s, ns, 100);
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
			s[ns++] = res_html_line(pn[q], x, p[q], n, q == 3);
		res_html_chart(f, "Turnaround time", "offered rate (/s)", "ms",
			       s, ns, 0);
	}
	if (n && res_is_presence(run) && run->steps[0].notify_per_s >= 0)
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
			s[ns++] = res_html_line(run->proxy_names[k], x, yk, n,
						false);
		}
		if (ns > 1)
			res_html_chart(f, "Share of requests per proxy",
				       "offered rate (/s)", "% of requests", s,
				       ns, 100);
	}
}

/* One row per step, each proxy's CPU beside the RFC 6076 figures. */
static void steps_table(const struct res_run *run, FILE *f)
{
	size_t n = run->nsteps, np = run->nproxies;

	/* Fixed layout, small type, headers that wrap: the table fits the
	 * page's width whatever the number of proxies. */
	fputs("<h2>Steps</h2>\n<table class=steps>\n"
	      "<tr><th>offered /s</th>"
	      "<th>achieved /s</th><th>attempts</th><th>in flight at the "
	      "end</th><th>success %</th><th>TA avg ms</th>"
	      "<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th>"
	      "<th>timeouts</th><th>retrans.</th>",
	      f);
	for (size_t k = 0; k < np; k++) {
		fputs("<th>", f);
		res_html_text(f, run->proxy_names[k]);
		fputs(" CPU %</th>", f);
	}
	fputs("<th>other work % of a machine</th><th>passed</th></tr>\n", f);
	for (size_t i = 0; i < n; i++) {
		const struct res_step *st = &run->steps[i];

		fprintf(f,
			"<tr><td>%.0f</td><td>%.0f</td><td>%llu</td>"
			"<td>%llu</td><td>%.2f</td>"
			"<td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"
			"<td>%.2f</td><td>%llu</td><td>%llu</td>",
			st->offered, st->achieved,
			(unsigned long long)st->attempts,
			(unsigned long long)st->in_flight, st->success_pct,
			st->ta_avg_ms, st->p50_ms, st->p95_ms, st->p99_ms,
			st->max_ms, (unsigned long long)st->timeouts,
			(unsigned long long)st->retransmissions);
		for (size_t k = 0; k < np; k++)
			fprintf(f, "<td>%.1f</td>", st->proxy[k].cpu * 100);
		if (st->mach_others < 0)
			fputs("<td>-</td>", f);
		else {
			fprintf(f, "<td%s title=\"",
				st->interfered ? " class=bad" : "");
			res_html_text(f, st->mach_hosts);
			fprintf(f, "\">%.0f%s</td>",
				(st->mach_others + st->mach_steal) * 100,
				st->interfered ? " interfered" : "");
		}
		fprintf(f, "<td%s>%s%s%s%s</td></tr>\n",
			st->passed ? "" : " class=bad",
			st->passed ? "yes" : "no",
			st->generator_bound ? " (generator bound)" : "",
			st->phase[0] && strcmp(st->phase, "ramp") ? ", trial: "
								  : "",
			st->phase[0] && strcmp(st->phase, "ramp") ? st->phase
								  : "");
	}
	fputs("</table>\n", f);
}

int res_report_html(const struct res_run *run, FILE *f)
{
	size_t n = run->nsteps, np = run->nproxies;
	double *x = calloc(n + 1, sizeof(double));
	double *y = calloc((n + 1) * (np + 8), sizeof(double));

	if (!x || !y) {
		free(x);
		free(y);
		return ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		x[i] = run->steps[i].offered;
	report_heading(run, f);
	res_figures_report(run, f);
	report_charts(run, f, x, y);
	steps_table(run, f);
	setup_block(run, f);
	fputs("<p>Files: summary.json, steps.csv, samples.csv, "
	      "logs/.</p>\n</body></html>\n",
	      f);
	free(x);
	free(y);
	return ferror(f) ? EIO : 0;
}