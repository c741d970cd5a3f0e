/*
 * Figures a user can act on (issue 13): interfered steps flagged, step
 * counts that add up and agree with the proxies', and the report and
 * comparison pages drawn by a real browser (headless Chromium).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "orchrun.h"
#include "proc.h"
#include "procstat.h"
#include "results.h"
#include "test.h"

/* The machine's busy share over ms milliseconds (nothing of ours runs
 * yet: all of it is other work). */
static double machine_busy(unsigned ms)
{
	struct procstat_machine a, b;
	struct procstat_share sh;

	ASSERT_EQ(procstat_machine_read(&a), 0);
	usleep(ms * 1000);
	ASSERT_EQ(procstat_machine_read(&b), 0);
	ASSERT_EQ(procstat_machine_share(&a, &b, UINT64_MAX, &sh), 0);
	return sh.busy + sh.steal;
}

/* A CPU burner: a child spinning until killed, at most 60 s. */
static pid_t burner_start(void)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		struct timespec t0, now;
		volatile unsigned long spin = 0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			for (int i = 0; i < 1000000; i++)
				spin++;
			clock_gettime(CLOCK_MONOTONIC, &now);
		} while (now.tv_sec - t0.tv_sec < 60);
		_exit(0);
	}
	return pid;
}

static void burner_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/*
 * Runs the orchestrator on t.json and reads its output into out (size
 * bytes); once a line with after_line shows, starts two burners (the
 * machine's two cores) into burners[2] (when not NULL).  Returns the
 * exit status.  Every wait is bounded (80 s).
 */
static int run_watching(const char *after_line, pid_t *burners, char *out,
			size_t size)
{
	const char *argv[] = {"orchestrator", "run", "t.json",
			      "--hosts",      NULL,  "--results",
			      "results",      NULL};
	struct proc p;
	size_t used = 0;
	time_t end = time(NULL) + 80;
	int status;

	argv[4] = orchrun_local_hosts();
	proc_start(&p, argv);
	while (time(NULL) < end) {
		struct pollfd pfd = {.fd = p.from_child, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 500) <= 0)
			continue;
		n = read(p.from_child, out + used, size - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		out[used] = '\0';
		if (burners && !burners[0] && strstr(out, after_line)) {
			burners[0] = burner_start();
			burners[1] = burner_start();
		}
		if (used + 1 >= size)
			used = 0; /* keep reading; the bundle has it all */
	}
	out[used] = '\0';
	status = proc_stop(&p, 20000);
	if (status)
		proc_dump_log(&p);
	return status;
}

TEST_TIMEOUT(figures_burner_mid_run_flags_its_steps_only, 90)
{
	pid_t burners[2] = {0, 0};
	char *out = calloc(1, 1 << 16), dir[600], path[700];
	struct res_run run;
	double background = 1;
	char want[64];
	size_t nflagged;
	bool quiet;
	size_t len;
	char *text;
	int status;

	orchrun_need_root_and_mariadb();
	ASSERT(out);
	/* Other engineers share this machine: a run on a busy one cannot
	 * tell our burners from their work.  Wait (15 s at most) for a
	 * quiet moment; on a busy machine only the burners' steps are
	 * checked (flagged whatever else runs). */
	for (int tries = 0; tries < 10; tries++) {
		background = machine_busy(1500);
		if (background <= 0.2)
			break;
	}
	quiet = background <= 0.2;
	if (!quiet)
		fprintf(stderr,
			"the machine is busy (%.0f %% of it): the steps "
			"before the burners are not checked\n",
			background * 100);
	orchrun_prepare("s0p1-figures", "FINAL", "1200", "IMAX", "0.5", NULL);
	status = run_watching("[step 2]", burners, out, 1 << 16);
	burner_stop(burners[0]);
	burner_stop(burners[1]);
	ASSERT_MSG(status == 0, "orchestrator exited %d:\n%s", status, out);
	ASSERT_MSG(burners[0] > 0, "no [step 2] line:\n%s", out);
	orchrun_load_bundle(&run, dir, sizeof(dir));
	ASSERT_EQ(run.nsteps, 4);
	for (size_t i = 0; i < run.nsteps; i++) {
		const struct res_step *s = &run.steps[i];

		ASSERT_MSG(s->mach_others >= 0 && s->mach_busy >= 0,
			   "step %zu not measured", i);
		/* Steps 1 and 2 ran before the burners, 3 and 4 with them
		 * (the whole of both cores between them). */
		if (!quiet && i < 2)
			continue;
		ASSERT_MSG(s->interfered == (i >= 2),
			   "step %zu: other work %.0f %% of the machine, "
			   "busy %.0f %%, interfered %d",
			   i + 1, (s->mach_others + s->mach_steal) * 100,
			   s->mach_busy * 100, s->interfered);
	}
	nflagged = res_interfered_steps(&run);
	ASSERT(nflagged == 2 || (!quiet && nflagged >= 2));
	res_run_clear(&run);
	ASSERT(strstr(out, "[step 3]"));
	ASSERT(strstr(strstr(out, "[step 3]"), "interfered: other work"));
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	text = test_read_file(path, &len);
	snprintf(want, sizeof(want), "\"interfered_steps\": %zu", nflagged);
	ASSERT(strstr(text, want));
	free(text);
	snprintf(path, sizeof(path), "%s/steps.csv", dir);
	text = test_read_file(path, &len);
	ASSERT(strstr(text, ",machine_others_pct,interfered\n"));
	free(text);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	text = test_read_file(path, &len);
	snprintf(want, sizeof(want), "Interfered: %zu of 4 steps", nflagged);
	ASSERT(strstr(text, want));
	ASSERT(strstr(text, "class=\"interfered\""));
	free(text);
	free(out);
}

