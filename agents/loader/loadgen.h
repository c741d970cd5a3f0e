/*
 * loadgen.h - the loader's engine: N worker threads, each with its own
 * event loop, transport, transaction layer and share of the users,
 * sending new transactions open-loop at a paced rate (fixed spacing or
 * Poisson arrivals from the monotonic clock, independent of responses)
 * and counting what comes back.
 *
 * Counters are cumulative from the engine's creation; readers take
 * snapshots and subtract (loadcount_diff) for a second or a step.
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

enum loadcfg_test {
	LOADCFG_REGISTER = 1, /* REGISTER, 200: a new Call-ID each */
	LOADCFG_REREGISTER,   /* refresh: one Call-ID per user, CSeq++ */
	LOADCFG_OPTIONS,      /* OPTIONS to each user, 200 */
	LOADCFG_INVITE,	      /* calls: INVITE .. BYE (loadcall.h) */
	LOADCFG_MIX,	      /* the above by weight (cfg.mix) */
	LOADCFG_SUBSCRIBE,    /* SUBSCRIBE/NOTIFY dialogs (loadpres.h) */
	LOADCFG_PUBLISH,      /* PUBLISH with PIDF bodies (loadpres.h) */
};

/* The kinds a mix is made of: register .. invite, at index test - 1. */
#define LOADCFG_KINDS 4

#define LOADCFG_NAME_MAX 64
#define LOADCOUNT_CODES 700

/* How TCP/TLS requests use connections (RFC 7502's "connection reuse
 * strategy"); UDP ignores it. */
enum loadcfg_conn {
	/* A pool opened before the first send, split over the threads;
	 * each user keeps one connection of its thread for all its
	 * transactions (and a call's whole dialog).  One that drops is
	 * opened again on its next send. */
	LOADCFG_CONN_PERSISTENT = 0,
	/* A new connection per transaction (invite: per call, INVITE to
	 * BYE), closed once it is over. */
	LOADCFG_CONN_PER_REQUEST,
};

struct loadcfg {
	enum loadcfg_test test;
	struct sip_tp_addr server;
	char local_ip[LOADCFG_NAME_MAX]; /* bind address, "127.0.0.1" */
	char domain[LOADCFG_NAME_MAX];
	char prefix[LOADCFG_NAME_MAX]; /* users: prefix + number */
	uint32_t ufirst, ulast;	       /* inclusive range */
	unsigned width;		       /* digits, zero-padded */
	/*
	 * mix: each new transaction or call takes its kind by weight
	 * (index test - 1; 0: not in the mix), in a smooth weighted
	 * round-robin per thread, so that any run of W = sum(weights)
	 * slots of a thread holds exactly weight of each kind.
	 */
	uint32_t mix[LOADCFG_KINDS];
	/* mix: the register kinds' users, rfirst..rlast with the prefix
	 * and width of the range above (which the invite and options
	 * kinds keep: a callee's binding is never replaced), when
	 * reg_users; else the range above. */
	bool reg_users;
	uint32_t rfirst, rlast;
	/* Password of every user: "%u" stands for the user name.  Empty:
	 * no auth (401/407 then count as failures). */
	char password[LOADCFG_NAME_MAX];
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
	enum loadcfg_conn conn;
	unsigned conns; /* persistent: pool size, all threads; 0: one each */
	/* --server tls: (borrowed paths).  tls_name is sent as SNI and
	 * must match the server's certificate (unless tls_no_verify);
	 * empty: only the chain is verified.  A client certificate
	 * (tls_cert, tls_key) is also the loader's TLS listener's. */
	const char *tls_ca, *tls_cert, *tls_key;
	bool tls_no_verify;
	bool tls_no_resume; /* every connection a full handshake */
	char tls_name[256];
	struct loadcfg_pres pres; /* subscribe, publish */
};

/* A send later than this after its scheduled time counts as late. */
#define LOADCOUNT_LATE_NS (5ull * 1000000ull)

