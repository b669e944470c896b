/*
 * Interface: see net.h. The stack's set-up, the device poller, the
 * housekeeping timer, Ethernet demultiplexing and the counters.
 */
#include <string.h>

#include "tern/fmt.h"
#include "net_internal.h"

void tern_net_config_default(struct tern_net_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->pbufs = 256;
    cfg->arp_entries = 64;
    cfg->arp_queue = 4;
    cfg->arp_reachable_ms = 60000;
    cfg->arp_retry_ms = 1000;
    cfg->arp_tries = 3;
    cfg->reasm_slots = 4;
    cfg->reasm_max_bytes = 65515;
    cfg->reasm_timeout_ms = 30000;
    cfg->udp_sockets = 16;
    cfg->udp_queue = 16;
    cfg->icmp_errors_per_s = 20;
    cfg->pmtu_lifetime_ms = 600000;
    cfg->ttl = 64;
}

uint64_t tern_net_now_ms(const struct tern_net *net)
{
    return tern_now_ms(net->os);
}

static void on_tick(struct tern_timer *t, void *arg)
{
    (void)t;
    struct tern_net *net = arg;
    uint64_t now = tern_net_now_ms(net);
    uint64_t next = tern_reasm_tick(net, now);
    for (unsigned i = 0; i < net->if_count; i++) {
        uint64_t d = tern_arp_tick(&net->ifs[i], now);
        if (d < next)
            next = d;
    }
    if (next != UINT64_MAX)
        tern_net_tick_arm(net, next);
}

void tern_net_tick_arm(struct tern_net *net, uint64_t deadline_ms)
{
    uint64_t ns = deadline_ms * 1000000u;
    if (tern_timer_armed(&net->tick) && net->tick.deadline_ns <= ns)
        return;
    if (tern_timer_arm(net->os, &net->tick, ns) != TERN_OK)
        tern_log(net->os, TERN_LOG_ERROR, "net", "timer heap full: housekeeping delayed");
}

static void net_poll(struct tern_os *os, void *arg, uint64_t ready)
{
    struct tern_net *net = arg;
    const struct tern_platform_ops *ops = os->plat.ops;
    for (unsigned i = 0; i < net->if_count; i++) {
        struct tern_netif *nif = &net->ifs[i];
        if (!(ready & TERN_READY_NET(nif->dev)))
            continue;
        /* Drain, but bounded per step so one busy device cannot starve
         * the loop; an undrained device keeps its ready bit. */
        bool with_meta = (nif->offloads & (TERN_NET_OFFLOAD_RX_CSUM | TERN_NET_OFFLOAD_RX_LARGE)) != 0;
        for (unsigned n = 0; n < 256; n++) {
            size_t len = 0;
            struct tern_net_meta meta = { 0 };
            tern_result r = with_meta ? ops->net_recv_meta(os->plat.ctx, nif->dev, net->rx_buf,
                                                           net->rx_cap, &len, &meta)
                                      : ops->net_recv(os->plat.ctx, nif->dev, net->rx_buf,
                                                      net->rx_cap, &len);
            if (r == TERN_AGAIN)
                break;
            if (r == TERN_EINVAL) {
                net->ctr.rx_drop_oversize++;
                continue;
            }
            if (r != TERN_OK)
                break;
            tern_net_input_meta(net, i, net->rx_buf, len, with_meta ? &meta : NULL);
        }
    }
}

