/*
 * loadgen.c - the loader's engine (see loadgen.h).
 */
#include "loadgen.h"

#define LOG_MODULE "loadgen"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ev.h"
#include "log.h"
#include "obj.h"
#include "sip_auth.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "sip_txn.h"

/* Sends per timer tick at most, so a thread far behind still reads. */
#define TICK_BURST 256u
#define CALL_ID_SIZE 48

struct lg_user {
	uint32_t num;
	uint32_t cseq;
	char call_id[CALL_ID_SIZE];
	struct sip_auth_client *auth;
};

struct lg_worker;

/* One transaction in flight (and its auth retry). */
struct lg_req {
	struct lg_req *prev, *next;
	struct lg_worker *w;
	struct lg_user *u;
	uint64_t t_start; /* first request sent, ns */
	unsigned auth_tries;
	uint32_t cseq;
	char call_id[CALL_ID_SIZE];
};

struct lg_worker {
	struct loadgen *lg;
	unsigned idx;
	pthread_t th;
	bool th_started;
	struct ev *ev;
	struct sip_tp *tp;
	struct sip_txn_layer *txl;
	struct sip_tp_addr local;
	char hostport[SIP_TP_ADDR_STRLEN];
	struct lg_user *users;
	size_t nusers, next_user;
	/* pacer */
	struct ev_timer tick;
	bool sending;
	double gap_ns;
	uint64_t next_ns;
	uint64_t rng;
	/* drain */
	bool draining;
	struct ev_timer drain;
	struct lg_req *reqs;
	uint64_t outstanding;
	struct loadcall *call; /* the invite test's calls, or NULL */
	struct loadpres *pres; /* subscribe/publish dialogs, or NULL */
	uint64_t rx_ns;	       /* kernel time of the response being handled */
	struct buf out, hdrs;
	pthread_mutex_t mu;
	struct loadgen_counts c; /* under mu */
};

struct loadgen {
	struct loadgen_cfg cfg;
	struct lg_worker *w;
	unsigned nw;
	_Atomic uint64_t rate_bits;
	atomic_bool started;
};

const char *loadgen_test_name(enum loadgen_test t)
{
	switch (t) {
	case LOADGEN_REGISTER:
		return "register";
	case LOADGEN_REREGISTER:
		return "reregister";
	case LOADGEN_OPTIONS:
		return "options";
	case LOADGEN_INVITE:
		return "invite";
	case LOADGEN_SUBSCRIBE:
		return "subscribe";
	case LOADGEN_PUBLISH:
		return "publish";
	}
	return "?";
}

int loadgen_test_decode(const char *s, enum loadgen_test *t)
{
	if (!strcmp(s, "register"))
		*t = LOADGEN_REGISTER;
	else if (!strcmp(s, "reregister"))
		*t = LOADGEN_REREGISTER;
	else if (!strcmp(s, "options"))
		*t = LOADGEN_OPTIONS;
	else if (!strcmp(s, "invite"))
		*t = LOADGEN_INVITE;
	else if (!strcmp(s, "subscribe"))
		*t = LOADGEN_SUBSCRIBE;
	else if (!strcmp(s, "publish"))
		*t = LOADGEN_PUBLISH;
	else
		return EINVAL;
	return 0;
}

static struct pl pls(const char *s)
{
	struct pl p;

	pl_set_str(&p, s);
	return p;
}

/* ---- users and passwords ---- */

static int split_user(const char *s, size_t len, char *prefix, size_t psz,
		      uint32_t *num, unsigned *width)
{
	size_t d = len;
	unsigned long long v = 0;
	size_t i;

	while (d > 0 && isdigit((unsigned char)s[d - 1]))
		d--;
	if (d == len || len - d > 9 || d >= psz)
		return EINVAL;
	for (i = d; i < len; i++)
		v = v * 10u + (unsigned)(s[i] - '0');
	memcpy(prefix, s, d);
	prefix[d] = '\0';
	*num = (uint32_t)v;
	*width = (unsigned)(len - d);
	return 0;
}

int loadgen_users_parse(struct loadgen_cfg *cfg, const char *s)
{
	char p1[LOADGEN_NAME_MAX], p2[LOADGEN_NAME_MAX];
	const char *dash = strrchr(s, '-');
	uint32_t a, b;
	unsigned w1, w2;
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.+", s[i]))
			return EINVAL;
	if (!dash || dash == s || !isdigit((unsigned char)dash[-1])) {
		/* one user: a name, numbered or not */
		if (!*s || strlen(s) >= sizeof(cfg->prefix))
			return EINVAL;
		if (split_user(s, strlen(s), p1, sizeof(p1), &a, &w1)) {
			snprintf(cfg->prefix, sizeof(cfg->prefix), "%s", s);
			cfg->ufirst = cfg->ulast = 0;
			cfg->width = 0;
			return 0;
		}
		snprintf(cfg->prefix, sizeof(cfg->prefix), "%s", p1);
		cfg->ufirst = cfg->ulast = a;
		cfg->width = w1;
		return 0;
	}
	if (split_user(s, (size_t)(dash - s), p1, sizeof(p1), &a, &w1))
		return EINVAL;
	if (split_user(dash + 1, strlen(dash + 1), p2, sizeof(p2), &b, &w2))
		return EINVAL;
	if ((*p2 && strcmp(p1, p2)) || b < a)
		return EINVAL;
	snprintf(cfg->prefix, sizeof(cfg->prefix), "%s", p1);
	cfg->ufirst = a;
	cfg->ulast = b;
	cfg->width = w1;
	return 0;
}

