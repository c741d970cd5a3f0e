#include "deploy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOG_MODULE "deploy"
#include "log.h"
#include "pki.h"
#include "workdir.h"

/* ---- phases ----------------------------------------------------------- */

int deploy_preflight(struct run *r)
{
	size_t bad = 0;
	int err;

	runctx_say(r, "[preflight] checking %s", r->t->name);
	err = preflight_run(r->t, r->inv, r->o->accept_new, &r->pf, &r->npf);
	if (err)
		return runctx_fail(r, err, "preflight: %s", strerror(err));
	for (size_t i = 0; i < r->npf; i++) {
		for (size_t k = 0; k < r->pf[i].nwarnings; k++)
			runctx_say(r, "[preflight] warning: %s",
				   r->pf[i].warnings[k]);
		for (size_t k = 0; k < r->pf[i].nproblems; k++) {
			runctx_say(r, "[preflight] problem: %s",
				   r->pf[i].problems[k]);
			fprintf(stderr, "orchestrator: %s\n",
				r->pf[i].problems[k]);
			if (!bad)
				runctx_fail(r, EHOSTUNREACH, "preflight: %s",
					    r->pf[i].problems[k]);
			bad++;
		}
	}
	if (bad)
		return EHOSTUNREACH;
	runctx_say(r, "[preflight] %zu host%s ready", r->npf,
		   r->npf == 1 ? "" : "s");
	return 0;
}

int deploy_open_hosts(struct run *r)
{
	char why[SSH_WHY_MAX];

	for (size_t i = 0; i < r->npf; i++) {
		size_t k = runctx_inventory_index(r, r->pf[i].name);
		int err;

		if (k >= r->inv->nhosts || r->hosts[k])
			continue;
		/* Preflight has already vouched for the host key. */
		err = host_open(&r->hosts[k], &r->inv->hosts[k], false, why,
				sizeof(why));
		if (err)
			return runctx_fail(r, err, "%s", why);
	}
	return 0;
}

static bool needs_tls(const struct topo *t)
{
	if (t->exp.transport == SIP_TP_TLS)
		return true;
	for (size_t i = 0; i < t->nnodes; i++)
		for (size_t l = 0; l < t->nodes[i].nlisten; l++)
			if (t->nodes[i].listen[l].tp == SIP_TP_TLS)
				return true;
	return false;
}

int deploy_put_file(struct run *r, struct host *h, const char *local,
		    const char *name)
{
	char dst[700], why[SSH_WHY_MAX];
	int err;

	if (host_is_local(h))
		return 0;
	snprintf(dst, sizeof(dst), "%s/%s", r->remote, name);
	err = host_put(h, local, dst, why, sizeof(why));
	return err ? runctx_fail(r, err, "deploying %s: %s", name, why) : 0;
}

int deploy_files(struct run *r)
{
	char why[SSH_WHY_MAX], path[800];
	int err;

	if (needs_tls(r->t)) {
		snprintf(path, sizeof(path), "%s/pki", r->work);
		err = pki_create(&r->pki, path, 2, why, sizeof(why));
		if (err)
			return runctx_fail(r, err, "%s", why);
	}
	for (size_t i = 0; i < r->inv->nhosts; i++) {
		struct host *h = r->hosts[i];
		bool progs[TOPO_ROLE_COUNT] = {false};

		if (!h)
			continue;
		if (r->pki) {
			err = pki_issue(r->pki, r->inv->hosts[i].name,
					r->inv->hosts[i].address, why,
					sizeof(why));
			if (err)
				return runctx_fail(r, err, "%s", why);
		}
		if (host_is_local(h))
			continue;
		err = workdir_remote_create(h, r->remote, why, sizeof(why));
		if (err)
			return runctx_fail(r, err, "%s", why);
		for (size_t n = 0; n < r->t->nnodes; n++)
			if (!strcmp(r->t->nodes[n].host, host_name(h)))
				progs[r->t->nodes[n].role] = true;
		for (int k = 0; k < TOPO_ROLE_COUNT; k++) {
			if (!progs[k])
				continue;
			snprintf(path, sizeof(path), "%s/%s", r->o->bin_dir,
				 runctx_program((enum topo_role)k));
			err = deploy_put_file(
				r, h, path, runctx_program((enum topo_role)k));
			if (err)
				return err;
		}
		if (r->pki) {
			static const char *const ext[] = {".pem", ".key"};

			snprintf(path, sizeof(path), "%s/pki/ca.pem", r->work);
			err = deploy_put_file(r, h, path, "ca.pem");
			for (int e = 0; !err && e < 2; e++) {
				char name[96];

				snprintf(name, sizeof(name), "%s%s",
					 host_name(h), ext[e]);
				snprintf(path, sizeof(path), "%s/pki/%s",
					 r->work, name);
				err = deploy_put_file(r, h, path, name);
			}
			if (err)
				return err;
		}
		runctx_say(r, "[deploy] %s: %s", host_name(h), r->remote);
	}
	return 0;
}

void deploy_cleanup(struct run *r)
{
	for (size_t i = 0; i < r->inv->nhosts; i++) {
		struct host *h = r->hosts[i];

		if (!h)
			continue;
		if (!host_is_local(h) && !r->o->keep_remote)
			workdir_remote_remove(h, r->remote);
		host_close(h);
		r->hosts[i] = NULL;
	}
	pki_free(r->pki);
	r->pki = NULL;
}
