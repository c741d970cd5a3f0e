/*
 * presence_store.c - the presence agent's rows in the run's database
 * (schema.sql: presentity, active_watchers): written through
 * dbqueue_exec() on every change, read back at start-up
 * (presence_load()) (presence_state.h).
 */
#include "presence_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "presence"
#include "addressing.h"
#include "dbqueue.h"
#include "log.h"
#include "obj.h"
#include "reply.h"
#include "sip_build.h"
#include "sip_uri.h"

/* ------------------------------------------------------------------ */
/* Persistence (schema.sql: presentity, active_watchers)               */

/* Whether this thread queued a statement for the current request. */
static __thread bool tl_db_queued;

void presence_store_begin(void)
{
	tl_db_queued = false;
}

bool presence_store_queued(void)
{
	return tl_db_queued;
}

static bool persisting(const struct presence *p)
{
	return p->env->db && p->env->cfg->db_mode != STATEFUL_DB_MEMORY;
}

/* A string as an SQL hex literal: nothing to escape, any byte. */
static int sql_hex(struct buf *b, const char *s, size_t l)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;
	int err;

	if (!l)
		return buf_append_str(b, "''");
	err = buf_reserve(b, 2 * l + 3);
	if (err)
		return err;
	b->data[b->len++] = 'X';
	b->data[b->len++] = '\'';
	for (i = 0; i < l; i++) {
		b->data[b->len++] = digits[(unsigned char)s[i] >> 4];
		b->data[b->len++] = digits[(unsigned char)s[i] & 15];
	}
	return buf_append(b, "'", 1);
}

static int sql_str(struct buf *b, const char *s)
{
	int err = sql_hex(b, s, strlen(s));

	return err ? err : buf_append(b, ",", 1);
}

static void db_exec(struct presence *p, struct buf *b, int err)
{
	if (!err)
		err = dbqueue_exec(p->env->db, b->data, b->len);
	if (err) {
		p->c.db_errors++;
		log_warn("a presence change is not persisted: %s",
			 strerror(err));
	} else {
		p->c.db_statements++;
		tl_db_queued = true;
	}
	buf_free(b);
}

void presence_persist_sub(struct presence *p, struct subscription *s)
{
	struct buf b;
	int err;

	if (!persisting(p))
		return;
	buf_init(&b, 1 << 20);
	err = buf_append_str(&b, "REPLACE INTO active_watchers VALUES (");
	err = err ? err : sql_str(&b, s->call_id);
	err = err ? err : sql_str(&b, s->local_tag);
	err = err ? err : sql_str(&b, s->remote_tag);
	err = err ? err : sql_str(&b, s->aor);
	err = err ? err : sql_str(&b, s->watcher);
	err = err ? err : sql_str(&b, s->local_uri);
	err = err ? err : sql_str(&b, s->remote_uri);
	err = err ? err : sql_str(&b, s->target);
	err = err ? err : sql_str(&b, s->route);
	err = err ? err
		  : buf_printf(&b, "%llu,%u,%u,%u)",
			       (unsigned long long)s->expires, s->cseq,
			       s->remote_cseq, (unsigned)s->dst.tp);
	s->in_db = true;
	db_exec(p, &b, err);
}

void presence_unpersist_sub(struct presence *p, struct subscription *s)
{
	struct buf b;
	int err;

	if (!persisting(p) || !s->in_db)
		return;
	s->in_db = false;
	buf_init(&b, 4096);
	err = buf_append_str(&b, "DELETE FROM active_watchers WHERE call_id=");
	err = err ? err : sql_hex(&b, s->call_id, strlen(s->call_id));
	err = err ? err : buf_append_str(&b, " AND local_tag=");
	err = err ? err : sql_hex(&b, s->local_tag, strlen(s->local_tag));
	db_exec(p, &b, err);
}

