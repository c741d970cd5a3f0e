#include "runlist.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "datadir.h"
#include "locate.h"
#include "metrics.h"
#include "res_compare.h"
#include "results.h"
#include "topo_override.h"
#include "version.h"
#include "workdir.h"
#include "log.h"

/* Which file and which value of each setting run number k has. */
struct run_choice {
	const char *file;
	size_t value[32];
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	static const char msg[] = "\norchestrator: interrupted again: "
				  "ending the roles now, a short cleanup\n";

	(void)sig;
	if (interrupted >= 2)
		_exit(130); /* a third time: out, whatever is left */
	if (++interrupted == 2) {
		ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);

		(void)n;
	}
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
static int setting_split(struct runlist_setting *st, char *why, size_t whysz)
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
		if (st->n == RUNLIST_MAX_VALUES) {
			snprintf(why, whysz, "--%s: at most %d values",
				 st->key, RUNLIST_MAX_VALUES);
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

/*
 * Configuration k of the list: the files outermost, then the settings
 * in the order of the option table, the last one varying fastest.
 */
static void run_choice_of(size_t k, char **files, size_t nfiles,
			  const struct runlist_setting *set, size_t nset,
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
		    const struct inventory *inv,
		    const struct runlist_setting *set, size_t nset,
		    struct topo_errors *errs, char *why, size_t whysz)
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
		      const struct runlist_setting *set, size_t nset)
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

/* The experiment settings (val 'o') in the order a list of runs varies
 * them; auth comes before preload-credentials, which needs it. */
static const struct option run_options[] = {
	{"hosts", required_argument, NULL, 'H'},
	{"accept-new", no_argument, NULL, 'a'},
	{"keep-db", no_argument, NULL, 'k'},
	{"keep-remote", no_argument, NULL, 'K'},
	{"deploy-only", no_argument, NULL, 'd'},
	{"quiet", no_argument, NULL, 'q'},
	{"results", required_argument, NULL, 'r'},
	{"metrics", required_argument, NULL, 'M'},
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
	{"users-prefix", required_argument, NULL, 'o'},
	{"users-first", required_argument, NULL, 'o'},
	{"watchers", required_argument, NULL, 'o'},
	{"refresh-s", required_argument, NULL, 'o'},
	{"body-bytes", required_argument, NULL, 'o'},
	{"filter", required_argument, NULL, 'o'},
	{"max-rate", required_argument, NULL, 'o'},
	{"repeat", required_argument, NULL, 'R'},
	{NULL, 0, NULL, 0}};
enum { NOPTS = sizeof(run_options) / sizeof(run_options[0]) };

/* The options into rl, each experiment setting's list into given[] (by
 * its place in run_options).  0 or COMMANDS_BAD_USAGE (said). */
static int parse_options(struct runlist *rl, int argc, char **argv,
			 const char **given)
{
	bool bad = false;
	int opt, idx;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", run_options, &idx)) != -1) {
		switch (opt) {
		case 'H':
			rl->hosts = optarg;
			break;
		case 'a':
			rl->o.accept_new = true;
			break;
		case 'k':
			rl->o.keep_db = true;
			break;
		case 'K':
			rl->o.keep_remote = true;
			break;
		case 'd':
			rl->o.deploy_only = true;
			break;
		case 'q':
			rl->o.quiet = true;
			break;
		case 'r':
			rl->o.results_dir = optarg;
			break;
		case 'R': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || !optarg[0] || v < 1 || v > 64) {
				fprintf(stderr,
					"orchestrator: --repeat %s: give a "
					"number of runs from 1 to 64\n",
					optarg);
				return COMMANDS_BAD_USAGE;
			}
			rl->repeat = (unsigned)v;
			break;
		}
		case 'M':
			rl->metrics_addr = optarg;
			break;
		case 'o':
			if (given[idx]) {
				fprintf(stderr,
					"orchestrator: --%s is given twice: "
					"give one list (--%s A,B)\n",
					run_options[idx].name,
					run_options[idx].name);
				return COMMANDS_BAD_USAGE;
			}
			given[idx] = optarg;
			break;
		default:
			if (commands_upload_option(opt, optarg, &rl->uo,
						   &bad) &&
			    !bad)
				break;
			if (!bad)
				commands_usage(stderr);
			return COMMANDS_BAD_USAGE;
		}
	}
	if (optind >= argc || !rl->hosts) {
		commands_usage(stderr);
		return COMMANDS_BAD_USAGE;
	}
	if (rl->metrics_addr && !metrics_addr_ok(rl->metrics_addr)) {
		fprintf(stderr, "orchestrator: --metrics %s: not HOST:PORT\n",
			rl->metrics_addr);
		return COMMANDS_BAD_USAGE;
	}
	rl->files = argv + optind;
	rl->nfiles = (size_t)(argc - optind);
	return 0;
}

