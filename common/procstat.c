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

/* ------------------------------------------------------------------ */
/* The machine: /proc/stat                                            */

/* The next unsigned decimal at *pp (after blanks) into v. */
static int next_u64(const char **pp, uint64_t *v)
{
	const char *p = *pp, *end;
	struct pl num;

	while (*p == ' ' || *p == '\t')
		p++;
	end = p;
	while (*end >= '0' && *end <= '9')
		end++;
	if (end == p || (*end && *end != ' ' && *end != '\t' && *end != '\n'))
		return EBADMSG;
	num.p = p;
	num.l = (size_t)(end - p);
	if (pl_u64(&num, v))
		return EBADMSG;
	*pp = end;
	return 0;
}

int procstat_machine_parse(const char *text, struct procstat_machine *m)
{
	struct procstat_machine r;
	uint64_t f[8];
	const char *p;
	int i;

	memset(&r, 0, sizeof(r));
	/* The aggregate comes first; "cpu " and not "cpu0". */
	if (strncmp(text, "cpu ", 4) != 0)
		return EBADMSG;
	p = text + 4;
	/* user nice system idle iowait irq softirq steal [guest guest_nice]
	 * (proc(5)); kernels since 2.6.33 have all eight. */
	for (i = 0; i < 8; i++)
		if (next_u64(&p, &f[i]))
			return EBADMSG;
	r.user_us = ticks_to_us(f[0]);
	r.nice_us = ticks_to_us(f[1]);
	r.system_us = ticks_to_us(f[2]);
	r.idle_us = ticks_to_us(f[3]);
	r.iowait_us = ticks_to_us(f[4]);
	r.irq_us = ticks_to_us(f[5]);
	r.softirq_us = ticks_to_us(f[6]);
	r.steal_us = ticks_to_us(f[7]);
	for (p = strchr(p, '\n'); p; p = strchr(p + 1, '\n'))
		if (strncmp(p + 1, "cpu", 3) == 0 && p[4] >= '0' &&
		    p[4] <= '9')
			r.ncpu++;
	if (r.ncpu == 0)
		return EBADMSG;
	*m = r;
	return 0;
}

int procstat_machine_read(struct procstat_machine *m)
{
	/* 2 CPUs need 200 bytes; "intr" with every IRQ's count can be
	 * long, but it comes after the cpu lines, so a cut is harmless. */
	char text[16384];
	size_t len;
	int err;

	err = read_small_file("/proc/stat", text, sizeof(text), &len);
	if (err)
		return err;
	err = procstat_machine_parse(text, m);
	if (!err)
		m->t_ns = monotonic_ns();
	return err;
}

/* b - a into *d; false when it went backwards. */
static bool grew(uint64_t a, uint64_t b, uint64_t *d)
{
	if (b < a)
		return false;
	*d = b - a;
	return true;
}

int procstat_machine_share(const struct procstat_machine *a,
			   const struct procstat_machine *b, uint64_t ours_us,
			   struct procstat_share *out)
{
	uint64_t us, ni, sy, id, io, irq, sirq, st, busy, total;
	struct procstat_share s;

	if (b->t_ns <= a->t_ns || !grew(a->user_us, b->user_us, &us) ||
	    !grew(a->nice_us, b->nice_us, &ni) ||
	    !grew(a->system_us, b->system_us, &sy) ||
	    !grew(a->idle_us, b->idle_us, &id) ||
	    !grew(a->iowait_us, b->iowait_us, &io) ||
	    !grew(a->irq_us, b->irq_us, &irq) ||
	    !grew(a->softirq_us, b->softirq_us, &sirq) ||
	    !grew(a->steal_us, b->steal_us, &st))
		return EINVAL;
	busy = us + ni + sy + irq + sirq;
	total = busy + id + io + st;
	memset(&s, 0, sizeof(s));
	s.interval_s = (double)(b->t_ns - a->t_ns) / 1e9;
	s.others = -1;
	if (total == 0) {
		/* Under one tick: nothing to tell yet. */
		s.idle = 1;
		if (ours_us != UINT64_MAX)
			s.others = 0;
		*out = s;
		return 0;
	}
	s.busy = (double)busy / (double)total;
	s.steal = (double)st / (double)total;
	s.iowait = (double)io / (double)total;
	s.idle = (double)id / (double)total;
	if (ours_us != UINT64_MAX) {
		/* Both are counted in ticks: ours can exceed the machine's
		 * busy time by a tick per process; never below 0. */
		double ours = (double)ours_us / (double)total;

		s.others = s.busy > ours ? s.busy - ours : 0;
	}
	*out = s;
	return 0;
}

