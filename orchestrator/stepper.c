#include "stepper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "crosscheck.h"
#include "metrics.h"
#include "metrics_feed.h"
#include "roles.h"
#include "rundb.h"
#include "topo_sipstone.h"

/* Tells every loader its share of the total rate. */
int stepper_set_rate(struct run *r, double total, bool first)
{
	size_t nloaders = 0;

	for (size_t i = 0; i < r->t->nnodes; i++)
		nloaders += r->t->nodes[i].role == TOPO_LOADER;
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *args, *reply;
		bool ok;

		if (r->t->nodes[i].role != TOPO_LOADER)
			continue;
		args = json_pack("{s:f}", "rate", total / (double)nloaders);
		reply = roles_command(r, ro, first ? "start" : "set-rate",
				      args, 5000);
		json_decref(args);
		ok = reply && json_is_true(json_object_get(reply, "ok"));
		json_decref(reply);
		if (!ok)
			return runctx_fail(r, EPROTO, "%s refused its rate",
					   r->t->nodes[i].name);
	}
	return 0;
}

/* The invite test's figures of a step, summed over the loaders. */
struct call_acc {
	uint64_t ended, done, answered, completed, timeouts;
	uint64_t redirected; /* 3xx */
	uint64_t seer_ok;    /* 480, 486, 600, 603 (RFC 6076 §4.7) */
	uint64_t isa_bad;    /* 408, 500, 503, 504 (§4.8) */
	struct hist srd, sdd;
};

static void call_acc_add(struct call_acc *ca, json_t *reply)
{
	json_t *calls = json_object_get(reply, "calls");
	json_t *codes = json_object_get(reply, "codes");
	const char *k;
	json_t *v;
	struct hist h;

	if (!calls)
		return;
	ca->ended += (uint64_t)runctx_json_number(reply, "successes") +
		     (uint64_t)runctx_json_number(reply, "failures");
	ca->done += (uint64_t)runctx_json_number(calls, "invite_done");
	ca->answered += (uint64_t)runctx_json_number(calls, "answered");
	ca->completed += (uint64_t)runctx_json_number(calls, "completed");
	ca->timeouts += (uint64_t)runctx_json_number(calls, "invite_timeouts");
	json_object_foreach(codes, k, v)
	{
		long c = strtol(k, NULL, 10);
		uint64_t n = (uint64_t)json_integer_value(v);

		if (c >= 300 && c < 400)
			ca->redirected += n;
		if (c == 480 || c == 486 || c == 600 || c == 603)
			ca->seer_ok += n;
		if (c == 408 || c == 500 || c == 503 || c == 504)
			ca->isa_bad += n;
	}
	if (hist_from_json(&h, json_object_get(reply, "srd_us")) == 0)
		hist_merge(&ca->srd, &h);
	if (hist_from_json(&h, json_object_get(reply, "sdd_us")) == 0)
		hist_merge(&ca->sdd, &h);
}

static double pct_or_none(uint64_t num, uint64_t den)
{
	return den ? 100.0 * (double)num / (double)den : -1;
}

/* RFC 6076 SRD, SDD (means) and SER, SEER, ISA, SCR of a step. */
static void call_acc_step(const struct call_acc *ca, struct res_step *st)
{
	uint64_t den = ca->done - ca->redirected;

	st->rrd_ms = st->ira_pct = -1;
	st->srd_ms = ca->srd.count ? hist_mean(&ca->srd) / 1000 : -1;
	st->sdd_ms = ca->sdd.count ? hist_mean(&ca->sdd) / 1000 : -1;
	st->ser_pct = pct_or_none(ca->answered, den);
	st->seer_pct = pct_or_none(ca->answered + ca->seer_ok, den);
	st->isa_pct = pct_or_none(ca->isa_bad + ca->timeouts, ca->done);
	/* over the calls that ended in the step (hold time shifts them
	 * from the attempts) */
	st->scr_pct = pct_or_none(ca->completed, ca->ended);
}

/* Ends the loaders' current interval: their figures, merged (the call
 * figures into ca, when not NULL). */
