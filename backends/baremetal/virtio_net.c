/*
 * Interface: virtio-net behind the platform net contract (see virtio.h).
 *
 * Queues 0 (receive) and 1 (transmit). Features taken: MAC, MTU (only
 * when it is at most 1500, the size the buffers are cut for), STATUS,
 * and the checksum offloads when offered: CSUM (the device completes a
 * partial TCP/UDP checksum we send, TERN_NET_OFFLOAD_TX_CSUM) and
 * GUEST_CSUM (a received frame may come with DATA_VALID or a partial
 * checksum, TERN_NET_OFFLOAD_RX_CSUM; the core checks that metadata
 * against the frame like any other input). QEMU offers both when its
 * peer is a TAP with a vnet header, neither on the user network.
 * Segmentation offloads (HOST_TSO4, GUEST_TSO4) are not taken: they need
 * 64 KiB buffers. Without MRG_RXBUF every receive buffer holds a whole
 * frame: METAL_NET_BUF (2048) bytes >= the header + 1514.
 *
 * Receive: every rx buffer is posted once at init; net_recv copies one
 * frame out and posts its buffer again at once (RX refill). Transmit:
 * the frame is copied into one of the tx buffers with its header;
 * completed transmissions are reclaimed before each send (TX completion),
 * and a full ring is TERN_AGAIN.
 */
#include <string.h>

#include "metal.h"
#include "tern/net.h"
#include "virtio.h"

#define NET_F_CSUM (1ull << 0)
#define NET_F_GUEST_CSUM (1ull << 1)
#define NET_F_MTU (1ull << 3)
#define NET_F_MAC (1ull << 5)
#define NET_F_STATUS (1ull << 16)

#define ETH_HDR 14

static tern_result post_rx(struct metal_net *n, uint16_t buf)
{
    struct virtq_buf b = { n->rx_buf + (size_t)buf * METAL_NET_BUF, METAL_NET_BUF, true };
    uint16_t head = n->rx.free_head;
    tern_result r = virtq_post(&n->v, &n->rx, &b, 1);
    if (r == TERN_OK)
        n->rx_of_head[head] = buf;
    return r;
}

tern_result virtio_net_init(struct metal *m, struct metal_net *n,
                            const struct metal_virtio_loc *where)
{
    memset(n, 0, sizeof(*n));
    tern_result r = virtio_open(m, &n->v, where,
                                NET_F_CSUM | NET_F_GUEST_CSUM | NET_F_MAC | NET_F_MTU | NET_F_STATUS);
    if (r != TERN_OK)
        return r;
    if (n->v.features & NET_F_CSUM)
        n->offloads |= TERN_NET_OFFLOAD_TX_CSUM;
    if (n->v.features & NET_F_GUEST_CSUM)
        n->offloads |= TERN_NET_OFFLOAD_RX_CSUM;
    n->hdr_len = (n->v.features & VIRTIO_F_VERSION_1) ? 12 : 10;
    if ((r = virtio_queue_setup(m, &n->v, &n->rx, 0, METAL_NET_RX)) != TERN_OK ||
        (r = virtio_queue_setup(m, &n->v, &n->tx, 1, METAL_NET_RX)) != TERN_OK) {
        virtio_fail(&n->v, "queue-setup");
        return r;
    }
    n->rx_buf = mm_alloc_pages(m, (size_t)n->rx.size * METAL_NET_BUF / 4096 + 1);
    n->tx_buf = mm_alloc_pages(m, (size_t)n->tx.size * METAL_NET_BUF / 4096 + 1);
    if (n->rx_buf == NULL || n->tx_buf == NULL) {
        virtio_fail(&n->v, "no-memory");
        return TERN_ENOMEM;
    }
    if (n->v.features & NET_F_MAC) {
        for (unsigned i = 0; i < TERN_MAC_LEN; i++)
            n->mac[i] = virtio_cfg8(&n->v, i);
    } else {
        /* locally administered, from the device's location */
        uint8_t mac[TERN_MAC_LEN] = { 0x02, 0x54, 0x45, 0x52, where->tag[0], where->tag[1] };
        memcpy(n->mac, mac, sizeof(mac));
    }
    n->mtu = 1500;
    if (n->v.features & NET_F_MTU) {
        uint16_t mtu = virtio_cfg16(&n->v, 10);
        if (mtu >= 576 && mtu <= 1500)
            n->mtu = mtu;
    }
    for (uint16_t i = 0; i < n->rx.size; i++)
        if (post_rx(n, i) != TERN_OK)
            break;
    virtio_driver_ok(m, &n->v, 2);
    virtq_kick(&n->v, &n->rx);
    return TERN_OK;
}

