/*
 * presence_filter.h - which tuples of a presentity's document each
 * watcher may see (--presence-filter FILE): one line per watcher,
 * "user@host id1 id2 ...", "*" for everyone not listed, '#' comments.
 * A watcher with no line (and no "*") sees no tuple.  Read-only once
 * loaded, so any thread may use it.
 */
#ifndef SIPSTONE_PRESENCE_FILTER_H
#define SIPSTONE_PRESENCE_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "location.h"
#include "pl.h"

struct presence_filter;
struct presence_filter_entry;

/*
 * Reads the filter file path.  Returns 0 with *fp (free with
 * presence_filter_free()), the file's errno, EBADMSG (a bad line,
 * logged with path:line) or ENOMEM.
 */
int presence_filter_load(struct presence_filter **fp, const char *path);

/* The number of watcher lines. */
size_t presence_filter_count(const struct presence_filter *f);

/* The entry of watcher (user@host), else the "*" one, else NULL
 * (sees nothing).  Valid until the filter is freed. */
const struct presence_filter_entry *
presence_filter_find(const struct presence_filter *f, const char *watcher);

/* pidf_allow_h: whether tuple id is allowed by entry arg (NULL: no). */
bool presence_filter_allows(const struct pl *id, void *arg);

void presence_filter_free(struct presence_filter *f);

#endif
