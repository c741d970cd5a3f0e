#include "ssh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "ssh"
#include "buf.h"
#include "log.h"
#include "ssh_knownhosts.h"

#define SSH_OUTPUT_MAX (4u << 20)
#define SSH_GET_MAX (256u << 20)

struct ssh_conn {
	int fd;
	LIBSSH2_SESSION *session;
	char name[160]; /* "user@host:port" for messages */
	unsigned timeout_ms;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init_library(void)
{
	init_rc = libssh2_init(0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void say(char *why, size_t whysz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whysz)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
}

static const char *last_error(struct ssh_conn *c)
{
	char *msg = NULL;
	int len = 0;

	libssh2_session_last_error(c->session, &msg, &len, 0);
	return msg && len ? msg : "unknown error";
}

/* Waits for the socket in the direction libssh2 is blocked on. */
static int wait_socket(struct ssh_conn *c, uint64_t deadline)
{
	int dir = libssh2_session_block_directions(c->session);
	struct pollfd pfd = {c->fd, 0, 0};
	uint64_t now = now_ms();

	if (now >= deadline)
		return ETIMEDOUT;
	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		pfd.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd.events |= POLLOUT;
	if (!pfd.events)
		pfd.events = POLLIN;
	if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
		return errno;
	return 0;
}

/* Repeats a libssh2 call while it would block, until the deadline. */
#define AGAIN(c, deadline, rc, call)             \
	do {                                     \
		(rc) = (call);                   \
	} while ((rc) == LIBSSH2_ERROR_EAGAIN && \
		 wait_socket((c), (deadline)) == 0)

/* The same for calls that return a pointer (NULL + EAGAIN). */
#define AGAIN_PTR(c, deadline, p, call)                      \
	do {                                                 \
		(p) = (call);                                \
	} while (!(p) &&                                     \
		 libssh2_session_last_errno((c)->session) == \
			 LIBSSH2_ERROR_EAGAIN &&             \
		 wait_socket((c), (deadline)) == 0)

static int tcp_connect(const char *host, uint16_t port, unsigned timeout_ms,
		       int *fdp, char *why, size_t whysz)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char service[8];
	int fd = -1, err, rc;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &ai);
	if (rc) {
		say(why, whysz, "%s: cannot resolve: %s", host,
		    gai_strerror(rc));
		return EHOSTUNREACH;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		struct pollfd pfd = {fd, POLLOUT, 0};
		socklen_t len = sizeof(err);

		if (errno != EINPROGRESS) {
			err = errno;
			goto out;
		}
		rc = poll(&pfd, 1, (int)timeout_ms);
		if (rc == 0) {
			err = ETIMEDOUT;
			goto out;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err)
			goto out;
	}
	err = 0;
	*fdp = fd;
	fd = -1;
out:
	if (err)
		say(why, whysz, "%s port %u: cannot connect: %s", host, port,
		    strerror(err));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

static int auth_agent(struct ssh_conn *c, const char *user, char *why,
		      size_t whysz)
{
	struct libssh2_agent_publickey *id = NULL, *prev = NULL;
	LIBSSH2_AGENT *agent;
	int err = EACCES;

	/* The agent talks over its own socket: blocking is simplest. */
	libssh2_session_set_blocking(c->session, 1);
	agent = libssh2_agent_init(c->session);
	if (!agent || libssh2_agent_connect(agent) ||
	    libssh2_agent_list_identities(agent)) {
		say(why, whysz,
		    "%s: cannot use ssh-agent (is SSH_AUTH_SOCK "
		    "set?)",
		    c->name);
		goto out;
	}
	while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
		if (libssh2_agent_userauth(agent, user, id) == 0) {
			err = 0;
			goto out;
		}
		prev = id;
	}
	say(why, whysz, "%s: no ssh-agent identity accepted for %s", c->name,
	    user);
out:
	if (agent) {
		libssh2_agent_disconnect(agent);
		libssh2_agent_free(agent);
	}
	libssh2_session_set_blocking(c->session, 0);
	return err;
}

