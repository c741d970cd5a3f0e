/*
 * results.h - a run's figures and its bundle: results/<run-id>/ with
 * summary.json (everything, the record the other files are made from),
 * steps.csv (a row per step), samples.csv (a row per second),
 * report.html (self-contained, SVG charts like the seed's figures and
 * the RFC 7502 setup block), and results/<run-id>.tar.gz.
 *
 * A bundle can be read back (results_load) to rebuild its report or to
 * compare several runs (the seed's Figure 7: s0p1, s1p2, s2p2 on one
 * chart, with the scaling ratio).
 */
#ifndef SIPSTONE_RESULTS_H
#define SIPSTONE_RESULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RES_MAX_PROXIES 16
#define RES_NAME_MAX 64

#define RES_MAX_THREADS 8
#define RES_MAX_PROBES 16

/* A proxy's figures over one step's steady middle or one second. */
struct res_proxy {
	double cpu; /* fraction of one core (1.0 = one core busy) */
	double rss_mb;
	double share; /* fraction of the requests it handled, or -1 */
	/* samples: each thread's CPU (fractions of a core, by thread id;
	 * /proc's 10 ms ticks), the first RES_MAX_THREADS threads */
	unsigned nthreads;
	float thread_cpu[RES_MAX_THREADS];
};

struct res_step {
	unsigned index;
	double offered;	 /* requests (or calls) per second asked for */
	double achieved; /* completed per second */
	uint64_t attempts, successes, failures, timeouts, retransmissions;
	double success_pct;
	double ta_avg_ms; /* turnaround, the seed's criterion */
	double p50_ms, p90_ms, p95_ms, p99_ms, max_ms;
	/* RFC 6076; < 0 when the test does not give it */
	double rrd_ms, ira_pct, srd_ms, sdd_ms, ser_pct, seer_pct, isa_pct,
		scr_pct;
	struct res_proxy proxy[RES_MAX_PROXIES];
	/* Presence tests (< 0 otherwise): the NOTIFYs the agents answered
	 * in the step (publish: the watchers', subscribe: the loaders'),
	 * per second and per successful request, their delay percentiles
	 * (publish: PUBLISH sent -> NOTIFY at a watcher; subscribe:
	 * SUBSCRIBE -> first NOTIFY), and the NOTIFYs the servers sent per
	 * second (stats.presence.notify.sent). */
	uint64_t notifies;
	double notify_per_s, notify_per_req;
	double notify_p50_ms, notify_p95_ms, notify_p99_ms;
	double server_notify_per_s;
	bool generator_bound;
	/* The machine's CPU over the step (interfere.c), shares of all
	 * its CPUs in [0, 1], of the machine where other work took the
	 * most when the run spans several; < 0 when not measured.
	 * others: busy less our processes (roles, orchestrator, managed
	 * database).  interfered: others + steal over the run's
	 * interference_max. */
	double mach_busy, mach_steal, mach_iowait, mach_others;
	char mach_hosts[128]; /* that machine's hosts, "proxy1 db ..." */
	bool interfered;
	/* Transactions sent in the step still without an outcome when its
	 * figures were read (the loaders count each transaction in the
	 * step it was sent in): attempts = successes + failures + this */
	uint64_t in_flight;
	bool passed; /* met the criteria (rfc7502, bisect: zero failures) */
	/* "ramp"; an RFC 7502 search's "trial", "confirm" (the longer
	 * trial at the rate found) or "discard" (failed while generator
	 * bound, run again, not counted); a bisection's "up" while looking
	 * for a failing rate, "bisect" between the clean and the failing
	 * one */
	char phase[8];
};

struct res_sample {
	double t_s; /* since the first step began */
	unsigned step;
	double offered, achieved, success_pct, p95_ms;
	struct res_proxy proxy[RES_MAX_PROXIES];
	/* the database's Questions per second and Threads_connected, or
	 * -1 when there was no reading */
	double db_qps, db_threads;
};

