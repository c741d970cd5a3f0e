#include "res_html.h"

#include <stdbool.h>
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
	for (int k = 1; k <= 10; k++)
		if (p * k >= v)
			return p * k;
	return v;
}

static const char css[] =
	"<style>body{font-family:sans-serif;margin:2em;max-width:60em}"
	"table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid "
	"#bbb;padding:3px 8px;text-align:right}th{background:#eee}"
	"td.l,th.l{text-align:left}.bad{color:#b00}</style>\n";

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

void res_html_chart(FILE *f, const char *title, const char *xlabel,
		    const char *ylabel, const struct res_html_series *s,
		    size_t ns, double ymax_fixed)
{
	const double h = 300, l = 64, t = 30, b = 44;
	double w, r = 150, xmax = 0, ymax = ymax_fixed;

	/* The legend on the right is as wide as the longest name (a
	 * comparison's labels), about 6 px a character at 11 px. */
	for (size_t i = 0; i < ns; i++)
		if (30 + 6.2 * (double)strlen(s[i].name) > r)
			r = 30 + 6.2 * (double)strlen(s[i].name);
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
		const char *color = res_html_color(i);

		if (s[i].n) {
			fprintf(f,
				"<polyline fill=\"none\" stroke=\"%s\" "
				"stroke-width=\"2\"%s points=\"",
				color,
				s[i].dashed ? " stroke-dasharray=\"5,3\""
					    : "");
			for (size_t k = 0; k < s[i].n; k++) {
				double y = s[i].y[k] > ymax ? ymax : s[i].y[k];

				fprintf(f, "%.1f,%.1f ",
					l + (w - l - r) * s[i].x[k] / xmax,
					t + (h - t - b) * (1 - y / ymax));
			}
			fputs("\"/>\n", f);
		}
		fprintf(f,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" "
			"height=\"3\" "
			"fill=\"%s\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
			"font-size=\"11\">",
			w - r + 10, t + 14.0 * (double)i + 2, color,
			w - r + 26, t + 14.0 * (double)i + 6);
		res_html_text(f, s[i].name);
		fputs("</text>\n", f);
	}
	fputs("</svg>\n", f);
}