void ssh_close(struct ssh_conn *c)
{
	if (!c)
		return;
	if (c->session) {
		uint64_t deadline = now_ms() + 1000;
		int rc;

		AGAIN(c, deadline, rc,
		      libssh2_session_disconnect(c->session, "done"));
		libssh2_session_free(c->session);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int ssh_connect(struct ssh_conn **cp, const struct ssh_opts *o, char *why,
		size_t whysz)
{
	const char *user = o->user && o->user[0] ? o->user : "root";
	uint16_t port = o->port ? o->port : 22;
	struct ssh_conn *c;
	uint64_t deadline;
	int err, rc;

	pthread_once(&init_once, init_library);
	if (init_rc) {
		say(why, whysz, "libssh2 would not start");
		return EPROTO;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->fd = -1;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	snprintf(c->name, sizeof(c->name), "%s@%s:%u", user, o->host, port);
	err = tcp_connect(o->host, port, c->timeout_ms, &c->fd, why, whysz);
	if (err)
		goto out;
	c->session = libssh2_session_init();
	if (!c->session) {
		err = ENOMEM;
		goto out;
	}
	libssh2_session_set_blocking(c->session, 0);
	deadline = now_ms() + c->timeout_ms;
	AGAIN(c, deadline, rc, libssh2_session_handshake(c->session, c->fd));
	if (rc) {
		say(why, whysz, "%s: SSH handshake failed: %s", c->name,
		    rc == LIBSSH2_ERROR_EAGAIN ? "timed out" : last_error(c));
		err = rc == LIBSSH2_ERROR_EAGAIN ? ETIMEDOUT : EPROTO;
		goto out;
	}
	{
		struct ssh_knownhosts_query q = {o->host, o->known_hosts,
						 o->accept_new};

		err = ssh_knownhosts_check(c->session, c->name, &q, port, why,
					   whysz);
	}
	if (err)
		goto out;
	if (o->agent) {
		err = auth_agent(c, user, why, whysz);
		goto out;
	}
	if (!o->key_file || !o->key_file[0]) {
		say(why, whysz, "%s: no key file and no agent to log in with",
		    c->name);
		err = EACCES;
		goto out;
	}
	AGAIN(c, deadline, rc,
	      libssh2_userauth_publickey_fromfile_ex(c->session, user,
						     (unsigned)strlen(user),
						     NULL, o->key_file, NULL));
	if (rc) {
		say(why, whysz,
		    "%s: key %s refused (%s); is its .pub in the host's "
		    "authorized_keys?",
		    c->name, o->key_file,
		    rc == LIBSSH2_ERROR_EAGAIN ? "timed out" : last_error(c));
		err = rc == LIBSSH2_ERROR_EAGAIN ? ETIMEDOUT : EACCES;
		goto out;
	}
out:
	if (err) {
		ssh_close(c);
		return err;
	}
	*cp = c;
	return 0;
}

static int append(struct buf *b, const char *p, size_t n)
{
	/* Past the maximum the rest is dropped, not an error. */
	if (b->len + n > b->max - 1)
		n = b->max - 1 - b->len;
	return buf_append(b, p, n);
}

static int terminate(struct buf *b, char **out, size_t *len)
{
	int err = buf_append(b, "", 1);

	if (err)
		return err;
	*out = b->data;
	*len = b->len - 1;
	b->data = NULL;
	return 0;
}

void ssh_result_free(struct ssh_result *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}

int ssh_run(struct ssh_conn *c, const char *cmd, struct ssh_result *res,
	    char *why, size_t whysz)
{
	uint64_t deadline = now_ms() + c->timeout_ms;
	LIBSSH2_CHANNEL *ch = NULL;
	struct buf out, err_out;
	char chunk[16384];
	int rc, err = 0, status;
	bool out_eof = false, err_eof = false;

	buf_init(&out, SSH_OUTPUT_MAX);
	buf_init(&err_out, SSH_OUTPUT_MAX);
	AGAIN_PTR(c, deadline, ch, libssh2_channel_open_session(c->session));
	if (!ch) {
		say(why, whysz, "%s: cannot open a channel: %s", c->name,
		    last_error(c));
		err = EPROTO;
		goto out;
	}
	AGAIN(c, deadline, rc, libssh2_channel_exec(ch, cmd));
	if (rc) {
		say(why, whysz, "%s: cannot run \"%.80s\": %s", c->name, cmd,
		    last_error(c));
		err = EPROTO;
		goto out;
	}
	while (!out_eof || !err_eof) {
		ssize_t n;
		bool progress = false;

		n = libssh2_channel_read(ch, chunk, sizeof(chunk));
		if (n > 0) {
			append(&out, chunk, (size_t)n);
			progress = true;
		} else if (n == 0 || (n < 0 && n != LIBSSH2_ERROR_EAGAIN)) {
			out_eof = n == 0 || libssh2_channel_eof(ch);
			if (n < 0)
				out_eof = true;
		}
		n = libssh2_channel_read_stderr(ch, chunk, sizeof(chunk));
		if (n > 0) {
			append(&err_out, chunk, (size_t)n);
			progress = true;
		} else if (n == 0 || (n < 0 && n != LIBSSH2_ERROR_EAGAIN)) {
			err_eof = true;
		}
		if (libssh2_channel_eof(ch) && !progress)
			break;
		if (!progress && wait_socket(c, deadline)) {
			say(why, whysz,
			    "%s: \"%.80s\" did not finish within %u ms",
			    c->name, cmd, c->timeout_ms);
			err = ETIMEDOUT;
			goto out;
		}
	}
	AGAIN(c, deadline, rc, libssh2_channel_close(ch));
	AGAIN(c, deadline, rc, libssh2_channel_wait_closed(ch));
	status = libssh2_channel_get_exit_status(ch);
	{
		char *signame = NULL;

		libssh2_channel_get_exit_signal(ch, &signame, NULL, NULL, NULL,
						NULL, NULL);
		if (signame) {
			status = -1;
			libssh2_free(c->session, signame);
		}
	}
	err = terminate(&out, &res->out, &res->outlen);
	if (!err)
		err = terminate(&err_out, &res->err, &res->errlen);
	if (err) {
		free(res->out);
		res->out = NULL;
		goto out;
	}
	res->status = status;
out:
	if (ch)
		libssh2_channel_free(ch);
	buf_free(&out);
	buf_free(&err_out);
	return err;
}

static LIBSSH2_SFTP *sftp_open(struct ssh_conn *c, uint64_t deadline,
			       char *why, size_t whysz)
{
	LIBSSH2_SFTP *sftp;

	AGAIN_PTR(c, deadline, sftp, libssh2_sftp_init(c->session));
	if (!sftp)
		say(why, whysz, "%s: cannot start SFTP: %s", c->name,
		    last_error(c));
	return sftp;
}

/* An SFTP read or write that returned n (< 0, or 0 for a write) into
 * why ("host: writing FILE failed: ..."): ETIMEDOUT or EIO. */
static int transfer_failed(struct ssh_conn *c, ssize_t n, const char *verb,
			   const char *remote, char *why, size_t whysz)
{
	say(why, whysz, "%s: %s %s failed: %s", c->name, verb, remote,
	    n == LIBSSH2_ERROR_EAGAIN ? "timed out" : last_error(c));
	return n == LIBSSH2_ERROR_EAGAIN ? ETIMEDOUT : EIO;
}

int ssh_put_data(struct ssh_conn *c, const void *data, size_t len,
		 const char *remote, int mode, char *why, size_t whysz)
{
	uint64_t deadline = now_ms() + c->timeout_ms;
	LIBSSH2_SFTP_HANDLE *h = NULL;
	LIBSSH2_SFTP *sftp;
	const char *p = data;
	int err = 0, rc;

	sftp = sftp_open(c, deadline, why, whysz);
	if (!sftp)
		return EPROTO;
	AGAIN_PTR(c, deadline, h,
		  libssh2_sftp_open_ex(sftp, remote, (unsigned)strlen(remote),
				       LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT |
					       LIBSSH2_FXF_TRUNC,
				       mode, LIBSSH2_SFTP_OPENFILE));
	if (!h) {
		say(why, whysz, "%s: cannot create %s: SFTP error %lu",
		    c->name, remote, libssh2_sftp_last_error(sftp));
		err = EIO;
		goto out;
	}
	while (len > 0) {
		ssize_t n;

		AGAIN(c, deadline, n, libssh2_sftp_write(h, p, len));
		if (n <= 0) {
			err = transfer_failed(c, n, "writing", remote, why,
					      whysz);
			goto out;
		}
		p += n;
		len -= (size_t)n;
	}
out:
	if (h)
		AGAIN(c, deadline, rc, libssh2_sftp_close_handle(h));
	AGAIN(c, deadline, rc, libssh2_sftp_shutdown(sftp));
	return err;
}

static int read_local(const char *path, char **data, size_t *len, int *mode)
{
	struct stat st;
	char *d = NULL;
	size_t got = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstat(fd, &st) < 0 || st.st_size > (off_t)SSH_GET_MAX) {
		err = errno ? errno : EFBIG;
		goto out;
	}
	d = malloc((size_t)st.st_size + 1);
	if (!d) {
		err = ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, d + got, (size_t)st.st_size - got);

		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			goto out;
		}
		got += (size_t)n;
	}
	*data = d;
	d = NULL;
	*len = got;
	*mode = (int)(st.st_mode & 0777);
out:
	free(d);
	close(fd);
	return err;
}

