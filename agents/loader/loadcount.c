/*
 * loadcount.c - the loader's counters (see loadcount.h).
 */
#include "loadcount.h"

#include <errno.h>
#include <string.h>

#include "ev.h"

/* The field-wise sum and difference of the merge and diff functions:
 * d += s; out = a - b, EINVAL when a counter went backwards. */
#define ADD(f) d->f += s->f;
#define SUB(f)                         \
	do {                           \
		if (a->f < b->f)       \
			return EINVAL; \
		out->f = a->f - b->f;  \
	} while (0);

void loadcount_call_init(struct loadcount_call *c)
{
	memset(c, 0, sizeof(*c));
	hist_init(&c->srd);
	hist_init(&c->sdd);
	hist_init(&c->sdt);
}

#define CALL_FIELDS(X)       \
	X(invite_done)       \
	X(invite_timeouts)   \
	X(ringing)           \
	X(answered)          \
	X(completed)         \
	X(far_byes)          \
	X(bye_failures)      \
	X(bye_timeouts)      \
	X(acks)              \
	X(acks_resent)       \
	X(reinvites)         \
	X(in_dialog_other)   \
	X(no_dialog)         \
	X(redirect_contacts) \
	X(redirect_empty)

void loadcount_call_settle(struct loadcount_call *c, uint64_t now_ns,
			   int delta)
{
	if (now_ns > c->active_t_ns) {
		if (c->active_t_ns)
			c->active_ns += c->active * (now_ns - c->active_t_ns);
		c->active_t_ns = now_ns;
	}
	if (delta > 0)
		c->active++;
	else if (delta < 0 && c->active)
		c->active--;
	if (c->active > c->active_max)
		c->active_max = c->active;
}

void loadcount_call_merge(struct loadcount_call *d,
			  const struct loadcount_call *s)
{
	CALL_FIELDS(ADD)
	d->active += s->active;
	d->active_ns += s->active_ns;
	if (s->active_max > d->active_max)
		d->active_max = s->active_max;
	if (s->active_t_ns > d->active_t_ns)
		d->active_t_ns = s->active_t_ns;
	hist_merge(&d->srd, &s->srd);
	hist_merge(&d->sdd, &s->sdd);
	hist_merge(&d->sdt, &s->sdt);
}

int loadcount_call_diff(struct loadcount_call *out,
			const struct loadcount_call *a,
			const struct loadcount_call *b)
{
	CALL_FIELDS(SUB)
	SUB(active_ns)
	out->active = a->active;
	out->active_max = a->active_max;
	out->active_t_ns = a->active_t_ns;
	if (hist_diff(&out->srd, &a->srd, &b->srd) ||
	    hist_diff(&out->sdd, &a->sdd, &b->sdd) ||
	    hist_diff(&out->sdt, &a->sdt, &b->sdt))
		return EINVAL;
	return 0;
}

void loadcount_pres_init(struct loadcount_pres *c)
{
	memset(c, 0, sizeof(*c));
	hist_init(&c->snd);
}

#define PRES_FIELDS(X)      \
	X(sub_2xx)          \
	X(first_notifies)   \
	X(no_notify)        \
	X(notifies)         \
	X(terminated)       \
	X(no_dialog)        \
	X(refreshes)        \
	X(refresh_failures) \
	X(unsubscribes)     \
	X(unsubscribed)     \
	X(unsub_failures)   \
	X(pub_initial)      \
	X(pub_modify)       \
	X(pub_412)          \
	X(pub_no_etag)

void loadcount_pres_merge(struct loadcount_pres *d,
			  const struct loadcount_pres *s)
{
	PRES_FIELDS(ADD)
	hist_merge(&d->snd, &s->snd);
}

int loadcount_pres_diff(struct loadcount_pres *out,
			const struct loadcount_pres *a,
			const struct loadcount_pres *b)
{
	PRES_FIELDS(SUB)
	return hist_diff(&out->snd, &a->snd, &b->snd) ? EINVAL : 0;
}

void loadcount_init(struct loadcount *c)
{
	unsigned k;

	memset(c, 0, sizeof(*c));
	hist_init(&c->rtt);
	hist_init(&c->rrd);
	loadcount_call_init(&c->call);
	loadcount_pres_init(&c->pres);
	for (k = 0; k < LOADCFG_KINDS; k++) {
		hist_init(&c->kind[k].rtt);
		hist_init(&c->kind[k].rrd);
	}
}

#define KIND_FIELDS(X)      \
	X(attempts)         \
	X(successes)        \
	X(failures)         \
	X(timeouts)         \
	X(transport_errors) \
	X(unfinished)       \
	X(retransmissions)  \
	X(auth_challenges)  \
	X(late_sends)       \
	X(throttled)

static void kind_merge(struct loadcount_kind *d,
		       const struct loadcount_kind *s)
{
	size_t i;

	KIND_FIELDS(ADD)
	for (i = 0; i < LOADCOUNT_CODES; i++)
		d->codes[i] += s->codes[i];
	hist_merge(&d->rtt, &s->rtt);
	hist_merge(&d->rrd, &s->rrd);
}

/* The call module counts in a struct loadcount of its own: its
 * generic figures are the invite kind's. */
void loadcount_kind_merge_calls(struct loadcount_kind *d,
				const struct loadcount *s)
{
	size_t i;

	KIND_FIELDS(ADD)
	for (i = 0; i < LOADCOUNT_CODES; i++)
		d->codes[i] += s->codes[i];
	hist_merge(&d->rtt, &s->rtt);
}

