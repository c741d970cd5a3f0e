/*
 * loadreport.c - the loader's figures as JSON, CSV and a table.
 */
#include "loadreport.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loadmetric.h"

void loadreport_pace_set(struct loadreport_pace *p, double rate,
			 uint64_t now_ns)
{
	p->sends = loadreport_pace_sends(p, now_ns);
	p->rate = rate;
	p->t_ns = now_ns;
}

double loadreport_pace_sends(const struct loadreport_pace *p, uint64_t now_ns)
{
	if (!p->rate || now_ns <= p->t_ns)
		return p->sends;
	return p->sends + p->rate * (double)(now_ns - p->t_ns) / 1e9;
}

/*
 * Measured on a shared 2-core machine (docs/agents.md): a loader that
 * keeps its rate still sends a few % of its requests more than 5 ms
 * late whenever another process holds its CPU, so one late send (the
 * old rule) flagged every step; one that cannot keep up falls short of
 * the pace or sends most requests late.
 */
bool loadreport_generator_bound(const struct loadcount *c,
				const struct loadreport_ctx *x, char *why,
				size_t whysz)
{
	uint64_t sent = c->attempts + c->throttled;
	unsigned cores = x->threads;
	char dummy[1];

	if (!why) {
		why = dummy;
		whysz = sizeof(dummy);
	}
	if (sent &&
	    (double)c->late_sends > LOADREPORT_LATE_SHARE * (double)sent) {
		snprintf(why, whysz, "%.1f%% of the sends late",
			 100.0 * (double)c->late_sends / (double)sent);
		return true;
	}
	if (x->asked > 0) {
		/* a send either side of the interval's edges; Poisson
		 * arrivals vary by their standard deviation */
		double slack = fmax((1 - LOADREPORT_PACE_SHARE) * x->asked, 2);

		if (x->poisson)
			slack += 3 * sqrt(x->asked);
		if ((double)sent + slack < x->asked) {
			snprintf(why, whysz, "sent %.1f%% of the pace",
				 100.0 * (double)sent / x->asked);
			return true;
		}
	}
	if (x->cores && x->cores < cores)
		cores = x->cores;
	if (x->cpu >= 0 && cores && x->cpu > LOADREPORT_CPU_SHARE * cores) {
		snprintf(why, whysz, "CPU %.0f%% of %u core(s)",
			 100.0 * x->cpu / cores, cores);
		return true;
	}
	return false;
}

static int set_u64(json_t *o, const char *k, uint64_t v)
{
	return json_object_set_new(o, k, json_integer((json_int_t)v));
}

/* A percentage, or null when it has no denominator (< 0). */
static int set_pct(json_t *o, const char *k, double v)
{
	return json_object_set_new(o, k, v < 0 ? json_null() : json_real(v));
}

static int set_hist(json_t *o, const char *k, const struct hist *h)
{
	return json_object_set_new(o, k, hist_to_json(h));
}

static const char *test_name(const struct loadreport_ctx *x)
{
	return x->name ? x->name : loadcfg_test_name(x->test);
}

/* The time-average of the concurrent calls over an interval of secs. */
static double active_mean(const struct loadcount_call *k, double secs)
{
	return secs > 0 ? (double)k->active_ns / (secs * 1e9) : 0.0;
}

