/* libFuzzer harness for TCP segment input. A fresh instance per input
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
 * whole pool after the timers run, and the heap its post-init level. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim_platform.h"
#include "tern/inet.h"
#include "tern/os.h"
#include "tern/tcp.h"

#define US TERN_IPV4(192, 0, 2, 1)
#define PEER TERN_IPV4(192, 0, 2, 2)

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sim_platform sim;
    static struct tern_os os;
    static struct tern_tcp tcp;
    static uint8_t seg[65536];
    if (sim_platform_init(&sim, 2u << 20, 7) != 0)
        abort();
    struct tern_platform plat = sim_platform(&sim);
    struct tern_config oc;
    tern_config_default(&oc);
    oc.console_level = TERN_LOG_ERROR;
    oc.max_timers = 64;
    if (tern_os_init(&os, &plat, &oc) != TERN_OK)
        abort();
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    cfg.max_conns = 6;
    cfg.sndbuf = 4096;
    cfg.rcvbuf = 4096;
    cfg.backlog_max = 2;
    cfg.msl_ms = 1000;
    static struct last_out lo;
    memset(&lo, 0, sizeof(lo));
    struct tern_tcp_lower lower = { .output = fz_output, .path_mtu = fz_mtu, .ctx = &lo };
    if (tern_tcp_init(&tcp, &os, &lower, &cfg) != TERN_OK)
        abort();
    struct tern_heap_stats base;
    tern_heap_get_stats(&os.heap, &base);
    struct tern_tcp_sock *ls, *cs, *acc[8];
    unsigned nacc = 0;
    if (tern_tcp_listen(&tcp, 0, 80, 2, NULL, NULL, &ls) != TERN_OK ||
        tern_tcp_connect(&tcp, US, 5555, PEER, 80, NULL, NULL, &cs) != TERN_OK)
        abort();
    size_t i = 0;
    while (i + 3 <= size) {
        uint8_t kind = data[i];
        size_t len = tern_load_be16(data + i + 1);
        i += 3;
        if (len > size - i)
            len = size - i;
        const uint8_t *p = data + i;
        i += len;
        switch (kind & 3) {
        case 0:
            memcpy(seg, p, len);
            if (len >= 20 && (kind & 4))
                tern_store_be32(seg + 8, lo.end);
            if (len >= 20 && (kind & 8))
                tern_store_be32(seg + 4, lo.ack);
            if (len >= 20) {
                seg[16] = seg[17] = 0;
                uint32_t sum = tern_csum_pseudo_ipv4(PEER, US, 6, (uint16_t)len);
                tern_store_be16(seg + 16, tern_csum_finish(tern_csum_add(sum, seg, len)));
            }
            tern_tcp_input(&tcp, PEER, US, seg, len);
            break;
        case 1:
            tern_tcp_input(&tcp, PEER, US, p, len);
            break;
        case 2:
            if (len >= 4)
                tern_tcp_icmp_error(&tcp, p[0], p[1], tern_load_be16(p + 2), p + 4, len - 4);
            break;
        default:
            advance(&sim, &os, (uint64_t)(kind >> 2) * 50);
            break;
        }
        struct tern_tcp_sock *s;
        while (nacc < 8 && tern_tcp_accept(ls, &s) == TERN_OK)
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
    tern_tcp_close(cs);
    tern_tcp_close(ls);
    advance(&sim, &os, 30ull * 60 * 1000);
    if (tern_tcp_pcbs_in_use(&tcp) != 0)
        abort();
    struct tern_heap_stats h;
    tern_heap_get_stats(&os.heap, &h);
    if (h.in_use != base.in_use)
        abort();
    tern_tcp_finish(&tcp);
    sim_platform_close(&sim);
    return 0;
}
