/*
 * enum_name.h - an enum value's name from a table indexed by the value.
 *
 * The tables are designated initializers ([VALUE] = "name"), so a value
 * and its name stand on one line and a gap in the enum is a NULL entry.
 */
#ifndef SIPSTONE_ENUM_NAME_H
#define SIPSTONE_ENUM_NAME_H

#include <stddef.h>

/* The number of entries of a table (an array, not a pointer). */
#define ENUM_NAMES_LEN(table) (sizeof(table) / sizeof((table)[0]))

/* Returns names[value], or fallback (the caller's static string) where
 * value is past the table's n entries, negative, or has no name. */
static inline const char *enum_name(const char *const *names, size_t n,
				    long long value, const char *fallback)
{
	if (value < 0 || (unsigned long long)value >= n || !names[value])
		return fallback;
	return names[value];
}

#endif
