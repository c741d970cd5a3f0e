/* Tests for the orchestrator's SSH layer against a real sshd. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh.h"
#include "sshd.h"
#include "test.h"

static void opts_for(const struct sshd *s, struct ssh_opts *o,
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

static const char *tmp_path(const char *name)
{
	return test_path(test_tmp_dir(), name);
}

/* Starts s, writes "kh" listing it with its real key (wrong = false) or
 * another, and fills o to reach s through that file. */
static void sshd_start_known(struct sshd *s, struct ssh_opts *o, bool wrong)
{
	sshd_start(s);
	sshd_write_known_hosts(s, tmp_path("kh"), wrong);
	opts_for(s, o, tmp_path("kh"));
}

/* ssh_connect() through o fails with want; its reason names a and b. */
static void expect_refused(const struct ssh_opts *o, int want, const char *a,
			   const char *b)
{
	char why[SSH_WHY_MAX] = "";
	struct ssh_conn *c = NULL;

	ASSERT_EQ(ssh_connect(&c, o, why, sizeof(why)), want);
	ASSERT_MSG(strstr(why, a) && strstr(why, b), "%s", why);
}

TEST_TIMEOUT(ssh_run_collects_output_and_status, 20)
{
	char why[SSH_WHY_MAX] = "";
	struct ssh_result r = {0};
	struct ssh_conn *c = NULL;
	struct ssh_opts o;
	struct sshd s;

	sshd_start_known(&s, &o, false);
	ASSERT_MSG(ssh_connect(&c, &o, why, sizeof(why)) == 0, "%s", why);
	ASSERT_EQ(ssh_run(c, "echo hello; echo oops >&2; exit 3", &r, why,
			  sizeof(why)),
		  0);
	ASSERT_STR(r.out, "hello\n");
	ASSERT_STR(r.err, "oops\n");
	ASSERT_EQ(r.status, 3);
	ssh_result_free(&r);
	/* A second command on the same connection. */
	ASSERT_EQ(ssh_run(c, "uname -m", &r, why, sizeof(why)), 0);
	ASSERT(r.outlen > 1 && r.status == 0);
	ssh_result_free(&r);
	ssh_close(c);
	sshd_stop(&s);
}

TEST_TIMEOUT(ssh_unknown_host_key_refused_unless_accept_new, 20)
{
	char why[SSH_WHY_MAX] = "";
	struct ssh_conn *c = NULL;
	const char *kh = tmp_path("known_hosts");
	struct ssh_opts o;
	struct sshd s;
	size_t len;
	char *text;

	sshd_start(&s);
	opts_for(&s, &o, kh);
	expect_refused(&o, EPERM, "host key not in", "--accept-new");
	o.accept_new = true;
	ASSERT_MSG(ssh_connect(&c, &o, why, sizeof(why)) == 0, "%s", why);
	ssh_close(c);
	/* It was written down: trusted from now on, without accept-new. */
	text = test_read_file(kh, &len);
	ASSERT(strstr(text, "[127.0.0.1]:"));
	free(text);
	o.accept_new = false;
	ASSERT_MSG(ssh_connect(&c, &o, why, sizeof(why)) == 0, "%s", why);
	ssh_close(c);
	sshd_stop(&s);
}

TEST_TIMEOUT(ssh_changed_host_key_refused_even_with_accept_new, 20)
{
	struct ssh_opts o;
	struct sshd s;

	sshd_start_known(&s, &o, true);
	o.accept_new = true;
	expect_refused(&o, EPERM, "host key differs", "ssh-keygen -R");
	sshd_stop(&s);
}

TEST_TIMEOUT(ssh_wrong_key_and_closed_port_said_exactly, 20)
{
	struct ssh_opts o;
	struct sshd s;
	uint16_t port;

	sshd_start_known(&s, &o, false);
	o.key_file = s.wrong_key;
	expect_refused(&o, EACCES, "refused", "authorized_keys");
	port = s.port;
	sshd_stop(&s);
	o.key_file = s.client_key;
	o.port = port;
	expect_refused(&o, ECONNREFUSED, "127.0.0.1 port", "cannot connect");
}

