#include "res_repeat.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Student's t for a two-sided 95 % interval (0.975 quantile) with df
 * degrees of freedom: the table to 30, then 1.96 + 2.4/df (within
 * 0.005 of the quantile from 30 to 63, the most --repeat gives). */
static double t975(size_t df)
{
	static const double t[] = {0,	  12.706, 4.303, 3.182, 2.776, 2.571,
				   2.447, 2.365,  2.306, 2.262, 2.228, 2.201,
				   2.179, 2.160,  2.145, 2.131, 2.120, 2.110,
				   2.101, 2.093,  2.086, 2.080, 2.074, 2.069,
				   2.064, 2.060,  2.056, 2.052, 2.048, 2.045,
				   2.042};

	if (df < sizeof(t) / sizeof(t[0]))
		return t[df];
	return 1.96 + 2.4 / (double)df;
}

void res_spread_of(double *v, size_t n, struct res_spread *s)
{
	double sum = 0, ss = 0;

	memset(s, 0, sizeof(*s));
	s->n = n;
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	s->min = v[0];
	s->max = v[n - 1];
	s->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	s->mean = sum / (double)n;
	if (n < RES_REPEAT_CI_MIN)
		return;
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - s->mean) * (v[i] - s->mean);
	{
		double half = t975(n - 1) * sqrt(ss / (double)(n - 1)) /
			      sqrt((double)n);

		s->has_ci = true;
		s->ci_low = s->mean - half;
		s->ci_high = s->mean + half;
	}
}

json_t *res_spread_json(const struct res_spread *s)
{
	return json_pack("{s:i,s:f,s:f,s:f,s:f,s:o,s:o}", "n", (int)s->n,
			 "median", s->median, "min", s->min, "max", s->max,
			 "mean", s->mean, "ci95_low",
			 s->has_ci ? json_real(s->ci_low) : json_null(),
			 "ci95_high",
			 s->has_ci ? json_real(s->ci_high) : json_null());
}

/* label without its " #N" (runs alike in everything). */
static void base_label(const char *label, char *out, size_t size)
{
	const char *hash = strrchr(label, '#');
	size_t len = strlen(label);

	if (hash && hash > label + 1 && hash[-1] == ' ' && hash[1]) {
		const char *d = hash + 1;

		while (*d && isdigit((unsigned char)*d))
			d++;
		if (!*d)
			len = (size_t)(hash - 1 - label);
	}
	snprintf(out, size, "%.*s", (int)len, label);
}

/* The group's verdict and the bound of its capacity. */
static void group_verdict(const struct res_run *const *runs,
			  struct res_group *g)
{
	static const char *const names[] = {"server", "bed", "ramp"};
	size_t count[3] = {0}, lower = 0, upper = 0, kinds = 0;
	size_t used = 0;

	for (size_t k = 0; k < g->n; k++) {
		struct res_verdict v;

		res_verdict_of(runs[g->runs[k]], &v);
		for (size_t i = 0; v.name && i < 3; i++)
			count[i] += !strcmp(v.name, names[i]);
		lower += v.name && v.bound == RES_BOUND_LOWER;
		upper += v.name && v.bound == RES_BOUND_UPPER;
	}
	for (size_t i = 0; i < 3; i++)
		kinds += count[i] > 0;
	g->bound = upper == g->n ? "< " : upper ? "mixed" : lower ? ">= " : "";
	g->verdict[0] = '\0';
	if (kinds == 1) {
		for (size_t i = 0; i < 3; i++)
			if (count[i])
				snprintf(g->verdict, sizeof(g->verdict), "%s",
					 names[i]);
		return;
	}
	used = (size_t)snprintf(g->verdict, sizeof(g->verdict), "%s",
				kinds ? "mixed:" : "-");
	for (size_t i = 0; i < 3 && used < sizeof(g->verdict); i++)
		if (count[i])
			used += (size_t)snprintf(g->verdict + used,
						 sizeof(g->verdict) - used,
						 " %s %zu", names[i],
						 count[i]);
}

/* Group g's ratio to group 0, repetition k with repetition k (with
 * the first group's k modulo its number: one reference run serves
 * every repetition). */
static void group_ratio(const struct res_run *const *runs,
			const struct res_group *g0, struct res_group *g)
{
	size_t n = g->n;
	double *v = calloc(n + 1, sizeof(*v));
	const char *prefix = NULL;

	g->ratio_ok = v != NULL;
	g->ratio_prefix = "";
	for (size_t k = 0; k < n && g->ratio_ok; k++) {
		const struct res_run *a = runs[g->runs[k]];
		const struct res_run *b = runs[g0->runs[k % g0->n]];
		struct res_verdict va, vb;
		const char *p;

		res_verdict_of(a, &va);
		res_verdict_of(b, &vb);
		if (!res_verdict_ratio(a, &va, b, &vb, &p, g->why,
				       sizeof(g->why))) {
			g->ratio_ok = false;
			break;
		}
		if (prefix && strcmp(prefix, p) && *prefix && *p) {
			snprintf(g->why, sizeof(g->why),
				 "its repetitions' ratios are bounded both "
				 "ways");
			g->ratio_ok = false;
			break;
		}
		if (!prefix || *p)
			prefix = p;
		v[k] = va.capacity / vb.capacity;
	}
	if (g->ratio_ok && n) {
		g->ratio_prefix = prefix ? prefix : "";
		res_spread_of(v, n, &g->ratio);
	} else if (g->ratio_ok) {
		g->ratio_ok = false;
		snprintf(g->why, sizeof(g->why), "nothing to pair");
	}
	free(v);
}

