#include "rundb.h"

#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "rundb"
#include "buf.h"
#include "log.h"
#include "shquote.h"
#include "sip_auth.h"

#define RUNDB_BATCH 1000 /* users per INSERT */

struct rundb_server {
	struct host *host;
	struct host_proc *proc;
	int to_fd, from_fd;
	char datadir[600];
	char user[32];
	char password[40];
};

struct rundb {
	MYSQL *m;
	char name[96];
	char account[48];
	char account_password[40];
	char password[40]; /* the users' */
};

static void random_hex(char *out, size_t nbytes)
{
	unsigned char raw[32];

	if (nbytes > sizeof(raw))
		nbytes = sizeof(raw);
	if (RAND_bytes(raw, (int)nbytes) != 1)
		for (size_t i = 0; i < nbytes; i++)
			raw[i] = (unsigned char)rand();
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* MariaDB's mysql_native_password hash of password: "*" and the upper
 * case hex of SHA1(SHA1(password)). */
static int native_password_hash(const char *password, char *out, size_t size)
{
	unsigned char one[SHA_DIGEST_LENGTH], two[SHA_DIGEST_LENGTH];

	if (size < 2 + 2 * SHA_DIGEST_LENGTH)
		return ENAMETOOLONG;
	SHA1((const unsigned char *)password, strlen(password), one);
	SHA1(one, sizeof(one), two);
	out[0] = '*';
	for (size_t i = 0; i < sizeof(two); i++)
		snprintf(out + 1 + 2 * i, 3, "%02X", two[i]);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int db_error(MYSQL *m, char *why, size_t whysz, const char *what)
{
	unsigned code = mysql_errno(m);

	snprintf(why, whysz, "%s: MariaDB error %u: %s", what, code,
		 mysql_error(m));
	/* 2002/2003: cannot connect; 1045: access denied. */
	if (code == 2002 || code == 2003)
		return ECONNREFUSED;
	if (code == 1045 || code == 1044)
		return EACCES;
	return EIO;
}

static int query(MYSQL *m, const char *sql, char *why, size_t whysz,
		 const char *what)
{
	if (mysql_real_query(m, sql, strlen(sql)))
		return db_error(m, why, whysz, what);
	/* Drain every result, so the connection is ready for the next. */
	do {
		MYSQL_RES *r = mysql_store_result(m);

		mysql_free_result(r);
	} while (mysql_next_result(m) == 0);
	if (mysql_errno(m))
		return db_error(m, why, whysz, what);
	return 0;
}

static MYSQL *connect_db(const char *address, uint16_t port, const char *user,
			 const char *password, unsigned timeout_s)
{
	MYSQL *m = mysql_init(NULL);

	if (!m)
		return NULL;
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout_s);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout_s);
	if (!mysql_real_connect(m, address, user, password, NULL, port, NULL,
				CLIENT_MULTI_STATEMENTS))
		return m; /* the caller reads the error, then closes */
	return m;
}

/* ---- a managed server ----------------------------------------------- */

