#include "rolecfg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy.h"
#include "rundb.h"
#include "topo_sipstone.h"

/*
 * Writes text to the file name of the run's work directory (created
 * with mode), puts it on host h and gives its path there.  0 or an
 * errno, the run marked failed.
 */
static int put_run_file(struct run *r, struct host *h, const char *name,
			const char *text, mode_t mode, char *path, size_t size)
{
	char local[700];
	int fd, err = 0;
	FILE *f;

	snprintf(local, sizeof(local), "%.500s/%.100s", r->work, name);
	fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return runctx_fail(r, errno, "cannot write %s", local);
	}
	if (fputs(text, f) == EOF)
		err = EIO;
	if (fclose(f) && !err)
		err = errno;
	if (err)
		return runctx_fail(r, err, "cannot write %s", local);
	err = deploy_put_file(r, h, local, name);
	if (!err)
		runctx_path_on(r, h, name, path, size);
	return err;
}

/* Writes the role's config (its long flags as JSON keys), mode 0600. */
static int write_config(struct run *r, const struct topo_node *n, json_t *cfg,
			char *remote_path, size_t size)
{
	char *text = json_dumps(cfg, JSON_INDENT(2));
	char name[96];
	int err;

	if (!text)
		return runctx_fail(r, ENOMEM, "out of memory");
	snprintf(name, sizeof(name), "%s.json", n->name);
	err = put_run_file(r, runctx_host(r, n->host), name, text, 0600,
			   remote_path, size);
	free(text);
	return err;
}

static void add_tls(struct run *r, const struct topo_node *n, json_t *cfg)
{
	struct host *h = runctx_host(r, n->host);
	char path[700], file[100];

	if (!r->pki)
		return;
	snprintf(file, sizeof(file),
		 host_is_local(h) ? "pki/%s.pem" : "%s.pem", n->host);
	runctx_path_on(r, h, file, path, sizeof(path));
	json_object_set_new(cfg, "tls-cert", json_string(path));
	snprintf(file, sizeof(file),
		 host_is_local(h) ? "pki/%s.key" : "%s.key", n->host);
	runctx_path_on(r, h, file, path, sizeof(path));
	json_object_set_new(cfg, "tls-key", json_string(path));
	runctx_path_on(r, h, host_is_local(h) ? "pki/ca.pem" : "ca.pem", path,
		       sizeof(path));
	json_object_set_new(cfg, "tls-ca", json_string(path));
}

static json_t *listen_list(struct run *r, const struct topo_node *n)
{
	json_t *arr = json_array();
	char a[160];

	for (size_t i = 0; i < n->nlisten; i++)
		if (runctx_listen_addr(r, n, n->listen[i].tp, a, sizeof(a)))
			json_array_append_new(arr, json_string(a));
	return arr;
}

/*
 * Presence tests: node n's share of the users, as a range.  Each
 * presentity is one loader's (the sequence numbers of its publications
 * are that loader's, docs/agents.md) and, for publish, one
 * callhandler's to watch: the k-th of the role's m nodes takes the
 * users [first + k * count / m, first + (k + 1) * count / m), never
 * empty (topo.c asks for count >= m).
 */
static void users_of_node(const struct run *r, const struct topo_node *n,
			  char *out, size_t size)
{
	const struct topo_experiment *e = &r->t->exp;
	int width = rundb_user_width(e->user_first, e->user_count);
	uint64_t k = 0, m = 0, lo, hi;

	for (size_t i = 0; i < r->t->nnodes; i++) {
		if (r->t->nodes[i].role != n->role)
			continue;
		if (&r->t->nodes[i] == n)
			k = m;
		m++;
	}
	if (!m)
		m = 1;
	lo = e->user_first + k * e->user_count / m;
	hi = e->user_first + (k + 1) * e->user_count / m - 1;
	snprintf(out, size, "%s%0*llu-%s%0*llu", e->user_prefix, width,
		 (unsigned long long)lo, e->user_prefix, width,
		 (unsigned long long)hi);
}

