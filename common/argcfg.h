/*
 * argcfg.h - "--config FILE.json" for any program whose flags are long
 * options: each key of the file's object is a flag name, so that
 *   {"listen": ["udp:127.0.0.1:5080", "tcp:127.0.0.1:5080"],
 *    "ring-ms": 0, "control": true}
 * means "--listen udp:... --listen tcp:... --ring-ms 0 --control".
 * Strings and numbers are values, true is a flag alone, false leaves the
 * flag out, a list repeats the flag.  The file's flags come first, so
 * flags given on the command line after --config win.
 */
#ifndef SIPSTONE_ARGCFG_H
#define SIPSTONE_ARGCFG_H

#include <stddef.h>

/*
 * Returns a new argv with every "--config FILE" (or --config=FILE)
 * replaced by the file's flags.  Returns 0 with *out_argc and *out_argv
 * (free with argcfg_free()), or EBADMSG / ENOENT with err saying
 * FILE:LINE:COLUMN and what is wrong.
 */
int argcfg_expand(int argc, char **argv, int *out_argc, char ***out_argv,
		  char *err, size_t errsz);

void argcfg_free(int argc, char **argv);

#endif