TEST_TIMEOUT(figures_step_counts_add_up_and_match_the_proxies, 60)
{
	char *out = calloc(1, 1 << 16), dir[600];
	struct res_run run;
	json_t *rows;
	double secs;
	size_t i;
	json_t *row;
	int status;

	ASSERT(out);
	orchrun_prepare("s0p1-figures", "FINAL", "1500", "IMAX", "1", NULL);
	status = run_watching("", NULL, out, 1 << 16);
	ASSERT_MSG(status == 0, "orchestrator exited %d:\n%s", status, out);
	orchrun_load_bundle(&run, dir, sizeof(dir));
	ASSERT_EQ(run.nsteps, 5);
	for (i = 0; i < run.nsteps; i++) {
		const struct res_step *s = &run.steps[i];

		/* Each transaction in the step it was sent in: never more
		 * outcomes than attempts, and those left add up. */
		ASSERT_MSG(s->successes <= s->attempts,
			   "step %zu: %llu successes of %llu attempts", i + 1,
			   (unsigned long long)s->successes,
			   (unsigned long long)s->attempts);
		ASSERT_MSG(s->successes + s->failures + s->in_flight ==
				   s->attempts,
			   "step %zu: %llu + %llu + %llu in flight != %llu",
			   i + 1, (unsigned long long)s->successes,
			   (unsigned long long)s->failures,
			   (unsigned long long)s->in_flight,
			   (unsigned long long)s->attempts);
		/* the step's own attempts: about its rate over the
		 * loader's own interval (successes / achieved); a loader
		 * starved on a loaded machine sends what was due late,
		 * in the next step */
		ASSERT(s->achieved > 0);
		secs = (double)s->successes / s->achieved;
		ASSERT_MSG(secs >= 2.9 && secs < 4.5 &&
				   s->attempts > 0.75 * s->offered * secs &&
				   s->attempts < 1.25 * s->offered * secs,
			   "step %zu: %llu attempts at %.0f/s in %.2f s",
			   i + 1, (unsigned long long)s->attempts, s->offered,
			   secs);
	}
	ASSERT(run.crosscheck);
	ASSERT(json_is_true(json_object_get(run.crosscheck, "made")));
	ASSERT_STR(json_string_value(json_object_get(run.crosscheck, "metho"
								     "d")),
		   "REGISTER");
	rows = json_object_get(run.crosscheck, "rows");
	ASSERT_EQ(json_array_size(rows), 2);
	json_array_foreach(rows, i, row)
	{
		ASSERT_MSG(res_json_number(row, "diff_pct", 100) <= 0.1,
			   "%s: loaders %.0f, proxies %.0f",
			   json_string_value(json_object_get(row, "what")),
			   res_json_number(row, "loaders", 0),
			   res_json_number(row, "proxies", 0));
		/* every step's transactions and more (the warm-ups) */
		ASSERT(res_json_number(row, "loaders", 0) > 13500);
	}
	ASSERT(json_is_true(json_object_get(run.crosscheck, "within")));
	ASSERT_EQ(json_array_size(json_object_get(run.crosscheck, "difference"
								  "s")),
		  0);
	res_run_clear(&run);
	free(out);
}

/* ---- the pages in a browser ---------------------------------------- */

/* The decoded screenshot: 8-bit RGB or RGBA rows. */
struct png {
	unsigned w, h, bpp;
	unsigned char *px; /* h rows of w * bpp */
};

