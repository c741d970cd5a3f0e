#include "roles.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "roles"
#include "log.h"
#include "rolecfg.h"
#include "shquote.h"
#include "versions.h"

/* The next JSON line from a role, or NULL (timeout, end, not JSON). */
static json_t *read_json(struct role *ro, uint64_t deadline)
{
	for (;;) {
		char *nl = memchr(ro->buf, '\n', ro->len);
		struct pollfd pfd = {ro->from_fd, POLLIN, 0};
		uint64_t now;
		ssize_t n;

		if (nl) {
			json_error_t jerr;
			json_t *j = json_loadb(ro->buf, (size_t)(nl - ro->buf),
					       0, &jerr);

			ro->len -= (size_t)(nl + 1 - ro->buf);
			memmove(ro->buf, nl + 1, ro->len);
			if (j)
				return j;
			continue;
		}
		if (ro->eof)
			return NULL;
		now = runctx_now_ms();
		if (now >= deadline)
			return NULL;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		n = read(ro->from_fd, ro->buf + ro->len,
			 sizeof(ro->buf) - ro->len);
		if (n <= 0) {
			ro->eof = true;
			continue;
		}
		ro->len += (size_t)n;
		if (ro->len == sizeof(ro->buf))
			ro->len = 0; /* a line past the limit: dropped */
	}
}

/* Waits for an event from a role; keeps a "summary" that passes by. */
json_t *roles_wait_event(struct run *r, struct role *ro, const char *event,
			 unsigned timeout_ms)
{
	uint64_t deadline = runctx_now_ms() + timeout_ms;

	while (runctx_now_ms() < deadline && !runctx_interrupted(r)) {
		uint64_t slice = runctx_now_ms() + 200;
		json_t *j = read_json(ro, slice < deadline ? slice : deadline);
		const char *e;

		if (!j) {
			if (ro->eof)
				return NULL;
			continue;
		}
		e = json_string_value(json_object_get(j, "event"));
		if (e && !strcmp(e, "summary")) {
			json_decref(ro->summary);
			ro->summary = json_incref(j);
		}
		if (e && !strcmp(e, event))
			return j;
		json_decref(j);
	}
	return NULL;
}

static void log_tail(const char *path, char *out, size_t size)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	out[0] = '\0';
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	if (ftell(f) > (long)sizeof(buf) - 1)
		fseek(f, -(long)(sizeof(buf) - 1), SEEK_END);
	else
		fseek(f, 0, SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	{
		char *last = strrchr(buf, '\n');

		snprintf(out, size, "%.200s", last ? last + 1 : buf);
	}
}

/* Starts node n as ro; test, when given, replaces a loader's test. */
int roles_start_as(struct run *r, struct role *ro, const struct topo_node *n,
		   const char *test)
{
	char cfg_path[700], bin[700], cmd[1700], why[SSH_WHY_MAX], tail[300];
	json_t *ready;
	unsigned timeout = r->o->ready_timeout_ms ? r->o->ready_timeout_ms
						  : 20000;
	int err;

	ro->node = n;
	ro->host = runctx_host(r, n->host);
	ro->to_fd = ro->from_fd = -1;
	err = rolecfg_write(r, n, test, cfg_path, sizeof(cfg_path));
	if (err)
		return err;
	if (host_is_local(ro->host))
		snprintf(bin, sizeof(bin), "%s/%s", r->o->bin_dir,
			 runctx_program(n->role));
	else
		snprintf(bin, sizeof(bin), "%s/%s", r->remote,
			 runctx_program(n->role));
	{
		char qbin[800], qcfg[800];

		if (shquote(qbin, sizeof(qbin), bin) ||
		    shquote(qcfg, sizeof(qcfg), cfg_path))
			return runctx_fail(r, ENAMETOOLONG,
					   "%s: path too long", n->name);
		snprintf(cmd, sizeof(cmd), "%s --config %s --control", qbin,
			 qcfg);
	}
	snprintf(ro->log, sizeof(ro->log), "%.600s/logs/%.64s.log", r->bundle,
		 n->name);
	err = host_spawn(ro->host, cmd, ro->log, &ro->proc, &ro->to_fd,
			 &ro->from_fd, why, sizeof(why));
	if (err)
		return runctx_fail(r, err, "%s: cannot start %s: %s", n->name,
				   runctx_program(n->role), why);
	ready = roles_wait_event(r, ro, "ready", timeout);
	if (!ready) {
		if (runctx_interrupted(r))
			return EINTR;
		log_tail(ro->log, tail, sizeof(tail));
		return runctx_fail(r, ETIMEDOUT,
				   "%s (%s on %s) did not become ready%s%s",
				   n->name, runctx_program(n->role), n->host,
				   tail[0] ? ": " : "", tail);
	}
	versions_note_ready(ro, ready);
	json_decref(ready);
	runctx_say(r, "[start] %s (%s) on %s ready, pid %ld", n->name,
		   runctx_program(n->role), n->host, host_proc_pid(ro->proc));
	return 0;
}

