/*
 * stateful_cfg.h - proxy-stateful's options: the command line and
 * --config FILE.json (common/argcfg.h: each key of the file a flag).
 */
#ifndef SIPSTONE_STATEFUL_CFG_H
#define SIPSTONE_STATEFUL_CFG_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "sip_tp.h"

#define STATEFUL_LISTEN_MAX 8

enum stateful_db_mode {
	STATEFUL_DB_MEMORY = 0,
	STATEFUL_DB_WRITE_THROUGH,
	STATEFUL_DB_WRITE_BACK,
};

/* Which requests are challenged for everyone (users whose
 * auth_required is set are challenged whatever this says). */
enum stateful_auth {
	STATEFUL_AUTH_NONE = 0,
	STATEFUL_AUTH_REGISTER = 1 << 0,
	STATEFUL_AUTH_INVITE = 1 << 1,
	STATEFUL_AUTH_ALL = STATEFUL_AUTH_REGISTER | STATEFUL_AUTH_INVITE,
};

struct stateful_cfg {
	char listen[STATEFUL_LISTEN_MAX][SIP_TP_ADDR_STRLEN];
	size_t nlisten;
	char tls_cert[256], tls_key[256], tls_ca[256];
	char domain[128];
	char db_url[256];     /* mysql://user[:pw]@host:port/name */
	char users_file[256]; /* or empty */
	enum stateful_db_mode db_mode;
	unsigned auth; /* enum stateful_auth bits */
	bool record_route;
	bool closed; /* 403 for other domains instead of forwarding */
	/* A redirect server (RFC 3261 §8.3): an INVITE for a registered
	 * user of ours is answered 302 with every binding as a Contact
	 * instead of being proxied; the control command "redirect" turns
	 * it on and off while running. */
	bool redirect;
	unsigned workers;
	uint32_t min_expires;	  /* 423 below it [60] */
	uint32_t max_expires;	  /* capped to it [7200] */
	uint32_t default_expires; /* [3600] */
	uint32_t flush_ms;	  /* write-back period [1000] */
	uint32_t timer_c_ms;	  /* 0: RFC default */
	uint32_t t1_ms; /* RFC 3261 T1 (0: 500 ms); the other timers follow */
	/* The presence agent (presence.h): SUBSCRIBE and PUBLISH for our
	 * users answered here instead of forwarded. */
	bool presence;
	char presence_filter[256];	   /* or empty: no filtering */
	uint32_t presence_min_expires;	   /* 423 below it [1] */
	uint32_t presence_max_expires;	   /* capped to it [3600] */
	uint32_t presence_default_expires; /* [3600] */
};

/* Defaults for everything (no listener, domain "localhost"). */
void stateful_cfg_init(struct stateful_cfg *cfg);

/* stateful_cfg_parse(): --help or --version was given, the usage or
 * the version went to stdout (exit 0). */
#define STATEFUL_CFG_EXIT (-1)

/* The usage text (--help). */
void stateful_cfg_usage(FILE *f);

/*
 * Parses the command line (argv[1..]) into cfg, after reading
 * --config FILE.json if one is given (the command line wins).  On error
 * writes one line into err (size errsz: "unknown option --foo",
 * "--foo: missing value", a bad value) and returns EINVAL; returns
 * STATEFUL_CFG_EXIT after --help or --version.  *control is set for
 * --control.
 */
int stateful_cfg_parse(struct stateful_cfg *cfg, int argc, char **argv,
		       bool *control, char *err, size_t errsz);

#endif
