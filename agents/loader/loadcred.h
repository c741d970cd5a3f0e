/*
 * loadcred.h - the loader's credentials: the users' passwords (one for
 * all, with "%u" for the user name, or a file per user) and the digest
 * answers built from them (RFC 3261 §22.2, §22.3; RFC 7616).  The
 * struct sip_auth_client of a user is the caller's (the engine keeps
 * one per user and frees it).
 */
#ifndef LOADER_LOADCRED_H
#define LOADER_LOADCRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loadcfg.h"

struct buf;
/*
 * Loads "user password" lines (or "user:password") for the users of
 * cfg into cfg->passwords.  Returns 0, ENOENT (unreadable), EBADMSG
 * (a line without a password; logged with file:line), ENOMEM.
 */
int loadcred_passwords_load(struct loadcfg *cfg, const char *path);
void loadcred_passwords_free(struct loadcfg *cfg);

/* The password of user num (name user) into out.  Returns 0, ENOENT
 * (none configured), EOVERFLOW. */
int loadcred_user_password(const struct loadcfg *cfg, uint32_t num, char *out,
			   size_t size);

struct sip_auth_client;
struct sip_msg;

/*
 * Takes the challenge of msg (a 401 or 407) into *auth for user num,
 * made from the user's name and password on first use; tries is how
 * many challenges this request has answered already.  Returns 0 (send
 * again with *auth), EPROTO (no challenge, or a third), EACCES (a second
 * challenge that is not stale: the credentials were refused), or an
 * errno from the name, the password or the auth module.
 */
int loadcred_answer(const struct loadcfg *cfg, uint32_t num,
		    struct sip_auth_client **auth, unsigned tries,
		    const struct sip_msg *msg);

struct buf;
struct sip_txn_dest;

/*
 * Appends to b the credentials of method to uri when *auth can answer
 * and this request answered a challenge (tries) or cfg preloads them:
 * "Proxy-Authorization" with proxy, else "Authorization".  Returns 0 or
 * the error of printing them.
 */
int loadcred_header(struct buf *b, const struct loadcfg *cfg,
		    struct sip_auth_client *auth, unsigned tries, bool proxy,
		    const char *method, const char *uri);

#endif
