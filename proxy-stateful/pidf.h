/*
 * pidf.h - PIDF documents (RFC 3863): a small, bounded XML reader that
 * finds the top-level elements of a <presence> document (its tuples,
 * and whatever else is there: RPID's <dm:person>, <dm:device>, <note>),
 * and the composition of several documents into one (the union of a
 * presentity's publications, RFC 3903 §3 leaves the policy to the ESC).
 *
 * The reader checks well-formedness (matching tags, quoted attributes,
 * known entity references, one root) within fixed limits, refuses DTDs
 * (no entity expansion), and keeps every element verbatim: a view into
 * the caller's buffer.  It resolves only the namespace declarations of
 * the root and of each top-level element, which is all composition
 * needs: a kept element gets its document's root declarations copied
 * onto its start tag, so that its prefixes stay bound in the union.
 */
#ifndef SIPSTONE_PIDF_H
#define SIPSTONE_PIDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pl.h"

#define PIDF_NS "urn:ietf:params:xml:ns:pidf"
#define PIDF_CTYPE "application/pidf+xml"

/* Limits: past any of them pidf_decode() returns EOVERFLOW. */
#define PIDF_MAX_SIZE 32768u /* bytes of one document */
#define PIDF_ELEMS_MAX 32    /* top-level elements of one document */
#define PIDF_NS_MAX 16	     /* namespace declarations on the root */
#define PIDF_DEPTH_MAX 24    /* element nesting */

struct pidf_ns {
	struct pl prefix; /* empty: the default namespace */
	struct pl uri;
};

/* A top-level element of the document (a child of <presence>). */
struct pidf_elem {
	struct pl xml;	  /* start tag to end tag, verbatim */
	struct pl local;  /* local name: "tuple", "person", "note" */
	struct pl id;	  /* the id attribute, or empty */
	struct pl basic;  /* tuples: the <status><basic> text, or empty */
	size_t name_end;  /* offset in xml after the qualified name */
	uint32_t own_ns;  /* bit i: root declaration i redeclared here */
	bool own_default; /* declares the default namespace itself */
	bool is_tuple;	  /* a <tuple> of the PIDF namespace */
};

struct pidf_doc {
	struct pl entity; /* the root's entity attribute (required) */
	struct pidf_ns ns[PIDF_NS_MAX];
	size_t nns;
	struct pidf_elem elem[PIDF_ELEMS_MAX];
	size_t nelem;
	size_t ntuples;
};

/*
 * Reads the PIDF document xml[0..len).  Returns 0 and fills *doc (views
 * into xml, valid as long as it is), EBADMSG for a document that is not
 * well-formed XML, whose root is not a PIDF <presence> with an entity,
 * or with a tuple without an id; EOVERFLOW past a limit above.  *doc is
 * written only on success.
 */
int pidf_decode(struct pidf_doc *doc, const char *xml, size_t len);

/* Whether a watcher may see the tuple with this id (a policy). */
typedef bool(pidf_allow_h)(const struct pl *tuple_id, void *arg);

/*
 * Appends to out the composition of docs[0..n) (newest first) for
 * entity (a URI, escaped here): every top-level element of every
 * document, except those for which a newer document has an element of
 * the same local name and id (newest per tuple id replaces older), and
 * the tuples allow (NULL: all) refuses.  With n == 0, or nothing left,
 * a <presence> without tuples (the neutral document of RFC 3856 §6.6.1
 * leaves to policy; watchers learn "nothing published").  Returns 0,
 * EOVERFLOW/ENOMEM from the buffer.
 */
int pidf_compose(struct buf *out, const char *entity,
		 const struct pidf_doc *const *docs, size_t n,
		 pidf_allow_h *allow, void *arg);

/* Whether a Content-Type value is application/pidf+xml (params ok). */
bool pidf_is_ctype(const struct pl *ctype);

#endif
