/*
 * loadpres.h - the loader's presence tests, one instance per worker
 * thread (the engine owns the threads, sockets and pacing and hands each
 * new attempt and each request from the far end to this module).
 *
 * subscribe: each attempt is a SUBSCRIBE (RFC 6665 §4.1, Event:
 * presence, Accept: application/pidf+xml, Expires: cfg->expires) from
 * a user of the thread (the watcher) to the next presentity of
 * cfg->pres (the --users range when none is set).  The attempt
 * succeeds when both its 2xx and the first NOTIFY (§4.1.2.4: it may
 * come first) arrived; it fails on a final >= 300, Timer F, a send
 * error, or no NOTIFY within Timer F of the 2xx.  Every NOTIFY of the
 * dialog is answered 200, a NOTIFY for no subscription 481.  A live
 * subscription is refreshed in the dialog every cfg->pres.refresh_s
 * (0: at 4/5 of the expiry granted), and, when the run drains,
 * unsubscribed (Expires: 0), its terminated NOTIFY awaited.  A watcher
 * holds one subscription at a time: an attempt for a user who has one
 * counts as throttled, so the users bound the live dialogs (and
 * cfg->max_outstanding, per thread, when set).
 *
 * publish: each attempt is a PUBLISH (RFC 3903, Event: presence) by a
 * user of the thread for itself, with a PIDF body (RFC 3863) of exactly
 * cfg->pres.body_bytes (padded in a note) carrying the publication's
 * sequence number and send time (loadpres_body); the first is an
 * initial PUBLISH, each later one a modify with SIP-If-Match: the
 * SIP-ETag of the last 2xx.  A 412 (the server lost the publication)
 * is answered once with an initial PUBLISH.  One PUBLISH per
 * presentity in flight: an attempt for a user whose PUBLISH is
 * unanswered counts as throttled.
 *
 * Both answer 401/407 like the REGISTER path (loadcred_answer).
 * In-dialog requests go to the configured server (the notifier: no
 * route set is kept).  Generic counters: attempts, successes, failures,
 * timeouts, codes (the final of the initial SUBSCRIBE or of the
 * PUBLISH), rtt (request to that final).
 */
#ifndef LOADER_LOADPRES_H
#define LOADER_LOADPRES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "sip_msg.h"
#include "sip_txn.h"

struct ev;
struct sip_tp;
struct loadcfg;
struct loadcount;
struct sip_auth_client;

/*
 * The PIDF body of a publication by entity (a SIP URI) with sequence
 * number seq sent at ts_ns (CLOCK_REALTIME): a tuple "open" and a note
 * "sipstone seq=<20 digits> ts=<20 digits>" padded with 'x' to size
 * bytes (0: no padding).  The callhandler's watchers read it back
 * (docs/agents.md).  Returns 0 or EOVERFLOW (size too small, or out).
 */
int loadpres_body(char *out, size_t outsz, const char *entity, uint64_t seq,
		  uint64_t ts_ns, size_t size);

/* The size of the unpadded body of entity: the least body_bytes. */
size_t loadpres_body_min(const char *entity);

/* What a worker lends its presence module; everything outlives it. */
struct loadpres_env {
	const struct loadcfg *cfg;
	struct ev *ev;
	struct sip_tp *tp;
	struct sip_txn_layer *txl;
	const char *hostport;  /* ours, for Via and Contact */
	pthread_mutex_t *mu;   /* guards *c */
	const uint64_t *rx_ns; /* as in loadcall_env */
	struct loadcount *c;
	const unsigned *cohort; /* as in loadcall_env */
	size_t nslots;		/* the worker's users */
	/* Called when the last dialog or PUBLISH ends while draining. */
	void (*idle)(void *arg);
	void *arg;
};

struct loadpres;

/* Returns 0, EINVAL (no slots), ENOMEM.  loadpres_free() it. */
int loadpres_alloc(struct loadpres **lpp, const struct loadpres_env *env);

/* Drops every dialog and PUBLISH without a word and frees lp; before
 * the transaction layer goes.  NULL is allowed. */
void loadpres_free(struct loadpres *lp);

/* Whether slot (the worker's user index) may start an attempt now:
 * no subscription (subscribe) or no PUBLISH in flight (publish), and
 * fewer than cfg->max_outstanding (if set) live dialogs or PUBLISHes
 * in the worker. */
bool loadpres_can_start(const struct loadpres *lp, size_t slot);

/*
 * Starts an attempt for user num in slot (credentials in *auth,
 * created on the first challenge and kept there).  The attempt is
 * counted by the caller; one that cannot be sent ends at once as a
 * transport error.
 */
void loadpres_start(struct loadpres *lp, size_t slot, uint32_t num,
		    struct sip_auth_client **auth);

/* Attempts without an outcome yet (the run's unfinished ones). */
uint64_t loadpres_outstanding(const struct loadpres *lp);

/* Draining: live subscriptions are unsubscribed; env->idle runs when
 * no dialog and no PUBLISH is left (at once if none is). */
void loadpres_drain(struct loadpres *lp);

/* The layer's request handler (sip_txn_request_h) with lp as arg. */
void loadpres_request(void *lp, struct sip_txn *st, const struct sip_msg *msg,
		      const struct sip_txn_dest *src);

#endif
