#include "topo_reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"
#include "shquote.h"

void topo_errors_free(struct topo_errors *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->lines[i]);
	free(e->lines);
	e->lines = NULL;
	e->n = 0;
}

/* "path:line:column: ..." sorts by path, then line, then column. */
static int cmp_place(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	const char *xc = strchr(x, ':'), *yc = strchr(y, ':');
	size_t xl = xc ? (size_t)(xc - x) : strlen(x);
	size_t yl = yc ? (size_t)(yc - y) : strlen(y);
	long xline = 0, yline = 0, xcol = 0, ycol = 0;
	int d;

	d = strncmp(x, y, xl < yl ? xl : yl);
	if (d || xl != yl)
		return d ? d : (xl < yl ? -1 : 1);
	if (xc && yc) {
		char *end;

		xline = strtol(xc + 1, &end, 10);
		xcol = *end == ':' ? strtol(end + 1, NULL, 10) : 0;
		yline = strtol(yc + 1, &end, 10);
		ycol = *end == ':' ? strtol(end + 1, NULL, 10) : 0;
	}
	if (xline != yline)
		return xline < yline ? -1 : 1;
	if (xcol != ycol)
		return xcol < ycol ? -1 : 1;
	return 0;
}

void topo_errors_sort(struct topo_errors *e)
{
	if (e->n > 1)
		qsort(e->lines, e->n, sizeof(*e->lines), cmp_place);
}

static void errs_add(struct topo_errors *e, char *line)
{
	char **lines;

	if (!line)
		return;
	lines = realloc(e->lines, (e->n + 1) * sizeof(*lines));
	if (!lines) {
		free(line);
		return;
	}
	e->lines = lines;
	e->lines[e->n++] = line;
}

void topo_reader_error(struct topo_reader *c, const char *pointer, bool key,
		       const char *fmt, ...)
{
	char text[512], *line = NULL;
	int l = 1, col = 1;
	va_list ap;

	jsonpos_find(c->pos, pointer, key, &l, &col);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (asprintf(&line, "%s:%d:%d: %s", c->path, l, col, text) < 0)
		return;
	errs_add(c->errs, line);
}

bool topo_reader_failed(const struct topo_reader *c)
{
	return c->errs->n > c->nerr_at_start;
}

void topo_reader_child(char *out, size_t size, const char *parent,
		       const char *key)
{
	snprintf(out, size, "%s/%s", parent, key);
}

static void list_words(char *out, size_t size, const char *const words[])
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; words[i]; i++) {
		int n = snprintf(out + used, size - used, "%s%s",
				 i ? ", " : "", words[i]);

		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
}

/* Every key of obj must be one of allowed. */
bool topo_reader_object(struct topo_reader *c, json_t *obj, const char *ptr,
			const char *what, const char *const allowed[])
{
	const char *key;
	json_t *value;
	char words[512], p[256];

	if (!json_is_object(obj)) {
		topo_reader_error(c, ptr, false, "%s must be an object", what);
		return false;
	}
	list_words(words, sizeof(words), allowed);
	json_object_foreach(obj, key, value)
	{
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i])
			continue;
		topo_reader_child(p, sizeof(p), ptr, key);
		topo_reader_error(c, p, true,
				  "unknown field \"%s\" in %s (expected one "
				  "of: %s)",
				  key, what, words);
	}
	return true;
}

bool topo_reader_string(struct topo_reader *c, json_t *obj, const char *ptr,
			const char *key, bool required, const char *dflt,
			char *out, size_t size)
{
	json_t *v = json_object_get(obj, key);
	char p[256];

	topo_reader_child(p, sizeof(p), ptr, key);
	if (!v) {
		if (required)
			topo_reader_error(c, ptr, false, "missing \"%s\"",
					  key);
		snprintf(out, size, "%s", dflt ? dflt : "");
		return !required;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		topo_reader_error(c, p, false,
				  "\"%s\" must be a non-empty string", key);
		return false;
	}
	if (json_string_length(v) >= size) {
		topo_reader_error(c, p, false,
				  "\"%s\" is longer than %zu characters", key,
				  size - 1);
		return false;
	}
	snprintf(out, size, "%s", json_string_value(v));
	return true;
}

