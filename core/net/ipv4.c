/*
 * Interface: IPv4 (RFC 791, RFC 1122 host rules): input validation and
 * demultiplexing, fragment reassembly, routing and output with
 * fragmentation, and the IP side of the TCP seam.
 *
 * Input: version, header length, total length against the frame (shorter
 * is refused, longer is Ethernet padding and trimmed), header checksum;
 * sources that are broadcast, multicast, 0 or our own are refused (0 is
 * taken only for UDP to 255.255.255.255: a DHCP client's messages).
 * Options are accepted and skipped. We are a host, not a router:
 * packets for other addresses are dropped, never forwarded.
 *
 * Reassembly: cfg.reasm_slots slots, each with a reasm_max_bytes buffer
 * and a bitmap of 8-byte units, all allocated at init: memory is bounded
 * by construction. A datagram not complete within reasm_timeout_ms is
 * dropped. Fragments that overlap anything already received (duplicates
 * included) drop the whole datagram (as RFC 5722 does for IPv6); TCP
 * fragments at offset 8 or first TCP fragments too short for a TCP header
 * are refused (RFC 1858). When every slot is busy new datagrams are
 * refused, not older ones evicted.
 *
 * Routing: the interface whose subnet holds the destination, else the
 * first interface with a gateway. 255.255.255.255 leaves interface 0.
 * tern_ipv4_output_link skips routing and ARP: the caller names the
 * interface and the link address (a DHCP server's replies).
 */
#include <string.h>

#include "net_internal.h"

#define IP_MF 0x2000
#define IP_DF 0x4000
#define IP_OFFMASK 0x1fff

bool tern_ipv4_is_bcast(const struct tern_netif *nif, uint32_t addr)
{
    if (addr == IPV4_BROADCAST)
        return true;
    return nif->configured && nif->mask < 0xfffffffeu && addr == (nif->addr | ~nif->mask);
}

static bool bad_source(const struct tern_netif *nif, uint32_t src)
{
    if (src == 0 || (src >> 28) >= 14) /* 0.0.0.0, multicast, class E, broadcast */
        return true;
    if ((src >> 24) == 127)
        return true;
    return nif->configured && (src == nif->addr || tern_ipv4_is_bcast(nif, src));
}

static void deliver(struct tern_netif *nif, const uint8_t *hdr, const uint8_t *payload,
                    size_t len, bool to_bcast, bool l4_valid)
{
    struct tern_net *net = nif->net;
    uint8_t proto = hdr[9];
    if (proto == TERN_IP_PROTO_UDP) {
        tern_udp_input(nif, hdr, payload, len, l4_valid);
        return;
    }
    if (to_bcast) { /* only UDP may be broadcast to us (no smurf replies) */
        net->ctr.ip_drop_not_for_us++;
        return;
    }
    if (proto == TERN_IP_PROTO_ICMP) {
        tern_icmp_input(nif, hdr, payload, len);
    } else if (proto == TERN_IP_PROTO_TCP) {
        if (net->tcp_input == NULL) {
            net->ctr.tcp_drop_no_handler++;
            return;
        }
        net->ctr.tcp_rx++;
        net->tcp_input(net->tcp_arg, tern_load_be32(hdr + 12), tern_load_be32(hdr + 16), payload,
                       len, l4_valid);
    } else {
        net->ctr.ip_drop_proto++;
    }
}

/* ---- reassembly ---- */

static size_t map_bytes(const struct tern_net *net)
{
    return (net->cfg.reasm_max_bytes / 8 + 1 + 7) / 8;
}

static void reasm_release(struct tern_net *net, struct tern_reasm_slot *s)
{
    s->used = false;
    s->hlen = 0;
    s->total = s->received = 0;
    memset(s->map, 0, map_bytes(net));
}

static bool map_any(const uint8_t *map, uint32_t from, uint32_t to)
{
    for (uint32_t u = from; u < to; u++) {
        if (map[u / 8] & (1u << (u % 8)))
            return true;
    }
    return false;
}

static void map_set(uint8_t *map, uint32_t from, uint32_t to)
{
    for (uint32_t u = from; u < to; u++)
        map[u / 8] |= (uint8_t)(1u << (u % 8));
}