int rundb_server_start(struct rundb_server **sp, struct host *h,
		       const char *address, uint16_t port, const char *workdir,
		       char *why, size_t whysz)
{
	struct rundb_server *s;
	struct ssh_result res = {0};
	char cmd[4096], log[700], tmpdir[620], qdir[700], qtmp[700],
		qaddr[300], hash[48];
	uint64_t deadline;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->host = h;
	s->to_fd = s->from_fd = -1;
	snprintf(s->datadir, sizeof(s->datadir), "%s/mariadb", workdir);
	snprintf(s->user, sizeof(s->user), "sipstone_admin");
	random_hex(s->password, 16);
	snprintf(tmpdir, sizeof(tmpdir), "%s.tmp", s->datadir);
	/* --user=root: the tests and the testbed run as root.  A private
	 * --tmpdir: bootstraps sharing /tmp collide on their temporary
	 * table names and one of them aborts.  root@localhost keeps the
	 * default unix_socket authentication: only the OS root of the DB
	 * host gets in, and nobody over TCP. */
	if (shquote(qdir, sizeof(qdir), s->datadir) ||
	    shquote(qtmp, sizeof(qtmp), tmpdir) ||
	    shquote(qaddr, sizeof(qaddr), address)) {
		err = ENAMETOOLONG;
		snprintf(why, whysz, "%s: work directory too long",
			 host_name(h));
		goto fail;
	}
	snprintf(cmd, sizeof(cmd),
		 "umask 077 && mkdir -m 700 -- %s %s && "
		 "mariadb-install-db --no-defaults "
		 "--datadir=%s --tmpdir=%s "
		 "--skip-test-db --user=root >%s.install.log 2>&1",
		 qdir, qtmp, qdir, qtmp, qdir);
	err = host_run(h, cmd, 120000, &res, why, whysz);
	if (!err && res.status != 0) {
		snprintf(why, whysz,
			 "%s: mariadb-install-db failed (see %s.install.log "
			 "there)",
			 host_name(h), s->datadir);
		err = EIO;
	}
	ssh_result_free(&res);
	if (err)
		goto fail;
	snprintf(cmd, sizeof(cmd),
		 "mariadbd --no-defaults --datadir=%s --tmpdir=%s "
		 "--socket=%s/sock "
		 "--port=%u --bind-address=%s --user=root "
		 "--pid-file=%s/pid --skip-log-bin "
		 "--innodb-buffer-pool-size=256M "
		 "--max-connections=1000",
		 qdir, qtmp, qdir, port, qaddr, qdir);
	snprintf(log, sizeof(log), "%s.log", s->datadir);
	/* Its log is local: the server's stderr comes back to us. */
	err = host_spawn(h, cmd, host_is_local(h) ? log : NULL, &s->proc,
			 &s->to_fd, &s->from_fd, why, whysz);
	if (err)
		goto fail;
	/* Wait for its socket, then make an admin that can come over TCP.
	 * The command line (visible in ps on the DB host) carries only
	 * the password's mysql_native_password hash, SHA1(SHA1(pw)),
	 * which does not log in (the client must prove SHA1(pw)). */
	err = native_password_hash(s->password, hash, sizeof(hash));
	if (err) {
		snprintf(why, whysz, "hashing the admin password failed");
		goto fail;
	}
	snprintf(cmd, sizeof(cmd),
		 "mariadb --no-defaults -S %s/sock -uroot -e "
		 "\"CREATE USER '%s'@'%%' IDENTIFIED BY PASSWORD '%s'; "
		 "GRANT ALL ON *.* TO '%s'@'%%' WITH GRANT OPTION;\"",
		 qdir, s->user, hash, s->user);
	deadline = now_ms() + 60000;
	for (;;) {
		int status;

		if (host_proc_done(s->proc, &status)) {
			snprintf(why, whysz,
				 "%s: mariadbd exited at start (status %d); "
				 "see %s",
				 host_name(h), status, log);
			err = EIO;
			goto fail;
		}
		err = host_run(h, cmd, 10000, &res, why, whysz);
		if (!err && res.status == 0) {
			ssh_result_free(&res);
			break;
		}
		ssh_result_free(&res);
		if (now_ms() > deadline) {
			snprintf(why, whysz,
				 "%s: mariadbd did not accept connections "
				 "within 60 s",
				 host_name(h));
			err = ETIMEDOUT;
			goto fail;
		}
		usleep(200 * 1000);
	}
	*sp = s;
	return 0;
fail:
	rundb_server_stop(s);
	return err;
}

long rundb_server_pid(const struct rundb_server *s)
{
	return s && s->proc ? host_proc_pid(s->proc) : 0;
}

bool rundb_server_is_local(const struct rundb_server *s)
{
	return s && host_is_local(s->host);
}

const char *rundb_server_user(const struct rundb_server *s)
{
	return s->user;
}

const char *rundb_server_password(const struct rundb_server *s)
{
	return s->password;
}

void rundb_server_stop(struct rundb_server *s)
{
	struct ssh_result res = {0};
	char cmd[2200], why[SSH_WHY_MAX];

	if (!s)
		return;
	if (s->proc) {
		int status;

		host_proc_signal(s->host, s->proc, SIGTERM);
		for (int i = 0; i < 300 && !host_proc_done(s->proc, &status);
		     i++)
			usleep(20000);
		if (!host_proc_done(s->proc, &status)) {
			host_proc_signal(s->host, s->proc, SIGKILL);
			for (int i = 0;
			     i < 100 && !host_proc_done(s->proc, &status); i++)
				usleep(20000);
		}
		host_proc_free(s->proc);
	}
	if (s->to_fd >= 0)
		close(s->to_fd);
	if (s->from_fd >= 0)
		close(s->from_fd);
	if (s->datadir[0]) {
		char qdir[700];

		if (!shquote(qdir, sizeof(qdir), s->datadir)) {
			snprintf(cmd, sizeof(cmd),
				 "rm -rf -- %s %s.tmp %s.install.log", qdir,
				 qdir, qdir);
			if (host_run(s->host, cmd, 30000, &res, why,
				     sizeof(why)) == 0)
				ssh_result_free(&res);
		}
	}
	free(s);
}

