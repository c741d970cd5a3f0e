/*
 * fuzz_view.h - the check every fuzz target makes of what a decoder
 * returned: a non-empty view points inside the input it was given.
 */
#ifndef SIPSTONE_FUZZ_VIEW_H
#define SIPSTONE_FUZZ_VIEW_H

#include <stdint.h>
#include <stdlib.h>

#include "pl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a finding) unless v is empty or lies within base[0..len). */
static inline void fuzz_view_in(const struct pl *v, const void *base,
				size_t len)
{
	const char *b = base;

	if (v->l == 0)
		return;
	if (!v->p || v->p < b || v->l > len || (size_t)(v->p - b) > len - v->l)
		abort();
}

/* fuzz_view_in() of each of the n views. */
static inline void fuzz_views_in(const struct pl *const *views, size_t n,
				 const void *base, size_t len)
{
	for (size_t i = 0; i < n; i++)
		fuzz_view_in(views[i], base, len);
}

#endif
