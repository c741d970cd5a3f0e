/* slprobe.c - OPTIONS probes and next-hop health (slprobe.h). */
#define LOG_MODULE "proxy-stateless"
#include "slprobe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "obj.h"
#include "sip_build.h"

struct probe_hop {
	struct slprobe *p;
	unsigned idx;
	int fd; /* UDP: a connected socket, so ICMP errors surface */
	struct sip_tp_conn *conn; /* TCP/TLS */
	bool outstanding;
	bool refused_now;     /* refused since the last tick */
	bool down_by_refusal; /* taken out by an ICMP error / connect */
	unsigned misses;
	uint32_t cseq;
	struct slprobe_hop_stats st;
};

struct slprobe {
	struct ev *ev;
	struct dispatch_set *set;
	uint64_t interval_ns;
	unsigned max_misses;
	struct sip_tp *tp; /* TCP/TLS probes */
	struct ev_timer timer;
	struct buf out;
	char call_id[64];
	struct probe_hop hops[DISPATCH_MAX_HOPS];
};

static void mark(struct probe_hop *h, bool up, const char *why)
{
	struct dispatch_hop *hop = &h->p->set->hops[h->idx];

	if (!dispatch_set_up(h->p->set, h->idx, up))
		return;
	if (up) {
		h->st.ups++;
		log_info("next hop %s up", hop->name);
	} else {
		h->st.downs++;
		log_warn("next hop %s down: %s", hop->name, why);
	}
}

static void answered(struct probe_hop *h)
{
	if (h->outstanding)
		h->st.answered++;
	h->outstanding = false;
	h->misses = 0;
	mark(h, true, NULL);
}

static void refused(struct probe_hop *h, int err)
{
	h->st.refused++;
	h->outstanding = false;
	h->refused_now = true;
	if (dispatch_is_up(h->p->set, h->idx))
		h->down_by_refusal = true;
	mark(h, false, strerror(err));
}

/* Any response to OPTIONS says the server is alive. */
static bool is_probe_answer(const char *data, size_t len)
{
	struct sip_msg msg;
	struct sip_cseq cseq;
	const struct sip_hdr *h;

	if (sip_msg_decode(&msg, data, len, false) || msg.is_request)
		return false;
	h = sip_msg_hdr(&msg, SIP_HDR_CSEQ);
	return h && !sip_cseq_decode(&cseq, &h->value) &&
	       cseq.method_id == SIP_METHOD_OPTIONS;
}

static void udp_readable(int fd, int events, void *arg)
{
	struct probe_hop *h = arg;
	char buf[4096];
	unsigned i;

	for (i = 0; i < 16; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH)
				refused(h, errno);
			return;
		}
		if (is_probe_answer(buf, (size_t)n))
			answered(h);
	}
}

static void tp_recv(const struct sip_tp_rx *rx, void *arg)
{
	struct slprobe *p = arg;
	int i;

	if (rx->msg->is_request)
		return;
	i = dispatch_find(p->set, &rx->src);
	if (i >= 0 && is_probe_answer(rx->msg->buf, rx->msg->len))
		answered(&p->hops[i]);
}

static int build(struct slprobe *p, struct probe_hop *h,
		 const struct sip_tp_addr *local)
{
	const struct dispatch_hop *hop = &p->set->hops[h->idx];
	struct sip_build_req r = {0};
	char ruri[128], hp[SIP_TP_ADDR_STRLEN], lhp[SIP_TP_ADDR_STRLEN];
	char via[160], branch[SIP_BRANCH_SIZE], tag[SIP_TAG_SIZE];
	char from[128], to[128];

	sip_tp_addr_hostport(&hop->addr, hp, sizeof(hp));
	if (!local || sip_tp_addr_hostport(local, lhp, sizeof(lhp)))
		snprintf(lhp, sizeof(lhp), "invalid.invalid:9");
	snprintf(ruri, sizeof(ruri), "sip:%s%s", hp,
		 hop->addr.proto == SIP_TP_TCP	 ? ";transport=tcp"
		 : hop->addr.proto == SIP_TP_TLS ? ";transport=tls"
						 : "");
	sip_build_branch(branch);
	sip_build_tag(tag);
	snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=%s;rport",
		 sip_transport_name(hop->addr.proto), lhp, branch);
	snprintf(from, sizeof(from), "<sip:probe@%s>", lhp);
	snprintf(to, sizeof(to), "<sip:%s>", hp);
	pl_set_str(&r.method, "OPTIONS");
	pl_set_str(&r.ruri, ruri);
	pl_set_str(&r.via, via);
	pl_set_str(&r.from, from);
	pl_set_str(&r.from_tag, tag);
	pl_set_str(&r.to, to);
	pl_set_str(&r.call_id, p->call_id);
	r.cseq = ++h->cseq & 0x7fffffff;
	buf_reset(&p->out);
	return sip_build_request(&p->out, &r);
}

