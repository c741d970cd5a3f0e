/*
 * res_figures.h - the comparison page's figures (issue 13, the seed's
 * figures): against the offered load, the throughput each run achieved
 * (the seed's Figure 7), its success rate, each proxy's CPU and the
 * turnaround percentiles; and a bar of each run's capacity, with the
 * spread of its repetitions as an error bar and a lower bound marked.
 * Inline SVG only (res_html.h), no scripts.
 *
 * Two fields come from summary.json as written by the verdict's code
 * when present (res_run.loaded): "bound" ("lower": the capacity is a
 * lower bound, drawn ">= N" with a hatched bar and a triangle; "upper":
 * the first step failed, "< N" under a downward triangle) and
 * "repeat" {"index", "of"} (repetitions of one configuration are one
 * bar at their median, whiskers at their min and max).  Bundles without
 * them draw one plain bar per run.
 */
#ifndef SIPSTONE_RES_FIGURES_H
#define SIPSTONE_RES_FIGURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct res_run;

/* Whether run's capacity is a lower bound (summary.json "bound"). */
bool res_figures_is_lower(const struct res_run *run);

/*
 * A run's report: how many steps were interfered and the loaders'
 * counts against the proxies' (summary.json "crosscheck"), then the
 * throughput it achieved against the offered load, interfered steps
 * ringed.  Returns 0, ENOMEM or EIO.
 */
int res_figures_report(const struct res_run *run, FILE *f);

/* The charts and the capacity bars of the n runs named by labels.
 * Returns 0, ENOMEM or EIO. */
int res_figures_compare(const struct res_run *const *runs, size_t n,
			const char *const *labels, FILE *f);

#endif
