/*
 * runctx.h - the state of one run that its phases share (deploy.c,
 * database.c, rolecfg.c, roles.c, sampler.c, stepper.c, search.c,
 * baseline.c, run.c), and the small services they all use: progress
 * lines, the run's verdict, the inventory and the hosts by name.
 *
 * run.c owns the struct run (run_experiment makes it and frees it);
 * the phases borrow it for the length of a call.  Not a public API of
 * the orchestrator: run.h is.
 */
#ifndef SIPSTONE_RUNCTX_H
#define SIPSTONE_RUNCTX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "preflight.h"
#include "results.h"
#include "run_opts.h"
#include "topo.h"

struct crosscheck_mark;
struct pki;
struct rundb;
struct rundb_server;

#define RUN_LINE_MAX 65536

/*
 * How long a loader's stop waits for the transactions still in flight
 * (it ends as soon as none is): three lost retransmissions of a UDP
 * request at T1 = 500 ms (RFC 3261 §17.1.2.2: 0.5 + 1 + 2 + 4 s), so
 * that loss on the path ends in retransmissions, not in "unfinished".
 */
#define RUN_DRAIN_MS 8000

/* Registrations per second of each callhandler (its own default is
 * 1000/s: 100,000 users would take 100 s). */
#define RUN_REG_RATE 5000

/* One started role. */
struct role {
	const struct topo_node *node;
	struct host *host;
	struct host_proc *proc;
	int to_fd, from_fd;
	char buf[RUN_LINE_MAX];
	size_t len;
	bool eof;
	json_t *summary;
	char log[700];
	char version[64]; /* its ready event's (versions.h); "" not ready */
};

struct run {
	const struct topo *t;
	const struct inventory *inv;
	const struct run_opts *o;
	char id[128];
	char bundle[700];
	char work[700];	     /* local, private: configs, keys */
	char remote[256];    /* the run directory on remote hosts */
	struct host **hosts; /* parallel to inv->hosts; NULL = unused */
	struct role *roles;  /* parallel to t->nodes */
	struct pki *pki;
	struct rundb_server *dbsrv;
	struct rundb *db;
	struct preflight_host *pf;
	size_t npf;
	char status[16];
	char reason[512];
	/* the counts at the first step (crosscheck.c's; freed by
	 * crosscheck_end) */
	struct crosscheck_mark *xc0;
	struct res_run res;
	/* sipstone: the loader test running now (topo_sipstone.h); NULL
	 * otherwise */
	const char *subtest;
};

/* The test the loaders run: r->subtest, else the experiment's (a
 * sipstone run's first, "register", before it begins). */
const char *runctx_test(const struct run *r);

/* Milliseconds of the monotonic clock. */
uint64_t runctx_now_ms(void);

/* A progress line on stdout (nothing with --quiet); it replaces a live
 * line that was showing. */
void runctx_say(const struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The live progress line: runctx_live_show puts line on the terminal
 * in place of the last one; runctx_live_clear erases it.  One run at a
 * time per process. */
void runctx_live_show(const char *line);
void runctx_live_clear(void);

/* Marks the run failed (the first reason wins) and returns err. */
int runctx_fail(struct run *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* True once a signal asked the run to end; marks it aborted. */
bool runctx_interrupted(struct run *r);

/* True once a second signal asked for a quick exit: the teardown ends
 * the roles at once instead of waiting for their summaries. */
bool runctx_forced(const struct run *r);

/* Waits until the monotonic time when: 0, or EINTR when interrupted. */
int runctx_sleep_until(struct run *r, uint64_t when);

/* The inventory's index of host name, or inv->nhosts when unknown. */
size_t runctx_inventory_index(const struct run *r, const char *name);

/* The inventory entry of host name, or NULL. */
const struct inventory_host *runctx_inventory_host(const struct run *r,
						   const char *name);

/* The open connection to host name, or NULL (borrowed from r). */
struct host *runctx_host(const struct run *r, const char *name);

/* Where a file of the run lives on host h: the local work dir or the
 * remote run dir. */
void runctx_path_on(const struct run *r, const struct host *h,
		    const char *file, char *out, size_t size);

/* The program name of a role ("proxy-stateful", ...); static string. */
const char *runctx_program(enum topo_role role);

/* "udp:ADDRESS:PORT" of node n's listener on transport tp into out;
 * false when n has none. */
bool runctx_listen_addr(const struct run *r, const struct topo_node *n,
			enum sip_transport tp, char *out, size_t size);

/* RFC 7502's connection reuse strategy of a TCP/TLS run (static). */
const char *runctx_connection(const struct topo_experiment *e);

/* obj's number at key, or 0 when missing or not a number. */
double runctx_json_number(json_t *obj, const char *key);

#endif
