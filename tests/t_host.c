/* Tests for host operations (local and SSH) and preflight checks. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "preflight.h"
#include "proc.h"
#include "sshd.h"
#include "test.h"

static void local_host(struct inventory_host *ih)
{
	memset(ih, 0, sizeof(*ih));
	snprintf(ih->name, sizeof(ih->name), "here");
	snprintf(ih->address, sizeof(ih->address), "127.0.0.1");
	ih->local = true;
}

static void ssh_host(struct inventory_host *ih, const struct sshd *s,
		     const char *known_hosts)
{
	memset(ih, 0, sizeof(*ih));
	snprintf(ih->name, sizeof(ih->name), "there");
	snprintf(ih->address, sizeof(ih->address), "127.0.0.1");
	snprintf(ih->ssh_user, sizeof(ih->ssh_user), "%s", s->user);
	ih->ssh_port = s->port;
	snprintf(ih->ssh_key, sizeof(ih->ssh_key), "%.255s", s->client_key);
	snprintf(ih->known_hosts, sizeof(ih->known_hosts), "%.255s",
		 known_hosts);
}

static bool wait_done(struct host_proc *p, int *status)
{
	for (int i = 0; i < 500; i++) {
		if (host_proc_done(p, status))
			return true;
		usleep(10000);
	}
	return false;
}

/* The same checks on a local host and on one behind SSH. */
static void exercise(struct host *h)
{
	char why[SSH_WHY_MAX] = "", src[600], dst[600], line[64];
	struct ssh_result r;
	struct host_proc *p = NULL;
	int to, from, status = 99;
	ssize_t n;
	FILE *f;

	ASSERT_MSG(host_run(h, "echo a; echo b >&2; exit 4", 5000, &r, why,
			    sizeof(why)) == 0,
		   "%s", why);
	ASSERT_STR(r.out, "a\n");
	ASSERT_STR(r.err, "b\n");
	ASSERT_EQ(r.status, 4);
	ssh_result_free(&r);

	snprintf(src, sizeof(src), "%s/src.txt", test_tmp_dir());
	snprintf(dst, sizeof(dst), "%s/dst-%s.txt", test_tmp_dir(),
		 host_name(h));
	f = fopen(src, "w");
	ASSERT(f);
	fputs("payload\n", f);
	fclose(f);
	chmod(src, 0750);
	ASSERT_MSG(host_put(h, src, dst, why, sizeof(why)) == 0, "%s", why);
	ASSERT_MSG(host_get(h, dst, "back.txt", why, sizeof(why)) == 0, "%s",
		   why);
	{
		size_t len;
		char *text = test_read_file("back.txt", &len);
		struct stat st;

		ASSERT_STR(text, "payload\n");
		free(text);
		ASSERT_EQ(stat(dst, &st), 0);
		ASSERT_EQ(st.st_mode & 0777, 0750);
	}

	ASSERT_MSG(host_spawn(h, "cat", "spawn.log", &p, &to, &from, why,
			      sizeof(why)) == 0,
		   "%s", why);
	ASSERT_EQ(write(to, "ping\n", 5), 5);
	{
		struct pollfd pfd = {from, POLLIN, 0};

		ASSERT(poll(&pfd, 1, 5000) == 1);
		n = read(from, line, sizeof(line) - 1);
		ASSERT_EQ(n, 5);
		ASSERT(memcmp(line, "ping\n", 5) == 0);
	}
	/* The PID is cat's own (everything runs on this machine here). */
	{
		char comm[64], path[64];
		size_t len;
		char *text;

		snprintf(path, sizeof(path), "/proc/%ld/comm",
			 host_proc_pid(p));
		text = test_read_file(path, &len);
		snprintf(comm, sizeof(comm), "%s", text);
		free(text);
		ASSERT_STR(comm, "cat\n");
	}
	close(to);
	ASSERT(wait_done(p, &status));
	ASSERT_EQ(status, 0);
	close(from);
	host_proc_free(p);

	ASSERT_EQ(host_spawn(h, "sleep 30", NULL, &p, &to, &from, why,
			     sizeof(why)),
		  0);
	for (int i = 0; i < 300 && host_proc_pid(p) <= 0; i++)
		usleep(10000);
	ASSERT_EQ(host_proc_signal(h, p, SIGTERM), 0);
	ASSERT(wait_done(p, &status));
	ASSERT(status != 0);
	ASSERT_EQ(host_proc_signal(h, p, SIGTERM), ESRCH);
	close(to);
	close(from);
	host_proc_free(p);
}

TEST_TIMEOUT(host_local_run_copy_spawn_signal, 20)
{
	struct inventory_host ih;
	struct host *h = NULL;
	char why[SSH_WHY_MAX] = "";
	struct ssh_result r;

	local_host(&ih);
	ASSERT_EQ(host_open(&h, &ih, false, why, sizeof(why)), 0);
	ASSERT(host_is_local(h));
	exercise(h);
	/* A command past its time is ended, with what it started. */
	ASSERT_EQ(host_run(h, "sleep 30 & sleep 30", 300, &r, why,
			   sizeof(why)),
		  ETIMEDOUT);
	ASSERT(strstr(why, "did not finish within 300 ms"));
	host_close(h);
}

