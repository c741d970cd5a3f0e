#include "shquote.h"

#include <errno.h>
#include <string.h>

int shquote(char *out, size_t size, const char *s)
{
	size_t n = 0;

	if (size < 3)
		return ENAMETOOLONG;
	out[n++] = '\'';
	for (const char *c = s; *c; c++) {
		/* '\'' is 4 bytes; keep room for the closing quote + NUL. */
		size_t need = *c == '\'' ? 4 : 1;

		if (n + need + 2 > size) {
			out[0] = out[1] = '\'';
			out[2] = '\0';
			return ENAMETOOLONG;
		}
		if (*c == '\'') {
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			out[n++] = *c;
		}
	}
	out[n++] = '\'';
	out[n] = '\0';
	return 0;
}

static bool in_set(char c, const char *extra)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr(extra, c));
}

bool shquote_safe_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64 || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *c = name; *c; c++)
		if (!in_set(*c, "._-"))
			return false;
	return true;
}

bool shquote_safe_address(const char *address)
{
	size_t len = strlen(address);

	if (len == 0 || len > 255 || address[0] == '-')
		return false;
	for (const char *c = address; *c; c++)
		if (!in_set(*c, ".:%_-"))
			return false;
	return true;
}
