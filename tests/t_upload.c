/* Tests for bundle upload (libcurl) against a real local HTTP server. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"
#include "res_bundle.h"
#include "results.h"
#include "test.h"
#include "upload.h"

struct sink {
	struct proc p;
	uint16_t port;
	char url[128];
};

static void sink_start(struct sink *s, int fail_first, const char *token)
{
	char script[600], port[8], fails[8];
	const char *argv[] = {"python3", script, port, test_tmp_dir(),
			      fails,	 token,	 NULL};

	snprintf(script, sizeof(script), "%s/tests/data/http_sink.py",
		 test_root_dir());
	s->port = proc_free_port();
	snprintf(port, sizeof(port), "%u", s->port);
	snprintf(fails, sizeof(fails), "%d", fail_first);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u/bundles/x",
		 s->port);
	proc_start(&s->p, argv);
	for (int i = 0; i < 300; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_port = htons(s->port)};
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		bool up;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (up)
			return;
		usleep(20000);
	}
	proc_dump_log(&s->p);
	test_fail(__FILE__, __LINE__, "the HTTP sink did not start");
}

static void sink_stop(struct sink *s)
{
	proc_stop(&s->p, 100);
}

static const char *make_file(const char *name, size_t size)
{
	static char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", test_tmp_dir(), name);
	f = fopen(path, "wb");
	ASSERT(f);
	for (size_t i = 0; i < size; i++)
		fputc((int)((i * 31) & 0xff), f);
	fclose(f);
	return path;
}

static size_t count_requests(void)
{
	size_t len, n = 0;
	char *log = test_read_file("requests.log", &len);

	for (size_t i = 0; i < len; i++)
		n += log[i] == '\n';
	free(log);
	return n;
}

TEST_TIMEOUT(upload_put_with_bearer_token, 20)
{
	struct upload_opts o = {0};
	char why[512] = "";
	const char *file = make_file("b.tar.gz", 200000);
	size_t a_len, b_len;
	char *a, *b, *log;
	struct sink s;

	sink_start(&s, 0, "s3cret");
	setenv("TEST_UPLOAD_TOKEN", "s3cret", 1);
	o.url = s.url;
	o.token_env = "TEST_UPLOAD_TOKEN";
	ASSERT_MSG(upload_file(file, &o, why, sizeof(why)) == 0, "%s", why);
	a = test_read_file(file, &a_len);
	b = test_read_file("1.put.body", &b_len);
	ASSERT_EQ(a_len, b_len);
	ASSERT(memcmp(a, b, a_len) == 0);
	log = test_read_file("requests.log", &a_len);
	ASSERT(strstr(log, "put /bundles/x Bearer s3cret 200000"));
	free(a);
	free(b);
	free(log);
	sink_stop(&s);
}

TEST_TIMEOUT(upload_retries_5xx_with_backoff, 20)
{
	struct upload_opts o = {0};
	char why[512] = "";
	const char *file = make_file("b.tar.gz", 1000);
	struct sink s;

	sink_start(&s, 2, NULL);
	o.url = s.url;
	o.backoff_ms = 50;
	ASSERT_MSG(upload_file(file, &o, why, sizeof(why)) == 0, "%s", why);
	ASSERT_EQ(count_requests(), 3);
	sink_stop(&s);

	/* More failures than tries: the last answer is said. */
	sink_start(&s, 5, NULL);
	o.url = s.url;
	o.tries = 2;
	ASSERT_EQ(upload_file(file, &o, why, sizeof(why)), EPROTO);
	ASSERT_MSG(strstr(why, "answered 503"), "%s", why);
	sink_stop(&s);
}

