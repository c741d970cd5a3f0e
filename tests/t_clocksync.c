/*
 * Clock offsets measured as NTP does (clocksync.h): on this machine and
 * over SSH to a loopback sshd the host is this machine, so the offset
 * must come out near zero, far under the 5 ms issue 19 asks for, where
 * the old one-command estimate counted the SSH round trip.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "clocksync.h"
#include "host.h"
#include "preflight.h"
#include "ssh.h"
#include "sshd.h"
#include "test.h"
#include "topo.h"

static void assert_near_zero(const struct clocksync *cs, const char *where)
{
	fprintf(stderr, "%s: offset %.3f ms, rtt %.3f ms, %u exchanges\n",
		where, cs->offset_ms, cs->rtt_ms, cs->exchanges);
	ASSERT_EQ(cs->exchanges, CLOCKSYNC_EXCHANGES);
	ASSERT_MSG(fabs(cs->offset_ms) < 5.0, "%s: offset %.3f ms", where,
		   cs->offset_ms);
	/* The error bound is half the kept round trip. */
	ASSERT_MSG(cs->rtt_ms >= 0 && cs->rtt_ms < 10.0, "%s: rtt %.3f ms",
		   where, cs->rtt_ms);
	ASSERT(!cs->biases_delays || fabs(cs->offset_ms) >= CLOCKSYNC_BIAS_MS);
}

TEST(clocksync_local_host_is_this_clock)
{
	struct inventory_host ih = {0};
	struct host *h = NULL;
	struct clocksync cs;
	char why[SSH_WHY_MAX] = "";

	snprintf(ih.name, sizeof(ih.name), "here");
	snprintf(ih.address, sizeof(ih.address), "127.0.0.1");
	ih.local = true;
	ASSERT_EQ(host_open(&h, &ih, false, why, sizeof(why)), 0);
	ASSERT_MSG(clocksync_measure(h, 5000, &cs, why, sizeof(why)) == 0,
		   "%s", why);
	assert_near_zero(&cs, "local");
	/* This machine against itself: well under the bias threshold. */
	ASSERT(!cs.biases_delays);
	host_close(h);
}

TEST_TIMEOUT(clocksync_over_ssh_to_loopback_under_5_ms, 30)
{
	struct inventory_host ih = {0};
	struct host *h = NULL;
	struct clocksync cs;
	char why[SSH_WHY_MAX] = "", kh[600];
	struct sshd s;

	sshd_start(&s);
	snprintf(kh, sizeof(kh), "%s/kh", test_tmp_dir());
	sshd_write_known_hosts(&s, kh, false);
	snprintf(ih.name, sizeof(ih.name), "there");
	snprintf(ih.address, sizeof(ih.address), "127.0.0.1");
	snprintf(ih.ssh_user, sizeof(ih.ssh_user), "%s", s.user);
	ih.ssh_port = s.port;
	snprintf(ih.ssh_key, sizeof(ih.ssh_key), "%.255s", s.client_key);
	snprintf(ih.known_hosts, sizeof(ih.known_hosts), "%.255s", kh);
	ASSERT_MSG(host_open(&h, &ih, false, why, sizeof(why)) == 0, "%s",
		   why);
	ASSERT_MSG(clocksync_measure(h, 10000, &cs, why, sizeof(why)) == 0,
		   "%s", why);
	assert_near_zero(&cs, "ssh");
	/* Twice on one connection: the responder ended the first time. */
	ASSERT_MSG(clocksync_measure(h, 10000, &cs, why, sizeof(why)) == 0,
		   "%s", why);
	assert_near_zero(&cs, "ssh, again");
	host_close(h);
	sshd_stop(&s);
}
