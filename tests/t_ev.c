/* Tests for the event loop: fds, timers, signals, calls, flush, clock. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "obj.h"
#include "test.h"

/* Runs iterations until *flag or the bound (count and time) is hit. */
static void run_until(struct ev *ev, const int *flag, int max_iter)
{
	uint64_t end = ev_monotonic_ns() + EV_MS(3000);

	for (int i = 0; i < max_iter && !*flag; i++) {
		ASSERT_EQ(ev_run_once(ev, EV_MS(50)), 0);
		ASSERT_MSG(ev_monotonic_ns() < end, "loop ran too long");
	}
}

struct fd_ctx {
	int calls;
	int events;
	int got;
};

static void on_fd(int fd, int events, void *arg)
{
	struct fd_ctx *c = arg;
	char b[16];

	c->calls++;
	c->events |= events;
	if (events & EV_READ)
		c->got += (int)read(fd, b, sizeof(b));
}

TEST(ev_fd_readiness)
{
	struct ev *ev = NULL;
	struct fd_ctx c = {0};
	int sv[2];

	ASSERT_EQ(ev_alloc(&ev), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	ASSERT_EQ(ev_fd_add(ev, sv[0], EV_READ, on_fd, &c), 0);
	ASSERT_EQ(ev_fd_add(ev, sv[0], EV_READ, on_fd, &c), EEXIST);
	ASSERT_EQ(ev_fd_mod(ev, 999, EV_READ), ENOENT);
	ASSERT_EQ(ev_fd_add(ev, -1, EV_READ, on_fd, &c), EBADF);

	/* Nothing readable: the wait times out without a call. */
	ASSERT_EQ(ev_run_once(ev, EV_MS(10)), 0);
	ASSERT_EQ(c.calls, 0);

	ASSERT_EQ(write(sv[1], "abc", 3), 3);
	run_until(ev, &c.got, 10);
	ASSERT_EQ(c.got, 3);
	ASSERT(c.events & EV_READ);

	/* Writable once asked for. */
	c.events = 0;
	ASSERT_EQ(ev_fd_mod(ev, sv[0], EV_WRITE), 0);
	ASSERT_EQ(ev_run_once(ev, EV_MS(100)), 0);
	ASSERT(c.events & EV_WRITE);

	/* Peer closed: reported as an error/hangup or readable EOF. */
	c.events = 0;
	ASSERT_EQ(ev_fd_mod(ev, sv[0], EV_READ), 0);
	close(sv[1]);
	ASSERT_EQ(ev_run_once(ev, EV_MS(100)), 0);
	ASSERT(c.events & (EV_READ | EV_ERROR));

	ev_fd_del(ev, sv[0]);
	ev_fd_del(ev, sv[0]); /* twice is harmless */
	close(sv[0]);
	obj_deref(ev);
}

struct order_ctx {
	struct ev *ev;
	int fired[64];
	int n;
};

struct tctx {
	struct order_ctx *o;
	struct ev_timer t;
	int id;
};

static void on_order(void *arg)
{
	struct tctx *t = arg;

	t->o->fired[t->o->n++] = t->id;
}

TEST(ev_timer_order_cancel_restart)
{
	struct ev *ev = NULL;
	struct order_ctx o = {0};
	struct tctx t[5];
	/* delays in ms, given out of order; two equal fire FIFO */
	static const int delays[5] = {30, 10, 20, 10, 40};

	ASSERT_EQ(ev_alloc(&ev), 0);
	ev_clock_manual(ev, 1000);
	o.ev = ev;
	for (int i = 0; i < 5; i++) {
		ev_timer_init(&t[i].t);
		t[i].o = &o;
		t[i].id = i;
		ev_timer_start(ev, &t[i].t, EV_MS(delays[i]), on_order, &t[i]);
	}
	ASSERT_EQ(ev_timer_count(ev), 5);
	ev_timer_cancel(ev, &t[2].t);
	ev_timer_cancel(ev, &t[2].t); /* stopped: no-op */
	ASSERT(!ev_timer_pending(&t[2].t));
	/* Restart moves timer 0 from 30 to 50 ms. */
	ev_timer_start(ev, &t[0].t, EV_MS(50), on_order, &t[0]);
	ASSERT_EQ(ev_timer_count(ev), 4);

	ev_clock_advance(ev, EV_MS(9));
	ASSERT_EQ(o.n, 0);
	ev_clock_advance(ev, EV_MS(1));
	ASSERT_EQ(o.n, 2);
	ASSERT_EQ(o.fired[0], 1);
	ASSERT_EQ(o.fired[1], 3);
	ev_clock_advance(ev, EV_MS(100));
	ASSERT_EQ(o.n, 4);
	ASSERT_EQ(o.fired[2], 4);
	ASSERT_EQ(o.fired[3], 0);
	ASSERT_EQ(ev_timer_count(ev), 0);
	ASSERT(ev_now(ev) == 1000 + EV_MS(110));
	obj_deref(ev);
}

#define MANY 2000

struct many_ctx {
	struct ev_timer t[MANY];
	uint64_t last_due;
	uint64_t now_seen[MANY];
	int n;
	bool bad_order;
	struct ev *ev;
};

static struct many_ctx *many;

static void on_many(void *arg)
{
	struct ev_timer *t = arg;

	if (t->due < many->last_due || ev_now(many->ev) != t->due)
		many->bad_order = true;
	many->last_due = t->due;
	many->n++;
}

TEST(ev_timer_many_keep_heap_order)
{
	struct ev *ev = NULL;
	unsigned seed = 12345;
	int cancelled = 0;

	many = calloc(1, sizeof(*many));
	ASSERT(many);
	ASSERT_EQ(ev_alloc(&ev), 0);
	many->ev = ev;
	ev_clock_manual(ev, 0);
	for (int i = 0; i < MANY; i++) {
		seed = seed * 1103515245u + 12345u;
		ev_timer_start(ev, &many->t[i], (seed >> 8) % 1000000, on_many,
			       &many->t[i]);
	}
	/* Cancel every third, restart every seventh elsewhere. */
	for (int i = 0; i < MANY; i += 3) {
		ev_timer_cancel(ev, &many->t[i]);
		cancelled++;
	}
	for (int i = 1; i < MANY; i += 7) {
		if (i % 3 == 0)
			continue;
		seed = seed * 1103515245u + 12345u;
		ev_timer_start(ev, &many->t[i], (seed >> 8) % 1000000, on_many,
			       &many->t[i]);
	}
	ASSERT_EQ(ev_timer_count(ev), MANY - cancelled);
	/* Advance in uneven steps; order must hold across them. */
	for (int step = 0; step < 100 && ev_timer_count(ev) > 0; step++)
		ev_clock_advance(ev, 12345);
	ASSERT_EQ(ev_timer_count(ev), 0);
	ASSERT_EQ(many->n, MANY - cancelled);
	ASSERT(!many->bad_order);
	obj_deref(ev);
	free(many);
}

struct self_ctx {
	struct ev *ev;
	struct ev_timer t;
	int n;
	uint64_t delay;
};

static void on_self(void *arg)
{
	struct self_ctx *s = arg;

	s->n++;
	ev_timer_start(s->ev, &s->t, s->delay, on_self, s);
}

TEST(ev_clock_manual_periodic_and_zero_delay)
{
	struct ev *ev = NULL;
	struct self_ctx s = {0};

	ASSERT_EQ(ev_alloc(&ev), 0);
	ev_clock_manual(ev, 0);
	s.ev = ev;
	s.delay = EV_MS(10);
	ev_timer_start(ev, &s.t, EV_MS(10), on_self, &s);
	ev_clock_advance(ev, EV_MS(100));
	ASSERT_EQ(s.n, 10);
	/* A delay-0 self-restart runs once per advance, never spins. */
	s.n = 0;
	s.delay = 0;
	ev_clock_advance(ev, EV_MS(10));
	ASSERT_EQ(s.n, 1);
	ev_clock_advance(ev, 0);
	ASSERT_EQ(s.n, 2);
	ASSERT_EQ(ev_run_once(ev, 0), 0);
	ASSERT_EQ(s.n, 3);
	ev_timer_cancel(ev, &s.t);
	obj_deref(ev);
}

TEST(ev_timer_real_clock)
{
	struct ev *ev = NULL;
	struct order_ctx o = {0};
	struct tctx t = {0};
	uint64_t start = ev_monotonic_ns();

	ASSERT_EQ(ev_alloc(&ev), 0);
	t.o = &o;
	ev_timer_start(ev, &t.t, EV_MS(20), on_order, &t);
	run_until(ev, &o.n, 100);
	ASSERT_EQ(o.n, 1);
	ASSERT(ev_monotonic_ns() - start >= EV_MS(20));
	obj_deref(ev);
}

struct del_ctx {
	struct ev *ev;
	int fd[2];
	int calls[2];
};

static void on_del(int fd, int events, void *arg)
{
	struct del_ctx *d = arg;
	int me = fd == d->fd[0] ? 0 : 1;

	(void)events;
	d->calls[me]++;
	/* Whoever runs first removes the other: it must not be called. */
	ev_fd_del(d->ev, d->fd[1 - me]);
	ev_fd_del(d->ev, fd);
}

TEST(ev_watcher_deleted_during_dispatch_not_called)
{
	struct ev *ev = NULL;
	struct del_ctx d = {0};
	int a[2], b[2];

	ASSERT_EQ(ev_alloc(&ev), 0);
	d.ev = ev;
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, a), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, b), 0);
	d.fd[0] = a[0];
	d.fd[1] = b[0];
	ASSERT_EQ(write(a[1], "x", 1), 1);
	ASSERT_EQ(write(b[1], "y", 1), 1);
	ASSERT_EQ(ev_fd_add(ev, a[0], EV_READ, on_del, &d), 0);
	ASSERT_EQ(ev_fd_add(ev, b[0], EV_READ, on_del, &d), 0);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(ev_run_once(ev, EV_MS(20)), 0);
	ASSERT_EQ(d.calls[0] + d.calls[1], 1);
	/* The fd can be watched again afterwards. */
	ASSERT_EQ(ev_fd_add(ev, a[0], EV_READ, on_del, &d), 0);
	ev_fd_del(ev, a[0]);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	obj_deref(ev);
}

