/*
 * res_compare.h - runs side by side (`orchestrator compare`, a run
 * list's comparison): each run named by what sets it apart, a text
 * table and a page with the success of every run on one chart and a
 * bar of each run's capacity.
 */
#ifndef SIPSTONE_RES_COMPARE_H
#define SIPSTONE_RES_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#define RES_LABEL_MAX 160

struct res_group;

struct res_run;

/*
 * The name of each run in a comparison: its topology followed by the
 * experiment settings that differ between the runs, in the order they
 * appear ("s0p1 users=10000", "s0p1 tcp"), read from each run's setup;
 * runs alike in everything get " #N".  labels has room for n.
 */
void res_compare_labels(const struct res_run *const *runs, size_t n,
			char (*labels)[RES_LABEL_MAX]);

/*
 * The runs grouped by configuration (res_repeat_groups over their
 * labels): the groups (res_repeat_free them) and their number in
 * *ngroups, or NULL (ENOMEM).
 */
struct res_group *res_compare_groups(const struct res_run *const *runs,
				     size_t n, size_t *ngroups);

/*
 * Runs side by side, each named by its label, with its capacity
 * relative to the first run's (the scaling ratio): a text table (for
 * the terminal) and a page (success against offered rate for every run
 * on one chart, and a bar of each run's capacity).
 */
void res_compare_table(const struct res_run *const *runs, size_t n, FILE *f);
int res_compare_html(const struct res_run *const *runs, size_t n, FILE *f);

#endif
