#include <stdint.h>

#include "fixture.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "test.h"

#define FIXTURE_MAX_VARS 16

static uint16_t ports[10];

uint16_t fixture_port(unsigned n)
{
	return n < 10 ? ports[n] : 0;
}

/* The value of the placeholder key (len bytes), or NULL if none. */
static const char *lookup(const char *key, size_t len,
			  const char *const (*vars)[2], size_t nvars,
			  char *num, size_t numsz)
{
	if (len == 5 && !strncmp(key, "PORT", 4) &&
	    isdigit((unsigned char)key[4])) {
		unsigned n = (unsigned)(key[4] - '0');

		if (!ports[n])
			ports[n] = proc_free_port();
		snprintf(num, numsz, "%u", ports[n]);
		return num;
	}
	if (len == 4 && !strncmp(key, "ROOT", 4))
		return test_root_dir();
	if (len == 3 && !strncmp(key, "TMP", 3))
		return test_tmp_dir();
	if (len == 3 && !strncmp(key, "BIN", 3))
		return test_bin_dir();
	for (size_t i = 0; i < nvars; i++)
		if (strlen(vars[i][0]) == len &&
		    !strncmp(vars[i][0], key, len))
			return vars[i][1];
	return NULL;
}

static bool is_key_char(char c)
{
	return isupper((unsigned char)c) || isdigit((unsigned char)c) ||
	       c == '_';
}

/* Appends len bytes of s to the growing buffer *out. */
static void append(char **out, size_t *n, size_t *cap, const char *s,
		   size_t len)
{
	if (*n + len + 1 > *cap) {
		*cap = (*n + len + 1) * 2;
		*out = realloc(*out, *cap);
		ASSERT(*out);
	}
	memcpy(*out + *n, s, len);
	*n += len;
	(*out)[*n] = '\0';
}

const char *fixture_vwrite(const char *dst, const char *fixture, va_list ap)
{
	const char *vars[FIXTURE_MAX_VARS][2];
	size_t nvars = 0, len, cap = 0, n = 0;
	char path[700], num[16], *in, *out = NULL;
	const char *key, *written;

	while ((key = va_arg(ap, const char *))) {
		ASSERT_MSG(nvars < FIXTURE_MAX_VARS, "%s: too many values",
			   fixture);
		vars[nvars][0] = key;
		vars[nvars][1] = va_arg(ap, const char *);
		nvars++;
	}
	memset(ports, 0, sizeof(ports));
	snprintf(path, sizeof(path), "%s/tests/data/%s", test_root_dir(),
		 fixture);
	in = test_read_file(path, &len);
	append(&out, &n, &cap, "", 0);
	for (size_t i = 0; i < len;) {
		size_t k = i + 1;
		const char *val;

		while (k < len && is_key_char(in[k]))
			k++;
		if (in[i] != '@' || k == i + 1 || k >= len || in[k] != '@') {
			append(&out, &n, &cap, in + i, 1);
			i++;
			continue;
		}
		val = lookup(in + i + 1, k - i - 1,
			     (const char *const(*)[2])vars, nvars, num,
			     sizeof(num));
		ASSERT_MSG(val, "%s: no value for @%.*s@", fixture,
			   (int)(k - i - 1), in + i + 1);
		append(&out, &n, &cap, val, strlen(val));
		i = k + 1;
	}
	free(in);
	written = test_write_file(dst, out);
	free(out);
	return written;
}

const char *fixture_write(const char *dst, const char *fixture, ...)
{
	const char *written;
	va_list ap;

	va_start(ap, fixture);
	written = fixture_vwrite(dst, fixture, ap);
	va_end(ap);
	return written;
}
