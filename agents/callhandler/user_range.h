/*
 * user_range.h - the users an agent acts for, given as a range
 * "A1000-A1999" (zero-padded numbers after a prefix) or one name.
 */
#ifndef SIPSTONE_USER_RANGE_H
#define SIPSTONE_USER_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A user range "A1000-A1999" (or one name "alice"). */
struct user_range {
	char prefix[48];
	uint32_t first;
	uint32_t last;
	unsigned width; /* digits, zero-padded ("A0001-A0100": 4) */
	bool range;	/* false: prefix is the only user */
};

/*
 * Decodes a user range: PREFIX FIRST "-" LAST where FIRST and LAST are
 * decimal with the same number of digits and FIRST <= LAST, or a single
 * name with no digits range.  At most 1,000,000 users.  Returns 0 or
 * EINVAL; *u is written on success only.
 */
int user_range_decode(struct user_range *u, const char *s);

/* Number of users in the range. */
uint32_t user_range_count(const struct user_range *u);

/* Writes user i (0-based) into out.  Returns 0 or EOVERFLOW. */
int user_range_name(const struct user_range *u, uint32_t i, char *out,
		    size_t size);

#endif
