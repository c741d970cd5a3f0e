/* mariadb.c - a private MariaDB server for tests (see mariadb.h). */
#include "mariadb.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static bool in_path(const char *prog)
{
	const char *dirs[] = {"/usr/sbin", "/usr/bin", "/usr/local/sbin",
			      "/usr/local/bin"};
	char p[256];
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dirs[i], prog);
		if (!access(p, X_OK))
			return true;
	}
	return false;
}

bool mariadb_available(void)
{
	return in_path("mariadbd") && in_path("mariadb-install-db") &&
	       in_path("mariadb");
}

int mariadb_sql(struct mariadb *m, const char *sql, char *out, size_t outsz)
{
	static unsigned seq;
	char sockarg[340], logp[400], logn[64];
	const char *argv[] = {"mariadb",
			      "--no-defaults",
			      sockarg,
			      "-uroot",
			      "-N",
			      "-B",
			      "-e",
			      sql,
			      m->name[0] ? m->name : NULL,
			      NULL};
	FILE *fp;
	size_t n;
	int rc;

	snprintf(sockarg, sizeof(sockarg), "--socket=%s", m->sock);
	/* A fresh log per call: it holds the output to read back. */
	snprintf(logn, sizeof(logn), "mariadb-client-%u.log", ++seq);
	rc = proc_run(argv, logn, 10000);
	if (out && outsz) {
		out[0] = '\0';
		snprintf(logp, sizeof(logp), "%s/%s", test_tmp_dir(), logn);
		fp = fopen(logp, "r");
		if (fp) {
			n = fread(out, 1, outsz - 1, fp);
			out[n] = '\0';
			fclose(fp);
		}
	}
	return rc;
}

/* Starts mariadbd on m's datadir and port; waits (20 s) until it
 * answers. */
static void server_up(struct mariadb *m)
{
	char datadir[340], tmpdir[360], sockarg[340], portarg[32], pidarg[360];
	const char *srv[] = {"mariadbd",
			     "--no-defaults",
			     datadir,
			     tmpdir,
			     sockarg,
			     portarg,
			     "--bind-address=127.0.0.1",
			     "--user=root",
			     pidarg,
			     "--skip-log-bin",
			     "--innodb-buffer-pool-size=32M",
			     "--innodb-log-file-size=16M",
			     NULL};
	char saved[64];
	int i;

	snprintf(datadir, sizeof(datadir), "--datadir=%s", m->dir);
	snprintf(tmpdir, sizeof(tmpdir), "--tmpdir=%s/tmp", test_tmp_dir());
	snprintf(sockarg, sizeof(sockarg), "--socket=%s", m->sock);
	snprintf(portarg, sizeof(portarg), "--port=%u", m->port);
	snprintf(pidarg, sizeof(pidarg), "--pid-file=%s/pid", m->dir);
	proc_start(&m->server, srv);
	/* The probe runs without a database (it may not exist yet). */
	memcpy(saved, m->name, sizeof(saved));
	m->name[0] = '\0';
	for (i = 0; i < 200; i++) {
		struct stat sb;

		if (proc_exited(&m->server))
			break;
		if (!stat(m->sock, &sb) &&
		    !mariadb_sql(m, "SELECT 1", NULL, 0))
			break;
		usleep(100000);
	}
	memcpy(m->name, saved, sizeof(saved));
	if (proc_exited(&m->server) || i == 200) {
		proc_dump_log(&m->server);
		test_fail(__FILE__, __LINE__, "mariadbd did not come up");
	}
}

void mariadb_start(struct mariadb *m, const char *name,
		   const char *schema_path)
{
	char datadir[340], tmpdir[360], sql[300];
	/* A private --tmpdir: bootstraps running in parallel in the same
	 * /tmp collide on their temporary table names and one aborts. */
	const char *init[] = {"mariadb-install-db",
			      "--no-defaults",
			      datadir,
			      tmpdir,
			      "--auth-root-authentication-method=normal",
			      "--skip-test-db",
			      "--user=root",
			      NULL};
	int rc;

	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), "%s/mariadb", test_tmp_dir());
	snprintf(m->sock, sizeof(m->sock), "%s/sock", m->dir);
	snprintf(datadir, sizeof(datadir), "--datadir=%s", m->dir);
	snprintf(tmpdir, sizeof(tmpdir), "--tmpdir=%s/tmp", test_tmp_dir());
	ASSERT(mkdir(tmpdir + 9, 0700) == 0 || errno == EEXIST);
	rc = proc_run(init, "mariadb-install-db.log", 60000);
	ASSERT_MSG(rc == 0, "mariadb-install-db: exit %d", rc);
	m->port = proc_free_port();
	server_up(m);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	ASSERT_EQ(mariadb_sql(m, sql, NULL, 0), 0);
	snprintf(m->name, sizeof(m->name), "%s", name);
	if (schema_path) {
		size_t len;
		char *s = test_read_file(schema_path, &len);

		rc = mariadb_sql(m, s, NULL, 0);
		free(s);
		ASSERT_MSG(rc == 0, "loading %s: exit %d", schema_path, rc);
	}
	snprintf(m->url, sizeof(m->url), "mysql://root@127.0.0.1:%u/%s",
		 m->port, m->name);
}

void mariadb_restart(struct mariadb *m)
{
	ASSERT_MSG(proc_exited(&m->server), "mariadbd is still running");
	server_up(m);
}

void mariadb_stop(struct mariadb *m)
{
	if (m->server.pid <= 0 || proc_exited(&m->server))
		return;
	proc_signal(&m->server, SIGTERM);
	proc_stop(&m->server, 15000);
}