/* ---- the run's database ---------------------------------------------- */

/* The run's account, one per client host: what the servers need and
 * no more (no DDL, no GRANT, no other database, no other host). */
static int create_account(struct rundb *db, const char *const *clients,
			  char *why, size_t whysz)
{
	static const char *const local[] = {"localhost", "127.0.0.1", NULL};
	char sql[1024], host[300];
	int err = 0;

	if (!clients || !clients[0])
		clients = local;
	for (size_t i = 0; !err && clients[i]; i++) {
		bool seen = false;

		for (size_t k = 0; k < i; k++)
			seen = seen || !strcmp(clients[k], clients[i]);
		if (seen || strlen(clients[i]) > 140)
			continue;
		mysql_real_escape_string(db->m, host, clients[i],
					 (unsigned long)strlen(clients[i]));
		snprintf(sql, sizeof(sql),
			 "CREATE USER '%s'@'%s' IDENTIFIED BY '%s'; "
			 "GRANT SELECT, INSERT, UPDATE, DELETE ON `%s`.* TO "
			 "'%s'@'%s'",
			 db->account, host, db->account_password, db->name,
			 db->account, host);
		err = query(db->m, sql, why, whysz,
			    "creating the run's account");
	}
	return err;
}

int rundb_create(struct rundb **dbp, const char *address, uint16_t port,
		 const char *admin_user, const char *admin_password,
		 const char *who, const char *const *clients, char *why,
		 size_t whysz)
{
	struct rundb *db;
	char stamp[32], clean[32], sql[512];
	size_t n = 0;
	struct tm tm;
	time_t now;
	int err;

	db = calloc(1, sizeof(*db));
	if (!db)
		return ENOMEM;
	random_hex(db->password, 16);
	db->m = connect_db(address, port, admin_user, admin_password, 10);
	if (!db->m) {
		free(db);
		return ENOMEM;
	}
	if (mysql_errno(db->m)) {
		char what[160];

		snprintf(what, sizeof(what), "connecting to %s:%u as %s",
			 address, port, admin_user);
		err = db_error(db->m, why, whysz, what);
		goto fail;
	}
	for (const char *c = who ? who : "user"; *c && n < sizeof(clean) - 1;
	     c++)
		if ((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    *c == '_')
			clean[n++] = *c;
		else if (*c >= 'A' && *c <= 'Z')
			clean[n++] = (char)(*c - 'A' + 'a');
	clean[n] = '\0';
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	snprintf(db->name, sizeof(db->name), "sipstone_%s_%s",
		 n ? clean : "user", stamp);
	{
		char hex[9];

		random_hex(hex, 4);
		snprintf(db->account, sizeof(db->account), "sipstone_run_%s",
			 hex);
	}
	random_hex(db->account_password, 16);
	snprintf(sql, sizeof(sql), "CREATE DATABASE `%s`", db->name);
	err = query(db->m, sql, why, whysz, "creating the run's database");
	if (err)
		goto fail;
	err = create_account(db, clients, why, whysz);
	if (!err && mysql_select_db(db->m, db->name))
		err = db_error(db->m, why, whysz, "selecting the database");
	if (err) {
		char ignored[200];

		/* Nothing of a failed run's database stays behind. */
		rundb_drop(db, ignored, sizeof(ignored));
		goto fail;
	}
	log_info("created database %s and account %s", db->name, db->account);
	*dbp = db;
	return 0;
fail:
	mysql_close(db->m);
	free(db);
	return err;
}

int rundb_apply(struct rundb *db, const char *sql_path, char *why,
		size_t whysz)
{
	char *text = NULL;
	struct stat st;
	int fd, err;
	ssize_t n;

	fd = open(sql_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > (1 << 20)) {
		err = fd < 0 ? errno : EFBIG;
		snprintf(why, whysz, "cannot read %s: %s", sql_path,
			 strerror(err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	text = malloc((size_t)st.st_size + 1);
	n = text ? read(fd, text, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(text);
		snprintf(why, whysz, "cannot read %s", sql_path);
		return EIO;
	}
	text[n] = '\0';
	/* Multi-statements are on: the file goes as it is. */
	err = query(db->m, text, why, whysz, sql_path);
	free(text);
	return err;
}

const char *rundb_password(const struct rundb *db)
{
	return db->password;
}

int rundb_user_width(unsigned first, unsigned count)
{
	unsigned long long last =
		(unsigned long long)first + (count ? count - 1 : 0);
	int w = 1;

	while (last >= 10) {
		last /= 10;
		w++;
	}
	return w;
}

int rundb_add_users(struct rundb *db, const char *domain, const char *prefix,
		    unsigned first, unsigned count, bool auth_required,
		    char *why, size_t whysz)
{
	struct buf sql;
	uint64_t start = now_ms();
	int err = 0;

	int width = rundb_user_width(first, count);

	buf_init(&sql, 4u << 20);
	err = query(db->m, "START TRANSACTION", why, whysz, "adding users");
	for (unsigned i = 0; !err && i < count; i++) {
		char user[96], ha1[SIP_AUTH_HEX_SIZE], ha1b[SIP_AUTH_HEX_SIZE];
		struct pl u, r, p;

		snprintf(user, sizeof(user), "%s%0*u", prefix, width,
			 first + i);
		pl_set_str(&u, user);
		pl_set_str(&r, domain);
		pl_set_str(&p, db->password);
		if (sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &r, &p, ha1) ||
		    sip_auth_ha1(SIP_AUTH_ALG_SHA256, &u, &r, &p, ha1b)) {
			err = EIO;
			snprintf(why, whysz, "hashing credentials failed");
			break;
		}
		if (sql.len == 0)
			err = buf_append_str(&sql, "INSERT INTO subscriber "
						   "(username, "
						   "domain, ha1, ha1b, "
						   "auth_required) "
						   "VALUES ");
		else
			err = buf_append_str(&sql, ",");
		/* Names are prefix + digits, domain checked below: no
		 * quoting is needed, but escape anyway. */
		if (!err) {
			char eu[200], ed[300];

			mysql_real_escape_string(db->m, eu, user,
						 (unsigned long)strlen(user));
			mysql_real_escape_string(db->m, ed, domain,
						 (unsigned long)strnlen(domain,
									140));
			err = buf_printf(&sql, "('%s','%s','%s','%s',%d)", eu,
					 ed, ha1, ha1b, auth_required);
		}
		if (!err && ((i + 1) % RUNDB_BATCH == 0 || i + 1 == count)) {
			err = buf_append(&sql, "", 1);
			if (!err)
				err = query(db->m, sql.data, why, whysz,
					    "adding users");
			buf_reset(&sql);
		}
	}
	if (!err)
		err = query(db->m, "COMMIT", why, whysz, "adding users");
	else
		mysql_real_query(db->m, "ROLLBACK", 8);
	buf_free(&sql);
	if (!err)
		log_info("%u users in %llu ms", count,
			 (unsigned long long)(now_ms() - start));
	return err;
}

int rundb_write_passwords(const struct rundb *db, const char *path,
			  const char *prefix, unsigned first, unsigned count)
{
	FILE *f;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return errno;
	}
	for (unsigned i = 0; i < count; i++)
		fprintf(f, "%s%0*u %s\n", prefix,
			rundb_user_width(first, count), first + i,
			db->password);
	return fclose(f) ? errno : 0;
}

const char *rundb_name(const struct rundb *db)
{
	return db->name;
}

const char *rundb_account(const struct rundb *db)
{
	return db->account;
}

const char *rundb_account_password(const struct rundb *db)
{
	return db->account_password;
}

int rundb_status(struct rundb *db, uint64_t *questions,
		 uint64_t *threads_connected)
{
	static const char sql[] = "SHOW GLOBAL STATUS WHERE Variable_name IN "
				  "('Questions', "
				  "'Threads_connected')";
	MYSQL_RES *r;
	MYSQL_ROW row;

	if (mysql_real_query(db->m, sql, sizeof(sql) - 1))
		return EIO;
	r = mysql_store_result(db->m);
	if (!r)
		return EIO;
	while ((row = mysql_fetch_row(r))) {
		uint64_t v = row[1] ? strtoull(row[1], NULL, 10) : 0;

		if (!strcmp(row[0], "Questions"))
			*questions = v;
		else if (!strcmp(row[0], "Threads_connected"))
			*threads_connected = v;
	}
	mysql_free_result(r);
	return 0;
}

/* Drops account at every host it has (one per client host). */
static int drop_account(MYSQL *m, const char *account, char *why, size_t whysz)
{
	char sql[1400], ea[100], eh[600];
	MYSQL_RES *res;
	MYSQL_ROW row;
	int err = 0;

	if (strlen(account) > 48)
		return EINVAL;
	mysql_real_escape_string(m, ea, account,
				 (unsigned long)strlen(account));
	snprintf(sql, sizeof(sql),
		 "SELECT Host FROM mysql.user WHERE User = '%s'", ea);
	if (mysql_real_query(m, sql, strlen(sql)) ||
	    !(res = mysql_store_result(m)))
		return db_error(m, why, whysz, "listing the run's account");
	while ((row = mysql_fetch_row(res)) && !err) {
		if (!row[0] || strlen(row[0]) > 255)
			continue;
		mysql_real_escape_string(m, eh, row[0],
					 (unsigned long)strlen(row[0]));
		snprintf(sql, sizeof(sql), "DROP USER IF EXISTS '%s'@'%s'", ea,
			 eh);
		err = query(m, sql, why, whysz, "dropping the run's account");
	}
	mysql_free_result(res);
	return err;
}

int rundb_drop(struct rundb *db, char *why, size_t whysz)
{
	char sql[256];
	int err, err2;

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS `%s`", db->name);
	err = query(db->m, sql, why, whysz, "dropping the run's database");
	err2 = drop_account(db->m, db->account, why, whysz);
	if (!err && !err2)
		log_info("dropped database %s and account %s", db->name,
			 db->account);
	return err ? err : err2;
}

void rundb_free(struct rundb *db)
{
	if (!db)
		return;
	mysql_close(db->m);
	free(db);
}

/* Whether name is one rundb_create makes: sipstone_<who>_<14 digits>. */
static bool run_database_name(const char *name)
{
	size_t len = strlen(name);

	if (len < strlen(RUNDB_DB_PREFIX) + 16 ||
	    strncmp(name, RUNDB_DB_PREFIX, strlen(RUNDB_DB_PREFIX)) ||
	    name[len - 15] != '_')
		return false;
	return strspn(name + len - 14, "0123456789") == 14;
}

static bool kept(const char *keep, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = keep; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n == len && !strncmp(p, name, len))
			return true;
		p += n + (nl ? 1 : 0);
	}
	return false;
}

