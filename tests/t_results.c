/* Tests for result bundles: files, round trip, report, compare, pack. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "res_bundle.h"
#include "res_compare.h"
#include "results.h"
#include "test.h"

/*
 * A made-up ramp for the writer (not a measurement): success falls from
 * the 5th step, proxy CPU climbs with the rate.
 */
static void make_run(struct res_run *run, const char *topology,
		     double per_step)
{
	memset(run, 0, sizeof(*run));
	snprintf(run->id, sizeof(run->id), "%s-test", topology);
	snprintf(run->topology, sizeof(run->topology), "%s", topology);
	snprintf(run->test, sizeof(run->test), "register");
	snprintf(run->transport, sizeof(run->transport), "udp");
	snprintf(run->status, sizeof(run->status), "complete");
	snprintf(run->started, sizeof(run->started), "2026-11-22T07:00:00");
	snprintf(run->reason, sizeof(run->reason), "a <quoted> & \"odd\" one");
	run->success_threshold_pct = 50;
	run->ta_limit_ms = 1000;
	run->rfc7502_rate = -1;
	run->baseline = 50000;
	run->nproxies = 2;
	snprintf(run->proxy_names[0], RES_NAME_MAX, "sf1");
	snprintf(run->proxy_names[1], RES_NAME_MAX, "sf2");
	run->nsteps = 6;
	run->steps = calloc(run->nsteps, sizeof(*run->steps));
	ASSERT(run->steps);
	for (size_t i = 0; i < run->nsteps; i++) {
		struct res_step *s = &run->steps[i];

		s->index = (unsigned)i;
		s->offered = per_step * (double)(i + 1);
		s->success_pct = i < 4 ? 100 : 40;
		s->achieved = s->offered * s->success_pct / 100;
		s->attempts = (uint64_t)s->offered * 10;
		s->successes =
			(uint64_t)((double)s->attempts * s->success_pct / 100);
		s->failures = s->attempts - s->successes;
		s->p50_ms = 1 + (double)i;
		s->p95_ms = 2 + (double)i;
		s->p99_ms = 3 + (double)i;
		s->max_ms = 9 + (double)i;
		s->ta_avg_ms = 1.5 + (double)i;
		s->rrd_ms = s->ta_avg_ms;
		s->ira_pct = 100 - s->success_pct;
		s->srd_ms = s->sdd_ms = s->ser_pct = s->seer_pct = -1;
		s->isa_pct = s->scr_pct = -1;
		s->passed = s->success_pct >= 50;
		s->generator_bound = i == 5;
		for (int k = 0; k < 2; k++) {
			s->proxy[k].cpu = 0.15 * (double)(i + 1);
			s->proxy[k].rss_mb = 10 + (double)k;
			s->proxy[k].share = 0.5;
		}
	}
	run->nsamples = 3;
	run->samples = calloc(run->nsamples, sizeof(*run->samples));
	ASSERT(run->samples);
	for (size_t i = 0; i < run->nsamples; i++) {
		run->samples[i].t_s = (double)i;
		run->samples[i].offered = per_step;
		run->samples[i].achieved = per_step;
		run->samples[i].success_pct = 100;
		run->samples[i].proxy[1].cpu = 0.25;
	}
	run->setup = json_pack("{s:{s:{s:s,s:i}}}", "topology", "experiment",
			       "test", "register", "step_duration_s", 10);
}

