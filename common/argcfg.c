#include "argcfg.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct args {
	char **v;
	int n, cap;
};

static int push(struct args *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		int cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, (size_t)cap * sizeof(*v));

		if (!v)
			return ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n] = strdup(s);
	if (!a->v[a->n])
		return ENOMEM;
	a->n++;
	a->v[a->n] = NULL;
	return 0;
}

/* One value as text; NULL for what cannot be a flag's value. */
static int value_text(json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, size, "%g", json_real_value(v));
	else
		return EBADMSG;
	return 0;
}

static int expand_file(struct args *a, const char *path, char *err,
		       size_t errsz)
{
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	int rc = 0;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errsz, "%s:%d:%d: %s", path, jerr.line,
			 jerr.column, jerr.text);
		return jerr.line < 0 ? ENOENT : EBADMSG;
	}
	if (!json_is_object(root)) {
		snprintf(err, errsz, "%s: expected an object of flags", path);
		json_decref(root);
		return EBADMSG;
	}
	json_object_foreach(root, key, v)
	{
		char flag[160], text[4096];

		if (!strcmp(key, "config")) {
			snprintf(err, errsz, "%s: \"config\" cannot nest",
				 path);
			rc = EBADMSG;
			break;
		}
		snprintf(flag, sizeof(flag), "--%s", key);
		if (json_is_true(v)) {
			rc = push(a, flag);
		} else if (json_is_false(v) || json_is_null(v)) {
			continue;
		} else if (json_is_array(v)) {
			size_t i;
			json_t *e;

			json_array_foreach(v, i, e)
			{
				rc = value_text(e, text, sizeof(text));
				if (!rc)
					rc = push(a, flag);
				if (!rc)
					rc = push(a, text);
				if (rc)
					break;
			}
		} else {
			rc = value_text(v, text, sizeof(text));
			if (!rc)
				rc = push(a, flag);
			if (!rc)
				rc = push(a, text);
		}
		if (rc) {
			if (rc == EBADMSG)
				snprintf(err, errsz,
					 "%s: \"%s\": expected a string, a "
					 "number, true/false or a list of "
					 "them",
					 path, key);
			break;
		}
	}
	json_decref(root);
	return rc;
}

int argcfg_expand(int argc, char **argv, int *out_argc, char ***out_argv,
		  char *err, size_t errsz)
{
	struct args a = {0};
	int rc = push(&a, argc > 0 ? argv[0] : "");

	for (int i = 1; !rc && i < argc; i++) {
		const char *file = NULL;

		if (!strcmp(argv[i], "--config")) {
			if (i + 1 >= argc) {
				snprintf(err, errsz, "--config needs a file");
				rc = EBADMSG;
				break;
			}
			file = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			file = argv[i] + 9;
		}
		rc = file ? expand_file(&a, file, err, errsz)
			  : push(&a, argv[i]);
	}
	if (rc) {
		argcfg_free(a.n, a.v);
		return rc;
	}
	*out_argc = a.n;
	*out_argv = a.v;
	return 0;
}

void argcfg_free(int argc, char **argv)
{
	if (!argv)
		return;
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

/* getopt_long's short option string: ':' first (a missing value is
 * ':', not '?'), then every single-character alias. */
static void short_opts(const struct option *opts, char *s, size_t size)
{
	size_t n = 0;

	s[n++] = ':';
	for (; opts->name && n + 2 < size; opts++)
		if (!opts->flag && opts->val > 0 && opts->val < 128) {
			s[n++] = (char)opts->val;
			if (opts->has_arg == required_argument)
				s[n++] = ':';
		}
	s[n] = '\0';
}

static int read_opts(int argc, char **argv, const struct option *opts,
		     argcfg_opt_h *h, void *arg, char *err, size_t errsz)
{
	char shorts[64];
	int c, idx, rc;

	short_opts(opts, shorts, sizeof(shorts));
	optind = 1;
	opterr = 0;
	for (;;) {
		const struct option *o = NULL;

		idx = -1;
		c = getopt_long(argc, argv, shorts, opts, &idx);
		if (c == -1)
			break;
		if (c == '?') {
			snprintf(err, errsz, "unknown option %s",
				 argv[optind - 1]);
			return EINVAL;
		}
		if (c == ':') {
			snprintf(err, errsz, "%s: missing value",
				 argv[optind - 1]);
			return EINVAL;
		}
		if (idx >= 0) {
			o = &opts[idx];
		} else {
			for (o = opts; o->name && o->val != c; o++)
				;
			if (!o->name)
				o = NULL;
		}
		if (!o) {
			snprintf(err, errsz, "unknown option %s",
				 argv[optind - 1]);
			return EINVAL;
		}
		rc = h(o->name, o->has_arg == no_argument ? NULL : optarg, arg,
		       err, errsz);
		if (rc)
			return rc;
	}
	if (optind < argc) {
		snprintf(err, errsz, "unexpected argument %s", argv[optind]);
		return EINVAL;
	}
	return 0;
}

int argcfg_parse(int argc, char **argv, const struct option *opts,
		 argcfg_opt_h *h, void *arg, char *err, size_t errsz)
{
	char **xargv = NULL;
	int xargc = 0, rc;

	if (argcfg_expand(argc, argv, &xargc, &xargv, err, errsz))
		return EINVAL;
	rc = read_opts(xargc, xargv, opts, h, arg, err, errsz);
	argcfg_free(xargc, xargv);
	return rc;
}