static int loaders_step(struct run *r, struct res_step *st, struct hist *rtt,
			struct hist *rrd, double *secs, bool *bound,
			struct call_acc *ca, struct res_step *prev)
{
	*secs = 0;
	*bound = false;
	hist_init(rtt);
	hist_init(rrd);
	if (ca) {
		memset(ca, 0, sizeof(*ca));
		hist_init(&ca->srd);
		hist_init(&ca->sdd);
	}
	for (size_t i = 0; i < r->t->nnodes; i++) {
		struct role *ro = &r->roles[i];
		json_t *reply;
		struct hist h;

		if (r->t->nodes[i].role != TOPO_LOADER)
			continue;
		reply = roles_command(r, ro, "step", NULL, 5000);
		if (!reply || !json_is_true(json_object_get(reply, "ok"))) {
			json_decref(reply);
			return runctx_fail(r, EPROTO,
					   "%s did not end its step",
					   r->t->nodes[i].name);
		}
		if (st) {
			/* Each attempt in the step it was sent in: the
			 * loader's cohort when it gives one, else what
			 * ended in the window. */
			json_t *co = json_object_get(reply, "cohort");

			if (!co)
				co = reply;
			st->attempts += (uint64_t)runctx_json_number(co, "atte"
									 "mpt"
									 "s");
			st->successes += (uint64_t)runctx_json_number(co, "suc"
									  "ces"
									  "se"
									  "s");
			st->failures += (uint64_t)runctx_json_number(co, "fail"
									 "ure"
									 "s");
			st->in_flight += (uint64_t)runctx_json_number(co, "in_"
									  "fli"
									  "gh"
									  "t");
			st->timeouts += (uint64_t)runctx_json_number(reply,
								     "timeout"
								     "s");
			st->retransmissions +=
				(uint64_t)runctx_json_number(reply, "retran"
								    "smissi"
								    "ons");
		}
		if (runctx_json_number(reply, "secs") > *secs)
			*secs = runctx_json_number(reply, "secs");
		*bound |= json_is_true(json_object_get(reply, "generator_"
							      "bound"));
		if (hist_from_json(&h, json_object_get(reply, "rtt_us")) == 0)
			hist_merge(rtt, &h);
		if (hist_from_json(&h, json_object_get(reply, "rrd_us")) == 0)
			hist_merge(rrd, &h);
		if (ca)
			call_acc_add(ca, reply);
		if (prev) {
			/* The step before's cohort as it stands now. */
			json_t *pc = json_object_get(reply, "cohort_prev");

			prev->attempts += (uint64_t)runctx_json_number(pc,
								       "atte"
								       "mpt"
								       "s");
			prev->successes +=
				(uint64_t)runctx_json_number(pc, "successes");
			prev->failures +=
				(uint64_t)runctx_json_number(pc, "failures");
			prev->in_flight +=
				(uint64_t)runctx_json_number(pc, "in_flight");
			prev->index += pc != NULL;
		}
		json_decref(reply);
	}
	return 0;
}

/* Appends the item of size bytes to the array *items of *count; 0 or
 * ENOMEM (the array unchanged). */
static int append(void **items, size_t *count, size_t size, const void *item)
{
	char *more = realloc(*items, (*count + 1) * size);

	if (!more)
		return ENOMEM;
	memcpy(more + *count * size, item, size);
	*items = more;
	(*count)++;
	return 0;
}

static int append_sample(struct run *r, const struct res_sample *s)
{
	void *samples = r->res.samples;
	int err = append(&samples, &r->res.nsamples, sizeof(*s), s);

	r->res.samples = samples;
	return err;
}

/* The database's counters into smp (-1 without a reading). */
static void db_sample(struct run *r, struct stepper *sp,
		      struct res_sample *smp)
{
	uint64_t q = 0, threads = 0, now;

