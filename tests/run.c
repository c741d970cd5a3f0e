/*
 * tests/run - the one test runner.
 *
 *	tests/run [-j N] [-l] [-v] [NAME...]
 *
 * Runs every registered test (or those whose name starts with one of the
 * NAMEs) each in a forked child with its own process group, temporary
 * directory and timeout.  A child's output is kept and shown only when
 * it fails (always with -v).  The last line is exactly
 * "N passed, N failed" with ", N skipped" when some were skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "obj.h"
#include "test.h"

#define EXIT_SKIP 77

static struct test *tests;
static size_t ntests;
static char root_dir[PATH_MAX];
static char shared_dir[PATH_MAX];
static char bin_dir[PATH_MAX];
static char tmp_dir[PATH_MAX];

void test_register(struct test *t)
{
	t->next = tests;
	tests = t;
	ntests++;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(NULL);
	_exit(1);
}

void test_skip(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "SKIP: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(NULL);
	_exit(EXIT_SKIP);
}

const char *test_root_dir(void)
{
	return root_dir;
}

const char *test_shared_dir(void)
{
	return shared_dir;
}

const char *test_bin_dir(void)
{
	return bin_dir;
}

const char *test_tmp_dir(void)
{
	return tmp_dir;
}

char *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		test_fail(__FILE__, __LINE__, "open %s: %s", path,
			  strerror(errno));
	for (;;) {
		size_t got;

		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			data = realloc(data, cap);
			if (!data)
				test_fail(__FILE__, __LINE__, "out of memory");
		}
		got = fread(data + n, 1, cap - n - 1, f);
		if (got == 0)
			break;
		n += got;
	}
	fclose(f);
	data[n] = '\0';
	*len = n;
	return data;
}

char *test_crlf(const char *s, size_t len, size_t *out_len)
{
	char *d = malloc(2 * len + 1);
	size_t o = 0;

	if (!d)
		test_fail(__FILE__, __LINE__, "out of memory");
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			d[o++] = '\r';
		d[o++] = s[i];
	}
	d[o] = '\0';
	if (out_len)
		*out_len = o;
	return d;
}

const char *test_path(const char *dir, const char *name)
{
	static char paths[16][PATH_MAX];
	static unsigned next;
	char *path = paths[next++ % 16];

	snprintf(path, PATH_MAX, "%.2000s/%.1000s", dir, name);
	return path;
}

const char *test_write_file(const char *name, const char *text)
{
	const char *path = test_path(tmp_dir, name);
	FILE *f;

	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		test_fail(__FILE__, __LINE__, "cannot write %s", path);
	return path;
}

const struct test *test_registered(void)
{
	return tests;
}

bool test_find_duplicate(const struct test *list, const struct test **a,
			 const struct test **b)
{
	/* Quadratic, but over some 500 names once per run: well under a
	 * millisecond. */
	for (const struct test *x = list; x; x = x->next)
		for (const struct test *y = x->next; y; y = y->next)
			if (!strcmp(x->name, y->name)) {
				*a = x;
				*b = y;
				return true;
			}
	return false;
}

