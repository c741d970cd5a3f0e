/* Tests for the small base modules: pl, buf, obj, list, hash, log. */
#include <errno.h>
#include <limits.h>

#include "buf.h"
#include "hash.h"
#include "list.h"
#include "log.h"
#include "obj.h"
#include "pl.h"
#include "test.h"

TEST(pl_u32_accepts_digits_and_leading_zeros)
{
	struct pl a = PL("0068"), b = PL("4294967295");
	uint32_t v = 1;

	ASSERT_EQ(pl_u32(&a, &v), 0);
	ASSERT_EQ(v, 68);
	ASSERT_EQ(pl_u32(&b, &v), 0);
	ASSERT_EQ(v, UINT32_MAX);
}

TEST(pl_u32_rejects_junk_and_overflow)
{
	struct pl over = PL("4294967296"), neg = PL("-1"), sp = PL(" 1");
	struct pl empty = PL(""), huge = PL("36893488147419103232");
	uint32_t v = 7;

	ASSERT_EQ(pl_u32(&over, &v), EOVERFLOW);
	ASSERT_EQ(pl_u32(&neg, &v), EBADMSG);
	ASSERT_EQ(pl_u32(&sp, &v), EBADMSG);
	ASSERT_EQ(pl_u32(&empty, &v), EBADMSG);
	ASSERT_EQ(pl_u32(&huge, &v), EOVERFLOW);
	ASSERT_EQ(v, 7);
}

TEST(pl_u64_overflow_boundary)
{
	struct pl max = PL("18446744073709551615");
	struct pl over = PL("18446744073709551616");
	uint64_t v = 0;

	ASSERT_EQ(pl_u64(&max, &v), 0);
	ASSERT(v == UINT64_MAX);
	ASSERT_EQ(pl_u64(&over, &v), EOVERFLOW);
}

TEST(pl_compare_and_trim)
{
	struct pl a = PL("Via"), b = PL("vIA"), t = PL(" \t x y \r\n");
	char small[3], fits[4];

	ASSERT(pl_caseeq(&a, &b));
	ASSERT(!pl_eq(&a, &b));
	ASSERT(pl_caseeq_str(&a, "VIA"));
	ASSERT(!pl_caseeq_str(&a, "VI"));
	pl_trim(&t);
	ASSERT_PL(&t, "x y");
	ASSERT_EQ(pl_strcpy(&t, small, sizeof(small)), EOVERFLOW);
	ASSERT_EQ(pl_strcpy(&a, fits, sizeof(fits)), 0);
	ASSERT_STR(fits, "Via");
}

TEST(buf_grows_to_its_maximum_and_no_further)
{
	struct buf b;
	char chunk[100];

	memset(chunk, 'x', sizeof(chunk));
	buf_init(&b, 1000);
	for (int i = 0; i < 10; i++)
		ASSERT_EQ(buf_append(&b, chunk, sizeof(chunk)), 0);
	ASSERT_EQ(b.len, 1000);
	ASSERT_EQ(buf_append(&b, "y", 1), EOVERFLOW);
	ASSERT_EQ(b.len, 1000);
	buf_consume(&b, 990);
	ASSERT_EQ(b.len, 10);
	ASSERT_EQ(buf_printf(&b, "%d-%s", 42, "z"), 0);
	ASSERT_EQ(b.len, 14);
	ASSERT(memcmp(b.data + 10, "42-z", 4) == 0);
	buf_free(&b);
}

