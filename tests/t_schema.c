/*
 * The JSON Schemas of topologies/schema/ against the orchestrator's own
 * validator: python3-jsonschema (a real draft 2020-12 validator) and
 * `orchestrator validate` both accept every shipped topology and
 * inventory and the fixtures of tests/data/schema-good/; both reject
 * every file of tests/data/schema-bad/; and of every other JSON fixture
 * under tests/ (placeholders filled), what the schema rejects the
 * orchestrator rejects too, with a message placed in that file.
 */
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

/* Runs tests/data/schema_check.py over every shipped file and every
 * fixture under tests/; returns its output (caller frees). */
static char *schema_check(void)
{
	char script[600];
	const char *argv[] = {"python3", script, test_root_dir(),
			      test_tmp_dir(), NULL};
	size_t len;

	snprintf(script, sizeof(script), "%s/tests/data/schema_check.py",
		 test_root_dir());
	unlink("schema_check.log");
	ASSERT_EQ(proc_run(argv, "schema_check.log", 30000), 0);
	return test_read_file("schema_check.log", &len);
}

/* One line of schema_check.py: "valid|invalid KIND GROUP PATH[: why]". */
struct verdict {
	bool valid;
	char kind[16], group[16], path[700];
	const char *why;
};

static void parse_line(const char *line, struct verdict *v)
{
	char word[16];

	ASSERT_MSG(sscanf(line, "%15s %15s %15s %699[^:]", word, v->kind,
			  v->group, v->path) == 4,
		   "schema_check: %s", line);
	v->valid = !strcmp(word, "valid");
	ASSERT_MSG(v->valid || !strcmp(word, "invalid"), "schema_check: %s",
		   line);
	v->why = strchr(line, ':') ? strchr(line, ':') + 1 : "";
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

TEST_TIMEOUT(schema_accepts_shipped_files_and_good_fixtures, 60)
{
	char *out, *line, *save = NULL;
	size_t shipped = 0, good = 0;

	need_jsonschema();
	out = schema_check();
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct verdict v;
		char *why;
		int rc;

		parse_line(line, &v);
		if (strcmp(v.group, "shipped") && strcmp(v.group, "good"))
			continue;
		ASSERT_MSG(v.valid, "the schema rejects %s", line);
		rc = orch_validate(v.kind, v.path, true, &why);
		ASSERT_MSG(rc == 0,
			   "the schema accepts %s, orchestrator validate does "
			   "not (%d): %s",
			   v.path, rc, why);
		free(why);
		*(strcmp(v.group, "good") ? &shipped : &good) += 1;
	}
	free(out);
	/* s0p1 s1p1 s1p2 s2p2 and hosts/local.json at least */
	ASSERT_MSG(shipped >= 5, "only %zu shipped files checked", shipped);
	ASSERT_MSG(good >= 5, "only %zu good fixtures checked", good);
}

/*
 * Every file of schema-bad/ is rejected by both; any other fixture (the
 * orchestrator's tests keep mistakes on purpose among them) that the
 * schema rejects, orchestrator validate rejects too, placed in it: what
 * orchestrator validate accepts, the schema accepts.
 */
TEST_TIMEOUT(schema_rejects_only_what_orchestrator_rejects, 120)
{
	char *out, *line, *save = NULL;
	size_t bad = 0, fixtures = 0, rejected = 0;

	need_jsonschema();
	out = schema_check();
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char placed[720], *why;
		struct verdict v;
		int rc;

		parse_line(line, &v);
		if (!strcmp(v.group, "bad")) {
			ASSERT_MSG(!v.valid,
				   "the schema accepts a bad file: %s", line);
			bad++;
		} else if (!strcmp(v.group, "fixture")) {
			fixtures++;
			if (v.valid)
				continue;
		} else {
			continue;
		}
		rejected++;
		rc = orch_validate(v.kind, v.path, false, &why);
		snprintf(placed, sizeof(placed), "%s:", v.path);
		ASSERT_MSG(rc == 2 && strstr(why, placed),
			   "the schema rejects %s (%s), orchestrator validate "
			   "does not (%d): %s",
			   v.path, v.why, rc, why);
		free(why);
	}
	free(out);
	ASSERT_MSG(bad >= 60, "only %zu files of schema-bad/ checked", bad);
	ASSERT_MSG(fixtures >= 20, "only %zu other fixtures checked",
		   fixtures);
	ASSERT(rejected > bad);
}
