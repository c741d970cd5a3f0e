#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct httpd {
	int listen_fd;
	int stop_pipe[2]; /* a byte on [1] ends the thread */
	uint16_t port;
	pthread_t thread;
	bool running;
	char path[128];
	char content_type[128];
	httpd_body_h *body;
	void *arg;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int httpd_parse_addr(const char *hostport, char *host, size_t hsize,
		     uint16_t *port)
{
	const char *colon, *start = hostport;
	size_t len;
	char *end;
	unsigned long p;

	if (hostport[0] == '[') {
		const char *close = strchr(hostport, ']');

		if (!close || close[1] != ':')
			return EINVAL;
		start = hostport + 1;
		len = (size_t)(close - start);
		colon = close + 1;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon)
			return EINVAL;
		len = (size_t)(colon - hostport);
	}
	if (len == 0 || len >= hsize)
		return EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p > 65535)
		return EINVAL;
	memcpy(host, start, len);
	host[len] = '\0';
	*port = (uint16_t)p;
	return 0;
}

/* Writes all of buf before deadline (non-blocking fd): true when done. */
static bool send_all(int fd, const char *buf, size_t len, long long deadline)
{
	while (len) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return false;
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static void answer(int fd, int code, const char *reason, const char *type,
		   const char *body, const char *extra, long long deadline)
{
	char head[512];
	size_t blen = body ? strlen(body) : 0;
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
			 code, reason, type, blen, extra ? extra : "");

	if (n > 0 && (size_t)n < sizeof(head) &&
	    send_all(fd, head, (size_t)n, deadline) && blen)
		send_all(fd, body, blen, deadline);
}

/*
 * Reads the request head (up to the blank line) before deadline.
 * Returns its length, 0 when the client went away or was too slow, or
 * -1 when it is larger than HTTPD_MAX_REQUEST.
 */
static long read_head(int fd, char *buf, long long deadline)
{
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return 0;
		n = recv(fd, buf + len, HTTPD_MAX_REQUEST - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return (long)len;
		if (len == HTTPD_MAX_REQUEST)
			return -1;
	}
}

/* One connection: one request, one answer, closed. */
static void serve(struct httpd *h, int fd)
{
	long long deadline = now_ms() + HTTPD_CLIENT_MS;
	char *buf = malloc(HTTPD_MAX_REQUEST + 1);
	char method[16], target[256], version[16];
	const char *text = "text/plain; charset=utf-8";
	long len;

	if (!buf)
		return;
	len = read_head(fd, buf, deadline);
	if (len < 0) {
		answer(fd, 431, "Request Header Fields Too Large", text,
		       "request too large\n", NULL, deadline);
		goto out;
	}
	if (len == 0)
		goto out;
	/* RFC 9112 §3: method SP request-target SP HTTP-version CRLF */
	if (sscanf(buf, "%15[A-Z] %255[^ \r\n] %15[^ \r\n]", method, target,
		   version) != 3 ||
	    strncmp(version, "HTTP/1.", 7)) {
		answer(fd, 400, "Bad Request", text, "bad request\n", NULL,
		       deadline);
		goto out;
	}
	/* The path, with or without a query (RFC 3986 §3.4). */
	if (strncmp(target, h->path, strlen(h->path)) ||
	    (target[strlen(h->path)] && target[strlen(h->path)] != '?')) {
		answer(fd, 404, "Not Found", text, "not found\n", NULL,
		       deadline);
		goto out;
	}
	if (strcmp(method, "GET")) {
		answer(fd, 405, "Method Not Allowed", text, "only GET\n",
		       "Allow: GET\r\n", deadline);
		goto out;
	}
	{
		char *body = h->body(h->arg);

		if (body)
			answer(fd, 200, "OK", h->content_type, body, NULL,
			       deadline);
		else
			answer(fd, 500, "Internal Server Error", text,
			       "no metrics\n", NULL, deadline);
		free(body);
	}
out:
	free(buf);
}

static void *loop(void *arg)
{
	struct httpd *h = arg;

	for (;;) {
		struct pollfd pfd[2] = {{.fd = h->listen_fd, .events = POLLIN},
					{.fd = h->stop_pipe[0],
					 .events = POLLIN}};
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		fd = accept4(h->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve(h, fd);
		close(fd);
	}
	return NULL;
}

/* A listening, non-blocking socket on host:port: 0 with *fd, or errno
 * with why. */
static int listen_on(const char *host, uint16_t port, int *fd, char *why,
		     size_t whysz)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char service[8];
	int s = -1, one = 1, rc, err = 0;

	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &ai);
	if (rc) {
		snprintf(why, whysz, "%s: %s", host, gai_strerror(rc));
		return EINVAL;
	}
	s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		   0);
	if (s < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s, 16) < 0) {
		err = errno;
		snprintf(why, whysz, "listen on %s:%u: %s", host, port,
			 strerror(err));
		if (s >= 0)
			close(s);
		s = -1;
	}
	freeaddrinfo(ai);
	if (!err)
		*fd = s;
	return err;
}

int httpd_start(struct httpd **hp, const char *hostport, const char *path,
		const char *content_type, httpd_body_h *body, void *arg,
		char *why, size_t whysz)
{
	struct httpd *h = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256];
	uint16_t port;
	int err;

	if (httpd_parse_addr(hostport, host, sizeof(host), &port)) {
		snprintf(why, whysz, "\"%s\" is not HOST:PORT", hostport);
		return EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return ENOMEM;
	h->listen_fd = h->stop_pipe[0] = h->stop_pipe[1] = -1;
	snprintf(h->path, sizeof(h->path), "%s", path);
	snprintf(h->content_type, sizeof(h->content_type), "%s", content_type);
	h->body = body;
	h->arg = arg;
	err = listen_on(host, port, &h->listen_fd, why, whysz);
	if (err)
		goto out;
	if (getsockname(h->listen_fd, (struct sockaddr *)&ss, &sl) == 0)
		h->port =
			ntohs(ss.ss_family == AF_INET6
				      ? ((struct sockaddr_in6 *)&ss)->sin6_port
				      : ((struct sockaddr_in *)&ss)->sin_port);
	if (pipe2(h->stop_pipe, O_CLOEXEC) < 0) {
		err = errno;
		snprintf(why, whysz, "pipe: %s", strerror(err));
		goto out;
	}
	err = pthread_create(&h->thread, NULL, loop, h);
	if (err) {
		snprintf(why, whysz, "thread: %s", strerror(err));
		goto out;
	}
	h->running = true;
	*hp = h;
	h = NULL;
out:
	httpd_stop(h);
	return err;
}

uint16_t httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	if (h->running) {
		if (write(h->stop_pipe[1], "x", 1) != 1)
			pthread_cancel(h->thread);
		pthread_join(h->thread, NULL);
	}
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	if (h->stop_pipe[0] >= 0)
		close(h->stop_pipe[0]);
	if (h->stop_pipe[1] >= 0)
		close(h->stop_pipe[1]);
	free(h);
}
