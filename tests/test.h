/*
 * test.h - what a test file needs.  Write tests as
 *
 *	TEST(pl_u32_rejects_junk)
 *	{
 *		ASSERT_EQ(pl_u32(&pl, &v), EBADMSG);
 *	}
 *
 * Every test runs in a forked child of tests/run with a timeout (10 s,
 * or TEST_TIMEOUT's), its own temporary directory as working directory,
 * and fails when it leaks reference-counted objects.
 */
#ifndef SIPSTONE_TEST_H
#define SIPSTONE_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl.h"

struct test {
	const char *name;
	void (*fn)(void);
	unsigned timeout_s;
	const char *file;
	struct test *next;
};

void test_register(struct test *t);

/*
 * The registered tests (a list through next, newest first): the
 * runner's own, for the test that checks it.
 */
const struct test *test_registered(void);

/*
 * Whether two tests of the list (through next) share a name; if so *a
 * and *b are the first such pair (b registered before a).  tests/run
 * refuses to run when its own list has one: a prefix would select both
 * and a report could not tell them apart.
 */
bool test_find_duplicate(const struct test *list, const struct test **a,
			 const struct test **b);

#define TEST_TIMEOUT(tname, secs)                                           \
	static void test_fn_##tname(void);                                  \
	static struct test test_##tname = {#tname, test_fn_##tname, (secs), \
					   __FILE__, NULL};                 \
	__attribute__((constructor)) static void test_reg_##tname(void)     \
	{                                                                   \
		test_register(&test_##tname);                               \
	}                                                                   \
	static void test_fn_##tname(void)

#define TEST(tname) TEST_TIMEOUT(tname, 10)

/* Ends the test as failed, naming the place. */
void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

/* Ends the test as skipped with the reason (CI must not need this). */
void test_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#define ASSERT(cond)                                                \
	do {                                                        \
		if (!(cond))                                        \
			test_fail(__FILE__, __LINE__, "%s", #cond); \
	} while (0)

#define ASSERT_MSG(cond, ...)                                       \
	do {                                                        \
		if (!(cond))                                        \
			test_fail(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#define ASSERT_EQ(a, b)                                                      \
	do {                                                                 \
		long long test_a_ = (long long)(a);                          \
		long long test_b_ = (long long)(b);                          \
		if (test_a_ != test_b_)                                      \
			test_fail(__FILE__, __LINE__,                        \
				  "%s == %s: %lld != %lld", #a, #b, test_a_, \
				  test_b_);                                  \
	} while (0)

#define ASSERT_STR(a, b)                                                \
	do {                                                            \
		const char *test_a_ = (a), *test_b_ = (b);              \
		if (!test_a_ || !test_b_ || strcmp(test_a_, test_b_))   \
			test_fail(__FILE__, __LINE__,                   \
				  "%s == %s: \"%s\" != \"%s\"", #a, #b, \
				  test_a_ ? test_a_ : "(null)",         \
				  test_b_ ? test_b_ : "(null)");        \
	} while (0)

/* A struct pl equals a C string, byte for byte. */
#define ASSERT_PL(view, s)                                                  \
	do {                                                                \
		const struct pl *test_p_ = (view);                          \
		if (!pl_eq_str(test_p_, (s)))                               \
			test_fail(__FILE__, __LINE__,                       \
				  "%s == \"%s\": got \"%.*s\"", #view, (s), \
				  PL_FMT(test_p_));                         \
	} while (0)

/*
 * Paths: the repository root (for tests/data), the shared corpus
 * (../shared next to the checkout, or $SIPSTONE_SHARED), the directory
 * of the built programs ($SIPSTONE_BIN, else bin/).  Absolute.
 */
const char *test_root_dir(void);
const char *test_shared_dir(void);
const char *test_bin_dir(void);

/* The test's own temporary directory (its working directory too). */
const char *test_tmp_dir(void);

/* A copy of s[0..len) with every "\n" made "\r\n" (SIP's line end),
 * NUL-terminated; *out_len (if not NULL) is its length.  Caller frees. */
char *test_crlf(const char *s, size_t len, size_t *out_len);

/* dir/name in a static buffer, valid for the next 15 calls of
 * test_path() and test_write_file() together. */
const char *test_path(const char *dir, const char *name);

/*
 * Writes text to name in the test's directory and returns its path
 * (a test_path(): valid for the next 15 calls).  Fails the test if it cannot.
 */
const char *test_write_file(const char *name, const char *text);

/*
 * Reads a whole file into a new buffer (NUL-terminated, *len excludes
 * the NUL).  Fails the test if it cannot.  Caller frees.
 */
char *test_read_file(const char *path, size_t *len);

#endif
