/*
 * slproxy.h - a whole proxy-stateless: the forwarding workers, the
 * health prober on the caller's (main) loop and the counters the
 * control channel reports.
 */
#ifndef SIPSTONE_SLPROXY_H
#define SIPSTONE_SLPROXY_H

#include <jansson.h>

#include "ev.h"
#include "slcfg.h"

struct slproxy;

/*
 * Builds and starts the proxy of cfg (which it keeps a pointer to:
 * it must outlive the proxy): TLS contexts, cfg->workers worker
 * threads, the prober on ev.  Returns 0 or an errno (logged).
 */
int slproxy_alloc(struct slproxy **pxp, const struct slcfg *cfg,
		  struct ev *ev);

/* Stops the workers and frees everything.  NULL is fine. */
void slproxy_free(struct slproxy *px);

/* The listening addresses as bound, "udp:127.0.0.1:5060" (new ref). */
json_t *slproxy_listen_json(const struct slproxy *px);

/* Adds the counters to a stats object (docs/agents.md). */
void slproxy_stats_json(const struct slproxy *px, json_t *stats);

#endif
