/* userdb.c - the read-only user table (see userdb.h). */
#include "userdb.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "userdb"
#include "hash.h"
#include "log.h"

struct urec {
	struct le le;
	struct userdb_user u;
	uint32_t key;
	size_t ulen, dlen;
	char md5[SIP_AUTH_HEX_SIZE];
	char sha[SIP_AUTH_HEX_SIZE];
	char name[]; /* user, then domain (lower case) */
};

struct userdb {
	struct hash h;
	size_t n;
	size_t n_auth_required;
};

int userdb_alloc(struct userdb **dbp)
{
	struct userdb *db = calloc(1, sizeof(*db));
	int err;

	if (!db)
		return ENOMEM;
	err = hash_init(&db->h, 4096);
	if (err) {
		free(db);
		return err;
	}
	*dbp = db;
	return 0;
}

void userdb_free(struct userdb *db)
{
	uint32_t b;

	if (!db)
		return;
	for (b = 0; db->h.buckets && b <= db->h.mask; b++) {
		struct list *l = &db->h.buckets[b];

		while (l->head) {
			struct urec *r = l->head->data;

			list_unlink(&r->le);
			free(r);
		}
	}
	hash_free(&db->h);
	free(db);
}

static uint32_t ukey(const struct pl *user, const struct pl *domain)
{
	return hash_fnv32(user->p, user->l) ^
	       (hash_fnv32_ci(domain->p, domain->l) * 31u);
}

static bool is_hex(const struct pl *p, size_t len)
{
	size_t i;

	if (p->l != len)
		return false;
	for (i = 0; i < p->l; i++)
		if (!isxdigit((unsigned char)p->p[i]))
			return false;
	return true;
}

const struct userdb_user *userdb_find(const struct userdb *db,
				      const struct pl *user,
				      const struct pl *domain)
{
	uint32_t key = ukey(user, domain);
	struct le *le;

	for (le = hash_bucket(&db->h, key)->head; le; le = le->next) {
		const struct urec *r = le->data;
		struct pl d = {r->name + r->ulen, r->dlen};

		if (r->key == key && r->ulen == user->l &&
		    !memcmp(r->name, user->p, user->l) &&
		    pl_caseeq(&d, domain))
			return &r->u;
	}
	return NULL;
}

int userdb_add(struct userdb *db, const struct pl *user,
	       const struct pl *domain, const struct pl *ha1_md5,
	       const struct pl *ha1_sha256, bool auth_required)
{
	struct urec *r;
	size_t i;

	if (!user->l || !domain->l || user->l > 128 || domain->l > 128)
		return EINVAL;
	if (ha1_md5->l && !is_hex(ha1_md5, 32))
		return EINVAL;
	if (ha1_sha256->l && !is_hex(ha1_sha256, 64))
		return EINVAL;
	if (userdb_find(db, user, domain))
		return EEXIST;
	r = calloc(1, sizeof(*r) + user->l + domain->l);
	if (!r)
		return ENOMEM;
	r->key = ukey(user, domain);
	r->ulen = user->l;
	r->dlen = domain->l;
	memcpy(r->name, user->p, user->l);
	for (i = 0; i < domain->l; i++)
		r->name[user->l + i] =
			(char)tolower((unsigned char)domain->p[i]);
	if (ha1_md5->l)
		memcpy(r->md5, ha1_md5->p, ha1_md5->l);
	if (ha1_sha256->l)
		memcpy(r->sha, ha1_sha256->p, ha1_sha256->l);
	r->u.ha1.md5.p = r->md5;
	r->u.ha1.md5.l = ha1_md5->l;
	r->u.ha1.sha256.p = r->sha;
	r->u.ha1.sha256.l = ha1_sha256->l;
	r->u.auth_required = auth_required;
	hash_append(&db->h, r->key, &r->le, r);
	db->n++;
	if (auth_required)
		db->n_auth_required++;
	return 0;
}

size_t userdb_count(const struct userdb *db)
{
	return db->n;
}

bool userdb_any_auth_required(const struct userdb *db)
{
	return db->n_auth_required > 0;
}

static size_t split(char *line, struct pl *f, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (*p && n < max + 1) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p)
			break;
		f[n < max ? n : max - 1].p = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' &&
		       *p != '\n')
			p++;
		if (n < max)
			f[n].l = (size_t)(p - f[n].p);
		n++;
	}
	return n;
}

int userdb_load_file(struct userdb *db, const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[1024];
	unsigned lineno = 0;
	int err = 0;

	if (!fp) {
		err = errno;
		log_err("%s: %s", path, strerror(err));
		return err;
	}
	while (fgets(line, sizeof(line), fp)) {
		struct pl f[5], none = PL_INIT;
		size_t n;

		lineno++;
		if (!strchr(line, '\n') && !feof(fp)) {
			log_err("%s:%u: line too long", path, lineno);
			err = EBADMSG;
			goto out;
		}
		n = split(line, f, 5);
		if (n == 0 || f[0].p[0] == '#')
			continue;
		if (n != 5 ||
		    (!pl_eq_str(&f[4], "0") && !pl_eq_str(&f[4], "1"))) {
			log_err("%s:%u: expected: username domain ha1_md5 "
				"ha1_sha256 auth_required(0|1)",
				path, lineno);
			err = EBADMSG;
			goto out;
		}
		err = userdb_add(db, &f[0], &f[1],
				 pl_eq_str(&f[2], "-") ? &none : &f[2],
				 pl_eq_str(&f[3], "-") ? &none : &f[3],
				 pl_eq_str(&f[4], "1"));
		if (err) {
			log_err("%s:%u: %s", path, lineno,
				err == EEXIST	? "duplicate user"
				: err == EINVAL ? "bad HA1 (hex, 32 or 64)"
						: strerror(err));
			err = EBADMSG;
			goto out;
		}
	}
	if (ferror(fp))
		err = EIO;
out:
	fclose(fp);
	return err;
}
