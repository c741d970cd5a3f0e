#include "clocksync.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "ssh.h"

/*
 * The responder: one line in, the realtime clock out.  bash's
 * $EPOCHREALTIME reads it without starting a process, so that the
 * answer is taken as soon as the request is in; date(1) where there is
 * no bash 5 (a fork in each exchange, which the least round trip
 * mostly filters out).  LC_ALL=C: a decimal point, not a comma.
 */
static const char responder[] = "env LC_ALL=C sh -c '"
				"x=$(bash -c \"echo \\$EPOCHREALTIME\" "
				"2>/dev/null); "
				"if [ -n \"$x\" ]; then "
				"exec bash -c \"while read -r _; do echo "
				"\\$EPOCHREALTIME; done\"; "
				"else while read -r _; do date +%s.%N; done; "
				"fi'";

static double realtime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * One exchange: a request line out, the answer's line in (before
 * deadline, a monotonic ms).  Returns 0 with the remote time and the
 * local send and receive times, or ETIMEDOUT, EPROTO (not a time), EIO.
 */
static int exchange(int to_fd, int from_fd, long long deadline, double *remote,
		    double *t0, double *t1)
{
	char line[64];
	size_t len = 0;
	char *end;

	*t0 = realtime_s();
	if (write(to_fd, "t\n", 2) != 2)
		return EIO;
	while (len < sizeof(line) - 1) {
		struct pollfd pfd = {.fd = from_fd, .events = POLLIN};
		long long left = deadline - monotonic_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return ETIMEDOUT;
		n = read(from_fd, line + len, 1);
		if (n <= 0)
			return EIO;
		if (line[len] == '\n')
			break;
		len++;
	}
	*t1 = realtime_s();
	line[len] = '\0';
	*remote = strtod(line, &end);
	if (end == line || *end || !isfinite(*remote) || *remote <= 0)
		return EPROTO;
	return 0;
}

int clocksync_measure(struct host *h, unsigned timeout_ms,
		      struct clocksync *out, char *why, size_t whysz)
{
	struct host_proc *proc = NULL;
	struct clocksync best = {.rtt_ms = INFINITY};
	long long deadline = monotonic_ms() + timeout_ms;
	int to_fd = -1, from_fd = -1, err, status;
	sigset_t pipe_set, old_set;
	struct timespec zero = {0, 0};

	/* A responder that died makes write() fail with EPIPE: the signal
	 * (this thread's) is held, then taken back, never delivered. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

	err = host_spawn(h, responder, "/dev/null", &proc, &to_fd, &from_fd,
			 why, whysz);
	if (err)
		goto out;
	for (unsigned i = 0; i < CLOCKSYNC_EXCHANGES; i++) {
		double remote, t0, t1, rtt;

		err = exchange(to_fd, from_fd, deadline, &remote, &t0, &t1);
		if (err) {
			snprintf(why, whysz,
				 "the clock responder on %s: exchange %u: %s",
				 host_name(h), i + 1, strerror(err));
			break;
		}
		rtt = (t1 - t0) * 1000;
		best.exchanges++;
		if (rtt < best.rtt_ms) {
			best.rtt_ms = rtt;
			best.offset_ms = (remote - (t0 + t1) / 2) * 1000;
		}
	}
	/* A few answered are enough; none is a failure. */
	if (best.exchanges)
		err = 0;
	if (!err) {
		best.biases_delays = fabs(best.offset_ms) >= CLOCKSYNC_BIAS_MS;
		*out = best;
	}
out:
	if (to_fd >= 0)
		close(to_fd); /* the responder ends at end of input */
	for (int k = 0; proc && k < 100 && !host_proc_done(proc, &status); k++)
		usleep(10000);
	if (proc && !host_proc_done(proc, &status))
		host_proc_signal(h, proc, SIGKILL);
	if (from_fd >= 0)
		close(from_fd);
	host_proc_free(proc);
	while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	return err;
}