static int start_role(struct run *r, size_t idx)
{
	return roles_start_as(r, &r->roles[idx], &r->t->nodes[idx], NULL);
}

/* publish: waits until every callhandler has all its watchers
 * subscribed; one that gave up on any fails the run (its presentities
 * would count fewer NOTIFYs than publications x W). */
static int wait_watchers(struct run *r)
{
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		const char *name = r->t->nodes[i].name;
		double dialogs, active;
		json_t *ev;

		if (r->t->nodes[i].role != TOPO_CALLHANDLER)
			continue;
		/* 60 s, and the time the dialogs take at the watchers'
		 * default 1000 SUBSCRIBEs/s. */
		ev = roles_wait_event(r, ro, "watching",
				      60000 + r->t->exp.user_count *
						      r->t->exp.watchers);
		if (!ev)
			return runctx_interrupted(r)
				       ? EINTR
				       : runctx_fail(r, ETIMEDOUT,
						     "%s did not subscribe "
						     "its "
						     "watchers in time",
						     name);
		dialogs = json_number_value(json_object_get(ev, "dialogs"));
		active = json_number_value(json_object_get(ev, "active"));
		json_decref(ev);
		if (!(dialogs > 0) || active < dialogs)
			return runctx_fail(r, EPROTO,
					   "%s: %.0f of %.0f watchers active",
					   name, active, dialogs);
		runctx_say(r, "[start] %s: %.0f watchers active", name,
			   active);
	}
	return 0;
}

int roles_start_all(struct run *r)
{
	static const enum topo_role order[] = {TOPO_STATEFUL, TOPO_STATELESS,
					       TOPO_CALLHANDLER, TOPO_LOADER};

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		if (order[k] == TOPO_LOADER && r->o->deploy_only)
			continue;
		for (size_t i = 0; i < r->t->nnodes; i++) {
			int err;

			if (r->t->nodes[i].role != order[k])
				continue;
			err = start_role(r, i);
			if (err)
				return err;
		}
		/* Callhandlers must have every user registered first (or
		 * publish: every watcher active). */
		if (order[k] != TOPO_CALLHANDLER)
			continue;
		if (!strcmp(r->t->exp.test, "publish")) {
			int err = wait_watchers(r);

			if (err)
				return err;
			continue;
		}
		for (size_t i = 0; i < r->t->nnodes; i++) {
			struct role *ro = &r->roles[i];
			json_t *ev;

			if (r->t->nodes[i].role != TOPO_CALLHANDLER)
				continue;
			/* 60 s, and the time the users take at the rate. */
			ev = roles_wait_event(r, ro, "registered",
					      60000 + r->t->exp.user_count *
							      1000u /
							      RUN_REG_RATE);
			if (!ev)
				return runctx_interrupted(r)
					       ? EINTR
					       : runctx_fail(
							 r, ETIMEDOUT,
							 "%s did not register "
							 "its users in time",
							 r->t->nodes[i].name);
			runctx_say(r, "[start] %s registered its users",
				   r->t->nodes[i].name);
			json_decref(ev);
		}
	}
	return 0;
}

/* ---- load steps ------------------------------------------------------- */

/* Sends a command and waits for its reply (events in between are kept
 * aside: a passing summary is remembered). */
