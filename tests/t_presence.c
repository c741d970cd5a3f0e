/*
 * Tests of the presence agent of proxy-stateful: the PIDF reader and
 * composition directly, then the real binary with --presence driven by
 * a small user agent written here on libsip (real sockets, UDP and TCP:
 * it parses and checks every message it gets and answers NOTIFYs).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mariadb.h"
#include "pidf.h"
#include "proc.h"
#include "sip_auth.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "stack.h"
#include "test.h"

/* ------------------------------------------------------------------ */
/* PIDF                                                                */

#define NS_DM "urn:ietf:params:xml:ns:pidf:data-model"
#define NS_RPID "urn:ietf:params:xml:ns:pidf:rpid"

/* A tuple id, its basic status and a note; %s thrice. */
#define DOC_FMT                                                      \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"               \
	"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\n"          \
	" xmlns:dm=\"" NS_DM "\" xmlns:rpid=\"" NS_RPID "\"\n"       \
	" entity=\"sip:alice@example.com\">\n"                       \
	"<tuple id=\"%s\"><status><basic>%s</basic></status>"        \
	"<note>%s</note></tuple>\n"                                  \
	"<dm:person id=\"p1\"><rpid:activities><rpid:on-the-phone/>" \
	"</rpid:activities></dm:person>\n"                           \
	"<!-- kept out -->\n"                                        \
	"</presence>\n"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static const char *doc(char *buf, size_t size, const char *id,
		       const char *basic, const char *note)
{
	snprintf(buf, size, DOC_FMT, id, basic, note);
	return buf;
}
#pragma GCC diagnostic pop

TEST(presence_pidf_reads_tuples_and_rpid_elements)
{
	char b[2048];
	struct pidf_doc d;
	const char *x = doc(b, sizeof(b), "t1", "open", "in &amp; out");

	ASSERT_EQ(pidf_decode(&d, x, strlen(x)), 0);
	ASSERT_PL(&d.entity, "sip:alice@example.com");
	ASSERT_EQ(d.nns, 3);
	ASSERT_EQ(d.nelem, 2);
	ASSERT_EQ(d.ntuples, 1);
	ASSERT(d.elem[0].is_tuple);
	ASSERT_PL(&d.elem[0].id, "t1");
	ASSERT_PL(&d.elem[0].basic, "open");
	ASSERT(!d.elem[1].is_tuple);
	ASSERT_PL(&d.elem[1].local, "person");
	ASSERT_PL(&d.elem[1].id, "p1");
	ASSERT(pl_eq_str(&d.elem[1].xml, "<dm:person "
					 "id=\"p1\"><rpid:activities>"
					 "<rpid:on-the-phone/></"
					 "rpid:activities></dm:person>"));
	{
		/* A prefixed root, a tuple redeclaring a prefix. */
		const char *y = "<p:presence "
				"xmlns:p='urn:ietf:params:xml:ns:pidf' "
				"entity='pres:b@x'><p:tuple id='z' xmlns:p='"
				"urn:ietf:params:xml:ns:pidf'><p:status><p:"
				"basic> "
				"closed "
				"</p:basic></p:status></p:tuple></p:presence>";

		ASSERT_EQ(pidf_decode(&d, y, strlen(y)), 0);
		ASSERT_EQ(d.ntuples, 1);
		ASSERT_PL(&d.elem[0].basic, "closed");
		ASSERT_EQ(d.elem[0].own_ns, 1);
	}
}

TEST(presence_pidf_refuses_what_is_not_well_formed_pidf)
{
	static const char *bad[] = {
		"",
		"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a'>",
		"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a'>"
		"<tuple id='1'></tupl></presence>",
		"<presence xmlns='urn:other' entity='a'/>",
		"<presence xmlns='urn:ietf:params:xml:ns:pidf'/>",
		"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a'>"
		"<tuple><status/></tuple></presence>",
		"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a'>"
		"<x:y/></presence>",
		"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a'/>"
		"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a'/>",
		"<!DOCTYPE lol [<!ENTITY a 'aaaa'>]><presence xmlns='urn:"
		"ietf:params:xml:ns:pidf' entity='a'>&a;</presence>",
		"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a'>"
		"&nope;</presence>",
		"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a<'/>",
		"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a'"
		"id='x'/>",
		"junk<presence xmlns='urn:ietf:params:xml:ns:pidf' "
		"entity='a'/>",
		"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a'>"
		"<!-- never closed </presence>",
	};
	struct pidf_doc d;
	char deep[2048];
	size_t i, n = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(pidf_decode(&d, bad[i], strlen(bad[i])) == EBADMSG,
			   "accepted bad[%zu]", i);
	n += (size_t)snprintf(deep, sizeof(deep),
			      "<presence xmlns='urn:ietf:params:xml:ns:pidf'"
			      " entity='a'>");
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "<a>");
	ASSERT_EQ(pidf_decode(&d, deep, n), EOVERFLOW);
}

static bool only_t1(const struct pl *id, void *arg)
{
	(void)arg;
	return pl_eq_str(id, "t1");
}

TEST(presence_pidf_union_newest_tuple_wins_filter_and_namespaces_kept)
{
	char b1[2048], b2[2048], b3[1024];
	struct pidf_doc d1, d2, d3, u;
	const struct pidf_doc *docs[3];
	const char *x3 = "<presence xmlns='urn:ietf:params:xml:ns:pidf' "
			 "entity='a'>"
			 "<tuple id='t2'><status><basic>open</basic></status>"
			 "</tuple></presence>";
	struct buf out;

	doc(b1, sizeof(b1), "t1", "closed", "old");
	doc(b2, sizeof(b2), "t1", "open", "new");
	snprintf(b3, sizeof(b3), "%s", x3);
	ASSERT_EQ(pidf_decode(&d1, b1, strlen(b1)), 0);
	ASSERT_EQ(pidf_decode(&d2, b2, strlen(b2)), 0);
	ASSERT_EQ(pidf_decode(&d3, b3, strlen(b3)), 0);
	docs[0] = &d2; /* newest first */
	docs[1] = &d3;
	docs[2] = &d1;
	buf_init(&out, 65536);
	ASSERT_EQ(pidf_compose(&out, "sip:a&b@example.com", docs, 3, NULL,
			       NULL),
		  0);
	ASSERT_EQ(buf_append(&out, "", 1), 0);
	ASSERT(strstr(out.data, "entity=\"sip:a&amp;b@example.com\""));
	ASSERT(strstr(out.data, "<note>new</note>"));
	ASSERT(!strstr(out.data, "<note>old</note>"));
	ASSERT(strstr(out.data, "<tuple xmlns=\"urn:ietf:params:xml:ns:pidf\""
				" xmlns:dm=\"" NS_DM "\""));
	/* The union is PIDF again: t1 (new), p1 once, t2. */
	ASSERT_EQ(pidf_decode(&u, out.data, out.len - 1), 0);
	ASSERT_EQ(u.nelem, 3);
	ASSERT_EQ(u.ntuples, 2);
	ASSERT_PL(&u.elem[0].basic, "open");
	ASSERT_PL(&u.elem[2].id, "t2");
	/* The allow-list drops t2; nothing published: no tuple. */
	buf_reset(&out);
	ASSERT_EQ(pidf_compose(&out, "sip:a@b", docs, 3, only_t1, NULL), 0);
	ASSERT_EQ(pidf_decode(&u, out.data, out.len), 0);
	ASSERT_EQ(u.ntuples, 1);
	ASSERT_PL(&u.elem[0].id, "t1");
	buf_reset(&out);
	ASSERT_EQ(pidf_compose(&out, "sip:a@b", docs, 0, NULL, NULL), 0);
	ASSERT_EQ(pidf_decode(&u, out.data, out.len), 0);
	ASSERT_EQ(u.nelem, 0);
	buf_free(&out);
	{
		struct pl c1 = PL("Application/PIDF+XML; charset=utf-8"),
			  c2 = PL("application/xpidf+xml");

		ASSERT(pidf_is_ctype(&c1));
		ASSERT(!pidf_is_ctype(&c2));
	}
}

