/*
 * bench_tp - messages per second through sip_tp on one core: one
 * transport sends OPTIONS to another on the same loop over loopback,
 * which receives and decodes them.  UDP, TCP and TLS (the TLS
 * certificate is made with the openssl command; TLS is skipped without
 * it).  Prints one line per transport.
 *
 *	bench_tp [MESSAGES]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "obj.h"
#include "sip_tp.h"

#define IN_FLIGHT 1000 /* sent but not yet received, at most */

static long received;

static void on_rx(const struct sip_tp_rx *rx, void *arg)
{
	(void)rx;
	(void)arg;
	received++;
}

static int run(const char *proto, long total, struct sip_tp_tls *srv_tls,
	       struct sip_tp_tls *cli_tls)
{
	struct ev *ev = NULL;
	struct sip_tp *a = NULL, *b = NULL;
	struct sip_tp_opts oa = {0}, ob = {0};
	struct sip_tp_addr local, dst;
	char spec[64], msg[512];
	long sent = 0;
	uint64_t t0, limit = 30ull * 1000 * EV_NS_PER_MS;
	double secs;
	int len, err;

	len = snprintf(msg, sizeof(msg),
		       "OPTIONS sip:u@example.com SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
		       "Max-Forwards: 70\r\n"
		       "To: <sip:u@example.com>\r\n"
		       "From: <sip:a@example.com>;tag=1\r\n"
		       "Call-ID: c1@example.com\r\n"
		       "CSeq: 1 OPTIONS\r\n"
		       "Content-Length: 0\r\n\r\n");
	oa.tls_client = cli_tls;
	ob.tls_server = srv_tls;
	snprintf(spec, sizeof(spec), "%s:127.0.0.1:0", proto);
	err = ev_alloc(&ev);
	if (!err)
		err = sip_tp_alloc(&a, ev, &oa, on_rx, NULL);
	if (!err)
		err = sip_tp_alloc(&b, ev, &ob, on_rx, NULL);
	if (!err)
		err = sip_tp_addr_decode(&local, NULL, spec);
	if (!err)
		err = sip_tp_listen(b, &local, 0, &dst);
	/* The UDP sender needs a socket of its own to send from. */
	if (!err && local.proto == SIP_TP_UDP)
		err = sip_tp_listen(a, &local, 0, NULL);
	if (err) {
		fprintf(stderr, "bench_tp: %s: set-up: %s\n", proto,
			strerror(err));
		goto out;
	}
	received = 0;
	t0 = ev_monotonic_ns();
	while (received < total && ev_monotonic_ns() - t0 < limit) {
		for (int i = 0;
		     i < 64 && sent < total && sent - received < IN_FLIGHT;
		     i++, sent++)
			(void)sip_tp_send(a, &dst, msg, (size_t)len);
		err = ev_run_once(ev, EV_MS(10));
		if (err)
			goto out;
	}
	secs = (double)(ev_monotonic_ns() - t0) / 1e9;
	printf("%s: %ld messages in %.2f s: %.0f msg/s (drops: parse %llu, "
	       "send %llu)\n",
	       proto, received, secs, (double)received / secs,
	       (unsigned long long)sip_tp_stats(b)->drop_parse,
	       (unsigned long long)sip_tp_stats(a)->drop_send);
	if (received < total)
		err = ETIMEDOUT;
out:
	obj_deref(a);
	obj_deref(b);
	obj_deref(ev);
	return err;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/bench_tp-XXXXXX", cmd[512], cert[64], key[64];
	struct sip_tp_tls *srv_tls = NULL, *cli_tls = NULL;
	struct sip_tp_tls_opts so = {0}, co = {0};
	long total = argc > 1 ? strtol(argv[1], NULL, 10) : 300000;
	int status = 0;

	if (total <= 0)
		total = 300000;
	if (run("udp", total, NULL, NULL) || run("tcp", total, NULL, NULL))
		status = 1;
	if (!mkdtemp(dir)) {
		perror("bench_tp: mkdtemp");
		return 1;
	}
	snprintf(cert, sizeof(cert), "%s/c.pem", dir);
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt "
		 "ec_paramgen_curve:prime256v1 -nodes -days 1 "
		 "-subj /CN=localhost -keyout %s -out %s 2>/dev/null",
		 key, cert);
	if (system(cmd) != 0) {
		printf("tls: skipped (no openssl command)\n");
	} else {
		so.cert_file = cert;
		so.key_file = key;
		co.no_verify = true;
		if (sip_tp_tls_alloc(&srv_tls, false, &so) ||
		    sip_tp_tls_alloc(&cli_tls, true, &co) ||
		    run("tls", total, srv_tls, cli_tls))
			status = 1;
	}
	obj_deref(srv_tls);
	obj_deref(cli_tls);
	unlink(cert);
	unlink(key);
	rmdir(dir);
	return status;
}
