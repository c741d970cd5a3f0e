#include "datadir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "sipstone_paths.h" /* generated: SIPSTONE_DATADIR */

const char *datadir_get(void)
{
	const char *env = getenv("SIPSTONE_DATADIR");

	return env && env[0] ? env : SIPSTONE_DATADIR;
}

int datadir_path(char *out, size_t size, const char *rel)
{
	int n;

	if (!size)
		return ENAMETOOLONG;
	n = snprintf(out, size, "%s/%s", datadir_get(), rel);
	if (n < 0 || (size_t)n >= size) {
		out[0] = '\0';
		return ENAMETOOLONG;
	}
	return 0;
}
