/* slfwd.c - the stateless relay of one worker thread (slfwd.h). */
#define LOG_MODULE "proxy-stateless"
#include "slfwd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hash.h"
#include "log.h"
#include "obj.h"
#include "sip_build.h"
#include "sip_uri.h"

#define LOCAL_MAX (SLCFG_MAX_LISTEN + 1)
#define OUT_MAX (SIP_MSG_MAX_SIZE + 4096)

struct local {
	struct sip_tp_addr addr;
	char ip[INET6_ADDRSTRLEN];
	size_t ip_len;
	uint16_t port;
};

struct slfwd {
	unsigned idx;
	const struct slcfg *cfg;
	struct dispatch_set *set;
	struct ev *ev;
	struct sip_tp *tp;
	pthread_t thread;
	bool started;
	struct buf out;
	uint64_t secret;
	struct hash_key tag_key; /* from secret: our To tags */
	struct local local[LOCAL_MAX];
	unsigned nlocal;
	/* Per outgoing transport: "SIP/2.0/UDP ip:port;branch=" and our
	 * Record-Route value "<sip:ip:port;transport=udp;lr>". */
	char via_pfx[SIP_TP_NPROTO][96];
	size_t via_pfx_len[SIP_TP_NPROTO];
	char rr[SIP_TP_NPROTO][128];
	size_t rr_len[SIP_TP_NPROTO];
	/* All workers, for responses that must leave on a connection
	 * another worker owns. */
	struct slfwd *const *peers;
	unsigned npeers;
	struct slfwd_stats st;
};

/* A response handed to the worker that owns the client's connection. */
struct handoff {
	struct slfwd *w;
	size_t len;
	char data[];
};

const uint16_t slfwd_sent_status[SLFWD_SENT_N] = {200, 400, 416, 420,
						  483, 503, 505, 0};

const char *slfwd_drop_name(enum slfwd_drop d)
{
	static const char *const names[SLFWD_DROP_COUNT] = {
		"stray_response", "bad_response", "bad_request",
		"no_route",	  "send",	  "edit",
	};

	return (unsigned)d < SLFWD_DROP_COUNT ? names[d] : "?";
}

/* The worker is the only writer: relaxed stores keep readers sane. */
#define INC(x) __atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)

static void count_sent(struct slfwd *w, uint16_t status)
{
	unsigned i;

	for (i = 0; i < SLFWD_SENT_N - 1; i++)
		if (slfwd_sent_status[i] == status)
			break;
	INC(w->st.sent[i]);
}

/* ------------------------------------------------------------------ */
/* Addresses                                                           */

/* A numeric host (IPv4, or IPv6 without brackets) and port to addr. */
static int ip_addr(const struct pl *host, uint16_t port,
		   enum sip_transport proto, struct sip_tp_addr *dst)
{
	char tmp[INET6_ADDRSTRLEN];

	if (host->l == 0 || host->l >= sizeof(tmp))
		return EINVAL;
	memcpy(tmp, host->p, host->l);
	tmp[host->l] = '\0';
	memset(dst, 0, sizeof(*dst));
	dst->proto = proto;
	if (inet_pton(AF_INET, tmp, &dst->u.in.sin_addr) == 1) {
		dst->u.in.sin_family = AF_INET;
		dst->u.in.sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, &dst->u.in6.sin6_addr) == 1) {
		dst->u.in6.sin6_family = AF_INET6;
		dst->u.in6.sin6_port = htons(port);
		return 0;
	}
	return EINVAL;
}

static uint16_t default_port(enum sip_transport proto)
{
	return proto == SIP_TP_TLS ? 5061 : 5060;
}

/* Never relay to broadcast, unspecified or multicast (RFC 4475 3.3.10). */
static bool unicast(const struct sip_tp_addr *a)
{
	if (a->u.sa.sa_family == AF_INET) {
		uint32_t ip = ntohl(a->u.in.sin_addr.s_addr);

		return ip != 0 && ip != 0xffffffffu &&
		       (ip & 0xf0000000u) != 0xe0000000u;
	}
	return !IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr) &&
	       !IN6_IS_ADDR_MULTICAST(&a->u.in6.sin6_addr);
}

