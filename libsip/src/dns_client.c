#include "dns_client.h"

#include <ares.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "dns"
#include "log.h"

struct dns_client {
	struct ev *ev;
	ares_channel ch;
	bool ch_ok;
	struct ev_timer timer;
	dns_client_done_h *done;
	void *done_arg;
	bool answered; /* a handler ran during this ares_process_fd */
};

struct query {
	struct dns_client *c;
	dns_client_h *h;
	void *arg;
};

/*
 * ares_library_init() and ares_library_cleanup() keep a count but are
 * not thread-safe in c-ares 1.18: one lock around both.
 */
static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;

static int lib_init(void)
{
	int rc;

	pthread_mutex_lock(&lib_lock);
	rc = ares_library_init(ARES_LIB_INIT_ALL);
	pthread_mutex_unlock(&lib_lock);
	return rc;
}

static void lib_cleanup(void)
{
	pthread_mutex_lock(&lib_lock);
	ares_library_cleanup();
	pthread_mutex_unlock(&lib_lock);
}

/* Restarts the timer for c-ares's next retransmission, if any. */
static void rearm(struct dns_client *c);

static void on_timer(void *arg)
{
	struct dns_client *c = arg;

	c->answered = false;
	ares_process_fd(c->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(c);
	if (c->answered && c->done)
		c->done(c->done_arg);
}

static void rearm(struct dns_client *c)
{
	struct timeval tv, *tvp;
	uint64_t ns;

	tvp = ares_timeout(c->ch, NULL, &tv);
	if (!tvp) {
		ev_timer_cancel(c->ev, &c->timer);
		return;
	}
	ns = (uint64_t)tvp->tv_sec * 1000000000ull +
	     (uint64_t)tvp->tv_usec * 1000ull;
	ev_timer_start(c->ev, &c->timer, ns, on_timer, c);
}

static void on_fd(int fd, int events, void *arg)
{
	struct dns_client *c = arg;
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

	/* An error is read, so that c-ares sees it and closes. */
	if (events & (EV_READ | EV_ERROR))
		rfd = fd;
	if (events & EV_WRITE)
		wfd = fd;
	c->answered = false;
	ares_process_fd(c->ch, rfd, wfd);
	rearm(c);
	if (c->answered && c->done)
		c->done(c->done_arg);
}

/* c-ares opens, changes or closes (both false) one of its sockets. */
static void on_sock_state(void *data, ares_socket_t fd, int readable,
			  int writable)
{
	struct dns_client *c = data;
	int events = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
	int err;

	if (!events) {
		ev_fd_del(c->ev, fd);
		return;
	}
	if (ev_fd_mod(c->ev, fd, events) == 0)
		return;
	err = ev_fd_add(c->ev, fd, events, on_fd, c);
	if (err)
		log_err("cannot watch DNS socket %d: %s", fd, strerror(err));
}

int dns_client_alloc(struct dns_client **cp, struct ev *ev,
		     const struct dns_client_opts *opts,
		     dns_client_done_h *done, void *done_arg)
{
	struct dns_client *c = NULL;
	struct ares_options ao;
	int rc, err = 0;

	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->ev = ev;
	c->done = done;
	c->done_arg = done_arg;
	ev_timer_init(&c->timer);
	rc = lib_init();
	if (rc != ARES_SUCCESS) {
		log_err("c-ares: %s", ares_strerror(rc));
		free(c);
		return EIO;
	}
	memset(&ao, 0, sizeof(ao));
	ao.timeout = opts && opts->timeout_ms ? (int)opts->timeout_ms : 2000;
	ao.tries = opts && opts->tries ? (int)opts->tries : 2;
	/* No search list, no HOSTALIASES: names are fully qualified. */
	ao.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	ao.sock_state_cb = on_sock_state;
	ao.sock_state_cb_data = c;
	rc = ares_init_options(&c->ch, &ao,
			       ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
				       ARES_OPT_FLAGS |
				       ARES_OPT_SOCK_STATE_CB);
	if (rc != ARES_SUCCESS) {
		log_err("c-ares: init: %s", ares_strerror(rc));
		err = rc == ARES_ENOMEM ? ENOMEM : EIO;
		goto out;
	}
	c->ch_ok = true;
	if (opts && opts->servers && opts->servers[0]) {
		rc = ares_set_servers_ports_csv(c->ch, opts->servers);
		if (rc != ARES_SUCCESS) {
			log_err("c-ares: DNS servers \"%s\": %s",
				opts->servers, ares_strerror(rc));
			err = rc == ARES_ENOMEM ? ENOMEM : EINVAL;
			goto out;
		}
	}
	*cp = c;
	c = NULL;
out:
	dns_client_free(c);
	return err;
}

void dns_client_free(struct dns_client *c)
{
	if (!c)
		return;
	if (c->ch_ok) {
		/* Pending queries' callbacks see ARES_EDESTRUCTION. */
		ares_destroy(c->ch);
	}
	ev_timer_cancel(c->ev, &c->timer);
	lib_cleanup();
	free(c);
}

static int status_errno(int status)
{
	switch (status) {
	case ARES_ETIMEOUT:
		return ETIMEDOUT;
	case ARES_ECONNREFUSED:
		return ECONNREFUSED;
	case ARES_EBADNAME:
		return EINVAL;
	case ARES_ENOMEM:
		return ENOMEM;
	default:
		return EPROTO;
	}
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
		      int alen)
{
	struct query *q = arg;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		free(q);
		return;
	}
	q->c->answered = true;
	/* c-ares turns NXDOMAIN and empty answers into errors but still
	 * passes the response: the negative TTL is in it (RFC 2308). */
	if (abuf && alen > 0 &&
	    (status == ARES_SUCCESS || status == ARES_ENOTFOUND ||
	     status == ARES_ENODATA))
		q->h(0, abuf, (size_t)alen, q->arg);
	else
		q->h(status_errno(status), NULL, 0, q->arg);
	free(q);
}

void dns_client_query(struct dns_client *c, const char *name,
		      enum dns_type type, dns_client_h *h, void *arg)
{
	struct query *q = malloc(sizeof(*q));

	if (!q) {
		h(ENOMEM, NULL, 0, arg);
		return;
	}
	q->c = c;
	q->h = h;
	q->arg = arg;
	ares_query(c->ch, name, 1 /* C_IN */, (int)type, on_answer, q);
	rearm(c);
}
