/*
 * location.c - the sharded in-memory location table.
 *
 * Each shard is a chained hash of AOR records under one mutex; a record
 * holds its bindings in a list, each binding one allocation with its
 * URI and Call-ID behind it (memory per binding matters at 100k).
 */
#include "location.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "list.h"

#define BUCKETS_PER_SHARD 1024u

struct binding {
	struct le le;
	uint64_t expires;
	uint32_t cseq;
	uint16_t q;
	uint8_t tp;
	uint16_t uri_len;
	uint16_t callid_len;
	char data[]; /* uri, then call_id; no NULs */
};

struct aor_rec {
	struct le le;
	struct list bindings;
	uint32_t key;
	uint16_t len;
	char aor[];
};

struct shard {
	pthread_mutex_t mu;
	struct hash h;
	uint64_t nbindings;
	uint64_t naors;
};

struct location {
	struct shard *shards;
	unsigned nshards; /* power of two */
	atomic_size_t sweep_pos;
	location_change_h *change_h;
	void *change_arg;
};

int location_alloc(struct location **locp, unsigned nshards)
{
	struct location *loc;
	unsigned n = 1, i;
	int err;

	if (!nshards)
		nshards = 64;
	while (n < nshards)
		n <<= 1;
	loc = calloc(1, sizeof(*loc));
	if (!loc)
		return ENOMEM;
	loc->shards = calloc(n, sizeof(*loc->shards));
	if (!loc->shards) {
		free(loc);
		return ENOMEM;
	}
	loc->nshards = n;
	for (i = 0; i < n; i++) {
		pthread_mutex_init(&loc->shards[i].mu, NULL);
		err = hash_init(&loc->shards[i].h, BUCKETS_PER_SHARD);
		if (err) {
			loc->nshards = i + 1;
			location_free(loc);
			return err;
		}
	}
	*locp = loc;
	return 0;
}

static void rec_free(struct shard *sh, struct aor_rec *r)
{
	struct le *le;

	while ((le = r->bindings.head)) {
		list_unlink(le);
		free(le->data);
		sh->nbindings--;
	}
	list_unlink(&r->le);
	sh->naors--;
	free(r);
}

void location_free(struct location *loc)
{
	unsigned i, b;

	if (!loc)
		return;
	for (i = 0; i < loc->nshards; i++) {
		struct shard *sh = &loc->shards[i];

		for (b = 0; sh->h.buckets && b <= sh->h.mask; b++) {
			struct list *l = &sh->h.buckets[b];

			while (l->head)
				rec_free(sh, l->head->data);
		}
		hash_free(&sh->h);
		pthread_mutex_destroy(&sh->mu);
	}
	free(loc->shards);
	free(loc);
}

void location_set_change_handler(struct location *loc, location_change_h *h,
				 void *arg)
{
	loc->change_h = h;
	loc->change_arg = arg;
}

static struct shard *shard_of(struct location *loc, uint32_t key)
{
	/* The low bits pick the bucket inside the shard: use the high. */
	return &loc->shards[(key >> 20) & (loc->nshards - 1)];
}

static struct aor_rec *rec_find(struct shard *sh, uint32_t key,
				const struct pl *aor)
{
	struct le *le;

	for (le = hash_bucket(&sh->h, key)->head; le; le = le->next) {
		struct aor_rec *r = le->data;

		if (r->key == key && r->len == aor->l &&
		    !memcmp(r->aor, aor->p, aor->l))
			return r;
	}
	return NULL;
}

static struct aor_rec *rec_get(struct shard *sh, uint32_t key,
			       const struct pl *aor)
{
	struct aor_rec *r = rec_find(sh, key, aor);

	if (r)
		return r;
	r = calloc(1, sizeof(*r) + aor->l);
	if (!r)
		return NULL;
	r->key = key;
	r->len = (uint16_t)aor->l;
	memcpy(r->aor, aor->p, aor->l);
	hash_append(&sh->h, key, &r->le, r);
	sh->naors++;
	return r;
}

static struct binding *binding_find(struct aor_rec *r, const struct pl *uri)
{
	struct le *le;

	for (le = r->bindings.head; le; le = le->next) {
		struct binding *b = le->data;

		/* A byte compare, not §19.1.4: UAs re-send their Contact
		 * as they sent it (§10.2.1.1 refreshing). */
		if (b->uri_len == uri->l && !memcmp(b->data, uri->p, uri->l))
			return b;
	}
	return NULL;
}

static void binding_export(const struct binding *b, struct location_contact *c)
{
	memcpy(c->uri, b->data, b->uri_len);
	c->uri[b->uri_len] = '\0';
	memcpy(c->call_id, b->data + b->uri_len, b->callid_len);
	c->call_id[b->callid_len] = '\0';
	c->cseq = b->cseq;
	c->q = b->q;
	c->expires = b->expires;
	c->tp = (enum sip_transport)b->tp;
}

