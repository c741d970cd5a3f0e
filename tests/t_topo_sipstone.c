/*
 * Tests for SIPstone's experiment settings in a topology: the call
 * model ("hold", "arrivals"), a mix's named profiles, the sipstone
 * test's weights and user split, and their mistakes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sipstone.h"
#include "test.h"
#include "topo.h"
#include "topo_sipstone.h"

static const char head[] = "{\"name\": \"m\", \"stateful\": [{\"name\": "
			   "\"sf1\", \"host\": "
			   "\"p1\", \"listen\": [\"udp:5060\"]}],\n"
			   " \"callhandlers\": [{\"name\": \"ch1\", \"host\": "
			   "\"p1\", "
			   "\"listen\": [\"udp:5070\"]}],\n"
			   " \"loaders\": [{\"name\": \"ld1\", \"host\": "
			   "\"p1\", \"server\": "
			   "\"sf1\"}],\n";

/* Loads head + experiment exp; the topology (NULL on mistakes, then in
 * errs). */
static struct topo *load(const char *exp, struct topo_errors *errs)
{
	char text[2048];
	struct topo *t = NULL;

	snprintf(text, sizeof(text), "%s \"experiment\": %s}\n", head, exp);
	memset(errs, 0, sizeof(*errs));
	if (topo_load(&t, test_write_file("t.json", text), NULL, errs))
		return NULL;
	return t;
}

/* exp is refused with a message containing text (at line 4). */
static void refused(const char *exp, const char *text)
{
	struct topo_errors errs;
	struct topo *t = load(exp, &errs);
	bool found = false;

	ASSERT_MSG(!t, "accepted: %s", exp);
	for (size_t i = 0; i < errs.n; i++)
		found |= strstr(errs.lines[i], ":4:") &&
			 strstr(errs.lines[i], text);
	for (size_t i = 0; !found && i < errs.n; i++)
		fprintf(stderr, "  got: %s\n", errs.lines[i]);
	ASSERT_MSG(found, "no message \"%s\" for %s", text, exp);
	topo_errors_free(&errs);
}

TEST(topo_sipstone_call_model_and_profiles)
{
	struct topo_errors errs;
	struct topo *t;

	t = load("{\"test\": \"invite\", \"hold\": \"exp:180000\", "
		 "\"arrivals\": \"poisson\"}",
		 &errs);
	ASSERT(t);
	ASSERT_EQ(t->exp.hold_ms, 180000);
	ASSERT(t->exp.hold_exp);
	ASSERT(t->exp.poisson);
	topo_free(t);
	t = load("{\"test\": \"invite\", \"hold_ms\": 50}", &errs);
	ASSERT(t);
	ASSERT_EQ(t->exp.hold_ms, 50);
	ASSERT(!t->exp.hold_exp && !t->exp.poisson);
	topo_free(t);
	/* residential: re-registrations dominate; callcentre: calls */
	t = load("{\"test\": \"mix\", \"profile\": \"residential\"}", &errs);
	ASSERT(t);
	ASSERT_STR(t->exp.profile, "residential");
	ASSERT(t->exp.mix[1] > t->exp.mix[0] + t->exp.mix[2] + t->exp.mix[3]);
	ASSERT(topo_mix_splits_users(&t->exp));
	topo_free(t);
	t = load("{\"test\": \"mix\", \"profile\": \"callcentre\"}", &errs);
	ASSERT(t);
	ASSERT(t->exp.mix[3] > t->exp.mix[0] + t->exp.mix[1] + t->exp.mix[2]);
	topo_free(t);
	refused("{\"test\": \"mix\", \"profile\": \"office\"}", "expected one "
								"of: "
								"residential, "
								"callcentre");
	refused("{\"test\": \"mix\", \"profile\": \"residential\", \"mix\": "
		"{\"invite\": 1}}",
		"\"profile\" and \"mix\" exclude each other");
	refused("{\"test\": \"register\", \"profile\": \"residential\"}",
		"\"profile\" is for \"test\": \"mix\"");
	refused("{\"test\": \"invite\", \"hold\": \"exp:0\"}", "\"hold\" must "
							       "be");
	refused("{\"test\": \"invite\", \"hold\": \"gauss:5\"}", "\"hold\" "
								 "must be");
	refused("{\"test\": \"invite\", \"hold\": \"fixed:-5\"}", "\"hold\" "
								  "must be");
	refused("{\"test\": \"invite\", \"hold\": \"fixed:5\", \"hold_ms\": "
		"5}",
		"exclude each other");
	refused("{\"test\": \"invite\", \"arrivals\": \"bursty\"}", "expected "
								    "one of: "
								    "uniform, "
								    "poisson");
}

