/*
 * location.h - the location service: address-of-record -> contacts
 * (RFC 3261 §10.3), an in-memory table sharded by AOR with a mutex per
 * shard, shared by every worker thread.
 *
 * AORs are "user@domain" strings as the registrar builds them.  Times
 * are Unix seconds, passed in so that tests drive expiry.  Expired
 * bindings are invisible at once and freed by location_sweep(), which
 * visits a bounded number of buckets per call (no pauses).
 */
#ifndef SIPSTONE_LOCATION_H
#define SIPSTONE_LOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl.h"
#include "sip_msg.h"

#define LOCATION_URI_MAX 256
#define LOCATION_CALLID_MAX 128
#define LOCATION_AOR_MAX 160
/* Contacts kept per AOR; a REGISTER past it gets 403 (see registrar). */
#define LOCATION_CONTACTS_MAX 16

struct location;

/* One binding, copied out of the table (no pointer into it). */
struct location_contact {
	char uri[LOCATION_URI_MAX];
	char call_id[LOCATION_CALLID_MAX];
	uint32_t cseq;
	uint16_t q;	       /* q-value times 1000 (1.0 = 1000) */
	uint64_t expires;      /* absolute Unix seconds */
	enum sip_transport tp; /* the transport it registered over */
};

/* A change to the table, for persistence (see location_change_h). */
struct location_change {
	char aor[LOCATION_AOR_MAX];
	struct location_contact c;
	bool removed; /* deleted (expires 0, '*' or swept) */
};

/*
 * Called with every change made by location_update() and
 * location_sweep() (under the shard lock: keep it short, copy).
 */
typedef void(location_change_h)(const struct location_change *ch, void *arg);

/*
 * Creates a table with nshards shards (rounded up to a power of two, 0:
 * 64).  Returns 0, ENOMEM.  Free with location_free().
 */
int location_alloc(struct location **locp, unsigned nshards);
void location_free(struct location *loc);

/* Sets the change hook (before workers start). */
void location_set_change_handler(struct location *loc, location_change_h *h,
				 void *arg);

/* One contact in a REGISTER. */
struct location_update_contact {
	struct pl uri;
	uint32_t expires; /* seconds; 0 removes */
	uint16_t q;
};

enum location_result {
	LOCATION_OK = 0,
	LOCATION_OUT_OF_ORDER, /* same Call-ID, CSeq not higher (§10.3 7) */
	LOCATION_TOO_MANY,     /* past LOCATION_CONTACTS_MAX */
};

/*
 * Applies one REGISTER to aor atomically (RFC 3261 §10.3 steps 6-7):
 * remove_all ('*' with Expires 0) removes every binding, else each
 * contact is added, refreshed or removed.  Then copies up to max of the
 * current live bindings into out (may be NULL) and their number into
 * *n.  Returns 0 with *res, or EINVAL (aor or a value too long) /
 * ENOMEM.  Nothing changes unless *res is LOCATION_OK.
 */
int location_update(struct location *loc, const struct pl *aor,
		    const struct pl *call_id, uint32_t cseq,
		    enum sip_transport tp, bool remove_all,
		    const struct location_update_contact *c, size_t nc,
		    uint64_t now, enum location_result *res,
		    struct location_contact *out, size_t max, size_t *n);

/*
 * Copies up to max live bindings of aor into out, highest q first.
 * Returns how many there are (may exceed max); 0 when none.
 * *known is set when the AOR has a record at all (even expired).
 */
size_t location_lookup(struct location *loc, const struct pl *aor,
		       uint64_t now, struct location_contact *out, size_t max,
		       bool *known);

/*
 * Inserts a binding as it is (reloading from the database); no change
 * event.  Returns 0, EINVAL, ENOMEM.
 */
int location_load(struct location *loc, const struct pl *aor,
		  const struct location_contact *c);

/*
 * Puts back the n bindings prev of aor as they were (a snapshot from
 * location_lookup() taken before a location_update() whose write-through
 * commit failed): every current binding of aor is dropped first.  No
 * change event (the database kept its old rows).  A REGISTER for the
 * same AOR between the snapshot and the undo is undone too.  Returns 0,
 * EINVAL, ENOMEM (then some of prev may be missing).
 */
int location_restore(struct location *loc, const struct pl *aor,
		     const struct location_contact *prev, size_t n);

/*
 * Frees expired bindings in the next `buckets` buckets of the table
 * (round robin over all shards).  Returns how many were removed.
 */
size_t location_sweep(struct location *loc, uint64_t now, size_t buckets);

/* Bindings stored (live or not yet swept), and AORs. */
uint64_t location_bindings(struct location *loc);
uint64_t location_aors(struct location *loc);

#endif
