#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "run"
#include "hist.h"
#include "host.h"
#include "log.h"
#include "pki.h"
#include "preflight.h"
#include "results.h"
#include "rundb.h"
#include "schedule.h"

#define RUN_LINE_MAX 65536
/*
 * How long a loader's stop waits for the transactions still in flight
 * (it ends as soon as none is): three lost retransmissions of a UDP
 * request at T1 = 500 ms (RFC 3261 §17.1.2.2: 0.5 + 1 + 2 + 4 s), so
 * that loss on the path ends in retransmissions, not in "unfinished".
 */
#define RUN_DRAIN_MS 8000
/* Registrations per second of each callhandler (its own default is
 * 1000/s: 100,000 users would take 100 s). */
#define RUN_REG_RATE 5000

/* One started role. */
struct role {
	const struct topo_node *node;
	struct host *host;
	struct host_proc *proc;
	int to_fd, from_fd;
	char buf[RUN_LINE_MAX];
	size_t len;
	bool eof;
	json_t *summary;
	char log[700];
};

struct run {
	const struct topo *t;
	const struct inventory *inv;
	const struct run_opts *o;
	char id[128];
	char bundle[700];
	char work[700];	     /* local, private: configs, keys */
	char remote[256];    /* the run directory on remote hosts */
	struct host **hosts; /* parallel to inv->hosts; NULL = unused */
	struct role *roles;  /* parallel to t->nodes */
	struct pki *pki;
	struct rundb_server *dbsrv;
	struct rundb *db;
	struct preflight_host *pf;
	size_t npf;
	char status[16];
	char reason[512];
	struct res_run res;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void say(const struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A live progress line is on the terminal (the next output replaces
 * it).  One run at a time per process. */
static bool live_shown;

static void live_clear(void)
{
	if (live_shown)
		fputs("\r\033[K", stdout);
	live_shown = false;
}

static void say(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->o->quiet)
		return;
	live_clear();
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Marks the run failed (the first reason wins) and returns err. */
static int fail(struct run *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct run *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (!strcmp(r->status, "complete") || !r->status[0]) {
		snprintf(r->status, sizeof(r->status), "failed");
		va_start(ap, fmt);
		vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
		va_end(ap);
	}
	return err;
}

static bool interrupted(struct run *r)
{
	if (r->o->interrupted && *r->o->interrupted) {
		if (strcmp(r->status, "aborted")) {
			snprintf(r->status, sizeof(r->status), "aborted");
			snprintf(r->reason, sizeof(r->reason),
				 "interrupted (signal)");
		}
		return true;
	}
	return false;
}

static size_t inv_index(const struct run *r, const char *name)
{
	for (size_t i = 0; i < r->inv->nhosts; i++)
		if (!strcmp(r->inv->hosts[i].name, name))
			return i;
	return r->inv->nhosts;
}

static const struct inventory_host *ihost(const struct run *r,
					  const char *name)
{
	size_t i = inv_index(r, name);

	return i < r->inv->nhosts ? &r->inv->hosts[i] : NULL;
}

static struct host *host_of(const struct run *r, const char *name)
{
	size_t i = inv_index(r, name);

	return i < r->inv->nhosts ? r->hosts[i] : NULL;
}

/* Where a file of the run lives on a host: local work dir or remote. */
static void path_on(const struct run *r, const struct host *h,
		    const char *file, char *out, size_t size)
{
	snprintf(out, size, "%.500s/%.100s",
		 host_is_local(h) ? r->work : r->remote, file);
}

static const char *prog_of(enum topo_role role)
{
	static const char *const progs[TOPO_ROLE_COUNT] = {
		"proxy-stateful", "proxy-stateless", "callhandler", "loader"};

	return progs[role];
}

/* "udp:ADDRESS:PORT" of a node's listener on transport tp. */
static bool addr_of(const struct run *r, const struct topo_node *n,
		    enum sip_transport tp, char *out, size_t size)
{
	const struct inventory_host *ih = ihost(r, n->host);

	for (size_t i = 0; ih && i < n->nlisten; i++) {
		if (n->listen[i].tp != tp)
			continue;
		if (strchr(ih->address, ':'))
			snprintf(out, size, "%s:[%s]:%u",
				 sip_transport_name(tp), ih->address,
				 n->listen[i].port);
		else
			snprintf(out, size, "%s:%s:%u", sip_transport_name(tp),
				 ih->address, n->listen[i].port);
		for (char *c = out; *c && *c != ':'; c++)
			*c = (char)(*c | 0x20); /* "UDP" -> "udp" */
		return true;
	}
	return false;
}

/* ---- phases ----------------------------------------------------------- */

static int do_preflight(struct run *r)
{
	size_t bad = 0;
	int err;

	say(r, "[preflight] checking %s", r->t->name);
	err = preflight_run(r->t, r->inv, r->o->accept_new, &r->pf, &r->npf);
	if (err)
		return fail(r, err, "preflight: %s", strerror(err));
	for (size_t i = 0; i < r->npf; i++) {
		for (size_t k = 0; k < r->pf[i].nwarnings; k++)
			say(r, "[preflight] warning: %s",
			    r->pf[i].warnings[k]);
		for (size_t k = 0; k < r->pf[i].nproblems; k++) {
			say(r, "[preflight] problem: %s",
			    r->pf[i].problems[k]);
			fprintf(stderr, "orchestrator: %s\n",
				r->pf[i].problems[k]);
			if (!bad)
				fail(r, EHOSTUNREACH, "preflight: %s",
				     r->pf[i].problems[k]);
			bad++;
		}
	}
	if (bad)
		return EHOSTUNREACH;
	say(r, "[preflight] %zu host%s ready", r->npf, r->npf == 1 ? "" : "s");
	return 0;
}

static int open_hosts(struct run *r)
{
	char why[SSH_WHY_MAX];

	for (size_t i = 0; i < r->npf; i++) {
		size_t k = inv_index(r, r->pf[i].name);
		int err;

		if (k >= r->inv->nhosts || r->hosts[k])
			continue;
		/* Preflight has already vouched for the host key. */
		err = host_open(&r->hosts[k], &r->inv->hosts[k], false, why,
				sizeof(why));
		if (err)
			return fail(r, err, "%s", why);
	}
	return 0;
}

static bool needs_tls(const struct topo *t)
{
	if (t->exp.transport == SIP_TP_TLS)
		return true;
	for (size_t i = 0; i < t->nnodes; i++)
		for (size_t l = 0; l < t->nodes[i].nlisten; l++)
			if (t->nodes[i].listen[l].tp == SIP_TP_TLS)
				return true;
	return false;
}

static int put_file(struct run *r, struct host *h, const char *local,
		    const char *name)
{
	char dst[700], why[SSH_WHY_MAX];
	int err;

	if (host_is_local(h))
		return 0;
	snprintf(dst, sizeof(dst), "%s/%s", r->remote, name);
	err = host_put(h, local, dst, why, sizeof(why));
	return err ? fail(r, err, "deploying %s: %s", name, why) : 0;
}

static int deploy(struct run *r)
{
	char why[SSH_WHY_MAX], cmd[800], path[800];
	struct ssh_result res;
	int err;

	if (needs_tls(r->t)) {
		snprintf(path, sizeof(path), "%s/pki", r->work);
		err = pki_create(&r->pki, path, 2, why, sizeof(why));
		if (err)
			return fail(r, err, "%s", why);
	}
	for (size_t i = 0; i < r->inv->nhosts; i++) {
		struct host *h = r->hosts[i];
		bool progs[TOPO_ROLE_COUNT] = {false};

		if (!h)
			continue;
		if (r->pki) {
			err = pki_issue(r->pki, r->inv->hosts[i].name,
					r->inv->hosts[i].address, why,
					sizeof(why));
			if (err)
				return fail(r, err, "%s", why);
		}
		if (host_is_local(h))
			continue;
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && chmod 700 '%s'",
			 r->remote, r->remote);
		err = host_run(h, cmd, 10000, &res, why, sizeof(why));
		if (!err && res.status)
			err = EACCES;
		ssh_result_free(&res);
		if (err)
			return fail(r, err, "%s: cannot create %s",
				    host_name(h), r->remote);
		for (size_t n = 0; n < r->t->nnodes; n++)
			if (!strcmp(r->t->nodes[n].host, host_name(h)))
				progs[r->t->nodes[n].role] = true;
		for (int k = 0; k < TOPO_ROLE_COUNT; k++) {
			if (!progs[k])
				continue;
			snprintf(path, sizeof(path), "%s/%s", r->o->bin_dir,
				 prog_of((enum topo_role)k));
			err = put_file(r, h, path, prog_of((enum topo_role)k));
			if (err)
				return err;
		}
		if (r->pki) {
			static const char *const ext[] = {".pem", ".key"};

			snprintf(path, sizeof(path), "%s/pki/ca.pem", r->work);
			err = put_file(r, h, path, "ca.pem");
			for (int e = 0; !err && e < 2; e++) {
				char name[96];

				snprintf(name, sizeof(name), "%s%s",
					 host_name(h), ext[e]);
				snprintf(path, sizeof(path), "%s/pki/%s",
					 r->work, name);
				err = put_file(r, h, path, name);
			}
			if (err)
				return err;
		}
		say(r, "[deploy] %s: %s", host_name(h), r->remote);
	}
	return 0;
}

static const char *admin_password(struct run *r, char *buf, size_t size)
{
	const char *env = r->inv->db_password_env;

	if (env[0] && getenv(env))
		return getenv(env);
	if (r->inv->db_password_file[0]) {
		FILE *f = fopen(r->inv->db_password_file, "r");

		if (f) {
			if (fgets(buf, (int)size, f))
				buf[strcspn(buf, "\r\n")] = '\0';
			fclose(f);
			return buf;
		}
	}
	return "";
}

static int make_database(struct run *r)
{
	const struct inventory_host *ih = ihost(r, r->t->db_host);
	struct host *h = host_of(r, r->t->db_host);
	const struct topo_experiment *e = &r->t->exp;
	char why[600] = "", pwbuf[256], dir[700];
	const char *user, *password;
	struct passwd *pw = getpwuid(getuid());
	bool auth = false;
	uint64_t t0;
	int err;

	if (!ih || !h)
		return fail(r, ENOENT, "no database host \"%s\"",
			    r->t->db_host);
	if (r->t->db_managed) {
		path_on(r, h, "", dir, sizeof(dir));
		dir[strlen(dir) - 1] = '\0';
		say(r, "[db] starting a managed mariadbd on %s:%u",
		    ih->address, r->t->db_port);
		err = rundb_server_start(&r->dbsrv, h, ih->address,
					 r->t->db_port, dir, why, sizeof(why));
		if (err)
			return fail(r, err, "database: %s", why);
		user = rundb_server_user(r->dbsrv);
		password = rundb_server_password(r->dbsrv);
	} else {
		user = r->inv->db_admin_user;
		password = admin_password(r, pwbuf, sizeof(pwbuf));
	}
	err = rundb_create(&r->db, ih->address, r->t->db_port, user, password,
			   pw ? pw->pw_name : "user", why, sizeof(why));
	if (err)
		return fail(r, err, "database: %s", why);
	err = rundb_apply(r->db, r->o->schema, why, sizeof(why));
	if (err)
		return fail(r, err, "database: %s", why);
	for (size_t i = 0; i < r->t->nnodes; i++)
		if (r->t->nodes[i].role == TOPO_STATEFUL &&
		    strcmp(r->t->nodes[i].auth, "none"))
			auth = true;
	t0 = now_ms();
	err = rundb_add_users(r->db, r->t->domain, e->user_prefix,
			      e->user_first, e->user_count, auth, why,
			      sizeof(why));
	if (err)
		return fail(r, err, "database: %s", why);
	say(r, "[db] %s: %u users in %.2f s", rundb_name(r->db), e->user_count,
	    (double)(now_ms() - t0) / 1000);
	return 0;
}

/* Writes the role's config (its long flags as JSON keys), mode 0600. */
static int write_config(struct run *r, const struct topo_node *n, json_t *cfg,
			char *remote_path, size_t size)
{
	struct host *h = host_of(r, n->host);
	char local[700], name[96];
	int fd, err = 0;
	FILE *f;

	snprintf(name, sizeof(name), "%s.json", n->name);
	snprintf(local, sizeof(local), "%.500s/%.100s", r->work, name);
	fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return fail(r, errno, "cannot write %s", local);
	}
	if (json_dumpf(cfg, f, JSON_INDENT(2)))
		err = EIO;
	if (fclose(f) && !err)
		err = errno;
	if (err)
		return fail(r, err, "cannot write %s", local);
	err = put_file(r, h, local, name);
	path_on(r, h, name, remote_path, size);
	return err;
}

