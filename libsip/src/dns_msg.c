#include "dns_msg.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define HDR_LEN 12
#define MAX_POINTERS 32 /* compression pointers followed in one name */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * Reads the (possibly compressed, RFC 1035 §4.1.4) name at *off.  With
 * out, writes it lower-cased without the final dot ("" for the root).
 * *off moves past the name as it is stored at *off.
 */
static int read_name(const uint8_t *buf, size_t len, size_t *off, char *out,
		     size_t outsz)
{
	size_t pos = *off, end = 0, n = 0;
	unsigned hops = 0;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return EBADMSG;
		l = buf[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len || ++hops > MAX_POINTERS)
				return EBADMSG;
			if (!end)
				end = pos + 2;
			pos = (size_t)(l & 0x3f) << 8 | buf[pos + 1];
			continue;
		}
		if (l & 0xc0)
			return EBADMSG; /* the reserved label types */
		if (l == 0) {
			if (!end)
				end = pos + 1;
			break;
		}
		if (pos + 1 + l > len)
			return EBADMSG;
		/* label bytes, a dot before all but the first */
		if (n + (n ? 1u : 0u) + l >= DNS_NAME_MAX)
			return EBADMSG;
		if (out) {
			if (n + (n ? 1u : 0u) + l >= outsz)
				return EBADMSG;
			if (n)
				out[n] = '.';
			for (unsigned i = 0; i < l; i++)
				out[n + (n ? 1 : 0) + i] =
					(char)tolower(buf[pos + 1 + i]);
		}
		n += (n ? 1u : 0u) + l;
		pos += 1u + l;
	}
	if (out)
		out[n] = '\0';
	*off = end;
	return 0;
}

/* Copies a <character-string> (RFC 1035 §3.3) lower-cased, truncated. */
static int read_cstring(const uint8_t *buf, size_t end, size_t *off, char *out,
			size_t outsz, size_t *lenp)
{
	size_t l, n;

	if (*off >= end)
		return EBADMSG;
	l = buf[*off];
	if (*off + 1 + l > end)
		return EBADMSG;
	n = l < outsz - 1 ? l : outsz - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower(buf[*off + 1 + i]);
	out[n] = '\0';
	if (lenp)
		*lenp = l;
	*off += 1 + l;
	return 0;
}

int dns_msg_open(struct dns_msg *m, const uint8_t *buf, size_t len)
{
	struct dns_msg tmp;
	unsigned qd;
	size_t off = HDR_LEN;

	if (!buf || len < HDR_LEN || !(buf[2] & 0x80))
		return EBADMSG;
	qd = get16(buf + 4);
	for (unsigned i = 0; i < qd; i++) {
		if (read_name(buf, len, &off, NULL, 0) || off + 4 > len)
			return EBADMSG;
		off += 4;
	}
	tmp.buf = buf;
	tmp.len = len;
	tmp.off = off;
	tmp.left = get16(buf + 6);
	tmp.nscount = get16(buf + 8);
	tmp.rcode = (enum dns_rcode)(buf[3] & 0x0f);
	tmp.truncated = (buf[2] & 0x02) != 0;
	*m = tmp;
	return 0;
}

/* Reads one record header; *rdata and *rdlen say where its data is. */
static int read_rr_head(const uint8_t *buf, size_t len, size_t *off,
			uint16_t *type, uint32_t *ttl, size_t *rdata,
			size_t *rdlen)
{
	size_t pos = *off;

	if (read_name(buf, len, &pos, NULL, 0) || pos + 10 > len)
		return EBADMSG;
	*type = get16(buf + pos);
	*ttl = get32(buf + pos + 4);
	/* RFC 2181 §8: a TTL with the top bit set counts as zero */
	if (*ttl & 0x80000000u)
		*ttl = 0;
	*rdlen = get16(buf + pos + 8);
	*rdata = pos + 10;
	if (*rdata + *rdlen > len)
		return EBADMSG;
	*off = *rdata + *rdlen;
	return 0;
}

static int read_srv(const uint8_t *buf, size_t len, size_t rd, size_t rdlen,
		    struct dns_rr *rr)
{
	size_t off = rd + 6;

