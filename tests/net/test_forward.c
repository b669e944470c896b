/* Port forwarding (tern/forward.h) between two whole instances in one
 * process on one simulated Ethernet segment and one virtual clock: A runs
 * the forwarder, B is the guest with real services (TCP echo, UDP echo)
 * and a test server. The host side is this file's embedder: host
 * connections that write a byte pattern and record what they receive,
 * and that can stop taking bytes (a slow host reader) or fail. Splice
 * both ways, backpressure both ways, half close both ways, refusal,
 * resets either side, no route, limits, idle timeout, UDP flows with
 * replies, expiry and eviction, /status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net_harness.h"
#include "tern/forward.h"
#include "tern/inet.h"
#include "tern/tcp.h"

#define A_IP TERN_IPV4(10, 0, 5, 1)
#define B_IP TERN_IPV4(10, 0, 5, 2)
#define SRV_PORT 5000
#define MAX_HOST 8

static uint8_t pat(uint64_t key, uint64_t i)
{
    uint64_t x = (i ^ key) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    return (uint8_t)(x >> 40);
}

struct node {
    struct net_harness h;
    struct tern_tcp tcp;
};

/* A host connection of the test embedder. */
struct hconn {
    bool used, closed, shut, paused, blocked, eof_sent, fail_write;
    tern_result why;
    unsigned closes, pauses;
    struct tern_fwd_conn *fc;
    uint64_t tx_key, tx_total, tx_sent;   /* host -> guest */
    bool eof_after;                       /* host EOF once tx_total went */
    uint64_t rx_key, rx_len;              /* guest -> host */
    bool rx_bad;
};

/* The guest's test server on SRV_PORT. */
struct gsrv {
    struct tern_tcp_sock *ls, *s;
    bool reading, shut_after, abort_at_accept, eof, err, closed;
    uint64_t tx_key, tx_total, tx_sent, rx_key, rx_len;
    bool rx_bad;
};

struct udp_got {
    struct tern_fwd_peer peer;
    size_t len;
    uint8_t data[64];
};

static struct {
    struct node *a, *b;
    struct tern_fwd fwd;
    struct tern_tcp_services svc;
    struct gsrv g;
    struct hconn host[MAX_HOST];
    struct udp_got udp[8];
    unsigned nudp;
    int udp_host_tag;
} T;

/* ---- the embedder's host side ---- */

static tern_result h_write(void *ctx, void *host, const void *buf, size_t len, size_t *taken)
{
    (void)ctx;
    struct hconn *h = host;
    const uint8_t *p = buf;
    *taken = 0;
    if (h->fail_write)
        return TERN_ECLOSED;
    if (h->blocked)
        return TERN_OK;
    for (size_t i = 0; i < len; i++)
        if (p[i] != pat(h->rx_key, h->rx_len + i))
            h->rx_bad = true;
    h->rx_len += len;
    *taken = len;
    return TERN_OK;
}

static void h_shutdown(void *ctx, void *host)
{
    (void)ctx;
    ((struct hconn *)host)->shut = true;
}

static void h_close(void *ctx, void *host, tern_result why)
{
    (void)ctx;
    struct hconn *h = host;
    h->closed = true;
    h->closes++;
    h->why = why;
    h->fc = NULL;
}

static void h_pause(void *ctx, void *host, bool paused)
{
    (void)ctx;
    struct hconn *h = host;
    h->paused = paused;
    h->pauses += paused;
}

static tern_result h_udp_send(void *ctx, void *rule_host, const struct tern_fwd_peer *peer,
                              const void *buf, size_t len)
{
    (void)ctx;
    assert_ptr_equal(rule_host, &T.udp_host_tag);
    if (T.nudp == 8 || len > 64)
        return TERN_ENOSPC;
    T.udp[T.nudp].peer = *peer;
    T.udp[T.nudp].len = len;
    memcpy(T.udp[T.nudp].data, buf, len);
    T.nudp++;
    return TERN_OK;
}