static void add_tls(struct run *r, const struct topo_node *n, json_t *cfg)
{
	struct host *h = host_of(r, n->host);
	char path[700], file[100];

	if (!r->pki)
		return;
	snprintf(file, sizeof(file),
		 host_is_local(h) ? "pki/%s.pem" : "%s.pem", n->host);
	path_on(r, h, file, path, sizeof(path));
	json_object_set_new(cfg, "tls-cert", json_string(path));
	snprintf(file, sizeof(file),
		 host_is_local(h) ? "pki/%s.key" : "%s.key", n->host);
	path_on(r, h, file, path, sizeof(path));
	json_object_set_new(cfg, "tls-key", json_string(path));
	path_on(r, h, host_is_local(h) ? "pki/ca.pem" : "ca.pem", path,
		sizeof(path));
	json_object_set_new(cfg, "tls-ca", json_string(path));
}

static json_t *listen_list(struct run *r, const struct topo_node *n)
{
	json_t *arr = json_array();
	char a[160];

	for (size_t i = 0; i < n->nlisten; i++)
		if (addr_of(r, n, n->listen[i].tp, a, sizeof(a)))
			json_array_append_new(arr, json_string(a));
	return arr;
}

/* RFC 7502's connection reuse strategy of a TCP/TLS run. */
static const char *run_connection(const struct topo_experiment *e)
{
	return e->connection[0] ? e->connection : "persistent";
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
	if (addr_of(r, &r->t->nodes[n->server], e->transport, a, sizeof(a)))
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

/* The configuration of each role, in its own flags' names. */
static json_t *role_config(struct run *r, const struct topo_node *n)
{
	const struct topo *t = r->t;
	const struct topo_experiment *e = &t->exp;
	json_t *cfg = json_object();
	char a[160], users[96], reg_users[96];
	int width = rundb_user_width(e->user_first, e->user_count);
	/* A mix's REGISTERs take the second half of the users, so that
	 * they never replace the callees' bindings (topo.h). */
	unsigned ncallees = topo_mix_splits_users(e) ? e->user_count / 2
						     : e->user_count;

	snprintf(users, sizeof(users), "%s%0*u-%s%0*u", e->user_prefix, width,
		 e->user_first, e->user_prefix, width,
		 e->user_first + ncallees - 1);
	snprintf(reg_users, sizeof(reg_users), "%s%0*u-%s%0*u", e->user_prefix,
		 width, e->user_first + ncallees, e->user_prefix, width,
		 e->user_first + e->user_count - 1);
	if (n->workers)
		json_object_set_new(cfg,
				    n->role == TOPO_STATEFUL ||
						    n->role == TOPO_STATELESS
					    ? "workers"
					    : "threads",
				    json_integer(n->workers));
	if (n->role != TOPO_LOADER)
		json_object_set_new(cfg, "listen", listen_list(r, n));
	switch (n->role) {
	case TOPO_STATEFUL: {
		const struct inventory_host *db = ihost(r, t->db_host);
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
		if (n->presence || topo_is_presence(e))
			json_object_set_new(cfg, "presence", json_true());
		break;
	}
	case TOPO_STATELESS: {
		json_t *next = json_array();

		for (size_t i = 0; i < n->nnext; i++) {
			char hop[200];

			if (!addr_of(r, &t->nodes[n->next[i]], e->transport, a,
				     sizeof(a)))
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
		break;
	}
	case TOPO_CALLHANDLER:
		if (!strcmp(e->test, "publish")) {
			watcher_config(r, n, cfg);
			break;
		}
		json_object_set_new(cfg, "users", json_string(users));
		json_object_set_new(cfg, "domain", json_string(t->domain));
		if (addr_of(r, &t->nodes[n->server], e->transport, a,
			    sizeof(a)))
			json_object_set_new(cfg, "register-via",
					    json_string(a));
		if (e->auth)
			json_object_set_new(
				cfg, "password",
				json_string(rundb_password(r->db)));
		json_object_set_new(cfg, "ring-ms", json_integer(n->ring_ms));
		json_object_set_new(cfg, "reg-rate",
				    json_integer(RUN_REG_RATE));
		break;
	case TOPO_LOADER: {
		const struct inventory_host *ih = ihost(r, n->host);

		json_object_set_new(cfg, "test", json_string(e->test));
		if (topo_needs_callhandler(e))
			json_object_set_new(cfg, "hold-ms",
					    json_integer(e->hold_ms));
		if (!strcmp(e->test, "mix")) {
			char mix[128];
			size_t o = 0;

			mix[0] = '\0';
			for (unsigned k = 0; k < TOPO_MIX_KINDS; k++)
				if (e->mix[k] && o < sizeof(mix))
					o += (size_t)snprintf(
						mix + o, sizeof(mix) - o,
						"%s%s=%u", o ? "," : "",
						topo_mix_kinds[k], e->mix[k]);
			json_object_set_new(cfg, "mix", json_string(mix));
			if (topo_mix_splits_users(e))
				json_object_set_new(cfg, "register-users",
						    json_string(reg_users));
		}
		if (addr_of(r, &t->nodes[n->server], e->transport, a,
			    sizeof(a)))
			json_object_set_new(cfg, "server", json_string(a));
		json_object_set_new(cfg, "users", json_string(users));
		json_object_set_new(cfg, "domain", json_string(t->domain));
		if (ih)
			json_object_set_new(cfg, "local",
					    json_string(ih->address));
		if (e->auth)
			json_object_set_new(
				cfg, "password",
				json_string(rundb_password(r->db)));
		if (e->preload_credentials)
			json_object_set_new(cfg, "preload-credentials",
					    json_true());
		json_object_set_new(cfg, "drain-ms",
				    json_integer(RUN_DRAIN_MS));
		json_object_set_new(cfg, "timer-b-ms",
				    json_integer(e->threshold_ms));
		if (e->transport != SIP_TP_UDP)
			json_object_set_new(cfg, "conn",
					    json_string(run_connection(e)));
		if (topo_is_presence(e))
			presence_loader_config(r, n, cfg);
		break;
	}
	case TOPO_ROLE_COUNT:
		break;
	}
	/* The loader's certificate is its client certificate (and its
	 * listener's); the CA verifies the proxy's. */
	add_tls(r, n, cfg);
	return cfg;
}

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
		now = now_ms();
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
static json_t *wait_event(struct run *r, struct role *ro, const char *event,
			  unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;

	while (now_ms() < deadline && !interrupted(r)) {
		uint64_t slice = now_ms() + 200;
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
	struct host *h = host_of(r, n->host);
	char local[700], name[96], path[700];
	FILE *f;
	int err = 0;

	snprintf(name, sizeof(name), "%s.filter", n->name);
	snprintf(local, sizeof(local), "%.500s/%.100s", r->work, name);
	f = fopen(local, "we");
	if (!f)
		return fail(r, errno, "cannot write %s", local);
	if (fputs(text, f) == EOF)
		err = EIO;
	if (fclose(f) && !err)
		err = errno;
	if (err)
		return fail(r, err, "cannot write %s", local);
	err = put_file(r, h, local, name);
	if (err)
		return err;
	path_on(r, h, name, path, sizeof(path));
	json_object_set_new(cfg, "presence-filter", json_string(path));
	return 0;
}

/* Starts node n as ro; test, when given, replaces a loader's test. */
static int start_as(struct run *r, struct role *ro, const struct topo_node *n,
		    const char *test)
{
	char cfg_path[700], bin[700], cmd[1600], why[SSH_WHY_MAX], tail[300];
	json_t *cfg, *ready;
	unsigned timeout = r->o->ready_timeout_ms ? r->o->ready_timeout_ms
						  : 20000;
	int err;

	ro->node = n;
	ro->host = host_of(r, n->host);
	ro->to_fd = ro->from_fd = -1;
	cfg = role_config(r, n);
	if (!cfg)
		return fail(r, ENOMEM, "out of memory");
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
	err = write_config(r, n, cfg, cfg_path, sizeof(cfg_path));
	json_decref(cfg);
	if (err)
		return err;
	if (host_is_local(ro->host))
		snprintf(bin, sizeof(bin), "%s/%s", r->o->bin_dir,
			 prog_of(n->role));
	else
		snprintf(bin, sizeof(bin), "%s/%s", r->remote,
			 prog_of(n->role));
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --control", bin,
		 cfg_path);
	snprintf(ro->log, sizeof(ro->log), "%.600s/logs/%.64s.log", r->bundle,
		 n->name);
	err = host_spawn(ro->host, cmd, ro->log, &ro->proc, &ro->to_fd,
			 &ro->from_fd, why, sizeof(why));
	if (err)
		return fail(r, err, "%s: cannot start %s: %s", n->name,
			    prog_of(n->role), why);
	ready = wait_event(r, ro, "ready", timeout);
	if (!ready) {
		if (interrupted(r))
			return EINTR;
		log_tail(ro->log, tail, sizeof(tail));
		return fail(r, ETIMEDOUT,
			    "%s (%s on %s) did not become ready%s%s", n->name,
			    prog_of(n->role), n->host, tail[0] ? ": " : "",
			    tail);
	}
	json_decref(ready);
	say(r, "[start] %s (%s) on %s ready, pid %ld", n->name,
	    prog_of(n->role), n->host, host_proc_pid(ro->proc));
	return 0;
}

static int start_role(struct run *r, size_t idx)
{
	return start_as(r, &r->roles[idx], &r->t->nodes[idx], NULL);
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
		ev = wait_event(r, ro, "watching",
				60000 + r->t->exp.user_count *
						r->t->exp.watchers);
		if (!ev)
			return interrupted(r) ? EINTR
					      : fail(r, ETIMEDOUT,
						     "%s did not subscribe "
						     "its "
						     "watchers in time",
						     name);
		dialogs = json_number_value(json_object_get(ev, "dialogs"));
		active = json_number_value(json_object_get(ev, "active"));
		json_decref(ev);
		if (!(dialogs > 0) || active < dialogs)
			return fail(r, EPROTO,
				    "%s: %.0f of %.0f watchers active", name,
				    active, dialogs);
		say(r, "[start] %s: %.0f watchers active", name, active);
	}
	return 0;
}

static int start_roles(struct run *r)
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
			ev = wait_event(r, ro, "registered",
					60000 + r->t->exp.user_count * 1000u /
							RUN_REG_RATE);
			if (!ev)
				return interrupted(r)
					       ? EINTR
					       : fail(r, ETIMEDOUT,
						      "%s did not register "
						      "its users in time",
						      r->t->nodes[i].name);
			say(r, "[start] %s registered its users",
			    r->t->nodes[i].name);
			json_decref(ev);
		}
	}
	return 0;
}

