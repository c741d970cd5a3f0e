/*
 * stateful.c - proxy-stateful as a whole (stateful.h): the shared
 * tables, the database, the handlers' settings and the workers.
 */
#include "stateful.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define LOG_MODULE "stateful"
#include "addressing.h"
#include "dbqueue.h"
#include "location.h"
#include "log.h"
#include "obj.h"
#include "presence.h"
#include "proxy_core.h"
#include "registrar.h"
#include "reply.h"
#include "stateful_worker.h"
#include "userdb.h"

struct stateful {
	struct stateful_cfg cfg;
	struct sip_tp_addr listen[STATEFUL_LISTEN_MAX];
	struct sip_tp_tls *tls_server, *tls_client;
	struct location *loc;
	struct userdb *users; /* NULL: anyone may register */
	struct sip_auth_server *auth_server;
	struct dbqueue *db;
	struct presence *pres; /* NULL without --presence */
	struct stateful_worker *w;
	unsigned nworkers;
	uint64_t secret; /* loop hash, stateless ACK branches */
	/* What each part sees of the above (wire()). */
	struct addressing addr;
	struct reply_auth auth;
	struct registrar registrar;
	struct presence_env pres_env;
	struct proxy_core_cfg core;
	struct worker_env env;
};

/*
 * Points each handler's view at what it needs; again once the users,
 * the database and the presence agent exist.
 */
static void wire(struct stateful *sp)
{
	sp->addr = (struct addressing){sp->cfg.domain, sp->listen,
				       sp->cfg.nlisten};
	sp->auth = (struct reply_auth){sp->auth_server, sp->users,
				       sp->cfg.domain, &sp->addr};
	sp->registrar = (struct registrar){&sp->cfg, sp->loc, sp->users,
					   &sp->auth, sp->db};
	sp->pres_env.cfg = &sp->cfg;
	sp->pres_env.users = sp->users;
	sp->pres_env.auth = &sp->auth;
	sp->pres_env.db = sp->db;
	sp->pres_env.secret = sp->secret;
	sp->pres_env.nworkers = sp->cfg.workers ? sp->cfg.workers : 1;
	sp->core.cfg = &sp->cfg;
	sp->core.addr = &sp->addr;
	sp->core.loc = sp->loc;
	sp->core.users = sp->users;
	sp->core.auth = &sp->auth;
	sp->core.secret = sp->secret;
	atomic_init(&sp->core.redirect, sp->cfg.redirect);
	sp->env =
		(struct worker_env){&sp->cfg,	    sp->listen, sp->tls_server,
				    sp->tls_client, &sp->addr,	sp->loc,
				    &sp->registrar, sp->pres,	&sp->core};
}

int stateful_start(struct stateful **spp, const struct stateful_cfg *cfg)
{
	struct stateful *sp;
	struct sip_tp_tls_opts to;
	size_t i;
	int err;

	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return ENOMEM;
	sp->cfg = *cfg;
	if (getrandom(&sp->secret, sizeof(sp->secret), 0) !=
	    sizeof(sp->secret))
		sp->secret = (uint64_t)time(NULL);
	for (i = 0; i < cfg->nlisten; i++) {
		err = sip_tp_addr_decode(&sp->listen[i], NULL, cfg->listen[i]);
		if (err) {
			log_err("bad listen address %s", cfg->listen[i]);
			goto fail;
		}
	}
	if (cfg->tls_cert[0]) {
		memset(&to, 0, sizeof(to));
		to.cert_file = cfg->tls_cert;
		to.key_file = cfg->tls_key;
		err = sip_tp_tls_alloc(&sp->tls_server, false, &to);
		if (err)
			goto fail;
		memset(&to, 0, sizeof(to));
		to.ca_file = cfg->tls_ca[0] ? cfg->tls_ca : NULL;
		to.no_verify = !cfg->tls_ca[0];
		err = sip_tp_tls_alloc(&sp->tls_client, true, &to);
		if (err)
			goto fail;
	}
	err = location_alloc(&sp->loc, 0);
	if (err)
		goto fail;
	err = sip_auth_server_alloc(&sp->auth_server, NULL, 0, 0, 0);
	if (err)
		goto fail;
	if (cfg->users_file[0]) {
		err = userdb_alloc(&sp->users);
		if (!err)
			err = userdb_load_file(sp->users, cfg->users_file);
		if (err)
			goto fail;
		log_info("%zu users from %s", userdb_count(sp->users),
			 cfg->users_file);
	}
	wire(sp);
	if (cfg->presence) {
		err = presence_alloc(&sp->pres, &sp->pres_env);
		if (err)
			goto fail;
	}
	if (cfg->db_url[0]) {
		err = dbqueue_open(&sp->db, cfg->db_url, cfg->db_mode,
				   cfg->flush_ms);
		if (!err && !sp->users) {
			err = userdb_alloc(&sp->users);
			if (!err)
				err = dbqueue_load_users(sp->db, sp->users);
		}
		if (!err)
			err = dbqueue_load_bindings(sp->db, sp->loc,
						    worker_now_s());
		if (!err)
			wire(sp);
		if (!err && sp->pres)
			err = presence_load(sp->pres, sp->db);
		if (!err && cfg->db_mode != STATEFUL_DB_MEMORY) {
			location_set_change_handler(sp->loc, dbqueue_change,
						    sp->db);
			err = dbqueue_start(sp->db);
		}
		if (err)
			goto fail;
	}
	sp->nworkers = cfg->workers ? cfg->workers : 1;
	sp->w = calloc(sp->nworkers, sizeof(*sp->w));
	if (!sp->w) {
		err = ENOMEM;
		goto fail;
	}
	wire(sp);
	sp->pres_env.worker0 = &sp->w[0].ctx;
	for (i = 0; i < sp->nworkers; i++) {
		err = stateful_worker_start(&sp->w[i], &sp->env, (unsigned)i);
		if (err)
			goto fail;
	}
	*spp = sp;
	return 0;
fail:
	stateful_free(sp);
	return err;
}

