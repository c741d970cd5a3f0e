/*
 * libFuzzer target for sip_msg: decodes the input as a datagram and as a
 * stream, validates, walks every header through the value decoders and
 * the URI parser, and checks that every view lies inside the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip_msg.h"
#include "sip_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *base;
static size_t base_len;

static void in(const struct pl *v)
{
	if (v->l == 0)
		return;
	if (!v->p || v->p < base || v->l > base_len ||
	    (size_t)(v->p - base) > base_len - v->l)
		abort();
}

static void walk_uri(const struct pl *text)
{
	struct sip_uri u;
	char out[256];
	size_t n;

	if (sip_uri_decode(&u, text))
		return;
	in(&u.text);
	in(&u.scheme);
	in(&u.opaque);
	in(&u.user);
	in(&u.password);
	in(&u.host);
	in(&u.params);
	in(&u.headers);
	in(&u.transport);
	in(&u.maddr);
	if (!sip_uri_equal(&u, &u))
		abort();
	if (sip_uri_unescape(&u.user, out, sizeof(out), &n) == 0 &&
	    n > u.user.l)
		abort();
}

static void walk(struct sip_msg *m)
{
	uint16_t st;
	const char *why;
	int err;

	if (m->len > base_len)
		abort();
	in(&m->start_line);
	in(&m->version);
	in(&m->method);
	in(&m->ruri);
	in(&m->reason);
	in(&m->headers);
	in(&m->body);
	if (m->nhdrs > SIP_MSG_MAX_HDRS)
		abort();
	for (uint16_t i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];
		struct sip_via via;
		struct sip_addr a;
		struct sip_cseq c;
		struct pl v;

		in(&h->name);
		in(&h->value);
		in(&h->line);
		if (h->value.l &&
		    (h->value.p < h->line.p ||
		     h->value.p + h->value.l > h->line.p + h->line.l))
			abort();
		if (sip_via_decode(&via, &h->value) == 0) {
			in(&via.host);
			in(&via.branch);
			in(&via.params);
			in(&via.received);
		}
		if (sip_addr_decode(&a, &h->value) == 0) {
			in(&a.dname);
			in(&a.uri);
			in(&a.params);
			in(&a.tag);
			walk_uri(&a.uri);
			sip_param_get(&a.params, "expires", &v);
		}
		if (sip_cseq_decode(&c, &h->value) == 0)
			in(&c.method);
		if (sip_param_get(&h->value, "tag", &v) == 0)
			in(&v);
	}
	walk_uri(&m->ruri);
	for (int id = 0; id < SIP_HDR_COUNT; id++) {
		unsigned n = 0;
		const struct sip_hdr *h;

		for (h = sip_msg_hdr(m, (enum sip_hdr_id)id); h;
		     h = sip_msg_hdr_next(m, h))
			if (++n > m->nhdrs || h->id != (enum sip_hdr_id)id)
				abort();
		if (id != SIP_HDR_OTHER && n != m->count[id])
			abort();
	}
	err = sip_msg_validate(m, &st, &why);
	if (err) {
		if (err != EBADMSG || !why)
			abort();
		if (m->is_request && (st < 400 || st > 599))
			abort();
	} else {
		in(&m->call_id);
		in(&m->from_tag);
		in(&m->to_tag);
		in(&m->via.host);
		in(&m->cseq.method);
		if (m->max_forwards > 255)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_msg m;
	char *buf;
	size_t skip;

	/* an exact-size copy so that ASan sees any read past the end */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	base = buf;
	base_len = size;

	if (sip_msg_decode(&m, buf, size, false) == 0)
		walk(&m);
	skip = sip_msg_skip_crlf(buf, size);
	if (sip_msg_decode(&m, buf + skip, size - skip, true) == 0) {
		walk(&m);
		/* every prefix of a framed stream message wants more */
		if (m.len > 0 &&
		    sip_msg_decode(&m, buf + skip, m.len - 1, true) != ENODATA)
			abort();
	}
	free(buf);
	return 0;
}
