/*
 * hist.h - latency histograms with log-linear buckets, mergeable exactly
 * across threads, processes and hosts (the loaders' turnaround, RRD,
 * SRD, SDD figures; the orchestrator adds loaders' histograms up).
 *
 * Values are unsigned integers (microseconds by convention).  Values
 * below 2 * HIST_SUB fall in a bucket of their own; above, every power
 * of two is split into HIST_SUB buckets of equal width, so a bucket's
 * width is at most 1/HIST_SUB of its values (3.1%).  Count, sum, min
 * and max are kept exactly.  Merging adds bucket counts: the merge of
 * two histograms equals the histogram of both value sets, bit for bit.
 *
 * A struct hist is a plain value (about 15 KiB): no allocation, copy it
 * with memcpy or assignment.  Not thread-safe: one writer at a time.
 */
#ifndef SIPSTONE_HIST_H
#define SIPSTONE_HIST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 5u
#define HIST_SUB (1u << HIST_SUB_BITS) /* 32 buckets per power of two */
/* Exact buckets 0..2*HIST_SUB-1, then HIST_SUB per power up to 2^64. */
#define HIST_BUCKETS ((64u - HIST_SUB_BITS + 1u) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum; /* wraps only past 2^64 (never in practice) */
	uint64_t min; /* UINT64_MAX while empty */
	uint64_t max;
	uint64_t b[HIST_BUCKETS];
};

/* Empties h. */
void hist_init(struct hist *h);

/* The bucket index of value v (< HIST_BUCKETS). */
size_t hist_bucket(uint64_t v);

/* The smallest and largest value of bucket i (i < HIST_BUCKETS). */
uint64_t hist_bucket_low(size_t i);
uint64_t hist_bucket_high(size_t i);

/* Records one value. */
void hist_add(struct hist *h, uint64_t v);

/* Adds every value of src to dst (exact). */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * The values recorded in a after b (b an earlier copy of the same
 * histogram) into out: counts, sum and buckets subtract exactly; min
 * and max become the bounds of the lowest and highest bucket left,
 * clamped to a's min and max (exact when a bucket is a single value).
 * Returns 0, or EINVAL when b is not an earlier state of a (out then
 * untouched).
 */
int hist_diff(struct hist *out, const struct hist *a, const struct hist *b);

/*
 * The value at quantile q (0 < q <= 1): the value of rank ceil(q*count)
 * in sorted order, reported as the middle of its bucket clamped to
 * [min, max] (so q = 1 gives max exactly, and single-value buckets are
 * exact).  0 for an empty histogram.
 */
uint64_t hist_quantile(const struct hist *h, double q);

/* The mean, 0 when empty. */
double hist_mean(const struct hist *h);

/*
 * A JSON object: {"count", "sum", "min", "max", "mean", "p50", "p90",
 * "p95", "p99", "sub_bits", "buckets": [[index, count], ...]} with only
 * non-zero buckets listed.  min and max are 0 when empty.  Returns a
 * new reference or NULL (ENOMEM).
 */
json_t *hist_to_json(const struct hist *h);

/*
 * Reads what hist_to_json() wrote (count, sum, min, max, sub_bits and
 * buckets; the percentiles are ignored).  Returns 0; EINVAL when a
 * member is missing or has the wrong type, sub_bits differs, an index
 * is out of range or the bucket counts do not add up to count (h then
 * untouched).
 */
int hist_from_json(struct hist *h, const json_t *j);

#endif
