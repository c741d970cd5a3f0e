/*
 * reg_responder: a fast UDP registrar stand-in for the generator
 * benchmarks (bench_loader.py), so that the responder is not what
 * limits the highest rate.  Every request read is answered 200 OK,
 * built by libsip from the request's own Via, From, To (a tag added),
 * Call-ID and CSeq, with its Contact echoed and ";expires=3600" for a
 * REGISTER; datagrams are read and written in batches (recvmmsg and
 * sendmmsg), one thread, no state.
 *
 *	reg_responder PORT [SECONDS]   (on 127.0.0.1; SIGTERM ends it)
 *
 * At the end it prints "answered N bad M" on stdout.  Without arguments
 * (make bench runs every built benchmark) it says what it is and exits 0.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "sip_build.h"
#include "sip_msg.h"

#define BATCH 64
#define MTU 65536

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static char in[BATCH][MTU];
static char out[BATCH][2048];

/* The 200 of one request into o; its length, or 0 to send nothing. */
static size_t answer(const char *p, size_t len, char *o, size_t osize,
		     unsigned long n)
{
	struct sip_msg m;
	struct sip_build_resp_opts opts;
	const struct sip_hdr *ct;
	char tag[24], hdrs[600];
	struct buf b;
	size_t l = 0;

	if (sip_msg_decode(&m, p, len, false) || !m.is_request)
		return 0;
	memset(&opts, 0, sizeof(opts));
	snprintf(tag, sizeof(tag), "r%lx", n);
	pl_set_str(&opts.to_tag, tag);
	ct = sip_msg_hdr(&m, SIP_HDR_CONTACT);
	if (ct && pl_eq_str(&m.method, "REGISTER")) {
		int k = snprintf(hdrs, sizeof(hdrs),
				 "Contact: %.*s;expires=3600\r\n",
				 PL_FMT(&ct->value));

		if (k > 0 && (size_t)k < sizeof(hdrs)) {
			opts.hdrs.p = hdrs;
			opts.hdrs.l = (size_t)k;
		}
	}
	buf_init(&b, osize);
	if (!sip_build_response(&b, &m, 200, NULL, &opts) && b.len <= osize) {
		memcpy(o, b.data, b.len);
		l = b.len;
	}
	buf_free(&b);
	return l;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {0}, src[BATCH];
	struct mmsghdr min[BATCH], mout[BATCH];
	struct iovec iin[BATCH], iout[BATCH];
	unsigned long answered = 0, bad = 0;
	struct pollfd pfd;
	time_t end = 0;
	int fd, one = 1 << 22;

	if (argc != 2 && argc != 3) {
		printf("reg_responder: a helper of bench_loader.py "
		       "(usage: reg_responder PORT [SECONDS])\n");
		return 0;
	}
	if (argc == 3)
		end = time(NULL) + strtol(argv[2], NULL, 10);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)strtoul(argv[1], NULL, 10));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("reg_responder: bind");
		return 1;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!stop && (!end || time(NULL) < end)) {
		int n, i, k = 0;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		memset(min, 0, sizeof(min));
		for (i = 0; i < BATCH; i++) {
			iin[i].iov_base = in[i];
			iin[i].iov_len = MTU;
			min[i].msg_hdr.msg_iov = &iin[i];
			min[i].msg_hdr.msg_iovlen = 1;
			min[i].msg_hdr.msg_name = &src[i];
			min[i].msg_hdr.msg_namelen = sizeof(src[i]);
		}
		n = recvmmsg(fd, min, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		memset(mout, 0, sizeof(mout));
		for (i = 0; i < n; i++) {
			size_t l = answer(in[i], min[i].msg_len, out[k],
					  sizeof(out[k]), answered + bad);

			if (!l) {
				bad++;
				continue;
			}
			iout[k].iov_base = out[k];
			iout[k].iov_len = l;
			mout[k].msg_hdr.msg_iov = &iout[k];
			mout[k].msg_hdr.msg_iovlen = 1;
			mout[k].msg_hdr.msg_name = &src[i];
			mout[k].msg_hdr.msg_namelen = sizeof(src[i]);
			k++;
			answered++;
		}
		for (i = 0; i < k;) {
			int s = sendmmsg(fd, mout + i, (unsigned)(k - i), 0);

			if (s < 0) {
				perror("reg_responder: sendmmsg");
				break;
			}
			i += s;
		}
	}
	printf("answered %lu bad %lu\n", answered, bad);
	return 0;
}
