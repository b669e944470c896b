/*
 * TCP unit tests for a full control-block pool (tcp_evict.c): what it
 * gives up for a peer that completed a handshake (TIME-WAIT, orphans,
 * half-open connections, what the listener's owner gives up), that a bare
 * SYN never evicts anyone, and buffers that grow only for connections
 * that move data. Segments go through the capturing fixture.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp_fixture.h"

static const uint8_t mss_opt[4] = { 2, 4, 0x05, 0xb4 }; /* MSS 1460 */

/* A fixture with a pool of n blocks (the listener included) and fixed
 * 16 KiB buffers. */
static struct fx *pool_fx(uint32_t n)
{
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    cfg.max_conns = n;
    cfg.sndbuf = cfg.rcvbuf = 16384;
    cfg.grow_bytes = 0;
    cfg.backlog_max = 8;
    return fx_new(&cfg);
}

/* A SYN from sport to a full pool: answered with a cookie. Returns it. */
static uint32_t syn_gets_cookie(struct fx *f, uint16_t sport, uint32_t peer_isn)
{
    uint64_t cookies = f->tcp.stats.syn_cookies_sent;
    fx_send(f, sport, 80, peer_isn, 0, F_SYN, 65535, mss_opt, 4, NULL, 0);
    assert_int_equal(f->tcp.stats.syn_cookies_sent, cookies + 1);
    const struct out_seg *sa = fx_last(f);
    assert_int_equal(sa->flags, F_SYN | F_ACK);
    assert_int_equal(sa->ack, peer_isn + 1);
    return sa->seq;
}

/* The peer's ACK (with a request) completing a cookie handshake. */
static void cookie_ack(struct fx *f, uint16_t sport, uint32_t peer_isn, uint32_t cookie)
{
    fx_send(f, sport, 80, peer_isn + 1, cookie + 1, F_ACK, 65535, NULL, 0, "GET", 3);
}

/* The RST captured for the connection from PEER:sport, or NULL. */
static const struct out_seg *rst_to(struct fx *f, uint16_t sport, unsigned since)
{
    for (unsigned i = since; i < f->ncap; i++) {
        const struct out_seg *o = fx_cap(f, i);
        if ((o->flags & F_RST) && o->dport == sport)
            return o;
    }
    return NULL;
}

