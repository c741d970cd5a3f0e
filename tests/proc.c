#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void proc_argv_addv(struct proc_argv *a, const char *const *list)
{
	for (; list && *list; list++) {
		ASSERT_MSG(a->n + 1 < PROC_ARGV_MAX, "more than %d arguments",
			   PROC_ARGV_MAX - 1);
		a->v[a->n++] = *list;
	}
	a->v[a->n] = NULL;
}

void proc_argv_add(struct proc_argv *a, ...)
{
	const char *s;
	va_list ap;

	va_start(ap, a);
	while ((s = va_arg(ap, const char *))) {
		const char *one[] = {s, NULL};

		proc_argv_addv(a, one);
	}
	va_end(ap);
}

static void resolve(const char *prog, char *path, size_t size)
{
	struct stat st;

	if (strchr(prog, '/')) {
		snprintf(path, size, "%s", prog);
		return;
	}
	snprintf(path, size, "%s/%s", test_bin_dir(), prog);
	if (stat(path, &st) == 0)
		return;
	/* Not ours: let execvp search PATH. */
	snprintf(path, size, "%s", prog);
}

void proc_start(struct proc *p, const char *const argv[])
{
	int in[2], out[2], logfd;
	char path[512];
	const char *base;

	memset(p, 0, sizeof(*p));
	base = strrchr(argv[0], '/');
	snprintf(p->name, sizeof(p->name), "%s", base ? base + 1 : argv[0]);
	snprintf(p->log_path, sizeof(p->log_path), "%s/%s.log", test_tmp_dir(),
		 p->name);
	resolve(argv[0], path, sizeof(path));
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		test_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
	logfd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		     0644);
	if (logfd < 0)
		test_fail(__FILE__, __LINE__, "open %s", p->log_path);
	p->pid = fork();
	if (p->pid < 0)
		test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
	if (p->pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execvp(path, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(logfd);
	p->to_child = in[1];
	p->from_child = out[0];
	fcntl(p->from_child, F_SETFL, O_NONBLOCK);
}

void proc_send(struct proc *p, const char *line)
{
	size_t n = strlen(line);

	if (p->to_child < 0 || write(p->to_child, line, n) != (ssize_t)n ||
	    write(p->to_child, "\n", 1) != 1)
		test_fail(__FILE__, __LINE__, "%s: cannot write to stdin",
			  p->name);
}

/* Takes one line out of the buffer into line (NUL-terminated). */
static bool take_line(struct proc *p, char *line, size_t size)
{
	char *nl = memchr(p->buf, '\n', p->len);
	size_t n;

	if (!nl)
		return false;
	n = (size_t)(nl - p->buf);
	if (n >= size)
		n = size - 1;
	memcpy(line, p->buf, n);
	line[n] = '\0';
	memmove(p->buf, nl + 1, p->len - (size_t)(nl + 1 - p->buf));
	p->len -= (size_t)(nl + 1 - p->buf);
	return true;
}

json_t *proc_read_json(struct proc *p, unsigned timeout_ms)
{
	static char line[1 << 16];
	uint64_t end = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = {p->from_child, POLLIN, 0};
		uint64_t now;
		ssize_t n;

		while (take_line(p, line, sizeof(line))) {
			json_error_t jerr;
			json_t *j = json_loads(line, 0, &jerr);

			if (j)
				return j;
			fprintf(stderr, "%s: not JSON on stdout: %s\n",
				p->name, line);
		}
		now = now_ms();
		if (now >= end)
			return NULL;
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		n = read(p->from_child, p->buf + p->len,
			 sizeof(p->buf) - p->len);
		if (n == 0)
			return NULL;
		if (n > 0)
			p->len += (size_t)n;
		if (p->len == sizeof(p->buf))
			test_fail(__FILE__, __LINE__, "%s: line too long",
				  p->name);
	}
}

json_t *proc_wait_event(struct proc *p, const char *event, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (now_ms() < end) {
		json_t *j = proc_read_json(p, (unsigned)(end - now_ms()));
		const char *e;

		if (!j)
			return NULL;
		e = json_string_value(json_object_get(j, "event"));
		if (e && strcmp(e, event) == 0)
			return j;
		json_decref(j);
	}
	return NULL;
}

