#include "preflight.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "clocksync.h"
#include "host.h"

#define PREFLIGHT_TIMEOUT_MS 15000
#define NOFILE_WANTED 4096
#define CLOCK_WARN_MS 1000.0

/* One line per fact, then the listening sockets, in one round trip. */
static const char probe_script[] =
	"echo \"arch=$(uname -m)\"; echo \"kernel=$(uname -r)\"; "
	"echo \"nofile=$(ulimit -n)\"; echo \"cores=$(nproc)\"; "
	"echo \"mem_kb=$(awk '/MemTotal/{print $2}' /proc/meminfo)\"; "
	"echo \"cpu=$(awk -F': ' '/model name/{print $2; exit}' "
	"/proc/cpuinfo)\"; "
	"echo \"mariadbd=$(command -v mariadbd || ls /usr/sbin/mariadbd "
	"2>/dev/null)\"; "
	"echo \"time=$(date +%s.%N)\"; echo ports; "
	"ss -Hlntu 2>/dev/null | awk '{print $1, $5}'";

struct job {
	const struct topo *t;
	const struct inventory_host *ih;
	bool accept_new;
	struct preflight_host *out;
};

static void note(char (*list)[320], size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note(char (*list)[320], size_t *n, const char *fmt, ...)
{
	va_list ap;

	if (*n >= PREFLIGHT_MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(list[*n], 320, fmt, ap);
	va_end(ap);
	(*n)++;
}

static double realtime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The host's clock offset as NTP measures it (clocksync.h); the
 * probe's estimate stays, with a warning, when that fails. */
static void measure_clock(struct host *h, struct preflight_host *ph)
{
	struct clocksync cs;
	char why[SSH_WHY_MAX];

	if (clocksync_measure(h, PREFLIGHT_TIMEOUT_MS, &cs, why,
			      sizeof(why))) {
		note(ph->warnings, &ph->nwarnings,
		     "%s: clock offset only estimated (%.0f ms, from a "
		     "command's round trip of %.0f ms): %s",
		     ph->name, ph->clock_offset_ms, ph->clock_rtt_ms, why);
		ph->clock_biases_delays = fabs(ph->clock_offset_ms) >=
					  CLOCKSYNC_BIAS_MS;
		return;
	}
	ph->clock_offset_ms = cs.offset_ms;
	ph->clock_rtt_ms = cs.rtt_ms;
	ph->clock_exchanges = cs.exchanges;
	ph->clock_biases_delays = cs.biases_delays;
	if (cs.biases_delays && fabs(cs.offset_ms) <= CLOCK_WARN_MS)
		note(ph->warnings, &ph->nwarnings,
		     "%s: clock is %.1f ms off this machine's (+/- %.1f): "
		     "delays measured across hosts (publish -> NOTIFY) are "
		     "off by as much (run NTP or chrony)",
		     ph->name, cs.offset_ms, cs.rtt_ms / 2);
}

static const char *value_of(const char *out, const char *key, char *buf,
			    size_t size)
{
	size_t klen = strlen(key);
	const char *p = out;

	buf[0] = '\0';
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			size_t v = len - klen - 1;

			if (v >= size)
				v = size - 1;
			memcpy(buf, p + klen + 1, v);
			buf[v] = '\0';
			return buf;
		}
		p = nl ? nl + 1 : NULL;
	}
	return buf;
}

/*
 * Whether ss lists (proto, port) on the host's address or a wildcard.
 * Lines: "udp 127.0.0.1:5060", "tcp 0.0.0.0:22", "tcp [::]:22",
 * "udp 127.0.0.53%lo:53", "tcp *:80".
 */
