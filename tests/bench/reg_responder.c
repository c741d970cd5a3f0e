/*
 * reg_responder: a fast UDP registrar and callee stand-in for the
 * generator benchmarks (bench_loader.py, bench_loader_invite.py), so
 * that the responder is not what limits the highest rate.  Every
 * request read is answered 200 OK, built by libsip from the request's
 * own Via, From, To (a tag added), Call-ID and CSeq: a REGISTER with
 * its Contact echoed and ";expires=3600"; an INVITE with a 180 first
 * (the same To tag) and a Contact of ours in the 200, so that the
 * caller's ACK and BYE come back here; an ACK is not answered
 * (§17.1.1.3).  Datagrams are read and written in batches (recvmmsg and
 * sendmmsg), one thread, no state.
 *
 *	reg_responder PORT [SECONDS]   (on 127.0.0.1; SIGTERM ends it)
 *
 * At the end it prints "answered N bad M" on stdout (N: the requests
 * taken, ACKs included; M: datagrams that were no request).  Without
 * arguments (make bench runs every built benchmark) it says what it is
 * and exits 0.
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
#include "mmsg_batch.h"
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

#define OUT_SIZE 2048

static char in[BATCH][MTU];
static char out[2 * BATCH][OUT_SIZE];

/*
 * The answer with status to the request m into o, with tag as the To
 * tag; its length, or 0 when it did not fit.
 */
static size_t answer(const struct sip_msg *m, uint16_t status, const char *tag,
		     const char *contact, char *o, size_t osize)
{
	struct sip_build_resp_opts opts;
	const struct sip_hdr *ct;
	char hdrs[600];
	struct buf b;
	size_t l = 0;

	memset(&opts, 0, sizeof(opts));
	pl_set_str(&opts.to_tag, tag);
	ct = sip_msg_hdr(m, SIP_HDR_CONTACT);
	if (ct && m->method_id == SIP_METHOD_REGISTER) {
		int k = snprintf(hdrs, sizeof(hdrs),
				 "Contact: %.*s;expires=3600\r\n",
				 PL_FMT(&ct->value));

		if (k > 0 && (size_t)k < sizeof(hdrs))
			pl_set_str(&opts.hdrs, hdrs);
	} else if (m->method_id == SIP_METHOD_INVITE && status == 200) {
		pl_set_str(&opts.hdrs, contact);
	}
	buf_init(&b, osize);
	if (!sip_build_response(&b, m, status, NULL, &opts) &&
	    b.len <= osize) {
		memcpy(o, b.data, b.len);
		l = b.len;
	}
	buf_free(&b);
	return l;
}

/*
 * The answers to one datagram into o[0] and o[1] (lengths in len[]):
 * how many (0 for an ACK), or -1 for a datagram that is no request.
 */
static int answers(const char *p, size_t plen, char o[2][OUT_SIZE],
		   size_t len[2], unsigned long n, const char *contact)
{
	struct sip_msg m;
	char tag[24];
	int k = 0;

	if (sip_msg_decode(&m, p, plen, false) || !m.is_request)
		return -1;
	if (m.method_id == SIP_METHOD_ACK)
		return 0;
	snprintf(tag, sizeof(tag), "r%lx", n);
	if (m.method_id == SIP_METHOD_INVITE) {
		len[k] = answer(&m, 180, tag, contact, o[k], OUT_SIZE);
		if (!len[k])
			return -1;
		k++;
	}
	len[k] = answer(&m, 200, tag, contact, o[k], OUT_SIZE);
	if (!len[k])
		return -1;
	return k + 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {0}, src[BATCH];
	struct mmsghdr min[BATCH], mout[2 * BATCH];
	struct iovec iin[BATCH], iout[2 * BATCH];
	unsigned long answered = 0, bad = 0;
	char contact[80];
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
	snprintf(contact, sizeof(contact),
		 "Contact: <sip:responder@127.0.0.1:%s>\r\n", argv[1]);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!stop && (!end || time(NULL) < end)) {
		int n, i, k = 0;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = mmsg_batch_recv(fd, min, iin, src, in[0], MTU, BATCH);
		if (n <= 0)
			continue;
		memset(mout, 0, sizeof(mout));
		for (i = 0; i < n; i++) {
			size_t len[2];
			int got = answers(in[i], min[i].msg_len, &out[k], len,
					  answered + bad, contact),
			    j;

			if (got < 0) {
				bad++;
				continue;
			}
			for (j = 0; j < got; j++, k++) {
				iout[k].iov_base = out[k];
				iout[k].iov_len = len[j];
				mout[k].msg_hdr.msg_iov = &iout[k];
				mout[k].msg_hdr.msg_iovlen = 1;
				mout[k].msg_hdr.msg_name = &src[i];
				mout[k].msg_hdr.msg_namelen = sizeof(src[i]);
			}
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
