#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "ctl"
#include "buf.h"
#include "ev.h"
#include "log.h"
#include "machjson.h"
#include "obj.h"
#include "procstat.h"
#include "version.h"

struct ctl_cmd {
	char *name;
	ctl_cmd_h *h;
	void *arg;
};

struct ctl {
	struct ev *ev;
	int in_fd;
	int out_fd;
	char role[32];
	struct buf in;
	bool discarding; /* inside a line that was too long */
	bool stopped;
	bool watching;
	struct ctl_cmd *cmds;
	size_t ncmds;
	ctl_stop_h *stop_h;
	void *arg;
	unsigned long lines_in;
	unsigned long lines_bad;
	uint64_t started_ns;
	ctl_stats_h *stats_h;
	void *stats_arg;
	struct ev_timer stats_timer;
	uint64_t stats_interval_ns;
};

static bool is_builtin(const char *name)
{
	return !strcmp(name, "ping") || !strcmp(name, "stop") ||
	       !strcmp(name, "stats") || !strcmp(name, "stats-interval");
}

long long ctl_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			struct pollfd pfd = {fd, POLLOUT, 0};

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return errno;
			/* A slow reader: wait, but never forever. */
			if (poll(&pfd, 1, 5000) <= 0)
				return ETIMEDOUT;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_json(struct ctl *ctl, json_t *obj)
{
	char *text, *line;
	size_t len;
	int err;

	text = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!text)
		return ENOMEM;
	len = strlen(text);
	/* The line and its newline leave in one write, so lines stay whole. */
	line = realloc(text, len + 1);
	if (!line) {
		free(text);
		return ENOMEM;
	}
	line[len] = '\n';
	err = write_all(ctl->out_fd, line, len + 1);
	free(line);
	if (err)
		log_warn("control output: %s", strerror(err));
	return err;
}

json_t *ctl_stats_snapshot(struct ctl *ctl)
{
	struct procstat *ps;
	json_t *stats, *cpu, *threads;
	size_t i;

	ps = malloc(sizeof(*ps));
	stats = json_object();
	cpu = json_object();
	threads = json_array();
	if (!ps || !stats || !cpu || !threads)
		goto fail;
	json_object_set_new(stats, "uptime_ms",
			    json_integer((json_int_t)((ev_monotonic_ns() -
						       ctl->started_ns) /
						      EV_NS_PER_MS)));
	if (procstat_read(0, true, ps) == 0) {
		json_object_set_new(stats, "rss_kb",
				    json_integer((json_int_t)ps->rss_kb));
		json_object_set_new(cpu, "user_us",
				    json_integer((json_int_t)ps->user_us));
		json_object_set_new(cpu, "sys_us",
				    json_integer((json_int_t)ps->sys_us));
		for (i = 0; i < ps->nthreads; i++) {
			const struct procstat_thread *t = &ps->threads[i];

			json_array_append_new(
				threads,
				json_pack("{s:i,s:s,s:I,s:I}", "tid",
					  (int)t->tid, "name", t->name,
					  "user_us", (json_int_t)t->user_us,
					  "sys_us", (json_int_t)t->sys_us));
		}
	}
	{
		struct timespec ts;

		/* /proc counts in clock ticks (10 ms): too coarse for one
		 * second of a lightly loaded role.  This is exact. */
		if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
			json_object_set_new(
				cpu, "total_ns",
				json_integer((json_int_t)ts.tv_sec *
						     1000000000 +
					     ts.tv_nsec));
	}
	json_object_set_new(cpu, "threads", threads);
	json_object_set_new(stats, "cpu", cpu);
	{
		/* The whole machine too: what else ran beside us (an
		 * interfered step, issue 13). */
		json_t *machine = machjson_read();

		if (machine)
			json_object_set_new(stats, "machine", machine);
	}
	free(ps);
	if (ctl->stats_h)
		ctl->stats_h(ctl, stats, ctl->stats_arg);
	return stats;
fail:
	free(ps);
	json_decref(stats);
	json_decref(cpu);
	json_decref(threads);
	return NULL;
}

void ctl_stats_source(struct ctl *ctl, ctl_stats_h *h, void *arg)
{
	ctl->stats_h = h;
	ctl->stats_arg = arg;
}

static void on_stats_timer(void *arg)
{
	struct ctl *ctl = arg;
	json_t *stats;

	ev_timer_start(ctl->ev, &ctl->stats_timer, ctl->stats_interval_ns,
		       on_stats_timer, ctl);
	stats = ctl_stats_snapshot(ctl);
	if (stats)
		ctl_event(ctl, "stats", stats);
	json_decref(stats);
}

