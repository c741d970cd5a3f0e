/*
 * orchestrator run --metrics: the responder alone (httpd.h: answers,
 * bounds, a slow client) and a real run scraped while it goes, every
 * line of every scrape parsed strictly as OpenMetrics 1.0 text.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "httpd.h"
#include "metrics.h"
#include "orchrun.h"
#include "proc.h"
#include "test.h"

static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends req, reads the whole answer (the server closes) into a new
 * string, within 5 s; NULL when it could not connect. */
static char *exchange(uint16_t port, const char *req, size_t reqlen)
{
	size_t size = 1 << 16, len = 0;
	char *out;
	int fd = connect_to(port);

	if (fd < 0)
		return NULL;
	out = malloc(size);
	ASSERT(out);
	ASSERT(send(fd, req, reqlen, MSG_NOSIGNAL) == (ssize_t)reqlen ||
	       reqlen > 4096);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		ASSERT_MSG(poll(&pfd, 1, 5000) == 1, "no answer in 5 s");
		n = recv(fd, out + len, size - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		ASSERT(len < size - 1);
	}
	out[len] = '\0';
	close(fd);
	return out;
}

static char *get(uint16_t port, const char *path)
{
	char req[300];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);

	return exchange(port, req, (size_t)n);
}

static char *body_text(void *arg)
{
	return strdup(arg);
}

TEST(metrics_httpd_answers_get_only_and_bounds_requests)
{
	struct httpd *h = NULL;
	char why[300], *a, big[HTTPD_MAX_REQUEST + 100];
	int slow;
	struct timespec t0, t1;

	ASSERT_MSG(httpd_start(&h, "127.0.0.1:0", "/metrics", "text/plain",
			       body_text, "hello\n", why, sizeof(why)) == 0,
		   "%s", why);
	a = get(httpd_port(h), "/metrics");
	ASSERT(a && !strncmp(a, "HTTP/1.1 200 OK\r\n", 17));
	ASSERT(strstr(a, "Content-Length: 6\r\n"));
	ASSERT(strstr(a, "\r\n\r\nhello\n"));
	free(a);
	a = get(httpd_port(h), "/metrics?x=1");
	ASSERT(a && !strncmp(a, "HTTP/1.1 200 ", 13));
	free(a);
	a = get(httpd_port(h), "/metricsx");
	ASSERT(a && !strncmp(a, "HTTP/1.1 404 ", 13));
	free(a);
	a = get(httpd_port(h), "/");
	ASSERT(a && !strncmp(a, "HTTP/1.1 404 ", 13));
	free(a);
	a = exchange(httpd_port(h), "POST /metrics HTTP/1.1\r\n\r\n", 26);
	ASSERT(a && !strncmp(a, "HTTP/1.1 405 ", 13));
	ASSERT(strstr(a, "Allow: GET\r\n"));
	free(a);
	a = exchange(httpd_port(h), "nonsense\r\n\r\n", 12);
	ASSERT(a && !strncmp(a, "HTTP/1.1 400 ", 13));
	free(a);
	/* A head that never ends: cut at the bound. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	a = exchange(httpd_port(h), big, sizeof(big));
	ASSERT(a && !strncmp(a, "HTTP/1.1 431 ", 13));
	free(a);
	/* A client that sends nothing holds it up HTTPD_CLIENT_MS at most. */
	slow = connect_to(httpd_port(h));
	ASSERT(slow >= 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a = get(httpd_port(h), "/metrics");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT(a && !strncmp(a, "HTTP/1.1 200 ", 13));
	ASSERT((t1.tv_sec - t0.tv_sec) * 1000 <= HTTPD_CLIENT_MS + 1000);
	free(a);
	close(slow);
	httpd_stop(h);
	ASSERT_EQ(httpd_start(&h, "nonsense", "/metrics", "text/plain",
			      body_text, "x", why, sizeof(why)),
		  EINVAL);
}

/* ---- a strict OpenMetrics 1.0 text parser, for the test ------------- */

struct family {
	char name[128];
	char type[16];
	bool help, unit, samples;
};

struct scrape {
	struct family fam[32];
	size_t nfam;
	double offered, achieved, step;
	double inf, count, last_le, sf1_rss, ld1_cpu;
	bool have_inf, have_count;
	unsigned verdict_ones, roles;
};

static bool name_ok(const char *s, size_t n)
{
	if (!n ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == ':'))
			return false;
	return true;
}

