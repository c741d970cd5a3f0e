/* libFuzzer target for pidf: decode, views inside, compose what it read. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_view.h"
#include "pidf.h"

static bool odd_ids(const struct pl *id, void *arg)
{
	(void)arg;
	return id->l % 2 == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pidf_doc *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	const struct pidf_doc *docs[2];
	struct buf out;
	char *buf = malloc(size ? size : 1);
	size_t i, half = size / 2;

	if (!a || !b || !buf)
		goto out;
	if (size)
		memcpy(buf, data, size);
	buf_init(&out, 1 << 20);
	if (pidf_decode(a, buf, size) == 0) {
		fuzz_view_in(&a->entity, buf, size);
		if (a->nelem > PIDF_ELEMS_MAX || a->nns > PIDF_NS_MAX ||
		    a->ntuples > a->nelem)
			abort();
		for (i = 0; i < a->nns; i++) {
			fuzz_view_in(&a->ns[i].prefix, buf, size);
			fuzz_view_in(&a->ns[i].uri, buf, size);
		}
		for (i = 0; i < a->nelem; i++) {
			fuzz_view_in(&a->elem[i].xml, buf, size);
			fuzz_view_in(&a->elem[i].local, buf, size);
			fuzz_view_in(&a->elem[i].id, buf, size);
			fuzz_view_in(&a->elem[i].basic, buf, size);
			if (a->elem[i].name_end > a->elem[i].xml.l)
				abort();
		}
		docs[0] = a;
		docs[1] = a;
		if (pidf_compose(&out, "sip:a&b@c", docs, 2, odd_ids, NULL))
			abort();
		/* What we compose is well-formed PIDF again (its start tags
		 * may carry more namespace declarations: past a limit). */
		i = (size_t)pidf_decode(b, out.data, out.len);
		if (i && i != EOVERFLOW)
			abort();
	}
	/* Two halves as two publications, newest first. */
	if (pidf_decode(a, buf, half) == 0 &&
	    pidf_decode(b, buf + half, size - half) == 0) {
		docs[0] = a;
		docs[1] = b;
		buf_reset(&out);
		if (pidf_compose(&out, "sip:x@y", docs, 2, NULL, NULL))
			abort();
	}
	buf_free(&out);
out:
	free(a);
	free(b);
	free(buf);
	return 0;
}