int loadgen_user_name(const struct loadgen_cfg *cfg, uint32_t num, char *out,
		      size_t size)
{
	size_t pl = strlen(cfg->prefix), nd = 0, i;
	char d[10];

	/* once per request: digits by hand, not printf */
	if (cfg->width) {
		do {
			d[nd++] = (char)('0' + num % 10u);
			num /= 10u;
		} while (num && nd < sizeof(d));
		while (nd < cfg->width && nd < sizeof(d))
			d[nd++] = '0';
	}
	if (pl + nd >= size)
		return EOVERFLOW;
	memcpy(out, cfg->prefix, pl);
	for (i = 0; i < nd; i++)
		out[pl + i] = d[nd - 1 - i];
	out[pl + nd] = '\0';
	return 0;
}

/* Concatenates the strings of a NULL-ended list into out (size > 0).
 * Returns 0, or EOVERFLOW when they do not fit. */
static int cat(char *out, size_t size, const char *const *parts)
{
	size_t o = 0;

	for (; *parts; parts++) {
		size_t l = strlen(*parts);

		if (l >= size - o)
			return EOVERFLOW;
		memcpy(out + o, *parts, l);
		o += l;
	}
	out[o] = '\0';
	return 0;
}

static int password_of(const struct loadgen_cfg *cfg, uint32_t num,
		       const char *user, char *out, size_t size)
{
	const char *p = cfg->password;
	size_t o = 0;

	if (cfg->passwords) {
		const char *pw = cfg->passwords[num - cfg->ufirst];

		if (!pw)
			return ENOENT;
		p = pw;
		if (strlen(p) >= size)
			return EOVERFLOW;
		memcpy(out, p, strlen(p) + 1);
		return 0;
	}
	if (!*p)
		return ENOENT;
	for (; *p; p++) {
		if (p[0] == '%' && p[1] == 'u') {
			size_t l = strlen(user);

			if (o + l >= size)
				return EOVERFLOW;
			memcpy(out + o, user, l);
			o += l;
			p++;
			continue;
		}
		if (o + 1 >= size)
			return EOVERFLOW;
		out[o++] = *p;
	}
	out[o] = '\0';
	return 0;
}

int loadgen_user_password(const struct loadgen_cfg *cfg, uint32_t num,
			  char *out, size_t size)
{
	char user[LOADGEN_NAME_MAX * 2];
	int err = loadgen_user_name(cfg, num, user, sizeof(user));

	return err ? err : password_of(cfg, num, user, out, size);
}

void loadgen_passwords_free(struct loadgen_cfg *cfg)
{
	uint64_t i, n = (uint64_t)cfg->ulast - cfg->ufirst + 1;

	if (!cfg->passwords)
		return;
	for (i = 0; i < n; i++)
		free(cfg->passwords[i]);
	free(cfg->passwords);
	cfg->passwords = NULL;
}

int loadgen_passwords_load(struct loadgen_cfg *cfg, const char *path)
{
	uint64_t n = (uint64_t)cfg->ulast - cfg->ufirst + 1;
	char line[512], name[LOADGEN_NAME_MAX * 2];
	unsigned lineno = 0;
	FILE *f;
	int err = 0;

	f = fopen(path, "r");
	if (!f)
		return ENOENT;
	loadgen_passwords_free(cfg);
	cfg->passwords = calloc((size_t)n, sizeof(char *));
	if (!cfg->passwords) {
		fclose(f);
		return ENOMEM;
	}
	while (fgets(line, sizeof(line), f)) {
		char *u = line, *pw, *end;
		uint64_t i;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		while (isspace((unsigned char)*u))
			u++;
		if (!*u || *u == '#')
			continue;
		pw = u + strcspn(u, " \t:");
		if (!*pw) {
			log_err("%s:%u: no password", path, lineno);
			err = EBADMSG;
			break;
		}
		*pw++ = '\0';
		while (isspace((unsigned char)*pw))
			pw++;
		end = pw + strlen(pw);
		while (end > pw && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!*pw) {
			log_err("%s:%u: no password", path, lineno);
			err = EBADMSG;
			break;
		}
		/* keep the users of the range only */
		for (i = 0; i < n; i++) {
			if (loadgen_user_name(cfg, cfg->ufirst + (uint32_t)i,
					      name, sizeof(name)))
				continue;
			if (!strcmp(name, u))
				break;
		}
		if (i == n)
			continue;
		free(cfg->passwords[i]);
		cfg->passwords[i] = strdup(pw);
		if (!cfg->passwords[i]) {
			err = ENOMEM;
			break;
		}
	}
	fclose(f);
	if (err)
		loadgen_passwords_free(cfg);
	return err;
}

