/*
 * Tests for the loader's calls with holding times (--hold fixed:MS |
 * exp:MEAN_MS, --arrivals poisson) and its concurrent-call figures:
 * against a real callhandler, the time-average of the concurrent calls
 * over a steady-state step obeys Little's law, L = lambda * W, both
 * with the measured arrival rate and holding time and with the offered
 * rate and the configured mean; the distribution's parser.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loadcfg.h"
#include "proc.h"
#include "stack.h"
#include "test.h"

TEST(loader_hold_decode)
{
	struct loadcfg c;

	memset(&c, 0, sizeof(c));
	ASSERT_EQ(loadcfg_hold_decode(&c, "fixed:250"), 0);
	ASSERT_EQ(c.hold_ms, 250);
	ASSERT(!c.hold_exp);
	ASSERT_EQ(loadcfg_hold_decode(&c, "exp:1000"), 0);
	ASSERT_EQ(c.hold_ms, 1000);
	ASSERT(c.hold_exp);
	ASSERT_EQ(loadcfg_hold_decode(&c, "fixed:0"), 0);
	ASSERT_EQ(c.hold_ms, 0);
	ASSERT(!c.hold_exp);
	ASSERT_EQ(loadcfg_hold_decode(&c, "exp:0"), EINVAL);
	ASSERT_EQ(loadcfg_hold_decode(&c, "exp:"), EINVAL);
	ASSERT_EQ(loadcfg_hold_decode(&c, "exp:-5"), EINVAL);
	ASSERT_EQ(loadcfg_hold_decode(&c, "normal:5"), EINVAL);
	ASSERT_EQ(loadcfg_hold_decode(&c, "fixed"), EINVAL);
	ASSERT_EQ(loadcfg_hold_decode(&c, "fixed:5x"), EINVAL);
	ASSERT_EQ(loadcfg_hold_decode(&c, "fixed:3600001"), EINVAL);
	/* the loader's command line says so, exit status 2 */
	{
		const char *argv[] = {"loader",
				      "--test",
				      "invite",
				      "--server",
				      "udp:127.0.0.1:9",
				      "--users",
				      "A1000-A1009",
				      "--rate",
				      "1",
				      "--duration",
				      "1",
				      "--hold",
				      "gauss:5",
				      NULL};
		const char *argv2[] = {"loader",
				       "--test",
				       "invite",
				       "--server",
				       "udp:127.0.0.1:9",
				       "--users",
				       "A1000-A1009",
				       "--rate",
				       "1",
				       "--duration",
				       "1",
				       "--arrivals",
				       "bursty",
				       NULL};

		ASSERT_EQ(proc_run(argv, "a1.log", 5000), 2);
		ASSERT_EQ(proc_run(argv2, "a2.log", 5000), 2);
	}
}

static double jnum(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	ASSERT_MSG(json_is_number(v), "no number %s", k);
	return json_number_value(v);
}

/*
 * A control-mode loader (hold: its --hold) calling a callhandler
 * directly at rate calls/s; a warm-up step of warm_s (the concurrency
 * builds up over a few holding times) is thrown away, then a step of
 * secs is returned (new reference).
 */
