#include "upload.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "upload"
#include "log.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_curl(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct progress {
	const struct upload_opts *o;
	int last; /* the percentage drawn, -1 before the first */
};

static bool stop_asked(const struct upload_opts *o)
{
	return o->interrupted && *o->interrupted;
}

/* Draws the bar; a non-zero return makes curl abandon the transfer. */
static int progress_bar(void *arg, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	struct progress *pr = arg;
	int pct;

	(void)dltotal;
	(void)dlnow;
	if (stop_asked(pr->o))
		return 1;
	if (!pr->o->progress || ultotal <= 0)
		return 0;
	pct = (int)(ulnow * 100 / ultotal);
	if (pct != pr->last) {
		int bars = pct / 5;

		fprintf(stderr, "\rupload [%-20.*s] %3d%%", bars,
			"####################", pct);
		pr->last = pct;
	}
	return 0;
}

/* One attempt.  *status is the HTTP code, 0 without an answer. */
static CURLcode attempt(const char *file, const struct upload_opts *o,
			const char *token, long *status, char *errbuf)
{
	struct curl_slist *headers = NULL;
	curl_mime *mime = NULL;
	CURL *curl;
	FILE *f = NULL;
	CURLcode rc;
	struct progress pr = {o, -1};
	struct stat st;
	char *url = NULL;
	size_t ulen = strlen(o->url);

	*status = 0;
	curl = curl_easy_init();
	if (!curl)
		return CURLE_OUT_OF_MEMORY;
	/* A directory URL names the file as curl -T does, so that several
	 * bundles sent to one URL do not replace each other. */
	if (!o->post && ulen && o->url[ulen - 1] == '/') {
		const char *base = strrchr(file, '/');
		size_t size;

		base = base ? base + 1 : file;
		size = ulen + strlen(base) + 1;
		url = malloc(size);
		if (!url) {
			curl_easy_cleanup(curl);
			return CURLE_OUT_OF_MEMORY;
		}
		snprintf(url, size, "%s%s", o->url, base);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url ? url : o->url);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	/* A stalled transfer (under 1 byte/s for 30 s) is a failed one. */
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (o->ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, o->ca_file);
	if (token) {
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, token);
	}
	if (o->progress || o->interrupted) {
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_bar);
		curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &pr);
	}
	/* No "Expect: 100-continue" round trip: many servers never answer
	 * it and curl then waits a second before sending the body. */
	headers = curl_slist_append(headers, "Expect:");
	if (o->post) {
		curl_mimepart *part;
		const char *base = strrchr(file, '/');

		mime = curl_mime_init(curl);
		part = curl_mime_addpart(mime);
		curl_mime_name(part, "bundle");
		curl_mime_filedata(part, file);
		curl_mime_filename(part, base ? base + 1 : file);
		curl_mime_type(part, o->content_type ? o->content_type
						     : "application/gzip");
		curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	} else {
		f = fopen(file, "rb");
		if (!f || fstat(fileno(f), &st) < 0) {
			rc = CURLE_READ_ERROR;
			snprintf(errbuf, CURL_ERROR_SIZE, "cannot read %s",
				 file);
			goto out;
		}
		char ctype[128];

		snprintf(ctype, sizeof(ctype), "Content-Type: %s",
			 o->content_type ? o->content_type
					 : "application/gzip");
		headers = curl_slist_append(headers, ctype);
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_READDATA, f);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)st.st_size);
	}
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	if (o->progress && pr.last >= 0)
		fputc('\n', stderr);
out:
	if (f)
		fclose(f);
	free(url);
	curl_slist_free_all(headers);
	curl_mime_free(mime);
	curl_easy_cleanup(curl);
	return rc;
}

int upload_check_url(const char *url, char *why, size_t whysz)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	CURLUcode rc;
	int err = 0;

	if (!u)
		return ENOMEM;
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc) {
		snprintf(why, whysz, "%s: %s", url, curl_url_strerror(rc));
		err = EINVAL;
		goto out;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (!scheme || (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		snprintf(why, whysz, "%s: not an http or https URL", url);
		err = EINVAL;
	} else if (!host || !host[0]) {
		snprintf(why, whysz, "%s: no host", url);
		err = EINVAL;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return err;
}

int upload_file(const char *file, const struct upload_opts *o, char *why,
		size_t whysz)
{
	unsigned tries = o->tries ? o->tries : 4;
	unsigned wait_ms = o->backoff_ms ? o->backoff_ms : 500;
	const char *token = NULL;
	struct stat st;
	int err = EPROTO;

	if (stat(file, &st) < 0) {
		snprintf(why, whysz, "%s: %s", file, strerror(errno));
		return ENOENT;
	}
	if (o->token_env) {
		token = getenv(o->token_env);
		if (!token || !token[0]) {
			snprintf(why, whysz,
				 "the token variable %s is not set",
				 o->token_env);
			return EINVAL;
		}
	}
	pthread_once(&init_once, init_curl);
	for (unsigned i = 0; i < tries; i++) {
		char errbuf[CURL_ERROR_SIZE] = "";
		long status = 0;
		CURLcode rc;

		if (stop_asked(o)) {
			snprintf(why, whysz, "%s: interrupted", o->url);
			return EINTR;
		}
		if (i > 0) {
			struct timespec pause = {wait_ms / 1000,
						 (long)(wait_ms % 1000) *
							 1000000L};

			log_warn("retry %u of %u in %u ms: %s", i + 1, tries,
				 wait_ms, why);
			nanosleep(&pause, NULL);
			wait_ms *= 2;
		}
		rc = attempt(file, o, token, &status, errbuf);
		if (rc == CURLE_OK && status >= 200 && status < 300)
			return 0;
		if (rc == CURLE_ABORTED_BY_CALLBACK || stop_asked(o)) {
			snprintf(why, whysz, "%s: interrupted", o->url);
			return EINTR;
		}
		if (rc != CURLE_OK) {
			snprintf(why, whysz, "%s: %s", o->url,
				 errbuf[0] ? errbuf : curl_easy_strerror(rc));
			err = rc == CURLE_COULDNT_CONNECT      ? ECONNREFUSED
			      : rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT
			      : rc == CURLE_READ_ERROR	       ? ENOENT
							       : EPROTO;
			/* TLS failures do not mend by retrying. */
			if (rc == CURLE_PEER_FAILED_VERIFICATION ||
			    rc == CURLE_SSL_CACERT_BADFILE ||
			    rc == CURLE_READ_ERROR ||
			    rc == CURLE_UNSUPPORTED_PROTOCOL ||
			    rc == CURLE_URL_MALFORMAT)
				return err;
			continue;
		}
		snprintf(why, whysz, "%s answered %ld", o->url, status);
		if (status == 401 || status == 403)
			return EACCES;
		err = EPROTO;
		/* A 4xx will not change on its own; a 5xx may. */
		if (status < 500)
			return err;
	}
	return err;
}