int ssh_put(struct ssh_conn *c, const char *local, const char *remote,
	    char *why, size_t whysz)
{
	char *data = NULL;
	size_t len = 0;
	int mode = 0644, err;

	err = read_local(local, &data, &len, &mode);
	if (err) {
		say(why, whysz, "cannot read %s: %s", local, strerror(err));
		return err;
	}
	err = ssh_put_data(c, data, len, remote, mode, why, whysz);
	free(data);
	return err;
}

int ssh_get(struct ssh_conn *c, const char *remote, const char *local,
	    char *why, size_t whysz)
{
	uint64_t deadline = now_ms() + c->timeout_ms;
	LIBSSH2_SFTP_HANDLE *h = NULL;
	LIBSSH2_SFTP *sftp;
	char chunk[32768];
	size_t total = 0;
	int fd = -1, err = 0, rc;

	sftp = sftp_open(c, deadline, why, whysz);
	if (!sftp)
		return EPROTO;
	AGAIN_PTR(c, deadline, h,
		  libssh2_sftp_open_ex(sftp, remote, (unsigned)strlen(remote),
				       LIBSSH2_FXF_READ, 0,
				       LIBSSH2_SFTP_OPENFILE));
	if (!h) {
		say(why, whysz, "%s: cannot open %s: SFTP error %lu", c->name,
		    remote, libssh2_sftp_last_error(sftp));
		err = ENOENT;
		goto out;
	}
	fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = errno;
		say(why, whysz, "cannot write %s: %s", local, strerror(err));
		goto out;
	}
	for (;;) {
		ssize_t n;

		AGAIN(c, deadline, n,
		      libssh2_sftp_read(h, chunk, sizeof(chunk)));
		if (n == 0)
			break;
		if (n < 0) {
			err = transfer_failed(c, n, "reading", remote, why,
					      whysz);
			goto out;
		}
		total += (size_t)n;
		if (total > SSH_GET_MAX || write(fd, chunk, (size_t)n) != n) {
			err = total > SSH_GET_MAX ? EFBIG : EIO;
			say(why, whysz, "%s: copying %s to %s: %s", c->name,
			    remote, local, strerror(err));
			goto out;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	if (h)
		AGAIN(c, deadline, rc, libssh2_sftp_close_handle(h));
	AGAIN(c, deadline, rc, libssh2_sftp_shutdown(sftp));
	return err;
}

/*
 * A remote process: its channel on its own connection, pumped by a
 * thread between the channel and a local socket pair.  The command is
 * run as "echo $$; exec CMD", so the first line of its output is its
 * PID, which the pump keeps and does not forward.
 */
struct ssh_proc {
	struct ssh_conn *conn;
	LIBSSH2_CHANNEL *ch;
	int local_in;  /* read end of the caller's stdin pipe */
	int local_out; /* write end of the caller's stdout pipe */
	int logfd;     /* its stderr, or -1 */
	pthread_t thread;
	bool started;
	atomic_long pid;
	atomic_bool done;
	atomic_bool stop;
	atomic_int status;
};

/* What the pump carries between its turns. */
struct pump_state {
	char pending[16384]; /* local input not yet sent */
	size_t npending;
	char pidline[32]; /* the remote PID line, until its newline */
	size_t npid;
	bool local_eof, have_pid;
};

/* Takes the PID line off the front of the remote stdout: the rest, past
 * *q, is the process's own output. */
static void take_pid(struct ssh_proc *p, struct pump_state *st, const char **q,
		     size_t *left)
{
	while (!st->have_pid && *left > 0) {
		char ch = *(*q)++;

		(*left)--;
		if (ch == '\n') {
			st->pidline[st->npid] = '\0';
			atomic_store(&p->pid, strtol(st->pidline, NULL, 10));
			st->have_pid = true;
		} else if (st->npid < sizeof(st->pidline) - 1) {
			st->pidline[st->npid++] = ch;
		}
	}
}

/* Writes all of q to the caller's stdout pipe (unless stopped). */
static void write_local(struct ssh_proc *p, const char *q, size_t left)
{
	while (left > 0 && !atomic_load(&p->stop)) {
		ssize_t w = write(p->local_out, q, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			struct pollfd o = {p->local_out, POLLOUT, 0};

			if (errno != EAGAIN)
				break;
			poll(&o, 1, 100);
			continue;
		}
		q += w;
		left -= (size_t)w;
	}
}

/* Remote stdout to the local side (after the PID line), remote stderr
 * to the log.  1 when something moved, 0 when nothing did, -1 when the
 * connection is dead (the host went away: the process is as good as
 * gone, not EAGAIN). */
static int pump_from_remote(struct ssh_proc *p, struct pump_state *st)
{
	char chunk[16384];
	int progress = 0;
	ssize_t n;

	n = libssh2_channel_read(p->ch, chunk, sizeof(chunk));
	if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
		return -1;
	if (n > 0) {
		const char *q = chunk;
		size_t left = (size_t)n;

		progress = 1;
		take_pid(p, st, &q, &left);
		write_local(p, q, left);
	}
	n = libssh2_channel_read_stderr(p->ch, chunk, sizeof(chunk));
	if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
		return -1;
	if (n > 0) {
		progress = 1;
		if (p->logfd >= 0 && write(p->logfd, chunk, (size_t)n) != n)
			log_debug("stderr log write failed");
	}
	return progress;
}

/* Local input to the remote stdin; its end becomes the channel's EOF.
 * 1, 0 or -1 as pump_from_remote. */
static int pump_to_remote(struct ssh_proc *p, struct pump_state *st)
{
	int progress = 0;
	ssize_t n;

	if (!st->local_eof && st->npending == 0) {
		n = read(p->local_in, st->pending, sizeof(st->pending));
		if (n > 0) {
			st->npending = (size_t)n;
			progress = 1;
		} else if (n == 0) {
			st->local_eof = true;
			libssh2_channel_send_eof(p->ch);
		}
	}
	if (st->npending > 0) {
		n = libssh2_channel_write(p->ch, st->pending, st->npending);
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
			return -1;
		if (n > 0) {
			memmove(st->pending, st->pending + n,
				st->npending - (size_t)n);
			st->npending -= (size_t)n;
			progress = 1;
		}
	}
	return progress;
}

/* Closes the channel: the process's exit status, or -1 (killed by a
 * signal, or no answer within 2 s). */
static int close_channel(struct ssh_proc *p)
{
	struct ssh_conn *c = p->conn;
	uint64_t deadline = now_ms() + 2000;
	int rc, status = -1;

	AGAIN(c, deadline, rc, libssh2_channel_close(p->ch));
	AGAIN(c, deadline, rc, libssh2_channel_wait_closed(p->ch));
	if (rc == 0) {
		char *signame = NULL;

		status = libssh2_channel_get_exit_status(p->ch);
		libssh2_channel_get_exit_signal(p->ch, &signame, NULL, NULL,
						NULL, NULL, NULL);
		if (signame) {
			status = -1;
			libssh2_free(c->session, signame);
		}
	}
	return status;
}

static void *pump(void *arg)
{
	struct ssh_proc *p = arg;
	struct ssh_conn *c = p->conn;
	struct pump_state st = {.npending = 0};
	int status;

	while (!atomic_load(&p->stop)) {
		struct pollfd pfd[2] = {{c->fd, POLLIN, 0},
					{p->local_in, POLLIN, 0}};
		int from = pump_from_remote(p, &st), to;

		if (from < 0)
			break;
		to = pump_to_remote(p, &st);
		if (to < 0)
			break;
		if (libssh2_channel_eof(p->ch) && !from && !to)
			break;
		if (from || to)
			continue;
		if (!(libssh2_session_block_directions(c->session) &
		      LIBSSH2_SESSION_BLOCK_OUTBOUND))
			pfd[0].events = POLLIN;
		else
			pfd[0].events = POLLIN | POLLOUT;
		if (st.local_eof || st.npending)
			pfd[1].fd = -1;
		poll(pfd, 2, 100);
	}
	status = close_channel(p);
	/* The local reader sees end-of-file once the process is gone. */
	close(p->local_out);
	p->local_out = -1;
	atomic_store(&p->status, status);
	atomic_store(&p->done, true);
	return NULL;
}

int ssh_spawn(struct ssh_proc **pp, const struct ssh_opts *o, const char *cmd,
	      const char *stderr_log, int *to_fd, int *from_fd, char *why,
	      size_t whysz)
{
	struct ssh_proc *p;
	uint64_t deadline;
	char *wrapped = NULL;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, rc, err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->local_in = -1;
	p->local_out = -1;
	p->logfd = -1;
	err = ssh_connect(&p->conn, o, why, whysz);
	if (err)
		goto out;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		err = errno;
		goto out;
	}
	if (stderr_log) {
		p->logfd = open(stderr_log,
				O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				0644);
		if (p->logfd < 0) {
			err = errno;
			say(why, whysz, "cannot write %s: %s", stderr_log,
			    strerror(err));
			goto out;
		}
	}
	if (asprintf(&wrapped, "echo $$; exec %s", cmd) < 0) {
		err = ENOMEM;
		goto out;
	}
	deadline = now_ms() + p->conn->timeout_ms;
	AGAIN_PTR(p->conn, deadline, p->ch,
		  libssh2_channel_open_session(p->conn->session));
	if (!p->ch) {
		say(why, whysz, "%s: cannot open a channel: %s", p->conn->name,
		    last_error(p->conn));
		err = EPROTO;
		goto out;
	}
	AGAIN(p->conn, deadline, rc, libssh2_channel_exec(p->ch, wrapped));
	if (rc) {
		say(why, whysz, "%s: cannot start \"%.80s\": %s",
		    p->conn->name, cmd, last_error(p->conn));
		err = EPROTO;
		goto out;
	}
	p->local_in = in[0];
	p->local_out = out[1];
	in[0] = out[1] = -1;
	fcntl(p->local_in, F_SETFL, O_NONBLOCK);
	fcntl(p->local_out, F_SETFL, O_NONBLOCK);
	err = pthread_create(&p->thread, NULL, pump, p);
	if (err)
		goto out;
	p->started = true;
	*to_fd = in[1];
	*from_fd = out[0];
	in[1] = out[0] = -1;
	*pp = p;
	p = NULL;
out:
	free(wrapped);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	ssh_proc_free(p);
	return err;
}

long ssh_proc_pid(struct ssh_proc *p)
{
	return atomic_load(&p->pid);
}

bool ssh_proc_done(struct ssh_proc *p, int *status)
{
	if (!atomic_load(&p->done))
		return false;
	if (status)
		*status = atomic_load(&p->status);
	return true;
}

void ssh_proc_free(struct ssh_proc *p)
{
	if (!p)
		return;
	if (p->started) {
		atomic_store(&p->stop, true);
		pthread_join(p->thread, NULL);
	}
	if (p->ch)
		libssh2_channel_free(p->ch);
	ssh_close(p->conn);
	if (p->local_in >= 0)
		close(p->local_in);
	if (p->local_out >= 0)
		close(p->local_out);
	if (p->logfd >= 0)
		close(p->logfd);
	free(p);
}