static void notify(struct location *loc, const struct aor_rec *r,
		   const struct binding *b, bool removed)
{
	struct location_change ch;

	if (!loc->change_h)
		return;
	memcpy(ch.aor, r->aor, r->len);
	ch.aor[r->len] = '\0';
	binding_export(b, &ch.c);
	ch.removed = removed;
	loc->change_h(&ch, loc->change_arg);
}

static struct binding *binding_new(const struct pl *uri,
				   const struct pl *call_id)
{
	struct binding *b = calloc(1, sizeof(*b) + uri->l + call_id->l);

	if (!b)
		return NULL;
	b->uri_len = (uint16_t)uri->l;
	b->callid_len = (uint16_t)call_id->l;
	memcpy(b->data, uri->p, uri->l);
	memcpy(b->data + uri->l, call_id->p, call_id->l);
	return b;
}

/* Sets b's Call-ID (it may change between registrations). */
static struct binding *binding_set_callid(struct aor_rec *r, struct binding *b,
					  const struct pl *call_id)
{
	struct binding *nb;
	struct pl uri;

	if (b->callid_len == call_id->l &&
	    !memcmp(b->data + b->uri_len, call_id->p, call_id->l))
		return b;
	uri.p = b->data;
	uri.l = b->uri_len;
	nb = binding_new(&uri, call_id);
	if (!nb)
		return NULL;
	nb->expires = b->expires;
	nb->cseq = b->cseq;
	nb->q = b->q;
	nb->tp = b->tp;
	list_insert_after(&r->bindings, &b->le, &nb->le, nb);
	list_unlink(&b->le);
	free(b);
	return nb;
}

static size_t export_live(const struct aor_rec *r, uint64_t now,
			  struct location_contact *out, size_t max)
{
	size_t n = 0, i, j;
	struct le *le;

	for (le = r->bindings.head; le; le = le->next) {
		const struct binding *b = le->data;

		if (b->expires <= now)
			continue;
		if (out && n < max) {
			/* Insertion sort by q, highest first (§16.6: the
			 * proxy tries contacts in q order). */
			for (i = n; i > 0 && out[i - 1].q < b->q; i--)
				;
			for (j = n; j > i; j--)
				out[j] = out[j - 1];
			binding_export(b, &out[i]);
		}
		n++;
	}
	return n;
}

int location_update(struct location *loc, const struct pl *aor,
		    const struct pl *call_id, uint32_t cseq,
		    enum sip_transport tp, bool remove_all,
		    const struct location_update_contact *c, size_t nc,
		    uint64_t now, enum location_result *res,
		    struct location_contact *out, size_t max, size_t *n)
{
	uint32_t key;
	struct shard *sh;
	struct aor_rec *r;
	struct le *le, *next;
	size_t i, live = 0, adds = 0;
	int err = 0;

	if (!aor->l || aor->l >= LOCATION_AOR_MAX ||
	    call_id->l >= LOCATION_CALLID_MAX)
		return EINVAL;
	for (i = 0; i < nc; i++)
		if (!c[i].uri.l || c[i].uri.l >= LOCATION_URI_MAX)
			return EINVAL;
	key = hash_keyed32(aor->p, aor->l);
	sh = shard_of(loc, key);
	pthread_mutex_lock(&sh->mu);
	r = rec_get(sh, key, aor);
	if (!r) {
		err = ENOMEM;
		goto out;
	}
	/* §10.3 step 7: the same Call-ID with a CSeq not higher is out of
	 * order and the whole request fails. */
	for (le = r->bindings.head; le; le = le->next) {
		struct binding *b = le->data;

		if (b->expires <= now)
			continue;
		live++;
		if (b->callid_len == call_id->l &&
		    !memcmp(b->data + b->uri_len, call_id->p, call_id->l) &&
		    cseq <= b->cseq) {
			if (remove_all)
				goto order;
			for (i = 0; i < nc; i++)
				if (b->uri_len == c[i].uri.l &&
				    !memcmp(b->data, c[i].uri.p, c[i].uri.l))
					goto order;
		}
	}
	for (i = 0; i < nc; i++)
		if (c[i].expires && !binding_find(r, &c[i].uri))
			adds++;
	if (live + adds > LOCATION_CONTACTS_MAX) {
		*res = LOCATION_TOO_MANY;
		goto done;
	}
	if (remove_all) {
		for (le = r->bindings.head; le; le = next) {
			struct binding *b = le->data;

			next = le->next;
			notify(loc, r, b, true);
			list_unlink(le);
			free(b);
			sh->nbindings--;
		}
	}
	for (i = 0; i < nc; i++) {
		struct binding *b = binding_find(r, &c[i].uri);

		if (!c[i].expires) {
			if (b) {
				notify(loc, r, b, true);
				list_unlink(&b->le);
				free(b);
				sh->nbindings--;
			}
			continue;
		}
		if (!b) {
			b = binding_new(&c[i].uri, call_id);
			if (!b) {
				err = ENOMEM;
				goto out;
			}
			list_append(&r->bindings, &b->le, b);
			sh->nbindings++;
		} else {
			b = binding_set_callid(r, b, call_id);
			if (!b) {
				err = ENOMEM;
				goto out;
			}
		}
		b->expires = now + c[i].expires;
		b->cseq = cseq;
		b->q = c[i].q;
		b->tp = (uint8_t)tp;
		notify(loc, r, b, false);
	}
	*res = LOCATION_OK;
	goto done;
order:
	*res = LOCATION_OUT_OF_ORDER;
done:
	if (n)
		*n = export_live(r, now, out, max);
	if (list_isempty(&r->bindings))
		rec_free(sh, r);
out:
	pthread_mutex_unlock(&sh->mu);
	return err;
}

