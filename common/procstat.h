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

/* ------------------------------------------------------------------ */
/* The machine's CPU (/proc/stat) and a host's cgroup                 */

/*
 * Cumulative CPU time of the whole machine from the "cpu" line of
 * /proc/stat (all CPUs together), in microseconds.  guest and
 * guest_nice are already inside user and nice, so they are not kept.
 * On a VM, steal is time the hypervisor gave to someone else while this
 * machine wanted to run; iowait is idle time with I/O outstanding.
 */
struct procstat_machine {
	uint64_t t_ns; /* CLOCK_MONOTONIC when read */
	unsigned ncpu; /* "cpuN" lines: CPUs online */
	uint64_t user_us, nice_us, system_us, idle_us, iowait_us, irq_us,
		softirq_us, steal_us;
};

/*
 * Shares of the machine's capacity between two readings, each in
 * [0, 1] of all its CPUs together (0.5 = one core of two).  The
 * denominator is the sum of every counter's growth, so the shares add
 * up to 1: busy + iowait + idle + steal = 1 (rounding aside).
 */
struct procstat_share {
	double busy;	   /* user, nice, system, irq, softirq */
	double steal;	   /* taken by the hypervisor for other guests */
	double iowait;	   /* idle while waiting for I/O */
	double idle;	   /* idle, iowait not included */
	double others;	   /* busy less the given processes' CPU, >= 0; -1
			* when no processes were given */
	double interval_s; /* wall time between the readings */
};

/*
 * Reads /proc/stat.  Returns 0, or EBADMSG when it says something
 * unexpected, or the errno of opening it.
 */
int procstat_machine_read(struct procstat_machine *m);

/*
 * Parses /proc/stat's text (NUL-terminated) into m, t_ns left 0: the
 * reader above, and tests with recorded files.  0 or EBADMSG (no
 * "cpu " line, fewer than its first 8 numbers, or junk in them).
 */
int procstat_machine_parse(const char *text, struct procstat_machine *m);

/*
 * The shares between readings a and b (b later).  ours_us: CPU time
 * (user + system, microseconds) that the processes of interest used
 * between the two, e.g. the sum of procstat_read() differences of a
 * set of pids (procstat_pids_cpu_us); pass UINT64_MAX when there is no
 * such set, and others is -1.  Returns 0, or EINVAL when b is not later
 * than a or a counter went backwards (a CPU went offline between them);
 * out is written only on success.
 */
int procstat_machine_share(const struct procstat_machine *a,
			   const struct procstat_machine *b, uint64_t ours_us,
			   struct procstat_share *out);

/*
 * The sum of user + system CPU (microseconds, cumulative) of the n
 * processes in pids, all their threads included; a process that is
 * gone counts 0 and is said by the count of found ones in *found (may
 * be NULL).  Take it at both readings and give the difference to
 * procstat_machine_share().  Returns 0 (even when none is found).
 */
int procstat_pids_cpu_us(const pid_t *pids, size_t n, uint64_t *us,
			 size_t *found);

/*
 * A host that is a cgroup (the namespace testbed's hosts:
 * /sys/fs/cgroup/sipstone-P/NAME with cgroup v2, /sys/fs/cgroup/cpu/
 * sipstone-P/NAME with v1).  Cumulative, like the rest.
 */
struct procstat_cgroup {
	uint64_t t_ns;	       /* CLOCK_MONOTONIC when read */
	uint64_t usage_us;     /* CPU used by everything in it */
	uint64_t nr_periods;   /* quota periods with something runnable */
	uint64_t nr_throttled; /* periods that ran out of quota */
	uint64_t throttled_us; /* time held back by the quota */
};

/*
 * Reads the cgroup directory dir: usage from cpu.stat's usage_usec
 * (v2), else cpuacct.usage in dir (v1 with cpu and cpuacct mounted
 * together), else the sum of procstat_read() over its cgroup.procs (v1
 * with cpuacct apart: processes that left in between are not counted);
 * the quota counters from cpu.stat (0 when it has none).  Hosts of their
 * own read procstat_machine_read() there instead.  Returns 0, or ENOENT
 * when dir is no cgroup (no cgroup.procs).
 */
int procstat_cgroup_read(const char *dir, struct procstat_cgroup *cg);

/* A cgroup's CPU between two readings in cores (1.0 = one core busy the
 * whole interval); 0 if b is not later or the usage went backwards. */
double procstat_cgroup_cpu(const struct procstat_cgroup *a,
			   const struct procstat_cgroup *b);

#endif
