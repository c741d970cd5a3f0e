#include "res_html.h"

#include <stdbool.h>
#include <math.h>
#include <string.h>

/* ---- HTML and SVG ------------------------------------------------- */

void res_html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c",
				      "#ff7f0e", "#9467bd", "#8c564b",
				      "#e377c2", "#17becf"};

/* A round number >= v for an axis maximum. */
double res_html_nice_max(double v)
{
	double p = 1;

	if (v <= 0)
		return 1;
	while (p * 10 <= v)
		p *= 10;
	while (p > v * 10)
		p /= 10;
	/* Half steps: 14,000 gets an axis to 15,000, not 20,000. */
	for (int k = 2; k <= 20; k++)
		if (p * k / 2 >= v)
			return p * k / 2;
	return v;
}

static const char css[] =
	"<style>body{font-family:sans-serif;margin:2em;max-width:60em}"
	"table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid "
	"#bbb;padding:3px 8px;text-align:right}th{background:#eee}"
	"td.l,th.l{text-align:left}.bad{color:#b00}"
	"table.steps{width:100%;table-layout:fixed;font-size:11px}"
	"table.steps th{white-space:normal;padding:2px 3px}"
	"table.steps td{padding:2px 3px;overflow-wrap:anywhere}"
	"svg{display:block;margin:1em 0;max-width:100%;height:auto}"
	".note{font-size:12px;color:#444}</style>\n";

const char *res_html_color(size_t i)
{
	return palette[i % (sizeof(palette) / sizeof(palette[0]))];
}

void res_html_page_open(FILE *f, const char *title)
{
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	      "<title>",
	      f);
	res_html_text(f, title);
	fprintf(f, "</title>\n%s</head><body>\n", css);
}

void res_html_svg_open(FILE *f, const char *title, double w, double h,
		       double title_x)
{
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n"
		"<title>",
		w, h, w, h);
	res_html_text(f, title);
	fprintf(f,
		"</title>\n<text x=\"%.0f\" y=\"18\" font-size=\"14\" "
		"font-weight=\"bold\">",
		title_x);
	res_html_text(f, title);
	fputs("</text>\n", f);
}

struct res_html_series res_html_line(const char *name, const double *x,
				     const double *y, size_t n, bool dashed)
{
	struct res_html_series s;

	memset(&s, 0, sizeof(s));
	s.name = name;
	s.x = x;
	s.y = y;
	s.n = n;
	s.dashed = dashed;
	return s;
}

/* A chart's plot area and its axes' maxima. */
struct plot {
	double l, t, w, h; /* the area */
	double xmax, ymax;
};

static double px(const struct plot *p, double x)
{
	return p->l + p->w * (x < 0 ? 0 : x) / p->xmax;
}

static double py(const struct plot *p, double y)
{
	if (y > p->ymax)
		y = p->ymax;
	if (!(y > 0)) /* negative: not measured; NaN */
		y = 0;
	return p->t + p->h * (1 - y / p->ymax);
}

void res_html_chart(FILE *f, const char *title, const char *xlabel,
		    const char *ylabel, const struct res_html_series *s,
		    size_t ns, double ymax_fixed)
{
	const double h = 300, l = 64, t = 30, b = 44;
	double w, r = 150, xmax = 0, ymax = ymax_fixed;
	struct plot pl;

	/* The legend on the right is as wide as the longest name (a
	 * comparison's labels), about 6 px a character at 11 px. */
	for (size_t i = 0; i < ns; i++)
		if (40 + 6.6 * (double)strlen(s[i].name) > r)
			r = 40 + 6.6 * (double)strlen(s[i].name);
	w = 490 + r;

	for (size_t i = 0; i < ns; i++)
		for (size_t k = 0; k < s[i].n; k++) {
			if (s[i].x[k] > xmax)
				xmax = s[i].x[k];
			if (!ymax_fixed && s[i].y[k] > ymax)
				ymax = s[i].y[k];
		}
	xmax = res_html_nice_max(xmax);
	if (!ymax_fixed)
		ymax = res_html_nice_max(ymax);
	{
		struct plot init = {l, t, w - l - r, h - t - b, xmax, ymax};

		pl = init;
	}
	res_html_svg_open(f, title, w, h, l);
	for (int g = 0; g <= 5; g++) {
		double y = t + (h - t - b) * (1 - g / 5.0);
		double x = l + (w - l - r) * g / 5.0;

		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\" "
			"stroke=\"#ddd\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
			"font-size=\"10\" text-anchor=\"end\">%g</text>\n"
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
			"text-anchor=\"middle\">%g</text>\n",
			l, y, w - r, y, l - 4, y + 3, ymax * g / 5, x,
			h - b + 14, xmax * g / 5);
	}
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
		"text-anchor=\"middle\">",
		l + (w - l - r) / 2, h - 8);
	res_html_text(f, xlabel);
	fprintf(f,
		"</text>\n<text x=\"14\" y=\"%.1f\" font-size=\"11\" "
		"text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">",
		t + (h - t - b) / 2, t + (h - t - b) / 2);
	res_html_text(f, ylabel);
	fputs("</text>\n", f);
	for (size_t i = 0; i < ns; i++) {
		const char *color = s[i].color ? s[i].color
					       : res_html_color(i);
		const char *dash = s[i].dashed	 ? " stroke-dasharray=\"6,3\""
				   : s[i].dotted ? " stroke-dasharray=\"2,3\""
						 : "";

		if (s[i].n) {
			fprintf(f,
				"<polyline fill=\"none\" stroke=\"%s\" "
				"stroke-width=\"2\"%s points=\"",
				color, dash);
			for (size_t k = 0; k < s[i].n; k++)
				fprintf(f, "%.1f,%.1f ", px(&pl, s[i].x[k]),
					py(&pl, s[i].y[k]));
			fputs("\"/>\n", f);
		}
		for (size_t k = 0; k < s[i].n; k++) {
			if (s[i].dots)
				fprintf(f,
					"<circle cx=\"%.1f\" cy=\"%.1f\" "
					"r=\"2.5\" fill=\"%s\"/>\n",
					px(&pl, s[i].x[k]), py(&pl, s[i].y[k]),
					color);
			/* An interfered step: a ring the reader sees. */
			if (s[i].flag && s[i].flag[k])
				fprintf(f,
					"<circle class=\"interfered\" "
					"cx=\"%.1f\" cy=\"%.1f\" r=\"6\" "
					"fill=\"none\" stroke=\"#e67e00\" "
					"stroke-width=\"2\"><title>interfered "
					"step</title></circle>\n",
					px(&pl, s[i].x[k]),
					py(&pl, s[i].y[k]));
		}
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n"
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">",
			w - r + 8, t + 14.0 * (double)i + 2, w - r + 24,
			t + 14.0 * (double)i + 2, color, dash, w - r + 28,
			t + 14.0 * (double)i + 6);
		res_html_text(f, s[i].name);
		fputs("</text>\n", f);
	}
	fputs("</svg>\n", f);
}
