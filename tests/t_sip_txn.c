/*
 * Tests for sip_txn: the §17 state machines on a manual clock
 * (ev_clock_manual), with a capturing send callback; and sip_txn_tp, the
 * binding to real transports on 127.0.0.1 (kernel-chosen ports, every
 * loop bounded in count and time).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "ev.h"
#include "obj.h"
#include "proc.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "sip_tp.h"
#include "sip_txn.h"
#include "sip_txn_tp.h"
#include "test.h"

#define MAXCAP 64

struct sent {
	char *msg;
	size_t len;
	uint64_t at_ms;
	struct sip_txn_dest dst;
};

struct event {
	enum sip_txn_event ev;
	uint16_t status;
	int err;
	uint64_t at_ms;
	bool invite; /* the event's transaction is an INVITE one */
};

/* One fixture per test (each test runs in its own process). */
static struct fx {
	struct ev *ev;
	struct sip_txn_layer *l;
	struct sent sent[MAXCAP];
	int nsent;
	int fail_at; /* 1-based send that fails with ECONNREFUSED */
	struct event evs[MAXCAP];
	int nevs;
	struct sip_txn *st[8]; /* server transactions, referenced */
	int nst;
	int acks_to_tu;
	int reqs_to_tu;
	bool terminate_in_cb;
} fx;

static uint64_t now_ms(void)
{
	return ev_now(fx.ev) / EV_NS_PER_MS;
}

static int cap_send(void *arg, const struct sip_txn_dest *dst, const char *buf,
		    size_t len)
{
	struct sent *s;

	(void)arg;
	if (fx.fail_at && fx.nsent + 1 == fx.fail_at) {
		fx.fail_at = 0;
		return ECONNREFUSED;
	}
	ASSERT(fx.nsent < MAXCAP);
	s = &fx.sent[fx.nsent++];
	s->msg = malloc(len + 1);
	ASSERT(s->msg);
	memcpy(s->msg, buf, len);
	s->msg[len] = '\0';
	s->len = len;
	s->at_ms = now_ms();
	s->dst = *dst;
	return 0;
}

static void on_event(struct sip_txn *t, enum sip_txn_event ev,
		     const struct sip_msg *msg, int err, void *arg)
{
	struct event *e;

	(void)arg;
	ASSERT(fx.nevs < MAXCAP);
	e = &fx.evs[fx.nevs++];
	e->ev = ev;
	e->status = msg ? msg->status : 0;
	e->err = err;
	e->at_ms = now_ms();
	e->invite = sip_txn_is_invite(t);
	if (fx.terminate_in_cb)
		sip_txn_terminate(t);
}

static void on_request(void *arg, struct sip_txn *st,
		       const struct sip_msg *msg,
		       const struct sip_txn_dest *src)
{
	(void)arg;
	(void)src;
	if (!st) {
		ASSERT_EQ(msg->method_id, SIP_METHOD_ACK);
		fx.acks_to_tu++;
		return;
	}
	fx.reqs_to_tu++;
	ASSERT(fx.nst < 8);
	fx.st[fx.nst++] = obj_ref(st);
	sip_txn_server_set_handler(st, on_event, NULL);
}

static void fx_init(const struct sip_txn_cfg *cfg)
{
	memset(&fx, 0, sizeof(fx));
	ASSERT_EQ(ev_alloc(&fx.ev), 0);
	ev_clock_manual(fx.ev, 0);
	ASSERT_EQ(sip_txn_layer_alloc(&fx.l, fx.ev, cfg, cap_send, on_request,
				      NULL),
		  0);
}

static void fx_free(void)
{
	for (int i = 0; i < fx.nst; i++)
		obj_deref(fx.st[i]);
	fx.l = obj_deref(fx.l);
	fx.ev = obj_deref(fx.ev);
	for (int i = 0; i < fx.nsent; i++)
		free(fx.sent[i].msg);
}

static void run_to(uint64_t ms)
{
	uint64_t now = ev_now(fx.ev);

	if (EV_MS(ms) > now)
		ev_clock_advance(fx.ev, EV_MS(ms) - now);
}

static struct sip_txn_stats stats(void)
{
	struct sip_txn_stats s;

	sip_txn_layer_stats(fx.l, &s);
	return s;
}

static char *crlf_fmt(const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	ASSERT(n > 0 && (size_t)n < sizeof(tmp));
	return test_crlf(tmp, (size_t)n, NULL);
}

/* Decodes and validates text; the caller frees msg and text. */
static struct sip_msg *decode(const char *text)
{
	struct sip_msg *m = malloc(sizeof(*m));
	uint16_t st;
	const char *why;

	ASSERT(m);
	ASSERT_EQ(sip_msg_decode(m, text, strlen(text), false), 0);
	ASSERT_EQ(sip_msg_validate(m, &st, &why), 0);
	return m;
}

static const struct sip_txn_dest udp = {.tp = SIP_TP_UDP};
static const struct sip_txn_dest tcp = {.tp = SIP_TP_TCP, .reliable = true};

/* A request as a UAC would send it. */
static char *mkreq(const char *method, const char *branch, const char *host,
		   unsigned cseq, const char *cseq_method, const char *to_tag)
{
	return crlf_fmt("%s sip:bob@example.com SIP/2.0\n"
			"Via: SIP/2.0/UDP %s:5060%s%s\n"
			"Max-Forwards: 70\n"
			"From: <sip:a@example.com>;tag=fa\n"
			"To: <sip:bob@example.com>%s%s\n"
			"Call-ID: call-1@example.com\n"
			"CSeq: %u %s\n"
			"Content-Length: 0\n\n",
			method, host, branch ? ";branch=" : "",
			branch ? branch : "", to_tag ? ";tag=" : "",
			to_tag ? to_tag : "", cseq, cseq_method);
}

static char *mkresp(unsigned status, const char *branch, const char *method)
{
	return crlf_fmt("SIP/2.0 %u X\n"
			"Via: SIP/2.0/UDP uac.example.com:5060;branch=%s\n"
			"From: <sip:a@example.com>;tag=fa\n"
			"To: <sip:bob@example.com>;tag=tb\n"
			"Call-ID: call-1@example.com\n"
			"CSeq: 1 %s\n"
			"Content-Length: 0\n\n",
			status, branch, method);
}

static int feed_resp(unsigned status, const char *branch, const char *method)
{
	char *text = mkresp(status, branch, method);
	struct sip_msg *m = decode(text);
	int err = sip_txn_recv_response(fx.l, m);

	free(m);
	free(text);
	return err;
}

static int feed_req_text(char *text, const struct sip_txn_dest *src)
{
	struct sip_msg *m = decode(text);
	int err = sip_txn_recv_request(fx.l, m, src);

	free(m);
	free(text);
	return err;
}

static int feed_req(const char *method, const char *branch, const char *host,
		    const char *to_tag, const struct sip_txn_dest *src)
{
	return feed_req_text(mkreq(method, branch, host, 1, method, to_tag),
			     src);
}

/* Starts a client transaction for method with branch over dst. */
static struct sip_txn *client(const char *method, const char *branch,
			      const struct sip_txn_dest *dst, bool timer_c)
{
	char *text = mkreq(method, branch, "uac.example.com", 1, method, NULL);
	struct sip_txn_creq r = {.dst = dst, .timer_c = timer_c};
	struct sip_txn *t = NULL;

	pl_set_str(&r.branch, branch);
	pl_set_str(&r.method, method);
	pl_set_str(&r.msg, text);
	ASSERT_EQ(sip_txn_client_start(&t, fx.l, &r, on_event, NULL), 0);
	free(text);
	ASSERT(t);
	return t;
}

/* The reply to server transaction st, built from its request. */
static int reply(struct sip_txn *st, const char *method, unsigned status)
{
	char *text = mkresp(status, "z9hG4bKs1", method);
	int err = sip_txn_reply(st, text, strlen(text));

	free(text);
	return err;
}

