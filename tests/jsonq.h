/*
 * jsonq.h - reading the counters of a program's JSON answers ("stats"
 * replies, --json summaries) in tests: a value by its dotted path, and a
 * list of counters checked at once.
 */
#ifndef SIPSTONE_TEST_JSONQ_H
#define SIPSTONE_TEST_JSONQ_H

#include <stddef.h>

#include <jansson.h>

/*
 * The integer at path in o (borrowed): keys separated by '.', a segment
 * of digits indexes an array ("next_hops.0.forwarded").  Fails the test,
 * naming the path, when there is no integer there.
 */
long long jsonq_int(json_t *o, const char *path);

/* The same for a boolean (true: 1, false: 0). */
long long jsonq_bool(json_t *o, const char *path);

struct jsonq_want {
	const char *path;
	long long value;
};

/*
 * Checks every counter of want[0..n-1] in o; fails the test at
 * file:line naming the first that differs, with what it was.
 */
void jsonq_expect_at(json_t *o, const struct jsonq_want *want, size_t n,
		     const char *file, int line);

/* JSONQ_EXPECT(st, {"invites", 100}, {"byes", 71}): jsonq_expect_at()
 * here. */
#define JSONQ_EXPECT(o, ...)                                               \
	jsonq_expect_at((o), (const struct jsonq_want[]){__VA_ARGS__},     \
			sizeof((const struct jsonq_want[]){__VA_ARGS__}) / \
				sizeof(struct jsonq_want),                 \
			__FILE__, __LINE__)

#endif