/* invite: the call counters, histograms and RFC 6076 session metrics. */
static int call_json(json_t *o, json_t *m, const struct loadcount *c,
		     double secs)
{
	const struct loadcount_call *k = &c->call;
	json_t *calls = json_object();
	json_t *conc = json_pack("{sIsIsf}", "now", (json_int_t)k->active,
				 "max", (json_int_t)k->active_max, "mean",
				 active_mean(k, secs));
	int err = !calls || !conc;

	err = err || set_u64(calls, "invite_done", k->invite_done);
	err = err || set_u64(calls, "invite_timeouts", k->invite_timeouts);
	err = err || set_u64(calls, "ringing", k->ringing);
	err = err || set_u64(calls, "answered", k->answered);
	err = err || set_u64(calls, "completed", k->completed);
	err = err || set_u64(calls, "far_byes", k->far_byes);
	err = err || set_u64(calls, "bye_failures", k->bye_failures);
	err = err || set_u64(calls, "bye_timeouts", k->bye_timeouts);
	err = err || set_u64(calls, "acks", k->acks);
	err = err || set_u64(calls, "acks_resent", k->acks_resent);
	err = err || set_u64(calls, "reinvites", k->reinvites);
	err = err || set_u64(calls, "in_dialog_other", k->in_dialog_other);
	err = err || set_u64(calls, "no_dialog", k->no_dialog);
	err = err || set_u64(calls, "redirect_contacts", k->redirect_contacts);
	err = err || set_u64(calls, "redirect_empty", k->redirect_empty);
	/* concurrent calls: answered, not yet ended */
	err = err || json_object_set(calls, "concurrent", conc);
	err = err || json_object_set(o, "calls", calls);
	json_decref(calls);
	json_decref(conc);
	err = err || set_hist(o, "srd_us", &k->srd);
	err = err || set_hist(o, "sdd_us", &k->sdd);
	err = err || set_hist(o, "sdt_us", &k->sdt);
	/* RFC 6076 §4.3 SRD, §4.5 SDD, §4.4 SDT (means, ms) and the
	 * ratios of §4.6-4.9 */
	err = err || json_object_set_new(m, "srd_ms",
					 json_real(hist_mean(&k->srd) / 1e3));
	err = err || json_object_set_new(m, "sdd_ms",
					 json_real(hist_mean(&k->sdd) / 1e3));
	err = err || json_object_set_new(m, "sdt_ms",
					 json_real(hist_mean(&k->sdt) / 1e3));
	err = err || set_pct(m, "ser_pct", loadmetric_ser(c));
	err = err || set_pct(m, "seer_pct", loadmetric_seer(c));
	err = err || set_pct(m, "isa_pct", loadmetric_isa(c));
	err = err || set_pct(m, "scr_pct", loadmetric_scr(c));
	err = err || json_object_set(o, "rfc6076", m);
	return err ? ENOMEM : 0;
}

/* TCP/TLS: the connections' counts and their mean set-up time. */
static int conns_json(json_t *o, const struct loadcount *c)
{
	json_t *k = json_object();
	int err = !k;

	err = err || set_u64(k, "opened", c->conns_opened);
	err = err || set_u64(k, "failed", c->conns_failed);
	err = err || set_u64(k, "reopened", c->conns_reopened);
	err = err || set_u64(k, "closed", c->conns_closed);
	err = err || set_u64(k, "established", c->conns_up);
	err = err || set_u64(k, "tls_full", c->tls_full);
	err = err || set_u64(k, "tls_resumed", c->tls_resumed);
	err = err ||
	      json_object_set_new(
		      k, "setup_mean_us",
		      json_real(c->conns_up ? (double)c->conn_setup_ns / 1e3 /
						      (double)c->conns_up
					    : 0.0));
	err = err || set_u64(k, "pool_open_us", c->pool_open_us);
	err = err || json_object_set(o, "connections", k);
	json_decref(k);
	return err ? ENOMEM : 0;
}

/* Kind t of a mix as counters of its own, for a single test's layout
 * (the calls are the invite kind's).  Caller frees; NULL on ENOMEM. */
static struct loadcount *kind_view(const struct loadcount *c,
				   enum loadcfg_test t)
{
	const struct loadcount_kind *k = &c->kind[t - 1];
	struct loadcount *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->attempts = k->attempts;
	v->successes = k->successes;
	v->failures = k->failures;
	v->timeouts = k->timeouts;
	v->transport_errors = k->transport_errors;
	v->unfinished = k->unfinished;
	v->retransmissions = k->retransmissions;
	v->auth_challenges = k->auth_challenges;
	v->late_sends = k->late_sends;
	v->throttled = k->throttled;
	memcpy(v->codes, k->codes, sizeof(v->codes));
	v->rtt = k->rtt;
	v->rrd = k->rrd;
	if (t == LOADCFG_INVITE)
		v->call = c->call;
	else
		loadcount_call_init(&v->call);
	return v;
}

