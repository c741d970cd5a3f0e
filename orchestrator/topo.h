/*
 * topo.h - the experiment description: a topology file (which roles run
 * on which named hosts, with what settings, and the experiment), placed
 * on an inventory (inventory.h: how to reach each named host), so that
 * one topology runs on the local testbed and on a real cluster alike
 * (topo_override.h changes a setting from the command line).
 * docs/topology.md documents every field.
 *
 * Loading never stops at the first mistake: every one is collected with
 * file:line:column and what was expected.
 */
#ifndef SIPSTONE_TOPO_H
#define SIPSTONE_TOPO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inventory.h"
#include "sip_msg.h"
#include "topo_reader.h"
#include "topo_sipstone.h"

#define TOPO_NAME_MAX 64
#define TOPO_MAX_LISTEN 4
#define TOPO_MAX_NEXT 32

enum topo_role {
	TOPO_STATEFUL = 0,
	TOPO_STATELESS,
	TOPO_CALLHANDLER,
	TOPO_LOADER,
	TOPO_ROLE_COUNT
};

/* "stateful", "stateless", "callhandlers", "loaders": the file's keys. */
const char *topo_role_key(enum topo_role role);

struct topo_listen {
	enum sip_transport tp;
	uint16_t port;
};

struct topo_node {
	enum topo_role role;
	char name[TOPO_NAME_MAX];
	char host[TOPO_NAME_MAX];
	char pointer[64]; /* "/stateful/0", for messages about it */
	struct topo_listen listen[TOPO_MAX_LISTEN];
	size_t nlisten;
	unsigned workers; /* workers or threads; 0 = one per core */
	/* stateful */
	char db_mode[16];  /* memory, write-through, write-back */
	char auth[16];	   /* none, register, invite, all */
	bool record_route; /* stateful and stateless */
	bool presence;	   /* stateful: --presence */
	/* stateless */
	size_t next[TOPO_MAX_NEXT]; /* indexes of stateful nodes */
	unsigned next_weight[TOPO_MAX_NEXT];
	size_t nnext;
	char hash[16]; /* user, callid, from */
	unsigned probe_interval_ms;
	/* callhandler: the proxy it registers through; loader: its server */
	size_t server;
	unsigned ring_ms;
};

/* The kinds of a "mix" experiment, in the order of
 * topo_experiment.mix (NULL-terminated). */
#define TOPO_MIX_KINDS 4
extern const char *const topo_mix_kinds[TOPO_MIX_KINDS + 1];

struct topo_experiment {
	/* register, reregister, invite, options, mix, subscribe, publish,
	 * redirect, proxy480, proxy486, sipstone */
	char test[16];
	/* mix: the weights by kind (topo_mix_kinds), 0 for a kind not in
	 * it */
	unsigned mix[TOPO_MIX_KINDS];
	enum sip_transport transport;
	char connection[16]; /* persistent, per-request */
	bool auth;
	bool preload_credentials;
	char user_prefix[32];
	unsigned user_first;
	unsigned user_count;
	unsigned rate_start, rate_step, rate_final; /* requests or calls/s */
	unsigned step_s;
	unsigned warmup_s;
	unsigned ta_limit_ms;
	double success_pct;    /* a step below this fails */
	char search[16];       /* ramp, rfc7502, bisect */
	unsigned threshold_ms; /* no final response by then: a failure */
	unsigned granularity; /* rfc7502, bisect: the found rate's margin, /s */
	double granularity_pct; /* rfc7502: or this % of it, the larger */
	unsigned max_trials;	/* rfc7502, bisect: the trials' bound */
	unsigned confirm_s;	/* rfc7502: the confirmation trial; 0 none */
	unsigned baseline_s;	/* loaders straight to callhandlers; 0 off */
	/* a step during which other work (a machine's busy time less our
	 * processes', plus steal) took more than this share of the
	 * machine is flagged interfered */
	double interference_max;
	unsigned hold_ms; /* invite: 200 -> BYE (the mean) */
	bool hold_exp;	  /* holds exponential, mean hold_ms */
	bool poisson;	  /* arrivals a Poisson process */
	char profile[16]; /* mix: the named profile, or "" */
	/* sipstone: each test's weight in SIPstone-A, by
	 * topo_sipstone_names */
	double sipstone_weights[TOPO_SIPSTONE_TESTS];
	/* ramp: every step passed up to rate_final, it goes on with
	 * doubling increments up to this (0: search.c's default) */
	unsigned max_rate;
	unsigned repeat; /* runs of this configuration (RFC 7502 trials) */
	/* subscribe, publish ("presence"): publish's watchers per
	 * presentity (the callhandlers'), the subscriptions' refresh
	 * interval (0: at 4/5 of the expiry granted), the PUBLISH bodies'
	 * size (0: the loader's natural one), and whether the servers
	 * filter each watcher's document (a filter file per run) */
	unsigned watchers;
	unsigned refresh_s;
	unsigned body_bytes;
	bool filter;
};

struct topo {
	char path[256];
	char name[TOPO_NAME_MAX];
	char description[256];
	char domain[128];
	bool db_managed;
	char db_host[TOPO_NAME_MAX]; /* empty: no database host named */
	uint16_t db_port;
	struct topo_node *nodes;
	size_t nnodes;
	struct topo_experiment exp;
	json_t *json; /* the file as read, for the result bundle */
};

/*
 * Reads and checks a topology file and, when inv is given, its placement
 * on that inventory (every host known, no two listeners on one address,
 * transport and port).  Returns 0 with *tp (free with topo_free()),
 * EBADMSG when there are mistakes (all of them in errs), or an errno
 * when the file cannot be read (also said in errs).
 */
int topo_load(struct topo **tp, const char *path, const struct inventory *inv,
	      struct topo_errors *errs);
void topo_free(struct topo *t);

/* The default cap of a ramp's extension ("max_rate" 0). */
#define TOPO_DEFAULT_MAX_RATE 1000000u

/* The highest rate e's load steps may offer: a ramp's max_rate (its
 * default when 0; never below the final rate), the searches' final
 * rate. */
unsigned topo_max_rate(const struct topo_experiment *e);

/*
 * Whether e is a mix with a register kind beside invite or options:
 * its users are then split, the first half the callees (the
 * callhandlers', the INVITEs' and OPTIONS'), the second half the
 * loaders' REGISTERs' (docs/topology.md).
 */
bool topo_mix_splits_users(const struct topo_experiment *e);

/*
 * How many of e's users are callees (registered by the callhandlers):
 * all of them, half of a mix that splits them, a third of a sipstone
 * run (then the registration test's third, then proxy480's unregistered
 * third follow them).
 */
unsigned topo_callee_count(const struct topo_experiment *e);

/* Whether e's loaders call or send OPTIONS to callhandlers' users. */
bool topo_needs_callhandler(const struct topo_experiment *e);

/* Whether e is a presence test (subscribe, publish): the stateful
 * proxies then run as presence servers. */
bool topo_is_presence(const struct topo_experiment *e);

/* The file's words for a test, a connection strategy and a search
 * (NULL-terminated), shared with topo_override.c. */
extern const char *const topo_tests[];
extern const char *const topo_connections[];
extern const char *const topo_searches[];

/* Whether node n has a listener on transport tp. */
bool topo_node_listens(const struct topo_node *n, enum sip_transport tp);

/* The node called name, or NULL. */
const struct topo_node *topo_node(const struct topo *t, const char *name);

#endif
