#include "kamailio.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define KAM_MODULES "/usr/lib/x86_64-linux-gnu/kamailio/modules"

static bool on_path(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

bool kamailio_available(bool tls)
{
	if (tls && access(KAM_MODULES "/tls.so", R_OK))
		return false;
	return on_path("kamailio") && on_path("kamcmd") &&
	       !access(KAM_MODULES "/registrar.so", R_OK) &&
	       !access(KAM_MODULES "/ctl.so", R_OK) &&
	       !access(KAM_MODULES "/tmx.so", R_OK) &&
	       !access(KAM_MODULES "/auth_db.so", R_OK) &&
	       !access(KAM_MODULES "/db_text.so", R_OK);
}

bool kamailio_has_module(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s.so", KAM_MODULES, name);
	return on_path("kamailio") && !access(path, R_OK);
}

/*
 * The db_text directory auth_db reads: subscriber with plain passwords
 * (calculate_ha1) and the version table, which auth_db checks at
 * startup (subscriber version 7 in kamailio 5.x).
 */
static void write_users(const struct kamailio_opts *o)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kamdb", test_tmp_dir());
	ASSERT_MSG(!mkdir(path, 0755) || errno == EEXIST, "mkdir %s", path);
	test_write_file("kamdb/version", "table_name(str) table_version(int)\n"
					 "subscriber:7\n");
	snprintf(path, sizeof(path), "%s/kamdb/subscriber", test_tmp_dir());
	f = fopen(path, "w");
	ASSERT_MSG(f, "cannot write %s", path);
	fputs("id(int,auto) username(str) domain(str) password(str) "
	      "ha1(str,null) ha1b(str,null)\n",
	      f);
	for (unsigned n = o->auth_first; n <= o->auth_last; n++)
		fprintf(f, "%u:%s%u:127.0.0.1:pw-%s%u::\n",
			n - o->auth_first + 1, o->auth_prefix, n,
			o->auth_prefix, n);
	ASSERT_MSG(!fclose(f), "cannot write %s", path);
}

/*
 * The tls module's file: our certificate as server; as client none (a
 * callhandler given --tls-ca to verify its registrar still takes
 * callers without one); kamailio verifies no peer's (the test's agents
 * check its instead).
 */
static const char *write_tls_cfg(const struct kamailio_opts *o)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "[server:default]\nmethod = TLSv1.2+\n"
		 "verify_certificate = no\nrequire_certificate = no\n"
		 "certificate = %s\nprivate_key = %s\n\n"
		 "[client:default]\nmethod = TLSv1.2+\n"
		 "verify_certificate = no\nrequire_certificate = no\n",
		 o->tls_cert, o->tls_key);
	return test_write_file("kamtls.cfg", text);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

void kamailio_addr(const struct kamailio *k, const char *tp, char *buf,
		   size_t size)
{
	snprintf(buf, size, "%s:127.0.0.1:%u", tp,
		 !strcmp(tp, "tls") ? k->tls_port : k->port);
}

/* One OPTIONS over UDP: whether anything answered within 100 ms. */
static bool answers(uint16_t port)
{
	static const char opt[] = "OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP "
				  "127.0.0.1:9;branch=z9hG4bKprobe;rport\r\n"
				  "From: <sip:t@127.0.0.1>;tag=1\r\n"
				  "To: <sip:probe@127.0.0.1>\r\n"
				  "Call-ID: probe\r\nCSeq: 1 OPTIONS\r\n"
				  "Max-Forwards: 70\r\nContent-Length: "
				  "0\r\n\r\n";
	char buf[2048];
	int fd = proc_udp_to(port, 100);
	ssize_t got;

	if (send(fd, opt, sizeof(opt) - 1, 0) < 0)
		got = -1;
	else
		got = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	return got > 0;
}

