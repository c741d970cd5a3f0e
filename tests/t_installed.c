/*
 * The orchestrator as an installed program (issue 19): what it writes
 * goes below the user's directory, shipped files are found by name, and
 * `orchestrator init` starts a user off with files validate accepts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "init.h"
#include "locate.h"
#include "orchrun.h"
#include "proc.h"
#include "test.h"
#include "version.h"

static void make_dir(const char *path)
{
	ASSERT_MSG(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s",
		   path, strerror(errno));
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ASSERT_MSG(f, "fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	ASSERT(fclose(f) == 0);
}

static bool log_has(const char *log, const char *needle)
{
	size_t len;
	char *text = test_read_file(log, &len);
	bool yes = strstr(text, needle) != NULL;

	if (!yes)
		fprintf(stderr, "%s has no \"%s\":\n%s", log, needle, text);
	free(text);
	return yes;
}

TEST(installed_locate_looks_here_then_below_then_in_the_data_dir)
{
	char out[1000], why[3000], want[1200];
	const char *tmp = test_tmp_dir();

	make_dir("topologies");
	make_dir("topologies/hosts");
	make_dir("hosts");
	make_dir("share");
	make_dir("share/topologies");
	make_dir("share/topologies/hosts");
	put("share/topologies/t.json", "{}");
	put("share/topologies/hosts/h.json", "{}");
	snprintf(want, sizeof(want), "%s/share", tmp);
	setenv("SIPSTONE_DATADIR", want, 1);

	/* The data directory last... */
	ASSERT_EQ(locate_file(LOCATE_TOPOLOGY, "t", out, sizeof(out), why,
			      sizeof(why)),
		  0);
	snprintf(want, sizeof(want), "%s/share/topologies/t.json", tmp);
	ASSERT_STR(out, want);
	ASSERT_EQ(locate_file(LOCATE_INVENTORY, "h", out, sizeof(out), why,
			      sizeof(why)),
		  0);
	snprintf(want, sizeof(want), "%s/share/topologies/hosts/h.json", tmp);
	ASSERT_STR(out, want);
	/* ...then topologies/ below the current directory... */
	put("topologies/t.json", "{}");
	put("topologies/hosts/h.json", "{}");
	ASSERT_EQ(locate_file(LOCATE_TOPOLOGY, "t", out, sizeof(out), why,
			      sizeof(why)),
		  0);
	ASSERT_STR(out, "topologies/t.json");
	ASSERT_EQ(locate_file(LOCATE_INVENTORY, "h.json", out, sizeof(out),
			      why, sizeof(why)),
		  0);
	ASSERT_STR(out, "topologies/hosts/h.json");
	/* ...then hosts/ and the current directory first. */
	put("t.json", "{}");
	put("hosts/h.json", "{}");
	ASSERT_EQ(locate_file(LOCATE_TOPOLOGY, "t", out, sizeof(out), why,
			      sizeof(why)),
		  0);
	ASSERT_STR(out, "t.json");
	ASSERT_EQ(locate_file(LOCATE_INVENTORY, "h", out, sizeof(out), why,
			      sizeof(why)),
		  0);
	ASSERT_STR(out, "hosts/h.json");
	/* A path is itself; a name found nowhere says every place. */
	ASSERT_EQ(locate_file(LOCATE_TOPOLOGY, "share/topologies/t.json", out,
			      sizeof(out), why, sizeof(why)),
		  0);
	ASSERT_STR(out, "share/topologies/t.json");
	ASSERT_EQ(locate_file(LOCATE_TOPOLOGY, "nope", out, sizeof(out), why,
			      sizeof(why)),
		  ENOENT);
	snprintf(want, sizeof(want),
		 "nope: no such topology file; looked for nope.json, "
		 "topologies/nope.json, %s/share/topologies/nope.json",
		 tmp);
	ASSERT_STR(why, want);
	ASSERT_EQ(locate_file(LOCATE_INVENTORY, "nope", out, sizeof(out), why,
			      sizeof(why)),
		  ENOENT);
	snprintf(want, sizeof(want),
		 "nope: no such inventory file; looked for hosts/nope.json, "
		 "topologies/hosts/nope.json, "
		 "%s/share/topologies/hosts/nope.json",
		 tmp);
	ASSERT_STR(why, want);
	ASSERT_EQ(locate_file(LOCATE_TOPOLOGY, "dir/nope.json", out,
			      sizeof(out), why, sizeof(why)),
		  ENOENT);
}

