/*
 * callhandler: the UAS of the testbed.  Options, then the loop: workers
 * answer calls (uas.c), the main thread registers users (registration.c) and
 * speaks the control protocol (common/ctl.c).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "callhandler"
#include "callhandler_cfg.h"
#include "ctl.h"
#include "ev.h"
#include "hist.h"
#include "log.h"
#include "obj.h"
#include "sip_tp.h"
#include "uas.h"
#include "version.h"
#include "registration.h"
#include "watch.h"

struct app {
	struct ev *ev;
	struct uas *uas;
	struct registration *reg;
	struct watch *watch;
	struct ctl *ctl;
	struct sip_tp_tls *tls_srv, *tls_cli;
	char watch_ip[SIP_TP_ADDR_STRLEN]; /* the watchers' address */
};

/* The watchers' counters and publish-to-notify delays. */
static json_t *watch_json(const struct watch *w)
{
	struct watch_stats *s = malloc(sizeof(*s));
	json_t *o;

	if (!s)
		return json_null();
	watch_stats(w, s);
	o = json_object();
#define PUT(f) json_object_set_new(o, #f, json_integer((json_int_t)s->f))
	PUT(dialogs);
	PUT(active);
	PUT(failed);
	PUT(sent);
	PUT(ok);
	PUT(challenged);
	PUT(rejected);
	PUT(timeouts);
	PUT(retries);
	PUT(refreshes);
	PUT(resubscribes);
	PUT(notifies);
	PUT(terminated);
	PUT(no_dialog);
	PUT(bodies_new);
	PUT(bodies_repeat);
	PUT(bodies_stale);
	PUT(bodies_mismatch);
	PUT(bodies_none);
	PUT(bad_in);
	PUT(retransmissions);
#undef PUT
	json_object_set_new(o, "done_ms",
			    json_integer((json_int_t)watch_done_ms(w)));
	json_object_set_new(o, "delay_us", hist_to_json(&s->delay));
	free(s);
	return o;
}

static json_t *stats_json(struct app *a, json_t *o)
{
	struct uas_stats s;
	struct registration_stats r;

	uas_stats(a->uas, &s);
#define PUT(f) json_object_set_new(o, #f, json_integer((json_int_t)s.f))
	PUT(requests);
	PUT(invites);
	PUT(ringing);
	PUT(answered);
	PUT(acks);
	PUT(acks_stray);
	PUT(ack_timeouts);
	PUT(retrans_2xx);
	PUT(byes);
	PUT(cancels);
	PUT(cancels_481);
	PUT(cancelled);
	PUT(options);
	PUT(notifies);
	PUT(other);
	PUT(fail_486);
	PUT(fail_503);
	PUT(busy_491);
	PUT(bad_in);
	PUT(stray_responses);
	PUT(calls_alive);
	PUT(retransmissions);
	PUT(absorbed);
	PUT(txn_timeouts);
	PUT(msgs_in);
	PUT(msgs_out);
	PUT(drop_parse);
	PUT(drop_overflow);
	PUT(drop_send);
	PUT(conns_accepted);
	PUT(tls_handshakes);
#undef PUT
	if (a->watch)
		json_object_set_new(o, "watch", watch_json(a->watch));
	if (a->reg) {
		registration_stats(a->reg, &r);
		json_object_set_new(
			o, "register",
			json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
				  "s:I,s:I}",
				  "users", (json_int_t)r.users, "registered",
				  (json_int_t)r.registered, "failed",
				  (json_int_t)r.failed, "sent",
				  (json_int_t)r.sent, "ok", (json_int_t)r.ok,
				  "challenged", (json_int_t)r.challenged,
				  "rejected", (json_int_t)r.rejected,
				  "timeouts", (json_int_t)r.timeouts,
				  "retries", (json_int_t)r.retries,
				  "refreshes", (json_int_t)r.refreshes,
				  "retransmissions",
				  (json_int_t)r.retransmissions, "done_ms",
				  (json_int_t)registration_done_ms(a->reg)));
	}
	return o;
}

static void on_ctl_stats(struct ctl *ctl, json_t *stats, void *arg)
{
	stats_json(arg, stats);
}

