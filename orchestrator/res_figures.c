#include "res_figures.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "res_html.h"
#include "results.h"

/* A run's name in a chart (as res_compare.h's labels). */
#define FIG_LABEL_MAX 160

/* Series a chart holds at most (runs x proxies). */
#define FIG_SERIES_MAX 48

/* summary.json's "bound" of run, or "" (an older bundle). */
static const char *bound_of(const struct res_run *run)
{
	json_t *b = json_object_get(run->loaded, "bound");

	return json_is_string(b) ? json_string_value(b) : "";
}

bool res_figures_is_lower(const struct res_run *run)
{
	return !strcmp(bound_of(run), "lower");
}

/* "upper": the first step already failed, the capacity is below it. */
static bool is_upper(const struct res_run *run)
{
	return !strcmp(bound_of(run), "upper");
}

/* A repetition: "of" > 1 in summary.json's "repeat", else 0. */
static unsigned repeat_of(const struct res_run *run)
{
	return (unsigned)res_json_number(json_object_get(run->loaded, "repe"
								      "at"),
					 "of", 0);
}

/* What a chart draws of each step of a run. */
enum fig_value {
	FIG_ACHIEVED,
	FIG_SUCCESS,
	FIG_P50,
	FIG_P95,
	FIG_P99,
	FIG_CPU, /* + the proxy's index */
};

static double step_value(const struct res_step *s, int v)
{
	switch (v) {
	case FIG_ACHIEVED:
		return s->achieved;
	case FIG_SUCCESS:
		return s->success_pct;
	case FIG_P50:
		return s->p50_ms;
	case FIG_P95:
		return s->p95_ms;
	case FIG_P99:
		return s->p99_ms;
	default:
		return s->proxy[v - FIG_CPU].cpu * 100;
	}
}

/* The arrays a chart's series borrow, freed together. */
struct fig_arrays {
	double *a[2 * FIG_SERIES_MAX];
	bool *flags[FIG_SERIES_MAX];
	size_t n, nflags;
};

static void arrays_free(struct fig_arrays *fa)
{
	for (size_t i = 0; i < fa->n; i++)
		free(fa->a[i]);
	for (size_t i = 0; i < fa->nflags; i++)
		free(fa->flags[i]);
	fa->n = fa->nflags = 0;
}

/* Series *s of run's value v against its offered rate; ENOMEM. */
static int series_of(struct fig_arrays *fa, const struct res_run *run, int v,
		     struct res_html_series *s)
{
	size_t n = run->nsteps;
	double *x, *y;
	bool *flag;

	if (fa->n + 2 > 2 * FIG_SERIES_MAX || fa->nflags == FIG_SERIES_MAX)
		return ENOMEM;
	x = calloc(n + 1, sizeof(*x));
	y = calloc(n + 1, sizeof(*y));
	flag = calloc(n + 1, sizeof(*flag));
	if (!x || !y || !flag) {
		free(x);
		free(y);
		free(flag);
		return ENOMEM;
	}
	fa->a[fa->n++] = x;
	fa->a[fa->n++] = y;
	fa->flags[fa->nflags++] = flag;
	for (size_t k = 0; k < n; k++) {
		x[k] = run->steps[k].offered;
		y[k] = step_value(&run->steps[k], v);
		flag[k] = run->steps[k].interfered;
	}
	s->x = x;
	s->y = y;
	s->n = n;
	s->flag = flag;
	s->dots = true;
	return 0;
}