/* ---- load steps ------------------------------------------------------- */

/* Sends a command and waits for its reply (events in between are kept
 * aside: a passing summary is remembered). */
static json_t *command(struct run *r, struct role *ro, const char *cmd,
		       json_t *args, unsigned timeout_ms)
{
	static int next_id = 1;
	int id = next_id++;
	uint64_t deadline = now_ms() + timeout_ms;
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
	while (now_ms() < deadline) {
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

static double num_of(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

/* The proxies, in the order of the report: stateless, then stateful. */
static size_t proxy_list(const struct run *r, size_t *idx, size_t max)
{
	size_t n = 0;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < r->t->nnodes && n < max; i++)
			if (r->t->nodes[i].role ==
			    (pass ? TOPO_STATEFUL : TOPO_STATELESS))
				idx[n++] = i;
	return n;
}

struct proxy_mark {
	uint64_t cpu_us, t_ms, requests;
	uint64_t notify_sent; /* presence servers: stats.presence */
	double rss_mb;
	unsigned nthreads;
	long tid[RES_MAX_THREADS];
	uint64_t thread_us[RES_MAX_THREADS]; /* user + sys */
};

/* Each thread's CPU between two marks, matched by thread id. */
static void thread_cpu(const struct proxy_mark *a, const struct proxy_mark *b,
		       struct res_proxy *out)
{
	double dt = (double)(b->t_ms - a->t_ms) * 1000;

	out->nthreads = 0;
	for (unsigned i = 0; i < b->nthreads && dt > 0; i++) {
		double v = 0;

		for (unsigned k = 0; k < a->nthreads; k++)
			if (a->tid[k] == b->tid[i] &&
			    b->thread_us[i] >= a->thread_us[k])
				v = (double)(b->thread_us[i] -
					     a->thread_us[k]) /
				    dt;
		out->thread_cpu[out->nthreads++] = (float)v;
	}
}

/* Cumulative CPU, RSS and requests of a proxy from its stats. */
static bool proxy_read(struct run *r, struct role *ro, struct proxy_mark *m)
{
	json_t *st = command(r, ro, "stats", NULL, 3000), *req, *v;
	const char *key;

	if (!st)
		return false;
	m->t_ms = now_ms();
	/* Exact nanoseconds when the role gives them, else /proc's ticks. */
	if (json_object_get(json_object_get(st, "cpu"), "total_ns"))
		m->cpu_us =
			(uint64_t)(num_of(json_object_get(st, "cpu"), "total_"
								      "ns") /
				   1000);
	else
		m->cpu_us =
			(uint64_t)(num_of(json_object_get(st, "cpu"), "user_"
								      "us") +
				   num_of(json_object_get(st, "cpu"), "sys_"
								      "us"));
	m->rss_mb = num_of(st, "rss_kb") / 1024;
	m->nthreads = 0;
	{
		json_t *thr = json_object_get(json_object_get(st, "cpu"), "thr"
									  "ead"
									  "s");

		for (size_t i = 0;
		     i < json_array_size(thr) && m->nthreads < RES_MAX_THREADS;
		     i++) {
			json_t *t = json_array_get(thr, i);

			m->tid[m->nthreads] = (long)num_of(t, "tid");
			m->thread_us[m->nthreads++] =
				(uint64_t)(num_of(t, "user_us") +
					   num_of(t, "sys_us"));
		}
	}
	m->notify_sent = (uint64_t)num_of(
		json_object_get(json_object_get(st, "presence"), "notify"),
		"sent");
	m->requests = 0;
	req = json_object_get(st, "requests");
	json_object_foreach(req, key, v)
		m->requests += (uint64_t)num_of(req, key);
	json_decref(st);
	return true;
}

struct loader_mark {
	uint64_t successes, failures;
	struct hist rtt;
	bool have_rtt;
};

static void loaders_read(struct run *r, struct loader_mark *m)
{
	memset(m, 0, sizeof(*m));
	hist_init(&m->rtt);
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *st, *fig;
		struct hist h;

		if (r->t->nodes[i].role != TOPO_LOADER || !ro->proc)
			continue;
		st = command(r, ro, "stats", NULL, 3000);
		fig = json_object_get(st, "loader");
		m->successes += (uint64_t)num_of(fig, "successes");
		m->failures += (uint64_t)num_of(fig, "failures");
		if (hist_from_json(&h, json_object_get(fig, "rtt_us")) == 0) {
			hist_merge(&m->rtt, &h);
			m->have_rtt = true;
		}
		json_decref(st);
	}
}

/* Presence tests: the NOTIFYs the agents answered so far and their
 * delays, cumulative.  publish: the watchers' NOTIFYs that carried a new
 * publication (bodies_new: neither a refresh's repeat nor a duplicate,
 * which past the server's knee outnumber the NOTIFYs it says it sent);
 * subscribe: every NOTIFY of the loaders' dialogs. */
struct notify_mark {
	uint64_t notifies;
	struct hist delay;
};

static void notify_read(struct run *r, struct notify_mark *m)
{
	bool publish = !strcmp(r->t->exp.test, "publish");
	enum topo_role role = publish ? TOPO_CALLHANDLER : TOPO_LOADER;
	const char *where = publish ? "watch" : "loader";
	const char *count = publish ? "bodies_new" : "notifies";
	const char *delay = publish ? "delay_us" : "snd_us";

	m->notifies = 0;
	hist_init(&m->delay);
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *st, *fig, *counts;
		struct hist h;

		if (r->t->nodes[i].role != role || !ro->proc)
			continue;
		st = command(r, ro, "stats", NULL, 3000);
		fig = json_object_get(st, where);
		counts = publish ? fig : json_object_get(fig, "presence");
		m->notifies += (uint64_t)num_of(counts, count);
		if (hist_from_json(&h, json_object_get(fig, delay)) == 0)
			hist_merge(&m->delay, &h);
		json_decref(st);
	}
}