/* ---- counters ---- */

static void counts_init(struct loadgen_counts *c)
{
	memset(c, 0, sizeof(*c));
	hist_init(&c->rtt);
	hist_init(&c->rrd);
	loadcall_counts_init(&c->call);
	loadpres_counts_init(&c->pres);
}

static void counts_merge(struct loadgen_counts *d,
			 const struct loadgen_counts *s)
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
	d->stray += s->stray;
	d->bad_msgs += s->bad_msgs;
	for (i = 0; i < LOADGEN_CODES; i++)
		d->codes[i] += s->codes[i];
	hist_merge(&d->rtt, &s->rtt);
	hist_merge(&d->rrd, &s->rrd);
	loadcall_counts_merge(&d->call, &s->call);
	loadpres_counts_merge(&d->pres, &s->pres);
}

#define SUB(f)                         \
	do {                           \
		if (a->f < b->f)       \
			return EINVAL; \
		out->f = a->f - b->f;  \
	} while (0)

int loadgen_counts_diff(struct loadgen_counts *out,
			const struct loadgen_counts *a,
			const struct loadgen_counts *b)
{
	size_t i;

	SUB(attempts);
	SUB(successes);
	SUB(failures);
	SUB(timeouts);
	SUB(transport_errors);
	SUB(unfinished);
	SUB(retransmissions);
	SUB(auth_challenges);
	SUB(late_sends);
	SUB(throttled);
	SUB(stray);
	SUB(bad_msgs);
	for (i = 0; i < LOADGEN_CODES; i++)
		SUB(codes[i]);
	if (hist_diff(&out->rtt, &a->rtt, &b->rtt) ||
	    hist_diff(&out->rrd, &a->rrd, &b->rrd) ||
	    loadcall_counts_diff(&out->call, &a->call, &b->call) ||
	    loadpres_counts_diff(&out->pres, &a->pres, &b->pres))
		return EINVAL;
	return 0;
}

void loadgen_snapshot(struct loadgen *lg, struct loadgen_counts *out)
{
	unsigned i;

	counts_init(out);
	for (i = 0; i < lg->nw; i++) {
		pthread_mutex_lock(&lg->w[i].mu);
		counts_merge(out, &lg->w[i].c);
		pthread_mutex_unlock(&lg->w[i].mu);
	}
}

/* ---- requests ---- */

static void req_free(struct lg_req *r)
{
	struct lg_worker *w = r->w;

	if (r->prev)
		r->prev->next = r->next;
	else
		w->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	w->outstanding--;
	free(r);
	if (w->draining && !w->outstanding)
		ev_stop(w->ev);
}

static int txn_send(void *arg, const struct sip_txn_dest *dst, const char *buf,
		    size_t len)
{
	struct lg_worker *w = arg;
	struct sip_tp_addr a;
	int err;

	err = sip_tp_addr_set(&a, dst->tp, &dst->addr.sa, dst->addrlen);
	if (err)
		return err;
	return sip_tp_send(w->tp, &a, buf, len);
}

static void txn_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg);