/* One chart of value v for every run (colour by run). */
static int chart_runs(const struct res_run *const *runs, size_t n,
		      const char *const *labels, int v, const char *title,
		      const char *ylabel, double ymax, FILE *f)
{
	struct res_html_series s[FIG_SERIES_MAX + 1];
	struct fig_arrays fa = {.n = 0};
	double line[2] = {0, 0};
	size_t ns = 0;
	int err = 0;

	for (size_t i = 0; i < n && ns < FIG_SERIES_MAX && !err; i++) {
		memset(&s[ns], 0, sizeof(s[ns]));
		s[ns].name = labels[i];
		s[ns].color = res_html_color(i);
		err = series_of(&fa, runs[i], v, &s[ns]);
		ns += !err;
	}
	/* Figure 7: the offered rate itself, what a server that kept up
	 * would have achieved. */
	if (!err && v == FIG_ACHIEVED) {
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < runs[i]->nsteps; k++)
				if (runs[i]->steps[k].offered > line[1])
					line[1] = runs[i]->steps[k].offered;
		s[ns] = res_html_line("offered (kept up)", line, line, 2,
				      true);
		s[ns++].color = "#999";
	}
	if (!err)
		res_html_chart(f, title, "offered load (/s)", ylabel, s, ns,
			       ymax);
	arrays_free(&fa);
	return err;
}

/* Each proxy's CPU against the offered load: colour by run, the line's
 * style by proxy. */
static int chart_cpu(const struct res_run *const *runs, size_t n,
		     const char *const *labels, FILE *f)
{
	struct res_html_series s[FIG_SERIES_MAX];
	char(*names)[FIG_LABEL_MAX + RES_NAME_MAX] =
		calloc(FIG_SERIES_MAX, sizeof(*names));
	struct fig_arrays fa = {.n = 0};
	size_t ns = 0;
	int err = 0;

	if (!names)
		return ENOMEM;
	for (size_t i = 0; i < n && !err; i++)
		for (size_t k = 0; k < runs[i]->nproxies && !err; k++) {
			if (ns == FIG_SERIES_MAX)
				break;
			memset(&s[ns], 0, sizeof(s[ns]));
			snprintf(names[ns], sizeof(names[ns]), "%s: %s",
				 labels[i], runs[i]->proxy_names[k]);
			s[ns].name = names[ns];
			s[ns].color = res_html_color(i);
			s[ns].dashed = k % 3 == 1;
			s[ns].dotted = k % 3 == 2;
			err = series_of(&fa, runs[i], FIG_CPU + (int)k,
					&s[ns]);
			ns += !err;
		}
	if (!err)
		res_html_chart(f, "Each proxy's CPU against offered load",
			       "offered load (/s)", "% of one core", s, ns, 0);
	arrays_free(&fa);
	free(names);
	return err;
}

/* Turnaround p50 (solid), p95 (dashed), p99 (dotted) of every run. */
static int chart_turnaround(const struct res_run *const *runs, size_t n,
			    const char *const *labels, FILE *f)
{
	static const char *const pn[] = {"p50", "p95", "p99"};
	struct res_html_series s[FIG_SERIES_MAX];
	char(*names)[FIG_LABEL_MAX + 8] =
		calloc(FIG_SERIES_MAX, sizeof(*names));
	struct fig_arrays fa = {.n = 0};
	size_t ns = 0;
	int err = 0;

	if (!names)
		return ENOMEM;
	for (size_t i = 0; i < n && !err; i++)
		for (int q = 0; q < 3 && !err && ns < FIG_SERIES_MAX; q++) {
			memset(&s[ns], 0, sizeof(s[ns]));
			snprintf(names[ns], sizeof(names[ns]), "%s %s",
				 labels[i], pn[q]);
			s[ns].name = names[ns];
			s[ns].color = res_html_color(i);
			s[ns].dashed = q == 1;
			s[ns].dotted = q == 2;
			err = series_of(&fa, runs[i], FIG_P50 + q, &s[ns]);
			ns += !err;
		}
	if (!err)
		res_html_chart(f,
			       "Turnaround p50, p95, p99 against offered load",
			       "offered load (/s)", "ms", s, ns, 0);
	arrays_free(&fa);
	free(names);
	return err;
}

