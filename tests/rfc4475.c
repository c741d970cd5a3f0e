/*
 * rfc4475.c - the RFC 4475 corpus for replay tests (see rfc4475.h).
 */
#include "rfc4475.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

FILE *rfc4475_open(void)
{
	char path[512];
	FILE *man;

	snprintf(path, sizeof(path), "%s/corpus/rfc4475/manifest.tsv",
		 test_shared_dir());
	man = fopen(path, "r");
	if (!man)
		test_skip("no RFC 4475 corpus at %s", path);
	return man;
}

bool rfc4475_next(FILE *man, struct rfc4475_case *c)
{
	char line[1024], path[512];

	while (fgets(line, sizeof(line), man)) {
		if (line[0] == '#' || !strncmp(line, "name\t", 5))
			continue;
		memset(c, 0, sizeof(*c));
		if (sscanf(line,
			   "%63[^\t]\t%*[^\t]\t%31[^\t]\t%7[^\t]\t%31[^\t]\t"
			   "%31[^\t]",
			   c->name, c->klass, c->liberal, c->expect_proxy,
			   c->expect_registrar) != 5)
			continue;
		snprintf(path, sizeof(path), "%s/corpus/rfc4475/%s.dat",
			 test_shared_dir(), c->name);
		c->msg = test_read_file(path, &c->len);
		return true;
	}
	return false;
}

bool rfc4475_status_ok(const char *expect, unsigned status)
{
	char tok[16];
	const char *p = expect;
	int used;

	if (!strcmp(expect, "*"))
		return true;
	if (expect[0] == '!')
		return status != (unsigned)strtoul(expect + 1, NULL, 10);
	while (sscanf(p, "%15s%n", tok, &used) == 1) {
		if (tok[1] == 'x' && status / 100 == (unsigned)(tok[0] - '0'))
			return true;
		if ((unsigned)strtoul(tok, NULL, 10) == status)
			return true;
		p += used;
	}
	return false;
}

void rfc4475_judge(const struct rfc4475_case *c, bool registrar,
		   unsigned status, bool forwarded)
{
	const char *expect = registrar ? c->expect_registrar : c->expect_proxy;
	bool invalid = !strcmp(c->klass, "invalid");

	if (!strcmp(expect, "none"))
		ASSERT_MSG(!forwarded && !status, "%s: %u, forwarded %d",
			   c->name, status, forwarded);
	else if (status)
		ASSERT_MSG(rfc4475_status_ok(expect, status) ||
				   (invalid && status >= 400),
			   "%s: answered %u, expected %s", c->name, status,
			   expect);
	else if (invalid && strcmp(expect, "*"))
		ASSERT_MSG(!forwarded, "%s forwarded", c->name);
	else if (!strcmp(c->klass, "semantic") && expect[0] != '!' &&
		 strcmp(expect, "*"))
		ASSERT_MSG(false, "%s: no %s", c->name, expect);
}
