/*
 * Tests for what a killed or interrupted orchestrator leaves behind
 * (issue 16, item 4): `orchestrator cleanup` after a kill -9 mid-run
 * leaves no directory, process, mariadbd or database; SIGHUP tears down
 * like SIGINT; a second SIGINT cuts the teardown short.  Each test
 * keeps its run directories in its own SIPSTONE_TMPDIR, so cleanup
 * never meets another test's (or engineer's) runs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "mariadb.h"
#include "orchrun.h"
#include "proc.h"
#include "results.h"
#include "sshd.h"
#include "test.h"

/* A fresh directory of the test's as SIPSTONE_TMPDIR for the
 * orchestrators started from now on; its path into out.  Short, under
 * /tmp: mariadbd's socket path in it must fit sun_path (108 bytes). */
static void private_tmpdir(char *out, size_t size)
{
	snprintf(out, size, "/tmp/sshc-XXXXXX");
	ASSERT(mkdtemp(out));
	ASSERT_EQ(setenv("SIPSTONE_TMPDIR", out, 1), 0);
}

/* How many entries of dir start with "sipstone-". */
static int run_dirs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ASSERT(d);
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "sipstone-", 9);
	closedir(d);
	return n;
}

/* How many processes have an argument naming something in dir (the
 * roles' configs, a managed mariadbd's --datadir). */
static int procs_using(const char *dir)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	ASSERT(d);
	while ((e = readdir(d))) {
		char path[300], line[8192];
		ssize_t got;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9' ||
		    strtol(e->d_name, NULL, 10) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		got = read(fd, line, sizeof(line) - 1);
		close(fd);
		for (ssize_t i = 0; i < got; i++)
			if (!line[i])
				line[i] = ' ';
		line[got > 0 ? got : 0] = '\0';
		n += strstr(line, dir) != NULL;
	}
	closedir(d);
	return n;
}

/*
 * Waits (10 s at most) until every "pid N" of log_name has ended and
 * been reaped: the killed orchestrator's children belong to init (or
 * to this process, when it is their subreaper), which reaps them a
 * little after they die.
 */
static void wait_reaped(const char *log_name)
{
	size_t len;
	char *log = test_read_file(log_name, &len);

	for (int i = 0; i < 100; i++) {
		bool alive = false;

		for (char *p = log; (p = strstr(p, ", pid "));) {
			long pid = strtol(p + 6, &p, 10);

			if (pid > 1) {
				waitpid((pid_t)pid, NULL, WNOHANG);
				alive = alive || kill((pid_t)pid, 0) == 0;
			}
		}
		if (!alive)
			break;
		usleep(100 * 1000);
	}
	free(log);
}

/* Starts `orchestrator run t.json` and reads its output until the
 * loader is ready (inside the first 60 s step). */
static void start_until_loading(struct proc *p, char *out, size_t *n,
				size_t size)
{
	const char *argv[] = {
		"orchestrator",	       "run",	    "t.json",  "--hosts",
		orchrun_local_hosts(), "--results", "results", NULL};

	proc_start(p, argv);
	orchrun_read_until(p->from_child, out, n, size, "[start] ld1 (loader)",
			   60000);
	ASSERT_MSG(strstr(out, "[start] ld1 (loader)"), "%s", out);
}

static bool db_answers(uint16_t port)
{
	MYSQL *m = mysql_init(NULL);
	unsigned timeout = 2;
	bool up;

	ASSERT(m);
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_real_connect(m, "127.0.0.1", "nobody", "x", NULL, port, NULL, 0);
	/* 1045 access denied: something answered. */
	up = mysql_errno(m) != 2002 && mysql_errno(m) != 2003;
	mysql_close(m);
	return up;
}