/* The --upload options fit together and the token is there: 0 or
 * COMMANDS_BAD_USAGE (said). */
static int check_upload(const struct upload_opts *uo)
{
	if (!uo->url &&
	    (uo->post || uo->token_env || uo->ca_file || uo->tries)) {
		fprintf(stderr, "orchestrator: --post, --token-env, --ca and "
				"--tries go with --upload URL\n");
		return COMMANDS_BAD_USAGE;
	}
	if (uo->url) {
		char why[600];

		if (upload_check_url(uo->url, why, sizeof(why))) {
			fprintf(stderr, "orchestrator: --upload %s\n", why);
			return COMMANDS_BAD_USAGE;
		}
	}
	/* A missing token would only show after the first run. */
	if (uo->token_env &&
	    (!getenv(uo->token_env) || !getenv(uo->token_env)[0])) {
		fprintf(stderr,
			"orchestrator: --token-env: the variable %s is not "
			"set\n",
			uo->token_env);
		return COMMANDS_BAD_USAGE;
	}
	return 0;
}

/* Each given setting's list into rl->set; the number of runs into
 * rl->total.  0 or COMMANDS_BAD_USAGE (said). */
static int split_settings(struct runlist *rl, const char **given)
{
	rl->repeats = rl->repeat ? rl->repeat : 1;
	rl->total = rl->nfiles * rl->repeats;
	for (size_t i = 0; i < NOPTS; i++) {
		struct runlist_setting *st = &rl->set[rl->nset];
		char why[400];
		int err;

		if (!given[i])
			continue;
		st->key = run_options[i].name;
		st->arg = given[i];
		err = setting_split(st, why, sizeof(why));
		rl->nset++;
		if (err) {
			fprintf(stderr, "orchestrator: %s\n",
				err == EINVAL ? why : strerror(err));
			return COMMANDS_BAD_USAGE;
		}
		rl->total *= st->n;
		if (rl->total > RUNLIST_MAX_RUNS) {
			fprintf(stderr,
				"orchestrator: that is more than %d runs "
				"(the files times every list times "
				"--repeat)\n",
				RUNLIST_MAX_RUNS);
			return COMMANDS_BAD_USAGE;
		}
	}
	return 0;
}

/* The topologies and the inventory given by name (locate.h) become
 * paths: 0 or COMMANDS_BAD_USAGE (said, with every place looked in). */
static int locate_names(struct runlist *rl)
{
	char path[1000], why[3000];

	if (rl->nfiles > RUNLIST_MAX_RUNS) {
		fprintf(stderr, "orchestrator: more than %d topology files\n",
			RUNLIST_MAX_RUNS);
		return COMMANDS_BAD_USAGE;
	}
	if (locate_file(LOCATE_INVENTORY, rl->hosts, rl->hosts_path,
			sizeof(rl->hosts_path), why, sizeof(why))) {
		fprintf(stderr, "orchestrator: --hosts %s\n", why);
		return COMMANDS_BAD_USAGE;
	}
	rl->hosts = rl->hosts_path;
	for (size_t i = 0; i < rl->nfiles; i++) {
		if (locate_file(LOCATE_TOPOLOGY, rl->files[i], path,
				sizeof(path), why, sizeof(why))) {
			fprintf(stderr, "orchestrator: %s\n", why);
			return COMMANDS_BAD_USAGE;
		}
		if (!strcmp(path, rl->files[i]))
			continue;
		rl->located[i] = strdup(path);
		if (!rl->located[i])
			return COMMANDS_BAD_USAGE;
		rl->files[i] = rl->located[i];
	}
	return 0;
}

