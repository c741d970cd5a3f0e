/*
 * pidf.c - PIDF (RFC 3863) reading and composition; see pidf.h.
 *
 * The reader is one forward pass with an explicit stack of open element
 * names (no recursion: depth is bounded by PIDF_DEPTH_MAX, not by the C
 * stack).  XML 1.0 rules kept: matching end tags, one root, quoted
 * attribute values without '<', entity references of the five
 * predefined names or character references only, no DOCTYPE.
 */
#include "pidf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rd {
	const char *p, *end;
};

static bool at(const struct rd *r, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(r->end - r->p) >= n && !memcmp(r->p, s, n);
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void skip_ws(struct rd *r)
{
	while (r->p < r->end && is_ws(*r->p))
		r->p++;
}

/* Bytes >= 0x80 are accepted in names: UTF-8 name characters. */
static bool is_name_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       c == ':' || c >= 0x80;
}

static bool is_name_char(unsigned char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.';
}

static int read_name(struct rd *r, struct pl *name)
{
	const char *s = r->p;

	if (r->p >= r->end || !is_name_start((unsigned char)*r->p))
		return EBADMSG;
	while (r->p < r->end && is_name_char((unsigned char)*r->p))
		r->p++;
	name->p = s;
	name->l = (size_t)(r->p - s);
	return 0;
}

/* Skips to just after the terminator s; EBADMSG when it never comes. */
static int skip_past(struct rd *r, const char *s)
{
	size_t n = strlen(s);

	while ((size_t)(r->end - r->p) >= n) {
		if (!memcmp(r->p, s, n)) {
			r->p += n;
			return 0;
		}
		r->p++;
	}
	return EBADMSG;
}

/* Character data or an attribute value: '&' must start a reference. */
static int check_text(const char *p, size_t l)
{
	static const char *const names[] = {"lt;", "gt;", "amp;", "quot;",
					    "apos;"};
	size_t i = 0, k;

	while (i < l) {
		if (p[i] == '<')
			return EBADMSG;
		if (p[i] != '&') {
			i++;
			continue;
		}
		i++;
		if (i < l && p[i] == '#') {
			bool hex = i + 1 < l && p[i + 1] == 'x';
			size_t digits = 0;

			i += hex ? 2 : 1;
			while (i < l && digits < 8 &&
			       ((p[i] >= '0' && p[i] <= '9') ||
				(hex && ((p[i] >= 'a' && p[i] <= 'f') ||
					 (p[i] >= 'A' && p[i] <= 'F'))))) {
				i++;
				digits++;
			}
			if (!digits || i >= l || p[i] != ';')
				return EBADMSG;
			i++;
			continue;
		}
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			size_t n = strlen(names[k]);

			if (l - i >= n && !memcmp(p + i, names[k], n))
				break;
		}
		if (k == sizeof(names) / sizeof(names[0]))
			return EBADMSG;
		i += strlen(names[k]);
	}
	return 0;
}

static void split_qname(const struct pl *q, struct pl *prefix,
			struct pl *local)
{
	const char *c = pl_chr(q, ':');

	if (!c) {
		prefix->p = q->p;
		prefix->l = 0;
		*local = *q;
		return;
	}
	prefix->p = q->p;
	prefix->l = (size_t)(c - q->p);
	local->p = c + 1;
	local->l = q->l - prefix->l - 1;
}

struct attr {
	struct pl name, value;
};

#define ATTRS_MAX 32

/* A start tag after "<": name, attributes, "/>" or ">". */
struct stag {
	struct pl name;
	struct attr a[ATTRS_MAX];
	size_t na;
	size_t name_end; /* offset from the '<' */
	bool empty;
};

