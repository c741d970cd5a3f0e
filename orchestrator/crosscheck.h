/*
 * crosscheck.h - the loaders' counts against the proxies' own, per run
 * (issue 13: counts that add up).  A mark at the first step takes the
 * loaders' and the stateful proxies' cumulative counters; when the
 * loaders have stopped (every transaction ended: their summary), the
 * proxies are read again.  Two figures are compared: the transactions
 * of the test's method the loaders started (attempts and the requests
 * that answered a challenge: a new transaction each) against those the
 * proxies' transaction layers received (retransmissions are absorbed
 * there), and, where the proxies answer themselves (the REGISTER
 * tests), the loaders' 2xx against the proxies' 2xx sent.  A
 * difference over CROSSCHECK_MAX_PCT is listed with its likely cause.
 */
#ifndef SIPSTONE_CROSSCHECK_H
#define SIPSTONE_CROSSCHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct run;

#define CROSSCHECK_MAX_PCT 0.1

struct crosscheck_mark {
	bool have;
	uint64_t ld_attempts, ld_successes, ld_auth, ld_retrans;
	uint64_t ld_timeouts, ld_unfinished;
	uint64_t px_requests, px_2xx, px_401, px_retrans;
};

/* The first mark (the loaders' and proxies' stats) into r->xc0 (made
 * here; nothing when out of memory). */
void crosscheck_begin(struct run *r);

/* After the loaders stopped, before the proxies do: the comparison
 * into r->res.crosscheck (owned by it; unchanged without a first
 * mark), and r->xc0 freed. */
void crosscheck_end(struct run *r);

/*
 * The comparison of two marks (a first, b after): {"method", "rows":
 * [{"what", "loaders", "proxies", "diff_pct"}], "differences": [{"what",
 * "diff_pct", "cause"}], "within": bool}; method NULL makes
 * {"made": false, "why": why}.  answers: the proxies answer the
 * requests themselves (the 2xx row).  A new reference, or NULL.
 */
json_t *crosscheck_json(const struct crosscheck_mark *a,
			const struct crosscheck_mark *b, const char *method,
			bool answers, const char *why);

#endif