static size_t count_lines(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

TEST(results_capacity_and_knee)
{
	struct res_run run;

	make_run(&run, "s0p1", 1000);
	/* Steps 1000..4000 passed; 5000 and 6000 fell below 50 %. */
	ASSERT(res_capacity(&run) == 4000);
	/* Achieved stops following offered after 4000. */
	ASSERT(res_knee(&run) == 4000);
	run.steps[0].passed = run.steps[1].passed = false;
	ASSERT(res_capacity(&run) == 4000);
	for (size_t i = 0; i < run.nsteps; i++)
		run.steps[i].passed = false;
	ASSERT(res_capacity(&run) == 0);
	res_run_clear(&run);
}

TEST(results_bundle_files_and_round_trip)
{
	char dir[600], path[700];
	struct res_run run, back;
	char why[256] = "";
	size_t len;
	char *text;

	make_run(&run, "s1p2", 2000);
	snprintf(dir, sizeof(dir), "%s/s1p2-test", test_tmp_dir());
	ASSERT_EQ(res_write(&run, dir), 0);

	snprintf(path, sizeof(path), "%s/steps.csv", dir);
	text = test_read_file(path, &len);
	ASSERT_EQ(count_lines(text), run.nsteps + 1);
	ASSERT(strstr(text, "sf1_cpu_pct,sf1_rss_mb,sf1_share_pct"));
	/* Step 2: offered 6000, CPU 45 %, absent metrics left empty. */
	ASSERT(strstr(text, "\n2,6000.0,6000.0,"));
	ASSERT(strstr(text, ",,,,,,0,1,ramp,45.0,10.0,50.000,45.0,11.0,50."
			    "000,"));
	/* the counts' and machines' columns last */
	ASSERT(strstr(text, ",in_flight,machine_busy_pct,machine_steal_pct,"
			    "machine_iowait_pct,machine_others_pct,"
			    "interfered\n"));
	free(text);
	snprintf(path, sizeof(path), "%s/samples.csv", dir);
	text = test_read_file(path, &len);
	ASSERT_EQ(count_lines(text), run.nsamples + 1);
	free(text);

	ASSERT_EQ(res_load(&back, dir, why, sizeof(why)), 0);
	ASSERT_STR(back.topology, "s1p2");
	ASSERT_STR(back.reason, run.reason);
	ASSERT_EQ(back.nsteps, run.nsteps);
	ASSERT_EQ(back.nsamples, run.nsamples);
	ASSERT_EQ(back.nproxies, 2);
	ASSERT_STR(back.proxy_names[1], "sf2");
	for (size_t i = 0; i < run.nsteps; i++) {
		ASSERT(back.steps[i].offered == run.steps[i].offered);
		ASSERT(back.steps[i].passed == run.steps[i].passed);
		ASSERT(back.steps[i].p99_ms == run.steps[i].p99_ms);
		ASSERT(back.steps[i].srd_ms < 0);
		ASSERT(back.steps[i].proxy[1].cpu ==
		       run.steps[i].proxy[1].cpu);
	}
	ASSERT(back.samples[2].proxy[1].cpu == 0.25);
	ASSERT(res_capacity(&back) == res_capacity(&run));
	ASSERT_STR(back.steps[0].phase, "ramp");
	ASSERT_STR(back.search, "ramp");
	ASSERT(back.rfc7502_rate < 0);
	ASSERT(json_is_object(back.setup));
	res_run_clear(&back);
	res_run_clear(&run);
}

/* python3's HTML parser, with a check that tags open and close in order. */
static const char *const html_check =
	"import sys, html.parser\n"
	"VOID = {'meta','br','img','hr','input','link','rect','line','path',"
	"'polyline','circle'}\n"
	"class P(html.parser.HTMLParser):\n"
	"    def __init__(s):\n"
	"        super().__init__(); s.stack = []; s.svg = 0\n"
	"    def handle_starttag(s, t, a):\n"
	"        if t == 'svg': s.svg += 1\n"
	"        if t not in VOID: s.stack.append(t)\n"
	"    def handle_startendtag(s, t, a):\n"
	"        if t == 'svg': s.svg += 1\n"
	"    def handle_endtag(s, t):\n"
	"        if t in VOID: return\n"
	"        if not s.stack or s.stack.pop() != t: sys.exit('bad </%s>' % "
	"t)\n"
	"p = P(); p.feed(open(sys.argv[1]).read()); p.close()\n"
	"if p.stack: sys.exit('unclosed: %s' % p.stack)\n"
	"if p.svg < int(sys.argv[2]): sys.exit('only %d charts' % p.svg)\n";

static void check_html(const char *path, int charts)
{
	char script[600], n[8];
	FILE *f;
	const char *argv[] = {"python3", script, path, n, NULL};

	snprintf(script, sizeof(script), "%s/check_html.py", test_tmp_dir());
	snprintf(n, sizeof(n), "%d", charts);
	f = fopen(script, "w");
	ASSERT(f);
	fputs(html_check, f);
	fclose(f);
	ASSERT_MSG(proc_run(argv, "check_html.log", 10000) == 0,
		   "%s does not parse; see check_html.log", path);
}

TEST(results_report_is_well_formed_with_charts_and_setup)
{
	char dir[600], path[700];
	struct res_run run;
	size_t len;
	char *text;

	make_run(&run, "s2p2", 1000);
	snprintf(dir, sizeof(dir), "%s/s2p2-test", test_tmp_dir());
	ASSERT_EQ(res_write(&run, dir), 0);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	check_html(path, 3);
	text = test_read_file(path, &len);
	ASSERT(strstr(text, "<b>Capacity: 4000/s</b>"));
	/* Text from the run is escaped, never markup. */
	ASSERT(strstr(text, "a &lt;quoted&gt; &amp; &quot;odd&quot; one"));
	ASSERT(strstr(text, "<h2>Setup</h2>"));
	ASSERT(strstr(text, "step_duration_s"));
	ASSERT(strstr(text, "(generator bound)"));
	free(text);
	res_run_clear(&run);
}

TEST(results_compare_gives_the_scaling_ratio)
{
	struct res_run a, b, c;
	const struct res_run *runs[3] = {&a, &b, &c};
	char path[600];
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	make_run(&a, "s0p1", 1000);
	make_run(&b, "s1p2", 1500);
	make_run(&c, "s2p2", 2000);
	f = open_memstream(&text, &len);
	ASSERT(f);
	res_compare_table(runs, 3, f);
	fclose(f);
	ASSERT(strstr(text, "s0p1"));
	ASSERT(strstr(text, "4000    1.00x"));
	ASSERT(strstr(text, "6000    1.50x"));
	ASSERT(strstr(text, "8000    2.00x"));
	free(text);
	snprintf(path, sizeof(path), "%s/compare.html", test_tmp_dir());
	f = fopen(path, "w");
	ASSERT(f);
	ASSERT_EQ(res_compare_html(runs, 3, f), 0);
	fclose(f);
	check_html(path, 1);
	res_run_clear(&a);
	res_run_clear(&b);
	res_run_clear(&c);
}

/* The runs of a list, as topo_override leaves their setup. */
static void set_users(struct res_run *run, int users)
{
	json_t *exp = json_object_get(json_object_get(run->setup, "topology"),
				      "experiment");

	json_object_set_new(exp, "users",
			    json_pack("{s:s,s:i}", "prefix", "A", "count",
				      users));
}

TEST(results_compare_labels_each_run_by_what_varied)
{
	struct res_run a, b, c;
	const struct res_run *runs[3] = {&a, &b, &c};
	char labels[3][RES_LABEL_MAX], path[600];
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	make_run(&a, "s0p1", 1000);
	make_run(&b, "s0p1", 1500);
	make_run(&c, "s0p1", 500);
	set_users(&a, 100);
	set_users(&b, 10000);
	set_users(&c, 100000);
	res_compare_labels(runs, 3, labels);
	ASSERT_STR(labels[0], "s0p1 users=100");
	ASSERT_STR(labels[1], "s0p1 users=10000");
	ASSERT_STR(labels[2], "s0p1 users=100000");
	f = open_memstream(&text, &len);
	ASSERT(f);
	res_compare_table(runs, 3, f);
	fclose(f);
	/* The ratio is to the first run's capacity (4000/s). */
	{
		const char *row = strstr(text, "\ns0p1 users=10000 ");

		ASSERT_MSG(row && strstr(row, "6000    1.50x") &&
				   strstr(row, "6000    1.50x") <
					   strchr(row + 1, '\n'),
			   "%s", text);
		ASSERT(strstr(text, "2000    0.50x"));
	}
	free(text);
	snprintf(path, sizeof(path), "%s/cmp.html", test_tmp_dir());
	f = fopen(path, "w");
	ASSERT(f);
	ASSERT_EQ(res_compare_html(runs, 3, f), 0);
	fclose(f);
	/* The success chart and the capacity bars. */
	check_html(path, 2);
	text = test_read_file(path, &len);
	ASSERT(strstr(text, "<td class=l>s0p1 users=100000</td>"));
	ASSERT(strstr(text, "Capacity of each run"));
	ASSERT(strstr(text, "<td>1.50&times;</td>"));
	free(text);

	/* A transport reads alone; a different topology is named. */
	snprintf(b.transport, sizeof(b.transport), "tcp");
	set_users(&b, 100);
	snprintf(c.topology, sizeof(c.topology), "s1p2");
	set_users(&c, 100);
	res_compare_labels(runs, 3, labels);
	ASSERT_STR(labels[0], "s0p1 udp");
	ASSERT_STR(labels[1], "s0p1 tcp");
	ASSERT_STR(labels[2], "s1p2 udp");
	/* Runs alike in everything are numbered. */
	snprintf(b.transport, sizeof(b.transport), "udp");
	res_compare_labels(runs, 2, labels);
	ASSERT_STR(labels[0], "s0p1 #1");
	ASSERT_STR(labels[1], "s0p1 #2");
	res_run_clear(&a);
	res_run_clear(&b);
	res_run_clear(&c);
}

TEST(results_pack_and_bad_bundles)
{
	char dir[600], archive[700], why[256] = "";
	const char *list[] = {"tar", "-tzf", archive, NULL};
	struct res_run run, back;
	size_t len;
	char *text;
	FILE *f;

	make_run(&run, "s0p1", 1000);
	snprintf(dir, sizeof(dir), "%s/run-1", test_tmp_dir());
	ASSERT_EQ(res_write(&run, dir), 0);
	ASSERT_EQ(res_pack(dir), 0);
	snprintf(archive, sizeof(archive), "%s.tar.gz", dir);
	ASSERT_EQ(proc_run(list, "tar.log", 10000), 0);
	text = test_read_file("tar.log", &len);
	ASSERT(strstr(text, "run-1/summary.json"));
	ASSERT(strstr(text, "run-1/report.html"));
	ASSERT(strstr(text, "run-1/steps.csv"));
	free(text);
	res_run_clear(&run);

	ASSERT_EQ(res_load(&back, "/nonexistent", why, sizeof(why)), ENOENT);
	snprintf(dir, sizeof(dir), "%s/broken", test_tmp_dir());
	mkdir(dir, 0755);
	snprintf(archive, sizeof(archive), "%s/summary.json", dir);
	f = fopen(archive, "w");
	ASSERT(f);
	fputs("{\"steps\": 3}", f);
	fclose(f);
	ASSERT_EQ(res_load(&back, dir, why, sizeof(why)), EBADMSG);
	ASSERT(strstr(why, "not a result summary"));
	f = fopen(archive, "w");
	ASSERT(f);
	fputs("{\"steps\": [", f);
	fclose(f);
	ASSERT_EQ(res_load(&back, dir, why, sizeof(why)), EBADMSG);
	ASSERT(strstr(why, "summary.json:1:"));
}

TEST(results_report_and_compare_commands)
{
	char a[600], b[600], html[600];
	const char *report[] = {"orchestrator", "report", a, NULL};
	const char *compare[] = {"orchestrator", "compare", a,	 b,
				 "--html",	 html,	    NULL};
	const char *missing[] = {"orchestrator", "compare", "/nonexistent",
				 NULL};
	struct res_run run;
	size_t len;
	char *text;

	snprintf(a, sizeof(a), "%s/a", test_tmp_dir());
	snprintf(b, sizeof(b), "%s/b", test_tmp_dir());
	snprintf(html, sizeof(html), "%s/cmp.html", test_tmp_dir());
	make_run(&run, "s0p1", 1000);
	ASSERT_EQ(res_write(&run, a), 0);
	res_run_clear(&run);
	make_run(&run, "s2p2", 2000);
	ASSERT_EQ(res_write(&run, b), 0);
	res_run_clear(&run);
	/* report rebuilds the page from summary.json alone: the same. */
	{
		char page[700];
		size_t before_len;
		char *before;

		snprintf(page, sizeof(page), "%s/report.html", a);
		before = test_read_file(page, &before_len);
		ASSERT_EQ(unlink(page), 0);
		ASSERT_EQ(proc_run(report, "report.log", 10000), 0);
		text = test_read_file(page, &len);
		ASSERT(len == before_len && !memcmp(text, before, len));
		free(before);
		free(text);
	}
	ASSERT_EQ(proc_run(compare, "compare.log", 10000), 0);
	text = test_read_file("compare.log", &len);
	ASSERT(strstr(text, "2.00x"));
	/* Each run is named by its topology (nothing else varied). */
	ASSERT_MSG(strstr(text, "\ns0p1 ") && strstr(text, "\ns2p2 "), "%s",
		   text);
	free(text);
	check_html(html, 2);
	ASSERT_EQ(proc_run(missing, "missing.log", 10000), 2);
	{
		const char *no_file[] = {"orchestrator", "compare", a,
					 "--html", NULL};

		ASSERT_EQ(proc_run(no_file, "nofile.log", 10000), 2);
		text = test_read_file("nofile.log", &len);
		ASSERT(strstr(text, "--html needs a FILE"));
		free(text);
	}
}