struct call_ctx {
	struct ev *ev;
	int n;
	int done;
	pthread_t main_thread;
	bool wrong_thread;
};

static void on_call(void *arg)
{
	struct call_ctx *c = arg;

	if (!pthread_equal(pthread_self(), c->main_thread))
		c->wrong_thread = true;
	if (++c->n == 100)
		c->done = 1;
}

static void *caller(void *arg)
{
	struct call_ctx *c = arg;

	for (int i = 0; i < 100; i++)
		if (ev_call(c->ev, on_call, c))
			return NULL;
	return NULL;
}

TEST(ev_call_from_another_thread)
{
	struct ev *ev = NULL;
	struct call_ctx c = {0};
	pthread_t th;

	ASSERT_EQ(ev_alloc(&ev), 0);
	c.ev = ev;
	c.main_thread = pthread_self();
	ASSERT_EQ(pthread_create(&th, NULL, caller, &c), 0);
	run_until(ev, &c.done, 1000);
	pthread_join(th, NULL);
	ASSERT_EQ(c.n, 100);
	ASSERT(!c.wrong_thread);
	obj_deref(ev);
}

static void *stopper(void *arg)
{
	usleep(20000);
	ev_stop(arg);
	return NULL;
}

TEST(ev_stop_from_another_thread)
{
	struct ev *ev = NULL;
	pthread_t th;

	ASSERT_EQ(ev_alloc(&ev), 0);
	ASSERT_EQ(pthread_create(&th, NULL, stopper, ev), 0);
	ASSERT_EQ(ev_run(ev), 0);
	pthread_join(th, NULL);
	obj_deref(ev);
}

