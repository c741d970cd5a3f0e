/*
 * metrics.h - a run's live figures as OpenMetrics text (the exposition
 * format of OpenMetrics 1.0, which Prometheus scrapes), served over
 * HTTP by `orchestrator run --metrics HOST:PORT` (httpd.h) while a run
 * goes, so that a Prometheus and the Grafana dashboard follow a run of
 * hours.  The names are docs/metrics.md's:
 *
 *	sipstone_offered_rate		gauge	requests/s asked for
 *	sipstone_achieved_rate		gauge	successes/s, last second
 *	sipstone_success_ratio		gauge	0-1, last second
 *	sipstone_latency_seconds	histogram  the loaders' round trips,
 *					cumulative over the run
 *	sipstone_role_cpu_ratio{role,host}   gauge  a proxy's CPU, cores
 *	sipstone_role_rss_bytes{role,host}   gauge  its resident memory
 *	sipstone_step			gauge	the step (trial), from 1
 *	sipstone_verdict{verdict}	gauge	1 for the verdict so far:
 *		pending (no step done), pass (the last step met the
 *		criteria), fail (it did not), then the run's end: complete,
 *		failed, aborted
 *
 * The stepper writes (metrics_second, metrics_step), the responder's
 * thread reads (metrics_text): a mutex keeps them apart.
 */
#ifndef SIPSTONE_METRICS_H
#define SIPSTONE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "hist.h"
#include "results.h"

struct metrics;

/* The content type of metrics_text's answer. */
#define METRICS_CONTENT_TYPE \
	"application/openmetrics-text; version=1.0.0; charset=utf-8"

/*
 * Starts serving GET /metrics on hostport ("127.0.0.1:9464").  Returns
 * 0 with *mp (metrics_stop frees it), or an errno with why.
 */
int metrics_start(struct metrics **mp, const char *hostport, char *why,
		  size_t whysz);

/* Whether hostport reads as HOST:PORT (it may still fail to listen). */
bool metrics_addr_ok(const char *hostport);

/* The port it serves on (hostport's, or the one picked for port 0). */
unsigned metrics_port(const struct metrics *m);

/* Stops serving and frees m (NULL is fine). */
void metrics_stop(struct metrics *m);

/* A new run starts: every figure back to none, the verdict pending. */
void metrics_run_begin(struct metrics *m, const char *run_id);

/*
 * One second of a step: smp's rates and each proxy's CPU and RSS
 * (names[k], hosts[k] for smp->proxy[k], n of them), the loaders'
 * cumulative round trips (microseconds; NULL when none were read).
 */
void metrics_second(struct metrics *m, const struct res_sample *smp,
		    const char (*names)[RES_NAME_MAX],
		    const char *const *hosts, size_t n,
		    const struct hist *rtt_us);

/* A step ended with that verdict (st->passed). */
void metrics_step(struct metrics *m, const struct res_step *st);

/* The run ended: its status (complete, failed, aborted). */
void metrics_run_end(struct metrics *m, const char *status);

/* The exposition text, ending with "# EOF\n" (caller frees; NULL on
 * ENOMEM). */
char *metrics_text(struct metrics *m);

#endif
