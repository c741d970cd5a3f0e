/*
 * Tests for the orchestrator's hardening (issue 16, items 1-5): names
 * that would reach a shell or walk directories refused at validation,
 * the one quoting helper, fresh work directories, the managed MariaDB's
 * secrets and grants, known_hosts with another key type and parallel
 * writers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "host.h"
#include "inventory.h"
#include "orchrun.h"
#include "proc.h"
#include "rundb.h"
#include "shquote.h"
#include "ssh.h"
#include "sshd.h"
#include "test.h"

/* Runs `sh -c 'printf %s <quoted s>'` and compares what came out. */
static void round_trip(const char *s)
{
	char q[512], cmd[600];
	const char *argv[] = {"sh", "-c", cmd, NULL};
	size_t len;
	char *out;

	ASSERT_EQ(shquote(q, sizeof(q), s), 0);
	snprintf(cmd, sizeof(cmd), "printf %%s %s >rt.out", q);
	ASSERT_EQ(proc_run(argv, "rt.log", 5000), 0);
	out = test_read_file("rt.out", &len);
	ASSERT_MSG(len == strlen(s) && !memcmp(out, s, len),
		   "sent [%s] got [%.*s]", s, (int)len, out);
	free(out);
}

TEST(hardening_shquote_escapes_every_byte)
{
	char q[64];

	ASSERT_EQ(shquote(q, sizeof(q), "plain"), 0);
	ASSERT_STR(q, "'plain'");
	ASSERT_EQ(shquote(q, sizeof(q), "x';id;'"), 0);
	ASSERT_STR(q, "'x'\\'';id;'\\'''");
	ASSERT_EQ(shquote(q, sizeof(q), ""), 0);
	ASSERT_STR(q, "''");
	/* Too long: an error and an empty quote, never a cut one. */
	ASSERT_EQ(shquote(q, 8, "abcdefghij"), ENAMETOOLONG);
	ASSERT_STR(q, "''");
	ASSERT_EQ(shquote(q, 8, "''''"), ENAMETOOLONG);
	ASSERT_STR(q, "''");
	round_trip("x';id;'");
	round_trip("$(id) `id` \"$HOME\" \\ ; | & > < * ? ~ ! # \t\n end");
	round_trip("'''");
	round_trip("-n");

	ASSERT(shquote_safe_name("proxy-1.a_b"));
	ASSERT(!shquote_safe_name("x';id;'"));
	ASSERT(!shquote_safe_name("../x"));
	ASSERT(!shquote_safe_name("a/b"));
	ASSERT(!shquote_safe_name(".hidden"));
	ASSERT(!shquote_safe_name("-rf"));
	ASSERT(!shquote_safe_name(""));
	ASSERT(!shquote_safe_name("a b"));
	ASSERT(shquote_safe_address("fe80::1%eth0"));
	ASSERT(shquote_safe_address("db-1.example.com"));
	ASSERT(!shquote_safe_address("127.0.0.1 --skip-grant-tables"));
	ASSERT(!shquote_safe_address("127.0.0.1;id"));
	ASSERT(!shquote_safe_address("-x"));
}

/* Whether a /tmp entry starts with prefix. */
static bool tmp_has(const char *prefix)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;
	bool found = false;

	ASSERT(d);
	while ((e = readdir(d)))
		found = found || !strncmp(e->d_name, prefix, strlen(prefix));
	closedir(d);
	return found;
}

