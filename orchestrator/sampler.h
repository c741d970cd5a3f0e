/*
 * sampler.h - reading the roles' figures through their "stats"
 * command: a proxy's cumulative CPU (per thread), RSS, requests and
 * NOTIFYs sent; the loaders' successes, failures and round trips; the
 * presence agents' NOTIFYs and delays.  Marks are cumulative: the
 * figures of an interval are the difference of two (stepper.c).
 */
#ifndef SIPSTONE_SAMPLER_H
#define SIPSTONE_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"
#include "results.h"
#include "runctx.h"

struct proxy_mark {
	uint64_t cpu_us, t_ms, requests;
	uint64_t notify_sent; /* presence servers: stats.presence */
	double rss_mb;
	unsigned nthreads;
	long tid[RES_MAX_THREADS];
	uint64_t thread_us[RES_MAX_THREADS]; /* user + sys */
};

struct loader_mark {
	uint64_t successes, failures;
	struct hist rtt;
	bool have_rtt;
};

/* Presence tests: the NOTIFYs the agents answered so far and their
 * delays, cumulative.  publish: the watchers' NOTIFYs that carried a new
 * publication (bodies_new: neither a refresh's repeat nor a duplicate,
 * which past the server's knee outnumber the NOTIFYs it says it sent);
 * subscribe: every NOTIFY of the loaders' dialogs. */
struct notify_mark {
	uint64_t notifies;
	struct hist delay;
};

/* The proxies' node indexes into idx, in the order of the report:
 * stateless, then stateful; returns how many (at most max). */
size_t sampler_proxy_list(const struct run *r, size_t *idx, size_t max);

/* Reads proxy ro's figures into m; false when it did not answer. */
bool sampler_proxy_read(struct run *r, struct role *ro, struct proxy_mark *m);

/* Each thread's CPU share between marks a and b, matched by thread id,
 * into out->thread_cpu. */
void sampler_thread_cpu(const struct proxy_mark *a, const struct proxy_mark *b,
			struct res_proxy *out);

/* The loaders' figures, summed, into m. */
void sampler_loaders_read(struct run *r, struct loader_mark *m);

/* Presence tests: the agents' NOTIFY figures, summed, into m. */
void sampler_notify_read(struct run *r, struct notify_mark *m);

/* A presence step's NOTIFY figures between marks a and b into st
 * (secs: the step's length). */
void sampler_notify_step(const struct notify_mark *a,
			 const struct notify_mark *b, double secs,
			 struct res_step *st);

/* The loaders' transactions still open, or -1 when one did not say. */
long sampler_loaders_in_flight(struct run *r);

/* Requests the proxies have received so far, all of them together. */
uint64_t sampler_proxies_requests(struct run *r);

#endif
