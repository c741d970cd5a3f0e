/*
 * sip_via_mark.c - the received/rport marks a server puts on the top Via
 * of a request it received (RFC 3261 §18.2.1, RFC 3581 §4), as an edit
 * (sip_build.h, sip_fwd_via_mark()).
 */
#include "sip_build.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* port in decimal in d (no NUL). */
static struct pl dec_port(char d[8], uint16_t port)
{
	struct pl pl;
	size_t i = 8;
	unsigned v = port;

	do {
		d[--i] = (char)('0' + v % 10u);
		v /= 10u;
	} while (v);
	pl.p = d + i;
	pl.l = 8 - i;
	return pl;
}

/* Offset just past "rport" (and its '=') in the Via params, or 0. */
static size_t rport_end(const struct sip_msg *msg, const struct sip_via *v)
{
	const char *p = v->params.p, *end = p + v->params.l;

	/* params starts at its first ';': the first name follows it. */
	if (p && p < end && *p == ';')
		p++;
	while (p && p + 5 <= end) {
		if (!strncasecmp(p, "rport", 5) &&
		    (p + 5 == end || p[5] == ';' || p[5] == '=' ||
		     p[5] == ' ' || p[5] == '\t') &&
		    p > v->params.p && (p[-1] == ';' || p[-1] == ' ')) {
			p += 5;
			if (p < end && *p == '=')
				p++;
			return (size_t)(p - msg->buf);
		}
		p = memchr(p + 1, ';', (size_t)(end - p - 1));
		if (p)
			p++;
	}
	return 0;
}

int sip_fwd_via_mark(struct sip_edits *ed, const char *ip, size_t ip_len,
		     uint16_t port, bool always_rport)
{
	static const struct pl rport_eq = PL(";rport="), received = PL(";recei"
								       "ved=");
	const struct sip_msg *msg = ed->msg;
	const struct sip_via *v = &msg->via;
	char d[8], tmp[96];
	struct pl num = dec_port(d, port);
	size_t end, off, n;
	int err;

	if (!msg->validated || !msg->is_request || !v->value.p ||
	    ip_len > sizeof(tmp) - received.l)
		return EINVAL;
	end = (size_t)(v->value.p + v->value.l - msg->buf);
	/* A bare ";rport" gets its value first: the two inserts may share
	 * the offset at the end of the value, and come out in the order
	 * they were added. */
	if (v->has_rport && !v->rport) {
		off = rport_end(msg, v);
		if (off) {
			n = 0;
			if (msg->buf[off - 1] != '=')
				tmp[n++] = '=';
			memcpy(tmp + n, num.p, num.l);
			err = sip_edits_add(ed, off, 0, tmp, n + num.l);
			if (err)
				return err;
		}
	} else if (always_rport && !v->has_rport) {
		memcpy(tmp, rport_eq.p, rport_eq.l);
		memcpy(tmp + rport_eq.l, num.p, num.l);
		err = sip_edits_add(ed, end, 0, tmp, rport_eq.l + num.l);
		if (err)
			return err;
	}
	/* §18.2.1: received when sent-by is not the source address. */
	if (pl_isset(&v->received) ||
	    (v->host.l == ip_len && !strncasecmp(v->host.p, ip, ip_len)))
		return 0;
	memcpy(tmp, received.p, received.l);
	memcpy(tmp + received.l, ip, ip_len);
	return sip_edits_add(ed, end, 0, tmp, received.l + ip_len);
}
