/*
 * Installing: `make install DESTDIR=D` puts the five programs and nothing
 * else in D/PREFIX/bin, the manual pages in share/man/man1 and the shared
 * data in share/sipstone; the Debian package (`make deb`, built once by
 * make check into build/deb/, or here when it is missing or of another
 * version) holds the same, depends on runtime libraries only, and its
 * orchestrator, unpacked into a fresh root, prints its version and
 * validates a shipped topology from the package's share directory.
 */
#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "test.h"

static const char *const programs[] = {"callhandler", "loader", "orchestrator",
				       "proxy-stateful", "proxy-stateless"};
#define NPROGRAMS (sizeof(programs) / sizeof(programs[0]))

static const char *const share_files[] = {
	"sipstone/topologies/s0p1.json",
	"sipstone/topologies/s1p1.json",
	"sipstone/topologies/s1p2.json",
	"sipstone/topologies/s2p2.json",
	"sipstone/topologies/hosts/local.json",
	"sipstone/topologies/schema/topology.schema.json",
	"sipstone/topologies/schema/inventory.schema.json",
	"sipstone/schema.sql",
	"sipstone/grafana/sipstone.json",
};

static char *output_of_within(const char *const argv[], const char *log,
			      int want, unsigned timeout_ms)
{
	size_t len;
	int rc;

	unlink(log);
	rc = proc_run(argv, log, timeout_ms);
	if (rc != want) {
		char *out = test_read_file(log, &len);

		test_fail(__FILE__, __LINE__,
			  "%s %s: exit %d, expected %d: %s", argv[0], argv[1],
			  rc, want, out);
	}
	return test_read_file(log, &len);
}

static char *output_of(const char *const argv[], const char *log, int want)
{
	return output_of_within(argv, log, want, 60000);
}

static bool exists(const char *dir, const char *rel)
{
	char path[2048];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return stat(path, &st) == 0;
}

/* dir holds exactly the programs (regular, executable). */
static void check_bin(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	ASSERT_MSG(d, "no %s", dir);
	while ((e = readdir(d))) {
		bool known = false;

		if (e->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < NPROGRAMS; i++)
			known |= !strcmp(e->d_name, programs[i]);
		ASSERT_MSG(known, "%s/%s is not one of the programs", dir,
			   e->d_name);
		n++;
	}
	closedir(d);
	ASSERT_EQ(n, NPROGRAMS);
}

/* The installed orchestrator validates the installed s2p2 on the
 * installed local inventory. */
static void check_validate(const char *bin, const char *share)
{
	char orch[900], topo[900], hosts[900], *out;
	const char *argv[] = {orch, "validate", topo, "--hosts", hosts, NULL};

	snprintf(orch, sizeof(orch), "%s/orchestrator", bin);
	snprintf(topo, sizeof(topo), "%s/sipstone/topologies/s2p2.json",
		 share);
	snprintf(hosts, sizeof(hosts),
		 "%s/sipstone/topologies/hosts/local.json", share);
	out = output_of(argv, "validate.log", 0);
	ASSERT_MSG(strstr(out, "valid topology \"s2p2\""), "%s", out);
	free(out);
}

TEST_TIMEOUT(install_puts_programs_in_bin_and_data_in_share, 300)
{
	char destdir[700], prefix[800], bin[900], share[900], man[900];
	char destarg[720], rel[200];
	/* -o: install the programs as built; never relink them under the
	 * tests running them */
	const char *argv[] = {"make",	 "-s",
			      "-C",	 test_root_dir(),
			      "-o",	 "bin/callhandler",
			      "-o",	 "bin/loader",
			      "-o",	 "bin/orchestrator",
			      "-o",	 "bin/proxy-stateful",
			      "-o",	 "bin/proxy-stateless",
			      "install", destarg,
			      NULL};
	char *out;

	snprintf(destdir, sizeof(destdir), "%s/D", test_tmp_dir());
	snprintf(destarg, sizeof(destarg), "DESTDIR=%s", destdir);
	out = output_of(argv, "install.log", 0);
	free(out);
	/* PREFIX's default, as the GNUmakefile says */
	snprintf(prefix, sizeof(prefix), "%s/usr/local", destdir);
	snprintf(bin, sizeof(bin), "%s/bin", prefix);
	snprintf(share, sizeof(share), "%s/share", prefix);
	snprintf(man, sizeof(man), "%s/share/man/man1", prefix);
	check_bin(bin);
	for (size_t i = 0; i < NPROGRAMS; i++) {
		snprintf(rel, sizeof(rel), "%s.1", programs[i]);
		ASSERT_MSG(exists(man, rel), "no %s/%s", man, rel);
	}
	for (size_t i = 0; i < sizeof(share_files) / sizeof(*share_files); i++)
		ASSERT_MSG(exists(share, share_files[i]), "no %s/%s", share,
			   share_files[i]);
	ASSERT_MSG(!exists(prefix, "lib") && !exists(prefix, "include"),
		   "install put libsip under %s", prefix);
	check_validate(bin, share);
}