/* A mix's "mix" object: each kind's figures and weight. */
static json_t *mix_json(const struct loadcount *c,
			const struct loadreport_ctx *x)
{
	json_t *mix = json_object();
	unsigned k;

	for (k = 0; mix && k < LOADCFG_KINDS; k++) {
		enum loadcfg_test t = (enum loadcfg_test)(k + 1);
		struct loadreport_ctx kx = *x;
		struct loadcount *v;

		kx.name = NULL;
		json_t *o;

		if (!x->mix || !x->mix[k])
			continue;
		kx.test = t;
		kx.mix = NULL;
		kx.asked = -1; /* the pace is the mix's, not a kind's */
		v = kind_view(c, t);
		o = v ? loadreport_json(v, &kx) : NULL;
		free(v);
		if (!o ||
		    json_object_set_new(o, "weight",
					json_integer(x->mix[k])) ||
		    json_object_set_new(mix, loadcfg_test_name(t), o)) {
			json_decref(mix);
			return NULL;
		}
	}
	return mix;
}

/* subscribe, publish: the presence counters and the SUB-to-NOTIFY
 * delay. */
static int pres_json(json_t *o, const struct loadcount *c)
{
	const struct loadcount_pres *k = &c->pres;
	json_t *p = json_object();
	int err = !p;

	err = err || set_u64(p, "sub_2xx", k->sub_2xx);
	err = err || set_u64(p, "first_notifies", k->first_notifies);
	err = err || set_u64(p, "no_notify", k->no_notify);
	err = err || set_u64(p, "notifies", k->notifies);
	err = err || set_u64(p, "terminated", k->terminated);
	err = err || set_u64(p, "no_dialog", k->no_dialog);
	err = err || set_u64(p, "refreshes", k->refreshes);
	err = err || set_u64(p, "refresh_failures", k->refresh_failures);
	err = err || set_u64(p, "unsubscribes", k->unsubscribes);
	err = err || set_u64(p, "unsubscribed", k->unsubscribed);
	err = err || set_u64(p, "unsub_failures", k->unsub_failures);
	err = err || set_u64(p, "pub_initial", k->pub_initial);
	err = err || set_u64(p, "pub_modify", k->pub_modify);
	err = err || set_u64(p, "pub_412", k->pub_412);
	err = err || set_u64(p, "pub_no_etag", k->pub_no_etag);
	err = err || json_object_set(o, "presence", p);
	json_decref(p);
	err = err || set_hist(o, "snd_us", &k->snd);
	return err ? ENOMEM : 0;
}