static unsigned be32(const unsigned char *p)
{
	return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 |
	       (unsigned)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

	return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Undoes the PNG row filters (RFC 2083 §6) of raw into png->px. */
static void unfilter(struct png *png, const unsigned char *raw)
{
	size_t stride = (size_t)png->w * png->bpp;

	for (unsigned y = 0; y < png->h; y++) {
		const unsigned char *in = raw + y * (stride + 1) + 1;
		unsigned char *row = png->px + y * stride;
		const unsigned char *up = y ? row - stride : NULL;
		int filter = raw[y * (stride + 1)];

		ASSERT(filter <= 4);
		for (size_t x = 0; x < stride; x++) {
			int a = x >= png->bpp ? row[x - png->bpp] : 0;
			int b = up ? up[x] : 0;
			int c = up && x >= png->bpp ? up[x - png->bpp] : 0;
			int v = in[x];

			if (filter == 1)
				v += a;
			else if (filter == 2)
				v += b;
			else if (filter == 3)
				v += (a + b) / 2;
			else if (filter == 4)
				v += paeth(a, b, c);
			row[x] = (unsigned char)v;
		}
	}
}

/* Reads a Chromium screenshot: 8-bit RGB(A), not interlaced. */
static void png_read(const char *path, struct png *png)
{
	size_t len, off = 8, idat_len = 0;
	unsigned char *file = (unsigned char *)test_read_file(path, &len);
	unsigned char *idat = malloc(len), *raw;
	uLongf raw_len;

	ASSERT(idat);
	ASSERT(len > 33 && !memcmp(file, "\x89PNG\r\n\x1a\n", 8));
	memset(png, 0, sizeof(*png));
	while (off + 12 <= len) {
		unsigned n = be32(file + off);
		const unsigned char *type = file + off + 4;

		ASSERT(off + 12 + n <= len);
		if (!memcmp(type, "IHDR", 4)) {
			png->w = be32(file + off + 8);
			png->h = be32(file + off + 12);
			ASSERT_EQ(file[off + 16], 8); /* bit depth */
			ASSERT_EQ(file[off + 20], 0); /* not interlaced */
			png->bpp = file[off + 17] == 6 ? 4 : 3;
			ASSERT(file[off + 17] == 6 || file[off + 17] == 2);
		} else if (!memcmp(type, "IDAT", 4)) {
			memcpy(idat + idat_len, file + off + 8, n);
			idat_len += n;
		}
		off += 12 + n;
	}
	ASSERT(png->w && png->h);
	raw_len = (uLongf)png->h * ((uLongf)png->w * png->bpp + 1);
	raw = malloc(raw_len);
	png->px = malloc((size_t)png->w * png->bpp * png->h);
	ASSERT(raw && png->px);
	ASSERT_EQ(uncompress(raw, &raw_len, idat, idat_len), Z_OK);
	unfilter(png, raw);
	free(raw);
	free(idat);
	free(file);
}

/* Pixels in [x0, x1) x [y0, y1): not white, and coloured (a series'
 * palette colour rather than the grey of a grid or black text). */
static void png_count(const struct png *png, unsigned x0, unsigned y0,
		      unsigned x1, unsigned y1, size_t *ink, size_t *colour)
{
	*ink = *colour = 0;
	for (unsigned y = y0; y < y1 && y < png->h; y++)
		for (unsigned x = x0; x < x1 && x < png->w; x++) {
			const unsigned char *p =
				png->px + ((size_t)y * png->w + x) * png->bpp;
			int hi = p[0], lo = p[0];

			for (int k = 1; k < 3; k++) {
				hi = p[k] > hi ? p[k] : hi;
				lo = p[k] < lo ? p[k] : lo;
			}
			*ink += lo < 240;
			*colour += hi - lo > 60;
		}
}

/* Runs headless Chromium on page: its screenshot (shot) or its DOM
 * (shot NULL), all output into log. */
static void chromium(const char *page, const char *shot, const char *log)
{
	char url[700], profile[700], shot_arg[700], prof_arg[720];
	const char *argv[] = {"chromium",
			      "--headless",
			      "--no-sandbox",
			      "--disable-gpu",
			      "--disable-quic",
			      "--no-first-run",
			      "--disable-background-networking",
			      "--disable-component-update",
			      "--disable-sync",
			      "--enable-logging=stderr",
			      prof_arg,
			      "--window-size=1280,2000",
			      shot_arg,
			      url,
			      NULL};
	int got;

	snprintf(profile, sizeof(profile), "%s/profile-%s", test_tmp_dir(),
		 log);
	ASSERT_EQ(mkdir(profile, 0700), 0);
	snprintf(prof_arg, sizeof(prof_arg), "--user-data-dir=%s", profile);
	if (shot)
		snprintf(shot_arg, sizeof(shot_arg), "--screenshot=%s/%s",
			 test_tmp_dir(), shot);
	else
		snprintf(shot_arg, sizeof(shot_arg), "--dump-dom");
	snprintf(url, sizeof(url), "file://%s/%s", test_tmp_dir(), page);
	got = proc_run(argv, log, 60000);
	ASSERT_MSG(got == 0, "chromium exited %d on %s", got, page);
}

/* No script ran into an error: nothing from the page's console. */
static void assert_no_js_errors(const char *log)
{
	size_t len;
	char *text = test_read_file(log, &len);

	ASSERT_MSG(!strstr(text, "Uncaught"), "%s: %s", log,
		   strstr(text, "Uncaught"));
	ASSERT_MSG(!strstr(text, ":CONSOLE("), "%s: %s", log,
		   strstr(text, ":CONSOLE("));
	free(text);
}

static size_t count_of(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, what)); p++)
		n++;
	return n;
}

