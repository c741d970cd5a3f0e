#include "sshd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "test.h"

static void keygen_type(const char *path, const char *type)
{
	const char *argv[] = {"ssh-keygen", "-q", "-t", type, "-N",
			      "",	    "-f", path, NULL};

	if (proc_run(argv, "ssh-keygen.log", 10000) != 0)
		test_fail(__FILE__, __LINE__, "ssh-keygen -f %s failed", path);
}

static void keygen(const char *path)
{
	keygen_type(path, "ed25519");
}

static bool can_connect(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

void sshd_start(struct sshd *s)
{
	sshd_start_typed(s, "ed25519");
}

void sshd_start_typed(struct sshd *s, const char *host_key_type)
{
	char path[700], conf[4096];
	const char *sshd = "/usr/sbin/sshd";
	struct stat st;
	FILE *f;

	memset(s, 0, sizeof(*s));
	if (geteuid() != 0)
		test_skip("sshd tests need root (sshd drops privileges)");
	if (stat(sshd, &st) != 0)
		test_skip("no %s: run scripts/install-deps", sshd);
	snprintf(s->dir, sizeof(s->dir), "%s/sshd", test_tmp_dir());
	mkdir(s->dir, 0700);
	snprintf(s->user, sizeof(s->user), "root");
	snprintf(path, sizeof(path), "%s/host_key", s->dir);
	keygen_type(path, host_key_type);
	snprintf(s->host_pub, sizeof(s->host_pub), "%s/host_key.pub", s->dir);
	snprintf(s->client_key, sizeof(s->client_key), "%s/client_key",
		 s->dir);
	keygen(s->client_key);
	snprintf(s->wrong_key, sizeof(s->wrong_key), "%s/wrong_key", s->dir);
	keygen(s->wrong_key);
	snprintf(path, sizeof(path), "%s/authorized_keys", s->dir);
	{
		char pub[700];
		size_t len;
		char *key;

		snprintf(pub, sizeof(pub), "%s.pub", s->client_key);
		key = test_read_file(pub, &len);
		f = fopen(path, "w");
		ASSERT(f);
		fputs(key, f);
		fclose(f);
		free(key);
		chmod(path, 0600);
	}
	s->port = proc_free_port();
	snprintf(conf, sizeof(conf),
		 "ListenAddress 127.0.0.1:%u\n"
		 "HostKey %s/host_key\n"
		 "AuthorizedKeysFile %s/authorized_keys\n"
		 "PidFile %s/sshd.pid\n"
		 "PasswordAuthentication no\n"
		 "KbdInteractiveAuthentication no\n"
		 "UsePAM no\n"
		 "StrictModes no\n"
		 "PermitRootLogin prohibit-password\n"
		 "Subsystem sftp internal-sftp\n"
		 "MaxSessions 64\n"
		 "MaxStartups 64\n"
		 "LogLevel VERBOSE\n",
		 s->port, s->dir, s->dir, s->dir);
	snprintf(path, sizeof(path), "%s/sshd_config", s->dir);
	f = fopen(path, "w");
	ASSERT(f);
	fputs(conf, f);
	fclose(f);
	/* sshd insists on its privilege separation directory. */
	mkdir("/run/sshd", 0755);
	s->pid = fork();
	ASSERT(s->pid >= 0);
	if (s->pid == 0) {
		char log[700];

		snprintf(log, sizeof(log), "%s/sshd.log", s->dir);
		/* -D: stay in the foreground, so that our PID is its PID. */
		execl(sshd, sshd, "-D", "-f", path, "-E", log, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct timespec pause = {0, 20 * 1000 * 1000};
		int status;

		if (can_connect(s->port))
			return;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			test_fail(__FILE__, __LINE__,
				  "sshd exited at start; see %s/sshd.log",
				  s->dir);
		}
		nanosleep(&pause, NULL);
	}
	sshd_stop(s);
	test_fail(__FILE__, __LINE__, "sshd did not listen within 4 s");
}

void sshd_stop(struct sshd *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		struct timespec pause = {0, 20 * 1000 * 1000};

		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			return;
		}
		nanosleep(&pause, NULL);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

void sshd_write_known_hosts(const struct sshd *s, const char *path, bool wrong)
{
	char pub[700];
	size_t len;
	char *key, *space, *end;
	FILE *f;

	snprintf(pub, sizeof(pub), "%s%s", wrong ? s->wrong_key : s->host_pub,
		 wrong ? ".pub" : "");
	key = test_read_file(pub, &len);
	/* "ssh-ed25519 AAAA... comment": keep type and key only. */
	space = strchr(key, ' ');
	end = space ? strchr(space + 1, ' ') : NULL;
	if (end)
		*end = '\0';
	f = fopen(path, "w");
	ASSERT(f);
	fprintf(f, "[127.0.0.1]:%u %s\n", s->port, key);
	fclose(f);
	free(key);
}
