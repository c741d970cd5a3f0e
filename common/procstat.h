/*
 * procstat.h - CPU time and memory of a process and its threads, read
 * from /proc.  Values are cumulative; a sampler takes the difference of
 * two readings over the interval between them, so that CPU is
 * instantaneous rather than the lifetime average `ps` gives (the seed's
 * measurement error).
 */
#ifndef SIPSTONE_PROCSTAT_H
#define SIPSTONE_PROCSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCSTAT_MAX_THREADS 256

struct procstat_thread {
	pid_t tid;
	char name[16];
	uint64_t user_us;
	uint64_t sys_us;
};

struct procstat {
	uint64_t t_ns;	  /* CLOCK_MONOTONIC when read */
	uint64_t user_us; /* the whole process, all threads */
	uint64_t sys_us;
	uint64_t rss_kb;
	uint64_t vsize_kb;
	size_t nthreads; /* threads listed (at most the max) */
	struct procstat_thread threads[PROCSTAT_MAX_THREADS];
};

/*
 * Reads pid (0: this process).  with_threads adds one entry per thread.
 * Returns 0, ENOENT when the process is gone, or EBADMSG when /proc says
 * something unexpected.
 */
int procstat_read(pid_t pid, bool with_threads, struct procstat *ps);

/*
 * CPU use between two readings of the same process as a fraction of one
 * core (1.0 = one core busy the whole interval).  0 if b is not later.
 */
double procstat_cpu(const struct procstat *a, const struct procstat *b);

/* The same for the thread with tid, or -1 when either reading lacks it. */
double procstat_thread_cpu(const struct procstat *a, const struct procstat *b,
			   pid_t tid);

#endif
