/*
 * chreg.h - the callhandler registers its users through the server under
 * test (RFC 3261 §10.2): REGISTER for each user with the callhandler's
 * own Contact (;transport= of the listener, so that the server reaches
 * it over the test's transport), paced, retried, answering digest
 * challenges (401/407) when a password is given, and refreshed before
 * the granted expiry.  It runs on one event loop (the main thread's)
 * with its own transport and transaction layer, so that responses come
 * back to it and not to a worker sharing the listening port.
 */
#ifndef SIPSTONE_CHREG_H
#define SIPSTONE_CHREG_H

#include <stdbool.h>
#include <stdint.h>

#include "sip_tp.h"

struct buf;
struct ev;
struct chreg;
struct pl;
struct sip_auth_client;
struct sip_msg;

/* A user range "A1000-A1999" (or one name "alice"). */
struct chreg_users {
	char prefix[48];
	uint32_t first;
	uint32_t last;
	unsigned width; /* digits, zero-padded ("A0001-A0100": 4) */
	bool range;	/* false: prefix is the only user */
};

/*
 * Decodes a user range: PREFIX FIRST "-" LAST where FIRST and LAST are
 * decimal with the same number of digits and FIRST <= LAST, or a single
 * name with no digits range.  At most 1,000,000 users.  Returns 0 or
 * EINVAL; *u is written on success only.
 */
int chreg_users_decode(struct chreg_users *u, const char *s);

/* Number of users in the range. */
uint32_t chreg_users_count(const struct chreg_users *u);

/* Writes user i (0-based) into out.  Returns 0 or EOVERFLOW. */
int chreg_users_name(const struct chreg_users *u, uint32_t i, char *out,
		     size_t size);

/*
 * The pacing, digest and challenge steps the registrations and the
 * watchers (watch.h) share.
 *
 * chreg_pace_due: how many of n requests are due elapsed_ns after the
 * start at rate per second (the first at once), at most n.
 */
uint32_t chreg_pace_due(uint64_t elapsed_ns, unsigned rate, uint32_t n);

/*
 * Takes up the 401/407 msg for user with password: allocates *auth on
 * first use (caller frees it, sip_auth_client_free) and answers the
 * first challenge of the response it can.  challenges is how many this
 * attempt answered already: one answer, two when the nonce went stale
 * meanwhile.  Returns 0, EACCES (no password, no challenge header, or
 * two answered already), or the error of decoding or answering it.
 */
int chreg_auth_challenge(struct sip_auth_client **auth, const char *user,
			 const char *password, unsigned challenges,
			 const struct sip_msg *msg);

/*
 * Appends to b the Authorization (Proxy-Authorization with proxy) line
 * of method to ruri when auth (may be NULL) has a challenge to answer,
 * else nothing.  Returns 0 or the error of printing it.
 */
int chreg_auth_print(struct buf *b, struct sip_auth_client *auth, bool proxy,
		     const struct pl *method, const char *ruri);

struct chreg_cfg {
	struct chreg_users users;
	const char *domain;	    /* To/From/Request-URI host */
	struct sip_tp_addr server;  /* where REGISTERs go */
	const char *server_name;    /* TLS name (may be NULL) */
	struct sip_tp_addr contact; /* the listener users are reached on */
	const char *password;	    /* NULL: no auth (a 401 fails) */
	unsigned expires;	    /* asked for, s [3600] */
	unsigned rate;		    /* REGISTERs per second [1000] */
	unsigned retries;	    /* after the first attempt [3] */
	unsigned retry_ms;	    /* between attempts [1000] */
	/*
	 * Timer F of each REGISTER, ms [4000].  Also what a refused or
	 * failed TCP/TLS connection costs: the transport closes it
	 * without telling the transaction, which then waits for this.
	 */
	unsigned timeout_ms;
	struct sip_tp_tls *tls_client; /* for a tls: server */
};

struct chreg_stats {
	uint64_t users;
	uint64_t registered; /* bound now */
	uint64_t failed;     /* gave up after the retries */
	uint64_t sent;	     /* REGISTER requests, every attempt */
	uint64_t ok;	     /* 2xx */
	uint64_t challenged; /* 401/407 answered */
	uint64_t rejected;   /* other finals */
	uint64_t timeouts;   /* Timer F, transport errors */
	uint64_t retries;
	uint64_t refreshes; /* re-registrations sent */
	uint64_t retransmissions;
};

/* Called once, when every user has registered or given up. */
typedef void(chreg_done_h)(struct chreg *r, void *arg);

/*
 * Creates the registrar client on ev (not started).  Returns 0, EINVAL,
 * ENOMEM, or the error of opening its socket.  *rp is an obj.
 */
int chreg_alloc(struct chreg **rp, struct ev *ev, const struct chreg_cfg *cfg,
		chreg_done_h *done_h, void *arg);

/* Starts sending, paced at cfg.rate. */
void chreg_start(struct chreg *r);

/* Counters (on the loop's thread). */
void chreg_stats(const struct chreg *r, struct chreg_stats *st);

/* Milliseconds from chreg_start() to done, or 0 before it. */
uint64_t chreg_done_ms(const struct chreg *r);

#endif
