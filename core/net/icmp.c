/*
 * Interface: ICMPv4 (RFC 792, RFC 1122 3.2.2, RFC 1191). Echo requests
 * are answered (large ones too: they arrive reassembled and the reply is
 * fragmented on the way out). Destination unreachable messages are
 * checked (checksum, a quoted IPv4 header that we sent) and handed to TCP
 * through the seam when they quote TCP; fragmentation-needed lowers the
 * path MTU towards the quoted destination (never below TERN_PMTU_MIN,
 * expiring after cfg.pmtu_lifetime_ms). Other types are counted and
 * ignored. ICMP errors we send are limited to cfg.icmp_errors_per_s.
 */
#include <string.h>

#include "net_internal.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_UNREACH_NEEDFRAG 4

void tern_pmtu_update(struct tern_net *net, uint32_t dst, uint16_t mtu)
{
    uint64_t now = tern_net_now_ms(net);
    struct tern_pmtu_entry *slot = NULL;
    for (unsigned i = 0; i < TERN_PMTU_ENTRIES && slot == NULL; i++) {
        if (net->pmtu[i].mtu != 0 && net->pmtu[i].dst == dst)
            slot = &net->pmtu[i];
    }
    for (unsigned i = 0; i < TERN_PMTU_ENTRIES && slot == NULL; i++) {
        if (net->pmtu[i].mtu == 0 || net->pmtu[i].expires_ms <= now)
            slot = &net->pmtu[i];
    }
    if (slot == NULL) { /* all busy: replace the one closest to expiry */
        slot = &net->pmtu[0];
        for (unsigned i = 1; i < TERN_PMTU_ENTRIES; i++) {
            if (net->pmtu[i].expires_ms < slot->expires_ms)
                slot = &net->pmtu[i];
        }
    }
    slot->dst = dst;
    slot->mtu = mtu;
    slot->expires_ms = now + net->cfg.pmtu_lifetime_ms;
}

static void unreach_input(struct tern_netif *nif, uint8_t code, const uint8_t *msg, size_t len)
{
    struct tern_net *net = nif->net;
    net->ctr.icmp_unreach_rx++;
    const uint8_t *q = msg + 8;
    size_t qlen = len - 8;
    if (qlen < TERN_IPV4_HLEN || (q[0] >> 4) != 4) {
        net->ctr.icmp_drop_bad_quote++;
        return;
    }
    size_t qhl = (size_t)(q[0] & 15) * 4;
    if (qhl < TERN_IPV4_HLEN || qlen < qhl + 8 || !nif->configured ||
        tern_load_be32(q + 12) != nif->addr) {
        net->ctr.icmp_drop_bad_quote++;
        return;
    }
    uint16_t next_mtu = 0;
    if (code == ICMP_UNREACH_NEEDFRAG) {
        uint32_t qdst = tern_load_be32(q + 16);
        next_mtu = tern_load_be16(msg + 6);
        if (next_mtu == 0) /* an RFC 1191 router that does not say: guess lower */
            next_mtu = (uint16_t)(tern_load_be16(q + 2) > 1006 ? 1006 : 576);
        if (next_mtu < TERN_PMTU_MIN)
            next_mtu = TERN_PMTU_MIN;
        if (next_mtu < tern_net_path_mtu(net, qdst)) {
            tern_pmtu_update(net, qdst, next_mtu);
            net->ctr.icmp_pmtu_updates++;
        }
    }
    if (q[9] == TERN_IP_PROTO_TCP && net->tcp_icmp)
        net->tcp_icmp(net->tcp_arg, ICMP_UNREACH, code, next_mtu, q, qhl + 8);
}

void tern_icmp_input(struct tern_netif *nif, const uint8_t *iphdr, const uint8_t *msg, size_t len)
{
    struct tern_net *net = nif->net;
    net->ctr.icmp_rx++;
    if (len < 8) {
        net->ctr.icmp_drop_short++;
        return;
    }
    if (tern_csum_finish(tern_csum_add(0, msg, len)) != 0) {
        net->ctr.icmp_drop_checksum++;
        return;
    }
    switch (msg[0]) {
    case ICMP_ECHO: {
        if (msg[1] != 0) {
            net->ctr.icmp_drop_type++;
            return;
        }
        uint8_t h[8];
        memcpy(h, msg, 8);
        h[0] = ICMP_ECHO_REPLY;
        tern_store_be16(h + 2, 0);
        uint32_t sum = tern_csum_add(0, h, 8);
        sum = tern_csum_add(sum, msg + 8, len - 8);
        tern_store_be16(h + 2, tern_csum_finish(sum));
        if (tern_net_ip_output(net, tern_load_be32(iphdr + 16), tern_load_be32(iphdr + 12),
                               TERN_IP_PROTO_ICMP, false, h, 8, msg + 8, len - 8) == TERN_OK)
            net->ctr.icmp_echo_replies++;
        return;
    }
    case ICMP_UNREACH:
        unreach_input(nif, msg[1], msg, len);
        return;
    default:
        net->ctr.icmp_drop_type++;
        return;
    }
}

void tern_icmp_send_unreach(struct tern_net *net, uint8_t code, const uint8_t *iphdr,
                            const uint8_t *payload, size_t len)
{
    uint64_t now = tern_net_now_ms(net);
    if (now - net->icmp_bucket_ms >= 1000) {
        net->icmp_bucket_ms = now;
        net->icmp_bucket_used = 0;
    }
    if (net->icmp_bucket_used >= net->cfg.icmp_errors_per_s) {
        net->ctr.icmp_rate_limited++;
        return;
    }
    net->icmp_bucket_used++;
    size_t ihl = (size_t)(iphdr[0] & 15) * 4;
    uint8_t m[8 + 60 + 8];
    memset(m, 0, 8);
    m[0] = ICMP_UNREACH;
    m[1] = code;
    memcpy(m + 8, iphdr, ihl);
    size_t q = len < 8 ? len : 8;
    memcpy(m + 8 + ihl, payload, q);
    size_t mlen = 8 + ihl + q;
    tern_store_be16(m + 2, tern_csum_finish(tern_csum_add(0, m, mlen)));
    if (tern_net_ip_output(net, tern_load_be32(iphdr + 16), tern_load_be32(iphdr + 12),
                           TERN_IP_PROTO_ICMP, false, m, mlen, NULL, 0) == TERN_OK)
        net->ctr.icmp_unreach_sent++;
}