TEST(buf_printf_in_the_room_grows_and_stops_at_the_maximum)
{
	struct buf b;

	buf_init(&b, 300);
	/* Empty: measured, grown (256), printed. */
	ASSERT_EQ(buf_printf(&b, "%s", "abc"), 0);
	ASSERT_EQ(b.len, 3);
	/* In the room left: one pass. */
	ASSERT_EQ(buf_printf(&b, "%05d", 42), 0);
	ASSERT_EQ(b.len, 8);
	ASSERT(memcmp(b.data, "abc00042", 8) == 0);
	/* 248 left of 256 and 260 asked: grown to the maximum (300). */
	ASSERT_EQ(buf_printf(&b, "%260s", "x"), 0);
	ASSERT_EQ(b.len, 268);
	ASSERT_EQ(b.data[267], 'x');
	/* 32 left: 40 do not fit, nothing changes. */
	ASSERT_EQ(buf_printf(&b, "%40s", "y"), EOVERFLOW);
	ASSERT_EQ(b.len, 268);
	ASSERT_EQ(buf_append_u64(&b, 0), 0);
	ASSERT_EQ(buf_append_u64(&b, 18446744073709551615ull), 0);
	ASSERT_EQ(b.len, 289);
	ASSERT(memcmp(b.data + 268, "018446744073709551615", 21) == 0);
	ASSERT_EQ(buf_append_u64(&b, 123456789012ull), EOVERFLOW);
	ASSERT_EQ(b.len, 289);
	buf_free(&b);
	/* A maximum below the first allocation: the room there is is not
	 * the room allowed. */
	buf_init(&b, 10);
	ASSERT_EQ(buf_append_str(&b, "abc"), 0);
	ASSERT_EQ(buf_printf(&b, "%s", "12345678"), EOVERFLOW);
	ASSERT_EQ(b.len, 3);
	ASSERT_EQ(buf_printf(&b, "%s", "1234567"), 0);
	ASSERT_EQ(b.len, 10);
	buf_free(&b);
}

static int destroyed;

static void count_destroy(void *arg)
{
	(void)arg;
	destroyed++;
}

TEST(obj_refcount_and_destructor)
{
	size_t before = obj_live();
	int *o = obj_alloc(sizeof(int), count_destroy);

	ASSERT(o);
	ASSERT_EQ(obj_live(), before + 1);
	obj_ref(o);
	ASSERT_EQ(obj_refs(o), 2);
	ASSERT(obj_deref(o) == NULL);
	ASSERT_EQ(destroyed, 0);
	obj_deref(o);
	ASSERT_EQ(destroyed, 1);
	ASSERT_EQ(obj_live(), before);
	ASSERT(obj_deref(NULL) == NULL);
}

struct item {
	int v;
	struct le le;
};

TEST(list_append_prepend_unlink)
{
	struct list l = LIST_INIT;
	struct item a = {1, {0}}, b = {2, {0}}, c = {3, {0}};

	list_append(&l, &b.le, &b);
	list_prepend(&l, &a.le, &a);
	list_insert_after(&l, &b.le, &c.le, &c);
	ASSERT_EQ(l.count, 3);
	ASSERT(l.head->data == &a && l.tail->data == &c);
	list_unlink(&b.le);
	ASSERT_EQ(l.count, 2);
	ASSERT(a.le.next == &c.le && c.le.prev == &a.le);
	list_unlink(&b.le);
	ASSERT_EQ(l.count, 2);
	list_unlink(&a.le);
	list_unlink(&c.le);
	ASSERT(list_isempty(&l));
}

TEST(hash_buckets_and_functions)
{
	struct hash h;
	struct item it[64];

	ASSERT_EQ(hash_init(&h, 0), EINVAL);
	ASSERT_EQ(hash_init(&h, 100), 0);
	ASSERT_EQ(h.mask, 127);
	for (int i = 0; i < 64; i++) {
		it[i].v = i;
		hash_append(&h, (uint32_t)i * 7, &it[i].le, &it[i]);
	}
	ASSERT(hash_bucket(&h, 7)->head->data == &it[1]);
	ASSERT_EQ(hash_fnv32("abc", 3), hash_fnv32_ci("ABC", 3));
	/* FNV-1a test vector: "a" -> 0xe40c292c. */
	ASSERT_EQ(hash_fnv32("a", 1), 0xe40c292cu);
	ASSERT(hash_fnv64("a", 1) == 0xaf63dc4c8601ec8cull);
	hash_free(&h);
	ASSERT(!le_linked(&it[3].le));
}

TEST(log_level_names)
{
	enum log_level l = LOG_LEVEL_ERR;

	ASSERT_EQ(log_level_decode("debug", &l), 0);
	ASSERT_EQ(l, LOG_LEVEL_DEBUG);
	ASSERT_EQ(log_level_decode("loud", &l), EINVAL);
	ASSERT_EQ(l, LOG_LEVEL_DEBUG);
}
