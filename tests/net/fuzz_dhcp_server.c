/* libFuzzer harness for the DHCP server: its message handling and its
 * lease file. The input is a script:
 *   byte 0 odd: the rest is a lease file, loaded into the empty table;
 *   byte 0 even: records [seconds to wait (1 byte)][how (1 byte: bit 0
 *     unicast from the message's ciaddr, bit 1 from port 67)]
 *     [length (2 bytes BE)][DHCP message], each sent to the server in a
 *     well-formed UDP frame through the real poller.
 * Afterwards the table must keep its invariants (addresses in the pool,
 * once each, the bitmap in step, declined slots nobody's, client ids
 * unique), what save writes must load again with as many bound leases,
 * and after an hour (every lease lapses on the timer) the invariants
 * must still hold; every frame the server sent must be
 * within the device contract and every DHCP reply acceptable to Tern's
 * own client parser; stopping must give back every pbuf and the heap.
 * The instance is set up once; each input starts from a snapshot. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_snapshot.h"
#include "sim_platform.h"
#include "tern/dhcp.h"
#include "tern/dhcp_server.h"
#include "tern/inet.h"
#include "tern/net.h"
#include "tern/os.h"

#define HEAP_BYTES (384u << 10)
#define SERVER_IP 0xc0000201u          /* 192.0.2.1 */
#define FIRST 0xc0000264u              /* 192.0.2.100 */
#define LAST 0xc000026bu               /* 192.0.2.107 */

struct fz {
    struct sim_platform sim; /* first: ctx of the ops */
    struct tern_platform_ops ops;
    uint8_t frame[1514];
    size_t frame_len;
    bool pending;
    struct tern_os os;
    struct tern_net net;
    struct tern_dhcp_server srv;
    struct tern_dhcp_server_config cfg;
    char file[8192];
};

static const uint8_t SERVER_MAC[6] = { 2, 0, 0, 0, 0, 1 };

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
    memcpy(out->mac, SERVER_MAC, 6);
    out->mtu = 1500;
    return TERN_OK;
}

/* Every frame the server sends: within the contract, and a DHCP reply
 * (UDP 67 -> 68) that Tern's client parser takes. */
