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
 *                    [--results DIR] [--upload URL [--post] [--token-env VAR]
 *                    [--ca FILE] [--tries N]] [experiment overrides]
 *   orchestrator baseline TOPOLOGY.json... --hosts INVENTORY.json [as run]
 *
 * An override may be a list (--users 100,10000 --transport udp,tcp): the
 * runs are every topology file with every combination, one after another,
 * then a comparison of their bundles.
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

/* One command, one experiment: bounded so that a typo cannot queue days. */
#define RUN_MAX_RUNS 64
#define RUN_MAX_VALUES 16

static const char usage_text[] =
	"usage: orchestrator validate FILE... [--hosts INVENTORY.json]\n"
	"       orchestrator run TOPOLOGY.json... --hosts INVENTORY.json\n"
	"           [--accept-new] [--keep-db] [--keep-remote]\n"
	"           [--deploy-only] [--quiet] [--results DIR]\n"
	"           [--upload URL [--post] [--token-env VAR] [--ca FILE]\n"
	"           [--tries N]] [--test T] [--transport udp|tcp|tls]\n"
	"           [--connection persistent|per-request]\n"
	"           [--auth true|false] [--preload-credentials true|false]\n"
	"           [--users N] [--rate START:STEP:FINAL] [--step-s S]\n"
	"           [--warmup-s S] [--ta-limit-ms MS] [--success-percent P]\n"
	"           [--search ramp|rfc7502] [--threshold-ms MS]\n"
	"           [--granularity N] [--baseline-s S] [--hold-ms MS]\n"
	"         each setting takes a list (--users 100,10000): a run per\n"
	"         file and combination, then their comparison\n"
	"       orchestrator baseline TOPOLOGY.json... --hosts "
	"INVENTORY.json\n"
	"           [the options of run]: deploy, then only the test bed\n"
	"           baseline (loaders straight to the callhandlers, RFC\n"
	"           7502 6.1; --baseline-s, default 5 s), no steps\n"
	"       orchestrator report BUNDLE\n"
	"       orchestrator compare BUNDLE... [--html FILE]\n"
	"       orchestrator upload BUNDLE --url URL [--post]\n"
	"           [--token-env VAR] [--ca FILE] [--tries N]\n"
	"validate: FILE is a topology or an inventory (one with \"hosts\");\n"
	"  topologies are placed on the inventory when one is given;\n"
	"  every mistake is reported as FILE:LINE:COLUMN: what.\n"
	"Exit: 0 done (every run complete), 1 a run or an upload failed,\n"
	"  2 bad usage or files (nothing was run).\n";

