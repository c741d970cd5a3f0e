#include "res_compare.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "res_figures.h"
#include "res_html.h"
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

/* Capacity relative to the first run's; 0 when that has none. */
static double ratio_to_first(const struct res_run *const *runs, size_t i)
{
	double base = res_capacity(runs[0]);

	return base > 0 ? res_capacity(runs[i]) / base : 0;
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
	char(*labels)[RES_LABEL_MAX] = calloc(n + 1, sizeof(*labels));
	bool presence = false, sipstone = any_sipstone(runs, n);
	int width = 3;

	if (!labels)
		return;
	res_compare_labels(runs, n, labels);
	for (size_t i = 0; i < n; i++)
		if ((int)strlen(labels[i]) > width)
			width = (int)strlen(labels[i]);
	for (size_t i = 0; i < n; i++)
		presence |= res_is_presence(runs[i]);
	fprintf(f, "%-*s ", width, "run");
	if (sipstone)
		fprintf(f, "%12s ", "SIPstone-A/s");
	fprintf(f, "%-10s %-5s %10s %8s %10s  ", "test", "tp", "capacity/s",
		"ratio", "knee/s");
	/* presence runs: the NOTIFYs at the capacity step, and the sum */
	if (presence)
		fprintf(f, "%10s %12s  ", "NOTIFY/s", "aggregate/s");
	fputs("status\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%-*s ", width, labels[i]);
		if (sipstone)
			sipstone_cell(f, runs[i], 12);
		fprintf(f, "%-10s %-5s %10.0f %7.2fx %10.0f  ", runs[i]->test,
			runs[i]->transport, res_capacity(runs[i]),
			ratio_to_first(runs, i), res_knee(runs[i]));
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

int res_compare_html(const struct res_run *const *runs, size_t n, FILE *f)
{
	char(*labels)[RES_LABEL_MAX] = NULL;
	double cap[16];
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
	for (size_t i = 0; i < n; i++)
		cap[i] = res_capacity(runs[i]);
	fputs("<table>\n<tr><th class=l>run</th>", f);
	if (any_sipstone(runs, n))
		fputs("<th>SIPstone-A/s</th>", f);
	fputs("<th class=l>test</th>"
	      "<th class=l>transport</th><th>capacity/s</th>"
	      "<th>ratio to the first</th><th>knee/s</th>"
	      "<th class=l>status</th><th class=l>bundle</th></tr>\n",
	      f);
	for (size_t i = 0; i < n; i++) {
		bool complete = !strcmp(runs[i]->status, "complete");

		fputs("<tr><td class=l>", f);
		res_html_text(f, labels[i]);
		if (any_sipstone(runs, n) && runs[i]->sipstone_a >= 0)
			fprintf(f, "</td><td>%.0f", runs[i]->sipstone_a);
		else if (any_sipstone(runs, n))
			fputs("</td><td>-", f);
		fputs("</td><td class=l>", f);
		res_html_text(f, runs[i]->test);
		fputs("</td><td class=l>", f);
		res_html_text(f, runs[i]->transport);
		fprintf(f,
			"</td><td>%.0f</td><td>%.2f&times;</td><td>%.0f</td>"
			"<td class=l>",
			cap[i], ratio_to_first(runs, i), res_knee(runs[i]));
		res_html_text(f, runs[i]->status);
		if (runs[i]->reason[0] && !complete) {
			fputs(": ", f);
			res_html_text(f, runs[i]->reason);
		}
		fputs("</td><td class=l>", f);
		res_html_text(f, runs[i]->id);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n</body></html>\n", f);
	err = ferror(f) ? EIO : 0;
out:
	free(labels);
	return err;
}