static int set_interval(struct ctl *ctl, json_t *args, const char **error)
{
	json_t *ms = json_object_get(args, "ms");
	json_int_t v;

	if (!json_is_integer(ms) || (v = json_integer_value(ms)) < 0 ||
	    (v > 0 && v < 100) || v > 3600000) {
		*error = "ms must be 0 (off) or 100..3600000";
		return EINVAL;
	}
	ctl->stats_interval_ns = (uint64_t)v * EV_NS_PER_MS;
	if (v == 0)
		ev_timer_cancel(ctl->ev, &ctl->stats_timer);
	else
		ev_timer_start(ctl->ev, &ctl->stats_timer,
			       ctl->stats_interval_ns, on_stats_timer, ctl);
	return 0;
}

static void do_stop(struct ctl *ctl)
{
	if (ctl->stopped)
		return;
	ctl->stopped = true;
	ev_timer_cancel(ctl->ev, &ctl->stats_timer);
	if (ctl->watching) {
		ev_fd_del(ctl->ev, ctl->in_fd);
		ctl->watching = false;
	}
	if (ctl->stop_h)
		ctl->stop_h(ctl, ctl->arg);
}

static void reply_error(struct ctl *ctl, json_t *id, const char *cmd,
			const char *error)
{
	json_t *r = json_object();

	if (!r)
		return;
	if (id)
		json_object_set(r, "id", id);
	if (cmd)
		json_object_set_new(r, "cmd", json_string(cmd));
	json_object_set_new(r, "ok", json_false());
	json_object_set_new(r, "error", json_string(error));
	send_json(ctl, r);
	json_decref(r);
}

static void reply_ok(struct ctl *ctl, json_t *id, const char *cmd,
		     json_t *result)
{
	json_t *r = json_object();

	if (!r)
		return;
	if (id)
		json_object_set(r, "id", id);
	json_object_set_new(r, "cmd", json_string(cmd));
	json_object_set_new(r, "ok", json_true());
	if (json_is_object(result))
		json_object_update_missing(r, result);
	else if (result)
		json_object_set(r, "result", result);
	send_json(ctl, r);
	json_decref(r);
}

static const struct ctl_cmd *find_cmd(const struct ctl *ctl, const char *name)
{
	size_t i;

	for (i = 0; i < ctl->ncmds; i++)
		if (strcmp(ctl->cmds[i].name, name) == 0)
			return &ctl->cmds[i];
	return NULL;
}

static void handle_line(struct ctl *ctl, const char *line, size_t len)
{
	const struct ctl_cmd *cmd;
	json_t *req, *id, *result = NULL;
	const char *name, *error = NULL;
	json_error_t jerr;
	char text[200];
	size_t i;
	int err;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			break;
	if (i == len)
		return;
	ctl->lines_in++;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		ctl->lines_bad++;
		snprintf(text, sizeof(text), "bad JSON at column %d: %s",
			 jerr.column, jerr.text);
		reply_error(ctl, NULL, NULL, text);
		return;
	}
	id = json_object_get(req, "id");
	name = json_string_value(json_object_get(req, "cmd"));
	if (!json_is_object(req) || !name) {
		ctl->lines_bad++;
		reply_error(ctl, json_is_object(req) ? id : NULL, NULL,
			    "expected an object with a string \"cmd\"");
		goto out;
	}
	if (strcmp(name, "ping") == 0) {
		result = json_pack("{s:s,s:i,s:s}", "role", ctl->role, "pid",
				   (int)getpid(), "version", version_string());
		reply_ok(ctl, id, name, result);
		goto out;
	}
	if (strcmp(name, "stop") == 0) {
		reply_ok(ctl, id, name, NULL);
		do_stop(ctl);
		goto out;
	}
	if (strcmp(name, "stats") == 0) {
		result = ctl_stats_snapshot(ctl);
		if (result)
			reply_ok(ctl, id, name, result);
		else
			reply_error(ctl, id, name, "out of memory");
		goto out;
	}
	if (strcmp(name, "stats-interval") == 0) {
		if (set_interval(ctl, req, &error))
			reply_error(ctl, id, name, error);
		else
			reply_ok(ctl, id, name, NULL);
		goto out;
	}
	cmd = find_cmd(ctl, name);
	if (!cmd) {
		ctl->lines_bad++;
		snprintf(text, sizeof(text), "unknown command \"%.64s\"",
			 name);
		reply_error(ctl, id, name, text);
		goto out;
	}
	err = cmd->h(ctl, req, &result, &error, cmd->arg);
	if (err) {
		if (!error)
			error = strerror(err);
		reply_error(ctl, id, name, error);
	} else {
		reply_ok(ctl, id, name, result);
	}
out:
	json_decref(result);
	json_decref(req);
}

