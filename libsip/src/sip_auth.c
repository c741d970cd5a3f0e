/*
 * Digest computations (RFC 2617 §3.2.2, RFC 7616 §3.4.1): HA1, the
 * request-digest, and quoted output shared by the server and client.
 */
#include "sip_auth.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#define LOG_MODULE "sip_auth"
#include "enum_name.h"
#include "log.h"
#include "sip_auth_int.h"

const char *sip_auth_alg_name(enum sip_auth_alg alg)
{
	static const char *const names[] = {
		[SIP_AUTH_ALG_MD5] = "MD5",
		[SIP_AUTH_ALG_SHA256] = "SHA-256",
	};

	return enum_name(names, ENUM_NAMES_LEN(names), alg, "");
}

size_t sip_auth_hex_len(enum sip_auth_alg alg)
{
	switch (alg) {
	case SIP_AUTH_ALG_MD5:
		return 32;
	case SIP_AUTH_ALG_SHA256:
		return 64;
	default:
		return 0;
	}
}

/* Logs OpenSSL's first queued error once, with context; returns EIO. */
int sip_auth_ssl_err(const char *what)
{
	char msg[256];
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "no OpenSSL error queued");
	ERR_clear_error();
	log_err("%s: %s", what, msg);
	return EIO;
}

/* Fetched once: the implicit fetch of EVP_md5() costs a lookup a call. */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_fetched[2];

static void md_fetch(void)
{
	md_fetched[0] = EVP_MD_fetch(NULL, "MD5", NULL);
	md_fetched[1] = EVP_MD_fetch(NULL, "SHA256", NULL);
	ERR_clear_error();
}

const EVP_MD *sip_auth_md(enum sip_auth_alg alg)
{
	pthread_once(&md_once, md_fetch);
	if (alg == SIP_AUTH_ALG_MD5)
		return md_fetched[0] ? md_fetched[0] : EVP_md5();
	if (alg == SIP_AUTH_ALG_SHA256)
		return md_fetched[1] ? md_fetched[1] : EVP_sha256();
	return NULL;
}

static int md_feed(EVP_MD_CTX *ctx, const struct hpart *part)
{
	const char *p = part->p, *end = part->p + part->l, *bs;

	if (!part->unq)
		return part->l == 0 || EVP_DigestUpdate(ctx, p, part->l);
	while (p < end) {
		bs = memchr(p, '\\', (size_t)(end - p));
		if (!bs)
			return EVP_DigestUpdate(ctx, p, (size_t)(end - p));
		if (bs > p && !EVP_DigestUpdate(ctx, p, (size_t)(bs - p)))
			return 0;
		p = bs + 1;
		if (p < end) {
			if (!EVP_DigestUpdate(ctx, p, 1))
				return 0;
			p++;
		}
	}
	return 1;
}

void sip_auth_to_hex(const unsigned char *bin, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[bin[i] >> 4];
		hex[2 * i + 1] = digits[bin[i] & 15];
	}
	hex[2 * n] = '\0';
}

/* H(part0 ":" part1 ":" ...) in lower-case hex. */
int sip_auth_digest_hex(enum sip_auth_alg alg, const struct hpart *parts,
			size_t nparts, char hex[SIP_AUTH_HEX_SIZE])
{
	const EVP_MD *md = sip_auth_md(alg);
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int binlen = 0;
	EVP_MD_CTX *ctx = NULL;
	int err = 0;
	size_t i;

	if (!md)
		return ENOTSUP;
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		err = ENOMEM;
		goto out;
	}
	if (!EVP_DigestInit_ex(ctx, md, NULL)) {
		err = sip_auth_ssl_err("digest init");
		goto out;
	}
	for (i = 0; i < nparts; i++) {
		if ((i > 0 && !EVP_DigestUpdate(ctx, ":", 1)) ||
		    !md_feed(ctx, &parts[i])) {
			err = sip_auth_ssl_err("digest update");
			goto out;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, bin, &binlen) ||
	    binlen * 2 != sip_auth_hex_len(alg)) {
		err = sip_auth_ssl_err("digest final");
		goto out;
	}
	sip_auth_to_hex(bin, binlen, hex);
out:
	EVP_MD_CTX_free(ctx);
	return err;
}

