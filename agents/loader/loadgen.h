/*
 * loadgen.h - the loader's engine: N worker threads, each with its own
 * event loop, transport, transaction layer and share of the users,
 * sending new transactions open-loop at a paced rate (fixed spacing or
 * Poisson arrivals from the monotonic clock, independent of responses)
 * and counting what comes back.
 *
 * Counters are cumulative from the engine's creation; readers take
 * snapshots and subtract (loadcount_diff) for a second or a step.
 * Every figure is merged exactly across threads (sums and histogram
 * buckets).
 */
#ifndef LOADER_LOADGEN_H
#define LOADER_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "loadcfg.h"
#include "loadcount.h"
#include "sip_tp.h"

struct loadgen;

/*
 * Starts the worker threads (idle: nothing is sent before
 * loadgen_start).  cfg is copied (passwords and TLS paths are borrowed
 * and must outlive the engine).  With persistent connections over
 * TCP/TLS, returns once the pool is up (or its connects failed: they
 * are counted, and sends open them again).  Returns 0, EINVAL (no
 * users, no threads, fewer pool connections than threads, unreadable
 * TLS files), or an errno from the transports (binding) or pthread.
 */
int loadgen_alloc(struct loadgen **lgp, const struct loadcfg *cfg);

/* Starts sending at rate (per second, all threads).  Returns 0, EINVAL
 * (rate <= 0) or EALREADY. */
int loadgen_start(struct loadgen *lg, double rate);

/*
 * A fixed-rate run of secs from t0_ns (monotonic, slot 0's time; the
 * caller's clock for its own end timer): exactly round(rate * secs)
 * sends at k / rate (throttled ones included), or with Poisson
 * arrivals those falling before t0_ns + secs; no more, whatever the
 * rate later.  The caller still calls loadgen_stop() at the end (at
 * t0_ns + secs or later): slots a late thread has not reached by then
 * are sent first.  secs 0: unbounded, as loadgen_start.  Returns 0,
 * EINVAL or EALREADY.
 */
int loadgen_start_for(struct loadgen *lg, double rate, uint64_t t0_ns,
		      double secs);

/* Changes the rate without restarting.  Returns 0 or EINVAL. */
int loadgen_set_rate(struct loadgen *lg, double rate);

/*
 * Stops sending new transactions (those in flight go on: responses,
 * retransmissions, timeouts) until the next loadgen_set_rate().  Returns
 * 0, EINVAL (not started) or an errno from the threads' loops.
 */
int loadgen_pause(struct loadgen *lg);

double loadgen_rate(const struct loadgen *lg);

/* Starts the next cohort (loadcount.h): the attempts sent from now on
 * are counted in it.  Returns its number (the first is 0). */
unsigned loadgen_cohort_next(struct loadgen *lg);
bool loadgen_started(const struct loadgen *lg);

/* Merged cumulative counters of every thread (any thread may call). */
void loadgen_snapshot(struct loadgen *lg, struct loadcount *out);

/*
 * Stops sending, waits up to drain_ms for in-flight transactions (left
 * ones count as unfinished failures) and joins the threads.  Snapshots
 * stay readable afterwards.  Idempotent.
 */
void loadgen_stop(struct loadgen *lg);

/* loadgen_stop() and frees everything.  NULL is allowed. */
void loadgen_free(struct loadgen *lg);

/* The local addresses the threads send from, e.g. for logs. */
int loadgen_local(const struct loadgen *lg, unsigned thread,
		  struct sip_tp_addr *out);

#endif
