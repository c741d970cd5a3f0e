/*
 * init.h - `orchestrator init --hosts a.example.net,b.example.net,...`:
 * a starter topology and inventory for the user's own hosts, which
 * `orchestrator validate` accepts and `orchestrator run NAME --hosts
 * NAME` finds by name (locate.h).
 *
 * The roles are placed so that the proxies under test have hosts of
 * their own before the load side does (docs/topology.md, "Starting
 * from your hosts"); SSH logs in as $USER with ~/.ssh/id_ed25519, else
 * ~/.ssh/id_rsa, else the agent.
 */
#ifndef SIPSTONE_INIT_H
#define SIPSTONE_INIT_H

#include <jansson.h>
#include <stddef.h>

/* At most this many hosts: one stateless proxy in front of the rest. */
#define INIT_MAX_HOSTS 32

/*
 * The starter topology (*topo) and inventory (*inv) named name for the
 * n host addresses (DNS names or IP addresses; caller owns both
 * results).  Returns 0, EINVAL with why (no host, too many, a name that
 * is not a host name, one given twice) or ENOMEM.
 */
int init_make(const char *name, const char *const *addresses, size_t n,
	      json_t **topo, json_t **inv, char *why, size_t whysz);

/* The command: its argc/argv (argv[0] "init"); the exit status (0, 1
 * could not write, 2 bad usage: said on stderr). */
int init_command(int argc, char **argv);

#endif
