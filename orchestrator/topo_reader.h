/*
 * topo_reader.h - what the topology (topo.c) and the inventory
 * (inventory.c) readers share: reading a JSON settings file and
 * checking its fields, every mistake collected as "file:line:column:
 * text" (placed through jsonpos.h), so that loading never stops at the
 * first one.
 */
#ifndef SIPSTONE_TOPO_READER_H
#define SIPSTONE_TOPO_READER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Collected messages, each "file:line:column: text". */
struct topo_errors {
	char **lines;
	size_t n;
};

void topo_errors_free(struct topo_errors *e);

/* Orders the messages by file, line and column. */
void topo_errors_sort(struct topo_errors *e);

struct jsonpos;

/* One file being read: where messages go and how to place them. */
struct topo_reader {
	const char *path;
	struct jsonpos *pos;
	struct topo_errors *errs;
	size_t nerr_at_start;
};

/* Reads and parses path into *root and indexes its positions into *pos
 * (caller frees both); a syntax error is placed by jansson and added
 * to errs.  0, EBADMSG or the errno of the read. */
int topo_reader_load(const char *path, struct topo_errors *errs, json_t **root,
		     struct jsonpos **pos);

/* Adds a message placed at the JSON pointer (at its key when key). */
void topo_reader_error(struct topo_reader *c, const char *pointer, bool key,
		       const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* True when this file added a message. */
bool topo_reader_failed(const struct topo_reader *c);

/* The pointer of parent's member key: "parent/key". */
void topo_reader_child(char *out, size_t size, const char *parent,
		       const char *key);

/* false (and a message) when obj at ptr is not an object; a message for
 * each member not in allowed (NULL-terminated), true all the same. */
bool topo_reader_object(struct topo_reader *c, json_t *obj, const char *ptr,
			const char *what, const char *const allowed[]);

/*
 * The field key of obj (at ptr) into out: dflt when missing and not
 * required.  Each returns false after adding a message (missing when
 * required, wrong type, out of range or not one of choices), true
 * otherwise; out holds the default until a good value is read.
 */
bool topo_reader_string(struct topo_reader *c, json_t *obj, const char *ptr,
			const char *key, bool required, const char *dflt,
			char *out, size_t size);
/* topo_reader_string(), then shquote_safe_name(): a name that becomes
 * part of paths and command lines (what: "node name", ...). */
bool topo_reader_name(struct topo_reader *c, json_t *obj, const char *ptr,
		      const char *key, bool required, const char *what,
		      char *out, size_t size);
bool topo_reader_choice(struct topo_reader *c, json_t *obj, const char *ptr,
			const char *key, const char *const choices[],
			char *out, size_t size);
bool topo_reader_uint(struct topo_reader *c, json_t *obj, const char *ptr,
		      const char *key, unsigned min, unsigned max,
		      unsigned dflt, unsigned *out);
bool topo_reader_bool(struct topo_reader *c, json_t *obj, const char *ptr,
		      const char *key, bool dflt, bool *out);

/* The top level's "$schema" (the file's JSON Schema, for editors), when
 * there, must be a non-empty string; a message otherwise. */
void topo_reader_schema_key(struct topo_reader *c, json_t *root);

#endif