/* A number as OpenMetrics writes one: a whole float, or +Inf/-Inf/NaN. */
static bool number(const char *s, double *v)
{
	char *end;

	if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf") || !strcmp(s, "NaN")) {
		*v = !strcmp(s, "NaN") ? NAN
		     : s[0] == '+'     ? INFINITY
				       : -INFINITY;
		return true;
	}
	if (!s[0] || s[0] == ' ')
		return false;
	*v = strtod(s, &end);
	return *end == '\0' && isfinite(*v);
}

static struct family *current(struct scrape *sc)
{
	return sc->nfam ? &sc->fam[sc->nfam - 1] : NULL;
}

/* "# TYPE n t", "# HELP n text", "# UNIT n u": the family's. */
static void meta_line(struct scrape *sc, const char *line, int lno)
{
	char kind[8], name[128];
	int off = 0;
	struct family *f;

	ASSERT_MSG(sscanf(line, "# %7[A-Z] %127[a-zA-Z0-9_:] %n", kind, name,
			  &off) == 2 &&
			   off > 0,
		   "line %d: bad metadata: %s", lno, line);
	f = current(sc);
	if (!f || strcmp(f->name, name)) {
		ASSERT_MSG(sc->nfam < 32, "too many families");
		for (size_t i = 0; i < sc->nfam; i++)
			ASSERT_MSG(strcmp(sc->fam[i].name, name),
				   "line %d: family %s interleaved", lno,
				   name);
		f = &sc->fam[sc->nfam++];
		memset(f, 0, sizeof(*f));
		snprintf(f->name, sizeof(f->name), "%s", name);
	}
	ASSERT_MSG(!f->samples, "line %d: metadata after samples", lno);
	if (!strcmp(kind, "TYPE")) {
		static const char *const types[] = {
			"gauge",	  "counter",  "histogram",
			"summary",	  "stateset", "info",
			"gaugehistogram", "unknown",  NULL};
		size_t i;

		ASSERT_MSG(!f->type[0], "line %d: two TYPEs", lno);
		for (i = 0; types[i] && strcmp(types[i], line + off); i++)
			;
		ASSERT_MSG(types[i], "line %d: type %s", lno, line + off);
		snprintf(f->type, sizeof(f->type), "%s", line + off);
	} else if (!strcmp(kind, "HELP")) {
		ASSERT_MSG(!f->help, "line %d: two HELPs", lno);
		f->help = true;
	} else if (!strcmp(kind, "UNIT")) {
		size_t nl = strlen(name), ul = strlen(line + off);

		ASSERT_MSG(!f->unit, "line %d: two UNITs", lno);
		/* The family's name ends with _<unit>. */
		ASSERT_MSG(nl > ul + 1 &&
				   !strcmp(name + nl - ul, line + off) &&
				   name[nl - ul - 1] == '_',
			   "line %d: unit %s of %s", lno, line + off, name);
		f->unit = true;
	} else {
		test_fail(__FILE__, __LINE__, "line %d: # %s", lno, kind);
	}
}

