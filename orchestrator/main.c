/*
 * orchestrator: runs whole cluster experiments (docs/topology.md).
 *
 *   orchestrator validate FILE... [--hosts INVENTORY.json]
 *   orchestrator report BUNDLE
 *   orchestrator compare BUNDLE... [--html FILE]
 *   orchestrator upload BUNDLE --url URL [--post] [--token-env VAR]
 *                       [--ca FILE] [--tries N]
 *   orchestrator run TOPOLOGY.json... --hosts INVENTORY.json [--accept-new]
 *                    [--keep-db] [--keep-remote] [--deploy-only] [--quiet]
 *                    [--results DIR] [experiment overrides]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results.h"
#include "run.h"
#include "topo.h"
#include "upload.h"

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

/* Rebuilds a bundle's report.html from its summary.json. */
static int cmd_report(int argc, char **argv)
{
	char why[512] = "", path[1024];
	struct res_run run;
	FILE *f;
	int err;

	if (argc != 2) {
		usage(stderr);
		return EXIT_BAD_USAGE;
	}
	err = res_load(&run, argv[1], why, sizeof(why));
	if (err) {
		fprintf(stderr, "orchestrator: %s\n",
			why[0] ? why : strerror(err));
		return EXIT_BAD_USAGE;
	}
	snprintf(path, sizeof(path), "%s/report.html", argv[1]);
	f = fopen(path, "w");
	err = f ? res_report_html(&run, f) : errno;
	if (f && fclose(f) && !err)
		err = errno;
	res_run_clear(&run);
	if (err) {
		fprintf(stderr, "orchestrator: %s: %s\n", path, strerror(err));
		return 1;
	}
	printf("%s\n", path);
	return 0;
}

/* Lays runs side by side: a table, and a page with --html. */
static int cmd_compare(int argc, char **argv)
{
	const struct res_run **list = NULL;
	struct res_run *runs = NULL;
	const char *html = NULL;
	size_t n = 0;
	int status = 0;

	runs = calloc((size_t)argc, sizeof(*runs));
	list = calloc((size_t)argc, sizeof(*list));
	if (!runs || !list)
		goto fail;
	for (int i = 1; i < argc; i++) {
		char why[512] = "";
		int err;

		if (!strcmp(argv[i], "--html") && i + 1 < argc) {
			html = argv[++i];
			continue;
		}
		err = res_load(&runs[n], argv[i], why, sizeof(why));
		if (err) {
			fprintf(stderr, "orchestrator: %s\n",
				why[0] ? why : strerror(err));
			status = EXIT_BAD_USAGE;
			goto out;
		}
		list[n] = &runs[n];
		n++;
	}
	if (n == 0) {
		usage(stderr);
		status = EXIT_BAD_USAGE;
		goto out;
	}
	res_compare_table(list, n, stdout);
	if (html) {
		FILE *f = fopen(html, "w");
		int err = f ? res_compare_html(list, n, f) : errno;

		if (f && fclose(f) && !err)
			err = errno;
		if (err) {
			fprintf(stderr, "orchestrator: %s: %s\n", html,
				strerror(err));
			status = 1;
			goto out;
		}
		printf("%s\n", html);
	}
out:
	for (size_t i = 0; i < n; i++)
		res_run_clear(&runs[i]);
	free(runs);
	free(list);
	return status;
fail:
	free(runs);
	free(list);
	return 1;
}

