/*
 * hist.c - log-linear latency histograms (see hist.h).
 */
#include "hist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

size_t hist_bucket(uint64_t v)
{
	unsigned e, shift;

	if (v < 2u * HIST_SUB)
		return (size_t)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	shift = e - HIST_SUB_BITS;
	return (size_t)shift * HIST_SUB + (size_t)(v >> shift);
}

uint64_t hist_bucket_low(size_t i)
{
	unsigned shift;

	if (i < 2u * HIST_SUB)
		return i;
	shift = (unsigned)(i / HIST_SUB) - 1u;
	return (uint64_t)(i % HIST_SUB + HIST_SUB) << shift;
}

uint64_t hist_bucket_high(size_t i)
{
	unsigned shift;

	if (i < 2u * HIST_SUB)
		return i;
	shift = (unsigned)(i / HIST_SUB) - 1u;
	return hist_bucket_low(i) + ((1ull << shift) - 1u);
}

void hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_bucket(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	size_t i;

	if (!src->count)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

int hist_diff(struct hist *out, const struct hist *a, const struct hist *b)
{
	size_t i, lo = HIST_BUCKETS, hi = 0;

	if (b->count > a->count)
		return EINVAL;
	for (i = 0; i < HIST_BUCKETS; i++) {
		if (b->b[i] > a->b[i])
			return EINVAL;
		if (a->b[i] > b->b[i]) {
			if (lo == HIST_BUCKETS)
				lo = i;
			hi = i;
		}
	}
	for (i = 0; i < HIST_BUCKETS; i++)
		out->b[i] = a->b[i] - b->b[i];
	out->count = a->count - b->count;
	out->sum = a->sum - b->sum;
	if (!out->count) {
		out->min = UINT64_MAX;
		out->max = 0;
		return 0;
	}
	out->min = hist_bucket_low(lo);
	if (out->min < a->min)
		out->min = a->min;
	out->max = hist_bucket_high(hi);
	if (out->max > a->max)
		out->max = a->max;
	return 0;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0, mid;
	size_t i;

	if (!h->count)
		return 0;
	if (q >= 1.0)
		return h->max;
	if (q <= 0.0)
		return h->min;
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++; /* ceil without libm */
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			break;
	}
	if (i == HIST_BUCKETS)
		return h->max;
	mid = hist_bucket_low(i) +
	      (hist_bucket_high(i) - hist_bucket_low(i)) / 2u;
	if (mid < h->min)
		mid = h->min;
	if (mid > h->max)
		mid = h->max;
	return mid;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}

json_t *hist_to_json(const struct hist *h)
{
	json_t *o = NULL, *bk = NULL, *pair;
	size_t i;

	o = json_object();
	bk = json_array();
	if (!o || !bk)
		goto fail;
	for (i = 0; i < HIST_BUCKETS; i++) {
		if (!h->b[i])
			continue;
		pair = json_pack("[II]", (json_int_t)i, (json_int_t)h->b[i]);
		if (!pair || json_array_append_new(bk, pair))
			goto fail;
	}
	if (json_object_set_new(o, "count",
				json_integer((json_int_t)h->count)) ||
	    json_object_set_new(o, "sum", json_integer((json_int_t)h->sum)) ||
	    json_object_set_new(o, "min",
				json_integer(h->count ? (json_int_t)h->min
						      : 0)) ||
	    json_object_set_new(o, "max", json_integer((json_int_t)h->max)) ||
	    json_object_set_new(o, "mean", json_real(hist_mean(h))) ||
	    json_object_set_new(
		    o, "p50",
		    json_integer((json_int_t)hist_quantile(h, 0.50))) ||
	    json_object_set_new(
		    o, "p90",
		    json_integer((json_int_t)hist_quantile(h, 0.90))) ||
	    json_object_set_new(
		    o, "p95",
		    json_integer((json_int_t)hist_quantile(h, 0.95))) ||
	    json_object_set_new(
		    o, "p99",
		    json_integer((json_int_t)hist_quantile(h, 0.99))) ||
	    json_object_set_new(o, "sub_bits", json_integer(HIST_SUB_BITS)))
		goto fail;
	if (json_object_set_new(o, "buckets", bk)) {
		bk = NULL;
		goto fail;
	}
	return o;
fail:
	json_decref(bk);
	json_decref(o);
	return NULL;
}

static int get_u64(const json_t *j, const char *name, uint64_t *v)
{
	json_t *m = json_object_get(j, name);

	if (!json_is_integer(m) || json_integer_value(m) < 0)
		return EINVAL;
	*v = (uint64_t)json_integer_value(m);
	return 0;
}

int hist_from_json(struct hist *h, const json_t *j)
{
	struct hist *t = NULL;
	const json_t *bk, *pair;
	uint64_t sub, total = 0;
	size_t k;
	int err = EINVAL;

	if (!json_is_object(j))
		return EINVAL;
	t = malloc(sizeof(*t));
	if (!t)
		return ENOMEM;
	hist_init(t);
	if (get_u64(j, "count", &t->count) || get_u64(j, "sum", &t->sum) ||
	    get_u64(j, "min", &t->min) || get_u64(j, "max", &t->max) ||
	    get_u64(j, "sub_bits", &sub) || sub != HIST_SUB_BITS)
		goto out;
	bk = json_object_get(j, "buckets");
	if (!json_is_array(bk))
		goto out;
	json_array_foreach(bk, k, pair)
	{
		json_t *ji = json_array_get(pair, 0);
		json_t *jc = json_array_get(pair, 1);
		json_int_t i, c;

		if (!json_is_array(pair) || json_array_size(pair) != 2 ||
		    !json_is_integer(ji) || !json_is_integer(jc))
			goto out;
		i = json_integer_value(ji);
		c = json_integer_value(jc);
		if (i < 0 || i >= (json_int_t)HIST_BUCKETS || c < 0)
			goto out;
		t->b[i] += (uint64_t)c;
		total += (uint64_t)c;
	}
	if (total != t->count)
		goto out;
	if (!t->count)
		t->min = UINT64_MAX;
	memcpy(h, t, sizeof(*h));
	err = 0;
out:
	free(t);
	return err;
}