/* A presence step's NOTIFY figures, between marks a and b. */
static void notify_step(const struct notify_mark *a,
			const struct notify_mark *b, double secs,
			struct res_step *st)
{
	struct hist d;

	st->notifies = b->notifies > a->notifies ? b->notifies - a->notifies
						 : 0;
	st->notify_per_s = secs > 0 ? (double)st->notifies / secs : 0;
	st->notify_per_req =
		st->successes ? (double)st->notifies / (double)st->successes
			      : -1;
	st->notify_p50_ms = st->notify_p95_ms = st->notify_p99_ms = -1;
	if (hist_diff(&d, &b->delay, &a->delay) == 0 && d.count) {
		st->notify_p50_ms = (double)hist_quantile(&d, 0.50) / 1000;
		st->notify_p95_ms = (double)hist_quantile(&d, 0.95) / 1000;
		st->notify_p99_ms = (double)hist_quantile(&d, 0.99) / 1000;
	}
}

/* Tells every loader its share of the total rate. */
static int set_rate(struct run *r, double total, bool first)
{
	size_t nloaders = 0;

	for (size_t i = 0; i < r->t->nnodes; i++)
		nloaders += r->t->nodes[i].role == TOPO_LOADER;
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *args, *reply;
		bool ok;

		if (r->t->nodes[i].role != TOPO_LOADER)
			continue;
		args = json_pack("{s:f}", "rate", total / (double)nloaders);
		reply = command(r, ro, first ? "start" : "set-rate", args,
				5000);
		json_decref(args);
		ok = reply && json_is_true(json_object_get(reply, "ok"));
		json_decref(reply);
		if (!ok)
			return fail(r, EPROTO, "%s refused its rate",
				    r->t->nodes[i].name);
	}
	return 0;
}

/* The invite test's figures of a step, summed over the loaders. */
struct call_acc {
	uint64_t ended, done, answered, completed, timeouts;
	uint64_t redirected; /* 3xx */
	uint64_t seer_ok;    /* 480, 486, 600, 603 (RFC 6076 §4.7) */
	uint64_t isa_bad;    /* 408, 500, 503, 504 (§4.8) */
	struct hist srd, sdd;
};

static void call_acc_add(struct call_acc *ca, json_t *reply)
{
	json_t *calls = json_object_get(reply, "calls");
	json_t *codes = json_object_get(reply, "codes");
	const char *k;
	json_t *v;
	struct hist h;

	if (!calls)
		return;
	ca->ended += (uint64_t)num_of(reply, "successes") +
		     (uint64_t)num_of(reply, "failures");
	ca->done += (uint64_t)num_of(calls, "invite_done");
	ca->answered += (uint64_t)num_of(calls, "answered");
	ca->completed += (uint64_t)num_of(calls, "completed");
	ca->timeouts += (uint64_t)num_of(calls, "invite_timeouts");
	json_object_foreach(codes, k, v)
	{
		long c = strtol(k, NULL, 10);
		uint64_t n = (uint64_t)json_integer_value(v);

		if (c >= 300 && c < 400)
			ca->redirected += n;
		if (c == 480 || c == 486 || c == 600 || c == 603)
			ca->seer_ok += n;
		if (c == 408 || c == 500 || c == 503 || c == 504)
			ca->isa_bad += n;
	}
	if (hist_from_json(&h, json_object_get(reply, "srd_us")) == 0)
		hist_merge(&ca->srd, &h);
	if (hist_from_json(&h, json_object_get(reply, "sdd_us")) == 0)
		hist_merge(&ca->sdd, &h);
}

static double pct_or_none(uint64_t num, uint64_t den)
{
	return den ? 100.0 * (double)num / (double)den : -1;
}

/* RFC 6076 SRD, SDD (means) and SER, SEER, ISA, SCR of a step. */
static void call_acc_step(const struct call_acc *ca, struct res_step *st)
{
	uint64_t den = ca->done - ca->redirected;

	st->rrd_ms = st->ira_pct = -1;
	st->srd_ms = ca->srd.count ? hist_mean(&ca->srd) / 1000 : -1;
	st->sdd_ms = ca->sdd.count ? hist_mean(&ca->sdd) / 1000 : -1;
	st->ser_pct = pct_or_none(ca->answered, den);
	st->seer_pct = pct_or_none(ca->answered + ca->seer_ok, den);
	st->isa_pct = pct_or_none(ca->isa_bad + ca->timeouts, ca->done);
	/* over the calls that ended in the step (hold time shifts them
	 * from the attempts) */
	st->scr_pct = pct_or_none(ca->completed, ca->ended);
}

/* Ends the loaders' current interval: their figures, merged (the call
 * figures into ca, when not NULL). */
static int loaders_step(struct run *r, struct res_step *st, struct hist *rtt,
			struct hist *rrd, double *secs, bool *bound,
			struct call_acc *ca)
{
	*secs = 0;
	*bound = false;
	hist_init(rtt);
	hist_init(rrd);
	if (ca) {
		memset(ca, 0, sizeof(*ca));
		hist_init(&ca->srd);
		hist_init(&ca->sdd);
	}
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *reply;
		struct hist h;

		if (r->t->nodes[i].role != TOPO_LOADER)
			continue;
		reply = command(r, ro, "step", NULL, 5000);
		if (!reply || !json_is_true(json_object_get(reply, "ok"))) {
			json_decref(reply);
			return fail(r, EPROTO, "%s did not end its step",
				    r->t->nodes[i].name);
		}
		if (st) {
			st->attempts += (uint64_t)num_of(reply, "attempts");
			st->successes += (uint64_t)num_of(reply, "successes");
			st->failures += (uint64_t)num_of(reply, "failures");
			st->timeouts += (uint64_t)num_of(reply, "timeouts");
			st->retransmissions += (uint64_t)num_of(reply, "retran"
								       "smissi"
								       "ons");
		}
		if (num_of(reply, "secs") > *secs)
			*secs = num_of(reply, "secs");
		*bound |= json_is_true(json_object_get(reply, "generator_"
							      "bound"));
		if (hist_from_json(&h, json_object_get(reply, "rtt_us")) == 0)
			hist_merge(rtt, &h);
		if (hist_from_json(&h, json_object_get(reply, "rrd_us")) == 0)
			hist_merge(rrd, &h);
		if (ca)
			call_acc_add(ca, reply);
		json_decref(reply);
	}
	return 0;
}

static int sleep_until(struct run *r, uint64_t when)
{
	while (now_ms() < when) {
		uint64_t left = when - now_ms();

		if (interrupted(r))
			return EINTR;
		usleep((useconds_t)(left > 100 ? 100000 : left * 1000));
	}
	return 0;
}

