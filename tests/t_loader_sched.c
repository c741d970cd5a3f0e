/*
 * End-to-end tests of the loader's command-line schedules (--ramp,
 * --search rfc7502) against a server of known capacity: kamailio with
 * its ratelimit module answering OPTIONS 200 up to a set number per
 * second and 503 beyond (tests/kamailio/ratelimit.cfg); the
 * generator_bound flag in a comfortable and in an impossible run; the
 * combinations of flags that make no sense.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kamailio.h"
#include "loadreport.h"
#include "proc.h"
#include "test.h"

TEST(loader_pace_integrates_the_rate_over_time)
{
	struct loadreport_pace p = {0};
	const uint64_t s = 1000000000ull;

	ASSERT(loadreport_pace_sends(&p, 5 * s) == 0); /* not started */
	loadreport_pace_set(&p, 100, 10 * s);
	ASSERT(loadreport_pace_sends(&p, 11 * s) == 100);
	loadreport_pace_set(&p, 200, 11 * s);
	ASSERT(loadreport_pace_sends(&p, 11 * s + s / 2) == 200);
	loadreport_pace_set(&p, 0, 12 * s); /* paused */
	ASSERT(loadreport_pace_sends(&p, 20 * s) == 300);
}

TEST(loader_generator_bound_rules)
{
	static struct loadcount c;
	struct loadreport_ctx x = {.secs = 1,
				   .cpu = 0.5,
				   .threads = 2,
				   .cores = 2,
				   .asked = 1000,
				   .step = -1};
	char why[64];

	c.attempts = 1000;
	c.late_sends = 100; /* 10 %: not more than the share */
	ASSERT(!loadreport_generator_bound(&c, &x, why, sizeof(why)));
	c.late_sends = 101;
	ASSERT(loadreport_generator_bound(&c, &x, why, sizeof(why)));
	ASSERT_STR(why, "10.1% of the sends late");
	c.late_sends = 0;
	/* the pace: 1 % short is within it, more is not; skipped sends
	 * (max outstanding) are sends */
	c.attempts = 990;
	ASSERT(!loadreport_generator_bound(&c, &x, NULL, 0));
	c.attempts = 985;
	ASSERT(loadreport_generator_bound(&c, &x, why, sizeof(why)));
	ASSERT_STR(why, "sent 98.5% of the pace");
	c.throttled = 15;
	ASSERT(!loadreport_generator_bound(&c, &x, NULL, 0));
	c.throttled = 0;
	/* a low rate: a send either side of the edges */
	x.asked = 10;
	c.attempts = 8;
	ASSERT(!loadreport_generator_bound(&c, &x, NULL, 0));
	c.attempts = 7;
	ASSERT(loadreport_generator_bound(&c, &x, NULL, 0));
	/* Poisson arrivals vary: 3 standard deviations more */
	x.poisson = true;
	x.asked = 100;
	c.attempts = 70;
	ASSERT(!loadreport_generator_bound(&c, &x, NULL, 0));
	x.poisson = false;
	ASSERT(loadreport_generator_bound(&c, &x, NULL, 0));
	/* unknown pace: not judged */
	x.asked = -1;
	ASSERT(!loadreport_generator_bound(&c, &x, NULL, 0));
	/* CPU: 90 % of the cores the threads can use */
	x.cpu = 1.7;
	ASSERT(!loadreport_generator_bound(&c, &x, NULL, 0));
	x.cpu = 1.84;
	ASSERT(loadreport_generator_bound(&c, &x, why, sizeof(why)));
	ASSERT_STR(why, "CPU 92% of 2 core(s)");
	x.cores = 1; /* taskset -c 1 */
	x.cpu = 0.95;
	ASSERT(loadreport_generator_bound(&c, &x, why, sizeof(why)));
	ASSERT_STR(why, "CPU 95% of 1 core(s)");
	x.cores = 0; /* unknown: the threads */
	ASSERT(!loadreport_generator_bound(&c, &x, NULL, 0));
}

/* kamailio answering OPTIONS 200 up to limit per second, 503 beyond. */
static void kam_limited(struct kamailio *k, uint16_t port, unsigned limit)
{
	char pipe[64];
	const char *defs[] = {pipe, NULL};
	const struct kamailio_opts o = {
		.cfg = "ratelimit.cfg", .no_ctl = true, .defines = defs};

	if (!kamailio_has_module("ratelimit"))
		test_skip("kamailio (with ratelimit) is not installed");
	snprintf(pipe, sizeof(pipe), "RL_PIPE=\"1:TAILDROP:%u\"", limit);
	kamailio_start(k, port, &o);
	/* The probe was this second's first request: 1.1 s after it
	 * (kamailio_start waited 0.2 s of them). */
	usleep(900 * 1000);
}

static double jnum(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	ASSERT_MSG(json_is_number(v), "no number %s", k);
	return json_number_value(v);
}

/* Runs the loader with args after the common ones; its --json output
 * (new reference) and exit code. */