/* The first column of every row of sql, one a line, into out. */
static int column(MYSQL *m, const char *sql, struct buf *out, char *why,
		  size_t whysz)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	int err = 0;

	if (mysql_real_query(m, sql, strlen(sql)) ||
	    !(res = mysql_store_result(m)))
		return db_error(m, why, whysz, "listing leftovers");
	while (!err && (row = mysql_fetch_row(res)))
		if (row[0] && strlen(row[0]) < 200 && !strchr(row[0], '\n'))
			err = buf_printf(out, "%s\n", row[0]);
	mysql_free_result(res);
	return err;
}

int rundb_leftovers(const char *address, uint16_t port, const char *admin_user,
		    const char *admin_password, const char *keep, bool dry_run,
		    const char *label, FILE *out, size_t *found, char *why,
		    size_t whysz)
{
	MYSQL *m = connect_db(address, port, admin_user, admin_password, 10);
	struct buf dbs, users;
	char sql[600];
	int err;

	*found = 0;
	if (!m)
		return ENOMEM;
	buf_init(&dbs, 1u << 20);
	buf_init(&users, 1u << 20);
	if (mysql_errno(m)) {
		err = db_error(m, why, whysz, "connecting as the admin");
		goto out;
	}
	err = column(m, "SHOW DATABASES LIKE 'sipstone\\_%'", &dbs, why,
		     whysz);
	if (!err)
		err = column(m,
			     "SELECT DISTINCT User FROM mysql.user WHERE User "
			     "LIKE 'sipstone\\_run\\_%'",
			     &users, why, whysz);
	if (!err)
		err = buf_append(&dbs, "", 1);
	if (!err)
		err = buf_append(&users, "", 1);
	for (char *save = NULL,
		  *name = err ? NULL : strtok_r(dbs.data, "\n", &save);
	     !err && name; name = strtok_r(NULL, "\n", &save)) {
		if (!run_database_name(name) || kept(keep, name))
			continue;
		fprintf(out, "%s: database %s\n", label, name);
		(*found)++;
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS `%s`",
			 name);
		if (!dry_run)
			err = query(m, sql, why, whysz, "dropping a leftover");
	}
	for (char *save = NULL,
		  *name = err ? NULL : strtok_r(users.data, "\n", &save);
	     !err && name; name = strtok_r(NULL, "\n", &save)) {
		if (kept(keep, name))
			continue;
		fprintf(out, "%s: account %s\n", label, name);
		(*found)++;
		if (!dry_run)
			err = drop_account(m, name, why, whysz);
	}
	fflush(out);
out:
	buf_free(&dbs);
	buf_free(&users);
	mysql_close(m);
	return err;
}