static void reasm_input(struct tern_netif *nif, const uint8_t *hdr, size_t hlen,
                        const uint8_t *payload, size_t flen, bool to_bcast)
{
    struct tern_net *net = nif->net;
    net->ctr.frag_rx++;
    uint16_t frag = tern_load_be16(hdr + 6);
    bool mf = (frag & IP_MF) != 0;
    uint32_t off = (uint32_t)(frag & IP_OFFMASK) * 8;
    uint8_t proto = hdr[9];
    uint32_t src = tern_load_be32(hdr + 12), dst = tern_load_be32(hdr + 16);
    uint16_t id = tern_load_be16(hdr + 4);

    if (flen == 0 || (mf && flen % 8 != 0) ||
        (proto == TERN_IP_PROTO_TCP && (off == 8 || (off == 0 && flen < 20)))) {
        net->ctr.frag_drop_bad++;
        return;
    }
    struct tern_reasm_slot *s = NULL, *free_slot = NULL;
    for (uint32_t i = 0; i < net->cfg.reasm_slots; i++) {
        struct tern_reasm_slot *c = &net->reasm[i];
        if (!c->used) {
            if (free_slot == NULL)
                free_slot = c;
        } else if (c->src == src && c->dst == dst && c->id == id && c->proto == proto) {
            s = c;
            break;
        }
    }
    uint32_t end = off + (uint32_t)flen;
    if (end > net->cfg.reasm_max_bytes) {
        net->ctr.frag_drop_too_big++;
        if (s)
            reasm_release(net, s);
        return;
    }
    if (s == NULL) {
        if (free_slot == NULL) {
            net->ctr.frag_drop_no_slot++;
            return;
        }
        s = free_slot;
        s->used = true;
        s->src = src;
        s->dst = dst;
        s->id = id;
        s->proto = proto;
        s->netif = (uint8_t)(nif - net->ifs);
        s->deadline_ms = tern_net_now_ms(net) + net->cfg.reasm_timeout_ms;
        tern_net_tick_arm(net, s->deadline_ms);
    }
    uint32_t u_from = off / 8, u_to = (end + 7) / 8;
    if (map_any(s->map, u_from, u_to)) {
        net->ctr.frag_drop_overlap++;
        reasm_release(net, s);
        return;
    }
    if (!mf) {
        if (s->total != 0 || map_any(s->map, u_to, net->cfg.reasm_max_bytes / 8 + 1)) {
            net->ctr.frag_drop_bad++; /* a second end, or data past this end */
            reasm_release(net, s);
            return;
        }
        s->total = end;
    } else if (s->total != 0 && end > s->total) {
        net->ctr.frag_drop_bad++;
        reasm_release(net, s);
        return;
    }
    if (off == 0) {
        memcpy(s->hdr, hdr, hlen);
        s->hlen = (uint8_t)hlen;
    }
    memcpy(s->buf + off, payload, flen);
    map_set(s->map, u_from, u_to);
    s->received += (uint32_t)flen;
    if (s->total == 0 || s->received != s->total || s->hlen == 0)
        return;

    if (s->hlen + s->total > 65535) {
        net->ctr.frag_drop_too_big++;
        reasm_release(net, s);
        return;
    }
    /* Complete: the first fragment's header, describing the whole. */
    net->ctr.frag_reassembled++;
    uint8_t *h = s->hdr;
    tern_store_be16(h + 2, (uint16_t)(s->hlen + s->total));
    tern_store_be16(h + 6, (uint16_t)(tern_load_be16(h + 6) & IP_DF));
    tern_store_be16(h + 10, 0);
    tern_store_be16(h + 10, tern_csum_finish(tern_csum_add(0, h, s->hlen)));
    deliver(nif, h, s->buf, s->total, to_bcast, false);
    reasm_release(net, s);
}

uint64_t tern_reasm_tick(struct tern_net *net, uint64_t now_ms)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < net->cfg.reasm_slots; i++) {
        struct tern_reasm_slot *s = &net->reasm[i];
        if (!s->used)
            continue;
        if (s->deadline_ms <= now_ms) {
            net->ctr.frag_timeout++;
            reasm_release(net, s);
        } else if (s->deadline_ms < next) {
            next = s->deadline_ms;
        }
    }
    return next;
}

