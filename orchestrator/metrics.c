#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

/* The histogram's upper bounds, seconds (a SIP transaction's round
 * trip: from under a millisecond to Timer F's 32 s). */
static const double latency_le[] = {0.0005, 0.001, 0.002, 0.005, 0.01,
				    0.02,   0.05,  0.1,	  0.2,	 0.5,
				    1,	    2,	   5,	  10,	 32};
#define NLE (sizeof(latency_le) / sizeof(latency_le[0]))

static const char *const verdicts[] = {"running", "pass",    "fail",
				       "done",	  "aborted", NULL};

struct metrics {
	pthread_mutex_t lock;
	struct httpd *httpd;
	double offered, achieved, success_ratio;
	unsigned step, cur_step;
	uint64_t step_ok, step_bad;
	bool in_step;
	size_t nroles;
	char role[METRICS_MAX_ROLES][64];
	char host[METRICS_MAX_ROLES][64];
	double cpu[METRICS_MAX_ROLES], rss_bytes[METRICS_MAX_ROLES];
	uint64_t cpu_us[METRICS_MAX_ROLES], t_ms[METRICS_MAX_ROLES];
	uint64_t le_count[NLE], count;
	double sum_s;
	char verdict[16];
};

static char *serve_text(void *arg)
{
	return metrics_text(arg);
}

bool metrics_addr_ok(const char *hostport)
{
	char host[256];
	uint16_t port;

	return httpd_parse_addr(hostport, host, sizeof(host), &port) == 0;
}

int metrics_start(struct metrics **mp, const char *hostport, char *why,
		  size_t whysz)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->success_ratio = 1;
	snprintf(m->verdict, sizeof(m->verdict), "running");
	err = httpd_start(&m->httpd, hostport, "/metrics",
			  METRICS_CONTENT_TYPE, serve_text, m, why, whysz);
	if (err) {
		pthread_mutex_destroy(&m->lock);
		free(m);
		return err;
	}
	*mp = m;
	return 0;
}

unsigned metrics_port(const struct metrics *m)
{
	return httpd_port(m->httpd);
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	/* The thread ends first: nothing reads m after this. */
	httpd_stop(m->httpd);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void metrics_run_begin(struct metrics *m, const char *const *names,
		       const char *const *hosts, size_t n)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->offered = m->achieved = 0;
	/* "1 before any outcome" (docs/metrics.md) */
	m->success_ratio = 1;
	m->step = m->cur_step = 0;
	m->step_ok = m->step_bad = 0;
	m->in_step = false;
	m->count = 0;
	m->sum_s = 0;
	memset(m->le_count, 0, sizeof(m->le_count));
	m->nroles = n < METRICS_MAX_ROLES ? n : METRICS_MAX_ROLES;
	for (size_t k = 0; k < m->nroles; k++) {
		snprintf(m->role[k], sizeof(m->role[k]), "%s", names[k]);
		snprintf(m->host[k], sizeof(m->host[k]), "%s", hosts[k]);
		m->cpu[k] = m->rss_bytes[k] = 0;
		m->cpu_us[k] = m->t_ms[k] = 0;
	}
	snprintf(m->verdict, sizeof(m->verdict), "running");
	pthread_mutex_unlock(&m->lock);
}

/* The histogram's cumulative counts at each bound from the loaders'
 * (a bucket counts below a bound when all of it is). */
static void fold_latency(struct metrics *m, const struct hist *h)
{
	memset(m->le_count, 0, sizeof(m->le_count));
	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		double high_s;

		if (!h->b[b])
			continue;
		high_s = (double)hist_bucket_high(b) / 1e6;
		for (size_t k = 0; k < NLE; k++)
			if (high_s <= latency_le[k])
				m->le_count[k] += h->b[b];
	}
	m->count = h->count;
	m->sum_s = (double)h->sum / 1e6;
}

void metrics_second(struct metrics *m, unsigned step, double offered,
		    uint64_t ok, uint64_t bad, const struct hist *rtt_us)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	if (!m->in_step || step != m->cur_step) {
		m->step_ok = m->step_bad = 0;
		m->cur_step = step;
		m->in_step = true;
	}
	m->step_ok += ok;
	m->step_bad += bad;
	m->offered = offered;
	m->achieved = (double)(ok + bad);
	m->success_ratio = m->step_ok + m->step_bad
				   ? (double)m->step_ok /
					     (double)(m->step_ok + m->step_bad)
				   : 1;
	m->step = step;
	if (rtt_us)
		fold_latency(m, rtt_us);
	pthread_mutex_unlock(&m->lock);
}

