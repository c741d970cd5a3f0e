#include "init.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "inventory.h"

/* Where each role of a starter topology goes, by how many hosts. */
struct placement {
	size_t stateless; /* host index, or SIZE_MAX: none */
	size_t stateful_first, stateful_n;
	size_t db, callhandler, loader;
};

/*
 * One host: everything on it.  Two: the proxy and its database on one,
 * the load (loader, callhandler) on the other, so that the load never
 * takes the proxy's CPU.  Three: the callhandler gets its own host.
 * Four: so does the database.  Five and more: a stateless proxy in
 * front (hash on the user) and every further host one more stateful
 * proxy, which is where a cluster's capacity grows.
 */
static void place(size_t n, struct placement *p)
{
	p->stateless = SIZE_MAX;
	p->stateful_first = 0;
	p->stateful_n = 1;
	switch (n) {
	case 1:
		p->db = p->callhandler = p->loader = 0;
		return;
	case 2:
		p->db = 0;
		p->callhandler = p->loader = 1;
		return;
	case 3:
		p->db = 0;
		p->callhandler = 1;
		p->loader = 2;
		return;
	case 4:
		p->db = 1;
		p->callhandler = 2;
		p->loader = 3;
		return;
	default:
		p->stateless = 0;
		p->stateful_first = 1;
		p->stateful_n = n - 4;
		p->db = n - 3;
		p->callhandler = n - 2;
		p->loader = n - 1;
	}
}

/* A host name or address: letters, digits, '-', '.', ':' (IPv6). */
static bool address_ok(const char *a)
{
	size_t len = strlen(a);

	if (!len || len >= 64 || a[0] == '-' || a[0] == '.')
		return false;
	for (const char *c = a; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' ||
		      *c == ':'))
			return false;
	return true;
}

/* The inventory name of host i: its first DNS label in lower case
 * ("a" for a.example.net), "hostN" for an address or a label another
 * host has already. */
static void host_name(const char *const *addresses, size_t i, char *out,
		      size_t size)
{
	const char *a = addresses[i];
	size_t len = strcspn(a, ".:");
	bool numeric = a[0] >= '0' && a[0] <= '9';

	if (strchr(a, ':') || numeric || len == 0 || len >= size ||
	    len >= 32) {
		snprintf(out, size, "host%zu", i + 1);
		return;
	}
	for (size_t k = 0; k < len; k++) {
		char c = a[k];

		out[k] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
	}
	out[len] = '\0';
	for (size_t k = 0; k < i; k++) {
		char other[64];

		host_name(addresses, k, other, sizeof(other));
		if (!strcmp(other, out)) {
			snprintf(out, size, "host%zu", i + 1);
			return;
		}
	}
}

/* The SSH settings from the user's environment. */
static json_t *ssh_json(void)
{
	const char *user = getenv("USER"), *home = getenv("HOME");
	static const char *const keys[] = {"id_ed25519", "id_rsa", NULL};
	json_t *ssh =
		json_pack("{s:s}", "user", user && user[0] ? user : "root");

	for (size_t k = 0; ssh && home && home[0] && keys[k]; k++) {
		char path[600];

		snprintf(path, sizeof(path), "%s/.ssh/%s", home, keys[k]);
		if (access(path, R_OK) == 0) {
			json_object_set_new(ssh, "key", json_string(path));
			return ssh;
		}
	}
	if (ssh)
		json_object_set_new(ssh, "agent", json_true());
	return ssh;
}

static json_t *listen_json(unsigned port)
{
	char udp[16], tcp[16];

	snprintf(udp, sizeof(udp), "udp:%u", port);
	snprintf(tcp, sizeof(tcp), "tcp:%u", port);
	return json_pack("[s,s]", udp, tcp);
}

static json_t *roles_json(const char (*names)[64], const struct placement *p,
			  json_t *topo)
{
	json_t *sf = json_array(), *sl = json_array(), *next = json_array();
	const char *front = p->stateless == SIZE_MAX ? "sf1" : "sl1";

	for (size_t k = 0; k < p->stateful_n; k++) {
		char name[32];

		snprintf(name, sizeof(name), "sf%zu", k + 1);
		json_array_append_new(
			sf, json_pack("{s:s,s:s,s:o,s:i,s:s}", "name", name,
				      "host", names[p->stateful_first + k],
				      "listen",
				      listen_json(5070 + 2 * (unsigned)k),
				      "workers", 1, "db_mode", "memory"));
		json_array_append_new(next, json_string(name));
	}
	json_object_set_new(topo, "stateful", sf);
	if (p->stateless != SIZE_MAX) {
		json_array_append_new(
			sl, json_pack("{s:s,s:s,s:o,s:i,s:O,s:s}", "name",
				      "sl1", "host", names[p->stateless],
				      "listen", listen_json(5060), "workers",
				      1, "next", next, "hash", "user"));
		json_object_set_new(topo, "stateless", sl);
	} else {
		json_decref(sl);
	}
	json_decref(next);
	json_object_set_new(topo, "callhandlers",
			    json_pack("[{s:s,s:s,s:o,s:i,s:s}]", "name", "ch1",
				      "host", names[p->callhandler], "listen",
				      listen_json(5080), "threads", 1,
				      "register_via", front));
	json_object_set_new(topo, "loaders",
			    json_pack("[{s:s,s:s,s:s,s:i}]", "name", "ld1",
				      "host", names[p->loader], "server",
				      front, "threads", 1));
	return topo;
}