TEST_TIMEOUT(hardening_hostile_names_refused_at_validate, 20)
{
	char mark[600], hosts[600];
	const char *validate[] = {
		"orchestrator",	       "validate", "t.json", "--hosts",
		orchrun_local_hosts(), NULL};
	const char *run[] = {
		"orchestrator",	       "run",	    "t.json",  "--hosts",
		orchrun_local_hosts(), "--results", "results", NULL};
	const char *inv[] = {"orchestrator", "validate", "t.json",
			     "--hosts",	     hosts,	 NULL};
	struct stat st;
	size_t len;
	char *log;

	/* Relative: the commands would run in the test's directory. */
	snprintf(mark, sizeof(mark), "executed");
	fixture_write("t.json", "topo/hostile-names.json", "MARK", mark, NULL);
	ASSERT_EQ(proc_run(validate, "validate.log", 5000), 2);
	log = test_read_file("validate.log", &len);
	/* Each name said at its place, with the allowed set. */
	ASSERT_MSG(strstr(log, "t.json:1:10: topology name \"x';touch"), "%s",
		   log);
	ASSERT_MSG(strstr(log, "t.json:2:24: node name \"../x\" is not "
			       "allowed: 1 to 64 of letters"),
		   "%s", log);
	ASSERT_MSG(strstr(log, "t.json:3:23: node name \"a/b\""), "%s", log);
	free(log);
	ASSERT_EQ(proc_run(run, "run.log", 10000), 2);
	ASSERT_MSG(stat(mark, &st) != 0, "a name was executed");
	ASSERT(stat("results", &st) != 0 || rmdir("results") == 0);
	ASSERT(!tmp_has("sipstone-x'"));

	/* The inventory: a host name and an address. */
	fixture_write("hosts.json", "hosts/hostile-names.json", "MARK", mark,
		      NULL);
	snprintf(hosts, sizeof(hosts), "%s/hosts.json", test_tmp_dir());
	fixture_write("t.json", "topo/busy.json", NULL);
	ASSERT_EQ(proc_run(inv, "inv.log", 5000), 2);
	log = test_read_file("inv.log", &len);
	ASSERT_MSG(strstr(log, "hosts.json:4:28: address \"127.0.0.1$(touch"),
		   "%s", log);
	ASSERT_MSG(strstr(log, "host name \"-oProxyCommand=x\" is not "
			       "allowed"),
		   "%s", log);
	free(log);
	ASSERT_MSG(stat(mark, &st) != 0, "an address was executed");
}

static void ssh_opts_for(const struct sshd *s, struct ssh_opts *o,
			 const char *known_hosts)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = s->port;
	o->user = s->user;
	o->key_file = s->client_key;
	o->known_hosts = known_hosts;
	o->timeout_ms = 5000;
}

TEST_TIMEOUT(hardening_known_key_of_another_type_is_a_mismatch, 30)
{
	char why[SSH_WHY_MAX] = "", kh[600];
	struct ssh_conn *c = NULL;
	struct ssh_opts o;
	struct sshd s;
	size_t len0, len1;
	char *before, *after;

	/* The server offers ECDSA; the file knows the host by ed25519. */
	sshd_start_typed(&s, "ecdsa");
	snprintf(kh, sizeof(kh), "%s/kh", test_tmp_dir());
	sshd_write_known_hosts(&s, kh, true);
	before = test_read_file(kh, &len0);
	ASSERT(strstr(before, "ssh-ed25519"));
	ssh_opts_for(&s, &o, kh);
	o.accept_new = true;
	ASSERT_EQ(ssh_connect(&c, &o, why, sizeof(why)), EPERM);
	ASSERT_MSG(strstr(why, "host key differs") && strstr(why, "another "
								  "type"),
		   "%s", why);
	after = test_read_file(kh, &len1);
	ASSERT_MSG(len0 == len1 && !memcmp(before, after, len0),
		   "known_hosts changed: %s", after);
	free(before);
	free(after);
	/* Its own key, written down, is accepted. */
	sshd_write_known_hosts(&s, kh, false);
	o.accept_new = false;
	ASSERT_MSG(ssh_connect(&c, &o, why, sizeof(why)) == 0, "%s", why);
	ssh_close(c);
	sshd_stop(&s);
}

struct accept_thread {
	struct ssh_opts o;
	int err;
	char why[SSH_WHY_MAX];
};

static void *accept_new(void *arg)
{
	struct accept_thread *t = arg;
	struct ssh_conn *c = NULL;

	t->err = ssh_connect(&c, &t->o, t->why, sizeof(t->why));
	if (!t->err)
		ssh_close(c);
	return NULL;
}