json_t *roles_command(struct run *r, struct role *ro, const char *cmd,
		      json_t *args, unsigned timeout_ms)
{
	static int next_id = 1;
	int id = next_id++;
	uint64_t deadline = runctx_now_ms() + timeout_ms;
	json_t *req = json_pack("{s:s,s:i}", "cmd", cmd, "id", id);
	char *text;
	size_t len;
	bool sent;

	if (!req)
		return NULL;
	if (args)
		json_object_update_missing(req, args);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text)
		return NULL;
	len = strlen(text);
	text[len] = '\n';
	sent = ro->to_fd >= 0 &&
	       write(ro->to_fd, text, len + 1) == (ssize_t)(len + 1);
	free(text);
	if (!sent)
		return NULL;
	while (runctx_now_ms() < deadline) {
		json_t *j = read_json(ro, deadline);
		const char *e;

		if (!j)
			return NULL;
		e = json_string_value(json_object_get(j, "event"));
		if (e && !strcmp(e, "summary")) {
			json_decref(ro->summary);
			ro->summary = json_incref(j);
		}
		if (json_integer_value(json_object_get(j, "id")) == id &&
		    json_object_get(j, "ok"))
			return j;
		json_decref(j);
	}
	return NULL;
}

/* Checks that no role died; a dead one ends the run with its last words. */
int roles_check_alive(struct run *r)
{
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		char tail[300];
		int status;

		if (!ro->proc || !host_proc_done(ro->proc, &status))
			continue;
		log_tail(ro->log, tail, sizeof(tail));
		return runctx_fail(
			r, EPIPE, "%s (%s on %s) died mid-run (status %d)%s%s",
			ro->node->name, runctx_program(ro->node->role),
			ro->node->host, status, tail[0] ? ": " : "", tail);
	}
	return 0;
}

void roles_stop(struct run *r, struct role *ro)
{
	int status = 0;
	json_t *sum;

	if (!ro->proc)
		return;
	if (ro->to_fd >= 0) {
		static const char stop[] = "{\"cmd\":\"stop\"}\n";

		if (write(ro->to_fd, stop, sizeof(stop) - 1) < 0)
			log_debug("%s: stop: %s", ro->node->name,
				  strerror(errno));
		close(ro->to_fd);
		ro->to_fd = -1;
	}
	sum = runctx_forced(r) ? NULL
			       : roles_wait_event(r, ro, "summary",
						  ro->node->role == TOPO_LOADER
							  ? RUN_DRAIN_MS + 5000
							  : 5000);
	json_decref(sum);
	if (ro->summary) {
		char path[800];

		/* The role's own last word: its cumulative figures. */
		snprintf(path, sizeof(path), "%s/logs/%s.summary.json",
			 r->bundle, ro->node->name);
		if (json_dump_file(ro->summary, path, JSON_INDENT(2)))
			log_warn("cannot write %s", path);
	}
	/* A forced exit (second Ctrl-C) skips the graceful waits. */
	for (int i = 0; i < 250 && !runctx_forced(r) &&
			!host_proc_done(ro->proc, &status);
	     i++)
		usleep(20000);
	if (!host_proc_done(ro->proc, &status) && !runctx_forced(r)) {
		host_proc_signal(ro->host, ro->proc, SIGTERM);
		for (int i = 0; i < 150 && !runctx_forced(r) &&
				!host_proc_done(ro->proc, &status);
		     i++)
			usleep(20000);
	}
	if (!host_proc_done(ro->proc, &status)) {
		host_proc_signal(ro->host, ro->proc, SIGKILL);
		for (int i = 0; i < 150 && !host_proc_done(ro->proc, &status);
		     i++)
			usleep(20000);
	}
	runctx_say(r, "[stop] %s ended (status %d)", ro->node->name, status);
	if (ro->from_fd >= 0)
		close(ro->from_fd);
	ro->from_fd = -1;
	host_proc_free(ro->proc);
	ro->proc = NULL;
}

void roles_stop_loaders(struct run *r)
{
	for (size_t i = r->t->nnodes; i-- > 0;)
		if (r->roles[i].node && r->roles[i].node->role == TOPO_LOADER)
			roles_stop(r, &r->roles[i]);
}

void roles_stop_all(struct run *r)
{
	/* Reverse order: load first, the proxies last. */
	roles_stop_loaders(r);
	for (size_t i = r->t->nnodes; i-- > 0;)
		if (r->roles[i].node)
			roles_stop(r, &r->roles[i]);
}
