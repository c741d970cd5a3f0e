/*
 * res_repeat.h - repetitions of one configuration (`run --repeat N`,
 * RFC 7502's repeated trials): the runs of a comparison grouped by
 * configuration, and the spread of each group's capacity and of its
 * ratio to the first group's: median, min, max, and with 5 or more a
 * 95 % confidence interval of the mean (Student's t).  The numbers the
 * comparison's text, page and JSON give (error bars are drawn from
 * them).
 */
#ifndef SIPSTONE_RES_REPEAT_H
#define SIPSTONE_RES_REPEAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "res_verdict.h"

struct res_run;

/* A configuration's name (res_compare_labels' size). */
#define RES_REPEAT_LABEL_MAX 160

/* The interval is given from this many values on. */
#define RES_REPEAT_CI_MIN 5

struct res_spread {
	size_t n;
	double median, min, max, mean;
	bool has_ci; /* n >= RES_REPEAT_CI_MIN */
	double ci_low, ci_high;
};

/* The spread of the n values v (n >= 1; v is reordered). */
void res_spread_of(double *v, size_t n, struct res_spread *s);

/* {"n", "median", "min", "max", "mean", "ci95_low", "ci95_high"} (the
 * interval null below RES_REPEAT_CI_MIN); caller decrefs. */
json_t *res_spread_json(const struct res_spread *s);

/* One configuration: its runs (indexes into the comparison's list, in
 * the order given) and their figures. */
struct res_group {
	char label[RES_REPEAT_LABEL_MAX];
	size_t *runs, n;
	struct res_spread capacity;
	/* capacity's bound: "" every run exact, ">= " a lower bound, "< "
	 * every run's first step failed; "mixed" otherwise */
	const char *bound;
	char verdict[64]; /* "server", or "mixed: server 2, bed 1" */
	/* ratio to the first group, repetition by repetition; ratio_ok
	 * false with why when it means nothing */
	bool ratio_ok;
	const char *ratio_prefix; /* "", ">= ", "<= " */
	struct res_spread ratio;
	char why[200];
};

/*
 * Groups runs by their labels (res_compare_labels: labels[i] names
 * runs[i]): those recorded as repetitions (summary.json "repeat") with
 * the same label but for its " #N" are one configuration; every other
 * run is its own.  Returns the groups (caller frees with
 * res_repeat_free) and their number in *ngroups, or NULL (ENOMEM).
 */
struct res_group *res_repeat_groups(const struct res_run *const *runs,
				    const char *const *labels, size_t n,
				    size_t *ngroups);
void res_repeat_free(struct res_group *g, size_t ngroups);

/* Whether any group has more than one run. */
bool res_repeat_any(const struct res_group *g, size_t ngroups);

/* The comparison's figures as JSON ({"configurations": [...]}, each
 * with label, runs (ids), verdict, bound, capacity and ratio spreads,
 * ratio_bound, not_comparable); caller decrefs. */
json_t *res_repeat_json(const struct res_run *const *runs,
			const struct res_group *g, size_t ngroups);

#endif
