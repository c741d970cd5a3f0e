/*
 * fixture.h - fixtures kept as files under tests/data/ with
 * placeholders that one test fills in:
 *
 *	@PORTn@	(n one digit) a port free on 127.0.0.1 right now, the same
 *		one wherever @PORTn@ with that n stands in the file;
 *	@ROOT@ @TMP@ @BIN@  test_root_dir(), test_tmp_dir(), test_bin_dir();
 *	@KEY@	a value the caller gives (KEY: upper case letters, digits
 *		and '_').
 *
 * A placeholder the caller gives no value for fails the test, so that a
 * fixture never reaches a program half filled.
 */
#ifndef SIPSTONE_TEST_FIXTURE_H
#define SIPSTONE_TEST_FIXTURE_H

#include <stdarg.h>
#include <stdint.h>

/*
 * Reads tests/data/<fixture>, fills its placeholders and writes the text
 * to dst in the test's directory; returns dst's path (as
 * test_write_file()).  The variable arguments are pairs of strings,
 * "KEY", "value", ending with NULL.  Fails the test if it cannot.
 */
const char *fixture_write(const char *dst, const char *fixture, ...)
	__attribute__((sentinel));

/* The same with the pairs as a va_list. */
const char *fixture_vwrite(const char *dst, const char *fixture, va_list ap);

/* The port that the last fixture_write() gave @PORTn@ (0: none). */
uint16_t fixture_port(unsigned n);

#endif
