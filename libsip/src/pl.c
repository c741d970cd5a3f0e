#include "pl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void pl_set_str(struct pl *pl, const char *s)
{
	pl->p = s;
	pl->l = s ? strlen(s) : 0;
}

bool pl_isset(const struct pl *pl)
{
	return pl && pl->p && pl->l > 0;
}

bool pl_eq(const struct pl *a, const struct pl *b)
{
	return a->l == b->l && (a->l == 0 || memcmp(a->p, b->p, a->l) == 0);
}

bool pl_eq_str(const struct pl *a, const char *s)
{
	size_t n = strlen(s);

	return a->l == n && (n == 0 || memcmp(a->p, s, n) == 0);
}

bool pl_caseeq(const struct pl *a, const struct pl *b)
{
	return a->l == b->l &&
	       (a->l == 0 || strncasecmp(a->p, b->p, a->l) == 0);
}

bool pl_caseeq_str(const struct pl *a, const char *s)
{
	size_t n = strlen(s);

	return a->l == n && (n == 0 || strncasecmp(a->p, s, n) == 0);
}

int pl_u64(const struct pl *pl, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!pl->p || pl->l == 0)
		return EBADMSG;
	for (i = 0; i < pl->l; i++) {
		unsigned d = (unsigned char)pl->p[i] - '0';

		if (d > 9)
			return EBADMSG;
		if (v > (UINT64_MAX - d) / 10)
			return EOVERFLOW;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int pl_u32(const struct pl *pl, uint32_t *out)
{
	uint64_t v;
	int err;

	err = pl_u64(pl, &v);
	if (err)
		return err;
	if (v > UINT32_MAX)
		return EOVERFLOW;
	*out = (uint32_t)v;
	return 0;
}

static bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void pl_trim(struct pl *pl)
{
	while (pl->l > 0 && is_lws(pl->p[0])) {
		pl->p++;
		pl->l--;
	}
	while (pl->l > 0 && is_lws(pl->p[pl->l - 1]))
		pl->l--;
}

const char *pl_chr(const struct pl *pl, char c)
{
	if (!pl->p || pl->l == 0)
		return NULL;
	return memchr(pl->p, c, pl->l);
}

void pl_advance(struct pl *pl, size_t n)
{
	if (n > pl->l)
		n = pl->l;
	pl->p += n;
	pl->l -= n;
}

int pl_strdup(char **dst, const struct pl *pl)
{
	char *s = malloc(pl->l + 1);

	if (!s)
		return ENOMEM;
	if (pl->l)
		memcpy(s, pl->p, pl->l);
	s[pl->l] = '\0';
	*dst = s;
	return 0;
}

int pl_strcpy(const struct pl *pl, char *dst, size_t dstsz)
{
	if (dstsz == 0 || pl->l >= dstsz)
		return EOVERFLOW;
	if (pl->l)
		memcpy(dst, pl->p, pl->l);
	dst[pl->l] = '\0';
	return 0;
}
