#include "ev.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "ev"
#include "log.h"
#include "obj.h"

#define EV_BATCH 256	  /* epoll events per wake-up */
#define EV_SIG_MAX 65	  /* signal numbers 1..64 */
#define EV_MAX_FD 1048576 /* the fd table never grows past this */

struct watcher {
	int fd;
	int events;
	bool deleted;
	ev_fd_h *h;
	void *arg;
	struct watcher *next_dead;
};

struct call {
	ev_call_h *h;
	void *arg;
	struct call *next;
};

struct flush_hook {
	ev_flush_h *h;
	void *arg;
};

struct ev {
	int epfd;
	int wakefd; /* eventfd: ev_call() and ev_stop() */
	int sigfd;
	struct watcher **fds; /* indexed by fd */
	size_t nfds;
	struct watcher *dead; /* deleted, freed after the batch */

	struct ev_timer **heap;
	size_t nheap;
	size_t heap_size;
	uint64_t seq;

	struct flush_hook *flush;
	size_t nflush;

	pthread_mutex_t call_lock;
	struct call *calls; /* LIFO under the lock, reversed to run */
	atomic_bool stopped;

	sigset_t sigmask;
	struct {
		ev_signal_h *h;
		void *arg;
	} sig[EV_SIG_MAX];

	uint64_t now;
	bool manual;
};

uint64_t ev_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void free_dead(struct ev *ev)
{
	while (ev->dead) {
		struct watcher *w = ev->dead;

		ev->dead = w->next_dead;
		free(w);
	}
}

static void ev_destroy(void *obj)
{
	struct ev *ev = obj;
	struct call *c;
	size_t i;

	for (i = 0; i < ev->nfds; i++)
		free(ev->fds[i]);
	free(ev->fds);
	free_dead(ev);
	/* Timers live in their owners; just forget them. */
	for (i = 0; i < ev->nheap; i++)
		ev->heap[i]->heap_idx = 0;
	free(ev->heap);
	free(ev->flush);
	while ((c = ev->calls)) {
		ev->calls = c->next;
		free(c);
	}
	pthread_mutex_destroy(&ev->call_lock);
	if (ev->sigfd >= 0)
		close(ev->sigfd);
	if (ev->wakefd >= 0)
		close(ev->wakefd);
	if (ev->epfd >= 0)
		close(ev->epfd);
}

static void wake_read(int fd, int events, void *arg)
{
	uint64_t v;

	(void)events;
	(void)arg;
	/* Level-triggered: reading resets the counter. */
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("eventfd read: %s", strerror(errno));
}

int ev_alloc(struct ev **evp)
{
	struct ev *ev;
	int err;

	ev = obj_alloc(sizeof(*ev), ev_destroy);
	if (!ev)
		return ENOMEM;
	ev->epfd = -1;
	ev->wakefd = -1;
	ev->sigfd = -1;
	pthread_mutex_init(&ev->call_lock, NULL);
	sigemptyset(&ev->sigmask);
	atomic_init(&ev->stopped, false);
	ev->now = ev_monotonic_ns();

	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd < 0) {
		err = errno;
		goto out;
	}
	ev->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ev->wakefd < 0) {
		err = errno;
		goto out;
	}
	err = ev_fd_add(ev, ev->wakefd, EV_READ, wake_read, NULL);
	if (err)
		goto out;
	*evp = ev;
	ev = NULL;
out:
	obj_deref(ev);
	return err;
}

static uint32_t to_epoll(int events)
{
	uint32_t e = 0;

	if (events & EV_READ)
		e |= EPOLLIN;
	if (events & EV_WRITE)
		e |= EPOLLOUT;
	return e;
}

int ev_fd_add(struct ev *ev, int fd, int events, ev_fd_h *h, void *arg)
{
	struct epoll_event ee;
	struct watcher *w;

	if (fd < 0 || fd >= EV_MAX_FD)
		return EBADF;
	if ((size_t)fd >= ev->nfds) {
		size_t n = ev->nfds ? ev->nfds : 64;
		struct watcher **fds;

		while (n <= (size_t)fd)
			n *= 2;
		fds = realloc(ev->fds, n * sizeof(*fds));
		if (!fds)
			return ENOMEM;
		memset(fds + ev->nfds, 0, (n - ev->nfds) * sizeof(*fds));
		ev->fds = fds;
		ev->nfds = n;
	}
	if (ev->fds[fd])
		return EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->fd = fd;
	w->events = events;
	w->h = h;
	w->arg = arg;
	memset(&ee, 0, sizeof(ee));
	ee.events = to_epoll(events);
	ee.data.ptr = w;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &ee) < 0) {
		int err = errno;

		free(w);
		return err;
	}
	ev->fds[fd] = w;
	return 0;
}

