/*
 * Tests for common/schedule: the stepped ramp and the RFC 7502 search
 * against synthetic devices of known capacity.
 */
#include <errno.h>
#include <math.h>

#include "schedule.h"
#include "test.h"

/* A device that answers everything up to cap, half of it above. */
static struct sched_result device_step(double rate, double cap)
{
	struct sched_result res = {.attempts = 1000};

	res.successes = rate <= cap ? 1000 : 500;
	res.failures = res.attempts - res.successes;
	res.ta_mean_ms = rate <= cap ? 2 : 40;
	res.ta_p95_ms = rate <= cap ? 5 : 900;
	return res;
}

static struct sched_ramp_cfg ramp_cfg(void)
{
	struct sched_ramp_cfg c = {
		.start = 100, .step = 100, .final = 1000, .success_pct = 50};

	return c;
}

/* Runs a ramp of c to its end against device_step(rate, cap); returns the
 * last step's result. */
static struct sched_result
ramp_to_end(struct sched_ramp *r, const struct sched_ramp_cfg *c, double cap)
{
	struct sched_result res;

	ASSERT_EQ(sched_ramp_init(r, c), 0);
	do
		res = device_step(r->rate, cap);
	while (sched_ramp_feed(r, &res));
	return res;
}

TEST(schedule_ramp_stops_at_the_first_step_below_the_success_rate)
{
	struct sched_ramp_cfg c = ramp_cfg();
	struct sched_ramp r;
	struct sched_result res;
	unsigned ran = 0;

	c.success_pct = 90;
	ASSERT_EQ(sched_ramp_init(&r, &c), 0);
	ASSERT_EQ(sched_ramp_nsteps(&c), 10);
	do {
		res = device_step(r.rate, 650);
		ran++;
	} while (sched_ramp_feed(&r, &res));
	/* 100..600 pass, 700 is the first above 650 */
	ASSERT_EQ(ran, 7);
	ASSERT_EQ(r.steps, 6);
	ASSERT(r.rate == 700);
	ASSERT(r.capacity == 600);
	ASSERT_EQ(r.end, SCHED_RAMP_CRITERIA);
	ASSERT(!sched_ramp_feed(&r, &res)); /* over: stays over */
}

TEST(schedule_ramp_stops_on_the_mean_or_p95_turnaround)
{
	/* success 50% at 50% passes; only the turnaround can stop it */
	static const struct {
		double mean_limit_ms, p95_limit_ms, device_cap, capacity;
		const char *why;
	} cases[] = {
		{10, 0, 320, 300, "mean turnaround 40.00 ms > 10 ms"},
		{0, 500, 820, 800, "p95 turnaround 900.00 ms > 500 ms"},
	};
	struct sched_ramp_cfg c = ramp_cfg();
	struct sched_ramp r;
	struct sched_result res;
	char why[80];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c.ta_mean_limit_ms = cases[i].mean_limit_ms;
		c.ta_p95_limit_ms = cases[i].p95_limit_ms;
		res = ramp_to_end(&r, &c, cases[i].device_cap);
		ASSERT(r.capacity == cases[i].capacity);
		ASSERT(!sched_ramp_passes(&c, &res, why, sizeof(why)));
		ASSERT_STR(why, cases[i].why);
	}
	/* neither limit set and 50% success: the final step is reached */
	c.ta_mean_limit_ms = 0;
	c.ta_p95_limit_ms = 0;
	res = ramp_to_end(&r, &c, 1);
	ASSERT_EQ(r.end, SCHED_RAMP_FINAL);
}

TEST(schedule_ramp_reaches_its_final_step)
{
	struct sched_ramp_cfg c = ramp_cfg();
	struct sched_ramp r;
	struct sched_result res, none = {0};
	char why[80];
	unsigned ran = 0;

	c.final = 950; /* steps 100..900 */
	ASSERT_EQ(sched_ramp_init(&r, &c), 0);
	do {
		res = device_step(r.rate, 5000);
		ran++;
	} while (sched_ramp_feed(&r, &res));
	ASSERT_EQ(ran, 9);
	ASSERT(r.capacity == 900);
	ASSERT_EQ(r.end, SCHED_RAMP_FINAL);
	/* a first step without an attempt fails: no capacity */
	ASSERT_EQ(sched_ramp_init(&r, &c), 0);
	ASSERT(!sched_ramp_feed(&r, &none));
	ASSERT(r.capacity == 0);
	ASSERT(!sched_ramp_passes(&c, &none, why, sizeof(why)));
	ASSERT_STR(why, "no attempts");
}