/* ---- input ---- */

void tern_ipv4_input(struct tern_netif *nif, const uint8_t *pkt, size_t len, bool link_bcast,
                     bool l4_valid)
{
    (void)link_bcast;
    struct tern_net *net = nif->net;
    net->ctr.ip_rx++;
    if (len < TERN_IPV4_HLEN) {
        net->ctr.ip_drop_short++;
        return;
    }
    if ((pkt[0] >> 4) != 4) {
        net->ctr.ip_drop_version++;
        return;
    }
    size_t hlen = (size_t)(pkt[0] & 15) * 4;
    if (hlen < TERN_IPV4_HLEN || hlen > len) {
        net->ctr.ip_drop_hlen++;
        return;
    }
    size_t total = tern_load_be16(pkt + 2);
    if (total < hlen || total > len) {
        net->ctr.ip_drop_len++;
        return;
    }
    if (tern_csum_finish(tern_csum_add(0, pkt, hlen)) != 0) {
        net->ctr.ip_drop_checksum++;
        return;
    }
    uint32_t src = tern_load_be32(pkt + 12), dst = tern_load_be32(pkt + 16);
    /* 0.0.0.0 may send only UDP to 255.255.255.255: a DHCP client with no
     * address yet (RFC 1122 3.2.1.3, RFC 2131 4.1), for a DHCP server. */
    bool dhcp_client = src == 0 && dst == IPV4_BROADCAST && pkt[9] == TERN_IP_PROTO_UDP;
    if (bad_source(nif, src) && !dhcp_client) {
        net->ctr.ip_drop_bad_src++;
        return;
    }
    bool to_bcast = tern_ipv4_is_bcast(nif, dst);
    bool for_us = to_bcast || (nif->configured && dst == nif->addr);
    /* Unconfigured, a DHCP offer may come unicast to the offered address. */
    if (!for_us && !nif->configured && pkt[9] == TERN_IP_PROTO_UDP && (dst >> 28) < 14)
        for_us = true;
    if (!for_us) {
        net->ctr.ip_drop_not_for_us++;
        return;
    }
    uint16_t frag = tern_load_be16(pkt + 6);
    if (frag & (IP_MF | IP_OFFMASK)) {
        /* what a device vouched for was one fragment, not the datagram */
        reasm_input(nif, pkt, hlen, pkt + hlen, total - hlen, to_bcast);
        return;
    }
    deliver(nif, pkt, pkt + hlen, total - hlen, to_bcast, l4_valid);
}

/* ---- output ---- */

static tern_result route(struct tern_net *net, uint32_t dst, struct tern_netif **out_nif,
                         uint32_t *out_nexthop)
{
    if (net->if_count == 0)
        return TERN_ENOENT;
    if (dst == IPV4_BROADCAST) {
        *out_nif = &net->ifs[0];
        *out_nexthop = dst;
        return TERN_OK;
    }
    for (unsigned i = 0; i < net->if_count; i++) {
        struct tern_netif *nif = &net->ifs[i];
        if (nif->configured && (dst & nif->mask) == (nif->addr & nif->mask)) {
            *out_nif = nif;
            *out_nexthop = dst;
            return TERN_OK;
        }
    }
    for (unsigned i = 0; i < net->if_count; i++) {
        struct tern_netif *nif = &net->ifs[i];
        if (nif->configured && nif->gw != 0) {
            *out_nif = nif;
            *out_nexthop = nif->gw;
            return TERN_OK;
        }
    }
    return TERN_ENOENT;
}

tern_result tern_net_source_addr(struct tern_net *net, uint32_t dst, uint32_t *out)
{
    struct tern_netif *nif;
    uint32_t nexthop;
    if (dst == 0 || dst == IPV4_BROADCAST || route(net, dst, &nif, &nexthop) != TERN_OK ||
        !nif->configured)
        return TERN_ENOENT;
    *out = nif->addr;
    return TERN_OK;
}

static uint16_t pmtu_lookup(struct tern_net *net, uint32_t dst, uint16_t if_mtu)
{
    uint64_t now = tern_net_now_ms(net);
    for (unsigned i = 0; i < TERN_PMTU_ENTRIES; i++) {
        struct tern_pmtu_entry *e = &net->pmtu[i];
        if (e->mtu != 0 && e->dst == dst) {
            if (e->expires_ms <= now) {
                e->mtu = 0;
                break;
            }
            return e->mtu < if_mtu ? e->mtu : if_mtu;
        }
    }
    return if_mtu;
}

