#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

struct host {
	char name[TOPO_NAME_MAX];
	bool local;
	struct ssh_opts opts; /* points into the strings below */
	char address[64], user[64], key[256], known_hosts[512];
	struct ssh_conn *conn;
};

struct host_proc {
	struct ssh_proc *remote;
	pid_t pid; /* local */
	bool reaped;
	int status;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int host_open(struct host **hp, const struct inventory_host *ih,
	      bool accept_new, char *why, size_t whysz)
{
	struct host *h = calloc(1, sizeof(*h));
	const char *home = getenv("HOME");
	int err;

	if (!h)
		return ENOMEM;
	snprintf(h->name, sizeof(h->name), "%s", ih->name);
	h->local = ih->local;
	if (h->local) {
		*hp = h;
		return 0;
	}
	snprintf(h->address, sizeof(h->address), "%s", ih->address);
	snprintf(h->user, sizeof(h->user), "%s",
		 ih->ssh_user[0] ? ih->ssh_user : "root");
	snprintf(h->key, sizeof(h->key), "%s", ih->ssh_key);
	if (ih->known_hosts[0])
		snprintf(h->known_hosts, sizeof(h->known_hosts), "%s",
			 ih->known_hosts);
	else
		snprintf(h->known_hosts, sizeof(h->known_hosts),
			 "%s/.ssh/known_hosts", home ? home : "/root");
	h->opts.host = h->address;
	h->opts.port = ih->ssh_port;
	h->opts.user = h->user;
	h->opts.key_file = h->key[0] ? h->key : NULL;
	h->opts.agent = ih->ssh_agent;
	h->opts.known_hosts = h->known_hosts;
	h->opts.accept_new = accept_new;
	err = ssh_connect(&h->conn, &h->opts, why, whysz);
	if (err) {
		free(h);
		return err;
	}
	/* Later connections (one per role) must find the key known now. */
	h->opts.accept_new = false;
	*hp = h;
	return 0;
}

void host_close(struct host *h)
{
	if (!h)
		return;
	ssh_close(h->conn);
	free(h);
}

const char *host_name(const struct host *h)
{
	return h->name;
}

bool host_is_local(const struct host *h)
{
	return h->local;
}

static int drain(int fd, struct buf *b, bool *eof)
{
	char chunk[8192];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n > 0) {
		size_t take = (size_t)n;

		if (b->len + take > b->max - 1)
			take = b->max - 1 - b->len;
		return buf_append(b, chunk, take);
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		*eof = true;
	return 0;
}

static int finish(struct buf *b, char **out, size_t *len)
{
	int err = buf_append(b, "", 1);

	if (err)
		return err;
	*out = b->data;
	*len = b->len - 1;
	b->data = NULL;
	return 0;
}

static int local_run(const char *cmd, unsigned timeout_ms,
		     struct ssh_result *res, char *why, size_t whysz)
{
	int out[2] = {-1, -1}, err_pipe[2] = {-1, -1}, status, err = 0;
	uint64_t deadline = now_ms() + timeout_ms;
	bool out_eof = false, err_eof = false;
	struct buf ob, eb;
	pid_t pid;

	buf_init(&ob, 4u << 20);
	buf_init(&eb, 4u << 20);
	if (pipe2(out, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
		err = errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		err = errno;
		goto out;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err_pipe[1], STDERR_FILENO);
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err_pipe[1]);
	out[1] = err_pipe[1] = -1;
	while (!out_eof || !err_eof) {
		struct pollfd pfd[2] = {{out_eof ? -1 : out[0], POLLIN, 0},
					{err_eof ? -1 : err_pipe[0], POLLIN,
					 0}};
		uint64_t now = now_ms();

		if (now >= deadline) {
			/* Its whole process group: what it started goes too. */
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			snprintf(why, whysz,
				 "local: \"%.80s\" did not finish within %u "
				 "ms",
				 cmd, timeout_ms);
			err = ETIMEDOUT;
			goto out;
		}
		poll(pfd, 2, (int)(deadline - now));
		if (!out_eof && pfd[0].revents)
			err = drain(out[0], &ob, &out_eof);
		if (!err && !err_eof && pfd[1].revents)
			err = drain(err_pipe[0], &eb, &err_eof);
		if (err)
			break;
	}
	waitpid(pid, &status, 0);
	if (err)
		goto out;
	err = finish(&ob, &res->out, &res->outlen);
	if (!err)
		err = finish(&eb, &res->err, &res->errlen);
	if (err) {
		free(res->out);
		res->out = NULL;
		goto out;
	}
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err_pipe[i] >= 0)
			close(err_pipe[i]);
	}
	buf_free(&ob);
	buf_free(&eb);
	return err;
}

