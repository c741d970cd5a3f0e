/*
 * metrics_feed.h - what a run gives --metrics (metrics.h): its roles
 * when it begins, each second's figures from the stepper (rates, the
 * step's success, the loaders' round trips, every role's CPU and
 * memory), each step's verdict and the run's end.  Every call does
 * nothing when the run has no --metrics (r->o->metrics NULL).
 */
#ifndef SIPSTONE_METRICS_FEED_H
#define SIPSTONE_METRICS_FEED_H

#include <stdint.h>

#include "hist.h"
#include "results.h"
#include "runctx.h"
#include "sampler.h"

/* The run's roles (the topology's nodes) with their hosts. */
void metrics_feed_begin(const struct run *r);

/*
 * One second of a step: smp (its step and offered rate), the proxies'
 * readings of this second (marks[k] of node pidx[k], np of them: the
 * stepper's), the second's outcomes ok and bad, the loaders'
 * cumulative round trips (NULL: none read).  The roles that are not
 * proxies are asked for their "stats" here (only with --metrics).
 */
void metrics_feed_second(struct run *r, const size_t *pidx,
			 const struct proxy_mark *marks, size_t np,
			 const struct res_sample *smp, uint64_t ok,
			 uint64_t bad, const struct hist *rtt_us);

#endif
