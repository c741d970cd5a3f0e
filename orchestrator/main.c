/*
 * orchestrator: runs whole cluster experiments (docs/topology.md).
 *
 *   orchestrator validate FILE... [--hosts INVENTORY.json]
 *
 * Only validation exists so far; "run", "compare", "report" and "upload"
 * say so and exit 2 rather than pretend.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo.h"

#define EXIT_BAD_USAGE 2

static void usage(FILE *f)
{
	fprintf(f, "usage: orchestrator validate FILE... [--hosts "
		   "INVENTORY.json]\n"
		   "  FILE: a topology or an inventory (one with \"hosts\");\n"
		   "  topologies are placed on the inventory when one is "
		   "given.\n"
		   "Every mistake is reported as FILE:LINE:COLUMN: what.\n"
		   "Exit: 0 all valid, 2 bad usage or files.\n");
}

/* An inventory is the file whose top level has "hosts". */
static bool looks_like_inventory(const char *path)
{
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);
	bool yes = json_is_object(j) && json_object_get(j, "hosts");

	json_decref(j);
	return yes;
}

static int cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {{"hosts", required_argument, NULL,
					      'H'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct topo_errors errs = {0};
	struct inventory **invs = NULL;
	const char **inv_paths = NULL;
	size_t ninv = 0, nbad = 0;
	int opt, status = 0;

	inv_paths = calloc((size_t)argc, sizeof(*inv_paths));
	invs = calloc((size_t)argc, sizeof(*invs));
	if (!inv_paths || !invs)
		return EXIT_BAD_USAGE;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "H:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			inv_paths[ninv++] = optarg;
			break;
		case 'h':
			usage(stdout);
			goto out;
		default:
			usage(stderr);
			status = EXIT_BAD_USAGE;
			goto out;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		status = EXIT_BAD_USAGE;
		goto out;
	}
	for (int i = optind; i < argc; i++)
		if (looks_like_inventory(argv[i]))
			inv_paths[ninv++] = argv[i];
	if (ninv > 1) {
		fprintf(stderr, "orchestrator: give one inventory, not %zu\n",
			ninv);
		status = EXIT_BAD_USAGE;
		goto out;
	}
	for (size_t i = 0; i < ninv; i++) {
		if (inventory_load(&invs[i], inv_paths[i], &errs))
			nbad++;
		else
			printf("%s: valid inventory, %zu hosts\n",
			       inv_paths[i], invs[i]->nhosts);
	}
	for (int i = optind; i < argc; i++) {
		struct topo *t = NULL;
		bool ok = true;

		if (looks_like_inventory(argv[i]))
			continue;
		if (topo_load(&t, argv[i], ninv ? invs[0] : NULL, &errs))
			ok = false;
		if (ok)
			printf("%s: valid topology \"%s\", %zu roles%s\n",
			       argv[i], t->name, t->nnodes,
			       ninv ? ", placed on the inventory" : "");
		else
			nbad++;
		topo_free(t);
	}
	topo_errors_sort(&errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.lines[i]);
	if (nbad) {
		fprintf(stderr, "%zu file%s with mistakes, %zu mistake%s\n",
			nbad, nbad == 1 ? "" : "s", errs.n,
			errs.n == 1 ? "" : "s");
		status = EXIT_BAD_USAGE;
	}
out:
	for (size_t i = 0; i < ninv; i++)
		inventory_free(invs[i]);
	free(invs);
	free(inv_paths);
	topo_errors_free(&errs);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_BAD_USAGE : 0;
	}
	if (!strcmp(argv[1], "validate"))
		return cmd_validate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run") || !strcmp(argv[1], "compare") ||
	    !strcmp(argv[1], "report") || !strcmp(argv[1], "upload")) {
		fprintf(stderr,
			"orchestrator: \"%s\" is not built yet (issue 6); "
			"only \"validate\" works\n",
			argv[1]);
		return EXIT_BAD_USAGE;
	}
	fprintf(stderr, "orchestrator: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EXIT_BAD_USAGE;
}