static const struct tern_fwd_host_ops host_ops = {
    .write = h_write, .shutdown = h_shutdown, .close = h_close,
    .read_pause = h_pause, .udp_send = h_udp_send,
};

/* What the embedder's loop does for a host connection: read the host
 * (its pattern) as far as the forwarder has room, then EOF. */
static void host_pump(struct hconn *h)
{
    uint8_t buf[4096];
    while (h->fc && !h->paused && h->tx_sent < h->tx_total) {
        size_t n = tern_fwd_tcp_room(h->fc);
        if (n > sizeof buf)
            n = sizeof buf;
        if (n > h->tx_total - h->tx_sent)
            n = (size_t)(h->tx_total - h->tx_sent);
        if (n == 0)
            return;
        for (size_t i = 0; i < n; i++)
            buf[i] = pat(h->tx_key, h->tx_sent + i);
        size_t took = tern_fwd_tcp_host_data(h->fc, buf, n);
        assert_int_equal(took, n);
        h->tx_sent += took;
    }
    if (h->fc && h->eof_after && h->tx_sent == h->tx_total && !h->eof_sent) {
        h->eof_sent = true;
        tern_fwd_tcp_host_eof(h->fc);
    }
}

/* ---- the guest's test server ---- */

static void g_pump(struct gsrv *g)
{
    uint8_t buf[4096];
    while (g->s && g->reading && !g->eof) {
        size_t got;
        tern_result r = tern_tcp_recv(g->s, buf, sizeof buf, &got);
        if (r == TERN_AGAIN)
            break;
        if (r != TERN_OK) {
            g->err = true;
            return;
        }
        if (got == 0)
            g->eof = true;
        for (size_t i = 0; i < got; i++)
            if (buf[i] != pat(g->rx_key, g->rx_len + i))
                g->rx_bad = true;
        g->rx_len += got;
    }
    while (g->s && g->tx_sent < g->tx_total) {
        size_t n = sizeof buf, took = 0;
        if (n > g->tx_total - g->tx_sent)
            n = (size_t)(g->tx_total - g->tx_sent);
        for (size_t i = 0; i < n; i++)
            buf[i] = pat(g->tx_key, g->tx_sent + i);
        if (tern_tcp_send(g->s, buf, n, &took) != TERN_OK || took == 0)
            break;
        g->tx_sent += took;
        if (g->tx_sent == g->tx_total && g->shut_after)
            tern_tcp_shutdown(g->s);
    }
    if (g->s && g->eof && g->tx_sent == g->tx_total && !g->closed) {
        g->closed = true;
        tern_tcp_close(g->s);
        g->s = NULL;
    }
}

static void g_on_conn(struct tern_tcp_sock *s, unsigned ev, void *arg)
{
    (void)s;
    struct gsrv *g = arg;
    if (ev & TERN_TCP_EV_ERROR) {
        g->err = true;
        tern_tcp_abort(g->s);
        g->s = NULL;
        return;
    }
    g_pump(g);
}

static void g_on_listen(struct tern_tcp_sock *ls, unsigned ev, void *arg)
{
    (void)ev;
    struct gsrv *g = arg;
    struct tern_tcp_sock *s;
    while (tern_tcp_accept(ls, &s) == TERN_OK) {
        if (g->abort_at_accept) {
            tern_tcp_abort(s);
            continue;
        }
        g->s = s;
        tern_tcp_set_callback(s, g_on_conn, g);
        g_pump(g);
    }
}

/* ---- the segment and the clock ---- */

static struct node *node_new(uint8_t mac_last, uint32_t ip)
{
    struct node *n = calloc(1, sizeof *n);
    assert_non_null(n);
    assert_int_equal(nh_init_device(&n->h, 1500), 0);
    n->h.mac[5] = mac_last;
    assert_int_equal(tern_net_init(&n->h.net, &n->h.os, NULL), TERN_OK);
    struct tern_tcp_config c;
    tern_tcp_config_default(&c);
    c.max_conns = 32;
    c.sndbuf = c.rcvbuf = 64 * 1024;
    c.grow_bytes = 1u << 20;
    c.msl_ms = 1000;
    assert_int_equal(tern_net_attach_tcp(&n->h.net, &n->tcp, &c), TERN_OK);
    assert_int_equal(tern_net_set_addr(&n->h.net, 0, ip, 0xffffff00u, 0), TERN_OK);
    return n;
}

