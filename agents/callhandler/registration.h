/*
 * registration.h - the callhandler registers its users through the server under
 * test (RFC 3261 §10.2): REGISTER for each user with the callhandler's
 * own Contact (;transport= of the listener, so that the server reaches
 * it over the test's transport), paced, retried, answering digest
 * challenges (401/407) when a password is given, and refreshed before
 * the granted expiry.  It runs on one event loop (the main thread's)
 * with its own transport and transaction layer, so that responses come
 * back to it and not to a worker sharing the listening port.
 */
#ifndef SIPSTONE_REGISTRATION_H
#define SIPSTONE_REGISTRATION_H

#include <stdbool.h>
#include <stdint.h>

#include "sip_tp.h"
#include "user_range.h"

struct buf;
struct ev;
struct registration;
struct pl;
struct sip_auth_client;
struct sip_msg;

struct registration_cfg {
	struct user_range users;
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

struct registration_stats {
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
typedef void(registration_done_h)(struct registration *r, void *arg);

/*
 * Creates the registrar client on ev (not started).  Returns 0, EINVAL,
 * ENOMEM, or the error of opening its socket.  *rp is an obj.
 */
int registration_alloc(struct registration **rp, struct ev *ev,
		       const struct registration_cfg *cfg,
		       registration_done_h *done_h, void *arg);

/* Starts sending, paced at cfg.rate. */
void registration_start(struct registration *r);

/* Counters (on the loop's thread). */
void registration_stats(const struct registration *r,
			struct registration_stats *st);

/* Milliseconds from registration_start() to done, or 0 before it. */
uint64_t registration_done_ms(const struct registration *r);

#endif
