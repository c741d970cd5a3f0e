/*
 * proc.h - end-to-end tests start real programs: a child with its
 * standard input and output on pipes (the control protocol of
 * docs/agents.md) and its standard error in a log file in the test's
 * directory.  Every wait is bounded; a child is ended by its PID only.
 */
#ifndef SIPSTONE_TEST_PROC_H
#define SIPSTONE_TEST_PROC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct proc {
	pid_t pid;
	int to_child;	/* its stdin; -1 once closed */
	int from_child; /* its stdout */
	char log_path[256];
	char name[64];
	char buf[1 << 16];
	size_t len;
	bool exited;
	int status; /* from waitpid, once exited */
};

/*
 * A command line built piece by piece: v[0..n-1], NULL after them.
 * Room for PROC_ARGV_MAX - 1 arguments; one more fails the test.
 */
#define PROC_ARGV_MAX 96
struct proc_argv {
	const char *v[PROC_ARGV_MAX];
	size_t n;
};

/* Appends the strings given, up to the NULL (borrowed: they must
 * outlive the use of a->v). */
void proc_argv_add(struct proc_argv *a, ...) __attribute__((sentinel));

/* Appends the NULL-terminated list (may be NULL). */
void proc_argv_addv(struct proc_argv *a, const char *const *list);

/*
 * Starts argv[0] (a path, or a program name looked up in test_bin_dir()
 * first and then PATH) with argv.  stderr goes to "<name>.log" in the
 * test's directory.  Fails the test when it cannot start.
 */
void proc_start(struct proc *p, const char *const argv[]);

/* Writes one line (a newline is added). */
void proc_send(struct proc *p, const char *line);

/*
 * The next complete output line parsed as JSON (new reference), or NULL
 * when none came within timeout_ms or the output ended.
 */
json_t *proc_read_json(struct proc *p, unsigned timeout_ms);

/* Reads lines until an event named event comes; NULL on timeout. */
json_t *proc_wait_event(struct proc *p, const char *event,
			unsigned timeout_ms);

/*
 * Sends {"cmd": cmd, "id": <fresh>, ...extra} and returns the reply with
 * that id (events before it are skipped), or NULL on timeout.  extra
 * (may be NULL) is borrowed.
 */
json_t *proc_cmd(struct proc *p, const char *cmd, json_t *extra,
		 unsigned timeout_ms);

/*
 * Closes its stdin (the protocol's "stop") and waits up to timeout_ms;
 * then SIGTERM, then SIGKILL.  Returns the exit code, or 128 + signal.
 */
int proc_stop(struct proc *p, unsigned timeout_ms);

/* Sends sig to the child (by its PID) if it still runs. */
void proc_signal(struct proc *p, int sig);

/* Whether it has exited (reaps it without blocking). */
bool proc_exited(struct proc *p);

/*
 * Runs a command to completion with stdout and stderr to log_name in the
 * test's directory; kills it (by PID) after timeout_ms.  Returns the
 * exit code, 128 + signal, or -1 on timeout.
 */
int proc_run(const char *const argv[], const char *log_name,
	     unsigned timeout_ms);

/*
 * A UDP socket connected to 127.0.0.1:port whose receives time out
 * after timeout_ms (send() and recv() on it).  Fails the test if it
 * cannot; the caller closes it.
 */
int proc_udp_to(uint16_t port, unsigned timeout_ms);

/*
 * A UDP socket bound to 127.0.0.1 on a port the kernel picks, written
 * to *port.  Fails the test if it cannot; the caller closes it.
 */
int proc_udp_bound(uint16_t *port);

/*
 * Runs each of the n command lines (proc_run(), 5 s, output to
 * a<k>.log for the k-th, from 1) and fails the test unless each exits
 * with want.
 */
void proc_expect_exits(const char *const *const *argvs, size_t n, int want);

/* A port on 127.0.0.1 free for both UDP and TCP right now. */
uint16_t proc_free_port(void);

/* Prints the last lines of the child's stderr log (for a failing test). */
void proc_dump_log(const struct proc *p);

#endif
