/*
 * libFuzzer target for sip_auth: the challenge and credentials parsers,
 * nonce checks and verification of arbitrary input, and two round trips
 * that must hold for any input:
 *   - a challenge the client accepts yields credentials that parse;
 *   - a realm we print in a challenge parses back to the same bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_view.h"
#include "pl.h"
#include "sip_auth.h"

#define NOW 1700000000u

static struct sip_auth_server *srv;
static struct sip_auth_ha1 ha1;

static void setup(void)
{
	static char md5[SIP_AUTH_HEX_SIZE], sha[SIP_AUTH_HEX_SIZE];
	struct pl u = PL("alice"), r = PL("example.com"), p = PL("secret");

	if (srv)
		return;
	if (sip_auth_server_alloc(&srv, "fuzz secret fuzz secret fuzz sec", 32,
				  300, 256))
		abort();
	if (sip_auth_ha1(SIP_AUTH_ALG_MD5, &u, &r, &p, md5) ||
	    sip_auth_ha1(SIP_AUTH_ALG_SHA256, &u, &r, &p, sha))
		abort();
	pl_set_str(&ha1.md5, md5);
	pl_set_str(&ha1.sha256, sha);
}

static void challenge(const struct pl *in, const uint8_t *data, size_t size)
{
	struct sip_auth_challenge ch;
	struct sip_auth_credentials cr;
	struct sip_auth_client *c = NULL;
	struct pl u = PL("alice"), pw = PL("secret"), m = PL("INVITE");
	struct pl uri = PL("sip:bob@example.com"), v;
	char tmp[512];
	struct buf b;

	if (sip_auth_challenge_decode(&ch, in))
		return;
	fuzz_views_in((const struct pl *const[]){&ch.realm, &ch.nonce,
						 &ch.opaque, &ch.qop},
		      4, data, size);
	(void)sip_auth_unquote(&ch.realm, tmp, sizeof(tmp));
	(void)sip_auth_nonce_check(srv, &ch.nonce, NOW);
	if (sip_auth_client_alloc(&c, &u, &pw))
		abort();
	buf_init(&b, 8192);
	if (sip_auth_client_challenge(c, &ch) == 0) {
		if (sip_auth_client_print(c, &b, &m, &uri))
			abort();
		v = buf_pl(&b);
		/* What we send must be what we accept. */
		if (sip_auth_credentials_decode(&cr, &v))
			abort();
		if (!pl_eq(&cr.nonce, &ch.nonce) ||
		    !pl_eq(&cr.realm, &ch.realm))
			abort();
	}
	buf_free(&b);
	sip_auth_client_free(c);
}

static void credentials(const struct pl *in, const uint8_t *data, size_t size)
{
	struct sip_auth_credentials cr;
	struct pl m = PL("REGISTER"), r = PL("example.com");
	enum sip_auth_result res;

	if (sip_auth_credentials_decode(&cr, in))
		return;
	fuzz_views_in((const struct pl *const[]){&cr.username, &cr.response,
						 &cr.nc},
		      3, data, size);
	res = sip_auth_verify(srv, &cr, &m, &r, &ha1, NOW);
	if (res == SIP_AUTH_OK || res == SIP_AUTH_ERROR)
		abort(); /* no forged digest can pass; HA1 is sound */
}

static void realm_round_trip(const struct pl *in)
{
	struct sip_auth_challenge ch;
	struct buf b;
	struct pl v;
	char *back;
	int err;

	if (in->l > 1024)
		return;
	buf_init(&b, 4096);
	err = sip_auth_challenge_print(srv, &b, in, SIP_AUTH_ALG_SHA256, in,
				       true, NOW);
	if (err == 0) {
		v = buf_pl(&b);
		if (sip_auth_challenge_decode(&ch, &v))
			abort();
		back = malloc(in->l + 1);
		if (!back || sip_auth_unquote(&ch.realm, back, in->l + 1) ||
		    memcmp(back, in->p, in->l) != 0 || !ch.stale)
			abort();
		if (sip_auth_nonce_check(srv, &ch.nonce, NOW) !=
		    SIP_AUTH_NONCE_OK)
			abort();
		free(back);
	} else if (err != EINVAL) {
		abort();
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl in = {(const char *)data, size};

	setup();
	challenge(&in, data, size);
	credentials(&in, data, size);
	(void)sip_auth_nonce_check(srv, &in, NOW);
	realm_round_trip(&in);
	return 0;
}