struct sig_ctx {
	int signo;
	int n;
};

static void on_sig(int signo, void *arg)
{
	struct sig_ctx *s = arg;

	s->signo = signo;
	s->n++;
}

TEST(ev_signal_delivered_through_signalfd)
{
	struct ev *ev = NULL;
	struct sig_ctx s = {0};
	int sigs[] = {SIGUSR1, SIGUSR2};
	int bad[] = {0};

	ASSERT_EQ(ev_alloc(&ev), 0);
	ASSERT_EQ(ev_signal(ev, bad, 1, on_sig, &s), EINVAL);
	ASSERT_EQ(ev_signal(ev, sigs, 2, on_sig, &s), 0);
	ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
	run_until(ev, &s.n, 50);
	ASSERT_EQ(s.n, 1);
	ASSERT_EQ(s.signo, SIGUSR1);
	ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
	run_until(ev, &s.signo, 0);
	for (int i = 0; i < 50 && s.n < 2; i++)
		ASSERT_EQ(ev_run_once(ev, EV_MS(20)), 0);
	ASSERT_EQ(s.signo, SIGUSR2);
	obj_deref(ev);
}

struct flush_ctx {
	struct ev *ev;
	int flushes;
	int io_before_flush;
	int io;
};

static void on_flush(void *arg)
{
	struct flush_ctx *f = arg;

	f->flushes++;
	f->io_before_flush = f->io;
}

static void on_flush_io(int fd, int events, void *arg)
{
	struct flush_ctx *f = arg;
	char b[8];

	(void)events;
	if (read(fd, b, sizeof(b)) > 0)
		f->io++;
}

static void on_flush_timer(void *arg)
{
	struct flush_ctx *f = arg;

	f->io++; /* work that a flush hook must send */
}