tern_result tern_net_init(struct tern_net *net, struct tern_os *os,
                          const struct tern_net_config *cfg)
{
    memset(net, 0, sizeof(*net));
    net->os = os;
    if (cfg)
        net->cfg = *cfg;
    else
        tern_net_config_default(&net->cfg);
    const struct tern_net_config *c = &net->cfg;
    if (c->pbufs == 0 || c->arp_entries == 0 || c->arp_tries == 0 || c->reasm_slots == 0 ||
        c->reasm_max_bytes < 576 || c->reasm_max_bytes > 65515 || c->ttl == 0)
        return TERN_EINVAL;

    const struct tern_platform_ops *ops = os->plat.ops;
    unsigned count = ops->net_count(os->plat.ctx);
    if (count > TERN_NET_MAX_IFS)
        return TERN_EINVAL;
    if (count > 0 && (!ops->net_info || !ops->net_send || !ops->net_recv))
        return TERN_EINVAL;
    uint16_t max_mtu = 1500;
    uint32_t any_offloads = 0;
    for (unsigned i = 0; i < count; i++) {
        struct tern_netif *nif = &net->ifs[i];
        struct tern_net_info info;
        if (ops->net_info(os->plat.ctx, i, &info) != TERN_OK || info.mtu < 576 ||
            info.mtu > 65000)
            return TERN_EINVAL;
        nif->net = net;
        nif->dev = i;
        memcpy(nif->mac, info.mac, TERN_MAC_LEN);
        nif->mtu = info.mtu;
        /* An offload needs its call, TSO needs checksum offload, large
         * receive needs checksum vouching: otherwise the device is wrong. */
        uint32_t off = info.offloads;
        if ((off & ~(TERN_NET_OFFLOAD_TX_CSUM | TERN_NET_OFFLOAD_TX_TSO4 |
                     TERN_NET_OFFLOAD_RX_CSUM | TERN_NET_OFFLOAD_RX_LARGE)) ||
            ((off & (TERN_NET_OFFLOAD_TX_CSUM | TERN_NET_OFFLOAD_TX_TSO4)) && !ops->net_send_meta) ||
            ((off & (TERN_NET_OFFLOAD_RX_CSUM | TERN_NET_OFFLOAD_RX_LARGE)) && !ops->net_recv_meta) ||
            ((off & TERN_NET_OFFLOAD_TX_TSO4) && !(off & TERN_NET_OFFLOAD_TX_CSUM)) ||
            ((off & TERN_NET_OFFLOAD_RX_LARGE) && !(off & TERN_NET_OFFLOAD_RX_CSUM)))
            return TERN_EINVAL;
        nif->offloads = off;
        any_offloads |= off;
        tern_snprintf(nif->name, sizeof(nif->name), "net%u", i);
        nif->arp = tern_calloc(os, c->arp_entries, sizeof(*nif->arp));
        if (nif->arp == NULL)
            return TERN_ENOMEM;
        nif->arp_count = c->arp_entries;
        for (uint32_t k = 0; k < c->arp_entries; k++)
            tern_list_init(&nif->arp[k].queue);
        if (info.mtu > max_mtu)
            max_mtu = info.mtu;
    }
    net->if_count = count;

    /* A pbuf holds one whole frame of the largest interface. */
    uint16_t buf_size = (uint16_t)((max_mtu + TERN_ETH_HLEN + 63) & ~63u);
    tern_result r = tern_pbuf_pool_init(&net->pool, os, c->pbufs, buf_size);
    if (r != TERN_OK)
        return r;
    /* Large receive and TSO each cost one 64 KiB buffer per stack (not
     * per device: frames are handled one at a time). */
    net->rx_cap = (any_offloads & TERN_NET_OFFLOAD_RX_LARGE) ? TERN_NET_LARGE_FRAME : buf_size;
    net->rx_buf = tern_alloc(os, net->rx_cap);
    if (any_offloads & TERN_NET_OFFLOAD_TX_TSO4) {
        net->tso_buf = tern_alloc(os, TERN_NET_LARGE_FRAME);
        if (net->tso_buf == NULL)
            return TERN_ENOMEM;
    }
    net->reasm = tern_calloc(os, c->reasm_slots, sizeof(*net->reasm));
    if (net->rx_buf == NULL || net->reasm == NULL)
        return TERN_ENOMEM;
    size_t map_bytes = (c->reasm_max_bytes / 8 + 1 + 7) / 8;
    for (uint32_t i = 0; i < c->reasm_slots; i++) {
        net->reasm[i].buf = tern_alloc(os, c->reasm_max_bytes);
        net->reasm[i].map = tern_calloc(os, 1, map_bytes);
        if (net->reasm[i].buf == NULL || net->reasm[i].map == NULL)
            return TERN_ENOMEM;
    }
    if (c->udp_sockets > 0) {
        net->udp = tern_calloc(os, c->udp_sockets, sizeof(*net->udp));
        if (net->udp == NULL)
            return TERN_ENOMEM;
    }
    tern_udp_init(net);

    uint16_t rnd[2];
    if (tern_entropy(os, rnd, sizeof(rnd), "net",
                     "the IP id and ephemeral port seeds (the stack does not start)") != TERN_OK)
        return TERN_EIO;
    net->ip_id = rnd[0];
    net->next_ephemeral = (uint16_t)(49152 + rnd[1] % 16384);

    tern_timer_init(&net->tick, on_tick, net);
    net->poller.mask = 0;
    for (unsigned i = 0; i < count; i++)
        net->poller.mask |= TERN_READY_NET(i);
    net->poller.poll = net_poll;
    net->poller.arg = net;
    if (count > 0)
        tern_os_add_poller(os, &net->poller);
    return TERN_OK;
}