/* Checks that no role died; a dead one ends the run with its last words. */
static int roles_alive(struct run *r)
{
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		char tail[300];
		int status;

		if (!ro->proc || !host_proc_done(ro->proc, &status))
			continue;
		log_tail(ro->log, tail, sizeof(tail));
		return fail(r, EPIPE,
			    "%s (%s on %s) died mid-run (status %d)%s%s",
			    ro->node->name, prog_of(ro->node->role),
			    ro->node->host, status, tail[0] ? ": " : "", tail);
	}
	return 0;
}

static int append_sample(struct run *r, const struct res_sample *s)
{
	struct res_sample *more =
		realloc(r->res.samples, (r->res.nsamples + 1) * sizeof(*more));

	if (!more)
		return ENOMEM;
	r->res.samples = more;
	r->res.samples[r->res.nsamples++] = *s;
	return 0;
}

/* What the steps carry from one to the next: the proxies and the marks
 * their per-second figures are differences from. */
struct stepper {
	size_t pidx[RES_MAX_PROXIES], np;
	struct proxy_mark prev[RES_MAX_PROXIES];
	struct loader_mark lprev;
	uint64_t t_begin;
	bool started;
	/* the database's Questions at t_ms (have_db: a reading) */
	uint64_t db_questions, db_t_ms;
	bool have_db;
};

/* The database's counters into smp (-1 without a reading). */
static void db_sample(struct run *r, struct stepper *sp,
		      struct res_sample *smp)
{
	uint64_t q = 0, threads = 0, now;

	smp->db_qps = smp->db_threads = -1;
	if (!r->db || rundb_status(r->db, &q, &threads)) {
		sp->have_db = false;
		return;
	}
	now = now_ms();
	/* Our own SHOW GLOBAL STATUS is one of the Questions. */
	if (sp->have_db && now > sp->db_t_ms && q > sp->db_questions)
		smp->db_qps = (double)(q - sp->db_questions - 1) * 1000 /
			      (double)(now - sp->db_t_ms);
	smp->db_threads = (double)threads;
	sp->db_questions = q;
	sp->db_t_ms = now;
	sp->have_db = true;
}

static void stepper_init(struct run *r, struct stepper *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->t_begin = now_ms();
	sp->np = proxy_list(r, sp->pidx, RES_MAX_PROXIES);
	r->res.nproxies = sp->np;
	for (size_t k = 0; k < sp->np; k++) {
		snprintf(r->res.proxy_names[k], RES_NAME_MAX, "%s",
			 r->t->nodes[sp->pidx[k]].name);
		proxy_read(r, &r->roles[sp->pidx[k]], &sp->prev[k]);
	}
	loaders_read(r, &sp->lprev);
}

/*
 * On a terminal, each second redraws one line: the step, the offered
 * and achieved rate, success, p95 and each proxy's CPU of that second.
 * Elsewhere (a pipe, a file) only the step's own line at its end.
 */
static void live_line(struct run *r, const struct stepper *sp,
		      const struct res_sample *smp, unsigned sec,
		      unsigned secs)
{
	const struct topo_experiment *e = &r->t->exp;
	char line[512];
	size_t used = 0;

	if (r->o->quiet || !isatty(STDOUT_FILENO))
		return;
	if (strcmp(e->search, "ramp") || !e->rate_step)
		used = (size_t)snprintf(line, sizeof(line), "[trial %u]",
					smp->step + 1);
	else
		used = (size_t)snprintf(
			line, sizeof(line), "[step %u/%u]", smp->step + 1,
			(e->rate_final - e->rate_start) / e->rate_step + 1);
	used += (size_t)snprintf(line + used, sizeof(line) - used,
				 " %u/%u s offered %.0f/s achieved %.0f/s "
				 "success %.2f%% p95 %.2f ms |",
				 sec, secs, smp->offered, smp->achieved,
				 smp->success_pct, smp->p95_ms);
	for (size_t k = 0; k < sp->np && used < sizeof(line); k++)
		used += (size_t)snprintf(line + used, sizeof(line) - used,
					 " %s %.0f%%", r->res.proxy_names[k],
					 smp->proxy[k].cpu * 100);
	/* A wrapped line would not be replaced: cut it to the width. */
	{
		struct winsize ws;

		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
		    ws.ws_col > 1 && strlen(line) >= ws.ws_col)
			line[ws.ws_col - 1] = '\0';
	}
	live_clear();
	fputs(line, stdout);
	fflush(stdout);
	live_shown = true;
}

/*
 * One step at rate: set the loaders' rate, warm up, sample every second,
 * then the step's figures into *st (not yet judged nor kept).
 */
static int run_step(struct run *r, struct stepper *sp, double rate,
		    unsigned index, unsigned step_s, struct res_step *st)
{
	const struct topo_experiment *e = &r->t->exp;
	size_t np = sp->np, *pidx = sp->pidx;
	struct proxy_mark cur[RES_MAX_PROXIES], step0[RES_MAX_PROXIES];
	struct proxy_mark *prev = sp->prev;
	struct loader_mark lcur;
	struct hist rtt, rrd;
	double cpu_sum[RES_MAX_PROXIES] = {0}, secs = 0;
	double cpu_all[RES_MAX_PROXIES] = {0};
	unsigned cpu_n[RES_MAX_PROXIES] = {0};
	struct call_acc *calls = NULL;
	struct notify_mark n0, n1;
	bool presence = topo_is_presence(e);
	uint64_t t0, notify_sent = 0;
	bool bound = false;
	size_t total_req = 0;
	int err;

	memset(st, 0, sizeof(*st));
	err = set_rate(r, rate, !sp->started);
	if (err)
		return err;
	sp->started = true;
	/* Warm-up: run, then throw its figures away. */
	err = sleep_until(r, now_ms() + (uint64_t)e->warmup_s * 1000);
	if (!err)
		err = loaders_step(r, NULL, &rtt, &rrd, &secs, &bound, NULL);
	if (err)
		return err;
	/* The step's figures start here, after the warm-up. */
	for (size_t k = 0; k < np; k++) {
		proxy_read(r, &r->roles[pidx[k]], &step0[k]);
		prev[k] = step0[k];
	}
	loaders_read(r, &sp->lprev);
	if (presence)
		notify_read(r, &n0);
	{
		struct res_sample first;

		db_sample(r, sp, &first); /* the mark the first second needs */
	}
	t0 = now_ms();
	for (unsigned sec = 1; sec <= step_s && !err; sec++) {
		struct res_sample smp = {0};

		err = sleep_until(r, t0 + (uint64_t)sec * 1000);
		if (!err)
			err = roles_alive(r);
		if (err)
			break;
		smp.t_s = (double)(now_ms() - sp->t_begin) / 1000;
		smp.step = index;
		smp.offered = rate;
		for (size_t k = 0; k < np; k++) {
			double dt;

			if (!proxy_read(r, &r->roles[pidx[k]], &cur[k]))
				continue;
			dt = (double)(cur[k].t_ms - prev[k].t_ms);
			if (dt > 0)
				smp.proxy[k].cpu = (double)(cur[k].cpu_us -
							    prev[k].cpu_us) /
						   (dt * 1000);
			smp.proxy[k].rss_mb = cur[k].rss_mb;
			smp.proxy[k].share = -1;
			thread_cpu(&prev[k], &cur[k], &smp.proxy[k]);
			/* The steady middle: not the first nor the last
			 * second of the step. */
			if (sec > 1 && sec < step_s) {
				cpu_sum[k] += smp.proxy[k].cpu;
				cpu_n[k]++;
			}
			cpu_all[k] += smp.proxy[k].cpu;
			if (cur[k].rss_mb > st->proxy[k].rss_mb)
				st->proxy[k].rss_mb = cur[k].rss_mb;
			prev[k] = cur[k];
		}
		db_sample(r, sp, &smp);
		loaders_read(r, &lcur);
		{
			uint64_t ok = lcur.successes - sp->lprev.successes;
			uint64_t bad = lcur.failures - sp->lprev.failures;
			struct hist d;

			smp.achieved = (double)ok;
			smp.success_pct = ok + bad ? 100.0 * (double)ok /
							     (double)(ok + bad)
						   : 0;
			if (lcur.have_rtt && sp->lprev.have_rtt &&
			    hist_diff(&d, &lcur.rtt, &sp->lprev.rtt) == 0)
				smp.p95_ms =
					(double)hist_quantile(&d, 0.95) / 1000;
		}
		sp->lprev = lcur;
		err = append_sample(r, &smp);
		if (!err)
			live_line(r, sp, &smp, sec, step_s);
	}
	if (err)
		return err;
	if (!strcmp(e->test, "invite")) {
		calls = malloc(sizeof(*calls));
		if (!calls)
			return ENOMEM;
	}
	err = loaders_step(r, st, &rtt, &rrd, &secs, &bound, calls);
	if (err) {
		free(calls);
		return err;
	}
	if (presence)
		notify_read(r, &n1);
	st->index = index;
	st->offered = rate;
	st->achieved = secs > 0 ? (double)st->successes / secs : 0;
	st->success_pct =
		st->successes + st->failures
			? 100.0 * (double)st->successes /
				  (double)(st->successes + st->failures)
			: 0;
	st->ta_avg_ms = hist_mean(&rtt) / 1000;
	st->p50_ms = (double)hist_quantile(&rtt, 0.50) / 1000;
	st->p90_ms = (double)hist_quantile(&rtt, 0.90) / 1000;
	st->p95_ms = (double)hist_quantile(&rtt, 0.95) / 1000;
	st->p99_ms = (double)hist_quantile(&rtt, 0.99) / 1000;
	st->max_ms = (double)hist_quantile(&rtt, 1.0) / 1000;
	st->rrd_ms = rrd.count ? hist_mean(&rrd) / 1000 : -1;
	st->ira_pct = st->successes + st->failures
			      ? 100.0 * (double)st->failures /
					(double)(st->successes + st->failures)
			      : -1;
	st->srd_ms = st->sdd_ms = st->ser_pct = st->seer_pct = -1;
	st->isa_pct = st->scr_pct = -1;
	if (calls)
		call_acc_step(calls, st);
	free(calls);
	st->notify_per_s = st->notify_per_req = st->server_notify_per_s = -1;
	st->notify_p50_ms = st->notify_p95_ms = st->notify_p99_ms = -1;
	if (presence)
		notify_step(&n0, &n1, secs, st);
	st->generator_bound = bound;
	for (size_t k = 0; k < np; k++) {
		/* Steps too short for a middle: every second. */
		if (cpu_n[k])
			st->proxy[k].cpu = cpu_sum[k] / cpu_n[k];
		else if (step_s)
			st->proxy[k].cpu = cpu_all[k] / step_s;
		st->proxy[k].share = -1;
		if (r->t->nodes[pidx[k]].role == TOPO_STATEFUL) {
			total_req += prev[k].requests - step0[k].requests;
			notify_sent +=
				prev[k].notify_sent - step0[k].notify_sent;
		}
	}
	if (presence && secs > 0)
		st->server_notify_per_s = (double)notify_sent / secs;
	for (size_t k = 0; k < np && total_req; k++)
		if (r->t->nodes[pidx[k]].role == TOPO_STATEFUL)
			st->proxy[k].share = (double)(prev[k].requests -
						      step0[k].requests) /
					     (double)total_req;
	return 0;
}

