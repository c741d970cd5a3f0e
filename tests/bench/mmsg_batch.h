/*
 * mmsg_batch.h - one recvmmsg() batch for the benchmark's UDP peers
 * (reg_responder, sl_reflector): message headers pointed at buffers of
 * mtu bytes each and at a source address each.
 */
#ifndef SIPSTONE_BENCH_MMSG_BATCH_H
#define SIPSTONE_BENCH_MMSG_BATCH_H

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Receives up to n datagrams from fd without waiting into bufs (n
 * buffers of mtu bytes one after another); msgs[i].msg_len and src[i]
 * say each one's length and sender.  Returns recvmmsg()'s result. */
static inline int mmsg_batch_recv(int fd, struct mmsghdr *msgs,
				  struct iovec *iov, struct sockaddr_in *src,
				  char *bufs, size_t mtu, unsigned n)
{
	memset(msgs, 0, n * sizeof(*msgs));
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = bufs + i * mtu;
		iov[i].iov_len = mtu;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &src[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(src[i]);
	}
	return recvmmsg(fd, msgs, n, MSG_DONTWAIT, NULL);
}

#endif
