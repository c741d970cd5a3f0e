/*
 * slprobe.h - health of the next hops: an OPTIONS probe to each every
 * probe-interval ms from the main thread; a hop that misses K probes in
 * a row is taken out, any answer (whatever its status: the server is
 * alive) brings it back.  Passive signals take a hop out at once: an
 * ICMP port unreachable (ECONNREFUSED on the probe's connected UDP
 * socket), a failed TCP/TLS connect, a worker's send error.
 *
 * Probing and passive signals combine: a response relayed from a hop
 * (dispatch_heard(), set by the workers) during an interval counts as
 * an answer, so a server that answers the traffic it is given but not
 * OPTIONS stays up and a hop marked down is brought back by a late
 * response.  Only an interval with neither a probe answer nor a relayed
 * response counts as a miss, and for a hop that has never answered a
 * probe only when requests were relayed to it in that interval
 * (dispatch_given()): without that evidence a server that ignores
 * OPTIONS would be taken out before it ever saw traffic.  Such a hop,
 * once out because it refused (ICMP unreachable, connect failure: not
 * listening yet, restarting), is put back on trial after an interval
 * without a refusal.  Workers read
 * the flags in the shared struct dispatch_set.
 */
#ifndef SIPSTONE_SLPROBE_H
#define SIPSTONE_SLPROBE_H

#include <stdint.h>

#include "dispatch.h"
#include "ev.h"
#include "sip_tp.h"

struct slprobe_hop_stats {
	uint64_t sent;
	uint64_t answered;
	uint64_t missed;
	uint64_t refused; /* ICMP unreachable / connect failed */
	uint64_t downs;	  /* up -> down transitions */
	uint64_t ups;	  /* down -> up transitions */
	uint64_t heard;	  /* intervals with a relayed response from it */
};

struct slprobe;

/*
 * Starts probing every hop of set on loop ev (interval_ms > 0), taking
 * a hop down after misses missed probes.  tls_client is needed for
 * tls: hops.  Returns 0 or an errno.
 */
int slprobe_alloc(struct slprobe **pp, struct ev *ev, struct dispatch_set *set,
		  unsigned interval_ms, unsigned misses,
		  struct sip_tp_tls *tls_client);

/* Stops probing and frees.  NULL is fine. */
void slprobe_free(struct slprobe *p);

/* Counters of hop i (loop thread only). */
const struct slprobe_hop_stats *slprobe_stats(const struct slprobe *p,
					      unsigned i);

#endif
