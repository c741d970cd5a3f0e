/* Tests for common/: the control channel and /proc sampling. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "ev.h"
#include "obj.h"
#include "procstat.h"
#include "test.h"
#include "version.h"

struct harness {
	struct ev *ev;
	struct ctl *ctl;
	int to_ctl[2];	 /* we write [1], ctl reads [0] */
	int from_ctl[2]; /* ctl writes [1], we read [0] */
	int stops;
	char out[65536];
	size_t outlen;
};

static void on_stop(struct ctl *ctl, void *arg)
{
	struct harness *h = arg;

	(void)ctl;
	h->stops++;
}

static void harness_init(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	ASSERT_EQ(pipe2(h->to_ctl, O_CLOEXEC), 0);
	ASSERT_EQ(pipe2(h->from_ctl, O_CLOEXEC | O_NONBLOCK), 0);
	ASSERT_EQ(ev_alloc(&h->ev), 0);
	ASSERT_EQ(ctl_alloc(&h->ctl, h->ev, h->to_ctl[0], h->from_ctl[1],
			    "tester", on_stop, h),
		  0);
}

static void harness_free(struct harness *h)
{
	obj_deref(h->ctl);
	obj_deref(h->ev);
	close(h->to_ctl[0]);
	if (h->to_ctl[1] >= 0)
		close(h->to_ctl[1]);
	close(h->from_ctl[0]);
	close(h->from_ctl[1]);
}

static void send_text(struct harness *h, const char *text)
{
	size_t n = strlen(text);

	ASSERT_EQ(write(h->to_ctl[1], text, n), (ssize_t)n);
}

/* Runs the loop until the output has `lines` lines or 2 s pass. */
static void pump(struct harness *h, int lines)
{
	uint64_t end = ev_monotonic_ns() + EV_MS(2000);

	while (ev_monotonic_ns() < end) {
		int have = 0;
		ssize_t n;

		ev_run_once(h->ev, EV_MS(10));
		n = read(h->from_ctl[0], h->out + h->outlen,
			 sizeof(h->out) - h->outlen - 1);
		if (n > 0)
			h->outlen += (size_t)n;
		h->out[h->outlen] = '\0';
		for (size_t i = 0; i < h->outlen; i++)
			have += h->out[i] == '\n';
		if (have >= lines)
			return;
	}
	test_fail(__FILE__, __LINE__, "wanted %d lines, got: %s", lines,
		  h->out);
}

/* The n-th output line (0-based) parsed; caller decrefs. */
static json_t *line_json(struct harness *h, int n)
{
	const char *p = h->out, *nl;
	json_error_t jerr;
	json_t *j;

	while (n-- > 0) {
		nl = strchr(p, '\n');
		ASSERT(nl);
		p = nl + 1;
	}
	nl = strchr(p, '\n');
	ASSERT(nl);
	j = json_loadb(p, (size_t)(nl - p), 0, &jerr);
	ASSERT_MSG(j, "output line is not JSON: %.*s", (int)(nl - p), p);
	return j;
}

static int echo_cmd(struct ctl *ctl, json_t *args, json_t **result,
		    const char **error, void *arg)
{
	json_t *v = json_object_get(args, "value");

	(void)ctl;
	(void)arg;
	if (!json_is_integer(v)) {
		*error = "value must be an integer";
		return EINVAL;
	}
	*result = json_pack("{s:I}", "twice", 2 * json_integer_value(v));
	return 0;
}

TEST(ctl_ping_and_unknown_command)
{
	struct harness h;
	json_t *a, *b;

	harness_init(&h);
	send_text(&h, "{\"id\":7,\"cmd\":\"ping\"}\n{\"cmd\":\"fly\"}\n");
	pump(&h, 2);
	a = line_json(&h, 0);
	b = line_json(&h, 1);
	ASSERT(json_is_true(json_object_get(a, "ok")));
	ASSERT_EQ(json_integer_value(json_object_get(a, "id")), 7);
	ASSERT_STR(json_string_value(json_object_get(a, "role")), "tester");
	ASSERT_EQ(json_integer_value(json_object_get(a, "pid")), getpid());
	ASSERT_STR(json_string_value(json_object_get(a, "version")),
		   version_string());
	ASSERT(json_is_false(json_object_get(b, "ok")));
	ASSERT(strstr(json_string_value(json_object_get(b, "error")), "unknown"
								      " comman"
								      "d"));
	json_decref(a);
	json_decref(b);
	harness_free(&h);
}

