/*
 * clocksync.h - a host's clock offset from this machine's, measured as
 * NTP does (RFC 5905 §8, the on-wire protocol; the clock filter of §10
 * keeps the sample with the least round-trip delay): a responder
 * started on the host over its channel (SSH for a remote host) answers
 * each of CLOCKSYNC_EXCHANGES requests with its realtime clock; each
 * exchange gives an offset from the midpoint of the local send and
 * receive times, and the exchange with the least round trip is kept,
 * its error at most half that round trip.
 *
 * A one-shot command over SSH instead (the old way) counts the channel's
 * set-up and the command's start in the round trip: hundreds of ms on a
 * host that is in fact this machine.
 */
#ifndef SIPSTONE_CLOCKSYNC_H
#define SIPSTONE_CLOCKSYNC_H

#include <stdbool.h>
#include <stddef.h>

struct host;

#define CLOCKSYNC_EXCHANGES 8

/*
 * A host whose offset is this large (either way) biases the delays the
 * bundle takes across hosts (publish on a loader -> NOTIFY at a
 * callhandler's watcher, in ms) by as much: it is flagged.
 */
#define CLOCKSYNC_BIAS_MS 1.0

struct clocksync {
	double offset_ms;   /* the host's clock minus ours */
	double rtt_ms;	    /* the kept exchange's round trip */
	unsigned exchanges; /* answered */
	bool biases_delays; /* |offset_ms| >= CLOCKSYNC_BIAS_MS */
};

/*
 * Measures h's offset (an open host, local or remote) within
 * timeout_ms.  Returns 0 with *out, or an errno with why (the
 * responder did not start or answered nothing usable).
 */
int clocksync_measure(struct host *h, unsigned timeout_ms,
		      struct clocksync *out, char *why, size_t whysz);

#endif
