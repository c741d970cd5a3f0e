#include "versions.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "runctx.h"
#include "version.h"

void versions_note_ready(struct role *ro, json_t *ready)
{
	const char *v = json_string_value(json_object_get(ready, "version"));

	snprintf(ro->version, sizeof(ro->version), "%s",
		 v && v[0] ? v : "unknown");
}

json_t *versions_json(const struct run *r)
{
	const char *mine = version_string();
	json_t *roles = json_object();
	bool same = true;

	if (!roles)
		return NULL;
	for (size_t i = 0; r->roles && i < r->t->nnodes; i++) {
		const struct role *ro = &r->roles[i];
		const struct topo_node *n = &r->t->nodes[i];

		/* A role that never became ready ran nothing to record. */
		if (!ro->version[0])
			continue;
		same = same && !strcmp(ro->version, mine);
		json_object_set_new(roles, n->name,
				    json_pack("{s:s,s:s,s:s}", "program",
					      runctx_program(n->role), "host",
					      n->host, "version",
					      ro->version));
	}
	return json_pack("{s:s,s:o,s:b}", "orchestrator", mine, "roles", roles,
			 "same", same);
}
