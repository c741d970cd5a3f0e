/*
 * user_range.c - user names from "A1000-A1999" (see user_range.h).
 */
#include "user_range.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pl.h"

#define USER_RANGE_MAX 1000000u

int user_range_decode(struct user_range *u, const char *s)
{
	struct user_range v;
	const char *dash = strchr(s, '-');
	size_t plen, d1, d2;
	const char *p;
	struct pl a, b;

	memset(&v, 0, sizeof(v));
	if (!*s)
		return EINVAL;
	if (!dash) {
		if (strlen(s) >= sizeof(v.prefix))
			return EINVAL;
		for (p = s; *p; p++)
			if (!isgraph((unsigned char)*p) || *p == '@' ||
			    *p == ':' || *p == ';')
				return EINVAL;
		snprintf(v.prefix, sizeof(v.prefix), "%s", s);
		*u = v;
		return 0;
	}
	/* The digits before the dash start where the prefix ends. */
	p = dash;
	while (p > s && isdigit((unsigned char)p[-1]))
		p--;
	plen = (size_t)(p - s);
	d1 = (size_t)(dash - p);
	/* The second bound may repeat the prefix ("A1000-A1999"). */
	b.p = dash + 1;
	if (plen && !strncmp(b.p, s, plen))
		b.p += plen;
	b.l = strlen(b.p);
	d2 = b.l;
	a.p = p;
	a.l = d1;
	if (!d1 || d1 != d2 || d1 > 9 || plen >= sizeof(v.prefix) ||
	    pl_u32(&a, &v.first) || pl_u32(&b, &v.last) || v.first > v.last ||
	    v.last - v.first >= USER_RANGE_MAX)
		return EINVAL;
	for (p = s; p < s + plen; p++)
		if (!isgraph((unsigned char)*p) || *p == '@' || *p == ':' ||
		    *p == ';')
			return EINVAL;
	memcpy(v.prefix, s, plen);
	v.width = (unsigned)d1;
	v.range = true;
	*u = v;
	return 0;
}

uint32_t user_range_count(const struct user_range *u)
{
	return u->range ? u->last - u->first + 1 : 1;
}

int user_range_name(const struct user_range *u, uint32_t i, char *out,
		    size_t size)
{
	int n;

	if (u->range)
		n = snprintf(out, size, "%s%0*u", u->prefix, (int)u->width,
			     u->first + i);
	else
		n = snprintf(out, size, "%s", u->prefix);
	return n < 0 || (size_t)n >= size ? EOVERFLOW : 0;
}
