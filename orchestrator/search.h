/*
 * search.h - the load steps of an experiment, as its "search" says:
 * "ramp" (up by the step until a step misses the criteria), "rfc7502"
 * (RFC 7502 Appendix A's search for the highest rate with zero
 * failures) or "bisect" (the same answer by halving an interval).
 * Each kept step is in r->res.steps; the rate found in
 * r->res.rfc7502_rate and how the search ended in r->res.search_end.
 */
#ifndef SIPSTONE_SEARCH_H
#define SIPSTONE_SEARCH_H

#include "runctx.h"

/* Runs the experiment's search.  0, EINTR, or an errno with the run
 * marked failed. */
int search_run(struct run *r);

#endif