uint16_t tern_net_path_mtu(void *ctx, uint32_t dst)
{
    struct tern_net *net = ctx;
    struct tern_netif *nif;
    uint32_t nexthop;
    if (route(net, dst, &nif, &nexthop) != TERN_OK)
        return 576;
    return pmtu_lookup(net, dst, nif->mtu);
}

/* A 20-byte IPv4 header (no options) at ip, checksum included. */
static void put_ipv4_header(uint8_t *ip, const struct tern_net *net, size_t total, uint16_t id,
                            uint16_t frag, uint8_t proto, uint32_t src, uint32_t dst)
{
    ip[0] = 0x45;                                     /* version 4, 20-byte header */
    ip[1] = 0;                                        /* DSCP/ECN */
    tern_store_be16(ip + 2, (uint16_t)total);
    tern_store_be16(ip + 4, id);
    tern_store_be16(ip + 6, frag);                    /* DF, MF, offset / 8 */
    ip[8] = net->cfg.ttl;
    ip[9] = proto;
    tern_store_be16(ip + 10, 0);
    tern_store_be32(ip + 12, src);
    tern_store_be32(ip + 16, dst);
    tern_store_be16(ip + 10, tern_csum_finish(tern_csum_add(0, ip, TERN_IPV4_HLEN)));
}

/* Copies [from, from+n) of the concatenation a|b to out. */
static void copy_parts(uint8_t *out, const uint8_t *a, size_t alen, const uint8_t *b,
                       size_t from, size_t n)
{
    if (from < alen) {
        size_t k = alen - from < n ? alen - from : n;
        memcpy(out, a + from, k);
        out += k;
        n -= k;
        from = alen;
    }
    if (n > 0)
        memcpy(out, b + (from - alen), n);
}

/* The TCP checksum of the segment (tlen bytes at tcp) whose field holds
 * the folded pseudo-header sum: left to the interface's device when it has
 * TX_CSUM (p carries NEEDS_CSUM), else completed here. */
static void finish_tcp_partial(const struct tern_netif *nif, struct tern_pbuf *p, uint8_t *tcp,
                               size_t tlen)
{
    if (nif->offloads & TERN_NET_OFFLOAD_TX_CSUM) {
        p->csum_start = (uint16_t)(tcp - p->data);
        p->csum_offset = 16;
    } else {
        tern_store_be16(tcp + 16, tern_csum_finish(tern_csum_add(0, tcp, tlen)));
    }
}

/* Where one packet goes: out of nif to nexthop (resolved by ARP), or to
 * the link address mac when not NULL (no ARP). */
struct ip_hop {
    struct tern_netif *nif;
    uint32_t nexthop;
    const uint8_t *mac;
};

static tern_result ip_send(struct tern_net *net, const struct ip_hop *hop, uint32_t src,
                           uint32_t dst, uint8_t proto, bool df, const void *hdr, size_t hlen,
                           const void *data, size_t len, bool partial);

/* tern_net_ip_output; partial: a TCP segment with its checksum to finish
 * (df, so never fragmented). */
static tern_result ip_output(struct tern_net *net, uint32_t src, uint32_t dst, uint8_t proto,
                             bool df, const void *hdr, size_t hlen, const void *data, size_t len,
                             bool partial)
{
    struct ip_hop hop = { NULL, 0, NULL };
    if (route(net, dst, &hop.nif, &hop.nexthop) != TERN_OK) {
        net->ctr.ip_tx_drop_no_route++;
        return TERN_ENOENT;
    }
    struct tern_netif *nif = hop.nif;
    if (src == 0) {
        if (!nif->configured && dst != IPV4_BROADCAST) {
            net->ctr.ip_tx_drop_no_route++;
            return TERN_ENOENT;
        }
        src = nif->configured ? nif->addr : 0;
    }
    return ip_send(net, &hop, src, dst, proto, df, hdr, hlen, data, len, partial);
}