static void assert_send_times(const uint64_t *want, int n)
{
	ASSERT_EQ(fx.nsent, n);
	for (int i = 0; i < n; i++)
		ASSERT_MSG(fx.sent[i].at_ms == want[i],
			   "send %d at %llu, not %llu", i,
			   (unsigned long long)fx.sent[i].at_ms,
			   (unsigned long long)want[i]);
}

/* ------------------------------------------------------------------ */
/* INVITE client                                                       */

TEST(sip_txn_ict_timer_a_doubles_and_timer_b_times_out)
{
	/* §17.1.1.2: A starts at T1 and doubles each time, with no T2
	 * cap; B fires at 64*T1. */
	static const uint64_t want[] = {0,    500,   1500, 3500,
					7500, 15500, 31500};
	struct sip_txn *t;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKa1", &udp, false);
	ASSERT_STR(sip_txn_state_name(t), "Calling");
	run_to(31999);
	ASSERT_EQ(fx.nevs, 0);
	run_to(32000);
	assert_send_times(want, 7);
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(fx.evs[0].ev, SIP_TXN_EV_TIMEOUT);
	ASSERT_EQ(fx.evs[0].at_ms, 32000);
	ASSERT(sip_txn_is_terminated(t));
	ASSERT_EQ(stats().retransmissions, 6);
	ASSERT_EQ(stats().timeouts, 1);
	ASSERT_EQ(stats().alive, 0);
	run_to(100000);
	ASSERT_EQ(fx.nsent, 7);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_configured_t1_scales_timers)
{
	struct sip_txn_cfg cfg = {.t1_ms = 100};
	static const uint64_t want[] = {0, 100, 300, 700, 1500, 3100, 6300};
	struct sip_txn *t;

	fx_init(&cfg);
	t = client("INVITE", "z9hG4bKa2", &udp, false);
	run_to(6399);
	ASSERT_EQ(fx.nevs, 0);
	run_to(6400);
	assert_send_times(want, 7);
	ASSERT_EQ(fx.evs[0].ev, SIP_TXN_EV_TIMEOUT);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_no_retransmission_over_reliable_transport)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKa3", &tcp, false);
	run_to(31999);
	ASSERT_EQ(fx.nsent, 1);
	ASSERT_EQ(fx.nevs, 0);
	run_to(32000);
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(fx.evs[0].ev, SIP_TXN_EV_TIMEOUT);
	ASSERT_EQ(stats().retransmissions, 0);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_provisional_stops_a_and_b)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKa4", &udp, false);
	run_to(600); /* one retransmission at 500 */
	ASSERT_EQ(feed_resp(100, "z9hG4bKa4", "INVITE"), 0);
	ASSERT_STR(sip_txn_state_name(t), "Proceeding");
	ASSERT_EQ(feed_resp(180, "z9hG4bKa4", "INVITE"), 0);
	run_to(100000);
	ASSERT_EQ(fx.nsent, 2);
	ASSERT_EQ(fx.nevs, 2);
	ASSERT_EQ(fx.evs[0].status, 100);
	ASSERT_EQ(fx.evs[1].status, 180);
	ASSERT_EQ(sip_txn_status(t), 180);
	ASSERT(!sip_txn_is_terminated(t));
	sip_txn_terminate(t);
	ASSERT_EQ(stats().alive, 0);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_non2xx_is_acked_and_absorbed_timer_d)
{
	struct sip_txn *t;
	struct sip_msg *ack;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKa5", &udp, false);
	ASSERT_EQ(feed_resp(486, "z9hG4bKa5", "INVITE"), 0);
	ASSERT_STR(sip_txn_state_name(t), "Completed");
	ASSERT_EQ(fx.nsent, 2);
	/* §17.1.1.3: the ACK, same branch, the response's To tag. */
	ack = decode(fx.sent[1].msg);
	ASSERT_EQ(ack->method_id, SIP_METHOD_ACK);
	ASSERT_PL(&ack->ruri, "sip:bob@example.com");
	ASSERT_PL(&ack->via.branch, "z9hG4bKa5");
	ASSERT_PL(&ack->to_tag, "tb");
	ASSERT_EQ(ack->cseq.num, 1);
	ASSERT_PL(&ack->cseq.method, "ACK");
	free(ack);
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(fx.evs[0].status, 486);
	/* A retransmitted 486: ACK again, not passed up. */
	run_to(1000);
	ASSERT_EQ(feed_resp(486, "z9hG4bKa5", "INVITE"), 0);
	ASSERT_EQ(fx.nsent, 3);
	ASSERT_STR(fx.sent[2].msg, fx.sent[1].msg);
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(stats().absorbed, 1);
	/* No INVITE retransmissions in Completed; D = 32 s. */
	run_to(31999);
	ASSERT_EQ(fx.nsent, 3);
	ASSERT(!sip_txn_is_terminated(t));
	run_to(32000);
	ASSERT(sip_txn_is_terminated(t));
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(stats().alive, 0);
	ASSERT_EQ(feed_resp(486, "z9hG4bKa5", "INVITE"), ENOENT);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_non2xx_over_reliable_ends_at_once)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKa6", &tcp, false);
	ASSERT_EQ(feed_resp(603, "z9hG4bKa6", "INVITE"), 0);
	ASSERT_EQ(fx.nsent, 2); /* INVITE, ACK */
	ASSERT(!strncmp(fx.sent[1].msg, "ACK ", 4));
	ASSERT(sip_txn_is_terminated(t));
	ASSERT_EQ(stats().alive, 0);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_2xx_accepted_passes_every_2xx_timer_m)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKa7", &udp, false);
	ASSERT(sip_txn_sent(t).l > 0);
	ASSERT_EQ(feed_resp(200, "z9hG4bKa7", "INVITE"), 0);
	ASSERT_STR(sip_txn_state_name(t), "Accepted");
	/* Never sent again: the INVITE's bytes are not kept for Timer M. */
	ASSERT_EQ(sip_txn_sent(t).l, 0);
	ASSERT_EQ(feed_resp(200, "z9hG4bKa7", "INVITE"), 0);
	ASSERT_EQ(feed_resp(180, "z9hG4bKa7", "INVITE"), 0);
	/* Both 2xx to the TU, no ACK from the transaction. */
	ASSERT_EQ(fx.nevs, 2);
	ASSERT_EQ(fx.evs[1].status, 200);
	ASSERT_EQ(fx.nsent, 1);
	run_to(31999);
	ASSERT_EQ(fx.nsent, 1);
	ASSERT(!sip_txn_is_terminated(t));
	run_to(32000);
	ASSERT(sip_txn_is_terminated(t));
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_timer_c_fires_and_is_reset_by_101_199)
{
	struct sip_txn_cfg cfg = {.timer_c_ms = 10000};
	struct sip_txn *t;

	fx_init(&cfg);
	t = client("INVITE", "z9hG4bKc1", &udp, true);
	run_to(4000);
	/* 100 does not reset C (§16.7 step 2): it fires at 10 s. */
	ASSERT_EQ(feed_resp(100, "z9hG4bKc1", "INVITE"), 0);
	run_to(9999);
	ASSERT_EQ(fx.nevs, 1);
	run_to(10000);
	ASSERT_EQ(fx.nevs, 2);
	ASSERT_EQ(fx.evs[1].ev, SIP_TXN_EV_TIMER_C);
	/* A 180 restarts it: 12 s + 10 s. */
	run_to(12000);
	ASSERT_EQ(feed_resp(180, "z9hG4bKc1", "INVITE"), 0);
	run_to(21999);
	ASSERT_EQ(fx.nevs, 3);
	run_to(22000);
	ASSERT_EQ(fx.nevs, 4);
	ASSERT_EQ(fx.evs[3].ev, SIP_TXN_EV_TIMER_C);
	ASSERT_EQ(fx.evs[3].at_ms, 22000);
	/* The transaction goes on: the TU cancels, the 487 comes. */
	ASSERT(!sip_txn_is_terminated(t));
	ASSERT_EQ(feed_resp(487, "z9hG4bKc1", "INVITE"), 0);
	ASSERT_EQ(fx.evs[4].status, 487);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_timer_c_without_provisional)
{
	struct sip_txn_cfg cfg = {.timer_c_ms = 3000};
	struct sip_txn *t;

	fx_init(&cfg);
	t = client("INVITE", "z9hG4bKc2", &tcp, true);
	run_to(3000);
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(fx.evs[0].ev, SIP_TXN_EV_TIMER_C);
	/* A final response stops C: none again. */
	ASSERT_EQ(feed_resp(408, "z9hG4bKc2", "INVITE"), 0);
	run_to(200000);
	ASSERT_EQ(fx.nevs, 2);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_without_timer_c_has_no_c_event)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKc3", &udp, false);
	ASSERT_EQ(feed_resp(180, "z9hG4bKc3", "INVITE"), 0);
	run_to(400000);
	ASSERT_EQ(fx.nevs, 1);
	sip_txn_terminate(t);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_cancel_in_proceeding_sends_cancel_at_once)
{
	struct sip_txn *t;
	struct sip_msg *c;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKcn1", &udp, false);
	ASSERT_EQ(feed_resp(180, "z9hG4bKcn1", "INVITE"), 0);
	ASSERT_EQ(sip_txn_client_cancel(t), 0);
	ASSERT_EQ(fx.nsent, 2);
	/* §9.1: same branch, R-URI, Call-ID, CSeq number; CANCEL. */
	c = decode(fx.sent[1].msg);
	ASSERT_EQ(c->method_id, SIP_METHOD_CANCEL);
	ASSERT_PL(&c->via.branch, "z9hG4bKcn1");
	ASSERT_PL(&c->ruri, "sip:bob@example.com");
	ASSERT_PL(&c->call_id, "call-1@example.com");
	ASSERT_EQ(c->cseq.num, 1);
	ASSERT_EQ(c->to_tag.l, 0);
	free(c);
	ASSERT_EQ(sip_txn_client_cancel(t), EALREADY);
	ASSERT_EQ(stats().client_created, 2);
	/* The CANCEL is retransmitted by its own Timer E; the INVITE,
	 * in Proceeding, is not. */
	run_to(600);
	ASSERT_EQ(fx.nsent, 3);
	ASSERT_STR(fx.sent[2].msg, fx.sent[1].msg);
	/* The CANCEL's 200 and the INVITE's 487 reach the handler, each
	 * from its own transaction. */
	ASSERT_EQ(feed_resp(200, "z9hG4bKcn1", "CANCEL"), 0);
	ASSERT_EQ(feed_resp(487, "z9hG4bKcn1", "INVITE"), 0);
	ASSERT_EQ(fx.nevs, 3);
	ASSERT(!fx.evs[1].invite && fx.evs[1].status == 200);
	ASSERT(fx.evs[2].invite && fx.evs[2].status == 487);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_cancel_in_calling_waits_for_provisional)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKcn2", &tcp, false);
	ASSERT_EQ(sip_txn_client_cancel(t), 0);
	run_to(2000);
	ASSERT_EQ(fx.nsent, 1); /* §9.1: not before a provisional */
	ASSERT_EQ(feed_resp(100, "z9hG4bKcn2", "INVITE"), 0);
	ASSERT_EQ(fx.nsent, 2);
	ASSERT(!strncmp(fx.sent[1].msg, "CANCEL sip:bob@example.com ", 27));
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_ict_cancel_dropped_by_final_and_refused_after)
{
	struct sip_txn *t, *n;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKcn3", &udp, false);
	ASSERT_EQ(sip_txn_client_cancel(t), 0);
	ASSERT_EQ(feed_resp(486, "z9hG4bKcn3", "INVITE"), 0);
	ASSERT_EQ(fx.nsent, 2); /* INVITE, ACK: no CANCEL */
	ASSERT(!strncmp(fx.sent[1].msg, "ACK ", 4));
	ASSERT_EQ(sip_txn_client_cancel(t), EALREADY);
	n = client("OPTIONS", "z9hG4bKcn4", &udp, false);
	ASSERT_EQ(sip_txn_client_cancel(n), EINVAL);
	run_to(40000);
	ASSERT_EQ(sip_txn_client_cancel(t), ESHUTDOWN);
	obj_deref(t);
	obj_deref(n);
	fx_free();
}

