/*
 * loadgen.h - the loader's engine: N worker threads, each with its own
 * event loop, transport, transaction layer and share of the users,
 * sending new transactions open-loop at a paced rate (fixed spacing or
 * Poisson arrivals from the monotonic clock, independent of responses)
 * and counting what comes back.
 *
 * Counters are cumulative from the engine's creation; readers take
 * snapshots and subtract (loadgen_counts_diff) for a second or a step.
 * Every figure is merged exactly across threads (sums and histogram
 * buckets).
 */
#ifndef LOADER_LOADGEN_H
#define LOADER_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "loadcall.h"
#include "loadpres.h"
#include "sip_tp.h"

enum loadgen_test {
	LOADGEN_REGISTER = 1, /* REGISTER, 200: a new Call-ID each */
	LOADGEN_REREGISTER,   /* refresh: one Call-ID per user, CSeq++ */
	LOADGEN_OPTIONS,      /* OPTIONS to each user, 200 */
	LOADGEN_INVITE,	      /* calls: INVITE .. BYE (loadcall.h) */
	LOADGEN_SUBSCRIBE,    /* SUBSCRIBE/NOTIFY dialogs (loadpres.h) */
	LOADGEN_PUBLISH,      /* PUBLISH with PIDF bodies (loadpres.h) */
};

#define LOADGEN_NAME_MAX 64
#define LOADGEN_CODES 700

struct loadgen_cfg {
	enum loadgen_test test;
	struct sip_tp_addr server;
	char local_ip[LOADGEN_NAME_MAX]; /* bind address, "127.0.0.1" */
	char domain[LOADGEN_NAME_MAX];
	char prefix[LOADGEN_NAME_MAX]; /* users: prefix + number */
	uint32_t ufirst, ulast;	       /* inclusive range */
	unsigned width;		       /* digits, zero-padded */
	/* Password of every user: "%u" stands for the user name.  Empty:
	 * no auth (401/407 then count as failures). */
	char password[LOADGEN_NAME_MAX];
	char **passwords; /* per user (index num - ufirst), or NULL */
	bool preload;	  /* reuse the cached nonce with nc++ */
	double rate;	  /* new transactions per second, all threads */
	bool poisson;	  /* exponential gaps rather than fixed */
	unsigned threads;
	uint32_t max_outstanding; /* per thread; 0 = unlimited */
	uint32_t expires;	  /* REGISTER Expires */
	uint32_t t1_ms;		  /* 0: 500 */
	uint32_t timer_b_ms;	  /* establishment threshold; 0: 64*T1 */
	uint32_t drain_ms;	  /* wait for in-flight at stop */
	uint32_t hold_ms;	  /* invite: 2xx ACKed -> BYE */
	/*
	 * I/O coalescing: each thread wakes at most once per tick_us,
	 * reads every response that arrived meanwhile in one batch and
	 * sends every request due with one sendmmsg.  Latencies stay
	 * exact over UDP: receive times come from the kernel, send times
	 * from the clock just before the batch leaves.  0: wake per
	 * event (over TCP, response times are then the reads').
	 */
	uint32_t tick_us;
	struct loadpres_cfg pres; /* subscribe, publish */
};

/* A send later than this after its scheduled time counts as late. */
#define LOADGEN_LATE_NS (5ull * 1000000ull)

struct loadgen_counts {
	uint64_t attempts;	   /* new transactions (auth retries not) */
	uint64_t successes;	   /* 2xx */
	uint64_t failures;	   /* other finals, timeouts, errors */
	uint64_t timeouts;	   /* Timer B/F: no final response */
	uint64_t transport_errors; /* a send failed */
	uint64_t unfinished;	   /* still in flight at shutdown */
	uint64_t retransmissions;  /* requests re-sent (Timer E) */
	uint64_t auth_challenges;  /* 401/407 answered */
	uint64_t late_sends;	   /* sent > LOADGEN_LATE_NS late */
	uint64_t throttled;	   /* not sent: max outstanding reached */
	uint64_t stray;		   /* responses matching nothing */
	uint64_t bad_msgs;	   /* unparseable or unexpected */
	uint64_t codes[LOADGEN_CODES]; /* final responses by status */
	struct hist rtt; /* request -> final response, any status, us */
	struct hist rrd; /* REGISTER -> 2xx, auth round trip included */
	struct loadcall_counts call; /* invite test only */
	struct loadpres_counts pres; /* subscribe, publish */
};