int runlist_parse(struct runlist *rl, int argc, char **argv,
		  bool baseline_only)
{
	const char *given[NOPTS] = {0};
	int status;

	memset(rl, 0, sizeof(*rl));
	find_root(rl->bin, sizeof(rl->bin), rl->root, sizeof(rl->root));
	snprintf(rl->schema, sizeof(rl->schema),
		 "%s/proxy-stateful/schema.sql", rl->root);
	if (access(rl->schema, R_OK) != 0)
		datadir_path(rl->schema, sizeof(rl->schema), "schema.sql");
	rl->o.bin_dir = rl->bin;
	rl->o.schema = rl->schema;
	rl->o.baseline_only = baseline_only;
	status = parse_options(rl, argc, argv, given);
	/* Where the user stands, never next to the executable. */
	snprintf(rl->results, sizeof(rl->results), "%s",
		 locate_results_dir(rl->o.results_dir));
	rl->o.results_dir = rl->results;
	if (!status)
		status = locate_names(rl);
	if (!status)
		status = check_upload(&rl->uo);
	if (!status)
		status = split_settings(rl, given);
	if (!status)
		rl->configs = rl->total / rl->repeats;
	return status;
}

int runlist_check(struct runlist *rl)
{
	struct topo_errors errs = {0};
	int status = 0;

	if (inventory_load(&rl->inv, rl->hosts, &errs)) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		topo_errors_free(&errs);
		return COMMANDS_BAD_USAGE;
	}
	/* Every run is checked before the first one starts: each file's
	 * mistakes, then the first value that does not fit a file. */
	for (size_t k = 0; k < rl->configs; k++) {
		struct run_choice c;
		struct topo *t = NULL;
		char why[400];
		int err;

		run_choice_of(k, rl->files, rl->nfiles, rl->set, rl->nset, &c);
		err = load_run(&t, &c, rl->inv, rl->set, rl->nset, &errs, why,
			       sizeof(why));
		topo_errors_sort(&errs);
		/* no --repeat: the largest "repeat" of the files */
		if (!err && !rl->repeat && t->exp.repeat > rl->repeats)
			rl->repeats = t->exp.repeat;
		if (err == EBADMSG && k % (rl->configs / rl->nfiles) == 0)
			for (size_t i = 0; i < errs.n; i++)
				fprintf(stderr, "%s\n", errs.lines[i]);
		topo_errors_free(&errs);
		topo_free(t);
		if (err == EINVAL) {
			fprintf(stderr, "orchestrator: %s\n", why);
			return COMMANDS_BAD_USAGE;
		}
		if (err)
			status = COMMANDS_BAD_USAGE;
	}
	rl->total = rl->configs * rl->repeats;
	if (!status && rl->total > RUNLIST_MAX_RUNS) {
		fprintf(stderr,
			"orchestrator: that is more than %d runs (the files "
			"times every list times \"repeat\")\n",
			RUNLIST_MAX_RUNS);
		status = COMMANDS_BAD_USAGE;
	}
	return status;
}

/* Run k of the list; its bundle's path into bundle (empty when none
 * was made).  0, or 1 when the run failed or no longer loads. */
static int run_one(struct runlist *rl, size_t k, char *bundle, size_t size)
{
	struct topo_errors errs = {0};
	struct run_choice c;
	struct topo *t = NULL;
	char why[400], title[600];
	int err;

	bundle[0] = '\0';
	/* Repeated trials (RFC 7502): every configuration
	 * once, then again, so that a drift of the machine spreads over
	 * all of them instead of biasing one. */
	run_choice_of(k % rl->configs, rl->files, rl->nfiles, rl->set,
		      rl->nset, &c);
	rl->o.repeat_index = rl->repeats > 1 ? (unsigned)(k / rl->configs) + 1
					     : 0;
	rl->o.repeat_of = rl->repeats > 1 ? rl->repeats : 0;
	if (load_run(&t, &c, rl->inv, rl->set, rl->nset, &errs, why,
		     sizeof(why))) {
		/* The file changed since it was checked. */
		fprintf(stderr, "orchestrator: %s: no longer loads\n", c.file);
		topo_errors_free(&errs);
		return 1;
	}
	if (rl->total > 1 && !rl->o.quiet) {
		run_title(title, sizeof(title), &c, rl->set, rl->nset);
		if (rl->repeats > 1)
			printf("[list] run %zu of %zu: %s (repetition %u of "
			       "%u)\n",
			       k + 1, rl->total, title, rl->o.repeat_index,
			       rl->repeats);
		else
			printf("[list] run %zu of %zu: %s\n", k + 1, rl->total,
			       title);
		fflush(stdout);
	}
	err = run_experiment(t, rl->inv, &rl->o, bundle, size);
	if (!rl->o.quiet || err)
		printf("bundle: %s\n", bundle);
	fflush(stdout);
	topo_free(t);
	return err ? 1 : 0;
}

