#include "res_compare.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "res_figures.h"
#include "res_html.h"
#include "res_repeat.h"
#include "res_verdict.h"
#include "results.h"

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
				 res_json_number(v, "start", 0),
				 res_json_number(v, "step", 0),
				 res_json_number(v, "final", 0));
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

struct res_group *res_compare_groups(const struct res_run *const *runs,
				     size_t n, size_t *ngroups)
{
	char(*labels)[RES_LABEL_MAX] = calloc(n + 1, sizeof(*labels));
	const char **names = calloc(n + 1, sizeof(*names));
	struct res_group *g = NULL;

	if (labels && names) {
		res_compare_labels(runs, n, labels);
		for (size_t i = 0; i < n; i++)
			names[i] = labels[i];
		g = res_repeat_groups(runs, names, n, ngroups);
	}
	free(labels);
	free(names);
	return g;
}

/* The knee of a group as text: its runs' median knee, or "none below
 * N" (N the highest rate any of them offered) when none had one. */
static void knee_text(const struct res_run *const *runs,
		      const struct res_group *g, char *out, size_t size)
{
	double v[64], top = 0;
	size_t n = 0;

	for (size_t i = 0; i < g->n; i++) {
		const struct res_run *r = runs[g->runs[i]];

		if (res_knee(r) >= 0 && n < 64)
			v[n++] = res_knee(r);
		for (size_t k = 0; k < r->nsteps; k++)
			if (r->steps[k].offered > top)
				top = r->steps[k].offered;
	}
	if (n) {
		struct res_spread sp;

		res_spread_of(v, n, &sp);
		snprintf(out, size, "%.0f", sp.median);
	} else if (top > 0) {
		snprintf(out, size, "none below %.0f", top);
	} else {
		snprintf(out, size, "-");
	}
}

/* A group's capacity as text: ">= 30000" (the median of its runs). */
static void capacity_text(const struct res_group *g, char *out, size_t size)
{
	if (!strcmp(g->bound, "mixed"))
		snprintf(out, size, "~%.0f", g->capacity.median);
	else
		snprintf(out, size, "%s%.0f", g->bound, g->capacity.median);
}

static void ratio_text(const struct res_group *g, char *out, size_t size)
{
	if (g->ratio_ok)
		snprintf(out, size, "%s%.2fx", g->ratio_prefix,
			 g->ratio.median);
	else
		snprintf(out, size, "n/c");
}

/* "median 21000, min 20500, max 21400 (3 runs); 95 % interval of the
 * mean 20800-21200" */
static void spread_text(const struct res_spread *s, const char *unit,
			char *out, size_t size)
{
	int len = snprintf(out, size, "median %.*f%s, min %.*f%s, max %.*f%s",
			   *unit ? 2 : 0, s->median, unit, *unit ? 2 : 0,
			   s->min, unit, *unit ? 2 : 0, s->max, unit);

	if (s->has_ci && len > 0 && (size_t)len < size)
		snprintf(out + len, size - (size_t)len,
			 "; 95 %% interval of the mean %.*f-%.*f%s (t, %zu "
			 "runs)",
			 *unit ? 2 : 0, s->ci_low, *unit ? 2 : 0, s->ci_high,
			 unit, s->n);
}

/* Below the table: each repeated configuration's spread, what bounded
 * each run that is not the servers', and the ratios that mean
 * nothing. */
static void table_notes(const struct res_run *const *runs,
			const struct res_group *g, size_t ng, FILE *f)
{
	char a[200], b[200];

	for (size_t k = 0; k < ng; k++) {
		if (g[k].n < 2)
			continue;
		spread_text(&g[k].capacity, "", a, sizeof(a));
		fprintf(f, "%s: capacity/s %s", g[k].label, a);
		if (g[k].ratio_ok && k) {
			spread_text(&g[k].ratio, "x", b, sizeof(b));
			fprintf(f, "; ratio %s%s", g[k].ratio_prefix, b);
		}
		fputc('\n', f);
	}
	for (size_t k = 0; k < ng; k++)
		for (size_t i = 0; i < g[k].n; i++) {
			const struct res_run *r = runs[g[k].runs[i]];
			struct res_verdict v;

			res_verdict_of(r, &v);
			if (!v.name || !strcmp(v.name, "server"))
				continue;
			fprintf(f, "%s%s: %s (%s): %s\n", g[k].label,
				g[k].n > 1 ? " run" : "", v.name,
				v.bound == RES_BOUND_LOWER ? "a lower bound"
							   : "an upper bound",
				v.reason);
			break; /* one reason per configuration */
		}
	for (size_t k = 1; k < ng; k++)
		if (!g[k].ratio_ok)
			fprintf(f, "not comparable: %s with %s: %s\n",
				g[k].label, g[0].label, g[k].why);
}