TEST(installed_results_dir_is_given_else_the_environment_else_here)
{
	unsetenv(LOCATE_RESULTS_ENV);
	ASSERT_STR(locate_results_dir(NULL), "results");
	setenv(LOCATE_RESULTS_ENV, "/srv/runs", 1);
	ASSERT_STR(locate_results_dir(NULL), "/srv/runs");
	ASSERT_STR(locate_results_dir("mine"), "mine");
	setenv(LOCATE_RESULTS_ENV, "", 1);
	ASSERT_STR(locate_results_dir(NULL), "results");
}

/* The shipped files by name, from a directory that has none of them. */
TEST(installed_validate_finds_shipped_files_by_name)
{
	const char *ok[] = {"orchestrator", "validate", "s2p2",
			    "--hosts",	    "local",	NULL};
	const char *missing[] = {"orchestrator", "validate", "s9p9", NULL};

	setenv("SIPSTONE_DATADIR", test_root_dir(), 1);
	make_dir("empty");
	ASSERT(chdir("empty") == 0);
	ASSERT_EQ(proc_run(ok, "ok.log", 10000), 0);
	ASSERT(log_has("../ok.log", "topologies/s2p2.json: valid topology"));
	ASSERT(log_has("../ok.log", "topologies/hosts/local.json: valid "
				    "inventory"));
	ASSERT_EQ(proc_run(missing, "missing.log", 10000), 2);
	ASSERT(log_has("../missing.log", "s9p9: no such topology file; looked "
					 "for s9p9.json, "
					 "topologies/s9p9.json, "));
	ASSERT(log_has("../missing.log", "/topologies/s9p9.json\n"));
}

/* init for 1 to 9 hosts: validate accepts each, the SSH settings are
 * the user's, and the proxy never shares a host with the load when
 * there are two hosts or more. */
TEST_TIMEOUT(installed_init_writes_what_validate_accepts, 30)
{
	char home[600], key[700], list[400] = "", name[16];

	snprintf(home, sizeof(home), "%s/home", test_tmp_dir());
	make_dir("home");
	make_dir("home/.ssh");
	snprintf(key, sizeof(key), "%s/.ssh/id_rsa", home);
	put(key, "not a real key: init only names it\n");
	setenv("HOME", home, 1);
	setenv("USER", "tester", 1);
	for (unsigned n = 1; n <= 9; n++) {
		const char *init[] = {"orchestrator", "init", "--hosts", list,
				      "--name",	      name,   NULL};
		const char *val[] = {"orchestrator", "validate", name,
				     "--hosts",	     name,	 NULL};
		json_t *topo = NULL, *inv = NULL;
		const char *addrs[9];
		char why[300];

		size_t used = strlen(list);

		snprintf(list + used, sizeof(list) - used, "%sn%u.example.net",
			 n > 1 ? "," : "", n);
		snprintf(name, sizeof(name), "bed%u", n);
		ASSERT_EQ(proc_run(init, "init.log", 10000), 0);
		ASSERT_EQ(proc_run(val, "validate.log", 10000), 0);
		/* The same through the function, to look at the placement. */
		for (unsigned k = 0; k < n; k++) {
			static char a[9][32];

			snprintf(a[k], sizeof(a[k]), "n%u.example.net", k + 1);
			addrs[k] = a[k];
		}
		ASSERT_EQ(init_make(name, addrs, n, &topo, &inv, why,
				    sizeof(why)),
			  0);
		ASSERT_STR(json_string_value(json_object_get(
				   json_object_get(
					   json_object_get(
						   json_object_get(inv, "host"
									"s"),
						   "n1"),
					   "ssh"),
				   "key")),
			   key);
		if (n >= 2) {
			const char *sf = json_string_value(json_object_get(
				json_array_get(json_object_get(topo, "statefu"
								     "l"),
					       0),
				"host"));
			const char *ld = json_string_value(json_object_get(
				json_array_get(json_object_get(topo, "loader"
								     "s"),
					       0),
				"host"));

			ASSERT(sf && ld && strcmp(sf, ld));
		}
		if (n >= 5)
			ASSERT_EQ(json_array_size(json_object_get(topo, "state"
									"fu"
									"l")),
				  n - 4);
		json_decref(topo);
		json_decref(inv);
	}
	ASSERT(log_has("validate.log", "bed9.json: valid topology"));
	{
		const char *again[] = {"orchestrator", "init", "--hosts", "a",
				       "--name",       "bed1", NULL};
		const char *twice[] = {"orchestrator", "init", "--hosts",
				       "a,b,a", NULL};
		const char *bad[] = {"orchestrator", "init", "--hosts", "a;rm",
				     NULL};

		ASSERT_EQ(proc_run(again, "again.log", 10000), 1);
		ASSERT(log_has("again.log", "bed1.json exists"));
		ASSERT_EQ(proc_run(twice, "twice.log", 10000), 2);
		ASSERT(log_has("twice.log", "\"a\" is given twice"));
		ASSERT_EQ(proc_run(bad, "bad.log", 10000), 2);
	}
}