TEST_TIMEOUT(ssh_sftp_put_and_get_round_trip, 20)
{
	char why[SSH_WHY_MAX] = "", remote[600], script[600];
	static char big[300000];
	struct ssh_conn *c = NULL;
	struct ssh_result r = {0};
	struct ssh_opts o;
	struct sshd s;
	struct stat st;
	size_t len;
	char *back;
	FILE *f;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	sshd_start_known(&s, &o, false);
	ASSERT_MSG(ssh_connect(&c, &o, why, sizeof(why)) == 0, "%s", why);
	snprintf(remote, sizeof(remote), "%s/remote.bin", test_tmp_dir());
	ASSERT_MSG(ssh_put_data(c, big, sizeof(big), remote, 0600, why,
				sizeof(why)) == 0,
		   "%s", why);
	ASSERT_MSG(ssh_get(c, remote, tmp_path("back.bin"), why,
			   sizeof(why)) == 0,
		   "%s", why);
	back = test_read_file(tmp_path("back.bin"), &len);
	ASSERT_EQ(len, sizeof(big));
	ASSERT(memcmp(back, big, len) == 0);
	free(back);
	/* ssh_put keeps the mode: an executable stays one. */
	snprintf(script, sizeof(script), "%s/hello.sh", test_tmp_dir());
	f = fopen(script, "w");
	ASSERT(f);
	fputs("#!/bin/sh\necho it runs\n", f);
	fclose(f);
	chmod(script, 0755);
	snprintf(remote, sizeof(remote), "%s/copied.sh", test_tmp_dir());
	ASSERT_MSG(ssh_put(c, script, remote, why, sizeof(why)) == 0, "%s",
		   why);
	ASSERT_EQ(stat(remote, &st), 0);
	ASSERT_EQ(st.st_mode & 0777, 0755);
	ASSERT_EQ(ssh_run(c, remote, &r, why, sizeof(why)), 0);
	ASSERT_STR(r.out, "it runs\n");
	ssh_result_free(&r);
	ASSERT_EQ(ssh_get(c, "/nonexistent/file", tmp_path("x"), why,
			  sizeof(why)),
		  ENOENT);
	ASSERT(strstr(why, "cannot open /nonexistent/file"));
	ssh_close(c);
	sshd_stop(&s);
}

static bool read_line(int fd, char *line, size_t size, int timeout_ms)
{
	size_t n = 0;

	while (n < size - 1) {
		struct pollfd pfd = {fd, POLLIN, 0};
		char ch;

		if (poll(&pfd, 1, timeout_ms) <= 0 || read(fd, &ch, 1) != 1)
			return false;
		if (ch == '\n')
			break;
		line[n++] = ch;
	}
	line[n] = '\0';
	return true;
}

static bool wait_done(struct ssh_proc *p, int *status)
{
	for (int i = 0; i < 500; i++) {
		if (ssh_proc_done(p, status))
			return true;
		usleep(10000);
	}
	return false;
}

TEST_TIMEOUT(ssh_spawn_pipes_stdio_and_ends_on_eof, 20)
{
	char why[SSH_WHY_MAX] = "", line[256];
	struct ssh_proc *p = NULL;
	struct ssh_opts o;
	struct sshd s;
	int to, from, status = 99;
	size_t len;
	char *log;

	sshd_start_known(&s, &o, false);
	ASSERT_MSG(ssh_spawn(&p, &o, "sh -c 'echo started >&2; cat'",
			     tmp_path("err.log"), &to, &from, why,
			     sizeof(why)) == 0,
		   "%s", why);
	ASSERT_EQ(write(to, "{\"cmd\":\"ping\"}\n", 15), 15);
	ASSERT(read_line(from, line, sizeof(line), 5000));
	ASSERT_STR(line, "{\"cmd\":\"ping\"}");
	ASSERT(ssh_proc_pid(p) > 1);
	/* The PID is the real remote process (here: on this machine). */
	ASSERT_EQ(kill((pid_t)ssh_proc_pid(p), 0), 0);
	close(to);
	ASSERT(wait_done(p, &status));
	ASSERT_EQ(status, 0);
	ASSERT(!read_line(from, line, sizeof(line), 1000));
	log = test_read_file(tmp_path("err.log"), &len);
	ASSERT_STR(log, "started\n");
	free(log);
	close(from);
	ssh_proc_free(p);
	sshd_stop(&s);
}

TEST_TIMEOUT(ssh_spawned_process_ended_by_pid, 20)
{
	char why[SSH_WHY_MAX] = "", cmd[64];
	struct ssh_result r = {0};
	struct ssh_proc *p = NULL;
	struct ssh_conn *c = NULL;
	struct ssh_opts o;
	struct sshd s;
	int to, from, status = 99;

	sshd_start_known(&s, &o, false);
	ASSERT_MSG(ssh_spawn(&p, &o, "sleep 60", NULL, &to, &from, why,
			     sizeof(why)) == 0,
		   "%s", why);
	for (int i = 0; i < 500 && !ssh_proc_pid(p); i++)
		usleep(10000);
	ASSERT(ssh_proc_pid(p) > 1);
	ASSERT_MSG(ssh_connect(&c, &o, why, sizeof(why)) == 0, "%s", why);
	snprintf(cmd, sizeof(cmd), "kill -TERM %ld", ssh_proc_pid(p));
	ASSERT_EQ(ssh_run(c, cmd, &r, why, sizeof(why)), 0);
	ASSERT_EQ(r.status, 0);
	ssh_result_free(&r);
	ASSERT(wait_done(p, &status));
	ASSERT(status != 0);
	ASSERT(kill((pid_t)ssh_proc_pid(p), 0) != 0);
	close(to);
	close(from);
	ssh_proc_free(p);
	ssh_close(c);
	sshd_stop(&s);
}