/* publish: a callhandler is the watchers of its share of the
 * presentities, W dialogs each, subscribed through its proxy before the
 * steps; it registers no user (nothing is routed to it but NOTIFYs, to
 * the watchers' Contact). */
static void watcher_config(struct run *r, const struct topo_node *n,
			   json_t *cfg)
{
	const struct topo_experiment *e = &r->t->exp;
	char range[96], a[160];

	users_of_node(r, n, range, sizeof(range));
	json_object_set_new(cfg, "domain", json_string(r->t->domain));
	json_object_set_new(cfg, "watch", json_string(range));
	json_object_set_new(cfg, "watchers-per-presentity",
			    json_integer(e->watchers));
	if (runctx_listen_addr(r, &r->t->nodes[n->server], e->transport, a,
			       sizeof(a)))
		json_object_set_new(cfg, "watch-via", json_string(a));
	if (e->refresh_s)
		json_object_set_new(cfg, "watch-refresh-s",
				    json_integer(e->refresh_s));
	if (e->auth)
		json_object_set_new(cfg, "password",
				    json_string(rundb_password(r->db)));
}

/* subscribe, publish: the loader's share of the users, and the
 * test's own settings. */
static void presence_loader_config(struct run *r, const struct topo_node *n,
				   json_t *cfg)
{
	const struct topo_experiment *e = &r->t->exp;
	char range[96];

	users_of_node(r, n, range, sizeof(range));
	json_object_set_new(cfg, "users", json_string(range));
	if (!strcmp(e->test, "publish") && e->body_bytes)
		json_object_set_new(cfg, "body-bytes",
				    json_integer(e->body_bytes));
	if (!strcmp(e->test, "subscribe") && e->refresh_s)
		json_object_set_new(cfg, "refresh-s",
				    json_integer(e->refresh_s));
}

/* A range of the users "PREFIX0001-PREFIX0500", first to last. */
static void user_range(const struct topo_experiment *e, unsigned first,
		       unsigned last, char *out, size_t size)
{
	int width = rundb_user_width(e->user_first, e->user_count);

	snprintf(out, size, "%s%0*u-%s%0*u", e->user_prefix, width, first,
		 e->user_prefix, width, last);
}

/* A mix's REGISTERs take the second half of the users, so that they
 * never replace the callees' bindings (topo.h); sipstone's thirds. */
static unsigned callee_count(const struct topo_experiment *e)
{
	return topo_callee_count(e);
}

static void stateful_config(struct run *r, const struct topo_node *n,
			    json_t *cfg)
{
	const struct topo *t = r->t;
	const struct inventory_host *db = runctx_inventory_host(r, t->db_host);
	char url[512];

	json_object_set_new(cfg, "domain", json_string(t->domain));
	snprintf(url, sizeof(url), "mysql://%s:%s@%s:%u/%s",
		 rundb_account(r->db), rundb_account_password(r->db),
		 db ? db->address : "127.0.0.1", t->db_port,
		 rundb_name(r->db));
	json_object_set_new(cfg, "db", json_string(url));
	json_object_set_new(cfg, "db-mode", json_string(n->db_mode));
	json_object_set_new(cfg, "auth", json_string(n->auth));
	if (n->record_route)
		json_object_set_new(cfg, "record-route", json_true());
	if (n->presence || topo_is_presence(&t->exp))
		json_object_set_new(cfg, "presence", json_true());
	/* sipstone turns redirection on for its redirect test only, by
	 * the "redirect" command (sipstone.c) */
	if (!strcmp(t->exp.test, "redirect"))
		json_object_set_new(cfg, "redirect", json_true());
}

static void stateless_config(struct run *r, const struct topo_node *n,
			     json_t *cfg)
{
	const struct topo *t = r->t;
	json_t *next = json_array();
	char a[160];

	for (size_t i = 0; i < n->nnext; i++) {
		char hop[200];

		if (!runctx_listen_addr(r, &t->nodes[n->next[i]],
					t->exp.transport, a, sizeof(a)))
			continue;
		if (n->next_weight[i] > 1)
			snprintf(hop, sizeof(hop), "%s;weight=%u", a,
				 n->next_weight[i]);
		else
			snprintf(hop, sizeof(hop), "%s", a);
		json_array_append_new(next, json_string(hop));
	}
	json_object_set_new(cfg, "next", next);
	json_object_set_new(cfg, "hash", json_string(n->hash));
	json_object_set_new(cfg, "probe-interval",
			    json_integer(n->probe_interval_ms));
	if (n->record_route)
		json_object_set_new(cfg, "record-route", json_true());
}

