/* Tests for the end-to-end helper itself (tests/proc.c). */
#include <signal.h>

#include "proc.h"
#include "test.h"

TEST(proc_json_lines_round_trip_through_cat)
{
	const char *argv[] = {"cat", NULL};
	struct proc p;
	json_t *r;

	proc_start(&p, argv);
	/* cat echoes the request: its id matches, "ok" is absent... */
	proc_send(&p, "{\"event\":\"ready\",\"n\":1}");
	r = proc_wait_event(&p, "ready", 2000);
	ASSERT(r);
	ASSERT_EQ(json_integer_value(json_object_get(r, "n")), 1);
	json_decref(r);
	/* ...so a command echoed without "ok" is no reply: timeout. */
	r = proc_cmd(&p, "ping", NULL, 300);
	ASSERT(r == NULL);
	ASSERT_EQ(proc_stop(&p, 2000), 0);
}

TEST(proc_stop_escalates_to_signals)
{
	const char *argv[] = {"sleep", "30", NULL};
	struct proc p;

	proc_start(&p, argv);
	ASSERT(!proc_exited(&p));
	/* sleep ignores its closed stdin: SIGTERM ends it. */
	ASSERT_EQ(proc_stop(&p, 200), 128 + SIGTERM);
}

TEST(proc_run_reports_exit_codes_and_timeouts)
{
	const char *ok[] = {"true", NULL};
	const char *bad[] = {"sh", "-c", "exit 3", NULL};
	const char *slow[] = {"sleep", "30", NULL};
	const char *missing[] = {"no-such-program-here", NULL};

	ASSERT_EQ(proc_run(ok, "true.log", 2000), 0);
	ASSERT_EQ(proc_run(bad, "sh.log", 2000), 3);
	ASSERT_EQ(proc_run(slow, "sleep.log", 200), -1);
	ASSERT_EQ(proc_run(missing, "missing.log", 2000), 127);
	ASSERT(proc_free_port() > 0);
}