	smp->db_qps = smp->db_threads = -1;
	if (!r->db || rundb_status(r->db, &q, &threads)) {
		sp->have_db = false;
		return;
	}
	now = runctx_now_ms();
	/* Our own SHOW GLOBAL STATUS is one of the Questions. */
	if (sp->have_db && now > sp->db_t_ms && q > sp->db_questions)
		smp->db_qps = (double)(q - sp->db_questions - 1) * 1000 /
			      (double)(now - sp->db_t_ms);
	smp->db_threads = (double)threads;
	sp->db_questions = q;
	sp->db_t_ms = now;
	sp->have_db = true;
}

void stepper_init(struct run *r, struct stepper *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->t_begin = runctx_now_ms();
	sp->np = sampler_proxy_list(r, sp->pidx, RES_MAX_PROXIES);
	r->res.nproxies = sp->np;
	for (size_t k = 0; k < sp->np; k++) {
		snprintf(r->res.proxy_names[k], RES_NAME_MAX, "%s",
			 r->t->nodes[sp->pidx[k]].name);
		sampler_proxy_read(r, &r->roles[sp->pidx[k]], &sp->prev[k]);
	}
	sampler_loaders_read(r, &sp->lprev);
	crosscheck_begin(r);
}

/*
 * On a terminal, each second redraws one line: the step, the offered
 * and achieved rate, success, p95 and each proxy's CPU of that second.
 * Elsewhere (a pipe, a file) only the step's own line at its end.
 */
static void live_line(struct run *r, const struct stepper *sp,
		      const struct res_sample *smp, unsigned sec,
		      unsigned secs)
{
	const struct topo_experiment *e = &r->t->exp;
	char line[512];
	size_t used = 0;

	if (r->o->quiet || !isatty(STDOUT_FILENO))
		return;
	if (strcmp(e->search, "ramp") || !e->rate_step)
		used = (size_t)snprintf(line, sizeof(line), "[trial %u]",
					smp->step + 1);
	else
		used = (size_t)snprintf(
			line, sizeof(line), "[step %u/%u]", smp->step + 1,
			(e->rate_final - e->rate_start) / e->rate_step + 1);
	used += (size_t)snprintf(line + used, sizeof(line) - used,
				 " %u/%u s offered %.0f/s achieved %.0f/s "
				 "success %.2f%% p95 %.2f ms |",
				 sec, secs, smp->offered, smp->achieved,
				 smp->success_pct, smp->p95_ms);
	for (size_t k = 0; k < sp->np && used < sizeof(line); k++)
		used += (size_t)snprintf(line + used, sizeof(line) - used,
					 " %s %.0f%%", r->res.proxy_names[k],
					 smp->proxy[k].cpu * 100);
	/* A wrapped line would not be replaced: cut it to the width. */
	{
		struct winsize ws;

		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
		    ws.ws_col > 1 && strlen(line) >= ws.ws_col)
			line[ws.ws_col - 1] = '\0';
	}
	runctx_live_show(line);
}

/* Each proxy's CPU over a step's seconds: the steady middle (neither
 * the first nor the last second) and every second. */
struct step_cpu {
	double middle[RES_MAX_PROXIES], all[RES_MAX_PROXIES];
	unsigned nmiddle[RES_MAX_PROXIES];
};

/*
 * Sets the loaders' rate and runs the warm-up, whose figures are thrown
 * away; then takes the marks the step's figures start from (step0,
 * sp->prev, sp->lprev, n0 for a presence test).
 */
static int step_begin(struct run *r, struct stepper *sp, double rate,
		      struct proxy_mark *step0, struct notify_mark *n0)
{
	const struct topo_experiment *e = &r->t->exp;
	struct res_sample first;
	struct hist rtt, rrd;
	double secs;
	bool bound;
	int err;

