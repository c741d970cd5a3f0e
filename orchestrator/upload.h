/*
 * upload.h - sends a packed result bundle (.tar.gz) to a URL with
 * libcurl: HTTP PUT of the file, or POST as multipart/form-data (field
 * "bundle"), with a bearer token from an environment variable, TLS
 * verified (optionally against a given CA file), and retries with
 * exponential backoff on connection failures and 5xx answers.
 */
#ifndef SIPSTONE_UPLOAD_H
#define SIPSTONE_UPLOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct upload_opts {
	/* ending in '/': a PUT goes to URL + the file's name (curl -T) */
	const char *url;
	bool post;		  /* multipart POST instead of PUT */
	const char *token_env;	  /* variable holding the token, or NULL */
	const char *ca_file;	  /* extra CA for TLS, or NULL */
	unsigned tries;		  /* 0 = 4 */
	unsigned backoff_ms;	  /* first wait; doubles; 0 = 500 */
	bool progress;		  /* a progress bar on stderr */
	const char *content_type; /* NULL = application/gzip */
	/* Set by a signal handler: stop the transfer and the retries. */
	volatile sig_atomic_t *interrupted;
};

/*
 * Whether url is one upload_file can use (http or https, with a host),
 * checked before any run so that a typo does not wait for the end of
 * one.  Returns 0, or EINVAL with why.
 */
int upload_check_url(const char *url, char *why, size_t whysz);

/*
 * Uploads file.  Returns 0 when the server answered 2xx, otherwise an
 * errno (ECONNREFUSED, ETIMEDOUT, EACCES for 401/403, EPROTO for other
 * answers, ENOENT for a missing file, EINTR when interrupted) with why saying what happened on
 * the last try (the token itself is never written anywhere).
 */
int upload_file(const char *file, const struct upload_opts *o, char *why,
		size_t whysz);

#endif