TEST_TIMEOUT(hardening_cleanup_after_kill9_leaves_nothing, 150)
{
	static char out[65536];
	const char *dry[] = {"orchestrator",	    "cleanup",	 "--hosts",
			     orchrun_local_hosts(), "--dry-run", NULL};
	const char *clean[] = {"orchestrator", "cleanup", "--hosts",
			       orchrun_local_hosts(), NULL};
	const char *again[] = {"orchestrator",
			       "run",
			       "t.json",
			       "--hosts",
			       orchrun_local_hosts(),
			       "--deploy-only",
			       "--results",
			       "results2",
			       NULL};
	char tmp[600];
	struct proc p;
	size_t n = 0, len;
	char *log;
	uint16_t db_port;

	orchrun_prepare("s0p1-int", NULL);
	db_port = fixture_port(1);
	private_tmpdir(tmp, sizeof(tmp));
	start_until_loading(&p, out, &n, sizeof(out));
	proc_signal(&p, SIGKILL);
	proc_stop(&p, 10000);
	test_write_file("run.log", out);
	/* What a killed run leaves: its directory, mariadbd, roles. */
	ASSERT_EQ(run_dirs(tmp), 1);
	ASSERT_MSG(procs_using(tmp) >= 1, "nothing left running in %s", tmp);
	ASSERT(db_answers(db_port));

	/* The next run says so at its start. */
	ASSERT(proc_run(again, "again.log", 60000) >= 0);
	log = test_read_file("again.log", &len);
	ASSERT_MSG(strstr(log, "warning: 1 work directory of earlier runs "
			       "left in") &&
			   strstr(log, "orchestrator cleanup --hosts"),
		   "%s", log);
	free(log);

	/* --dry-run lists, removes nothing. */
	ASSERT_EQ(proc_run(dry, "dry.log", 60000), 0);
	log = test_read_file("dry.log", &len);
	ASSERT_MSG(strstr(log, "local: directory ") &&
			   strstr(log, "(--datadir=") &&
			   strstr(log, "local: process "),
		   "%s", log);
	free(log);
	ASSERT_EQ(run_dirs(tmp), 1);
	ASSERT(procs_using(tmp) >= 1);

	ASSERT_EQ(proc_run(clean, "clean.log", 60000), 0);
	log = test_read_file("clean.log", &len);
	ASSERT_MSG(strstr(log, "local: removed "), "%s", log);
	free(log);
	ASSERT_EQ(run_dirs(tmp), 0);
	ASSERT_EQ(procs_using(tmp), 0);
	/* Every role the killed run had started is gone, and mariadbd
	 * with its database and accounts (they lived in its datadir). */
	wait_reaped("run.log");
	orchrun_assert_no_survivors("run.log");
	ASSERT(!db_answers(db_port));
	/* Nothing more to find. */
	ASSERT_EQ(proc_run(clean, "clean2.log", 60000), 0);
	log = test_read_file("clean2.log", &len);
	ASSERT_MSG(strstr(log, "local: no leftovers"), "%s", log);
	free(log);
	ASSERT_EQ(rmdir(tmp), 0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The bundle of the run says aborted (interrupted). */
static void assert_aborted(void)
{
	char dir[600];
	struct res_run run;

	orchrun_load_bundle(&run, dir, sizeof(dir));
	ASSERT_STR(run.status, "aborted");
	ASSERT(strstr(run.reason, "interrupted"));
	res_run_clear(&run);
}

TEST_TIMEOUT(hardening_sighup_tears_down_like_sigint, 120)
{
	static char out[65536];
	char tmp[600];
	struct proc p;
	size_t n = 0;

	orchrun_prepare("s0p1-int", NULL);
	private_tmpdir(tmp, sizeof(tmp));
	start_until_loading(&p, out, &n, sizeof(out));
	/* The terminal went away. */
	proc_signal(&p, SIGHUP);
	orchrun_read_until(p.from_child, out, &n, sizeof(out), NULL, 60000);
	ASSERT_EQ(proc_stop(&p, 60000), 1);
	test_write_file("run.log", out);
	ASSERT_MSG(strstr(out, "[db] managed server stopped"), "%s", out);
	orchrun_assert_no_survivors("run.log");
	ASSERT_EQ(run_dirs(tmp), 0);
	ASSERT_EQ(procs_using(tmp), 0);
	assert_aborted();
	ASSERT_EQ(rmdir(tmp), 0);
}

TEST_TIMEOUT(hardening_second_sigint_cuts_the_teardown_short, 120)
{
	static char out[65536];
	char tmp[600];
	struct proc p;
	size_t n = 0;
	const char *sf;
	long sf_pid;
	uint64_t t0;

	orchrun_prepare("s0p1-int", NULL);
	private_tmpdir(tmp, sizeof(tmp));
	start_until_loading(&p, out, &n, sizeof(out));
	/* A frozen proxy makes the graceful teardown slow: the loader
	 * drains its calls in flight for 8 s, the proxy never answers
	 * "stop" (some 15 s in all). */
	sf = strstr(out, "[start] sf1 (proxy-stateful) on proxy1 ready, pid ");
	ASSERT_MSG(sf, "%s", out);
	sf_pid = strtol(strstr(sf, "pid ") + 4, NULL, 10);
	ASSERT(sf_pid > 1);
	sleep(1);
	ASSERT_EQ(kill((pid_t)sf_pid, SIGSTOP), 0);
	proc_signal(&p, SIGINT);
	usleep(500 * 1000);
	t0 = now_ms();
	proc_signal(&p, SIGINT);
	/* Its last line, not the end of its output: a stray child
	 * holding the pipe would stretch that. */
	orchrun_read_until(p.from_child, out, &n, sizeof(out), "[run] aborted",
			   30000);
	ASSERT_MSG(now_ms() - t0 < 5000,
		   "%llu ms from the second SIGINT to the end: %s",
		   (unsigned long long)(now_ms() - t0), out);
	ASSERT_EQ(proc_stop(&p, 10000), 1);
	test_write_file("run.log", out);
	/* Short, but still a cleanup. */
	orchrun_assert_no_survivors("run.log");
	ASSERT_EQ(run_dirs(tmp), 0);
	ASSERT_EQ(procs_using(tmp), 0);
	assert_aborted();
	ASSERT_EQ(rmdir(tmp), 0);
}

/* Copies /bin/sleep into dir and starts it from there for 60 s: a
 * process of a run directory, as a role is.  Returns its PID. */
static pid_t sleeper_in(const char *dir)
{
	char bin[700], cmd[1600];
	const char *argv[] = {"sh", "-c", cmd, NULL};
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/role", dir);
	snprintf(cmd, sizeof(cmd), "cp /bin/sleep '%s' && chmod 700 '%s'", bin,
		 bin);
	ASSERT_EQ(proc_run(argv, "cp.log", 5000), 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		execl(bin, bin, "60", (char *)NULL);
		_exit(127);
	}
	return pid;
}

TEST_TIMEOUT(hardening_cleanup_over_ssh_spares_a_live_run, 60)
{
	const char *clean[] = {"orchestrator", "cleanup", "--hosts",
			       "inv.json", NULL};
	char tmp[600], kh[600], ssh_port[8], dead[700], live_remote[700],
		live_work[700], lock[800];
	struct sshd s;
	struct stat st;
	pid_t dead_pid, live_pid;
	int status;
	size_t len;
	char *log;
	int fd;

	orchrun_need_root_and_mariadb();
	private_tmpdir(tmp, sizeof(tmp));
	sshd_start(&s);
	snprintf(kh, sizeof(kh), "%s/kh", test_tmp_dir());
	sshd_write_known_hosts(&s, kh, false);
	snprintf(ssh_port, sizeof(ssh_port), "%u", s.port);
	fixture_write("inv.json", "hosts/proxy1-over-ssh.json", "SSH_PORT",
		      ssh_port, "SSH_KEY", s.client_key, "KNOWN_HOSTS", kh,
		      NULL);
	/* A dead run's remote directory with its role still running. */
	snprintf(dead, sizeof(dead), "%s/sipstone-t-dead-1-%s", tmp,
		 "0123456789abcdef");
	ASSERT_EQ(mkdir(dead, 0700), 0);
	dead_pid = sleeper_in(dead);
	/* A live run: its local work directory locked, and its remote
	 * directory with a role. */
	snprintf(live_work, sizeof(live_work),
		 "%s/sipstone-work-t-live-2-abcDEF", tmp);
	ASSERT_EQ(mkdir(live_work, 0700), 0);
	snprintf(lock, sizeof(lock), "%s/.alive", live_work);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT(fd >= 0 && flock(fd, LOCK_EX) == 0);
	snprintf(live_remote, sizeof(live_remote), "%s/sipstone-t-live-2-%s",
		 tmp, "fedcba9876543210");
	ASSERT_EQ(mkdir(live_remote, 0700), 0);
	live_pid = sleeper_in(live_remote);

	status = proc_run(clean, "clean.log", 60000);
	log = test_read_file("clean.log", &len);
	ASSERT_MSG(status == 0, "exit %d: %s", status, log);
	/* Found over SSH as well as here (one machine, really). */
	ASSERT_MSG(strstr(log, "proxy1: directory ") && strstr(log, "proxy1: "
								    "process"
								    " "),
		   "%s", log);
	ASSERT_MSG(!strstr(log, "t-live-2"), "%s", log);
	free(log);
	ASSERT(stat(dead, &st) != 0);
	ASSERT_EQ(waitpid(dead_pid, NULL, 0), dead_pid);
	/* The live run is untouched. */
	ASSERT_EQ(stat(live_remote, &st), 0);
	ASSERT_EQ(stat(live_work, &st), 0);
	ASSERT_EQ(kill(live_pid, 0), 0);
	kill(live_pid, SIGKILL);
	waitpid(live_pid, NULL, 0);
	close(fd);
	sshd_stop(&s);
	{
		const char *rm[] = {"rm", "-rf", "--", tmp, NULL};

		ASSERT_EQ(proc_run(rm, "rm.log", 10000), 0);
	}
}

TEST_TIMEOUT(hardening_cleanup_drops_leftover_databases_and_accounts, 150)
{
	static char out[65536];
	const char *dry[] = {
		"orchestrator", "cleanup", "--hosts", orchrun_local_hosts(),
		"--dry-run",	"t.json",  NULL};
	const char *clean[] = {"orchestrator",	      "cleanup", "--hosts",
			       orchrun_local_hosts(), "t.json",	 NULL};
	char tmp[600], port[8], sql_out[4096];
	struct mariadb db;
	struct proc p;
	size_t n = 0, len;
	char *log;

	orchrun_need_root_and_mariadb();
	mariadb_start(&db, "other", NULL);
	snprintf(port, sizeof(port), "%u", db.port);
	fixture_write("t.json", "topo/unmanaged-int.json", "DBPORT", port,
		      NULL);
	private_tmpdir(tmp, sizeof(tmp));
	start_until_loading(&p, out, &n, sizeof(out));
	proc_signal(&p, SIGKILL);
	proc_stop(&p, 10000);
	test_write_file("run.log", out);
	ASSERT_EQ(mariadb_sql(&db,
			      "SELECT COUNT(*) FROM information_schema."
			      "schemata WHERE schema_name LIKE 'sipstone\\_%'",
			      sql_out, sizeof(sql_out)),
		  0);
	ASSERT_STR(sql_out, "1\n");

	ASSERT_EQ(proc_run(dry, "dry.log", 60000), 0);
	log = test_read_file("dry.log", &len);
	ASSERT_MSG(strstr(log, ": database sipstone_") && strstr(log, ": "
								      "account"
								      " sipsto"
								      "ne_"
								      "run_"),
		   "%s", log);
	free(log);
	ASSERT_EQ(proc_run(clean, "clean.log", 60000), 0);
	log = test_read_file("clean.log", &len);
	ASSERT_MSG(strstr(log, "dropped 2 leftovers"), "%s", log);
	free(log);
	ASSERT_EQ(mariadb_sql(&db,
			      "SELECT COUNT(*) FROM information_schema."
			      "schemata WHERE schema_name LIKE 'sipstone\\_%'",
			      sql_out, sizeof(sql_out)),
		  0);
	ASSERT_STR(sql_out, "0\n");
	ASSERT_EQ(mariadb_sql(&db,
			      "SELECT COUNT(*) FROM mysql.user WHERE User "
			      "LIKE 'sipstone\\_run\\_%'",
			      sql_out, sizeof(sql_out)),
		  0);
	ASSERT_STR(sql_out, "0\n");
	/* The database the test made itself is not a run's. */
	ASSERT_EQ(mariadb_sql(&db, "SHOW DATABASES LIKE 'other'", sql_out,
			      sizeof(sql_out)),
		  0);
	ASSERT_STR(sql_out, "other\n");
	wait_reaped("run.log");
	orchrun_assert_no_survivors("run.log");
	ASSERT_EQ(run_dirs(tmp), 0);
	ASSERT_EQ(rmdir(tmp), 0);
	mariadb_stop(&db);
}
