#include "rplan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t plan_key(const struct rplan_key *k)
{
	return k->hash ^ ((uint32_t)k->port * 0x9e3779b1u) ^
	       ((uint32_t)k->proto << 24) ^ (k->secure ? 0x5bd1e995u : 0);
}

int rplan_init(struct rplans *ps, size_t max)
{
	memset(ps, 0, sizeof(*ps));
	list_init(&ps->age);
	ps->max = max;
	return hash_init(&ps->table, (uint32_t)(max < 64 ? 64 : max));
}

void rplan_drop(struct rplans *ps, struct rplan *p)
{
	list_unlink(&p->hle);
	list_unlink(&p->ale);
	free(p);
	ps->count--;
}

void rplan_flush(struct rplans *ps)
{
	struct le *le;

	while ((le = ps->age.head))
		rplan_drop(ps, le->data);
}

void rplan_free_all(struct rplans *ps)
{
	rplan_flush(ps);
	hash_free(&ps->table);
}

struct rplan *rplan_find(struct rplans *ps, const struct rplan_key *k)
{
	uint32_t key = plan_key(k);
	struct list *b = hash_bucket(&ps->table, key);

	for (struct le *le = b->head; le; le = le->next) {
		struct rplan *p = le->data;

		if (p->key == key && p->port == k->port &&
		    p->proto == k->proto && p->secure == k->secure &&
		    p->hlen == k->len && memcmp(p->host, k->host, k->len) == 0)
			return p;
	}
	return NULL;
}

int rplan_put(struct rplans *ps, const struct rplan_key *k,
	      const struct rplan_data *d)
{
	struct rplan *p, *old;
	size_t tsz = d->n * sizeof(p->t[0]);
	size_t osz = d->n * sizeof(p->name_off[0]);
	size_t rsz = d->nrecs * sizeof(p->recs[0]);
	char *m;

	old = rplan_find(ps, k);
	if (old)
		rplan_drop(ps, old);
	while (ps->count >= ps->max && ps->age.head)
		rplan_drop(ps, ps->age.head->data);
	/* one block: the plan, targets, records, name offsets, names, host */
	p = malloc(sizeof(*p) + tsz + rsz + osz + d->names_len + k->len + 2);
	if (!p)
		return ENOMEM;
	memset(p, 0, sizeof(*p));
	m = (char *)(p + 1);
	p->t = (struct sip_tp_addr *)m;
	memcpy(p->t, d->t, tsz);
	m += tsz;
	p->recs = (struct rplan_rec *)m;
	memcpy(p->recs, d->recs, rsz);
	m += rsz;
	p->name_off = (uint16_t *)m;
	memcpy(p->name_off, d->name_off, osz);
	m += osz;
	p->names = m;
	memcpy(p->names, d->names, d->names_len);
	p->names[d->names_len] = '\0';
	m += d->names_len + 1;
	p->host = m;
	memcpy(p->host, k->host, k->len);
	p->host[k->len] = '\0';
	p->hlen = k->len;
	p->port = k->port;
	p->proto = k->proto;
	p->secure = k->secure;
	p->n = d->n;
	p->nrecs = d->nrecs;
	p->names_len = d->names_len;
	p->expires_ns = d->expires_ns;
	p->err = d->err;
	p->key = plan_key(k);
	hash_append(&ps->table, p->key, &p->hle, p);
	list_append(&ps->age, &p->ale, p);
	ps->count++;
	return 0;
}

void rplan_weighted_order(const uint16_t *weights, uint8_t *idx, size_t n,
			  rplan_rnd_h *rnd, void *arg)
{
	for (size_t i = 0; i + 1 < n; i++) {
		uint64_t sum = 0, run = 0, pick;
		size_t k;
		uint8_t v;

		for (size_t j = i; j < n; j++)
			sum += weights[idx[j]];
		if (sum == 0) {
			k = i + (size_t)(rnd(arg) % (n - i));
		} else {
			pick = rnd(arg) % sum + 1;
			for (k = i; k < n - 1; k++) {
				run += weights[idx[k]];
				if (run >= pick)
					break;
			}
		}
		v = idx[k];
		idx[k] = idx[i];
		idx[i] = v;
	}
}
