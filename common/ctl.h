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
 * Registers handler h for command name (copied).  "ping", "stop",
 * "stats" and "stats-interval" are built in.  Returns 0, EEXIST or
 * ENOMEM.
 */
int ctl_command(struct ctl *ctl, const char *name, ctl_cmd_h *h, void *arg);

/*
 * Writes {"event": name, "role": role, "t_ms": <unix ms>, ...fields} as
 * one line; the "ready" event also carries "version" (version.h), so
 * that the controller knows which code each role runs.  fields (may be
 * NULL) is borrowed.  Returns 0 or an errno from write.
 */
int ctl_event(struct ctl *ctl, const char *name, json_t *fields);

/*
 * Adds the role's own counters to a stats object (borrowed, an object
 * that already holds cpu, rss_kb and uptime_ms).
 */
typedef void(ctl_stats_h)(struct ctl *ctl, json_t *stats, void *arg);

/*
 * Names the role's counter source.  From then on the built-in "stats"
 * command answers a snapshot and "stats-interval" {"ms": N} (N >= 100,
 * or 0 to stop) emits a "stats" event every N ms.
 */
void ctl_stats_source(struct ctl *ctl, ctl_stats_h *h, void *arg);

/*
 * A snapshot: {"uptime_ms", "rss_kb", "cpu": {"user_us", "sys_us",
 * "total_ns", "threads": [{"tid", "name", "user_us", "sys_us"}]},
 * "machine": machjson_read()'s object (absent when /proc/stat cannot be
 * read)} plus the role's counters.  user_us and sys_us come from /proc in clock
 * ticks (10 ms steps); total_ns (user + system) is exact.  Returns a new reference, or NULL when out of memory.
 */
json_t *ctl_stats_snapshot(struct ctl *ctl);

/* Lines read, lines rejected as bad input (for tests and counters). */
unsigned long ctl_lines_in(const struct ctl *ctl);
unsigned long ctl_lines_bad(const struct ctl *ctl);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
long long ctl_unix_ms(void);

#endif