/* ------------------------------------------------------------------ */
/* Non-INVITE client                                                   */

TEST(sip_txn_nict_timer_e_capped_at_t2_and_timer_f)
{
	/* §17.1.2.2: E doubles up to T2; F at 64*T1. */
	static const uint64_t want[] = {0,     500,   1500,  3500,
					7500,  11500, 15500, 19500,
					23500, 27500, 31500};
	struct sip_txn *t;

	fx_init(NULL);
	t = client("OPTIONS", "z9hG4bKe1", &udp, false);
	ASSERT_STR(sip_txn_state_name(t), "Trying");
	run_to(32000);
	assert_send_times(want, 11);
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(fx.evs[0].ev, SIP_TXN_EV_TIMEOUT);
	ASSERT_EQ(fx.evs[0].at_ms, 32000);
	ASSERT_EQ(stats().timeouts, 1);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_nict_proceeding_retransmits_at_t2)
{
	static const uint64_t want[] = {0, 500, 4500, 8500};
	struct sip_txn *t;

	fx_init(NULL);
	t = client("REGISTER", "z9hG4bKe2", &udp, false);
	run_to(100);
	ASSERT_EQ(feed_resp(100, "z9hG4bKe2", "REGISTER"), 0);
	ASSERT_STR(sip_txn_state_name(t), "Proceeding");
	run_to(9000);
	assert_send_times(want, 4);
	/* F still runs in Proceeding. */
	run_to(32000);
	ASSERT_EQ(fx.evs[fx.nevs - 1].ev, SIP_TXN_EV_TIMEOUT);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_nict_final_timer_k_absorbs_retransmissions)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("BYE", "z9hG4bKk1", &udp, false);
	run_to(700);
	ASSERT_EQ(feed_resp(200, "z9hG4bKk1", "BYE"), 0);
	ASSERT_STR(sip_txn_state_name(t), "Completed");
	ASSERT_EQ(feed_resp(200, "z9hG4bKk1", "BYE"), 0);
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(stats().absorbed, 1);
	/* K = T4 after the final: 700 + 5000. */
	run_to(5699);
	ASSERT(!sip_txn_is_terminated(t));
	ASSERT_EQ(fx.nsent, 2); /* E stopped after 500 */
	run_to(5700);
	ASSERT(sip_txn_is_terminated(t));
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_nict_final_over_reliable_ends_at_once)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("MESSAGE", "z9hG4bKk2", &tcp, false);
	ASSERT_EQ(feed_resp(202, "z9hG4bKk2", "MESSAGE"), 0);
	ASSERT(sip_txn_is_terminated(t));
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(stats().alive, 0);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_client_match_needs_branch_and_cseq_method)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKm1", &udp, false);
	/* §17.1.3: a CANCEL's 200 with the INVITE's branch is not the
	 * INVITE's. */
	ASSERT_EQ(feed_resp(200, "z9hG4bKm1", "CANCEL"), ENOENT);
	ASSERT_EQ(feed_resp(200, "z9hG4bKm2", "INVITE"), ENOENT);
	ASSERT_EQ(fx.nevs, 0);
	ASSERT_EQ(feed_resp(180, "z9hG4bKm1", "INVITE"), 0);
	ASSERT_EQ(fx.nevs, 1);
	sip_txn_terminate(t);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_client_invite_and_cancel_share_a_branch)
{
	struct sip_txn *inv, *can;

	fx_init(NULL);
	inv = client("INVITE", "z9hG4bKm3", &udp, false);
	can = client("CANCEL", "z9hG4bKm3", &udp, false);
	ASSERT_EQ(feed_resp(200, "z9hG4bKm3", "CANCEL"), 0);
	ASSERT_STR(sip_txn_state_name(can), "Completed");
	ASSERT_STR(sip_txn_state_name(inv), "Calling");
	ASSERT_EQ(feed_resp(487, "z9hG4bKm3", "INVITE"), 0);
	ASSERT_STR(sip_txn_state_name(inv), "Completed");
	ASSERT_EQ(stats().client_created, 2);
	obj_deref(inv);
	obj_deref(can);
	fx_free();
}