int host_run(struct host *h, const char *cmd, unsigned timeout_ms,
	     struct ssh_result *res, char *why, size_t whysz)
{
	memset(res, 0, sizeof(*res));
	if (h->local)
		return local_run(cmd, timeout_ms ? timeout_ms : 10000, res,
				 why, whysz);
	return ssh_run(h->conn, cmd, res, why, whysz);
}

static int copy_file(const char *from, const char *to, char *why, size_t whysz)
{
	char chunk[65536];
	struct stat st;
	int in, out, err = 0;

	if (strcmp(from, to) == 0)
		return 0;
	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		err = errno;
		snprintf(why, whysz, "cannot read %s: %s", from,
			 strerror(err));
		if (in >= 0)
			close(in);
		return err;
	}
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		   st.st_mode & 0777);
	if (out < 0) {
		err = errno;
		snprintf(why, whysz, "cannot write %s: %s", to, strerror(err));
		close(in);
		return err;
	}
	for (;;) {
		ssize_t n = read(in, chunk, sizeof(chunk));

		if (n == 0)
			break;
		if (n < 0 || write(out, chunk, (size_t)n) != n) {
			err = errno ? errno : EIO;
			snprintf(why, whysz, "copying %s to %s: %s", from, to,
				 strerror(err));
			break;
		}
	}
	fchmod(out, st.st_mode & 0777);
	close(in);
	if (close(out) != 0 && !err)
		err = errno;
	return err;
}

int host_put(struct host *h, const char *local, const char *remote, char *why,
	     size_t whysz)
{
	if (h->local)
		return copy_file(local, remote, why, whysz);
	return ssh_put(h->conn, local, remote, why, whysz);
}

int host_get(struct host *h, const char *remote, const char *local, char *why,
	     size_t whysz)
{
	if (h->local)
		return copy_file(remote, local, why, whysz);
	return ssh_get(h->conn, remote, local, why, whysz);
}

int host_spawn(struct host *h, const char *cmd, const char *stderr_log,
	       struct host_proc **pp, int *to_fd, int *from_fd, char *why,
	       size_t whysz)
{
	struct host_proc *p = calloc(1, sizeof(*p));
	int in[2] = {-1, -1}, out[2] = {-1, -1}, logfd = -1, err = 0;
	char *wrapped = NULL;

	if (!p)
		return ENOMEM;
	if (!h->local) {
		err = ssh_spawn(&p->remote, &h->opts, cmd, stderr_log, to_fd,
				from_fd, why, whysz);
		if (err) {
			free(p);
			return err;
		}
		*pp = p;
		return 0;
	}
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		err = errno;
		goto out;
	}
	logfd = open(stderr_log ? stderr_log : "/dev/null",
		     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		err = errno;
		snprintf(why, whysz, "cannot write %s: %s", stderr_log,
			 strerror(err));
		goto out;
	}
	/* "exec": the shell becomes the role, so its PID is ours. */
	if (asprintf(&wrapped, "exec %s", cmd) < 0) {
		err = ENOMEM;
		goto out;
	}
	p->pid = fork();
	if (p->pid < 0) {
		err = errno;
		goto out;
	}
	if (p->pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execl("/bin/sh", "sh", "-c", wrapped, (char *)NULL);
		_exit(127);
	}
	*to_fd = in[1];
	*from_fd = out[0];
	in[1] = out[0] = -1;
	*pp = p;
	p = NULL;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	if (logfd >= 0)
		close(logfd);
	free(wrapped);
	free(p);
	return err;
}

long host_proc_pid(struct host_proc *p)
{
	return p->remote ? ssh_proc_pid(p->remote) : (long)p->pid;
}

bool host_proc_done(struct host_proc *p, int *status)
{
	int st;

	if (p->remote)
		return ssh_proc_done(p->remote, status);
	if (!p->reaped && waitpid(p->pid, &st, WNOHANG) == p->pid) {
		p->reaped = true;
		p->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	}
	if (p->reaped && status)
		*status = p->status;
	return p->reaped;
}

int host_proc_signal(struct host *h, struct host_proc *p, int sig)
{
	struct ssh_result res;
	char cmd[64], why[SSH_WHY_MAX];
	long pid = host_proc_pid(p);
	int err;

	if (pid <= 1 || host_proc_done(p, NULL))
		return ESRCH;
	if (!p->remote)
		return kill((pid_t)pid, sig) ? errno : 0;
	snprintf(cmd, sizeof(cmd), "kill -%d %ld", sig, pid);
	err = host_run(h, cmd, 5000, &res, why, sizeof(why));
	if (err)
		return err;
	err = res.status == 0 ? 0 : ESRCH;
	ssh_result_free(&res);
	return err;
}

void host_proc_free(struct host_proc *p)
{
	if (!p)
		return;
	if (p->remote)
		ssh_proc_free(p->remote);
	else if (!p->reaped && p->pid > 0)
		waitpid(p->pid, NULL, WNOHANG);
	free(p);
}
