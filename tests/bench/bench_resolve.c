/*
 * bench_resolve - CPU cost of an RFC 3263 resolution answered from the
 * cache (sip_resolve() returning 0 at once, result freed), against the
 * peer every request pays anyway: sip_msg_decode() + validate of one
 * REGISTER, in the same run.  The cache is filled from a real knotd
 * started here on a free port of 127.0.0.1 (the zone of the tests,
 * tests/data/dns/); no knotd: it says so and exits 0.
 *
 *	bench_resolve [ITERATIONS]	(per round; 5 rounds, median)
 *
 * Run it from the repository's top directory (or set SIPSTONE_ROOT),
 * pinned: flock /tmp/sipstone-bench.lock taskset -c 1 bench_resolve
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "obj.h"
#include "sip_msg.h"
#include "sip_resolve.h"

#define ROUNDS 5

static const char reg[] = "REGISTER sip:registrar.biloxi.example.com "
			  "SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP "
			  "192.0.2.10:5060;branch=z9hG4bKnashds7;rport\r\n"
			  "Max-Forwards: 70\r\n"
			  "To: Bob <sip:bob@biloxi.example.com>\r\n"
			  "From: Bob "
			  "<sip:bob@biloxi.example.com>;tag=456248\r\n"
			  "Call-ID: 843817637684230@998sdasdh09\r\n"
			  "CSeq: 1826 REGISTER\r\n"
			  "Contact: <sip:bob@192.0.2.10:5060>\r\n"
			  "Expires: 7200\r\n"
			  "Content-Length: 0\r\n\r\n";

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Copies fixture to path with @DIR@ @PORT@ @SERIAL@ @TTLADDR@ @LATE@. */
static int render(const char *fixture, const char *path, const char *dir,
		  unsigned port)
{
	char in[8192], out[16384], num[16];
	size_t n, o = 0;
	FILE *f = fopen(fixture, "r");

	if (!f)
		return errno;
	n = fread(in, 1, sizeof(in) - 1, f);
	fclose(f);
	in[n] = '\0';
	snprintf(num, sizeof(num), "%u", port);
	for (const char *p = in; *p && o + 300 < sizeof(out);) {
		static const char *const keys[] = {
			"@DIR@", "@PORT@", "@SERIAL@", "@TTLADDR@", "@LATE@"};
		const char *vals[] = {dir, num, "1", "127.0.3.1", ""};
		size_t k;

		for (k = 0; k < 5; k++)
			if (strncmp(p, keys[k], strlen(keys[k])) == 0)
				break;
		if (k == 5) {
			out[o++] = *p++;
			continue;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", vals[k]);
		p += strlen(keys[k]);
	}
	f = fopen(path, "w");
	if (!f)
		return errno;
	fwrite(out, 1, o, f);
	return fclose(f) ? errno : 0;
}

static unsigned free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned port = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static pid_t start_knot(const char *root, char *dir, unsigned port)
{
	char fix[600], path[600];
	const char *knotd = access("/usr/sbin/knotd", X_OK) == 0 ? "/usr/sbin/"
								   "knotd"
								 : "/usr/bin/"
								   "knotd";
	pid_t pid;

	if (access(knotd, X_OK) != 0 || !mkdtemp(dir))
		return -1;
	snprintf(fix, sizeof(fix), "%s/tests/data/dns/knot.conf.in", root);
	snprintf(path, sizeof(path), "%s/knot.conf", dir);
	if (render(fix, path, dir, port))
		return -1;
	snprintf(fix, sizeof(fix), "%s/tests/data/dns/sipstone.test.zone.in",
		 root);
	snprintf(path, sizeof(path), "%s/sipstone.test.zone", dir);
	if (render(fix, path, dir, port))
		return -1;
	snprintf(path, sizeof(path), "%s/knot.conf", dir);
	pid = fork();
	if (pid == 0) {
		char log[600];
		int fd;

		snprintf(log, sizeof(log), "%s/knotd.log", dir);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(knotd, knotd, "-c", path, (char *)NULL);
		_exit(127);
	}
	return pid;
}

struct wait {
	int done;
	int err;
};

static void on_done(int err, struct sip_resolve_res *res, void *arg)
{
	struct wait *w = arg;

	w->done = 1;
	w->err = err;
	obj_deref(res);
}

/* Resolves q through DNS until it succeeds (the server may still be
 * starting): at most 5 s. */
static int fill(struct ev *ev, struct sip_resolver *r,
		const struct sip_resolve_query *q)
{
	uint64_t end = ev_monotonic_ns() + EV_MS(5000);

	while (ev_monotonic_ns() < end) {
		struct sip_resolve_res *res = NULL;
		struct wait w = {0};
		int err = sip_resolve(r, q, &res, on_done, &w, NULL);

		if (err == 0) {
			obj_deref(res);
			return 0;
		}
		while (err == EINPROGRESS && !w.done &&
		       ev_monotonic_ns() < end)
			ev_run_once(ev, EV_MS(20));
		if (w.done && w.err == 0)
			continue; /* now from the cache */
		ev_run_once(ev, EV_MS(50));
	}
	return ETIMEDOUT;
}

/* Median ns of CPU per resolution from the cache over ROUNDS rounds. */
static double bench_hit(struct sip_resolver *r,
			const struct sip_resolve_query *q, long iters,
			size_t *targets)
{
	double per[ROUNDS];

	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t0 = cpu_ns();

		for (long i = 0; i < iters; i++) {
			struct sip_resolve_res *res = NULL;

			if (sip_resolve(r, q, &res, NULL, NULL, NULL) != 0)
				return -1;
			*targets = sip_resolve_res_count(res);
			obj_deref(res);
		}
		per[k] = (double)(cpu_ns() - t0) / (double)iters;
	}
	qsort(per, ROUNDS, sizeof(per[0]), cmp_double);
	return per[ROUNDS / 2];
}