static bool port_busy(const char *ports, bool udp, unsigned port,
		      const char *address)
{
	const char *p = ports;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		char line[160], *sp, *colon, *addr;
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl ? nl + 1 : NULL;
		sp = strchr(line, ' ');
		if (!sp || strncmp(line, udp ? "udp" : "tcp", 3))
			continue;
		addr = sp + 1;
		colon = strrchr(addr, ':');
		if (!colon || strtoul(colon + 1, NULL, 10) != port)
			continue;
		*colon = '\0';
		if ((sp = strchr(addr, '%')))
			*sp = '\0';
		if (!strcmp(addr, "*") || !strcmp(addr, "0.0.0.0") ||
		    !strcmp(addr, "[::]") || !strcmp(addr, address))
			return true;
		if (addr[0] == '[') {
			char *end = strchr(addr, ']');

			if (end &&
			    (size_t)(end - addr - 1) == strlen(address) &&
			    !strncmp(addr + 1, address, strlen(address)))
				return true;
		}
	}
	return false;
}

static void check_host(struct job *j)
{
	struct preflight_host *ph = j->out;
	const struct topo *t = j->t;
	char why[SSH_WHY_MAX] = "", v[160], local_arch[80];
	struct ssh_result res = {0};
	struct host *h = NULL;
	struct utsname u;
	const char *ports;
	double t0, t1, remote;
	int err;

	snprintf(ph->name, sizeof(ph->name), "%s", j->ih->name);
	snprintf(ph->address, sizeof(ph->address), "%s", j->ih->address);
	ph->local = j->ih->local;
	err = host_open(&h, j->ih, j->accept_new, why, sizeof(why));
	if (err) {
		note(ph->problems, &ph->nproblems, "%s: %s", ph->name, why);
		return;
	}
	t0 = realtime_s();
	err = host_run(h, probe_script, PREFLIGHT_TIMEOUT_MS, &res, why,
		       sizeof(why));
	t1 = realtime_s();
	if (err || res.status != 0) {
		note(ph->problems, &ph->nproblems,
		     "%s: the probe command failed: %s", ph->name,
		     err ? why : res.err);
		goto out;
	}
	snprintf(ph->arch, sizeof(ph->arch), "%s",
		 value_of(res.out, "arch", v, sizeof(v)));
	snprintf(ph->kernel, sizeof(ph->kernel), "%s",
		 value_of(res.out, "kernel", v, sizeof(v)));
	snprintf(ph->cpu, sizeof(ph->cpu), "%s",
		 value_of(res.out, "cpu", v, sizeof(v)));
	ph->cores = (unsigned)strtoul(value_of(res.out, "cores", v, sizeof(v)),
				      NULL, 10);
	ph->mem_mb =
		strtoul(value_of(res.out, "mem_kb", v, sizeof(v)), NULL, 10) /
		1024;
	value_of(res.out, "nofile", v, sizeof(v));
	ph->nofile = !strcmp(v, "unlimited") ? -1 : strtol(v, NULL, 10);
	remote = strtod(value_of(res.out, "time", v, sizeof(v)), NULL);
	/* The probe ran between t0 and t1: compare with the midpoint,
	 * unless the NTP-like exchanges (clocksync.h) can do better. */
	ph->clock_offset_ms = (remote - (t0 + t1) / 2) * 1000;
	ph->clock_rtt_ms = (t1 - t0) * 1000;
	measure_clock(h, ph);

	uname(&u);
	snprintf(local_arch, sizeof(local_arch), "%s", u.machine);
	if (strcmp(ph->arch, local_arch))
		note(ph->problems, &ph->nproblems,
		     "%s: architecture %s, but the binaries are built for %s: "
		     "build on a host of that kind or leave it out",
		     ph->name, ph->arch, local_arch);
	if (ph->nofile >= 0 && ph->nofile < NOFILE_WANTED)
		note(ph->warnings, &ph->nwarnings,
		     "%s: open-file limit is %ld; TCP/TLS runs with many "
		     "connections need more (ulimit -n 65536, or "
		     "LimitNOFILE in the service)",
		     ph->name, ph->nofile);
	if (ph->clock_offset_ms > CLOCK_WARN_MS ||
	    ph->clock_offset_ms < -CLOCK_WARN_MS)
		note(ph->warnings, &ph->nwarnings,
		     "%s: clock is %.0f ms off this machine's; per-second "
		     "samples will not line up (run NTP or chrony)",
		     ph->name, ph->clock_offset_ms);

	ports = strstr(res.out, "\nports\n");
	ports = ports ? ports + 7 : "";
	for (size_t i = 0; i < t->nnodes; i++) {
		const struct topo_node *n = &t->nodes[i];

		if (strcmp(n->host, ph->name))
			continue;
		for (size_t l = 0; l < n->nlisten; l++) {
			bool udp = n->listen[l].tp == SIP_TP_UDP;

			if (port_busy(ports, udp, n->listen[l].port,
				      ph->address))
				note(ph->problems, &ph->nproblems,
				     "%s: %s port %u on %s is in use, and %s "
				     "needs it: stop what holds it (ss -lnp "
				     "'sport = :%u') or change the topology",
				     ph->name, udp ? "UDP" : "TCP",
				     n->listen[l].port, ph->address, n->name,
				     n->listen[l].port);
		}
	}
	if (!strcmp(t->db_host, ph->name) && t->db_managed) {
		if (!value_of(res.out, "mariadbd", v, sizeof(v))[0])
			note(ph->problems, &ph->nproblems,
			     "%s: no mariadbd for the managed database: "
			     "install mariadb-server (scripts/install-deps)",
			     ph->name);
		if (port_busy(ports, false, t->db_port, ph->address))
			note(ph->problems, &ph->nproblems,
			     "%s: TCP port %u on %s is in use, and the "
			     "managed database needs it: change "
			     "database.port",
			     ph->name, t->db_port, ph->address);
	}
out:
	ssh_result_free(&res);
	host_close(h);
}

