/*
 * proxy-stateless: the first stage of the cluster.  Parses options,
 * starts the proxy (slproxy.h) and runs the main loop: control channel
 * (docs/agents.md), health probes, signals.
 */
#define LOG_MODULE "proxy-stateless"
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ev.h"
#include "log.h"
#include "obj.h"
#include "slproxy.h"
#include "version.h"

static void on_stop(struct ctl *ctl, void *arg)
{
	ev_stop(arg);
}

static void on_signal(int signo, void *arg)
{
	ev_stop(arg);
}

static void add_stats(struct ctl *ctl, json_t *stats, void *arg)
{
	slproxy_stats_json(arg, stats);
}

int main(int argc, char **argv)
{
	static struct slcfg cfg;
	static const int sigs[] = {SIGTERM, SIGINT};
	char err[SLCFG_ERR_SIZE];
	struct ev *ev = NULL;
	struct ctl *ctl = NULL;
	struct slproxy *px = NULL;
	enum log_level level;
	sigset_t set;
	json_t *f, *summary;
	int rc;

	slcfg_init(&cfg);
	rc = slcfg_parse_args(&cfg, argc, argv, err, sizeof(err));
	if (rc == 1)
		return 0;
	if (rc) {
		fprintf(stderr, "proxy-stateless: %s\n", err);
		return 2;
	}
	if (cfg.log_level[0] && !log_level_decode(cfg.log_level, &level))
		log_set_level(level);
	log_info("proxy-stateless %s", version_string());
	/* Workers inherit the mask: signals come to the main loop only. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = ev_alloc(&ev);
	if (!rc)
		rc = ev_signal(ev, sigs, 2, on_signal, ev);
	if (!rc)
		rc = slproxy_alloc(&px, &cfg, ev);
	if (rc) {
		log_err("cannot start: %s", strerror(rc));
		rc = 1;
		goto out;
	}
	if (cfg.control) {
		rc = ctl_alloc(&ctl, ev, STDIN_FILENO, STDOUT_FILENO,
			       "proxy-stateless", on_stop, ev);
		if (rc) {
			log_err("control channel: %s", strerror(rc));
			rc = 1;
			goto out;
		}
		ctl_stats_source(ctl, add_stats, px);
		f = json_pack("{s:i,s:o}", "pid", (int)getpid(), "listen",
			      slproxy_listen_json(px));
		ctl_event(ctl, "ready", f);
		json_decref(f);
	} else {
		log_info("ready");
	}
	rc = ev_run(ev);
	if (rc)
		log_err("event loop: %s", strerror(rc));
	rc = rc ? 1 : 0;
	if (ctl) {
		summary = ctl_stats_snapshot(ctl);
		ctl_event(ctl, "summary", summary);
		json_decref(summary);
	}
out:
	/* Workers first: the prober's sockets live on ev. */
	slproxy_free(px);
	obj_deref(ctl);
	obj_deref(ev);
	return rc;
}
