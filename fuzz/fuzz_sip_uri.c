/* libFuzzer target for sip_uri: decode, views inside, equal, unescape. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void in(const struct pl *v, const char *base, size_t len)
{
	if (v->l == 0)
		return;
	if (!v->p || v->p < base || v->l > len ||
	    (size_t)(v->p - base) > len - v->l)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_uri a, b;
	struct pl t, v;
	char out[64];
	size_t n, half;
	char *buf;

	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	t.p = buf;
	t.l = size;
	if (sip_uri_decode(&a, &t) == 0) {
		in(&a.scheme, buf, size);
		in(&a.opaque, buf, size);
		in(&a.user, buf, size);
		in(&a.password, buf, size);
		in(&a.host, buf, size);
		in(&a.params, buf, size);
		in(&a.headers, buf, size);
		in(&a.transport, buf, size);
		in(&a.maddr, buf, size);
		in(&a.user_param, buf, size);
		in(&a.ttl, buf, size);
		in(&a.method, buf, size);
		if (!sip_uri_equal(&a, &a))
			abort();
		if (sip_uri_param_get(&a.params, "transport", &v) == 0)
			in(&v, buf, size);
		if (sip_uri_header_get(&a.headers, "subject", &v) == 0)
			in(&v, buf, size);
	}
	/* split in two and compare, both ways */
	half = size / 2;
	{
		struct pl l = {buf, half}, r = {buf + half, size - half};

		if (sip_uri_decode(&a, &l) == 0 &&
		    sip_uri_decode(&b, &r) == 0 &&
		    sip_uri_equal(&a, &b) != sip_uri_equal(&b, &a))
			abort();
	}
	if (sip_uri_unescape(&t, out, sizeof(out), &n) == 0 &&
	    (n > size || n > sizeof(out)))
		abort();
	free(buf);
	return 0;
}
