/*
 * The manual pages (docs/man/<program>.1): each one is clean under
 * `mandoc -Tlint`, renders, and documents exactly the long options the
 * program's --help names: an option --help has and the page does not
 * (or the other way round) fails, by name.  --version prints "<program>
 * <version>" and exits 0.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "test.h"

#define MAX_OPTS 128

struct optset {
	char name[MAX_OPTS][48];
	size_t n;
};

static const char *const programs[] = {"orchestrator", "loader", "callhandler",
				       "proxy-stateless", "proxy-stateful"};

static void optset_add(struct optset *s, const char *p, size_t len)
{
	if (len >= sizeof(s->name[0]))
		return;
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->name[i]) == len && !memcmp(s->name[i], p, len))
			return;
	ASSERT(s->n < MAX_OPTS);
	memcpy(s->name[s->n], p, len);
	s->name[s->n][len] = '\0';
	s->n++;
}

static bool optset_has(const struct optset *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return true;
	return false;
}

static bool opt_char(char c)
{
	return islower((unsigned char)c) || isdigit((unsigned char)c) ||
	       c == '-';
}

/* Every "--name" in text (a usage message). */
static void options_of_help(const char *text, struct optset *s)
{
	for (const char *p = text; (p = strstr(p, "--")); p += 2) {
		size_t len = 2;

		if (p > text && (opt_char(p[-1]) || p[-1] == '/'))
			continue;
		while (opt_char(p[len]))
			len++;
		if (len > 2 && p[2] != '-')
			optset_add(s, p, len);
	}
}

/* The options a page documents: ".It Fl -name ..." lines (mdoc's Fl
 * adds one dash), every "Fl -word" on such a line. */
static void options_of_page(char *text, struct optset *s)
{
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *p = line;

		if (strncmp(line, ".It ", 4))
			continue;
		while ((p = strstr(p, "Fl -"))) {
			char name[48];
			size_t len = 0;

			p += 3;
			while (opt_char(p[len]) && len < sizeof(name) - 2)
				len++;
			name[0] = '-';
			memcpy(name + 1, p, len);
			optset_add(s, name, len + 1);
			p += len;
		}
	}
}

static char *run_output(const char *const argv[], const char *log, int want)
{
	size_t len;
	int rc;

	unlink(log);
	rc = proc_run(argv, log, 10000);
	ASSERT_MSG(rc == want, "%s %s: exit %d, expected %d", argv[0], argv[1],
		   rc, want);
	return test_read_file(log, &len);
}

/* "N\bNA\bA..." (bold as the terminal draws it) to "NA...". */
static void strip_overstrike(char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++)
		if (r[1] != '\b')
			*w++ = *r;
		else
			r++;
	*w = '\0';
}

static void need_mandoc(void)
{
	if (system("command -v mandoc >/dev/null 2>&1") != 0)
		test_skip("no mandoc: run scripts/install-deps");
}

TEST_TIMEOUT(manpages_match_help_options, 30)
{
	need_mandoc();
	for (size_t k = 0; k < sizeof(programs) / sizeof(programs[0]); k++) {
		char bin[600], page[600], *help, *text;
		const char *help_argv[] = {bin, "--help", NULL};
		struct optset h = {0}, m = {0};
		size_t len;

		snprintf(bin, sizeof(bin), "%s/%s", test_bin_dir(),
			 programs[k]);
		snprintf(page, sizeof(page), "%s/docs/man/%s.1",
			 test_root_dir(), programs[k]);
		help = run_output(help_argv, "help.log", 0);
		options_of_help(help, &h);
		text = test_read_file(page, &len);
		options_of_page(text, &m);
		ASSERT_MSG(h.n >= 5, "%s --help names %zu options",
			   programs[k], h.n);
		for (size_t i = 0; i < h.n; i++)
			ASSERT_MSG(optset_has(&m, h.name[i]),
				   "%s: --help has %s, the page %s does not",
				   programs[k], h.name[i], page);
		for (size_t i = 0; i < m.n; i++)
			ASSERT_MSG(optset_has(&h, m.name[i]),
				   "%s: the page %s documents %s, --help "
				   "does not",
				   programs[k], page, m.name[i]);
		ASSERT_MSG(optset_has(&h, "--version"),
			   "%s --help does not name --version", programs[k]);
		free(help);
		free(text);
	}
}

TEST_TIMEOUT(manpages_are_lint_clean_and_render, 30)
{
	need_mandoc();
	for (size_t k = 0; k < sizeof(programs) / sizeof(programs[0]); k++) {
		char page[600], name[80], *out;
		const char *lint[] = {"mandoc", "-Tlint", "-Wwarning", page,
				      NULL};
		const char *render[] = {"mandoc", "-Tascii", page, NULL};

		snprintf(page, sizeof(page), "%s/docs/man/%s.1",
			 test_root_dir(), programs[k]);
		out = run_output(lint, "lint.log", 0);
		ASSERT_MSG(!out[0], "mandoc -Tlint %s: %s", page, out);
		free(out);
		out = run_output(render, "render.log", 0);
		strip_overstrike(out);
		snprintf(name, sizeof(name), "%s - ", programs[k]);
		ASSERT_MSG(strstr(out, "NAME") && strstr(out, name) &&
				   strstr(out, "SYNOPSIS") &&
				   strstr(out, "--version"),
			   "%s renders without NAME, SYNOPSIS or --version",
			   page);
		free(out);
	}
}

/* The version the build generated (build/gen/), or "" without one. */
static void built_version(char *out, size_t size)
{
	char path[600], *text, *q;
	size_t len;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/build/gen/sipstone_version.h",
		 test_root_dir());
	if (access(path, R_OK))
		return;
	text = test_read_file(path, &len);
	q = strchr(text, '"');
	if (q && strchr(q + 1, '"'))
		snprintf(out, size, "%.*s", (int)(strchr(q + 1, '"') - q - 1),
			 q + 1);
	free(text);
}

TEST_TIMEOUT(version_option_prints_program_and_version, 30)
{
	char version[128];

	built_version(version, sizeof(version));
	for (size_t k = 0; k < sizeof(programs) / sizeof(programs[0]); k++) {
		char bin[600], want[80], *out;
		const char *argv[] = {bin, "--version", NULL};
		size_t n;

		snprintf(bin, sizeof(bin), "%s/%s", test_bin_dir(),
			 programs[k]);
		out = run_output(argv, "version.log", 0);
		n = (size_t)snprintf(want, sizeof(want), "%s ", programs[k]);
		ASSERT_MSG(!strncmp(out, want, n) && out[n] &&
				   !isspace((unsigned char)out[n]) &&
				   strchr(out, '\n') == out + strlen(out) - 1,
			   "%s --version printed \"%s\"", programs[k], out);
		out[strlen(out) - 1] = '\0';
		if (version[0])
			ASSERT_MSG(!strcmp(out + n, version),
				   "%s --version says %s, the build %s",
				   programs[k], out + n, version);
		free(out);
	}
}