static void test_orphan_evicted_for_a_completed_handshake(void **state)
{
    (void)state;
    struct fx *f = pool_fx(4);
    struct tern_tcp_sock *ls = NULL, *s[3];
    uint32_t isn[3];
    for (int i = 0; i < 3; i++)
        s[i] = fx_passive(f, &ls, (uint16_t)(40000 + i), 1000, &isn[i]);
    /* s[1] becomes an orphan: the user closes it with data the peer has
     * not acknowledged (the peer's window is shut: a slow reader) */
    fx_send(f, 40001, 80, 1001, isn[1] + 1, F_ACK, 0, NULL, 0, NULL, 0);
    size_t sent;
    assert_int_equal(tern_tcp_send(s[1], "response", 8, &sent), TERN_OK);
    tern_tcp_close(s[1]);
    assert_int_equal(tern_tcp_get_state(s[1]), TERN_TCP_FIN_WAIT_1);
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 4);
    /* pool full: a bare SYN gets a cookie and evicts nobody */
    uint32_t cookie = syn_gets_cookie(f, 50000, 7000);
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 4);
    assert_int_equal(f->tcp.stats.evicted_orphans, 0);
    /* its ACK proves the address: the orphan makes room, with a RST */
    unsigned mark = f->ncap;
    uint64_t refused = f->tcp.stats.drop_pool_empty;
    cookie_ack(f, 50000, 7000, cookie);
    assert_int_equal(f->tcp.stats.evicted_orphans, 1);
    assert_int_equal(f->tcp.stats.drop_pool_empty, refused);
    const struct out_seg *rst = rst_to(f, 40001, mark);
    assert_non_null(rst);
    struct tern_tcp_sock *n = NULL;
    assert_int_equal(tern_tcp_accept(ls, &n), TERN_OK);
    assert_int_equal(tern_tcp_get_state(n), TERN_TCP_ESTABLISHED);
    char buf[8];
    size_t got;
    assert_int_equal(tern_tcp_recv(n, buf, sizeof buf, &got), TERN_OK);
    assert_int_equal(got, 3);
    /* the connections the user holds were not touched */
    assert_int_equal(tern_tcp_get_state(s[0]), TERN_TCP_ESTABLISHED);
    assert_int_equal(tern_tcp_get_state(s[2]), TERN_TCP_ESTABLISHED);
    tern_tcp_abort(n);
    tern_tcp_abort(s[0]);
    tern_tcp_abort(s[2]);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_oldest_half_open_evicted(void **state)
{
    (void)state;
    struct fx *f = pool_fx(4);
    struct tern_tcp_sock *ls;
    assert_int_equal(tern_tcp_listen(&f->tcp, 0, 80, 8, NULL, NULL, &ls), TERN_OK);
    /* three half-open connections, a second apart: the pool is full */
    for (int i = 0; i < 3; i++) {
        fx_send(f, (uint16_t)(41000 + i), 80, 100, 0, F_SYN, 65535, mss_opt, 4, NULL, 0);
        assert_int_equal(fx_last(f)->flags, F_SYN | F_ACK);
        fx_advance_ms(f, 1000);
    }
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 4);
    uint32_t cookie = syn_gets_cookie(f, 50000, 9000);
    cookie_ack(f, 50000, 9000, cookie);
    assert_int_equal(f->tcp.stats.evicted_half_open, 1);
    assert_int_equal(f->tcp.stats.syn_cookies_accepted, 1);
    /* the oldest (41000) is gone: its ACK now meets no connection and no
     * valid cookie; the younger ones remain half-open */
    uint64_t bad = f->tcp.stats.drop_bad_cookie;
    fx_send(f, 41000, 80, 101, 12345, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(f->tcp.stats.drop_bad_cookie, bad + 1);
    struct tern_tcp_sock *n = NULL, *more = NULL;
    assert_int_equal(tern_tcp_accept(ls, &n), TERN_OK);
    uint16_t lp, rp;
    uint32_t la, ra;
    tern_tcp_get_addrs(n, &la, &lp, &ra, &rp);
    assert_int_equal(rp, 50000);
    assert_int_equal(tern_tcp_accept(ls, &more), TERN_AGAIN); /* the others: half-open */
    tern_tcp_abort(n);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

/* The owner of the listener: gives up its oldest connection, or refuses. */
struct owner {
    struct tern_tcp_sock *conns[8];
    unsigned n;
    unsigned asked;
    bool refuse;
};

static bool owner_evict(struct tern_tcp_sock *ls, void *arg)
{
    struct owner *o = arg;
    (void)ls;
    o->asked++;
    if (o->refuse || o->n == 0)
        return false;
    tern_tcp_abort(o->conns[0]);
    memmove(o->conns, o->conns + 1, --o->n * sizeof o->conns[0]);
    return true;
}

static void test_owner_gives_up_its_least_useful(void **state)
{
    (void)state;
    struct fx *f = pool_fx(4);
    struct owner o = { 0 };
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn[3];
    for (int i = 0; i < 3; i++)
        o.conns[o.n++] = fx_passive(f, &ls, (uint16_t)(42000 + i), 1000, &isn[i]);
    tern_tcp_set_evict(ls, owner_evict, &o);
    /* a SYN flood against the full pool: cookies, and the owner is never
     * asked (a bare SYN may come from a forged address) */
    for (uint32_t i = 0; i < 200; i++)
        fx_send(f, (uint16_t)(1024 + i), 80, i * 7919u, 0, F_SYN, 65535, mss_opt, 4, NULL, 0);
    assert_int_equal(o.asked, 0);
    assert_int_equal(o.n, 3);
    assert_int_equal(f->tcp.stats.syn_cookies_sent, 200);
    /* a completed handshake: the owner is asked and resets its oldest */
    uint32_t cookie = syn_gets_cookie(f, 50000, 5000);
    unsigned mark = f->ncap;
    cookie_ack(f, 50000, 5000, cookie);
    assert_int_equal(o.asked, 1);
    assert_int_equal(f->tcp.stats.evicted_by_owner, 1);
    assert_non_null(rst_to(f, 42000, mark));
    struct tern_tcp_sock *n = NULL;
    assert_int_equal(tern_tcp_accept(ls, &n), TERN_OK);
    o.conns[o.n++] = n;
    /* an owner that keeps everything: the peer is refused, counted */
    o.refuse = true;
    cookie = syn_gets_cookie(f, 50001, 6000);
    uint64_t refused = f->tcp.stats.drop_pool_empty;
    cookie_ack(f, 50001, 6000, cookie);
    assert_int_equal(o.asked, 2);
    assert_int_equal(f->tcp.stats.drop_pool_empty, refused + 1);
    assert_int_equal(tern_tcp_accept(ls, &n), TERN_AGAIN);
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 4);
    for (unsigned i = 0; i < o.n; i++)
        tern_tcp_abort(o.conns[i]);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

/* Orphans go before the owner is asked, and TIME-WAIT before orphans. */
static void test_eviction_order(void **state)
{
    (void)state;
    struct fx *f = pool_fx(4);
    struct owner o = { 0 };
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn[3];
    for (int i = 0; i < 3; i++)
        o.conns[o.n++] = fx_passive(f, &ls, (uint16_t)(43000 + i), 1000, &isn[i]);
    tern_tcp_set_evict(ls, owner_evict, &o);
    /* conns[2] into TIME-WAIT (we close first, the peer ACKs and FINs);
     * conns[1] an orphan in FIN-WAIT-1 behind a shut window */
    struct tern_tcp_sock *tw = o.conns[2], *orphan = o.conns[1];
    o.n = 1;
    tern_tcp_close(tw);
    fx_send(f, 43002, 80, 1001, isn[2] + 2, F_ACK | F_FIN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(tw), TERN_TCP_TIME_WAIT);
    fx_send(f, 43001, 80, 1001, isn[1] + 1, F_ACK, 0, NULL, 0, NULL, 0);
    size_t sent;
    assert_int_equal(tern_tcp_send(orphan, "x", 1, &sent), TERN_OK);
    tern_tcp_close(orphan);
    /* the TIME-WAIT block (released by its user) goes first, even for a
     * bare SYN: it has nothing left to deliver */
    fx_send(f, 50000, 80, 5000, 0, F_SYN, 65535, mss_opt, 4, NULL, 0);
    assert_int_equal(f->tcp.stats.time_wait_recycled, 1);
    assert_int_equal(f->tcp.stats.syn_cookies_sent, 0);
    cookie_ack(f, 50000, 5000, fx_last(f)->seq);
    assert_int_equal(f->tcp.stats.evicted_orphans, 0);
    uint32_t cookie = syn_gets_cookie(f, 50001, 5000);
    cookie_ack(f, 50001, 5000, cookie);
    assert_int_equal(f->tcp.stats.evicted_orphans, 1);
    assert_int_equal(o.asked, 0);
    cookie = syn_gets_cookie(f, 50002, 5000);
    cookie_ack(f, 50002, 5000, cookie);
    assert_int_equal(o.asked, 1);
    assert_int_equal(f->tcp.stats.evicted_by_owner, 1);
    assert_int_equal(o.n, 0);
    struct tern_tcp_sock *n;
    unsigned accepted = 0;
    while (tern_tcp_accept(ls, &n) == TERN_OK) {
        accepted++;
        tern_tcp_abort(n);
    }
    assert_int_equal(accepted, 3);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

/* ---- buffers that grow ---- */

static struct fx *grow_fx(uint32_t grow_bytes)
{
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    cfg.max_conns = 8;
    cfg.sndbuf = cfg.rcvbuf = 65536;
    cfg.sndbuf_min = cfg.rcvbuf_min = 4096;
    cfg.grow_bytes = grow_bytes;
    return fx_new(&cfg);
}

static void test_send_buffer_grows_for_a_wide_window_only(void **state)
{
    (void)state;
    struct fx *f = grow_fx(1u << 20);
    static uint8_t data[100000];
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 44000, 1000, &isn);
    size_t sent, total = 0;
    /* the peer's window (65535) is wider than the 4 KiB buffer: each full
     * buffer doubles it, up to 64 KiB */
    assert_int_equal(tern_tcp_send_space(s), 4096);
    while (tern_tcp_send(s, data, sizeof data - total, &sent) == TERN_OK && sent)
        total += sent;
    assert_int_equal(total, 65536);
    assert_int_equal(f->tcp.stats.buf_grown, 4); /* 8, 16, 32, 64 KiB */
    /* a slow reader: window 256, its 4 KiB buffer stays */
    struct tern_tcp_sock *slow = NULL;
    fx_send(f, 44001, 80, 2000, 0, F_SYN, 256, mss_opt, 4, NULL, 0);
    uint32_t sisn = fx_last(f)->seq;
    fx_send(f, 44001, 80, 2001, sisn + 1, F_ACK, 256, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_accept(ls, &slow), TERN_OK);
    total = 0;
    while (tern_tcp_send(slow, data, sizeof data - total, &sent) == TERN_OK && sent)
        total += sent;
    assert_int_equal(total, 4096);
    assert_int_equal(f->tcp.stats.buf_grown, 4);
    tern_tcp_abort(slow);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f); /* grown buffers went back to the area */
}