void stateful_free(struct stateful *sp)
{
	unsigned i;

	if (!sp)
		return;
	for (i = 0; sp->w && i < sp->nworkers; i++)
		stateful_worker_stop(&sp->w[i]);
	for (i = 0; sp->w && i < sp->nworkers; i++)
		stateful_worker_join(&sp->w[i]);
	/* Write-back: what is queued is flushed before we go (and
	 * write-through waiters are gone with their workers). */
	dbqueue_close(sp->db);
	for (i = 0; sp->w && i < sp->nworkers; i++)
		stateful_worker_free(&sp->w[i]);
	free(sp->w);
	presence_free(sp->pres);
	location_free(sp->loc);
	userdb_free(sp->users);
	obj_deref(sp->auth_server);
	obj_deref(sp->tls_server);
	obj_deref(sp->tls_client);
	free(sp);
}

json_t *stateful_listen_json(const struct stateful *sp)
{
	json_t *a = json_array();
	char s[SIP_TP_ADDR_STRLEN];
	size_t i;

	for (i = 0; a && i < sp->cfg.nlisten; i++)
		if (!sip_tp_addr_print(&sp->listen[i], s, sizeof(s)))
			json_array_append_new(a, json_string(s));
	return a;
}

static void add_codes(json_t *o, const char *name, uint64_t *sum)
{
	json_t *m = json_object();
	char k[8];
	unsigned s;

	for (s = 100; m && s < 700; s++) {
		if (!sum[s])
			continue;
		snprintf(k, sizeof(k), "%u", s);
		json_object_set_new(m, k, json_integer((json_int_t)sum[s]));
	}
	json_object_set_new(o, name, m);
}

/* Sums the workers' counters into t. */
static void sum_counters(struct stateful *sp, struct stateful_counters *t)
{
	unsigned i, k;

	for (i = 0; i < sp->nworkers; i++) {
		struct stateful_counters *c = &sp->w[i].ctx.c;
		for (k = 0; k < SIP_METHOD_COUNT; k++)
			t->req_in[k] += STATEFUL_CNT_GET(c->req_in[k]);
		for (k = 0; k < 700; k++) {
			t->resp_out[k] += STATEFUL_CNT_GET(c->resp_out[k]);
			t->resp_in[k] += STATEFUL_CNT_GET(c->resp_in[k]);
		}
		for (k = 0; k < STATEFUL_DROP_COUNT; k++)
			t->drops[k] += STATEFUL_CNT_GET(c->drops[k]);
		t->registers_ok += STATEFUL_CNT_GET(c->registers_ok);
		t->auth_challenges += STATEFUL_CNT_GET(c->auth_challenges);
		t->auth_failures += STATEFUL_CNT_GET(c->auth_failures);
		t->calls_forwarded += STATEFUL_CNT_GET(c->calls_forwarded);
		t->acks_forwarded += STATEFUL_CNT_GET(c->acks_forwarded);
		t->txn_alive += STATEFUL_CNT_GET(c->txn_alive);
		t->txn_retrans += STATEFUL_CNT_GET(c->txn_retrans);
		t->txn_timeouts += STATEFUL_CNT_GET(c->txn_timeouts);
		t->txn_acks_absorbed += STATEFUL_CNT_GET(c->txn_acks_absorbed);
		t->tp_drop_parse += STATEFUL_CNT_GET(c->tp_drop_parse);
		t->calls_alive += STATEFUL_CNT_GET(c->calls_alive);
		t->conns_accepted += STATEFUL_CNT_GET(c->conns_accepted);
		t->conns_opened += STATEFUL_CNT_GET(c->conns_opened);
		t->conns_closed += STATEFUL_CNT_GET(c->conns_closed);
		t->conns_open += STATEFUL_CNT_GET(c->conns_open);
		t->tls_full += STATEFUL_CNT_GET(c->tls_full);
		t->tls_resumed += STATEFUL_CNT_GET(c->tls_resumed);
		t->tls_failed += STATEFUL_CNT_GET(c->tls_failed);
	}
}