static void deliver(void)
{
    static struct nh_frame frames[NH_MAX_FRAMES];
    for (int round = 0; round < 100000; round++) {
        bool moved = false;
        for (int i = 0; i < 2; i++) {
            struct net_harness *from = i ? &T.b->h : &T.a->h, *to = i ? &T.a->h : &T.b->h;
            unsigned count = from->sent_count;
            memcpy(frames, from->sent, count * sizeof frames[0]);
            nh_clear_sent(from);
            for (unsigned f = 0; f < count; f++) {
                moved = true;
                if ((frames[f].data[0] & 1) || memcmp(frames[f].data, to->mac, 6) == 0)
                    nh_inject(to, frames[f].data, frames[f].len);
            }
        }
        for (unsigned k = 0; k < MAX_HOST; k++)
            if (T.host[k].used)
                host_pump(&T.host[k]);
        if (!moved)
            return;
    }
    fail_msg("frames still moving");
}

static uint64_t now_ns(void)
{
    return T.a->h.sim.now_ns;
}

/* Runs both instances for ms of virtual time, deadline to deadline. */
static void run_ms(uint64_t ms)
{
    uint64_t end = now_ns() + ms * 1000000u;
    for (;;) {
        deliver();
        uint64_t next = end;
        for (int i = 0; i < 2; i++) {
            struct node *n = i ? T.b : T.a;
            uint64_t d = tern_timer_next_deadline(&n->h.os.timers);
            if (d < next)
                next = d;
        }
        if (next < now_ns())
            next = now_ns();
        T.a->h.sim.now_ns = T.b->h.sim.now_ns = next;
        tern_os_step(&T.a->h.os, 0);
        tern_os_step(&T.b->h.os, 0);
        if (next >= end) {
            deliver();
            return;
        }
    }
}

static int setup_with(const struct tern_fwd_config *cfg)
{
    memset(&T, 0, sizeof T);
    T.a = node_new(0x01, A_IP);
    T.b = node_new(0x02, B_IP);
    if (tern_fwd_init(&T.fwd, &T.a->h.os, &T.a->h.net, &T.a->tcp, cfg, &host_ops, NULL) != TERN_OK)
        return -1;
    if (tern_tcp_services_start(&T.svc, &T.b->tcp, TERN_TCP_SERVICE_ECHO) != TERN_OK)
        return -1;
    T.g.reading = true;
    return tern_tcp_listen(&T.b->tcp, 0, SRV_PORT, 8, g_on_listen, &T.g, &T.g.ls) == TERN_OK ? 0
                                                                                          : -1;
}

static int setup(void **state)
{
    (void)state;
    return setup_with(NULL);
}

static int teardown(void **state)
{
    (void)state;
    tern_fwd_finish(&T.fwd);
    for (int i = 0; i < 2; i++) {
        struct node *n = i ? T.b : T.a;
        tern_tcp_finish(&n->tcp);
        nh_close(&n->h);
        free(n);
    }
    return 0;
}

/* A host connection on rule with a pattern to send. */
static struct hconn *host_open(unsigned rule, uint64_t tx_total, bool eof_after)
{
    for (unsigned k = 0; k < MAX_HOST; k++) {
        struct hconn *h = &T.host[k];
        if (h->used)
            continue;
        memset(h, 0, sizeof *h);
        h->used = true;
        h->tx_key = 100 + k;
        h->tx_total = tx_total;
        h->eof_after = eof_after;
        if (tern_fwd_tcp_open(&T.fwd, rule, h, &h->fc) != TERN_OK) {
            h->used = false;
            return NULL;
        }
        return h;
    }
    fail_msg("no host slot");
    return NULL;
}

