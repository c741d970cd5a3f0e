#include "workdir.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "shquote.h"

const char *workdir_base(void)
{
	const char *env = getenv("SIPSTONE_TMPDIR");

	static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-";

	if (env && env[0] == '/' && strlen(env) < 200 &&
	    strspn(env, safe) == strlen(env) && !strstr(env, "/."))
		return env;
	return "/tmp";
}

int workdir_lock(const char *dir)
{
	char path[800];
	int fd;

	snprintf(path, sizeof(path), "%s/" WORKDIR_LOCK, dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

void workdir_random_hex(char *out, size_t nbytes)
{
	unsigned char raw[32];

	if (nbytes > sizeof(raw))
		nbytes = sizeof(raw);
	/* A predictable name is what this module exists to avoid. */
	if (RAND_bytes(raw, (int)nbytes) != 1)
		abort();
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

int workdir_local_create(const char *id, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/sipstone-work-%s-XXXXXX",
			 workdir_base(), id);

	if (n < 0 || (size_t)n >= size)
		return ENAMETOOLONG;
	/* mkdtemp: O_EXCL semantics and mode 700 (POSIX.1-2008). */
	return mkdtemp(out) ? 0 : errno;
}

int workdir_remote_name(const char *id, char *out, size_t size)
{
	char hex[17];
	int n;

	workdir_random_hex(hex, 8);
	n = snprintf(out, size, "%s/sipstone-%s-%s", workdir_base(), id, hex);
	return n < 0 || (size_t)n >= size ? ENAMETOOLONG : 0;
}

int workdir_remote_create(struct host *h, const char *dir, char *why,
			  size_t whysz)
{
	char q[600], cmd[3400];
	struct ssh_result res = {0};
	int err;

	if (shquote(q, sizeof(q), dir))
		return ENAMETOOLONG;
	/* The name is random: nobody can plant it before we make it.  Two
	 * inventory hosts may share one /tmp (one machine, network
	 * namespaces): then the second finds the first's, which must be
	 * a directory (not a symlink) of ours with mode 700. */
	snprintf(cmd, sizeof(cmd),
		 "umask 077 && { mkdir -m 700 -- %s 2>/dev/null || "
		 "test -d %s; } || exit 3; "
		 "test -d %s && test ! -L %s || exit 4; "
		 "test \"$(stat -c %%u:%%a -- %s)\" = \"$(id -u):700\" || "
		 "exit 4",
		 q, q, q, q, q);
	err = host_run(h, cmd, 10000, &res, why, whysz);
	if (!err && res.status) {
		err = res.status == 3 ? EEXIST : EACCES;
		snprintf(why, whysz,
			 "%s: cannot create a fresh private %s (%s)",
			 host_name(h), dir,
			 err == EEXIST ? "mkdir failed"
				       : "not a directory of ours");
	}
	ssh_result_free(&res);
	return err;
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? errno : 0;
	return unlink(path) < 0 ? errno : 0;
}

int workdir_local_remove(const char *dir)
{
	int rc;

	/* FTW_PHYS: a symlink is removed, never followed. */
	rc = nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	if (rc < 0)
		return errno == ENOENT ? 0 : errno;
	return rc;
}

int workdir_remote_remove(struct host *h, const char *dir)
{
	char q[600], cmd[700], why[SSH_WHY_MAX];
	struct ssh_result res = {0};
	int err;

	if (shquote(q, sizeof(q), dir))
		return ENAMETOOLONG;
	snprintf(cmd, sizeof(cmd), "rm -rf -- %s", q);
	err = host_run(h, cmd, 30000, &res, why, sizeof(why));
	if (!err && res.status)
		err = EIO;
	ssh_result_free(&res);
	return err;
}
