/*
 * watch.h - the callhandler as presence watchers: before the run it
 * subscribes W dialogs to each presentity of a range (RFC 6665 §4.1,
 * RFC 3856: Event: presence, Accept: application/pidf+xml), paced,
 * retried and answering digest challenges like its registrations
 * (registration.h); it answers every NOTIFY 200 (481 for no dialog of ours),
 * refreshes each dialog before its expiry and subscribes again when
 * the notifier ends one.
 *
 * Each NOTIFY's PIDF body is checked against the publications of the
 * loader's publish test (loadpres_body: a note "sipstone seq=N ts=T"):
 * the entity must be the dialog's presentity; a sequence number above
 * the dialog's last is a new publication (its publish-to-notify delay,
 * now minus T on CLOCK_REALTIME, goes into the histogram), the same
 * one a repeat (a refresh's NOTIFY, §4.2.1), a lower one stale.
 *
 * It runs on one event loop (the main thread's) with its own transport
 * and transaction layer and its own listener (the Contact of its
 * dialogs: the NOTIFYs come to it, not to the UAS workers).
 */
#ifndef SIPSTONE_WATCH_H
#define SIPSTONE_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "user_range.h"
#include "hist.h"
#include "sip_tp.h"

struct ev;
struct watch;

struct watch_cfg {
	struct user_range presentities;
	unsigned per_presentity;   /* W >= 1 */
	struct user_range users;   /* the watchers' From users, taken in
				    * turn */
	const char *domain;	   /* To/From/Request-URI host */
	struct sip_tp_addr server; /* where SUBSCRIBEs go (udp: or tcp:) */
	const char *local_ip;	   /* the listener's address (numeric) */
	const char *password;	   /* NULL: no auth (a 401 fails) */
	unsigned expires;	   /* asked for, s [3600] */
	unsigned refresh_s;	   /* 0: at 4/5 of the granted expiry */
	unsigned rate;		   /* SUBSCRIBEs per second [1000] */
	unsigned retries;	   /* after the first attempt [3] */
	unsigned retry_ms;	   /* between attempts [1000] */
	unsigned timeout_ms;	   /* Timer F [4000] */
};

struct watch_stats {
	uint64_t dialogs;	  /* presentities x W */
	uint64_t active;	  /* subscribed now */
	uint64_t failed;	  /* gave up after the retries */
	uint64_t sent;		  /* SUBSCRIBE requests, every attempt */
	uint64_t ok;		  /* 2xx */
	uint64_t challenged;	  /* 401/407 answered */
	uint64_t rejected;	  /* other finals */
	uint64_t timeouts;	  /* Timer F, transport errors */
	uint64_t retries;	  /* new attempts after a failure */
	uint64_t refreshes;	  /* in-dialog refreshes sent */
	uint64_t resubscribes;	  /* after the notifier ended a dialog */
	uint64_t notifies;	  /* NOTIFYs in our dialogs, answered 200 */
	uint64_t terminated;	  /* ... Subscription-State: terminated */
	uint64_t no_dialog;	  /* requests for no dialog: 481/405 */
	uint64_t bodies_new;	  /* a publication newer than the last */
	uint64_t bodies_repeat;	  /* the same publication again */
	uint64_t bodies_stale;	  /* an older one */
	uint64_t bodies_mismatch; /* another entity, or a bad stamp */
	uint64_t bodies_none;	  /* no publication stamp (no body) */
	uint64_t bad_in;	  /* undecodable or invalid messages */
	uint64_t retransmissions;
	struct hist delay; /* publication sent -> its NOTIFY here, us */
};

/* Called once, when every dialog is active or has given up. */
typedef void(watch_done_h)(struct watch *w, void *arg);

/*
 * Creates the watchers on ev (not started).  Returns 0, EINVAL (no
 * presentities, W 0, a bad server transport), ENOMEM, or the error of
 * opening the listener.  *wp is an obj.
 */
int watch_alloc(struct watch **wp, struct ev *ev, const struct watch_cfg *cfg,
		watch_done_h *done_h, void *arg);

/* Starts subscribing, paced at cfg.rate. */
void watch_start(struct watch *w);

/* Counters (on the loop's thread); *st is large (a histogram). */
void watch_stats(const struct watch *w, struct watch_stats *st);

/* The watchers' listener, "host:port" (their Contact), valid while w
 * lives. */
const char *watch_hostport(const struct watch *w);

/* Milliseconds from watch_start() to done, or 0 before it. */
uint64_t watch_done_ms(const struct watch *w);

/*
 * Reads the publication stamp of a PIDF body (loadpres_body): the
 * presence element's entity, and the note's seq and ts.  Returns 0,
 * ENOENT (no stamp), EBADMSG (a malformed one).
 */
int watch_stamp_decode(const struct pl *body, struct pl *entity, uint64_t *seq,
		       uint64_t *ts_ns);

#endif
