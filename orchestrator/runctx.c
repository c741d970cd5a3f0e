#include "runctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A live progress line is on the terminal (the next output replaces
 * it).  One run at a time per process. */
static bool live_shown;

uint64_t runctx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void runctx_live_clear(void)
{
	if (live_shown)
		fputs("\r\033[K", stdout);
	live_shown = false;
}

void runctx_say(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->o->quiet)
		return;
	runctx_live_clear();
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

void runctx_live_show(const char *line)
{
	runctx_live_clear();
	fputs(line, stdout);
	fflush(stdout);
	live_shown = true;
}

int runctx_fail(struct run *r, int err, const char *fmt, ...)
{
	va_list ap;

	if (!strcmp(r->status, "complete") || !r->status[0]) {
		snprintf(r->status, sizeof(r->status), "failed");
		va_start(ap, fmt);
		vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
		va_end(ap);
	}
	return err;
}

bool runctx_interrupted(struct run *r)
{
	if (r->o->interrupted && *r->o->interrupted) {
		if (strcmp(r->status, "aborted")) {
			snprintf(r->status, sizeof(r->status), "aborted");
			snprintf(r->reason, sizeof(r->reason),
				 "interrupted (signal)");
		}
		return true;
	}
	return false;
}

bool runctx_forced(const struct run *r)
{
	return r->o->interrupted && *r->o->interrupted >= 2;
}

size_t runctx_inventory_index(const struct run *r, const char *name)
{
	for (size_t i = 0; i < r->inv->nhosts; i++)
		if (!strcmp(r->inv->hosts[i].name, name))
			return i;
	return r->inv->nhosts;
}

const struct inventory_host *runctx_inventory_host(const struct run *r,
						   const char *name)
{
	size_t i = runctx_inventory_index(r, name);

	return i < r->inv->nhosts ? &r->inv->hosts[i] : NULL;
}

struct host *runctx_host(const struct run *r, const char *name)
{
	size_t i = runctx_inventory_index(r, name);

	return i < r->inv->nhosts ? r->hosts[i] : NULL;
}

/* Where a file of the run lives on a host: local work dir or remote. */
void runctx_path_on(const struct run *r, const struct host *h,
		    const char *file, char *out, size_t size)
{
	snprintf(out, size, "%.500s/%.100s",
		 host_is_local(h) ? r->work : r->remote, file);
}

const char *runctx_program(enum topo_role role)
{
	static const char *const progs[TOPO_ROLE_COUNT] = {
		"proxy-stateful", "proxy-stateless", "callhandler", "loader"};

	return progs[role];
}

/* "udp:ADDRESS:PORT" of a node's listener on transport tp. */
bool runctx_listen_addr(const struct run *r, const struct topo_node *n,
			enum sip_transport tp, char *out, size_t size)
{
	const struct inventory_host *ih = runctx_inventory_host(r, n->host);

	for (size_t i = 0; ih && i < n->nlisten; i++) {
		if (n->listen[i].tp != tp)
			continue;
		if (strchr(ih->address, ':'))
			snprintf(out, size, "%s:[%s]:%u",
				 sip_transport_name(tp), ih->address,
				 n->listen[i].port);
		else
			snprintf(out, size, "%s:%s:%u", sip_transport_name(tp),
				 ih->address, n->listen[i].port);
		for (char *c = out; *c && *c != ':'; c++)
			*c = (char)(*c | 0x20); /* "UDP" -> "udp" */
		return true;
	}
	return false;
}

/* RFC 7502's connection reuse strategy of a TCP/TLS run. */
const char *runctx_connection(const struct topo_experiment *e)
{
	return e->connection[0] ? e->connection : "persistent";
}

double runctx_json_number(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

int runctx_sleep_until(struct run *r, uint64_t when)
{
	while (runctx_now_ms() < when) {
		uint64_t left = when - runctx_now_ms();

		if (runctx_interrupted(r))
			return EINTR;
		usleep((useconds_t)(left > 100 ? 100000 : left * 1000));
	}
	return 0;
}

const char *runctx_test(const struct run *r)
{
	if (r->subtest)
		return r->subtest;
	return strcmp(r->t->exp.test, "sipstone") ? r->t->exp.test
						  : "register";
}