/* ------------------------------------------------------------------ */
/* A user agent on libsip                                              */

#define QMAX 16

struct rx {
	char *raw;
	size_t len;
	struct sip_msg m;
};

struct ua {
	int fd;
	bool tcp;
	uint16_t lport, sport;
	struct sockaddr_in srv, last_src;
	char in[70000];
	size_t inlen;
	struct rx q[QMAX]; /* NOTIFYs received, oldest first */
	size_t nq;
	struct rx resp;		/* the last response */
	uint16_t notify_status; /* what NOTIFYs get: 200 */
	unsigned cseq;
	char user[32], call_id[64], tag[32], peer_tag[64], etag[64];
	struct sip_auth_client *auth;
};

static void rx_free(struct rx *r)
{
	free(r->raw);
	r->raw = NULL;
}

static void ua_open(struct ua *u, bool tcp, uint16_t port, const char *user)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);

	memset(u, 0, sizeof(*u));
	u->tcp = tcp;
	u->notify_status = 200;
	snprintf(u->user, sizeof(u->user), "%s", user);
	snprintf(u->tag, sizeof(u->tag), "tag-%s-%u", user, port);
	u->srv.sin_family = AF_INET;
	u->srv.sin_port = htons(port);
	u->srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	u->fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	ASSERT(u->fd >= 0);
	memset(&me, 0, sizeof(me));
	me.sin_family = AF_INET;
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(bind(u->fd, (struct sockaddr *)&me, sizeof(me)), 0);
	if (tcp)
		ASSERT_EQ(connect(u->fd, (struct sockaddr *)&u->srv,
				  sizeof(u->srv)),
			  0);
	ASSERT_EQ(getsockname(u->fd, (struct sockaddr *)&me, &len), 0);
	u->lport = ntohs(me.sin_port);
	u->sport = port;
}

static void ua_close(struct ua *u)
{
	size_t i;

	for (i = 0; i < u->nq; i++)
		rx_free(&u->q[i]);
	rx_free(&u->resp);
	sip_auth_client_free(u->auth);
	close(u->fd);
}

static void ua_send_raw(struct ua *u, const char *b, size_t l,
			const struct sockaddr_in *to)
{
	if (u->tcp)
		ASSERT_EQ(send(u->fd, b, l, MSG_NOSIGNAL), (ssize_t)l);
	else
		ASSERT_EQ(sendto(u->fd, b, l, 0, (const struct sockaddr *)to,
				 sizeof(*to)),
			  (ssize_t)l);
}