static int keep_step(struct run *r, const struct res_step *st)
{
	struct res_step *more =
		realloc(r->res.steps, (r->res.nsteps + 1) * sizeof(*more));

	if (!more)
		return ENOMEM;
	r->res.steps = more;
	r->res.steps[r->res.nsteps++] = *st;
	return 0;
}

static void say_step(struct run *r, const struct res_step *st,
		     const char *verdict)
{
	char cpus[256] = "", notifies[128] = "";
	size_t used = 0;

	for (size_t k = 0; k < r->res.nproxies && used < sizeof(cpus); k++)
		used += (size_t)snprintf(cpus + used, sizeof(cpus) - used,
					 " %s %.0f%%", r->res.proxy_names[k],
					 st->proxy[k].cpu * 100);
	if (topo_is_presence(&r->t->exp) && st->notify_per_s >= 0)
		snprintf(notifies, sizeof(notifies),
			 " | NOTIFY %.0f/s (%.2f per request) p95 %.2f ms",
			 st->notify_per_s, st->notify_per_req,
			 st->notify_p95_ms);
	say(r,
	    "[step %u] offered %.0f/s achieved %.0f/s success %.2f%% TA "
	    "%.2f ms p95 %.2f ms%s |%s%s%s",
	    st->index + 1, st->offered, st->achieved, st->success_pct,
	    st->ta_avg_ms, st->p95_ms, notifies, cpus,
	    st->generator_bound ? " | generator bound" : "", verdict);
}

/* The seed's ramp (common/schedule.h): up by the step until a step
 * misses the criteria. */
static int run_ramp(struct run *r)
{
	const struct topo_experiment *e = &r->t->exp;
	struct sched_ramp_cfg cfg = {
		.start = e->rate_start,
		.step = e->rate_step,
		.final = e->rate_final,
		.success_pct = e->success_pct,
		.ta_mean_limit_ms = e->ta_limit_ms,
	};
	struct sched_ramp ramp;
	struct stepper sp;
	bool more = true;
	int err;

	err = sched_ramp_init(&ramp, &cfg);
	if (err)
		return fail(r, err, "the ramp %u,%u,%u cannot run",
			    e->rate_start, e->rate_step, e->rate_final);
	stepper_init(r, &sp);
	while (more) {
		struct sched_result res;
		struct res_step st;
		char why[96];

		err = run_step(r, &sp, ramp.rate, ramp.steps, e->step_s, &st);
		if (err)
			break;
		snprintf(st.phase, sizeof(st.phase), "ramp");
		res = (struct sched_result){
			.attempts = st.attempts,
			.successes = st.successes,
			.failures = st.failures,
			.ta_mean_ms = st.ta_avg_ms,
			.ta_p95_ms = st.p95_ms,
		};
		st.passed = sched_ramp_passes(&cfg, &res, why, sizeof(why));
		more = sched_ramp_feed(&ramp, &res);
		err = keep_step(r, &st);
		if (err)
			break;
		if (!st.passed) {
			char verdict[128];

			snprintf(verdict, sizeof(verdict),
				 " | criteria not met (%s): stop", why);
			say_step(r, &st, verdict);
		} else {
			say_step(r, &st, "");
		}
	}
	return err;
}

/* The loaders' transactions still open, or -1 when one did not say. */
static long loaders_in_flight(struct run *r)
{
	long n = 0;

	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *st, *v;

		if (r->t->nodes[i].role != TOPO_LOADER || !ro->proc)
			continue;
		st = command(r, ro, "stats", NULL, 3000);
		v = json_object_get(json_object_get(st, "loader"), "in_"
								   "flight");
		if (!json_is_integer(v)) {
			json_decref(st);
			return -1;
		}
		n += (long)json_integer_value(v);
		json_decref(st);
	}
	return n;
}

/* Requests the proxies have received so far, all of them together. */
static uint64_t proxies_requests(struct run *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct proxy_mark m;

		if ((r->t->nodes[i].role == TOPO_STATEFUL ||
		     r->t->nodes[i].role == TOPO_STATELESS) &&
		    proxy_read(r, &r->roles[i], &m))
			n += m.requests;
	}
	return n;
}

/*
 * After a trial, every attempt it made must have its outcome before the
 * verdict: slow down to 1/s and wait (at most the establishment
 * threshold and a second) until no transaction is open; what fails
 * meanwhile counts against the trial.  Then until the proxies are idle
 * (at most 30 s).
 */
static int settle(struct run *r, struct res_step *st)
{
	uint64_t deadline = now_ms() + r->t->exp.threshold_ms + 1000;
	struct res_step rest = {0};
	struct hist rtt, rrd;
	double secs;
	bool bound;
	int err;

	err = set_rate(r, 1, false);
	while (!err && now_ms() < deadline) {
		long open = loaders_in_flight(r);

		if (open == 0)
			break;
		err = sleep_until(r, now_ms() + 100);
	}
	/* The proxies too: what they still have queued (requests the
	 * loaders gave up on, retransmissions) is worked off first, or
	 * the next trial would start against an overloaded server. */
	deadline = now_ms() + 30000;
	for (uint64_t last = proxies_requests(r);
	     !err && now_ms() < deadline;) {
		uint64_t cur;

		err = sleep_until(r, now_ms() + 300);
		cur = proxies_requests(r);
		if (cur - last <= 2)
			break;
		last = cur;
	}
	if (!err)
		err = loaders_step(r, &rest, &rtt, &rrd, &secs, &bound, NULL);
	if (err)
		return err;
	st->failures += rest.failures;
	st->timeouts += rest.timeouts;
	return 0;
}

/*
 * "search": "bisect", not RFC 7502's procedure: the highest rate with
 * zero failures over the step duration, up from the start by the step
 * (a clean trial's rate is the lower bound) until a trial fails (the
 * upper bound), then halving the interval until it is within the
 * granularity.  Fewer and more predictable trials than the RFC's
 * procedure (run_rfc7502) for a deterministic server.
 */
static int run_bisect(struct run *r)
{
	const struct topo_experiment *e = &r->t->exp;
	double lo = 0, hi = 0, rate = e->rate_start;
	const unsigned max_trials = e->max_trials;
	struct stepper sp;
	unsigned index = 0;
	int err = 0;

	stepper_init(r, &sp);
	while (!err && index < max_trials) {
		bool up = hi == 0;
		struct res_step st;

		err = run_step(r, &sp, rate, index, e->step_s, &st);
		if (!err)
			err = settle(r, &st);
		if (err)
			break;
		snprintf(st.phase, sizeof(st.phase), up ? "up" : "bisect");
		/* RFC 7501: a failure is a final 3xx-6xx or no final
		 * response within the threshold; one fails the trial. */
		st.passed = st.failures == 0 && st.timeouts == 0 &&
			    st.attempts > 0;
		err = keep_step(r, &st);
		if (err)
			break;
		say_step(r, &st,
			 st.passed ? " | bisect: clean" : " | bisect: failed");
		index++;
		if (st.passed)
			lo = rate;
		else
			hi = rate;
		if (hi == 0) {
			if (rate >= e->rate_final)
				break; /* clean up to the final rate */
			rate = rate + e->rate_step > e->rate_final
				       ? e->rate_final
				       : rate + e->rate_step;
			continue;
		}
		if (hi - lo <= e->granularity)
			break;
		rate = floor((lo + hi) / 2);
		if (rate <= lo || rate >= hi)
			break;
	}
	if (!err) {
		r->res.rfc7502_rate = lo;
		snprintf(r->res.search_end, sizeof(r->res.search_end), "%s",
			 hi > 0 ? "found" : "clean at the final rate");
		say(r,
		    "[bisect] %.0f/s with zero failures over %u s (%u "
		    "trials; %s)",
		    lo, e->step_s, index,
		    hi > 0 ? "the next failing rate within the granularity"
			   : "no failure up to the final rate");
	}
	return err;
}