struct res_run {
	char id[128]; /* results/<id>/ */
	char topology[RES_NAME_MAX];
	char test[16];
	char transport[8];
	char status[16]; /* complete, failed, aborted */
	char reason[256];
	char started[32]; /* UTC, ISO 8601 */
	double success_threshold_pct;
	unsigned ta_limit_ms;
	size_t nproxies;
	char proxy_names[RES_MAX_PROXIES][RES_NAME_MAX];
	struct res_step *steps;
	size_t nsteps;
	struct res_sample *samples;
	size_t nsamples;
	double baseline; /* the generators' reach without the proxies */
	/* "exact": the bed's own limit (a higher rate failed: baseline.c's
	 * search), "lower": clean at the highest rate it tried, "": an
	 * older bundle, one rate only */
	char baseline_bound[8];
	/* the bed's probes, in the order run (baseline.c) */
	struct res_probe {
		double offered, achieved;
		bool clean;
	} probes[RES_MAX_PROBES];
	size_t nprobes;
	/* the lowest offered rate of a step in which a callhandler ran out
	 * of CPU (bedcpu.h), and which; 0 and "" when none did */
	double handler_bound_at;
	char handler_bound_why[128];
	/* --repeat: this run is repetition repeat_index (1-based) of
	 * repeat_of; 0 of 0 when not repeated */
	unsigned repeat_index, repeat_of;
	/* the zero-failure rate the search found (search says which
	 * procedure); < 0 when none ran or it found none */
	double rfc7502_rate;
	char search[16];	/* ramp, rfc7502, bisect */
	char search_end[32];	/* how the search ended: "found", ... */
	unsigned threshold_ms;	/* establishment threshold */
	unsigned granularity;	/* rfc7502, bisect: margin of the rate found */
	double granularity_pct; /* rfc7502: or this % of it, the larger */
	/* a step whose other work took more than this share of a machine
	 * is interfered (experiment "interference_max") */
	double interference_max;
	/* the loaders' counts against the proxies' own (summary.json
	 * "crosscheck"; NULL when not made): owned */
	json_t *crosscheck;
	json_t *setup; /* topology, experiment, hosts (no secrets) */
	/* summary.json as res_load() read it (NULL for a run being made),
	 * for fields other branches add ("bound", "repeat"): owned */
	json_t *loaded;
	/* "test": "sipstone": each test's rate and weight and SIPstone-A
	 * (sipstone.h), summary.json's "sipstone"; NULL otherwise */
	json_t *sipstone;
	double sipstone_a; /* the composite; < 0 when none */
};

/* Frees what the run owns (steps, samples, setup), not the struct. */
void res_run_clear(struct res_run *run);

/*
 * The most a step that met the criteria delivered: the highest
 * min(offered, achieved) of a passed step, or 0.
 */
double res_capacity(const struct res_run *run);

/*
 * A presence run's NOTIFYs delivered per second at the capacity step
 * (the step res_capacity() took), and the aggregate, requests plus
 * those NOTIFYs per second; -1 for other runs or without such a step.
 */
double res_capacity_notify(const struct res_run *run);
double res_capacity_aggregate(const struct res_run *run);

/*
 * The knee: the offered rate after which achieved throughput stops
 * following the offered rate (achieved < 95 % of offered), or -1 when
 * no step fell behind (null in summary.json, "none below N" in text:
 * never 0).
 */
double res_knee(const struct res_run *run);

/* How many of the run's steps were interfered. */
size_t res_interfered_steps(const struct res_run *run);

/* The run as summary.json has it (caller decrefs), or NULL. */
json_t *res_run_json(const struct res_run *run);

/*
 * Reads a bundle's summary.json.  Returns 0, ENOENT, or EBADMSG with
 * why saying what is wrong.
 */
int res_load(struct res_run *run, const char *dir, char *why, size_t whysz);

/* Whether run is of a presence test (subscribe, publish). */
bool res_is_presence(const struct res_run *run);

/* obj's number at key, or dflt when missing or not a number. */
double res_json_number(json_t *obj, const char *key, double dflt);

#endif