struct loadgen;

/* Parses "A1000-A1999" (or "A1000-1999", or "alice" alone) into cfg's
 * prefix, ufirst, ulast and width.  Returns 0 or EINVAL. */
int loadgen_users_parse(struct loadgen_cfg *cfg, const char *s);

/* Writes user number num's name into out.  Returns 0 or EOVERFLOW. */
int loadgen_user_name(const struct loadgen_cfg *cfg, uint32_t num, char *out,
		      size_t size);

/*
 * Loads "user password" lines (or "user:password") for the users of
 * cfg into cfg->passwords.  Returns 0, ENOENT (unreadable), EBADMSG
 * (a line without a password; logged with file:line), ENOMEM.
 */
int loadgen_passwords_load(struct loadgen_cfg *cfg, const char *path);
void loadgen_passwords_free(struct loadgen_cfg *cfg);

/* The password of user num (name user) into out.  Returns 0, ENOENT
 * (none configured), EOVERFLOW. */
int loadgen_user_password(const struct loadgen_cfg *cfg, uint32_t num,
			  char *out, size_t size);

struct sip_auth_client;
struct sip_msg;

/*
 * Takes the challenge of msg (a 401 or 407) into *auth for user num,
 * made from the user's name and password on first use; tries is how
 * many challenges this request has answered already.  Returns 0 (send
 * again with *auth), EPROTO (no challenge, or a third), EACCES (a second
 * challenge that is not stale: the credentials were refused), or an
 * errno from the name, the password or the auth module.
 */
int loadgen_auth_answer(const struct loadgen_cfg *cfg, uint32_t num,
			struct sip_auth_client **auth, unsigned tries,
			const struct sip_msg *msg);

/*
 * Starts the worker threads (idle: nothing is sent before
 * loadgen_start).  cfg is copied (passwords are borrowed and must
 * outlive the engine).  Returns 0, EINVAL (no users, no threads),
 * or an errno from the transports (binding) or pthread.
 */
int loadgen_alloc(struct loadgen **lgp, const struct loadgen_cfg *cfg);

/* Starts sending at rate (per second, all threads).  Returns 0, EINVAL
 * (rate <= 0) or EALREADY. */
int loadgen_start(struct loadgen *lg, double rate);

/* Changes the rate without restarting.  Returns 0 or EINVAL. */
int loadgen_set_rate(struct loadgen *lg, double rate);

double loadgen_rate(const struct loadgen *lg);
bool loadgen_started(const struct loadgen *lg);

/* Merged cumulative counters of every thread (any thread may call). */
void loadgen_snapshot(struct loadgen *lg, struct loadgen_counts *out);

/*
 * Stops sending, waits up to drain_ms for in-flight transactions (left
 * ones count as unfinished failures) and joins the threads.  Snapshots
 * stay readable afterwards.  Idempotent.
 */
void loadgen_stop(struct loadgen *lg);

/* loadgen_stop() and frees everything.  NULL is allowed. */
void loadgen_free(struct loadgen *lg);

/* out = a - b (b an earlier snapshot).  Returns 0 or EINVAL. */
int loadgen_counts_diff(struct loadgen_counts *out,
			const struct loadgen_counts *a,
			const struct loadgen_counts *b);

/* The local addresses the threads send from, e.g. for logs. */
int loadgen_local(const struct loadgen *lg, unsigned thread,
		  struct sip_tp_addr *out);

const char *loadgen_test_name(enum loadgen_test t);
int loadgen_test_decode(const char *s, enum loadgen_test *t);

#endif
