/*
 * Interface: see net.h ("offload metadata"). The checks that received
 * metadata (struct tern_net_meta, virtio_net_hdr's fields) must pass
 * before the stack believes it, and the software segmentation that turns
 * a TSO frame into the frames a wire carries. Both read only what lies
 * inside the frame: every offset is bounds-checked first.
 */
#include <string.h>

#include "net_internal.h"

#define TCP_CSUM_OFF 16
#define UDP_CSUM_OFF 6
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

/* The IPv4 header of frame: its length and protocol, or false. */
static bool ipv4_of(const uint8_t *frame, size_t len, size_t *ihl, uint8_t *proto,
                    size_t *total)
{
    if (len < TERN_ETH_HLEN + TERN_IPV4_HLEN || tern_load_be16(frame + 12) != ETHERTYPE_IPV4)
        return false;
    const uint8_t *ip = frame + TERN_ETH_HLEN;
    size_t h = (size_t)(ip[0] & 15) * 4;
    size_t t = tern_load_be16(ip + 2);
    if ((ip[0] >> 4) != 4 || h < TERN_IPV4_HLEN || t < h || TERN_ETH_HLEN + t > len)
        return false;
    *ihl = h;
    *proto = ip[9];
    *total = t;
    return true;
}

static bool csum_place_ok(const uint8_t *frame, size_t len, const struct tern_net_meta *m)
{
    size_t ihl, total;
    uint8_t proto;
    if (!ipv4_of(frame, len, &ihl, &proto, &total))
        return false;
    if (m->csum_start != TERN_ETH_HLEN + ihl)
        return false;
    if (proto == TERN_IP_PROTO_TCP)
        return m->csum_offset == TCP_CSUM_OFF && ihl + 20 <= total;
    if (proto == TERN_IP_PROTO_UDP)
        return m->csum_offset == UDP_CSUM_OFF && ihl + 8 <= total;
    return false;
}

/* GSO_TCPV4: an IPv4 packet, not a fragment, carrying a whole TCP header. */
static bool gso_tcp_ok(const uint8_t *frame, size_t len, const struct tern_net_meta *m,
                       size_t *out_hdr, size_t *out_payload)
{
    size_t ihl, total;
    uint8_t proto;
    if (m->gso_size == 0 || !ipv4_of(frame, len, &ihl, &proto, &total) ||
        proto != TERN_IP_PROTO_TCP)
        return false;
    const uint8_t *ip = frame + TERN_ETH_HLEN;
    if (tern_load_be16(ip + 6) & 0x3fff) /* MF or an offset */
        return false;
    if (ihl + 20 > total)
        return false;
    size_t thl = (size_t)(ip[ihl + 12] >> 4) * 4;
    if (thl < 20 || ihl + thl > total)
        return false;
    *out_hdr = TERN_ETH_HLEN + ihl + thl;
    *out_payload = total - ihl - thl;
    return true;
}

tern_result tern_net_meta_check(const uint8_t *frame, size_t len, const struct tern_net_meta *m,
                                uint32_t offloads)
{
    if (m->flags & ~(TERN_NET_META_NEEDS_CSUM | TERN_NET_META_DATA_VALID))
        return TERN_EINVAL;
    if (m->gso_type != TERN_NET_GSO_NONE && m->gso_type != TERN_NET_GSO_TCPV4)
        return TERN_EINVAL;
    if (m->flags == 0 && m->gso_type == TERN_NET_GSO_NONE)
        return TERN_OK; /* an ordinary frame; the other fields mean nothing */
    if (!(offloads & TERN_NET_OFFLOAD_RX_CSUM))
        return TERN_EINVAL;
    if ((m->flags & TERN_NET_META_NEEDS_CSUM) && !csum_place_ok(frame, len, m))
        return TERN_EINVAL;
    if (m->gso_type == TERN_NET_GSO_TCPV4) {
        size_t hdr, payload;
        if (!(offloads & TERN_NET_OFFLOAD_RX_LARGE) || !gso_tcp_ok(frame, len, m, &hdr, &payload))
            return TERN_EINVAL;
        /* a coalesced frame's checksum is never checked: it must be vouched for */
        if (!(m->flags & (TERN_NET_META_NEEDS_CSUM | TERN_NET_META_DATA_VALID)))
            return TERN_EINVAL;
    }
    return TERN_OK;
}