/* Whether a run of runs is a sipstone run: SIPstone-A then comes
 * first, right after the run's name. */
static bool any_sipstone(const struct res_run *const *runs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (runs[i]->sipstone)
			return true;
	return false;
}

/* SIPstone-A as a table cell: "-" when the run has none. */
static void sipstone_cell(FILE *f, const struct res_run *run, int width)
{
	if (run->sipstone_a >= 0)
		fprintf(f, "%*.0f ", width, run->sipstone_a);
	else
		fprintf(f, "%*s ", width, "-");
}

void res_compare_table(const struct res_run *const *runs, size_t n, FILE *f)
{
	size_t ng = 0;
	struct res_group *g = res_compare_groups(runs, n, &ng);
	bool presence = false, repeated, sipstone = any_sipstone(runs, n);
	int width = 3;

	if (!g)
		return;
	repeated = res_repeat_any(g, ng);
	for (size_t k = 0; k < ng; k++)
		if ((int)strlen(g[k].label) + (repeated ? 8 : 0) > width)
			width = (int)strlen(g[k].label) + (repeated ? 8 : 0);
	for (size_t i = 0; i < n; i++)
		presence |= res_is_presence(runs[i]);
	fprintf(f, "%-*s ", width, "run");
	if (sipstone)
		fprintf(f, "%12s ", "SIPstone-A/s");
	fprintf(f, "%-10s %-5s %10s %8s %16s %-7s ", "test", "tp",
		"capacity/s", "ratio", "knee/s", "verdict");
	/* presence runs: the NOTIFYs at the capacity step, and the sum */
	if (presence)
		fprintf(f, "%10s %12s  ", "NOTIFY/s", "aggregate/s");
	fputs("status\n", f);
	for (size_t k = 0; k < ng; k++) {
		const struct res_run *r = runs[g[k].runs[0]];
		char label[RES_LABEL_MAX + 16], cap[32], ratio[32], knee[40];

		snprintf(label, sizeof(label), "%s", g[k].label);
		if (g[k].n > 1)
			snprintf(label, sizeof(label), "%s (x%zu)", g[k].label,
				 g[k].n);
		capacity_text(&g[k], cap, sizeof(cap));
		ratio_text(&g[k], ratio, sizeof(ratio));
		knee_text(runs, &g[k], knee, sizeof(knee));
		fprintf(f, "%-*s ", width, label);
		if (sipstone)
			sipstone_cell(f, r, 12);
		fprintf(f, "%-10s %-5s %10s %8s %16s %-7s ", r->test,
			r->transport, cap, ratio, knee, g[k].verdict);
		if (presence && g[k].n == 1 && res_capacity_aggregate(r) >= 0)
			fprintf(f, "%10.0f %12.0f  ", res_capacity_notify(r),
				res_capacity_aggregate(r));
		else if (presence)
			fprintf(f, "%10s %12s  ", "-", "-");
		fprintf(f, "%s\n", r->status);
	}
	table_notes(runs, g, ng, f);
	res_repeat_free(g, ng);
}

/* The runs' table: one row per configuration, its capacity with the
 * bound, the spread of repetitions, the verdict; then the notes (what
 * bounded, what is not comparable) and the figures as JSON for
 * scripts and charts (res_repeat_json). */
