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

struct option;

/*
 * One option read by argcfg_parse(): name without "--", value NULL for
 * an option that takes none.  Returns 0, or an errno (EINVAL) with err
 * written, or a positive non-errno the caller gives meaning to (for
 * example 1 for --help): argcfg_parse() stops and returns it.
 */
typedef int(argcfg_opt_h)(const char *name, const char *value, void *arg,
			  char *err, size_t errsz);

/*
 * The whole command line of a program with long options: expands
 * --config (argcfg_expand()), then reads argv[1..] with getopt_long
 * over opts (a short option is accepted for an entry whose val is a
 * character and whose flag is NULL) and calls h for each option in
 * order.  Returns 0, what h returned, or EINVAL with err saying
 * "unknown option --foo", "--foo: missing value", "unexpected argument
 * X" or what is wrong with the --config file.
 */
int argcfg_parse(int argc, char **argv, const struct option *opts,
		 argcfg_opt_h *h, void *arg, char *err, size_t errsz);

#endif