TEST(ctl_custom_command_result_and_error)
{
	struct harness h;
	json_t *a, *b;

	harness_init(&h);
	ASSERT_EQ(ctl_command(h.ctl, "echo", echo_cmd, NULL), 0);
	ASSERT_EQ(ctl_command(h.ctl, "echo", echo_cmd, NULL), EEXIST);
	ASSERT_EQ(ctl_command(h.ctl, "stop", echo_cmd, NULL), EEXIST);
	send_text(&h, "{\"cmd\":\"echo\",\"value\":21}\n"
		      "{\"cmd\":\"echo\",\"value\":\"x\",\"id\":\"q\"}\n");
	pump(&h, 2);
	a = line_json(&h, 0);
	b = line_json(&h, 1);
	ASSERT_EQ(json_integer_value(json_object_get(a, "twice")), 42);
	ASSERT_STR(json_string_value(json_object_get(a, "cmd")), "echo");
	ASSERT(json_is_false(json_object_get(b, "ok")));
	ASSERT_STR(json_string_value(json_object_get(b, "id")), "q");
	ASSERT_STR(json_string_value(json_object_get(b, "error")), "value "
								   "must be "
								   "an "
								   "integer");
	json_decref(a);
	json_decref(b);
	harness_free(&h);
}

TEST(ctl_bad_input_gets_errors_and_channel_carries_on)
{
	struct harness h;
	json_t *j;

	harness_init(&h);
	/* Not JSON, not an object, no cmd, duplicate keys, then a ping. */
	send_text(&h, "{nope\n[1,2]\n{\"x\":1}\n{\"cmd\":\"a\",\"cmd\":\"b\"}"
		      "\n"
		      "\n   \n{\"cmd\":\"ping\"}\n");
	pump(&h, 5);
	for (int i = 0; i < 4; i++) {
		j = line_json(&h, i);
		ASSERT_MSG(json_is_false(json_object_get(j, "ok")),
			   "line %d should be an error", i);
		json_decref(j);
	}
	j = line_json(&h, 4);
	ASSERT(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	ASSERT_EQ(ctl_lines_bad(h.ctl), 4);
	ASSERT_EQ(ctl_lines_in(h.ctl), 5);
	harness_free(&h);
}

TEST(ctl_line_too_long_is_rejected_then_recovers)
{
	struct harness h;
	static char big[CTL_LINE_MAX + 5000];
	json_t *a, *b;

	harness_init(&h);
	memset(big, 'x', sizeof(big) - 1);
	/* Written in pieces: the pipe holds 64 KiB; the loop drains it. */
	for (size_t off = 0; off < sizeof(big) - 1;) {
		size_t n = sizeof(big) - 1 - off > 4096
				   ? 4096
				   : sizeof(big) - 1 - off;

		ASSERT_EQ(write(h.to_ctl[1], big + off, n), (ssize_t)n);
		off += n;
		ev_run_once(h.ev, 0);
	}
	send_text(&h, "\n{\"cmd\":\"ping\"}\n");
	pump(&h, 2);
	a = line_json(&h, 0);
	b = line_json(&h, 1);
	ASSERT_STR(json_string_value(json_object_get(a, "error")), "line too "
								   "long");
	ASSERT(json_is_true(json_object_get(b, "ok")));
	json_decref(a);
	json_decref(b);
	harness_free(&h);
}

TEST(ctl_stop_command_and_end_of_input_stop_once)
{
	struct harness h;

	harness_init(&h);
	send_text(&h, "{\"cmd\":\"stop\"}\n{\"cmd\":\"ping\"}\n");
	pump(&h, 1);
	ASSERT_EQ(h.stops, 1);
	/* After stop the input is no longer read: no second line. */
	for (int i = 0; i < 5; i++)
		ev_run_once(h.ev, EV_MS(5));
	ASSERT(strchr(h.out, '\n') == h.out + h.outlen - 1);
	harness_free(&h);

	harness_init(&h);
	close(h.to_ctl[1]);
	h.to_ctl[1] = -1;
	for (int i = 0; i < 5 && !h.stops; i++)
		ev_run_once(h.ev, EV_MS(10));
	ASSERT_EQ(h.stops, 1);
	harness_free(&h);
}

TEST(ctl_event_carries_role_time_and_fields)
{
	struct harness h;
	long long before = ctl_unix_ms();
	json_t *f = json_pack("{s:i,s:s}", "n", 3, "event", "spoof");
	json_t *e;

	harness_init(&h);
	ASSERT_EQ(ctl_event(h.ctl, "stats", f), 0);
	pump(&h, 1);
	e = line_json(&h, 0);
	/* The event name is the channel's, not a field's. */
	ASSERT_STR(json_string_value(json_object_get(e, "event")), "stats");
	ASSERT_STR(json_string_value(json_object_get(e, "role")), "tester");
	ASSERT_EQ(json_integer_value(json_object_get(e, "n")), 3);
	ASSERT(json_integer_value(json_object_get(e, "t_ms")) >= before);
	json_decref(e);
	json_decref(f);
	harness_free(&h);
}

TEST(ctl_ready_event_carries_the_version)
{
	struct harness h;
	json_t *e;

	harness_init(&h);
	ASSERT_EQ(ctl_event(h.ctl, "stats", NULL), 0);
	ASSERT_EQ(ctl_event(h.ctl, "ready", NULL), 0);
	pump(&h, 2);
	e = line_json(&h, 0);
	ASSERT(!json_object_get(e, "version"));
	json_decref(e);
	e = line_json(&h, 1);
	ASSERT_STR(json_string_value(json_object_get(e, "event")), "ready");
	ASSERT(version_string()[0]);
	ASSERT_STR(json_string_value(json_object_get(e, "version")),
		   version_string());
	json_decref(e);
	harness_free(&h);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Spins until this thread has had ms of CPU (at most 5 s of wall time:
 * on a loaded machine a wall-time loop gets only a share of a core). */
static void burn_thread_cpu_ms(unsigned ms)
{
	uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	uint64_t end = ev_monotonic_ns() + EV_MS(5000);
	volatile uint64_t x = 0;

	while (clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0 < EV_MS(ms) &&
	       ev_monotonic_ns() < end)
		x++;
}

TEST(procstat_reads_self_and_sees_a_busy_thread)
{
	static struct procstat a, b;
	pid_t tid = (pid_t)gettid();
	uint64_t c0, c1;
	double cpu, tcpu, want;

	ASSERT_EQ(procstat_read(0, true, &a), 0);
	c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	ASSERT(a.rss_kb > 0);
	ASSERT(a.nthreads >= 1);
	burn_thread_cpu_ms(300);
	c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	ASSERT_EQ(procstat_read(0, true, &b), 0);
	cpu = procstat_cpu(&a, &b);
	tcpu = procstat_thread_cpu(&a, &b, tid);
	/* What the kernel's own clock says we used over the same wall
	 * time, whatever share of a core a loaded machine gave us;
	 * /proc's figures are in 10 ms ticks. */
	want = (double)(c1 - c0) / (double)(b.t_ns - a.t_ns);
	ASSERT_MSG(want > 0.05, "the loop got %.2f of a core", want);
	ASSERT_MSG(cpu > want * 0.8 - 0.05 && cpu < want * 1.2 + 0.05,
		   "process cpu %.2f, clock says %.2f", cpu, want);
	ASSERT_MSG(tcpu > want * 0.8 - 0.05 && tcpu < want * 1.2 + 0.05,
		   "thread cpu %.2f, clock says %.2f", tcpu, want);
	ASSERT(procstat_thread_cpu(&a, &b, 999999) < 0);
}

TEST(procstat_idle_process_and_odd_names)
{
	static struct procstat a, b;
	int sync_pipe[2];
	pid_t child;
	char c;

	ASSERT_EQ(pipe(sync_pipe), 0);
	child = fork();
	ASSERT(child >= 0);
	if (child == 0) {
		/* A name with spaces and parentheses, as /proc shows it. */
		prctl(PR_SET_NAME, "a) (b c", 0, 0, 0);
		ASSERT_EQ(write(sync_pipe[1], "x", 1), 1);
		pause();
		_exit(0);
	}
	ASSERT_EQ(read(sync_pipe[0], &c, 1), 1);
	ASSERT_EQ(procstat_read(child, true, &a), 0);
	ASSERT_EQ(a.nthreads, 1);
	ASSERT_STR(a.threads[0].name, "a) (b c");
	usleep(200 * 1000);
	ASSERT_EQ(procstat_read(child, false, &b), 0);
	ASSERT(procstat_cpu(&a, &b) < 0.1);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	ASSERT_EQ(procstat_read(child, false, &b), ENOENT);
	close(sync_pipe[0]);
	close(sync_pipe[1]);
}

static void read_machine_fixture(const char *name, struct procstat_machine *m)
{
	char path[512];
	char *text;
	size_t len;

	snprintf(path, sizeof(path), "%s/tests/data/%s", test_root_dir(),
		 name);
	text = test_read_file(path, &len);
	ASSERT_EQ(procstat_machine_parse(text, m), 0);
	free(text);
}

static bool near(double a, double b)
{
	return a > b - 1e-9 && a < b + 1e-9;
}

/* Two readings of a 2-CPU VM 2 s apart, growth in ticks: user 100,
 * system 50, idle 30, iowait 10, softirq 10, steal 200 (400 in all). */
TEST(procstat_machine_shares_of_recorded_readings)
{
	struct procstat_machine a, b;
	struct procstat_share s;
	uint64_t tick_us = 1000000 / (uint64_t)sysconf(_SC_CLK_TCK);

	read_machine_fixture("procstat-vm-a.stat", &a);
	read_machine_fixture("procstat-vm-b.stat", &b);
	ASSERT_EQ(a.ncpu, 2);
	ASSERT_EQ(a.steal_us, 224 * tick_us);
	ASSERT_EQ(b.softirq_us, 563 * tick_us);
	a.t_ns = 1000000000;
	b.t_ns = 3000000000;
	/* Our processes used 80 ticks: 0.2 of the machine's 400. */
	ASSERT_EQ(procstat_machine_share(&a, &b, 80 * tick_us, &s), 0);
	ASSERT_MSG(near(s.busy, 0.4), "busy %f", s.busy);
	ASSERT_MSG(near(s.steal, 0.5), "steal %f", s.steal);
	ASSERT_MSG(near(s.iowait, 0.025), "iowait %f", s.iowait);
	ASSERT_MSG(near(s.idle, 0.075), "idle %f", s.idle);
	ASSERT_MSG(near(s.others, 0.2), "others %f", s.others);
	ASSERT_MSG(near(s.interval_s, 2.0), "interval %f", s.interval_s);
	/* No set of processes: others unknown.  More than the busy time
	 * (tick rounding): others 0, never negative. */
	ASSERT_EQ(procstat_machine_share(&a, &b, UINT64_MAX, &s), 0);
	ASSERT(s.others < 0);
	ASSERT_EQ(procstat_machine_share(&a, &b, 170 * tick_us, &s), 0);
	ASSERT(near(s.others, 0));
	/* Not later, or a counter going back (a CPU taken offline):
	 * EINVAL and out untouched. */
	s.busy = 7;
	ASSERT_EQ(procstat_machine_share(&b, &a, 0, &s), EINVAL);
	b.t_ns = 5000000000;
	ASSERT_EQ(procstat_machine_share(&b, &a, 0, &s), EINVAL);
	ASSERT(near(s.busy, 7));
}

TEST(procstat_machine_rejects_junk)
{
	struct procstat_machine m;

	memset(&m, 0x5a, sizeof(m));
	ASSERT_EQ(procstat_machine_parse("", &m), EBADMSG);
	ASSERT_EQ(procstat_machine_parse("cpu0 1 2 3 4 5 6 7 8\n", &m),
		  EBADMSG);
	/* Seven numbers (before 2.6.11's steal): not ours to guess. */
	ASSERT_EQ(procstat_machine_parse("cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 4 "
					 "5 6 7\n",
					 &m),
		  EBADMSG);
	ASSERT_EQ(procstat_machine_parse("cpu  1 2 3 4x 5 6 7 8\ncpu0 1 2 3 "
					 "4 5 6 7 8\n",
					 &m),
		  EBADMSG);
	ASSERT_EQ(procstat_machine_parse("cpu  1 2 3 4 5 6 7 -8\ncpu0 1 2 3 "
					 "4 5 6 7 8\n",
					 &m),
		  EBADMSG);
	ASSERT_EQ(procstat_machine_parse("cpu  1 2 3 4 5 6 7 "
					 "99999999999999999999999\n"
					 "cpu0 1 2 3 4 5 6 7 8\n",
					 &m),
		  EBADMSG);
	/* No per-CPU line. */
	ASSERT_EQ(procstat_machine_parse("cpu  1 2 3 4 5 6 7 8\nintr 1\n", &m),
		  EBADMSG);
	ASSERT_EQ(m.ncpu, 0x5a5a5a5au);
	ASSERT_EQ(procstat_machine_parse("cpu  1 2 3 4 5 6 7 8\ncpu0 1 2 3 "
					 "4 5 6 7 8\ncpu1 1 2 3 4 5 6 7 8\n",
					 &m),
		  0);
	ASSERT_EQ(m.ncpu, 2);
}

/* The live machine: a busy loop of ours shows in busy, and what the
 * others took is busy less ours. */
TEST(procstat_machine_live_busy_loop_is_ours)
{
	struct procstat_machine a, b;
	struct procstat_share s;
	pid_t pids[2] = {getpid(), 999999};
	uint64_t us0, us1;
	size_t found;
	double ours;

	ASSERT_EQ(procstat_machine_read(&a), 0);
	ASSERT(a.ncpu >= 1);
	ASSERT_EQ(procstat_pids_cpu_us(pids, 2, &us0, &found), 0);
	ASSERT_EQ(found, 1);
	burn_thread_cpu_ms(300);
	ASSERT_EQ(procstat_machine_read(&b), 0);
	ASSERT_EQ(procstat_pids_cpu_us(pids, 2, &us1, NULL), 0);
	ASSERT_EQ(procstat_machine_share(&a, &b, us1 - us0, &s), 0);
	ours = (double)(us1 - us0) / 1e6 / s.interval_s / b.ncpu;
	ASSERT_MSG(s.busy + s.steal + s.iowait + s.idle > 0.999 &&
			   s.busy + s.steal + s.iowait + s.idle < 1.001,
		   "shares add to %f", s.busy + s.steal + s.iowait + s.idle);
	/* The 300 ms of CPU we spun are ours (ticks: 10 ms either way),
	 * and the machine was at least that busy. */
	ASSERT_MSG(us1 - us0 >= 250000, "ours %llu us",
		   (unsigned long long)(us1 - us0));
	ASSERT_MSG(s.busy + 0.05 >= ours, "busy %f < ours %f", s.busy, ours);
	ASSERT_MSG(s.others >= 0 && s.others <= s.busy, "others %f busy %f",
		   s.others, s.busy);
}

/* A cgroup v2 host (usage in cpu.stat) and a v1 one without cpuacct
 * (usage summed over its processes), as files in the test directory. */
TEST(procstat_cgroup_reads_v2_stat_and_v1_processes)
{
	struct procstat_cgroup a, b;
	char pidline[32];
	uint64_t us;

	ASSERT_EQ(procstat_cgroup_read("no-such-dir", &a), ENOENT);
	ASSERT_EQ(mkdir("v2", 0700), 0);
	test_write_file("v2/cgroup.procs", "");
	test_write_file("v2/cpu.stat", "usage_usec 5000000\nuser_usec "
				       "4000000\n"
				       "system_usec 1000000\nnr_periods 120\n"
				       "nr_throttled 30\nthrottled_usec "
				       "2500000\n");
	ASSERT_EQ(procstat_cgroup_read("v2", &a), 0);
	ASSERT_EQ(a.usage_us, 5000000);
	ASSERT_EQ(a.nr_periods, 120);
	ASSERT_EQ(a.nr_throttled, 30);
	ASSERT_EQ(a.throttled_us, 2500000);
	b = a;
	b.usage_us += 250000;
	b.t_ns = a.t_ns + 1000000000;
	ASSERT(near(procstat_cgroup_cpu(&a, &b), 0.25));
	ASSERT(near(procstat_cgroup_cpu(&b, &a), 0));

	ASSERT_EQ(mkdir("v1", 0700), 0);
	snprintf(pidline, sizeof(pidline), "%d\n999999\n", (int)getpid());
	test_write_file("v1/cgroup.procs", pidline);
	test_write_file("v1/cpu.stat", "nr_periods 7\nnr_throttled 2\n"
				       "throttled_time 3000000\n");
	burn_thread_cpu_ms(100);
	ASSERT_EQ(procstat_cgroup_read("v1", &a), 0);
	ASSERT_EQ(procstat_pids_cpu_us(&(pid_t){getpid()}, 1, &us, NULL), 0);
	ASSERT_MSG(a.usage_us > 0 && a.usage_us <= us, "usage %llu ours %llu",
		   (unsigned long long)a.usage_us, (unsigned long long)us);
	ASSERT_EQ(a.nr_throttled, 2);
	ASSERT_EQ(a.throttled_us, 3000);
}

static void add_counters(struct ctl *ctl, json_t *stats, void *arg)
{
	int *calls = arg;

	(void)ctl;
	(*calls)++;
	json_object_set_new(stats, "requests", json_integer(1234));
}

TEST(ctl_stats_snapshot_has_cpu_threads_and_role_counters)
{
	struct harness h;
	int calls = 0;
	json_t *r, *cpu, *threads;

	harness_init(&h);
	ctl_stats_source(h.ctl, add_counters, &calls);
	ASSERT_EQ(ctl_command(h.ctl, "stats", echo_cmd, NULL), EEXIST);
	send_text(&h, "{\"cmd\":\"stats\",\"id\":3}\n");
	pump(&h, 1);
	r = line_json(&h, 0);
	ASSERT(json_is_true(json_object_get(r, "ok")));
	ASSERT_EQ(json_integer_value(json_object_get(r, "requests")), 1234);
	ASSERT(json_integer_value(json_object_get(r, "rss_kb")) > 0);
	ASSERT(json_is_integer(json_object_get(r, "uptime_ms")));
	cpu = json_object_get(r, "cpu");
	ASSERT(json_is_integer(json_object_get(cpu, "user_us")));
	threads = json_object_get(cpu, "threads");
	ASSERT(json_array_size(threads) >= 1);
	ASSERT_EQ(json_integer_value(
			  json_object_get(json_array_get(threads, 0), "tid")),
		  getpid());
	ASSERT_EQ(calls, 1);
	json_decref(r);
	harness_free(&h);
}

TEST(ctl_stats_interval_emits_events_until_turned_off)
{
	struct harness h;
	int calls = 0, events = 0;
	json_t *j;

	harness_init(&h);
	ctl_stats_source(h.ctl, add_counters, &calls);
	send_text(&h, "{\"cmd\":\"stats-interval\",\"ms\":50}\n"
		      "{\"cmd\":\"stats-interval\",\"ms\":100}\n");
	/* Two replies, then events every 100 ms: 3 within 2 s. */
	pump(&h, 5);
	for (int i = 0; i < 5; i++) {
		j = line_json(&h, i);
		if (i == 0)
			ASSERT(json_is_false(json_object_get(j, "ok")));
		else if (i == 1)
			ASSERT(json_is_true(json_object_get(j, "ok")));
		else if (json_object_get(j, "event"))
			events++;
		json_decref(j);
	}
	ASSERT_EQ(events, 3);
	send_text(&h, "{\"cmd\":\"stats-interval\",\"ms\":0,\"id\":9}\n");
	h.outlen = 0;
	/* Events may still come before the reply to "off": wait for it. */
	for (int i = 0; i < 200 && !strstr(h.out, "\"id\":9"); i++) {
		ssize_t n;

		ev_run_once(h.ev, EV_MS(10));
		n = read(h.from_ctl[0], h.out + h.outlen,
			 sizeof(h.out) - h.outlen - 1);
		if (n > 0)
			h.outlen += (size_t)n;
		h.out[h.outlen] = '\0';
	}
	ASSERT(strstr(h.out, "\"id\":9"));
	/* After "off", at most the reply and nothing for 300 ms. */
	h.outlen = 0;
	for (int i = 0; i < 30; i++) {
		ssize_t n;

		ev_run_once(h.ev, EV_MS(10));
		n = read(h.from_ctl[0], h.out, sizeof(h.out) - 1);
		if (n > 0)
			h.outlen += (size_t)n;
	}
	ASSERT_EQ(h.outlen, 0);
	harness_free(&h);
}

#include "argcfg.h"

TEST(argcfg_expands_a_config_file_into_flags)
{
	char *argv[] = {"prog", "--x", "1", "--config", NULL, "--y", NULL};
	char err[300] = "", **out = NULL;
	const char *path;
	int n = 0;

	path = test_write_file("c.json", "{\"listen\": [\"udp:a:1\", "
					 "\"tcp:a:1\"], "
					 "\"ring-ms\": 5, \"control\": true, "
					 "\"quiet\": "
					 "false, \"rate\": 2.5}");
	argv[4] = (char *)path;
	ASSERT_EQ(argcfg_expand(6, argv, &n, &out, err, sizeof(err)), 0);
	/* prog --x 1, the file's flags in order, then --y. */
	ASSERT_EQ(n, 13);
	ASSERT_STR(out[3], "--listen");
	ASSERT_STR(out[4], "udp:a:1");
	ASSERT_STR(out[5], "--listen");
	ASSERT_STR(out[6], "tcp:a:1");
	ASSERT_STR(out[7], "--ring-ms");
	ASSERT_STR(out[8], "5");
	ASSERT_STR(out[9], "--control");
	ASSERT_STR(out[10], "--rate");
	ASSERT_STR(out[11], "2.5");
	ASSERT_STR(out[12], "--y");
	ASSERT(out[13] == NULL);
	argcfg_free(n, out);
}

TEST(argcfg_bad_files_are_said)
{
	char *argv[] = {"prog", "--config", NULL, NULL};
	char err[300] = "", **out = NULL;
	int n = 0;

	argv[2] = (char *)test_write_file("bad.json", "{\"a\": {\"b\": 1}}");
	ASSERT_EQ(argcfg_expand(3, argv, &n, &out, err, sizeof(err)), EBADMSG);
	ASSERT(strstr(err, "\"a\": expected a string"));
	argv[2] = (char *)test_write_file("syn.json", "{\"a\": ");
	ASSERT_EQ(argcfg_expand(3, argv, &n, &out, err, sizeof(err)), EBADMSG);
	ASSERT(strstr(err, "syn.json:1:"));
	argv[2] = "/nonexistent.json";
	ASSERT(argcfg_expand(3, argv, &n, &out, err, sizeof(err)) != 0);
	ASSERT(strstr(err, "/nonexistent.json"));
	ASSERT_EQ(argcfg_expand(2, argv, &n, &out, err, sizeof(err)), EBADMSG);
}