static tern_result fz_send(void *ctx, unsigned idx, const void *frame, size_t len)
{
    (void)ctx;
    const uint8_t *f = frame;
    if (idx != 0 || len < 14 || len > 1514)
        abort();
    if (len >= 42 && tern_load_be16(f + 12) == 0x0800 && f[23] == 17 &&
        tern_load_be16(f + 34) == 67) {
        struct tern_dhcp_msg m;
        size_t ulen = tern_load_be16(f + 38);
        if (tern_load_be16(f + 36) != 68 || ulen < 8 || 34 + ulen > len ||
            tern_dhcp_parse(f + 42, ulen - 8, &m, NULL) != TERN_OK)
            abort();
    }
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

/* The DHCP message msg in a UDP/IPv4/Ethernet frame to the server. */
static void make_frame(struct fz *z, const uint8_t *msg, size_t len, uint8_t how)
{
    uint8_t *f = z->frame;
    uint32_t src = 0, dst = 0xffffffffu;
    if ((how & 1) && len >= 16) {
        src = tern_load_be32(msg + 12); /* ciaddr, unicast to the server */
        dst = SERVER_IP;
    }
    memset(f, 0xff, 6);
    if (dst != 0xffffffffu)
        memcpy(f, SERVER_MAC, 6);
    static const uint8_t client[6] = { 2, 0, 0, 0, 0, 2 };
    memcpy(f + 6, client, 6);
    tern_store_be16(f + 12, 0x0800);
    uint8_t *ip = f + 14, *u = ip + 20;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    tern_store_be16(ip + 2, (uint16_t)(28 + len));
    ip[8] = 64;
    ip[9] = 17;
    tern_store_be32(ip + 12, src);
    tern_store_be32(ip + 16, dst);
    tern_store_be16(ip + 10, tern_csum_finish(tern_csum_add(0, ip, 20)));
    tern_store_be16(u, (how & 2) ? 67 : 68);
    tern_store_be16(u + 2, 67);
    tern_store_be16(u + 4, (uint16_t)(8 + len));
    tern_store_be16(u + 6, 0);
    memcpy(u + 8, msg, len);
    uint32_t sum = tern_csum_pseudo_ipv4(src, dst, 17, (uint16_t)(8 + len));
    uint16_t c = tern_csum_finish(tern_csum_add(sum, u, 8 + len));
    tern_store_be16(u + 6, c ? c : 0xffff);
    z->frame_len = 14 + 28 + len;
}

/* The table's invariants (dhcp_server_internal.h); aborts when broken. */
static void check_table(const struct tern_dhcp_server *s)
{
    uint32_t held = 0;
    for (uint32_t i = 0; i < s->cfg.max_leases; i++) {
        const struct tern_dhcp_lease *l = &s->leases[i];
        if (l->state > TERN_DHCP_LEASE_DECLINED)
            abort();
        if (l->state == TERN_DHCP_LEASE_EMPTY)
            continue;
        held++;
        if (l->addr < FIRST || l->addr > LAST || l->addr == SERVER_IP ||
            tern_dhcp_server_lease(s, l->addr) != l ||
            (l->state == TERN_DHCP_LEASE_DECLINED) != (l->id_len == 0) ||
            l->id_len > TERN_DHCP_CLIENT_ID_MAX)
            abort();
        for (uint32_t j = i + 1; j < s->cfg.max_leases; j++) {
            const struct tern_dhcp_lease *o = &s->leases[j];
            if (o->state != TERN_DHCP_LEASE_EMPTY &&
                (o->addr == l->addr || (l->id_len && o->id_len == l->id_len &&
                                        memcmp(o->id, l->id, l->id_len) == 0)))
                abort();
        }
    }
    uint32_t bits = 0;
    for (uint32_t a = 0; a < s->pool_size; a++)
        bits += (s->taken[a / 8] >> (a % 8)) & 1u;
    if (bits != held)
        abort();
}

/* What save writes loads again, into a restarted server. */
static void check_save_load(struct fz *z)
{
    size_t n = 0;
    if (tern_dhcp_server_save_size(&z->srv) > sizeof(z->file) ||
        tern_dhcp_server_save(&z->srv, z->file, sizeof(z->file), &n) != TERN_OK)
        abort();
    uint32_t bound = tern_dhcp_server_bound(&z->srv);
    tern_dhcp_server_stop(&z->srv);
    if (tern_dhcp_server_start(&z->srv, &z->net, &z->cfg) != TERN_OK ||
        tern_dhcp_server_load(&z->srv, z->file, n, NULL, 0) != TERN_OK ||
        tern_dhcp_server_bound(&z->srv) != bound)
        abort();
    check_table(&z->srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    nc.reasm_slots = 1;
    nc.reasm_max_bytes = 2048;
    if (tern_os_init(&z.os, &plat, &oc) != TERN_OK || tern_net_init(&z.net, &z.os, &nc) != TERN_OK)
        abort();
    tern_net_set_addr(&z.net, 0, SERVER_IP, 0xffffff00u, 0);
    base = z.os.heap.in_use;
    tern_dhcp_server_config_default(&z.cfg);
    z.cfg.first = FIRST;
    z.cfg.last = LAST;
    z.cfg.router = SERVER_IP;
    z.cfg.lease_s = 60;
    z.cfg.max_leases = 6;                     /* smaller than the pool: both limits reachable */
    if (tern_dhcp_server_start(&z.srv, &z.net, &z.cfg) != TERN_OK)
        abort();
    fuzz_snapshot_take(&snap, &z, sizeof z, z.sim.heap, z.sim.heap_size);
    *baseline = base;
    return &z;
}

static void run_messages(struct fz *z, const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos + 4 <= size) {
        z->sim.now_ns += (uint64_t)data[pos] * 1000000000u;
        uint8_t how = data[pos + 1];
        size_t len = ((size_t)data[pos + 2] << 8) | data[pos + 3];
        pos += 4;
        if (len > size - pos)
            len = size - pos;
        if (len > 1500 - 28)
            len = 1500 - 28;
        make_frame(z, data + pos, len, how);
        z->pending = true;
        tern_os_step(&z->os, TERN_READY_NET(0));
        pos += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t baseline;
    struct fz *z = instance(&baseline);
    if (data[0] & 1) {
        tern_result r = tern_dhcp_server_load(&z->srv, (const char *)data + 1, size - 1, NULL, 0);
        if (r != TERN_OK && r != TERN_EPROTO && r != TERN_ENOSPC)
            abort();
        if (r != TERN_OK && tern_dhcp_server_lease(&z->srv, FIRST) != NULL)
            abort(); /* a refused file leaves nothing behind */
    } else {
        run_messages(z, data + 1, size - 1);
    }
    check_table(&z->srv);
    check_save_load(z);
    z->sim.now_ns += 3600ull * 1000000000u;
    tern_os_step(&z->os, 0);
    check_table(&z->srv);
    tern_dhcp_server_stop(&z->srv);
    tern_net_set_addr(&z->net, 0, 0, 0, 0);
    z->sim.now_ns += 3600ull * 1000000000u;
    tern_os_step(&z->os, 0);
    if (tern_net_pbufs_free(&z->net) != z->net.pool.total || z->os.heap.in_use != baseline)
        abort(); /* a leak of pbufs or heap */
    return 0;
}