TEST(topo_sipstone_tests_weights_and_users)
{
	struct topo_errors errs;
	struct topo *t;

	t = load("{\"test\": \"sipstone\", \"users\": {\"count\": 30}}",
		 &errs);
	ASSERT(t);
	for (unsigned k = 0; k < TOPO_SIPSTONE_TESTS; k++)
		ASSERT(t->exp.sipstone_weights[k] == 0.25);
	/* callees, registrations, unregistered callees: thirds */
	ASSERT_EQ(topo_callee_count(&t->exp), 10);
	ASSERT(topo_needs_callhandler(&t->exp));
	topo_free(t);
	t = load("{\"test\": \"sipstone\", \"sipstone_weights\": "
		 "{\"register\": 3, \"proxy480\": 0}}",
		 &errs);
	ASSERT(t);
	ASSERT(t->exp.sipstone_weights[0] == 3);
	ASSERT(t->exp.sipstone_weights[1] == 0.25);
	ASSERT(t->exp.sipstone_weights[3] == 0);
	topo_free(t);
	for (const char *const *s =
		     (const char *const[]){"redirect", "proxy480", "proxy486",
					   NULL};
	     *s; s++) {
		char exp[128];

		snprintf(exp, sizeof(exp), "{\"test\": \"%s\"}", *s);
		t = load(exp, &errs);
		ASSERT(t);
		ASSERT(topo_is_call_test(*s));
		/* proxy480 calls users nobody registers */
		ASSERT_EQ(topo_needs_callhandler(&t->exp),
			  strcmp(*s, "proxy480") != 0);
		topo_free(t);
	}
	refused("{\"test\": \"sipstone\", \"sipstone_weights\": {\"bye\": 1}}",
		"unknown field \"bye\"");
	refused("{\"test\": \"sipstone\", \"sipstone_weights\": "
		"{\"register\": -1}}",
		"a weight is a number");
	refused("{\"test\": \"sipstone\", \"sipstone_weights\": "
		"{\"register\": 0, \"proxy200\": 0, \"redirect\": 0, "
		"\"proxy480\": 0}}",
		"at least one weight must be above 0");
	refused("{\"test\": \"invite\", \"sipstone_weights\": "
		"{\"register\": 1}}",
		"\"sipstone_weights\" is for \"test\": \"sipstone\"");
	refused("{\"test\": \"sipstone\", \"users\": {\"count\": 2}}", "\"coun"
								       "t\" "
								       "must "
								       "be 3 "
								       "or "
								       "more");
}

TEST(sipstone_composite_is_the_weighted_average)
{
	double rate[4] = {1000, 400, 800, 600}, eq[4] = {1, 1, 1, 1};
	double w[4] = {3, 1, 0, 0}, zero[4] = {0, 0, 0, 0};
	double missing[4] = {1000, -1, 800, 600};

	ASSERT(sipstone_composite(rate, eq, 4) == 700);
	ASSERT(sipstone_composite(rate, w, 4) == 850);
	/* a test without a rate counts 0, not left out */
	ASSERT(sipstone_composite(missing, eq, 4) == 600);
	ASSERT(sipstone_composite(rate, zero, 4) < 0);
}