static void reclaim_tx(struct metal_net *n)
{
    uint16_t head;
    uint32_t len;
    while (virtq_take(&n->v, &n->tx, &head, &len) == TERN_OK)
        n->tx_frames++;
}

tern_result virtio_net_send(struct metal_net *n, const void *frame, size_t len,
                            const struct tern_net_meta *meta)
{
    if (n->v.dead)
        return TERN_EIO;
    if (len < ETH_HDR || len > (size_t)n->mtu + ETH_HDR)
        return TERN_EINVAL;
    if (meta != NULL && (meta->gso_type != TERN_NET_GSO_NONE ||
                         (meta->flags & ~TERN_NET_META_NEEDS_CSUM) ||
                         ((meta->flags & TERN_NET_META_NEEDS_CSUM) &&
                          (!(n->offloads & TERN_NET_OFFLOAD_TX_CSUM) ||
                           (size_t)meta->csum_start + meta->csum_offset + 2 > len))))
        return TERN_EINVAL; /* not what the device took, or outside the frame */
    reclaim_tx(n);
    if (n->v.dead)
        return TERN_EIO;
    if (n->tx.num_free == 0) {
        n->tx_full++;
        return TERN_AGAIN;
    }
    /* The buffer goes with the head descriptor it is posted on, so it is
     * free exactly when that descriptor is. */
    uint16_t head = n->tx.free_head;
    uint8_t *b = n->tx_buf + (size_t)head * METAL_NET_BUF;
    memset(b, 0, n->hdr_len); /* num_buffers (VERSION_1) is 0 on transmit */
    tern_net_meta_to_vnet(b, meta);
    memcpy(b + n->hdr_len, frame, len);
    struct virtq_buf vb = { b, (uint32_t)(n->hdr_len + len), false };
    return virtq_post(&n->v, &n->tx, &vb, 1);
}

bool virtio_net_ready(struct metal_net *n)
{
    return virtq_pending(&n->v, &n->rx);
}

tern_result virtio_net_recv(struct metal_net *n, void *buf, size_t cap, size_t *out_len,
                            struct tern_net_meta *meta)
{
    for (;;) {
        uint16_t head;
        uint32_t len;
        tern_result r = virtq_take(&n->v, &n->rx, &head, &len);
        if (r != TERN_OK)
            return r;
        uint16_t bi = n->rx_of_head[head];
        const uint8_t *b = n->rx_buf + (size_t)bi * METAL_NET_BUF;
        size_t flen = len >= n->hdr_len ? len - n->hdr_len : 0;
        r = TERN_OK;
        if (flen < ETH_HDR) {
            n->rx_dropped++; /* runt: counted, dropped, buffer reposted */
            r = TERN_AGAIN;
        } else if (flen > cap) {
            n->rx_dropped++;
            r = TERN_EINVAL;
        } else {
            struct tern_net_meta m;
            tern_net_meta_from_vnet(&m, b);
            memcpy(buf, b + n->hdr_len, flen);
            *out_len = flen;
            n->rx_frames++;
            if (meta != NULL)
                *meta = m; /* the core checks it against the frame */
            else
                tern_net_finish_csum(buf, flen, &m); /* plain frames were asked for */
        }
        if (post_rx(n, bi) != TERN_OK && !n->v.dead)
            n->rx_dropped++;
        if (r != TERN_AGAIN)
            return r;
    }
}