	err = stepper_set_rate(r, rate, !sp->started);
	if (err)
		return err;
	sp->started = true;
	err = runctx_sleep_until(r, runctx_now_ms() +
					    (uint64_t)e->warmup_s * 1000);
	/* The machines' first mark before the loaders' step begins: its
	 * "stats" round trips must not lengthen the step. */
	if (!err)
		interfere_mark(r, &sp->mach0);
	if (!err)
		err = loaders_step(r, NULL, &rtt, &rrd, &secs, &bound, NULL,
				   NULL);
	if (err)
		return err;
	for (size_t k = 0; k < sp->np; k++) {
		sampler_proxy_read(r, &r->roles[sp->pidx[k]], &step0[k]);
		sp->prev[k] = step0[k];
	}
	sampler_loaders_read(r, &sp->lprev);
	if (topo_is_presence(e))
		sampler_notify_read(r, n0);
	db_sample(r, sp, &first); /* the mark the first second needs */
	return 0;
}

/* Second sec of step_s: each proxy's CPU and RSS since the last second
 * (into cpu and st's peak RSS), the loaders' rate, success and p95, the
 * database's load; kept as a sample of the run and shown live. */
static int step_second(struct run *r, struct stepper *sp,
		       struct res_sample *smp, unsigned sec, unsigned step_s,
		       struct step_cpu *cpu, struct res_step *st)
{
	struct proxy_mark *prev = sp->prev;
	struct loader_mark lcur;
	uint64_t ok, bad;
	struct hist d;

	smp->t_s = (double)(runctx_now_ms() - sp->t_begin) / 1000;
	for (size_t k = 0; k < sp->np; k++) {
		struct proxy_mark cur;
		double dt;

		if (!sampler_proxy_read(r, &r->roles[sp->pidx[k]], &cur))
			continue;
		dt = (double)(cur.t_ms - prev[k].t_ms);
		if (dt > 0)
			smp->proxy[k].cpu =
				(double)(cur.cpu_us - prev[k].cpu_us) /
				(dt * 1000);
		smp->proxy[k].rss_mb = cur.rss_mb;
		smp->proxy[k].share = -1;
		sampler_thread_cpu(&prev[k], &cur, &smp->proxy[k]);
		/* The steady middle: not the first nor the last second of
		 * the step. */
		if (sec > 1 && sec < step_s) {
			cpu->middle[k] += smp->proxy[k].cpu;
			cpu->nmiddle[k]++;
		}
		cpu->all[k] += smp->proxy[k].cpu;
		if (cur.rss_mb > st->proxy[k].rss_mb)
			st->proxy[k].rss_mb = cur.rss_mb;
		prev[k] = cur;
	}
	db_sample(r, sp, smp);
	sampler_loaders_read(r, &lcur);
	ok = lcur.successes - sp->lprev.successes;
	bad = lcur.failures - sp->lprev.failures;
	smp->achieved = (double)ok;
	smp->success_pct = ok + bad ? 100.0 * (double)ok / (double)(ok + bad)
				    : 0;
	if (lcur.have_rtt && sp->lprev.have_rtt &&
	    hist_diff(&d, &lcur.rtt, &sp->lprev.rtt) == 0)
		smp->p95_ms = (double)hist_quantile(&d, 0.95) / 1000;
	metrics_feed_second(r, sp->pidx, sp->prev, sp->np, smp, ok, bad,
			    lcur.have_rtt ? &lcur.rtt : NULL);
	sp->lprev = lcur;
	return append_sample(r, smp);
}

/* The step's transaction figures from the loaders' merged round trips
 * (rtt) and registration delays (rrd), and the calls' when given. */
static void step_figures(struct res_step *st, double secs,
			 const struct hist *rtt, const struct hist *rrd,
			 const struct call_acc *calls)
{
	uint64_t ended = st->successes + st->failures;

	st->achieved = secs > 0 ? (double)st->successes / secs : 0;
	st->success_pct = ended ? 100.0 * (double)st->successes / (double)ended
				: 0;
	st->ta_avg_ms = hist_mean(rtt) / 1000;
	st->p50_ms = (double)hist_quantile(rtt, 0.50) / 1000;
	st->p90_ms = (double)hist_quantile(rtt, 0.90) / 1000;
	st->p95_ms = (double)hist_quantile(rtt, 0.95) / 1000;
	st->p99_ms = (double)hist_quantile(rtt, 0.99) / 1000;
	st->max_ms = (double)hist_quantile(rtt, 1.0) / 1000;
	st->rrd_ms = rrd->count ? hist_mean(rrd) / 1000 : -1;
	st->ira_pct = ended ? 100.0 * (double)st->failures / (double)ended
			    : -1;
	st->srd_ms = st->sdd_ms = st->ser_pct = st->seer_pct = -1;
	st->isa_pct = st->scr_pct = -1;
	if (calls)
		call_acc_step(calls, st);
	st->notify_per_s = st->notify_per_req = st->server_notify_per_s = -1;
	st->notify_p50_ms = st->notify_p95_ms = st->notify_p99_ms = -1;
}