static unsigned tcp_rule(uint16_t port)
{
    unsigned r;
    assert_int_equal(tern_fwd_add_rule(&T.fwd, TERN_FWD_TCP, B_IP, port, NULL, &r), TERN_OK);
    return r;
}

/* Everything released on both sides once TIME-WAIT passed. */
static void assert_all_released(void)
{
    run_ms(5000);
    assert_int_equal(T.fwd.conns_open, 0);
    assert_int_equal(tern_tcp_pcbs_in_use(&T.a->tcp), 0);
}

/* ---- tests ---- */

static void test_splice_both_ways_through_echo(void **state)
{
    (void)state;
    unsigned r = tcp_rule(7);
    struct hconn *h = host_open(r, 1u << 20, true);
    assert_non_null(h);
    h->rx_key = h->tx_key;                     /* echo: the same stream back */
    run_ms(20000);
    assert_true(h->closed);
    assert_int_equal(h->closes, 1);
    assert_int_equal(h->why, TERN_OK);
    assert_true(h->shut);
    assert_int_equal(h->rx_len, 1u << 20);
    assert_false(h->rx_bad);
    assert_int_equal(T.fwd.stats.accepted, 1);
    assert_int_equal(T.fwd.stats.closed, 1);
    assert_int_equal(T.fwd.stats.bytes_to_guest, 1u << 20);
    assert_int_equal(T.fwd.stats.bytes_to_host, 1u << 20);
    assert_int_equal(T.svc.echoed_bytes, 1u << 20);
    assert_all_released();
}

static void test_slow_host_reader_stops_the_guest(void **state)
{
    (void)state;
    unsigned r = tcp_rule(SRV_PORT);
    T.g.tx_key = 7;
    T.g.tx_total = 4u << 20;
    T.g.shut_after = true;
    struct hconn *h = host_open(r, 0, true);
    h->rx_key = 7;
    h->blocked = true;                          /* the host reads nothing */
    run_ms(10000);
    assert_false(h->closed);
    assert_int_equal(h->rx_len, 0);
    /* bounded: the forwarder's ring and the two TCP buffers, no more */
    assert_true(T.fwd.conns[0].to_host.len <= T.fwd.cfg.buf_bytes);
    assert_true(T.g.tx_sent <= T.fwd.cfg.buf_bytes + 2 * 64 * 1024 + 4096);
    h->blocked = false;
    tern_fwd_tcp_host_writable(h->fc);
    run_ms(60000);
    assert_int_equal(h->rx_len, 4u << 20);
    assert_false(h->rx_bad);
    assert_true(h->shut);
    assert_true(h->closed);
    assert_int_equal(h->why, TERN_OK);
    assert_all_released();
}

static void test_slow_guest_reader_pauses_the_host(void **state)
{
    (void)state;
    unsigned r = tcp_rule(SRV_PORT);
    T.g.reading = false;                        /* the guest reads nothing */
    T.g.rx_key = 100;
    struct hconn *h = host_open(r, 4u << 20, true);
    run_ms(10000);
    assert_true(h->paused);
    unsigned pauses = h->pauses;                /* once the guest's buffers stopped growing */
    run_ms(10000);
    assert_true(h->paused);
    assert_int_equal(h->pauses, pauses);        /* stuck: no more resumes */
    assert_int_equal(T.fwd.stats.host_pauses, pauses);
    assert_int_equal(T.fwd.conns[0].to_guest.len, T.fwd.cfg.buf_bytes);
    assert_int_equal(tern_fwd_tcp_room(h->fc), 0);
    assert_true(h->tx_sent <= T.fwd.cfg.buf_bytes + 2 * 64 * 1024 + 4096);
    T.g.reading = true;
    g_pump(&T.g);
    run_ms(60000);
    assert_int_equal(T.g.rx_len, 4u << 20);
    assert_false(T.g.rx_bad);
    assert_true(T.g.eof);
    assert_true(h->pauses > pauses);            /* resumed, paused again, ... */
    assert_true(h->closed);
    assert_int_equal(h->why, TERN_OK);
    assert_all_released();
}

