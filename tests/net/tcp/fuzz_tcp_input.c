/* libFuzzer harness for TCP segment input. Every input starts from the
 * same instance (set up once, restored from a snapshot: fuzz_snapshot.h)
 * with a listener on port 80 and an active connection from port 5555 to
 * 192.0.2.2:80. The input is a script of records:
 *   [kind (1 byte)][length (2 bytes BE)][bytes]
 *   kind & 3 == 0: a segment from 192.0.2.2 with its checksum fixed; with
 *                  kind & 4 its ACK field becomes the end of the last
 *                  segment we sent, with kind & 8 its sequence number
 *                  our last ACK (so the fuzzer gets past handshakes)
 *   kind & 3 == 1: a segment as is (checksum unchecked by the harness)
 *   kind & 3 == 2: an ICMP error: bytes = type, code, mtu(2), quote
 *   kind & 3 == 3: advance the clock by (kind >> 2) * 50 ms
 * After each record the accepted connection is read and written a
 * little. At the end every block is closed; the stack must give back the
 * whole pool within 30 minutes of timers, and the heap its post-init level. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_snapshot.h"
#include "sim_platform.h"
#include "tern/inet.h"
#include "tern/os.h"
#include "tern/tcp.h"

#define US TERN_IPV4(192, 0, 2, 1)
#define PEER TERN_IPV4(192, 0, 2, 2)
/* Every input restores the whole heap: keep it small (peak ~130 KiB). */
#define HEAP_BYTES (512u << 10)

struct last_out {
    uint32_t end, ack;
};

static tern_result fz_output(void *ctx, uint32_t src, uint32_t dst, const void *seg, size_t len)
{
    struct last_out *lo = ctx;
    const uint8_t *p = seg;
    (void)src;
    (void)dst;
    if (len < 20 || len > 1480)
        abort();
    size_t off = (size_t)(p[12] >> 4) * 4;
    lo->end = tern_load_be32(p + 4) + (uint32_t)(len - off) + ((p[13] & 0x03) ? 1 : 0);
    lo->ack = tern_load_be32(p + 8);
    return TERN_OK;
}

static uint16_t fz_mtu(void *ctx, uint32_t dst)
{
    (void)ctx;
    (void)dst;
    return 1500;
}

static void advance(struct sim_platform *sim, struct tern_os *os, uint64_t ms)
{
    uint64_t end = sim->now_ns + ms * 1000000ull;
    for (int i = 0; i < 100000; i++) {
        uint64_t d = tern_os_step(os, 0);
        if (d > end)
            break;
        if (d > sim->now_ns)
            sim->now_ns = d;
    }
    sim->now_ns = end;
    tern_os_step(os, 0);
}

/* The stack with its listener and active connection, set up once. */
struct fz {
    struct sim_platform sim;
    struct tern_os os;
    struct tern_tcp tcp;
    struct last_out lo;
    struct tern_tcp_sock *ls, *cs;
    size_t heap_base;              /* heap in use before listen/connect */
};

static struct fz *instance(void)
{
    static struct fz z;
    static struct fuzz_snapshot snap;
    if (snap.obj != NULL) {
        fuzz_snapshot_restore(&snap);
        return &z;
    }
    if (sim_platform_init(&z.sim, HEAP_BYTES, 7) != 0)
        abort();
    struct tern_platform plat = sim_platform(&z.sim);
    struct tern_config oc;
    tern_config_default(&oc);
    oc.console_level = TERN_LOG_ERROR;
    oc.max_timers = 64;
    if (tern_os_init(&z.os, &plat, &oc) != TERN_OK)
        abort();
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    cfg.max_conns = 6;
    cfg.sndbuf = 4096;
    cfg.rcvbuf = 4096;
    cfg.backlog_max = 2;
    cfg.msl_ms = 1000;
    struct tern_tcp_lower lower = { .output = fz_output, .path_mtu = fz_mtu, .ctx = &z.lo };
    if (tern_tcp_init(&z.tcp, &z.os, &lower, &cfg) != TERN_OK)
        abort();
    z.heap_base = z.os.heap.in_use;
    if (tern_tcp_listen(&z.tcp, 0, 80, 2, NULL, NULL, &z.ls) != TERN_OK ||
        tern_tcp_connect(&z.tcp, US, 5555, PEER, 80, NULL, NULL, &z.cs) != TERN_OK)
        abort();
    fuzz_snapshot_take(&snap, &z, sizeof z, z.sim.heap, z.sim.heap_size);
    return &z;
}

/* Runs one record of the script at data[*i]. */
static void feed(struct fz *z, const uint8_t *data, size_t size, size_t *i)
{
    static uint8_t seg[65536];
    uint8_t kind = data[*i];
    size_t len = tern_load_be16(data + *i + 1);
    *i += 3;
    if (len > size - *i)
        len = size - *i;
    const uint8_t *p = data + *i;
    *i += len;
    switch (kind & 3) {
    case 0:
        memcpy(seg, p, len);
        if (len >= 20 && (kind & 4))
            tern_store_be32(seg + 8, z->lo.end);
        if (len >= 20 && (kind & 8))
            tern_store_be32(seg + 4, z->lo.ack);
        if (len >= 20) {
            seg[16] = seg[17] = 0;
            uint32_t sum = tern_csum_pseudo_ipv4(PEER, US, 6, (uint16_t)len);
            tern_store_be16(seg + 16, tern_csum_finish(tern_csum_add(sum, seg, len)));
        }
        tern_tcp_input(&z->tcp, PEER, US, seg, len);
        break;
    case 1:
        tern_tcp_input(&z->tcp, PEER, US, p, len);
        break;
    case 2:
        if (len >= 4)
            tern_tcp_icmp_error(&z->tcp, p[0], p[1], tern_load_be16(p + 2), p + 4, len - 4);
        break;
    default:
        advance(&z->sim, &z->os, (uint64_t)(kind >> 2) * 50);
        break;
    }
}

/* Lets virtual time run, a minute at a time, until every block is back
 * (at most 30 minutes: anything still held then is a leak). */
static bool drained(struct fz *z)
{
    for (int minute = 0; minute < 30; minute++) {
        advance(&z->sim, &z->os, 60ull * 1000);
        if (tern_tcp_pcbs_in_use(&z->tcp) == 0 && z->os.heap.in_use == z->heap_base)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *z = instance();
    struct tern_tcp_sock *acc[8];
    unsigned nacc = 0;
    size_t i = 0;
    while (i + 3 <= size) {
        feed(z, data, size, &i);
        struct tern_tcp_sock *s;
        while (nacc < 8 && tern_tcp_accept(z->ls, &s) == TERN_OK)
            acc[nacc++] = s;
        for (unsigned k = 0; k < nacc; k++) {
            uint8_t buf[512];
            size_t got, sent;
            tern_tcp_recv(acc[k], buf, sizeof(buf), &got);
            tern_tcp_send(acc[k], "fuzz", 4, &sent);
        }
    }
    for (unsigned k = 0; k < nacc; k++)
        tern_tcp_close(acc[k]);
    tern_tcp_close(z->cs);
    tern_tcp_close(z->ls);
    if (!drained(z))
        abort(); /* a leak of pcbs or heap */
    return 0;
}