static size_t count_lines_with(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

TEST_TIMEOUT(hardening_parallel_accept_new_appends_once_keeps_comments, 40)
{
	static const char head[] = "# kept: a comment\n"
				   "[192.0.2.1]:2222 ssh-ed25519 "
				   "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UO"
				   "oqK"
				   "LsabgH5C9okWi0dh2l9GKJl\n";
	struct accept_thread t[8];
	pthread_t tid[8];
	char kh[600], spec[64];
	struct sshd s;
	size_t len;
	char *text;

	sshd_start(&s);
	snprintf(kh, sizeof(kh), "%s/kh", test_tmp_dir());
	test_write_file("kh", head);
	for (int i = 0; i < 8; i++) {
		ssh_opts_for(&s, &t[i].o, kh);
		t[i].o.accept_new = true;
		ASSERT_EQ(pthread_create(&tid[i], NULL, accept_new, &t[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(tid[i], NULL);
		ASSERT_MSG(t[i].err == 0, "%s", t[i].why);
	}
	text = test_read_file(kh, &len);
	ASSERT_MSG(!strncmp(text, head, strlen(head)), "%s", text);
	snprintf(spec, sizeof(spec), "[127.0.0.1]:%u ", s.port);
	ASSERT_MSG(count_lines_with(text, spec) == 1, "%s", text);
	free(text);
	sshd_stop(&s);
}

/* The old remote run directory of a run of "remote" starting at now +
 * k seconds: /tmp/sipstone-<topology>-<test>-<tp>-<UTC second>. */
static void old_style_path(char *out, size_t size, int k)
{
	char stamp[32];
	time_t when = time(NULL) + k;
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(out, size, "/tmp/sipstone-remote-register-udp-%s", stamp);
}

TEST_TIMEOUT(hardening_planted_work_dir_not_used_or_followed, 90)
{
	const char *argv[] = {"orchestrator", "run",	  "t.json",
			      "--hosts",      "inv.json", "--deploy-only",
			      "--results",    "results",  NULL};
	enum { PLANTED = 40 };
	char kh[600], trap[600], ssh_port[8], planted[PLANTED][80];
	struct sshd s;
	struct stat st;
	size_t len;
	char *text;
	DIR *d;
	struct dirent *e;
	int entries = 0;

	orchrun_prepare("remote", NULL);
	sshd_start(&s);
	snprintf(kh, sizeof(kh), "%s/kh", test_tmp_dir());
	sshd_write_known_hosts(&s, kh, false);
	snprintf(ssh_port, sizeof(ssh_port), "%u", s.port);
	fixture_write("inv.json", "hosts/proxy1-over-ssh.json", "SSH_PORT",
		      ssh_port, "SSH_KEY", s.client_key, "KNOWN_HOSTS", kh,
		      NULL);
	/* An attacker's symlinks at every name the run could have used
	 * in the next 40 s, to a directory of theirs. */
	snprintf(trap, sizeof(trap), "%s/trap", test_tmp_dir());
	ASSERT_EQ(mkdir(trap, 0777), 0);
	ASSERT_EQ(chmod(trap, 0777), 0);
	for (int k = 0; k < PLANTED; k++) {
		old_style_path(planted[k], sizeof(planted[k]), k);
		unlink(planted[k]);
		ASSERT_MSG(symlink(trap, planted[k]) == 0, "%s: %s",
			   planted[k], strerror(errno));
	}
	orchrun_expect(argv, 0, 60000);
	text = test_read_file("run.log", &len);
	ASSERT_MSG(strstr(text, "[deploy] proxy1: /tmp/sipstone-remote-"),
		   "%s", text);
	free(text);
	d = opendir(trap);
	ASSERT(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			entries++;
	closedir(d);
	ASSERT_EQ(stat(trap, &st), 0);
	/* Not chmod'ed through the link either. */
	ASSERT_EQ(st.st_mode & 0777, 0777);
	for (int k = 0; k < PLANTED; k++) {
		ASSERT_MSG(lstat(planted[k], &st) == 0 && S_ISLNK(st.st_mode),
			   "%s was replaced", planted[k]);
		unlink(planted[k]);
	}
	ASSERT_MSG(entries == 0,
		   "the run wrote %d files through a planted "
		   "symlink",
		   entries);
	ASSERT(!tmp_has("sipstone-work-remote-"));
	sshd_stop(&s);
}
