#include "crosscheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roles.h"
#include "runctx.h"

/* The method whose transactions the test starts, or NULL when the
 * comparison is not made (mixes; presence refreshes and NOTIFYs). */
static const char *test_method(const struct topo_experiment *e, bool *answers)
{
	*answers = false;
	if (!strcmp(e->test, "register") || !strcmp(e->test, "reregister")) {
		*answers = true;
		return "REGISTER";
	}
	if (!strcmp(e->test, "invite"))
		return "INVITE";
	return NULL;
}

/* Adds the stateful proxies' counters to m. */
static void proxies_read(struct run *r, const char *method,
			 struct crosscheck_mark *m)
{
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *st, *codes, *v;
		const char *k;

		if (r->t->nodes[i].role != TOPO_STATEFUL || !ro->proc)
			continue;
		st = roles_command(r, ro, "stats", NULL, 3000);
		if (!st)
			continue;
		m->px_requests += (uint64_t)runctx_json_number(
			json_object_get(st, "requests"), method);
		codes = json_object_get(st, "responses_sent");
		json_object_foreach(codes, k, v)
		{
			long code = strtol(k, NULL, 10);

			if (code >= 200 && code < 300)
				m->px_2xx += (uint64_t)json_integer_value(v);
			if (code == 401 || code == 407)
				m->px_401 += (uint64_t)json_integer_value(v);
		}
		m->px_retrans += (uint64_t)runctx_json_number(st, "retransmiss"
								  "ions");
		json_decref(st);
	}
}

/* Adds a loader's figures (its stats' "loader" or its summary). */
static void loader_add(json_t *fig, struct crosscheck_mark *m)
{
	m->ld_attempts += (uint64_t)runctx_json_number(fig, "attempts");
	m->ld_successes += (uint64_t)runctx_json_number(fig, "successes");
	m->ld_auth += (uint64_t)runctx_json_number(fig, "auth_challenges");
	m->ld_retrans += (uint64_t)runctx_json_number(fig, "retransmissions");
	m->ld_timeouts += (uint64_t)runctx_json_number(fig, "timeouts");
	m->ld_unfinished += (uint64_t)runctx_json_number(fig, "unfinished");
}

void crosscheck_begin(struct run *r)
{
	struct crosscheck_mark *m;
	const char *method;
	bool answers;

	free(r->xc0);
	m = r->xc0 = calloc(1, sizeof(*m));
	if (!m)
		return;
	method = test_method(&r->t->exp, &answers);
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *st;

		if (r->t->nodes[i].role != TOPO_LOADER || !ro->proc)
			continue;
		st = roles_command(r, ro, "stats", NULL, 3000);
		loader_add(json_object_get(st, "loader"), m);
		json_decref(st);
	}
	if (method)
		proxies_read(r, method, m);
	m->have = true;
}

void crosscheck_end(struct run *r)
{
	struct crosscheck_mark b = {0};
	const char *method, *why = NULL;
	bool answers, stateful = false;

	if (!r->xc0)
		return;
	method = test_method(&r->t->exp, &answers);
	for (size_t i = 0; i < r->t->nnodes; i++) {
		const struct role *ro = &r->roles[i];

		stateful |= r->t->nodes[i].role == TOPO_STATEFUL;
		if (r->t->nodes[i].role != TOPO_LOADER)
			continue;
		if (!ro->summary)
			why = "a loader gave no summary";
		else
			loader_add(ro->summary, &b);
	}
	if (!method)
		why = "made for the register, reregister and invite tests";
	else if (!stateful)
		why = "no stateful proxy counts the transactions";
	if (!why)
		proxies_read(r, method, &b);
	json_decref(r->res.crosscheck);
	r->res.crosscheck =
		crosscheck_json(r->xc0, &b, why ? NULL : method, answers, why);
	free(r->xc0);
	r->xc0 = NULL;
}

static double diff_pct(uint64_t a, uint64_t b)
{
	uint64_t hi = a > b ? a : b, lo = a > b ? b : a;

	return hi ? 100.0 * (double)(hi - lo) / (double)hi : 0;
}

/* Why loaders and proxies disagree on what: the candidates with
 * their numbers over the run. */
