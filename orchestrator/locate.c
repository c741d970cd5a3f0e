#include "locate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datadir.h"

const char *locate_results_dir(const char *given)
{
	const char *env = getenv(LOCATE_RESULTS_ENV);

	if (given && given[0])
		return given;
	if (env && env[0])
		return env;
	return "results";
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* Adds "dir/file" to the places tried; 0, or ENAMETOOLONG. */
static int candidate(char *out, size_t size, const char *dir, const char *file)
{
	int n = dir[0] ? snprintf(out, size, "%s/%s", dir, file)
		       : snprintf(out, size, "%s", file);

	return n < 0 || (size_t)n >= size ? ENAMETOOLONG : 0;
}

int locate_file(enum locate_kind kind, const char *arg, char *out, size_t size,
		char *why, size_t whysz)
{
	static const char *const topo_dirs[] = {"", "topologies", NULL};
	/* Not NAME.json here: that is the topology of the same name
	 * (orchestrator init writes NAME.json and hosts/NAME.json). */
	static const char *const inv_dirs[] = {"hosts", "topologies/hosts",
					       NULL};
	const char *const *dirs = kind == LOCATE_TOPOLOGY ? topo_dirs
							  : inv_dirs;
	const char *shared = kind == LOCATE_TOPOLOGY ? "topologies"
						     : "topologies/hosts";
	char file[300], path[1200], data[1000];
	size_t used;
	int err;

	if (is_file(arg)) {
		if ((size_t)snprintf(out, size, "%s", arg) >= size)
			return ENAMETOOLONG;
		return 0;
	}
	used = (size_t)snprintf(why, whysz, "%s: no such %s file", arg,
				kind == LOCATE_TOPOLOGY ? "topology"
							: "inventory");
	if (strchr(arg, '/'))
		return ENOENT;
	if ((size_t)snprintf(file, sizeof(file), "%s%s", arg,
			     ends_with(arg, ".json") ? "" : ".json") >=
	    sizeof(file))
		return ENAMETOOLONG;
	err = datadir_path(data, sizeof(data), shared);
	if (err)
		return err;
	for (size_t i = 0; dirs[i] || data[0]; i++) {
		const char *dir = dirs[i] ? dirs[i] : data;

		err = candidate(path, sizeof(path), dir, file);
		if (err)
			return err;
		if (is_file(path)) {
			if ((size_t)snprintf(out, size, "%s", path) >= size)
				return ENAMETOOLONG;
			return 0;
		}
		if (used < whysz)
			used += (size_t)snprintf(why + used, whysz - used,
						 "%s %s",
						 i ? "," : "; looked for",
						 path);
		if (!dirs[i])
			break;
	}
	return ENOENT;
}