/* §18.2.2: received, else sent-by; rport, else the sent-by port. */
static int via_dest(const struct sip_via *v, struct sip_tp_addr *dst)
{
	const struct pl *host = pl_isset(&v->received) ? &v->received
						       : &v->host;
	uint16_t port = v->rport  ? v->rport
			: v->port ? v->port
				  : default_port(v->tp);

	if (v->tp != SIP_TP_UDP && v->tp != SIP_TP_TCP && v->tp != SIP_TP_TLS)
		return EPROTONOSUPPORT;
	if (ip_addr(host, port, v->tp, dst) || !unicast(dst))
		return EINVAL;
	return 0;
}

static int uri_dest(const struct sip_uri *u, struct sip_tp_addr *dst)
{
	enum sip_transport proto = SIP_TP_UDP;

	if (u->scheme_id == SIP_URI_SIPS) {
		proto = SIP_TP_TLS;
	} else if (u->scheme_id != SIP_URI_SIP) {
		return EPROTONOSUPPORT;
	} else if (pl_isset(&u->transport)) {
		proto = sip_transport_decode(&u->transport);
		if (proto != SIP_TP_UDP && proto != SIP_TP_TCP &&
		    proto != SIP_TP_TLS)
			return EPROTONOSUPPORT;
	}
	if (ip_addr(&u->host, u->port ? u->port : default_port(proto), proto,
		    dst) ||
	    !unicast(dst))
		return EINVAL;
	return 0;
}

/* Whether addr (any transport) is one of our listeners. */
static bool is_local(const struct slfwd *w, const struct sip_tp_addr *a)
{
	unsigned i;

	for (i = 0; i < w->nlocal; i++) {
		const struct sip_tp_addr *l = &w->local[i].addr;

		if (l->u.sa.sa_family != a->u.sa.sa_family ||
		    sip_tp_addr_port(l) != sip_tp_addr_port(a))
			continue;
		if (a->u.sa.sa_family == AF_INET &&
		    l->u.in.sin_addr.s_addr == a->u.in.sin_addr.s_addr)
			return true;
		if (a->u.sa.sa_family == AF_INET6 &&
		    !memcmp(&l->u.in6.sin6_addr, &a->u.in6.sin6_addr,
			    sizeof(a->u.in6.sin6_addr)))
			return true;
	}
	return false;
}

static bool uri_is_local(const struct slfwd *w, const struct sip_uri *u)
{
	struct sip_tp_addr a;

	return !uri_dest(u, &a) && is_local(w, &a);
}

static bool route_is_local(const struct slfwd *w, const struct sip_hdr *h)
{
	struct sip_addr ra;
	struct sip_uri u;

	return !sip_addr_decode(&ra, &h->value) &&
	       !sip_uri_decode(&u, &ra.uri) && uri_is_local(w, &u);
}

/* The top Via of a response is ours: its sent-by is one of our
 * listeners (the branch is whatever we put there). */
