/*
 * metrics.h - a run's live figures as OpenMetrics text (the exposition
 * format of OpenMetrics 1.0, which Prometheus scrapes), served over
 * HTTP by `orchestrator run --metrics HOST:PORT` (httpd.h) while a run
 * goes, so that a Prometheus and the Grafana dashboard follow a run of
 * hours.  docs/metrics.md is the contract: the names, types, labels,
 * units and the verdict's values there, every series present from a
 * run's first scrape.
 *
 * metrics_feed.c writes (from the stepper, each second and step), the
 * responder's thread reads (metrics_text): a mutex keeps them apart.
 */
#ifndef SIPSTONE_METRICS_H
#define SIPSTONE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

struct metrics;

/* Roles of a run with their own CPU and memory series. */
#define METRICS_MAX_ROLES 64

/* The content type of metrics_text's answer. */
#define METRICS_CONTENT_TYPE \
	"application/openmetrics-text; version=1.0.0; charset=utf-8"

/* Whether hostport reads as HOST:PORT (it may still fail to listen). */
bool metrics_addr_ok(const char *hostport);

/*
 * Starts serving GET /metrics on hostport ("127.0.0.1:9464").  Returns
 * 0 with *mp (metrics_stop frees it), or an errno with why.
 */
int metrics_start(struct metrics **mp, const char *hostport, char *why,
		  size_t whysz);

/* The port it serves on (hostport's, or the one picked for port 0). */
unsigned metrics_port(const struct metrics *m);

/* Stops serving and frees m (NULL is fine). */
void metrics_stop(struct metrics *m);

/*
 * A new run starts with n roles (names[k] on hosts[k], at most
 * METRICS_MAX_ROLES): every figure back to 0, the verdict "running".
 */
void metrics_run_begin(struct metrics *m, const char *const *names,
		       const char *const *hosts, size_t n);

/*
 * One second of step (0 the first) at offered/s: attempts (outcomes)
 * that second, ok and bad of them; the loaders' cumulative round trips
 * (microseconds; NULL when none were read).  The success ratio is the
 * step's so far: it starts again when step changes.
 */
void metrics_second(struct metrics *m, unsigned step, double offered,
		    uint64_t ok, uint64_t bad, const struct hist *rtt_us);

/* Role k's resident memory and cumulative CPU (microseconds) at t_ms
 * (monotonic); its CPU ratio is the change since its last mark. */
void metrics_role_mark(struct metrics *m, size_t k, uint64_t cpu_us,
		       uint64_t t_ms, double rss_bytes);

/* A step was judged (passed: it met the criteria). */
void metrics_step(struct metrics *m, bool passed);

/* The run ended: complete is "done", anything else "aborted". */
void metrics_run_end(struct metrics *m, const char *status);

/* The exposition text, ending with "# EOF\n" (caller frees; NULL on
 * ENOMEM). */
char *metrics_text(struct metrics *m);

#endif
