/* Interface: see net_harness.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net_harness.h"
#include "tern/inet.h"

const uint8_t nh_our_mac[TERN_MAC_LEN] = { 0x02, 0, 0, 0, 0, 0x01 };
const uint8_t nh_peer_mac[TERN_MAC_LEN] = { 0x02, 0, 0, 0, 0, 0x02 };
const uint8_t nh_bcast_mac[TERN_MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static unsigned nh_net_count(void *ctx)
{
    (void)ctx;
    return 1;
}

static tern_result nh_net_info(void *ctx, unsigned idx, struct tern_net_info *out)
{
    struct net_harness *h = ctx;
    if (idx != 0)
        return TERN_ENOENT;
    memset(out, 0, sizeof(*out));
    memcpy(out->mac, h->mac, TERN_MAC_LEN);
    out->mtu = h->mtu;
    out->offloads = h->offloads;
    strcpy(out->name, "sim0");
    return TERN_OK;
}

static tern_result nh_net_send(void *ctx, unsigned idx, const void *frame, size_t len)
{
    struct net_harness *h = ctx;
    if (idx != 0)
        return TERN_ENOENT;
    if (len < 14 || len > (size_t)h->mtu + 14)
        return TERN_EINVAL;
    if (h->sent_count == NH_MAX_FRAMES) {
        h->sent_dropped++;
        return TERN_AGAIN;
    }
    h->sent[h->sent_count].len = len;
    memcpy(h->sent[h->sent_count].data, frame, len);
    h->sent_count++;
    return TERN_OK;
}

static tern_result nh_net_recv(void *ctx, unsigned idx, void *buf, size_t cap, size_t *out_len)
{
    struct net_harness *h = ctx;
    if (idx != 0 || h->rx_count == 0)
        return TERN_AGAIN;
    struct nh_frame *f = &h->rx[h->rx_head];
    h->rx_head = (h->rx_head + 1) % NH_MAX_FRAMES;
    h->rx_count--;
    if (f->len > cap)
        return TERN_EINVAL;
    memcpy(buf, f->data, f->len);
    *out_len = f->len;
    return TERN_OK;
}

static tern_result nh_net_send_meta(void *ctx, unsigned idx, const void *frame, size_t len,
                                    const struct tern_net_meta *meta)
{
    struct net_harness *h = ctx;
    if (idx != 0 || len > TERN_NET_LARGE_FRAME)
        return TERN_EINVAL;
    memcpy(h->tso_frame, frame, len);
    h->tso_len = len;
    h->tso_meta = *meta;
    h->meta_sent++;
    return TERN_OK;
}

static tern_result nh_net_recv_meta(void *ctx, unsigned idx, void *buf, size_t cap,
                                    size_t *out_len, struct tern_net_meta *meta)
{
    struct net_harness *h = ctx;
    if (idx != 0 || h->rx_count == 0)
        return TERN_AGAIN;
    *meta = h->rx[h->rx_head].meta;
    return nh_net_recv(ctx, idx, buf, cap, out_len);
}

static int nh_setup(struct net_harness *h, uint16_t mtu, const struct tern_net_config *cfg,
                    uint32_t offloads, bool with_calls, tern_result *init_result);
static int nh_setup_device(struct net_harness *h, uint16_t mtu, uint32_t offloads,
                           bool with_calls);

int nh_init_offloads(struct net_harness *h, uint16_t mtu, uint32_t offloads, bool with_calls,
                     tern_result *init_result)
{
    return nh_setup(h, mtu, NULL, offloads, with_calls, init_result);
}

int nh_init(struct net_harness *h, uint16_t mtu, const struct tern_net_config *cfg)
{
    return nh_setup(h, mtu, cfg, 0, false, NULL);
}

int nh_init_device(struct net_harness *h, uint16_t mtu)
{
    return nh_setup_device(h, mtu, 0, false);
}

static int nh_setup(struct net_harness *h, uint16_t mtu, const struct tern_net_config *cfg,
                    uint32_t offloads, bool with_calls, tern_result *init_result)
{
    if (nh_setup_device(h, mtu, offloads, with_calls) != 0)
        return -1;
    tern_result r = tern_net_init(&h->net, &h->os, cfg);
    if (init_result)
        *init_result = r;
    if (r != TERN_OK)
        return -1;
    h->heap_baseline = h->os.heap.in_use;
    return 0;
}

/* The instance and its one device, without a stack. */
static int nh_setup_device(struct net_harness *h, uint16_t mtu, uint32_t offloads,
                           bool with_calls)
{
    memset(h, 0, sizeof(*h));
    h->offloads = offloads;
    h->tso_frame = malloc(TERN_NET_LARGE_FRAME);
    if (!h->tso_frame)
        return -1;
    if (sim_platform_init(&h->sim, 8u << 20, 7) != 0)
        return -1;
    h->sent = calloc(NH_MAX_FRAMES, sizeof(*h->sent));
    h->rx = calloc(NH_MAX_FRAMES, sizeof(*h->rx));
    if (!h->sent || !h->rx)
        return -1;
    memcpy(h->mac, nh_our_mac, TERN_MAC_LEN);
    h->mtu = mtu;
    struct tern_platform base = sim_platform(&h->sim);
    h->ops = *base.ops;
    h->ops.net_count = nh_net_count;
    h->ops.net_info = nh_net_info;
    h->ops.net_send = nh_net_send;
    h->ops.net_recv = nh_net_recv;
    if (with_calls) {
        h->ops.net_send_meta = nh_net_send_meta;
        h->ops.net_recv_meta = nh_net_recv_meta;
    }
    struct tern_platform plat = { &h->ops, h };
    struct tern_config oscfg;
    tern_config_default(&oscfg);
    oscfg.console_level = TERN_LOG_OFF;
    if (tern_os_init(&h->os, &plat, &oscfg) != TERN_OK)
        return -1;
    h->heap_baseline = h->os.heap.in_use;
    return 0;
}

