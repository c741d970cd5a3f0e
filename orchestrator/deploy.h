/*
 * deploy.h - the hosts of a run: preflight them, open a connection to
 * each, put the programs, the per-run certificates and the configs in
 * the run directory, and at the end remove that directory and close
 * the connections.  Each function returns 0 or a positive errno and
 * marks the run failed with the reason (runctx_fail).
 */
#ifndef SIPSTONE_DEPLOY_H
#define SIPSTONE_DEPLOY_H

#include "runctx.h"

/* Preflights every host of the topology (r->pf, r->npf); a problem on
 * any host fails the run (EHOSTUNREACH). */
int deploy_preflight(struct run *r);

/* Opens r->hosts[i] for every host preflight checked. */
int deploy_open_hosts(struct run *r);

/* Creates the run directory on each remote host and puts there the
 * programs its roles need and, when the topology uses TLS, the CA and
 * the host's certificate and key (issued into r->pki). */
int deploy_files(struct run *r);

/* Copies the local file to the run directory of h as name (nothing for
 * the local host, whose files stay in r->work). */
int deploy_put_file(struct run *r, struct host *h, const char *local,
		    const char *name);

/* Removes the remote run directories (unless --keep-remote), closes
 * every host and frees the per-run PKI.  Never fails. */
void deploy_cleanup(struct run *r);

#endif