void presence_persist_pub(struct presence *p, const struct publication *pub)
{
	struct buf b;
	int err;

	if (!persisting(p))
		return;
	buf_init(&b, 4 * PIDF_MAX_SIZE);
	err = buf_printf(&b, "REPLACE INTO presentity VALUES (%llu,",
			 (unsigned long long)pub->id);
	err = err ? err : sql_str(&b, pub->pr->aor);
	err = err ? err : sql_str(&b, pub->etag);
	err = err ? err
		  : buf_printf(&b, "%llu,%llu,",
			       (unsigned long long)pub->expires,
			       (unsigned long long)pub->updated);
	err = err ? err : sql_hex(&b, pub->body, pub->body_len);
	err = err ? err : buf_append(&b, ")", 1);
	db_exec(p, &b, err);
}

void presence_unpersist_pub(struct presence *p, const struct publication *pub)
{
	struct buf b;

	if (!persisting(p))
		return;
	buf_init(&b, 128);
	db_exec(p, &b,
		buf_printf(&b, "DELETE FROM presentity WHERE id=%llu",
			   (unsigned long long)pub->id));
}

/* Copies a column into a NUL-terminated string of at most max bytes. */
static bool col_ok(char **row, unsigned i, size_t max)
{
	return row[i] && strlen(row[i]) < max;
}

static void load_pub_row(char **row, unsigned n, void *arg)
{
	struct presence *p = arg;
	struct publication *pub = NULL;
	struct presentity *pr;
	struct pl v;
	uint64_t id, expires, updated;
	size_t count = 0;
	struct le *le;

	if (n != 6 || !col_ok(row, 0, 32) ||
	    !col_ok(row, 1, LOCATION_AOR_MAX) || !col_ok(row, 2, ETAG_SIZE) ||
	    !col_ok(row, 3, 32) || !col_ok(row, 4, 32) || !row[5])
		goto bad;
	pl_set_str(&v, row[0]);
	if (pl_u64(&v, &id))
		goto bad;
	pl_set_str(&v, row[3]);
	if (pl_u64(&v, &expires))
		goto bad;
	pl_set_str(&v, row[4]);
	if (pl_u64(&v, &updated))
		goto bad;
	pub = calloc(1, sizeof(*pub));
	if (!pub)
		goto bad;
	pub->body_len = strlen(row[5]);
	pub->body = malloc(pub->body_len ? pub->body_len : 1);
	if (!pub->body)
		goto bad;
	memcpy(pub->body, row[5], pub->body_len);
	if (pidf_decode(&pub->doc, pub->body, pub->body_len))
		goto bad;
	pr = presence_presentity_find(p, row[1], true);
	if (!pr)
		goto bad;
	for (le = pr->pubs.head; le; le = le->next)
		count++;
	if (count >= PUBS_PER_PRESENTITY_MAX) {
		presence_presentity_maybe_free(p, pr);
		goto bad;
	}
	pub->pr = pr;
	pub->id = id;
	pub->expires = expires;
	pub->updated = updated;
	snprintf(pub->etag, sizeof(pub->etag), "%s", row[2]);
	pl_set_str(&v, pub->etag);
	hash_append(&p->etags, hash_pl(&v), &pub->hle, pub);
	/* The rows come newest first. */
	list_append(&pr->pubs, &pub->ple, pub);
	list_append(&p->all_pubs, &pub->ale, pub);
	p->npubs++;
	if (updated > p->pub_seq)
		p->pub_seq = updated;
	return;
bad:
	log_warn("presentity row %s: skipped", row[0] ? row[0] : "?");
	if (pub)
		free(pub->body);
	free(pub);
}

/* The first value of a route set "v1, v2" (commas inside <> kept). */
static struct pl route_first(const char *route)
{
	struct pl r;
	int depth = 0;
	size_t i;

	for (i = 0; route[i]; i++) {
		if (route[i] == '<')
			depth++;
		else if (route[i] == '>')
			depth--;
		else if (route[i] == ',' && depth <= 0)
			break;
	}
	r.p = route;
	r.l = i;
	return r;
}

