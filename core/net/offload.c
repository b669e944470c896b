/*
 * Interface: see net.h ("offload metadata"). The checks that received
 * metadata (struct tern_net_meta, virtio_net_hdr's fields) must pass
 * before the stack believes it, the software segmentation that turns a
 * TSO frame into the frames a wire carries, and the virtio_net_hdr
 * encoding backends share. All read only what lies inside the frame:
 * every offset is bounds-checked first.
 */
#include <string.h>

#include "tern/fmt.h"

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

/* virtio 1.2, 5.1.6: struct virtio_net_hdr */
#define VNET_F_NEEDS_CSUM 1u
#define VNET_F_DATA_VALID 2u
#define VNET_GSO_NONE 0u
#define VNET_GSO_TCPV4 1u

static void store_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static uint16_t load_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

void tern_net_meta_to_vnet(uint8_t out[TERN_VNET_HDR_LEN], const struct tern_net_meta *m)
{
    memset(out, 0, TERN_VNET_HDR_LEN);
    if (m == NULL)
        return;
    out[0] = (m->flags & TERN_NET_META_NEEDS_CSUM) ? VNET_F_NEEDS_CSUM : 0;
    out[1] = m->gso_type == TERN_NET_GSO_TCPV4 ? VNET_GSO_TCPV4 : VNET_GSO_NONE;
    store_le16(out + 2, m->hdr_len);
    store_le16(out + 4, m->gso_size);
    store_le16(out + 6, m->csum_start);
    store_le16(out + 8, m->csum_offset);
}

void tern_net_meta_from_vnet(struct tern_net_meta *m, const uint8_t in[TERN_VNET_HDR_LEN])
{
    memset(m, 0, sizeof(*m));
    if (in[0] & VNET_F_NEEDS_CSUM)
        m->flags |= TERN_NET_META_NEEDS_CSUM;
    if (in[0] & VNET_F_DATA_VALID)
        m->flags |= TERN_NET_META_DATA_VALID;
    if (in[0] & ~(VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID))
        m->flags |= 0x80; /* refused by tern_net_meta_check */
    if (in[1] == VNET_GSO_TCPV4)
        m->gso_type = TERN_NET_GSO_TCPV4;
    else if (in[1] != VNET_GSO_NONE)
        m->gso_type = 0xff; /* refused by tern_net_meta_check */
    m->hdr_len = load_le16(in + 2);
    m->gso_size = load_le16(in + 4);
    m->csum_start = load_le16(in + 6);
    m->csum_offset = load_le16(in + 8);
}

void tern_net_finish_csum(uint8_t *f, size_t len, const struct tern_net_meta *m)
{
    if (!(m->flags & TERN_NET_META_NEEDS_CSUM))
        return;
    if (len >= TERN_ETH_HLEN + 4 && tern_load_be16(f + 12) == ETHERTYPE_IPV4 &&
        TERN_ETH_HLEN + (size_t)tern_load_be16(f + 16) < len)
        len = TERN_ETH_HLEN + tern_load_be16(f + 16); /* Ethernet padding is not summed */
    size_t at = (size_t)m->csum_start + m->csum_offset;
    if (m->csum_start >= len || at + 2 > len)
        return;
    tern_store_be16(f + at, tern_csum_finish(tern_csum_add(0, f + m->csum_start,
                                                           len - m->csum_start)));
}

void tern_net_offload_words(uint32_t o, char *out, size_t cap)
{
    static const struct { uint32_t bit; const char *word; } names[] = {
        { TERN_NET_OFFLOAD_TX_CSUM, "tx-csum" },
        { TERN_NET_OFFLOAD_TX_TSO4, "tso" },
        { TERN_NET_OFFLOAD_RX_CSUM, "rx-csum" },
        { TERN_NET_OFFLOAD_RX_LARGE, "rx-large" },
    };
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && n < cap; i++)
        if (o & names[i].bit)
            n += tern_snprintf(out + n, cap - n, "%s%s", n ? " " : "", names[i].word);
}
