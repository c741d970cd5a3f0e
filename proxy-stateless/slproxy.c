/* slproxy.c - workers, prober and counters together (slproxy.h). */
#define LOG_MODULE "proxy-stateless"
#include "slproxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "obj.h"
#include "slfwd.h"
#include "slprobe.h"

struct slproxy {
	const struct slcfg *cfg;
	struct dispatch_set set; /* shared by workers and prober */
	struct sip_tp_addr listen[SLCFG_MAX_LISTEN];
	struct sip_tp_tls *tls_server;
	struct sip_tp_tls *tls_client;
	struct slfwd *workers[SLCFG_MAX_WORKERS];
	unsigned nworkers;
	struct slprobe *probe;
};

static int tls_setup(struct slproxy *px)
{
	const struct slcfg *cfg = px->cfg;
	struct sip_tp_tls_opts o = {0};
	unsigned i;
	int err = 0;

	if (!slcfg_uses(cfg, SIP_TP_TLS))
		return 0;
	o.cert_file = cfg->tls_cert[0] ? cfg->tls_cert : NULL;
	o.key_file = cfg->tls_key[0] ? cfg->tls_key : NULL;
	o.ca_file = cfg->tls_ca[0] ? cfg->tls_ca : NULL;
	o.no_verify = cfg->tls_no_verify;
	for (i = 0; i < cfg->nlisten; i++) {
		if (cfg->listen[i].proto == SIP_TP_TLS) {
			/* Clients are not asked for certificates. */
			struct sip_tp_tls_opts so = o;

			so.ca_file = NULL;
			err = sip_tp_tls_alloc(&px->tls_server, false, &so);
			break;
		}
	}
	if (!err)
		err = sip_tp_tls_alloc(&px->tls_client, true, &o);
	return err;
}

int slproxy_alloc(struct slproxy **pxp, const struct slcfg *cfg, struct ev *ev)
{
	struct slproxy *px;
	unsigned i;
	int err;

	px = calloc(1, sizeof(*px));
	if (!px)
		return ENOMEM;
	px->cfg = cfg;
	px->set = cfg->next;
	memcpy(px->listen, cfg->listen, sizeof(px->listen));
	err = tls_setup(px);
	if (err)
		goto out;
	for (i = 0; i < cfg->workers; i++) {
		err = slfwd_alloc(&px->workers[i], i, cfg, px->listen,
				  &px->set, px->tls_server, px->tls_client);
		if (err)
			goto out;
		px->nworkers++;
	}
	if (cfg->probe_interval_ms) {
		err = slprobe_alloc(&px->probe, ev, &px->set,
				    cfg->probe_interval_ms, cfg->probe_misses,
				    px->tls_client);
		if (err)
			goto out;
	}
	for (i = 0; i < px->nworkers; i++)
		slfwd_set_peers(px->workers[i], px->workers, px->nworkers);
	for (i = 0; i < px->nworkers; i++) {
		err = slfwd_start(px->workers[i]);
		if (err) {
			log_err("cannot start worker %u: %s", i,
				strerror(err));
			goto out;
		}
	}
	*pxp = px;
	px = NULL;
out:
	slproxy_free(px);
	return err;
}

void slproxy_free(struct slproxy *px)
{
	unsigned i;

	if (!px)
		return;
	for (i = 0; i < px->nworkers; i++)
		slfwd_stop(px->workers[i]);
	for (i = 0; i < px->nworkers; i++)
		slfwd_free(px->workers[i]);
	slprobe_free(px->probe);
	obj_deref(px->tls_server);
	obj_deref(px->tls_client);
	free(px);
}

json_t *slproxy_listen_json(const struct slproxy *px)
{
	json_t *a = json_array();
	char name[SIP_TP_ADDR_STRLEN];
	unsigned i;

	for (i = 0; a && i < px->cfg->nlisten; i++)
		if (!sip_tp_addr_print(&px->listen[i], name, sizeof(name)))
			json_array_append_new(a, json_string(name));
	return a;
}

