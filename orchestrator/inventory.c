#include "inventory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"
#include "shquote.h"

/* "$schema" names the JSON Schema for editors (topologies/schema/). */
static const char *const inv_fields[] = {"$schema", "hosts", "database", NULL};
static const char *const host_fields[] = {"address", "local", "ssh", NULL};
static const char *const ssh_fields[] = {"user",  "port",	 "key",
					 "agent", "known_hosts", NULL};
static const char *const invdb_fields[] = {"admin_user", "password_env",
					   "password_file", NULL};

static void parse_host(struct topo_reader *c, const char *name, json_t *obj,
		       struct inventory_host *h)
{
	char p[160], q[200], what[96];
	json_t *ssh;

	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(p, sizeof(p), "/hosts/%s", name);
	snprintf(what, sizeof(what), "host \"%s\"", name);
	if (!topo_reader_object(c, obj, p, what, host_fields))
		return;
	if (topo_reader_string(c, obj, p, "address", true, NULL, h->address,
			       sizeof(h->address)) &&
	    !shquote_safe_address(h->address)) {
		snprintf(q, sizeof(q), "%s/address", p);
		topo_reader_error(c, q, false,
				  "address \"%.64s\" is not a host name or an "
				  "IP address",
				  h->address);
	}
	topo_reader_bool(c, obj, p, "local", false, &h->local);
	ssh = json_object_get(obj, "ssh");
	h->ssh_port = 22;
	if (!ssh) {
		if (!h->local)
			topo_reader_error(c, p, false,
					  "host \"%s\" is not local and has "
					  "no \"ssh\" "
					  "settings",
					  name);
		return;
	}
	snprintf(q, sizeof(q), "%s/ssh", p);
	if (!topo_reader_object(c, ssh, q, "ssh", ssh_fields))
		return;
	{
		unsigned port;

		topo_reader_string(c, ssh, q, "user", false, "root",
				   h->ssh_user, sizeof(h->ssh_user));
		if (topo_reader_uint(c, ssh, q, "port", 1, 65535, 22, &port))
			h->ssh_port = (uint16_t)port;
		topo_reader_string(c, ssh, q, "key", false, "", h->ssh_key,
				   sizeof(h->ssh_key));
		topo_reader_bool(c, ssh, q, "agent", false, &h->ssh_agent);
		topo_reader_string(c, ssh, q, "known_hosts", false, "",
				   h->known_hosts, sizeof(h->known_hosts));
		if (!h->ssh_key[0] && !h->ssh_agent)
			topo_reader_error(c, q, false,
					  "ssh needs a \"key\" file or "
					  "\"agent\": true");
	}
}

int inventory_load(struct inventory **ip, const char *path,
		   struct topo_errors *errs)
{
	struct topo_reader c = {path, NULL, errs, errs->n};
	struct inventory *inv = NULL;
	json_t *root = NULL, *hosts, *db, *v;
	const char *name;
	int err;

	err = topo_reader_load(path, errs, &root, &c.pos);
	if (err)
		goto out;
	inv = calloc(1, sizeof(*inv));
	if (!inv) {
		err = ENOMEM;
		goto out;
	}
	snprintf(inv->path, sizeof(inv->path), "%s", path);
	if (!topo_reader_object(&c, root, "", "the inventory", inv_fields)) {
		err = EBADMSG;
		goto out;
	}
	topo_reader_schema_key(&c, root);
	hosts = json_object_get(root, "hosts");
	if (!json_is_object(hosts) || json_object_size(hosts) == 0) {
		topo_reader_error(&c, hosts ? "/hosts" : "", false,
				  "\"hosts\" must be an object naming at "
				  "least one host");
	} else {
		inv->hosts =
			calloc(json_object_size(hosts), sizeof(*inv->hosts));
		if (!inv->hosts) {
			err = ENOMEM;
			goto out;
		}
		json_object_foreach(hosts, name, v)
		{
			if (!shquote_safe_name(name)) {
				char p[INVENTORY_NAME_MAX * 2 + 16];

				snprintf(p, sizeof(p), "/hosts/%.*s",
					 INVENTORY_NAME_MAX * 2, name);
				topo_reader_error(&c, p, true,
						  "host name \"%.64s\" is not "
						  "allowed: 1 "
						  "to 64 of letters, digits, "
						  "'.', '_' "
						  "and '-', not starting with "
						  "'.' or "
						  "'-'",
						  name);
				continue;
			}
			if (strlen(name) >= INVENTORY_NAME_MAX) {
				char p[INVENTORY_NAME_MAX * 2 + 16];

				snprintf(p, sizeof(p), "/hosts/%.*s",
					 INVENTORY_NAME_MAX * 2, name);
				topo_reader_error(&c, p, true,
						  "host name too long");
				continue;
			}
			parse_host(&c, name, v, &inv->hosts[inv->nhosts++]);
		}
	}
	snprintf(inv->db_admin_user, sizeof(inv->db_admin_user), "root");
	db = json_object_get(root, "database");
	if (db && topo_reader_object(&c, db, "/database", "database",
				     invdb_fields)) {
		topo_reader_string(&c, db, "/database", "admin_user", false,
				   "root", inv->db_admin_user,
				   sizeof(inv->db_admin_user));
		topo_reader_string(&c, db, "/database", "password_env", false,
				   "", inv->db_password_env,
				   sizeof(inv->db_password_env));
		topo_reader_string(&c, db, "/database", "password_file", false,
				   "", inv->db_password_file,
				   sizeof(inv->db_password_file));
	}
	if (topo_reader_failed(&c)) {
		err = EBADMSG;
		goto out;
	}
	inv->json = root;
	root = NULL;
	*ip = inv;
	inv = NULL;
out:
	inventory_free(inv);
	json_decref(root);
	jsonpos_free(c.pos);
	return err;
}

void inventory_free(struct inventory *inv)
{
	if (!inv)
		return;
	json_decref(inv->json);
	free(inv->hosts);
	free(inv);
}

const struct inventory_host *inventory_host(const struct inventory *inv,
					    const char *name)
{
	for (size_t i = 0; i < inv->nhosts; i++)
		if (strcmp(inv->hosts[i].name, name) == 0)
			return &inv->hosts[i];
	return NULL;
}
const char *inventory_db_password(const struct inventory *inv, char *buf,
				  size_t size)
{
	const char *env = inv->db_password_env;

	buf[0] = '\0';
	if (env[0] && getenv(env))
		return getenv(env);
	if (inv->db_password_file[0]) {
		FILE *f = fopen(inv->db_password_file, "r");

		if (f) {
			if (fgets(buf, (int)size, f))
				buf[strcspn(buf, "\r\n")] = '\0';
			fclose(f);
			return buf;
		}
	}
	return "";
}
