/*
 * ev.h - one event loop per thread: epoll (level-triggered), a min-heap
 * of timers on the monotonic clock, signals through signalfd, and calls
 * posted from other threads through an eventfd.
 *
 * Order of one iteration: wait for I/O (until the next timer is due),
 * dispatch every ready descriptor, run the flush hooks (so that batched
 * UDP sends leave once per iteration), then run every timer that is due.
 * A watcher removed during dispatch is never called again in the batch.
 *
 * Everything but ev_call() and ev_stop() must be called on the loop's
 * own thread.
 */
#ifndef SIPSTONE_EV_H
#define SIPSTONE_EV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev;

enum ev_flags {
	EV_READ = 1 << 0,
	EV_WRITE = 1 << 1,
	EV_ERROR = 1 << 2, /* reported, never asked for: EPOLLERR/HUP */
};

#define EV_NS_PER_MS 1000000ull
#define EV_MS(ms) ((uint64_t)(ms)*EV_NS_PER_MS)

typedef void(ev_fd_h)(int fd, int events, void *arg);
typedef void(ev_timer_h)(void *arg);
typedef void(ev_signal_h)(int signo, void *arg);
typedef void(ev_call_h)(void *arg);
typedef void(ev_flush_h)(void *arg);

/*
 * A timer lives inside the object it serves (no allocation per start).
 * Zero it or call ev_timer_init() before first use.
 */
struct ev_timer {
	uint64_t due;	 /* monotonic ns */
	uint64_t seq;	 /* start order: equal due times fire FIFO */
	size_t heap_idx; /* 0 = not pending, else index + 1 */
	ev_timer_h *h;
	void *arg;
};

/*
 * Creates a loop.  Returns 0, or an errno from epoll/eventfd/ENOMEM.
 * *evp is an obj (obj_deref() frees it; every fd watcher is dropped,
 * the descriptors themselves are the callers' to close).
 */
int ev_alloc(struct ev **evp);

/*
 * Watches fd for events (EV_READ|EV_WRITE).  Returns 0, EEXIST if fd is
 * watched already, EBADF, or ENOMEM.
 */
int ev_fd_add(struct ev *ev, int fd, int events, ev_fd_h *h, void *arg);

/* Changes the events watched for fd.  Returns 0 or ENOENT. */
int ev_fd_mod(struct ev *ev, int fd, int events);

/* Stops watching fd (safe from inside any handler of this loop). */
void ev_fd_del(struct ev *ev, int fd);

void ev_timer_init(struct ev_timer *t);

/* (Re)starts t to fire once after delay_ns. */
void ev_timer_start(struct ev *ev, struct ev_timer *t, uint64_t delay_ns,
		    ev_timer_h *h, void *arg);

/* Stops t if it is pending; safe to call on a stopped timer. */
void ev_timer_cancel(struct ev *ev, struct ev_timer *t);

static inline bool ev_timer_pending(const struct ev_timer *t)
{
	return t->heap_idx != 0;
}

/* Returns how many timers are pending (for tests and counters). */
size_t ev_timer_count(const struct ev *ev);

/*
 * Blocks the given signals in this thread and delivers them through a
 * signalfd to h (one handler per signal: a later call for the same
 * signal replaces it).  Other threads must block them too (block them
 * before starting threads), or the kernel may deliver them there.
 * Returns 0, EINVAL for a bad signal number, or an errno.
 */
int ev_signal(struct ev *ev, const int *signos, size_t n, ev_signal_h *h,
	      void *arg);

/* Adds a hook run after each I/O dispatch batch, and again after the
 * timers when any ran.  Returns 0 or ENOMEM. */
int ev_flush_add(struct ev *ev, ev_flush_h *h, void *arg);

/* Removes the hook added with the same h and arg (no-op if absent). */
void ev_flush_del(struct ev *ev, ev_flush_h *h, void *arg);

/*
 * Runs h(arg) on the loop's thread at its next iteration.  Callable from
 * any thread.  Returns 0 or ENOMEM.
 */
int ev_call(struct ev *ev, ev_call_h *h, void *arg);

/* Runs until ev_stop().  Returns 0, or an errno if epoll_wait fails. */
int ev_run(struct ev *ev);

/*
 * Runs like ev_run(), but starts an iteration at most once per
 * period_ns (0: as ev_run()): what arrives in between waits until the
 * period is over and is read in one batch, and timers fire up to a
 * period late.  For a loop whose work is periodic anyway (a load
 * generator's pacing tick): one wake-up per period instead of one per
 * message.  An ev_stop() or ev_call() from another thread may wait a
 * period too.  Readers that need exact arrival times take them from the
 * kernel (sip_tp_opts.udp_rx_timestamps).
 */
int ev_run_every(struct ev *ev, uint64_t period_ns);

/* Runs one iteration, waiting at most max_wait_ns for I/O. */
int ev_run_once(struct ev *ev, uint64_t max_wait_ns);

/* Makes ev_run() return after the current iteration; any thread. */
void ev_stop(struct ev *ev);

/*
 * The loop's notion of now (monotonic ns), refreshed once per iteration.
 * With a manual clock, the value last given to ev_clock_advance().
 */
uint64_t ev_now(const struct ev *ev);

/* Reads CLOCK_MONOTONIC in ns. */
uint64_t ev_monotonic_ns(void);

/*
 * Injectable clock for tests: after ev_clock_manual(), time only moves
 * through ev_clock_advance(), which runs every timer due by then, in
 * order of due time (ev_now() reads each timer's due time while it
 * runs), as an iteration would.  Timers started with delay 0 from a
 * timer handler run at the next advance (or iteration), never in the
 * current one, so a self-restarting timer cannot spin.
 */
void ev_clock_manual(struct ev *ev, uint64_t start_ns);
void ev_clock_advance(struct ev *ev, uint64_t delta_ns);

#endif