/* Each proxy's CPU of the step, the stateful proxies' shares of the
 * requests and, presence, the NOTIFYs they sent per second. */
static void step_proxies(struct run *r, const struct stepper *sp,
			 const struct proxy_mark *step0,
			 const struct step_cpu *cpu, unsigned step_s,
			 double secs, struct res_step *st)
{
	const struct proxy_mark *prev = sp->prev;
	uint64_t total_req = 0, notify_sent = 0;

	for (size_t k = 0; k < sp->np; k++) {
		/* Steps too short for a middle: every second. */
		if (cpu->nmiddle[k])
			st->proxy[k].cpu = cpu->middle[k] / cpu->nmiddle[k];
		else if (step_s)
			st->proxy[k].cpu = cpu->all[k] / step_s;
		st->proxy[k].share = -1;
		if (r->t->nodes[sp->pidx[k]].role == TOPO_STATEFUL) {
			total_req += prev[k].requests - step0[k].requests;
			notify_sent +=
				prev[k].notify_sent - step0[k].notify_sent;
		}
	}
	if (topo_is_presence(&r->t->exp) && secs > 0)
		st->server_notify_per_s = (double)notify_sent / secs;
	for (size_t k = 0; k < sp->np && total_req; k++)
		if (r->t->nodes[sp->pidx[k]].role == TOPO_STATEFUL)
			st->proxy[k].share = (double)(prev[k].requests -
						      step0[k].requests) /
					     (double)total_req;
}

int stepper_run(struct run *r, struct stepper *sp, double rate, unsigned index,
		unsigned step_s, struct res_step *st)
{
	const struct topo_experiment *e = &r->t->exp;
	struct proxy_mark step0[RES_MAX_PROXIES];
	struct step_cpu cpu = {{0}, {0}, {0}};
	struct call_acc *calls = NULL;
	struct notify_mark n0, n1;
	bool presence = topo_is_presence(e);
	struct hist rtt, rrd;
	double secs = 0;
	bool bound = false;
	uint64_t t0;
	int err;

	memset(st, 0, sizeof(*st));
	err = step_begin(r, sp, rate, step0, &n0);
	if (err)
		return err;
	t0 = runctx_now_ms();
	for (unsigned sec = 1; sec <= step_s && !err; sec++) {
		struct res_sample smp = {0};

		err = runctx_sleep_until(r, t0 + (uint64_t)sec * 1000);
		if (!err)
			err = roles_check_alive(r);
		if (err)
			break;
		smp.step = index;
		smp.offered = rate;
		err = step_second(r, sp, &smp, sec, step_s, &cpu, st);
		if (!err)
			live_line(r, sp, &smp, sec, step_s);
	}
	if (err)
		return err;
	if (topo_is_call_test(runctx_test(r))) {
		calls = malloc(sizeof(*calls));
		if (!calls)
			return ENOMEM;
	}
	err = loaders_step(r, st, &rtt, &rrd, &secs, &bound, calls, NULL);
	if (err) {
		free(calls);
		return err;
	}
	{
		struct interfere_mark *mach1 = malloc(sizeof(*mach1));

		st->mach_busy = st->mach_steal = st->mach_iowait = -1;
		st->mach_others = -1;
		if (mach1) {
			interfere_mark(r, mach1);
			interfere_step(&sp->mach0, mach1,
				       r->t->exp.interference_max, st);
			free(mach1);
		}
	}
	if (presence)
		sampler_notify_read(r, &n1);
	st->index = index;
	st->offered = rate;
	step_figures(st, secs, &rtt, &rrd, calls);
	free(calls);
	if (presence)
		sampler_notify_step(&n0, &n1, secs, st);
	st->generator_bound = bound;
	step_proxies(r, sp, step0, &cpu, step_s, secs, st);
	return 0;
}