size_t location_lookup(struct location *loc, const struct pl *aor,
		       uint64_t now, struct location_contact *out, size_t max,
		       bool *known)
{
	uint32_t key = hash_keyed32(aor->p, aor->l);
	struct shard *sh = shard_of(loc, key);
	struct aor_rec *r;
	size_t n = 0;

	pthread_mutex_lock(&sh->mu);
	r = rec_find(sh, key, aor);
	if (r)
		n = export_live(r, now, out, max);
	if (known)
		*known = r != NULL;
	pthread_mutex_unlock(&sh->mu);
	return n;
}

int location_load(struct location *loc, const struct pl *aor,
		  const struct location_contact *c)
{
	uint32_t key;
	struct shard *sh;
	struct aor_rec *r;
	struct binding *b;
	struct pl uri, cid;
	int err = 0;

	pl_set_str(&uri, c->uri);
	pl_set_str(&cid, c->call_id);
	if (!aor->l || aor->l >= LOCATION_AOR_MAX || !uri.l)
		return EINVAL;
	key = hash_keyed32(aor->p, aor->l);
	sh = shard_of(loc, key);
	pthread_mutex_lock(&sh->mu);
	r = rec_get(sh, key, aor);
	if (!r) {
		err = ENOMEM;
		goto out;
	}
	b = binding_find(r, &uri);
	if (b) {
		list_unlink(&b->le);
		free(b);
		sh->nbindings--;
	}
	b = binding_new(&uri, &cid);
	if (!b) {
		err = ENOMEM;
		goto out;
	}
	b->expires = c->expires;
	b->cseq = c->cseq;
	b->q = c->q;
	b->tp = (uint8_t)c->tp;
	list_append(&r->bindings, &b->le, b);
	sh->nbindings++;
out:
	pthread_mutex_unlock(&sh->mu);
	return err;
}

size_t location_sweep(struct location *loc, uint64_t now, size_t buckets)
{
	size_t per = BUCKETS_PER_SHARD, total = loc->nshards * per;
	size_t removed = 0, k;

	for (k = 0; k < buckets && k < total; k++) {
		size_t pos = atomic_fetch_add(&loc->sweep_pos, 1) % total;
		struct shard *sh = &loc->shards[pos / per];
		struct list *l;
		struct le *le, *next;

		pthread_mutex_lock(&sh->mu);
		l = &sh->h.buckets[(pos % per) & sh->h.mask];
		for (le = l->head; le; le = next) {
			struct aor_rec *r = le->data;
			struct le *be, *bn;

			next = le->next;
			for (be = r->bindings.head; be; be = bn) {
				struct binding *b = be->data;

				bn = be->next;
				if (b->expires > now)
					continue;
				notify(loc, r, b, true);
				list_unlink(be);
				free(b);
				sh->nbindings--;
				removed++;
			}
			if (list_isempty(&r->bindings))
				rec_free(sh, r);
		}
		pthread_mutex_unlock(&sh->mu);
	}
	return removed;
}

/* The sum over the shards of their bindings (or AORs), each under its
 * lock. */
static uint64_t shard_sum(struct location *loc, bool aors)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < loc->nshards; i++) {
		pthread_mutex_lock(&loc->shards[i].mu);
		n += aors ? loc->shards[i].naors : loc->shards[i].nbindings;
		pthread_mutex_unlock(&loc->shards[i].mu);
	}
	return n;
}

uint64_t location_bindings(struct location *loc)
{
	return shard_sum(loc, false);
}

uint64_t location_aors(struct location *loc)
{
	return shard_sum(loc, true);
}

int location_restore(struct location *loc, const struct pl *aor,
		     const struct location_contact *prev, size_t n)
{
	struct shard *sh;
	struct aor_rec *r;
	uint32_t key;
	size_t i;
	int err = 0;

	if (!aor->l || aor->l >= LOCATION_AOR_MAX)
		return EINVAL;
	key = hash_keyed32(aor->p, aor->l);
	sh = shard_of(loc, key);
	pthread_mutex_lock(&sh->mu);
	r = rec_find(sh, key, aor);
	while (r && r->bindings.head) {
		struct binding *b = r->bindings.head->data;

		list_unlink(&b->le);
		free(b);
		sh->nbindings--;
	}
	pthread_mutex_unlock(&sh->mu);
	for (i = 0; i < n && !err; i++)
		err = location_load(loc, aor, &prev[i]);
	return err;
}