/* The only entry of dir that is a directory, into out. */
static void only_dir(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	ASSERT_MSG(d, "%s was not written", dir);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && e->d_type == DT_DIR) {
			snprintf(out, size, "%s/%s", dir, e->d_name);
			n++;
		}
	closedir(d);
	ASSERT_EQ(n, 1);
}

/* summary.json's setup.versions: the orchestrator's, and each role's
 * from its ready event, all this build's. */
static void assert_versions(const char *summary)
{
	json_error_t jerr;
	json_t *j = json_load_file(summary, 0, &jerr), *v, *roles, *ro;
	const char *name;
	size_t n = 0;

	ASSERT_MSG(j, "%s: %s", summary, jerr.text);
	v = json_object_get(json_object_get(j, "setup"), "versions");
	ASSERT_STR(json_string_value(json_object_get(v, "orchestrator")),
		   version_string());
	roles = json_object_get(v, "roles");
	json_object_foreach(roles, name, ro)
	{
		ASSERT_STR(json_string_value(json_object_get(ro, "version")),
			   version_string());
		ASSERT(json_string_value(json_object_get(ro, "program")));
		ASSERT(json_string_value(json_object_get(ro, "host")));
		n++;
	}
	/* s0p1-short, deploy-only: sf1 and ch1 (loaders start only for
	 * the steps). */
	ASSERT_EQ(n, 2);
	ASSERT(json_object_get(roles, "sf1") && json_object_get(roles, "ch1"));
	ASSERT(json_is_true(json_object_get(v, "same")));
	json_decref(j);
}

/*
 * A deploy-only run by names from an empty directory writes
 * ./results/<id>/summary.json there (with every role's version); with
 * $SIPSTONE_RESULTS, there.
 */
TEST_TIMEOUT(installed_run_writes_results_where_the_user_stands, 90)
{
	const char *run[] = {"orchestrator", "run",   "mine",
			     "--hosts",	     "local", "--deploy-only",
			     "--quiet",	     NULL};
	char bundle[600], summary[700], elsewhere[600];
	struct stat st;

	orchrun_prepare("s0p1-short", NULL);
	setenv("SIPSTONE_DATADIR", test_root_dir(), 1);
	unsetenv(LOCATE_RESULTS_ENV);
	make_dir("user");
	make_dir("user/topologies");
	{
		size_t len;
		char *t = test_read_file("t.json", &len);

		put("user/topologies/mine.json", t);
		free(t);
	}
	ASSERT(chdir("user") == 0);
	orchrun_expect(run, 0, 60000);
	only_dir("results", bundle, sizeof(bundle));
	snprintf(summary, sizeof(summary), "%s/summary.json", bundle);
	ASSERT_MSG(stat(summary, &st) == 0, "no %s", summary);
	assert_versions(summary);

	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", test_tmp_dir());
	setenv(LOCATE_RESULTS_ENV, elsewhere, 1);
	orchrun_expect(run, 0, 60000);
	only_dir(elsewhere, bundle, sizeof(bundle));
	snprintf(summary, sizeof(summary), "%s/summary.json", bundle);
	ASSERT_MSG(stat(summary, &st) == 0, "no %s", summary);
	only_dir("results", bundle, sizeof(bundle));
}
