#include "database.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rundb.h"

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

int database_create(struct run *r)
{
	const struct inventory_host *ih =
		runctx_inventory_host(r, r->t->db_host);
	struct host *h = runctx_host(r, r->t->db_host);
	const struct topo_experiment *e = &r->t->exp;
	char why[600] = "", pwbuf[256], dir[700];
	const char *user, *password;
	struct passwd *pw = getpwuid(getuid());
	bool auth = false;
	uint64_t t0;
	int err;

	if (!ih || !h)
		return runctx_fail(r, ENOENT, "no database host \"%s\"",
				   r->t->db_host);
	if (r->t->db_managed) {
		runctx_path_on(r, h, "", dir, sizeof(dir));
		dir[strlen(dir) - 1] = '\0';
		runctx_say(r, "[db] starting a managed mariadbd on %s:%u",
			   ih->address, r->t->db_port);
		err = rundb_server_start(&r->dbsrv, h, ih->address,
					 r->t->db_port, dir, why, sizeof(why));
		if (err)
			return runctx_fail(r, err, "database: %s", why);
		user = rundb_server_user(r->dbsrv);
		password = rundb_server_password(r->dbsrv);
	} else {
		user = r->inv->db_admin_user;
		password = admin_password(r, pwbuf, sizeof(pwbuf));
	}
	err = rundb_create(&r->db, ih->address, r->t->db_port, user, password,
			   pw ? pw->pw_name : "user", why, sizeof(why));
	if (err)
		return runctx_fail(r, err, "database: %s", why);
	err = rundb_apply(r->db, r->o->schema, why, sizeof(why));
	if (err)
		return runctx_fail(r, err, "database: %s", why);
	for (size_t i = 0; i < r->t->nnodes; i++)
		if (r->t->nodes[i].role == TOPO_STATEFUL &&
		    strcmp(r->t->nodes[i].auth, "none"))
			auth = true;
	t0 = runctx_now_ms();
	err = rundb_add_users(r->db, r->t->domain, e->user_prefix,
			      e->user_first, e->user_count, auth, why,
			      sizeof(why));
	if (err)
		return runctx_fail(r, err, "database: %s", why);
	runctx_say(r, "[db] %s: %u users in %.2f s", rundb_name(r->db),
		   e->user_count, (double)(runctx_now_ms() - t0) / 1000);
	return 0;
}

void database_drop(struct run *r)
{
	char why[600];

	if (r->db) {
		if (!r->o->keep_db) {
			if (rundb_drop(r->db, why, sizeof(why)))
				runctx_fail(r, EIO, "%s", why);
			else
				runctx_say(r, "[db] dropped %s",
					   rundb_name(r->db));
		} else {
			runctx_say(r, "[db] kept %s (--keep-db)",
				   rundb_name(r->db));
		}
		rundb_free(r->db);
		r->db = NULL;
	}
	if (r->dbsrv) {
		rundb_server_stop(r->dbsrv);
		r->dbsrv = NULL;
		runctx_say(r, "[db] managed server stopped");
	}
}
