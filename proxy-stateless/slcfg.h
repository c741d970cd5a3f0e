/*
 * slcfg.h - proxy-stateless configuration: command-line flags and the
 * equivalent JSON file (--config FILE.json, the same names as keys,
 * read by common/argcfg.h as for the agents).
 */
#ifndef SIPSTONE_SLCFG_H
#define SIPSTONE_SLCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "dispatch.h"
#include "sip_tp.h"

#define SLCFG_MAX_LISTEN 8
#define SLCFG_MAX_WORKERS 64
#define SLCFG_ERR_SIZE 256

struct slcfg {
	struct sip_tp_addr listen[SLCFG_MAX_LISTEN];
	unsigned nlisten;
	struct dispatch_set next;
	enum dispatch_hash hash;
	bool record_route;
	unsigned probe_interval_ms; /* 0: no probes, every hop up */
	unsigned probe_misses;	    /* K: misses before down */
	unsigned workers;
	unsigned retry_after_s; /* in 503 when no hop is up */
	bool control;
	char tls_cert[256];
	char tls_key[256];
	char tls_ca[256];
	bool tls_no_verify;
	char log_level[16];
};

/* The defaults: hash user, probes every 1000 ms, K = 2, one worker. */
void slcfg_init(struct slcfg *cfg);

/*
 * Parses argv (argv[0] skipped); --config FILE is expanded where it
 * appears (argcfg_expand(): a JSON object whose keys are the flags'
 * names, true for a flag alone, a list to repeat one), so that later
 * flags win.  argv is not changed.  Returns 0, 1 when --help or
 * --version was asked (the usage or the version printed to stdout), or
 * EINVAL with one clear line in err (FILE:LINE:COLUMN for JSON syntax).  Checks the result (at least one
 * --listen and one --next; TLS files when tls: is used).
 */
int slcfg_parse_args(struct slcfg *cfg, int argc, char **argv, char *err,
		     size_t errsz);

/* Whether any listener or next hop uses proto. */
bool slcfg_uses(const struct slcfg *cfg, enum sip_transport proto);

#endif