int procstat_pids_cpu_us(const pid_t *pids, size_t n, uint64_t *us,
			 size_t *found)
{
	struct procstat *ps = malloc(sizeof(*ps));
	uint64_t sum = 0;
	size_t i, nfound = 0;

	if (!ps)
		return ENOMEM;
	for (i = 0; i < n; i++) {
		if (pids[i] <= 0 || procstat_read(pids[i], false, ps))
			continue;
		sum += ps->user_us + ps->sys_us;
		nfound++;
	}
	free(ps);
	*us = sum;
	if (found)
		*found = nfound;
	return 0;
}

/* ------------------------------------------------------------------ */
/* A host as a cgroup                                                 */

/* "key value" lines: the value of key, or false. */
static bool keyed_u64(const char *text, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			const char *q = p + kl;

			return next_u64(&q, v) == 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

/* The CPU of the processes listed in dir/cgroup.procs. */
static int procs_cpu_us(const char *dir, uint64_t *us)
{
	char path[512], *text = NULL;
	pid_t *pids = NULL;
	size_t len, n = 0, cap = 0;
	const char *p;
	int err;

	text = malloc(65536);
	if (!text)
		return ENOMEM;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	err = read_small_file(path, text, 65536, &len);
	if (err)
		goto out;
	for (p = text; *p;) {
		uint64_t v;

		if (next_u64(&p, &v) || v == 0 || v > INT32_MAX)
			break;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 64;
			pid_t *np = realloc(pids, nc * sizeof(*np));

			if (!np) {
				err = ENOMEM;
				goto out;
			}
			pids = np;
			cap = nc;
		}
		pids[n++] = (pid_t)v;
		while (*p == '\n')
			p++;
	}
	err = procstat_pids_cpu_us(pids, n, us, NULL);
out:
	free(pids);
	free(text);
	return err;
}

int procstat_cgroup_read(const char *dir, struct procstat_cgroup *cg)
{
	char path[512], text[4096];
	struct procstat_cgroup r;
	bool have_stat, have_usage = false;
	uint64_t v;
	size_t len;
	int err;

	memset(&r, 0, sizeof(r));
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (access(path, R_OK) != 0)
		return ENOENT;
	snprintf(path, sizeof(path), "%s/cpu.stat", dir);
	have_stat = read_small_file(path, text, sizeof(text), &len) == 0;
	if (have_stat) {
		/* v2: usage_usec, nr_periods, nr_throttled, throttled_usec;
		 * v1: nr_periods, nr_throttled, throttled_time (ns). */
		if (keyed_u64(text, "usage_usec", &r.usage_us))
			have_usage = true;
		keyed_u64(text, "nr_periods", &r.nr_periods);
		keyed_u64(text, "nr_throttled", &r.nr_throttled);
		if (keyed_u64(text, "throttled_usec", &v))
			r.throttled_us = v;
		else if (keyed_u64(text, "throttled_time", &v))
			r.throttled_us = v / 1000;
	}
	if (!have_usage) {
		snprintf(path, sizeof(path), "%s/cpuacct.usage", dir);
		if (read_small_file(path, text, sizeof(text), &len) == 0) {
			const char *p = text;

			if (next_u64(&p, &v) == 0) {
				r.usage_us = v / 1000;
				have_usage = true;
			}
		}
	}
	if (!have_usage) {
		err = procs_cpu_us(dir, &r.usage_us);
		if (err)
			return err;
	}
	r.t_ns = monotonic_ns();
	*cg = r;
	return 0;
}

double procstat_cgroup_cpu(const struct procstat_cgroup *a,
			   const struct procstat_cgroup *b)
{
	if (b->t_ns <= a->t_ns || b->usage_us < a->usage_us)
		return 0;
	return (double)(b->usage_us - a->usage_us) * 1000.0 /
	       (double)(b->t_ns - a->t_ns);
}
