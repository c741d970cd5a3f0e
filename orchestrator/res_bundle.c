#include "res_bundle.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "res_report.h"
#include "res_verdict.h"
#include "results.h"

/* ---- CSV ---------------------------------------------------------- */

static void csv_opt(FILE *f, double v)
{
	if (v >= 0 && !isnan(v))
		fprintf(f, ",%.3f", v);
	else
		fputs(",", f);
}

static void write_steps_csv(const struct res_run *run, FILE *f)
{
	fputs("step,offered,achieved,attempts,successes,failures,timeouts,"
	      "retransmissions,success_pct,ta_avg_ms,p50_ms,p90_ms,p95_ms,"
	      "p99_ms,max_ms,rrd_ms,ira_pct,srd_ms,sdd_ms,ser_pct,seer_pct,"
	      "isa_pct,scr_pct,generator_bound,passed,phase",
	      f);
	for (size_t i = 0; i < run->nproxies; i++)
		fprintf(f, ",%s_cpu_pct,%s_rss_mb,%s_share_pct",
			run->proxy_names[i], run->proxy_names[i],
			run->proxy_names[i]);
	/* presence tests' columns, presence runs only, last: the
	 * others keep their places */
	if (res_is_presence(run))
		fputs(",notifies,notify_per_s,notify_per_req,notify_p50_ms,"
		      "notify_p95_ms,notify_p99_ms,server_notify_per_s,"
		      "aggregate_per_s",
		      f);
	/* the step counts' and the machines' columns (issue 13), last:
	 * the others keep their places */
	fputs(",in_flight,machine_busy_pct,machine_steal_pct,"
	      "machine_iowait_pct,machine_others_pct,interfered\n",
	      f);
	for (size_t i = 0; i < run->nsteps; i++) {
		const struct res_step *s = &run->steps[i];

		fprintf(f,
			"%u,%.1f,%.1f,%llu,%llu,%llu,%llu,%llu,%.3f,%.3f,%.3f,"
			"%.3f,%.3f,%.3f,%.3f",
			s->index, s->offered, s->achieved,
			(unsigned long long)s->attempts,
			(unsigned long long)s->successes,
			(unsigned long long)s->failures,
			(unsigned long long)s->timeouts,
			(unsigned long long)s->retransmissions, s->success_pct,
			s->ta_avg_ms, s->p50_ms, s->p90_ms, s->p95_ms,
			s->p99_ms, s->max_ms);
		csv_opt(f, s->rrd_ms);
		csv_opt(f, s->ira_pct);
		csv_opt(f, s->srd_ms);
		csv_opt(f, s->sdd_ms);
		csv_opt(f, s->ser_pct);
		csv_opt(f, s->seer_pct);
		csv_opt(f, s->isa_pct);
		csv_opt(f, s->scr_pct);
		fprintf(f, ",%d,%d,%s", s->generator_bound, s->passed,
			s->phase[0] ? s->phase : "ramp");
		for (size_t k = 0; k < run->nproxies; k++) {
			fprintf(f, ",%.1f,%.1f", s->proxy[k].cpu * 100,
				s->proxy[k].rss_mb);
			csv_opt(f, s->proxy[k].share < 0
					   ? -1
					   : s->proxy[k].share * 100);
		}
		if (res_is_presence(run) && s->notify_per_s >= 0) {
			fprintf(f, ",%llu", (unsigned long long)s->notifies);
			csv_opt(f, s->notify_per_s);
			csv_opt(f, s->notify_per_req);
			csv_opt(f, s->notify_p50_ms);
			csv_opt(f, s->notify_p95_ms);
			csv_opt(f, s->notify_p99_ms);
			csv_opt(f, s->server_notify_per_s);
			csv_opt(f, s->achieved + s->notify_per_s);
		} else if (res_is_presence(run)) {
			fputs(",,,,,,,,", f);
		}
		fprintf(f, ",%llu", (unsigned long long)s->in_flight);
		csv_opt(f, s->mach_busy < 0 ? -1 : s->mach_busy * 100);
		csv_opt(f, s->mach_steal < 0 ? -1 : s->mach_steal * 100);
		csv_opt(f, s->mach_iowait < 0 ? -1 : s->mach_iowait * 100);
		csv_opt(f, s->mach_others < 0 ? -1 : s->mach_others * 100);
		fprintf(f, ",%d\n", s->interfered);
	}
}

