/*
 * res_report.h - report.html of one run: its setup, the steps' table
 * and charts of the offered and achieved rate, success, latency and
 * each proxy's CPU against time and rate (SVG inline, no script).
 */
#ifndef SIPSTONE_RES_REPORT_H
#define SIPSTONE_RES_REPORT_H

#include <stdio.h>

struct res_run;

/* Writes the report page of run to f: 0, or EIO when f failed. */
int res_report_html(const struct res_run *run, FILE *f);

#endif