TEST(schedule_ramp_rejects_what_cannot_run)
{
	struct sched_ramp_cfg c = ramp_cfg();
	struct sched_ramp r;

	c.final = 50;
	ASSERT_EQ(sched_ramp_init(&r, &c), EINVAL);
	c = ramp_cfg();
	c.step = 0;
	ASSERT_EQ(sched_ramp_init(&r, &c), EINVAL);
	c.final = c.start; /* one step: fine */
	ASSERT_EQ(sched_ramp_init(&r, &c), 0);
	ASSERT_EQ(sched_ramp_nsteps(&c), 1);
	c = ramp_cfg();
	c.start = 0;
	ASSERT_EQ(sched_ramp_init(&r, &c), EINVAL);
	c = ramp_cfg();
	c.success_pct = 101;
	ASSERT_EQ(sched_ramp_init(&r, &c), EINVAL);
	c = ramp_cfg();
	c.ta_mean_limit_ms = NAN;
	ASSERT_EQ(sched_ramp_init(&r, &c), EINVAL);
}

TEST(schedule_rfc7502_moves_the_rate_as_the_rfc_says)
{
	struct sched_rfc7502_cfg c;
	struct sched_rfc7502 s;

	sched_rfc7502_defaults(&c);
	ASSERT(c.start_rate == 100 && c.w == 0.10 && c.d_min == 0.10);
	ASSERT_EQ(sched_rfc7502_init(&s, &c), 0);
	ASSERT(s.rate == 100);
	ASSERT(sched_rfc7502_feed(&s, 500, 0));
	ASSERT(fabs(s.rate - 110) < 1e-9); /* r += w * r */
	ASSERT(sched_rfc7502_feed(&s, 500, 0));
	ASSERT(fabs(s.rate - 121) < 1e-9);
	ASSERT(sched_rfc7502_feed(&s, 500, 1)); /* failed at 121 */
	ASSERT(fabs(s.rate - 108.9) < 1e-9);	/* r -= d * r, d = 0.10 */
	ASSERT(fabs(s.w - 0.05) < 1e-12);	/* w halves */
	ASSERT(fabs(s.d - 0.10) < 1e-12);	/* d = max(0.10, w / 2) */
	ASSERT(s.best == 110 && s.fail_above == 121);
	ASSERT(sched_rfc7502_feed(&s, 500, 0));
	ASSERT(fabs(s.rate - 108.9 * 1.05) < 1e-9);
	/* no attempt is no clean trial: it fails 114.3, within 5/s of
	 * 110, which has held three trials (108.9 and 114.3 did not beat
	 * it): the answer */
	ASSERT(!sched_rfc7502_feed(&s, 0, 0));
	ASSERT(!s.trials[s.ntrials - 1].clean);
	ASSERT_EQ(s.end, SCHED_RFC7502_FOUND);
	ASSERT(s.best == 110 && s.held == 3);
}

/* Runs a search against a device that fails iff the rate is above cap
 * (confirmations: above confirm_cap); returns the trials it took. */
static unsigned search(struct sched_rfc7502 *s, double cap, double confirm_cap)
{
	unsigned n = 0;
	bool more;

	do {
		double limit = s->confirming ? confirm_cap : cap;

		n++;
		more = sched_rfc7502_feed(s, 1000, s->rate > limit ? 7 : 0);
	} while (more && n < 10000);
	return n;
}

TEST(schedule_rfc7502_finds_a_known_capacity_within_its_granularity)
{
	static const double caps[] = {137, 460, 1000, 4321, 50000};
	static const double pcts[] = {0, 1, 0.5};
	struct sched_rfc7502_cfg c;
	static struct sched_rfc7502 s;

	for (size_t p = 0; p < sizeof(pcts) / sizeof(pcts[0]); p++)
		for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
			unsigned n;
			double margin;

			sched_rfc7502_defaults(&c);
			c.granularity = 5;
			c.granularity_pct = pcts[p];
			c.max_trials = SCHED_TRIALS_MAX;
			/* near the expected rate, as the RFC's r is chosen;
			 * an absolute 5/s of 50,000/s is out of reach */
			c.start_rate = caps[i] > 2000 ? caps[i] / 4 : 100;
			if (caps[i] > 2000 && pcts[p] == 0)
				c.granularity = caps[i] / 200;
			ASSERT_EQ(sched_rfc7502_init(&s, &c), 0);
			n = search(&s, caps[i], caps[i]);
			margin = sched_rfc7502_margin(&c, s.best);
			ASSERT_MSG(s.end == SCHED_RFC7502_FOUND,
				   "cap %g pct %g: %s after %u", caps[i],
				   pcts[p], sched_rfc7502_end_name(s.end), n);
			ASSERT_MSG(s.best <= caps[i] &&
					   s.best >= caps[i] - margin,
				   "cap %g pct %g: found %g (margin %g)",
				   caps[i], pcts[p], s.best, margin);
			ASSERT(s.fail_above > caps[i]);
			ASSERT_EQ(n, s.ntrials);
			ASSERT(n <= c.max_trials);
			/* the RFC's stop: the answer held for the last trials */
			ASSERT(s.held >= c.hold_trials);
		}
}

