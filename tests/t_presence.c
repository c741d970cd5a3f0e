/* Tests of the presence agent of proxy-stateful: the PIDF reader and
 * composition. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pidf.h"
#include "test.h"

/* ------------------------------------------------------------------ */
/* PIDF                                                                */

#define NS_DM "urn:ietf:params:xml:ns:pidf:data-model"
#define NS_RPID "urn:ietf:params:xml:ns:pidf:rpid"

/* A tuple id, its basic status and a note; %s thrice. */
#define DOC_FMT                                                          \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                   \
	"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\n"              \
	" xmlns:dm=\"" NS_DM "\" xmlns:rpid=\"" NS_RPID "\"\n"          \
	" entity=\"sip:alice@example.com\">\n"                          \
	"<tuple id=\"%s\"><status><basic>%s</basic></status>"            \
	"<note>%s</note></tuple>\n"                                      \
	"<dm:person id=\"p1\"><rpid:activities><rpid:on-the-phone/>"     \
	"</rpid:activities></dm:person>\n"                               \
	"<!-- kept out -->\n"                                            \
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
	ASSERT(pl_eq_str(&d.elem[1].xml,
			 "<dm:person id=\"p1\"><rpid:activities>"
			 "<rpid:on-the-phone/></rpid:activities></dm:person>"));
	{
		/* A prefixed root, a tuple redeclaring a prefix. */
		const char *y =
			"<p:presence xmlns:p='urn:ietf:params:xml:ns:pidf' "
			"entity='pres:b@x'><p:tuple id='z' xmlns:p='"
			"urn:ietf:params:xml:ns:pidf'><p:status><p:basic> "
			"closed </p:basic></p:status></p:tuple></p:presence>";

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
	const char *x3 =
		"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a'>"
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