static void *worker(void *arg)
{
	struct job *j = arg;

	check_host(j);
	j->out->ok = j->out->nproblems == 0;
	return NULL;
}

int preflight_run(const struct topo *t, const struct inventory *inv,
		  bool accept_new, struct preflight_host **hosts, size_t *n)
{
	struct preflight_host *out;
	struct job *jobs;
	pthread_t *threads;
	size_t count = 0;
	bool *used;

	used = calloc(inv->nhosts + 1, sizeof(*used));
	out = calloc(inv->nhosts + 1, sizeof(*out));
	jobs = calloc(inv->nhosts + 1, sizeof(*jobs));
	threads = calloc(inv->nhosts + 1, sizeof(*threads));
	if (!used || !out || !jobs || !threads) {
		free(used);
		free(out);
		free(jobs);
		free(threads);
		return ENOMEM;
	}
	for (size_t i = 0; i < inv->nhosts; i++) {
		for (size_t k = 0; k < t->nnodes; k++)
			if (!strcmp(t->nodes[k].host, inv->hosts[i].name))
				used[i] = true;
		if (!strcmp(t->db_host, inv->hosts[i].name))
			used[i] = true;
	}
	for (size_t i = 0; i < inv->nhosts; i++) {
		if (!used[i])
			continue;
		jobs[count] = (struct job){t, &inv->hosts[i], accept_new,
					   &out[count]};
		if (pthread_create(&threads[count], NULL, worker,
				   &jobs[count])) {
			/* No thread: check it here instead. */
			worker(&jobs[count]);
			threads[count] = 0;
		}
		count++;
	}
	for (size_t i = 0; i < count; i++)
		if (threads[i])
			pthread_join(threads[i], NULL);
	free(used);
	free(jobs);
	free(threads);
	*hosts = out;
	*n = count;
	return 0;
}

json_t *preflight_json(const struct preflight_host *hosts, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct preflight_host *h = &hosts[i];

		json_array_append_new(
			arr,
			json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:i,s:I,s:I,"
				  "s:f,s:f,s:i,s:b}",
				  "name", h->name, "address", h->address,
				  "local", h->local, "arch", h->arch, "kernel",
				  h->kernel, "cpu", h->cpu, "cores",
				  (int)h->cores, "mem_mb",
				  (json_int_t)h->mem_mb, "nofile",
				  (json_int_t)h->nofile, "clock_offset_ms",
				  h->clock_offset_ms, "clock_rtt_ms",
				  h->clock_rtt_ms, "clock_exchanges",
				  (int)h->clock_exchanges,
				  "clock_biases_delays",
				  h->clock_biases_delays));
	}
	return arr;
}