static void on_input(int fd, int events, void *arg)
{
	struct ctl *ctl = arg;
	char chunk[4096];
	ssize_t n;

	n = read(fd, chunk, sizeof(chunk));
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_warn("control input: %s", strerror(errno));
		do_stop(ctl);
		return;
	}
	if (n == 0) {
		/* The orchestrator went away: stop rather than run on. */
		do_stop(ctl);
		return;
	}
	/* Keep a reference: a handler may drop the last one of its owner. */
	obj_ref(ctl);
	for (ssize_t i = 0; i < n && !ctl->stopped;) {
		const char *nl = memchr(chunk + i, '\n', (size_t)(n - i));
		size_t take = nl ? (size_t)(nl - (chunk + i))
				 : (size_t)(n - i);

		if (ctl->discarding) {
			if (nl)
				ctl->discarding = false;
		} else if (buf_append(&ctl->in, chunk + i, take)) {
			ctl->lines_in++;
			ctl->lines_bad++;
			reply_error(ctl, NULL, NULL, "line too long");
			buf_reset(&ctl->in);
			ctl->discarding = nl == NULL;
		} else if (nl) {
			handle_line(ctl, ctl->in.data ? ctl->in.data : "",
				    ctl->in.len);
			buf_reset(&ctl->in);
		}
		i += (ssize_t)take + (nl ? 1 : 0);
	}
	obj_deref(ctl);
}

static void ctl_destroy(void *arg)
{
	struct ctl *ctl = arg;
	size_t i;

	ev_timer_cancel(ctl->ev, &ctl->stats_timer);
	if (ctl->watching)
		ev_fd_del(ctl->ev, ctl->in_fd);
	for (i = 0; i < ctl->ncmds; i++)
		free(ctl->cmds[i].name);
	free(ctl->cmds);
	buf_free(&ctl->in);
	obj_deref(ctl->ev);
}

int ctl_alloc(struct ctl **ctlp, struct ev *ev, int in_fd, int out_fd,
	      const char *role, ctl_stop_h *stop_h, void *arg)
{
	struct ctl *ctl;
	int flags, err;

	ctl = obj_alloc(sizeof(*ctl), ctl_destroy);
	if (!ctl)
		return ENOMEM;
	ctl->ev = obj_ref(ev);
	ctl->in_fd = in_fd;
	ctl->out_fd = out_fd;
	snprintf(ctl->role, sizeof(ctl->role), "%s", role ? role : "");
	buf_init(&ctl->in, CTL_LINE_MAX);
	ctl->stop_h = stop_h;
	ctl->arg = arg;
	ctl->started_ns = ev_monotonic_ns();
	ev_timer_init(&ctl->stats_timer);
	flags = fcntl(in_fd, F_GETFL);
	if (flags < 0 || fcntl(in_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		err = errno;
		goto out;
	}
	err = ev_fd_add(ev, in_fd, EV_READ, on_input, ctl);
	if (err)
		goto out;
	ctl->watching = true;
	*ctlp = ctl;
	ctl = NULL;
out:
	obj_deref(ctl);
	return err;
}

int ctl_command(struct ctl *ctl, const char *name, ctl_cmd_h *h, void *arg)
{
	struct ctl_cmd *cmds;
	char *copy;

	if (find_cmd(ctl, name) || is_builtin(name))
		return EEXIST;
	copy = strdup(name);
	if (!copy)
		return ENOMEM;
	cmds = realloc(ctl->cmds, (ctl->ncmds + 1) * sizeof(*cmds));
	if (!cmds) {
		free(copy);
		return ENOMEM;
	}
	ctl->cmds = cmds;
	cmds[ctl->ncmds].name = copy;
	cmds[ctl->ncmds].h = h;
	cmds[ctl->ncmds].arg = arg;
	ctl->ncmds++;
	return 0;
}

int ctl_event(struct ctl *ctl, const char *name, json_t *fields)
{
	json_t *e = json_object();
	int err;

	if (!e)
		return ENOMEM;
	json_object_set_new(e, "event", json_string(name));
	json_object_set_new(e, "role", json_string(ctl->role));
	json_object_set_new(e, "t_ms", json_integer(ctl_unix_ms()));
	/* Which code each role runs, for the bundle's per-role versions. */
	if (!strcmp(name, "ready"))
		json_object_set_new(e, "version",
				    json_string(version_string()));
	if (fields)
		json_object_update_missing(e, fields);
	err = send_json(ctl, e);
	json_decref(e);
	return err;
}

unsigned long ctl_lines_in(const struct ctl *ctl)
{
	return ctl->lines_in;
}

unsigned long ctl_lines_bad(const struct ctl *ctl)
{
	return ctl->lines_bad;
}