TEST(sip_txn_client_start_rejects_bad_requests)
{
	struct sip_txn_creq r = {.dst = &udp,
				 .branch = PL("z9hG4bKx"),
				 .method = PL("OPTIONS"),
				 .msg = PL("OPTIONS sip:x SIP/2.0\r\n\r\n")};
	struct sip_txn *t = NULL;

	fx_init(NULL);
	r.branch = (struct pl)PL("1234");
	ASSERT_EQ(sip_txn_client_start(&t, fx.l, &r, on_event, NULL), EINVAL);
	r.branch = (struct pl)PL("z9hG4bKx");
	r.method = (struct pl)PL("ACK");
	ASSERT_EQ(sip_txn_client_start(&t, fx.l, &r, on_event, NULL), EINVAL);
	r.method = (struct pl)PL("OPTIONS");
	ASSERT_EQ(sip_txn_client_start(&t, fx.l, &r, NULL, NULL), EINVAL);
	ASSERT_EQ(sip_txn_client_start(&t, fx.l, &r, on_event, NULL), 0);
	ASSERT(t);
	ASSERT_EQ(sip_txn_client_start(NULL, fx.l, &r, on_event, NULL),
		  EEXIST);
	ASSERT_EQ(stats().client_created, 1);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_client_send_error_creates_nothing)
{
	struct sip_txn_creq r = {.dst = &udp,
				 .branch = PL("z9hG4bKf1"),
				 .method = PL("OPTIONS"),
				 .msg = PL("OPTIONS sip:x SIP/2.0\r\n\r\n")};
	struct sip_txn *t = NULL;

	fx_init(NULL);
	fx.fail_at = 1;
	ASSERT_EQ(sip_txn_client_start(&t, fx.l, &r, on_event, NULL),
		  ECONNREFUSED);
	ASSERT(t == NULL);
	ASSERT_EQ(stats().alive, 0);
	ASSERT_EQ(stats().client_created, 0);
	ASSERT_EQ(fx.nevs, 0);
	fx_free();
}

TEST(sip_txn_client_retransmission_failure_is_transport_error)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("OPTIONS", "z9hG4bKf2", &udp, false);
	fx.fail_at = 3; /* the second retransmission */
	run_to(10000);
	ASSERT_EQ(fx.nsent, 2);
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(fx.evs[0].ev, SIP_TXN_EV_TRANSPORT_ERROR);
	ASSERT_EQ(fx.evs[0].err, ECONNREFUSED);
	ASSERT_EQ(fx.evs[0].at_ms, 1500);
	ASSERT(sip_txn_is_terminated(t));
	ASSERT_EQ(stats().transport_errors, 1);
	obj_deref(t);
	fx_free();
}

TEST(sip_txn_terminate_from_event_handler)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKh1", &udp, false);
	obj_deref(t); /* only the layer's reference is left */
	fx.terminate_in_cb = true;
	ASSERT_EQ(feed_resp(180, "z9hG4bKh1", "INVITE"), 0);
	ASSERT_EQ(stats().alive, 0);
	ASSERT_EQ(feed_resp(200, "z9hG4bKh1", "INVITE"), ENOENT);
	run_to(100000);
	ASSERT_EQ(fx.nsent, 1);
	fx_free();
}

/* A TU that forgot its transaction: no more events, but retransmitted
 * finals are still ACKed and absorbed, and a failing ACK ends it
 * silently. */
TEST(sip_txn_client_detach_stops_events_not_duties)
{
	struct sip_txn *t;

	fx_init(NULL);
	t = client("INVITE", "z9hG4bKh2", &udp, false);
	ASSERT_EQ(feed_resp(486, "z9hG4bKh2", "INVITE"), 0);
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(fx.nsent, 2); /* INVITE, ACK */
	sip_txn_client_detach(t);
	obj_deref(t);
	ASSERT_EQ(feed_resp(486, "z9hG4bKh2", "INVITE"), 0);
	ASSERT_EQ(fx.nsent, 3); /* the ACK again */
	fx.fail_at = 4;
	ASSERT_EQ(feed_resp(486, "z9hG4bKh2", "INVITE"), 0);
	ASSERT_EQ(stats().transport_errors, 1);
	ASSERT_EQ(stats().alive, 0);
	ASSERT_EQ(fx.nevs, 1);
	sip_txn_client_detach(NULL);
	fx_free();
}

/* ------------------------------------------------------------------ */
/* INVITE server                                                       */

TEST(sip_txn_ist_new_request_goes_to_tu_retransmissions_absorbed)
{
	fx_init(NULL);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.reqs_to_tu, 1);
	ASSERT(sip_txn_is_invite(fx.st[0]) && !sip_txn_is_client(fx.st[0]));
	ASSERT_STR(sip_txn_state_name(fx.st[0]), "Proceeding");
	/* Retransmission before any response: absorbed, nothing sent. */
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.reqs_to_tu, 1);
	ASSERT_EQ(fx.nsent, 0);
	/* After a provisional: the provisional again (§17.2.1). */
	ASSERT_EQ(reply(fx.st[0], "INVITE", 180), 0);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.nsent, 2);
	ASSERT_STR(fx.sent[1].msg, fx.sent[0].msg);
	ASSERT(!strncmp(fx.sent[1].msg, "SIP/2.0 180", 11));
	ASSERT_EQ(stats().absorbed, 2);
	ASSERT_EQ(stats().server_created, 1);
	fx_free();
}

TEST(sip_txn_ist_non2xx_timer_g_capped_and_timer_h)
{
	static const uint64_t want[] = {0,     500,   1500,  3500,
					7500,  11500, 15500, 19500,
					23500, 27500, 31500};

	fx_init(NULL);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(reply(fx.st[0], "INVITE", 486), 0);
	ASSERT_STR(sip_txn_state_name(fx.st[0]), "Completed");
	run_to(31999);
	ASSERT_EQ(fx.nevs, 0);
	run_to(32000);
	assert_send_times(want, 11);
	/* H: no ACK came. */
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(fx.evs[0].ev, SIP_TXN_EV_TIMEOUT);
	ASSERT(sip_txn_is_terminated(fx.st[0]));
	ASSERT_EQ(stats().timeouts, 1);
	ASSERT_EQ(stats().retransmissions, 10);
	fx_free();
}

TEST(sip_txn_ist_ack_for_non2xx_absorbed_timer_i)
{
	fx_init(NULL);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(reply(fx.st[0], "INVITE", 404), 0);
	run_to(600);
	ASSERT_EQ(fx.nsent, 2);
	/* The ACK carries the INVITE's branch and our To tag. */
	ASSERT_EQ(feed_req("ACK", "z9hG4bKs1", "uac.example.com", "tb", &udp),
		  0);
	ASSERT_STR(sip_txn_state_name(fx.st[0]), "Confirmed");
	ASSERT_EQ(fx.acks_to_tu, 0);
	ASSERT_EQ(stats().acks_absorbed, 1);
	/* ACK retransmission: absorbed too. */
	ASSERT_EQ(feed_req("ACK", "z9hG4bKs1", "uac.example.com", "tb", &udp),
		  0);
	ASSERT_EQ(fx.acks_to_tu, 0);
	ASSERT_EQ(stats().acks_absorbed, 2);
	/* G stopped; I = T4 = 5 s after the ACK. */
	run_to(5599);
	ASSERT_EQ(fx.nsent, 2);
	ASSERT(!sip_txn_is_terminated(fx.st[0]));
	run_to(5600);
	ASSERT(sip_txn_is_terminated(fx.st[0]));
	ASSERT_EQ(fx.nevs, 0);
	fx_free();
}

