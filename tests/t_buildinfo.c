/* common/version and common/datadir: what the build compiled in. */
#include <errno.h>
#include <stdlib.h>

#include "datadir.h"
#include "test.h"
#include "version.h"

TEST(version_string_is_the_generated_one)
{
	char path[600], *text, want[160];
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/build/gen/sipstone_version.h",
		 test_root_dir());
	text = test_read_file(path, &len);
	ASSERT_EQ(sscanf(text, "#define SIPSTONE_VERSION \"%159[^\"]\"", want),
		  1);
	ASSERT_STR(version_string(), want);
	free(text);

	f = fopen("out.txt", "w+");
	ASSERT(f);
	ASSERT_EQ(version_print(f, "loader"), 0);
	rewind(f);
	ASSERT(fgets(path, sizeof(path), f));
	snprintf(want, sizeof(want), "loader %s\n", version_string());
	ASSERT_STR(path, want);
	fclose(f);
}

TEST(datadir_is_compiled_in_unless_the_environment_says)
{
	char out[64], path[600], want[600], *text;
	const char *built;
	size_t len;

	snprintf(path, sizeof(path), "%s/build/gen/sipstone_paths.h",
		 test_root_dir());
	text = test_read_file(path, &len);
	ASSERT_EQ(sscanf(text, "#define SIPSTONE_DATADIR \"%599[^\"]\"", want),
		  1);
	free(text);
	unsetenv("SIPSTONE_DATADIR");
	built = datadir_get();
	ASSERT_STR(built, want);
	setenv("SIPSTONE_DATADIR", "", 1);
	ASSERT_STR(datadir_get(), built);
	setenv("SIPSTONE_DATADIR", "/opt/x", 1);
	ASSERT_STR(datadir_get(), "/opt/x");
	ASSERT_EQ(datadir_path(out, sizeof(out), "topologies/s2p2.json"), 0);
	ASSERT_STR(out, "/opt/x/topologies/s2p2.json");
	ASSERT_EQ(datadir_path(out, 10, "topologies/s2p2.json"), ENAMETOOLONG);
	ASSERT_STR(out, "");
	ASSERT_EQ(datadir_path(out, 0, "x"), ENAMETOOLONG);
}
