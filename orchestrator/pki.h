/*
 * pki.h - the per-run certificate authority: every run makes its own CA
 * and, for each host, a key and a certificate signed by it with the
 * host's name from the topology as CN (and as a DNS name, plus the
 * host's address as an IP name, so that verification works whether a
 * peer is named by host name or by address: the seed's future work).
 * Nothing is reused between runs and nothing leaves the bundle's
 * directory but the files deployed to the hosts.
 */
#ifndef SIPSTONE_PKI_H
#define SIPSTONE_PKI_H

#include <stddef.h>

struct pki;

/*
 * Makes a CA (EC P-256, valid for days) and writes dir/ca.pem.
 * Returns 0, or an errno with why saying what failed.
 */
int pki_create(struct pki **pp, const char *dir, unsigned days, char *why,
	       size_t whysz);

/*
 * Issues a certificate for host name (CN and DNS name) and, when address
 * is an IP literal, an IP name too; writes dir/<name>.pem (certificate)
 * and dir/<name>.key (mode 0600).  Returns 0 or an errno with why.
 */
int pki_issue(struct pki *p, const char *name, const char *address, char *why,
	      size_t whysz);

void pki_free(struct pki *p);

#endif