TEST(ev_flush_runs_after_timers_that_ran)
{
	struct ev *ev = NULL;
	struct flush_ctx f = {0};
	struct ev_timer t;

	ASSERT_EQ(ev_alloc(&ev), 0);
	ASSERT_EQ(ev_flush_add(ev, on_flush, &f), 0);
	ev_timer_init(&t);
	ev_timer_start(ev, &t, 0, on_flush_timer, &f);
	ASSERT_EQ(ev_run_once(ev, EV_MS(100)), 0);
	/* the I/O batch's flush (nothing yet), the timer, then a flush
	 * that sees its work */
	ASSERT_EQ(f.io, 1);
	ASSERT_EQ(f.flushes, 2);
	ASSERT_EQ(f.io_before_flush, 1);
	/* no timer ran: one flush */
	ASSERT_EQ(ev_run_once(ev, 0), 0);
	ASSERT_EQ(f.flushes, 3);
	ev_flush_del(ev, on_flush, &f);
	obj_deref(ev);
}

TEST(ev_flush_runs_after_io_batch)
{
	struct ev *ev = NULL;
	struct flush_ctx f = {0};
	int a[2], b[2];

	ASSERT_EQ(ev_alloc(&ev), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, a), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, b), 0);
	ASSERT_EQ(ev_fd_add(ev, a[0], EV_READ, on_flush_io, &f), 0);
	ASSERT_EQ(ev_fd_add(ev, b[0], EV_READ, on_flush_io, &f), 0);
	ASSERT_EQ(ev_flush_add(ev, on_flush, &f), 0);
	ASSERT_EQ(write(a[1], "x", 1), 1);
	ASSERT_EQ(write(b[1], "y", 1), 1);
	ASSERT_EQ(ev_run_once(ev, EV_MS(100)), 0);
	/* One iteration saw both fds, then one flush. */
	ASSERT_EQ(f.io, 2);
	ASSERT_EQ(f.flushes, 1);
	ASSERT_EQ(f.io_before_flush, 2);
	ev_flush_del(ev, on_flush, &f);
	ASSERT_EQ(ev_run_once(ev, 0), 0);
	ASSERT_EQ(f.flushes, 1);
	ev_fd_del(ev, a[0]);
	ev_fd_del(ev, b[0]);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
	obj_deref(ev);
}

struct every_ctx {
	struct ev *ev;
	int wfd;
	int wakeups, got;
	struct ev_timer t;
	uint64_t t_start, t_fired;
};

static void *trickle(void *arg)
{
	struct every_ctx *c = arg;

	/* 50 bytes, one every 2 ms */
	for (int i = 0; i < 50; i++) {
		if (write(c->wfd, "x", 1) != 1)
			return NULL;
		usleep(2000);
	}
	return NULL;
}

static void on_every_fd(int fd, int events, void *arg)
{
	struct every_ctx *c = arg;
	char b[64];
	ssize_t n;

	(void)events;
	c->wakeups++;
	n = read(fd, b, sizeof(b));
	if (n > 0)
		c->got += (int)n;
	if (c->got >= 50)
		ev_stop(c->ev);
}

static void on_every_timer(void *arg)
{
	struct every_ctx *c = arg;

	c->t_fired = ev_monotonic_ns();
}

TEST(ev_run_every_coalesces_wakeups)
{
	struct ev *ev = NULL;
	struct every_ctx c = {0};
	pthread_t th;
	int p[2];
	uint64_t t0;

	ASSERT_EQ(pipe(p), 0);
	ASSERT_EQ(ev_alloc(&ev), 0);
	c.ev = ev;
	c.wfd = p[1];
	ASSERT_EQ(ev_fd_add(ev, p[0], EV_READ, on_every_fd, &c), 0);
	ev_timer_init(&c.t);
	ev_timer_start(ev, &c.t, EV_MS(1), on_every_timer, &c);
	t0 = ev_monotonic_ns();
	ASSERT_EQ(pthread_create(&th, NULL, trickle, &c), 0);
	/* 20 ms periods: about 100 ms of bytes in 5-7 reads, not 50 */
	ASSERT_EQ(ev_run_every(ev, EV_MS(20)), 0);
	pthread_join(th, NULL);
	ASSERT_EQ(c.got, 50);
	ASSERT_MSG(c.wakeups >= 2 && c.wakeups <= 12, "%d wake-ups",
		   c.wakeups);
	/* the timer fired, and within a period or so of its time (generous:
	 * the machine is shared) */
	ASSERT(c.t_fired > 0);
	ASSERT_MSG(c.t_fired - t0 < EV_MS(200), "timer after %llu ms",
		   (unsigned long long)((c.t_fired - t0) / EV_NS_PER_MS));
	ev_fd_del(ev, p[0]);
	close(p[0]);
	close(p[1]);
	obj_deref(ev);
}
