/*
 * shquote.h - the one way a value reaches a shell command line, local
 * (system, host_spawn of the local host) or remote (an SSH exec, which
 * the remote user's shell parses): POSIX single quotes, each ' inside
 * written as '\'' (POSIX.1-2017 XCU 2.2.2: nothing is special between
 * single quotes but the closing quote).  The orchestrator runs as root
 * on every host, so no name, path or address from a topology or an
 * inventory is ever pasted into a command unquoted.
 */
#ifndef SIPSTONE_SHQUOTE_H
#define SIPSTONE_SHQUOTE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Writes s single-quoted into out (size bytes, NUL-terminated).
 * Returns 0, or ENAMETOOLONG when it does not fit (out then holds "''"
 * when size allows, never a truncated quote that a shell would read on).
 */
int shquote(char *out, size_t size, const char *s);

/*
 * Whether name is a safe name for a node, a host or a topology: 1 to 64
 * of [A-Za-z0-9._-], not starting with '.' or '-' (no path walking, no
 * option look-alike, nothing a shell or a file name treats specially).
 */
bool shquote_safe_name(const char *name);

/*
 * Whether address is a plausible host name or IP address for a command
 * line: 1 to 255 of [A-Za-z0-9.:%_-], not starting with '-'.
 */
bool shquote_safe_address(const char *address);

#endif
