/*
 * baseline.h - the test bed's own reach (RFC 7502 §6.1): a loader of
 * the same kind beside each loader sends straight to the callhandlers
 * at the final rate, no proxy between; the rate achieved goes to
 * r->res.baseline.
 */
#ifndef SIPSTONE_BASELINE_H
#define SIPSTONE_BASELINE_H

#include "runctx.h"

/* Measures the baseline for the experiment's baseline_s (5 s with
 * `orchestrator baseline` when that is 0; otherwise 0 skips it).  0,
 * EINTR, or an errno with the run marked failed. */
int baseline_run(struct run *r);

#endif
