#include <stdbool.h>
#include <stdint.h>

#include "orchrun.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "test.h"

void orchrun_need_root_and_mariadb(void)
{
	struct stat st;

	if (geteuid() != 0)
		test_skip("a managed mariadbd and sshd run as root here");
	if (stat("/usr/sbin/mariadbd", &st) != 0)
		test_skip("no mariadbd: run scripts/install-deps");
}

const char *orchrun_local_hosts(void)
{
	static char path[600];

	snprintf(path, sizeof(path), "%s/topologies/hosts/local.json",
		 test_root_dir());
	return path;
}

void orchrun_prepare(const char *name, ...)
{
	char fixture[200];
	va_list ap;

	orchrun_need_root_and_mariadb();
	snprintf(fixture, sizeof(fixture), "topo/%s.json", name);
	va_start(ap, name);
	fixture_vwrite("t.json", fixture, ap);
	va_end(ap);
}

void orchrun_expect(const char *const argv[], int want, unsigned timeout_ms)
{
	int got = proc_run(argv, "run.log", timeout_ms);

	if (got != want) {
		size_t len;
		char *log = test_read_file("run.log", &len);

		fprintf(stderr, "%s", log);
		free(log);
		test_fail(__FILE__, __LINE__, "%s exited %d, not %d", argv[0],
			  got, want);
	}
}

void orchrun_local(const char *cmd, const char *const *extra, int want)
{
	const char *argv[32] = {
		"orchestrator",	       cmd,	    "t.json", "--hosts",
		orchrun_local_hosts(), "--results", "results"};
	size_t n = 7;

	for (; extra && *extra; extra++) {
		ASSERT(n < sizeof(argv) / sizeof(argv[0]) - 1);
		argv[n++] = *extra;
	}
	argv[n] = NULL;
	orchrun_expect(argv, want, 50000);
}

void orchrun_bundle_dir(char *dir, size_t size)
{
	struct dirent *de;
	DIR *d = opendir("results");
	int found = 0;

	ASSERT(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && !strstr(de->d_name, ".tar.gz")) {
			snprintf(dir, size, "results/%s", de->d_name);
			found++;
		}
	closedir(d);
	ASSERT_EQ(found, 1);
}

void orchrun_load_bundle(struct res_run *run, char *dir, size_t size)
{
	char why[256] = "";

	orchrun_bundle_dir(dir, size);
	ASSERT_MSG(res_load(run, dir, why, sizeof(why)) == 0, "%s", why);
}

void orchrun_assert_full_step(const struct res_step *s, size_t i,
			      const char *what)
{
	ASSERT_MSG(s->success_pct == 100, "step %zu: %.2f %%", i,
		   s->success_pct);
	ASSERT_MSG(s->attempts > 1.9 * s->offered &&
			   s->attempts < 2.1 * s->offered,
		   "step %zu: %llu %s at %.0f/s", i,
		   (unsigned long long)s->attempts, what, s->offered);
}

void orchrun_assert_no_survivors(const char *log_name)
{
	size_t len;
	char *log = test_read_file(log_name, &len), *p = log;
	int seen = 0;

	while ((p = strstr(p, ", pid "))) {
		long pid = strtol(p + 6, &p, 10);

		ASSERT(pid > 1);
		ASSERT_MSG(kill((pid_t)pid, 0) != 0, "pid %ld still runs",
			   pid);
		seen++;
	}
	ASSERT(seen > 0);
	free(log);
}

bool orchrun_read_until(int fd, char *out, size_t *n, size_t size,
			const char *needle, unsigned timeout_ms)
{
	unsigned waited = 0;

	out[*n] = '\0';
	while (!(needle && strstr(out, needle)) && waited < timeout_ms &&
	       *n < size - 1) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t got;

		if (poll(&pfd, 1, 100) <= 0) {
			waited += 100;
			continue;
		}
		got = read(fd, out + *n, size - *n - 1);
		if (got <= 0)
			return !needle; /* the end (EIO on a terminal) */
		*n += (size_t)got;
		out[*n] = '\0';
	}
	return needle && strstr(out, needle);
}

bool orchrun_cap_cgroup(char *dir, size_t size, double frac)
{
	char path[700], val[64];
	struct stat st;
	bool v2 = stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;
	FILE *f;

	if (v2)
		snprintf(dir, size, "/sys/fs/cgroup/sipstone-t%d",
			 (int)getpid());
	else if (stat("/sys/fs/cgroup/cpu", &st) == 0)
		snprintf(dir, size, "/sys/fs/cgroup/cpu/sipstone-t%d",
			 (int)getpid());
	else
		return false;
	rmdir(dir);
	if (mkdir(dir, 0755) != 0)
		return false;
	if (v2) {
		snprintf(path, sizeof(path), "%s/cpu.max", dir);
		snprintf(val, sizeof(val), "%d 100000\n",
			 (int)(frac * 100000));
	} else {
		snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
		snprintf(val, sizeof(val), "%d\n", (int)(frac * 100000));
	}
	f = fopen(path, "w");
	if (!f)
		return false;
	fputs(val, f);
	return fclose(f) == 0;
}
