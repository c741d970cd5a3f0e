/*
 * sl_reflector: the raw limit of a UDP relay on this machine, for
 * tests/bench/proxy_stateless.sh.  No parsing: datagrams from the
 * client side go to the server addresses in turn (as a dispatcher
 * spreads them), datagrams from the servers go back to the last client
 * address, read and written in
 * batches with recvmmsg/sendmmsg.  proxy-stateless's cost per request
 * is reported as a multiple of this one's.
 *
 *	sl_reflector LISTEN_PORT SERVER_PORT [SERVER_PORT2]   (127.0.0.1)
 *
 * Without arguments (make bench runs every built benchmark) it says
 * what it is and exits 0.  SIGTERM ends it.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mmsg_batch.h"

#define BATCH 32
#define MTU 65536

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int udp_bind(uint16_t port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("sl_reflector: bind");
		exit(1);
	}
	return fd;
}

static char bufs[BATCH][MTU];

static struct sockaddr_in servers[2];
static unsigned nservers, turn;

/* Reads a batch from fd and sends it to the servers in turn (to_server)
 * or to *last. */
static void relay(int from, int to, bool to_server, struct sockaddr_in *last)
{
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in src[BATCH];
	int n, i;

	n = mmsg_batch_recv(from, in, iov, src, bufs[0], MTU, BATCH);
	if (n <= 0)
		return;
	memset(out, 0, sizeof(out));
	for (i = 0; i < n; i++) {
		iov[i].iov_len = in[i].msg_len;
		out[i].msg_hdr.msg_iov = &iov[i];
		out[i].msg_hdr.msg_iovlen = 1;
		if (to_server) {
			*last = src[i];
			out[i].msg_hdr.msg_name = &servers[turn++ % nservers];
		} else {
			out[i].msg_hdr.msg_name = last;
		}
		out[i].msg_hdr.msg_namelen = sizeof(*last);
	}
	if (sendmmsg(to, out, (unsigned)n, 0) < 0)
		perror("sl_reflector: sendmmsg");
}

int main(int argc, char **argv)
{
	struct sockaddr_in client = {0};
	unsigned i;
	struct pollfd pfd[2];
	int cfd, sfd;

	if (argc != 3 && argc != 4) {
		printf("sl_reflector: a helper of proxy_stateless.sh "
		       "(usage: sl_reflector LISTEN_PORT SERVER_PORT)\n");
		return 0;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	cfd = udp_bind((uint16_t)strtoul(argv[1], NULL, 10));
	sfd = udp_bind(0);
	for (i = 2; i < (unsigned)argc; i++) {
		struct sockaddr_in *s = &servers[nservers++];

		s->sin_family = AF_INET;
		s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s->sin_port = htons((uint16_t)strtoul(argv[i], NULL, 10));
	}
	pfd[0].fd = cfd;
	pfd[1].fd = sfd;
	pfd[0].events = pfd[1].events = POLLIN;
	while (!stop) {
		if (poll(pfd, 2, 200) <= 0)
			continue;
		if (pfd[0].revents & POLLIN)
			relay(cfd, sfd, true, &client);
		if (pfd[1].revents & POLLIN)
			relay(sfd, cfd, false, &client);
	}
	return 0;
}
