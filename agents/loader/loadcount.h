/*
 * loadcount.h - the loader's counters: what every test counts (attempts,
 * outcomes, status codes, latency histograms, connections), per kind of
 * a mix, and the call and presence tests' own figures.  Counters are
 * cumulative from the engine's creation; readers take snapshots and
 * subtract (loadcount_diff) for a second or a step.  Every figure merges
 * exactly across threads (sums and histogram buckets).  Plain data,
 * owned by whoever holds the struct; no locking here (the engine guards
 * each thread's counters with its mutex).
 */
#ifndef LOADER_LOADCOUNT_H
#define LOADER_LOADCOUNT_H

#include <pthread.h>
#include <stdint.h>

#include "hist.h"
#include "loadcfg.h"

#define LOADCOUNT_CODES 700

/* A send later than this after its scheduled time counts as late. */
#define LOADCOUNT_LATE_NS (5ull * 1000000ull)

/* Call figures (part of struct loadcount, cumulative). */
struct loadcount_call {
	uint64_t invite_done;	    /* INVITEs with an outcome: final,
				   * timeout or send error */
	uint64_t invite_timeouts;   /* Timer B: no final response */
	uint64_t ringing;	    /* calls that got a 180/183 */
	uint64_t answered;	    /* INVITE answered 2xx */
	uint64_t completed;	    /* ended by BYE/2xx (ours or theirs) */
	uint64_t far_byes;	    /* ... of which the far end's BYE */
	uint64_t bye_failures;	    /* our BYE: >= 300, timeout, error */
	uint64_t bye_timeouts;	    /* ... of which Timer F */
	uint64_t acks;		    /* ACKs sent for 2xx */
	uint64_t acks_resent;	    /* ... for a retransmitted 2xx */
	uint64_t reinvites;	    /* re-INVITEs from the far end, 200 */
	uint64_t in_dialog_other;   /* other in-dialog requests, 200 */
	uint64_t no_dialog;	    /* requests for no call we know: 481 */
	uint64_t redirect_contacts; /* Contacts in the expected 3xx */
	uint64_t redirect_empty;    /* ... 3xx without any */
	struct hist srd;	    /* INVITE -> first 180/183 or 2xx, us */
	struct hist sdd;	    /* BYE -> its 2xx, us */
	struct hist sdt;	    /* 2xx to INVITE -> BYE (either), us */
	/*
	 * Concurrent calls: answered (2xx) and not yet ended.  active is
	 * a gauge (diffs keep the later value); active_ns its integral
	 * over time (calls x ns) up to active_t_ns, brought up to date by
	 * loadcount_call_settle(), so that a difference over an interval
	 * divided by its length is the time-average there; active_max the
	 * highest since start (the engine's over all threads; diffs keep
	 * the later value).
	 */
	uint64_t active, active_max, active_ns, active_t_ns;
};

/* Brings c's concurrency integral up to now_ns (monotonic); then
 * active changes by delta (+1, -1 or 0). */
void loadcount_call_settle(struct loadcount_call *c, uint64_t now_ns,
			   int delta);

void loadcount_call_init(struct loadcount_call *c);
void loadcount_call_merge(struct loadcount_call *d,
			  const struct loadcount_call *s);
/* out = a - b (b earlier).  Returns 0 or EINVAL. */
int loadcount_call_diff(struct loadcount_call *out,
			const struct loadcount_call *a,
			const struct loadcount_call *b);

