/*
 * res_bundle.h - a run's bundle: its directory (summary.json,
 * steps.csv, samples.csv, report.html) and that directory packed as one
 * archive (dir.tar.gz, beside it, by tar(1)) for upload and keeping.
 */
#ifndef SIPSTONE_RES_BUNDLE_H
#define SIPSTONE_RES_BUNDLE_H

struct res_run;

/*
 * Writes the bundle into dir (created): summary.json, steps.csv,
 * samples.csv, report.html.  Returns 0 or an errno.
 */
int res_write(const struct res_run *run, const char *dir);

/* Packs dir into dir.tar.gz (next to it).  Returns 0 or an errno. */
int res_pack(const char *dir);

#endif