static void usage(FILE *f)
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

		if (!strcmp(argv[i], "--html")) {
			if (i + 1 == argc) {
				fprintf(stderr, "orchestrator: --html needs a "
						"FILE\n");
				status = EXIT_BAD_USAGE;
				goto out;
			}
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

/*
 * The upload options shared by upload and run --upload.  Returns true
 * when opt was one of them (false for any other option); *bad is set
 * when its value is wrong (said on stderr).
 */
static bool upload_option(int opt, const char *arg, struct upload_opts *o,
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
	bool bad = false;
	struct stat st;
	int opt, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (!upload_option(opt, optarg, &o, &bad)) {
			usage(stderr);
			return EXIT_BAD_USAGE;
		}
		if (bad)
			return EXIT_BAD_USAGE;
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
	err = upload_check_url(o.url, why, sizeof(why));
	if (err) {
		fprintf(stderr, "orchestrator: --url %s\n", why);
		return EXIT_BAD_USAGE;
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

/*
 * Writes the comparison of the runs' bundles next to them; its page's
 * path goes to html (empty when none was written).
 */
static void compare_bundles(char (*bundles)[800], size_t n,
			    const char *results_dir, char *html, size_t hsize)
{
	struct res_run *runs = calloc(n, sizeof(*runs));
	const struct res_run **list = calloc(n, sizeof(*list));
	char stamp[32];
	size_t got = 0;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;

	html[0] = '\0';
	if (!runs || !list)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char why[512];

		if (res_load(&runs[got], bundles[i], why, sizeof(why)) == 0) {
			list[got] = &runs[got];
			got++;
		} else {
			fprintf(stderr, "orchestrator: not compared: %s\n",
				why);
		}
	}
	if (got < 2)
		goto out;
	printf("\n");
	res_compare_table(list, got, stdout);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(html, hsize, "%s/compare-%s.html", results_dir, stamp);
	f = fopen(html, "w");
	if (f && res_compare_html(list, got, f) == 0 && fclose(f) == 0) {
		printf("comparison: %s\n", html);
	} else {
		fprintf(stderr, "orchestrator: cannot write %s: %s\n", html,
			strerror(errno));
		if (f)
			fclose(f);
		html[0] = '\0';
	}
out:
	for (size_t i = 0; i < got; i++)
		res_run_clear(&runs[i]);
	free(runs);
	free(list);
}

/*
 * An override's value split on commas: each item one run's value.
 * Returns 0, or EINVAL with why (an empty item, one given twice, too
 * many).  The items point into copy, which the caller frees.
 */
struct setting {
	const char *key; /* the option's name: "users" */
	const char *arg; /* as given: "100,10000" */
	char *copy;
	const char *item[RUN_MAX_VALUES];
	size_t n;
};

static int setting_split(struct setting *st, char *why, size_t whysz)
{
	char *p;

	st->copy = strdup(st->arg);
	if (!st->copy)
		return ENOMEM;
	st->n = 0;
	p = st->copy;
	for (;;) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = '\0';
		if (!p[0]) {
			snprintf(why, whysz, "--%s %s: value %zu is empty",
				 st->key, st->arg, st->n + 1);
			return EINVAL;
		}
		if (st->n == RUN_MAX_VALUES) {
			snprintf(why, whysz, "--%s: at most %d values",
				 st->key, RUN_MAX_VALUES);
			return EINVAL;
		}
		for (size_t k = 0; k < st->n; k++)
			if (!strcmp(st->item[k], p)) {
				snprintf(why, whysz,
					 "--%s %s: \"%s\" is given twice",
					 st->key, st->arg, p);
				return EINVAL;
			}
		st->item[st->n++] = p;
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

/* Which file and which value of each setting run number k has. */
struct run_choice {
	const char *file;
	size_t value[32];
};

/*
 * Run k of the list: the files outermost, then the settings in the
 * order of the option table, the last one varying fastest.
 */
static void run_choice_of(size_t k, char **files, size_t nfiles,
			  const struct setting *set, size_t nset,
			  struct run_choice *c)
{
	size_t combos = 1;

	(void)nfiles;
	for (size_t i = 0; i < nset; i++)
		combos *= set[i].n;
	c->file = files[k / combos];
	k %= combos;
	for (size_t i = nset; i-- > 0;) {
		c->value[i] = k % set[i].n;
		k /= set[i].n;
	}
}

/*
 * Loads the file and applies the run's values.  Returns 0 with *tp, or
 * EBADMSG (file mistakes, in errs) or EINVAL (a value, in why).
 */
static int load_run(struct topo **tp, const struct run_choice *c,
		    const struct inventory *inv, const struct setting *set,
		    size_t nset, struct topo_errors *errs, char *why,
		    size_t whysz)
{
	struct topo *t = NULL;
	int err = topo_load(&t, c->file, inv, errs);

	if (err) {
		topo_free(t);
		return EBADMSG;
	}
	for (size_t i = 0; i < nset; i++) {
		err = topo_override(t, set[i].key, set[i].item[c->value[i]],
				    why, whysz);
		if (err) {
			topo_free(t);
			return EINVAL;
		}
	}
	*tp = t;
	return 0;
}

/* "t.json users=20 transport=tcp": what this run of a list is. */
static void run_title(char *out, size_t size, const struct run_choice *c,
		      const struct setting *set, size_t nset)
{
	size_t len = (size_t)snprintf(out, size, "%s", c->file);

	for (size_t i = 0; i < nset && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, " --%s %s",
					set[i].key, set[i].item[c->value[i]]);
}

/* Uploads file; false (and said, with which file and why) on failure. */
static bool upload_one(const char *file, const struct upload_opts *uo)
{
	char why[600] = "";
	int err = upload_file(file, uo, why, sizeof(why));

	if (err) {
		fprintf(stderr, "orchestrator: upload of %s failed: %s\n",
			file, why);
		return false;
	}
	printf("uploaded %s\n", file);
	return true;
}

/* run, or baseline (baseline_only: the test bed alone, RFC 7502 §6.1). */
static int cmd_run(int argc, char **argv, bool baseline_only)
{
	/* The experiment settings (val 'o') in the order a list of runs
	 * varies them; auth comes before preload-credentials, which
	 * needs it. */
	static const struct option opts[] = {
		{"hosts", required_argument, NULL, 'H'},
		{"accept-new", no_argument, NULL, 'a'},
		{"keep-db", no_argument, NULL, 'k'},
		{"keep-remote", no_argument, NULL, 'K'},
		{"deploy-only", no_argument, NULL, 'd'},
		{"quiet", no_argument, NULL, 'q'},
		{"results", required_argument, NULL, 'r'},
		{"upload", required_argument, NULL, 'u'},
		{"post", no_argument, NULL, 'p'},
		{"token-env", required_argument, NULL, 't'},
		{"ca", required_argument, NULL, 'c'},
		{"tries", required_argument, NULL, 'n'},
		{"test", required_argument, NULL, 'o'},
		{"transport", required_argument, NULL, 'o'},
		{"connection", required_argument, NULL, 'o'},
		{"auth", required_argument, NULL, 'o'},
		{"preload-credentials", required_argument, NULL, 'o'},
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
	enum { NOPTS = sizeof(opts) / sizeof(opts[0]) };
	char bin[900], root[900], schema[1000], results[1000], html[1100];
	char(*bundles)[800] = NULL;
	const char *given[NOPTS] = {0};
	struct setting set[NOPTS];
	size_t nset = 0, nruns = 0, nfiles, total = 0, k;
	struct run_opts o = {0};
	struct upload_opts uo = {0};
	struct inventory *inv = NULL;
	const char *hosts = NULL;
	struct sigaction sa = {0};
	bool bad = false;
	int opt, idx, status = 0;

	memset(set, 0, sizeof(set));
	find_root(bin, sizeof(bin), root, sizeof(root));
	snprintf(schema, sizeof(schema), "%s/proxy-stateful/schema.sql", root);
	snprintf(results, sizeof(results), "%s/results", root);
	o.bin_dir = bin;
	o.schema = schema;
	o.results_dir = results;
	o.baseline_only = baseline_only;
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
			if (given[idx]) {
				fprintf(stderr,
					"orchestrator: --%s is given twice: "
					"give one list (--%s A,B)\n",
					opts[idx].name, opts[idx].name);
				return EXIT_BAD_USAGE;
			}
			given[idx] = optarg;
			break;
		default:
			if (upload_option(opt, optarg, &uo, &bad) && !bad)
				break;
			if (!bad)
				usage(stderr);
			return EXIT_BAD_USAGE;
		}
	}
	if (optind >= argc || !hosts) {
		usage(stderr);
		return EXIT_BAD_USAGE;
	}
	if (!uo.url && (uo.post || uo.token_env || uo.ca_file || uo.tries)) {
		fprintf(stderr, "orchestrator: --post, --token-env, --ca and "
				"--tries go with --upload URL\n");
		return EXIT_BAD_USAGE;
	}
	if (uo.url) {
		char why[600];

		if (upload_check_url(uo.url, why, sizeof(why))) {
			fprintf(stderr, "orchestrator: --upload %s\n", why);
			return EXIT_BAD_USAGE;
		}
	}
	/* A missing token would only show after the first run. */
	if (uo.token_env &&
	    (!getenv(uo.token_env) || !getenv(uo.token_env)[0])) {
		fprintf(stderr,
			"orchestrator: --token-env: the variable %s is not "
			"set\n",
			uo.token_env);
		return EXIT_BAD_USAGE;
	}
	nfiles = (size_t)(argc - optind);
	total = nfiles;
	for (size_t i = 0; i < NOPTS; i++) {
		char why[400];
		int err;

		if (!given[i])
			continue;
		set[nset].key = opts[i].name;
		set[nset].arg = given[i];
		err = setting_split(&set[nset], why, sizeof(why));
		nset++;
		if (err) {
			fprintf(stderr, "orchestrator: %s\n",
				err == EINVAL ? why : strerror(err));
			status = EXIT_BAD_USAGE;
			goto out;
		}
		total *= set[nset - 1].n;
		if (total > RUN_MAX_RUNS) {
			fprintf(stderr,
				"orchestrator: that is more than %d runs "
				"(the files times every list)\n",
				RUN_MAX_RUNS);
			status = EXIT_BAD_USAGE;
			goto out;
		}
	}
	{
		struct topo_errors errs = {0};

		if (inventory_load(&inv, hosts, &errs)) {
			for (size_t i = 0; i < errs.n; i++)
				fprintf(stderr, "%s\n", errs.lines[i]);
			topo_errors_free(&errs);
			status = EXIT_BAD_USAGE;
			goto out;
		}
	}
	/* Every run is checked before the first one starts: each file's
	 * mistakes, then the first value that does not fit a file. */
	for (k = 0; k < total; k++) {
		struct topo_errors errs = {0};
		struct run_choice c;
		struct topo *t = NULL;
		char why[400];
		int err;

		run_choice_of(k, argv + optind, nfiles, set, nset, &c);
		err = load_run(&t, &c, inv, set, nset, &errs, why,
			       sizeof(why));
		topo_errors_sort(&errs);
		if (err == EBADMSG && k % (total / nfiles) == 0)
			for (size_t i = 0; i < errs.n; i++)
				fprintf(stderr, "%s\n", errs.lines[i]);
		topo_errors_free(&errs);
		topo_free(t);
		if (err == EINVAL) {
			fprintf(stderr, "orchestrator: %s\n", why);
			status = EXIT_BAD_USAGE;
			goto out;
		}
		if (err)
			status = EXIT_BAD_USAGE;
	}
	if (status)
		goto out;
	bundles = calloc(total, sizeof(*bundles));
	if (!bundles) {
		status = 1;
		goto out;
	}
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	o.interrupted = &interrupted;
	uo.interrupted = &interrupted;
	uo.progress = isatty(STDERR_FILENO);
	for (k = 0; k < total && !interrupted; k++) {
		struct topo_errors errs = {0};
		struct run_choice c;
		struct topo *t = NULL;
		char why[400], title[600], archive[900];
		int err;

		run_choice_of(k, argv + optind, nfiles, set, nset, &c);
		if (load_run(&t, &c, inv, set, nset, &errs, why,
			     sizeof(why))) {
			/* The file changed since it was checked. */
			fprintf(stderr, "orchestrator: %s: no longer loads\n",
				c.file);
			topo_errors_free(&errs);
			status = 1;
			continue;
		}
		if (total > 1 && !o.quiet) {
			run_title(title, sizeof(title), &c, set, nset);
			printf("[list] run %zu of %zu: %s\n", k + 1, total,
			       title);
			fflush(stdout);
		}
		err = run_experiment(t, inv, &o, bundles[nruns],
				     sizeof(bundles[0]));
		if (err)
			status = 1;
		if (!o.quiet || err)
			printf("bundle: %s\n", bundles[nruns]);
		fflush(stdout);
		topo_free(t);
		if (!bundles[nruns][0])
			continue;
		snprintf(archive, sizeof(archive), "%s.tar.gz",
			 bundles[nruns]);
		nruns++;
		/* After an interrupt the user wants out, not a transfer. */
		if (uo.url && !interrupted && !upload_one(archive, &uo))
			status = 1;
	}
	if (interrupted && k < total)
		fprintf(stderr,
			"orchestrator: interrupted: %zu of the %zu runs not "
			"started\n",
			total - k, total);
	if (nruns > 1 && !o.deploy_only && !o.baseline_only) {
		compare_bundles(bundles, nruns, o.results_dir, html,
				sizeof(html));
		if (html[0] && uo.url && !interrupted) {
			struct upload_opts page = uo;

			page.content_type = "text/html";
			if (!upload_one(html, &page))
				status = 1;
		}
	}
out:
	for (size_t i = 0; i < nset; i++)
		free(set[i].copy);
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
		return cmd_run(argc - 1, argv + 1, false);
	if (!strcmp(argv[1], "baseline"))
		return cmd_run(argc - 1, argv + 1, true);
	fprintf(stderr, "orchestrator: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EXIT_BAD_USAGE;
}