static void test_guest_half_close_then_host_keeps_sending(void **state)
{
    (void)state;
    unsigned r = tcp_rule(SRV_PORT);
    T.g.tx_key = 9;
    T.g.tx_total = 5000;
    T.g.shut_after = true;                      /* the guest's FIN first */
    T.g.rx_key = 100;
    struct hconn *h = host_open(r, 0, false);
    h->rx_key = 9;
    run_ms(2000);
    assert_true(h->shut);
    assert_int_equal(h->rx_len, 5000);
    assert_false(h->closed);                    /* the host may still send */
    h->tx_total = 300000;
    h->eof_after = true;
    run_ms(20000);
    assert_int_equal(T.g.rx_len, 300000);
    assert_false(T.g.rx_bad);
    assert_true(T.g.eof);
    assert_true(h->closed);
    assert_int_equal(h->why, TERN_OK);
    assert_all_released();
}

static void test_host_half_close_reaches_the_guest(void **state)
{
    (void)state;
    unsigned r = tcp_rule(SRV_PORT);
    T.g.rx_key = 100;
    struct hconn *h = host_open(r, 1000, true); /* the host's FIN first */
    run_ms(2000);
    assert_int_equal(T.g.rx_len, 1000);
    assert_true(T.g.eof);                       /* the guest saw EOF ... */
    assert_true(T.g.closed);                    /* ... and closed: both shut */
    assert_true(h->shut);
    assert_true(h->closed);
    assert_int_equal(h->why, TERN_OK);
    assert_all_released();
}

static void test_guest_refused_closes_the_host(void **state)
{
    (void)state;
    unsigned r = tcp_rule(6000);                 /* nothing listens */
    struct hconn *h = host_open(r, 100, true);
    run_ms(2000);
    assert_true(h->closed);
    assert_int_equal(h->closes, 1);
    assert_int_equal(h->why, TERN_EPROTO);
    assert_int_equal(T.fwd.stats.guest_refused, 1);
    assert_all_released();
}

static void test_guest_reset_and_host_error(void **state)
{
    (void)state;
    unsigned r = tcp_rule(SRV_PORT);
    T.g.abort_at_accept = true;
    struct hconn *h = host_open(r, 0, false);
    run_ms(2000);
    assert_true(h->closed);
    assert_int_equal(h->why, TERN_ECLOSED);
    assert_int_equal(T.fwd.stats.guest_reset, 1);

    T.g.abort_at_accept = false;
    h = host_open(r, 0, false);
    run_ms(1000);
    assert_non_null(T.g.s);
    tern_fwd_tcp_host_error(h->fc);             /* the host connection failed */
    assert_true(h->closed);
    assert_int_equal(h->closes, 1);
    assert_int_equal(h->why, TERN_ECLOSED);
    run_ms(1000);
    assert_true(T.g.err);                       /* the guest was reset */
    assert_int_equal(T.fwd.stats.host_reset, 1);
    assert_all_released();
}

static void test_host_write_failure_and_no_route(void **state)
{
    (void)state;
    unsigned r = tcp_rule(SRV_PORT);
    T.g.tx_key = 3;
    T.g.tx_total = 1000;
    struct hconn *h = host_open(r, 0, false);
    h->fail_write = true;                       /* the host connection broke */
    run_ms(2000);
    assert_true(h->closed);
    assert_int_equal(h->closes, 1);
    assert_int_equal(h->why, TERN_ECLOSED);
    assert_int_equal(T.fwd.stats.host_reset, 1);
    assert_true(T.g.err);                       /* the guest was reset */

    unsigned far;                               /* no route: off-link, no gateway */
    assert_int_equal(tern_fwd_add_rule(&T.fwd, TERN_FWD_TCP, TERN_IPV4(198, 51, 100, 1), 80,
                                       NULL, &far), TERN_OK);
    assert_null(host_open(far, 0, false));
    assert_int_equal(T.fwd.stats.refused_stack, 1);
    assert_int_equal(T.fwd.conns_open, 0);
    assert_all_released();
}

