#include "procstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pl.h"

static int read_small_file(const char *path, char *buf, size_t size,
			   size_t *len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? ENOENT : errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return errno == ESRCH ? ENOENT : errno;
	buf[n] = '\0';
	*len = (size_t)n;
	return 0;
}

/*
 * /proc/PID/stat: "pid (comm) state f4 ... f14=utime f15=stime ...
 * f23=vsize f24=rss".  comm may hold spaces and parentheses, so the
 * fields are counted from the last ')'.
 */
static int parse_stat(const char *text, char name[16], uint64_t *utime,
		      uint64_t *stime, uint64_t *vsize, uint64_t *rss)
{
	const char *open_paren = strchr(text, '(');
	const char *close_paren = strrchr(text, ')');
	const char *p;
	uint64_t field[25] = {0};
	int i;

	if (!open_paren || !close_paren || close_paren < open_paren)
		return EBADMSG;
	if (name) {
		size_t n = (size_t)(close_paren - open_paren - 1);

		if (n > 15)
			n = 15;
		memcpy(name, open_paren + 1, n);
		name[n] = '\0';
	}
	p = close_paren + 1;
	/* Field 3 is the state letter; numbers start at field 4. */
	while (*p == ' ')
		p++;
	if (!*p)
		return EBADMSG;
	p++;
	for (i = 4; i <= 24; i++) {
		struct pl num;
		const char *end;

		while (*p == ' ')
			p++;
		end = p;
		while (*end && *end != ' ' && *end != '\n')
			end++;
		if (end == p)
			return EBADMSG;
		num.p = p;
		num.l = (size_t)(end - p);
		/* Some fields are signed; a negative one is not ours. */
		if (num.p[0] == '-')
			field[i] = 0;
		else if (pl_u64(&num, &field[i]))
			return EBADMSG;
		p = end;
	}
	*utime = field[14];
	*stime = field[15];
	*vsize = field[23];
	*rss = field[24];
	return 0;
}

static uint64_t ticks_to_us(uint64_t ticks)
{
	static long hz;

	if (!hz) {
		hz = sysconf(_SC_CLK_TCK);
		if (hz <= 0)
			hz = 100;
	}
	return ticks * 1000000ull / (uint64_t)hz;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int read_threads(const char *base, struct procstat *ps)
{
	char path[96], text[1024];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/task", base);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? ENOENT : errno;
	ps->nthreads = 0;
	while ((de = readdir(dir)) && ps->nthreads < PROCSTAT_MAX_THREADS) {
		struct procstat_thread *t = &ps->threads[ps->nthreads];
		uint64_t ut, st, vs, rss;
		size_t len;
		char *end;
		long tid;

		tid = strtol(de->d_name, &end, 10);
		if (*end || tid <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/task/%ld/stat", base, tid);
		/* A thread may end between readdir and open: skip it. */
		if (read_small_file(path, text, sizeof(text), &len))
			continue;
		if (parse_stat(text, t->name, &ut, &st, &vs, &rss))
			continue;
		t->tid = (pid_t)tid;
		t->user_us = ticks_to_us(ut);
		t->sys_us = ticks_to_us(st);
		ps->nthreads++;
	}
	closedir(dir);
	return 0;
}

int procstat_read(pid_t pid, bool with_threads, struct procstat *ps)
{
	char base[48], path[64], text[1024];
	uint64_t ut, st, vs, rss;
	long page_kb;
	size_t len;
	int err;

	if (pid > 0)
		snprintf(base, sizeof(base), "/proc/%d", (int)pid);
	else
		snprintf(base, sizeof(base), "/proc/self");
	snprintf(path, sizeof(path), "%s/stat", base);
	err = read_small_file(path, text, sizeof(text), &len);
	if (err)
		return err;
	err = parse_stat(text, NULL, &ut, &st, &vs, &rss);
	if (err)
		return err;
	ps->t_ns = monotonic_ns();
	ps->user_us = ticks_to_us(ut);
	ps->sys_us = ticks_to_us(st);
	ps->vsize_kb = vs / 1024;
	page_kb = sysconf(_SC_PAGESIZE) / 1024;
	ps->rss_kb = rss * (uint64_t)(page_kb > 0 ? page_kb : 4);
	ps->nthreads = 0;
	if (with_threads)
		return read_threads(base, ps);
	return 0;
}

double procstat_cpu(const struct procstat *a, const struct procstat *b)
{
	uint64_t cpu_a = a->user_us + a->sys_us;
	uint64_t cpu_b = b->user_us + b->sys_us;

	if (b->t_ns <= a->t_ns || cpu_b < cpu_a)
		return 0;
	return (double)(cpu_b - cpu_a) * 1000.0 / (double)(b->t_ns - a->t_ns);
}

static const struct procstat_thread *find_thread(const struct procstat *ps,
						 pid_t tid)
{
	size_t i;

	for (i = 0; i < ps->nthreads; i++)
		if (ps->threads[i].tid == tid)
			return &ps->threads[i];
	return NULL;
}

double procstat_thread_cpu(const struct procstat *a, const struct procstat *b,
			   pid_t tid)
{
	const struct procstat_thread *ta = find_thread(a, tid);
	const struct procstat_thread *tb = find_thread(b, tid);
	uint64_t ca, cb;

	if (!ta || !tb || b->t_ns <= a->t_ns)
		return -1;
	ca = ta->user_us + ta->sys_us;
	cb = tb->user_us + tb->sys_us;
	if (cb < ca)
		return -1;
	return (double)(cb - ca) * 1000.0 / (double)(b->t_ns - a->t_ns);
}