	if (rdlen < 7)
		return EBADMSG;
	rr->u.srv.priority = get16(buf + rd);
	rr->u.srv.weight = get16(buf + rd + 2);
	rr->u.srv.port = get16(buf + rd + 4);
	if (read_name(buf, len, &off, rr->u.srv.target,
		      sizeof(rr->u.srv.target)) ||
	    off > rd + rdlen)
		return EBADMSG;
	return 0;
}

static int read_naptr(const uint8_t *buf, size_t len, size_t rd, size_t rdlen,
		      struct dns_rr *rr)
{
	size_t off = rd + 4, end = rd + rdlen, relen = 0;
	char regexp[2];

	if (rdlen < 8)
		return EBADMSG;
	rr->u.naptr.order = get16(buf + rd);
	rr->u.naptr.preference = get16(buf + rd + 2);
	if (read_cstring(buf, end, &off, rr->u.naptr.flags,
			 sizeof(rr->u.naptr.flags), NULL) ||
	    read_cstring(buf, end, &off, rr->u.naptr.service,
			 sizeof(rr->u.naptr.service), NULL) ||
	    read_cstring(buf, end, &off, regexp, sizeof(regexp), &relen))
		return EBADMSG;
	rr->u.naptr.has_regexp = relen > 0;
	if (read_name(buf, len, &off, rr->u.naptr.replacement,
		      sizeof(rr->u.naptr.replacement)) ||
	    off > end)
		return EBADMSG;
	return 0;
}

int dns_msg_next(struct dns_msg *m, enum dns_type want, struct dns_rr *rr)
{
	while (m->left > 0) {
		uint16_t type;
		uint32_t ttl;
		size_t rd, rdlen;
		int err;

		err = read_rr_head(m->buf, m->len, &m->off, &type, &ttl, &rd,
				   &rdlen);
		if (err)
			return err;
		m->left--;
		if (type != want)
			continue;
		rr->type = want;
		rr->ttl = ttl;
		switch (want) {
		case DNS_T_A:
			if (rdlen != 4)
				return EBADMSG;
			memcpy(rr->u.a, m->buf + rd, 4);
			return 0;
		case DNS_T_AAAA:
			if (rdlen != 16)
				return EBADMSG;
			memcpy(rr->u.aaaa, m->buf + rd, 16);
			return 0;
		case DNS_T_SRV:
			return read_srv(m->buf, m->len, rd, rdlen, rr);
		case DNS_T_NAPTR:
			return read_naptr(m->buf, m->len, rd, rdlen, rr);
		case DNS_T_CNAME:
		case DNS_T_SOA:
			return EINVAL;
		}
		return EINVAL;
	}
	return ENOENT;
}

int dns_msg_negative_ttl(const struct dns_msg *m, uint32_t *ttl)
{
	struct dns_msg c;
	size_t off;
	unsigned total;
	int err;

	err = dns_msg_open(&c, m->buf, m->len);
	if (err)
		return err;
	off = c.off;
	total = c.left + c.nscount;
	for (unsigned i = 0; i < total; i++) {
		uint16_t type;
		uint32_t rr_ttl, minimum;
		size_t rd, rdlen;

		err = read_rr_head(c.buf, c.len, &off, &type, &rr_ttl, &rd,
				   &rdlen);
		if (err)
			return err;
		if (i < c.left || type != DNS_T_SOA)
			continue;
		if (rdlen < 22) /* two names of at least 1 byte, 5 numbers */
			return EBADMSG;
		minimum = get32(c.buf + rd + rdlen - 4);
		*ttl = rr_ttl < minimum ? rr_ttl : minimum;
		return 0;
	}
	return ENOENT;
}

int dns_name_check(const struct pl *name)
{
	size_t len, label = 0;

	if (!name || !name->p || name->l == 0)
		return EINVAL;
	len = name->l;
	if (name->p[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX - 1)
		return EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name->p[i];

		if (c == '.') {
			if (label == 0)
				return EINVAL;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return EINVAL;
		if (++label > 63)
			return EINVAL;
	}
	return 0;
}