static void test_receive_buffer_grows_and_keeps_its_data(void **state)
{
    (void)state;
    struct fx *f = grow_fx(1u << 20);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 45000, 1000, &isn);
    uint8_t in[4096], out[8192];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 31 + (i >> 8));
    /* a trickle (a slowloris) never grows it */
    char buf[64];
    size_t got;
    uint32_t seq = 1001;
    for (int i = 0; i < 10; i++) {
        fx_send(f, 45000, 80, seq, isn + 1, F_ACK, 65535, NULL, 0, in, 3);
        seq += 3;
        assert_int_equal(tern_tcp_recv(s, buf, sizeof buf, &got), TERN_OK);
    }
    assert_int_equal(f->tcp.stats.buf_grown, 0);
    /* an out-of-order piece, then the hole filled: 3000 bytes (over half
     * of the 4 KiB ring) wait when the application reads */
    fx_send(f, 45000, 80, seq + 1460, isn + 1, F_ACK, 65535, NULL, 0, in + 1460, 1540);
    fx_send(f, 45000, 80, seq, isn + 1, F_ACK, 65535, NULL, 0, in, 1460);
    assert_int_equal(tern_tcp_recv_avail(s), 3000);
    unsigned mark = f->ncap;
    assert_int_equal(tern_tcp_recv(s, out, 100, &got), TERN_OK);
    assert_int_equal(f->tcp.stats.buf_grown, 1);
    assert_int_equal(got, 100);
    assert_int_equal(tern_tcp_recv(s, out + 100, sizeof out - 100, &got), TERN_OK);
    assert_int_equal(got, 2900);
    assert_memory_equal(out, in, 3000);
    /* the peer heard of the larger window at the first read: 8 KiB less
     * the 2900 bytes still held (the 4 KiB ring could offer 1196) */
    assert_true(f->ncap > mark);
    assert_int_equal(fx_last(f)->wnd, 8192 - 2900);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