/* The TCP/TLS connections as of the workers' last tick (200 ms). */
static json_t *connections_json(const struct stateful_counters *t)
{
	json_t *o = json_object();

	if (o) {
		json_object_set_new(
			o, "accepted",
			json_integer((json_int_t)t->conns_accepted));
		json_object_set_new(o, "opened",
				    json_integer((json_int_t)t->conns_opened));
		json_object_set_new(o, "closed",
				    json_integer((json_int_t)t->conns_closed));
		json_object_set_new(o, "open",
				    json_integer((json_int_t)t->conns_open));
		json_object_set_new(o, "tls_full",
				    json_integer((json_int_t)t->tls_full));
		json_object_set_new(o, "tls_resumed",
				    json_integer((json_int_t)t->tls_resumed));
		json_object_set_new(o, "tls_failed",
				    json_integer((json_int_t)t->tls_failed));
	}
	return o;
}

/* The database thread's figures (docs/agents.md "db"). */
static void add_db(struct stateful *sp, json_t *stats)
{
	struct dbqueue_stats ds;
	json_t *o;

	dbqueue_stats(sp->db, &ds);
	o = json_object();
	json_object_set_new(o, "commits",
			    json_integer((json_int_t)ds.commits));
	json_object_set_new(o, "rows", json_integer((json_int_t)ds.rows));
	json_object_set_new(o, "failures",
			    json_integer((json_int_t)ds.failures));
	json_object_set_new(o, "queued", json_integer((json_int_t)ds.queued));
	json_object_set_new(stats, "db", o);
}

void stateful_set_redirect(struct stateful *sp, bool on)
{
	atomic_store(&sp->core.redirect, on);
}

bool stateful_redirect(const struct stateful *sp)
{
	return atomic_load(&sp->core.redirect);
}

void stateful_stats(struct stateful *sp, json_t *stats)
{
	static const char *drop_names[STATEFUL_DROP_COUNT] = {
		"invalid_request", "invalid_response", "stray_response",
		"stray_ack", "send"};
	struct stateful_counters *t = calloc(1, sizeof(*t));
	json_t *o;
	unsigned k;

	if (!t)
		return;
	sum_counters(sp, t);
	o = json_object();
	for (k = 1; o && k < SIP_METHOD_COUNT; k++)
		if (t->req_in[k])
			json_object_set_new(
				o, sip_method_name((enum sip_method)k),
				json_integer((json_int_t)t->req_in[k]));
	if (o && t->req_in[0])
		json_object_set_new(o, "other",
				    json_integer((json_int_t)t->req_in[0]));
	json_object_set_new(stats, "requests", o);
	add_codes(stats, "responses_sent", t->resp_out);
	add_codes(stats, "responses_received", t->resp_in);
	o = json_object();
	for (k = 0; o && k < STATEFUL_DROP_COUNT; k++)
		json_object_set_new(o, drop_names[k],
				    json_integer((json_int_t)t->drops[k]));
	if (o)
		json_object_set_new(
			o, "transport_parse",
			json_integer((json_int_t)t->tp_drop_parse));
	json_object_set_new(stats, "drops", o);
	json_object_set_new(stats, "connections", connections_json(t));
#define NUM(name, v) \
	json_object_set_new(stats, name, json_integer((json_int_t)(v)))
	NUM("registers_ok", t->registers_ok);
	NUM("auth_challenges", t->auth_challenges);
	NUM("auth_failures", t->auth_failures);
	NUM("forwarded", t->calls_forwarded);
	NUM("acks_forwarded", t->acks_forwarded);
	NUM("transactions_alive", t->txn_alive);
	NUM("retransmissions", t->txn_retrans);
	NUM("timeouts", t->txn_timeouts);
	NUM("acks_absorbed", t->txn_acks_absorbed);
	json_object_set_new(stats, "redirect",
			    json_boolean(stateful_redirect(sp)));
	NUM("proxy_calls_alive", t->calls_alive);
	NUM("bindings", location_bindings(sp->loc));
	NUM("aors", location_aors(sp->loc));
	NUM("workers", sp->nworkers);
	{
		/* The allocator's bytes in use (the memory per binding and
		 * per transaction of docs/perf-proxy-stateful.md). */
		struct mallinfo2 mi = mallinfo2();

		NUM("heap_bytes", mi.uordblks + mi.hblkhd);
	}
	presence_stats(sp->pres, stats);
	if (sp->db)
		add_db(sp, stats);
#undef NUM
	free(t);
}