static int udp_open(struct probe_hop *h)
{
	const struct sip_tp_addr *a = &h->p->set->hops[h->idx].addr;
	int fd, err;

	fd = socket(a->u.sa.sa_family,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (connect(fd, &a->u.sa, sip_tp_addr_len(a)) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	err = ev_fd_add(h->p->ev, fd, EV_READ, udp_readable, h);
	if (err) {
		close(fd);
		return err;
	}
	h->fd = fd;
	return 0;
}

static void probe_udp(struct slprobe *p, struct probe_hop *h)
{
	struct sip_tp_addr local;
	union {
		struct sockaddr sa;
		struct sockaddr_storage ss;
	} u;
	socklen_t len = sizeof(u);
	int err = 0;

	if (h->fd < 0)
		err = udp_open(h);
	if (err) {
		log_warn("probe socket: %s", strerror(err));
		return;
	}
	if (getsockname(h->fd, &u.sa, &len) < 0 ||
	    sip_tp_addr_set(&local, SIP_TP_UDP, &u.sa, len))
		err = build(p, h, NULL);
	else
		err = build(p, h, &local);
	if (err)
		return;
	h->outstanding = true;
	h->st.sent++;
	if (send(h->fd, p->out.data, p->out.len, MSG_DONTWAIT) < 0 &&
	    (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
	     errno == ENETUNREACH))
		refused(h, errno);
}

static void probe_stream(struct slprobe *p, struct probe_hop *h)
{
	const struct dispatch_hop *hop = &p->set->hops[h->idx];
	int err;

	if (h->conn && !sip_tp_conn_is_open(h->conn)) {
		/* Closed before it came up: the connect failed. */
		bool failed = !sip_tp_conn_is_established(h->conn);

		h->conn = obj_deref(h->conn);
		if (failed) {
			refused(h, ECONNREFUSED);
			return;
		}
	}
	if (!h->conn) {
		err = sip_tp_conn_get(p->tp, &hop->addr, hop->host, &h->conn);
		if (err) {
			refused(h, err);
			return;
		}
	}
	err = build(p, h,
		    sip_tp_conn_is_established(h->conn)
			    ? sip_tp_conn_local(h->conn)
			    : NULL);
	if (err)
		return;
	h->outstanding = true;
	h->st.sent++;
	if (sip_tp_conn_send(h->conn, p->out.data, p->out.len))
		h->conn = obj_deref(h->conn);
}

static void on_tick(void *arg)
{
	struct slprobe *p = arg;
	unsigned i;

	for (i = 0; i < p->set->n; i++) {
		struct probe_hop *h = &p->hops[i];

		bool given = dispatch_take_given(p->set, i);

		/* A hop that ignores OPTIONS and was out because it
		 * refused (not listening yet, restarted) gets traffic
		 * again once an interval passes without a refusal: its
		 * answers to that traffic then keep it (a trial: silence
		 * to given requests takes it out again). */
		if (!h->refused_now && h->down_by_refusal && !h->st.answered &&
		    !dispatch_is_up(p->set, i)) {
			h->down_by_refusal = false;
			h->misses = 0;
			mark(h, true, NULL);
		}
		h->refused_now = false;

		if (dispatch_take_heard(p->set, i)) {
			/* Passive: it answered relayed requests during the
			 * interval, so a missed OPTIONS is no sign of death
			 * (a server may not answer OPTIONS at all). */
			h->st.heard++;
			h->misses = 0;
			h->outstanding = false;
			mark(h, true, NULL);
		} else if (h->outstanding) {
			h->st.missed++;
			/* A hop that never answered OPTIONS is judged by
			 * the traffic it is given: silence counts only when
			 * it was given requests and answered none. */
			if ((h->st.answered || given) &&
			    ++h->misses >= p->max_misses)
				mark(h, false,
				     given ? "no answer to OPTIONS nor to "
					     "relayed requests"
					   : "no answer to OPTIONS");
		}
		if (p->set->hops[i].addr.proto == SIP_TP_UDP)
			probe_udp(p, h);
		else
			probe_stream(p, h);
	}
	ev_timer_start(p->ev, &p->timer, p->interval_ns, on_tick, p);
}

int slprobe_alloc(struct slprobe **pp, struct ev *ev, struct dispatch_set *set,
		  unsigned interval_ms, unsigned misses,
		  struct sip_tp_tls *tls_client)
{
	struct sip_tp_opts o = {0};
	struct slprobe *p;
	unsigned i;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->ev = ev;
	p->set = set;
	p->interval_ns = EV_MS(interval_ms);
	p->max_misses = misses ? misses : 1;
	buf_init(&p->out, 8192);
	ev_timer_init(&p->timer);
	for (i = 0; i < DISPATCH_MAX_HOPS; i++) {
		p->hops[i].p = p;
		p->hops[i].idx = i;
		p->hops[i].fd = -1;
	}
	err = sip_build_call_id(p->call_id, sizeof(p->call_id), "probe");
	if (err)
		goto out;
	o.tls_client = tls_client;
	o.tcp_connect_ns = EV_MS(interval_ms) > EV_MS(100) ? EV_MS(interval_ms)
							   : EV_MS(100);
	err = sip_tp_alloc(&p->tp, ev, &o, tp_recv, p);
	if (err)
		goto out;
	/* The first probes go out now: a hop that is down at start-up is
	 * found within K intervals, or at once when refused. */
	ev_timer_start(ev, &p->timer, 0, on_tick, p);
	*pp = p;
	p = NULL;
out:
	slprobe_free(p);
	return err;
}

void slprobe_free(struct slprobe *p)
{
	unsigned i;

	if (!p)
		return;
	ev_timer_cancel(p->ev, &p->timer);
	for (i = 0; i < DISPATCH_MAX_HOPS; i++) {
		if (p->hops[i].fd >= 0) {
			ev_fd_del(p->ev, p->hops[i].fd);
			close(p->hops[i].fd);
		}
		obj_deref(p->hops[i].conn);
	}
	obj_deref(p->tp);
	buf_free(&p->out);
	free(p);
}

const struct slprobe_hop_stats *slprobe_stats(const struct slprobe *p,
					      unsigned i)
{
	return &p->hops[i].st;
}
