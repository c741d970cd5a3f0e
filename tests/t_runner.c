/* Tests for tests/run itself: no two tests share a name. */
#include "test.h"

static void nothing(void)
{
}

TEST(runner_finds_two_tests_that_share_a_name)
{
	struct test c = {"b_second", nothing, 10, "y.c", NULL};
	struct test b = {"a_first", nothing, 10, "x.c", &c};
	struct test a = {"b_second", nothing, 10, "z.c", &b};
	const struct test *x = NULL, *y = NULL;

	ASSERT(test_find_duplicate(&a, &x, &y));
	ASSERT(x == &a && y == &c);
	/* Names that only share a prefix are apart. */
	c.name = "b_second_too";
	ASSERT(!test_find_duplicate(&a, &x, &y));
	ASSERT(!test_find_duplicate(NULL, &x, &y));
}

/* The runner refuses to start on a shared name; this says which. */
TEST(runner_registry_has_no_shared_name)
{
	const struct test *x = NULL, *y = NULL;
	size_t n = 0;

	for (const struct test *t = test_registered(); t; t = t->next)
		n++;
	ASSERT(n > 1);
	ASSERT_MSG(!test_find_duplicate(test_registered(), &x, &y),
		   "%s in %s and %s", x->name, y->file, x->file);
}