static void test_small_writes_are_not_held_back(void **state)
{
    (void)state;
    unsigned r = tcp_rule(SRV_PORT);
    T.g.rx_key = 100;
    struct hconn *h = host_open(r, 1, false);   /* one byte ... */
    run_ms(5);
    assert_int_equal(T.g.rx_len, 1);
    h->tx_total = 2;                            /* ... and one more while the first is unacked */
    run_ms(5);
    assert_int_equal(T.g.rx_len, 2);            /* not after the guest's 40 ms delayed ACK */
    assert_false(T.g.rx_bad);
}

static void test_max_conns_refuses_more(void **state)
{
    (void)state;
    unsigned r = tcp_rule(7);
    struct hconn *h[3];
    h[0] = host_open(r, 0, false);
    h[1] = host_open(r, 0, false);
    assert_non_null(h[0]);
    assert_non_null(h[1]);
    assert_null(host_open(r, 0, false));        /* max_conns = 2 */
    assert_int_equal(T.fwd.stats.refused_limit, 1);
    assert_int_equal(T.fwd.stats.accepted, 2);
    h[0]->eof_after = true;
    run_ms(2000);
    assert_true(h[0]->closed);
    h[2] = host_open(r, 0, true);               /* a slot again */
    assert_non_null(h[2]);
    assert_int_equal(tern_fwd_tcp_open(&T.fwd, 99, h[0], &h[0]->fc), TERN_EINVAL);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    unsigned r = tcp_rule(7);
    struct hconn *busy = host_open(r, 0, false), *idle = host_open(r, 0, false);
    busy->rx_key = busy->tx_key;
    for (int i = 0; i < 5; i++) {               /* 3 s of a byte each 600 ms */
        busy->tx_total++;
        run_ms(600);
    }
    assert_true(idle->closed);
    assert_int_equal(idle->why, TERN_ETIMEDOUT);
    assert_false(busy->closed);
    assert_int_equal(busy->rx_len, 5);
    assert_int_equal(T.fwd.stats.idle_closed, 1);
    run_ms(1500);
    assert_true(busy->closed);
    assert_int_equal(busy->why, TERN_ETIMEDOUT);
    assert_all_released();
}

static struct tern_fwd_peer peer(uint8_t id)
{
    struct tern_fwd_peer p = { .len = 6, .addr = { 127, 0, 0, 1, 0x30, id } };
    return p;
}