/* The package to test: build/deb/sipstone_*.deb, built first when there
 * is none or its version is not this build's. */
static void find_deb(char *out, size_t size)
{
	char pattern[700], version[160] = "", path[700];
	const char *make_argv[] = {"make",	    "-s",  "-C",
				   test_root_dir(), "deb", NULL};
	glob_t g = {0};
	FILE *f;

	snprintf(path, sizeof(path), "%s/build/gen/sipstone_version.h",
		 test_root_dir());
	f = fopen(path, "r");
	if (f) {
		char line[256];

		if (fgets(line, sizeof(line), f))
			sscanf(line, "#define SIPSTONE_VERSION \"%159[^\"]",
			       version);
		fclose(f);
	}
	snprintf(pattern, sizeof(pattern), "%s/build/deb/sipstone_*.deb",
		 test_root_dir());
	snprintf(path, sizeof(path), "%s/build/deb/sipstone/VERSION",
		 test_root_dir());
	if (glob(pattern, 0, NULL, &g) == 0 && version[0]) {
		char *built;
		size_t len;

		built = access(path, R_OK) ? NULL : test_read_file(path, &len);
		if (!built || strncmp(built, version, strlen(version)) ||
		    built[strlen(version)] != '\n') {
			globfree(&g);
			g.gl_pathc = 0;
		}
		free(built);
	}
	if (g.gl_pathc == 0) {
		/* a whole package build: minutes on a busy machine */
		free(output_of_within(make_argv, "make-deb.log", 0, 840000));
		globfree(&g);
		ASSERT_EQ(glob(pattern, 0, NULL, &g), 0);
	}
	ASSERT_EQ(g.gl_pathc, 1);
	snprintf(out, size, "%s", g.gl_pathv[0]);
	globfree(&g);
}

TEST_TIMEOUT(deb_installs_in_a_fresh_root_and_validates, 900)
{
	char deb[700], root[700], bin[800], share[800], man[800], orch[900];
	char rel[200], *out;
	const char *x_argv[] = {"dpkg-deb", "-x", deb, root, NULL};
	const char *dep_argv[] = {"dpkg-deb", "-f", deb, "Depends", NULL};
	const char *ver_argv[] = {orch, "--version", NULL};

	if (system("command -v dpkg-buildpackage >/dev/null 2>&1") != 0)
		test_skip("no dpkg-buildpackage: run scripts/install-deps");
	find_deb(deb, sizeof(deb));
	snprintf(root, sizeof(root), "%s/root", test_tmp_dir());
	ASSERT_EQ(mkdir(root, 0755), 0);
	free(output_of(x_argv, "dpkg-x.log", 0));
	snprintf(bin, sizeof(bin), "%s/usr/bin", root);
	snprintf(share, sizeof(share), "%s/usr/share", root);
	snprintf(man, sizeof(man), "%s/usr/share/man/man1", root);
	check_bin(bin);
	for (size_t i = 0; i < NPROGRAMS; i++) {
		snprintf(rel, sizeof(rel), "%s.1.gz", programs[i]);
		ASSERT_MSG(exists(man, rel), "no %s/%s", man, rel);
	}
	for (size_t i = 0; i < sizeof(share_files) / sizeof(*share_files); i++)
		ASSERT_MSG(exists(share, share_files[i]), "no %s/%s", share,
			   share_files[i]);

	/* Runtime libraries only: no -dev package, jansson among them. */
	out = output_of(dep_argv, "depends.log", 0);
	ASSERT_MSG(strstr(out, "libjansson4") && strstr(out, "libssh2-1") &&
			   !strstr(out, "-dev"),
		   "Depends: %s", out);
	free(out);

	snprintf(orch, sizeof(orch), "%s/orchestrator", bin);
	out = output_of(ver_argv, "version.log", 0);
	ASSERT_MSG(!strncmp(out, "orchestrator ", 13) && out[13] != '\n',
		   "--version: %s", out);
	free(out);
	check_validate(bin, share);
}
