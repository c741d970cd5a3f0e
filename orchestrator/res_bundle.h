/*
 * res_bundle.h - a run's bundle directory packed as one archive
 * (dir.tar.gz, beside it, by tar(1)) for upload and keeping.
 */
#ifndef SIPSTONE_RES_BUNDLE_H
#define SIPSTONE_RES_BUNDLE_H

/* Packs dir into dir.tar.gz (next to it).  Returns 0 or an errno. */
int res_pack(const char *dir);

#endif