static double bench_parse(long iters)
{
	double per[ROUNDS];

	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t0 = cpu_ns();

		for (long i = 0; i < iters; i++) {
			struct sip_msg m;
			const char *why;
			uint16_t status;

			if (sip_msg_decode(&m, reg, sizeof(reg) - 1, false) ||
			    sip_msg_validate(&m, &status, &why))
				return -1;
		}
		per[k] = (double)(cpu_ns() - t0) / (double)iters;
	}
	qsort(per, ROUNDS, sizeof(per[0]), cmp_double);
	return per[ROUNDS / 2];
}

struct bench_case {
	const char *label;
	struct sip_resolve_query q;
};

int main(int argc, char **argv)
{
	const char *root = getenv("SIPSTONE_ROOT");
	long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	struct sip_resolve_opts o = {.fail_ttl_ms = 1};
	struct bench_case cases[] = {
		{"numeric host (no DNS)", {{"192.0.2.7", 9}, 0, 0, false}},
		{"A, port given",
		 {{"plain.sipstone.test", 19}, 5060, 0, false}},
		{"SRV 5 weighted + A",
		 {{"weights.sipstone.test", 21}, 0, SIP_TP_UDP, false}},
		{"NAPTR 3 + SRV + A/AAAA",
		 {{"naptr.sipstone.test", 19}, 0, SIP_TP_NONE, false}},
	};
	char dir[] = "/tmp/bench_resolve.XXXXXX", servers[32], cmd[600];
	struct sip_resolver *r = NULL;
	struct ev *ev = NULL;
	double parse_ns;
	unsigned port = free_port();
	pid_t pid;
	int status = 1;

	if (iters <= 0)
		iters = 200000;
	if (!root)
		root = ".";
	pid = start_knot(root, dir, port);
	if (pid < 0) {
		printf("bench_resolve: skipped: knotd or the fixtures under "
		       "%s/tests/data/dns are missing\n",
		       root);
		return 0;
	}
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", port);
	o.servers = servers;
	if (ev_alloc(&ev) || sip_resolver_alloc(&r, ev, &o)) {
		fprintf(stderr, "bench_resolve: set-up failed\n");
		goto out;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (fill(ev, r, &cases[i].q)) {
			fprintf(stderr, "bench_resolve: %s: no answer\n",
				cases[i].label);
			goto out;
		}
	}
	parse_ns = bench_parse(iters);
	printf("bench_resolve: peer: REGISTER decode+validate %.0f ns\n",
	       parse_ns);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = 0;
		double ns = bench_hit(r, &cases[i].q, iters, &n);

		if (ns < 0) {
			fprintf(stderr, "bench_resolve: %s: not a hit\n",
				cases[i].label);
			goto out;
		}
		printf("bench_resolve: cache hit, %-24s %zu targets: %4.0f ns "
		       "CPU (%.2f x the REGISTER parse)\n",
		       cases[i].label, n, ns, ns / parse_ns);
	}
	status = 0;
out:
	obj_deref(r);
	obj_deref(ev);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		status = 1;
	return status;
}
