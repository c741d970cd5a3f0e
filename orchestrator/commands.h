/*
 * commands.h - the orchestrator's commands but run (runlist.h):
 * validate, report, compare, upload, and the usage text.  Each takes
 * the command's own argc/argv (argv[0] the command's name) and returns
 * the exit status: 0 done, 1 failed, COMMANDS_BAD_USAGE bad usage or
 * files (said on stderr).
 */
#ifndef SIPSTONE_COMMANDS_H
#define SIPSTONE_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include "upload.h"

#define COMMANDS_BAD_USAGE 2

/* The usage text of every command to f. */
void commands_usage(FILE *f);

int commands_validate(int argc, char **argv);
int commands_report(int argc, char **argv);
int commands_compare(int argc, char **argv);
int commands_upload(int argc, char **argv);

/*
 * The upload options shared by upload and run --upload.  Returns true
 * when opt was one of them (false for any other option); *bad is set
 * when its value is wrong (said on stderr).
 */
bool commands_upload_option(int opt, const char *arg, struct upload_opts *o,
			    bool *bad);

#endif