TEST_TIMEOUT(upload_refused_token_is_not_retried_nor_shown, 20)
{
	struct upload_opts o = {0};
	char why[512] = "";
	const char *file = make_file("b.tar.gz", 1000);
	struct sink s;

	sink_start(&s, 0, "right");
	setenv("TEST_UPLOAD_TOKEN", "wrong-token-value", 1);
	o.url = s.url;
	o.token_env = "TEST_UPLOAD_TOKEN";
	o.backoff_ms = 50;
	ASSERT_EQ(upload_file(file, &o, why, sizeof(why)), EACCES);
	ASSERT_MSG(strstr(why, "answered 401"), "%s", why);
	ASSERT(!strstr(why, "wrong-token-value"));
	ASSERT_EQ(count_requests(), 1);
	/* An unset variable is said before anything is sent. */
	o.token_env = "TEST_UPLOAD_TOKEN_UNSET";
	ASSERT_EQ(upload_file(file, &o, why, sizeof(why)), EINVAL);
	ASSERT(strstr(why, "TEST_UPLOAD_TOKEN_UNSET is not set"));
	sink_stop(&s);
}

TEST_TIMEOUT(upload_multipart_post_and_unreachable_server, 20)
{
	struct upload_opts o = {0};
	char why[512] = "", url[64];
	const char *file = make_file("run-7.tar.gz", 5000);
	size_t len;
	char *body;
	struct sink s;

	sink_start(&s, 0, NULL);
	o.url = s.url;
	o.post = true;
	ASSERT_MSG(upload_file(file, &o, why, sizeof(why)) == 0, "%s", why);
	body = test_read_file("1.post.body", &len);
	ASSERT(len > 5000);
	ASSERT(strstr(body, "name=\"bundle\"; filename=\"run-7.tar.gz\""));
	ASSERT(strstr(body, "Content-Type: application/gzip"));
	free(body);
	sink_stop(&s);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", proc_free_port());
	o.url = url;
	o.tries = 2;
	o.backoff_ms = 10;
	ASSERT_EQ(upload_file(file, &o, why, sizeof(why)), ECONNREFUSED);
	ASSERT_EQ(upload_file("/nonexistent.tar.gz", &o, why, sizeof(why)),
		  ENOENT);
}

TEST_TIMEOUT(upload_command_packs_and_sends_a_bundle, 20)
{
	char dir[600], archive[700];
	const char *argv[] = {"orchestrator", "upload", dir,
			      "--url",	      NULL,	NULL};
	struct res_run run = {0};
	size_t a_len, b_len;
	char *a, *b;
	struct sink s;

	snprintf(dir, sizeof(dir), "%s/run-9", test_tmp_dir());
	snprintf(run.id, sizeof(run.id), "run-9");
	snprintf(run.status, sizeof(run.status), "complete");
	ASSERT_EQ(res_write(&run, dir), 0);
	sink_start(&s, 0, NULL);
	argv[4] = s.url;
	ASSERT_EQ(proc_run(argv, "upload.log", 15000), 0);
	snprintf(archive, sizeof(archive), "%s.tar.gz", dir);
	a = test_read_file(archive, &a_len);
	b = test_read_file("1.put.body", &b_len);
	ASSERT_EQ(a_len, b_len);
	ASSERT(memcmp(a, b, a_len) == 0);
	free(a);
	free(b);
	sink_stop(&s);
}

TEST_TIMEOUT(upload_to_a_directory_url_names_the_file, 20)
{
	struct upload_opts o = {0};
	char why[512] = "", url[160];
	const char *file = make_file("run-5.tar.gz", 3000);
	volatile sig_atomic_t stop = 0;
	size_t len;
	char *log;
	struct sink s;

	sink_start(&s, 0, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/bundles/", s.port);
	o.url = url;
	o.interrupted = &stop;
	ASSERT_MSG(upload_file(file, &o, why, sizeof(why)) == 0, "%s", why);
	o.content_type = "text/html";
	file = make_file("compare-1.html", 100);
	ASSERT_MSG(upload_file(file, &o, why, sizeof(why)) == 0, "%s", why);
	log = test_read_file("requests.log", &len);
	ASSERT_MSG(strstr(log, "put /bundles/run-5.tar.gz - 3000\n") &&
			   strstr(log, "put /bundles/compare-1.html - 100\n"),
		   "%s", log);
	free(log);
	/* Once interrupted, nothing more is sent. */
	stop = 1;
	ASSERT_EQ(upload_file(file, &o, why, sizeof(why)), EINTR);
	ASSERT_MSG(strstr(why, "interrupted"), "%s", why);
	ASSERT_EQ(count_requests(), 2);
	sink_stop(&s);
}