tern_result tern_net_set_addr(struct tern_net *net, unsigned ifidx, uint32_t addr,
                              uint32_t mask, uint32_t gw)
{
    if (ifidx >= net->if_count)
        return TERN_ENOENT;
    struct tern_netif *nif = &net->ifs[ifidx];
    if (addr == 0) {
        nif->configured = false;
        nif->addr = nif->mask = nif->gw = 0;
        tern_arp_flush(nif);
        return TERN_OK;
    }
    /* mask must be contiguous ones; the address neither network nor
     * broadcast of a subnet wider than /31; gw on-link. */
    if ((~mask & (~mask + 1)) != 0 || mask == 0)
        return TERN_EINVAL;
    if ((addr >> 24) == 0 || (addr >> 24) == 127 || (addr >> 28) >= 14)
        return TERN_EINVAL;
    if (mask < 0xfffffffeu && ((addr & ~mask) == 0 || (addr & ~mask) == ~mask))
        return TERN_EINVAL;
    if (gw != 0 && ((gw & mask) != (addr & mask) || gw == addr))
        return TERN_EINVAL;
    bool changed = !nif->configured || nif->addr != addr;
    if (changed)
        tern_arp_flush(nif);
    nif->addr = addr;
    nif->mask = mask;
    nif->gw = gw;
    nif->configured = true;
    if (changed)
        tern_arp_send_request(nif, addr); /* gratuitous: announce, refresh peers */
    return TERN_OK;
}