static void on_ctl_stop(struct ctl *ctl, void *arg)
{
	struct app *a = arg;

	ev_stop(a->ev);
}

static void on_signal(int signo, void *arg)
{
	struct app *a = arg;

	log_info("signal %d: stopping", signo);
	ev_stop(a->ev);
}

static void on_registered(struct registration *r, void *arg)
{
	struct app *a = arg;
	struct registration_stats s;

	registration_stats(r, &s);
	log_info("registration done: %llu of %llu users in %llu ms",
		 (unsigned long long)s.registered, (unsigned long long)s.users,
		 (unsigned long long)registration_done_ms(r));
	if (a->ctl) {
		json_t *ev = json_pack("{s:s,s:I,s:I,s:I,s:I}", "role",
				       "callhandler", "users",
				       (json_int_t)s.users, "registered",
				       (json_int_t)s.registered, "failed",
				       (json_int_t)s.failed, "ms",
				       (json_int_t)registration_done_ms(r));

		ctl_event(a->ctl, "registered", ev);
		json_decref(ev);
	}
}

static void on_watching(struct watch *w, void *arg)
{
	struct app *a = arg;
	struct watch_stats *s = malloc(sizeof(*s));

	if (!s)
		return;
	watch_stats(w, s);
	log_info("watching: %llu of %llu dialogs active in %llu ms",
		 (unsigned long long)s->active, (unsigned long long)s->dialogs,
		 (unsigned long long)watch_done_ms(w));
	if (a->ctl) {
		json_t *ev = json_pack("{s:s,s:I,s:I,s:I,s:I,s:s}", "role",
				       "callhandler", "dialogs",
				       (json_int_t)s->dialogs, "active",
				       (json_int_t)s->active, "failed",
				       (json_int_t)s->failed, "ms",
				       (json_int_t)watch_done_ms(w), "contact",
				       watch_hostport(w));

		ctl_event(a->ctl, "watching", ev);
		json_decref(ev);
	}
	free(s);
}

/* The TLS contexts: the listeners' (server) and the registrar's (client). */
static int tls_setup(struct app *a, struct callhandler_cfg *c)
{
	int err;

	if (c->has_tls) {
		/* --tls-ca is the CAs the registrar's certificate must
		 * verify against; the listener asks the callers for a
		 * certificate (against the same CAs) only when told. */
		struct sip_tp_tls_opts so = c->tls;

		if (!c->verify_client)
			so.ca_file = NULL;
		err = sip_tp_tls_alloc(&a->tls_srv, false, &so);
		if (err)
			return err;
		c->uas.tls_server = a->tls_srv;
	}
	if (c->registering && c->reg.server.proto == SIP_TP_TLS) {
		struct sip_tp_tls_opts co = c->tls;

		co.cert_file = co.key_file = NULL;
		err = sip_tp_tls_alloc(&a->tls_cli, true, &co);
		if (err)
			return err;
		c->reg.tls_client = a->tls_cli;
	}
	return 0;
}

/* The watchers, on the first listener's address (after uas_alloc). */
static int watch_setup(struct app *a, struct callhandler_cfg *c)
{
	char *colon;
	int err;

	err = sip_tp_addr_hostport(uas_listen_addr(a->uas, 0), a->watch_ip,
				   sizeof(a->watch_ip));
	if (err)
		return err;
	colon = strrchr(a->watch_ip, ':');
	if (colon)
		*colon = '\0';
	c->watch.local_ip = a->watch_ip;
	c->watch.domain = c->reg.domain;
	c->watch.password = c->reg.password;
	c->watch.retries = c->reg.retries;
	c->watch.retry_ms = c->reg.retry_ms;
	c->watch.timeout_ms = c->reg.timeout_ms;
	err = watch_alloc(&a->watch, a->ev, &c->watch, on_watching, a);
	if (err)
		log_err("watchers: %s", strerror(err));
	return err;
}