static int cmp_name(const void *a, const void *b)
{
	const struct test *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int remove_tree(const char *path)
{
	pid_t pid = fork();
	int status;

	/* rm -rf of a directory we made ourselves; simpler than nftw here. */
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", path, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return errno;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* In the child: set up, run, check for leaks, exit with the verdict. */
static void run_child(struct test *t, const char *dir, int out_fd)
{
	size_t live;

	setpgid(0, 0);
	dup2(out_fd, STDOUT_FILENO);
	dup2(out_fd, STDERR_FILENO);
	close(out_fd);
	if (chdir(dir) != 0)
		test_fail(__FILE__, __LINE__, "chdir %s", dir);
	snprintf(tmp_dir, sizeof(tmp_dir), "%s", dir);
	live = obj_live();
	t->fn();
	if (obj_live() != live)
		test_fail(t->file, 0, "%zu reference-counted objects leaked",
			  obj_live() - live);
	fflush(NULL);
	_exit(0);
}

struct running {
	struct test *t;
	pid_t pid;
	char dir[PATH_MAX];
	char log[PATH_MAX];
	struct timespec start;
	bool timed_out;
};

static double elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void show_log(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("    | %s%s", line,
		       line[strlen(line) - 1] == '\n' ? "" : "\n");
	fclose(f);
}

static bool selected(const struct test *t, int argc, char **argv)
{
	int i;

	if (argc == 0)
		return true;
	for (i = 0; i < argc; i++)
		if (strncmp(t->name, argv[i], strlen(argv[i])) == 0)
			return true;
	return false;
}

static void find_dirs(const char *argv0)
{
	char exe[PATH_MAX];
	const char *env;
	ssize_t n;
	char *slash;
	int up;

	/* The runner lives in <root>/build/<variant>/tests/run. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		snprintf(exe, sizeof(exe), "%s", argv0);
	else
		exe[n] = '\0';
	snprintf(root_dir, sizeof(root_dir), "%s", exe);
	for (up = 0; up < 8; up++) {
		char probe[PATH_MAX + 32];
		struct stat st;

		slash = strrchr(root_dir, '/');
		if (!slash)
			break;
		*slash = '\0';
		snprintf(probe, sizeof(probe), "%s/GNUmakefile", root_dir);
		if (stat(probe, &st) == 0)
			break;
	}
	env = getenv("SIPSTONE_ROOT");
	if (env)
		snprintf(root_dir, sizeof(root_dir), "%s", env);
	env = getenv("SIPSTONE_SHARED");
	if (env)
		snprintf(shared_dir, sizeof(shared_dir), "%s", env);
	else
		snprintf(shared_dir, sizeof(shared_dir), "%.*s/../shared",
			 PATH_MAX - 16, root_dir);
	env = getenv("SIPSTONE_BIN");
	if (env)
		snprintf(bin_dir, sizeof(bin_dir), "%s", env);
	else
		snprintf(bin_dir, sizeof(bin_dir), "%.*s/bin", PATH_MAX - 8,
			 root_dir);
}

static int start_one(struct running *r, struct test *t, const char *base)
{
	int fd;

	r->t = t;
	r->timed_out = false;
	snprintf(r->dir, sizeof(r->dir), "%s/%s", base, t->name);
	snprintf(r->log, sizeof(r->log), "%s/%s.log", base, t->name);
	if (mkdir(r->dir, 0700) != 0 && errno != EEXIST)
		return errno;
	fd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	fflush(NULL);
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	r->pid = fork();
	if (r->pid < 0) {
		close(fd);
		return errno;
	}
	if (r->pid == 0)
		run_child(t, r->dir, fd);
	/* Both sides set the group so that a kill can never miss it. */
	setpgid(r->pid, r->pid);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct test **list;
	struct running *slots;
	unsigned passed = 0, failed = 0, skipped = 0;
	char base[] = "/tmp/sipstone-tests-XXXXXX";
	bool verbose = false, list_only = false;
	int jobs = 1, opt;
	size_t i, n = 0, next = 0, busy = 0;

	while ((opt = getopt(argc, argv, "j:lv")) != -1) {
		switch (opt) {
		case 'j':
			jobs = (int)strtol(optarg, NULL, 10);
			if (jobs < 1 || jobs > 64) {
				fprintf(stderr, "run: -j takes 1..64\n");
				return 2;
			}
			break;
		case 'l':
			list_only = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr, "usage: run [-j N] [-l] [-v] "
					"[NAME...]\n");
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	find_dirs(argv[-optind]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	{
		const struct test *a, *b;

		if (test_find_duplicate(tests, &a, &b)) {
			fprintf(stderr,
				"run: two tests are named %s: %s and %s\n",
				a->name, b->file, a->file);
			return 2;
		}
	}

	list = calloc(ntests ? ntests : 1, sizeof(*list));
	slots = calloc((size_t)jobs, sizeof(*slots));
	if (!list || !slots)
		return 2;
	for (struct test *t = tests; t; t = t->next)
		if (selected(t, argc, argv))
			list[n++] = t;
	qsort(list, n, sizeof(*list), cmp_name);
	if (list_only) {
		for (i = 0; i < n; i++)
			printf("%s\n", list[i]->name);
		return 0;
	}
	if (!mkdtemp(base)) {
		perror("run: mkdtemp");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	while (next < n || busy > 0) {
		int status;
		pid_t pid;

		for (int s = 0; s < jobs && next < n; s++) {
			if (slots[s].t)
				continue;
			if (start_one(&slots[s], list[next], base)) {
				printf("FAIL %s: cannot start: %s\n",
				       list[next]->name, strerror(errno));
				failed++;
				slots[s].t = NULL;
			} else {
				busy++;
			}
			next++;
		}
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == 0) {
			struct timespec pause = {0, 5 * 1000 * 1000};

			for (int s = 0; s < jobs; s++) {
				struct running *r = &slots[s];

				if (!r->t || r->timed_out ||
				    elapsed(&r->start) < r->t->timeout_s)
					continue;
				r->timed_out = true;
				kill(-r->pid, SIGKILL);
			}
			nanosleep(&pause, NULL);
			continue;
		}
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int s = 0; s < jobs; s++) {
			struct running *r = &slots[s];
			const char *verdict;
			bool show = verbose;

			if (!r->t || r->pid != pid)
				continue;
			/* Whatever the test left running in its group goes. */
			kill(-r->pid, SIGKILL);
			if (r->timed_out) {
				verdict = "FAIL";
				failed++;
				show = true;
			} else if (WIFEXITED(status) &&
				   WEXITSTATUS(status) == 0) {
				verdict = "ok";
				passed++;
			} else if (WIFEXITED(status) &&
				   WEXITSTATUS(status) == EXIT_SKIP) {
				verdict = "skip";
				skipped++;
				show = true;
			} else {
				verdict = "FAIL";
				failed++;
				show = true;
			}
			printf("%-4s %s (%.2fs)%s", verdict, r->t->name,
			       elapsed(&r->start),
			       r->timed_out ? " timed out" : "");
			if (WIFSIGNALED(status) && !r->timed_out)
				printf(" killed by signal %d",
				       WTERMSIG(status));
			printf("\n");
			if (show)
				show_log(r->log);
			remove_tree(r->dir);
			unlink(r->log);
			r->t = NULL;
			busy--;
		}
	}
	remove_tree(base);
	if (skipped)
		printf("%u passed, %u failed, %u skipped\n", passed, failed,
		       skipped);
	else
		printf("%u passed, %u failed\n", passed, failed);
	free(list);
	free(slots);
	return failed ? 1 : 0;
}