static void test_udp_flows_replies_expiry_eviction(void **state)
{
    (void)state;
    struct tern_udp_echo echo;
    assert_int_equal(tern_udp_echo_start(&echo, &T.b->h.net, 7), TERN_OK);
    unsigned r;
    assert_int_equal(tern_fwd_add_rule(&T.fwd, TERN_FWD_UDP, B_IP, 7, &T.udp_host_tag, &r),
                     TERN_OK);
    struct tern_fwd_peer p1 = peer(1), p2 = peer(2), p3 = peer(3);
    assert_int_equal(tern_fwd_udp_input(&T.fwd, r, &p1, "one", 3), TERN_OK);
    assert_int_equal(tern_fwd_udp_input(&T.fwd, r, &p2, "two!", 4), TERN_OK);
    run_ms(100);
    assert_int_equal(T.nudp, 2);
    assert_memory_equal(&T.udp[0].peer, &p1, sizeof p1);
    assert_int_equal(T.udp[0].len, 3);
    assert_memory_equal(T.udp[0].data, "one", 3);
    assert_memory_equal(&T.udp[1].peer, &p2, sizeof p2);
    assert_memory_equal(T.udp[1].data, "two!", 4);
    assert_int_equal(T.fwd.flows_open, 2);
    assert_int_equal(T.fwd.stats.udp_to_guest, 2);
    assert_int_equal(T.fwd.stats.udp_to_host, 2);
    /* a datagram to a flow's port from elsewhere than guest:7 */
    struct tern_udp_sock *other;
    assert_int_equal(tern_udp_open(&T.b->h.net, 4444, NULL, NULL, &other), TERN_OK);
    tern_udp_sendto(other, A_IP, tern_udp_port(T.fwd.flows[0].sock), "x", 1);
    run_ms(100);
    assert_int_equal(T.fwd.stats.udp_foreign, 1);
    assert_int_equal(T.nudp, 2);
    /* a third peer with udp_flows = 2: the least recently used goes */
    run_ms(1000);
    assert_int_equal(tern_fwd_udp_input(&T.fwd, r, &p2, "2", 1), TERN_OK);
    assert_int_equal(tern_fwd_udp_input(&T.fwd, r, &p3, "3", 1), TERN_OK);
    run_ms(100);
    assert_int_equal(T.fwd.stats.udp_flows_evicted, 1);
    assert_int_equal(T.nudp, 4);
    assert_memory_equal(&T.udp[3].peer, &p3, sizeof p3);
    /* idle flows end after udp_idle_ms (5 s here) */
    run_ms(6000);
    assert_int_equal(T.fwd.flows_open, 0);
    assert_int_equal(T.fwd.stats.udp_flows_expired, 2);
    assert_int_equal(tern_fwd_udp_input(&T.fwd, r + 1, &p1, "x", 1), TERN_EINVAL);
    tern_udp_close(other);
}

static void test_status_and_bad_rules(void **state)
{
    (void)state;
    unsigned r;
    assert_int_equal(tern_fwd_add_rule(&T.fwd, TERN_FWD_TCP, 0, 80, NULL, &r), TERN_EINVAL);
    assert_int_equal(tern_fwd_add_rule(&T.fwd, TERN_FWD_TCP, B_IP, 0, NULL, &r), TERN_EINVAL);
    assert_int_equal(tern_fwd_add_rule(&T.fwd, 7, B_IP, 80, NULL, &r), TERN_EINVAL);
    r = tcp_rule(7);
    struct hconn *h = host_open(r, 10, true);
    h->rx_key = h->tx_key;
    run_ms(2000);
    char buf[1024];
    size_t n = tern_fwd_status(&T.fwd, buf, sizeof buf);
    assert_true(n < sizeof buf);
    assert_non_null(strstr(buf, ",\"forward\":{\"rules\":1,\"conns\":0,\"max_conns\":64,"
                                "\"udp_flows\":0,\"accepted\":1,"));
    assert_non_null(strstr(buf, "\"bytes_to_guest\":10,\"bytes_to_host\":10,"));
    assert_int_equal(buf[n - 1], '}');
    struct tern_fwd_host_ops bad = host_ops;
    bad.read_pause = NULL;
    struct tern_fwd f2;
    assert_int_equal(tern_fwd_init(&f2, &T.a->h.os, &T.a->h.net, &T.a->tcp, NULL, &bad, NULL),
                     TERN_EINVAL);
}

static int setup_two_conns(void **state)
{
    (void)state;
    struct tern_fwd_config c;
    tern_fwd_config_default(&c);
    c.max_conns = 2;
    return setup_with(&c);
}

static int setup_short_idle(void **state)
{
    (void)state;
    struct tern_fwd_config c;
    tern_fwd_config_default(&c);
    c.idle_ms = 1000;
    c.udp_flows = 2;
    c.udp_idle_ms = 5000;
    return setup_with(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_splice_both_ways_through_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_host_reader_stops_the_guest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_guest_reader_pauses_the_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_half_close_then_host_keeps_sending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_half_close_reaches_the_guest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_refused_closes_the_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_reset_and_host_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_write_failure_and_no_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_writes_are_not_held_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_conns_refuses_more, setup_two_conns, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup_short_idle, teardown),
        cmocka_unit_test_setup_teardown(test_udp_flows_replies_expiry_eviction, setup_short_idle,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_status_and_bad_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
