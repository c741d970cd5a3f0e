/*
 * loadmetric.c - RFC 6076 metrics from the counters (see loadmetric.h).
 */
#include "loadmetric.h"

double loadmetric_ira(const struct loadcount *c)
{
	uint64_t done = c->successes + c->failures;

	return done ? 100.0 * (double)c->failures / (double)done : 0.0;
}

static uint64_t codes_in(const struct loadcount *c, unsigned lo, unsigned hi)
{
	uint64_t n = 0;

	for (unsigned i = lo; i <= hi && i < LOADCOUNT_CODES; i++)
		n += c->codes[i];
	return n;
}

static double percent_of(uint64_t num, uint64_t den)
{
	return den ? 100.0 * (double)num / (double)den : -1;
}

/* RFC 6076 §4.6: answered over INVITEs less the redirected ones. */
double loadmetric_ser(const struct loadcount *c)
{
	uint64_t den = c->call.invite_done - codes_in(c, 300, 399);

	return percent_of(c->call.answered, den);
}

/* §4.7: the answers that show the network worked (busy, declined...). */
double loadmetric_seer(const struct loadcount *c)
{
	uint64_t den = c->call.invite_done - codes_in(c, 300, 399);
	uint64_t ok = c->call.answered + c->codes[480] + c->codes[486] +
		      c->codes[600] + c->codes[603];

	return percent_of(ok, den);
}

/* §4.8: 408, 500, 503, 504 and no answer at all. */
double loadmetric_isa(const struct loadcount *c)
{
	uint64_t bad = c->codes[408] + c->codes[500] + c->codes[503] +
		       c->codes[504] + c->call.invite_timeouts;

	return percent_of(bad, c->call.invite_done);
}

/* §4.9: calls completed through BYE/2xx over the calls attempted,
 * counting the calls that ended in the interval (a call attempted in
 * one second ends in a later one after its hold time). */
double loadmetric_scr(const struct loadcount *c)
{
	return percent_of(c->call.completed, c->successes + c->failures);
}
