#include "res_bundle.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int res_pack(const char *dir)
{
	char parent[1024], archive[1100];
	const char *base;
	pid_t pid;
	int status;

	snprintf(parent, sizeof(parent), "%s", dir);
	base = strrchr(parent, '/');
	if (base) {
		parent[base - parent] = '\0';
		base = dir + (base - parent) + 1;
		if (!parent[0])
			snprintf(parent, sizeof(parent), "/");
	} else {
		snprintf(parent, sizeof(parent), ".");
		base = dir;
	}
	snprintf(archive, sizeof(archive), "%s.tar.gz", dir);
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		execlp("tar", "tar", "-C", parent, "-czf", archive, base,
		       (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EIO;
}