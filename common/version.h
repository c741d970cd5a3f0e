/*
 * version.h - which code this program is: the description of the
 * checkout it was built from (`git describe --always --dirty`, e.g.
 * "32ff37c" or "32ff37c-dirty"), or the release number of the VERSION
 * file when it was built outside git (a tarball, the Debian source).
 * The GNUmakefile generates it into build/gen/sipstone_version.h and
 * recompiles only when it changes.
 */
#ifndef SIPSTONE_VERSION_H
#define SIPSTONE_VERSION_H

#include <stdio.h>

/* The version string: never NULL nor empty, static storage. */
const char *version_string(void);

/*
 * Writes "<program> <version>\n" to f: the whole output of --version.
 * Returns 0, or EIO when it could not be written.
 */
int version_print(FILE *f, const char *program);

#endif