/* Builds and sends the request of r (a new transaction). */
static int req_send(struct lg_req *r)
{
	struct lg_worker *w = r->w;
	const struct loadgen_cfg *cfg = &w->lg->cfg;
	struct lg_user *u = r->u;
	char user[LOADGEN_NAME_MAX * 2], branch[SIP_BRANCH_SIZE];
	char tag[SIP_TAG_SIZE];
	char via[256], aor[256], ruri[256], contact[256];
	const char *tpname = sip_transport_name(cfg->server.proto);
	struct sip_build_req br;
	struct sip_txn_dest dst;
	struct sip_txn_creq creq;
	bool reg = cfg->test != LOADGEN_OPTIONS;
	int err;

	err = loadgen_user_name(cfg, u->num, user, sizeof(user));
	if (err)
		return err;
	sip_build_branch(branch);
	sip_build_tag(tag);
	/* The Contact names our transport, so that the server reaches us
	 * over the test's transport. */
	if (cat(via, sizeof(via),
		(const char *const[]){"SIP/2.0/", tpname, " ", w->hostport,
				      ";branch=", branch, ";rport", NULL}) ||
	    cat(aor, sizeof(aor),
		(const char *const[]){"<sip:", user, "@", cfg->domain, ">",
				      NULL}) ||
	    cat(ruri, sizeof(ruri),
		(const char *const[]){"sip:", reg ? cfg->domain : user,
				      reg ? NULL : "@", cfg->domain, NULL}) ||
	    cat(contact, sizeof(contact),
		(const char *const[]){"<sip:", user, "@", w->hostport,
				      ";transport=",
				      cfg->server.proto == SIP_TP_UDP	? "udp"
				      : cfg->server.proto == SIP_TP_TCP ? "tcp"
									: "tl"
									  "s",
				      ">", NULL}))
		return EOVERFLOW;
	/* A reregister refreshes one binding: the same Call-ID for every
	 * REGISTER of a user (§10.2), CSeq up by one.  Other tests start a
	 * new Call-ID per transaction; an auth retry keeps it, CSeq + 1
	 * (§22.2). */
	if (!r->call_id[0]) {
		if (cfg->test == LOADGEN_REREGISTER) {
			if (!u->call_id[0] &&
			    sip_build_call_id(u->call_id, sizeof(u->call_id),
					      cfg->local_ip))
				return EOVERFLOW;
			memcpy(r->call_id, u->call_id, sizeof(r->call_id));
			if (++u->cseq >= (1u << 30))
				u->cseq = 1;
			r->cseq = u->cseq;
		} else {
			if (sip_build_call_id(r->call_id, sizeof(r->call_id),
					      cfg->local_ip))
				return EOVERFLOW;
			r->cseq = 1;
		}
	} else {
		r->cseq++;
		if (cfg->test == LOADGEN_REREGISTER)
			u->cseq = r->cseq;
	}
	buf_reset(&w->hdrs);
	if (reg) {
		err = buf_append_str(&w->hdrs, "Expires: ");
		if (!err)
			err = buf_append_u64(&w->hdrs, cfg->expires);
		if (!err)
			err = buf_append_str(&w->hdrs, "\r\n");
		if (err)
			return err;
	}
	if (u->auth && sip_auth_client_ready(u->auth) &&
	    (r->auth_tries || cfg->preload)) {
		struct pl m = pls(reg ? "REGISTER" : "OPTIONS");
		struct pl uri = pls(ruri);

		err = buf_append_str(&w->hdrs, "Authorization: ");
		if (!err)
			err = sip_auth_client_print(u->auth, &w->hdrs, &m,
						    &uri);
		if (!err)
			err = buf_append_str(&w->hdrs, "\r\n");
		if (err)
			return err;
	}
	memset(&br, 0, sizeof(br));
	br.method = pls(reg ? "REGISTER" : "OPTIONS");
	br.ruri = pls(ruri);
	br.via = pls(via);
	br.from = pls(aor);
	br.from_tag = pls(tag);
	br.to = pls(aor);
	br.call_id = pls(r->call_id);
	br.cseq = r->cseq;
	if (reg)
		br.contact = pls(contact);
	br.hdrs = buf_pl(&w->hdrs);
	buf_reset(&w->out);
	err = sip_build_request(&w->out, &br);
	if (err)
		return err;
	memset(&dst, 0, sizeof(dst));
	dst.tp = cfg->server.proto;
	dst.reliable = cfg->server.proto != SIP_TP_UDP;
	memcpy(&dst.addr, &cfg->server.u, sizeof(dst.addr));
	dst.addrlen = sip_tp_addr_len(&cfg->server);
	memset(&creq, 0, sizeof(creq));
	creq.dst = &dst;
	creq.branch = pls(branch);
	creq.method = br.method;
	creq.msg = buf_pl(&w->out);
	return sip_txn_client_start(NULL, w->txl, &creq, txn_event, r);
}

static void finish(struct lg_req *r, uint16_t status, bool timeout,
		   bool tp_error)
{
	struct lg_worker *w = r->w;
	uint64_t end = w->rx_ns ? w->rx_ns : ev_monotonic_ns();
	uint64_t us = end > r->t_start ? (end - r->t_start) / 1000u : 0;

	pthread_mutex_lock(&w->mu);
	if (status) {
		hist_add(&w->c.rtt, us);
		if (status < LOADGEN_CODES)
			w->c.codes[status]++;
	}
	if (status >= 200 && status < 300) {
		w->c.successes++;
		if (w->lg->cfg.test != LOADGEN_OPTIONS)
			hist_add(&w->c.rrd, us);
	} else {
		w->c.failures++;
		if (timeout)
			w->c.timeouts++;
		if (tp_error)
			w->c.transport_errors++;
	}
	pthread_mutex_unlock(&w->mu);
	req_free(r);
}

/* Takes the challenge of a 401/407 and sends again.  0 when resent. */
int loadgen_auth_answer(const struct loadgen_cfg *cfg, uint32_t num,
			struct sip_auth_client **auth, unsigned tries,
			const struct sip_msg *msg)
{
	const struct sip_hdr *h;
	struct sip_auth_challenge ch;
	int err;

	/* one retry, or two when the nonce went stale in between */
	if (tries >= 2)
		return EPROTO;
	h = sip_msg_hdr(msg, msg->status == 401 ? SIP_HDR_WWW_AUTHENTICATE
						: SIP_HDR_PROXY_AUTHENTICATE);
	if (!h)
		return EPROTO;
	if (!*auth) {
		char user[LOADGEN_NAME_MAX * 2], pw[256];
		struct pl pu, pp;

		err = loadgen_user_name(cfg, num, user, sizeof(user));
		if (!err)
			err = password_of(cfg, num, user, pw, sizeof(pw));
		if (err)
			return err;
		pu = pls(user);
		pp = pls(pw);
		err = sip_auth_client_alloc(auth, &pu, &pp);
		if (err)
			return err;
	}
	err = sip_auth_challenge_decode(&ch, &h->value);
	if (err)
		return err;
	if (tries == 1 && !ch.stale)
		return EACCES; /* the credentials were refused */
	return sip_auth_client_challenge(*auth, &ch);
}

