/*
 * Interface: see tern/forward.h (UDP). A flow per host peer: its own
 * Tern UDP socket, so the guest's replies name the peer by the port
 * they come back to. The table is small (cfg.udp_flows): a linear search
 * finds a peer's flow and the least recently used one to evict.
 */
#include <string.h>

#include "forward_internal.h"
#include "tern/net.h"
#include "tern/os.h"

void fwd_flow_close(struct tern_fwd_flow *fl)
{
    tern_timer_disarm(fl->fwd->os, &fl->idle);
    tern_udp_close(fl->sock);
    fl->sock = NULL;
    fl->fwd->flows_open--;
}

void fwd_flow_idle(struct tern_timer *t, void *arg)
{
    (void)t;
    struct tern_fwd_flow *fl = arg;
    struct tern_fwd *f = fl->fwd;
    uint64_t due = fl->last_ms + f->cfg.udp_idle_ms;
    if (tern_now_ms(f->os) >= due) {
        f->stats.udp_flows_expired++;
        fwd_flow_close(fl);
        return;
    }
    tern_timer_arm(f->os, &fl->idle, due * 1000000ull);
}

/* Datagrams the guest sent to the flow's socket: from guest:port back
 * to the peer, anything else dropped. */
static void on_flow_readable(struct tern_udp_sock *sock, void *arg)
{
    struct tern_fwd_flow *fl = arg;
    struct tern_fwd *f = fl->fwd;
    const struct tern_fwd_rule *r = &f->rules[fl->rule];
    size_t n;
    uint32_t src;
    uint16_t sport;
    while (tern_udp_recvfrom(sock, f->dgram, f->dgram_cap, &n, &src, &sport) == TERN_OK) {
        if (src != r->guest_addr || sport != r->guest_port) {
            f->stats.udp_foreign++;
            continue;
        }
        if (n > f->dgram_cap || f->ops->udp_send(f->ctx, r->host, &fl->peer, f->dgram, n) != TERN_OK) {
            f->stats.udp_drops++;
            continue;
        }
        f->stats.udp_to_host++;
        fl->last_ms = tern_now_ms(f->os);
    }
}

static struct tern_fwd_flow *flow_find(struct tern_fwd *f, unsigned rule,
                                       const struct tern_fwd_peer *peer)
{
    for (uint32_t i = 0; i < f->cfg.udp_flows; i++) {
        struct tern_fwd_flow *fl = &f->flows[i];
        if (fl->sock && fl->rule == rule && fl->peer.len == peer->len &&
            memcmp(fl->peer.addr, peer->addr, peer->len) == 0)
            return fl;
    }
    return NULL;
}

/* A free slot, else the least recently used flow, closed. */
static struct tern_fwd_flow *flow_slot(struct tern_fwd *f)
{
    struct tern_fwd_flow *lru = &f->flows[0];
    for (uint32_t i = 0; i < f->cfg.udp_flows; i++) {
        if (f->flows[i].sock == NULL)
            return &f->flows[i];
        if (f->flows[i].last_ms < lru->last_ms)
            lru = &f->flows[i];
    }
    f->stats.udp_flows_evicted++;
    fwd_flow_close(lru);
    return lru;
}

static struct tern_fwd_flow *flow_open(struct tern_fwd *f, unsigned rule,
                                       const struct tern_fwd_peer *peer)
{
    struct tern_fwd_flow *fl = flow_slot(f);
    if (tern_udp_open(f->net, 0, on_flow_readable, fl, &fl->sock) != TERN_OK) {
        fl->sock = NULL;
        return NULL;
    }
    fl->rule = rule;
    fl->peer = *peer;
    fl->last_ms = tern_now_ms(f->os);
    tern_timer_arm(f->os, &fl->idle, (fl->last_ms + f->cfg.udp_idle_ms) * 1000000ull);
    f->flows_open++;
    f->stats.udp_flows_opened++;
    return fl;
}

tern_result tern_fwd_udp_input(struct tern_fwd *fwd, unsigned rule,
                               const struct tern_fwd_peer *peer, const void *data, size_t len)
{
    const struct tern_fwd_rule *r = fwd_rule(fwd, rule, TERN_FWD_UDP);
    if (r == NULL || peer == NULL || peer->len == 0 || peer->len > TERN_FWD_PEER_MAX)
        return TERN_EINVAL;
    struct tern_fwd_flow *fl = flow_find(fwd, rule, peer);
    if (fl == NULL)
        fl = flow_open(fwd, rule, peer);
    if (fl == NULL) {
        fwd->stats.udp_drops++;
        return TERN_ENOSPC;
    }
    tern_result res = tern_udp_sendto(fl->sock, r->guest_addr, r->guest_port, data, len);
    if (res != TERN_OK) {
        fwd->stats.udp_drops++;
        return res;
    }
    fwd->stats.udp_to_guest++;
    fl->last_ms = tern_now_ms(fwd->os);
    return TERN_OK;
}