/* Sends BUNDLE.tar.gz (packed first when only the directory exists). */
static int cmd_upload(int argc, char **argv)
{
	static const struct option opts[] = {
		{"url", required_argument, NULL, 'u'},
		{"post", no_argument, NULL, 'p'},
		{"token-env", required_argument, NULL, 't'},
		{"ca", required_argument, NULL, 'c'},
		{"tries", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0}};
	struct upload_opts o = {0};
	char file[1100], why[600] = "";
	struct stat st;
	int opt, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			o.url = optarg;
			break;
		case 'p':
			o.post = true;
			break;
		case 't':
			o.token_env = optarg;
			break;
		case 'c':
			o.ca_file = optarg;
			break;
		case 'n':
			o.tries = (unsigned)strtoul(optarg, NULL, 10);
			if (o.tries < 1 || o.tries > 20) {
				fprintf(stderr, "orchestrator: --tries takes "
						"1..20\n");
				return EXIT_BAD_USAGE;
			}
			break;
		default:
			usage(stderr);
			return EXIT_BAD_USAGE;
		}
	}
	if (optind != argc - 1 || !o.url) {
		usage(stderr);
		return EXIT_BAD_USAGE;
	}
	snprintf(file, sizeof(file), "%s", argv[optind]);
	{
		size_t n = strlen(file);

		while (n > 1 && file[n - 1] == '/')
			file[--n] = '\0';
	}
	if (stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
		char dir[1100];

		snprintf(dir, sizeof(dir), "%s", file);
		snprintf(file, sizeof(file), "%.1000s.tar.gz", dir);
		if (stat(file, &st) != 0) {
			err = res_pack(dir);
			if (err) {
				fprintf(stderr,
					"orchestrator: cannot pack %s: %s\n",
					dir, strerror(err));
				return 1;
			}
		}
	}
	o.progress = isatty(STDERR_FILENO);
	err = upload_file(file, &o, why, sizeof(why));
	if (err) {
		fprintf(stderr, "orchestrator: upload failed: %s\n", why);
		return err == ENOENT || err == EINVAL ? EXIT_BAD_USAGE : 1;
	}
	printf("uploaded %s to %s\n", file, o.url);
	return 0;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/*
 * The programs next to this one (bin_dir) and the checkout they belong
 * to: the nearest directory above holding proxy-stateful/schema.sql
 * (bin/ for a release build, build/san/bin/ for a sanitizer build), or
 * $SIPSTONE_ROOT.
 */
static void find_root(char *bin, size_t bsize, char *root, size_t rsize)
{
	char exe[900], probe[1000];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *env = getenv("SIPSTONE_ROOT");
	struct stat st;
	char *slash;

	if (n <= 0)
		snprintf(exe, sizeof(exe), "./bin/orchestrator");
	else
		exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(bin, bsize, "%s", exe);
	snprintf(root, rsize, "%s", exe);
	for (int up = 0; up < 4; up++) {
		slash = strrchr(exe, '/');
		if (!slash)
			break;
		*slash = '\0';
		snprintf(probe, sizeof(probe), "%s/proxy-stateful/schema.sql",
			 exe);
		if (stat(probe, &st) == 0) {
			snprintf(root, rsize, "%s", exe);
			break;
		}
	}
	if (env && env[0])
		snprintf(root, rsize, "%s", env);
}

/* Writes the comparison of the runs' bundles next to them. */
static void compare_bundles(char (*bundles)[800], size_t n,
			    const char *results_dir)
{
	struct res_run *runs = calloc(n, sizeof(*runs));
	const struct res_run **list = calloc(n, sizeof(*list));
	char path[1100], stamp[32];
	size_t got = 0;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;

	if (!runs || !list)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char why[512];

		if (res_load(&runs[got], bundles[i], why, sizeof(why)) == 0) {
			list[got] = &runs[got];
			got++;
		}
	}
	printf("\n");
	res_compare_table(list, got, stdout);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(path, sizeof(path), "%s/compare-%s.html", results_dir, stamp);
	f = fopen(path, "w");
	if (f && res_compare_html(list, got, f) == 0) {
		fclose(f);
		printf("comparison: %s\n", path);
	} else if (f) {
		fclose(f);
	}