/* Presence figures (part of struct loadcount, cumulative). */
struct loadcount_pres {
	uint64_t sub_2xx;	   /* initial SUBSCRIBEs answered 2xx */
	uint64_t first_notifies;   /* subscriptions that got a NOTIFY */
	uint64_t no_notify;	   /* 2xx but no NOTIFY in Timer F */
	uint64_t notifies;	   /* NOTIFYs in our dialogs, 200 */
	uint64_t terminated;	   /* ... with Subscription-State:
				    * terminated */
	uint64_t no_dialog;	   /* NOTIFYs for no subscription: 481 */
	uint64_t refreshes;	   /* in-dialog refreshes sent */
	uint64_t refresh_failures; /* ... not answered 2xx */
	uint64_t unsubscribes;	   /* Expires: 0 sent at the drain */
	uint64_t unsubscribed;	   /* ... their terminated NOTIFY came */
	uint64_t unsub_failures;   /* ... no 2xx, or no NOTIFY */
	uint64_t pub_initial;	   /* initial PUBLISHes sent */
	uint64_t pub_modify;	   /* with SIP-If-Match */
	uint64_t pub_412;	   /* 412: sent again as initial */
	uint64_t pub_no_etag;	   /* a 2xx without SIP-ETag */
	struct hist snd;	   /* SUBSCRIBE -> first NOTIFY, us */
};

void loadcount_pres_init(struct loadcount_pres *c);
void loadcount_pres_merge(struct loadcount_pres *d,
			  const struct loadcount_pres *s);
/* out = a - b (b earlier).  Returns 0 or EINVAL. */
int loadcount_pres_diff(struct loadcount_pres *out,
			const struct loadcount_pres *a,
			const struct loadcount_pres *b);

/*
 * Cohorts: the attempts sent in one step of the control channel (the
 * engine numbers them, loadgen_cohort_next) and their outcomes, whenever
 * they come, so that a step counts each attempt in the step it was sent
 * in and never more outcomes than attempts.  Cohort e is kept in slot
 * e % LOADCOUNT_COHORTS, cumulative like the rest: a step's figures are
 * the slot's difference over the step (an outcome 8 steps late lands in
 * a later cohort of the same slot; Timer B is shorter than that at any
 * step length the orchestrator uses).
 */
#define LOADCOUNT_COHORTS 8

struct loadcount_cohort {
	uint64_t attempts, successes, failures;
};

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
	struct loadcount_cohort cohort[LOADCOUNT_COHORTS];
};

/* Zeroes c and initialises its histograms. */
void loadcount_init(struct loadcount *c);

/* d += s: every sum and histogram (pool_open_us: the larger). */
void loadcount_merge(struct loadcount *d, const struct loadcount *s);

/* The call module counts in a struct loadcount of its own: its generic
 * figures are added to d, the invite kind's figures. */
void loadcount_kind_merge_calls(struct loadcount_kind *d,
				const struct loadcount *s);

/* out = a - b (b an earlier snapshot).  Returns 0 or EINVAL. */
int loadcount_diff(struct loadcount *out, const struct loadcount *a,
		   const struct loadcount *b);

/* An attempt's outcome (a call, a subscription, a publication). */
enum loadcount_outcome {
	LOADCOUNT_OK = 1,
	LOADCOUNT_FAIL,
	LOADCOUNT_TIMEOUT,
	LOADCOUNT_TP_ERROR,
};

/* Counts o in k's generic figures (a success, or a failure and maybe a
 * timeout or a transport error) and in those of the cohort the attempt
 * was sent in, under mu. */
void loadcount_outcome(struct loadcount *k, pthread_mutex_t *mu,
		       enum loadcount_outcome o, unsigned cohort);

/* The cohort's slot in k (no lock: the caller holds it). */
struct loadcount_cohort *loadcount_cohort(struct loadcount *k,
					  unsigned cohort);

/* (*field)++ under mu. */
void loadcount_bump(pthread_mutex_t *mu, uint64_t *field);

/* When the message being handled arrived: *rx_ns (the transport's
 * kernel receive time) when rx_ns and it are set, else now (ns,
 * monotonic). */
uint64_t loadcount_rx_now(const uint64_t *rx_ns);

/* Microseconds from t (ns, monotonic) to loadcount_rx_now(rx_ns); 0
 * when t is later. */
uint64_t loadcount_us_since(const uint64_t *rx_ns, uint64_t t);

#endif
