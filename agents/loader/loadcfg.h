/*
 * loadcfg.h - the loader's run configuration: which test, which server,
 * which users and passwords, the mix, the pace and the timers, as the
 * engine, the call and presence tests and the output all read it; and
 * the parsers of its command-line values (loadopts.c holds the options
 * themselves).  Plain data: the caller owns a struct loadcfg; only
 * passwords (loadcred.h) and the TLS paths point elsewhere.
 */
#ifndef LOADER_LOADCFG_H
#define LOADER_LOADCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct loadcfg_pres {
	/* subscribe: presentities prefix + number, first..last; when
	 * !set, the --users range */
	bool set;
	char prefix[LOADCFG_NAME_MAX];
	uint32_t first, last;
	unsigned width;
	uint32_t refresh_s;  /* subscribe: refresh period; 0: 4/5 granted */
	uint32_t body_bytes; /* publish: body size; 0: the natural size */
};

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
	/*
	 * invite: the INVITE's final response that makes a call a success
	 * (SIPstone's tests): 200 (invite: then ACK, hold, BYE), 302
	 * (redirect), 480 (proxy480: a provisioned callee with no
	 * binding), 486 (proxy486: a busy callee).  Any other final is a
	 * failure; an unexpected 2xx is ACKed and hung up at once.
	 */
	uint16_t expect;
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
	uint32_t hold_ms;	  /* invite: 2xx ACKed -> BYE (mean) */
	bool hold_exp; /* holds exponential with mean hold_ms, not fixed */
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

/* Writes user number num's name into out.  Returns 0 or EOVERFLOW. */
int loadcfg_user_name(const struct loadcfg *cfg, uint32_t num, char *out,
		      size_t size);

/* "fixed:MS" or "exp:MEAN_MS" (the call holding time's distribution)
 * into cfg->hold_ms and hold_exp.  Returns 0 or EINVAL. */
int loadcfg_hold_decode(struct loadcfg *cfg, const char *s);

/* "persistent[:N]" or "per-request" into cfg->conn and cfg->conns.
 * Returns 0 or EINVAL. */
int loadcfg_conn_decode(struct loadcfg *cfg, const char *s);
/* "persistent" or "per-request". */
const char *loadcfg_conn_name(enum loadcfg_conn c);

const char *loadcfg_test_name(enum loadcfg_test t);
int loadcfg_test_decode(const char *s, enum loadcfg_test *t);

/* A --test value into cfg->test and cfg->expect: the tests above, and
 * "redirect", "proxy480", "proxy486" (invite calls expecting 302, 480,
 * 486).  Returns 0 or EINVAL. */
int loadcfg_test_parse(struct loadcfg *cfg, const char *s);

/* The name of cfg's test as --test spells it ("proxy480", "invite"). */
const char *loadcfg_run_name(const struct loadcfg *cfg);

/* Whether kind t is in cfg's run (the test itself, or in its mix). */
bool loadcfg_has_kind(const struct loadcfg *cfg, enum loadcfg_test t);

#endif