static int html_table(const struct res_run *const *runs, size_t n, FILE *f)
{
	size_t ng = 0;
	struct res_group *g = res_compare_groups(runs, n, &ng);
	char *data;
	json_t *j;

	if (!g)
		return ENOMEM;
	fputs("<table>\n<tr><th class=l>run</th>", f);
	if (any_sipstone(runs, n))
		fputs("<th>SIPstone-A/s</th>", f);
	fputs("<th class=l>test</th>"
	      "<th class=l>transport</th><th>capacity/s</th>"
	      "<th>ratio to the first</th><th>knee/s</th>"
	      "<th class=l>verdict</th><th class=l>spread "
	      "(repetitions)</th><th class=l>status</th><th "
	      "class=l>bundles</th></tr>\n",
	      f);
	for (size_t k = 0; k < ng; k++) {
		const struct res_run *r = runs[g[k].runs[0]];
		char cap[32], knee[40], spread[400] = "";

		capacity_text(&g[k], cap, sizeof(cap));
		knee_text(runs, &g[k], knee, sizeof(knee));
		if (g[k].n > 1)
			spread_text(&g[k].capacity, "", spread,
				    sizeof(spread));
		fputs("<tr><td class=l>", f);
		res_html_text(f, g[k].label);
		if (any_sipstone(runs, n) && r->sipstone_a >= 0)
			fprintf(f, "</td><td>%.0f", r->sipstone_a);
		else if (any_sipstone(runs, n))
			fputs("</td><td>-", f);
		fputs("</td><td class=l>", f);
		res_html_text(f, r->test);
		fputs("</td><td class=l>", f);
		res_html_text(f, r->transport);
		fputs("</td><td>", f);
		res_html_text(f, cap);
		fputs("</td><td>", f);
		if (g[k].ratio_ok) {
			res_html_text(f, g[k].ratio_prefix);
			fprintf(f, "%.2f&times;", g[k].ratio.median);
		} else {
			fputs("n/c", f);
		}
		fputs("</td><td>", f);
		res_html_text(f, knee);
		fputs("</td><td class=l>", f);
		res_html_text(f, g[k].verdict);
		fputs("</td><td class=l>", f);
		res_html_text(f, spread);
		fputs("</td><td class=l>", f);
		for (size_t i = 0; i < g[k].n; i++) {
			const struct res_run *ri = runs[g[k].runs[i]];

			res_html_text(f, ri->status);
			if (ri->reason[0] && strcmp(ri->status, "complete")) {
				fputs(": ", f);
				res_html_text(f, ri->reason);
			}
			fputs(i + 1 < g[k].n ? ", " : "", f);
		}
		fputs("</td><td class=l>", f);
		for (size_t i = 0; i < g[k].n; i++) {
			res_html_text(f, runs[g[k].runs[i]]->id);
			fputs(i + 1 < g[k].n ? " " : "", f);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
	{
		char *notes = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&notes, &len);

		if (m) {
			table_notes(runs, g, ng, m);
			fclose(m);
			fputs("<pre>", f);
			res_html_text(f, notes ? notes : "");
			fputs("</pre>\n", f);
		}
		free(notes);
	}
	j = res_repeat_json(runs, g, ng);
	data = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (data) {
		/* "</" cannot occur: labels and ids are escaped by jansson
		 * only as JSON, so it is replaced here. */
		fputs("<script type=\"application/json\" "
		      "id=\"sipstone-figures\">",
		      f);
		for (const char *c = data; *c; c++)
			if (c[0] == '<' && c[1] == '/')
				fputs("<\\", f);
			else
				fputc(*c, f);
		fputs("</script>\n", f);
	}
	free(data);
	json_decref(j);
	res_repeat_free(g, ng);
	return 0;
}

int res_compare_html(const struct res_run *const *runs, size_t n, FILE *f)
{
	char(*labels)[RES_LABEL_MAX] = NULL;
	int err = 0;

	if (n > 16)
		n = 16;
	labels = calloc(n + 1, sizeof(*labels));
	if (!labels)
		return ENOMEM;
	res_compare_labels(runs, n, labels);
	res_html_page_open(f, "Comparison");
	fprintf(f, "<h1>Comparison of %zu runs</h1>\n", n);
	/* The seed's figures: Figure 7 (throughput of every run on one
	 * chart), the proxies' CPU, turnaround, capacity bars. */
	{
		const char **names = calloc(n + 1, sizeof(*names));

		for (size_t i = 0; names && i < n; i++)
			names[i] = labels[i];
		err = names ? res_figures_compare(runs, n, names, f) : ENOMEM;
		free(names);
	}
	if (err)
		goto out;
	err = html_table(runs, n, f);
	if (err)
		goto out;
	fputs("</body></html>\n", f);
	err = ferror(f) ? EIO : 0;
out:
	free(labels);
	return err;
}