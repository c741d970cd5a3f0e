/*
 * inventory.h - the inventory file: how to reach each named host of a
 * topology (address, local or SSH settings) and the database's admin
 * account, so that one topology runs on the local testbed and on a
 * real cluster alike.  docs/topology.md documents every field.
 */
#ifndef SIPSTONE_INVENTORY_H
#define SIPSTONE_INVENTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "topo_reader.h"

#define INVENTORY_NAME_MAX 64

struct inventory_host {
	char name[INVENTORY_NAME_MAX];
	char address[64];
	bool local;
	char ssh_user[64];
	uint16_t ssh_port;
	char ssh_key[256];
	bool ssh_agent;
	char known_hosts[256];
};

struct inventory {
	char path[256];
	struct inventory_host *hosts;
	size_t nhosts;
	char db_admin_user[64];
	char db_password_env[64];
	char db_password_file[256];
	json_t *json;
};

/* Reads and checks an inventory file: 0 with *ip (free with
 * inventory_free()), EBADMSG with every mistake in errs, or an errno
 * when the file cannot be read (also said in errs). */
int inventory_load(struct inventory **ip, const char *path,
		   struct topo_errors *errs);
void inventory_free(struct inventory *inv);

/* The inventory's entry for host name, or NULL. */
const struct inventory_host *inventory_host(const struct inventory *inv,
					    const char *name);

/* The database admin's password: $password_env, else the first line
 * of password_file (into buf), else "".  Borrowed from the environment
 * or buf. */
const char *inventory_db_password(const struct inventory *inv, char *buf,
				  size_t size);

#endif