TEST_TIMEOUT(host_over_ssh_run_copy_spawn_signal, 30)
{
	struct inventory_host ih;
	struct host *h = NULL;
	char why[SSH_WHY_MAX] = "", kh[600];
	struct sshd s;

	sshd_start(&s);
	snprintf(kh, sizeof(kh), "%s/kh", test_tmp_dir());
	sshd_write_known_hosts(&s, kh, false);
	ssh_host(&ih, &s, kh);
	ASSERT_MSG(host_open(&h, &ih, false, why, sizeof(why)) == 0, "%s",
		   why);
	ASSERT(!host_is_local(h));
	exercise(h);
	host_close(h);
	sshd_stop(&s);
}

static struct topo *topo_with_ports(uint16_t p1, uint16_t p2, const char *host)
{
	struct topo_errors errs = {0};
	struct topo *t = NULL;
	char text[1024];

	snprintf(text, sizeof(text),
		 "{\"name\": \"pf\", \"database\": {\"host\": \"%s\", "
		 "\"managed\": false},\n"
		 " \"stateful\": [{\"name\": \"sf1\", \"host\": \"%s\", "
		 "\"listen\": [\"udp:%u\", \"tcp:%u\"]}],\n"
		 " \"loaders\": [{\"name\": \"ld1\", \"host\": \"%s\"}]}\n",
		 host, host, p1, p2, host);
	ASSERT_EQ(topo_load(&t, test_write_file("pf.json", text), NULL, &errs),
		  0);
	return t;
}

TEST_TIMEOUT(preflight_local_facts_and_busy_ports, 20)
{
	struct inventory inv = {0};
	struct inventory_host ih;
	struct preflight_host *hosts = NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	uint16_t p1 = proc_free_port(), p2 = proc_free_port();
	struct topo *t;
	size_t n = 0;
	int fd;

	local_host(&ih);
	inv.hosts = &ih;
	inv.nhosts = 1;
	t = topo_with_ports(p1, p2, "here");
	ASSERT_EQ(preflight_run(t, &inv, false, &hosts, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_MSG(hosts[0].ok, "%s", hosts[0].problems[0]);
	ASSERT(hosts[0].cores >= 1 && hosts[0].mem_mb > 0);
	ASSERT(hosts[0].arch[0] && hosts[0].kernel[0]);
	ASSERT(hosts[0].clock_offset_ms < 1000 &&
	       hosts[0].clock_offset_ms > -1000);
	free(hosts);

	/* Something else holds the UDP port sf1 needs. */
	sa.sin_port = htons(p1);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ASSERT_EQ(preflight_run(t, &inv, false, &hosts, &n), 0);
	ASSERT(!hosts[0].ok);
	ASSERT_EQ(hosts[0].nproblems, 1);
	ASSERT_MSG(strstr(hosts[0].problems[0], "UDP port") &&
			   strstr(hosts[0].problems[0], "sf1 needs it"),
		   "%s", hosts[0].problems[0]);
	close(fd);
	free(hosts);
	topo_free(t);
}

TEST_TIMEOUT(preflight_over_ssh_says_what_is_wrong, 30)
{
	struct inventory inv = {0};
	struct inventory_host ih;
	struct preflight_host *hosts = NULL;
	char kh[600];
	struct topo *t;
	struct sshd s;
	size_t n = 0;
	json_t *j;

	sshd_start(&s);
	snprintf(kh, sizeof(kh), "%s/kh", test_tmp_dir());
	ssh_host(&ih, &s, kh);
	inv.hosts = &ih;
	inv.nhosts = 1;
	t = topo_with_ports(proc_free_port(), proc_free_port(), "there");
	/* Unknown host key: refused, and the fix is named. */
	ASSERT_EQ(preflight_run(t, &inv, false, &hosts, &n), 0);
	ASSERT(!hosts[0].ok);
	ASSERT_MSG(strstr(hosts[0].problems[0], "there: ") &&
			   strstr(hosts[0].problems[0], "--accept-new"),
		   "%s", hosts[0].problems[0]);
	free(hosts);
	ASSERT_EQ(preflight_run(t, &inv, true, &hosts, &n), 0);
	ASSERT_MSG(hosts[0].ok, "%s", hosts[0].problems[0]);
	j = preflight_json(hosts, n);
	ASSERT_EQ(json_array_size(j), 1);
	ASSERT_STR(json_string_value(
			   json_object_get(json_array_get(j, 0), "name")),
		   "there");
	json_decref(j);
	free(hosts);
	topo_free(t);
	sshd_stop(&s);
}
