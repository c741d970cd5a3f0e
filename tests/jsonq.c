#include "jsonq.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* The value at path in o, or NULL. */
static json_t *lookup(json_t *o, const char *path)
{
	char key[64];
	const char *dot;
	json_t *v = o;

	while (v && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		v = isdigit((unsigned char)key[0])
			    ? json_array_get(v, (size_t)strtoul(key, NULL, 10))
			    : json_object_get(v, key);
		path = dot + 1;
	}
	return v ? json_object_get(v, path) : NULL;
}

long long jsonq_int(json_t *o, const char *path)
{
	json_t *v = lookup(o, path);

	ASSERT_MSG(json_is_integer(v), "no integer %s", path);
	return json_integer_value(v);
}

long long jsonq_bool(json_t *o, const char *path)
{
	json_t *v = lookup(o, path);

	ASSERT_MSG(json_is_boolean(v), "no boolean %s", path);
	return json_is_true(v);
}

void jsonq_expect_at(json_t *o, const struct jsonq_want *want, size_t n,
		     const char *file, int line)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = lookup(o, want[i].path);

		if (!json_is_integer(v))
			test_fail(file, line, "no integer %s", want[i].path);
		if (json_integer_value(v) != want[i].value)
			test_fail(file, line, "%s == %lld: got %lld",
				  want[i].path, want[i].value,
				  (long long)json_integer_value(v));
	}
}