void slproxy_stats_json(const struct slproxy *px, json_t *stats)
{
	struct slfwd_stats sum, one;
	json_t *hops, *sent, *drops, *h, *fwd, *tp;
	uint64_t udp_in = 0, udp_out = 0, tcp_in = 0, tcp_out = 0;
	uint64_t tls_in = 0, tls_out = 0, tp_drops = 0;
	unsigned i, j;

	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < px->nworkers; i++) {
		const struct sip_tp_stats *ts = slfwd_tp_stats(px->workers[i]);
		const uint64_t *s = (const uint64_t *)&one;
		uint64_t *d = (uint64_t *)&sum;

		slfwd_stats_read(px->workers[i], &one);
		for (j = 0; j < sizeof(sum) / sizeof(uint64_t); j++)
			d[j] += s[j];
		udp_in += ts->msgs_in[SIP_TP_UDP];
		udp_out += ts->msgs_out[SIP_TP_UDP];
		tcp_in += ts->msgs_in[SIP_TP_TCP];
		tcp_out += ts->msgs_out[SIP_TP_TCP];
		tls_in += ts->msgs_in[SIP_TP_TLS];
		tls_out += ts->msgs_out[SIP_TP_TLS];
		tp_drops += ts->drop_parse + ts->drop_overflow + ts->drop_send;
	}
	fwd = json_pack("{s:I,s:I,s:I}", "requests", (json_int_t)sum.fwd_req,
			"responses", (json_int_t)sum.fwd_resp, "by_route",
			(json_int_t)sum.fwd_route);
	hops = json_array();
	for (i = 0; hops && i < px->set.n; i++) {
		const struct dispatch_hop *hop = &px->set.hops[i];

		h = json_pack("{s:s,s:i,s:b,s:I}", "addr", hop->name, "weight",
			      (int)hop->weight, "up",
			      dispatch_is_up(&px->set, i), "forwarded",
			      (json_int_t)sum.fwd_hop[i]);
		if (h && px->probe) {
			const struct slprobe_hop_stats *ps =
				slprobe_stats(px->probe, i);

			json_object_set_new(
				h, "probes",
				json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
					  "sent", (json_int_t)ps->sent,
					  "answered", (json_int_t)ps->answered,
					  "missed", (json_int_t)ps->missed,
					  "refused", (json_int_t)ps->refused,
					  "downs", (json_int_t)ps->downs,
					  "ups", (json_int_t)ps->ups, "heard",
					  (json_int_t)ps->heard));
		}
		json_array_append_new(hops, h);
	}
	sent = json_object();
	for (i = 0; sent && i < SLFWD_SENT_N; i++) {
		char k[8];

		if (slfwd_sent_status[i])
			snprintf(k, sizeof(k), "%u", slfwd_sent_status[i]);
		else
			snprintf(k, sizeof(k), "other");
		json_object_set_new(sent, k,
				    json_integer((json_int_t)sum.sent[i]));
	}
	drops = json_object();
	for (i = 0; drops && i < SLFWD_DROP_COUNT; i++)
		json_object_set_new(drops, slfwd_drop_name(i),
				    json_integer((json_int_t)sum.drop[i]));
	tp = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "udp_in",
		       (json_int_t)udp_in, "udp_out", (json_int_t)udp_out,
		       "tcp_in", (json_int_t)tcp_in, "tcp_out",
		       (json_int_t)tcp_out, "tls_in", (json_int_t)tls_in,
		       "tls_out", (json_int_t)tls_out, "drops",
		       (json_int_t)tp_drops);
	json_object_set_new(stats, "workers", json_integer(px->nworkers));
	json_object_set_new(stats, "hash",
			    json_string(dispatch_hash_name(px->cfg->hash)));
	json_object_set_new(stats, "requests_in",
			    json_integer((json_int_t)sum.req_in));
	json_object_set_new(stats, "responses_in",
			    json_integer((json_int_t)sum.resp_in));
	json_object_set_new(stats, "forwarded", fwd);
	json_object_set_new(stats, "next_hops", hops);
	json_object_set_new(stats, "answered", sent);
	json_object_set_new(stats, "drops", drops);
	json_object_set_new(stats, "passive_down",
			    json_integer((json_int_t)sum.passive_down));
	json_object_set_new(stats, "handoffs",
			    json_integer((json_int_t)sum.handoffs));
	json_object_set_new(stats, "transport", tp);
}