json_t *loadreport_json(const struct loadcount *c,
			const struct loadreport_ctx *x)
{
	json_t *o = json_object(), *codes = json_object(), *m = json_object();
	json_t *h1 = hist_to_json(&c->rtt), *h2 = hist_to_json(&c->rrd);
	char k[8], why[64];
	bool bound;
	size_t i;
	int err = 0;

	if (!o || !codes || !m || !h1 || !h2)
		goto fail;
	for (i = 0; i < LOADCOUNT_CODES && !err; i++) {
		if (!c->codes[i])
			continue;
		snprintf(k, sizeof(k), "%zu", i);
		err = set_u64(codes, k, c->codes[i]);
	}
	err = err || json_object_set_new(o, "test", json_string(test_name(x)));
	err = err || set_u64(o, "attempts", c->attempts);
	err = err || set_u64(o, "successes", c->successes);
	err = err || set_u64(o, "failures", c->failures);
	err = err || set_u64(o, "timeouts", c->timeouts);
	err = err || set_u64(o, "transport_errors", c->transport_errors);
	err = err || set_u64(o, "unfinished", c->unfinished);
	err = err || set_u64(o, "retransmissions", c->retransmissions);
	err = err || set_u64(o, "auth_challenges", c->auth_challenges);
	err = err || set_u64(o, "late_sends", c->late_sends);
	err = err || set_u64(o, "throttled", c->throttled);
	err = err || set_u64(o, "stray", c->stray);
	err = err || set_u64(o, "bad_msgs", c->bad_msgs);
	if (x->cumulative) {
		uint64_t done = c->successes + c->failures;

		err = err ||
		      set_u64(o, "in_flight",
			      c->attempts > done ? c->attempts - done : 0);
	}
	err = err || json_object_set_new(o, "secs", json_real(x->secs));
	err = err ||
	      json_object_set_new(
		      o, "rate",
		      json_real(x->secs > 0 ? (double)c->attempts / x->secs
					    : 0.0));
	if (x->cpu >= 0)
		err = err || json_object_set_new(o, "cpu", json_real(x->cpu));
	bound = loadreport_generator_bound(c, x, why, sizeof(why));
	err = err ||
	      json_object_set_new(o, "generator_bound", json_boolean(bound));
	if (bound)
		err = err || json_object_set_new(o, "generator_bound_why",
						 json_string(why));
	err = err || json_object_set(o, "codes", codes);
	err = err || conns_json(o, c);
	err = err || json_object_set(o, "rtt_us", h1);
	if (x->test == LOADCFG_INVITE)
		err = err || call_json(o, m, c, x->secs);
	else if (x->test == LOADCFG_MIX)
		err = err || json_object_set_new(o, "mix", mix_json(c, x));
	else if (x->test == LOADCFG_SUBSCRIBE || x->test == LOADCFG_PUBLISH)
		err = err || pres_json(o, c);
	else if (x->test != LOADCFG_OPTIONS) {
		err = err || json_object_set(o, "rrd_us", h2);
		/* RFC 6076 §4.1 RRD and §4.2 IRA */
		err = err || json_object_set_new(
				     m, "rrd_ms",
				     json_real(hist_mean(&c->rrd) / 1000.0));
		err = err || json_object_set_new(m, "ira_pct",
						 json_real(loadmetric_ira(c)));
		err = err || json_object_set(o, "rfc6076", m);
	}
	if (err)
		goto fail;
	json_decref(codes);
	json_decref(m);
	json_decref(h1);
	json_decref(h2);
	return o;
fail:
	json_decref(o);
	json_decref(codes);
	json_decref(m);
	json_decref(h1);
	json_decref(h2);
	return NULL;
}

void loadreport_csv_header(FILE *f, enum loadcfg_test test)
{
	unsigned k;

	fprintf(f, "t_s,attempts,successes,failures,timeouts,"
		   "retransmissions,in_flight,rate,rtt_p50_us,rtt_p99_us,"
		   "rtt_max_us,late_sends,cpu,generator_bound,answered,"
		   "completed,srd_p50_us,sdd_p50_us,conns_opened,conns_failed,"
		   "conns_reopened,tls_full,tls_resumed,step");
	for (k = 0; test == LOADCFG_MIX && k < LOADCFG_KINDS; k++) {
		const char *n = loadcfg_test_name((enum loadcfg_test)(k + 1));

		fprintf(f,
			",%s_attempts,%s_successes,%s_failures,%s_timeouts,"
			"%s_retransmissions,%s_rtt_p50_us,%s_rtt_p99_us",
			n, n, n, n, n, n, n);
	}
	fputc('\n', f);
}

