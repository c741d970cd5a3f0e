/*
 * raw_uac: the floor of a UDP REGISTER generator on this machine, for
 * bench_loader.py.  No SIP stack: a fixed REGISTER with a counter
 * written into its branch, tag and Call-ID; every 1 ms tick the
 * requests due are sent with one sendmmsg and the answers read with
 * recvmmsg (as the loader's coalesced loop does), and a datagram
 * starting "SIP/2.0 200" counts as an answer.  What it costs per
 * transaction is the kernel's part, which no generator can avoid; the
 * loader's cost is reported against it.
 *
 *	raw_uac SERVER_PORT RATE SECONDS   (127.0.0.1)
 *
 * Prints "sent N answered M cpu_s X".  Without arguments (make bench
 * runs every built benchmark) it says what it is and exits 0.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define MTU 65536

static const char tmpl[] = "REGISTER sip:example.com SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP "
			   "127.0.0.1:%05u;branch=z9hG4bK%016llx;rport\r\n"
			   "Max-Forwards: 70\r\n"
			   "From: <sip:A%06llu@example.com>;tag=%016llx\r\n"
			   "To: <sip:A%06llu@example.com>\r\n"
			   "Call-ID: %016llx@127.0.0.1\r\n"
			   "CSeq: 1 REGISTER\r\n"
			   "Contact: "
			   "<sip:A%06llu@127.0.0.1:%05u;transport=udp>\r\n"
			   "Expires: 3600\r\n"
			   "Content-Length: 0\r\n\r\n";

static char out[BATCH][1024];
static char in[64][MTU];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {(time_t)(t / 1000000000ull),
			      (long)(t % 1000000000ull)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
		;
}

static unsigned long drain(int fd)
{
	struct mmsghdr m[64];
	struct iovec iov[64];
	unsigned long got = 0;
	int n, i;

	do {
		memset(m, 0, sizeof(m));
		for (i = 0; i < 64; i++) {
			iov[i].iov_base = in[i];
			iov[i].iov_len = MTU;
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, m, 64, MSG_DONTWAIT, NULL);
		for (i = 0; i < n; i++)
			if (m[i].msg_len >= 11 &&
			    !memcmp(in[i], "SIP/2.0 200", 11))
				got++;
	} while (n == 64);
	return got;
}

int main(int argc, char **argv)
{
	struct sockaddr_in srv = {0}, me = {0};
	socklen_t ml = sizeof(me);
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	unsigned long long seq = 0;
	unsigned long sent = 0, answered = 0;
	struct rusage ru;
	double rate, secs, gap;
	uint64_t t0, next, tick, end;
	unsigned port;
	int fd, big = 1 << 22;

	if (argc != 4) {
		printf("raw_uac: a helper of bench_loader.py "
		       "(usage: raw_uac SERVER_PORT RATE SECONDS)\n");
		return 0;
	}
	rate = strtod(argv[2], NULL);
	secs = strtod(argv[3], NULL);
	if (!(rate > 0) || !(secs > 0))
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	me.sin_family = srv.sin_family = AF_INET;
	me.sin_addr.s_addr = srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.sin_port = htons((uint16_t)strtoul(argv[1], NULL, 10));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &ml) < 0) {
		perror("raw_uac: bind");
		return 1;
	}
	port = ntohs(me.sin_port);
	gap = 1e9 / rate;
	t0 = now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	next = t0;
	for (tick = t0; tick < end; tick += 1000000ull) {
		int k = 0, i;

		sleep_until(tick);
		answered += drain(fd);
		while (next <= tick && k < BATCH) {
			unsigned long long u = seq % 100000;
			int l = snprintf(out[k], sizeof(out[k]), tmpl, port,
					 seq, u, seq, u, seq, u, port);

			iov[k].iov_base = out[k];
			iov[k].iov_len = (size_t)l;
			memset(&m[k], 0, sizeof(m[k]));
			m[k].msg_hdr.msg_iov = &iov[k];
			m[k].msg_hdr.msg_iovlen = 1;
			m[k].msg_hdr.msg_name = &srv;
			m[k].msg_hdr.msg_namelen = sizeof(srv);
			k++;
			seq++;
			next = t0 + (uint64_t)((double)seq * gap);
		}
		for (i = 0; i < k;) {
			int s = sendmmsg(fd, m + i, (unsigned)(k - i), 0);

			if (s < 0)
				break;
			i += s;
		}
		sent += (unsigned long)k;
	}
	/* the last answers */
	for (int i = 0; i < 200 && answered < sent; i++) {
		usleep(1000);
		answered += drain(fd);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("sent %lu answered %lu cpu_s %.6f\n", sent, answered,
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) /
			       1e6);
	return 0;
}