struct loadcount {
	uint64_t attempts;	   /* new transactions (auth retries not) */
	uint64_t successes;	   /* 2xx */
	uint64_t failures;	   /* other finals, timeouts, errors */
	uint64_t timeouts;	   /* Timer B/F: no final response */
	uint64_t transport_errors; /* a send failed */
	uint64_t unfinished;	   /* still in flight at shutdown */
	uint64_t retransmissions;  /* requests re-sent (Timer E) */
	uint64_t auth_challenges;  /* 401/407 answered */
	uint64_t late_sends;	   /* sent > LOADCOUNT_LATE_NS late */
	uint64_t throttled;	   /* not sent: max outstanding reached */
	uint64_t stray;		   /* responses matching nothing */
	uint64_t bad_msgs;	   /* unparseable or unexpected */
	uint64_t codes[LOADCOUNT_CODES]; /* final responses by status */
	struct hist rtt; /* request -> final response, any status, us */
	struct hist rrd; /* REGISTER -> 2xx, auth round trip included */
	struct loadcount_call call; /* invite test only */
	/* TCP/TLS connections (the transports' counts but reopened) */
	uint64_t conns_opened;	 /* connects started */
	uint64_t conns_failed;	 /* connect or TLS handshake failed */
	uint64_t conns_reopened; /* pool connections opened again */
	uint64_t conns_closed;	 /* for any reason, either side */
	uint64_t conns_up;	 /* outgoing ones established */
	uint64_t conn_setup_ns;	 /* their connect + handshake, summed */
	uint64_t tls_full;	 /* handshakes in full */
	uint64_t tls_resumed;	 /* handshakes that resumed a session */
	/* persistent: from the first connect to the whole pool up or
	 * failed (the slowest thread's); not a difference in diffs */
	uint64_t pool_open_us;
	/* By kind (index test - 1): the generic figures above of each
	 * kind's own transactions or calls (a single test's kind has the
	 * totals; a mix's add up to them, but for stray and bad_msgs,
	 * which belong to no kind).  retransmissions: requests re-sent by
	 * the kind's transactions (responses re-sent count in the invite
	 * kind's, the only one with server transactions). */
	struct loadcount_kind {
		uint64_t attempts, successes, failures, timeouts;
		uint64_t transport_errors, unfinished, retransmissions;
		uint64_t auth_challenges, late_sends, throttled;
		uint64_t codes[LOADCOUNT_CODES];
		struct hist rtt, rrd;
	} kind[LOADCFG_KINDS];
	struct loadcount_pres pres; /* subscribe, publish */
};

struct loadgen;

/* Parses "A1000-A1999" (or "A1000-1999", or "alice" alone) into cfg's
 * prefix, ufirst, ulast and width.  Returns 0 or EINVAL. */
int loadcfg_users_parse(struct loadcfg *cfg, const char *s);

/*
 * Parses a mix "register=50,invite=30,options=20" into cfg->mix: kinds
 * register, reregister, options, invite, each once; weights relative
 * integers 1..1000000, or all percentages ("50%") adding up to 100.
 * Returns 0 or EINVAL with a one-line reason in why.
 */
int loadcfg_mix_parse(struct loadcfg *cfg, const char *s, char *why,
		      size_t size);

/* Parses the register kinds' users (as loadcfg_users_parse) into
 * cfg->rfirst, rlast, reg_users.  Returns 0, or EINVAL (syntax, or a
 * prefix or width other than cfg's users'). */
int loadcfg_reg_users_parse(struct loadcfg *cfg, const char *s);

/*
 * Whether cfg's mix can run: a mix with a register kind and an invite
 * or options kind needs reg_users, disjoint from the users (else its
 * REGISTERs would replace the callees' bindings with the loader's);
 * each thread needs users of each range.  Returns 0 or EINVAL with a
 * one-line reason in why.
 */
int loadcfg_mix_check(const struct loadcfg *cfg, char *why, size_t size);
/* Concatenates the strings of a NULL-ended list into out (size > 0):
 * the request builders' copies, once per request, instead of printf.
 * Returns 0, or EOVERFLOW when they do not fit (out is then unusable). */
int loadmsg_cat(char *out, size_t size, const char *const *parts);

/* Writes user number num's name into out.  Returns 0 or EOVERFLOW. */
int loadcfg_user_name(const struct loadcfg *cfg, uint32_t num, char *out,
		      size_t size);

/*
 * Loads "user password" lines (or "user:password") for the users of
 * cfg into cfg->passwords.  Returns 0, ENOENT (unreadable), EBADMSG
 * (a line without a password; logged with file:line), ENOMEM.
 */
int loadcred_passwords_load(struct loadcfg *cfg, const char *path);
void loadcred_passwords_free(struct loadcfg *cfg);