static void callhandler_config(struct run *r, const struct topo_node *n,
			       json_t *cfg)
{
	const struct topo *t = r->t;
	const struct topo_experiment *e = &t->exp;
	char a[160], users[96];

	if (!strcmp(e->test, "publish")) {
		watcher_config(r, n, cfg);
		return;
	}
	user_range(e, e->user_first, e->user_first + callee_count(e) - 1,
		   users, sizeof(users));
	json_object_set_new(cfg, "users", json_string(users));
	json_object_set_new(cfg, "domain", json_string(t->domain));
	if (runctx_listen_addr(r, &t->nodes[n->server], e->transport, a,
			       sizeof(a)))
		json_object_set_new(cfg, "register-via", json_string(a));
	if (e->auth)
		json_object_set_new(cfg, "password",
				    json_string(rundb_password(r->db)));
	json_object_set_new(cfg, "ring-ms", json_integer(n->ring_ms));
	json_object_set_new(cfg, "reg-rate", json_integer(RUN_REG_RATE));
	/* SIPstone's busy callees */
	if (!strcmp(e->test, "proxy486"))
		json_object_set_new(cfg, "fail-486", json_integer(100));
}

/* mix: "register=20,invite=80" and, when the REGISTERs have users of
 * their own, their range. */
static void mix_config(const struct topo_experiment *e, json_t *cfg)
{
	char mix[128], reg_users[96];
	size_t used = 0;

	mix[0] = '\0';
	for (unsigned k = 0; k < TOPO_MIX_KINDS; k++)
		if (e->mix[k] && used < sizeof(mix))
			used += (size_t)snprintf(mix + used,
						 sizeof(mix) - used, "%s%s=%u",
						 used ? "," : "",
						 topo_mix_kinds[k], e->mix[k]);
	json_object_set_new(cfg, "mix", json_string(mix));
	if (topo_mix_splits_users(e)) {
		user_range(e, e->user_first + callee_count(e),
			   e->user_first + e->user_count - 1, reg_users,
			   sizeof(reg_users));
		json_object_set_new(cfg, "register-users",
				    json_string(reg_users));
	}
}

/* "fixed:MS" or "exp:MEAN_MS", the loader's --hold. */
static const char *hold_spec(const struct topo_experiment *e, char *out,
			     size_t size)
{
	snprintf(out, size, "%s:%u", e->hold_exp ? "exp" : "fixed",
		 e->hold_ms);
	return out;
}

/*
 * The users a loader's test takes: the callees; a sipstone run's
 * registration test the second third, its proxy480 test the last
 * third, provisioned in the database and never registered (RFC 3261
 * §21.4.18: 480 for a known user with no binding).
 */
static void loader_users(const struct topo_experiment *e, const char *test,
			 char *out, size_t size)
{
	unsigned n = callee_count(e), first = e->user_first;

	if (!strcmp(e->test, "sipstone") && !strcmp(test, "register")) {
		first += n;
	} else if (!strcmp(e->test, "sipstone") && !strcmp(test, "proxy480")) {
		first += 2 * n;
		n = e->user_count - 2 * n;
	}
	user_range(e, first, first + n - 1, out, size);
}