/* Times a failed trial runs again when the loaders were the limit. */
#define RUN_RERUNS 2

/*
 * The RFC 7502 search (Appendix A, common/schedule.h): trials of
 * step_duration_s after the warm-up, up by w * r while clean, down by
 * d * r with finer steps after a failure, until the same highest clean
 * rate has held for several trials and a failure lies within the
 * granularity above it; rate.final is the ceiling, max_trials the
 * bound, and with confirm_s the rate found runs once more for that long
 * (RFC 7501's "extended period").  A trial that failed while a loader
 * was generator bound says nothing of the proxies: it runs again (twice
 * at most) before it counts, kept in the bundle as phase "discard".
 */
static int run_rfc7502(struct run *r)
{
	const struct topo_experiment *e = &r->t->exp;
	struct sched_rfc7502_cfg cfg;
	struct sched_rfc7502 *s = calloc(1, sizeof(*s));
	unsigned index = 0, reruns = 0;
	struct stepper sp;
	bool more = true;
	int err;

	if (!s)
		return ENOMEM;
	sched_rfc7502_defaults(&cfg);
	cfg.start_rate = e->rate_start;
	cfg.max_rate = e->rate_final;
	cfg.granularity = e->granularity;
	cfg.granularity_pct = e->granularity_pct;
	cfg.max_trials = e->max_trials;
	cfg.confirm = e->confirm_s > 0;
	err = sched_rfc7502_init(s, &cfg);
	if (err) {
		free(s);
		return fail(r, err,
			    "the RFC 7502 search cannot run from "
			    "%u/s",
			    e->rate_start);
	}
	stepper_init(r, &sp);
	while (more) {
		bool confirming = s->confirming;
		struct res_step st;

		err = run_step(r, &sp, s->rate, index,
			       confirming ? e->confirm_s : e->step_s, &st);
		if (!err)
			err = settle(r, &st);
		if (err)
			break;
		index++;
		/* RFC 7501: a failure is a final 3xx-6xx or no final
		 * response within the threshold; one fails the trial. */
		st.passed = st.failures == 0 && st.timeouts == 0 &&
			    st.attempts > 0;
		if (!st.passed && st.generator_bound && reruns < RUN_RERUNS) {
			reruns++;
			snprintf(st.phase, sizeof(st.phase), "discard");
			err = keep_step(r, &st);
			if (err)
				break;
			say_step(r, &st,
				 " | rfc7502: failed while generator bound, "
				 "not counted: again");
			continue;
		}
		reruns = 0;
		snprintf(st.phase, sizeof(st.phase), "%s",
			 confirming ? "confirm" : "trial");
		more = sched_rfc7502_feed(s, st.attempts,
					  st.failures + st.timeouts);
		err = keep_step(r, &st);
		if (err)
			break;
		say_step(r, &st,
			 st.passed ? " | rfc7502: clean"
				   : " | rfc7502: failed");
	}
	if (!err) {
		snprintf(r->res.search_end, sizeof(r->res.search_end), "%s",
			 sched_rfc7502_end_name(s->end));
		if (s->end == SCHED_RFC7502_FOUND) {
			r->res.rfc7502_rate = s->best;
			say(r,
			    "[rfc7502] %.0f/s with zero failures (%u trials; "
			    "the lowest failing rate above it %.0f/s%s)",
			    s->best, s->ntrials, s->fail_above,
			    cfg.confirm ? "; confirmed over confirm_s" : "");
		} else {
			say(r,
			    "[rfc7502] no answer: %s after %u trials (highest "
			    "clean rate %.0f/s)",
			    sched_rfc7502_end_name(s->end), s->ntrials,
			    s->best);
		}
	}
	free(s);
	return err;
}

static void stop_role(struct run *r, struct role *ro);

/* The measured interval of `orchestrator baseline` when the experiment
 * has none. */
#define BASELINE_ONLY_S 5

/*
 * The test bed's own reach (RFC 7502 §6.1): a loader of the same kind
 * next to each loader, sending straight to the callhandlers at the
 * final rate, no proxy between.  A callhandler answers OPTIONS but is
 * no registrar: the REGISTER tests measure the bed with OPTIONS, a
 * transaction of the same shape; the invite test with INVITE.
 */
static int run_baseline(struct run *r)
{
	const struct topo_experiment *e = &r->t->exp;
	const char *test = strcmp(e->test, "invite") ? "options" : "invite";
	/* `orchestrator baseline` measures it even when the experiment
	 * leaves it out (baseline_s 0) */
	unsigned baseline_s = e->baseline_s || !r->o->baseline_only
				      ? e->baseline_s
				      : BASELINE_ONLY_S;
	size_t ch[TOPO_MAX_NEXT], nch = 0, nld = 0, started = 0;
	struct topo_node *nodes = NULL;
	struct role *roles = NULL;
	double secs = 0, rate = e->rate_final;
	uint64_t ok = 0, bad = 0;
	bool bound = false;
	int err = 0;

	if (!baseline_s)
		return 0;
	for (size_t i = 0; i < r->t->nnodes; i++) {
		if (r->t->nodes[i].role == TOPO_CALLHANDLER &&
		    nch < TOPO_MAX_NEXT)
			ch[nch++] = i;
		nld += r->t->nodes[i].role == TOPO_LOADER;
	}
	if (!nch || !nld) {
		if (r->o->baseline_only)
			return fail(r, EINVAL,
				    "the baseline needs a loader and a "
				    "callhandler in the topology");
		say(r, "[baseline] no callhandler to send to: not measured");
		return 0;
	}
	nodes = calloc(nld, sizeof(*nodes));
	roles = calloc(nld, sizeof(*roles));
	if (!nodes || !roles) {
		err = fail(r, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0, k = 0; i < r->t->nnodes && !err; i++) {
		if (r->t->nodes[i].role != TOPO_LOADER)
			continue;
		nodes[k] = r->t->nodes[i];
		snprintf(nodes[k].name, sizeof(nodes[k].name),
			 "%.50s-baseline", r->t->nodes[i].name);
		nodes[k].server = ch[k % nch];
		roles[k].to_fd = roles[k].from_fd = -1;
		err = start_as(r, &roles[k], &nodes[k], test);
		started = ++k;
	}
	for (size_t k = 0; k < started && !err; k++) {
		json_t *args = json_pack("{s:f}", "rate", rate / (double)nld);
		json_t *reply = command(r, &roles[k], "start", args, 5000);

		if (!reply || !json_is_true(json_object_get(reply, "ok")))
			err = fail(r, EPROTO, "%s refused its rate",
				   nodes[k].name);
		json_decref(args);
		json_decref(reply);
	}
	/* Warm-up, then the measured interval: two "step"s. */
	for (int pass = 0; pass < 2 && !err; pass++) {
		err = sleep_until(r, now_ms() + (pass ? baseline_s
						      : e->warmup_s) *
							1000ull);
		for (size_t k = 0; k < started && !err; k++) {
			json_t *st = command(r, &roles[k], "step", NULL, 5000);

			if (!st || !json_is_true(json_object_get(st, "ok"))) {
				json_decref(st);
				err = fail(r, EPROTO,
					   "%s did not end its step",
					   nodes[k].name);
				break;
			}
			if (pass) {
				ok += (uint64_t)num_of(st, "successes");
				bad += (uint64_t)num_of(st, "failures");
				if (num_of(st, "secs") > secs)
					secs = num_of(st, "secs");
				bound |= json_is_true(
					json_object_get(st, "generator_"
							    "bound"));
			}
			json_decref(st);
		}
	}
	if (!err) {
		r->res.baseline = secs > 0 ? (double)ok / secs : 0;
		say(r,
		    "[baseline] loaders straight to the callhandlers (%s): "
		    "offered %.0f/s achieved %.0f/s, %llu failures%s",
		    test, rate, r->res.baseline, (unsigned long long)bad,
		    bound ? " | generator bound" : "");
	}
out:
	for (size_t k = 0; k < started; k++)
		stop_role(r, &roles[k]);
	for (size_t k = 0; roles && k < nld; k++)
		json_decref(roles[k].summary);
	free(roles);
	free(nodes);
	return err;
}

static int run_steps(struct run *r)
{
	if (!strcmp(r->t->exp.search, "rfc7502"))
		return run_rfc7502(r);
	if (!strcmp(r->t->exp.search, "bisect"))
		return run_bisect(r);
	return run_ramp(r);
}

static void stop_role(struct run *r, struct role *ro)
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
	sum = wait_event(r, ro, "summary",
			 ro->node->role == TOPO_LOADER ? RUN_DRAIN_MS + 5000
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
	for (int i = 0; i < 250 && !host_proc_done(ro->proc, &status); i++)
		usleep(20000);
	if (!host_proc_done(ro->proc, &status)) {
		host_proc_signal(ro->host, ro->proc, SIGTERM);
		for (int i = 0; i < 150 && !host_proc_done(ro->proc, &status);
		     i++)
			usleep(20000);
	}
	if (!host_proc_done(ro->proc, &status)) {
		host_proc_signal(ro->host, ro->proc, SIGKILL);
		for (int i = 0; i < 150 && !host_proc_done(ro->proc, &status);
		     i++)
			usleep(20000);
	}
	say(r, "[stop] %s ended (status %d)", ro->node->name, status);
	if (ro->from_fd >= 0)
		close(ro->from_fd);
	ro->from_fd = -1;
	host_proc_free(ro->proc);
	ro->proc = NULL;
}

static void teardown(struct run *r)
{
	char why[600], cmd[400];
	struct ssh_result res;

	/* Reverse order: load first, the proxies last. */
	for (size_t i = r->t->nnodes; i-- > 0;)
		if (r->roles[i].node && r->roles[i].node->role == TOPO_LOADER)
			stop_role(r, &r->roles[i]);
	for (size_t i = r->t->nnodes; i-- > 0;)
		if (r->roles[i].node)
			stop_role(r, &r->roles[i]);
	if (r->db) {
		if (!r->o->keep_db) {
			if (rundb_drop(r->db, why, sizeof(why)))
				fail(r, EIO, "%s", why);
			else
				say(r, "[db] dropped %s", rundb_name(r->db));
		} else {
			say(r, "[db] kept %s (--keep-db)", rundb_name(r->db));
		}
		rundb_free(r->db);
		r->db = NULL;
	}
	if (r->dbsrv) {
		rundb_server_stop(r->dbsrv);
		r->dbsrv = NULL;
		say(r, "[db] managed server stopped");
	}
	for (size_t i = 0; i < r->inv->nhosts; i++) {
		struct host *h = r->hosts[i];

		if (!h)
			continue;
		if (!host_is_local(h) && !r->o->keep_remote) {
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->remote);
			if (host_run(h, cmd, 30000, &res, why, sizeof(why)) ==
			    0)
				ssh_result_free(&res);
		}
		host_close(h);
		r->hosts[i] = NULL;
	}
	pki_free(r->pki);
	r->pki = NULL;
}