static json_t *steady_step(const char *hold, int rate, unsigned warm_s,
			   unsigned secs)
{
	struct proc ch, ld;
	uint16_t port = proc_free_port();
	char listen[64];
	const char *cargv[] = {"callhandler", "--listen",  listen, "--threads",
			       "1",	      "--control", NULL};
	const char *largv[] = {"loader",     "--control",   "--test",
			       "invite",     "--server",    listen,
			       "--users",    "A1000-A1999", "--threads",
			       "1",	     "--hold",	    hold,
			       "--arrivals", "poisson",	    NULL};
	json_t *r, *args, *step;

	snprintf(listen, sizeof(listen), "udp:127.0.0.1:%u", port);
	stack_start_ready(&ch, cargv, "ready");
	stack_start_ready(&ld, largv, "ready");
	args = json_pack("{si}", "rate", rate);
	r = proc_cmd(&ld, "start", args, 2000);
	ASSERT(r && json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	json_decref(args);
	usleep(warm_s * 1000000u);
	r = proc_cmd(&ld, "step", NULL, 2000);
	ASSERT(r && json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	usleep(secs * 1000000u);
	step = proc_cmd(&ld, "step", NULL, 2000);
	ASSERT(step && json_is_true(json_object_get(step, "ok")));
	r = proc_cmd(&ld, "stop", NULL, 2000);
	json_decref(r);
	r = proc_wait_event(&ld, "summary", 10000);
	ASSERT(r);
	ASSERT_EQ(jnum(r, "failures"), 0);
	json_decref(r);
	ASSERT_EQ(proc_stop(&ld, 5000), 0);
	ASSERT_EQ(proc_stop(&ch, 5000), 0);
	return step;
}

/*
 * Little's law over a steady-state step: the time-average of the
 * concurrent calls (answered, not ended) is the rate of calls answered
 * times their mean time in that state (the holding time, SDT, plus the
 * BYE's round trip, SDD), within 5 %; and, since the holds are what
 * was asked, the step's arrival rate times the configured mean too.
 * Returns the mean concurrency.
 */
static double check_little(json_t *step, double rate, double hold_ms,
			   double nominal_pct)
{
	json_t *calls = json_object_get(step, "calls");
	json_t *conc = json_object_get(calls, "concurrent");
	json_t *m = json_object_get(step, "rfc6076");
	double secs = jnum(step, "secs");
	double lambda = jnum(calls, "answered") / secs;
	double w_s = (jnum(m, "sdt_ms") + jnum(m, "sdd_ms")) / 1e3;
	double l = jnum(conc, "mean");
	double arrivals, w_cfg;

	ASSERT_EQ(jnum(step, "failures"), 0);
	ASSERT_MSG(fabs(l - lambda * w_s) <= 0.05 * lambda * w_s,
		   "L %.2f, lambda %.1f/s x W %.4f s = %.2f", l, lambda, w_s,
		   lambda * w_s);
	/* And with the arrival rate of the step (its attempts: the
	 * Poisson arrivals as sent) times the configured mean holding
	 * time plus the BYE's round trip, when the holds were what was
	 * asked: a loaded machine runs the hold timers late (measured: a
	 * 12 % longer mean at load average 10), which the law above
	 * still covers but the configured figure does not (the gate:
	 * 2 % for fixed holds, 3 % for exponential ones, whose sample
	 * mean wanders 1.4 %). */
	arrivals = jnum(step, "attempts") / secs;
	w_cfg = hold_ms / 1e3 + jnum(m, "sdd_ms") / 1e3;
	if (fabs(jnum(m, "sdt_ms") - hold_ms) > nominal_pct / 250 * hold_ms) {
		fprintf(stderr,
			"holds %.1f ms for %.0f ms: the loop ran late; the "
			"configured figure not checked\n",
			jnum(m, "sdt_ms"), hold_ms);
	} else {
		ASSERT_MSG(fabs(l - arrivals * w_cfg) <=
				   nominal_pct / 100 * arrivals * w_cfg,
			   "L %.2f, arrivals %.1f/s (offered %.0f/s) x %.4f "
			   "s = %.2f",
			   l, arrivals, rate, w_cfg, arrivals * w_cfg);
	}
	/* the highest count is at least the mean, and a gauge, not a sum */
	ASSERT(jnum(conc, "max") >= l);
	ASSERT(jnum(conc, "max") < 3 * rate * hold_ms / 1e3);
	return l;
}

/*
 * Fixed holds of 150 ms at 600 calls/s, Poisson arrivals: L = 90.  The
 * number of calls up is then Poisson(90) at any instant, correlated
 * over one holding time, so an 8 s average has a standard deviation of
 * about sqrt(90 * 0.15 / 8) = 1.3 calls (1.4 %): 5 % is 3.5 of them.
 */
TEST_TIMEOUT(loader_hold_fixed_littles_law, 40)
{
	json_t *step = steady_step("fixed:150", 600, 2, 8);
	json_t *sdt = json_object_get(step, "sdt_us");

	check_little(step, 600, 150, 5);
	/* every hold is the one asked (and no call was cut short), to the
	 * millisecond (the hold timer counts from the loop clock, never early);
	 * a busy machine delays a few (the tail), not the median */
	ASSERT_MSG(jnum(sdt, "min") >= 149000, "min %.0f", jnum(sdt, "min"));
	ASSERT_MSG(jnum(sdt, "p50") >= 147000 && jnum(sdt, "p50") <= 160000,
		   "p50 %.0f", jnum(sdt, "p50"));
	json_decref(step);
}

/*
 * Exponential holds of mean 150 ms at 600 calls/s: the holds vary (the
 * median is ln 2 of the mean, the 99th percentile 4.6 means) but the
 * law holds with the measured figures; against the offered ones the
 * 8 s average wanders more (sqrt(2 * 90 * 0.15 / 8) = 1.8 calls, 2 %),
 * so 7.5 % there.
 */
TEST_TIMEOUT(loader_hold_exp_littles_law, 40)
{
	json_t *step = steady_step("exp:150", 600, 2, 8);
	json_t *sdt = json_object_get(step, "sdt_us");
	double p50 = jnum(sdt, "p50"), mean = jnum(sdt, "mean");

	check_little(step, 600, 150, 7.5);
	ASSERT_MSG(fabs(mean - 150000) <= 0.05 * 150000, "mean hold %.0f us",
		   mean);
	ASSERT_MSG(p50 > 0.6 * mean && p50 < 0.8 * mean, "p50 %.0f mean %.0f",
		   p50, mean);
	ASSERT(jnum(sdt, "p99") > 3.5 * mean);
	json_decref(step);
}
