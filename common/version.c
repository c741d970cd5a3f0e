#include "version.h"

#include <errno.h>

#include "sipstone_version.h" /* generated: SIPSTONE_VERSION */

const char *version_string(void)
{
	return SIPSTONE_VERSION[0] ? SIPSTONE_VERSION : "unknown";
}

int version_print(FILE *f, const char *program)
{
	if (fprintf(f, "%s %s\n", program, version_string()) < 0 ||
	    fflush(f) != 0)
		return EIO;
	return 0;
}
