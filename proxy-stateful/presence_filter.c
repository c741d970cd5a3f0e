/*
 * presence_filter.c - the --presence-filter file (presence_filter.h).
 */
#include "presence_filter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "presence"
#include "log.h"

#define FILTER_IDS_MAX 32

struct presence_filter_entry {
	char watcher[LOCATION_AOR_MAX];
	char *ids[FILTER_IDS_MAX];
	size_t nids;
};

struct presence_filter {
	struct presence_filter_entry *e;
	size_t n;
};

int presence_filter_load(struct presence_filter **out, const char *path)
{
	struct presence_filter *p = NULL;
	FILE *fp = fopen(path, "r");
	char line[2048];
	unsigned lineno = 0;
	int err = 0;

	if (!fp) {
		err = errno;
		log_err("%s: %s", path, strerror(err));
		return err;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		fclose(fp);
		return ENOMEM;
	}
	while (!err && fgets(line, sizeof(line), fp)) {
		struct presence_filter_entry *e, *grown;
		char *save = NULL, *tok;

		lineno++;
		if (!strchr(line, '\n') && !feof(fp)) {
			log_err("%s:%u: line too long", path, lineno);
			err = EBADMSG;
			break;
		}
		tok = strtok_r(line, " \t\r\n", &save);
		if (!tok || tok[0] == '#')
			continue;
		grown = realloc(p->e, (p->n + 1) * sizeof(*grown));
		if (!grown) {
			err = ENOMEM;
			break;
		}
		p->e = grown;
		e = &p->e[p->n];
		memset(e, 0, sizeof(*e));
		if (strlen(tok) >= sizeof(e->watcher)) {
			log_err("%s:%u: watcher too long", path, lineno);
			err = EBADMSG;
			break;
		}
		memcpy(e->watcher, tok, strlen(tok) + 1);
		p->n++;
		while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
			if (e->nids == FILTER_IDS_MAX) {
				log_err("%s:%u: more than %d tuple ids", path,
					lineno, FILTER_IDS_MAX);
				err = EBADMSG;
				break;
			}
			e->ids[e->nids] = strdup(tok);
			if (!e->ids[e->nids]) {
				err = ENOMEM;
				break;
			}
			e->nids++;
		}
	}
	fclose(fp);
	if (!err && !p->e) {
		/* An empty file still means "filter": nobody sees tuples. */
		p->e = calloc(1, sizeof(*p->e));
		if (!p->e)
			err = ENOMEM;
	}
	if (err) {
		presence_filter_free(p);
		return err;
	}
	*out = p;
	return 0;
}

const struct presence_filter_entry *
presence_filter_find(const struct presence_filter *p, const char *watcher)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!strcasecmp(p->e[i].watcher, watcher))
			return &p->e[i];
	for (i = 0; i < p->n; i++)
		if (!strcmp(p->e[i].watcher, "*"))
			return &p->e[i];
	return NULL;
}

bool presence_filter_allows(const struct pl *id, void *arg)
{
	const struct presence_filter_entry *e = arg;
	size_t i;

	for (i = 0; e && i < e->nids; i++)
		if (pl_eq_str(id, e->ids[i]))
			return true;
	return false;
}

size_t presence_filter_count(const struct presence_filter *f)
{
	return f->n;
}

void presence_filter_free(struct presence_filter *f)
{
	size_t k, n;

	if (!f)
		return;
	for (k = 0; k < f->n; k++)
		for (n = 0; n < f->e[k].nids; n++)
			free(f->e[k].ids[n]);
	free(f->e);
	free(f);
}