TEST(sip_txn_ist_retransmitted_invite_in_completed_gets_final)
{
	fx_init(NULL);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(reply(fx.st[0], "INVITE", 100), 0);
	ASSERT_EQ(reply(fx.st[0], "INVITE", 480), 0);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.nsent, 3);
	ASSERT(!strncmp(fx.sent[2].msg, "SIP/2.0 480", 11));
	ASSERT_EQ(fx.reqs_to_tu, 1);
	fx_free();
}

TEST(sip_txn_ist_reliable_no_timer_g_ack_ends_at_once)
{
	fx_init(NULL);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &tcp),
		  0);
	ASSERT_EQ(reply(fx.st[0], "INVITE", 486), 0);
	run_to(20000);
	ASSERT_EQ(fx.nsent, 1);
	ASSERT_EQ(feed_req("ACK", "z9hG4bKs1", "uac.example.com", "tb", &tcp),
		  0);
	ASSERT(sip_txn_is_terminated(fx.st[0]));
	ASSERT_EQ(stats().alive, 0);
	fx_free();
}

TEST(sip_txn_ist_2xx_ack_goes_to_tu_timer_l)
{
	fx_init(NULL);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(reply(fx.st[0], "INVITE", 200), 0);
	ASSERT_STR(sip_txn_state_name(fx.st[0]), "Accepted");
	/* 2xx retransmissions by the TU pass; no Timer G for a 2xx. */
	ASSERT_EQ(reply(fx.st[0], "INVITE", 200), 0);
	ASSERT_EQ(reply(fx.st[0], "INVITE", 486), EINVAL);
	run_to(10000);
	ASSERT_EQ(fx.nsent, 2);
	/* An INVITE retransmission is absorbed (RFC 6026). */
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.reqs_to_tu, 1);
	ASSERT_EQ(fx.nsent, 2);
	/* The 2xx ACK: a new branch, not part of the transaction. */
	ASSERT_EQ(feed_req("ACK", "z9hG4bKack2", "uac.example.com", "tb",
			   &udp),
		  0);
	ASSERT_EQ(fx.acks_to_tu, 1);
	ASSERT_EQ(stats().acks_absorbed, 0);
	/* Even with the INVITE's branch (RFC 2543-style UAs). */
	ASSERT_EQ(feed_req("ACK", "z9hG4bKs1", "uac.example.com", "tb", &udp),
		  0);
	ASSERT_EQ(fx.acks_to_tu, 2);
	run_to(32000);
	ASSERT(sip_txn_is_terminated(fx.st[0]));
	ASSERT_EQ(fx.nevs, 0);
	fx_free();
}

TEST(sip_txn_ist_auto_100_trying)
{
	struct sip_txn_cfg cfg = {.auto_100 = true};
	struct sip_msg *m;

	fx_init(&cfg);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.nsent, 1);
	m = decode(fx.sent[0].msg);
	ASSERT_EQ(m->status, 100);
	ASSERT_EQ(m->to_tag.l, 0);
	ASSERT_PL(&m->via.branch, "z9hG4bKs1");
	free(m);
	ASSERT_EQ(sip_txn_status(fx.st[0]), 100);
	/* Not for non-INVITE. */
	ASSERT_EQ(feed_req("OPTIONS", "z9hG4bKs2", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.nsent, 1);
	fx_free();
}

TEST(sip_txn_ist_timeout_and_transport_error_reach_server_handler)
{
	fx_init(NULL);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKs1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(reply(fx.st[0], "INVITE", 500), 0);
	fx.fail_at = 2; /* the first Timer G retransmission */
	run_to(1000);
	ASSERT_EQ(fx.nevs, 1);
	ASSERT_EQ(fx.evs[0].ev, SIP_TXN_EV_TRANSPORT_ERROR);
	ASSERT(sip_txn_is_terminated(fx.st[0]));
	ASSERT_EQ(reply(fx.st[0], "INVITE", 500), ESHUTDOWN);
	fx_free();
}

/* ------------------------------------------------------------------ */
/* Non-INVITE server                                                   */

