/*
 * mariadb.h - a private MariaDB server for end-to-end tests: a
 * temporary datadir in the test's directory, a socket there and a TCP
 * port on 127.0.0.1, stopped by its PID.  Nothing depends on a system
 * service.
 */
#ifndef SIPSTONE_TEST_MARIADB_H
#define SIPSTONE_TEST_MARIADB_H

#include <stddef.h>
#include <stdint.h>

#include "proc.h"

struct mariadb {
	struct proc server;
	uint16_t port;
	char dir[300];	/* datadir */
	char sock[320]; /* its socket */
	char url[160];	/* mysql://root@127.0.0.1:PORT/NAME */
	char name[64];
};

/* Whether mariadbd and mariadb-install-db are installed. */
bool mariadb_available(void);

/*
 * Initializes a datadir, starts mariadbd, waits (bounded, 20 s) until
 * it answers, creates database name and loads schema_path into it
 * (NULL: none).  Fails the test when it cannot; call
 * mariadb_available() first and skip without it.
 */
void mariadb_start(struct mariadb *m, const char *name,
		   const char *schema_path);

/*
 * Runs SQL in the database with the command-line client; the output
 * (tab-separated, no column names) goes into out (NUL-terminated,
 * may be NULL).  Returns the client's exit code.
 */
int mariadb_sql(struct mariadb *m, const char *sql, char *out, size_t outsz);

/* Stops the server by its PID (SIGTERM, bounded wait, then SIGKILL). */
void mariadb_stop(struct mariadb *m);

/* Starts a stopped server again on the same datadir, port and socket
 * (the database down mid-run and back). */
void mariadb_restart(struct mariadb *m);

#endif
