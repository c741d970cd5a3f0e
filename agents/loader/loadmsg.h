/*
 * loadmsg.h - the loader's message-building toolbox, shared by the
 * REGISTER/OPTIONS path, the calls and the presence tests: string
 * concatenation without printf, the transport parameter of our
 * Contacts, the server as a transaction destination.  No state.
 */
#ifndef LOADER_LOADMSG_H
#define LOADER_LOADMSG_H

#include <stddef.h>

#include "loadcfg.h"
#include "pl.h"
#include "sip_tp.h"

struct sip_txn_dest;

/* A view of the NUL-terminated s (borrowed: valid while s is). */
struct pl loadmsg_pl(const char *s);

/* Concatenates the strings of a NULL-ended list into out (size > 0):
 * the request builders' copies, once per request, instead of printf.
 * Returns 0, or EOVERFLOW when they do not fit (out is then unusable). */
int loadmsg_cat(char *out, size_t size, const char *const *parts);

/* "udp", "tcp" or "tls": the ;transport= of our Contacts. */
const char *loadmsg_tp_param(enum sip_transport tp);

/* Fills *d with cfg's server as a destination (no connection). */
void loadmsg_dest_server(const struct loadcfg *cfg, struct sip_txn_dest *d);

#endif