/* One bar: a run, or the repetitions of one configuration. */
struct fig_bar {
	char label[FIG_LABEL_MAX];
	double median, min, max;
	size_t n;
	bool lower, upper;
	size_t color; /* the first run's index */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* labels[i] without a trailing " #N" (repetitions differ only there). */
static void base_label(const char *label, char *out, size_t size)
{
	const char *hash = strrchr(label, '#');
	size_t len = strlen(label);

	if (hash && hash > label + 1 && hash[-1] == ' ' &&
	    strspn(hash + 1, "0123456789") == strlen(hash + 1) && hash[1])
		len = (size_t)(hash - 1 - label);
	snprintf(out, size, "%.*s", (int)len, label);
}

/* The bars: repetitions (summary.json "repeat") of one base label
 * together, every other run alone.  Returns how many, or 0 (ENOMEM). */
static size_t bars_of(const struct res_run *const *runs, size_t n,
		      const char *const *labels, struct fig_bar *bars,
		      double *vals)
{
	size_t nb = 0;
	bool *used = calloc(n + 1, sizeof(*used));

	if (!used)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct fig_bar *b = &bars[nb++];
		size_t nv = 0;

		if (used[i]) {
			nb--;
			continue;
		}
		memset(b, 0, sizeof(*b));
		b->color = i;
		if (repeat_of(runs[i]) > 1)
			base_label(labels[i], b->label, sizeof(b->label));
		else
			snprintf(b->label, sizeof(b->label), "%s", labels[i]);
		for (size_t j = i; j < n; j++) {
			char other[FIG_LABEL_MAX];

			if (used[j] || (j != i && (repeat_of(runs[i]) <= 1 ||
						   repeat_of(runs[j]) <= 1)))
				continue;
			base_label(labels[j], other, sizeof(other));
			if (j != i && strcmp(other, b->label))
				continue;
			used[j] = true;
			vals[nv++] = res_capacity(runs[j]);
			b->lower |= res_figures_is_lower(runs[j]);
			b->upper |= is_upper(runs[j]);
		}
		qsort(vals, nv, sizeof(*vals), cmp_double);
		b->n = nv;
		b->min = vals[0];
		b->max = vals[nv - 1];
		b->median = nv % 2 ? vals[nv / 2]
				   : (vals[nv / 2 - 1] + vals[nv / 2]) / 2;
	}
	free(used);
	return nb;
}

/* The y axis's grid and label of the bars' chart. */
static void bars_axis(FILE *f, double l, double t, double w, double ph,
		      double ymax)
{
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
		"text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">"
		"capacity (/s)</text>\n"
		"<defs><pattern id=\"fig-lower\" width=\"6\" height=\"6\" "
		"patternUnits=\"userSpaceOnUse\" "
		"patternTransform=\"rotate(45)\"><rect width=\"6\" "
		"height=\"6\" fill=\"#fff\"/><rect width=\"3\" height=\"6\" "
		"fill=\"#888\"/></pattern></defs>\n",
		t + ph / 2, t + ph / 2);
}