TEST(schedule_rfc7502_on_a_noisy_device)
{
	struct sched_rfc7502_cfg c;
	static struct sched_rfc7502 s;
	uint64_t x = 88172645463325252ull;
	const double cap = 800, noise = 0.03;

	for (int run = 0; run < 20; run++) {
		unsigned n = 0;
		bool more;

		sched_rfc7502_defaults(&c);
		c.max_trials = 80;
		ASSERT_EQ(sched_rfc7502_init(&s, &c), 0);
		do {
			double u, today;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			u = (double)(x >> 11) * 0x1p-53;
			/* this trial's capacity: within +-3% of 800 */
			today = cap * (1 + noise * (2 * u - 1));
			n++;
			more = sched_rfc7502_feed(&s, 1000,
						  s.rate > today ? 3 : 0);
		} while (more);
		ASSERT(n <= c.max_trials);
		ASSERT_MSG(s.end == SCHED_RFC7502_FOUND ||
				   s.end == SCHED_RFC7502_MAX_TRIALS,
			   "run %d: %s", run, sched_rfc7502_end_name(s.end));
		/* whatever the luck, the answer is a clean rate inside the
		 * noise band, never past it */
		ASSERT_MSG(s.best >= cap * (1 - noise) - 8 &&
				   s.best <= cap * (1 + noise),
			   "run %d: %g", run, s.best);
	}
}

TEST(schedule_rfc7502_confirms_the_rate_over_a_longer_trial)
{
	struct sched_rfc7502_cfg c;
	static struct sched_rfc7502 s;
	const struct sched_trial *last;
	unsigned n, confirmations = 0;

	sched_rfc7502_defaults(&c);
	c.confirm = true;
	c.max_trials = 120;
	ASSERT_EQ(sched_rfc7502_init(&s, &c), 0);
	n = search(&s, 460, 460);
	ASSERT_EQ(s.end, SCHED_RFC7502_FOUND);
	last = &s.trials[n - 1];
	ASSERT(last->confirmation && last->clean && last->rate == s.best);
	ASSERT(s.best <= 460 && s.best >= 455);

	/* sustains 460 in short trials, only 440 over the long one: the
	 * answer is below 440, and every failed confirmation is above it */
	ASSERT_EQ(sched_rfc7502_init(&s, &c), 0);
	n = search(&s, 460, 440);
	ASSERT_MSG(s.end == SCHED_RFC7502_FOUND, "%s after %u",
		   sched_rfc7502_end_name(s.end), n);
	ASSERT(s.best <= 440 && s.best >= 440 - 5);
	for (unsigned i = 0; i < n; i++) {
		if (!s.trials[i].confirmation)
			continue;
		confirmations++;
		ASSERT(s.trials[i].clean == (s.trials[i].rate <= 440));
	}
	ASSERT(confirmations >= 2);
	ASSERT(s.trials[n - 1].confirmation && s.trials[n - 1].clean);
}

TEST(schedule_rfc7502_ends_without_an_answer_when_bounded)
{
	struct sched_rfc7502_cfg c;
	static struct sched_rfc7502 s;
	unsigned n;

	/* everything fails: down by 10% a trial until the floor */
	sched_rfc7502_defaults(&c);
	c.floor_rate = 20;
	ASSERT_EQ(sched_rfc7502_init(&s, &c), 0);
	n = search(&s, 0, 0);
	ASSERT_EQ(s.end, SCHED_RFC7502_FLOOR);
	ASSERT(s.best == 0);
	ASSERT_EQ(n, 16); /* 100 * 0.9^15 = 20.6; the next is below */

	/* never fails: clean at the maximum rate */
	c.floor_rate = 1;
	c.max_rate = 1000;
	ASSERT_EQ(sched_rfc7502_init(&s, &c), 0);
	n = search(&s, 1e9, 1e9);
	ASSERT_EQ(s.end, SCHED_RFC7502_MAX_RATE);
	ASSERT(s.best == 1000);

	/* the trial bound wins over a fine granularity */
	c.max_rate = 1e7;
	c.max_trials = 30;
	c.granularity = 0.01;
	c.granularity_pct = 0;
	ASSERT_EQ(sched_rfc7502_init(&s, &c), 0);
	n = search(&s, 460, 460);
	ASSERT_EQ(n, 30);
	ASSERT_EQ(s.end, SCHED_RFC7502_MAX_TRIALS);
	ASSERT(s.best > 400 && s.best <= 460); /* the best so far */

	c.max_trials = SCHED_TRIALS_MAX + 1;
	ASSERT_EQ(sched_rfc7502_init(&s, &c), EINVAL);
	sched_rfc7502_defaults(&c);
	c.start_rate = 0.5; /* below the floor */
	ASSERT_EQ(sched_rfc7502_init(&s, &c), EINVAL);
}