static int check_addresses(const char *const *addresses, size_t n, char *why,
			   size_t whysz)
{
	if (n == 0 || n > INIT_MAX_HOSTS) {
		snprintf(why, whysz, "--hosts: give 1 to %d hosts, not %zu",
			 INIT_MAX_HOSTS, n);
		return EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!address_ok(addresses[i])) {
			snprintf(why, whysz,
				 "--hosts: \"%s\" is not a host name or an "
				 "address",
				 addresses[i]);
			return EINVAL;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(addresses[i], addresses[k])) {
				snprintf(why, whysz,
					 "--hosts: \"%s\" is given twice",
					 addresses[i]);
				return EINVAL;
			}
	}
	return 0;
}

int init_make(const char *name, const char *const *addresses, size_t n,
	      json_t **topo, json_t **inv, char *why, size_t whysz)
{
	char(*names)[64] = NULL;
	struct placement p;
	json_t *t = NULL, *hosts = NULL, *i = NULL;
	int err = check_addresses(addresses, n, why, whysz);

	if (err)
		return err;
	names = calloc(n, sizeof(*names));
	hosts = json_object();
	if (!names || !hosts) {
		err = ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		host_name(addresses, k, names[k], sizeof(names[k]));
		json_object_set_new(hosts, names[k],
				    json_pack("{s:s,s:o}", "address",
					      addresses[k], "ssh",
					      ssh_json()));
	}
	place(n, &p);
	t = json_pack("{s:s,s:s,s:{s:s,s:b,s:i}}", "name", name, "description",
		      "a starter topology for my hosts (orchestrator init)",
		      "database", "host", names[p.db], "managed", 1, "port",
		      33060);
	i = json_pack("{s:O,s:{s:s}}", "hosts", hosts, "database",
		      "admin_user", "root");
	if (!t || !i) {
		err = ENOMEM;
		goto out;
	}
	roles_json((const char(*)[64])names, &p, t);
	json_object_set_new(t, "experiment",
			    json_pack("{s:s,s:s,s:{s:i},s:{s:i,s:i,s:i},s:i,s:"
				      "i}",
				      "test", "register", "transport", "udp",
				      "users", "count", 1000, "rate", "start",
				      100, "step", 100, "final", 2000,
				      "step_duration_s", 10, "warmup_s", 2));
	*topo = t;
	*inv = i;
	t = i = NULL;
out:
	json_decref(t);
	json_decref(i);
	json_decref(hosts);
	free(names);
	return err;
}

/* Writes j to path, refusing to replace a file unless force. */
static int write_json(json_t *j, const char *path, bool force)
{
	if (!force && access(path, F_OK) == 0) {
		fprintf(stderr,
			"orchestrator: %s exists: give --force to replace it, "
			"or another --name\n",
			path);
		return EEXIST;
	}
	if (json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) {
		fprintf(stderr, "orchestrator: cannot write %s: %s\n", path,
			strerror(errno));
		return EIO;
	}
	return 0;
}

static bool name_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= 48)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '_'))
			return false;
	return true;
}

/* Splits list on commas into addresses (at most INIT_MAX_HOSTS + 1). */
static size_t split_hosts(char *list, const char **addresses)
{
	size_t n = 0;

	for (char *p = list; n <= INIT_MAX_HOSTS;) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = '\0';
		addresses[n++] = p;
		if (!comma)
			break;
		p = comma + 1;
	}
	return n;
}

int init_command(int argc, char **argv)
{
	static const struct option opts[] = {
		{"hosts", required_argument, NULL, 'H'},
		{"name", required_argument, NULL, 'n'},
		{"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0}};
	const char *addresses[INIT_MAX_HOSTS + 1];
	const char *name = "mybed";
	char *list = NULL, why[300], tpath[128], ipath[160];
	json_t *topo = NULL, *inv = NULL;
	bool force = false;
	int opt, status = COMMANDS_BAD_USAGE;
	size_t n;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'H') {
			free(list);
			list = strdup(optarg);
		} else if (opt == 'n') {
			name = optarg;
		} else if (opt == 'f') {
			force = true;
		} else {
			commands_usage(stderr);
			goto out;
		}
	}
	if (!list || optind != argc) {
		commands_usage(stderr);
		goto out;
	}
	if (!name_ok(name)) {
		fprintf(stderr,
			"orchestrator: --name \"%s\": lower-case letters, "
			"digits, '-' and '_', under 48\n",
			name);
		goto out;
	}
	n = split_hosts(list, addresses);
	if (init_make(name, addresses, n, &topo, &inv, why, sizeof(why))) {
		fprintf(stderr, "orchestrator: %s\n", why);
		goto out;
	}
	snprintf(tpath, sizeof(tpath), "%s.json", name);
	snprintf(ipath, sizeof(ipath), "hosts/%s.json", name);
	status = 1;
	if (mkdir("hosts", 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "orchestrator: cannot create hosts/: %s\n",
			strerror(errno));
		goto out;
	}
	if (write_json(topo, tpath, force) || write_json(inv, ipath, force))
		goto out;
	printf("wrote %s (the topology) and %s (your hosts)\n"
	       "check them:  orchestrator validate %s --hosts %s\n"
	       "run them:    orchestrator run %s --hosts %s\n",
	       tpath, ipath, name, name, name, name);
	status = 0;
out:
	free(list);
	json_decref(topo);
	json_decref(inv);
	return status;
}
