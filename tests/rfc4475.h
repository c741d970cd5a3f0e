/*
 * rfc4475.h - the RFC 4475 corpus (../shared/corpus/rfc4475) for the
 * tests that replay it at a server: its manifest rows, their messages
 * and the judgement of what the server did with each (INDEX.md's proxy
 * and registrar columns).
 */
#ifndef SIPSTONE_TEST_RFC4475_H
#define SIPSTONE_TEST_RFC4475_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct rfc4475_case {
	char name[64];
	char klass[32]; /* valid, invalid, semantic */
	char liberal[8];
	char expect_proxy[32];
	char expect_registrar[32];
	char *msg; /* the message's bytes; caller frees */
	size_t len;
};

/* The manifest, open for rfc4475_next(); skips the test without it. */
FILE *rfc4475_open(void);

/*
 * The next row of the manifest with its message loaded into c->msg
 * (caller frees); false at the end.
 */
bool rfc4475_next(FILE *man, struct rfc4475_case *c);

/* Whether status is allowed by an expect token list ("none", "NNN",
 * "Nxx", "!NNN", "*"; several separated by spaces). */
bool rfc4475_status_ok(const char *expect, unsigned status);

/*
 * Judges what a server did with c: status is the first final response
 * (0: none), forwarded whether the message (or its request) went on.
 * The registrar column applies when registrar is set, else the proxy
 * column.  Fails the test, naming the message, when the outcome is not
 * what INDEX.md allows (an invalid message may get any 4xx-6xx).
 */
void rfc4475_judge(const struct rfc4475_case *c, bool registrar,
		   unsigned status, bool forwarded);

#endif