static bool mac_is_ours_or_bcast(const struct tern_netif *nif, const uint8_t *dst, bool *bcast)
{
    static const uint8_t all[TERN_MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    *bcast = memcmp(dst, all, TERN_MAC_LEN) == 0;
    return *bcast || memcmp(dst, nif->mac, TERN_MAC_LEN) == 0;
}

void tern_net_input(struct tern_net *net, unsigned ifidx, const void *frame, size_t len)
{
    tern_net_input_meta(net, ifidx, frame, len, NULL);
}

void tern_net_input_meta(struct tern_net *net, unsigned ifidx, const void *frame, size_t len,
                         const struct tern_net_meta *meta)
{
    if (ifidx >= net->if_count)
        return;
    struct tern_netif *nif = &net->ifs[ifidx];
    const uint8_t *f = frame;
    net->ctr.rx_frames++;
    net->ctr.rx_bytes += len;
    if (len < TERN_ETH_HLEN) {
        net->ctr.rx_drop_runt++;
        return;
    }
    bool l4_valid = false, large = false;
    if (meta && (meta->flags || meta->gso_type)) {
        if (tern_net_meta_check(f, len, meta, nif->offloads) != TERN_OK) {
            net->ctr.rx_drop_bad_meta++;
            return;
        }
        l4_valid = true; /* meta_check admits only metadata that vouches */
        large = meta->gso_type == TERN_NET_GSO_TCPV4;
    }
    if (len > (large ? TERN_NET_LARGE_FRAME : (size_t)nif->mtu + TERN_ETH_HLEN)) {
        net->ctr.rx_drop_oversize++;
        return;
    }
    if (large)
        net->ctr.rx_large_frames++;
    if (l4_valid)
        net->ctr.rx_csum_vouched++;
    bool bcast;
    if (!mac_is_ours_or_bcast(nif, f, &bcast)) {
        net->ctr.rx_drop_not_for_us++;
        return;
    }
    uint16_t type = tern_load_be16(f + 12);
    if (type == ETHERTYPE_IPV4)
        tern_ipv4_input(nif, f + TERN_ETH_HLEN, len - TERN_ETH_HLEN, bcast, l4_valid);
    else if (type == ETHERTYPE_ARP && !l4_valid)
        tern_arp_input(nif, f + TERN_ETH_HLEN, len - TERN_ETH_HLEN);
    else
        net->ctr.rx_drop_ethertype++;
}

void tern_net_link_send(struct tern_netif *nif, struct tern_pbuf *p)
{
    struct tern_net *net = nif->net;
    struct tern_os *os = net->os;
    tern_result r;
    if (p->csum_start) {
        struct tern_net_meta meta = { .flags = TERN_NET_META_NEEDS_CSUM,
                                      .csum_start = p->csum_start,
                                      .csum_offset = p->csum_offset };
        r = os->plat.ops->net_send_meta(os->plat.ctx, nif->dev, p->data + p->off, p->len, &meta);
        if (r == TERN_OK)
            net->ctr.tx_csum_offloaded++;
    } else {
        r = os->plat.ops->net_send(os->plat.ctx, nif->dev, p->data + p->off, p->len);
    }
    if (r == TERN_OK) {
        net->ctr.tx_frames++;
        net->ctr.tx_bytes += p->len;
    } else if (r == TERN_AGAIN) {
        net->ctr.tx_drop_device_busy++;
    } else {
        net->ctr.tx_drop_device_error++;
    }
    tern_pbuf_free(&net->pool, p);
}

static const char *const counter_names[] = {
#define TERN_NET_COUNTER_NAME(name, doc) #name,
    TERN_NET_COUNTERS(TERN_NET_COUNTER_NAME)
#undef TERN_NET_COUNTER_NAME
};

bool tern_net_counter(const struct tern_net *net, unsigned i, const char **name,
                      uint64_t *value)
{
    const size_t n = sizeof(counter_names) / sizeof(counter_names[0]);
    if (i >= n)
        return false;
    /* The struct is TERN_NET_COUNTERS in order, all uint64_t. */
    const uint64_t *vals = (const uint64_t *)(const void *)&net->ctr;
    *name = counter_names[i];
    *value = vals[i];
    return true;
}

uint32_t tern_net_pbufs_free(const struct tern_net *net)
{
    return net->pool.available;
}

static unsigned prefix_len(uint32_t mask)
{
    unsigned n = 0;
    while (n < 32 && (mask & (0x80000000u >> n)))
        n++;
    return n;
}

tern_result tern_net_announce(struct tern_net *net, unsigned ifidx, const char *via)
{
    if (ifidx >= net->if_count)
        return TERN_ENOENT;
    const struct tern_netif *nif = &net->ifs[ifidx];
    if (!nif->configured)
        return TERN_EINVAL;
    char ip[16], gw[16];
    tern_ipv4_format(nif->addr, ip);
    tern_ipv4_format(nif->gw, gw);
    tern_marker(net->os, "TERN_NET_UP", "if=%s ip=%s/%u gw=%s mtu=%u via=%s", nif->name, ip,
                prefix_len(nif->mask), gw, (unsigned)nif->mtu, via);
    return TERN_OK;
}