/* The workers, the registrations and the watchers, not started. */
static int agents_setup(struct app *a, struct callhandler_cfg *c)
{
	unsigned i;
	int err;

	err = uas_alloc(&a->uas, &c->uas);
	if (err) {
		log_err("cannot start the workers: %s", strerror(err));
		return err;
	}
	/* The Contact names the port actually bound. */
	for (i = 0; i < c->uas.nlisten; i++)
		if (sip_tp_addr_eq(&c->uas.listen[i], &c->reg.contact)) {
			c->reg.contact = *uas_listen_addr(a->uas, i);
			break;
		}
	if (c->registering) {
		err = registration_alloc(&a->reg, a->ev, &c->reg,
					 on_registered, a);
		if (err) {
			log_err("registration: %s", strerror(err));
			return err;
		}
	}
	return c->watching ? watch_setup(a, c) : 0;
}

/* The control channel and its "ready" event with the listeners. */
static int control_setup(struct app *a)
{
	json_t *ev, *l;
	char s[SIP_TP_ADDR_STRLEN];
	unsigned i;
	int err;

	err = ctl_alloc(&a->ctl, a->ev, STDIN_FILENO, STDOUT_FILENO,
			"callhandler", on_ctl_stop, a);
	if (err)
		return err;
	ctl_stats_source(a->ctl, on_ctl_stats, a);
	l = json_array();
	for (i = 0; i < uas_listen_count(a->uas); i++)
		if (!sip_tp_addr_print(uas_listen_addr(a->uas, i), s,
				       sizeof(s)))
			json_array_append_new(l, json_string(s));
	ev = json_pack("{s:s,s:i,s:o}", "role", "callhandler", "pid",
		       (int)getpid(), "listen", l);
	ctl_event(a->ctl, "ready", ev);
	json_decref(ev);
	return 0;
}

/* The counters at the end: a "summary" event, or a JSON line. */
static void summary(struct app *a)
{
	json_t *sum = json_pack("{s:s}", "role", "callhandler");

	stats_json(a, sum);
	if (a->ctl) {
		ctl_event(a->ctl, "summary", sum);
	} else {
		char *line = json_dumps(sum, JSON_COMPACT);

		if (line)
			printf("%s\n", line);
		free(line);
	}
	json_decref(sum);
}

static void app_free(struct app *a)
{
	a->ctl = obj_deref(a->ctl);
	a->reg = obj_deref(a->reg);
	a->watch = obj_deref(a->watch);
	uas_free(a->uas);
	obj_deref(a->tls_srv);
	obj_deref(a->tls_cli);
	obj_deref(a->ev);
}

int main(int argc, char **argv)
{
	static const int sigs[] = {SIGINT, SIGTERM};
	static struct callhandler_cfg cfg;
	struct app a;
	char why[600];
	int err, rc = 1;

	memset(&a, 0, sizeof(a));
	callhandler_cfg_init(&cfg);
	err = callhandler_cfg_parse(&cfg, argc, argv, why, sizeof(why));
	if (err) {
		if (err != 1)
			fprintf(stderr, "callhandler: %s (--help for usage)\n",
				why);
		callhandler_cfg_free(&cfg);
		return err == 1 ? 0 : 2;
	}
	if (cfg.log_level_set)
		log_set_level(cfg.log_level);
	log_info("callhandler %s", version_string());
	err = ev_alloc(&a.ev);
	if (err)
		goto out;
	/* Before the workers start, so that they inherit the mask. */
	err = ev_signal(a.ev, sigs, 2, on_signal, &a);
	if (!err)
		err = tls_setup(&a, &cfg);
	if (!err)
		err = agents_setup(&a, &cfg);
	if (!err)
		err = uas_start(a.uas);
	if (!err && cfg.control)
		err = control_setup(&a);
	if (err)
		goto out;
	log_info("answering with %u thread(s)", cfg.uas.threads);
	if (a.reg)
		registration_start(a.reg);
	if (a.watch)
		watch_start(a.watch);
	err = ev_run(a.ev);
	if (err)
		goto out;
	summary(&a);
	rc = 0;
out:
	if (err)
		log_err("%s", strerror(err));
	app_free(&a);
	callhandler_cfg_free(&cfg);
	return rc;
}