json_t *proc_cmd(struct proc *p, const char *cmd, json_t *extra,
		 unsigned timeout_ms)
{
	static int next_id = 1;
	uint64_t end = now_ms() + timeout_ms;
	int id = next_id++;
	json_t *req = json_pack("{s:s,s:i}", "cmd", cmd, "id", id);
	char *text;

	if (extra)
		json_object_update_missing(req, extra);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	proc_send(p, text);
	free(text);
	while (now_ms() < end) {
		json_t *j = proc_read_json(p, (unsigned)(end - now_ms()));

		if (!j)
			return NULL;
		if (json_integer_value(json_object_get(j, "id")) == id &&
		    json_object_get(j, "ok"))
			return j;
		json_decref(j);
	}
	return NULL;
}

bool proc_exited(struct proc *p)
{
	if (!p->exited && p->pid > 0 &&
	    waitpid(p->pid, &p->status, WNOHANG) == p->pid)
		p->exited = true;
	return p->exited;
}

void proc_signal(struct proc *p, int sig)
{
	if (!proc_exited(p) && p->pid > 0)
		kill(p->pid, sig);
}

static bool wait_exit(struct proc *p, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	struct timespec pause = {0, 5 * 1000 * 1000};

	while (!proc_exited(p)) {
		if (now_ms() >= end)
			return false;
		nanosleep(&pause, NULL);
	}
	return true;
}

static int exit_code(const struct proc *p)
{
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	if (WIFSIGNALED(p->status))
		return 128 + WTERMSIG(p->status);
	return -1;
}

int proc_stop(struct proc *p, unsigned timeout_ms)
{
	if (p->to_child >= 0) {
		close(p->to_child);
		p->to_child = -1;
	}
	if (!wait_exit(p, timeout_ms)) {
		proc_signal(p, SIGTERM);
		if (!wait_exit(p, 2000)) {
			proc_signal(p, SIGKILL);
			wait_exit(p, 2000);
		}
	}
	if (p->from_child >= 0) {
		close(p->from_child);
		p->from_child = -1;
	}
	return exit_code(p);
}

int proc_run(const char *const argv[], const char *log_name,
	     unsigned timeout_ms)
{
	struct proc p;
	char path[512];
	int fd;

	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "%s", argv[0]);
	snprintf(p.log_path, sizeof(p.log_path), "%s/%s", test_tmp_dir(),
		 log_name);
	resolve(argv[0], path, sizeof(path));
	fd = open(p.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		test_fail(__FILE__, __LINE__, "open %s", p.log_path);
	p.pid = fork();
	if (p.pid < 0)
		test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
	if (p.pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execvp(path, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(fd);
	if (!wait_exit(&p, timeout_ms)) {
		kill(p.pid, SIGKILL);
		wait_exit(&p, 2000);
		return -1;
	}
	return exit_code(&p);
}

int proc_udp_to(uint16_t port, unsigned timeout_ms)
{
	struct timeval tv = {(time_t)(timeout_ms / 1000),
			     (suseconds_t)(timeout_ms % 1000) * 1000};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ASSERT(fd >= 0);
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	ASSERT(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

int proc_udp_bound(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ASSERT(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

void proc_expect_exits(const char *const *const *argvs, size_t n, int want)
{
	for (size_t k = 0; k < n; k++) {
		char log[32];
		int got;

		snprintf(log, sizeof(log), "a%zu.log", k + 1);
		got = proc_run(argvs[k], log, 5000);
		ASSERT_MSG(got == want, "%s %s...: exit %d, not %d (%s)",
			   argvs[k][0], argvs[k][1] ? argvs[k][1] : "", got,
			   want, log);
	}
}

uint16_t proc_free_port(void)
{
	for (int attempt = 0; attempt < 50; attempt++) {
		struct sockaddr_in sa = {.sin_family = AF_INET};
		socklen_t len = sizeof(sa);
		int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		uint16_t port = 0;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (t >= 0 && u >= 0 &&
		    bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    getsockname(t, (struct sockaddr *)&sa, &len) == 0 &&
		    bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			port = ntohs(sa.sin_port);
		if (t >= 0)
			close(t);
		if (u >= 0)
			close(u);
		if (port)
			return port;
	}
	test_fail(__FILE__, __LINE__, "no free port on 127.0.0.1");
}

void proc_dump_log(const struct proc *p)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "tail -n 30 '%s' >&2", p->log_path);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log at %s)\n", p->log_path);
}
