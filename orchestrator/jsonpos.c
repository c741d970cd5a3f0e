#include "jsonpos.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSONPOS_MAX_DEPTH 64
#define JSONPOS_MAX_POINTER 1024

struct entry {
	char *pointer;
	int line, column;	  /* the value */
	int key_line, key_column; /* the member's key, or the value's */
};

struct jsonpos {
	struct entry *entries;
	size_t n, cap;
};

struct scan {
	const char *p, *end;
	int line, column;
	struct jsonpos *jp;
	char pointer[JSONPOS_MAX_POINTER];
	size_t plen;
	int depth;
	int err;
};

static void advance(struct scan *s)
{
	if (*s->p == '\n') {
		s->line++;
		s->column = 1;
	} else if (((unsigned char)*s->p & 0xc0) != 0x80) {
		/* Columns count characters, not UTF-8 continuation bytes. */
		s->column++;
	}
	s->p++;
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
				 *s->p == '\n' || *s->p == '\r'))
		advance(s);
}

static int add(struct scan *s, int line, int column, int kline, int kcolumn)
{
	struct jsonpos *jp = s->jp;
	struct entry *e;

	if (jp->n == jp->cap) {
		size_t cap = jp->cap ? jp->cap * 2 : 64;

		e = realloc(jp->entries, cap * sizeof(*e));
		if (!e)
			return ENOMEM;
		jp->entries = e;
		jp->cap = cap;
	}
	e = &jp->entries[jp->n];
	e->pointer = strndup(s->pointer, s->plen);
	if (!e->pointer)
		return ENOMEM;
	e->line = line;
	e->column = column;
	e->key_line = kline;
	e->key_column = kcolumn;
	jp->n++;
	return 0;
}

/* Appends "/" + token (escaped per RFC 6901) to the pointer. */
static bool push_token(struct scan *s, const char *tok, size_t n)
{
	size_t i;

	if (s->plen + 1 >= sizeof(s->pointer))
		return false;
	s->pointer[s->plen++] = '/';
	for (i = 0; i < n; i++) {
		const char *rep = tok[i] == '~'	  ? "~0"
				  : tok[i] == '/' ? "~1"
						  : NULL;
		size_t m = rep ? 2 : 1;

		if (s->plen + m >= sizeof(s->pointer))
			return false;
		if (rep)
			memcpy(s->pointer + s->plen, rep, 2);
		else
			s->pointer[s->plen] = tok[i];
		s->plen += m;
	}
	return true;
}

/*
 * Scans a string; with out set, copies its content (escapes other than
 * \" and \\ are kept as written: keys in topologies are plain words).
 */
static bool scan_string(struct scan *s, char *out, size_t outsz, size_t *len)
{
	size_t n = 0;

	if (s->p >= s->end || *s->p != '"')
		return false;
	advance(s);
	while (s->p < s->end && *s->p != '"') {
		char c = *s->p;

		if (c == '\\') {
			advance(s);
			if (s->p >= s->end)
				return false;
			c = *s->p;
		}
		if (out && n + 1 < outsz)
			out[n++] = c;
		advance(s);
	}
	if (s->p >= s->end)
		return false;
	advance(s);
	if (len)
		*len = n;
	return true;
}

static bool scan_value(struct scan *s, int kline, int kcolumn);

/* After a member or an element: a comma (another one follows: 1), the
 * container's closer (it ends there: 0) or anything else (-1). */
static int after_item(struct scan *s, char closer)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == ',') {
		advance(s);
		skip_ws(s);
		return 1;
	}
	if (s->p < s->end && *s->p == closer) {
		advance(s);
		return 0;
	}
	return -1;
}

static bool scan_object(struct scan *s)
{
	advance(s);
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		advance(s);
		return true;
	}
	while (s->p < s->end) {
		char key[256];
		size_t klen = 0, saved = s->plen;
		int kline = s->line, kcolumn = s->column, next;

		if (!scan_string(s, key, sizeof(key), &klen))
			return false;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return false;
		advance(s);
		skip_ws(s);
		if (!push_token(s, key, klen))
			return false;
		if (!scan_value(s, kline, kcolumn))
			return false;
		s->plen = saved;
		next = after_item(s, '}');
		if (next <= 0)
			return next == 0;
	}
	return false;
}

static bool scan_array(struct scan *s)
{
	size_t index = 0;

	advance(s);
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		advance(s);
		return true;
	}
	while (s->p < s->end) {
		char tok[24];
		size_t saved = s->plen;
		int n = snprintf(tok, sizeof(tok), "%zu", index++), next;

		if (!push_token(s, tok, (size_t)n))
			return false;
		if (!scan_value(s, s->line, s->column))
			return false;
		s->plen = saved;
		next = after_item(s, ']');
		if (next <= 0)
			return next == 0;
	}
	return false;
}

static bool scan_value(struct scan *s, int kline, int kcolumn)
{
	bool ok = true;

	skip_ws(s);
	if (s->p >= s->end || s->depth >= JSONPOS_MAX_DEPTH)
		return false;
	s->err = add(s, s->line, s->column, kline, kcolumn);
	if (s->err)
		return false;
	s->depth++;
	switch (*s->p) {
	case '{':
		ok = scan_object(s);
		break;
	case '[':
		ok = scan_array(s);
		break;
	case '"':
		ok = scan_string(s, NULL, 0, NULL);
		break;
	default:
		/* A number or a literal: up to the next delimiter. */
		while (s->p < s->end && !strchr(",]} \t\r\n", *s->p))
			advance(s);
		break;
	}
	s->depth--;
	return ok;
}

int jsonpos_index(struct jsonpos **jpp, const char *text, size_t len)
{
	struct jsonpos *jp = calloc(1, sizeof(*jp));
	struct scan s = {0};

	if (!jp)
		return ENOMEM;
	s.p = text;
	s.end = text + len;
	s.line = 1;
	s.column = 1;
	s.jp = jp;
	/* Malformed input simply stops the scan; what was seen is kept. */
	scan_value(&s, 1, 1);
	if (s.err) {
		jsonpos_free(jp);
		return s.err;
	}
	*jpp = jp;
	return 0;
}

void jsonpos_free(struct jsonpos *jp)
{
	size_t i;

	if (!jp)
		return;
	for (i = 0; i < jp->n; i++)
		free(jp->entries[i].pointer);
	free(jp->entries);
	free(jp);
}

void jsonpos_find(const struct jsonpos *jp, const char *pointer, bool key,
		  int *line, int *column)
{
	char probe[JSONPOS_MAX_POINTER];
	size_t i;

	*line = 1;
	*column = 1;
	if (!jp)
		return;
	snprintf(probe, sizeof(probe), "%s", pointer);
	for (;;) {
		for (i = 0; i < jp->n; i++) {
			if (strcmp(jp->entries[i].pointer, probe) != 0)
				continue;
			*line = key ? jp->entries[i].key_line
				    : jp->entries[i].line;
			*column = key ? jp->entries[i].key_column
				      : jp->entries[i].column;
			return;
		}
		/* Not there (a missing member): point at its parent. */
		{
			char *slash = strrchr(probe, '/');

			if (!slash)
				return;
			*slash = '\0';
			key = false;
		}
	}
}