static void loader_config(struct run *r, const struct topo_node *n,
			  json_t *cfg)
{
	const struct topo *t = r->t;
	const struct topo_experiment *e = &t->exp;
	const struct inventory_host *ih = runctx_inventory_host(r, n->host);
	char a[160], users[96];

	const char *test = runctx_test(r);

	json_object_set_new(cfg, "test", json_string(test));
	if (topo_is_call_test(test) || !strcmp(e->test, "mix"))
		json_object_set_new(cfg, "hold",
				    json_string(hold_spec(e, a, sizeof(a))));
	if (e->poisson)
		json_object_set_new(cfg, "arrivals", json_string("poisson"));
	if (!strcmp(e->test, "mix"))
		mix_config(e, cfg);
	if (runctx_listen_addr(r, &t->nodes[n->server], e->transport, a,
			       sizeof(a)))
		json_object_set_new(cfg, "server", json_string(a));
	loader_users(e, test, users, sizeof(users));
	json_object_set_new(cfg, "users", json_string(users));
	json_object_set_new(cfg, "domain", json_string(t->domain));
	if (ih)
		json_object_set_new(cfg, "local", json_string(ih->address));
	if (e->auth)
		json_object_set_new(cfg, "password",
				    json_string(rundb_password(r->db)));
	if (e->preload_credentials)
		json_object_set_new(cfg, "preload-credentials", json_true());
	json_object_set_new(cfg, "drain-ms", json_integer(RUN_DRAIN_MS));
	json_object_set_new(cfg, "timer-b-ms", json_integer(e->threshold_ms));
	if (e->transport != SIP_TP_UDP)
		json_object_set_new(cfg, "conn",
				    json_string(runctx_connection(e)));
	if (topo_is_presence(e))
		presence_loader_config(r, n, cfg);
}

/* Each role's own settings, by enum topo_role. */
static void (*const role_settings[TOPO_ROLE_COUNT])(struct run *r,
						    const struct topo_node *n,
						    json_t *cfg) = {
	stateful_config, stateless_config, callhandler_config, loader_config};

/* The configuration of each role, in its own flags' names. */
static json_t *role_config(struct run *r, const struct topo_node *n)
{
	json_t *cfg = json_object();

	if (!cfg)
		return NULL;
	if (n->workers)
		json_object_set_new(cfg,
				    n->role == TOPO_STATEFUL ||
						    n->role == TOPO_STATELESS
					    ? "workers"
					    : "threads",
				    json_integer(n->workers));
	if (n->role != TOPO_LOADER)
		json_object_set_new(cfg, "listen", listen_list(r, n));
	if (n->role < TOPO_ROLE_COUNT)
		role_settings[n->role](r, n, cfg);
	/* The loader's certificate is its client certificate (and its
	 * listener's); the CA verifies the proxy's. */
	add_tls(r, n, cfg);
	return cfg;
}

/*
 * "filter": on: the presence servers compose each watcher's document
 * for it (--presence-filter), the cost the setting measures.  The file,
 * written for the run, lets every watcher see the loader's tuple
 * ("sipstone", docs/agents.md), so that every publication still
 * reaches every watcher.
 */
static int add_filter(struct run *r, const struct topo_node *n, json_t *cfg)
{
	static const char text[] = "# written by the orchestrator for this "
				   "run: every watcher\n"
				   "# sees the loader's tuple, composed for "
				   "it\n"
				   "* sipstone\n";
	char name[96], path[700];
	int err;

	snprintf(name, sizeof(name), "%s.filter", n->name);
	err = put_run_file(r, runctx_host(r, n->host), name, text, 0666, path,
			   sizeof(path));
	if (err)
		return err;
	json_object_set_new(cfg, "presence-filter", json_string(path));
	return 0;
}

int rolecfg_write(struct run *r, const struct topo_node *n, const char *test,
		  char *path, size_t size)
{
	json_t *cfg = role_config(r, n);
	int err;

	if (!cfg)
		return runctx_fail(r, ENOMEM, "out of memory");
	if (test) {
		json_object_set_new(cfg, "test", json_string(test));
		json_object_del(cfg, "mix");
		json_object_del(cfg, "register-users");
		json_object_del(cfg, "body-bytes");
		json_object_del(cfg, "refresh-s");
	}
	if (n->role == TOPO_STATEFUL && topo_is_presence(&r->t->exp) &&
	    r->t->exp.filter) {
		err = add_filter(r, n, cfg);
		if (err) {
			json_decref(cfg);
			return err;
		}
	}
	err = write_config(r, n, cfg, path, size);
	json_decref(cfg);
	return err;
}