out:
	for (size_t i = 0; i < got; i++)
		res_run_clear(&runs[i]);
	free(runs);
	free(list);
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"hosts", required_argument, NULL, 'H'},
		{"accept-new", no_argument, NULL, 'a'},
		{"keep-db", no_argument, NULL, 'k'},
		{"keep-remote", no_argument, NULL, 'K'},
		{"deploy-only", no_argument, NULL, 'd'},
		{"quiet", no_argument, NULL, 'q'},
		{"results", required_argument, NULL, 'r'},
		{"test", required_argument, NULL, 'o'},
		{"transport", required_argument, NULL, 'o'},
		{"connection", required_argument, NULL, 'o'},
		{"users", required_argument, NULL, 'o'},
		{"rate", required_argument, NULL, 'o'},
		{"step-s", required_argument, NULL, 'o'},
		{"warmup-s", required_argument, NULL, 'o'},
		{"ta-limit-ms", required_argument, NULL, 'o'},
		{"success-percent", required_argument, NULL, 'o'},
		{"search", required_argument, NULL, 'o'},
		{"threshold-ms", required_argument, NULL, 'o'},
		{"granularity", required_argument, NULL, 'o'},
		{"baseline-s", required_argument, NULL, 'o'},
		{"hold-ms", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0}};
	char bin[900], root[900], schema[1000], results[1000];
	char(*bundles)[800] = NULL;
	const char *ov_key[16], *ov_val[16];
	size_t nov = 0, nruns = 0;
	struct run_opts o = {0};
	struct inventory *inv = NULL;
	const char *hosts = NULL;
	struct sigaction sa = {0};
	int opt, idx, status = 0;

	find_root(bin, sizeof(bin), root, sizeof(root));
	snprintf(schema, sizeof(schema), "%s/proxy-stateful/schema.sql", root);
	snprintf(results, sizeof(results), "%s/results", root);
	o.bin_dir = bin;
	o.schema = schema;
	o.results_dir = results;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		switch (opt) {
		case 'H':
			hosts = optarg;
			break;
		case 'a':
			o.accept_new = true;
			break;
		case 'k':
			o.keep_db = true;
			break;
		case 'K':
			o.keep_remote = true;
			break;
		case 'd':
			o.deploy_only = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'r':
			o.results_dir = optarg;
			break;
		case 'o':
			if (nov == 16)
				return EXIT_BAD_USAGE;
			ov_key[nov] = opts[idx].name;
			ov_val[nov++] = optarg;
			break;
		default:
			usage(stderr);
			return EXIT_BAD_USAGE;
		}
	}
	if (optind >= argc || !hosts) {
		usage(stderr);
		return EXIT_BAD_USAGE;
	}
	{
		struct topo_errors errs = {0};

		if (inventory_load(&inv, hosts, &errs)) {
			for (size_t i = 0; i < errs.n; i++)
				fprintf(stderr, "%s\n", errs.lines[i]);
			topo_errors_free(&errs);
			return EXIT_BAD_USAGE;
		}
	}
	/* Every file is checked before the first run starts. */
	for (int i = optind; i < argc; i++) {
		struct topo_errors errs = {0};
		struct topo *t = NULL;
		char why[400];

		if (topo_load(&t, argv[i], inv, &errs)) {
			topo_errors_sort(&errs);
			for (size_t k = 0; k < errs.n; k++)
				fprintf(stderr, "%s\n", errs.lines[k]);
			status = EXIT_BAD_USAGE;
		}
		for (size_t k = 0; t && k < nov; k++)
			if (topo_override(t, ov_key[k], ov_val[k], why,
					  sizeof(why))) {
				fprintf(stderr, "orchestrator: %s\n", why);
				status = EXIT_BAD_USAGE;
			}
		topo_errors_free(&errs);
		topo_free(t);
	}
	if (status) {
		inventory_free(inv);
		return status;
	}
	bundles = calloc((size_t)(argc - optind), sizeof(*bundles));
	if (!bundles) {
		inventory_free(inv);
		return 1;
	}
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	o.interrupted = &interrupted;
	for (int i = optind; i < argc && !interrupted; i++) {
		struct topo_errors errs = {0};
		struct topo *t = NULL;
		char why[400];
		int err;

		if (topo_load(&t, argv[i], inv, &errs)) {
			topo_errors_free(&errs);
			status = 1;
			continue;
		}
		for (size_t k = 0; k < nov; k++)
			topo_override(t, ov_key[k], ov_val[k], why,
				      sizeof(why));
		err = run_experiment(t, inv, &o, bundles[nruns],
				     sizeof(bundles[0]));
		if (err)
			status = 1;
		if (!o.quiet || err)
			printf("bundle: %s\n", bundles[nruns]);
		if (bundles[nruns][0])
			nruns++;
		topo_free(t);
	}
	if (nruns > 1 && !o.deploy_only)
		compare_bundles(bundles, nruns, o.results_dir);
	free(bundles);
	inventory_free(inv);
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
	if (!strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "compare"))
		return cmd_compare(argc - 1, argv + 1);
	if (!strcmp(argv[1], "upload"))
		return cmd_upload(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	fprintf(stderr, "orchestrator: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EXIT_BAD_USAGE;
}