/* The next message within ms, copied into *r (decoded, validated). */
static bool ua_recv(struct ua *u, struct rx *r, int ms)
{
	uint64_t end;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 +
	      (uint64_t)ms;
	for (;;) {
		struct pollfd pfd = {u->fd, POLLIN, 0};
		uint64_t now;
		ssize_t n;
		uint16_t st;
		const char *why;

		if (u->tcp && u->inlen) {
			size_t skip = sip_msg_skip_crlf(u->in, u->inlen);
			struct sip_msg m;
			int err;

			memmove(u->in, u->in + skip, u->inlen - skip);
			u->inlen -= skip;
			err = u->inlen ? sip_msg_decode(&m, u->in, u->inlen,
							true)
				       : ENODATA;
			if (!err) {
				r->len = m.len;
				r->raw = malloc(m.len);
				ASSERT(r->raw);
				memcpy(r->raw, u->in, m.len);
				memmove(u->in, u->in + m.len,
					u->inlen - m.len);
				u->inlen -= m.len;
				ASSERT_EQ(sip_msg_decode(&r->m, r->raw, r->len,
							 true),
					  0);
				ASSERT_EQ(sip_msg_validate(&r->m, &st, &why),
					  0);
				return true;
			}
			ASSERT_EQ(err, ENODATA);
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000 +
		      (uint64_t)ts.tv_nsec / 1000000;
		if (now >= end || poll(&pfd, 1, (int)(end - now)) != 1)
			return false;
		if (u->tcp) {
			n = recv(u->fd, u->in + u->inlen,
				 sizeof(u->in) - u->inlen, 0);
			ASSERT_MSG(n > 0, "server closed the connection");
			u->inlen += (size_t)n;
			continue;
		}
		{
			socklen_t sl = sizeof(u->last_src);

			n = recvfrom(u->fd, u->in, sizeof(u->in), 0,
				     (struct sockaddr *)&u->last_src, &sl);
		}
		ASSERT(n > 0);
		r->len = (size_t)n;
		r->raw = malloc(r->len);
		ASSERT(r->raw);
		memcpy(r->raw, u->in, r->len);
		ASSERT_EQ(sip_msg_decode(&r->m, r->raw, r->len, false), 0);
		ASSERT_EQ(sip_msg_validate(&r->m, &st, &why), 0);
		return true;
	}
}

/* Answers a NOTIFY with u->notify_status and queues it. */
static void ua_take_notify(struct ua *u, struct rx *r)
{
	struct sip_build_resp_opts ro;
	struct buf out;

	memset(&ro, 0, sizeof(ro));
	buf_init(&out, 70000);
	ASSERT_EQ(sip_build_response(&out, &r->m, u->notify_status, NULL, &ro),
		  0);
	ua_send_raw(u, out.data, out.len, &u->last_src);
	buf_free(&out);
	ASSERT(u->nq < QMAX);
	u->q[u->nq++] = *r;
}

/* Waits for the final response to our last request (NOTIFYs that
 * come meanwhile are answered and queued); returns its status or 0. */
static int ua_wait_final(struct ua *u, int ms)
{
	struct rx r;

	while (ua_recv(u, &r, ms)) {
		if (r.m.is_request) {
			ASSERT_EQ(r.m.method_id, SIP_METHOD_NOTIFY);
			ua_take_notify(u, &r);
			continue;
		}
		if (r.m.status < 200 || r.m.cseq.num != u->cseq) {
			rx_free(&r);
			continue;
		}
		rx_free(&u->resp);
		u->resp = r;
		return r.m.status;
	}
	return 0;
}

/* The next NOTIFY (queued or within ms), or NULL; caller rx_free()s. */
static bool ua_notify(struct ua *u, struct rx *out, int ms)
{
	struct rx r;

	if (!u->nq) {
		while (ua_recv(u, &r, ms)) {
			if (r.m.is_request &&
			    r.m.method_id == SIP_METHOD_NOTIFY) {
				ua_take_notify(u, &r);
				break;
			}
			rx_free(&r);
		}
	}
	if (!u->nq)
		return false;
	*out = u->q[0];
	memmove(&u->q[0], &u->q[1], (u->nq - 1) * sizeof(u->q[0]));
	u->nq--;
	return true;
}

/* The value of the first header id of the last response, as a string. */
static const char *hdr_str(const struct sip_msg *m, enum sip_hdr_id id,
			   char *buf, size_t size)
{
	const struct sip_hdr *h = sip_msg_hdr(m, id);

	if (!h || pl_strcpy(&h->value, buf, size))
		return "";
	return buf;
}

/*
 * Sends a request of ours: method to user@example.com, extra header
 * lines, a body (NULL: none), in the current dialog when peer_tag is
 * set.  Answers a 401 once with digest credentials when u->auth is set.
 * Returns the final status.
 */
static int ua_request(struct ua *u, const char *method, const char *to_user,
		      const char *extra, const char *ctype, const char *body)
{
	char ruri[128], via[128], from[128], to[136], contact[128];
	char branch[SIP_BRANCH_SIZE], hdrs[2048];
	struct buf out, cred;
	struct sip_build_req r;
	int status, tries;

	snprintf(ruri, sizeof(ruri), "sip:%s@example.com", to_user);
	snprintf(from, sizeof(from), "<sip:%s@example.com>", u->user);
	snprintf(to, sizeof(to), "<%s>", ruri);
	snprintf(contact, sizeof(contact), "<sip:%s@127.0.0.1:%u%s>", u->user,
		 u->lport, u->tcp ? ";transport=tcp" : "");
	if (!u->call_id[0])
		snprintf(u->call_id, sizeof(u->call_id), "%s-%s-%u@test",
			 method, u->user, u->lport);
	for (tries = 0; tries < 2; tries++) {
		sip_build_branch(branch);
		snprintf(via, sizeof(via), "SIP/2.0/%s 127.0.0.1:%u;branch=%s",
			 u->tcp ? "TCP" : "UDP", u->lport, branch);
		buf_init(&cred, 4096);
		snprintf(hdrs, sizeof(hdrs), "%s", extra ? extra : "");
		if (u->auth && sip_auth_client_ready(u->auth)) {
			struct pl m, ru;

			pl_set_str(&m, method);
			pl_set_str(&ru, ruri);
			ASSERT_EQ(buf_append_str(&cred, "Authorization: "), 0);
			ASSERT_EQ(sip_auth_client_print(u->auth, &cred, &m,
							&ru),
				  0);
			ASSERT_EQ(buf_append(&cred, "\r\n", 3), 0);
			strncat(hdrs, cred.data,
				sizeof(hdrs) - strlen(hdrs) - 1);
		}
		buf_free(&cred);
		memset(&r, 0, sizeof(r));
		pl_set_str(&r.method, method);
		pl_set_str(&r.ruri, ruri);
		pl_set_str(&r.via, via);
		pl_set_str(&r.from, from);
		pl_set_str(&r.from_tag, u->tag);
		pl_set_str(&r.to, to);
		pl_set_str(&r.to_tag, u->peer_tag);
		pl_set_str(&r.call_id, u->call_id);
		r.cseq = ++u->cseq;
		pl_set_str(&r.contact, contact);
		pl_set_str(&r.hdrs, hdrs);
		if (body) {
			pl_set_str(&r.ctype, ctype);
			pl_set_str(&r.body, body);
		}
		buf_init(&out, 70000);
		ASSERT_EQ(sip_build_request(&out, &r), 0);
		ua_send_raw(u, out.data, out.len, &u->srv);
		buf_free(&out);
		status = ua_wait_final(u, 3000);
		if (status != 401 || !u->auth)
			return status;
		{
			const struct sip_hdr *h = sip_msg_hdr(
				&u->resp.m, SIP_HDR_WWW_AUTHENTICATE);
			struct sip_auth_challenge ch;

			ASSERT(h);
			ASSERT_EQ(sip_auth_challenge_decode(&ch, &h->value),
				  0);
			ASSERT_EQ(sip_auth_client_challenge(u->auth, &ch), 0);
		}
	}
	return status;
}

/* SUBSCRIBE (initial or in the dialog) with Expires; the status. */
static int ua_subscribe(struct ua *u, const char *to_user, unsigned expires)
{
	char extra[256];
	int s;

	snprintf(extra, sizeof(extra),
		 "Event: presence\r\nAccept: application/pidf+xml\r\n"
		 "Expires: %u\r\n",
		 expires);
	s = ua_request(u, "SUBSCRIBE", to_user, extra, NULL, NULL);
	if (s == 200 && !u->peer_tag[0])
		ASSERT_EQ(pl_strcpy(&u->resp.m.to_tag, u->peer_tag,
				    sizeof(u->peer_tag)),
			  0);
	return s;
}

/* PUBLISH with a body (NULL: a refresh), If-Match from u->etag when
 * set; keeps the new ETag. */
static int ua_publish(struct ua *u, const char *to_user, unsigned expires,
		      const char *ctype, const char *body)
{
	char extra[256], v[64];
	int s;

	snprintf(extra, sizeof(extra), "Event: presence\r\nExpires: %u\r\n",
		 expires);
	if (u->etag[0])
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			 "SIP-If-Match: %s\r\n", u->etag);
	u->call_id[0] = '\0'; /* every PUBLISH its own Call-ID */
	s = ua_request(u, "PUBLISH", to_user, extra,
		       ctype ? ctype : PIDF_CTYPE, body);
	if (s == 200)
		snprintf(u->etag, sizeof(u->etag), "%s",
			 hdr_str(&u->resp.m, SIP_HDR_SIP_ETAG, v, sizeof(v)));
	return s;
}

