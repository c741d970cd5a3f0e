/*
 * docs/metrics.md is the contract of the live metrics; the shipped
 * Grafana dashboard (docs/grafana/sipstone.json) must query only the
 * names it lists (a histogram's _bucket, _count and _sum included), and
 * every name it lists must be on the dashboard.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "test.h"

#define MAX_NAMES 32

struct names {
	char name[MAX_NAMES][64];
	bool histogram[MAX_NAMES];
	bool used[MAX_NAMES];
	size_t n;
};

static bool name_char(char c)
{
	return islower((unsigned char)c) || isdigit((unsigned char)c) ||
	       c == '_';
}

/* Rows "| `sipstone_x` | type | ..." of the contract's table. */
static void contract_names(struct names *c)
{
	char path[600], *text, *line, *save = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/docs/metrics.md", test_root_dir());
	text = test_read_file(path, &len);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[64], type[32];

		if (sscanf(line, "| `%63[a-z0-9_]` | %31[a-z] |", name,
			   type) != 2 ||
		    strncmp(name, "sipstone_", 9))
			continue;
		ASSERT(c->n < MAX_NAMES);
		snprintf(c->name[c->n], sizeof(c->name[0]), "%s", name);
		c->histogram[c->n] = !strcmp(type, "histogram");
		c->n++;
	}
	free(text);
}

/* Marks the contract name an identifier of an expression stands for;
 * false when it stands for none. */
static bool use_name(struct names *c, const char *id)
{
	static const char *const suffixes[] = {"_bucket", "_count", "_sum"};

	for (size_t i = 0; i < c->n; i++) {
		size_t l = strlen(c->name[i]);

		if (strncmp(id, c->name[i], l))
			continue;
		if (!id[l]) {
			c->used[i] = true;
			return true;
		}
		for (size_t s = 0; c->histogram[i] && s < 3; s++)
			if (!strcmp(id + l, suffixes[s])) {
				c->used[i] = true;
				return true;
			}
	}
	return false;
}

static void check_exprs(json_t *j, struct names *c, size_t *nexpr)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_array(j)) {
		json_array_foreach(j, i, v) check_exprs(v, c, nexpr);
		return;
	}
	if (!json_is_object(j))
		return;
	json_object_foreach(j, key, v)
	{
		const char *e, *p;

		if (strcmp(key, "expr") || !json_is_string(v)) {
			check_exprs(v, c, nexpr);
			continue;
		}
		(*nexpr)++;
		e = json_string_value(v);
		for (p = e; (p = strstr(p, "sipstone_"));) {
			char id[96];
			size_t l = 0;

			if (p > e && name_char(p[-1])) {
				p++;
				continue;
			}
			while (name_char(p[l]) && l < sizeof(id) - 1)
				l++;
			memcpy(id, p, l);
			id[l] = '\0';
			ASSERT_MSG(use_name(c, id),
				   "the dashboard queries %s, which "
				   "docs/metrics.md does not list (in: %s)",
				   id, e);
			p += l;
		}
	}
}

TEST(metrics_dashboard_queries_exactly_the_contract)
{
	struct names c = {0};
	char path[600];
	json_error_t jerr;
	json_t *dash;
	size_t nexpr = 0;

	contract_names(&c);
	ASSERT_MSG(c.n == 8, "docs/metrics.md lists %zu names, not 8", c.n);
	snprintf(path, sizeof(path), "%s/docs/grafana/sipstone.json",
		 test_root_dir());
	dash = json_load_file(path, 0, &jerr);
	ASSERT_MSG(dash, "%s:%d:%d: %s", path, jerr.line, jerr.column,
		   jerr.text);
	ASSERT(json_is_array(json_object_get(dash, "panels")));
	check_exprs(dash, &c, &nexpr);
	ASSERT(nexpr >= 8);
	for (size_t i = 0; i < c.n; i++)
		ASSERT_MSG(c.used[i], "the dashboard does not show %s",
			   c.name[i]);
	json_decref(dash);
}
