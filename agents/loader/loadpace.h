/*
 * loadpace.h - the engine's pacing: open-loop sends at the rate (fixed
 * spacing or Poisson arrivals from the monotonic clock, independent of
 * responses), each slot's kind (a mix's smooth weighted round-robin)
 * and user, the max-outstanding throttle, a bounded run's exact slot
 * count, and each tick's batch.  Runs on the worker's own thread.
 */
#ifndef LOADER_LOADPACE_H
#define LOADER_LOADPACE_H

#include <stdint.h>

#include "loadworker.h"

/* Sends per timer tick at most, so a thread far behind still reads. */
#define LOADPACE_BURST 256u

/* (ev_call, arg the worker) Applies the engine's rate: the first time
 * from the engine's anchor, later re-anchored now; starts the ticks. */
void loadpace_apply_rate(void *arg);

/* (ev_call, arg the worker) Stops sending new attempts. */
void loadpace_pause(void *arg);

/* Sends what is due by now (max at most), then the batch. */
void loadpace_send_due(struct loadworker *w, uint64_t now, unsigned max);

/* Copies the layers' retransmission counts (cumulative) into w's
 * counters. */
void loadpace_read_retransmissions(struct loadworker *w);

#endif
