/*
 * Interface: a TCP loopback for HTTP tests: one tern_tcp instance on the
 * bench's sim instance whose lower layer queues segments and delivers them
 * back into itself, so a client socket (192.0.2.2) and the server's
 * listener (192.0.2.1) are both the real stack. Peers record what they
 * receive.
 */
#ifndef TERN_TEST_TCP_LOOP_H
#define TERN_TEST_TCP_LOOP_H

#include "http_harness.h"
#include "tern/http_tcp.h"
#include "tern/inet.h"
#include "tern/tcp.h"

#define SRV_ADDR TERN_IPV4(192, 0, 2, 1)
#define CLI_ADDR TERN_IPV4(192, 0, 2, 2)
#define QMAX 512
#ifndef LOOP_EXTRA
#define LOOP_EXTRA
#endif

struct seg {
    uint32_t src, dst;
    size_t len;
    uint8_t data[1600];
};

struct loop {
    struct bench b;
    struct tern_tcp tcp;
    struct tern_http_tcp ht;
    struct tern_http_tcp_slot slots[BENCH_POOL];
    LOOP_EXTRA
    struct seg q[QMAX];
    unsigned head, count;
    uint64_t dropped;
};

static struct loop *L;

static inline tern_result loop_output(void *ctx, uint32_t src, uint32_t dst, const void *segment,
                               size_t len)
{
    struct loop *l = ctx;
    if (l->count == QMAX || len > sizeof l->q[0].data) {
        l->dropped++;
        return TERN_AGAIN;
    }
    struct seg *s = &l->q[(l->head + l->count++) % QMAX];
    s->src = src;
    s->dst = dst;
    s->len = len;
    memcpy(s->data, segment, len);
    return TERN_OK;
}

static inline uint16_t loop_mtu(void *ctx, uint32_t dst)
{
    (void)ctx;
    (void)dst;
    return 1500;
}

/* Delivers queued segments (and what they cause) and runs due timers. */
static inline void loop_run(struct loop *l)
{
    for (int guard = 0; guard < 100000; guard++) {
        if (l->count) {
            static struct seg s;
            s = l->q[l->head];
            l->head = (l->head + 1) % QMAX;
            l->count--;
            tern_tcp_input(&l->tcp, s.src, s.dst, s.data, s.len);
            continue;
        }
        uint64_t next = tern_os_step(&l->b.os, 0);
        if (l->count)
            continue;
        /* let delayed ACKs and similar short timers fire */
        if (next != UINT64_MAX && next <= l->b.sim.now_ns + 50000000ull) {
            l->b.sim.now_ns = next > l->b.sim.now_ns ? next : l->b.sim.now_ns;
            continue;
        }
        return;
    }
}

struct peer {
    struct tern_tcp_sock *s;
    char got[1 << 18];
    size_t len;
    bool eof, error;
};

static inline void peer_cb(struct tern_tcp_sock *s, unsigned ev, void *arg)
{
    struct peer *p = arg;
    if (ev & TERN_TCP_EV_ERROR)
        p->error = true;
    for (;;) {
        size_t got = 0;
        tern_result r = tern_tcp_recv(s, p->got + p->len, sizeof p->got - 1 - p->len, &got);
        if (r != TERN_OK)
            break;
        if (got == 0) {
            p->eof = true;
            break;
        }
        p->len += got;
        p->got[p->len] = '\0';
    }
}

static inline int count_ok(const char *s)
{
    int n = 0;
    for (const char *q = s; (q = strstr(q, "HTTP/1.1 200 OK")) != NULL; q++)
        n++;
    return n;
}

static inline struct peer *peer_connect(void)
{
    struct peer *p = calloc(1, sizeof *p);
    assert_int_equal(tern_tcp_connect(&L->tcp, CLI_ADDR, 0, SRV_ADDR, 80, peer_cb, p, &p->s),
                     TERN_OK);
    loop_run(L);
    return p;
}

static inline void peer_send(struct peer *p, const char *text)
{
    size_t sent;
    assert_int_equal(tern_tcp_send(p->s, text, strlen(text), &sent), TERN_OK);
    assert_int_equal(sent, strlen(text));
    loop_run(L);
}

#endif
