#include "database.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rundb.h"
#include "workdir.h"

/* Names the run's database and account in the locked work directory,
 * so that `orchestrator cleanup` leaves them alone while the run is
 * alive (cleanup.h). */
static void mark_live(struct run *r)
{
	char path[800];
	FILE *f;

	snprintf(path, sizeof(path), "%s/" WORKDIR_DB_FILE, r->work);
	f = fopen(path, "wx");
	if (!f)
		return;
	fprintf(f, "%s\n%s\n", rundb_name(r->db), rundb_account(r->db));
	fclose(f);
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
	const char **clients;
	size_t nclients = 0;
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
		password = inventory_db_password(r->inv, pwbuf, sizeof(pwbuf));
	}
	/* The account is usable only from the topology's hosts. */
	clients = calloc(r->t->nnodes + 1, sizeof(*clients));
	if (!clients)
		return runctx_fail(r, ENOMEM, "database: out of memory");
	for (size_t i = 0; i < r->t->nnodes; i++) {
		const struct inventory_host *nh =
			runctx_inventory_host(r, r->t->nodes[i].host);

		if (nh)
			clients[nclients++] = nh->address;
	}
	err = rundb_create(&r->db, ih->address, r->t->db_port, user, password,
			   pw ? pw->pw_name : "user", clients, why,
			   sizeof(why));
	free(clients);
	if (err)
		return runctx_fail(r, err, "database: %s", why);
	mark_live(r);
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
