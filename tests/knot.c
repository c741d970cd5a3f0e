/* A private Knot DNS server for tests: see knot.h. */
#include "knot.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

static const char *const knotd_paths[] = {"/usr/sbin/knotd", "/usr/bin/knotd",
					  NULL};
static const char *const knotc_paths[] = {"/usr/sbin/knotc", "/usr/bin/knotc",
					  NULL};

static const char *find(const char *const *paths)
{
	for (size_t i = 0; paths[i]; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

bool knot_available(void)
{
	return find(knotd_paths) && find(knotc_paths);
}

/* Replaces every @NAME@ of vars in text; returns a new string. */
static char *fill(const char *text, const char *const *vars)
{
	size_t cap = strlen(text) * 2 + 4096, n = 0;
	char *out = malloc(cap);

	ASSERT(out);
	for (const char *p = text; *p;) {
		bool done = false;

		for (size_t i = 0; *p == '@' && vars && vars[i]; i += 2) {
			size_t l = strlen(vars[i]);

			if (strncmp(p + 1, vars[i], l) != 0 || p[1 + l] != '@')
				continue;
			ASSERT(n + strlen(vars[i + 1]) + 1 < cap);
			memcpy(out + n, vars[i + 1], strlen(vars[i + 1]));
			n += strlen(vars[i + 1]);
			p += l + 2;
			done = true;
			break;
		}
		if (done)
			continue;
		ASSERT(n + 2 < cap);
		out[n++] = *p++;
	}
	out[n] = '\0';
	return out;
}

static void write_from(const char *fixture, const char *name,
		       const char *const *vars)
{
	char path[512];
	char *text, *filled;
	size_t len;

	snprintf(path, sizeof(path), "%s/tests/data/dns/%s", test_root_dir(),
		 fixture);
	text = test_read_file(path, &len);
	filled = fill(text, vars);
	test_write_file(name, filled);
	free(filled);
	free(text);
}

/* Asks for the zone's SOA over UDP: whether an answer came. */
static bool answers(uint16_t port)
{
	static const uint8_t q[] = {0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00,
				    0x00, 0x00, 0x00, 0x00, 0x00, 8,	's',
				    'i',  'p',	's',  't',  'o',  'n',	'e',
				    4,	  't',	'e',  's',  't',  0,	0x00,
				    0x06, 0x00, 0x01};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct pollfd pfd;
	uint8_t buf[512];
	bool ok = false;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sendto(fd, q, sizeof(q), 0, (struct sockaddr *)&sa, sizeof(sa)) ==
	    (ssize_t)sizeof(q)) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) == 1) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			/* an answer (QR), NOERROR, one answer record */
			ok = n >= 12 && buf[0] == 0x12 && (buf[2] & 0x80) &&
			     (buf[3] & 0x0f) == 0 && buf[7] >= 1;
		}
	}
	close(fd);
	return ok;
}

void knot_start(struct knot *k, const char *const *vars)
{
	const char *knotd = find(knotd_paths);
	char port[8], conf[400];
	const char *const cvars[] = {"DIR", k->dir, "PORT", port, NULL};

	ASSERT_MSG(knotd, "knotd is not installed");
	memset(k, 0, sizeof(*k));
	snprintf(k->dir, sizeof(k->dir), "%s", test_tmp_dir());
	snprintf(k->sock, sizeof(k->sock), "%s/knot.sock", k->dir);
	k->port = proc_free_port();
	snprintf(port, sizeof(port), "%u", k->port);
	snprintf(k->servers, sizeof(k->servers), "127.0.0.1:%u", k->port);
	write_from("knot.conf.in", "knot.conf", cvars);
	write_from("sipstone.test.zone.in", "sipstone.test.zone", vars);
	snprintf(conf, sizeof(conf), "%s/knot.conf", k->dir);
	{
		const char *const argv[] = {knotd, "-c", conf, NULL};

		proc_start(&k->server, argv);
	}
	for (int i = 0; i < 50; i++) {
		if (answers(k->port))
			return;
		if (proc_exited(&k->server))
			break;
		usleep(100 * 1000);
	}
	proc_dump_log(&k->server);
	test_fail(__FILE__, __LINE__, "knotd does not answer on port %u",
		  k->port);
}

void knot_reload(struct knot *k, const char *const *vars)
{
	const char *const argv[] = {
		find(knotc_paths), "-b", "-s", k->sock, "zone-reload",
		"sipstone.test",   NULL};
	int rc;

	write_from("sipstone.test.zone.in", "sipstone.test.zone", vars);
	rc = proc_run(argv, "knotc.log", 5000);
	ASSERT_MSG(rc == 0, "knotc zone-reload: exit %d", rc);
}

void knot_stop(struct knot *k)
{
	proc_signal(&k->server, SIGTERM);
	proc_stop(&k->server, 3000);
}
