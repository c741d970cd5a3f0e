#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "locate.h"
#include "res_bundle.h"
#include "res_compare.h"
#include "res_report.h"
#include "results.h"
#include "topo.h"

static const char usage_text[] =
	"usage: orchestrator validate FILE... [--hosts INVENTORY.json]\n"
	"       orchestrator init --hosts HOST,HOST... [--name NAME] "
	"[--force]\n"
	"         writes NAME.json and hosts/NAME.json (NAME: mybed), a\n"
	"         starter topology and inventory for those hosts\n"
	"       orchestrator run TOPOLOGY.json... --hosts INVENTORY.json\n"
	"           [--accept-new] [--keep-db] [--keep-remote]\n"
	"           [--deploy-only] [--quiet] [--results DIR]\n"
	"           [--metrics HOST:PORT]\n"
	"           [--upload URL [--post] [--token-env VAR] [--ca FILE]\n"
	"           [--tries N]] [--test T] [--transport udp|tcp|tls]\n"
	"           [--connection persistent|per-request]\n"
	"           [--auth true|false] [--preload-credentials true|false]\n"
	"           [--users N] [--rate START:STEP:FINAL] [--step-s S]\n"
	"           [--warmup-s S] [--ta-limit-ms MS] [--success-percent P]\n"
	"           [--search ramp|rfc7502] [--threshold-ms MS]\n"
	"           [--granularity N] [--baseline-s S] [--hold-ms MS]\n"
	"           [--users-prefix P] [--users-first N] [--watchers W]\n"
	"           [--refresh-s S] [--body-bytes B] [--filter true|false]\n"
	"           [--max-rate N] [--repeat N]\n"
	"         each setting takes a list (--users 100,10000): a run per\n"
	"         file and combination (--repeat: N times each), then\n"
	"         their comparison (median, min, max of repetitions)\n"
	"       orchestrator baseline TOPOLOGY.json... --hosts "
	"INVENTORY.json\n"
	"           [the options of run]: deploy, then only the test bed\n"
	"           baseline (loaders straight to the callhandlers, RFC\n"
	"           7502 6.1, searched up to its own limit; --baseline-s\n"
	"           each probe, default 5 s), no steps\n"
	"       orchestrator cleanup --hosts INVENTORY.json [--dry-run]\n"
	"           [TOPOLOGY.json...]: list, then remove, what killed runs\n"
	"           left behind (and the run databases on the topologies'\n"
	"           unmanaged database servers)\n"
	"       orchestrator report BUNDLE\n"
	"       orchestrator compare BUNDLE... [--html FILE]\n"
	"       orchestrator upload BUNDLE --url URL [--post]\n"
	"           [--token-env VAR] [--ca FILE] [--tries N]\n"
	"       orchestrator --version | --help\n"
	"validate: FILE is a topology or an inventory (one with \"hosts\");\n"
	"  topologies are placed on the inventory when one is given;\n"
	"  every mistake is reported as FILE:LINE:COLUMN: what.\n"
	"A TOPOLOGY or INVENTORY may be a name: NAME.json, then\n"
	"  topologies/NAME.json (inventories: hosts/, topologies/hosts/),\n"
	"  then the installed data directory. Results go to --results DIR,\n"
	"  else $SIPSTONE_RESULTS, else ./results.\n"
	"Exit: 0 done (every run complete), 1 a run or an upload failed,\n"
	"  2 bad usage or files (nothing was run).\n";