void loadreport_csv_row(FILE *f, double t_s, const struct loadcount *c,
			const struct loadreport_ctx *x)
{
	fprintf(f,
		"%.3f,%llu,%llu,%llu,%llu,%llu,%lld,%.1f,%llu,%llu,%llu,"
		"%llu,%.3f,%d,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,",
		t_s, (unsigned long long)c->attempts,
		(unsigned long long)c->successes,
		(unsigned long long)c->failures,
		(unsigned long long)c->timeouts,
		(unsigned long long)c->retransmissions,
		(long long)c->attempts - (long long)c->successes -
			(long long)c->failures,
		x->secs > 0 ? (double)c->attempts / x->secs : 0.0,
		(unsigned long long)hist_quantile(&c->rtt, 0.5),
		(unsigned long long)hist_quantile(&c->rtt, 0.99),
		(unsigned long long)c->rtt.max,
		(unsigned long long)c->late_sends, x->cpu,
		loadreport_generator_bound(c, x, NULL, 0) ? 1 : 0,
		(unsigned long long)c->call.answered,
		(unsigned long long)c->call.completed,
		(unsigned long long)hist_quantile(&c->call.srd, 0.5),
		(unsigned long long)hist_quantile(&c->call.sdd, 0.5),
		(unsigned long long)c->conns_opened,
		(unsigned long long)c->conns_failed,
		(unsigned long long)c->conns_reopened,
		(unsigned long long)c->tls_full,
		(unsigned long long)c->tls_resumed);
	if (x->step >= 0)
		fprintf(f, "%d", x->step);
	for (unsigned k = 0; x->test == LOADCFG_MIX && k < LOADCFG_KINDS;
	     k++) {
		const struct loadcount_kind *kc = &c->kind[k];

		fprintf(f, ",%llu,%llu,%llu,%llu,%llu,%llu,%llu",
			(unsigned long long)kc->attempts,
			(unsigned long long)kc->successes,
			(unsigned long long)kc->failures,
			(unsigned long long)kc->timeouts,
			(unsigned long long)kc->retransmissions,
			(unsigned long long)hist_quantile(&kc->rtt, 0.5),
			(unsigned long long)hist_quantile(&kc->rtt, 0.99));
	}
	fputc('\n', f);
}

static void table_row(FILE *f, const char *name, unsigned long long v)
{
	fprintf(f, "  %-22s %14llu\n", name, v);
}

static void table_latency(FILE *f, const char *name, const struct hist *h)
{
	fprintf(f,
		"  %-8s count %llu  p50 %.3f  p90 %.3f  p95 %.3f  p99 %.3f  "
		"max %.3f ms\n",
		name, (unsigned long long)h->count,
		hist_quantile(h, 0.5) / 1e3, hist_quantile(h, 0.9) / 1e3,
		hist_quantile(h, 0.95) / 1e3, hist_quantile(h, 0.99) / 1e3,
		h->count ? h->max / 1e3 : 0.0);
}

