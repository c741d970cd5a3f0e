/*
 * Tests for the managed MariaDB's hardening (issue 16, item 3): no
 * password on any process's command line while it is set up, root
 * unreachable over TCP, and a per-run account limited to DML on its
 * database from the given hosts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "proc.h"
#include "rundb.h"
#include "test.h"

static struct host *local_host(void)
{
	struct inventory_host ih = {0};
	struct host *h = NULL;
	char why[SSH_WHY_MAX];

	snprintf(ih.name, sizeof(ih.name), "here");
	snprintf(ih.address, sizeof(ih.address), "127.0.0.1");
	ih.local = true;
	ASSERT_EQ(host_open(&h, &ih, false, why, sizeof(why)), 0);
	return h;
}

static void need_mariadb(void)
{
	struct stat st;

	if (geteuid() != 0)
		test_skip("a managed mariadbd runs as root here");
	if (stat("/usr/sbin/mariadbd", &st) != 0)
		test_skip("no mariadbd: run scripts/install-deps");
}

/* Every distinct command line seen under /proc that names the test's
 * directory (other engineers' processes are not ours to judge),
 * collected until stop is set. */
struct argv_scan {
	atomic_bool stop;
	char seen[1 << 16];
	size_t len;
	unsigned rounds;
};

static void scan_once(struct argv_scan *sc)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[300], line[4096];
		ssize_t n;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, line, sizeof(line) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (!line[i])
				line[i] = ' ';
		line[n] = '\0';
		if (!strstr(line, test_tmp_dir()) ||
		    memmem(sc->seen, sc->len, line, (size_t)n))
			continue;
		if (sc->len + (size_t)n + 2 < sizeof(sc->seen)) {
			memcpy(sc->seen + sc->len, line, (size_t)n);
			sc->len += (size_t)n;
			sc->seen[sc->len++] = '\n';
			sc->seen[sc->len] = '\0';
		}
	}
	closedir(d);
}

static void *scan(void *arg)
{
	struct argv_scan *sc = arg;

	while (!atomic_load(&sc->stop)) {
		scan_once(sc);
		sc->rounds++;
	}
	return NULL;
}

static MYSQL *login(uint16_t port, const char *user, const char *pw,
		    const char *db)
{
	MYSQL *m = mysql_init(NULL);

	ASSERT(m);
	if (!mysql_real_connect(m, "127.0.0.1", user, pw, db, port, NULL, 0)) {
		mysql_close(m);
		return NULL;
	}
	return m;
}

/* The rows of SHOW GRANTS (or any one-column query), one a line. */
static void rows(MYSQL *m, const char *sql, char *out, size_t size)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	size_t n = 0;

	out[0] = '\0';
	ASSERT_MSG(mysql_query(m, sql) == 0, "%s: %s", sql, mysql_error(m));
	r = mysql_store_result(m);
	ASSERT(r);
	while ((row = mysql_fetch_row(r)) && n < size)
		n += (size_t)snprintf(out + n, size - n, "%s\n",
				      row[0] ? row[0] : "NULL");
	mysql_free_result(r);
}

TEST_TIMEOUT(hardening_managed_db_no_password_in_argv_and_narrow_grants, 90)
{
	static const char *const clients[] = {"127.0.0.1", NULL};
	char why[512] = "", sql[400], out[4096], account[64], name[128];
	struct rundb_server *srv = NULL;
	struct argv_scan *sc = calloc(1, sizeof(*sc));
	struct rundb *db = NULL;
	pthread_t tid;
	uint16_t port;
	struct host *h;
	MYSQL *admin, *m;

	need_mariadb();
	ASSERT(sc);
	h = local_host();
	port = proc_free_port();
	ASSERT_EQ(pthread_create(&tid, NULL, scan, sc), 0);
	ASSERT_MSG(rundb_server_start(&srv, h, "127.0.0.1", port,
				      test_tmp_dir(), why, sizeof(why)) == 0,
		   "%s", why);
	ASSERT_MSG(rundb_create(&db, "127.0.0.1", port, rundb_server_user(srv),
				rundb_server_password(srv), "t", clients, why,
				sizeof(why)) == 0,
		   "%s", why);
	atomic_store(&sc->stop, true);
	pthread_join(tid, NULL);
	/* The scan saw the server itself, so it was looking. */
	ASSERT_MSG(strstr(sc->seen, "mariadbd --no-defaults"), "%u rounds: %s",
		   sc->rounds, sc->seen);
	ASSERT_MSG(!strstr(sc->seen, rundb_server_password(srv)),
		   "the admin password was on a command line: %s", sc->seen);
	ASSERT_MSG(!strstr(sc->seen, rundb_account_password(db)),
		   "the run's password was on a command line: %s", sc->seen);
	ASSERT_MSG(!strstr(sc->seen, "authentication-method=normal"), "%s",
		   sc->seen);
	/* root only through the socket, as the OS root. */
	ASSERT(!login(port, "root", "", NULL));

	snprintf(account, sizeof(account), "%s", rundb_account(db));
	snprintf(name, sizeof(name), "%s", rundb_name(db));
	admin = login(port, rundb_server_user(srv), rundb_server_password(srv),
		      NULL);
	ASSERT(admin);
	snprintf(sql, sizeof(sql),
		 "SELECT Host FROM mysql.user WHERE User = '%s'", account);
	rows(admin, sql, out, sizeof(out));
	ASSERT_STR(out, "127.0.0.1\n");
	snprintf(sql, sizeof(sql), "SHOW GRANTS FOR '%s'@'127.0.0.1'",
		 account);
	rows(admin, sql, out, sizeof(out));
	{
		char want[600];

		snprintf(want, sizeof(want),
			 "GRANT SELECT, INSERT, UPDATE, DELETE ON `%s`.* TO "
			 "`%s`@`127.0.0.1`\n",
			 name, account);
		ASSERT_MSG(strstr(out, want), "%s", out);
		ASSERT_MSG(!strstr(out, "ALL PRIVILEGES") &&
				   !strstr(out, "GRANT OPTION") &&
				   !strstr(out, "CREATE") &&
				   !strstr(out, "DROP"),
			   "%s", out);
	}
	mysql_close(admin);
	m = login(port, account, rundb_account_password(db), name);
	ASSERT_MSG(m, "the run's account cannot log in");
	ASSERT(mysql_query(m, "CREATE TABLE intruder (x INT)") != 0);
	mysql_close(m);

	ASSERT_MSG(rundb_drop(db, why, sizeof(why)) == 0, "%s", why);
	rundb_free(db);
	rundb_server_stop(srv);
	host_close(h);
	free(sc);
}
