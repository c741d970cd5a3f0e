/*
 * bench_parse - sip_msg_decode() + sip_msg_validate() of a typical
 * INVITE (SDP body, two Vias) and a REGISTER, each in a loop for about
 * two seconds.  Prints one line per case.  Not a test: it only reports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sip_msg.h"

static const char invite[] =
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-524287-1---8f3a2c"
	";rport\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;received="
	"198.51.100.1\r\n"
	"Max-Forwards: 69\r\n"
	"Record-Route: <sip:192.0.2.20;lr>\r\n"
	"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	"To: Bob <sip:bob@biloxi.example.com>\r\n"
	"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
	"User-Agent: sipstone-loader/1.0\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 134\r\n"
	"\r\n"
	"v=0\r\n"
	"o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.10\r\n"
	"t=0 0\r\n"
	"m=audio 49170 RTP/AVP 0\r\n"
	"a=rtpmap:0 PCMU/8000\r\n";

static const char reg[] = "REGISTER sip:biloxi.example.com SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP "
			  "192.0.2.4:5060;branch=z9hG4bKnashds7;rport\r\n"
			  "Max-Forwards: 70\r\n"
			  "To: Bob <sip:bob@biloxi.example.com>\r\n"
			  "From: Bob "
			  "<sip:bob@biloxi.example.com>;tag=456248\r\n"
			  "Call-ID: 843817637684230@998sdasdh09\r\n"
			  "CSeq: 1826 REGISTER\r\n"
			  "Contact: <sip:bob@192.0.2.4:5060>;expires=3600\r\n"
			  "Expires: 3600\r\n"
			  "Content-Length: 0\r\n"
			  "\r\n";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *name, const char *text, bool stream, bool validate)
{
	static struct sip_msg m;
	size_t len = strlen(text);
	unsigned long n = 0;
	double t0, t;
	uint16_t st;
	const char *why;

	if (sip_msg_decode(&m, text, len, stream) ||
	    sip_msg_validate(&m, &st, &why)) {
		fprintf(stderr, "bench_parse: %s does not parse\n", name);
		return 1;
	}
	t0 = now();
	do {
		for (int i = 0; i < 10000; i++) {
			if (sip_msg_decode(&m, text, len, stream))
				return 1;
			if (validate && sip_msg_validate(&m, &st, &why))
				return 1;
			n++;
		}
		t = now() - t0;
	} while (t < 2.0);
	printf("bench_parse: %-30s %4zu B %3u hdrs: %10.0f msg/s %7.1f "
	       "ns/msg\n",
	       name, len, m.nhdrs, (double)n / t, t * 1e9 / (double)n);
	return 0;
}

int main(void)
{
	int failed = 0;

	failed += run("INVITE decode+validate", invite, false, true);
	failed += run("INVITE decode only", invite, false, false);
	failed += run("INVITE stream decode+validate", invite, true, true);
	failed += run("REGISTER decode+validate", reg, false, true);
	failed += run("REGISTER decode only", reg, false, false);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
