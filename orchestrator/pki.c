#include "pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct pki {
	char dir[512];
	unsigned days;
	EVP_PKEY *ca_key;
	X509 *ca_cert;
};

static int ossl_fail(char *why, size_t whysz, const char *what)
{
	unsigned long e = ERR_get_error();
	char reason[256] = "unknown error";

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	snprintf(why, whysz, "%s: %s", what, reason);
	return EPROTO;
}

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static int random_serial(X509 *x)
{
	unsigned char bytes[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(bytes, sizeof(bytes)) != 1)
		return 0;
	bytes[0] &= 0x7f; /* a positive serial */
	bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static X509 *new_cert(EVP_PKEY *key, const char *cn, unsigned days)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (!x || !X509_set_version(x, 2) || !random_serial(x) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) ||
	    !X509_set_pubkey(x, key))
		goto fail;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
					(const unsigned char *)"SIPstone NG",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0))
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

static int write_pem(const char *path, int mode, X509 *cert, EVP_PKEY *key)
{
	FILE *f;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return errno;
	}
	ok = cert ? PEM_write_X509(f, cert)
		  : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || !ok)
		return EIO;
	return 0;
}

int pki_create(struct pki **pp, const char *dir, unsigned days, char *why,
	       size_t whysz)
{
	struct pki *p;
	char path[600];
	int err = 0;

	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	snprintf(p->dir, sizeof(p->dir), "%s", dir);
	p->days = days ? days : 2;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		err = errno;
		snprintf(why, whysz, "cannot create %s: %s", dir,
			 strerror(err));
		goto out;
	}
	p->ca_key = new_key();
	p->ca_cert =
		p->ca_key ? new_cert(p->ca_key, "SIPstone NG run CA", p->days)
			  : NULL;
	if (!p->ca_cert ||
	    !X509_set_issuer_name(p->ca_cert,
				  X509_get_subject_name(p->ca_cert)) ||
	    !add_ext(p->ca_cert, p->ca_cert, NID_basic_constraints,
		     "critical,CA:TRUE,pathlen:0") ||
	    !add_ext(p->ca_cert, p->ca_cert, NID_key_usage,
		     "critical,keyCertSign,cRLSign") ||
	    !add_ext(p->ca_cert, p->ca_cert, NID_subject_key_identifier,
		     "hash") ||
	    !X509_sign(p->ca_cert, p->ca_key, EVP_sha256())) {
		err = ossl_fail(why, whysz, "making the run's CA");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	err = write_pem(path, 0644, p->ca_cert, NULL);
	if (err) {
		snprintf(why, whysz, "cannot write %s: %s", path,
			 strerror(err));
		goto out;
	}
	*pp = p;
	p = NULL;
out:
	pki_free(p);
	return err;
}

static bool safe_name(const char *name)
{
	if (!name[0] || strlen(name) > 64)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' ||
		      *c == '_'))
			return false;
	return name[0] != '.';
}

int pki_issue(struct pki *p, const char *name, const char *address, char *why,
	      size_t whysz)
{
	unsigned char ip[16];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char san[256], path[700];
	int err = 0;

	/* The name becomes a file name: nothing that walks directories. */
	if (!safe_name(name)) {
		snprintf(why, whysz, "\"%s\" is not usable as a host name",
			 name);
		return EINVAL;
	}
	if (address && (inet_pton(AF_INET, address, ip) == 1 ||
			inet_pton(AF_INET6, address, ip) == 1))
		snprintf(san, sizeof(san), "DNS:%s,IP:%s", name, address);
	else
		snprintf(san, sizeof(san), "DNS:%s", name);
	key = new_key();
	cert = key ? new_cert(key, name, p->days) : NULL;
	if (!cert ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(p->ca_cert)) ||
	    !add_ext(cert, p->ca_cert, NID_basic_constraints,
		     "critical,CA:FALSE") ||
	    !add_ext(cert, p->ca_cert, NID_key_usage,
		     "critical,digitalSignature,keyAgreement") ||
	    !add_ext(cert, p->ca_cert, NID_ext_key_usage,
		     "serverAuth,clientAuth") ||
	    !add_ext(cert, p->ca_cert, NID_subject_alt_name, san) ||
	    !add_ext(cert, p->ca_cert, NID_authority_key_identifier,
		     "keyid:always") ||
	    !X509_sign(cert, p->ca_key, EVP_sha256())) {
		err = ossl_fail(why, whysz, "issuing a certificate");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s.key", p->dir, name);
	err = write_pem(path, 0600, NULL, key);
	if (!err) {
		snprintf(path, sizeof(path), "%s/%s.pem", p->dir, name);
		err = write_pem(path, 0644, cert, NULL);
	}
	if (err)
		snprintf(why, whysz, "cannot write %s: %s", path,
			 strerror(err));
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return err;
}

void pki_free(struct pki *p)
{
	if (!p)
		return;
	X509_free(p->ca_cert);
	EVP_PKEY_free(p->ca_key);
	free(p);
}