tern_result tern_ipv4_output_link(struct tern_netif *nif, const uint8_t *mac, uint32_t src,
                                  uint32_t dst, uint8_t proto, const void *hdr, size_t hlen,
                                  const void *data, size_t len)
{
    struct ip_hop hop = { nif, dst, mac };
    return ip_send(nif->net, &hop, src, dst, proto, false, hdr, hlen, data, len, false);
}

static tern_result ip_send(struct tern_net *net, const struct ip_hop *hop, uint32_t src,
                           uint32_t dst, uint8_t proto, bool df, const void *hdr, size_t hlen,
                           const void *data, size_t len, bool partial)
{
    struct tern_netif *nif = hop->nif;
    size_t plen = hlen + len;
    if (plen > 65535 - TERN_IPV4_HLEN)
        return TERN_EINVAL;
    uint16_t mtu = df ? pmtu_lookup(net, dst, nif->mtu) : nif->mtu;
    if (df && plen + TERN_IPV4_HLEN > mtu) {
        net->ctr.ip_tx_drop_too_big++;
        return TERN_EINVAL;
    }
    net->ctr.ip_tx++;
    uint16_t id = net->ip_id++;
    size_t max_frag = ((size_t)mtu - TERN_IPV4_HLEN) & ~(size_t)7;
    size_t off = 0;
    do {
        size_t n = plen - off;
        bool more = false;
        if (n > max_frag) {
            n = max_frag;
            more = true;
        }
        struct tern_pbuf *p = tern_pbuf_alloc(&net->pool);
        if (p == NULL) {
            net->ctr.ip_tx_drop_no_pbuf++;
            return TERN_AGAIN;
        }
        uint8_t *f = p->data;
        memcpy(f + 6, nif->mac, TERN_MAC_LEN);
        tern_store_be16(f + 12, ETHERTYPE_IPV4);
        uint8_t *ip = f + TERN_ETH_HLEN;
        put_ipv4_header(ip, net, TERN_IPV4_HLEN + n, id,
                        (uint16_t)((df ? IP_DF : 0) | (more ? IP_MF : 0) | (off / 8)), proto, src,
                        dst);
        copy_parts(ip + TERN_IPV4_HLEN, hdr, hlen, data, off, n);
        if (partial)
            finish_tcp_partial(nif, p, ip + TERN_IPV4_HLEN, n);
        p->len = (uint16_t)(TERN_ETH_HLEN + TERN_IPV4_HLEN + n);
        if (p->len < 60) { /* Ethernet minimum; IP total length says what is real */
            memset(f + p->len, 0, 60u - p->len);
            p->len = 60;
        }
        if (more || off > 0)
            net->ctr.ip_tx_fragments++;
        if (hop->mac) {
            memcpy(f, hop->mac, TERN_MAC_LEN);
            tern_net_link_send(nif, p); /* takes p */
        } else {
            tern_result r = tern_arp_output(nif, hop->nexthop, p); /* takes p */
            if (r != TERN_OK)
                return r;
        }
        off += n;
    } while (off < plen);
    return TERN_OK;
}

tern_result tern_net_ip_output(struct tern_net *net, uint32_t src, uint32_t dst, uint8_t proto,
                               bool df, const void *hdr, size_t hlen, const void *data,
                               size_t len)
{
    return ip_output(net, src, dst, proto, df, hdr, hlen, data, len, false);
}

/* ---- TCP seam ---- */

void tern_net_set_tcp_hooks(struct tern_net *net, tern_net_tcp_input_fn input,
                            tern_net_tcp_icmp_fn icmp, void *arg)
{
    net->tcp_input = input;
    net->tcp_icmp = icmp;
    net->tcp_arg = arg;
}

tern_result tern_net_tcp_output(void *ctx, uint32_t src, uint32_t dst, const void *segment,
                                size_t len)
{
    return tern_net_ip_output(ctx, src, dst, TERN_IP_PROTO_TCP, true, segment, len, NULL, 0);
}

tern_result tern_net_tcp_output_partial(void *ctx, uint32_t src, uint32_t dst,
                                        const void *segment, size_t len)
{
    if (len < 20)
        return TERN_EINVAL;
    return ip_output(ctx, src, dst, TERN_IP_PROTO_TCP, true, segment, len, NULL, 0, true);
}