int stepper_keep(struct run *r, const struct res_step *st)
{
	void *steps = r->res.steps;
	int err = append(&steps, &r->res.nsteps, sizeof(*st), st);

	metrics_step(r->o->metrics, st->passed);
	r->res.steps = steps;
	return err;
}

void stepper_say(struct run *r, const struct res_step *st, const char *verdict)
{
	char cpus[256] = "", notifies[128] = "", noise[96] = "";
	size_t used = 0;

	for (size_t k = 0; k < r->res.nproxies && used < sizeof(cpus); k++)
		used += (size_t)snprintf(cpus + used, sizeof(cpus) - used,
					 " %s %.0f%%", r->res.proxy_names[k],
					 st->proxy[k].cpu * 100);
	if (topo_is_presence(&r->t->exp) && st->notify_per_s >= 0)
		snprintf(notifies, sizeof(notifies),
			 " | NOTIFY %.0f/s (%.2f per request) p95 %.2f ms",
			 st->notify_per_s, st->notify_per_req,
			 st->notify_p95_ms);
	if (st->interfered)
		snprintf(noise, sizeof(noise),
			 " | interfered: other work %.0f%% of a machine",
			 (st->mach_others + st->mach_steal) * 100);
	runctx_say(r,
		   "[step %u] offered %.0f/s achieved %.0f/s success %.2f%% "
		   "TA "
		   "%.2f ms p95 %.2f ms%s |%s%s%s%s",
		   st->index + 1, st->offered, st->achieved, st->success_pct,
		   st->ta_avg_ms, st->p95_ms, notifies, cpus,
		   st->generator_bound ? " | generator bound" : "", noise,
		   verdict);
}

/*
 * After a trial, every attempt it made must have its outcome before the
 * verdict: slow down to 1/s and wait (at most the establishment
 * threshold and a second) until no transaction is open; what fails
 * meanwhile counts against the trial.  Then until the proxies are idle
 * (at most 30 s).
 */
int stepper_settle(struct run *r, struct res_step *st)
{
	uint64_t deadline = runctx_now_ms() + r->t->exp.threshold_ms + 1000;
	struct res_step rest = {0}, trial = {0};
	struct hist rtt, rrd;
	double secs;
	bool bound;
	int err;

	err = stepper_set_rate(r, 1, false);
	while (!err && runctx_now_ms() < deadline) {
		long open = sampler_loaders_in_flight(r);

		if (open == 0)
			break;
		err = runctx_sleep_until(r, runctx_now_ms() + 100);
	}
	/* The proxies too: what they still have queued (requests the
	 * loaders gave up on, retransmissions) is worked off first, or
	 * the next trial would start against an overloaded server. */
	deadline = runctx_now_ms() + 30000;
	for (uint64_t last = sampler_proxies_requests(r);
	     !err && runctx_now_ms() < deadline;) {
		uint64_t cur;

		err = runctx_sleep_until(r, runctx_now_ms() + 300);
		cur = sampler_proxies_requests(r);
		if (cur - last <= 2)
			break;
		last = cur;
	}
	if (!err)
		err = loaders_step(r, &rest, &rtt, &rrd, &secs, &bound, NULL,
				   &trial);
	if (err)
		return err;
	st->timeouts += rest.timeouts;
	/* Every loader gave the trial's cohort as it ends now: its
	 * outcomes replace those at the trial's edge. */
	if (trial.index && trial.attempts == st->attempts) {
		st->successes = trial.successes;
		st->failures = trial.failures;
		st->in_flight = trial.in_flight;
		if (st->successes + st->failures)
			st->success_pct =
				100.0 * (double)st->successes /
				(double)(st->successes + st->failures);
	} else {
		st->failures += rest.failures;
	}
	return 0;
}