void kamailio_start(struct kamailio *k, uint16_t port,
		    const struct kamailio_opts *opts)
{
	static const struct kamailio_opts none;
	const struct kamailio_opts *o = opts ? opts : &none;
	char cfg[512], udp[64], tcp[64], tls[64], ctl_def[400], db_def[400];
	char tls_def[400], shm[16], pkg[16];
	struct proc_argv argv = {.n = 0};
	struct timespec t0;
	json_t *st;

	memset(k, 0, sizeof(*k));
	k->port = port;
	/* A short path: a unix socket's is at most 107 bytes. */
	snprintf(k->ctl, sizeof(k->ctl), "unix:%s/kamctl", test_tmp_dir());
	ASSERT_MSG(strlen(k->ctl) < 100, "ctl path too long: %s", k->ctl);
	snprintf(cfg, sizeof(cfg), "%s/tests/kamailio/%s", test_root_dir(),
		 o->cfg ? o->cfg : "registrar.cfg");
	snprintf(udp, sizeof(udp), "udp:127.0.0.1:%u", port);
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%u", port);
	if (o->tls_cert)
		k->tls_port = proc_free_port();
	snprintf(tls, sizeof(tls), "tls:127.0.0.1:%u", k->tls_port);
	snprintf(ctl_def, sizeof(ctl_def), "CTL_SOCKET=\"%s\"", k->ctl);
	proc_argv_add(&argv, "kamailio", "-f", cfg, "-L", KAM_MODULES, "-DD",
		      "-E", "-l", udp, NULL);
	if (o->tcp)
		proc_argv_add(&argv, "-l", tcp, NULL);
	if (!o->no_ctl)
		proc_argv_add(&argv, "-A", ctl_def, NULL);
	if (o->auth_register || o->auth_invite) {
		ASSERT_MSG(o->auth_prefix, "auth without users");
		write_users(o);
		snprintf(db_def, sizeof(db_def), "DB_URL=\"text://%s/kamdb\"",
			 test_tmp_dir());
		proc_argv_add(&argv, "-A", db_def, NULL);
	}
	if (o->auth_register)
		proc_argv_add(&argv, "-A", "WITH_AUTH", NULL);
	if (o->auth_invite)
		proc_argv_add(&argv, "-A", "WITH_INVITE_AUTH", NULL);
	if (o->tls_cert) {
		snprintf(tls_def, sizeof(tls_def), "TLS_CFG=\"%s\"",
			 write_tls_cfg(o));
		proc_argv_add(&argv, "-l", tls, "-A", "WITH_TLS", "-A",
			      tls_def, NULL);
	}
	for (size_t i = 0; o->defines && o->defines[i]; i++)
		proc_argv_add(&argv, "-A", o->defines[i], NULL);
	snprintf(shm, sizeof(shm), "%u", o->shm_mb ? o->shm_mb : 32);
	snprintf(pkg, sizeof(pkg), "%u", o->pkg_mb ? o->pkg_mb : 4);
	proc_argv_add(&argv, "-m", shm, "-M", pkg, "-Y", test_tmp_dir(), NULL);
	proc_start(&k->proc, argv.v);
	/*
	 * Ready when it answers an OPTIONS over UDP (bounded: 5 s).  A
	 * TCP port that accepts is not enough: a connection made while
	 * its TCP processes are still starting may never be served.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 5000) {
		if (answers(port)) {
			usleep(200000); /* the TCP processes, likewise */
			if (!o->no_ctl) {
				st = kamailio_stats(k);
				json_decref(st);
			}
			return;
		}
		if (proc_exited(&k->proc))
			break;
		usleep(20000); /* a refused probe returns at once */
	}
	proc_dump_log(&k->proc);
	ASSERT_MSG(0, "kamailio did not start (see kamailio.log)");
}

/*
 * Runs "kamcmd -s CTL rpc" and adds what it printed to o: "name = value"
 * lines (stats.get_statistics) as they are, the members of a struct
 * ("{", "\tname: value", "}": sl.stats, tm.stats) as "<rpc>:name".
 */