/* The first group against itself: 1 each time, whatever its bound. */
static void self_ratio(struct res_group *g)
{
	double *v = calloc(g->n + 1, sizeof(*v));

	g->ratio_prefix = "";
	g->ratio_ok = v != NULL;
	for (size_t i = 0; v && i < g->n; i++)
		v[i] = 1;
	if (v)
		res_spread_of(v, g->n, &g->ratio);
	free(v);
}

struct res_group *res_repeat_groups(const struct res_run *const *runs,
				    const char *const *labels, size_t n,
				    size_t *ngroups)
{
	struct res_group *g = calloc(n + 1, sizeof(*g));
	size_t ng = 0;

	if (!g)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		char base[RES_REPEAT_LABEL_MAX];
		size_t k = ng;

		if (runs[i]->repeat_of > 1) {
			base_label(labels[i], base, sizeof(base));
			for (k = 0; k < ng; k++)
				if (runs[g[k].runs[0]]->repeat_of > 1 &&
				    !strcmp(g[k].label, base))
					break;
		} else {
			snprintf(base, sizeof(base), "%s", labels[i]);
		}
		if (k == ng) {
			g[ng].runs = calloc(n, sizeof(size_t));
			if (!g[ng].runs)
				goto fail;
			snprintf(g[ng].label, sizeof(g[ng].label), "%s", base);
			ng++;
		}
		g[k].runs[g[k].n++] = i;
	}
	for (size_t k = 0; k < ng; k++) {
		double *v = calloc(g[k].n, sizeof(*v));

		if (!v)
			goto fail;
		for (size_t i = 0; i < g[k].n; i++) {
			struct res_verdict rv;

			res_verdict_of(runs[g[k].runs[i]], &rv);
			v[i] = rv.capacity;
		}
		res_spread_of(v, g[k].n, &g[k].capacity);
		free(v);
		group_verdict(runs, &g[k]);
		if (k)
			group_ratio(runs, &g[0], &g[k]);
		else
			self_ratio(&g[0]);
	}
	*ngroups = ng;
	return g;
fail:
	res_repeat_free(g, ng);
	return NULL;
}

void res_repeat_free(struct res_group *g, size_t ngroups)
{
	for (size_t k = 0; g && k < ngroups; k++)
		free(g[k].runs);
	free(g);
}

bool res_repeat_any(const struct res_group *g, size_t ngroups)
{
	for (size_t k = 0; k < ngroups; k++)
		if (g[k].n > 1)
			return true;
	return false;
}

json_t *res_repeat_json(const struct res_run *const *runs,
			const struct res_group *g, size_t ngroups)
{
	json_t *arr = json_array();

	for (size_t k = 0; k < ngroups; k++) {
		json_t *ids = json_array(), *verdicts = json_array(), *o;

		for (size_t i = 0; i < g[k].n; i++) {
			struct res_verdict v;

			res_verdict_of(runs[g[k].runs[i]], &v);
			json_array_append_new(
				ids, json_string(runs[g[k].runs[i]]->id));
			json_array_append_new(verdicts,
					      v.name ? json_string(v.name)
						     : json_null());
		}
		o = json_pack("{s:s,s:o,s:o,s:s,s:s,s:o}", "label", g[k].label,
			      "runs", ids, "verdicts", verdicts, "verdict",
			      g[k].verdict, "bound",
			      !strcmp(g[k].bound, "mixed") ? "mixed"
			      : *g[k].bound == '>'	   ? "lower"
			      : *g[k].bound == '<'	   ? "upper"
							   : "exact",
			      "capacity", res_spread_json(&g[k].capacity));
		json_object_set_new(o, "ratio",
				    g[k].ratio_ok
					    ? res_spread_json(&g[k].ratio)
					    : json_null());
		json_object_set_new(
			o, "ratio_bound",
			g[k].ratio_ok
				? json_string(*g[k].ratio_prefix == '>' ? "low"
									  "er"
					      : *g[k].ratio_prefix == '<'
						      ? "upper"
						      : "exact")
				: json_null());
		json_object_set_new(o, "not_comparable",
				    g[k].ratio_ok ? json_null()
						  : json_string(g[k].why));
		json_array_append_new(arr, o);
	}
	return json_pack("{s:o}", "configurations", arr);
}