int ev_fd_mod(struct ev *ev, int fd, int events)
{
	struct epoll_event ee;
	struct watcher *w;

	if (fd < 0 || (size_t)fd >= ev->nfds || !ev->fds[fd])
		return ENOENT;
	w = ev->fds[fd];
	if (w->events == events)
		return 0;
	memset(&ee, 0, sizeof(ee));
	ee.events = to_epoll(events);
	ee.data.ptr = w;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &ee) < 0)
		return errno;
	w->events = events;
	return 0;
}

void ev_fd_del(struct ev *ev, int fd)
{
	struct watcher *w;

	if (fd < 0 || (size_t)fd >= ev->nfds || !ev->fds[fd])
		return;
	w = ev->fds[fd];
	ev->fds[fd] = NULL;
	/* EBADF when the caller closed fd first: epoll dropped it then. */
	(void)epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
	/*
	 * Events already fetched in this batch may point at w: keep the
	 * memory until the batch is over and never call it again.
	 */
	w->deleted = true;
	w->next_dead = ev->dead;
	ev->dead = w;
}

/* Timers: a binary min-heap ordered by (due, seq). */

static bool before(const struct ev_timer *a, const struct ev_timer *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(struct ev *ev, size_t i, struct ev_timer *t)
{
	ev->heap[i] = t;
	t->heap_idx = i + 1;
}

static void sift_up(struct ev *ev, size_t i)
{
	struct ev_timer *t = ev->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(t, ev->heap[parent]))
			break;
		heap_set(ev, i, ev->heap[parent]);
		i = parent;
	}
	heap_set(ev, i, t);
}

static void sift_down(struct ev *ev, size_t i)
{
	struct ev_timer *t = ev->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct ev_timer *best = t;

		if (l < ev->nheap && before(ev->heap[l], best)) {
			m = l;
			best = ev->heap[l];
		}
		if (r < ev->nheap && before(ev->heap[r], best)) {
			m = r;
			best = ev->heap[r];
		}
		if (m == i)
			break;
		heap_set(ev, i, best);
		i = m;
	}
	heap_set(ev, i, t);
}

static void heap_remove(struct ev *ev, struct ev_timer *t)
{
	size_t i = t->heap_idx - 1;
	struct ev_timer *last = ev->heap[--ev->nheap];

	t->heap_idx = 0;
	if (last == t)
		return;
	heap_set(ev, i, last);
	if (i > 0 && before(last, ev->heap[(i - 1) / 2]))
		sift_up(ev, i);
	else
		sift_down(ev, i);
}

void ev_timer_init(struct ev_timer *t)
{
	memset(t, 0, sizeof(*t));
}

void ev_timer_start(struct ev *ev, struct ev_timer *t, uint64_t delay_ns,
		    ev_timer_h *h, void *arg)
{
	if (t->heap_idx)
		heap_remove(ev, t);
	if (ev->nheap == ev->heap_size) {
		size_t n = ev->heap_size ? ev->heap_size * 2 : 64;
		struct ev_timer **heap = realloc(ev->heap, n * sizeof(*heap));

		if (!heap) {
			/*
			 * No way to report it through this contract; a
			 * lost timer would hang its owner, so say it loudly.
			 */
			log_err("out of memory: timer not started");
			return;
		}
		ev->heap = heap;
		ev->heap_size = n;
	}
	t->due = delay_ns > UINT64_MAX - ev->now ? UINT64_MAX
						 : ev->now + delay_ns;
	t->seq = ev->seq++;
	t->h = h;
	t->arg = arg;
	ev->nheap++;
	heap_set(ev, ev->nheap - 1, t);
	sift_up(ev, ev->nheap - 1);
}

void ev_timer_cancel(struct ev *ev, struct ev_timer *t)
{
	if (t->heap_idx)
		heap_remove(ev, t);
}

