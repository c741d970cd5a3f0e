#include "stack.h"

#include <stdio.h>
#include <stdlib.h>

#include "sip_auth.h"
#include "test.h"

void stack_need_sipp(void)
{
	if (system("command -v sipp >/dev/null 2>&1") != 0)
		test_skip("sipp (Debian sip-tester) is not installed");
}

void stack_write_users_named(const char *const *names, size_t n,
			     int auth_required)
{
	FILE *fp = fopen("users.txt", "w");

	ASSERT(fp);
	for (size_t i = 0; i < n; i++) {
		char pw[64], ha1[SIP_AUTH_HEX_SIZE];
		struct pl pu, r = PL("example.com"), pp;

		snprintf(pw, sizeof(pw), "pw-%s", names[i]);
		pl_set_str(&pu, names[i]);
		pl_set_str(&pp, pw);
		ASSERT_EQ(sip_auth_ha1(SIP_AUTH_ALG_MD5, &pu, &r, &pp, ha1),
			  0);
		fprintf(fp, "%s example.com %s - %d\n", names[i], ha1,
			auth_required);
	}
	ASSERT(fclose(fp) == 0);
}

void stack_write_users(void)
{
	char names[10][16];
	const char *ptrs[10];

	for (int i = 0; i < 10; i++) {
		snprintf(names[i], sizeof(names[i]), "A%d", 1000 + i);
		ptrs[i] = names[i];
	}
	stack_write_users_named(ptrs, 10, 0);
}

void stack_start_stateful(struct proc *p, uint16_t port, bool presence,
			  const char *const *extra)
{
	char udp[64], tcp[64];
	const char *argv[40] = {"proxy-stateful", "--listen",  udp,
				"--listen",	  tcp,	       "--domain",
				"example.com",	  "--workers", "1",
				"--control"};
	size_t n = 10;

	snprintf(udp, sizeof(udp), "udp:127.0.0.1:%u", port);
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%u", port);
	if (presence)
		argv[n++] = "--presence";
	for (; extra && *extra; extra++) {
		ASSERT(n < sizeof(argv) / sizeof(argv[0]) - 1);
		argv[n++] = *extra;
	}
	argv[n] = NULL;
	stack_start_ready(p, argv, "ready");
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
