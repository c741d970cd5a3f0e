/*
 * httpd.h - a tiny HTTP/1.1 responder (RFC 9112) for one resource:
 * GET of a path answers with the body a callback writes; anything else
 * is 404, 405 or 400.  It runs on a thread of its own, one connection at
 * a time, each closed after its answer (RFC 9112 §9.6, "Connection:
 * close"); a request is bounded in size (HTTPD_MAX_REQUEST) and in time
 * (HTTPD_CLIENT_MS, non-blocking sockets), so that a client that sends
 * too much or too slowly never holds it up for longer.
 */
#ifndef SIPSTONE_HTTPD_H
#define SIPSTONE_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#define HTTPD_MAX_REQUEST 8192
#define HTTPD_CLIENT_MS 2000

struct httpd;

/*
 * Writes the resource's body: returns a malloc'd NUL-terminated string
 * (the responder frees it), or NULL (the answer is 500).  Called on the
 * responder's thread.
 */
typedef char *(httpd_body_h)(void *arg);

/*
 * Parses "HOST:PORT" (an IPv4 address or a name, "[v6]:PORT") into its
 * parts: 0, or EINVAL.
 */
int httpd_parse_addr(const char *hostport, char *host, size_t hsize,
		     uint16_t *port);

/*
 * Listens on hostport (PORT 0: any free port) and serves GET path with
 * body(arg) as content_type.  Returns 0 with *hp, or an errno with why.
 */
int httpd_start(struct httpd **hp, const char *hostport, const char *path,
		const char *content_type, httpd_body_h *body, void *arg,
		char *why, size_t whysz);

/* The port it listens on. */
uint16_t httpd_port(const struct httpd *h);

/* Stops the thread, closes everything, frees h (NULL is fine). */
void httpd_stop(struct httpd *h);

#endif
