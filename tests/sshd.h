/*
 * sshd.h - a real OpenSSH server for tests: its own host key, its own
 * authorized client key, listening on 127.0.0.1 at a free port, started
 * in the test's directory and stopped by its PID.  Needs root (sshd
 * changes user) and /usr/sbin/sshd; otherwise the test is skipped with
 * the reason.
 */
#ifndef SIPSTONE_TEST_SSHD_H
#define SIPSTONE_TEST_SSHD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct sshd {
	pid_t pid;
	uint16_t port;
	char dir[512];
	char client_key[600];  /* private key the server accepts */
	char wrong_key[600];   /* a key it does not accept */
	char known_hosts[600]; /* a known_hosts line for this server */
	char host_pub[600];    /* the server's public host key file */
	char user[64];
};

/* Starts it (or skips the test).  Waits until it accepts connections. */
void sshd_start(struct sshd *s);

/* The same with a host key of another type ("ecdsa", "rsa"; ssh-keygen
 * -t); the client keys stay ed25519. */
void sshd_start_typed(struct sshd *s, const char *host_key_type);

/* Stops it by its PID. */
void sshd_stop(struct sshd *s);

/*
 * Writes a known_hosts file at path listing this server with its real
 * key (wrong = false) or with another key (wrong = true).
 */
void sshd_write_known_hosts(const struct sshd *s, const char *path,
			    bool wrong);

#endif