void nh_close(struct net_harness *h)
{
    tern_os_finish(&h->os);
    free(h->sent);
    free(h->rx);
    free(h->tso_frame);
    sim_platform_close(&h->sim);
}

void nh_inject(struct net_harness *h, const void *frame, size_t len)
{
    nh_inject_meta(h, frame, len, NULL);
}

void nh_inject_meta(struct net_harness *h, const void *frame, size_t len,
                    const struct tern_net_meta *meta)
{
    assert_true(h->rx_count < NH_MAX_FRAMES);
    assert_true(len <= NH_FRAME_CAP);
    struct nh_frame *f = &h->rx[(h->rx_head + h->rx_count) % NH_MAX_FRAMES];
    memcpy(f->data, frame, len);
    f->len = len;
    memset(&f->meta, 0, sizeof(f->meta));
    if (meta)
        f->meta = *meta;
    h->rx_count++;
    tern_os_step(&h->os, TERN_READY_NET(0));
}

void nh_advance(struct net_harness *h, uint64_t ms)
{
    h->sim.now_ns += ms * 1000000u;
    tern_os_step(&h->os, 0);
}

void nh_clear_sent(struct net_harness *h)
{
    h->sent_count = 0;
}

uint64_t nh_counter(const struct net_harness *h, const char *name)
{
    const char *n;
    uint64_t v;
    for (unsigned i = 0; tern_net_counter(&h->net, i, &n, &v); i++) {
        if (strcmp(n, name) == 0)
            return v;
    }
    fail_msg("no counter named %s", name);
    return 0;
}

bool nh_at_baseline(const struct net_harness *h)
{
    return tern_net_pbufs_free(&h->net) == h->net.pool.total &&
           h->os.heap.in_use == h->heap_baseline;
}

size_t nh_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    tern_store_be16(f + 12, type);
    return 14;
}

size_t nh_ipv4(uint8_t *f, const uint8_t *dst_mac, const uint8_t *src_mac, uint32_t src,
               uint32_t dst, uint8_t proto, uint16_t id, uint16_t frag, const void *payload,
               size_t len)
{
    nh_eth(f, dst_mac, src_mac, 0x0800);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[1] = 0;
    tern_store_be16(ip + 2, (uint16_t)(20 + len));
    tern_store_be16(ip + 4, id);
    tern_store_be16(ip + 6, frag);
    ip[8] = 64;
    ip[9] = proto;
    tern_store_be16(ip + 10, 0);
    tern_store_be32(ip + 12, src);
    tern_store_be32(ip + 16, dst);
    tern_store_be16(ip + 10, tern_csum_finish(tern_csum_add(0, ip, 20)));
    memcpy(ip + 20, payload, len);
    return 14 + 20 + len;
}

size_t nh_udp(uint8_t *f, const uint8_t *dst_mac, const uint8_t *src_mac, uint32_t src,
              uint32_t dst, uint16_t sport, uint16_t dport, const void *data, size_t len)
{
    uint8_t u[2048];
    assert_true(len + 8 <= sizeof(u));
    tern_store_be16(u, sport);
    tern_store_be16(u + 2, dport);
    tern_store_be16(u + 4, (uint16_t)(8 + len));
    tern_store_be16(u + 6, 0);
    memcpy(u + 8, data, len);
    uint32_t sum = tern_csum_pseudo_ipv4(src, dst, 17, (uint16_t)(8 + len));
    uint16_t c = tern_csum_finish(tern_csum_add(sum, u, 8 + len));
    tern_store_be16(u + 6, c ? c : 0xffff);
    return nh_ipv4(f, dst_mac, src_mac, src, dst, 17, 1, 0, u, 8 + len);
}