/* Copies a recorded bundle's summary.json into name/ here. */
static void copy_bundle(const char *name)
{
	char path[700];
	size_t len;
	char *text;

	snprintf(path, sizeof(path),
		 "%s/tests/data/figures/runs/%s/summary.json", test_root_dir(),
		 name);
	text = test_read_file(path, &len);
	ASSERT_EQ(mkdir(name, 0755), 0);
	snprintf(path, sizeof(path), "%s/summary.json", name);
	test_write_file(path, text);
	free(text);
}

/* A page drawn: its chart area (the first chart, x 40-700, y 90-420 of
 * a 1280-wide window) holds series in colour, and the page ink. */
static void assert_drawn(const char *shot, size_t min_colour)
{
	struct png png;
	size_t ink, colour;

	png_read(shot, &png);
	ASSERT_EQ(png.w, 1280);
	png_count(&png, 40, 90, 700, 420, &ink, &colour);
	ASSERT_MSG(ink > 3000 && colour > min_colour,
		   "%s: first chart blank: %zu ink, %zu coloured pixels", shot,
		   ink, colour);
	png_count(&png, 0, 0, png.w, png.h, &ink, &colour);
	ASSERT_MSG(ink > 30000, "%s: %zu ink pixels", shot, ink);
	free(png.px);
}

TEST_TIMEOUT(figures_pages_render_in_chromium, 60)
{
	static const char *const runs[] = {"s0p1", "s1p2-a", "s1p2-b", "s2p2"};
	const char *argv[] = {"orchestrator", "compare",  "s0p1",
			      "s1p2-a",	      "s1p2-b",	  "s2p2",
			      "--html",	      "cmp.html", NULL};
	const char *report[] = {"orchestrator", "report", "s2p2", NULL};
	struct stat st;
	size_t len;
	char *dom;

	if (stat("/usr/bin/chromium", &st) != 0)
		test_skip("no chromium: run scripts/install-deps");
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		copy_bundle(runs[i]);
	ASSERT_EQ(proc_run(argv, "compare.log", 20000), 0);
	ASSERT_EQ(proc_run(report, "report.log", 20000), 0);

	/* The comparison: Figure 7, success, CPU, turnaround, the bars
	 * with the repetitions' whiskers and the lower bound marked. */
	chromium("cmp.html", NULL, "cmp-dom.log");
	dom = test_read_file("cmp-dom.log", &len);
	ASSERT_MSG(count_of(dom, "<svg") == 5, "%zu charts",
		   count_of(dom, "<svg"));
	ASSERT(strstr(dom, "Throughput achieved against offered load"));
	ASSERT(strstr(dom, "Each proxy's CPU against offered load"));
	ASSERT(strstr(dom, "Turnaround p50, p95, p99 against offered load"));
	ASSERT(count_of(dom, "<polyline") >= 4 + 4 + 10 + 12);
	ASSERT_EQ(count_of(dom, "class=\"errorbar\""), 1);
	ASSERT_EQ(count_of(dom, "class=\"lower\""), 1);
	ASSERT(strstr(dom, "≥ 13972"));
	ASSERT_EQ(count_of(dom, "class=\"interfered\""),
		  3 + 3 + 4 * 3 + 3 * 3);
	free(dom);
	assert_no_js_errors("cmp-dom.log");
	chromium("cmp.html", "cmp.png", "cmp-shot.log");
	assert_no_js_errors("cmp-shot.log");
	assert_drawn("cmp.png", 800);

	/* A run's report. */
	chromium("s2p2/report.html", NULL, "rep-dom.log");
	dom = test_read_file("rep-dom.log", &len);
	ASSERT(count_of(dom, "<svg") >= 3);
	ASSERT(strstr(dom, "Interfered: 3 of 14 steps"));
	ASSERT(strstr(dom, "Counts cross-checked against the proxies' own"));
	ASSERT(strstr(dom, "class=\"steps\""));
	/* Each setting once in the setup table. */
	ASSERT_EQ(count_of(dom, ">test</th>"), 1);
	ASSERT_EQ(count_of(dom, ">transport</th>"), 1);
	free(dom);
	assert_no_js_errors("rep-dom.log");
	chromium("s2p2/report.html", "rep.png", "rep-shot.log");
	assert_no_js_errors("rep-shot.log");
	assert_drawn("rep.png", 300);
}
