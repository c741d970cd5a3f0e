/*
 * Data-driven sip_msg cases: tests/data/NNN-name.sip is a message written
 * with LF line ends (each LF is sent as CRLF); NNN-name.out is what the
 * decoder must report, line by line, as dump() prints it.  The first
 * line of the .out, "mode: datagram" or "mode: stream", says how to
 * decode.  SIPSTONE_REGEN=1 rewrites the .out files from the decoder
 * (then read every diff before committing it).
 */
#include <errno.h>
#include <glob.h>
#include <limits.h>

#include "sip_msg.h"
#include "test.h"

static const char *errname(int err)
{
	switch (err) {
	case 0:
		return "0";
	case EBADMSG:
		return "EBADMSG";
	case ENODATA:
		return "ENODATA";
	case EOVERFLOW:
		return "EOVERFLOW";
	default:
		return "other";
	}
}

/* A view with CR, LF and TAB made visible. */
static void put_pl(FILE *f, const struct pl *v)
{
	for (size_t i = 0; i < v->l; i++) {
		char c = v->p[i];

		if (c == '\r')
			fputs("\\r", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else
			fputc(c, f);
	}
}

static void field(FILE *f, const char *name, const struct pl *v)
{
	fprintf(f, "%s: ", name);
	put_pl(f, v);
	fputc('\n', f);
}

static void dump(FILE *f, bool stream, const char *buf, size_t len)
{
	static struct sip_msg m;
	uint16_t st = 0;
	const char *why = NULL;
	int err;

	fprintf(f, "mode: %s\n", stream ? "stream" : "datagram");
	err = sip_msg_decode(&m, buf, len, stream);
	fprintf(f, "decode: %s\n", errname(err));
	if (err)
		return;
	if (m.is_request) {
		fprintf(f, "request: %s\n",
			m.method_id ? sip_method_name(m.method_id)
				    : "(other)");
		field(f, "method", &m.method);
		field(f, "ruri", &m.ruri);
	} else {
		fprintf(f, "response: %u\n", m.status);
		field(f, "reason", &m.reason);
	}
	field(f, "version", &m.version);
	fprintf(f, "len: %zu of %zu\n", m.len, len);
	fprintf(f, "lines: %u\n", m.nlines);
	for (uint16_t i = 0; i < m.nhdrs; i++) {
		const struct sip_hdr *h = &m.hdrs[i];

		fprintf(f, "hdr %u: %s [", h->line_index,
			h->id ? sip_hdr_name(h->id) : "(other)");
		put_pl(f, &h->name);
		fputs("] ", f);
		put_pl(f, &h->value);
		fputc('\n', f);
	}
	if (m.has_content_length)
		fprintf(f, "content-length: %u\n", m.content_length);
	else
		fprintf(f, "content-length: none\n");
	fprintf(f, "framing-error: %s\n", errname(m.framing_error));
	field(f, "body", &m.body);

	err = sip_msg_validate(&m, &st, &why);
	if (err) {
		fprintf(f, "validate: %s %u %s\n", errname(err), st, why);
		return;
	}
	fprintf(f, "validate: 0\n");
	fprintf(f, "via: %s ", sip_transport_name(m.via.tp));
	put_pl(f, &m.via.host);
	fprintf(f, " port=%u", m.via.port);
	fputs(" branch=", f);
	put_pl(f, &m.via.branch);
	fputs(" received=", f);
	put_pl(f, &m.via.received);
	if (m.via.has_rport)
		fprintf(f, " rport=%u", m.via.rport);
	fputc('\n', f);
	field(f, "call-id", &m.call_id);
	fprintf(f, "cseq: %u ", m.cseq.num);
	put_pl(f, &m.cseq.method);
	fputc('\n', f);
	field(f, "from-tag", &m.from_tag);
	field(f, "to-tag", &m.to_tag);
	if (m.has_max_forwards)
		fprintf(f, "max-forwards: %u\n", m.max_forwards);
	else
		fprintf(f, "max-forwards: none\n");
}

/* Runs one case; returns true when it matches. */
static bool run_case(const char *sip_path, bool regen)
{
	char out_path[PATH_MAX], *in, *want, *msg, *got = NULL;
	size_t in_len, want_len, got_len = 0, n;
	bool stream, ok;
	FILE *f;

	snprintf(out_path, sizeof(out_path), "%.*s.out",
		 (int)(strlen(sip_path) - 4), sip_path);
	in = test_read_file(sip_path, &in_len);
	want = test_read_file(out_path, &want_len);
	stream = !strncmp(want, "mode: stream\n", 13);
	msg = test_crlf(in, in_len, &n);
	f = open_memstream(&got, &got_len);
	ASSERT(f);
	dump(f, stream, msg, n);
	fclose(f);
	ok = got_len == want_len && !memcmp(got, want, got_len);
	if (!ok && regen) {
		f = fopen(out_path, "w");
		ASSERT(f);
		fwrite(got, 1, got_len, f);
		fclose(f);
		fprintf(stderr, "rewrote %s\n", out_path);
	} else if (!ok) {
		fprintf(stderr, "--- %s expected:\n%s--- got:\n%s", out_path,
			want, got);
	}
	free(got);
	free(msg);
	free(in);
	free(want);
	return ok;
}

TEST(sip_msg_data_cases)
{
	char pattern[PATH_MAX];
	bool regen = getenv("SIPSTONE_REGEN") != NULL;
	unsigned failed = 0;
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/tests/data/[0-9]*.sip",
		 test_root_dir());
	ASSERT_EQ(glob(pattern, 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		bool ok = run_case(g.gl_pathv[i], regen);

		fprintf(stderr, "%s %s\n", ok ? "ok  " : "FAIL",
			strrchr(g.gl_pathv[i], '/') + 1);
		failed += !ok;
	}
	ASSERT_MSG(g.gl_pathc >= 15, "only %zu cases", g.gl_pathc);
	ASSERT_MSG(failed == 0, "%u of %zu cases failed", failed, g.gl_pathc);
	globfree(&g);
}