int sip_auth_ha1(enum sip_auth_alg alg, const struct pl *username,
		 const struct pl *realm, const struct pl *password,
		 char hex[SIP_AUTH_HEX_SIZE])
{
	struct hpart parts[3];

	parts[0] = auth_part(username, false);
	parts[1] = auth_part(realm, false);
	parts[2] = auth_part(password, false);
	return sip_auth_digest_hex(alg, parts, 3, hex);
}

/* Copies an HA1 in hex of alg's length into dst in lower case. */
int sip_auth_ha1_norm(enum sip_auth_alg alg, const struct pl *ha1, char *dst)
{
	size_t i, n = sip_auth_hex_len(alg);

	if (n == 0)
		return ENOTSUP;
	if (!ha1 || ha1->l != n)
		return EINVAL;
	for (i = 0; i < n; i++) {
		if (!auth_is_hex(ha1->p[i]))
			return EINVAL;
		dst[i] = (char)(ha1->p[i] >= 'A' && ha1->p[i] <= 'F'
					? ha1->p[i] | 0x20
					: ha1->p[i]);
	}
	dst[n] = '\0';
	return 0;
}

/*
 * The request-digest with HA1 already normalised.  q: the nonce, nc,
 * cnonce and qop views come from quoted strings (undo quoted-pairs);
 * quri: so does uri.
 */
int sip_auth_response_hex(enum sip_auth_alg alg, const char *ha1,
			  const struct pl *nonce, const struct pl *nc,
			  const struct pl *cnonce, const struct pl *qop,
			  const struct pl *method, const struct pl *uri,
			  bool q, bool quri, char hex[SIP_AUTH_HEX_SIZE])
{
	char ha2[SIP_AUTH_HEX_SIZE];
	struct hpart parts[6];
	int err;

	parts[0] = auth_part(method, false);
	parts[1] = auth_part(uri, quri);
	err = sip_auth_digest_hex(alg, parts, 2, ha2);
	if (err)
		return err;
	parts[0].p = ha1;
	parts[0].l = sip_auth_hex_len(alg);
	parts[0].unq = false;
	parts[1] = auth_part(nonce, q);
	if (!qop || qop->l == 0) {
		parts[2].p = ha2;
		parts[2].l = sip_auth_hex_len(alg);
		parts[2].unq = false;
		return sip_auth_digest_hex(alg, parts, 3, hex);
	}
	parts[2] = auth_part(nc, q);
	parts[3] = auth_part(cnonce, q);
	parts[4] = auth_part(qop, q);
	parts[5].p = ha2;
	parts[5].l = sip_auth_hex_len(alg);
	parts[5].unq = false;
	return sip_auth_digest_hex(alg, parts, 6, hex);
}

bool sip_auth_qop_is_auth(const struct pl *qop)
{
	return !qop || qop->l == 0 || pl_caseeq_str(qop, "auth");
}

int sip_auth_response(enum sip_auth_alg alg, const struct pl *ha1,
		      const struct pl *nonce, const struct pl *nc,
		      const struct pl *cnonce, const struct pl *qop,
		      const struct pl *method, const struct pl *uri,
		      char hex[SIP_AUTH_HEX_SIZE])
{
	char h1[SIP_AUTH_HEX_SIZE], out[SIP_AUTH_HEX_SIZE];
	int err;

	/* auth-int needs H(entity-body): not done here. */
	if (!sip_auth_qop_is_auth(qop))
		return ENOTSUP;
	err = sip_auth_ha1_norm(alg, ha1, h1);
	if (err)
		return err;
	err = sip_auth_response_hex(alg, h1, nonce, nc, cnonce, qop, method,
				    uri, false, false, out);
	if (err)
		return err;
	memcpy(hex, out, sip_auth_hex_len(alg) + 1);
	return 0;
}

/* ----- quoted output ----- */

/* Appends v as a quoted-string body, escaping '"' and '\'; EINVAL for
 * control characters. */
int sip_auth_append_quoted(struct buf *b, const struct pl *v)
{
	size_t i, start = 0;
	int err;

	for (i = 0; i < v->l; i++) {
		char c = v->p[i];

		/* Controls would not parse back (and CRLF would end the
		 * header): refuse them. */
		if (((unsigned char)c < 0x20 && c != '\t') || c == 0x7f)
			return EINVAL;
		if (c != '"' && c != '\\')
			continue;
		err = buf_append(b, v->p + start, i - start);
		if (!err)
			err = buf_append(b, "\\", 1);
		if (err)
			return err;
		start = i;
	}
	return buf_append(b, v->p + start, v->l - start);
}