/* One bar at x, its whiskers (min, max) and its value. */
static void bar_draw(FILE *f, const struct fig_bar *b, double x, double bar,
		     double t, double ph, double ymax)
{
	const char *color = res_html_color(b->color);
	double bh = ph * b->median / ymax, top = t + ph - bh;
	double cx = x + bar / 2, label_y = top - 4;

	fprintf(f,
		"<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" "
		"height=\"%.1f\" fill=\"%s\" stroke=\"%s\" "
		"stroke-width=\"2\"/>\n",
		x, top, bar, bh, b->lower ? "url(#fig-lower)" : color, color);
	if (b->n > 1) {
		double y0 = t + ph - ph * b->min / ymax;
		double y1 = t + ph - ph * b->max / ymax;

		fprintf(f,
			"<g class=\"errorbar\" stroke=\"#222\" "
			"stroke-width=\"1.5\"><line x1=\"%.1f\" y1=\"%.1f\" "
			"x2=\"%.1f\" y2=\"%.1f\"/><line x1=\"%.1f\" "
			"y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/><line "
			"x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<title>min %.0f, median %.0f, max %.0f (%zu "
			"runs)</title></g>\n",
			cx, y0, cx, y1, cx - 7, y0, cx + 7, y0, cx - 7, y1,
			cx + 7, y1, b->min, b->median, b->max, b->n);
		if (y1 - 4 < label_y)
			label_y = y1 - 4;
	}
	if (b->lower) {
		/* A lower bound: the capacity is at least this. */
		fprintf(f,
			"<polygon class=\"lower\" points=\"%.1f,%.1f "
			"%.1f,%.1f "
			"%.1f,%.1f\" fill=\"#b00\"><title>lower bound"
			"</title></polygon>\n",
			cx - 6, label_y, cx + 6, label_y, cx, label_y - 9);
		label_y -= 12;
	}
	if (b->upper && !b->lower) {
		/* An upper bound: below the first step's rate. */
		fprintf(f,
			"<polygon class=\"upper\" points=\"%.1f,%.1f "
			"%.1f,%.1f "
			"%.1f,%.1f\" fill=\"#555\"><title>upper bound"
			"</title></polygon>\n",
			cx - 6, label_y - 9, cx + 6, label_y - 9, cx, label_y);
		label_y -= 12;
	}
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
		"text-anchor=\"middle\">%s%.0f%s</text>\n",
		cx, label_y,
		b->lower   ? "&#8805; "
		: b->upper ? "&lt; "
			   : "",
		b->median, b->n > 1 ? "*" : "");
}

/* The capacity of each run (or configuration) as a bar. */
static int capacity_bars(const struct res_run *const *runs, size_t n,
			 const char *const *labels, FILE *f)
{
	const double bar = 44, gap = 20, t = 50, ph = 220;
	struct fig_bar *bars = calloc(n + 1, sizeof(*bars));
	double *vals = calloc(n + 1, sizeof(*vals));
	double l = 64, b, w, ymax = 0;
	size_t nb, longest = 0;
	bool any_lower = false, any_spread = false;

	if (!bars || !vals || !(nb = bars_of(runs, n, labels, bars, vals))) {
		free(bars);
		free(vals);
		return ENOMEM;
	}
	for (size_t i = 0; i < nb; i++) {
		if (bars[i].max > ymax)
			ymax = bars[i].max;
		if (strlen(bars[i].label) > longest)
			longest = strlen(bars[i].label);
		any_lower |= bars[i].lower;
		any_spread |= bars[i].n > 1;
	}
	/* The names run down-left at 45 degrees under the bars. */
	b = 30 + 4.3 * (double)longest;
	if (4.3 * (double)longest - 40 > l)
		l = 4.3 * (double)longest - 40;
	w = l + (double)nb * (bar + gap) + gap;
	if (w < 360)
		w = 360;
	ymax = res_html_nice_max(ymax * 1.1);
	res_html_svg_open(f, "Capacity of each run", w, t + ph + b, l);
	bars_axis(f, l, t, w, ph, ymax);
	for (size_t i = 0; i < nb; i++) {
		double x = l + gap + (double)i * (bar + gap);

		bar_draw(f, &bars[i], x, bar, t, ph, ymax);
		fprintf(f,
			"<text font-size=\"10\" text-anchor=\"end\" "
			"transform=\"translate(%.1f %.1f) rotate(-45)\">",
			x + bar / 2 + 4, t + ph + 12);
		res_html_text(f, bars[i].label);
		fputs("</text>\n", f);
	}
	fputs("</svg>\n", f);
	if (any_lower || any_spread)
		fprintf(f, "<p class=note>%s%s</p>\n",
			any_spread ? "* the median of the repetitions; the "
				     "whiskers span their minimum and "
				     "maximum. "
				   : "",
			any_lower ? "Hatched with &#9650; and &#8805;: a "
				    "lower bound (the test bed or the ramp's "
				    "end stopped the run before the server "
				    "failed)."
				  : "");
	free(bars);
	free(vals);
	return ferror(f) ? EIO : 0;
}