static json_t *run_loader(uint16_t port, const char *const *args,
			  unsigned timeout_ms, int want_rc)
{
	char server[64];
	const char *argv[40] = {"loader",      "--test",    "options",
				"--server",    server,	    "--users",
				"A1000-A1099", "--threads", "1",
				"--json"};
	size_t n = 10;
	struct proc ld;
	json_t *j;
	int rc;

	snprintf(server, sizeof(server), "udp:127.0.0.1:%u", port);
	for (; *args && n < 39; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	proc_start(&ld, argv);
	j = proc_read_json(&ld, timeout_ms);
	rc = proc_stop(&ld, 5000);
	if (!j || rc != want_rc)
		proc_dump_log(&ld);
	ASSERT_MSG(j, "no JSON summary");
	ASSERT_EQ(rc, want_rc);
	return j;
}

TEST_TIMEOUT(loader_schedule_ramp_stops_at_the_server_limit, 60)
{
	struct kamailio k;
	uint16_t port = proc_free_port();
	const char *args[] = {"--ramp",
			      "100,100,600",
			      "--step-s",
			      "2",
			      "--warmup-s",
			      "1",
			      "--success-percent",
			      "95",
			      "--csv",
			      "rows.csv",
			      NULL};
	json_t *j, *sched, *steps, *st;
	size_t len, i;
	char *csv, *line, *eol;
	int last_step = -1;

	kam_limited(&k, port, 350);
	j = run_loader(port, args, 40000, 0);
	sched = json_object_get(j, "schedule");
	ASSERT_STR(json_string_value(json_object_get(sched, "kind")), "ramp");
	ASSERT_STR(json_string_value(json_object_get(sched, "end")), "criteri"
								     "a");
	/* 100, 200, 300/s within 350/s; 400/s is answered 503 for an
	 * eighth of its requests: below 95 %, the ramp stops there */
	ASSERT(jnum(sched, "capacity") == 300);
	steps = json_object_get(sched, "steps");
	ASSERT_EQ(json_array_size(steps), 4);
	json_array_foreach(steps, i, st)
	{
		double rate = jnum(st, "rate");
		double pct = jnum(st, "success_pct");

		ASSERT(rate == 100.0 * (double)(i + 1));
		ASSERT(json_is_true(json_object_get(st, "passed")) == (i < 3));
		/* the measured part only: 2 s at the rate */
		ASSERT_MSG(fabs(jnum(st, "attempts") - 2 * rate) <= 4,
			   "step %zu: %g attempts", i, jnum(st, "attempts"));
		if (i < 3)
			ASSERT_MSG(pct == 100, "step %zu: %g%%", i, pct);
		else
			ASSERT_MSG(pct > 75 && pct < 95, "step 4: %g%%", pct);
		ASSERT(!json_is_true(json_object_get(st, "generator_bound")));
	}
	ASSERT(jnum(json_object_get(j, "codes"), "503") > 0);
	/* the per-second rows carry the step, in order, up to the 4th */
	csv = test_read_file("rows.csv", &len);
	ASSERT(strstr(csv, ",step\n"));
	for (line = strchr(csv, '\n') + 1; *line; line = eol + 1) {
		const char *comma;
		long s;

		eol = strchr(line, '\n');
		ASSERT(eol);
		*eol = '\0';
		comma = strrchr(line, ',');
		ASSERT(comma);
		s = strtol(comma + 1, NULL, 10);
		ASSERT_MSG(s >= last_step && s <= 3, "row %s", line);
		last_step = (int)s;
	}
	ASSERT(last_step >= 3);
	free(csv);
	json_decref(j);
	kamailio_stop(&k);
}

TEST_TIMEOUT(loader_schedule_rfc7502_search_finds_the_server_limit, 120)
{
	struct kamailio k;
	uint16_t port = proc_free_port();
	const char *args[] = {"--search",
			      "rfc7502",
			      "--trial-s",
			      "2",
			      "--start-rate",
			      "250",
			      "--granularity",
			      "10",
			      "--granularity-pct",
			      "0",
			      "--max-trials",
			      "30",
			      "--confirm-s",
			      "3",
			      NULL};
	static const double first[] = {250, 275, 302.5};
	json_t *last = NULL;
	json_t *j, *sched, *steps, *st;
	double found, failing;
	unsigned counted = 0, discarded = 0;
	size_t i;

	kam_limited(&k, port, 350);
	j = run_loader(port, args, 110000, 0);
	sched = json_object_get(j, "schedule");
	ASSERT_STR(json_string_value(json_object_get(sched, "kind")), "rfc750"
								      "2");
	ASSERT_STR(json_string_value(json_object_get(sched, "end")), "found");
	found = jnum(sched, "rfc7502_rate");
	failing = jnum(sched, "lowest_failing_rate");
	/* 350/s in each of kamailio's one-second intervals: the answer
	 * is within the granularity below it (and a few sends either side
	 * of an interval's edge) */
	ASSERT_MSG(found <= 353 && found >= 350 - 10 - 3, "found %g", found);
	ASSERT(failing > found && failing - found <= 10 + 1e-6);
	steps = json_object_get(sched, "steps");
	json_array_foreach(steps, i, st)
	{
		const char *phase =
			json_string_value(json_object_get(st, "phase"));
		bool clean = json_is_true(json_object_get(st, "passed"));
		double rate = jnum(st, "rate");

		ASSERT_EQ(clean, jnum(st, "failures") == 0);
		if (!strcmp(phase, "discarded")) {
			/* failed while the loader could not keep up: run
			 * again at the same rate, not counted */
			ASSERT(!clean);
			ASSERT(json_is_true(json_object_get(st, "generator_"
								"bound")));
			ASSERT(discarded++ < 2 * 30);
			continue;
		}
		last = st;
		if (!strcmp(phase, "confirm")) {
			/* 3 s at a rate found: clean, it is the answer;
			 * failed, the search went on below it */
			ASSERT_MSG(jnum(st, "secs") > 2.9, "%g s",
				   jnum(st, "secs"));
			counted++;
			continue;
		}
		ASSERT_STR(phase, "trial");
		/* the RFC's moves: up by 10 % of the rate while clean */
		if (counted < 3)
			ASSERT_MSG(fabs(rate - first[counted]) < 1e-6,
				   "trial %zu at %g", i, rate);
		counted++;
		/* above the server's limit no trial is clean */
		if (rate > 355)
			ASSERT_MSG(!clean, "trial %zu at %g clean", i, rate);
	}
	ASSERT(counted >= 4 && counted <= 30);
	/* the answer was confirmed over the longer trial */
	ASSERT(last);
	ASSERT_STR(json_string_value(json_object_get(last, "phase")), "confir"
								      "m");
	ASSERT(json_is_true(json_object_get(last, "passed")));
	ASSERT(jnum(last, "rate") == found);
	ASSERT(json_is_true(json_object_get(sched, "confirmed")));
	json_decref(j);
	kamailio_stop(&k);
}

TEST_TIMEOUT(loader_generator_bound_off_when_comfortable_on_when_not, 40)
{
	struct kamailio k;
	uint16_t port = proc_free_port(), nobody = proc_free_port();
	const char *easy[] = {"--rate", "200", "--duration", "2", NULL};
	/* one thread cannot send a million a second (at most 256 a 1 ms
	 * tick): the pace is lost by construction; nothing listens, every
	 * request times out quickly */
	const char *impossible[] = {"--rate",	  "1000000",	  "--duration",
				    "2",	  "--timer-b-ms", "300",
				    "--drain-ms", "500",	  NULL};
	json_t *j;

	kam_limited(&k, port, 100000);
	j = run_loader(port, easy, 10000, 0);
	ASSERT(json_is_false(json_object_get(j, "generator_bound")));
	ASSERT(!json_object_get(j, "generator_bound_why"));
	json_decref(j);
	kamailio_stop(&k);

	j = run_loader(nobody, impossible, 15000, 1);
	ASSERT(json_is_true(json_object_get(j, "generator_bound")));
	ASSERT(json_string_value(json_object_get(j, "generator_bound_why")));
	ASSERT(jnum(j, "attempts") < 0.99 * 2e6);
	json_decref(j);
}

TEST(loader_schedule_bad_combinations_exit_2)
{
	static const char *const cases[][12] = {
		{"--ramp", "100,100,500", "--step-s", "1", "--rate", "10"},
		{"--ramp", "100,100,500", "--step-s", "1", "--duration", "5"},
		{"--ramp", "100,100,500"},
		{"--ramp", "100,100,50", "--step-s", "1"},
		{"--ramp", "100,x,500", "--step-s", "1"},
		{"--ramp", "100,100,500", "--step-s", "1", "--search",
		 "rfc7502"},
		{"--ramp", "100,100,500", "--step-s", "1", "--trial-s", "1"},
		{"--search", "rfc7502", "--duration", "5"},
		{"--search", "rfc7502", "--rate", "100"},
		{"--search", "rfc7502", "--trial-s", "1", "--trial-attempts",
		 "100"},
		{"--search", "bisect"},
		{"--search", "rfc7502", "--step-s", "2"},
		{"--search", "rfc7502", "--max-trials", "0"},
		{"--search", "rfc7502", "--control"},
		{"--trial-s", "2", "--rate", "10", "--duration", "1"},
		{"--step-s", "2", "--rate", "10", "--duration", "1"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[24] = {"loader", "--server",
					"udp:127.0.0.1:9", "--users", "A1-A2"};
		char log[32], *text, *nl;
		size_t n = 5, len;

		for (size_t a = 0; cases[i][a]; a++)
			argv[n++] = cases[i][a];
		argv[n] = NULL;
		snprintf(log, sizeof(log), "case%zu.log", i);
		ASSERT_MSG(proc_run(argv, log, 5000) == 2, "case %zu", i);
		/* one line that says what is wrong */
		text = test_read_file(log, &len);
		nl = strchr(text, '\n');
		ASSERT_MSG(nl && !nl[1], "case %zu: %s", i, text);
		ASSERT(strstr(text, "loader: ") == text || strstr(text, "loade"
									"r"));
		free(text);
	}
}
