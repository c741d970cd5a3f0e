/*
 * loadcred.c - the loader's passwords and digest answers (see
 * loadcred.h).
 */
#include "loadcred.h"

#define LOG_MODULE "loadcred"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "loadmsg.h"
#include "log.h"
#include "sip_auth.h"
#include "sip_msg.h"

int loadcred_header(struct buf *b, const struct loadcfg *cfg,
		    struct sip_auth_client *auth, unsigned tries, bool proxy,
		    const char *method, const char *uri)
{
	struct pl m, u;
	int err;

	if (!auth || !sip_auth_client_ready(auth) || !(tries || cfg->preload))
		return 0;
	pl_set_str(&m, method);
	pl_set_str(&u, uri);
	err = buf_append_str(b, proxy ? "Proxy-Authorization: "
				      : "Authorization: ");
	if (!err)
		err = sip_auth_client_print(auth, b, &m, &u);
	if (!err)
		err = buf_append_str(b, "\r\n");
	return err;
}

static int password_of(const struct loadcfg *cfg, uint32_t num,
		       const char *user, char *out, size_t size)
{
	const char *p = cfg->password;
	size_t o = 0;

	if (cfg->passwords) {
		const char *pw;

		/* the file's users are those of the range */
		if (num < cfg->ufirst || num > cfg->ulast)
			return ENOENT;
		pw = cfg->passwords[num - cfg->ufirst];

		if (!pw)
			return ENOENT;
		p = pw;
		if (strlen(p) >= size)
			return EOVERFLOW;
		memcpy(out, p, strlen(p) + 1);
		return 0;
	}
	if (!*p)
		return ENOENT;
	for (; *p; p++) {
		if (p[0] == '%' && p[1] == 'u') {
			size_t l = strlen(user);

			if (o + l >= size)
				return EOVERFLOW;
			memcpy(out + o, user, l);
			o += l;
			p++;
			continue;
		}
		if (o + 1 >= size)
			return EOVERFLOW;
		out[o++] = *p;
	}
	out[o] = '\0';
	return 0;
}

int loadcred_user_password(const struct loadcfg *cfg, uint32_t num, char *out,
			   size_t size)
{
	char user[LOADCFG_NAME_MAX * 2];
	int err = loadcfg_user_name(cfg, num, user, sizeof(user));

	return err ? err : password_of(cfg, num, user, out, size);
}

void loadcred_passwords_free(struct loadcfg *cfg)
{
	uint64_t i, n = (uint64_t)cfg->ulast - cfg->ufirst + 1;

	if (!cfg->passwords)
		return;
	for (i = 0; i < n; i++)
		free(cfg->passwords[i]);
	free(cfg->passwords);
	cfg->passwords = NULL;
}

int loadcred_passwords_load(struct loadcfg *cfg, const char *path)
{
	uint64_t n = (uint64_t)cfg->ulast - cfg->ufirst + 1;
	char line[512], name[LOADCFG_NAME_MAX * 2];
	unsigned lineno = 0;
	FILE *f;
	int err = 0;

	f = fopen(path, "r");
	if (!f)
		return ENOENT;
	loadcred_passwords_free(cfg);
	cfg->passwords = calloc((size_t)n, sizeof(char *));
	if (!cfg->passwords) {
		fclose(f);
		return ENOMEM;
	}
	while (fgets(line, sizeof(line), f)) {
		char *u = line, *pw, *end;
		uint64_t i;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		while (isspace((unsigned char)*u))
			u++;
		if (!*u || *u == '#')
			continue;
		pw = u + strcspn(u, " \t:");
		if (!*pw) {
			log_err("%s:%u: no password", path, lineno);
			err = EBADMSG;
			break;
		}
		*pw++ = '\0';
		while (isspace((unsigned char)*pw))
			pw++;
		end = pw + strlen(pw);
		while (end > pw && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!*pw) {
			log_err("%s:%u: no password", path, lineno);
			err = EBADMSG;
			break;
		}
		/* keep the users of the range only */
		for (i = 0; i < n; i++) {
			if (loadcfg_user_name(cfg, cfg->ufirst + (uint32_t)i,
					      name, sizeof(name)))
				continue;
			if (!strcmp(name, u))
				break;
		}
		if (i == n)
			continue;
		free(cfg->passwords[i]);
		cfg->passwords[i] = strdup(pw);
		if (!cfg->passwords[i]) {
			err = ENOMEM;
			break;
		}
	}
	fclose(f);
	if (err)
		loadcred_passwords_free(cfg);
	return err;
}

int loadcred_answer(const struct loadcfg *cfg, uint32_t num,
		    struct sip_auth_client **auth, unsigned tries,
		    const struct sip_msg *msg)
{
	const struct sip_hdr *h;
	struct sip_auth_challenge ch;
	int err;

	/* one retry, or two when the nonce went stale in between */
	if (tries >= 2)
		return EPROTO;
	h = sip_msg_hdr(msg, msg->status == 401 ? SIP_HDR_WWW_AUTHENTICATE
						: SIP_HDR_PROXY_AUTHENTICATE);
	if (!h)
		return EPROTO;
	if (!*auth) {
		char user[LOADCFG_NAME_MAX * 2], pw[256];
		struct pl pu, pp;

		err = loadcfg_user_name(cfg, num, user, sizeof(user));
		if (!err)
			err = password_of(cfg, num, user, pw, sizeof(pw));
		if (err)
			return err;
		pu = loadmsg_pl(user);
		pp = loadmsg_pl(pw);
		err = sip_auth_client_alloc(auth, &pu, &pp);
		if (err)
			return err;
	}
	err = sip_auth_challenge_decode(&ch, &h->value);
	if (err)
		return err;
	if (tries == 1 && !ch.stale)
		return EACCES; /* the credentials were refused */
	return sip_auth_client_challenge(*auth, &ch);
}
