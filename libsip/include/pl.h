/*
 * pl.h - pointer-length views into a buffer someone else owns.
 *
 * A struct pl never owns its bytes: it is valid exactly as long as the
 * buffer it points into.  Nothing here writes into the viewed bytes.
 */
#ifndef SIPSTONE_PL_H
#define SIPSTONE_PL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pl {
	const char *p;
	size_t l;
};

/* A view of a string literal. */
#define PL(s)                      \
	{                          \
		(s), sizeof(s) - 1 \
	}
#define PL_INIT         \
	{               \
		NULL, 0 \
	}
/* For printf: "%.*s", PL_FMT(&pl). */
#define PL_FMT(pl) (int)((pl)->l), ((pl)->p ? (pl)->p : "")

/* Sets *pl to view the NUL-terminated string s (s may be NULL: empty). */
void pl_set_str(struct pl *pl, const char *s);

/* Returns true when pl views at least one byte. */
bool pl_isset(const struct pl *pl);

/* Byte-exact equality of two views, and of a view and a C string. */
bool pl_eq(const struct pl *a, const struct pl *b);
bool pl_eq_str(const struct pl *a, const char *s);

/* ASCII case-insensitive equality. */
bool pl_caseeq(const struct pl *a, const struct pl *b);
bool pl_caseeq_str(const struct pl *a, const char *s);

/*
 * Strict unsigned decimal conversion of the whole view: no sign, no
 * blanks, at least one digit.  Returns 0 and writes *out, EBADMSG on
 * any other byte, EOVERFLOW past the type's range.
 */
int pl_u32(const struct pl *pl, uint32_t *out);
int pl_u64(const struct pl *pl, uint64_t *out);

/* Removes SP, HTAB, CR and LF from both ends of the view. */
void pl_trim(struct pl *pl);

/* Returns the first c in the view, or NULL. */
const char *pl_chr(const struct pl *pl, char c);

/* Advances the start of the view by n bytes (n <= pl->l). */
void pl_advance(struct pl *pl, size_t n);

/*
 * Copies the view into a new NUL-terminated string.  Returns 0 or
 * ENOMEM; on success *dst is the caller's, to free().
 */
int pl_strdup(char **dst, const struct pl *pl);

/*
 * Copies the view into dst (size dstsz, NUL-terminated).  Returns 0 or
 * EOVERFLOW when it does not fit (dst is then left untouched).
 */
int pl_strcpy(const struct pl *pl, char *dst, size_t dstsz);

#endif