static void write_samples_csv(const struct res_run *run, FILE *f)
{
	fputs("t_s,step,offered,achieved,success_pct,p95_ms", f);
	for (size_t i = 0; i < run->nproxies; i++)
		fprintf(f, ",%s_cpu_pct,%s_rss_mb,%s_threads_cpu_pct",
			run->proxy_names[i], run->proxy_names[i],
			run->proxy_names[i]);
	fputs(",db_questions_per_s,db_threads_connected\n", f);
	for (size_t i = 0; i < run->nsamples; i++) {
		const struct res_sample *s = &run->samples[i];

		fprintf(f, "%.1f,%u,%.1f,%.1f,%.3f,%.3f", s->t_s, s->step,
			s->offered, s->achieved, s->success_pct, s->p95_ms);
		for (size_t k = 0; k < run->nproxies; k++) {
			fprintf(f, ",%.1f,%.1f,", s->proxy[k].cpu * 100,
				s->proxy[k].rss_mb);
			/* One field: each thread's %, space-separated. */
			for (unsigned t = 0; t < s->proxy[k].nthreads; t++)
				fprintf(f, "%s%.1f", t ? " " : "",
					s->proxy[k].thread_cpu[t] * 100);
		}
		csv_opt(f, s->db_qps);
		csv_opt(f, s->db_threads);
		fputc('\n', f);
	}
}

/* ---- the bundle ---------------------------------------------------- */

static int write_with(const char *dir, const char *name,
		      int (*fn)(const struct res_run *, FILE *),
		      const struct res_run *run)
{
	char path[1024];
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return errno;
	err = fn(run, f);
	if (fclose(f) != 0 && !err)
		err = errno;
	return err;
}

static int steps_csv(const struct res_run *run, FILE *f)
{
	write_steps_csv(run, f);
	return ferror(f) ? EIO : 0;
}

static int samples_csv(const struct res_run *run, FILE *f)
{
	write_samples_csv(run, f);
	return ferror(f) ? EIO : 0;
}

static int summary(const struct res_run *run, FILE *f)
{
	json_t *j = res_run_json(run);
	int rc;

	if (!j)
		return ENOMEM;
	res_verdict_json(run, j);
	rc = json_dumpf(j, f, JSON_INDENT(1));
	fputc('\n', f);
	json_decref(j);
	return rc ? EIO : 0;
}

int res_write(const struct res_run *run, const char *dir)
{
	int err;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return errno;
	err = write_with(dir, "summary.json", summary, run);
	if (!err)
		err = write_with(dir, "steps.csv", steps_csv, run);
	if (!err)
		err = write_with(dir, "samples.csv", samples_csv, run);
	if (!err)
		err = write_with(dir, "report.html", res_report_html, run);
	return err;
}

int res_pack(const char *dir)
{
	char parent[1024], archive[1100];
	const char *base;
	pid_t pid;
	int status;

	snprintf(parent, sizeof(parent), "%s", dir);
	base = strrchr(parent, '/');
	if (base) {
		parent[base - parent] = '\0';
		base = dir + (base - parent) + 1;
		if (!parent[0])
			snprintf(parent, sizeof(parent), "/");
	} else {
		snprintf(parent, sizeof(parent), ".");
		base = dir;
	}
	snprintf(archive, sizeof(archive), "%s.tar.gz", dir);
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		execlp("tar", "tar", "-C", parent, "-czf", archive, base,
		       (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EIO;
}