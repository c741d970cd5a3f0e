/*
 * jsonpos.h - where each value of a JSON text stands (line and column),
 * by JSON Pointer (RFC 6901: "/stateful/0/host").  jansson gives values
 * but not their places; validation needs both to say file:line:column
 * for every mistake, not only for syntax errors.
 */
#ifndef SIPSTONE_JSONPOS_H
#define SIPSTONE_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

struct jsonpos;

/*
 * Indexes text (which jansson already parsed, but anything is safe:
 * malformed input just yields a shorter index).  Returns 0 or ENOMEM;
 * *jpp is the caller's, to free with jsonpos_free().
 */
int jsonpos_index(struct jsonpos **jpp, const char *text, size_t len);

void jsonpos_free(struct jsonpos *jp);

/*
 * Finds the place of the value at pointer (an object member's key, when
 * key is set and the pointer names a member).  When the pointer is not
 * indexed, the nearest indexed parent's place is given.  Lines and
 * columns start at 1.
 */
void jsonpos_find(const struct jsonpos *jp, const char *pointer, bool key,
		  int *line, int *column);

#endif
