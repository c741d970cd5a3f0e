/*
 * sipstone.h - "test": "sipstone": SIPstone's tests measured in turn on
 * one cluster (registration, proxy-200 call forwarding, redirect,
 * proxy-480), each to its capacity by the experiment's search and
 * criteria, and SIPstone-A, the weighted average of their rates
 * (docs/topology.md).
 */
#ifndef SIPSTONE_SIPSTONE_H
#define SIPSTONE_SIPSTONE_H

#include "runctx.h"

/*
 * Runs the tests (the loaders restarted for each; the stateful
 * proxies redirect during the redirect test only) with the roles
 * started, each test's steps appended to r->res.steps, and sets
 * r->res.sipstone and sipstone_a.  Returns 0, EINTR or an errno, the
 * run marked failed (the tests measured so far are kept).
 */
int sipstone_run(struct run *r);

/*
 * SIPstone-A: sum(w_i * rate_i) / sum(w_i) over n tests, a test
 * without a rate (< 0) counting 0; -1 when the weights sum to 0.
 */
double sipstone_composite(const double *rate, const double *weight,
			  unsigned n);

#endif
