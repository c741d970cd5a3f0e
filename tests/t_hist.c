/* Tests for common/hist: bucket layout, quantiles, exact merge, JSON. */
#include <errno.h>

#include "hist.h"
#include "test.h"

TEST(hist_buckets_are_contiguous_and_tight)
{
	size_t i;

	ASSERT_EQ(hist_bucket(0), 0);
	ASSERT_EQ(hist_bucket(63), 63);
	ASSERT_EQ(hist_bucket(64), 64);
	ASSERT_EQ(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
	ASSERT(hist_bucket_high(HIST_BUCKETS - 1) == UINT64_MAX);
	for (i = 0; i + 1 < HIST_BUCKETS; i++) {
		uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);

		ASSERT_MSG(hist_bucket_low(i + 1) == hi + 1, "gap after %zu",
			   i);
		ASSERT_EQ(hist_bucket(lo), i);
		ASSERT_EQ(hist_bucket(hi), i);
		/* width at most 1/32 of the bucket's values */
		ASSERT_MSG((hi - lo) * HIST_SUB <= lo || lo < 2 * HIST_SUB,
			   "bucket %zu too wide", i);
	}
}

TEST(hist_quantiles_of_a_known_set)
{
	static struct hist h;
	uint64_t v, p;

	hist_init(&h);
	ASSERT_EQ(hist_quantile(&h, 0.5), 0);
	for (v = 1; v <= 10000; v++)
		hist_add(&h, v);
	ASSERT_EQ(h.count, 10000);
	ASSERT_EQ(h.min, 1);
	ASSERT_EQ(h.max, 10000);
	ASSERT_EQ(h.sum, 10000ull * 10001 / 2);
	ASSERT_EQ(hist_quantile(&h, 1.0), 10000);
	p = hist_quantile(&h, 0.5);
	ASSERT_MSG(p >= 5000 * 31 / 32 && p <= 5000 * 33 / 32, "p50 %llu",
		   (unsigned long long)p);
	p = hist_quantile(&h, 0.99);
	ASSERT_MSG(p >= 9900 * 31 / 32 && p <= 9900 * 33 / 32, "p99 %llu",
		   (unsigned long long)p);
	/* small values are exact */
	hist_init(&h);
	hist_add(&h, 7);
	hist_add(&h, 9);
	ASSERT_EQ(hist_quantile(&h, 0.5), 7);
	ASSERT_EQ(hist_quantile(&h, 0.9), 9);
}

TEST(hist_merge_equals_the_histogram_of_both_sets)
{
	static struct hist a, b, all;
	uint64_t x = 88172645463325252ull;
	int i;

	hist_init(&a);
	hist_init(&b);
	hist_init(&all);
	for (i = 0; i < 20000; i++) {
		uint64_t v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = x % 5000000u;
		hist_add(i % 3 ? &a : &b, v);
		hist_add(&all, v);
	}
	hist_merge(&a, &b);
	ASSERT(memcmp(&a, &all, sizeof(a)) == 0);
}

TEST(hist_diff_recovers_an_interval)
{
	static struct hist h, before, d;
	int i;

	hist_init(&h);
	for (i = 0; i < 100; i++)
		hist_add(&h, 1000);
	before = h;
	for (i = 0; i < 10; i++)
		hist_add(&h, 50);
	ASSERT_EQ(hist_diff(&d, &h, &before), 0);
	ASSERT_EQ(d.count, 10);
	ASSERT_EQ(d.sum, 500);
	ASSERT_EQ(d.min, 50);
	ASSERT_EQ(d.max, 50);
	ASSERT_EQ(hist_quantile(&d, 0.99), 50);
	/* the wrong way round is refused */
	ASSERT_EQ(hist_diff(&d, &before, &h), EINVAL);
}

TEST(hist_json_round_trip_and_bad_input)
{
	static struct hist h, r;
	json_t *j, *bad;
	int i;

	hist_init(&h);
	for (i = 1; i < 5000; i += 7)
		hist_add(&h, (uint64_t)i * 13);
	j = hist_to_json(&h);
	ASSERT(j);
	ASSERT_EQ(json_integer_value(json_object_get(j, "count")), h.count);
	ASSERT_EQ(hist_from_json(&r, j), 0);
	ASSERT(memcmp(&r, &h, sizeof(h)) == 0);
	/* counts that do not add up */
	bad = json_deep_copy(j);
	json_object_set_new(bad, "count", json_integer(1));
	ASSERT_EQ(hist_from_json(&r, bad), EINVAL);
	json_decref(bad);
	bad = json_deep_copy(j);
	json_object_set_new(bad, "sub_bits", json_integer(7));
	ASSERT_EQ(hist_from_json(&r, bad), EINVAL);
	json_decref(bad);
	bad = json_loads("{\"count\":1,\"sum\":1,\"min\":1,\"max\":1,"
			 "\"sub_bits\":5,\"buckets\":[[99999,1]]}",
			 0, NULL);
	ASSERT_EQ(hist_from_json(&r, bad), EINVAL);
	json_decref(bad);
	json_decref(j);
}