TEST(sip_txn_nist_absorption_by_state_and_timer_j)
{
	fx_init(NULL);
	ASSERT_EQ(feed_req("OPTIONS", "z9hG4bKn1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_STR(sip_txn_state_name(fx.st[0]), "Trying");
	/* Trying: absorbed silently. */
	ASSERT_EQ(feed_req("OPTIONS", "z9hG4bKn1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.nsent, 0);
	ASSERT_EQ(reply(fx.st[0], "OPTIONS", 100), 0);
	ASSERT_STR(sip_txn_state_name(fx.st[0]), "Proceeding");
	ASSERT_EQ(feed_req("OPTIONS", "z9hG4bKn1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.nsent, 2);
	run_to(1000);
	ASSERT_EQ(reply(fx.st[0], "OPTIONS", 200), 0);
	ASSERT_STR(sip_txn_state_name(fx.st[0]), "Completed");
	ASSERT_EQ(reply(fx.st[0], "OPTIONS", 200), EINVAL);
	ASSERT_EQ(feed_req("OPTIONS", "z9hG4bKn1", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.nsent, 4);
	ASSERT(!strncmp(fx.sent[3].msg, "SIP/2.0 200", 11));
	ASSERT_EQ(fx.reqs_to_tu, 1);
	ASSERT_EQ(stats().absorbed, 3);
	/* No retransmission of a non-INVITE final on its own. */
	run_to(32999);
	ASSERT_EQ(fx.nsent, 4);
	ASSERT(!sip_txn_is_terminated(fx.st[0]));
	run_to(33000); /* J = 64*T1 after the final */
	ASSERT(sip_txn_is_terminated(fx.st[0]));
	ASSERT_EQ(fx.nevs, 0);
	fx_free();
}

TEST(sip_txn_nist_reliable_final_ends_at_once)
{
	fx_init(NULL);
	ASSERT_EQ(feed_req("REGISTER", "z9hG4bKn2", "uac.example.com", NULL,
			   &tcp),
		  0);
	ASSERT_EQ(reply(fx.st[0], "REGISTER", 200), 0);
	ASSERT(sip_txn_is_terminated(fx.st[0]));
	ASSERT_EQ(stats().alive, 0);
	/* The same request again is a new transaction now. */
	ASSERT_EQ(feed_req("REGISTER", "z9hG4bKn2", "uac.example.com", NULL,
			   &tcp),
		  0);
	ASSERT_EQ(fx.reqs_to_tu, 2);
	fx_free();
}

TEST(sip_txn_reply_rejects_bad_input)
{
	static const char notstatus[] = "OPTIONS sip:x SIP/2.0\r\n\r\n";
	static const char badcode[] = "SIP/2.0 099 Low\r\n\r\n";
	struct sip_txn *t;

	fx_init(NULL);
	ASSERT_EQ(feed_req("OPTIONS", "z9hG4bKn3", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(sip_txn_reply(fx.st[0], notstatus, strlen(notstatus)),
		  EINVAL);
	ASSERT_EQ(sip_txn_reply(fx.st[0], badcode, strlen(badcode)), EINVAL);
	ASSERT_EQ(fx.nsent, 0);
	t = client("OPTIONS", "z9hG4bKn4", &udp, false);
	ASSERT_EQ(reply(t, "OPTIONS", 200), EINVAL); /* a client */
	obj_deref(t);
	fx_free();
}

/* ------------------------------------------------------------------ */
/* Matching                                                            */

TEST(sip_txn_server_match_needs_sent_by_and_method)
{
	fx_init(NULL);
	ASSERT_EQ(feed_req("OPTIONS", "z9hG4bKq1", "uac.example.com", NULL,
			   &udp),
		  0);
	/* Same branch, another sent-by: another transaction (§17.2.3). */
	ASSERT_EQ(feed_req("OPTIONS", "z9hG4bKq1", "evil.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.reqs_to_tu, 2);
	/* Same branch, another method: another transaction. */
	ASSERT_EQ(feed_req("INFO", "z9hG4bKq1", "uac.example.com", NULL, &udp),
		  0);
	ASSERT_EQ(fx.reqs_to_tu, 3);
	ASSERT_EQ(stats().server_created, 3);
	ASSERT_EQ(stats().absorbed, 0);
	fx_free();
}

TEST(sip_txn_cancel_is_its_own_transaction_and_finds_invite)
{
	char *text;
	struct sip_msg *m;
	struct sip_txn *inv;

	fx_init(NULL);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKx1", "uac.example.com", NULL,
			   &udp),
		  0);
	text = mkreq("CANCEL", "z9hG4bKx1", "uac.example.com", 1, "CANCEL",
		     NULL);
	m = decode(text);
	ASSERT_EQ(sip_txn_recv_request(fx.l, m, &udp), 0);
	ASSERT_EQ(fx.reqs_to_tu, 2);
	ASSERT(fx.st[1] != fx.st[0]);
	ASSERT(!sip_txn_is_invite(fx.st[1]));
	inv = sip_txn_find_invite(fx.l, m);
	ASSERT(inv == fx.st[0]);
	obj_deref(inv);
	/* The TU: 200 to the CANCEL, 487 to the INVITE (§9.2). */
	ASSERT_EQ(reply(fx.st[1], "CANCEL", 200), 0);
	ASSERT_EQ(reply(fx.st[0], "INVITE", 487), 0);
	ASSERT_STR(sip_txn_state_name(fx.st[0]), "Completed");
	free(m);
	free(text);
	/* A CANCEL for an unknown branch finds nothing. */
	text = mkreq("CANCEL", "z9hG4bKx9", "uac.example.com", 1, "CANCEL",
		     NULL);
	m = decode(text);
	ASSERT(sip_txn_find_invite(fx.l, m) == NULL);
	free(m);
	free(text);
	fx_free();
}

TEST(sip_txn_rfc2543_fallback_matching)
{
	fx_init(NULL);
	/* No branch at all: RFC 2543 matching (§17.2.3). */
	ASSERT_EQ(feed_req("INVITE", NULL, "old.example.com", NULL, &udp), 0);
	ASSERT_EQ(fx.reqs_to_tu, 1);
	ASSERT_EQ(feed_req("INVITE", NULL, "old.example.com", NULL, &udp), 0);
	ASSERT_EQ(fx.reqs_to_tu, 1);
	ASSERT_EQ(stats().absorbed, 1);
	/* Another CSeq: another transaction. */
	ASSERT_EQ(feed_req_text(mkreq("INVITE", NULL, "old.example.com", 2,
				      "INVITE", NULL),
				&udp),
		  0);
	ASSERT_EQ(fx.reqs_to_tu, 2);
	/* Another top Via: another transaction. */
	ASSERT_EQ(feed_req("INVITE", NULL, "old2.example.com", NULL, &udp), 0);
	ASSERT_EQ(fx.reqs_to_tu, 3);
	/* A branch without the cookie is RFC 2543 too. */
	ASSERT_EQ(feed_req("INVITE", "oldbranch1", "old3.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(feed_req("INVITE", "oldbranch1", "old3.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(fx.reqs_to_tu, 4);
	ASSERT_EQ(stats().absorbed, 2);
	fx_free();
}

TEST(sip_txn_rfc2543_ack_matches_by_our_to_tag)
{
	struct sip_msg *m;
	char *text;
	struct sip_txn *inv;

	fx_init(NULL);
	ASSERT_EQ(feed_req("INVITE", NULL, "old.example.com", NULL, &udp), 0);
	ASSERT_EQ(reply(fx.st[0], "INVITE", 486), 0); /* To tag "tb" */
	/* An ACK with another To tag is not ours: to the TU. */
	ASSERT_EQ(feed_req("ACK", NULL, "old.example.com", "zz", &udp), 0);
	ASSERT_EQ(fx.acks_to_tu, 1);
	ASSERT_STR(sip_txn_state_name(fx.st[0]), "Completed");
	/* The CANCEL matches the INVITE (no To tag in either). */
	text = mkreq("CANCEL", NULL, "old.example.com", 1, "CANCEL", NULL);
	m = decode(text);
	inv = sip_txn_find_invite(fx.l, m);
	ASSERT(inv == fx.st[0]);
	obj_deref(inv);
	free(m);
	free(text);
	/* With our tag: absorbed, Confirmed. */
	ASSERT_EQ(feed_req("ACK", NULL, "old.example.com", "tb", &udp), 0);
	ASSERT_EQ(fx.acks_to_tu, 1);
	ASSERT_STR(sip_txn_state_name(fx.st[0]), "Confirmed");
	fx_free();
}

TEST(sip_txn_stray_ack_goes_to_tu)
{
	fx_init(NULL);
	ASSERT_EQ(feed_req("ACK", "z9hG4bKstray", "uac.example.com", "t",
			   &udp),
		  0);
	ASSERT_EQ(fx.acks_to_tu, 1);
	ASSERT_EQ(stats().server_created, 0);
	fx_free();
}

TEST(sip_txn_recv_rejects_unvalidated_or_wrong_kind)
{
	char *text = mkreq("OPTIONS", "z9hG4bKv1", "uac.example.com", 1,
			   "OPTIONS", NULL);
	struct sip_msg *m;

	fx_init(NULL);
	m = decode(text);
	ASSERT_EQ(sip_txn_recv_response(fx.l, m), EINVAL);
	m->validated = false;
	ASSERT_EQ(sip_txn_recv_request(fx.l, m, &udp), EINVAL);
	ASSERT_EQ(fx.reqs_to_tu, 0);
	free(m);
	free(text);
	fx_free();
}

/* ------------------------------------------------------------------ */
/* Layer                                                               */

TEST(sip_txn_counters_track_alive_and_created)
{
	struct sip_txn *a, *b;

	fx_init(NULL);
	a = client("INVITE", "z9hG4bKz1", &udp, false);
	b = client("OPTIONS", "z9hG4bKz2", &tcp, false);
	ASSERT_EQ(feed_req("REGISTER", "z9hG4bKz3", "uac.example.com", NULL,
			   &udp),
		  0);
	ASSERT_EQ(stats().alive, 3);
	ASSERT_EQ(stats().client_created, 2);
	ASSERT_EQ(stats().server_created, 1);
	ASSERT_EQ(feed_resp(200, "z9hG4bKz2", "OPTIONS"), 0);
	ASSERT_EQ(stats().alive, 2);
	sip_txn_terminate(a);
	sip_txn_terminate(a); /* twice is harmless */
	ASSERT_EQ(stats().alive, 1);
	obj_deref(a);
	obj_deref(b);
	fx_free();
}

TEST(sip_txn_layer_free_ends_transactions_refs_survive)
{
	struct sip_txn *t;
	size_t live;

	fx_init(NULL);
	live = obj_live();
	t = client("INVITE", "z9hG4bKw1", &udp, false);
	ASSERT_EQ(feed_req("INVITE", "z9hG4bKw2", "uac.example.com", NULL,
			   &udp),
		  0);
	fx.l = obj_deref(fx.l);
	/* The loop has no timer of ours left. */
	ASSERT_EQ(ev_timer_count(fx.ev), 0);
	ASSERT(sip_txn_is_terminated(t));
	ASSERT(sip_txn_is_terminated(fx.st[0]));
	ASSERT_EQ(reply(fx.st[0], "INVITE", 200), ESHUTDOWN);
	obj_deref(t);
	for (int i = 0; i < fx.nst; i++)
		obj_deref(fx.st[i]);
	fx.nst = 0;
	ASSERT_EQ(obj_live(), live - 1); /* the layer */
	fx_free();
}

TEST(sip_txn_server_responses_go_to_the_request_source)
{
	struct sip_txn_dest src = {.tp = SIP_TP_UDP, .addrlen = 16};

	fx_init(NULL);
	src.addr.in.sin_family = AF_INET;
	src.addr.in.sin_port = htons(5099);
	src.addr.in.sin_addr.s_addr = htonl(0xc0000207);
	ASSERT_EQ(feed_req("OPTIONS", "z9hG4bKd1", "uac.example.com", NULL,
			   &src),
		  0);
	ASSERT_EQ(reply(fx.st[0], "OPTIONS", 200), 0);
	ASSERT_EQ(fx.nsent, 1);
	ASSERT_EQ(fx.sent[0].dst.tp, SIP_TP_UDP);
	ASSERT_EQ(fx.sent[0].dst.addr.in.sin_port, htons(5099));
	ASSERT_EQ(fx.sent[0].dst.addr.in.sin_addr.s_addr, htonl(0xc0000207));
	ASSERT(sip_txn_dest(fx.st[0])->addrlen == 16);
	fx_free();
}

TEST(sip_txn_dest_conn_is_referenced)
{
	struct sip_txn_dest d = {.tp = SIP_TP_TCP, .reliable = true};
	struct sip_txn *t;
	void *conn;

	fx_init(NULL);
	conn = obj_alloc(16, NULL);
	ASSERT(conn);
	d.conn = conn;
	t = client("OPTIONS", "z9hG4bKr1", &d, false);
	ASSERT_EQ(obj_refs(conn), 2);
	ASSERT(sip_txn_dest(t)->conn == conn);
	ASSERT(sip_txn_sent(t).l > 0);
	ASSERT_EQ(feed_resp(200, "z9hG4bKr1", "OPTIONS"), 0);
	obj_deref(t);
	ASSERT_EQ(obj_refs(conn), 1);
	obj_deref(conn);
	fx_free();
}

TEST(sip_txn_dest_literal_takes_addresses_not_names)
{
	struct sip_txn_dest d, keep;

	ASSERT_EQ(sip_txn_dest_literal(&d, SIP_TP_UDP, "127.0.0.1", 5070), 0);
	ASSERT_EQ(d.addr.in.sin_family, AF_INET);
	ASSERT_EQ(ntohs(d.addr.in.sin_port), 5070);
	ASSERT_EQ(d.addrlen, sizeof(d.addr.in));
	ASSERT(!d.reliable && !d.conn);
	ASSERT_EQ(sip_txn_dest_literal(&d, SIP_TP_TLS, "::1", 5061), 0);
	ASSERT_EQ(d.addr.in6.sin6_family, AF_INET6);
	ASSERT_EQ(ntohs(d.addr.in6.sin6_port), 5061);
	ASSERT(d.reliable);
	/* Names and bracketed forms are not literals; d stays as it was. */
	keep = d;
	ASSERT_EQ(sip_txn_dest_literal(&d, SIP_TP_UDP, "example.com", 5060),
		  ENOENT);
	ASSERT_EQ(sip_txn_dest_literal(&d, SIP_TP_UDP, "[::1]", 5060), ENOENT);
	ASSERT_EQ(sip_txn_dest_literal(&d, SIP_TP_UDP, "", 5060), ENOENT);
	ASSERT(!memcmp(&d, &keep, sizeof(d)));
}

/* ------------------------------------------------------------------ */
/* sip_txn_tp: transactions bound to real transports                   */

/* A transport and its bound layer: a UAS that answers 200 to every
 * request, or a UAC that records the responses of its transactions. */
struct tpx {
	struct ev *ev;
	struct sip_tp *tp;
	struct sip_txn_tp bind;
	struct sip_txn_layer *l;
	struct sip_tp_addr addr[2]; /* bound: UDP, TCP */
	int requests, responses;
	uint16_t status;
	struct sip_tp_conn *req_conn; /* the last request's, a reference */
};

static void tpx_recv(const struct sip_tp_rx *rx, void *arg)
{
	struct tpx *x = arg;
	uint16_t st;
	const char *why;

	ASSERT_EQ(sip_msg_validate(rx->msg, &st, &why), 0);
	if (!rx->msg->is_request) {
		ASSERT_EQ(sip_txn_recv_response(x->l, rx->msg), 0);
		return;
	}
	obj_deref(x->req_conn);
	x->req_conn = obj_ref(rx->conn);
	ASSERT_EQ(sip_txn_tp_recv_request(x->l, rx), 0);
}

static void tpx_request(void *arg, struct sip_txn *st,
			const struct sip_msg *msg,
			const struct sip_txn_dest *src)
{
	struct tpx *x = arg;
	char *text = crlf_fmt("SIP/2.0 200 OK\n"
			      "Via: %.*s\n"
			      "From: <sip:a@example.com>;tag=fa\n"
			      "To: <sip:bob@example.com>;tag=tb\n"
			      "Call-ID: call-1@example.com\n"
			      "CSeq: 1 OPTIONS\n"
			      "Content-Length: 0\n\n",
			      (int)msg->hdrs[msg->first[SIP_HDR_VIA]].value.l,
			      msg->hdrs[msg->first[SIP_HDR_VIA]].value.p);

	(void)src;
	ASSERT(st);
	x->requests++;
	ASSERT_EQ(sip_txn_reply(st, text, strlen(text)), 0);
	free(text);
}

static void tpx_event(struct sip_txn *t, enum sip_txn_event ev,
		      const struct sip_msg *msg, int err, void *arg)
{
	struct tpx *x = arg;

	(void)t;
	ASSERT_MSG(ev == SIP_TXN_EV_RESPONSE, "event %d, err %d", ev, err);
	x->responses++;
	x->status = msg->status;
}

static void tpx_init(struct tpx *x, struct ev *ev)
{
	struct sip_tp_addr want;

	memset(x, 0, sizeof(*x));
	x->ev = ev;
	ASSERT_EQ(sip_tp_alloc(&x->tp, ev, NULL, tpx_recv, x), 0);
	ASSERT_EQ(sip_tp_addr_decode(&want, NULL, "udp:127.0.0.1:0"), 0);
	ASSERT_EQ(sip_tp_listen(x->tp, &want, 0, &x->addr[0]), 0);
	ASSERT_EQ(sip_tp_addr_decode(&want, NULL, "tcp:127.0.0.1:0"), 0);
	ASSERT_EQ(sip_tp_listen(x->tp, &want, 0, &x->addr[1]), 0);
	x->bind.tp = x->tp;
	ASSERT_EQ(sip_txn_tp_layer_alloc(&x->l, ev, NULL, &x->bind,
					 tpx_request, x),
		  0);
}

static void tpx_free(struct tpx *x)
{
	obj_deref(x->req_conn);
	obj_deref(x->l);
	obj_deref(x->tp);
}

static void tp_run_until(struct ev *ev, const int *count, int want)
{
	uint64_t end = ev_monotonic_ns() + EV_MS(3000);

	for (int i = 0; i < 300 && *count < want; i++) {
		ASSERT_EQ(ev_run_once(ev, EV_MS(10)), 0);
		ASSERT_MSG(ev_monotonic_ns() < end, "waited too long");
	}
	ASSERT_EQ(*count, want);
}

/* A plain UDP socket on 127.0.0.1 (a peer outside the library). */
static int raw_udp(struct sip_tp_addr *bound)
{
	uint16_t port;
	int fd = proc_udp_bound(&port);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	ASSERT_EQ(sip_tp_addr_set(bound, SIP_TP_UDP, (struct sockaddr *)&sa,
				  sizeof(sa)),
		  0);
	return fd;
}

/* Waits (bounded) for one datagram on fd; returns its length and the
 * sender's port. */
static size_t raw_recv(struct ev *ev, int fd, char *buf, size_t size,
		       uint16_t *port)
{
	struct sockaddr_in from;

	for (int i = 0; i < 300; i++) {
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, size - 1, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &len);

		if (n > 0) {
			buf[n] = '\0';
			*port = ntohs(from.sin_port);
			return (size_t)n;
		}
		ASSERT_EQ(ev_run_once(ev, EV_MS(10)), 0);
	}
	test_fail(__FILE__, __LINE__, "no datagram came");
}

TEST(sip_txn_tp_dest_and_src_fill_the_destination)
{
	struct sip_txn_dest d;
	struct sip_tp_addr a;
	struct sip_tp_rx rx;
	void *conn = obj_alloc(16, NULL);

	ASSERT(conn);
	ASSERT_EQ(sip_tp_addr_decode(&a, NULL, "udp:127.0.0.1:5070"), 0);
	sip_txn_tp_dest(&d, &a, NULL);
	ASSERT_EQ(d.tp, SIP_TP_UDP);
	ASSERT(!d.reliable && !d.conn);
	ASSERT_EQ(d.addrlen, sizeof(d.addr.in));
	ASSERT_EQ(ntohs(d.addr.in.sin_port), 5070);
	ASSERT_EQ(sip_tp_addr_decode(&a, NULL, "tls:[::1]:5061"), 0);
	sip_txn_tp_dest(&d, &a, conn);
	ASSERT_EQ(d.tp, SIP_TP_TLS);
	ASSERT(d.reliable && d.conn == conn);
	ASSERT_EQ(d.addrlen, sizeof(d.addr.in6));
	ASSERT_EQ(ntohs(d.addr.in6.sin6_port), 5061);
	/* Borrowed: filling takes no reference. */
	ASSERT_EQ(obj_refs(conn), 1);

	memset(&rx, 0, sizeof(rx));
	rx.proto = SIP_TP_TCP;
	ASSERT_EQ(sip_tp_addr_decode(&rx.src, NULL, "tcp:127.0.0.1:40000"), 0);
	rx.conn = conn;
	sip_txn_tp_src(&d, &rx);
	ASSERT_EQ(d.tp, SIP_TP_TCP);
	ASSERT(d.reliable && d.conn == conn);
	ASSERT_EQ(ntohs(d.addr.in.sin_port), 40000);
	obj_deref(conn);
}

TEST(sip_txn_tp_layer_needs_a_transport)
{
	struct sip_txn_tp b = {0};
	struct sip_txn_layer *l = NULL;
	struct ev *ev = NULL;

	ASSERT_EQ(ev_alloc(&ev), 0);
	ASSERT_EQ(sip_txn_tp_layer_alloc(&l, ev, NULL, &b, NULL, NULL),
		  EINVAL);
	ASSERT_EQ(sip_txn_tp_layer_alloc(&l, ev, NULL, NULL, NULL, NULL),
		  EINVAL);
	ASSERT(!l);
	obj_deref(ev);
}

/* UDP: the 200 goes back to the request's source address and port. */
TEST(sip_txn_tp_udp_reply_goes_back_to_the_source)
{
	struct ev *ev = NULL;
	struct tpx uas;
	struct sip_tp_addr me;
	char buf[2048], *req;
	uint16_t from;
	int fd;

	ASSERT_EQ(ev_alloc(&ev), 0);
	tpx_init(&uas, ev);
	fd = raw_udp(&me);
	req = mkreq("OPTIONS", "z9hG4bKtp1", "127.0.0.1", 1, "OPTIONS", NULL);
	ASSERT_EQ(sendto(fd, req, strlen(req), 0, &uas.addr[0].u.sa,
			 sip_tp_addr_len(&uas.addr[0])),
		  (ssize_t)strlen(req));
	free(req);
	ASSERT(raw_recv(ev, fd, buf, sizeof(buf), &from) > 0);
	ASSERT(!strncmp(buf, "SIP/2.0 200 ", 12));
	ASSERT_EQ(from, sip_tp_addr_port(&uas.addr[0]));
	ASSERT_EQ(uas.requests, 1);
	close(fd);
	tpx_free(&uas);
	obj_deref(ev);
}

/*
 * TCP: the client transaction goes out on the connection it was given,
 * and the server's 200 comes back on the connection the request came on
 * (§18.2.2): neither side opens another.
 */
TEST(sip_txn_tp_tcp_client_on_its_connection_reply_on_the_same)
{
	struct ev *ev = NULL;
	struct tpx uas, uac;
	struct sip_tp_conn *conn = NULL;
	struct sip_txn_dest d;
	struct sip_txn *t;
	char *req;
	struct sip_txn_creq r = {.dst = &d};

	ASSERT_EQ(ev_alloc(&ev), 0);
	tpx_init(&uas, ev);
	tpx_init(&uac, ev);
	/* Two connections to the server: the transaction keeps to the
	 * second, not the first that a plain send would reuse. */
	ASSERT_EQ(sip_tp_conn_open(uac.tp, &uas.addr[1], NULL, &conn), 0);
	obj_deref(conn);
	ASSERT_EQ(sip_tp_conn_open(uac.tp, &uas.addr[1], NULL, &conn), 0);
	ASSERT_EQ(sip_tp_conn_count(uac.tp), 2);
	sip_txn_tp_dest(&d, &uas.addr[1], conn);
	req = mkreq("OPTIONS", "z9hG4bKtp2", "127.0.0.1", 1, "OPTIONS", NULL);
	pl_set_str(&r.branch, "z9hG4bKtp2");
	pl_set_str(&r.method, "OPTIONS");
	pl_set_str(&r.msg, req);
	ASSERT_EQ(sip_txn_client_start(&t, uac.l, &r, tpx_event, &uac), 0);
	free(req);
	tp_run_until(ev, &uac.responses, 1);
	ASSERT_EQ(uac.status, 200);
	ASSERT_EQ(uas.requests, 1);
	ASSERT(uas.req_conn);
	/* The request came on conn: the server's side of it has conn's
	 * local address as its peer. */
	ASSERT(sip_tp_addr_eq(sip_tp_conn_peer(uas.req_conn),
			      sip_tp_conn_local(conn)));
	ASSERT_EQ(sip_tp_stats(uas.tp)->conns_opened, 0);
	ASSERT_EQ(sip_tp_stats(uac.tp)->conns_opened, 2);
	ASSERT(sip_txn_dest(t)->conn == conn);
	obj_deref(t);
	obj_deref(conn);
	tpx_free(&uac);
	tpx_free(&uas);
	obj_deref(ev);
}

/* Two transports: requests leave from req_tp, responses from tp. */
TEST(sip_txn_tp_requests_leave_from_req_tp)
{
	struct ev *ev = NULL;
	struct tpx shared, own;
	struct sip_txn_tp b;
	struct sip_txn_dest d;
	struct sip_tp_addr peer;
	char buf[2048], *req, *resp;
	uint16_t from;
	int fd;

	ASSERT_EQ(ev_alloc(&ev), 0);
	tpx_init(&shared, ev);
	tpx_init(&own, ev);
	fd = raw_udp(&peer);
	b.tp = shared.tp;
	b.req_tp = own.tp;
	b.tls_name = NULL;
	sip_txn_tp_dest(&d, &peer, NULL);
	req = mkreq("OPTIONS", "z9hG4bKtp3", "127.0.0.1", 1, "OPTIONS", NULL);
	resp = mkresp(200, "z9hG4bKtp3", "OPTIONS");
	ASSERT_EQ(sip_txn_tp_send(&b, &d, req, strlen(req)), 0);
	ASSERT(raw_recv(ev, fd, buf, sizeof(buf), &from) > 0);
	ASSERT(!strncmp(buf, "OPTIONS ", 8));
	ASSERT_EQ(from, sip_tp_addr_port(&own.addr[0]));
	ASSERT_EQ(sip_txn_tp_send(&b, &d, resp, strlen(resp)), 0);
	ASSERT(raw_recv(ev, fd, buf, sizeof(buf), &from) > 0);
	ASSERT(!strncmp(buf, "SIP/2.0 200 ", 12));
	ASSERT_EQ(from, sip_tp_addr_port(&shared.addr[0]));
	/* One transport only: both from it. */
	b.req_tp = NULL;
	ASSERT_EQ(sip_txn_tp_send(&b, &d, req, strlen(req)), 0);
	ASSERT(raw_recv(ev, fd, buf, sizeof(buf), &from) > 0);
	ASSERT_EQ(from, sip_tp_addr_port(&shared.addr[0]));
	free(req);
	free(resp);
	close(fd);
	tpx_free(&own);
	tpx_free(&shared);
	obj_deref(ev);
}