static int read_stag(struct rd *r, const char *lt, struct stag *t)
{
	int err;

	t->na = 0;
	err = read_name(r, &t->name);
	if (err)
		return err;
	t->name_end = (size_t)(r->p - lt);
	for (;;) {
		struct attr *a;
		const char *v;
		char q;
		bool ws = r->p < r->end && is_ws(*r->p);

		skip_ws(r);
		if (at(r, "/>")) {
			r->p += 2;
			t->empty = true;
			return 0;
		}
		if (at(r, ">")) {
			r->p++;
			t->empty = false;
			return 0;
		}
		/* Attributes are separated by white space (XML §3.1). */
		if (!ws)
			return EBADMSG;
		if (t->na == ATTRS_MAX)
			return EOVERFLOW;
		a = &t->a[t->na];
		err = read_name(r, &a->name);
		if (err)
			return err;
		skip_ws(r);
		if (!at(r, "="))
			return EBADMSG;
		r->p++;
		skip_ws(r);
		if (r->p >= r->end || (*r->p != '"' && *r->p != '\''))
			return EBADMSG;
		q = *r->p++;
		v = memchr(r->p, q, (size_t)(r->end - r->p));
		if (!v)
			return EBADMSG;
		a->value.p = r->p;
		a->value.l = (size_t)(v - r->p);
		if (check_text(a->value.p, a->value.l))
			return EBADMSG;
		r->p = v + 1;
		t->na++;
	}
}

static const struct pl *attr_get(const struct stag *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->na; i++)
		if (pl_eq_str(&t->a[i].name, name))
			return &t->a[i].value;
	return NULL;
}

/* The namespace declaration an attribute makes: 1 yes (prefix set). */
static bool is_nsdecl(const struct attr *a, struct pl *prefix)
{
	if (pl_eq_str(&a->name, "xmlns")) {
		prefix->p = a->name.p;
		prefix->l = 0;
		return true;
	}
	if (a->name.l > 6 && !memcmp(a->name.p, "xmlns:", 6)) {
		prefix->p = a->name.p + 6;
		prefix->l = a->name.l - 6;
		return true;
	}
	return false;
}

/* The namespace of prefix: the element's own declarations first. */
static const struct pl *ns_of(const struct stag *t, const struct pidf_doc *d,
			      const struct pl *prefix)
{
	struct pl pf;
	size_t i;

	for (i = 0; t && i < t->na; i++)
		if (is_nsdecl(&t->a[i], &pf) && pl_eq(&pf, prefix))
			return &t->a[i].value;
	for (i = 0; i < d->nns; i++)
		if (pl_eq(&d->ns[i].prefix, prefix))
			return &d->ns[i].uri;
	return NULL;
}

static int root_start(struct pidf_doc *d, const struct stag *t)
{
	struct pl prefix, local, pf;
	const struct pl *ns, *ent;
	size_t i;

	for (i = 0; i < t->na; i++) {
		if (!is_nsdecl(&t->a[i], &pf))
			continue;
		if (d->nns == PIDF_NS_MAX)
			return EOVERFLOW;
		d->ns[d->nns].prefix = pf;
		d->ns[d->nns].uri = t->a[i].value;
		d->nns++;
	}
	split_qname(&t->name, &prefix, &local);
	ns = ns_of(NULL, d, &prefix);
	if (!pl_eq_str(&local, "presence") || !ns || !pl_eq_str(ns, PIDF_NS))
		return EBADMSG;
	ent = attr_get(t, "entity");
	if (!ent || !ent->l)
		return EBADMSG;
	d->entity = *ent;
	return 0;
}

static int child_start(struct pidf_doc *d, const struct stag *t,
		       const char *lt)
{
	struct pidf_elem *e;
	struct pl prefix, pf;
	const struct pl *ns, *id;
	size_t i, k;

	if (d->nelem == PIDF_ELEMS_MAX)
		return EOVERFLOW;
	e = &d->elem[d->nelem];
	memset(e, 0, sizeof(*e));
	e->xml.p = lt;
	e->name_end = t->name_end;
	split_qname(&t->name, &prefix, &e->local);
	ns = ns_of(t, d, &prefix);
	if (!ns && prefix.l)
		return EBADMSG; /* an unbound prefix */
	id = attr_get(t, "id");
	if (id)
		e->id = *id;
	e->is_tuple = ns && pl_eq_str(&e->local, "tuple") &&
		      pl_eq_str(ns, PIDF_NS);
	/* RFC 3863 §4.1.1: a tuple has an id. */
	if (e->is_tuple && !e->id.l)
		return EBADMSG;
	for (i = 0; i < t->na; i++) {
		if (!is_nsdecl(&t->a[i], &pf))
			continue;
		if (!pf.l)
			e->own_default = true;
		for (k = 0; k < d->nns; k++)
			if (pl_eq(&d->ns[k].prefix, &pf))
				e->own_ns |= 1u << k;
	}
	return 0;
}

