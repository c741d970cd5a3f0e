/*
 * kamailio.h - kamailio as the independent registrar and proxy of the
 * agents' end-to-end tests: tests/kamailio/registrar.cfg with listeners
 * on a test-chosen loopback port, its runtime files, its db_text users
 * and its ctl socket in the test's directory, ended by its PID.  Its own
 * counters (kamcmd: stats.get_statistics, sl.stats, tm.stats) are what the
 * agents' counts are checked against.
 */
#ifndef SIPSTONE_TEST_KAMAILIO_H
#define SIPSTONE_TEST_KAMAILIO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc.h"

struct kamailio_opts {
	bool tcp; /* a TCP listener on the UDP port too */
	/*
	 * The users digest auth knows: <auth_prefix><auth_first>..
	 * <auth_last>, password "pw-<user>"; auth_register: REGISTER needs
	 * credentials (401), auth_invite: initial INVITEs do (407).
	 */
	const char *auth_prefix;
	unsigned auth_first, auth_last;
	bool auth_register, auth_invite;
	/*
	 * With tls_cert and tls_key (absolute paths), a TLS listener on
	 * a port of its own; kamailio verifies no peer's certificate.
	 */
	const char *tls_cert, *tls_key;
	/*
	 * Another configuration of tests/kamailio/ (NULL: registrar.cfg).
	 * One without the ctl module (presence.cfg, ratelimit.cfg) wants
	 * no_ctl: no ctl socket, no counters (kamailio_stats fails).
	 */
	const char *cfg;
	bool no_ctl;
	/* More -A definitions ("NAME" or "NAME=value"), NULL-ended. */
	const char *const *defines;
	unsigned shm_mb, pkg_mb; /* -m and -M; 0: 32 and 4 */
};

struct kamailio {
	struct proc proc;
	uint16_t port;	   /* UDP, and TCP with opts->tcp */
	uint16_t tls_port; /* with opts->tls_cert, else 0 */
	char ctl[300];	   /* "unix:PATH" of the ctl socket */
};

/*
 * Whether kamailio, kamcmd and the modules registrar.cfg loads are here
 * (with tls, its tls module too).
 */
bool kamailio_available(bool tls);

/* Whether kamailio and its module name ("presence": presence.so) are
 * here. */
bool kamailio_has_module(const char *name);

/* "tp:127.0.0.1:PORT" of its listener of transport tp ("udp", "tcp",
 * "tls") into buf. */
void kamailio_addr(const struct kamailio *k, const char *tp, char *buf,
		   size_t size);

/*
 * Starts kamailio on 127.0.0.1:port (UDP, and TCP/TLS as opts says;
 * opts may be NULL; the TLS port is chosen here) and waits, bounded
 * (5 s), until it answers an OPTIONS over UDP and (but with no_ctl) its
 * ctl socket.  Fails
 * the test when it cannot; call kamailio_available() first and skip
 * without it.
 */
void kamailio_start(struct kamailio *k, uint16_t port,
		    const struct kamailio_opts *opts);

/*
 * kamailio's counters now: an object of name -> integer (new reference,
 * caller decrefs): stats.get_statistics's "group:name" (core:, registrar:,
 * usrloc:, tcp:...; not its sl: and tmx:, cached for seconds), and the
 * sl.stats and tm.stats RPCs' members as "sl.stats:401",
 * "tm.stats:total".  Fails the test when kamcmd fails.
 */
json_t *kamailio_stats(struct kamailio *k);

/*
 * The counters once they have stopped moving: kamailio counts a reply
 * after it has sent it, so an agent may have its answer (and the test
 * go on) before kamailio's counter shows it, by as long as the machine
 * keeps that process off the CPU.  Reads every 100 ms until two reads
 * agree on every counter (gauges aside), bounded (5 s, then it fails
 * the test).  New reference.
 */
json_t *kamailio_stats_settled(struct kamailio *k);

/*
 * A counter's growth from before to after (two kamailio_stats()).  Fails
 * the test when it is absent from either.
 */
long long kamailio_stat_diff(json_t *after, json_t *before, const char *name);

/* Stops it by its PID (SIGTERM, bounded wait, then SIGKILL). */
void kamailio_stop(struct kamailio *k);

#endif
