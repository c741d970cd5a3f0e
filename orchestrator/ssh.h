/*
 * ssh.h - what the orchestrator does on other hosts, over SSH (libssh2):
 * connect with the host key verified against known_hosts (never trusted
 * silently; accept-new adds a key that is not there yet, like OpenSSH's
 * StrictHostKeyChecking=accept-new, but never replaces one that
 * differs), authenticate with a key file or ssh-agent, run commands,
 * copy files with SFTP, and start a long-running remote process whose
 * standard input and output become a pair of local descriptors, so that
 * a remote role is driven exactly like a local child.
 *
 * Every call has a deadline.  On failure a function returns an errno
 * and writes one line into why: the host, what failed and, where there
 * is one, how to fix it.
 */
#ifndef SIPSTONE_SSH_H
#define SIPSTONE_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSH_WHY_MAX 512

struct ssh_opts {
	const char *host;	 /* address to connect to */
	uint16_t port;		 /* 0 = 22 */
	const char *user;	 /* NULL = "root" */
	const char *key_file;	 /* private key, or NULL with agent */
	bool agent;		 /* authenticate with ssh-agent */
	const char *known_hosts; /* required */
	bool accept_new;	 /* add a host key that is not listed */
	unsigned timeout_ms;	 /* per operation; 0 = 10 s */
};

struct ssh_conn;

/*
 * Connects, verifies the host key, authenticates.  Returns 0 with *cp
 * (free with ssh_close()), or ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH,
 * EPERM (host key unknown or different), EACCES (authentication
 * refused), EPROTO (SSH failure), ENOMEM.
 */
int ssh_connect(struct ssh_conn **cp, const struct ssh_opts *o, char *why,
		size_t whysz);

void ssh_close(struct ssh_conn *c);

/* A command's outcome: caller frees out and err. */
struct ssh_result {
	char *out; /* standard output, NUL-terminated */
	size_t outlen;
	char *err; /* standard error, NUL-terminated */
	size_t errlen;
	int status; /* exit status, or -1 when killed by a signal */
};

/*
 * Runs cmd (a shell command line) and collects its output (each stream
 * up to 4 MiB).  Returns 0 when it ran (whatever its exit status), or
 * ETIMEDOUT, EPROTO, ENOMEM.
 */
int ssh_run(struct ssh_conn *c, const char *cmd, struct ssh_result *res,
	    char *why, size_t whysz);

void ssh_result_free(struct ssh_result *res);

/* Writes data to the remote path (created or truncated) with mode. */
int ssh_put_data(struct ssh_conn *c, const void *data, size_t len,
		 const char *remote, int mode, char *why, size_t whysz);

/* Copies a local file to the remote path, keeping its mode. */
int ssh_put(struct ssh_conn *c, const char *local, const char *remote,
	    char *why, size_t whysz);

/* Copies a remote file to a local path (up to 256 MiB). */
int ssh_get(struct ssh_conn *c, const char *remote, const char *local,
	    char *why, size_t whysz);

struct ssh_proc;

/*
 * Starts cmd on its own connection made with o.  *to_fd (write: its
 * stdin) and *from_fd (read: its stdout, end-of-file when it has ended)
 * are local pipe ends, the caller's to close; closing *to_fd sends
 * end-of-file to the process's stdin.
 * Its stderr is appended to the local file stderr_log (may be NULL).
 * A thread moves the bytes.  Returns 0 or an errno (why says it).
 */
int ssh_spawn(struct ssh_proc **pp, const struct ssh_opts *o, const char *cmd,
	      const char *stderr_log, int *to_fd, int *from_fd, char *why,
	      size_t whysz);

/* The remote PID (0 until known), for ending it by PID. */
long ssh_proc_pid(struct ssh_proc *p);

/*
 * Whether the remote process has ended; then *status is its exit
 * status (-1: killed by a signal or the connection was lost).
 */
bool ssh_proc_done(struct ssh_proc *p, int *status);

/* Stops the pump (closing the channel) and frees. */
void ssh_proc_free(struct ssh_proc *p);

#endif