static void cause_of(const char *what, uint64_t ld, uint64_t px,
		     const struct crosscheck_mark *d, char *out, size_t size)
{
	if (!strcmp(what, "transactions") && ld > px)
		snprintf(out, size,
			 "%llu more started than the proxies received: lost "
			 "before them (every retransmission lost too; the "
			 "loaders timed out %llu), or still in flight at "
			 "the loaders' stop (%llu unfinished)",
			 (unsigned long long)(ld - px),
			 (unsigned long long)d->ld_timeouts,
			 (unsigned long long)d->ld_unfinished);
	else if (!strcmp(what, "transactions"))
		snprintf(out, size,
			 "%llu more received than the loaders started: "
			 "requests re-sent as new transactions (the loaders "
			 "retransmitted %llu requests and answered %llu "
			 "challenges; the proxies sent %llu 401/407), or "
			 "another source",
			 (unsigned long long)(px - ld),
			 (unsigned long long)d->ld_retrans,
			 (unsigned long long)d->ld_auth,
			 (unsigned long long)d->px_401);
	else if (ld > px)
		snprintf(out, size,
			 "%llu more 2xx counted by the loaders than the "
			 "proxies sent: another server answered",
			 (unsigned long long)(ld - px));
	else
		snprintf(out, size,
			 "%llu 2xx sent that the loaders did not count: lost "
			 "on the way back, or came after Timer B/F (%llu "
			 "timeouts) or after the loaders' stop (%llu "
			 "unfinished)",
			 (unsigned long long)(px - ld),
			 (unsigned long long)d->ld_timeouts,
			 (unsigned long long)d->ld_unfinished);
}

static uint64_t sub(uint64_t b, uint64_t a)
{
	return b > a ? b - a : 0;
}

json_t *crosscheck_json(const struct crosscheck_mark *a,
			const struct crosscheck_mark *b, const char *method,
			bool answers, const char *why)
{
	struct crosscheck_mark d;
	json_t *j, *rows, *diffs;
	bool within = true;
	struct {
		const char *what;
		uint64_t ld, px;
	} row[2];
	size_t n = 0;

	if (!method)
		return json_pack("{s:b,s:s}", "made", 0, "why",
				 why ? why : "not made");
	d.ld_attempts = sub(b->ld_attempts, a->ld_attempts);
	d.ld_successes = sub(b->ld_successes, a->ld_successes);
	d.ld_auth = sub(b->ld_auth, a->ld_auth);
	d.ld_retrans = sub(b->ld_retrans, a->ld_retrans);
	d.ld_timeouts = sub(b->ld_timeouts, a->ld_timeouts);
	d.ld_unfinished = sub(b->ld_unfinished, a->ld_unfinished);
	d.px_requests = sub(b->px_requests, a->px_requests);
	d.px_2xx = sub(b->px_2xx, a->px_2xx);
	d.px_401 = sub(b->px_401, a->px_401);
	row[n].what = "transactions";
	row[n].ld = d.ld_attempts + d.ld_auth;
	row[n++].px = d.px_requests;
	if (answers) {
		row[n].what = "2xx";
		row[n].ld = d.ld_successes;
		row[n++].px = d.px_2xx;
	}
	rows = json_array();
	diffs = json_array();
	for (size_t i = 0; i < n; i++) {
		double pct = diff_pct(row[i].ld, row[i].px);

		json_array_append_new(
			rows,
			json_pack("{s:s,s:I,s:I,s:f}", "what", row[i].what,
				  "loaders", (json_int_t)row[i].ld, "proxies",
				  (json_int_t)row[i].px, "diff_pct", pct));
		if (pct > CROSSCHECK_MAX_PCT) {
			char cause[400];

			cause_of(row[i].what, row[i].ld, row[i].px, &d, cause,
				 sizeof(cause));
			within = false;
			json_array_append_new(
				diffs,
				json_pack("{s:s,s:f,s:s}", "what", row[i].what,
					  "diff_pct", pct, "cause", cause));
		}
	}
	j = json_pack("{s:b,s:s,s:f,s:o,s:o,s:b}", "made", 1, "method", method,
		      "max_pct", CROSSCHECK_MAX_PCT, "rows", rows,
		      "differences", diffs, "within", within);
	return j;
}
