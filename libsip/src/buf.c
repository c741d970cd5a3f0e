#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->size = 0;
	b->max = max;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->size = 0;
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t want, size;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return EOVERFLOW;
	want = b->len + n;
	if (want <= b->size)
		return 0;
	size = b->size ? b->size : 256;
	while (size < want)
		size = size > b->max / 2 ? b->max : size * 2;
	p = realloc(b->data, size);
	if (!p)
		return ENOMEM;
	b->data = p;
	b->size = size;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int err;

	if (n == 0)
		return 0;
	err = buf_reserve(b, n);
	if (err)
		return err;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_pl(struct buf *b, const struct pl *pl)
{
	return buf_append(b, pl->p, pl->l);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	size_t room = b->size - b->len;
	va_list ap2;
	int n, err;

	/* Print into the room there is; format again only if it was too
	 * small (one vsnprintf, not two, in the common case). */
	va_copy(ap2, ap);
	n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return EINVAL;
	if ((size_t)n < room) {
		if (b->len + (size_t)n > b->max)
			return EOVERFLOW;
		b->len += (size_t)n;
		return 0;
	}
	/* +1 for the NUL vsnprintf writes; it is not counted in len. */
	err = buf_reserve(b, (size_t)n + 1);
	if (err)
		return err;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_append_u64(struct buf *b, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10u);
		v /= 10u;
	} while (v);
	return buf_append(b, d + i, sizeof(d) - i);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return err;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
}

struct pl buf_pl(const struct buf *b)
{
	struct pl pl = {b->data, b->len};

	return pl;
}
