/* Tests for common/: the control channel and /proc sampling. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
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

static void burn_cpu_ms(unsigned ms)
{
	uint64_t end = ev_monotonic_ns() + EV_MS(ms);
	volatile uint64_t x = 0;

	while (ev_monotonic_ns() < end)
		x++;
}

TEST(procstat_reads_self_and_sees_a_busy_thread)
{
	static struct procstat a, b;
	pid_t tid = (pid_t)gettid();
	double cpu, tcpu;

	ASSERT_EQ(procstat_read(0, true, &a), 0);
	ASSERT(a.rss_kb > 0);
	ASSERT(a.nthreads >= 1);
	burn_cpu_ms(300);
	ASSERT_EQ(procstat_read(0, true, &b), 0);
	cpu = procstat_cpu(&a, &b);
	tcpu = procstat_thread_cpu(&a, &b, tid);
	/* A busy loop is about one core; the machine may be loaded. */
	ASSERT_MSG(cpu > 0.3 && cpu < 1.3, "process cpu %.2f", cpu);
	ASSERT_MSG(tcpu > 0.3 && tcpu < 1.3, "thread cpu %.2f", tcpu);
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