void metrics_role_mark(struct metrics *m, size_t k, uint64_t cpu_us,
		       uint64_t t_ms, double rss_bytes)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	if (k < m->nroles) {
		if (m->t_ms[k] && t_ms > m->t_ms[k] && cpu_us >= m->cpu_us[k])
			m->cpu[k] = (double)(cpu_us - m->cpu_us[k]) /
				    ((double)(t_ms - m->t_ms[k]) * 1000);
		m->cpu_us[k] = cpu_us;
		m->t_ms[k] = t_ms;
		m->rss_bytes[k] = rss_bytes;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics_step(struct metrics *m, bool passed)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	snprintf(m->verdict, sizeof(m->verdict), "%s",
		 passed ? "pass" : "fail");
	pthread_mutex_unlock(&m->lock);
}

void metrics_run_end(struct metrics *m, const char *status)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	snprintf(m->verdict, sizeof(m->verdict), "%s",
		 !strcmp(status, "complete") ? "done" : "aborted");
	pthread_mutex_unlock(&m->lock);
}

/* A growing text. */
struct text {
	char *buf;
	size_t len, size;
	bool failed;
};

static void put(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (t->failed)
			return;
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->size - t->len) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t size = t->size * 2 + (n > 0 ? (size_t)n : 0);
			char *more = realloc(t->buf, size);

			if (!more) {
				t->failed = true;
				return;
			}
			t->buf = more;
			t->size = size;
		}
	}
}

/* A label value: '\\', '"' and newline escaped (OpenMetrics ABNF). */
static void put_label(struct text *t, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			put(t, "\\%c", *v);
		else if (*v == '\n')
			put(t, "\\n");
		else
			put(t, "%c", *v);
	}
}

static void put_gauge(struct text *t, const char *name, const char *help,
		      const char *unit, double v)
{
	put(t, "# TYPE %s gauge\n", name);
	if (unit)
		put(t, "# UNIT %s %s\n", name, unit);
	put(t, "# HELP %s %s\n", name, help);
	put(t, "%s %.10g\n", name, v);
}

static void put_roles(struct text *t, const struct metrics *m,
		      const char *name, const char *help, const char *unit,
		      const double *v)
{
	put(t, "# TYPE %s gauge\n", name);
	if (unit)
		put(t, "# UNIT %s %s\n", name, unit);
	put(t, "# HELP %s %s\n", name, help);
	for (size_t k = 0; k < m->nroles; k++) {
		put(t, "%s{role=\"", name);
		put_label(t, m->role[k]);
		put(t, "\",host=\"");
		put_label(t, m->host[k]);
		put(t, "\"} %.10g\n", v[k]);
	}
}

static void put_latency(struct text *t, const struct metrics *m)
{
	put(t, "# TYPE sipstone_latency_seconds histogram\n"
	       "# UNIT sipstone_latency_seconds seconds\n"
	       "# HELP sipstone_latency_seconds The loaders' transaction "
	       "round trips since the run began.\n");
	/* Canonical numbers (OpenMetrics: "1.0", not "1"). */
	for (size_t k = 0; k < NLE; k++)
		put(t,
		    latency_le[k] >= 1 ? "sipstone_latency_seconds_bucket{le="
					 "\"%.1f\"} %llu\n"
				       : "sipstone_latency_seconds_bucket{le="
					 "\"%g\"} %llu\n",
		    latency_le[k], (unsigned long long)m->le_count[k]);
	put(t,
	    "sipstone_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "sipstone_latency_seconds_count %llu\n"
	    "sipstone_latency_seconds_sum %.10g\n",
	    (unsigned long long)m->count, (unsigned long long)m->count,
	    m->sum_s);
}

char *metrics_text(struct metrics *m)
{
	struct text t = {.size = 4096};

	t.buf = malloc(t.size);
	if (!t.buf)
		return NULL;
	t.buf[0] = '\0';
	pthread_mutex_lock(&m->lock);
	put_gauge(&t, "sipstone_offered_rate",
		  "Requests (or calls) per second the loaders are asked for.",
		  NULL, m->offered);
	put_gauge(&t, "sipstone_achieved_rate",
		  "Attempts the loaders made in the last second.", NULL,
		  m->achieved);
	put_gauge(&t, "sipstone_success_ratio",
		  "Successes over outcomes of the current step so far.",
		  "ratio", m->success_ratio);
	put_latency(&t, m);
	put_roles(&t, m, "sipstone_role_cpu_ratio",
		  "A role's CPU over the last second, in cores.", NULL,
		  m->cpu);
	put_roles(&t, m, "sipstone_role_rss_bytes",
		  "A role's resident memory.", "bytes", m->rss_bytes);
	put_gauge(&t, "sipstone_step",
		  "The step (or trial) the run is in, 0 the first.", NULL,
		  m->step);
	put(&t, "# TYPE sipstone_verdict gauge\n"
		"# HELP sipstone_verdict 1 for the run's verdict so far.\n");
	for (size_t k = 0; verdicts[k]; k++)
		put(&t, "sipstone_verdict{verdict=\"%s\"} %d\n", verdicts[k],
		    !strcmp(verdicts[k], m->verdict));
	pthread_mutex_unlock(&m->lock);
	put(&t, "# EOF\n");
	if (t.failed) {
		free(t.buf);
		return NULL;
	}
	return t.buf;
}
