/*
 * host.h - one interface to a host of the inventory, whether it is this
 * machine (fork/exec and pipes) or another one (SSH): run a command,
 * copy files, start a long-running role whose stdin/stdout are local
 * descriptors, and end it by its PID.
 */
#ifndef SIPSTONE_HOST_H
#define SIPSTONE_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "ssh.h"
#include "topo.h"

struct host;
struct host_proc;

/*
 * Opens a host: nothing to do for a local one; an SSH connection
 * otherwise (known_hosts: the inventory's, else ~/.ssh/known_hosts).
 * Returns 0 or an errno with why.
 */
int host_open(struct host **hp, const struct inventory_host *ih,
	      bool accept_new, char *why, size_t whysz);
void host_close(struct host *h);

const char *host_name(const struct host *h);
bool host_is_local(const struct host *h);

/*
 * Runs a shell command line within timeout_ms, collecting stdout and
 * stderr (struct ssh_result, freed with ssh_result_free()).
 */
int host_run(struct host *h, const char *cmd, unsigned timeout_ms,
	     struct ssh_result *res, char *why, size_t whysz);

/* Copies a local file to the host (keeping its mode), and back. */
int host_put(struct host *h, const char *local, const char *remote, char *why,
	     size_t whysz);
int host_get(struct host *h, const char *remote, const char *local, char *why,
	     size_t whysz);

/*
 * Starts cmd (a shell command line) with its stdin and stdout on local
 * pipes (*to_fd, *from_fd: the caller's to close) and its stderr
 * appended to the local file stderr_log.
 */
int host_spawn(struct host *h, const char *cmd, const char *stderr_log,
	       struct host_proc **pp, int *to_fd, int *from_fd, char *why,
	       size_t whysz);

/* Its PID on its host (0 until known). */
long host_proc_pid(struct host_proc *p);

/* Whether it has ended, and how (exit status, -1 for a signal). */
bool host_proc_done(struct host_proc *p, int *status);

/* Sends sig to it by its PID on its host. */
int host_proc_signal(struct host *h, struct host_proc *p, int sig);

/* Frees the handle (the process itself must have ended or be ended). */
void host_proc_free(struct host_proc *p);

#endif
