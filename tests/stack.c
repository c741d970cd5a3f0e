#include "stack.h"

#include <stdio.h>
#include <stdlib.h>

#include "sip_auth.h"
#include "test.h"

void stack_write_users(void)
{
	FILE *fp = fopen("users.txt", "w");

	ASSERT(fp);
	for (int i = 1000; i < 1010; i++) {
		char u[16], pw[32], ha1[SIP_AUTH_HEX_SIZE];
		struct pl pu, r = PL("example.com"), pp;

		snprintf(u, sizeof(u), "A%d", i);
		snprintf(pw, sizeof(pw), "pw-A%d", i);
		pl_set_str(&pu, u);
		pl_set_str(&pp, pw);
		ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &pu, &r, &pp, ha1),
			  0);
		fprintf(fp, "%s example.com %s - 0\n", u, ha1);
	}
	fclose(fp);
}

void stack_start_ready(struct proc *p, const char *const *argv,
		       const char *event)
{
	json_t *ev;

	proc_start(p, argv);
	ev = proc_wait_event(p, event, 15000);
	if (!ev)
		proc_dump_log(p);
	ASSERT_MSG(ev, "%s: no %s event", argv[0], event);
	json_decref(ev);
}

json_t *stack_stats(struct proc *p)
{
	json_t *r = proc_cmd(p, "stats", NULL, 3000);

	ASSERT_MSG(r, "%s: no stats", p->name);
	return r;
}

json_t *stack_loader_json(const char *const *argv, int want_rc,
			  unsigned timeout_ms)
{
	struct proc ld;
	json_t *j;
	int rc;

	proc_start(&ld, argv);
	j = proc_read_json(&ld, timeout_ms);
	rc = proc_stop(&ld, 5000);
	if (!j || rc != want_rc) {
		char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;

		proc_dump_log(&ld);
		fprintf(stderr, "loader summary: %s\n", d ? d : "none");
		free(d);
	}
	ASSERT(j);
	ASSERT_EQ(rc, want_rc);
	return j;
}