/* The body of a NOTIFY as a string (in buf). */
static const char *body_str(const struct rx *r, char *buf, size_t size)
{
	if (pl_strcpy(&r->m.body, buf, size))
		return "";
	return buf;
}

/* Expects a NOTIFY within ms whose Subscription-State starts with
 * state and whose body contains want (NULL: no body); returns its
 * Subscription-State in sstate. */
static void expect_notify(struct ua *u, int ms, const char *state,
			  const char *want, const char *not_want)
{
	struct rx r;
	char v[256], b[8192];
	const char *ss;

	ASSERT_MSG(ua_notify(u, &r, ms), "%s: no NOTIFY (want %s)", u->user,
		   state);
	ss = hdr_str(&r.m, SIP_HDR_SUBSCRIPTION_STATE, v, sizeof(v));
	ASSERT_MSG(!strncmp(ss, state, strlen(state)),
		   "%s: Subscription-State '%s', want '%s'", u->user, ss,
		   state);
	ASSERT_STR(hdr_str(&r.m, SIP_HDR_EVENT, v, sizeof(v)), "presence");
	ASSERT(pl_eq_str(&r.m.from_tag, u->peer_tag));
	ASSERT(pl_eq_str(&r.m.to_tag, u->tag));
	ASSERT(pl_eq_str(&r.m.call_id, u->call_id));
	body_str(&r, b, sizeof(b));
	if (want) {
		struct pidf_doc d;

		ASSERT_STR(hdr_str(&r.m, SIP_HDR_CONTENT_TYPE, v, sizeof(v)),
			   PIDF_CTYPE);
		ASSERT_MSG(pidf_decode(&d, r.m.body.p, r.m.body.l) == 0,
			   "NOTIFY body is not PIDF: %s", b);
		ASSERT_MSG(strstr(b, want), "%s: body lacks '%s': %s", u->user,
			   want, b);
	} else {
		ASSERT_MSG(!r.m.body.l, "unexpected body %s", b);
	}
	if (not_want)
		ASSERT_MSG(!strstr(b, not_want), "%s: body has '%s': %s",
			   u->user, not_want, b);
	rx_free(&r);
}

/* ------------------------------------------------------------------ */
/* End to end                                                          */

/* users.txt: alice, bob with password "pw-<name>", auth required. */
static void write_users(void)
{
	static const char *const names[] = {"alice", "bob"};

	stack_write_users_named(names, 2, 1);
}

/* stats.presence.<obj>.<key>, or stats.presence.<key> with obj NULL. */
static long long pres_stat(struct proc *p, const char *obj, const char *key)
{
	json_t *r = proc_cmd(p, "stats", NULL, 3000), *o;
	long long v;

	ASSERT_MSG(r, "no stats reply");
	o = json_object_get(r, "presence");
	ASSERT_MSG(o, "no presence object in stats");
	if (obj)
		o = json_object_get(o, obj);
	ASSERT_MSG(json_is_integer(json_object_get(o, key)), "no %s.%s",
		   obj ? obj : "", key);
	v = json_integer_value(json_object_get(o, key));
	json_decref(r);
	return v;
}

/* Waits up to ms for a presence counter to reach want. */
static void wait_stat(struct proc *p, const char *obj, const char *key,
		      long long want, int ms)
{
	long long v = -1;
	int i;

	for (i = 0; i < ms / 50; i++) {
		v = pres_stat(p, obj, key);
		if (v == want)
			return;
		usleep(50000);
	}
	ASSERT_MSG(v == want, "presence %s.%s: %lld, want %lld",
		   obj ? obj : "", key, v, want);
}

