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


#include "tcp_loop.h"

static int setup(void **state)
{
    (void)state;
    L = calloc(1, sizeof *L);
    bench_init(&L->b, NULL);
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    cfg.max_conns = 16;
    cfg.sndbuf = cfg.rcvbuf = 16384;
    cfg.grow_bytes = 0; /* fixed 16 KiB buffers */
    struct tern_tcp_lower lower = { .output = loop_output, .path_mtu = loop_mtu, .ctx = L };
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
    /* four requests being answered (bodies still owed): not evictable */
    for (int i = 0; i < BENCH_POOL; i++) {
        ps[i] = peer_connect();
        peer_send(ps[i], "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n");
        assert_non_null(strstr(ps[i]->got, "HTTP/1.1 200 OK"));
    }
    ps[BENCH_POOL] = peer_connect();
    assert_true(ps[BENCH_POOL]->error);             /* reset: no slot */
    assert_int_equal(L->ht.refused, 1);
    for (int i = 0; i < BENCH_POOL; i++) {
        assert_false(ps[i]->error);
        peer_send(ps[i], "abc");
        assert_non_null(strstr(ps[i]->got, "3\r\nabc\r\n0\r\n\r\n"));
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

static void test_full_pool_evicts_slow_heads(void **state)
{
    (void)state;
    struct peer *ps[BENCH_POOL + 1];
    for (int i = 0; i < BENCH_POOL; i++) {
        ps[i] = peer_connect();
        peer_send(ps[i], "GET /heal");            /* slowloris-style */
        L->b.sim.now_ns += 1000000;
    }
    ps[BENCH_POOL] = peer_connect();
    assert_false(ps[BENCH_POOL]->error);
    peer_send(ps[BENCH_POOL], "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(ps[BENCH_POOL]->got, "\r\n\r\nok"));
    assert_true(ps[0]->error);                      /* the oldest was reset */
    for (int i = 1; i < BENCH_POOL; i++)
        assert_false(ps[i]->error);
    assert_int_equal(L->b.srv.counters.evictions, 1);
    assert_int_equal(L->ht.refused, 0);
    tern_tcp_abort(ps[0]->s);
    for (int i = 1; i <= BENCH_POOL; i++)
        tern_tcp_close(ps[i]->s);
    loop_run(L);
    for (int i = 0; i <= BENCH_POOL; i++)
        free(ps[i]);
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
    assert_null(L->slots[0].st.sock);
    tern_tcp_close(p->s);
    loop_run(L);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined_requests_and_big_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_pool_evicts_slow_heads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lingering_close_keeps_the_response, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
