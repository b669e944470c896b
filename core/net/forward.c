/*
 * Interface: see tern/forward.h. The forwarder instance: its memory,
 * its rules and its counters; the TCP splice is in forward_tcp.c, the
 * UDP flows in forward_udp.c.
 */
#include <string.h>

#include "forward_internal.h"
#include "tern/fmt.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/tcp.h"

#define FWD_BUF_MAX (16u << 20)

void tern_fwd_config_default(struct tern_fwd_config *cfg)
{
    cfg->max_conns = 64;
    cfg->buf_bytes = 16384;
    cfg->idle_ms = 300000;
    cfg->udp_flows = 8;
    cfg->udp_idle_ms = 30000;
}

static bool ops_complete(const struct tern_fwd_host_ops *ops)
{
    return ops && ops->write && ops->shutdown && ops->close && ops->read_pause;
}

static bool config_valid(const struct tern_fwd_config *c)
{
    return c->max_conns && c->buf_bytes && c->buf_bytes <= FWD_BUF_MAX && c->idle_ms &&
           c->udp_flows && c->udp_idle_ms && c->max_conns <= 65536 && c->udp_flows <= 65536;
}

/* The pool, its buffers and the flow table from the heap. */
static tern_result take_memory(struct tern_fwd *fwd)
{
    const struct tern_fwd_config *c = &fwd->cfg;
    fwd->conns = tern_calloc(fwd->os, c->max_conns, sizeof *fwd->conns);
    fwd->bufs = tern_alloc(fwd->os, (size_t)c->max_conns * 2 * c->buf_bytes);
    fwd->flows = tern_calloc(fwd->os, c->udp_flows, sizeof *fwd->flows);
    fwd->dgram_cap = fwd->net->pool.buf_size;
    fwd->dgram = tern_alloc(fwd->os, fwd->dgram_cap);
    if (!fwd->conns || !fwd->bufs || !fwd->flows || !fwd->dgram)
        return TERN_ENOMEM;
    for (uint32_t i = 0; i < c->max_conns; i++) {
        struct tern_fwd_conn *k = &fwd->conns[i];
        k->fwd = fwd;
        k->to_guest.buf = fwd->bufs + (size_t)i * 2 * c->buf_bytes;
        k->to_host.buf = k->to_guest.buf + c->buf_bytes;
        tern_timer_init(&k->idle, fwd_conn_idle, k);
    }
    for (uint32_t i = 0; i < c->udp_flows; i++) {
        fwd->flows[i].fwd = fwd;
        tern_timer_init(&fwd->flows[i].idle, fwd_flow_idle, &fwd->flows[i]);
    }
    return TERN_OK;
}

static void give_memory(struct tern_fwd *fwd)
{
    tern_free(fwd->os, fwd->conns);
    tern_free(fwd->os, fwd->bufs);
    tern_free(fwd->os, fwd->flows);
    tern_free(fwd->os, fwd->dgram);
    fwd->conns = NULL;
    fwd->bufs = NULL;
    fwd->flows = NULL;
    fwd->dgram = NULL;
}

tern_result tern_fwd_init(struct tern_fwd *fwd, struct tern_os *os, struct tern_net *net,
                          struct tern_tcp *tcp, const struct tern_fwd_config *cfg,
                          const struct tern_fwd_host_ops *ops, void *ctx)
{
    memset(fwd, 0, sizeof *fwd);
    if (cfg)
        fwd->cfg = *cfg;
    else
        tern_fwd_config_default(&fwd->cfg);
    if (!os || !net || !ops_complete(ops) || !config_valid(&fwd->cfg))
        return TERN_EINVAL;
    fwd->os = os;
    fwd->net = net;
    fwd->tcp = tcp;
    fwd->ops = ops;
    fwd->ctx = ctx;
    tern_result r = take_memory(fwd);
    if (r != TERN_OK)
        give_memory(fwd);
    return r;
}

void tern_fwd_finish(struct tern_fwd *fwd)
{
    if (fwd->conns == NULL)
        return;
    for (uint32_t i = 0; i < fwd->cfg.max_conns; i++)
        if (fwd->conns[i].host)
            fwd_conn_end(&fwd->conns[i], TERN_ECLOSED);
    for (uint32_t i = 0; i < fwd->cfg.udp_flows; i++)
        if (fwd->flows[i].sock)
            fwd_flow_close(&fwd->flows[i]);
    give_memory(fwd);
}

tern_result tern_fwd_add_rule(struct tern_fwd *fwd, enum tern_fwd_proto proto,
                              uint32_t guest_addr, uint16_t guest_port, void *host,
                              unsigned *index)
{
    if (guest_addr == 0 || guest_port == 0 || (proto != TERN_FWD_TCP && proto != TERN_FWD_UDP))
        return TERN_EINVAL;
    if ((proto == TERN_FWD_TCP && !fwd->tcp) || (proto == TERN_FWD_UDP && !fwd->ops->udp_send))
        return TERN_EINVAL;
    if (fwd->nrules == TERN_FWD_MAX_RULES)
        return TERN_ENOSPC;
    struct tern_fwd_rule *r = &fwd->rules[fwd->nrules];
    r->proto = (uint8_t)proto;
    r->guest_addr = guest_addr;
    r->guest_port = guest_port;
    r->host = host;
    *index = fwd->nrules++;
    return TERN_OK;
}

const struct tern_fwd_rule *fwd_rule(const struct tern_fwd *fwd, unsigned rule, uint8_t proto)
{
    if (rule >= fwd->nrules || fwd->rules[rule].proto != proto)
        return NULL;
    return &fwd->rules[rule];
}

bool tern_fwd_counter(const struct tern_fwd *fwd, unsigned i, const char **name,
                      const char **doc, uint64_t *value)
{
    static const char *const names[] = {
#define NAME(n, d) #n,
        TERN_FWD_COUNTERS(NAME)
#undef NAME
    };
    static const char *const docs[] = {
#define DOC(n, d) d,
        TERN_FWD_COUNTERS(DOC)
#undef DOC
    };
    if (i >= sizeof names / sizeof names[0])
        return false;
    *name = names[i];
    if (doc)
        *doc = docs[i];
    *value = ((const uint64_t *)&fwd->stats)[i];
    return true;
}

size_t tern_fwd_status(const struct tern_fwd *fwd, char *buf, size_t cap)
{
    struct tern_json_count c[4 + sizeof(struct tern_fwd_stats) / sizeof(uint64_t)] = {
        { "rules", fwd->nrules }, { "conns", fwd->conns_open },
        { "max_conns", fwd->cfg.max_conns }, { "udp_flows", fwd->flows_open },
    };
    size_t n = 4;
    const char *name;
    uint64_t v;
    while (n < TERN_JSON_COUNTS(c) && tern_fwd_counter(fwd, (unsigned)(n - 4), &name, NULL, &v)) {
        c[n].name = name;
        c[n++].value = v;
    }
    return tern_json_object(buf, cap, ",\"forward\":{", c, n);
}