/* name{l="v",...} value: each label checked, le's value returned. */
static void sample_line(struct scrape *sc, const char *line, int lno)
{
	struct family *f = current(sc);
	const char *p = line, *sp;
	size_t n = strcspn(line, "{ ");
	char name[160], le[128] = "", verdict[128] = "", role[128] = "";
	double v;

	ASSERT_MSG(f && f->type[0], "line %d: a sample before its TYPE", lno);
	ASSERT_MSG(name_ok(line, n) && n < sizeof(name), "line %d: name", lno);
	memcpy(name, line, n);
	name[n] = '\0';
	if (!strcmp(f->type, "histogram")) {
		size_t fl = strlen(f->name);

		ASSERT_MSG(!strncmp(name, f->name, fl) &&
				   (!strcmp(name + fl, "_bucket") ||
				    !strcmp(name + fl, "_count") ||
				    !strcmp(name + fl, "_sum")),
			   "line %d: %s in histogram %s", lno, name, f->name);
	} else {
		ASSERT_MSG(!strcmp(name, f->name), "line %d: %s in %s", lno,
			   name, f->name);
	}
	f->samples = true;
	p += n;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t ln = strcspn(p, "=");
			char lname[64], val[128];
			size_t vl = 0;

			ASSERT_MSG(name_ok(p, ln) && ln < sizeof(lname),
				   "line %d: label name", lno);
			memcpy(lname, p, ln);
			lname[ln] = '\0';
			p += ln;
			ASSERT_MSG(p[0] == '=' && p[1] == '"',
				   "line %d: label %s", lno, lname);
			p += 2;
			while (*p != '"') {
				ASSERT_MSG(*p && *p != '\n', "line %d: label",
					   lno);
				if (*p == '\\') {
					ASSERT_MSG(p[1] == '\\' ||
							   p[1] == '"' ||
							   p[1] == 'n',
						   "line %d: escape", lno);
					p++;
				}
				ASSERT(vl < sizeof(val) - 1);
				val[vl++] = *p++;
			}
			val[vl] = '\0';
			p++;
			if (!strcmp(lname, "le"))
				snprintf(le, sizeof(le), "%s", val);
			if (!strcmp(lname, "verdict"))
				snprintf(verdict, sizeof(verdict), "%s", val);
			if (!strcmp(lname, "role"))
				snprintf(role, sizeof(role), "%s", val);
			if (*p == ',')
				p++;
			else
				ASSERT_MSG(*p == '}', "line %d: labels", lno);
		}
		p++;
	}
	ASSERT_MSG(*p == ' ', "line %d: no value", lno);
	sp = p + 1;
	ASSERT_MSG(!strchr(sp, ' '), "line %d: more than a value (%s)", lno,
		   sp);
	ASSERT_MSG(number(sp, &v), "line %d: value \"%s\"", lno, sp);
	if (!strcmp(name, "sipstone_offered_rate"))
		sc->offered = v;
	if (!strcmp(name, "sipstone_achieved_rate"))
		sc->achieved = v;
	if (!strcmp(name, "sipstone_step"))
		sc->step = v;
	if (!strcmp(name, "sipstone_role_cpu_ratio"))
		sc->roles++;
	if (!strcmp(name, "sipstone_role_rss_bytes") && !strcmp(role, "sf1"))
		sc->sf1_rss = v;
	if (!strcmp(name, "sipstone_role_cpu_ratio") && !strcmp(role, "ld1"))
		sc->ld1_cpu = v;
	if (verdict[0] && v == 1)
		sc->verdict_ones++;
	if (!strcmp(name, "sipstone_latency_seconds_bucket")) {
		double bound;

		ASSERT_MSG(number(le, &bound), "line %d: le \"%s\"", lno, le);
		/* Cumulative: never fewer below a higher bound. */
		ASSERT_MSG(v >= sc->last_le, "line %d: not cumulative", lno);
		sc->last_le = v;
		if (isinf(bound)) {
			sc->inf = v;
			sc->have_inf = true;
		}
	}
	if (!strcmp(name, "sipstone_latency_seconds_count")) {
		sc->count = v;
		sc->have_count = true;
	}
}

/* Parses a whole answer's body strictly; fails the test at the first
 * line that is not OpenMetrics. */
static void parse(const char *text, struct scrape *sc)
{
	const char *p = text;
	int lno = 0;
	bool eof = false;

	memset(sc, 0, sizeof(*sc));
	while (*p) {
		const char *nl = strchr(p, '\n');
		char line[1024];
		size_t len;

		lno++;
		ASSERT_MSG(!eof, "line %d: after # EOF", lno);
		ASSERT_MSG(nl, "line %d: no newline at the end", lno);
		len = (size_t)(nl - p);
		ASSERT_MSG(len > 0 && len < sizeof(line),
			   "line %d: empty or long", lno);
		memcpy(line, p, len);
		line[len] = '\0';
		ASSERT_MSG(!strchr(line, '\r'), "line %d: CR", lno);
		if (!strcmp(line, "# EOF"))
			eof = true;
		else if (line[0] == '#')
			meta_line(sc, line, lno);
		else
			sample_line(sc, line, lno);
		p = nl + 1;
	}
	ASSERT_MSG(eof, "no # EOF");
	for (size_t i = 0; i < sc->nfam; i++)
		ASSERT_MSG(sc->fam[i].type[0] && sc->fam[i].help,
			   "%s: no TYPE or HELP", sc->fam[i].name);
	ASSERT_EQ(sc->verdict_ones, 1);
	if (sc->have_inf || sc->have_count)
		ASSERT(sc->have_inf && sc->have_count && sc->inf == sc->count);
}

