/*
 * loadout.c - the loader's figures as JSON, CSV and a table.
 */
#include "loadout.h"

#include <errno.h>
#include <stdint.h>

bool loadout_generator_bound(const struct loadgen_counts *c,
			     const struct loadout_ctx *x)
{
	if (c->late_sends)
		return true;
	return x->cpu >= 0 && x->threads && x->cpu > 0.9 * x->threads;
}

double loadout_ira(const struct loadgen_counts *c)
{
	uint64_t done = c->successes + c->failures;

	return done ? 100.0 * (double)c->failures / (double)done : 0.0;
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

/* invite: the call counters, histograms and RFC 6076 session metrics. */
static int call_json(json_t *o, json_t *m, const struct loadgen_counts *c)
{
	const struct loadcall_counts *k = &c->call;
	json_t *calls = json_object();
	int err = !calls;

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
	err = err || json_object_set(o, "calls", calls);
	json_decref(calls);
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
	err = err || set_pct(m, "ser_pct", loadcall_ser(c));
	err = err || set_pct(m, "seer_pct", loadcall_seer(c));
	err = err || set_pct(m, "isa_pct", loadcall_isa(c));
	err = err || set_pct(m, "scr_pct", loadcall_scr(c));
	err = err || json_object_set(o, "rfc6076", m);
	return err ? ENOMEM : 0;
}

/* subscribe, publish: the presence counters and the SUB-to-NOTIFY
 * delay. */
static int pres_json(json_t *o, const struct loadgen_counts *c)
{
	const struct loadpres_counts *k = &c->pres;
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

json_t *loadout_json(const struct loadgen_counts *c,
		     const struct loadout_ctx *x)
{
	json_t *o = json_object(), *codes = json_object(), *m = json_object();
	json_t *h1 = hist_to_json(&c->rtt), *h2 = hist_to_json(&c->rrd);
	char k[8];
	size_t i;
	int err = 0;

	if (!o || !codes || !m || !h1 || !h2)
		goto fail;
	for (i = 0; i < LOADGEN_CODES && !err; i++) {
		if (!c->codes[i])
			continue;
		snprintf(k, sizeof(k), "%zu", i);
		err = set_u64(codes, k, c->codes[i]);
	}
	err = err ||
	      json_object_set_new(o, "test",
				  json_string(loadgen_test_name(x->test)));
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
	err = err ||
	      json_object_set_new(o, "generator_bound",
				  json_boolean(loadout_generator_bound(c, x)));
	err = err || json_object_set(o, "codes", codes);
	err = err || json_object_set(o, "rtt_us", h1);
	if (x->test == LOADGEN_INVITE)
		err = err || call_json(o, m, c);
	else if (x->test == LOADGEN_SUBSCRIBE || x->test == LOADGEN_PUBLISH)
		err = err || pres_json(o, c);
	else if (x->test != LOADGEN_OPTIONS) {
		err = err || json_object_set(o, "rrd_us", h2);
		/* RFC 6076 §4.1 RRD and §4.2 IRA */
		err = err || json_object_set_new(
				     m, "rrd_ms",
				     json_real(hist_mean(&c->rrd) / 1000.0));
		err = err || json_object_set_new(m, "ira_pct",
						 json_real(loadout_ira(c)));
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

void loadout_csv_header(FILE *f)
{
	fprintf(f, "t_s,attempts,successes,failures,timeouts,"
		   "retransmissions,in_flight,rate,rtt_p50_us,rtt_p99_us,"
		   "rtt_max_us,late_sends,cpu,generator_bound,answered,"
		   "completed,srd_p50_us,sdd_p50_us\n");
}

void loadout_csv_row(FILE *f, double t_s, const struct loadgen_counts *c,
		     const struct loadout_ctx *x)
{
	fprintf(f,
		"%.3f,%llu,%llu,%llu,%llu,%llu,%lld,%.1f,%llu,%llu,%llu,"
		"%llu,%.3f,%d,%llu,%llu,%llu,%llu\n",
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
		loadout_generator_bound(c, x) ? 1 : 0,
		(unsigned long long)c->call.answered,
		(unsigned long long)c->call.completed,
		(unsigned long long)hist_quantile(&c->call.srd, 0.5),
		(unsigned long long)hist_quantile(&c->call.sdd, 0.5));
}

static void row(FILE *f, const char *name, unsigned long long v)
{
	fprintf(f, "  %-22s %14llu\n", name, v);
}

static void lat(FILE *f, const char *name, const struct hist *h)
{
	fprintf(f,
		"  %-8s count %llu  p50 %.3f  p90 %.3f  p95 %.3f  p99 %.3f  "
		"max %.3f ms\n",
		name, (unsigned long long)h->count,
		hist_quantile(h, 0.5) / 1e3, hist_quantile(h, 0.9) / 1e3,
		hist_quantile(h, 0.95) / 1e3, hist_quantile(h, 0.99) / 1e3,
		h->count ? h->max / 1e3 : 0.0);
}

void loadout_table(FILE *f, const struct loadgen_counts *c,
		   const struct loadout_ctx *x)
{
	size_t i;

	fprintf(f, "loader %s: %.1f s, %.1f attempts/s, %u thread(s)\n",
		loadgen_test_name(x->test), x->secs,
		x->secs > 0 ? (double)c->attempts / x->secs : 0.0, x->threads);
	row(f, "attempts", c->attempts);
	row(f, "successes", c->successes);
	row(f, "failures", c->failures);
	row(f, "  timeouts", c->timeouts);
	row(f, "  transport errors", c->transport_errors);
	row(f, "  unfinished", c->unfinished);
	for (i = 300; i < LOADGEN_CODES; i++) {
		char name[32];

		if (!c->codes[i])
			continue;
		snprintf(name, sizeof(name), "  status %zu", i);
		row(f, name, c->codes[i]);
	}
	row(f, "retransmissions", c->retransmissions);
	row(f, "auth challenges", c->auth_challenges);
	row(f, "late sends", c->late_sends);
	row(f, "throttled", c->throttled);
	row(f, "stray responses", c->stray);
	lat(f, "rtt", &c->rtt);
	if (x->test == LOADGEN_INVITE) {
		const struct loadcall_counts *k = &c->call;

		row(f, "calls answered", k->answered);
		row(f, "calls ringing", k->ringing);
		row(f, "calls completed", k->completed);
		row(f, "  by the far end", k->far_byes);
		row(f, "INVITE timeouts", k->invite_timeouts);
		row(f, "BYE failures", k->bye_failures);
		row(f, "ACKs (resent)", k->acks_resent);
		row(f, "re-INVITEs answered", k->reinvites);
		row(f, "no dialog (481)", k->no_dialog);
		lat(f, "SRD", &k->srd);
		lat(f, "SDD", &k->sdd);
		lat(f, "SDT", &k->sdt);
		fprintf(f,
			"  RFC 6076: SER %.2f%%  SEER %.2f%%  ISA %.2f%%  "
			"SCR %.2f%%  (-1: none)\n",
			loadcall_ser(c), loadcall_seer(c), loadcall_isa(c),
			loadcall_scr(c));
	} else if (x->test == LOADGEN_SUBSCRIBE ||
		   x->test == LOADGEN_PUBLISH) {
		const struct loadpres_counts *k = &c->pres;

		row(f, "SUBSCRIBE 2xx", k->sub_2xx);
		row(f, "first NOTIFYs", k->first_notifies);
		row(f, "  none in Timer F", k->no_notify);
		row(f, "NOTIFYs answered", k->notifies);
		row(f, "  terminated", k->terminated);
		row(f, "no dialog (481)", k->no_dialog);
		row(f, "refreshes", k->refreshes);
		row(f, "  failed", k->refresh_failures);
		row(f, "unsubscribes", k->unsubscribes);
		row(f, "  terminated NOTIFY", k->unsubscribed);
		row(f, "  failed", k->unsub_failures);
		row(f, "PUBLISH initial", k->pub_initial);
		row(f, "PUBLISH modify", k->pub_modify);
		row(f, "PUBLISH 412 (again)", k->pub_412);
		lat(f, "SUB-NOT", &k->snd);
	} else if (x->test != LOADGEN_OPTIONS) {
		lat(f, "RRD", &c->rrd);
		fprintf(f, "  RFC 6076: RRD %.3f ms, IRA %.3f%%\n",
			hist_mean(&c->rrd) / 1e3, loadout_ira(c));
	}
	if (x->cpu >= 0)
		fprintf(f, "  loader CPU %.1f%% of one core%s\n", x->cpu * 100,
			loadout_generator_bound(c, x) ? "  GENERATOR BOUND"
						      : "");
}
