/* libFuzzer target for sip_uri: decode, views inside, equal, unescape. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_view.h"
#include "sip_uri.h"

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
		const struct pl *views[] = {
			&a.scheme, &a.opaque,	  &a.user,    &a.password,
			&a.host,   &a.params,	  &a.headers, &a.transport,
			&a.maddr,  &a.user_param, &a.ttl,     &a.method};

		fuzz_views_in(views, sizeof(views) / sizeof(views[0]), buf,
			      size);
		if (!sip_uri_equal(&a, &a))
			abort();
		if (sip_uri_param_get(&a.params, "transport", &v) == 0)
			fuzz_view_in(&v, buf, size);
		if (sip_uri_header_get(&a.headers, "subject", &v) == 0)
			fuzz_view_in(&v, buf, size);
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