/* Stores the L4 checksum of the segment [l4, l4 + l4len) of an IPv4
 * packet ip (field at l4 + off), computed from scratch. */
static void l4_csum(uint8_t *ip, uint8_t *l4, size_t l4len, size_t off, uint8_t proto)
{
    tern_store_be16(l4 + off, 0);
    uint32_t sum = tern_csum_pseudo_ipv4(tern_load_be32(ip + 12), tern_load_be32(ip + 16), proto,
                                         (uint16_t)l4len);
    uint16_t c = tern_csum_finish(tern_csum_add(sum, l4, l4len));
    if (c == 0 && proto == TERN_IP_PROTO_UDP)
        c = 0xffff;
    tern_store_be16(l4 + off, c);
}

tern_result tern_net_gso_segment(const uint8_t *frame, size_t len, const struct tern_net_meta *m,
                                 uint8_t *out, size_t cap, tern_net_emit_fn emit, void *arg)
{
    struct tern_net_meta none = { 0 };
    if (m == NULL)
        m = &none;
    uint32_t all = TERN_NET_OFFLOAD_RX_CSUM | TERN_NET_OFFLOAD_RX_LARGE;
    if (tern_net_meta_check(frame, len, m, all) != TERN_OK)
        return TERN_EINVAL;
    if (m->gso_type == TERN_NET_GSO_NONE) {
        if (len > cap)
            return TERN_EINVAL;
        memcpy(out, frame, len);
        if (m->flags & TERN_NET_META_NEEDS_CSUM) {
            uint8_t *ip = out + TERN_ETH_HLEN;
            size_t total = tern_load_be16(ip + 2);
            size_t ihl = (size_t)(ip[0] & 15) * 4;
            l4_csum(ip, ip + ihl, total - ihl, m->csum_offset, ip[9]);
        }
        emit(arg, out, len);
        return TERN_OK;
    }
    size_t hdr, payload;
    if (!gso_tcp_ok(frame, len, m, &hdr, &payload))
        return TERN_EINVAL;
    size_t seg = m->gso_size;
    if (cap < hdr + (payload < seg ? payload : seg))
        return TERN_EINVAL;
    const uint8_t *ip0 = frame + TERN_ETH_HLEN;
    size_t ihl = (size_t)(ip0[0] & 15) * 4;
    uint16_t id = tern_load_be16(ip0 + 4);
    uint32_t seq = tern_load_be32(ip0 + ihl + 4);
    uint8_t flags = ip0[ihl + 13];
    size_t off = 0;
    unsigned k = 0;
    do {
        size_t n = payload - off < seg ? payload - off : seg;
        bool last = off + n == payload;
        memcpy(out, frame, hdr);
        memcpy(out + hdr, frame + hdr + off, n);
        uint8_t *ip = out + TERN_ETH_HLEN;
        uint8_t *th = ip + ihl;
        size_t thl = hdr - TERN_ETH_HLEN - ihl;
        tern_store_be16(ip + 2, (uint16_t)(ihl + thl + n));
        tern_store_be16(ip + 4, (uint16_t)(id + k));
        tern_store_be16(ip + 10, 0);
        tern_store_be16(ip + 10, tern_csum_finish(tern_csum_add(0, ip, ihl)));
        tern_store_be32(th + 4, seq + (uint32_t)off);
        uint8_t f = flags;
        if (!last)
            f &= (uint8_t)~(TCP_FIN | TCP_PSH);
        if (k > 0)
            f &= (uint8_t)~TCP_CWR;
        th[13] = f;
        l4_csum(ip, th, thl + n, TCP_CSUM_OFF, TERN_IP_PROTO_TCP);
        emit(arg, out, hdr + n);
        off += n;
        k++;
    } while (off < payload);
    return TERN_OK;
}
