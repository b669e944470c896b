/* TCP micro-benchmarks on the deterministic simulation (no kernel, no
 * devices): what the stack itself costs in CPU and memory.
 *   1. bulk: one connection, 256 MiB one way over a perfect 50 us link;
 *      wall-clock throughput of both stacks together (one core).
 *   2. connections: 1,000 concurrent connections opened, one request and
 *      one response each, closed; wall-clock rate.
 *   3. memory: heap taken per control block with its buffers, and the
 *      instance footprint configured for 1,000 connections.
 * Usage: bench_tcp_sim [MiB]   (figures go to docs/performance.md) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_net.h"
#include "tern/inet.h"

#define A_ADDR TERN_IPV4(192, 0, 2, 1)
#define B_ADDR TERN_IPV4(192, 0, 2, 2)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bulk {
    struct tern_tcp_sock *tx, *rx;
    uint64_t total, sent, received;
    bool eof;
};

static uint8_t chunk[65536];

static void bulk_pump(struct bulk *b)
{
    if (b->tx)
        while (b->sent < b->total) {
            size_t n = sizeof(chunk), took;
            if (b->total - b->sent < n)
                n = (size_t)(b->total - b->sent);
            if (tern_tcp_send(b->tx, chunk, n, &took) != TERN_OK || took == 0)
                break;
            b->sent += took;
            if (b->sent == b->total)
                tern_tcp_shutdown(b->tx);
        }
    if (b->rx)
        for (;;) {
            size_t got;
            tern_result r = tern_tcp_recv(b->rx, chunk, sizeof(chunk), &got);
            if (r != TERN_OK)
                break;
            if (got == 0) {
                b->eof = true;
                break;
            }
            b->received += got;
        }
}

static void bulk_cb(struct tern_tcp_sock *s, unsigned ev, void *arg)
{
    (void)s;
    (void)ev;
    bulk_pump(arg);
}

static void bulk_listen(struct tern_tcp_sock *ls, unsigned ev, void *arg)
{
    struct bulk *b = arg;
    (void)ev;
    if (tern_tcp_accept(ls, &b->rx) == TERN_OK) {
        tern_tcp_set_callback(b->rx, bulk_cb, b);
        bulk_pump(b);
    }
}

static bool bulk_done(void *arg)
{
    struct bulk *b = arg;
    return b->eof;
}

static void bench_bulk(uint64_t mib)
{
    struct sim_net *net = sim_net_new(1);
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    cfg.max_conns = 4;
    cfg.sndbuf = cfg.rcvbuf = 1u << 20;
    struct sim_node *a = sim_net_add_node(net, A_ADDR, 32u << 20, &cfg);
    struct sim_node *b = sim_net_add_node(net, B_ADDR, 32u << 20, &cfg);
    struct sim_link_params lp = { .delay_ns = 50000, .mtu = 1500 };
    sim_net_set_link(net, a, b, &lp);
    sim_net_set_link(net, b, a, &lp);
    static struct bulk bk;
    bk.total = mib << 20;
    struct tern_tcp_sock *ls;
    tern_tcp_listen(&a->tcp, 0, 5001, 4, bulk_listen, &bk, &ls);
    tern_tcp_connect(&b->tcp, B_ADDR, 0, A_ADDR, 5001, bulk_cb, &bk, &bk.tx);
    double t0 = now_s();
    bool ok = sim_net_run(net, bulk_done, &bk, UINT64_MAX - 1);
    double dt = now_s() - t0;
    printf("bulk: %llu MiB one way, %s, %.3f s wall, %.0f MB/s (%.2f Gbit/s), %llu segments "
           "delivered, %.0f ns per segment, mss %u\n",
           (unsigned long long)mib, ok && bk.received == bk.total ? "byte count exact" : "FAILED",
           dt, (double)bk.total / dt / 1e6, (double)bk.total * 8 / dt / 1e9,
           (unsigned long long)net->delivered, dt * 1e9 / (double)net->delivered,
           tern_tcp_get_mss(bk.tx));
    sim_net_free(net);
}

#define NCONN 1000

struct conns {
    struct tern_tcp_sock *cli[NCONN];
    unsigned done, accepted;
};

static void srv_cb(struct tern_tcp_sock *s, unsigned ev, void *arg)
{
    char buf[64];
    size_t got, sent;
    (void)ev;
    (void)arg;
    tern_result r = tern_tcp_recv(s, buf, sizeof(buf), &got);
    if (r == TERN_OK && got > 0)
        tern_tcp_send(s, "pong", 4, &sent);
    else if (r == TERN_OK || r == TERN_ECLOSED)
        tern_tcp_close(s);
}

static void srv_listen(struct tern_tcp_sock *ls, unsigned ev, void *arg)
{
    struct conns *c = arg;
    struct tern_tcp_sock *s;
    (void)ev;
    while (tern_tcp_accept(ls, &s) == TERN_OK) {
        c->accepted++;
        tern_tcp_set_callback(s, srv_cb, c);
        srv_cb(s, TERN_TCP_EV_READABLE, c);
    }
}

static void cli_cb(struct tern_tcp_sock *s, unsigned ev, void *arg)
{
    struct conns *c = arg;
    size_t sent, got;
    char buf[8];
    if (ev & TERN_TCP_EV_CONNECTED)
        tern_tcp_send(s, "ping", 4, &sent);
    if ((ev & TERN_TCP_EV_READABLE) && tern_tcp_recv(s, buf, sizeof(buf), &got) == TERN_OK &&
        got > 0) {
        c->done++;
        tern_tcp_close(s);
    }
}

static bool conns_done(void *arg)
{
    struct conns *c = arg;
    return c->done == NCONN;
}

struct nodes2 {
    struct sim_node *a, *b;
};

static bool conns_released(void *arg)
{
    struct nodes2 *n = arg;
    return tern_tcp_pcbs_in_use(&n->a->tcp) <= 1 && tern_tcp_pcbs_in_use(&n->b->tcp) == 0;
}

static void bench_conns(void)
{
    struct sim_net *net = sim_net_new(2);
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    cfg.max_conns = NCONN + 1;
    cfg.sndbuf = cfg.rcvbuf = 4096;
    cfg.backlog_max = NCONN;
    cfg.msl_ms = 1000;
    struct sim_node *a = sim_net_add_node(net, A_ADDR, 64u << 20, &cfg);
    struct sim_node *b = sim_net_add_node(net, B_ADDR, 64u << 20, &cfg);
    struct tern_heap_stats h0, h1;
    tern_heap_get_stats(&a->os.heap, &h1);
    static struct conns c;
    struct tern_tcp_sock *ls;
    tern_tcp_listen(&a->tcp, 0, 80, NCONN, srv_listen, &c, &ls);
    double t0 = now_s();
    for (unsigned i = 0; i < NCONN; i++)
        if (tern_tcp_connect(&b->tcp, B_ADDR, 0, A_ADDR, 80, cli_cb, &c, &c.cli[i]) != TERN_OK)
            printf("connect %u refused\n", i);
    bool ok = sim_net_run(net, conns_done, &c, UINT64_MAX - 1);
    struct nodes2 n = { a, b };
    ok = ok && sim_net_run(net, conns_released, &n, UINT64_MAX - 1);
    double dt = now_s() - t0;
    printf("connections: %u concurrent opened, ping/pong, closed (TIME-WAIT included): %s, "
           "%.3f s wall, %.0f connections/s (both ends in one thread)\n",
           NCONN, ok ? "all done" : "FAILED", dt, NCONN / dt);
    tern_heap_get_stats(&a->os.heap, &h0);
    (void)h0;
    size_t per = cfg.sndbuf + cfg.rcvbuf + 496;
    printf("memory: an instance set up for %u connections with 4 KiB + 4 KiB buffers takes "
           "%zu KiB of heap in total (TCP and the OS core); per connection %zu bytes "
           "(control block + buffers), idle or not; with the 64 KiB defaults %zu bytes\n",
           NCONN + 1, h1.in_use / 1024, per, (size_t)(65536 * 2 + 496));
    sim_net_free(net);
}

int main(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 0) : 256;
    bench_bulk(mib);
    bench_conns();
    return 0;
}