static int answer_challenge(struct lg_req *r, const struct sip_msg *msg)
{
	struct lg_worker *w = r->w;
	int err;

	err = loadgen_auth_answer(&w->lg->cfg, r->u->num, &r->u->auth,
				  r->auth_tries, msg);
	if (err)
		return err;
	r->auth_tries++;
	pthread_mutex_lock(&w->mu);
	w->c.auth_challenges++;
	pthread_mutex_unlock(&w->mu);
	return req_send(r);
}

static void txn_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg)
{
	struct lg_req *r = arg;

	(void)t;
	(void)err;
	switch (ev) {
	case SIP_TXN_EV_RESPONSE:
		if (msg->status < 200)
			return;
		if ((msg->status == 401 || msg->status == 407) &&
		    (r->w->lg->cfg.password[0] || r->w->lg->cfg.passwords) &&
		    !answer_challenge(r, msg))
			return;
		finish(r, msg->status, false, false);
		return;
	case SIP_TXN_EV_TIMEOUT:
		finish(r, 0, true, false);
		return;
	case SIP_TXN_EV_TRANSPORT_ERROR:
		finish(r, 0, false, true);
		return;
	case SIP_TXN_EV_TIMER_C:
		return;
	}
}

/* invite: requests from the far end go to the call module. */
static void call_request(struct lg_worker *w, const struct sip_tp_rx *rx)
{
	struct sip_txn_dest src;

	memset(&src, 0, sizeof(src));
	src.tp = rx->proto;
	src.reliable = rx->proto != SIP_TP_UDP;
	memcpy(&src.addr, &rx->src.u, sizeof(src.addr));
	src.addrlen = sip_tp_addr_len(&rx->src);
	src.conn = rx->conn;
	sip_txn_recv_request(w->txl, rx->msg, &src);
}