/* Read as it arrives (the ring never half full), but a ring's worth
 * within one round trip: the window is the limit, so it grows; the same
 * bytes spread over seconds (a trickle) leave it alone. */
static void test_receive_buffer_grows_for_a_window_per_rtt(void **state)
{
    (void)state;
    struct fx *f = grow_fx(1u << 20);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    static uint8_t seg[1460], buf[4096];
    size_t got;
    struct tern_tcp_sock *slow = fx_passive(f, &ls, 47000, 1000, &isn);
    uint32_t seq = 1001;
    for (int i = 0; i < 6; i++) {
        fx_send(f, 47000, 80, seq, isn + 1, F_ACK, 65535, NULL, 0, seg, sizeof seg);
        seq += sizeof seg;
        assert_int_equal(tern_tcp_recv(slow, buf, sizeof buf, &got), TERN_OK);
        assert_int_equal(got, sizeof seg);
        fx_advance_ms(f, 500);
    }
    assert_int_equal(f->tcp.stats.buf_grown, 0);
    struct tern_tcp_sock *fast = fx_passive(f, &ls, 47001, 1000, &isn);
    seq = 1001;
    for (int i = 0; i < 2; i++) {
        fx_send(f, 47001, 80, seq, isn + 1, F_ACK, 65535, NULL, 0, seg, sizeof seg);
        seq += sizeof seg;
        assert_int_equal(tern_tcp_recv(fast, buf, sizeof buf, &got), TERN_OK);
        assert_int_equal(got, sizeof seg);
    }
    assert_int_equal(f->tcp.stats.buf_grown, 1);
    assert_int_equal(fx_last(f)->wnd, 8192); /* all read: the grown window */
    tern_tcp_abort(slow);
    tern_tcp_abort(fast);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_full_area_leaves_buffers_small(void **state)
{
    (void)state;
    struct fx *f = grow_fx(12 * 1024); /* room for one 8 KiB buffer */
    static uint8_t data[20000];
    struct tern_tcp_sock *ls = NULL, *s[2];
    uint32_t isn;
    size_t sent, total[2] = { 0, 0 };
    for (int i = 0; i < 2; i++)
        s[i] = fx_passive(f, &ls, (uint16_t)(46000 + i), 1000, &isn);
    for (int i = 0; i < 2; i++)
        while (tern_tcp_send(s[i], data, sizeof data - total[i], &sent) == TERN_OK && sent)
            total[i] += sent;
    assert_int_equal(total[0], 8192);
    assert_int_equal(total[1], 4096);
    assert_true(f->tcp.stats.buf_grow_failed >= 2);
    tern_tcp_abort(s[0]);
    tern_tcp_abort(s[1]);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_defaults_suit_a_server(void **state)
{
    (void)state;
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    assert_true(cfg.max_conns >= 1000);
    assert_int_equal(cfg.sndbuf_min, 4096);
    assert_int_equal(cfg.rcvbuf_min, 4096);
    assert_true(cfg.grow_bytes >= 16 * cfg.sndbuf);
    /* the whole pool fits in the 16 MiB heap of the fixture */
    struct fx *f = fx_new(&cfg);
    struct tern_heap_stats h;
    tern_heap_get_stats(&f->os.heap, &h);
    assert_true(h.in_use < 14u << 20);
    fx_free_checked(f);
}

/* A backend's share of a small heap: the pool shrinks to fit it; a large
 * share leaves the defaults. */
static void test_config_fits_a_budget(void **state)
{
    (void)state;
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    tern_tcp_config_fit(&cfg, 64u << 20);
    assert_int_equal(cfg.max_conns, 1024);
    assert_int_equal(cfg.grow_bytes, 4u << 20);

    /* the OS instance and a minimal TCP: what the budget is measured over */
    struct tern_tcp_config tiny;
    tern_tcp_config_default(&tiny);
    tiny.max_conns = 16;
    tiny.sndbuf = tiny.rcvbuf = 1024;
    tiny.grow_bytes = 0;
    struct fx *f = fx_new(&tiny);
    size_t floor = f->base.in_use;
    fx_free_checked(f);

    size_t budget = 10u << 20 >> 2; /* a quarter of a 10 MiB heap */
    tern_tcp_config_default(&cfg);
    tern_tcp_config_fit(&cfg, budget);
    assert_true(cfg.max_conns >= 16 && cfg.max_conns < 1024);
    assert_true(cfg.grow_bytes <= budget / 3);
    f = fx_new(&cfg);
    assert_true(f->base.in_use - floor <= budget);
    /* and it serves: a connection whose buffers grow */
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 48000, 1000, &isn);
    static uint8_t data[20000];
    size_t sent, total = 0;
    while (tern_tcp_send(s, data, sizeof data - total, &sent) == TERN_OK && sent)
        total += sent;
    assert_true(total > 4096);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orphan_evicted_for_a_completed_handshake),
        cmocka_unit_test(test_oldest_half_open_evicted),
        cmocka_unit_test(test_owner_gives_up_its_least_useful),
        cmocka_unit_test(test_eviction_order),
        cmocka_unit_test(test_send_buffer_grows_for_a_wide_window_only),
        cmocka_unit_test(test_receive_buffer_grows_and_keeps_its_data),
        cmocka_unit_test(test_receive_buffer_grows_for_a_window_per_rtt),
        cmocka_unit_test(test_full_area_leaves_buffers_small),
        cmocka_unit_test(test_defaults_suit_a_server),
        cmocka_unit_test(test_config_fits_a_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