static void subscribe_basics(bool tcp)
{
	struct proc p;
	struct ua w;
	uint16_t port = proc_free_port();
	const char *extra[] = {"--presence-min-expires", "10", NULL};
	char v[256];

	stack_start_stateful(&p, port, true, extra);
	ua_open(&w, tcp, port, "bob");
	ASSERT_EQ(ua_subscribe(&w, "alice", 120), 200);
	/* The 200: our dialog's To tag, Expires, a Contact. */
	ASSERT(w.peer_tag[0]);
	ASSERT_STR(hdr_str(&w.resp.m, SIP_HDR_EXPIRES, v, sizeof(v)), "120");
	ASSERT(strstr(hdr_str(&w.resp.m, SIP_HDR_CONTACT, v, sizeof(v)), "sip:"
									 "alic"
									 "e@"
									 "127."
									 "0.0."
									 "1"
									 ":"));
	/* The immediate NOTIFY: nothing published yet. */
	expect_notify(&w, 3000, "active;expires=1",
		      "entity=\"sip:alice@"
		      "example.com\"",
		      "<tuple");
	/* Expires above the maximum is capped, below the minimum 423. */
	{
		struct ua x;

		ua_open(&x, tcp, port, "carol");
		ASSERT_EQ(ua_subscribe(&x, "alice", 5), 423);
		ASSERT_STR(hdr_str(&x.resp.m, SIP_HDR_MIN_EXPIRES, v,
				   sizeof(v)),
			   "10");
		ASSERT_EQ(ua_subscribe(&x, "alice", 99999), 200);
		ASSERT_STR(hdr_str(&x.resp.m, SIP_HDR_EXPIRES, v, sizeof(v)),
			   "3600");
		expect_notify(&x, 3000, "active;expires=3", "<presence", NULL);
		ua_close(&x);
	}
	/* Another package: 489 with Allow-Events. */
	{
		struct ua y;

		ua_open(&y, tcp, port, "dave");
		ASSERT_EQ(ua_request(&y, "SUBSCRIBE", "alice",
				     "Event: foo\r\nExpires: 60\r\n", NULL,
				     NULL),
			  489);
		ASSERT_STR(hdr_str(&y.resp.m, SIP_HDR_ALLOW_EVENTS, v,
				   sizeof(v)),
			   "presence");
		ASSERT_EQ(ua_request(&y, "PUBLISH", "alice",
				     "Event: foo\r\nExpires: 60\r\n",
				     PIDF_CTYPE, "<x/>"),
			  489);
		ua_close(&y);
	}
	ASSERT_EQ(pres_stat(&p, NULL, "subscriptions"), 2);
	ASSERT_EQ(pres_stat(&p, "subscribe", "new"), 2);
	ASSERT_EQ(pres_stat(&p, "notify", "sent"), 2);
	wait_stat(&p, "notify", "answered", 2, 3000);
	ua_close(&w);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(presence_subscribe_200_then_notify_423_489_udp, 20)
{
	subscribe_basics(false);
}

TEST_TIMEOUT(presence_subscribe_200_then_notify_423_489_tcp, 20)
{
	subscribe_basics(true);
}

#define W 3

static void publish_fanout(bool tcp)
{
	static const char *names[W] = {"bob", "carol", "dave"};
	struct proc p;
	struct ua w[W], pub, pub2;
	uint16_t port = proc_free_port();
	char b[2048], old_etag[64];
	size_t i;

	stack_start_stateful(&p, port, true, NULL);
	for (i = 0; i < W; i++) {
		ua_open(&w[i], tcp, port, names[i]);
		ASSERT_EQ(ua_subscribe(&w[i], "alice", 600), 200);
		expect_notify(&w[i], 3000, "active", "<presence", "<tuple");
	}
	ua_open(&pub, tcp, port, "alice");
	/* Initial publication: every watcher sees the tuple and RPID. */
	ASSERT_EQ(ua_publish(&pub, "alice", 600, NULL,
			     doc(b, sizeof(b), "t1", "open", "first")),
		  200);
	ASSERT(strlen(pub.etag) >= 8);
	for (i = 0; i < W; i++) {
		expect_notify(&w[i], 3000, "active", "<basic>open</basic>",
			      NULL);
	}
	/* The person element of RPID made it too (checked once here,
	 * on a fresh change, for one watcher at least). */
	snprintf(old_etag, sizeof(old_etag), "%s", pub.etag);
	/* Modify: a new ETag, new bodies. */
	ASSERT_EQ(ua_publish(&pub, "alice", 600, NULL,
			     doc(b, sizeof(b), "t1", "closed", "second")),
		  200);
	ASSERT(strcmp(pub.etag, old_etag));
	for (i = 0; i < W; i++)
		expect_notify(&w[i], 3000, "active", "<note>second</note>",
			      "<note>first</note>");
	/* A second source: the union has both tuples and the person. */
	ua_open(&pub2, tcp, port, "alice");
	ASSERT_EQ(ua_publish(&pub2, "alice", 600, NULL,
			     doc(b, sizeof(b), "t2", "open", "phone")),
		  200);
	for (i = 0; i < W; i++) {
		struct rx r;
		struct pidf_doc d;

		ASSERT(ua_notify(&w[i], &r, 3000));
		ASSERT_EQ(pidf_decode(&d, r.m.body.p, r.m.body.l), 0);
		ASSERT_EQ(d.ntuples, 2);
		/* person p1 of the newer one only (newest per id) */
		ASSERT_EQ(d.nelem, 3);
		ASSERT_PL(&d.elem[0].id, "t2");
		ASSERT_PL(&d.elem[1].id, "p1");
		ASSERT(strstr(d.elem[1].xml.p, "rpid:on-the-phone"));
		ASSERT_PL(&d.elem[2].basic, "closed");
		rx_free(&r);
	}
	/* Refresh: no body, a new ETag, no NOTIFY. */
	snprintf(old_etag, sizeof(old_etag), "%s", pub.etag);
	ASSERT_EQ(ua_publish(&pub, "alice", 600, NULL, NULL), 200);
	ASSERT(strcmp(pub.etag, old_etag));
	/* The old one is gone: 412 (RFC 3903 §6 step 3). */
	snprintf(pub.etag, sizeof(pub.etag), "%s", old_etag);
	ASSERT_EQ(ua_publish(&pub, "alice", 600, NULL, NULL), 412);
	snprintf(pub.etag, sizeof(pub.etag), "no-such-etag");
	ASSERT_EQ(ua_publish(&pub, "alice", 600, NULL,
			     doc(b, sizeof(b), "t1", "open", "x")),
		  412);
	/* Bad bodies: 400 and 415, state unchanged. */
	pub.etag[0] = '\0';
	ASSERT_EQ(ua_publish(&pub, "alice", 600, NULL,
			     "<presence><tuple id='x'></presence>"),
		  400);
	ASSERT_EQ(ua_publish(&pub, "alice", 600, "text/plain", "hello"), 415);
	ASSERT_EQ(ua_publish(&pub, "alice", 600, NULL, NULL), 400);
	for (i = 0; i < W; i++) {
		struct rx r;

		ASSERT_MSG(!ua_notify(&w[i], &r, 300), "a NOTIFY without a "
						       "change");
	}
	/* Remove the second source: t2 goes, t1 stays. */
	ASSERT_EQ(ua_publish(&pub2, "alice", 0, NULL, NULL), 200);
	for (i = 0; i < W; i++)
		expect_notify(&w[i], 3000, "active", "<basic>closed</basic>",
			      "id=\"t2\"");
	ASSERT_EQ(pres_stat(&p, NULL, "publications"), 1);
	ASSERT_EQ(pres_stat(&p, "publish", "initial"), 2);
	ASSERT_EQ(pres_stat(&p, "publish", "modified"), 1);
	ASSERT_EQ(pres_stat(&p, "publish", "refreshed"), 1);
	ASSERT_EQ(pres_stat(&p, "publish", "removed"), 1);
	ASSERT_EQ(pres_stat(&p, "publish", "unknown_etag"), 2);
	ASSERT_EQ(pres_stat(&p, "publish", "rejected"), 3);
	/* 3 initial + 4 changes, to each of W. */
	ASSERT_EQ(pres_stat(&p, "notify", "sent"), W * 5);
	wait_stat(&p, "notify", "answered", W * 5, 3000);
	for (i = 0; i < W; i++)
		ua_close(&w[i]);
	ua_close(&pub);
	ua_close(&pub2);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(presence_publish_notifies_3_watchers_udp, 30)
{
	publish_fanout(false);
}

TEST_TIMEOUT(presence_publish_notifies_3_watchers_tcp, 30)
{
	publish_fanout(true);
}

static void lifecycle(bool tcp)
{
	struct proc p;
	struct ua w, x;
	uint16_t port = proc_free_port();
	char saved[64];

	stack_start_stateful(&p, port, true, NULL);
	ua_open(&w, tcp, port, "bob");
	ASSERT_EQ(ua_subscribe(&w, "alice", 2), 200);
	expect_notify(&w, 3000, "active;expires=", "<presence", NULL);
	/* Refresh in the dialog: 200 and a NOTIFY with the new expiry. */
	ASSERT_EQ(ua_subscribe(&w, "alice", 300), 200);
	expect_notify(&w, 3000, "active;expires=30", "<presence", NULL);
	/* An unknown dialog: 481. */
	snprintf(saved, sizeof(saved), "%s", w.peer_tag);
	snprintf(w.peer_tag, sizeof(w.peer_tag), "not-our-tag");
	ASSERT_EQ(ua_subscribe(&w, "alice", 300), 481);
	snprintf(w.peer_tag, sizeof(w.peer_tag), "%s", saved);
	/* Unsubscribe: 200 and terminated. */
	ASSERT_EQ(ua_subscribe(&w, "alice", 0), 200);
	expect_notify(&w, 3000, "terminated;reason=timeout", "<presence",
		      NULL);
	ASSERT_EQ(ua_subscribe(&w, "alice", 300), 481);
	wait_stat(&p, NULL, "subscriptions", 0, 2000);
	/* Expiry: a short subscription ends with reason=timeout. */
	ua_open(&x, tcp, port, "carol");
	ASSERT_EQ(ua_subscribe(&x, "alice", 1), 200);
	expect_notify(&x, 3000, "active;expires=1", "<presence", NULL);
	expect_notify(&x, 4000, "terminated;reason=timeout", NULL, NULL);
	wait_stat(&p, NULL, "subscriptions", 0, 2000);
	/* A fetch (RFC 6665 §4.4.3): the state, terminated at once. */
	{
		struct ua f;

		ua_open(&f, tcp, port, "erin");
		ASSERT_EQ(ua_subscribe(&f, "alice", 0), 200);
		expect_notify(&f, 3000, "terminated", "<presence", NULL);
		ua_close(&f);
	}
	wait_stat(&p, NULL, "subscriptions", 0, 2000);
	ASSERT_EQ(pres_stat(&p, "subscribe", "expired"), 1);
	ASSERT_EQ(pres_stat(&p, "subscribe", "refreshed"), 1);
	ASSERT_EQ(pres_stat(&p, "subscribe", "new"), 3);
	ASSERT_EQ(pres_stat(&p, "subscribe", "removed"), 1);
	ASSERT_EQ(pres_stat(&p, "subscribe", "unknown_dialog"), 2);
	/* A publication expires too: the watcher is told. */
	{
		struct ua y, pub;
		char b[2048];

		ua_open(&y, tcp, port, "dave");
		ua_open(&pub, tcp, port, "alice");
		ASSERT_EQ(ua_subscribe(&y, "alice", 60), 200);
		expect_notify(&y, 3000, "active", "<presence", NULL);
		ASSERT_EQ(ua_publish(&pub, "alice", 1, NULL,
				     doc(b, sizeof(b), "t9", "open", "brief")),
			  200);
		expect_notify(&y, 3000, "active", "id=\"t9\"", NULL);
		expect_notify(&y, 4000, "active", "<presence", "id=\"t9\"");
		ASSERT_EQ(pres_stat(&p, "publish", "expired"), 1);
		ASSERT_EQ(pres_stat(&p, NULL, "publications"), 0);
		ua_close(&y);
		ua_close(&pub);
	}
	ua_close(&w);
	ua_close(&x);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(presence_refresh_unsubscribe_expiry_udp, 30)
{
	lifecycle(false);
}

TEST_TIMEOUT(presence_refresh_unsubscribe_expiry_tcp, 30)
{
	lifecycle(true);
}

TEST_TIMEOUT(presence_notify_481_removes_the_subscription, 20)
{
	struct proc p;
	struct ua w, pub;
	uint16_t port = proc_free_port();
	char b[2048];

	stack_start_stateful(&p, port, true, NULL);
	ua_open(&w, false, port, "bob");
	ua_open(&pub, false, port, "alice");
	ASSERT_EQ(ua_subscribe(&w, "alice", 600), 200);
	expect_notify(&w, 3000, "active", "<presence", NULL);
	w.notify_status = 481;
	ASSERT_EQ(ua_publish(&pub, "alice", 600, NULL,
			     doc(b, sizeof(b), "t1", "open", "x")),
		  200);
	expect_notify(&w, 3000, "active", "id=\"t1\"", NULL);
	wait_stat(&p, NULL, "subscriptions", 0, 3000);
	ASSERT_EQ(pres_stat(&p, "notify", "subscriptions_removed"), 1);
	ASSERT_EQ(pres_stat(&p, "notify", "failed"), 1);
	ua_close(&w);
	ua_close(&pub);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

static void auth_client(struct ua *u, const char *pw)
{
	struct pl n, pp;

	pl_set_str(&n, u->user);
	pl_set_str(&pp, pw);
	ASSERT_EQ(sip_auth_client_alloc(&u->auth, &n, &pp), 0);
}

TEST_TIMEOUT(presence_digest_auth_subscribe_and_publish_udp_tcp, 25)
{
	struct proc p;
	struct ua w, pub, anon;
	uint16_t port = proc_free_port();
	const char *extra[] = {"--users-file", "users.txt", NULL};
	char b[2048];

	write_users();
	stack_start_stateful(&p, port, true, extra);
	/* Without credentials: a 401, no subscription. */
	ua_open(&anon, false, port, "bob");
	ASSERT_EQ(ua_subscribe(&anon, "alice", 60), 401);
	ASSERT_EQ(pres_stat(&p, NULL, "subscriptions"), 0);
	ua_open(&w, false, port, "bob");
	auth_client(&w, "pw-bob");
	ASSERT_EQ(ua_subscribe(&w, "alice", 60), 200);
	expect_notify(&w, 3000, "active", "<presence", NULL);
	ua_open(&pub, true, port, "alice");
	auth_client(&pub, "pw-alice");
	ASSERT_EQ(ua_publish(&pub, "alice", 60, NULL,
			     doc(b, sizeof(b), "t1", "open", "authed")),
		  200);
	expect_notify(&w, 3000, "active", "<note>authed</note>", NULL);
	/* A wrong password stays at 401. */
	{
		struct ua bad;

		ua_open(&bad, true, port, "alice");
		auth_client(&bad, "wrong");
		ASSERT_EQ(ua_publish(&bad, "alice", 60, NULL,
				     doc(b, sizeof(b), "t1", "open", "evil")),
			  401);
		ua_close(&bad);
	}
	/* Unknown presentity: 404. */
	ASSERT_EQ(ua_request(&anon, "SUBSCRIBE", "nobody",
			     "Event: presence\r\n", NULL, NULL),
		  404);
	ASSERT_EQ(pres_stat(&p, NULL, "publications"), 1);
	ua_close(&w);
	ua_close(&pub);
	ua_close(&anon);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(presence_filter_gives_each_watcher_its_allowed_tuples, 20)
{
	struct proc p;
	struct ua bob, carol, pub, pub2;
	uint16_t port = proc_free_port();
	const char *extra[] = {"--presence-filter", "filter.txt", NULL};
	char b[2048];

	test_write_file("filter.txt", "# watcher  tuple ids it may see\n"
				      "bob@example.com  t1 t3\n"
				      "\n"
				      "dave@example.com t2\n");
	stack_start_stateful(&p, port, true, extra);
	ua_open(&bob, false, port, "bob");
	ua_open(&carol, true, port, "carol");
	ua_open(&pub, false, port, "alice");
	ua_open(&pub2, false, port, "alice");
	ASSERT_EQ(ua_subscribe(&bob, "alice", 60), 200);
	expect_notify(&bob, 3000, "active", "<presence", NULL);
	ASSERT_EQ(ua_subscribe(&carol, "alice", 60), 200);
	expect_notify(&carol, 3000, "active", "<presence", NULL);
	ASSERT_EQ(ua_publish(&pub, "alice", 60, NULL,
			     doc(b, sizeof(b), "t1", "open", "one")),
		  200);
	expect_notify(&bob, 3000, "active", "id=\"t1\"", NULL);
	/* carol is not listed and there is no "*": no tuple for her, the
	 * person element (not a tuple) still. */
	expect_notify(&carol, 3000, "active", "dm:person", "<tuple");
	ASSERT_EQ(pres_stat(&p, NULL, "publications"), 1);
	ASSERT_EQ(ua_publish(&pub2, "alice", 60, NULL,
			     doc(b, sizeof(b), "t2", "open", "two")),
		  200);
	expect_notify(&bob, 3000, "active", "id=\"t1\"", "id=\"t2\"");
	expect_notify(&carol, 3000, "active", "dm:person", "<tuple");
	ua_close(&bob);
	ua_close(&carol);
	ua_close(&pub);
	ua_close(&pub2);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(presence_off_subscribe_is_proxied_and_bad_flags_exit_2, 20)
{
	struct proc p;
	struct ua w;
	uint16_t port = proc_free_port();
	char udp[64];
	const char *argv[] = {"proxy-stateful", "--listen",  udp, "--domain",
			      "example.com",	"--control", NULL};
	const char *bad1[] = {
		"proxy-stateful",    "--listen", "udp:127.0.0.1:1",
		"--presence-filter", "f",	 NULL};
	const char *bad2[] = {"proxy-stateful",
			      "--listen",
			      "udp:127.0.0.1:1",
			      "--presence",
			      "--presence-filter",
			      "/nonexistent/f",
			      NULL};
	json_t *ev;

	snprintf(udp, sizeof(udp), "udp:127.0.0.1:%u", port);
	proc_start(&p, argv);
	ev = proc_wait_event(&p, "ready", 10000);
	ASSERT(ev);
	json_decref(ev);
	/* Without --presence a SUBSCRIBE for an unregistered user goes
	 * to the location service: 404 here, no NOTIFY. */
	ua_open(&w, false, port, "bob");
	ASSERT_EQ(ua_subscribe(&w, "alice", 60), 404);
	{
		struct rx r;

		ASSERT(!ua_notify(&w, &r, 300));
	}
	ua_close(&w);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
	ASSERT_EQ(proc_run(bad1, "bad1.log", 5000), 2);
	ASSERT(proc_run(bad2, "bad2.log", 5000) != 0);
}

/*
 * Two workers: the kernel spreads the watchers' sockets over both, so
 * a PUBLISH taken by one worker reaches the other's subscriptions as
 * jobs (ev_call); every watcher still gets every change, in order.
 */
TEST_TIMEOUT(presence_two_workers_every_watcher_every_change, 30)
{
	enum { NW = 8, CHANGES = 5 };
	struct proc p;
	struct ua w[NW], pub;
	uint16_t port = proc_free_port();
	const char *extra[] = {"--workers", "2", NULL};
	char b[2048], name[16], note[32];
	size_t i, k;

	/* stack_start_stateful's "--workers 1" comes first: the later one wins. */
	stack_start_stateful(&p, port, true, extra);
	for (i = 0; i < NW; i++) {
		snprintf(name, sizeof(name), "w%zu", i);
		ua_open(&w[i], i % 2 == 1, port, name);
		ASSERT_EQ(ua_subscribe(&w[i], "alice", 600), 200);
		expect_notify(&w[i], 3000, "active", "<presence", "<tuple");
	}
	for (k = 0; k < CHANGES; k++) {
		/* A fresh socket each time: a fresh draw of the worker. */
		char etag[64];

		snprintf(etag, sizeof(etag), "%s", k ? pub.etag : "");
		if (k)
			ua_close(&pub);
		ua_open(&pub, false, port, "alice");
		snprintf(pub.etag, sizeof(pub.etag), "%s", etag);
		snprintf(note, sizeof(note), "change-%zu", k);
		ASSERT_EQ(ua_publish(&pub, "alice", 600, NULL,
				     doc(b, sizeof(b), "t1", "open", note)),
			  200);
		for (i = 0; i < NW; i++)
			expect_notify(&w[i], 3000, "active", note, NULL);
	}
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(ua_subscribe(&w[i], "alice", 0), 200);
		expect_notify(&w[i], 3000, "terminated", "id=\"t1\"", NULL);
	}
	wait_stat(&p, NULL, "subscriptions", 0, 3000);
	ASSERT_EQ(pres_stat(&p, "notify", "sent"), NW * (CHANGES + 2));
	wait_stat(&p, "notify", "answered", NW * (CHANGES + 2), 3000);
	/* 13 sockets all on one worker: 1 in 4096. */
	ASSERT(pres_stat(&p, "notify", "from_other_workers") > 0);
	ASSERT_EQ(pres_stat(&p, NULL, "publications"), 1);
	for (i = 0; i < NW; i++)
		ua_close(&w[i]);
	ua_close(&pub);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

/* sipp (an independent implementation) as watcher and publisher. */
static void sipp_watch_and_publish(const char *t)
{
	struct proc p, watcher;
	uint16_t port = proc_free_port();
	char scen_w[512], scen_p[512], dst[64];
	const char *wargv[] = {"sipp", "-sf",	    scen_w, "-m", "1",
			       "-i",   "127.0.0.1", "-t",   t,	  "-timeout",
			       "20s",  "-nostdin",  dst,    NULL};
	const char *pargv[] = {"sipp", "-sf",	    scen_p, "-m", "1",
			       "-i",   "127.0.0.1", "-t",   t,	  "-timeout",
			       "10s",  "-nostdin",  dst,    NULL};

	if (access("/usr/bin/sipp", X_OK))
		test_skip("sipp (sip-tester) is not installed");
	snprintf(scen_w, sizeof(scen_w), "%s/tests/sipp/presence_watcher.xml",
		 test_root_dir());
	snprintf(scen_p, sizeof(scen_p),
		 "%s/tests/sipp/presence_publisher.xml", test_root_dir());
	snprintf(dst, sizeof(dst), "127.0.0.1:%u", port);
	stack_start_stateful(&p, port, true, NULL);
	proc_start(&watcher, wargv);
	wait_stat(&p, NULL, "subscriptions", 1, 5000);
	wait_stat(&p, "notify", "answered", 1, 5000);
	ASSERT_EQ(proc_run(pargv, "sipp-publisher.log", 15000), 0);
	ASSERT_EQ(proc_stop(&watcher, 15000), 0);
	ASSERT_EQ(pres_stat(&p, "publish", "initial"), 1);
	ASSERT_EQ(pres_stat(&p, "publish", "unknown_etag"), 1);
	ASSERT_EQ(pres_stat(&p, "publish", "removed"), 1);
	ASSERT_EQ(pres_stat(&p, "notify", "answered"), 4);
	ASSERT_EQ(pres_stat(&p, NULL, "subscriptions"), 0);
	ASSERT_EQ(proc_stop(&p, 5000), 0);
}

TEST_TIMEOUT(presence_sipp_watcher_and_publisher_udp, 40)
{
	sipp_watch_and_publish("u1");
}

TEST_TIMEOUT(presence_sipp_watcher_and_publisher_tcp, 40)
{
	sipp_watch_and_publish("t1");
}

/*
 * The database modes: subscriptions and publications in the run's
 * tables (write-through: before the 200), kept over a clean stop and
 * restored at start, where the restored dialog goes on (NOTIFY CSeq
 * above the old ones, the old ETag still valid).
 */
static void db_case(const char *mode)
{
	struct mariadb m;
	struct proc p;
	struct ua w, pub;
	uint16_t port = proc_free_port();
	char schema[512], out[512], b[2048];
	const char *extra[] = {"--db",	     m.url, "--db-mode", mode,
			       "--flush-ms", "200", NULL};
	bool wt = !strcmp(mode, "write-through");
	struct rx r;
	unsigned i;

	if (!mariadb_available())
		test_skip("mariadb-server is not installed");
	snprintf(schema, sizeof(schema), "%s/proxy-stateful/schema.sql",
		 test_root_dir());
	mariadb_start(&m, "sipstone_presence", schema);
	{
		/* With --db the users come from subscriber: no digest. */
		struct pl u = PL("alice"), ub = PL("bob"),
			  realm = PL("example.com");
		char ha1[SIP_AUTH_HEX_SIZE], ha1b[SIP_AUTH_HEX_SIZE];
		char sql[512];

		ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &realm, &u, ha1),
			  0);
		ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &ub, &realm, &ub,
				       ha1b),
			  0);
		snprintf(sql, sizeof(sql),
			 "INSERT INTO subscriber (username, domain, ha1, "
			 "auth_required) VALUES ('alice', 'example.com', "
			 "'%s', 0), ('bob', 'example.com', '%s', 0)",
			 ha1, ha1b);
		ASSERT_EQ(mariadb_sql(&m, sql, NULL, 0), 0);
	}
	stack_start_stateful(&p, port, true, extra);
	ua_open(&w, false, port, "bob");
	ua_open(&pub, false, port, "alice");
	ASSERT_EQ(ua_subscribe(&w, "alice", 600), 200);
	expect_notify(&w, 3000, "active", "<presence", NULL);
	ASSERT_EQ(ua_publish(&pub, "alice", 600, NULL,
			     doc(b, sizeof(b), "t1", "open", "kept")),
		  200);
	expect_notify(&w, 3000, "active", "<note>kept</note>", NULL);
	if (wt) {
		/* The 200s left after the commits. */
		ASSERT_EQ(mariadb_sql(&m,
				      "SELECT COUNT(*) FROM active_watchers",
				      out, sizeof(out)),
			  0);
		ASSERT_STR(out, "1\n");
		ASSERT_EQ(mariadb_sql(&m, "SELECT etag FROM presentity", out,
				      sizeof(out)),
			  0);
		ASSERT(!strncmp(out, pub.etag, strlen(pub.etag)));
	}
	ASSERT_EQ(proc_stop(&p, 8000), 0);
	ASSERT_EQ(mariadb_sql(&m,
			      "SELECT aor, watcher, remote_tag FROM "
			      "active_watchers",
			      out, sizeof(out)),
		  0);
	snprintf(b, sizeof(b), "alice@example.com\tbob@example.com\t%s\n",
		 w.tag);
	ASSERT_STR(out, b);
	ASSERT_EQ(mariadb_sql(&m, "SELECT aor, etag FROM presentity", out,
			      sizeof(out)),
		  0);
	snprintf(b, sizeof(b), "alice@example.com\t%s\n", pub.etag);
	ASSERT_STR(out, b);
	/* Restored: the same dialog and publication go on. */
	stack_start_stateful(&p, port, true, extra);
	ASSERT_EQ(pres_stat(&p, NULL, "subscriptions"), 1);
	ASSERT_EQ(pres_stat(&p, NULL, "publications"), 1);
	ASSERT_EQ(ua_publish(&pub, "alice", 600, NULL,
			     doc(b, sizeof(b), "t1", "closed", "restored")),
		  200);
	ASSERT(ua_notify(&w, &r, 3000));
	ASSERT(strstr(r.m.body.p, "<note>restored</note>"));
	ASSERT(r.m.cseq.num > 10000);
	rx_free(&r);
	ASSERT_EQ(ua_subscribe(&w, "alice", 0), 200);
	expect_notify(&w, 3000, "terminated;reason=timeout", "<presence",
		      NULL);
	ASSERT_EQ(ua_publish(&pub, "alice", 0, NULL, NULL), 200);
	if (wt) {
		ASSERT_EQ(mariadb_sql(&m,
				      "SELECT (SELECT COUNT(*) FROM "
				      "active_watchers) + (SELECT COUNT(*) "
				      "FROM presentity)",
				      out, sizeof(out)),
			  0);
		ASSERT_STR(out, "0\n");
	}
	ASSERT(pres_stat(&p, NULL, "db_statements") >= 3);
	ASSERT_EQ(pres_stat(&p, NULL, "db_errors"), 0);
	ASSERT_EQ(proc_stop(&p, 8000), 0);
	for (i = 0; i < 2; i++) {
		static const char *const tables[] = {"active_watchers", "prese"
									"ntit"
									"y"};

		snprintf(b, sizeof(b), "SELECT COUNT(*) FROM %s", tables[i]);
		ASSERT_EQ(mariadb_sql(&m, b, out, sizeof(out)), 0);
		ASSERT_STR(out, "0\n");
	}
	ua_close(&w);
	ua_close(&pub);
	mariadb_stop(&m);
}

TEST_TIMEOUT(presence_db_write_through_rows_before_200_and_restored, 60)
{
	db_case("write-through");
}

TEST_TIMEOUT(presence_db_write_back_flushed_at_stop_and_restored, 60)
{
	db_case("write-back");
}
