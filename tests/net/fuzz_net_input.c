/* libFuzzer harness for the whole input path below TCP: Ethernet, ARP,
 * IPv4 with reassembly, ICMP and UDP. The input is a script:
 *   byte 0: bit 0 configures 192.0.2.10/24 gw .1, bit 1 opens UDP 53,
 *           bit 2 attaches a TCP hook
 *   then records [time step (1 byte, x100 ms)][length (2 bytes BE)][frame]
 * Every frame goes through the real poller. Afterwards the stack must give
 * back every pbuf and the heap must be at its post-init level. The stack
 * is set up once; each input starts from a snapshot of it (fuzz_snapshot.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_snapshot.h"
#include "sim_platform.h"
#include "tern/net.h"
#include "tern/os.h"

/* Every input restores the whole heap: keep it small (peak ~300 KiB,
 * nearly all of it the pools made at init). */
#define HEAP_BYTES (384u << 10)

struct fz {
    struct sim_platform sim; /* first: ctx of the ops */
    struct tern_platform_ops ops;
    const uint8_t *frame;
    size_t frame_len;
    bool pending;
    struct tern_os os;
    struct tern_net net;
};

static unsigned fz_count(void *ctx)
{
    (void)ctx;
    return 1;
}

static tern_result fz_info(void *ctx, unsigned idx, struct tern_net_info *out)
{
    (void)ctx;
    if (idx != 0)
        return TERN_ENOENT;
    memset(out, 0, sizeof(*out));
    static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
    memcpy(out->mac, mac, 6);
    out->mtu = 1500;
    return TERN_OK;
}

static tern_result fz_send(void *ctx, unsigned idx, const void *frame, size_t len)
{
    (void)ctx;
    (void)frame;
    if (idx != 0 || len < 14 || len > 1514)
        abort(); /* the stack must never send a frame outside the contract */
    return TERN_OK;
}

static tern_result fz_recv(void *ctx, unsigned idx, void *buf, size_t cap, size_t *out_len)
{
    struct fz *z = ctx;
    if (idx != 0 || !z->pending)
        return TERN_AGAIN;
    z->pending = false;
    if (z->frame_len > cap)
        return TERN_EINVAL;
    memcpy(buf, z->frame, z->frame_len);
    *out_len = z->frame_len;
    return TERN_OK;
}

static volatile uint8_t sink;

static void tcp_in(void *arg, uint32_t s, uint32_t d, const void *seg, size_t len, bool valid)
{
    (void)arg, (void)s, (void)d, (void)valid;
    for (size_t i = 0; i < len; i++)
        sink ^= ((const uint8_t *)seg)[i]; /* touch every byte: ASan checks bounds */
}

static void tcp_err(void *arg, uint8_t t, uint8_t c, uint16_t mtu, const void *q, size_t len)
{
    (void)arg, (void)t, (void)c, (void)mtu;
    for (size_t i = 0; i < len; i++)
        sink ^= ((const uint8_t *)q)[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The instance, set up on the first input and snapshotted: every input
 * starts from that snapshot (a reset costs two memcpys, not an init). */
static struct fz *instance(size_t *baseline)
{
    static struct fz z;
    static struct fuzz_snapshot snap;
    static size_t base;
    if (snap.obj != NULL) {
        fuzz_snapshot_restore(&snap);
        *baseline = base;
        return &z;
    }
    if (sim_platform_init(&z.sim, HEAP_BYTES, 1) != 0)
        abort();
    struct tern_platform base_plat = sim_platform(&z.sim);
    z.ops = *base_plat.ops;
    z.ops.net_count = fz_count;
    z.ops.net_info = fz_info;
    z.ops.net_send = fz_send;
    z.ops.net_recv = fz_recv;
    struct tern_platform plat = { &z.ops, &z };
    struct tern_config oc;
    tern_config_default(&oc);
    oc.console_level = TERN_LOG_OFF;
    oc.max_timers = 64;
    struct tern_net_config nc;
    tern_net_config_default(&nc);
    nc.pbufs = 64;
    nc.reasm_slots = 2;
    if (tern_os_init(&z.os, &plat, &oc) != TERN_OK || tern_net_init(&z.net, &z.os, &nc) != TERN_OK)
        abort();
    base = z.os.heap.in_use;
    fuzz_snapshot_take(&snap, &z, sizeof z, z.sim.heap, z.sim.heap_size);
    *baseline = base;
    return &z;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t baseline;
    struct fz *z = instance(&baseline);
    uint8_t flags = data[0];
    if (flags & 1)
        tern_net_set_addr(&z->net, 0, 0xc000020a, 0xffffff00u, 0xc0000201);
    struct tern_udp_sock *sock = NULL;
    if (flags & 2)
        tern_udp_open(&z->net, 53, NULL, NULL, &sock);
    if (flags & 4)
        tern_net_set_tcp_hooks(&z->net, tcp_in, tcp_err, NULL);
    size_t pos = 1;
    while (pos + 3 <= size) {
        z->sim.now_ns += (uint64_t)data[pos] * 100000000u;
        size_t len = ((size_t)data[pos + 1] << 8) | data[pos + 2];
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        z->frame = data + pos;
        z->frame_len = len;
        z->pending = true;
        tern_os_step(&z->os, TERN_READY_NET(0));
        pos += len;
    }
    if (sock)
        tern_udp_close(sock);
    tern_net_set_addr(&z->net, 0, 0, 0, 0);
    z->sim.now_ns += 3600ull * 1000000000u;
    tern_os_step(&z->os, 0);
    if (tern_net_pbufs_free(&z->net) != z->net.pool.total || z->os.heap.in_use != baseline)
        abort(); /* a leak of pbufs or heap */
    return 0;
}