static bool has_family(const struct scrape *sc, const char *name,
		       const char *type)
{
	for (size_t i = 0; i < sc->nfam; i++)
		if (!strcmp(sc->fam[i].name, name))
			return !strcmp(sc->fam[i].type, type);
	return false;
}

/* Scrapes once: the body of a 200 answer, parsed. */
static void scrape(uint16_t port, struct scrape *sc, bool *answered)
{
	char *a = get(port, "/metrics");
	const char *body;

	*answered = a != NULL;
	if (!a)
		return;
	ASSERT_MSG(!strncmp(a, "HTTP/1.1 200 OK\r\n", 17), "%.80s", a);
	ASSERT(strstr(a, "Content-Type: " METRICS_CONTENT_TYPE "\r\n"));
	body = strstr(a, "\r\n\r\n");
	ASSERT(body);
	parse(body + 4, sc);
	free(a);
}

/*
 * A two-step run with --metrics: scraped every 200 ms while it goes;
 * every scrape parses, and one in the steps shows the rates, a proxy's
 * CPU, the latency histogram and the step.
 */
TEST_TIMEOUT(metrics_scraped_during_a_run, 90)
{
	uint16_t port = proc_free_port();
	char addr[32], out[1 << 16];
	size_t outlen = 0;
	struct proc p;
	struct scrape sc, during = {0};
	unsigned scrapes = 0;
	bool seen = false;
	const char *const argv[] = {"orchestrator",
				    "run",
				    "t.json",
				    "--hosts",
				    orchrun_local_hosts(),
				    "--results",
				    "results",
				    "--metrics",
				    addr,
				    NULL};

	orchrun_prepare("s0p1-short", NULL);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	proc_start(&p, argv);
	for (int i = 0; i < 400 && !proc_exited(&p); i++) {
		bool answered;

		orchrun_read_until(p.from_child, out, &outlen, sizeof(out),
				   "\xff", 200);
		if (outlen > sizeof(out) / 2)
			outlen = 0;
		scrape(port, &sc, &answered);
		if (!answered)
			continue;
		scrapes++;
		ASSERT(has_family(&sc, "sipstone_offered_rate", "gauge"));
		ASSERT(has_family(&sc, "sipstone_achieved_rate", "gauge"));
		ASSERT(has_family(&sc, "sipstone_success_ratio", "gauge"));
		ASSERT(has_family(&sc, "sipstone_latency_seconds",
				  "histogram"));
		ASSERT(has_family(&sc, "sipstone_role_cpu_ratio", "gauge"));
		ASSERT(has_family(&sc, "sipstone_role_rss_bytes", "gauge"));
		ASSERT(has_family(&sc, "sipstone_step", "gauge"));
		ASSERT(has_family(&sc, "sipstone_verdict", "gauge"));
		/* Every role's series from the run's beginning on (none in
		 * the moment before it began). */
		ASSERT_MSG(sc.roles == 0 || sc.roles == 4, "%u roles",
			   sc.roles);
		ASSERT(sc.have_inf && sc.have_count);
		if (sc.offered > 0 && sc.count > 0 && sc.sf1_rss > 0) {
			during = sc;
			seen = true;
		}
	}
	ASSERT_EQ(proc_stop(&p, 60000), 0);
	fprintf(stderr,
		"%u scrapes; during a step: step %.0f offered %.0f achieved "
		"%.0f, %.0f round trips, sf1 RSS %.0f bytes, ld1 CPU %.3f\n",
		scrapes, during.step, during.offered, during.achieved,
		during.count, during.sf1_rss, during.ld1_cpu);
	ASSERT(scrapes >= 10);
	ASSERT_MSG(seen, "no scrape showed a step's figures");
	ASSERT(during.offered == 200 || during.offered == 400);
	ASSERT(during.achieved > 0);
	/* The loaders' CPU too, not only the proxies'. */
	ASSERT(during.ld1_cpu > 0);
}