static void tp_recv(const struct sip_tp_rx *rx, void *arg)
{
	struct lg_worker *w = arg;
	uint16_t status;
	const char *why;
	int err;

	if (sip_msg_validate(rx->msg, &status, &why) ||
	    (rx->msg->is_request && !w->call && !w->pres)) {
		pthread_mutex_lock(&w->mu);
		w->c.bad_msgs++;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	w->rx_ns = rx->rx_ns;
	if (rx->msg->is_request) {
		call_request(w, rx);
		w->rx_ns = 0;
		return;
	}
	err = sip_txn_recv_response(w->txl, rx->msg);
	if (err == ENOENT && w->call && !loadcall_response(w->call, rx->msg))
		err = 0;
	w->rx_ns = 0;
	if (!err)
		return;
	if (err == ENOENT) {
		pthread_mutex_lock(&w->mu);
		w->c.stray++;
		pthread_mutex_unlock(&w->mu);
	}
}

/* ---- pacing ---- */

static double next_gap(struct lg_worker *w)
{
	double u;

	if (!w->lg->cfg.poisson)
		return w->gap_ns;
	/* xorshift64*, then an exponential gap of mean gap_ns */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	u = (double)((w->rng * 2685821657736338717ull) >> 11) * 0x1p-53;
	return -log1p(-u) * w->gap_ns;
}

/* invite: a new call (loadcall.c), to the next user of the range. */
static void send_call(struct lg_worker *w, uint64_t sched, uint64_t now)
{
	const struct loadgen_cfg *cfg = &w->lg->cfg;
	struct lg_user *u;

	if (cfg->max_outstanding &&
	    loadcall_outstanding(w->call) >= cfg->max_outstanding) {
		pthread_mutex_lock(&w->mu);
		w->c.throttled++;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	u = &w->users[w->next_user];
	if (++w->next_user == w->nusers)
		w->next_user = 0;
	pthread_mutex_lock(&w->mu);
	w->c.attempts++;
	if (now > sched + LOADGEN_LATE_NS)
		w->c.late_sends++;
	pthread_mutex_unlock(&w->mu);
	loadcall_start(w->call, u->num,
		       u->num < cfg->ulast ? u->num + 1 : cfg->ufirst,
		       &u->auth);
}

/* subscribe, publish: the next user's attempt (loadpres.c), unless
 * that user's dialog or PUBLISH is still going. */
static void send_pres(struct lg_worker *w, uint64_t sched, uint64_t now)
{
	size_t slot = w->next_user;
	struct lg_user *u = &w->users[slot];

	if (++w->next_user == w->nusers)
		w->next_user = 0;
	if (!loadpres_can_start(w->pres, slot)) {
		pthread_mutex_lock(&w->mu);
		w->c.throttled++;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->c.attempts++;
	if (now > sched + LOADGEN_LATE_NS)
		w->c.late_sends++;
	pthread_mutex_unlock(&w->mu);
	loadpres_start(w->pres, slot, u->num, &u->auth);
}

static void send_one(struct lg_worker *w, uint64_t sched, uint64_t now)
{
	const struct loadgen_cfg *cfg = &w->lg->cfg;
	struct lg_req *r;
	int err;

	if (w->call) {
		send_call(w, sched, now);
		return;
	}
	if (w->pres) {
		send_pres(w, sched, now);
		return;
	}
	if (cfg->max_outstanding && w->outstanding >= cfg->max_outstanding) {
		pthread_mutex_lock(&w->mu);
		w->c.throttled++;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->w = w;
	r->u = &w->users[w->next_user];
	if (++w->next_user == w->nusers)
		w->next_user = 0;
	r->t_start = now;
	r->next = w->reqs;
	if (w->reqs)
		w->reqs->prev = r;
	w->reqs = r;
	w->outstanding++;
	pthread_mutex_lock(&w->mu);
	w->c.attempts++;
	if (now > sched + LOADGEN_LATE_NS)
		w->c.late_sends++;
	pthread_mutex_unlock(&w->mu);
	err = req_send(r);
	if (err) {
		log_debug("send: %s", strerror(err));
		finish(r, 0, false, true);
	}
}

static void tick(void *arg)
{
	struct lg_worker *w = arg;
	struct sip_txn_stats ts;
	uint64_t now = ev_monotonic_ns();
	/* New requests go to the head of the list; this one is older and
	 * cannot end during the loop (only responses and timers end one,
	 * or a failed send, which ends only its own new request). */
	struct lg_req *older = w->reqs, *r;
	unsigned n = 0;

	while (w->sending && w->next_ns <= now && n < TICK_BURST) {
		send_one(w, w->next_ns, now);
		w->next_ns += (uint64_t)next_gap(w);
		n++;
	}
	/*
	 * The batch leaves now, not after the next wait (timers run after
	 * the loop's flush hook); its requests were sent when the batch
	 * was handed to the kernel, not when they were built.
	 */
	now = ev_monotonic_ns();
	for (r = w->reqs; r && r != older; r = r->next)
		r->t_start = now;
	sip_tp_flush(w->tp);
	sip_txn_layer_stats(w->txl, &ts);
	pthread_mutex_lock(&w->mu);
	w->c.retransmissions = ts.retransmissions;
	pthread_mutex_unlock(&w->mu);
	if (!w->sending)
		return;
	now = ev_monotonic_ns();
	ev_timer_start(w->ev, &w->tick,
		       w->next_ns > now ? w->next_ns - now : 0, tick, w);
}

static void w_apply_rate(void *arg)
{
	struct lg_worker *w = arg;
	uint64_t bits = atomic_load(&w->lg->rate_bits);
	double rate;

	memcpy(&rate, &bits, sizeof(rate));
	rate /= w->lg->nw;
	w->gap_ns = 1e9 / rate;
	/* Re-anchor: the new spacing starts now, with this thread's
	 * offset so that threads interleave rather than burst together. */
	w->next_ns =
		ev_monotonic_ns() + (uint64_t)(w->gap_ns * w->idx / w->lg->nw);
	w->sending = true;
	ev_timer_start(w->ev, &w->tick, 0, tick, w);
}

static void drain_timeout(void *arg)
{
	struct lg_worker *w = arg;

	ev_stop(w->ev);
}

static void calls_idle(void *arg)
{
	struct lg_worker *w = arg;

	ev_stop(w->ev);
}

static void w_stop(void *arg)
{
	struct lg_worker *w = arg;

	w->sending = false;
	ev_timer_cancel(w->ev, &w->tick);
	w->draining = true;
	if (w->call) {
		ev_timer_start(w->ev, &w->drain, EV_MS(w->lg->cfg.drain_ms),
			       drain_timeout, w);
		loadcall_drain(w->call); /* calls_idle() stops the loop */
		return;
	}
	if (w->pres) {
		ev_timer_start(w->ev, &w->drain, EV_MS(w->lg->cfg.drain_ms),
			       drain_timeout, w);
		loadpres_drain(w->pres); /* calls_idle() stops the loop */
		return;
	}
	if (!w->outstanding) {
		ev_stop(w->ev);
		return;
	}
	ev_timer_start(w->ev, &w->drain, EV_MS(w->lg->cfg.drain_ms),
		       drain_timeout, w);
}

static void *w_main(void *arg)
{
	struct lg_worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "loader-%u", w->idx);
	pthread_setname_np(pthread_self(), name);
	ev_run_every(w->ev, (uint64_t)w->lg->cfg.tick_us * 1000u);
	return NULL;
}

/* ---- the engine ---- */

static void worker_free(struct lg_worker *w)
{
	size_t i;

	w->draining = false;
	loadcall_free(w->call);
	w->call = NULL;
	loadpres_free(w->pres);
	w->pres = NULL;
	w->txl = obj_deref(w->txl);
	while (w->reqs)
		req_free(w->reqs);
	w->tp = obj_deref(w->tp);
	if (w->ev) {
		ev_timer_cancel(w->ev, &w->tick);
		ev_timer_cancel(w->ev, &w->drain);
	}
	w->ev = obj_deref(w->ev);
	for (i = 0; i < w->nusers; i++)
		sip_auth_client_free(w->users[i].auth);
	free(w->users);
	buf_free(&w->out);
	buf_free(&w->hdrs);
	pthread_mutex_destroy(&w->mu);
}

/* The layer's request handler: the call or presence module's. */
static void w_request(void *arg, struct sip_txn *st, const struct sip_msg *msg,
		      const struct sip_txn_dest *src)
{
	struct lg_worker *w = arg;

	if (w->pres)
		loadpres_request(w->pres, st, msg, src);
	else
		loadcall_request(w->call, st, msg, src);
}

static bool has_requests(enum loadgen_test t)
{
	return t == LOADGEN_INVITE || t == LOADGEN_SUBSCRIBE ||
	       t == LOADGEN_PUBLISH;
}

static int pres_init(struct lg_worker *w)
{
	struct loadpres_env env;

	memset(&env, 0, sizeof(env));
	env.cfg = &w->lg->cfg;
	env.ev = w->ev;
	env.tp = w->tp;
	env.txl = w->txl;
	env.hostport = w->hostport;
	env.rx_ns = &w->rx_ns;
	env.mu = &w->mu;
	env.c = &w->c;
	env.nslots = w->nusers;
	env.idle = calls_idle;
	env.arg = w;
	return loadpres_alloc(&w->pres, &env);
}

static int worker_init(struct loadgen *lg, struct lg_worker *w, unsigned idx)
{
	const struct loadgen_cfg *cfg = &lg->cfg;
	struct loadcall_env env;
	struct sip_txn_cfg tc;
	struct sip_tp_opts to;
	struct sip_tp_addr la;
	char spec[SIP_TP_ADDR_STRLEN + LOADGEN_NAME_MAX];
	uint64_t n = (uint64_t)cfg->ulast - cfg->ufirst + 1, j;
	int err;

	w->lg = lg;
	w->idx = idx;
	pthread_mutex_init(&w->mu, NULL);
	counts_init(&w->c);
	buf_init(&w->out, SIP_MSG_MAX_SIZE);
	buf_init(&w->hdrs, 4096);
	ev_timer_init(&w->tick);
	ev_timer_init(&w->drain);
	w->rng = 0x9e3779b97f4a7c15ull * (idx + 1) ^
		 (uint64_t)ev_monotonic_ns();
	if (!w->rng)
		w->rng = 1;
	/* users j with j % threads == idx */
	w->nusers = (size_t)((n + lg->nw - 1 - idx) / lg->nw);
	if (!w->nusers)
		return EINVAL;
	w->users = calloc(w->nusers, sizeof(*w->users));
	if (!w->users)
		return ENOMEM;
	for (j = 0; j < w->nusers; j++)
		w->users[j].num = cfg->ufirst + (uint32_t)(idx + j * lg->nw);
	err = ev_alloc(&w->ev);
	if (err)
		return err;
	memset(&to, 0, sizeof(to));
	to.udp_rx_timestamps = true;
	/* a tick's sends (TICK_BURST at most) leave in one sendmmsg */
	to.udp_batch = TICK_BURST;
	err = sip_tp_alloc(&w->tp, w->ev, &to, tp_recv, w);
	if (err)
		return err;
	/* Responses come back to the socket in our Via: a UDP socket for
	 * UDP; a listener for TCP whose address goes in Via/Contact. */
	snprintf(spec, sizeof(spec), "%s:%s:0",
		 cfg->server.proto == SIP_TP_TCP ? "tcp" : "udp",
		 strchr(cfg->local_ip, ':') ? "[::1]" : cfg->local_ip);
	err = sip_tp_addr_decode(&la, NULL, spec);
	if (err)
		return err;
	err = sip_tp_listen(w->tp, &la, 0, &w->local);
	if (err)
		return err;
	err = sip_tp_addr_hostport(&w->local, w->hostport,
				   sizeof(w->hostport));
	if (err)
		return err;
	memset(&tc, 0, sizeof(tc));
	tc.t1_ms = cfg->t1_ms;
	tc.timer_b_ms = cfg->timer_b_ms;
	/* Completed transactions linger for Timer K (T4, 5 s): at 10,000/s
	 * that is 50,000 live ones; keep the hash chains short. */
	tc.buckets = 65536;
	err = sip_txn_layer_alloc(&w->txl, w->ev, &tc, txn_send,
				  has_requests(cfg->test) ? w_request : NULL,
				  w);
	if (err)
		return err;
	if (cfg->test == LOADGEN_SUBSCRIBE || cfg->test == LOADGEN_PUBLISH)
		return pres_init(w);
	if (cfg->test != LOADGEN_INVITE)
		return 0;
	memset(&env, 0, sizeof(env));
	env.cfg = cfg;
	env.ev = w->ev;
	env.tp = w->tp;
	env.txl = w->txl;
	env.hostport = w->hostport;
	env.rx_ns = &w->rx_ns;
	env.mu = &w->mu;
	env.c = &w->c;
	env.idle = calls_idle;
	env.arg = w;
	return loadcall_alloc(&w->call, &env);
}

int loadgen_alloc(struct loadgen **lgp, const struct loadgen_cfg *cfg)
{
	struct loadgen *lg = NULL;
	unsigned i;
	int err;

	if (!cfg->threads || cfg->ulast < cfg->ufirst ||
	    (uint64_t)cfg->ulast - cfg->ufirst + 1 < cfg->threads ||
	    !cfg->test || cfg->test > LOADGEN_PUBLISH ||
	    (cfg->server.proto != SIP_TP_UDP &&
	     cfg->server.proto != SIP_TP_TCP))
		return EINVAL;
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return ENOMEM;
	lg->cfg = *cfg;
	if (!lg->cfg.drain_ms)
		lg->cfg.drain_ms = 2000;
	if (!lg->cfg.expires)
		lg->cfg.expires = 3600;
	if (!lg->cfg.local_ip[0])
		snprintf(lg->cfg.local_ip, sizeof(lg->cfg.local_ip),
			 "127.0.0.1");
	lg->nw = cfg->threads;
	lg->w = calloc(lg->nw, sizeof(*lg->w));
	if (!lg->w) {
		free(lg);
		return ENOMEM;
	}
	for (i = 0; i < lg->nw; i++) {
		err = worker_init(lg, &lg->w[i], i);
		if (err) {
			log_err("thread %u: %s", i, strerror(err));
			lg->nw = i + 1;
			goto fail;
		}
	}
	for (i = 0; i < lg->nw; i++) {
		err = pthread_create(&lg->w[i].th, NULL, w_main, &lg->w[i]);
		if (err)
			goto fail;
		lg->w[i].th_started = true;
	}
	*lgp = lg;
	return 0;
fail:
	loadgen_free(lg);
	return err;
}

int loadgen_local(const struct loadgen *lg, unsigned thread,
		  struct sip_tp_addr *out)
{
	if (thread >= lg->nw)
		return ENOENT;
	*out = lg->w[thread].local;
	return 0;
}

static void set_rate_bits(struct loadgen *lg, double rate)
{
	uint64_t bits;

	memcpy(&bits, &rate, sizeof(bits));
	atomic_store(&lg->rate_bits, bits);
}

double loadgen_rate(const struct loadgen *lg)
{
	uint64_t bits = atomic_load(&lg->rate_bits);
	double r;

	memcpy(&r, &bits, sizeof(r));
	return r;
}

bool loadgen_started(const struct loadgen *lg)
{
	return atomic_load(&lg->started);
}

int loadgen_set_rate(struct loadgen *lg, double rate)
{
	unsigned i;
	int err;

	if (!(rate > 0) || rate > 1e7)
		return EINVAL;
	set_rate_bits(lg, rate);
	if (!atomic_load(&lg->started))
		return 0;
	for (i = 0; i < lg->nw; i++) {
		err = ev_call(lg->w[i].ev, w_apply_rate, &lg->w[i]);
		if (err)
			return err;
	}
	return 0;
}

int loadgen_start(struct loadgen *lg, double rate)
{
	if (!(rate > 0) || rate > 1e7)
		return EINVAL;
	if (atomic_exchange(&lg->started, true))
		return EALREADY;
	return loadgen_set_rate(lg, rate);
}

void loadgen_stop(struct loadgen *lg)
{
	unsigned i;

	for (i = 0; i < lg->nw; i++) {
		if (!lg->w[i].th_started)
			continue;
		if (ev_call(lg->w[i].ev, w_stop, &lg->w[i]))
			ev_stop(lg->w[i].ev);
	}
	for (i = 0; i < lg->nw; i++) {
		struct lg_worker *w = &lg->w[i];
		struct sip_txn_stats ts;
		uint64_t left;

		if (!w->th_started)
			continue;
		pthread_join(w->th, NULL);
		w->th_started = false;
		/* the retransmissions of the drain too (tick() is over) */
		sip_txn_layer_stats(w->txl, &ts);
		/* In-flight transactions left at the end are failures. */
		pthread_mutex_lock(&w->mu);
		left = w->call	 ? loadcall_outstanding(w->call)
		       : w->pres ? loadpres_outstanding(w->pres)
				 : w->outstanding;
		w->c.retransmissions = ts.retransmissions;
		w->c.unfinished += left;
		w->c.failures += left;
		pthread_mutex_unlock(&w->mu);
	}
}

void loadgen_free(struct loadgen *lg)
{
	unsigned i;

	if (!lg)
		return;
	loadgen_stop(lg);
	for (i = 0; i < lg->nw; i++)
		worker_free(&lg->w[i]);
	free(lg->w);
	free(lg);
}
