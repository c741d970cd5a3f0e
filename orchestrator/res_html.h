/*
 * res_html.h - what the report (res_report.c) and the comparison
 * (res_compare.c) pages share: escaping, the page head with its style,
 * the opening of an SVG chart, colours and axis maxima.
 */
#ifndef SIPSTONE_RES_HTML_H
#define SIPSTONE_RES_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Writes s with &, <, > and " escaped. */
void res_html_text(FILE *f, const char *s);

/* Writes the page's head (title escaped, the style) and opens <body>. */
void res_html_page_open(FILE *f, const char *title);

/* Opens an SVG chart of w x h with title (its <title> and a heading
 * at title_x); the caller draws and closes it with </svg>. */
void res_html_svg_open(FILE *f, const char *title, double w, double h,
		       double title_x);

/* The colour of the i-th series (the palette repeats); static. */
const char *res_html_color(size_t i);

/* A round number >= v for an axis maximum. */
double res_html_nice_max(double v);

/* One line of a chart: n points (x[i], y[i]), borrowed. */
struct res_html_series {
	const char *name;
	const double *x, *y;
	size_t n;
	bool dashed;
	bool dotted;	   /* a third line style */
	const char *color; /* NULL: the palette's i-th */
	/* points to ring (an interfered step), NULL for none; and dots
	 * on every point */
	const bool *flag;
	bool dots;
};

/* A plain line (the other fields 0). */
struct res_html_series res_html_line(const char *name, const double *x,
				     const double *y, size_t n, bool dashed);

/* A line chart of the ns series s, axes from 0 to round maxima (y to
 * ymax_fixed when above 0), the series named in a legend. */
void res_html_chart(FILE *f, const char *title, const char *xlabel,
		    const char *ylabel, const struct res_html_series *s,
		    size_t ns, double ymax_fixed);

#endif