static int mkdirs(const char *path)
{
	char tmp[700];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return errno;
		*p = '/';
	}
	return mkdir(tmp, 0755) < 0 && errno != EEXIST ? errno : 0;
}

static void write_bundle(struct run *r)
{
	struct res_run *res = &r->res;
	json_t *setup;
	int err;

	snprintf(res->id, sizeof(res->id), "%s", r->id);
	snprintf(res->topology, sizeof(res->topology), "%s", r->t->name);
	snprintf(res->test, sizeof(res->test), "%s", r->t->exp.test);
	snprintf(res->transport, sizeof(res->transport), "%s",
		 sip_transport_name(r->t->exp.transport));
	for (char *c = res->transport; *c; c++)
		*c = (char)(*c | 0x20);
	snprintf(res->status, sizeof(res->status), "%s", r->status);
	snprintf(res->reason, sizeof(res->reason), "%.255s", r->reason);
	res->success_threshold_pct = r->t->exp.success_pct;
	snprintf(res->search, sizeof(res->search), "%s", r->t->exp.search);
	res->threshold_ms = r->t->exp.threshold_ms;
	res->granularity = r->t->exp.granularity;
	res->granularity_pct = r->t->exp.granularity_pct;
	res->ta_limit_ms = r->t->exp.ta_limit_ms;
	/* The inventory file never holds secrets (validation refuses one). */
	setup = json_pack("{s:O,s:O,s:o,s:s}", "topology", r->t->json,
			  "inventory", r->inv->json, "hosts",
			  preflight_json(r->pf, r->npf), "connection",
			  r->t->exp.transport == SIP_TP_UDP
				  ? "none (udp)"
				  : run_connection(&r->t->exp));
	res->setup = setup;
	err = res_write(res, r->bundle);
	if (!err)
		err = res_pack(r->bundle);
	if (err)
		fprintf(stderr, "orchestrator: writing %s: %s\n", r->bundle,
			strerror(err));
	res->setup = NULL;
	json_decref(setup);
}

int run_experiment(const struct topo *t, const struct inventory *inv,
		   const struct run_opts *o, char *bundle, size_t size)
{
	struct run *r = calloc(1, sizeof(*r));
	char stamp[32], logs[800];
	struct tm tm;
	time_t now;
	int err;

	if (!r)
		return ENOMEM;
	r->t = t;
	r->inv = inv;
	r->o = o;
	snprintf(r->status, sizeof(r->status), "complete");
	r->res.rfc7502_rate = -1;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(r->id, sizeof(r->id), "%s-%s-%s-%s", t->name, t->exp.test,
		 sip_transport_name(t->exp.transport), stamp);
	for (char *c = r->id; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c | 0x20);
	strftime(r->res.started, sizeof(r->res.started), "%Y-%m-%dT%H:%M:%S",
		 &tm);
	snprintf(r->bundle, sizeof(r->bundle), "%s/%s", o->results_dir, r->id);
	/* Runs of one list can start within a second (a quick failure):
	 * each keeps its own bundle. */
	{
		size_t base = strlen(r->id);

		for (int k = 2; k < 100 && access(r->bundle, F_OK) == 0; k++) {
			snprintf(r->id + base, sizeof(r->id) - base, "-%d", k);
			snprintf(r->bundle, sizeof(r->bundle), "%s/%s",
				 o->results_dir, r->id);
		}
	}
	snprintf(r->remote, sizeof(r->remote), "/tmp/sipstone-%s", r->id);
	snprintf(r->work, sizeof(r->work), "/tmp/sipstone-work-%s-%d", r->id,
		 (int)getpid());
	snprintf(logs, sizeof(logs), "%s/logs", r->bundle);
	r->hosts = calloc(inv->nhosts + 1, sizeof(*r->hosts));
	r->roles = calloc(t->nnodes + 1, sizeof(*r->roles));
	if (!r->hosts || !r->roles) {
		err = ENOMEM;
		goto out;
	}
	snprintf(bundle, size, "%s", r->bundle);
	err = mkdirs(logs);
	if (!err)
		err = mkdirs(r->work);
	if (!err)
		chmod(r->work, 0700);
	if (err) {
		fprintf(stderr, "orchestrator: cannot create %s: %s\n", logs,
			strerror(err));
		goto out;
	}
	say(r, "[run] %s", r->id);
	err = do_preflight(r);
	if (!err && !interrupted(r))
		err = open_hosts(r);
	if (!err && !interrupted(r))
		err = deploy(r);
	if (!err && !interrupted(r))
		err = make_database(r);
	if (!err && !interrupted(r))
		err = start_roles(r);
	if (!err && !interrupted(r) && !o->deploy_only)
		err = run_baseline(r);
	if (!err && !interrupted(r) && !o->deploy_only && !o->baseline_only)
		err = run_steps(r);
	if (!err && o->baseline_only && !interrupted(r)) {
		snprintf(r->reason, sizeof(r->reason),
			 "baseline only: %.0f/s from the loaders straight to "
			 "the callhandlers; no load steps were run",
			 r->res.baseline);
		say(r, "[run] %s", r->reason);
	}
	if (!err && !o->deploy_only && !o->baseline_only && !interrupted(r))
		say(r,
		    "[run] capacity %.0f/s (the most a step that met the "
		    "criteria delivered)",
		    res_capacity(&r->res));
	if (!err && o->deploy_only && !interrupted(r)) {
		snprintf(r->reason, sizeof(r->reason),
			 "deploy-only: every role started and became ready; "
			 "no load steps were run");
		say(r, "[run] %s", r->reason);
	}
	teardown(r);
	if (interrupted(r))
		err = EINTR;
	write_bundle(r);
	say(r, "[run] %s: %s%s%s", r->status, r->bundle,
	    r->reason[0] ? ": " : "", r->reason);
out:
	if (r->work[0]) {
		char cmd[800];

		/* The private work dir holds keys and configs: never kept. */
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->work);
		if (system(cmd) != 0)
			log_warn("could not remove %s", r->work);
	}
	free(r->pf);
	free(r->hosts);
	for (size_t i = 0; r->roles && i < t->nnodes; i++)
		json_decref(r->roles[i].summary);
	free(r->roles);
	res_run_clear(&r->res);
	free(r);
	return err;
}
