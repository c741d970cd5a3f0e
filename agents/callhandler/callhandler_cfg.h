/*
 * callhandler_cfg.h - the callhandler's configuration: its command-line
 * flags, or the same names as the keys of a JSON file (--config
 * FILE.json, expanded by common/argcfg.h where it appears, so that later
 * flags win).  Parsing only: nothing starts here.
 */
#ifndef SIPSTONE_CALLHANDLER_CFG_H
#define SIPSTONE_CALLHANDLER_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "registration.h"
#include "sip_tp.h"
#include "uas.h"
#include "watch.h"

struct callhandler_cfg {
	struct uas_cfg uas;	     /* the answering workers */
	struct registration_cfg reg; /* with registering */
	struct watch_cfg watch;	     /* with watching (local_ip, domain,
				    * password and the retry settings are
				    * the caller's to fill) */
	/* --tls-*: the listener's files, and the CAs the registrar's
	 * certificate must verify against. */
	struct sip_tp_tls_opts tls;
	bool has_tls;	    /* a tls: listener */
	bool verify_client; /* ask the callers for a certificate */
	bool registering;   /* --register-via given */
	bool watching;	    /* --watch given */
	bool control;	    /* the control protocol on stdin/stdout */
	bool log_level_set;
	enum log_level log_level;
	/* The registrar's host name for TLS; reg.server_name points here,
	 * so the struct stays where it is while that is used. */
	char server_name[256];
	/* The command line with --config expanded: the strings above
	 * point into it (callhandler_cfg_free()). */
	int argc;
	char **argv;
};

/* The defaults: a thread per CPU (at most UAS_MAX_THREADS); expires
 * 3600 s, 1000 requests/s, 3 retries 1 s apart, Timer F 4 s, one watcher
 * per presentity. */
void callhandler_cfg_init(struct callhandler_cfg *c);

/*
 * Parses argv (argv[0] skipped) into c (initialised).  Returns 0, 1 when
 * --help or --version was asked (the usage or the version printed on
 * stdout), or EINVAL with one
 * line in err (FILE:LINE:COLUMN for JSON syntax): an unknown option, a
 * bad value, or options that do not go together.  Whatever it returns,
 * callhandler_cfg_free() releases c afterwards.
 */
int callhandler_cfg_parse(struct callhandler_cfg *c, int argc, char **argv,
			  char *err, size_t errsz);

/* Frees the expanded command line (the strings in c go with it). */
void callhandler_cfg_free(struct callhandler_cfg *c);

#endif