static void load_sub_row(char **row, unsigned n, void *arg)
{
	struct presence *p = arg;
	struct subscription *s = NULL;
	struct presentity *pr;
	struct sip_addr ra;
	struct sip_uri du;
	struct pl first, v;
	struct buf b;
	size_t off[9], i;
	uint32_t num[4];
	uint64_t expires;
	int err = 0;

	buf_init(&b, 1 << 20);
	if (n != 13 || !col_ok(row, 0, 256) || !col_ok(row, 1, SIP_TAG_SIZE) ||
	    !col_ok(row, 2, 256) || !col_ok(row, 3, LOCATION_AOR_MAX) ||
	    !col_ok(row, 4, LOCATION_AOR_MAX) ||
	    !col_ok(row, 5, LOCATION_URI_MAX) ||
	    !col_ok(row, 6, LOCATION_URI_MAX) || !row[7] || !row[8] ||
	    !col_ok(row, 9, 32))
		goto bad;
	pl_set_str(&v, row[9]);
	if (pl_u64(&v, &expires))
		goto bad;
	for (i = 0; i < 3; i++) {
		if (!row[10 + i])
			goto bad;
		pl_set_str(&v, row[10 + i]);
		if (pl_u32(&v, &num[i]))
			goto bad;
	}
	/* call_id, tags, local and remote URI, target, route. */
	for (i = 0; !err && i < 9; i++) {
		if (i == 3 || i == 4)
			continue; /* aor and watcher: not in the blob */
		off[i] = b.len;
		err = buf_append(&b, row[i], strlen(row[i]) + 1);
	}
	if (err)
		goto bad;
	s = obj_alloc(sizeof(*s), presence_sub_destroy);
	if (s)
		s->p = p;
	if (!s)
		goto bad;
	s->call_id = b.data + off[0];
	s->local_tag = b.data + off[1];
	s->remote_tag = b.data + off[2];
	s->local_uri = b.data + off[5];
	s->remote_uri = b.data + off[6];
	s->target = b.data + off[7];
	s->route = b.data + off[8];
	b.data = NULL; /* the subscription's now */
	snprintf(s->aor, sizeof(s->aor), "%s", row[3]);
	snprintf(s->watcher, sizeof(s->watcher), "%s", row[4]);
	s->expires = expires;
	/* NOTIFYs after the row was written went unrecorded: jump well
	 * past them, CSeq only has to grow (RFC 3261 §12.2.1.1). */
	s->cseq = num[0] + 10000;
	s->remote_cseq = num[1];
	s->in_db = true;
	first = route_first(s->route);
	if (first.l ? sip_addr_decode(&ra, &first) ||
			      sip_uri_decode(&du, &ra.uri)
		    : sip_uri_decode(&du, &(struct pl){s->target,
						       strlen(s->target)}))
		goto bad;
	if (addressing_uri_dest(&du, (enum sip_transport)num[2], &s->dst))
		goto bad;
	pr = presence_presentity_find(p, s->aor, true);
	if (!pr)
		goto bad;
	s->pr = pr;
	list_append(&pr->subs, &s->ple, s);
	pl_set_str(&v, s->local_tag);
	hash_append(&p->dialogs,
		    presence_dialog_key(
			    &(struct pl){s->call_id, strlen(s->call_id)}, &v),
		    &s->hle, s);
	/* Worker 0's from its first tick (presence_tick). */
	list_append(&p->boxes[0].subs, &s->wle, s);
	p->nsubs++;
	return;
bad:
	log_warn("active_watchers row %s: skipped", row[0] ? row[0] : "?");
	buf_free(&b);
	obj_deref(s);
}

int presence_load(struct presence *p, struct dbqueue *db)
{
	char q[300];
	int err;

	snprintf(q, sizeof(q),
		 "SELECT id, aor, etag, expires, updated, body FROM "
		 "presentity WHERE expires > %llu ORDER BY updated DESC",
		 (unsigned long long)worker_now_s());
	err = dbqueue_select(db, q, load_pub_row, p);
	if (err)
		return err;
	snprintf(q, sizeof(q),
		 "SELECT call_id, local_tag, remote_tag, aor, watcher, "
		 "local_uri, remote_uri, target, route, expires, cseq, "
		 "remote_cseq, transport FROM active_watchers WHERE "
		 "expires > %llu",
		 (unsigned long long)worker_now_s());
	err = dbqueue_select(db, q, load_sub_row, p);
	if (!err)
		log_info("%zu publications, %zu subscriptions from the "
			 "database",
			 p->npubs, p->nsubs);
	return err;
}