static void kamcmd_into(struct kamailio *k, const char *rpc, json_t *o)
{
	const char *argv[] = {"kamcmd", "-s", k->ctl, rpc, NULL, NULL};
	char path[512], key[128], *text, *line, *save = NULL;
	size_t len;
	int rc;

	if (!strcmp(rpc, "stats.get_statistics"))
		argv[4] = "all";
	snprintf(path, sizeof(path), "%s/kamcmd.log", test_tmp_dir());
	unlink(path); /* proc_run appends */
	rc = proc_run(argv, "kamcmd.log", 5000);
	text = test_read_file(path, &len);
	ASSERT_MSG(rc == 0, "kamcmd %s exited %d: %.300s", rpc, rc, text);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(line, " = "), *val, *end;
		long long v;

		if (sep) {
			val = sep + 3;
			snprintf(key, sizeof(key), "%.*s", (int)(sep - line),
				 line);
		} else if ((sep = strstr(line, ": ")) != NULL) {
			val = sep + 2;
			line += strspn(line, "\t ");
			snprintf(key, sizeof(key), "%s:%.*s", rpc,
				 (int)(sep - line), line);
		} else {
			continue;
		}
		errno = 0;
		v = strtoll(val, &end, 10);
		if (errno || end == val || *end)
			continue;
		ASSERT(!json_object_set_new(o, key, json_integer(v)));
	}
	free(text);
}

json_t *kamailio_stats(struct kamailio *k)
{
	json_t *o = json_object();

	ASSERT(o);
	kamcmd_into(k, "stats.get_statistics", o);
	kamcmd_into(k, "sl.stats", o);
	kamcmd_into(k, "tm.stats", o);
	ASSERT_MSG(json_object_get(o, "core:rcv_requests") &&
			   json_object_get(o, "sl.stats:200") &&
			   json_object_get(o, "tm.stats:total"),
		   "kamcmd printed no counters");
	/* The sl and tmx groups of stats.get_statistics are sums cached
	 * for a second or two (kamailio's sl_stats.c, tmx_mod.c): a read
	 * right after the traffic may miss its end.  sl.stats and tm.stats
	 * sum the processes' counters at each call. */
	{
		const char *name;
		json_t *v;
		void *tmp;

		json_object_foreach_safe(o, tmp, name, v)
		{
			if (!strncmp(name, "sl:", 3) ||
			    !strncmp(name, "tmx:", 4))
				json_object_del(o, name);
		}
	}
	return o;
}

/* Gauges move on their own (memory, transactions freed on their wait
 * timer, connections closing): not counts of what the test sent. */
static bool is_gauge(const char *name)
{
	return !strncmp(name, "shmem:", 6) || strstr(name, ":current_") ||
	       !strcmp(name, "tm.stats:current") ||
	       !strcmp(name, "tm.stats:waiting") ||
	       !strcmp(name, "tm.stats:freed") ||
	       !strcmp(name, "tm.stats:delayed_free");
}

static bool counts_equal(json_t *a, json_t *b)
{
	const char *name;
	json_t *v;

	if (json_object_size(a) != json_object_size(b))
		return false;
	json_object_foreach(a, name, v)
	{
		if (!is_gauge(name) &&
		    !json_equal(v, json_object_get(b, name)))
			return false;
	}
	return true;
}

json_t *kamailio_stats_settled(struct kamailio *k)
{
	json_t *prev = kamailio_stats(k), *cur;

	for (int i = 0; i < 50; i++) {
		usleep(100000);
		cur = kamailio_stats(k);
		if (counts_equal(prev, cur)) {
			json_decref(prev);
			return cur;
		}
		json_decref(prev);
		prev = cur;
	}
	json_decref(prev);
	ASSERT_MSG(0, "kamailio's counters kept moving for 5 s");
	return NULL;
}

long long kamailio_stat_diff(json_t *after, json_t *before, const char *name)
{
	json_t *a = json_object_get(after, name);
	json_t *b = json_object_get(before, name);

	ASSERT_MSG(json_is_integer(a) && json_is_integer(b),
		   "kamailio has no counter %s", name);
	return json_integer_value(a) - json_integer_value(b);
}

void kamailio_stop(struct kamailio *k)
{
	proc_signal(&k->proc, SIGTERM);
	proc_stop(&k->proc, 3000);
}