bool topo_reader_name(struct topo_reader *c, json_t *obj, const char *ptr,
		      const char *key, bool required, const char *what,
		      char *out, size_t size)
{
	char p[256];

	if (!topo_reader_string(c, obj, ptr, key, required, NULL, out, size))
		return false;
	if (!out[0] && !required)
		return true;
	if (shquote_safe_name(out))
		return true;
	topo_reader_child(p, sizeof(p), ptr, key);
	topo_reader_error(c, p, false,
			  "%s \"%.64s\" is not allowed: 1 to 64 of letters, "
			  "digits, '.', '_' and '-', not starting with '.' "
			  "or '-'",
			  what, out);
	out[0] = '\0';
	return false;
}

bool topo_reader_choice(struct topo_reader *c, json_t *obj, const char *ptr,
			const char *key, const char *const choices[],
			char *out, size_t size)
{
	char words[256], p[256];

	if (!topo_reader_string(c, obj, ptr, key, false, choices[0], out,
				size))
		return false;
	for (size_t i = 0; choices[i]; i++)
		if (strcmp(out, choices[i]) == 0)
			return true;
	list_words(words, sizeof(words), choices);
	topo_reader_child(p, sizeof(p), ptr, key);
	topo_reader_error(c, p, false,
			  "\"%s\" is \"%s\" (expected one of: %s)", key, out,
			  words);
	return false;
}

bool topo_reader_uint(struct topo_reader *c, json_t *obj, const char *ptr,
		      const char *key, unsigned min, unsigned max,
		      unsigned dflt, unsigned *out)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;
	char p[256];

	*out = dflt;
	if (!v)
		return true;
	topo_reader_child(p, sizeof(p), ptr, key);
	if (!json_is_integer(v) || (n = json_integer_value(v)) < min ||
	    n > max) {
		topo_reader_error(c, p, false,
				  "\"%s\" must be an integer from %u to %u",
				  key, min, max);
		return false;
	}
	*out = (unsigned)n;
	return true;
}

bool topo_reader_bool(struct topo_reader *c, json_t *obj, const char *ptr,
		      const char *key, bool dflt, bool *out)
{
	json_t *v = json_object_get(obj, key);
	char p[256];

	*out = dflt;
	if (!v)
		return true;
	if (!json_is_boolean(v)) {
		topo_reader_child(p, sizeof(p), ptr, key);
		topo_reader_error(c, p, false, "\"%s\" must be true or false",
				  key);
		return false;
	}
	*out = json_is_true(v);
	return true;
}

void topo_reader_schema_key(struct topo_reader *c, json_t *root)
{
	json_t *v = json_object_get(root, "$schema");

	if (v && (!json_is_string(v) || json_string_length(v) == 0))
		topo_reader_error(c, "/$schema", false,
				  "\"$schema\" must be a non-empty string "
				  "(the JSON Schema's location)");
}

static int read_file(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	if (!f)
		return errno;
	for (;;) {
		size_t got;

		if (cap - n < 4096) {
			char *more;

			if (cap > (64u << 20)) {
				err = EFBIG;
				break;
			}
			cap = cap ? cap * 2 : 8192;
			more = realloc(data, cap);
			if (!more) {
				err = ENOMEM;
				break;
			}
			data = more;
		}
		got = fread(data + n, 1, cap - n - 1, f);
		if (got == 0) {
			if (ferror(f))
				err = EIO;
			break;
		}
		n += got;
	}
	fclose(f);
	if (err) {
		free(data);
		return err;
	}
	data[n] = '\0';
	*text = data;
	*len = n;
	return 0;
}

/* Reads and parses path; a syntax error is placed by jansson. */
int topo_reader_load(const char *path, struct topo_errors *errs, json_t **root,
		     struct jsonpos **pos)
{
	json_error_t jerr;
	char *text = NULL, *line = NULL;
	size_t len = 0;
	int err;

	err = read_file(path, &text, &len);
	if (err) {
		if (asprintf(&line, "%s: cannot read: %s", path,
			     strerror(err)) >= 0)
			errs_add(errs, line);
		return err;
	}
	*root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*root) {
		if (asprintf(&line, "%s:%d:%d: %s", path, jerr.line,
			     jerr.column, jerr.text) >= 0)
			errs_add(errs, line);
		free(text);
		return EBADMSG;
	}
	err = jsonpos_index(pos, text, len);
	free(text);
	if (err) {
		json_decref(*root);
		*root = NULL;
	}
	return err;
}