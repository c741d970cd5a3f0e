/*
 * proxy-stateful: the second-stage server - transaction-stateful
 * proxy, registrar and location service (see stateful.h).  main() parses
 * the options, starts the workers and runs the control channel (or
 * just waits for SIGTERM/SIGINT) on the main thread.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "proxy-stateful"
#include "ctl.h"
#include "ev.h"
#include "log.h"
#include "obj.h"
#include "stateful.h"
#include "version.h"

struct app {
	struct ev *ev;
	struct ctl *ctl;
	struct stateful *sp;
};

static void on_stats(struct ctl *ctl, json_t *stats, void *arg)
{
	struct app *a = arg;

	(void)ctl;
	stateful_stats(a->sp, stats);
}

/* "redirect" {"on": bool}: the redirect server on or off; the reply
 * says the state after ("redirect"). */
static int on_redirect(struct ctl *ctl, json_t *args, json_t **result,
		       const char **error, void *arg)
{
	struct app *a = arg;
	json_t *on = json_object_get(args, "on");

	(void)ctl;
	if (on && !json_is_boolean(on)) {
		*error = "\"on\" is a boolean";
		return EINVAL;
	}
	if (on)
		stateful_set_redirect(a->sp, json_is_true(on));
	*result = json_pack("{s:b}", "redirect", stateful_redirect(a->sp));
	return 0;
}

static void on_stop(struct ctl *ctl, void *arg)
{
	struct app *a = arg;

	(void)ctl;
	ev_stop(a->ev);
}

static void on_signal(int signo, void *arg)
{
	struct app *a = arg;

	(void)signo;
	ev_stop(a->ev);
}

int main(int argc, char **argv)
{
	static const int sigs[] = {SIGTERM, SIGINT};
	struct stateful_cfg cfg;
	struct app a;
	char err[512];
	bool control = false;
	json_t *ev = NULL, *sum = NULL;
	int e, rc = 1;

	memset(&a, 0, sizeof(a));
	stateful_cfg_init(&cfg);
	e = stateful_cfg_parse(&cfg, argc, argv, &control, err, sizeof(err));
	if (e == STATEFUL_CFG_EXIT)
		return 0;
	if (e) {
		fprintf(stderr, "proxy-stateful: %s\n",
			e == EIO ? strerror(e) : err);
		return e == EIO ? 1 : 2;
	}
	log_info("proxy-stateful %s", version_string());
	signal(SIGPIPE, SIG_IGN);
	e = ev_alloc(&a.ev);
	if (!e)
		e = ev_signal(a.ev, sigs, 2, on_signal, &a);
	if (e) {
		log_err("event loop: %s", strerror(e));
		goto out;
	}
	e = stateful_start(&a.sp, &cfg);
	if (e) {
		log_err("start: %s", strerror(e));
		goto out;
	}
	if (control) {
		e = ctl_alloc(&a.ctl, a.ev, STDIN_FILENO, STDOUT_FILENO,
			      "proxy-stateful", on_stop, &a);
		if (e) {
			log_err("control channel: %s", strerror(e));
			goto out;
		}
		ctl_stats_source(a.ctl, on_stats, &a);
		e = ctl_command(a.ctl, "redirect", on_redirect, &a);
		if (e) {
			log_err("control channel: %s", strerror(e));
			goto out;
		}
		ev = json_pack("{s:i, s:o}", "pid", (int)getpid(), "listen",
			       stateful_listen_json(a.sp));
		ctl_event(a.ctl, "ready", ev);
		json_decref(ev);
	}
	log_info("ready, %u worker(s)", cfg.workers);
	ev_run(a.ev);
	if (a.ctl) {
		sum = ctl_stats_snapshot(a.ctl);
	}
	rc = 0;
out:
	stateful_free(a.sp);
	if (a.ctl) {
		if (sum)
			ctl_event(a.ctl, "summary", sum);
		json_decref(sum);
		obj_deref(a.ctl);
	}
	obj_deref(a.ev);
	return rc;
}
