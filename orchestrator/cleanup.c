#include "cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "commands.h"
#include "host.h"
#include "inventory.h"
#include "rundb.h"
#include "topo.h"
#include "shquote.h"
#include "workdir.h"

#define MAX_ITEMS 512

struct item {
	bool proc;
	long pid;
	char path[600]; /* the directory, or the process's argument */
};

struct found {
	struct item v[MAX_ITEMS];
	size_t n;
};

static const char work_prefix[] = "sipstone-work-";

/* Whether the local work directory dir (named sipstone-work-*) belongs
 * to a run in progress: its lock is held. */
static bool alive(const char *dir)
{
	char path[800];
	int fd;
	bool held;

	snprintf(path, sizeof(path), "%s/" WORKDIR_LOCK, dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

/* The run id of a directory's base name, "sipstone-work-<id>-XXXXXX"
 * or "sipstone-<id>-<16 hex>", into out. */
static void id_of(const char *base, char *out, size_t size)
{
	bool work = !strncmp(base, work_prefix, strlen(work_prefix));
	const char *start =
		base + (work ? strlen(work_prefix) : strlen("sipstone-"));
	const char *dash = strrchr(start, '-');

	snprintf(out, size, "%.*s", dash ? (int)(dash - start) : 0, start);
}

/* Appends the database names of the live run in dir to keep. */
static void keep_databases(const char *dir, char *keep, size_t size)
{
	char path[800];
	size_t n = strlen(keep);
	FILE *f;

	snprintf(path, sizeof(path), "%s/" WORKDIR_DB_FILE, dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (n + 1 < size && fgets(keep + n, (int)(size - n), f))
		n += strlen(keep + n);
	fclose(f);
}

/* Ids of the runs alive on this machine, one per line in out; their
 * databases and accounts into keep. */
static void live_ids(char *out, size_t size, char *keep, size_t keepsz)
{
	DIR *d = opendir(workdir_base());
	struct dirent *e;
	size_t n = 0;

	out[0] = '\0';
	while (d && (e = readdir(d))) {
		char dir[700], id[300];

		if (strncmp(e->d_name, work_prefix, strlen(work_prefix)))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", workdir_base(), e->d_name);
		if (!alive(dir))
			continue;
		id_of(e->d_name, id, sizeof(id));
		keep_databases(dir, keep, keepsz);
		n += (size_t)snprintf(out + n, size - n, "%s\n", id);
		if (n >= size)
			break;
	}
	if (d)
		closedir(d);
}

static bool is_live(const char *path, const char *live)
{
	const char *base = strrchr(path, '/');
	char id[300], line[304];

	id_of(base ? base + 1 : path, id, sizeof(id));
	snprintf(line, sizeof(line), "%s\n", id);
	return id[0] && strstr(live, line) &&
	       (strstr(live, line) == live || strstr(live, line)[-1] == '\n');
}

size_t cleanup_count_local(void)
{
	DIR *d = opendir(workdir_base());
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d))) {
		char dir[700];

		if (strncmp(e->d_name, work_prefix, strlen(work_prefix)))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", workdir_base(), e->d_name);
		if (!alive(dir))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* The scan run on each host: the run directories, then every process
 * with an argument in the base directory (argv read from /proc). */
static int scan(struct host *h, const char *live, struct found *f)
{
	static const char hex[] = "[0-9a-f][0-9a-f][0-9a-f][0-9a-f]"
				  "[0-9a-f][0-9a-f][0-9a-f][0-9a-f]"
				  "[0-9a-f][0-9a-f][0-9a-f][0-9a-f]"
				  "[0-9a-f][0-9a-f][0-9a-f][0-9a-f]";
	char q[300], cmd[2400], why[SSH_WHY_MAX];
	struct ssh_result res = {0};
	char *line, *save = NULL;
	int err;

	if (shquote(q, sizeof(q), workdir_base()))
		return ENAMETOOLONG;
	snprintf(cmd, sizeof(cmd),
		 "T=%s; for d in \"$T\"/sipstone-work-*-?????? "
		 "\"$T\"/sipstone-*-%s; do "
		 "[ -d \"$d\" ] && [ ! -L \"$d\" ] && echo \"dir $d\"; done; "
		 "for p in /proc/[0-9]*; do pid=${p#/proc/}; "
		 "[ \"$pid\" = $$ ] && continue; "
		 "tr '\\0' '\\n' <\"$p/cmdline\" 2>/dev/null | "
		 "while IFS= read -r a; do case \"$a\" in "
		 "\"$T\"/sipstone-*|--datadir=\"$T\"/sipstone-*) "
		 "echo \"pid $pid $a\"; break;; esac; done; done; true",
		 q, hex);
	err = host_run(h, cmd, 60000, &res, why, sizeof(why));
	if (err) {
		fprintf(stderr, "orchestrator: %s: %s\n", host_name(h), why);
		return err;
	}
	for (line = strtok_r(res.out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct item *it = &f->v[f->n];

		if (f->n >= MAX_ITEMS)
			break;
		memset(it, 0, sizeof(*it));
		if (!strncmp(line, "dir ", 4)) {
			snprintf(it->path, sizeof(it->path), "%s", line + 4);
			if (is_live(it->path, live) ||
			    (!strncmp(strrchr(it->path, '/') + 1, work_prefix,
				      strlen(work_prefix)) &&
			     host_is_local(h) && alive(it->path)))
				continue;
			f->n++;
		} else if (!strncmp(line, "pid ", 4)) {
			char *end;

			it->proc = true;
			it->pid = strtol(line + 4, &end, 10);
			if (it->pid <= 1 || *end != ' ')
				continue;
			snprintf(it->path, sizeof(it->path), "%s", end + 1);
			f->n++;
		}
	}
	ssh_result_free(&res);
	return 0;
}

/* Keeps the processes that belong to a listed (not live) directory. */
static void keep_leftover_procs(struct found *f)
{
	size_t k = 0;

	for (size_t i = 0; i < f->n; i++) {
		const char *arg = f->v[i].path;
		bool keep = !f->v[i].proc;

		if (!strncmp(arg, "--datadir=", 10))
			arg += 10;
		for (size_t j = 0; !keep && j < f->n; j++) {
			size_t len = strlen(f->v[j].path);

			keep = !f->v[j].proc &&
			       !strncmp(arg, f->v[j].path, len) &&
			       (arg[len] == '/' || !arg[len]);
		}
		if (keep)
			f->v[k++] = f->v[i];
	}
	f->n = k;
}

/* Ends the processes (TERM, up to 5 s, KILL) and removes the dirs. */
static int remove_all(struct host *h, const struct found *f)
{
	char *cmd = calloc(1, 64 * 1024), why[SSH_WHY_MAX], pids[8192] = "";
	struct ssh_result res = {0};
	size_t n = 0, np = 0;
	int err;

	if (!cmd)
		return ENOMEM;
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].proc && np + 24 < sizeof(pids))
			np += (size_t)snprintf(pids + np, sizeof(pids) - np,
					       " %ld", f->v[i].pid);
	/* pids holds only the numbers formatted above. */
	n += (size_t)snprintf(cmd + n, 64 * 1024 - n,
			      "P='%s'; [ -n \"$P\" ] && kill -TERM $P "
			      "2>/dev/null; for p in $P; do i=0; while "
			      "kill -0 $p 2>/dev/null && [ $i -lt 50 ]; do "
			      "sleep 0.1; i=$((i+1)); done; kill -KILL $p "
			      "2>/dev/null; done; rm -rf --",
			      pids);
	for (size_t i = 0; i < f->n; i++) {
		char q[700];

		if (f->v[i].proc || shquote(q, sizeof(q), f->v[i].path) ||
		    n + strlen(q) + 2 >= 64 * 1024)
			continue;
		n += (size_t)snprintf(cmd + n, 64 * 1024 - n, " %s", q);
	}
	err = host_run(h, cmd, 120000, &res, why, sizeof(why));
	if (!err && res.status)
		err = EIO;
	if (err)
		fprintf(stderr, "orchestrator: %s: removing leftovers: %s\n",
			host_name(h), res.err && res.err[0] ? res.err : why);
	ssh_result_free(&res);
	free(cmd);
	return err;
}

static int clean_host(struct host *h, const char *live, bool dry_run)
{
	struct found *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return ENOMEM;
	err = scan(h, live, f);
	if (!err)
		keep_leftover_procs(f);
	for (size_t i = 0; !err && i < f->n; i++)
		if (f->v[i].proc)
			printf("%s: process %ld (%s)\n", host_name(h),
			       f->v[i].pid, f->v[i].path);
		else
			printf("%s: directory %s\n", host_name(h),
			       f->v[i].path);
	if (!err && !f->n)
		printf("%s: no leftovers\n", host_name(h));
	fflush(stdout);
	if (!err && f->n && !dry_run) {
		err = remove_all(h, f);
		if (!err)
			printf("%s: removed %zu leftover%s\n", host_name(h),
			       f->n, f->n == 1 ? "" : "s");
	}
	free(f);
	return err;
}

/* The per-run databases and accounts on the database of topology path
 * when the inventory's admin manages it (a managed one lives in a run
 * directory and goes with it). */
static int clean_database(const struct inventory *inv, const char *path,
			  const char *keep, bool dry_run)
{
	struct topo_errors errs = {0};
	const struct inventory_host *ih;
	char why[600], pw[256], label[400];
	struct topo *t = NULL;
	size_t found = 0;
	int err;

	err = topo_load(&t, path, inv, &errs);
	if (err) {
		topo_errors_sort(&errs);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		topo_errors_free(&errs);
		return err;
	}
	ih = inventory_host(inv, t->db_host);
	if (t->db_managed || !ih) {
		topo_free(t);
		return 0;
	}
	snprintf(label, sizeof(label), "database %s:%u", ih->address,
		 t->db_port);
	err = rundb_leftovers(ih->address, t->db_port, inv->db_admin_user,
			      inventory_db_password(inv, pw, sizeof(pw)), keep,
			      dry_run, label, stdout, &found, why,
			      sizeof(why));
	if (err)
		fprintf(stderr, "orchestrator: %s: %s\n", label, why);
	else if (!found)
		printf("%s: no leftovers\n", label);
	else if (!dry_run)
		printf("%s: dropped %zu leftover%s\n", label, found,
		       found == 1 ? "" : "s");
	topo_free(t);
	return err;
}

int cleanup_command(int argc, char **argv)
{
	struct topo_errors errs = {0};
	struct inventory *inv = NULL;
	struct inventory_host here = {0};
	const char *hosts = NULL;
	bool dry_run = false;
	char why[SSH_WHY_MAX], live[8192], keep[8192] = "";
	const char **topos = calloc((size_t)argc, sizeof(*topos));
	size_t ntopos = 0;
	struct host *h = NULL;
	int status = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--hosts") && i + 1 < argc)
			hosts = argv[++i];
		else if (!strcmp(argv[i], "--dry-run"))
			dry_run = true;
		else if (argv[i][0] != '-' && topos)
			topos[ntopos++] = argv[i];
		else {
			hosts = NULL;
			break;
		}
	}
	if (!hosts) {
		commands_usage(stderr);
		free(topos);
		return COMMANDS_BAD_USAGE;
	}
	if (inventory_load(&inv, hosts, &errs)) {
		topo_errors_sort(&errs);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		topo_errors_free(&errs);
		free(topos);
		return COMMANDS_BAD_USAGE;
	}
	live_ids(live, sizeof(live), keep, sizeof(keep));
	for (size_t i = 0; i < ntopos; i++)
		if (clean_database(inv, topos[i], keep, dry_run))
			status = 1;
	for (size_t i = 0; i < inv->nhosts; i++) {
		if (inv->hosts[i].local)
			continue;
		h = NULL;
		if (host_open(&h, &inv->hosts[i], false, why, sizeof(why))) {
			fprintf(stderr, "orchestrator: %s\n", why);
			status = 1;
			continue;
		}
		if (clean_host(h, live, dry_run))
			status = 1;
		host_close(h);
	}
	/* This machine last, once (every local host of the inventory is it). */
	snprintf(here.name, sizeof(here.name), "local");
	snprintf(here.address, sizeof(here.address), "127.0.0.1");
	here.local = true;
	h = NULL;
	if (host_open(&h, &here, false, why, sizeof(why)) ||
	    clean_host(h, live, dry_run))
		status = 1;
	host_close(h);
	inventory_free(inv);
	free(topos);
	return status;
}