void commands_usage(FILE *f)
{
	fputs(usage_text, f);
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

/* validate's files and --hosts given by name (locate.h) become paths
 * (argv's and inv_paths' entries replaced by strings that owned[], of
 * argc + ninv entries, holds for the caller to free).  0 or
 * COMMANDS_BAD_USAGE (said). */
static int commands_locate_args(int argc, char **argv, int first,
				const char **inv_paths, size_t ninv,
				char **owned)
{
	char path[1000], why[3000], why_inv[3000];
	size_t nowned = 0;

	for (size_t i = 0; i < ninv; i++) {
		if (locate_file(LOCATE_INVENTORY, inv_paths[i], path,
				sizeof(path), why, sizeof(why))) {
			fprintf(stderr, "orchestrator: --hosts %s\n", why);
			return COMMANDS_BAD_USAGE;
		}
		if (!strcmp(path, inv_paths[i]))
			continue;
		owned[nowned] = strdup(path);
		if (!owned[nowned])
			return COMMANDS_BAD_USAGE;
		inv_paths[i] = owned[nowned++];
	}
	for (int i = first; i < argc; i++) {
		if (locate_file(LOCATE_TOPOLOGY, argv[i], path, sizeof(path),
				why, sizeof(why)) &&
		    locate_file(LOCATE_INVENTORY, argv[i], path, sizeof(path),
				why_inv, sizeof(why_inv))) {
			fprintf(stderr, "orchestrator: %s\n", why);
			return COMMANDS_BAD_USAGE;
		}
		if (!strcmp(path, argv[i]))
			continue;
		owned[nowned] = strdup(path);
		if (!owned[nowned])
			return COMMANDS_BAD_USAGE;
		argv[i] = owned[nowned++];
	}
	return 0;
}

int commands_validate(int argc, char **argv)
{
	static const struct option opts[] = {{"hosts", required_argument, NULL,
					      'H'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct topo_errors errs = {0};
	struct inventory **invs = NULL;
	const char **inv_paths = NULL;
	char **owned = NULL;
	size_t ninv = 0, nbad = 0;
	int opt, status = 0;

	inv_paths = calloc((size_t)argc, sizeof(*inv_paths));
	invs = calloc((size_t)argc, sizeof(*invs));
	owned = calloc(2 * (size_t)argc, sizeof(*owned));
	if (!inv_paths || !invs || !owned) {
		status = COMMANDS_BAD_USAGE;
		goto out;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "H:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			inv_paths[ninv++] = optarg;
			break;
		case 'h':
			commands_usage(stdout);
			goto out;
		default:
			commands_usage(stderr);
			status = COMMANDS_BAD_USAGE;
			goto out;
		}
	}
	if (optind >= argc) {
		commands_usage(stderr);
		status = COMMANDS_BAD_USAGE;
		goto out;
	}
	status = commands_locate_args(argc, argv, optind, inv_paths, ninv,
				      owned);
	if (status)
		goto out;
	for (int i = optind; i < argc; i++)
		if (looks_like_inventory(argv[i]))
			inv_paths[ninv++] = argv[i];
	if (ninv > 1) {
		fprintf(stderr, "orchestrator: give one inventory, not %zu\n",
			ninv);
		status = COMMANDS_BAD_USAGE;
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
		status = COMMANDS_BAD_USAGE;
	}
out:
	for (size_t i = 0; i < ninv; i++)
		inventory_free(invs[i]);
	free(invs);
	free(inv_paths);
	for (int i = 0; owned && i < 2 * argc; i++)
		free(owned[i]);
	free(owned);
	topo_errors_free(&errs);
	return status;
}

/* Rebuilds a bundle's report.html from its summary.json. */
int commands_report(int argc, char **argv)
{
	char why[512] = "", path[1024];
	struct res_run run;
	FILE *f;
	int err;

	if (argc != 2) {
		commands_usage(stderr);
		return COMMANDS_BAD_USAGE;
	}
	err = res_load(&run, argv[1], why, sizeof(why));
	if (err) {
		fprintf(stderr, "orchestrator: %s\n",
			why[0] ? why : strerror(err));
		return COMMANDS_BAD_USAGE;
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
int commands_compare(int argc, char **argv)
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

		if (!strcmp(argv[i], "--html")) {
			if (i + 1 == argc) {
				fprintf(stderr, "orchestrator: --html needs a "
						"FILE\n");
				status = COMMANDS_BAD_USAGE;
				goto out;
			}
			html = argv[++i];
			continue;
		}
		err = res_load(&runs[n], argv[i], why, sizeof(why));
		if (err) {
			fprintf(stderr, "orchestrator: %s\n",
				why[0] ? why : strerror(err));
			status = COMMANDS_BAD_USAGE;
			goto out;
		}
		list[n] = &runs[n];
		n++;
	}
	if (n == 0) {
		commands_usage(stderr);
		status = COMMANDS_BAD_USAGE;
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

bool commands_upload_option(int opt, const char *arg, struct upload_opts *o,
			    bool *bad)
{
	char *end;
	unsigned long n;

	switch (opt) {
	case 'u':
		o->url = arg;
		return true;
	case 'p':
		o->post = true;
		return true;
	case 't':
		o->token_env = arg;
		return true;
	case 'c':
		o->ca_file = arg;
		return true;
	case 'n':
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || n < 1 || n > 20) {
			fprintf(stderr,
				"orchestrator: --tries takes 1..20, "
				"not \"%s\"\n",
				arg);
			*bad = true;
		}
		o->tries = (unsigned)n;
		return true;
	default:
		return false;
	}
}

/* Sends BUNDLE.tar.gz (packed first when only the directory exists). */
int commands_upload(int argc, char **argv)
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
	bool bad = false;
	struct stat st;
	int opt, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (!commands_upload_option(opt, optarg, &o, &bad)) {
			commands_usage(stderr);
			return COMMANDS_BAD_USAGE;
		}
		if (bad)
			return COMMANDS_BAD_USAGE;
	}
	if (optind != argc - 1 || !o.url) {
		commands_usage(stderr);
		return COMMANDS_BAD_USAGE;
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
	err = upload_check_url(o.url, why, sizeof(why));
	if (err) {
		fprintf(stderr, "orchestrator: --url %s\n", why);
		return COMMANDS_BAD_USAGE;
	}
	o.progress = isatty(STDERR_FILENO);
	err = upload_file(file, &o, why, sizeof(why));
	if (err) {
		fprintf(stderr, "orchestrator: upload failed: %s\n", why);
		return err == ENOENT || err == EINVAL ? COMMANDS_BAD_USAGE : 1;
	}
	printf("uploaded %s to %s\n", file, o.url);
	return 0;
}