/* The password of user num (name user) into out.  Returns 0, ENOENT
 * (none configured), EOVERFLOW. */
int loadcred_user_password(const struct loadcfg *cfg, uint32_t num,
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
int loadcred_answer(const struct loadcfg *cfg, uint32_t num,
			struct sip_auth_client **auth, unsigned tries,
			const struct sip_msg *msg);

struct buf;
struct sip_txn_dest;

/*
 * Appends to b the credentials of method to uri when *auth can answer
 * and this request answered a challenge (tries) or cfg preloads them:
 * "Proxy-Authorization" with proxy, else "Authorization".  Returns 0 or
 * the error of printing them.
 */
int loadcred_header(struct buf *b, const struct loadcfg *cfg,
		     struct sip_auth_client *auth, unsigned tries, bool proxy,
		     const char *method, const char *uri);

/* "udp", "tcp" or "tls": the ;transport= of our Contacts. */
const char *loadmsg_tp_param(enum sip_transport tp);

/* Fills *d with cfg's server as a destination (no connection). */
void loadmsg_dest_server(const struct loadcfg *cfg,
			 struct sip_txn_dest *d);

/*
 * Starts the worker threads (idle: nothing is sent before
 * loadgen_start).  cfg is copied (passwords and TLS paths are borrowed
 * and must outlive the engine).  With persistent connections over
 * TCP/TLS, returns once the pool is up (or its connects failed: they
 * are counted, and sends open them again).  Returns 0, EINVAL (no
 * users, no threads, fewer pool connections than threads, unreadable
 * TLS files), or an errno from the transports (binding) or pthread.
 */
int loadgen_alloc(struct loadgen **lgp, const struct loadcfg *cfg);

/* Starts sending at rate (per second, all threads).  Returns 0, EINVAL
 * (rate <= 0) or EALREADY. */
int loadgen_start(struct loadgen *lg, double rate);

/*
 * A fixed-rate run of secs from t0_ns (monotonic, slot 0's time; the
 * caller's clock for its own end timer): exactly round(rate * secs)
 * sends at k / rate (throttled ones included), or with Poisson
 * arrivals those falling before t0_ns + secs; no more, whatever the
 * rate later.  The caller still calls loadgen_stop() at the end (at
 * t0_ns + secs or later): slots a late thread has not reached by then
 * are sent first.  secs 0: unbounded, as loadgen_start.  Returns 0,
 * EINVAL or EALREADY.
 */
int loadgen_start_for(struct loadgen *lg, double rate, uint64_t t0_ns,
		      double secs);

/* Changes the rate without restarting.  Returns 0 or EINVAL. */
int loadgen_set_rate(struct loadgen *lg, double rate);

/*
 * Stops sending new transactions (those in flight go on: responses,
 * retransmissions, timeouts) until the next loadgen_set_rate().  Returns
 * 0, EINVAL (not started) or an errno from the threads' loops.
 */
int loadgen_pause(struct loadgen *lg);

double loadgen_rate(const struct loadgen *lg);
bool loadgen_started(const struct loadgen *lg);

/* Merged cumulative counters of every thread (any thread may call). */
void loadgen_snapshot(struct loadgen *lg, struct loadcount *out);

/*
 * Stops sending, waits up to drain_ms for in-flight transactions (left
 * ones count as unfinished failures) and joins the threads.  Snapshots
 * stay readable afterwards.  Idempotent.
 */
void loadgen_stop(struct loadgen *lg);

/* loadgen_stop() and frees everything.  NULL is allowed. */
void loadgen_free(struct loadgen *lg);

/* out = a - b (b an earlier snapshot).  Returns 0 or EINVAL. */
int loadcount_diff(struct loadcount *out,
			const struct loadcount *a,
			const struct loadcount *b);

/* The local addresses the threads send from, e.g. for logs. */
int loadgen_local(const struct loadgen *lg, unsigned thread,
		  struct sip_tp_addr *out);

/* "persistent[:N]" or "per-request" into cfg->conn and cfg->conns.
 * Returns 0 or EINVAL. */
int loadcfg_conn_decode(struct loadcfg *cfg, const char *s);
/* "persistent" or "per-request". */
const char *loadcfg_conn_name(enum loadcfg_conn c);

const char *loadcfg_test_name(enum loadcfg_test t);
int loadcfg_test_decode(const char *s, enum loadcfg_test *t);

#endif
