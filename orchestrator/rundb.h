/*
 * rundb.h - the per-run test database (the seed's future work): created
 * for one run, named after the user and the UTC time
 * (sipstone_<user>_<YYYYmmddHHMMSS>), with proxy-stateful's schema, the
 * test users and their credentials, and an account limited to that
 * database for the proxies; dropped, with the account, at the end.
 *
 * A managed server is a mariadbd the orchestrator starts on the
 * database host in a temporary data directory and stops after the run,
 * so that nothing needs to be set up by hand.
 *
 * Passwords (the admin's, the run account's, the users') are never
 * logged nor written to the result bundle; the users' go to a file of
 * mode 0600 for the agents.
 */
#ifndef SIPSTONE_RUNDB_H
#define SIPSTONE_RUNDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "host.h"

struct rundb_server;
struct rundb;

/*
 * Starts a mariadbd on host h listening on address:port with its data in
 * workdir/mariadb (created), and an admin account reachable over TCP.
 * Returns 0 once it accepts connections, or an errno with why.
 */
int rundb_server_start(struct rundb_server **sp, struct host *h,
		       const char *address, uint16_t port, const char *workdir,
		       char *why, size_t whysz);

/* The admin account of a managed server (valid while it runs). */
const char *rundb_server_user(const struct rundb_server *s);
const char *rundb_server_password(const struct rundb_server *s);

/* Its PID on its host, the machine of the host it was started on
 * (0 until known), and whether that host is this machine. */
long rundb_server_pid(const struct rundb_server *s);
bool rundb_server_is_local(const struct rundb_server *s);

/* Stops it by its PID and removes its data directory. */
void rundb_server_stop(struct rundb_server *s);

/*
 * Connects as the admin and creates the run's database and account.
 * who names the user in the database's name (letters, digits and '_'
 * are kept).  The account ("sipstone_run_<hex>") may only SELECT,
 * INSERT, UPDATE and DELETE in the run's database, and only from
 * clients (NULL-terminated host names or addresses; NULL: "localhost"
 * and "127.0.0.1").  Returns 0 or an errno with why (MariaDB's
 * message); on failure nothing it made is left behind.
 */
int rundb_create(struct rundb **dbp, const char *address, uint16_t port,
		 const char *admin_user, const char *admin_password,
		 const char *who, const char *const *clients, char *why,
		 size_t whysz);

/* The prefixes of what rundb_create names: "sipstone_" databases and
 * "sipstone_run_" accounts (orchestrator cleanup looks for them). */
#define RUNDB_DB_PREFIX "sipstone_"
#define RUNDB_ACCOUNT_PREFIX "sipstone_run_"

/*
 * Leftovers of earlier runs on a database server: every database named
 * like rundb_create's (sipstone_<who>_<14 digits>) and every
 * sipstone_run_* account, except the names in keep (one a line: the
 * runs alive).  Each is printed to out as "<label>: database NAME" or
 * "<label>: account 'USER'@'HOST'", then dropped unless dry_run; *found
 * counts them.  0 or an errno with why.
 */
int rundb_leftovers(const char *address, uint16_t port, const char *admin_user,
		    const char *admin_password, const char *keep, bool dry_run,
		    const char *label, FILE *out, size_t *found, char *why,
		    size_t whysz);

/* Runs the statements of an SQL file (the schema) in the database. */
int rundb_apply(struct rundb *db, const char *sql_path, char *why,
		size_t whysz);

/*
 * The digits of every user number of first .. first+count-1: the
 * last's.  Names are prefix<number> zero-padded to it, so that a range
 * has one width ("A001000".."A100999", not "A1000".."A100999", which
 * the callhandler refuses); ranges within one width are unchanged.
 */
int rundb_user_width(unsigned first, unsigned count);

/*
 * Adds users prefix<first> .. prefix<first+count-1> (numbers of
 * rundb_user_width() digits) in domain (the digest realm) with the
 * run's password, HA1 for MD5 and SHA-256, and auth_required.
 * Batched: 100,000 users take seconds.
 */
int rundb_add_users(struct rundb *db, const char *domain, const char *prefix,
		    unsigned first, unsigned count, bool auth_required,
		    char *why, size_t whysz);

/*
 * The users' password: random, made for this run alone (one for all
 * users, so that every agent can be given it the same way).
 */
const char *rundb_password(const struct rundb *db);

/* Writes "user password" lines for the agents (mode 0600). */
int rundb_write_passwords(const struct rundb *db, const char *path,
			  const char *prefix, unsigned first, unsigned count);

const char *rundb_name(const struct rundb *db);
const char *rundb_account(const struct rundb *db);
const char *rundb_account_password(const struct rundb *db);

/* Counters for the per-second samples (SHOW GLOBAL STATUS). */
int rundb_status(struct rundb *db, uint64_t *questions,
		 uint64_t *threads_connected);

/* Drops the database and the account.  Returns 0 or an errno. */
int rundb_drop(struct rundb *db, char *why, size_t whysz);

/* Closes the connection (drop first, unless the database is kept). */
void rundb_free(struct rundb *db);

#endif