size_t ev_timer_count(const struct ev *ev)
{
	return ev->nheap;
}

/*
 * Runs the timers due by ev->now that were started before this call;
 * those (re)started from a handler wait for the next round.
 */
/* Runs the due timers; returns how many ran. */
static size_t run_timers(struct ev *ev)
{
	uint64_t limit = ev->seq;
	size_t n = 0;

	while (ev->nheap > 0) {
		struct ev_timer *t = ev->heap[0];

		if (t->due > ev->now || t->seq >= limit)
			break;
		heap_remove(ev, t);
		t->h(t->arg);
		n++;
	}
	return n;
}

/* Signals. */

static void sig_read(int fd, int events, void *arg)
{
	struct ev *ev = arg;
	struct signalfd_siginfo si[16];
	ssize_t n;
	size_t i;

	(void)events;
	n = read(fd, si, sizeof(si));
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("signalfd read: %s", strerror(errno));
		return;
	}
	for (i = 0; i < (size_t)n / sizeof(si[0]); i++) {
		uint32_t s = si[i].ssi_signo;

		if (s < EV_SIG_MAX && ev->sig[s].h)
			ev->sig[s].h((int)s, ev->sig[s].arg);
	}
}

int ev_signal(struct ev *ev, const int *signos, size_t n, ev_signal_h *h,
	      void *arg)
{
	sigset_t mask = ev->sigmask;
	size_t i;
	int fd, err;

	for (i = 0; i < n; i++) {
		if (signos[i] <= 0 || signos[i] >= EV_SIG_MAX ||
		    sigaddset(&mask, signos[i]) < 0)
			return EINVAL;
	}
	err = pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if (err)
		return err;
	fd = signalfd(ev->sigfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return errno;
	if (ev->sigfd < 0) {
		err = ev_fd_add(ev, fd, EV_READ, sig_read, ev);
		if (err) {
			close(fd);
			return err;
		}
		ev->sigfd = fd;
	}
	ev->sigmask = mask;
	for (i = 0; i < n; i++) {
		ev->sig[signos[i]].h = h;
		ev->sig[signos[i]].arg = arg;
	}
	return 0;
}

/* Flush hooks and cross-thread calls. */

int ev_flush_add(struct ev *ev, ev_flush_h *h, void *arg)
{
	struct flush_hook *f;

	f = realloc(ev->flush, (ev->nflush + 1) * sizeof(*f));
	if (!f)
		return ENOMEM;
	ev->flush = f;
	f[ev->nflush].h = h;
	f[ev->nflush].arg = arg;
	ev->nflush++;
	return 0;
}

void ev_flush_del(struct ev *ev, ev_flush_h *h, void *arg)
{
	size_t i;

	for (i = 0; i < ev->nflush; i++) {
		if (ev->flush[i].h == h && ev->flush[i].arg == arg) {
			memmove(&ev->flush[i], &ev->flush[i + 1],
				(ev->nflush - i - 1) * sizeof(ev->flush[0]));
			ev->nflush--;
			return;
		}
	}
}

static void wake(struct ev *ev)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is huge: the loop is awake anyway. */
	if (write(ev->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("eventfd write: %s", strerror(errno));
}

int ev_call(struct ev *ev, ev_call_h *h, void *arg)
{
	struct call *c = malloc(sizeof(*c));

	if (!c)
		return ENOMEM;
	c->h = h;
	c->arg = arg;
	pthread_mutex_lock(&ev->call_lock);
	c->next = ev->calls;
	ev->calls = c;
	pthread_mutex_unlock(&ev->call_lock);
	wake(ev);
	return 0;
}

static void run_calls(struct ev *ev)
{
	struct call *list, *rev = NULL;

	pthread_mutex_lock(&ev->call_lock);
	list = ev->calls;
	ev->calls = NULL;
	pthread_mutex_unlock(&ev->call_lock);
	while (list) {
		struct call *c = list;

		list = c->next;
		c->next = rev;
		rev = c;
	}
	while (rev) {
		struct call *c = rev;

		rev = c->next;
		c->h(c->arg);
		free(c);
	}
}

static bool calls_pending(struct ev *ev)
{
	bool pending;

	pthread_mutex_lock(&ev->call_lock);
	pending = ev->calls != NULL;
	pthread_mutex_unlock(&ev->call_lock);
	return pending;
}

/* The loop. */

int ev_run_once(struct ev *ev, uint64_t max_wait_ns)
{
	struct epoll_event events[EV_BATCH];
	uint64_t wait_ns = max_wait_ns;
	int timeout_ms, n, i;
	size_t k;

	if (!ev->manual && ev->nheap > 0) {
		uint64_t due = ev->heap[0]->due;

		ev->now = ev_monotonic_ns();
		if (due <= ev->now)
			wait_ns = 0;
		else if (due - ev->now < wait_ns)
			wait_ns = due - ev->now;
	}
	if (atomic_load(&ev->stopped) || calls_pending(ev))
		wait_ns = 0;
	/* Round up: waking a little late beats spinning a little early. */
	if (wait_ns >= (uint64_t)INT32_MAX * EV_NS_PER_MS)
		timeout_ms = INT32_MAX;
	else
		timeout_ms =
			(int)((wait_ns + EV_NS_PER_MS - 1) / EV_NS_PER_MS);

	n = epoll_wait(ev->epfd, events, EV_BATCH, timeout_ms);
	if (n < 0) {
		if (errno != EINTR)
			return errno;
		n = 0;
	}
	if (!ev->manual)
		ev->now = ev_monotonic_ns();

	for (i = 0; i < n; i++) {
		struct watcher *w = events[i].data.ptr;
		uint32_t e = events[i].events;
		int what = 0;

		if (w->deleted)
			continue;
		if (e & EPOLLIN)
			what |= EV_READ;
		if (e & EPOLLOUT)
			what |= EV_WRITE;
		if (e & (EPOLLERR | EPOLLHUP))
			what |= EV_ERROR;
		w->h(w->fd, what, w->arg);
	}
	run_calls(ev);
	/* A hook may remove itself: walk by index against the live count. */
	for (k = 0; k < ev->nflush; k++)
		ev->flush[k].h(ev->flush[k].arg);
	free_dead(ev);
	/* What timers queued (a retransmission, a paced send) leaves now,
	 * not after the next wait, which may be the next timer's. */
	if (run_timers(ev))
		for (k = 0; k < ev->nflush; k++)
			ev->flush[k].h(ev->flush[k].arg);
	free_dead(ev);
	return 0;
}

int ev_run(struct ev *ev)
{
	int err = 0;

	while (!atomic_load(&ev->stopped)) {
		err = ev_run_once(ev, UINT64_MAX);
		if (err)
			break;
	}
	atomic_store(&ev->stopped, false);
	return err;
}

/* Sleeps until the monotonic time t, whatever becomes readable. */
static void sleep_until(uint64_t t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(t / 1000000000ull);
	ts.tv_nsec = (long)(t % 1000000000ull);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

int ev_run_every(struct ev *ev, uint64_t period_ns)
{
	uint64_t next = 0;
	int err = 0;

	while (!atomic_load(&ev->stopped)) {
		if (period_ns && !ev->manual && ev_monotonic_ns() < next)
			sleep_until(next);
		err = ev_run_once(ev, UINT64_MAX);
		if (err)
			break;
		/* ev->now: when this iteration's I/O was fetched */
		next = ev->now + period_ns;
	}
	atomic_store(&ev->stopped, false);
	return err;
}

void ev_stop(struct ev *ev)
{
	atomic_store(&ev->stopped, true);
	wake(ev);
}

uint64_t ev_now(const struct ev *ev)
{
	return ev->now;
}

void ev_clock_manual(struct ev *ev, uint64_t start_ns)
{
	ev->manual = true;
	ev->now = start_ns;
}

void ev_clock_advance(struct ev *ev, uint64_t delta_ns)
{
	uint64_t target = delta_ns > UINT64_MAX - ev->now ? UINT64_MAX
							  : ev->now + delta_ns;
	bool stepped = false;

	while (ev->nheap > 0 && ev->heap[0]->due <= target) {
		uint64_t due = ev->heap[0]->due;

		/* Only a delay-0 start from a handler goes back in time. */
		if (stepped && due <= ev->now)
			break;
		if (due > ev->now)
			ev->now = due;
		run_timers(ev);
		free_dead(ev);
		stepped = true;
	}
	ev->now = target;
}