void loadcount_merge(struct loadcount *d, const struct loadcount *s)
{
	size_t i;

	d->attempts += s->attempts;
	d->successes += s->successes;
	d->failures += s->failures;
	d->timeouts += s->timeouts;
	d->transport_errors += s->transport_errors;
	d->unfinished += s->unfinished;
	d->retransmissions += s->retransmissions;
	d->auth_challenges += s->auth_challenges;
	d->late_sends += s->late_sends;
	d->throttled += s->throttled;
	d->conns_opened += s->conns_opened;
	d->conns_failed += s->conns_failed;
	d->conns_reopened += s->conns_reopened;
	d->conns_closed += s->conns_closed;
	d->conns_up += s->conns_up;
	d->conn_setup_ns += s->conn_setup_ns;
	d->tls_full += s->tls_full;
	d->tls_resumed += s->tls_resumed;
	if (s->pool_open_us > d->pool_open_us)
		d->pool_open_us = s->pool_open_us;
	d->stray += s->stray;
	d->bad_msgs += s->bad_msgs;
	for (i = 0; i < LOADCOUNT_CODES; i++)
		d->codes[i] += s->codes[i];
	hist_merge(&d->rtt, &s->rtt);
	hist_merge(&d->rrd, &s->rrd);
	loadcount_call_merge(&d->call, &s->call);
	for (i = 0; i < LOADCFG_KINDS; i++)
		kind_merge(&d->kind[i], &s->kind[i]);
	loadcount_pres_merge(&d->pres, &s->pres);
	for (i = 0; i < LOADCOUNT_COHORTS; i++) {
		d->cohort[i].attempts += s->cohort[i].attempts;
		d->cohort[i].successes += s->cohort[i].successes;
		d->cohort[i].failures += s->cohort[i].failures;
	}
}

int loadcount_diff(struct loadcount *out, const struct loadcount *a,
		   const struct loadcount *b)
{
	size_t i;

	SUB(attempts)
	SUB(successes)
	SUB(failures)
	SUB(timeouts)
	SUB(transport_errors)
	SUB(unfinished)
	SUB(retransmissions)
	SUB(auth_challenges)
	SUB(late_sends)
	SUB(throttled)
	SUB(stray)
	SUB(bad_msgs)
	SUB(conns_opened)
	SUB(conns_failed)
	SUB(conns_reopened)
	SUB(conns_closed)
	SUB(conns_up)
	SUB(conn_setup_ns)
	SUB(tls_full)
	SUB(tls_resumed)
	out->pool_open_us = a->pool_open_us;
	for (i = 0; i < LOADCOUNT_CODES; i++)
		SUB(codes[i])
	for (i = 0; i < LOADCOUNT_COHORTS; i++) {
		SUB(cohort[i].attempts)
		SUB(cohort[i].successes)
		SUB(cohort[i].failures)
	}
	if (hist_diff(&out->rtt, &a->rtt, &b->rtt) ||
	    hist_diff(&out->rrd, &a->rrd, &b->rrd) ||
	    loadcount_call_diff(&out->call, &a->call, &b->call) ||
	    loadcount_pres_diff(&out->pres, &a->pres, &b->pres))
		return EINVAL;
	for (unsigned k = 0; k < LOADCFG_KINDS; k++) {
		const struct loadcount_kind *ka = &a->kind[k];
		const struct loadcount_kind *kb = &b->kind[k];
		struct loadcount_kind *ko = &out->kind[k];

#define KSUB(f)                        \
	do {                           \
		if (ka->f < kb->f)     \
			return EINVAL; \
		ko->f = ka->f - kb->f; \
	} while (0);
		KIND_FIELDS(KSUB)
#undef KSUB
		for (i = 0; i < LOADCOUNT_CODES; i++) {
			if (ka->codes[i] < kb->codes[i])
				return EINVAL;
			ko->codes[i] = ka->codes[i] - kb->codes[i];
		}
		if (hist_diff(&ko->rtt, &ka->rtt, &kb->rtt) ||
		    hist_diff(&ko->rrd, &ka->rrd, &kb->rrd))
			return EINVAL;
	}
	return 0;
}

struct loadcount_cohort *loadcount_cohort(struct loadcount *k, unsigned cohort)
{
	return &k->cohort[cohort % LOADCOUNT_COHORTS];
}

void loadcount_outcome(struct loadcount *k, pthread_mutex_t *mu,
		       enum loadcount_outcome o, unsigned cohort)
{
	pthread_mutex_lock(mu);
	if (o == LOADCOUNT_OK) {
		k->successes++;
		loadcount_cohort(k, cohort)->successes++;
	} else {
		k->failures++;
		loadcount_cohort(k, cohort)->failures++;
		if (o == LOADCOUNT_TIMEOUT)
			k->timeouts++;
		if (o == LOADCOUNT_TP_ERROR)
			k->transport_errors++;
	}
	pthread_mutex_unlock(mu);
}

void loadcount_bump(pthread_mutex_t *mu, uint64_t *field)
{
	pthread_mutex_lock(mu);
	(*field)++;
	pthread_mutex_unlock(mu);
}

uint64_t loadcount_rx_now(const uint64_t *rx_ns)
{
	if (rx_ns && *rx_ns)
		return *rx_ns;
	return ev_monotonic_ns();
}

uint64_t loadcount_us_since(const uint64_t *rx_ns, uint64_t t)
{
	uint64_t now = loadcount_rx_now(rx_ns);

	return now > t ? (now - t) / 1000u : 0;
}
