/*
 * The JSON Schemas of topologies/schema/ against the orchestrator's own
 * validator: python3-jsonschema (a real draft 2020-12 validator) accepts
 * every shipped topology and inventory and every JSON fixture under
 * tests/, and so does `orchestrator validate`; every file of
 * tests/data/schema-bad/ is rejected by the schema, and by `orchestrator
 * validate` too, with a message placed in that file.
 */
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "test.h"

static void need_jsonschema(void)
{
	if (system("python3 -c 'import jsonschema' >/dev/null 2>&1") != 0)
		test_skip("no python3-jsonschema: run scripts/install-deps");
}

/*
 * Runs tests/data/schema_check.py on files (all shipped files and
 * fixtures when files is NULL); returns its output (caller frees).
 */
static char *schema_check(const char *const *files, size_t n)
{
	char script[600];
	const char **argv = calloc(n + 4, sizeof(*argv));
	char *out;
	size_t len;

	ASSERT(argv);
	snprintf(script, sizeof(script), "%s/tests/data/schema_check.py",
		 test_root_dir());
	argv[0] = "python3";
	argv[1] = script;
	argv[2] = test_root_dir();
	for (size_t i = 0; i < n; i++)
		argv[3 + i] = files[i];
	unlink("schema_check.log");
	ASSERT_EQ(proc_run(argv, "schema_check.log", 30000), 0);
	free(argv);
	out = test_read_file("schema_check.log", &len);
	return out;
}

/*
 * `orchestrator validate` of a topology, or of an inventory (alone when
 * good; a bad one as the --hosts of a minimal good topology, so that it
 * is read as an inventory even without "hosts"); returns its exit status
 * and leaves its output in *out (caller frees).
 */
static int orch_validate(const char *kind, const char *path, bool good,
			 char **out)
{
	char orch[600], minimal[600];
	const char *topo_argv[] = {orch, "validate", path, NULL};
	const char *inv_argv[] = {orch,	     "validate", minimal,
				  "--hosts", path,	 NULL};
	size_t len;
	int rc;

	snprintf(orch, sizeof(orch), "%s/orchestrator", test_bin_dir());
	snprintf(minimal, sizeof(minimal),
		 "%s/tests/data/schema-good/topo-minimal.json",
		 test_root_dir());
	unlink("validate.log");
	rc = proc_run(strcmp(kind, "inventory") || good ? topo_argv : inv_argv,
		      "validate.log", 10000);
	*out = test_read_file("validate.log", &len);
	return rc;
}

TEST_TIMEOUT(schema_accepts_shipped_files_and_fixtures, 60)
{
	char *out, *line, *save = NULL;
	size_t shipped = 0, fixtures = 0;

	need_jsonschema();
	out = schema_check(NULL, 0);
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char kind[16], path[700], *why;
		int rc;

		ASSERT_MSG(!strncmp(line, "valid ", 6), "schema: %s", line);
		ASSERT_EQ(sscanf(line, "valid %15s %699s", kind, path), 2);
		if (strstr(path, "/topologies/"))
			shipped++;
		else
			fixtures++;
		rc = orch_validate(kind, path, true, &why);
		ASSERT_MSG(rc == 0,
			   "the schema accepts %s, orchestrator "
			   "validate does not (%d): %s",
			   path, rc, why);
		free(why);
	}
	free(out);
	/* s0p1 s1p1 s1p2 s2p2 and hosts/local.json at least */
	ASSERT_MSG(shipped >= 5, "only %zu shipped files checked", shipped);
	ASSERT_MSG(fixtures >= 5, "only %zu fixtures checked", fixtures);
}

TEST_TIMEOUT(schema_rejects_only_what_orchestrator_rejects, 120)
{
	char pattern[600], *out, *line, *save = NULL;
	glob_t g = {0};
	size_t seen = 0;

	need_jsonschema();
	snprintf(pattern, sizeof(pattern), "%s/tests/data/schema-bad/*.json",
		 test_root_dir());
	ASSERT_EQ(glob(pattern, 0, NULL, &g), 0);
	ASSERT(g.gl_pathc >= 40);
	out = schema_check((const char *const *)g.gl_pathv, g.gl_pathc);
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char kind[16], path[700], placed[720], *why;
		int rc;

		ASSERT_MSG(!strncmp(line, "invalid ", 8),
			   "the schema accepts a bad file: %s", line);
		ASSERT_EQ(sscanf(line, "invalid %15s %699[^:]", kind, path),
			  2);
		ASSERT_STR(path, g.gl_pathv[seen]);
		seen++;
		rc = orch_validate(kind, path, false, &why);
		snprintf(placed, sizeof(placed), "%s:", path);
		ASSERT_MSG(rc == 2 && strstr(why, placed),
			   "the schema rejects %s (%s), orchestrator validate "
			   "does not (%d): %s",
			   path, strchr(line, ':') + 1, rc, why);
		free(why);
	}
	ASSERT_EQ(seen, g.gl_pathc);
	free(out);
	globfree(&g);
}