/* --metrics HOST:PORT: serves the runs' live figures (metrics.h) for
 * as long as the list goes.  0, or 1 (said) when it cannot listen. */
static int start_metrics(struct runlist *rl)
{
	char why[400];

	if (metrics_start(&rl->o.metrics, rl->metrics_addr, why,
			  sizeof(why))) {
		fprintf(stderr, "orchestrator: --metrics %s: %s\n",
			rl->metrics_addr, why);
		return 1;
	}
	if (!rl->o.quiet)
		printf("metrics: http://%s/metrics (port %u)\n",
		       rl->metrics_addr, metrics_port(rl->o.metrics));
	fflush(stdout);
	return 0;
}

int runlist_execute(struct runlist *rl)
{
	char(*bundles)[800] = calloc(rl->total, sizeof(*bundles));
	struct sigaction sa = {0};
	size_t k, nruns = 0;
	char html[1100];
	int status = 0;

	if (!bundles)
		return 1;
	/* Logged once the options are known good, so that a bad value
	 * stays the one line it is. */
	log_info("orchestrator %s", version_string());
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A lost terminal tears down like Ctrl-C: nothing left behind. */
	sigaction(SIGHUP, &sa, NULL);
	{
		size_t left = cleanup_count_local();

		if (left)
			fprintf(stderr,
				"orchestrator: warning: %zu work director%s "
				"of "
				"earlier runs left in %s (orchestrator "
				"cleanup --hosts %s [--dry-run] removes what "
				"they left)\n",
				left, left == 1 ? "y" : "ies", workdir_base(),
				rl->hosts);
	}
	rl->o.interrupted = &interrupted;
	rl->uo.interrupted = &interrupted;
	if (rl->metrics_addr && start_metrics(rl)) {
		free(bundles);
		return 1;
	}
	rl->uo.progress = isatty(STDERR_FILENO);
	for (k = 0; k < rl->total && !interrupted; k++) {
		char archive[900];

		if (run_one(rl, k, bundles[nruns], sizeof(bundles[0])))
			status = 1;
		if (!bundles[nruns][0])
			continue;
		snprintf(archive, sizeof(archive), "%s.tar.gz",
			 bundles[nruns]);
		nruns++;
		/* After an interrupt the user wants out, not a transfer. */
		if (rl->uo.url && !interrupted &&
		    !upload_one(archive, &rl->uo))
			status = 1;
	}
	if (interrupted && k < rl->total)
		fprintf(stderr,
			"orchestrator: interrupted: %zu of the %zu runs not "
			"started\n",
			rl->total - k, rl->total);
	if (nruns > 1 && !rl->o.deploy_only && !rl->o.baseline_only) {
		compare_bundles(bundles, nruns, rl->o.results_dir, html,
				sizeof(html));
		if (html[0] && rl->uo.url && !interrupted) {
			struct upload_opts page = rl->uo;

			page.content_type = "text/html";
			if (!upload_one(html, &page))
				status = 1;
		}
	}
	free(bundles);
	metrics_stop(rl->o.metrics);
	rl->o.metrics = NULL;
	return status;
}

void runlist_free(struct runlist *rl)
{
	for (size_t i = 0; i < rl->nset; i++)
		free(rl->set[i].copy);
	for (size_t i = 0; i < RUNLIST_MAX_RUNS; i++)
		free(rl->located[i]);
	inventory_free(rl->inv);
	rl->inv = NULL;
	rl->nset = 0;
}

int runlist_command(int argc, char **argv, bool baseline_only)
{
	struct runlist *rl = malloc(sizeof(*rl));
	int status;

	if (!rl)
		return 1;
	status = runlist_parse(rl, argc, argv, baseline_only);
	if (!status)
		status = runlist_check(rl);
	if (!status)
		status = runlist_execute(rl);
	runlist_free(rl);
	free(rl);
	return status;
}