/* A child of the root ends at end: its XML span is complete. */
static void elem_close(struct pidf_doc *d, const char *end)
{
	struct pidf_elem *e = &d->elem[d->nelem];

	e->xml.l = (size_t)(end - e->xml.p);
	d->ntuples += e->is_tuple;
	d->nelem++;
}

/*
 * Character data up to the next '<' (r moves past it): white space only
 * outside the root; a tuple's <status><basic> value is kept.
 */
static int on_text(struct rd *r, struct pidf_doc *d, const struct pl *stack,
		   size_t depth)
{
	const char *nx = memchr(r->p, '<', (size_t)(r->end - r->p));
	size_t l = nx ? (size_t)(nx - r->p) : (size_t)(r->end - r->p);
	struct pl txt = {r->p, l};
	int err = 0;

	if (!depth) {
		/* Outside the root only white space. */
		pl_trim(&txt);
		if (txt.l)
			err = EBADMSG;
	} else {
		err = check_text(r->p, l);
		/* <tuple><status><basic>open</basic> */
		if (!err && depth == 4 && d->nelem < PIDF_ELEMS_MAX &&
		    d->elem[d->nelem].is_tuple) {
			struct pl pfx, l3, l4;

			split_qname(&stack[2], &pfx, &l3);
			split_qname(&stack[3], &pfx, &l4);
			pl_trim(&txt);
			if (pl_eq_str(&l3, "status") && pl_eq_str(&l4, "basi"
								       "c"))
				d->elem[d->nelem].basic = txt;
		}
	}
	r->p += l;
	return err;
}

/* An end tag "</name>" (r at it): closes the open element of its name. */
static int on_etag(struct rd *r, struct pidf_doc *d, const struct pl *stack,
		   size_t *depth, bool *root_done)
{
	struct pl name;
	int err;

	r->p += 2;
	err = read_name(r, &name);
	if (err)
		return err;
	skip_ws(r);
	if (!at(r, ">") || !*depth || !pl_eq(&name, &stack[*depth - 1]))
		return EBADMSG;
	r->p++;
	(*depth)--;
	if (*depth == 1)
		elem_close(d, r->p);
	else if (*depth == 0)
		*root_done = true;
	return 0;
}

int pidf_decode(struct pidf_doc *doc, const char *xml, size_t len)
{
	struct pl stack[PIDF_DEPTH_MAX];
	struct pidf_doc *d;
	struct rd r = {xml, xml + len};
	struct stag t;
	size_t depth = 0;
	bool root_done = false;
	int err = 0;

	if (len > PIDF_MAX_SIZE)
		return EOVERFLOW;
	/* The result is built aside: *doc only on success. */
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	if (len >= 3 && !memcmp(xml, "\xef\xbb\xbf", 3))
		r.p += 3; /* a UTF-8 byte order mark */
	while (r.p < r.end && !err) {
		const char *lt = r.p;

		if (*r.p != '<') {
			err = on_text(&r, d, stack, depth);
			continue;
		}
		if (at(&r, "<!--")) {
			r.p += 4;
			err = skip_past(&r, "-->");
			continue;
		}
		if (at(&r, "<?")) {
			r.p += 2;
			err = skip_past(&r, "?>");
			continue;
		}
		if (at(&r, "<![CDATA[")) {
			if (!depth) {
				err = EBADMSG;
				break;
			}
			r.p += 9;
			err = skip_past(&r, "]]>");
			continue;
		}
		if (at(&r, "<!")) {
			/* DOCTYPE and the like: refused (entity bombs). */
			err = EBADMSG;
			break;
		}
		if (at(&r, "</")) {
			err = on_etag(&r, d, stack, &depth, &root_done);
			continue;
		}
		r.p++;
		if (root_done && !depth) {
			err = EBADMSG; /* a second root */
			break;
		}
		err = read_stag(&r, lt, &t);
		if (err)
			break;
		if (depth == 0)
			err = root_start(d, &t);
		else if (depth == 1)
			err = child_start(d, &t, lt);
		if (err)
			break;
		if (t.empty) {
			if (depth == 0) {
				root_done = true;
			} else if (depth == 1) {
				elem_close(d, r.p);
			}
			continue;
		}
		if (depth == PIDF_DEPTH_MAX) {
			err = EOVERFLOW;
			break;
		}
		stack[depth++] = t.name;
	}
	if (!err && (depth || !root_done))
		err = EBADMSG;
	if (!err)
		*doc = *d;
	free(d);
	return err;
}

