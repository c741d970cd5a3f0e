/*
 * callhandler: not built yet.  It prints what it will be and exits 2, so that
 * scripts that call it fail loudly rather than silently.
 */
#include <stdio.h>

int main(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr,
		"usage: %s ...\n"
		"%s is not implemented yet (see the open issues)\n",
		argv[0], "callhandler");
	return 2;
}
