/*
 * userdb.h - users and their credentials (the subscriber table), loaded
 * at start from the run's database or a --users-file, read-only
 * afterwards (so workers read it without locks).
 *
 * Users file: one user per line, whitespace-separated, like the table:
 *   username domain ha1_md5 ha1_sha256 auth_required
 * ha1_sha256 may be "-" (none); auth_required is 0 or 1; '#' starts a
 * comment line.
 */
#ifndef SIPSTONE_USERDB_H
#define SIPSTONE_USERDB_H

#include <stdbool.h>
#include <stddef.h>

#include "pl.h"
#include "sip_auth.h"

struct userdb;

struct userdb_user {
	struct sip_auth_ha1 ha1; /* views into the user's own storage */
	bool auth_required;
};

/* An empty table.  Returns 0 or ENOMEM; free with userdb_free(). */
int userdb_alloc(struct userdb **dbp);
void userdb_free(struct userdb *db);

/*
 * Adds a user (values copied; ha1s may be empty).  Returns 0, EEXIST,
 * EINVAL (empty name, HA1 not hex of the right length), ENOMEM.
 */
int userdb_add(struct userdb *db, const struct pl *user,
	       const struct pl *domain, const struct pl *ha1_md5,
	       const struct pl *ha1_sha256, bool auth_required);

/*
 * Loads a users file.  Returns 0, or errno with one log line naming
 * path:line (EBADMSG for a bad line).
 */
int userdb_load_file(struct userdb *db, const char *path);

/* The user, or NULL (domain compared case-insensitively). */
const struct userdb_user *userdb_find(const struct userdb *db,
				      const struct pl *user,
				      const struct pl *domain);

size_t userdb_count(const struct userdb *db);

/* Whether any user must authenticate (auth_required 1). */
bool userdb_any_auth_required(const struct userdb *db);

#endif
