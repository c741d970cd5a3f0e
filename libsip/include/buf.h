/*
 * buf.h - a growable byte buffer with a hard maximum.
 *
 * The buffer owns its memory.  Every function that grows it returns
 * EOVERFLOW rather than pass the maximum given to buf_init(), and ENOMEM
 * when the allocator fails; the contents are unchanged on error.
 */
#ifndef SIPSTONE_BUF_H
#define SIPSTONE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "pl.h"

struct buf {
	char *data;  /* NULL until the first byte is added */
	size_t len;  /* bytes in use */
	size_t size; /* bytes allocated */
	size_t max;  /* size is never allowed past this */
};

/* Starts an empty buffer that may grow to max bytes. */
void buf_init(struct buf *b, size_t max);

/* Frees the memory; the buffer is empty (and reusable) afterwards. */
void buf_free(struct buf *b);

/* Makes room for n more bytes.  Returns 0, EOVERFLOW or ENOMEM. */
int buf_reserve(struct buf *b, size_t n);

/* Appends bytes.  Returns 0, EOVERFLOW or ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_pl(struct buf *b, const struct pl *pl);
/* Appends v in decimal.  Same returns. */
int buf_append_u64(struct buf *b, uint64_t v);

/* Appends formatted text (no NUL is counted in len). */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Drops the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);

/* Empties the buffer but keeps its memory. */
void buf_reset(struct buf *b);

/* Returns a view of the whole content, valid until the next change. */
struct pl buf_pl(const struct buf *b);

#endif
