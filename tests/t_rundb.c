/* Tests for the per-run database against a real MariaDB server. */
#include <errno.h>
#include <mysql.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "proc.h"
#include "rundb.h"
#include "sip_auth.h"
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

/* A query's single number, or -1; m is connected. */
static long long scalar(MYSQL *m, const char *sql)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	long long v = -1;

	if (mysql_query(m, sql))
		return -1;
	r = mysql_store_result(m);
	if (r && (row = mysql_fetch_row(r)) && row[0])
		v = strtoll(row[0], NULL, 10);
	mysql_free_result(r);
	return v;
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

static const char schema[] = "CREATE TABLE subscriber (id INT UNSIGNED "
			     "AUTO_INCREMENT PRIMARY KEY,"
			     " username VARCHAR(64) NOT NULL, domain "
			     "VARCHAR(64) NOT NULL,"
			     " ha1 CHAR(32) NOT NULL, ha1b CHAR(64) NOT NULL,"
			     " auth_required TINYINT NOT NULL DEFAULT 1,"
			     " UNIQUE KEY user_domain (username, domain));\n"
			     "-- a comment, and a second statement\n"
			     "CREATE TABLE location (aor VARCHAR(160) NOT "
			     "NULL);\n";

TEST_TIMEOUT(rundb_lifecycle_on_a_managed_server, 90)
{
	char why[512] = "", name[128], account[64], sql[256], pw[40];
	char ha1[SIP_AUTH_HEX_SIZE];
	struct rundb_server *srv = NULL;
	struct rundb *db = NULL;
	uint16_t port;
	struct host *h;
	struct stat st;
	MYSQL *m, *admin;
	FILE *f;

	need_mariadb();
	h = local_host();
	port = proc_free_port();
	ASSERT_MSG(rundb_server_start(&srv, h, "127.0.0.1", port,
				      test_tmp_dir(), why, sizeof(why)) == 0,
		   "%s", why);
	ASSERT_MSG(rundb_create(&db, "127.0.0.1", port, rundb_server_user(srv),
				rundb_server_password(srv), "Tester-1", NULL,
				why, sizeof(why)) == 0,
		   "%s", why);
	snprintf(name, sizeof(name), "%s", rundb_name(db));
	snprintf(account, sizeof(account), "%s", rundb_account(db));
	/* sipstone_<user>_<YYYYmmddHHMMSS>, the user cleaned. */
	ASSERT_MSG(strncmp(name, "sipstone_tester1_20", 19) == 0 &&
			   strlen(name) == strlen("sipstone_tester1_") + 14,
		   "%s", name);

	f = fopen("schema.sql", "w");
	ASSERT(f);
	fputs(schema, f);
	fclose(f);
	ASSERT_MSG(rundb_apply(db, "schema.sql", why, sizeof(why)) == 0, "%s",
		   why);
	ASSERT_MSG(rundb_add_users(db, "example.com", "A", 1000, 20000, true,
				   why, sizeof(why)) == 0,
		   "%s", why);
	ASSERT_EQ(rundb_write_passwords(db, "passwords", "A", 1000, 20000), 0);
	ASSERT_EQ(stat("passwords", &st), 0);
	ASSERT_EQ(st.st_mode & 0777, 0600);

	/* The proxies' account sees the users, and only its database. */
	m = login(port, account, rundb_account_password(db), name);
	ASSERT_MSG(m, "the run's account cannot log in");
	ASSERT_EQ(scalar(m, "SELECT COUNT(*) FROM subscriber"), 20000);
	ASSERT_EQ(scalar(m, "SELECT COUNT(*) FROM subscriber WHERE "
			    "username='A20999' AND auth_required=1"),
		  1);
	/* One width for the whole range: A01000 .. A20999. */
	ASSERT_EQ(scalar(m, "SELECT COUNT(*) FROM subscriber WHERE "
			    "username='A01000'"),
		  1);
	ASSERT_EQ(scalar(m, "SELECT COUNT(*) FROM subscriber WHERE "
			    "username='A1000'"),
		  0);
	ASSERT(mysql_query(m, "CREATE DATABASE intruder") != 0);
	/* The stored HA1 is MD5(user:realm:password) of the file's password. */
	snprintf(pw, sizeof(pw), "%s", rundb_password(db));
	ASSERT_EQ(strlen(pw), 32);
	{
		struct pl u = PL("A01234"), r = PL("example.com"), p;

		pl_set_str(&p, pw);
		ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &r, &p, ha1), 0);
	}
	snprintf(sql, sizeof(sql),
		 "SELECT COUNT(*) FROM subscriber WHERE username='A01234' AND "
		 "ha1='%s'",
		 ha1);
	ASSERT_EQ(scalar(m, sql), 1);
	{
		size_t len;
		char *text = test_read_file("passwords", &len), line[80];

		snprintf(line, sizeof(line), "A01234 %s\n", pw);
		ASSERT(strstr(text, line));
		free(text);
	}
	mysql_close(m);
	{
		uint64_t q = 0, t = 0;

		ASSERT_EQ(rundb_status(db, &q, &t), 0);
		ASSERT(q > 0 && t >= 1);
	}

	ASSERT_MSG(rundb_drop(db, why, sizeof(why)) == 0, "%s", why);
	rundb_free(db);
	admin = login(port, rundb_server_user(srv), rundb_server_password(srv),
		      NULL);
	ASSERT(admin);
	snprintf(sql, sizeof(sql),
		 "SELECT COUNT(*) FROM information_schema.schemata WHERE "
		 "schema_name='%s'",
		 name);
	ASSERT_EQ(scalar(admin, sql), 0);
	snprintf(sql, sizeof(sql),
		 "SELECT COUNT(*) FROM mysql.user WHERE user='%s'", account);
	ASSERT_EQ(scalar(admin, sql), 0);
	mysql_close(admin);

	rundb_server_stop(srv);
	ASSERT(stat("mariadb", &st) != 0);
	ASSERT(!login(port, "root", "", NULL));
	host_close(h);
}

TEST_TIMEOUT(rundb_refusals_are_said, 30)
{
	char why[512] = "";
	struct rundb *db = NULL;
	uint16_t port = proc_free_port();

	/* Nothing listens there. */
	ASSERT_EQ(rundb_create(&db, "127.0.0.1", port, "root", "x", "me", NULL,
			       why, sizeof(why)),
		  ECONNREFUSED);
	ASSERT_MSG(strstr(why, "connecting to 127.0.0.1:") && strstr(why, "Mar"
									  "iaD"
									  "B "
									  "err"
									  "o"
									  "r"),
		   "%s", why);
}

TEST(rundb_user_numbers_have_one_width)
{
	ASSERT_EQ(rundb_user_width(1000, 200), 4);
	ASSERT_EQ(rundb_user_width(1000, 9000), 4);
	ASSERT_EQ(rundb_user_width(1000, 9001), 5);
	ASSERT_EQ(rundb_user_width(1000, 100000), 6);
	ASSERT_EQ(rundb_user_width(0, 1), 1);
	ASSERT_EQ(rundb_user_width(4294967295u, 1), 10);
}