/* ---- TCP segmentation offload ---- */

#define TSO_OFFLOADS (TERN_NET_OFFLOAD_TX_CSUM | TERN_NET_OFFLOAD_TX_TSO4)

uint32_t tern_net_tso_max(void *ctx, uint32_t dst)
{
    struct tern_net *net = ctx;
    struct tern_netif *nif;
    uint32_t nexthop;
    uint8_t mac[TERN_MAC_LEN];
    if (net->tso_buf == NULL || route(net, dst, &nif, &nexthop) != TERN_OK ||
        (nif->offloads & TSO_OFFLOADS) != TSO_OFFLOADS || !nif->configured)
        return 0;
    /* Unresolved: the ordinary path sends (and resolves) this time; a
     * 64 KiB frame never waits in an ARP queue of MTU-sized pbufs. */
    if (!tern_arp_lookup(nif, nexthop, mac))
        return 0;
    return 65535 - TERN_IPV4_HLEN;
}

tern_result tern_net_tcp_output_tso(void *ctx, uint32_t src, uint32_t dst, const void *segment,
                                    size_t len, uint16_t mss)
{
    struct tern_net *net = ctx;
    const uint8_t *seg = segment;
    struct tern_netif *nif;
    uint32_t nexthop;
    if (route(net, dst, &nif, &nexthop) != TERN_OK || !nif->configured) {
        net->ctr.ip_tx_drop_no_route++;
        return TERN_ENOENT;
    }
    if (src == 0)
        src = nif->addr;
    size_t thl = len >= 20 ? (size_t)(seg[12] >> 4) * 4 : 0;
    uint16_t mtu = pmtu_lookup(net, dst, nif->mtu);
    if (net->tso_buf == NULL || (nif->offloads & TSO_OFFLOADS) != TSO_OFFLOADS || thl < 20 ||
        thl > len || len > 65535 - TERN_IPV4_HLEN || mss == 0 ||
        TERN_IPV4_HLEN + thl + mss > mtu) {
        net->ctr.ip_tx_drop_too_big++;
        return TERN_EINVAL;
    }
    uint8_t *f = net->tso_buf;
    if (!tern_arp_lookup(nif, nexthop, f))
        return TERN_AGAIN; /* aged out since tso_max: TCP treats it as loss */
    memcpy(f + 6, nif->mac, TERN_MAC_LEN);
    tern_store_be16(f + 12, ETHERTYPE_IPV4);
    size_t payload = len - thl;
    uint32_t nseg = payload > mss ? (uint32_t)((payload + mss - 1) / mss) : 1;
    uint8_t *ip = f + TERN_ETH_HLEN;
    put_ipv4_header(ip, net, TERN_IPV4_HLEN + len, net->ip_id, IP_DF, TERN_IP_PROTO_TCP, src,
                    dst);
    net->ip_id = (uint16_t)(net->ip_id + nseg); /* the device numbers segments id, id + 1, ... */
    memcpy(ip + TERN_IPV4_HLEN, seg, len);
    size_t flen = TERN_ETH_HLEN + TERN_IPV4_HLEN + len;
    struct tern_net_meta meta = {
        .flags = TERN_NET_META_NEEDS_CSUM,
        .gso_type = nseg > 1 ? TERN_NET_GSO_TCPV4 : TERN_NET_GSO_NONE,
        .hdr_len = (uint16_t)(TERN_ETH_HLEN + TERN_IPV4_HLEN + thl),
        .gso_size = nseg > 1 ? mss : 0,
        .csum_start = TERN_ETH_HLEN + TERN_IPV4_HLEN,
        .csum_offset = 16,
    };
    struct tern_os *os = net->os;
    net->ctr.ip_tx++;
    tern_result r = os->plat.ops->net_send_meta(os->plat.ctx, nif->dev, f, flen, &meta);
    if (r == TERN_OK) {
        net->ctr.tx_frames++;
        net->ctr.tx_bytes += flen;
        net->ctr.tx_tso_frames++;
        net->ctr.tx_tso_segments += nseg;
    } else if (r == TERN_AGAIN) {
        net->ctr.tx_drop_device_busy++;
    } else {
        net->ctr.tx_drop_device_error++;
    }
    return r;
}
