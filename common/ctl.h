/*
 * ctl.h - the control channel every role speaks (docs/agents.md):
 * JSON objects, one per line, commands in on one descriptor (stdin),
 * replies and events out on another (stdout).  The same bytes travel
 * over a local pipe and over an SSH exec channel, so the orchestrator
 * drives every role the same way.
 *
 * The channel lives on one event loop (the role's main thread).  Bad
 * input (not JSON, not an object, no "cmd", a line over CTL_LINE_MAX)
 * gets an error reply and the channel carries on.  End of input means
 * "stop": a dropped SSH channel never leaves a role running.
 */
#ifndef SIPSTONE_CTL_H
#define SIPSTONE_CTL_H

#include <jansson.h>
#include <stdbool.h>

struct ctl;
struct ev;

#define CTL_LINE_MAX 65536

/*
 * A command handler.  args is the whole request object (borrowed).  It
 * returns 0 and sets *result (a new reference or NULL) for an "ok"
 * reply, or an errno with *error (a static or ctl-owned string) for an
 * "error" reply.
 */
typedef int(ctl_cmd_h)(struct ctl *ctl, json_t *args, json_t **result,
		       const char **error, void *arg);

/* Called once when the input ends or "stop" is asked for. */
typedef void(ctl_stop_h)(struct ctl *ctl, void *arg);

/*
 * Attaches a channel to ev reading in_fd (made non-blocking) and writing
 * out_fd.  role names the program in events.  Returns 0, or an errno.
 * *ctlp is an obj: obj_deref() detaches it (the fds stay open).
 */
int ctl_alloc(struct ctl **ctlp, struct ev *ev, int in_fd, int out_fd,
	      const char *role, ctl_stop_h *stop_h, void *arg);

/*
 * Registers handler h for command name (copied).  "ping" and "stop" are
 * built in.  Returns 0, EEXIST or ENOMEM.
 */
int ctl_command(struct ctl *ctl, const char *name, ctl_cmd_h *h, void *arg);

/*
 * Writes {"event": name, "t_ms": <unix ms>, ...fields} as one line.
 * fields (may be NULL) is borrowed.  Returns 0 or an errno from write.
 */
int ctl_event(struct ctl *ctl, const char *name, json_t *fields);

/* Lines read, lines rejected as bad input (for tests and counters). */
unsigned long ctl_lines_in(const struct ctl *ctl);
unsigned long ctl_lines_bad(const struct ctl *ctl);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
long long ctl_unix_ms(void);

#endif
