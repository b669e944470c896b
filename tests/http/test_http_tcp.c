/* The HTTP engine on the real core TCP: one tern_tcp instance whose lower
 * layer loops segments back into itself (client 192.0.2.2, server
 * 192.0.2.1), so both ends are the real stack. Checks pipelined requests,
 * a 100 KB file through 16 KiB socket buffers, Connection: close ending
 * in FIN, the connection cap (reset), and that everything is released. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_harness.h"
#include "tern/http_tcp.h"
#include "tern/inet.h"
#include "tern/tcp.h"

#define SRV_ADDR TERN_IPV4(192, 0, 2, 1)
#define CLI_ADDR TERN_IPV4(192, 0, 2, 2)
#define QMAX 512

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
    struct seg q[QMAX];
    unsigned head, count;
    uint64_t dropped;
};

static struct loop *L;

static tern_result loop_output(void *ctx, uint32_t src, uint32_t dst, const void *segment,
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

static uint16_t loop_mtu(void *ctx, uint32_t dst)
{
    (void)ctx;
    (void)dst;
    return 1500;
}

/* Delivers queued segments (and what they cause) and runs due timers. */
static void loop_run(struct loop *l)
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

static void peer_cb(struct tern_tcp_sock *s, unsigned ev, void *arg)
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

static int count_ok(const char *s)
{
    int n = 0;
    for (const char *q = s; (q = strstr(q, "HTTP/1.1 200 OK")) != NULL; q++)
        n++;
    return n;
}

static struct peer *peer_connect(void)
{
    struct peer *p = calloc(1, sizeof *p);
    assert_int_equal(tern_tcp_connect(&L->tcp, CLI_ADDR, 0, SRV_ADDR, 80, peer_cb, p, &p->s),
                     TERN_OK);
    loop_run(L);
    return p;
}

static void peer_send(struct peer *p, const char *text)
{
    size_t sent;
    assert_int_equal(tern_tcp_send(p->s, text, strlen(text), &sent), TERN_OK);
    assert_int_equal(sent, strlen(text));
    loop_run(L);
}

static int setup(void **state)
{
    (void)state;
    L = calloc(1, sizeof *L);
    bench_init(&L->b, NULL);
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    cfg.max_conns = 16;
    cfg.sndbuf = cfg.rcvbuf = 16384;
    struct tern_tcp_lower lower = { loop_output, loop_mtu, L };
    assert_int_equal(tern_tcp_init(&L->tcp, &L->b.os, &lower, &cfg), TERN_OK);
    assert_int_equal(tern_http_tcp_start(&L->ht, &L->tcp, &L->b.srv, 80, L->slots, BENCH_POOL),
                     TERN_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tern_http_tcp_stop(&L->ht);
    assert_int_equal(L->b.srv.counters.conns_active, 0);
    assert_int_equal(L->b.fs.open_handles, 0);
    tern_tcp_finish(&L->tcp);
    bench_fini(&L->b);
    free(L);
    return 0;
}

static void test_pipelined_requests_and_big_file(void **state)
{
    (void)state;
    struct peer *p = peer_connect();
    assert_int_equal(tern_tcp_get_state(p->s), TERN_TCP_ESTABLISHED);
    peer_send(p, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                 "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n"
                 "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    for (int i = 0; i < 50 && !p->eof; i++) {
        L->b.sim.now_ns += 100000000ull;
        loop_run(L);
    }
    assert_true(p->eof);
    assert_false(p->error);
    const char *big = strstr(p->got, "Content-Length: 100000\r\n\r\n");
    assert_non_null(big);
    big += strlen("Content-Length: 100000\r\n\r\n");
    assert_memory_equal(big, L->b.big, BIG_SIZE);
    assert_int_equal(count_ok(p->got), 3);
    assert_non_null(strstr(big + BIG_SIZE, "Connection: close\r\n\r\nok"));
    tern_tcp_close(p->s);
    loop_run(L);
    free(p);
    assert_int_equal(L->b.srv.counters.requests, 3);
}

static void test_connection_cap_resets(void **state)
{
    (void)state;
    struct peer *ps[BENCH_POOL + 1];
    for (int i = 0; i < BENCH_POOL + 1; i++)
        ps[i] = peer_connect();
    assert_true(ps[BENCH_POOL]->error);             /* reset: no slot */
    assert_int_equal(L->ht.refused, 1);
    for (int i = 0; i < BENCH_POOL; i++) {
        assert_false(ps[i]->error);
        peer_send(ps[i], "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_non_null(strstr(ps[i]->got, "\r\n\r\nok"));
    }
    for (int i = 0; i < BENCH_POOL; i++) {
        tern_tcp_close(ps[i]->s);
        loop_run(L);
    }
    tern_tcp_abort(ps[BENCH_POOL]->s);
    for (int i = 0; i < BENCH_POOL + 1; i++)
        free(ps[i]);
    loop_run(L);
    /* the peers' FINs made the server close its side too */
    assert_int_equal(L->b.srv.counters.conns_active, 0);
}

static void test_lingering_close_keeps_the_response(void **state)
{
    (void)state;
    struct peer *p = peer_connect();
    peer_send(p, "GET / HTTP/1.1\nHost: a\n\n");
    /* more bytes arrive after the refusal: they must not cause a reset */
    peer_send(p, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_true(strncmp(p->got, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    assert_true(p->eof);                            /* our FIN */
    assert_false(p->error);                         /* and no RST */
    assert_int_equal(L->tcp.stats.rst_sent, 0);
    tern_tcp_close(p->s);
    loop_run(L);
    free(p);
    /* a peer that never closes is dropped when the linger ends */
    p = peer_connect();
    peer_send(p, "GET / HTTP/1.0\r\n\r\n");
    assert_true(p->eof);
    L->b.sim.now_ns += TERN_HTTP_TCP_LINGER_NS + 1;
    loop_run(L);
    assert_null(L->slots[0].sock);
    tern_tcp_close(p->s);
    loop_run(L);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined_requests_and_big_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lingering_close_keeps_the_response, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