static bool via_is_ours(const struct slfwd *w, const struct sip_via *v)
{
	uint16_t port = v->port ? v->port : default_port(v->tp);
	unsigned i;

	for (i = 0; i < w->nlocal; i++) {
		const struct local *l = &w->local[i];

		if (l->port == port && v->host.l == l->ip_len &&
		    !strncasecmp(v->host.p, l->ip, l->ip_len))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */

static int send_out(struct slfwd *w, const struct sip_tp_addr *dst)
{
	return sip_tp_send(w->tp, dst, w->out.data, w->out.len);
}

/* A stateless answer (§16.11: no transaction; §8.2.6). */
static void reply(struct slfwd *w, const struct sip_tp_rx *rx,
		  const struct sip_msg *msg, uint16_t status,
		  const char *reason, const struct pl *hdrs)
{
	struct sip_build_resp_opts o = {0};
	char tag[SIP_TAG_SIZE];
	uint64_t h;
	int err;

	/* The same tag for a retransmission of the same request. */
	h = hash_siphash(&w->tag_key, msg->buf, msg->len);
	snprintf(tag, sizeof(tag), "%016llx", (unsigned long long)h);
	pl_set_str(&o.to_tag, tag);
	if (hdrs)
		o.hdrs = *hdrs;
	buf_reset(&w->out);
	err = sip_build_response(&w->out, msg, status, reason, &o);
	if (!err)
		err = sip_tp_reply(rx, w->out.data, w->out.len);
	if (err) {
		INC(w->st.drop[SLFWD_DROP_SEND]);
		return;
	}
	count_sent(w, status);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

/* §18.2.1 received, RFC 3581 rport (always on streams: the response
 * must find the connection the request came on). */
static int via_mark(struct sip_edits *ed, const struct sip_tp_rx *rx)
{
	char ip[INET6_ADDRSTRLEN];
	size_t ip_len = sip_tp_addr_ip(&rx->src, ip);

	return sip_fwd_via_mark(ed, ip, ip_len, sip_tp_addr_port(&rx->src),
				rx->proto != SIP_TP_UDP);
}

static void unsupported_420(struct slfwd *w, const struct sip_tp_rx *rx,
			    const struct sip_msg *msg, const struct sip_hdr *h)
{
	char line[512];
	size_t n = 0;
	struct pl hdrs;

	/* §16.3 step 5, §20.37: every option we were asked for. */
	n = (size_t)snprintf(line, sizeof(line), "Unsupported: ");
	for (; h; h = sip_msg_hdr_next(msg, h)) {
		if (n + h->value.l + 5 > sizeof(line))
			break;
		if (n > 13) {
			memcpy(line + n, ", ", 2);
			n += 2;
		}
		memcpy(line + n, h->value.p, h->value.l);
		n += h->value.l;
	}
	memcpy(line + n, "\r\n", 2);
	hdrs.p = line;
	hdrs.l = n + 2;
	reply(w, rx, msg, 420, NULL, &hdrs);
}

static void no_hop_503(struct slfwd *w, const struct sip_tp_rx *rx,
		       const struct sip_msg *msg)
{
	char line[48];
	struct pl hdrs;

	snprintf(line, sizeof(line), "Retry-After: %u\r\n",
		 w->cfg->retry_after_s);
	pl_set_str(&hdrs, line);
	reply(w, rx, msg, 503, NULL, &hdrs);
}

static int add_rr(struct slfwd *w, struct sip_edits *ed, enum sip_transport in,
		  enum sip_transport out)
{
	struct pl v;
	int err;

	/* RFC 5658 double Record-Route when the two sides differ: the
	 * callee's route set starts with the top one (our side facing
	 * it), the caller's reversed set with the other. */
	v.p = w->rr[out];
	v.l = w->rr_len[out];
	err = sip_fwd_rr_add(ed, &v);
	if (err || in == out)
		return err;
	v.p = w->rr[in];
	v.l = w->rr_len[in];
	return sip_fwd_rr_add(ed, &v);
}

/*
 * §16.4: pops every Route value that is us (two with double
 * Record-Route), whole lines or the front of one, as edits in ed.
 * Returns 0 with *next the first Route left (or NULL), or an errno.
 */
static int pop_our_routes(struct slfwd *w, const struct sip_msg *msg,
			  struct sip_edits *ed, const struct sip_hdr **next)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_ROUTE);
	const struct sip_hdr *start = NULL;
	int err;

	while (h && route_is_local(w, h)) {
		const struct sip_hdr *nx = sip_msg_hdr_next(msg, h);
		size_t off, del;

		if (!start)
			start = h; /* the first value of its line */
		if (nx && nx->line_index == h->line_index &&
		    route_is_local(w, nx)) {
			h = nx;
			continue;
		}
		if (nx && nx->line_index == h->line_index) {
			off = (size_t)(start->value.p - msg->buf);
			del = (size_t)(nx->value.p - start->value.p);
		} else {
			off = (size_t)(start->line.p - msg->buf);
			del = start->line.l;
		}
		err = sip_edits_add(ed, off, del, NULL, 0);
		if (err)
			return err;
		start = NULL;
		h = nx;
	}
	*next = h;
	return 0;
}

/*
 * §16.6 step 8: our Via (stateless branch, §16.11) for a request that
 * leaves over proto, with the received/rport marks on the sender's.
 * Returns 0 or an errno.
 */
static int add_our_via(struct slfwd *w, struct sip_edits *ed,
		       const struct sip_tp_rx *rx, const struct sip_msg *msg,
		       enum sip_transport proto)
{
	char via[160];
	struct pl vpl;
	int err;

	err = via_mark(ed, rx);
	if (err)
		return err;
	memcpy(via, w->via_pfx[proto], w->via_pfx_len[proto]);
	err = sip_build_branch_stateless(via + w->via_pfx_len[proto], msg,
					 w->secret);
	if (err)
		return err;
	vpl.p = via;
	vpl.l = w->via_pfx_len[proto] + strlen(via + w->via_pfx_len[proto]);
	/* A stream belongs to this worker's transport: the response must
	 * come back here, whichever worker the next hop's answer reaches
	 * (SO_REUSEPORT spreads by address, not by request). */
	if (rx->proto != SIP_TP_UDP && w->npeers > 1)
		vpl.l += (size_t)snprintf(via + vpl.l, sizeof(via) - vpl.l,
					  ";pxw=%u", w->idx);
	return sip_fwd_via_add(ed, &vpl);
}

/*
 * Sends w->out to *dst; when that next hop (*hop, from the hash) is
 * plainly down, marks it so and tries the next choice for key once
 * (*dst and *hop follow).  Returns 0 or the send's errno.
 */
static int send_failover(struct slfwd *w, struct sip_tp_addr *dst,
			 const struct pl *key, int *hop)
{
	int err;

	err = send_out(w, dst);
	if (err && *hop >= 0 &&
	    (err == ECONNREFUSED || err == EHOSTUNREACH ||
	     err == ENETUNREACH || err == ECONNRESET)) {
		/* Passive failure signal: out now, the prober brings it
		 * back; the request goes to the next choice. */
		if (dispatch_set_up(w->set, (unsigned)*hop, false)) {
			INC(w->st.passive_down);
			log_warn("next hop %s down: %s",
				 w->set->hops[*hop].name, strerror(err));
		}
		*hop = dispatch_pick(w->set, key, true);
		if (*hop >= 0) {
			*dst = w->set->hops[*hop].addr;
			err = send_out(w, dst);
		}
	}
	return err;
}

static void on_request(struct slfwd *w, const struct sip_tp_rx *rx,
		       struct sip_msg *msg)
{
	struct sip_edits ed;
	struct sip_tp_addr dst;
	const struct sip_hdr *h;
	struct pl key = PL_INIT;
	struct sip_addr ra;
	struct sip_uri u;
	const char *why = NULL;
	uint16_t status = 0;
	bool ack, routed = false;
	int hop = -1, err;

	INC(w->st.req_in);
	ack = msg->method_id == SIP_METHOD_ACK;
	if (sip_msg_validate(msg, &status, &why)) {
		/* §16.3 step 1, RFC 4475: nothing invalid goes on. */
		if (ack || !status)
			INC(w->st.drop[SLFWD_DROP_BAD_REQ]);
		else
			reply(w, rx, msg, status, NULL, NULL);
		log_debug("invalid request: %s", why ? why : "?");
		return;
	}
	/* §16.3 step 5, not for ACK and CANCEL (§16.3 item 5 note). */
	h = sip_msg_hdr(msg, SIP_HDR_PROXY_REQUIRE);
	if (h && !ack && msg->method_id != SIP_METHOD_CANCEL) {
		unsupported_420(w, rx, msg, h);
		return;
	}
	/* §16.3 step 3. */
	if (msg->has_max_forwards && msg->max_forwards == 0) {
		if (ack)
			INC(w->st.drop[SLFWD_DROP_NO_ROUTE]);
		else
			reply(w, rx, msg, 483, NULL, NULL);
		return;
	}

	sip_edits_init(&ed, msg);
	err = pop_our_routes(w, msg, &ed, &h);
	if (err)
		goto edit_fail;
	/* §11: an OPTIONS to us (no user, no Route left) is a health
	 * probe of this proxy: answered here, not forwarded. */
	if (!h && msg->method_id == SIP_METHOD_OPTIONS &&
	    !pl_isset(&msg->to_tag) && !sip_uri_decode(&u, &msg->ruri) &&
	    !pl_isset(&u.user) && uri_is_local(w, &u)) {
		reply(w, rx, msg, 200, NULL, NULL);
		return;
	}
	/* §16.6 steps 6-7: the next Route, else an in-dialog request's
	 * Request-URI when it is somewhere else; a name we would have to
	 * resolve falls back to the hash (the second stage knows it). */
	if (h && !sip_addr_decode(&ra, &h->value) &&
	    !sip_uri_decode(&u, &ra.uri) && !uri_dest(&u, &dst)) {
		routed = true;
	} else if (pl_isset(&msg->to_tag) && !h &&
		   !sip_uri_decode(&u, &msg->ruri) && !uri_dest(&u, &dst) &&
		   !is_local(w, &dst)) {
		routed = true;
	}
	if (!routed) {
		if (dispatch_key(msg, w->cfg->hash, &key)) {
			if (ack)
				INC(w->st.drop[SLFWD_DROP_BAD_REQ]);
			else
				reply(w, rx, msg, 400, "Bad URI", NULL);
			return;
		}
		hop = dispatch_pick(w->set, &key, true);
		if (hop < 0) {
			if (ack)
				INC(w->st.drop[SLFWD_DROP_NO_ROUTE]);
			else
				no_hop_503(w, rx, msg);
			return;
		}
		dst = w->set->hops[hop].addr;
	}

	err = add_our_via(w, &ed, rx, msg, dst.proto);
	if (!err)
		err = sip_fwd_max_forwards_dec(&ed);
	if (!err && w->cfg->record_route && !pl_isset(&msg->to_tag) &&
	    msg->method_id != SIP_METHOD_REGISTER)
		err = add_rr(w, &ed, rx->proto, dst.proto);
	if (!err)
		err = sip_fwd_content_length(&ed);
	if (err)
		goto edit_fail;
	buf_reset(&w->out);
	err = sip_edits_apply(&ed, &w->out);
	if (err)
		goto edit_fail;
	err = send_failover(w, &dst, &key, &hop);
	if (err) {
		INC(w->st.drop[SLFWD_DROP_SEND]);
		return;
	}
	INC(w->st.fwd_req);
	/* An ACK gets no answer: only what should be answered counts as
	 * traffic given to the hop (slprobe.h). */
	if (hop >= 0 && !ack)
		dispatch_given(w->set, (unsigned)hop);
	if (hop >= 0)
		INC(w->st.fwd_hop[hop]);
	else
		INC(w->st.fwd_route);
	return;

edit_fail:
	log_debug("cannot edit request: %s", strerror(err));
	INC(w->st.drop[SLFWD_DROP_EDIT]);
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */

static void on_response(struct slfwd *w, struct sip_msg *msg);

static void on_handoff(void *arg)
{
	struct handoff *ho = arg;
	struct sip_msg msg;

	if (!sip_msg_decode(&msg, ho->data, ho->len, false))
		on_response(ho->w, &msg);
	free(ho);
}

/* Whether the response is another worker's to send (and was given to
 * it): our Via names the worker whose transport holds the stream. */
static bool handed_off(struct slfwd *w, const struct sip_msg *msg)
{
	struct handoff *ho;
	struct pl v;
	uint32_t i;

	if (w->npeers < 2 || sip_param_get(&msg->via.params, "pxw", &v) ||
	    pl_u32(&v, &i) || i == w->idx || i >= w->npeers)
		return false;
	ho = malloc(sizeof(*ho) + msg->len);
	if (!ho)
		return false;
	ho->w = w->peers[i];
	ho->len = msg->len;
	memcpy(ho->data, msg->buf, msg->len);
	if (ev_call(ho->w->ev, on_handoff, ho)) {
		free(ho);
		return false;
	}
	INC(w->st.handoffs);
	return true;
}

static void on_response(struct slfwd *w, struct sip_msg *msg)
{
	struct sip_edits ed;
	struct sip_tp_addr dst;
	const struct sip_hdr *h;
	struct sip_via next;
	uint16_t status;
	const char *why;
	int err;

	INC(w->st.resp_in);
	if (sip_msg_validate(msg, &status, &why)) {
		INC(w->st.drop[SLFWD_DROP_BAD_RESP]);
		return;
	}
	/* §16.7 step 1 for a stateless proxy (§16.11): not ours, drop. */
	if (!via_is_ours(w, &msg->via)) {
		INC(w->st.drop[SLFWD_DROP_STRAY]);
		return;
	}
	if (handed_off(w, msg))
		return;
	h = sip_msg_hdr(msg, SIP_HDR_VIA);
	h = h ? sip_msg_hdr_next(msg, h) : NULL;
	if (!h || sip_via_decode(&next, &h->value) || via_dest(&next, &dst)) {
		INC(w->st.drop[SLFWD_DROP_BAD_RESP]);
		return;
	}
	sip_edits_init(&ed, msg);
	err = sip_fwd_via_pop(&ed);
	if (!err)
		err = sip_fwd_content_length(&ed);
	buf_reset(&w->out);
	if (!err)
		err = sip_edits_apply(&ed, &w->out);
	if (err) {
		INC(w->st.drop[SLFWD_DROP_EDIT]);
		return;
	}
	/* §18.2.2: on a stream, sip_tp reuses the connection the request
	 * came in on (its peer is received:rport). */
	if (send_out(w, &dst)) {
		INC(w->st.drop[SLFWD_DROP_SEND]);
		return;
	}
	INC(w->st.fwd_resp);
}

void slfwd_handle(struct slfwd *w, const struct sip_tp_rx *rx)
{
	if (rx->msg->is_request) {
		on_request(w, rx, rx->msg);
		return;
	}
	/* A next hop that answers the traffic it is given is alive,
	 * whether or not it answers OPTIONS (slprobe.h). */
	dispatch_heard(w->set, &rx->src);
	on_response(w, rx->msg);
}

static void on_recv(const struct sip_tp_rx *rx, void *arg)
{
	slfwd_handle(arg, rx);
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */

static int add_local(struct slfwd *w, const struct sip_tp_addr *a)
{
	struct local *l;

	if (w->nlocal >= LOCAL_MAX)
		return EOVERFLOW;
	l = &w->local[w->nlocal++];
	l->addr = *a;
	l->port = sip_tp_addr_port(a);
	if (a->u.sa.sa_family == AF_INET)
		inet_ntop(AF_INET, &a->u.in.sin_addr, l->ip, sizeof(l->ip));
	else
		inet_ntop(AF_INET6, &a->u.in6.sin6_addr, l->ip, sizeof(l->ip));
	l->ip_len = strlen(l->ip);
	return 0;
}

static const struct local *local_for(const struct slfwd *w,
				     enum sip_transport proto)
{
	unsigned i;

	for (i = 0; i < w->nlocal; i++)
		if (w->local[i].addr.proto == proto)
			return &w->local[i];
	return &w->local[0];
}

static void make_strings(struct slfwd *w)
{
	static const char *const lower[SIP_TP_NPROTO] = {"", "udp", "tcp",
							 "tls"};
	enum sip_transport p;

	for (p = SIP_TP_UDP; (int)p < (int)SIP_TP_NPROTO; p++) {
		const struct local *l = local_for(w, p);
		bool v6 = l->addr.u.sa.sa_family == AF_INET6;
		int n;

		n = snprintf(
			w->via_pfx[p], sizeof(w->via_pfx[p]),
			"SIP/2.0/%s %s%s%s:%u;branch=", sip_transport_name(p),
			v6 ? "[" : "", l->ip, v6 ? "]" : "", l->port);
		w->via_pfx_len[p] = (size_t)n;
		n = snprintf(w->rr[p], sizeof(w->rr[p]),
			     "<%s:%s%s%s:%u;transport=%s;lr>",
			     p == SIP_TP_TLS ? "sips" : "sip", v6 ? "[" : "",
			     l->ip, v6 ? "]" : "", l->port, lower[p]);
		w->rr_len[p] = (size_t)n;
	}
}

int slfwd_alloc(struct slfwd **wp, unsigned idx, const struct slcfg *cfg,
		struct sip_tp_addr *listen, struct dispatch_set *set,
		struct sip_tp_tls *tls_server, struct sip_tp_tls *tls_client)
{
	struct sip_tp_opts o = {0};
	struct slfwd *w;
	struct sip_tp_addr bound, extra;
	unsigned i;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->idx = idx;
	w->cfg = cfg;
	w->set = set;
	buf_init(&w->out, OUT_MAX);
	if (getrandom(&w->secret, sizeof(w->secret), 0) != sizeof(w->secret))
		w->secret = (uint64_t)(uintptr_t)w ^ 0x9e3779b97f4a7c15ull;
	w->tag_key.k0 = hash_mix64(w->secret);
	w->tag_key.k1 = hash_mix64(~w->secret);
	err = ev_alloc(&w->ev);
	if (err)
		goto out;
	o.tls_server = tls_server;
	o.tls_client = tls_client;
	err = sip_tp_alloc(&w->tp, w->ev, &o, on_recv, w);
	if (err)
		goto out;
	for (i = 0; i < cfg->nlisten; i++) {
		char name[SIP_TP_ADDR_STRLEN];

		err = sip_tp_listen(w->tp, &listen[i], SIP_TP_REUSEPORT,
				    &bound);
		if (err) {
			sip_tp_addr_print(&listen[i], name, sizeof(name));
			log_err("cannot listen on %s: %s", name,
				strerror(err));
			goto out;
		}
		listen[i] = bound; /* port 0: the next workers share it */
		err = add_local(w, &bound);
		if (err)
			goto out;
	}
	/* UDP next hops need a UDP socket to send from. */
	if (!slcfg_uses(cfg, SIP_TP_UDP) ||
	    sip_tp_local(w->tp, SIP_TP_UDP, AF_UNSPEC, &bound) == 0)
		goto strings;
	extra = listen[0];
	extra.proto = SIP_TP_UDP;
	sip_tp_addr_set_port(&extra, 0);
	err = sip_tp_listen(w->tp, &extra, 0, &bound);
	if (!err)
		err = add_local(w, &bound);
	if (err) {
		log_err("cannot open a UDP socket for the next hops: %s",
			strerror(err));
		goto out;
	}
strings:
	make_strings(w);
	*wp = w;
	w = NULL;
out:
	slfwd_free(w);
	return err;
}

static void *run(void *arg)
{
	struct slfwd *w = arg;
	char name[16];
	int err;

	snprintf(name, sizeof(name), "worker%u", w->idx);
	pthread_setname_np(pthread_self(), name);
	err = ev_run(w->ev);
	if (err)
		log_err("worker %u: event loop: %s", w->idx, strerror(err));
	return NULL;
}

void slfwd_set_peers(struct slfwd *w, struct slfwd *const *peers, unsigned n)
{
	w->peers = peers;
	w->npeers = n;
}

int slfwd_start(struct slfwd *w)
{
	int err = pthread_create(&w->thread, NULL, run, w);

	if (!err)
		w->started = true;
	return err;
}

void slfwd_stop(struct slfwd *w)
{
	if (!w || !w->started)
		return;
	ev_stop(w->ev);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void slfwd_free(struct slfwd *w)
{
	if (!w)
		return;
	slfwd_stop(w);
	obj_deref(w->tp);
	obj_deref(w->ev);
	buf_free(&w->out);
	free(w);
}

void slfwd_stats_read(const struct slfwd *w, struct slfwd_stats *out)
{
	const uint64_t *src = (const uint64_t *)&w->st;
	uint64_t *dst = (uint64_t *)out;
	size_t i;

	for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

const struct sip_tp_stats *slfwd_tp_stats(const struct slfwd *w)
{
	return sip_tp_stats(w->tp);
}