void loadreport_table(FILE *f, const struct loadcount *c,
		      const struct loadreport_ctx *x)
{
	char why[64];
	size_t i;

	fprintf(f, "loader %s: %.1f s, %.1f attempts/s, %u thread(s)\n",
		test_name(x), x->secs,
		x->secs > 0 ? (double)c->attempts / x->secs : 0.0, x->threads);
	table_row(f, "attempts", c->attempts);
	table_row(f, "successes", c->successes);
	table_row(f, "failures", c->failures);
	table_row(f, "  timeouts", c->timeouts);
	table_row(f, "  transport errors", c->transport_errors);
	table_row(f, "  unfinished", c->unfinished);
	for (i = 300; i < LOADCOUNT_CODES; i++) {
		char name[32];

		if (!c->codes[i])
			continue;
		snprintf(name, sizeof(name), "  status %zu", i);
		table_row(f, name, c->codes[i]);
	}
	table_row(f, "retransmissions", c->retransmissions);
	table_row(f, "auth challenges", c->auth_challenges);
	table_row(f, "late sends", c->late_sends);
	table_row(f, "throttled", c->throttled);
	table_row(f, "stray responses", c->stray);
	if (c->conns_opened) {
		table_row(f, "connections opened", c->conns_opened);
		table_row(f, "  failed", c->conns_failed);
		table_row(f, "  reopened", c->conns_reopened);
		table_row(f, "  closed", c->conns_closed);
		table_row(f, "  TLS full handshakes", c->tls_full);
		table_row(f, "  TLS resumed", c->tls_resumed);
		fprintf(f,
			"  connection set-up mean %.3f ms, pool open %.3f "
			"ms\n",
			c->conns_up ? (double)c->conn_setup_ns / 1e6 /
					      (double)c->conns_up
				    : 0.0,
			(double)c->pool_open_us / 1e3);
	}
	table_latency(f, "rtt", &c->rtt);
	if (x->test == LOADCFG_INVITE) {
		const struct loadcount_call *k = &c->call;

		table_row(f, "calls answered", k->answered);
		table_row(f, "calls ringing", k->ringing);
		table_row(f, "calls completed", k->completed);
		table_row(f, "  by the far end", k->far_byes);
		fprintf(f, "  concurrent calls: mean %.1f, max %llu\n",
			active_mean(k, x->secs),
			(unsigned long long)k->active_max);
		table_row(f, "INVITE timeouts", k->invite_timeouts);
		table_row(f, "BYE failures", k->bye_failures);
		table_row(f, "ACKs (resent)", k->acks_resent);
		table_row(f, "re-INVITEs answered", k->reinvites);
		table_row(f, "no dialog (481)", k->no_dialog);
		table_latency(f, "SRD", &k->srd);
		table_latency(f, "SDD", &k->sdd);
		table_latency(f, "SDT", &k->sdt);
		fprintf(f,
			"  RFC 6076: SER %.2f%%  SEER %.2f%%  ISA %.2f%%  "
			"SCR %.2f%%  (-1: none)\n",
			loadmetric_ser(c), loadmetric_seer(c),
			loadmetric_isa(c), loadmetric_scr(c));
	} else if (x->test == LOADCFG_SUBSCRIBE ||
		   x->test == LOADCFG_PUBLISH) {
		const struct loadcount_pres *k = &c->pres;

		table_row(f, "SUBSCRIBE 2xx", k->sub_2xx);
		table_row(f, "first NOTIFYs", k->first_notifies);
		table_row(f, "  none in Timer F", k->no_notify);
		table_row(f, "NOTIFYs answered", k->notifies);
		table_row(f, "  terminated", k->terminated);
		table_row(f, "no dialog (481)", k->no_dialog);
		table_row(f, "refreshes", k->refreshes);
		table_row(f, "  failed", k->refresh_failures);
		table_row(f, "unsubscribes", k->unsubscribes);
		table_row(f, "  terminated NOTIFY", k->unsubscribed);
		table_row(f, "  failed", k->unsub_failures);
		table_row(f, "PUBLISH initial", k->pub_initial);
		table_row(f, "PUBLISH modify", k->pub_modify);
		table_row(f, "PUBLISH 412 (again)", k->pub_412);
		table_latency(f, "SUB-NOT", &k->snd);
	} else if (x->test == LOADCFG_REGISTER ||
		   x->test == LOADCFG_REREGISTER) {
		table_latency(f, "RRD", &c->rrd);
		fprintf(f, "  RFC 6076: RRD %.3f ms, IRA %.3f%%\n",
			hist_mean(&c->rrd) / 1e3, loadmetric_ira(c));
	}
	if (x->cpu >= 0)
		fprintf(f, "  loader CPU %.1f%% of one core\n", x->cpu * 100);
	if (loadreport_generator_bound(c, x, why, sizeof(why)))
		fprintf(f, "  GENERATOR BOUND: %s\n", why);
	for (i = 0; x->test == LOADCFG_MIX && x->mix && i < LOADCFG_KINDS;
	     i++) {
		enum loadcfg_test t = (enum loadcfg_test)(i + 1);
		struct loadreport_ctx kx = *x;
		struct loadcount *v;

		kx.name = NULL;

		if (!x->mix[i])
			continue;
		v = kind_view(c, t);
		if (!v)
			continue;
		kx.test = t;
		kx.mix = NULL;
		kx.cpu = -1;   /* the loader's, shown once above */
		kx.asked = -1; /* the pace is the mix's, not a kind's */
		fprintf(f, "\n[%s, weight %u] ", loadcfg_test_name(t),
			x->mix[i]);
		loadreport_table(f, v, &kx);
		free(v);
	}
}