static int append_escaped(struct buf *out, const char *s)
{
	int err = 0;

	for (; *s && !err; s++) {
		switch (*s) {
		case '&':
			err = buf_append_str(out, "&amp;");
			break;
		case '<':
			err = buf_append_str(out, "&lt;");
			break;
		case '>':
			err = buf_append_str(out, "&gt;");
			break;
		case '"':
			err = buf_append_str(out, "&quot;");
			break;
		default:
			err = buf_append(out, s, 1);
		}
	}
	return err;
}

/* Whether a document newer than docs[i] has an element like e. */
static bool superseded(const struct pidf_doc *const *docs, size_t i,
		       const struct pidf_elem *e)
{
	size_t j, k;

	for (j = 0; j < i; j++)
		for (k = 0; k < docs[j]->nelem; k++) {
			const struct pidf_elem *o = &docs[j]->elem[k];

			if (pl_eq(&o->local, &e->local) &&
			    pl_eq(&o->id, &e->id))
				return true;
		}
	return false;
}

/* The element with its document's root declarations on its start tag. */
static int append_elem(struct buf *out, const struct pidf_doc *d,
		       const struct pidf_elem *e)
{
	bool root_default = false;
	size_t k;
	int err;

	for (k = 0; k < d->nns; k++)
		root_default = root_default || !d->ns[k].prefix.l;
	err = buf_append_str(out, "  ");
	if (!err)
		err = buf_append(out, e->xml.p, e->name_end);
	/* Unprefixed names of a document without a default namespace are
	 * in none; the union's root has one, so undeclare it. */
	if (!err && !root_default && !e->own_default)
		err = buf_append_str(out, " xmlns=\"\"");
	for (k = 0; !err && k < d->nns; k++) {
		if (e->own_ns & (1u << k))
			continue;
		if (d->ns[k].prefix.l)
			err = buf_printf(out, " xmlns:%.*s=\"%.*s\"",
					 PL_FMT(&d->ns[k].prefix),
					 PL_FMT(&d->ns[k].uri));
		else
			err = buf_printf(out, " xmlns=\"%.*s\"",
					 PL_FMT(&d->ns[k].uri));
	}
	if (!err)
		err = buf_append(out, e->xml.p + e->name_end,
				 e->xml.l - e->name_end);
	if (!err)
		err = buf_append_str(out, "\n");
	return err;
}

int pidf_compose(struct buf *out, const char *entity,
		 const struct pidf_doc *const *docs, size_t n,
		 pidf_allow_h *allow, void *arg)
{
	size_t start = out->len, i, k;
	int err;

	err = buf_append_str(out, "<?xml version=\"1.0\" "
				  "encoding=\"UTF-8\"?>\n"
				  "<presence xmlns=\"" PIDF_NS "\" entity=\"");
	if (!err)
		err = append_escaped(out, entity);
	if (!err)
		err = buf_append_str(out, "\">\n");
	for (i = 0; !err && i < n; i++)
		for (k = 0; !err && k < docs[i]->nelem; k++) {
			const struct pidf_elem *e = &docs[i]->elem[k];

			if (e->is_tuple && allow && !allow(&e->id, arg))
				continue;
			if (superseded(docs, i, e))
				continue;
			err = append_elem(out, docs[i], e);
		}
	if (!err)
		err = buf_append_str(out, "</presence>\n");
	if (err)
		out->len = start;
	return err;
}

bool pidf_is_ctype(const struct pl *ctype)
{
	struct pl v = *ctype;
	const char *semi = pl_chr(&v, ';');

	if (semi)
		v.l = (size_t)(semi - v.p);
	pl_trim(&v);
	return pl_caseeq_str(&v, PIDF_CTYPE);
}
