/*
 * versions.h - which code a run ran, for summary.json's setup beside
 * the host facts: the orchestrator's own version (common/version.h) and
 * each role's, as its ready event said it (common/ctl.c), so that two
 * bundles say whether they ran the same code.
 */
#ifndef SIPSTONE_VERSIONS_H
#define SIPSTONE_VERSIONS_H

#include <jansson.h>

struct role;
struct run;

/* Keeps the "version" of a role's ready event in ro (an older program
 * that sends none: "unknown"). */
void versions_note_ready(struct role *ro, json_t *ready);

/*
 * {"orchestrator": V, "roles": {NAME: {"program", "host", "version"}},
 * "same": true when every role that started runs the orchestrator's
 * version}.  A new reference (NULL on ENOMEM).
 */
json_t *versions_json(const struct run *r);

#endif