int res_figures_compare(const struct res_run *const *runs, size_t n,
			const char *const *labels, FILE *f)
{
	size_t interfered = 0;
	int err;

	for (size_t i = 0; i < n; i++)
		interfered += res_interfered_steps(runs[i]);
	fputs("<div class=figs>\n", f);
	err = chart_runs(runs, n, labels, FIG_ACHIEVED,
			 "Throughput achieved against offered load",
			 "achieved (/s)", 0, f);
	if (!err)
		err = capacity_bars(runs, n, labels, f);
	if (!err)
		err = chart_runs(runs, n, labels, FIG_SUCCESS,
				 "Success rate against offered load",
				 "success %", 100, f);
	if (!err)
		err = chart_cpu(runs, n, labels, f);
	if (!err)
		err = chart_turnaround(runs, n, labels, f);
	fputs("</div>\n", f);
	if (!err && interfered)
		fprintf(f,
			"<p class=bad>%zu step%s interfered (ringed in "
			"orange): other work took more than the set share of "
			"a machine while %s ran.</p>\n",
			interfered, interfered == 1 ? " was" : "s were",
			interfered == 1 ? "it" : "they");
	return err ? err : (ferror(f) ? EIO : 0);
}

/* The cross-check's rows and differences, in a sentence each. */
static void crosscheck_text(const struct res_run *run, FILE *f)
{
	json_t *cc = run->crosscheck, *rows, *diffs, *o;
	size_t i;

	if (!cc)
		return;
	if (!json_is_true(json_object_get(cc, "made"))) {
		const char *why = json_string_value(json_object_get(cc, "wh"
									"y"));

		fputs("<p>Counts cross-checked: not made (", f);
		res_html_text(f, why ? why : "?");
		fputs(").</p>\n", f);
		return;
	}
	rows = json_object_get(cc, "rows");
	diffs = json_object_get(cc, "differences");
	fprintf(f, "<p%s>Counts cross-checked against the proxies' own: ",
		json_array_size(diffs) ? " class=bad" : "");
	json_array_foreach(rows, i, o)
	{
		const char *what = json_string_value(json_object_get(o, "wha"
									"t"));

		fprintf(f, "%s", i ? "; " : "");
		res_html_text(f, what ? what : "?");
		fprintf(f,
			" %.0f by the loaders, %.0f by the proxies (%.3f %%)",
			res_json_number(o, "loaders", 0),
			res_json_number(o, "proxies", 0),
			res_json_number(o, "diff_pct", 0));
	}
	fputs(json_array_size(diffs) ? ".</p>\n<ul>\n"
				     : "; every difference within 0.1 "
				       "%.</p>\n",
	      f);
	json_array_foreach(diffs, i, o)
	{
		const char *cause = json_string_value(json_object_get(o, "caus"
									 "e"));

		fputs("<li>", f);
		res_html_text(f, cause ? cause : "?");
		fputs("</li>\n", f);
	}
	if (json_array_size(diffs))
		fputs("</ul>\n", f);
}

int res_figures_report(const struct res_run *run, FILE *f)
{
	const struct res_run *one[1] = {run};
	const char *label[1] = {"achieved"};
	size_t interfered = res_interfered_steps(run);
	int err;

	if (interfered)
		fprintf(f,
			"<p class=bad><b>Interfered: %zu of %zu steps</b> "
			"(other work took more than %.0f %% of a machine "
			"during them: ringed in orange below; their figures "
			"are not the system's alone).</p>\n",
			interfered, run->nsteps, run->interference_max * 100);
	else if (run->nsteps && run->steps[0].mach_others >= 0)
		fprintf(f,
			"<p>No step interfered (other work stayed under %.0f "
			"%% of every machine).</p>\n",
			run->interference_max * 100);
	crosscheck_text(run, f);
	err = chart_runs(one, 1, label, FIG_ACHIEVED,
			 "Throughput achieved against offered load",
			 "achieved (/s)", 0, f);
	return err ? err : (ferror(f) ? EIO : 0);
}
