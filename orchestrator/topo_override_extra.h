/*
 * topo_override_extra.h - the command-line overrides of the presence
 * settings and of the users' names, beside topo_override.h's (which
 * calls this first):
 *
 *	watchers	1-1000	experiment.presence.watchers_per_presentity
 *	refresh-s	0-86400	experiment.presence.refresh_s
 *	body-bytes	0-65536	experiment.presence.body_bytes
 *	filter		true|false	experiment.presence.filter
 *	users-prefix	1-31 of [A-Za-z0-9._-]	experiment.users.prefix
 *	users-first	0-999999999	experiment.users.first
 *
 * The presence ones only for the subscribe and publish tests, as in the
 * file.  Each is written into t->json as the file would say it, so that
 * the bundle's topology copy shows what the run had.
 */
#ifndef SIPSTONE_TOPO_OVERRIDE_EXTRA_H
#define SIPSTONE_TOPO_OVERRIDE_EXTRA_H

#include <stddef.h>

struct topo;

/*
 * Returns 0 (applied and recorded), EINVAL with why (a bad value, or a
 * presence setting for a test that is not one), or ENOTSUP when key is
 * none of the above (t untouched).
 */
int topo_override_extra(struct topo *t, const char *key, const char *value,
			char *why, size_t whysz);

#endif
