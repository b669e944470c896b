/*
 * The PAL's sockets (pal/pal_sock.c) end to end: apps written here as C
 * functions run on two Tern instances joined by a simulated Ethernet link
 * (pal_world.h), through the real IPv4 stack, TCP and DNS resolver.
 * Every test ends with the instance heap back at its baseline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pal_world.h"
#include "tern/pal.h"

#define A_ADDR TERN_IPV4(192, 0, 2, 1)
#define B_ADDR TERN_IPV4(192, 0, 2, 2)
#define ECHO_LEN 100000

/* What the apps of one test share with the test body. */
static struct {
    struct pal_world *w;
    volatile bool flag, flag2;        /* app-to-app and test-to-app signals */
    struct tern_pal_addr peer;
    int line;                         /* the failing CHECK of an app */
    size_t got;
    uint8_t out[ECHO_LEN], in[ECHO_LEN + 1];
    size_t in_len;
    uint64_t elapsed[4];
    int codes[8];
    tern_pal_handle h;
    const struct tern_pal *pal;
} T;

#define CHECK(cond)                 \
    do {                            \
        if (!(cond)) {              \
            T.line = __LINE__;      \
            return -__LINE__;       \
        }                           \
    } while (0)

#define NOW(pal) ((pal)->monotonic_ns((pal)->ctx))

static bool flag_set(void *arg)
{
    (void)arg;
    return T.flag;
}

static struct pal_world *world(unsigned n)
{
    memset(&T, 0, sizeof T);
    T.w = pw_new(n, true);
    return T.w;
}

/* Runs until every app exited (fails the test otherwise) and checks codes. */
static void run_to_end(struct pal_world *w, uint64_t max_ns)
{
    bool done = pw_run(w, pw_all_exited, w, max_ns);
    if (!done || T.line)
        fail_msg("apps did not finish (failed CHECK at line %d)", T.line);
    for (unsigned i = 0; i < w->n; i++) {
        if (w->node[i]->app_inited)
            assert_int_equal(w->node[i]->app.exit_code, 0);
    }
}

static void finish_all(struct pal_world *w)
{
    for (unsigned i = 0; i < w->n; i++) {
        if (w->node[i]->app_inited)
            pw_finish(w->node[i]);
    }
    pw_free(w);
}

/* ---- TCP echo ---- */

static int echo_server(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle l, s;
    CHECK(pal->tcp_listen(c, 7000, &l) == TERN_PAL_OK);
    T.flag = true;
    /* The listener polls readable once a connection waits in its backlog. */
    struct tern_pal_pollfd pf = { l, TERN_PAL_POLL_IN | TERN_PAL_POLL_OUT, 0 };
    unsigned ready = 0;
    CHECK(pal->poll(c, &pf, 1, TERN_PAL_FOREVER, &ready) == TERN_PAL_OK);
    CHECK(ready == 1 && pf.revents == TERN_PAL_POLL_IN);
    CHECK(pal->tcp_accept(c, l, TERN_PAL_FOREVER, &s, &T.peer) == TERN_PAL_OK);
    static uint8_t buf[3000];
    for (;;) {
        size_t got, sent;
        CHECK(pal->sock_read(c, s, buf, sizeof buf, TERN_PAL_FOREVER, &got) == TERN_PAL_OK);
        if (got == 0)
            break;
        CHECK(pal->sock_write(c, s, buf, got, TERN_PAL_FOREVER, &sent) == TERN_PAL_OK);
        CHECK(sent == got);
    }
    CHECK(pal->sock_close(c, s) == TERN_PAL_OK);
    CHECK(pal->sock_close(c, l) == TERN_PAL_OK);
    CHECK(pal->sock_close(c, l) == TERN_PAL_ENOENT);
    return 0;
}

static int echo_reader(void *arg)
{
    const struct tern_pal *pal = arg;
    for (;;) {
        size_t got, room = sizeof T.in - T.in_len;
        int r = pal->sock_read(pal->ctx, T.h, T.in + T.in_len, room < 1500 ? room : 1500,
                               TERN_PAL_FOREVER, &got);
        if (r != TERN_PAL_OK)
            return r;
        if (got == 0)
            return 0;
        T.in_len += got;
        if (T.in_len > ECHO_LEN)
            return -1;                          /* more than was sent */
    }
}

static int echo_client(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    struct tern_pal_addr to = { A_ADDR, 7000 };
    tern_pal_handle s, reader;
    CHECK(pal->tcp_connect(c, &to, NOW(pal) + PW_S, &s) == TERN_PAL_OK);
    T.h = s;
    struct tern_pal_pollfd pf = { s, TERN_PAL_POLL_IN | TERN_PAL_POLL_OUT, 0 };
    unsigned ready = 0;
    CHECK(pal->poll(c, &pf, 1, NOW(pal), &ready) == TERN_PAL_OK);
    CHECK(ready == 1 && pf.revents == TERN_PAL_POLL_OUT);   /* room, nothing to read */
    /* Reading on a second thread while this one writes (the buffers are
     * 16 KiB each way: a writer that never reads would stall). */
    CHECK(pal->thread_spawn(c, echo_reader, (void *)pal, 0, &reader) == TERN_PAL_OK);
    for (size_t i = 0; i < ECHO_LEN; i++)
        T.out[i] = (uint8_t)(i * 7 + i / 251);
    size_t sent = 0;
    CHECK(pal->sock_write(c, s, T.out, ECHO_LEN, TERN_PAL_FOREVER, &sent) == TERN_PAL_OK);
    CHECK(sent == ECHO_LEN);
    CHECK(pal->sock_shutdown(c, s) == TERN_PAL_OK);
    int code = -1;
    CHECK(pal->thread_join(c, reader, TERN_PAL_FOREVER, &code) == TERN_PAL_OK);
    CHECK(code == 0);
    CHECK(pal->sock_close(c, s) == TERN_PAL_OK);
    return 0;
}

static void test_tcp_echo(void **state)
{
    (void)state;
    struct pal_world *w = world(2);
    pw_start(w->node[0], echo_server);
    assert_true(pw_run(w, flag_set, NULL, PW_S));
    pw_start(w->node[1], echo_client);
    run_to_end(w, 60 * PW_S);
    assert_int_equal(T.in_len, ECHO_LEN);
    assert_memory_equal(T.in, T.out, ECHO_LEN);
    assert_int_equal(T.peer.addr, B_ADDR);
    assert_true(T.peer.port != 0);
    finish_all(w);
}

/* ---- deadlines and a close under a blocked call ---- */

static int blocked_accept(void *arg)
{
    const struct tern_pal *pal = arg;
    tern_pal_handle s;
    return pal->tcp_accept(pal->ctx, T.h, TERN_PAL_FOREVER, &s, NULL);
}

static int timeout_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle l, s, u, t;
    /* accept */
    CHECK(pal->tcp_listen(c, 7100, &l) == TERN_PAL_OK);
    uint64_t t0 = NOW(pal);
    CHECK(pal->tcp_accept(c, l, t0 + 50 * PW_MS, &s, NULL) == TERN_PAL_ETIMEDOUT);
    T.elapsed[0] = NOW(pal) - t0;
    /* read on a connection whose peer sends nothing */
    struct tern_pal_addr to = { B_ADDR, 7200 };
    CHECK(pal->tcp_connect(c, &to, NOW(pal) + PW_S, &s) == TERN_PAL_OK);
    uint8_t buf[16];
    size_t got = 99;
    t0 = NOW(pal);
    CHECK(pal->sock_read(c, s, buf, sizeof buf, t0 + 100 * PW_MS, &got) == TERN_PAL_ETIMEDOUT);
    T.elapsed[1] = NOW(pal) - t0;
    CHECK(got == 99);                          /* outputs only on OK */
    CHECK(pal->sock_close(c, s) == TERN_PAL_OK);
    /* udp */
    CHECK(pal->udp_bind(c, 0, &u) == TERN_PAL_OK);
    t0 = NOW(pal);
    CHECK(pal->udp_recvfrom(c, u, buf, sizeof buf, t0 + 30 * PW_MS, &got, NULL) ==
          TERN_PAL_ETIMEDOUT);
    T.elapsed[2] = NOW(pal) - t0;
    CHECK(pal->sock_close(c, u) == TERN_PAL_OK);
    /* connect to a host that is not there (no ARP answer) */
    struct tern_pal_addr nobody = { TERN_IPV4(192, 0, 2, 99), 80 };
    t0 = NOW(pal);
    CHECK(pal->tcp_connect(c, &nobody, t0 + 300 * PW_MS, &s) == TERN_PAL_ETIMEDOUT);
    T.elapsed[3] = NOW(pal) - t0;
    /* a listener closed under a thread blocked in accept */
    T.h = l;
    CHECK(pal->thread_spawn(c, blocked_accept, (void *)pal, 0, &t) == TERN_PAL_OK);
    CHECK(pal->sleep_until(c, NOW(pal) + 5 * PW_MS) == TERN_PAL_OK);
    CHECK(pal->sock_close(c, l) == TERN_PAL_OK);
    int code = 0;
    CHECK(pal->thread_join(c, t, NOW(pal) + PW_S, &code) == TERN_PAL_OK);
    CHECK(code == TERN_PAL_ECLOSED);
    return 0;
}

static int silent_server(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle l, s;
    CHECK(pal->tcp_listen(c, 7200, &l) == TERN_PAL_OK);
    T.flag = true;
    CHECK(pal->tcp_accept(c, l, TERN_PAL_FOREVER, &s, NULL) == TERN_PAL_OK);
    uint8_t buf[16];
    size_t got = 99;
    CHECK(pal->sock_read(c, s, buf, sizeof buf, TERN_PAL_FOREVER, &got) == TERN_PAL_OK);
    CHECK(got == 0);                           /* the client's FIN */
    return 0;                                  /* l and s left open: finish closes them */
}

/* An app that pokes at handles it was not given: the one a blocked
 * accept holds for its connection is refused (read), reported (poll) and
 * can be closed, which ends the accept with ECLOSED. */
static int poke_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle l, t;
    CHECK(pal->tcp_listen(c, 7400, &l) == TERN_PAL_OK);
    T.h = l;
    CHECK(pal->thread_spawn(c, blocked_accept, (void *)pal, 0, &t) == TERN_PAL_OK);
    CHECK(pal->yield(c) == TERN_PAL_OK);          /* the thread blocks in accept */
    unsigned closed = 0;
    for (tern_pal_handle h = 0; h < 8; h++) {
        if (h == l || h == t)
            continue;
        uint8_t buf[8];
        size_t got, sent;
        unsigned ready;
        struct tern_pal_pollfd pf = { h, TERN_PAL_POLL_IN | TERN_PAL_POLL_OUT, 0 };
        int r = pal->sock_read(c, h, buf, sizeof buf, NOW(pal), &got);
        CHECK(r == TERN_PAL_ENOENT);
        CHECK(pal->sock_write(c, h, "x", 1, NOW(pal), &sent) == TERN_PAL_ENOENT);
        CHECK(pal->sock_shutdown(c, h) == TERN_PAL_ENOENT);
        CHECK(pal->poll(c, &pf, 1, NOW(pal), &ready) == TERN_PAL_OK);
        CHECK(ready == 1 && pf.revents == TERN_PAL_POLL_ERR);
        if (pal->sock_close(c, h) == TERN_PAL_OK)
            closed++;
    }
    CHECK(closed == 1);
    int code = 0;
    CHECK(pal->thread_join(c, t, NOW(pal) + PW_S, &code) == TERN_PAL_OK);
    CHECK(code == TERN_PAL_ECLOSED);
    CHECK(pal->sock_close(c, l) == TERN_PAL_OK);
    return 0;
}

static void test_handles_not_given(void **state)
{
    (void)state;
    struct pal_world *w = world(1);
    pw_start(w->node[0], poke_app);
    run_to_end(w, 10 * PW_S);
    finish_all(w);
}

static void test_deadlines(void **state)
{
    (void)state;
    struct pal_world *w = world(2);
    pw_start(w->node[1], silent_server);
    assert_true(pw_run(w, flag_set, NULL, PW_S));
    pw_start(w->node[0], timeout_app);
    run_to_end(w, 60 * PW_S);
    uint64_t want[4] = { 50 * PW_MS, 100 * PW_MS, 30 * PW_MS, 300 * PW_MS };
    for (int i = 0; i < 4; i++) {
        assert_true(T.elapsed[i] >= want[i]);
        assert_true(T.elapsed[i] <= want[i] + 2 * PW_MS);
    }
    finish_all(w);
}

/* ---- a peer that goes away: FIN, then RST ---- */

static int vanish_server(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle l, s;
    uint8_t buf[16];
    size_t got;
    CHECK(pal->tcp_listen(c, 7300, &l) == TERN_PAL_OK);
    T.flag = true;
    /* 1: the client writes "bye" and closes: data, then end of stream. */
    CHECK(pal->tcp_accept(c, l, TERN_PAL_FOREVER, &s, NULL) == TERN_PAL_OK);
    CHECK(pal->sock_read(c, s, buf, sizeof buf, TERN_PAL_FOREVER, &got) == TERN_PAL_OK);
    CHECK(got == 3 && memcmp(buf, "bye", 3) == 0);
    CHECK(pal->sock_read(c, s, buf, sizeof buf, TERN_PAL_FOREVER, &got) == TERN_PAL_OK);
    CHECK(got == 0);
    struct tern_pal_pollfd pf = { s, 0, 0 };   /* nothing asked: HUP comes anyway */
    unsigned ready = 0;
    CHECK(pal->poll(c, &pf, 1, NOW(pal), &ready) == TERN_PAL_OK);
    CHECK(ready == 1 && pf.revents == TERN_PAL_POLL_HUP);
    CHECK(pal->sock_close(c, s) == TERN_PAL_OK);
    /* 2: closed with the client's data unread: a reset. */
    CHECK(pal->tcp_accept(c, l, TERN_PAL_FOREVER, &s, NULL) == TERN_PAL_OK);
    pf = (struct tern_pal_pollfd){ s, TERN_PAL_POLL_IN, 0 };
    CHECK(pal->poll(c, &pf, 1, TERN_PAL_FOREVER, &ready) == TERN_PAL_OK);
    CHECK(ready == 1 && pf.revents == TERN_PAL_POLL_IN);
    CHECK(pal->sock_close(c, s) == TERN_PAL_OK);
    CHECK(pal->sock_close(c, l) == TERN_PAL_OK);
    return 0;
}

static int vanish_client(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    struct tern_pal_addr to = { A_ADDR, 7300 };
    tern_pal_handle s;
    size_t sent, got;
    uint8_t buf[16];
    CHECK(pal->tcp_connect(c, &to, NOW(pal) + PW_S, &s) == TERN_PAL_OK);
    CHECK(pal->sock_write(c, s, "bye", 3, TERN_PAL_FOREVER, &sent) == TERN_PAL_OK);
    CHECK(pal->sock_close(c, s) == TERN_PAL_OK);
    CHECK(pal->tcp_connect(c, &to, NOW(pal) + PW_S, &s) == TERN_PAL_OK);
    CHECK(pal->sock_write(c, s, "data", 4, TERN_PAL_FOREVER, &sent) == TERN_PAL_OK);
    CHECK(pal->sock_read(c, s, buf, sizeof buf, TERN_PAL_FOREVER, &got) == TERN_PAL_ECLOSED);
    sent = 99;
    CHECK(pal->sock_write(c, s, "more", 4, TERN_PAL_FOREVER, &sent) == TERN_PAL_ECLOSED);
    CHECK(sent == 0);
    struct tern_pal_pollfd pf = { s, TERN_PAL_POLL_OUT, 0 };
    unsigned ready;
    CHECK(pal->poll(c, &pf, 1, TERN_PAL_FOREVER, &ready) == TERN_PAL_OK);
    CHECK(ready == 1 && (pf.revents & TERN_PAL_POLL_ERR) && (pf.revents & TERN_PAL_POLL_HUP));
    CHECK(pal->sock_close(c, s) == TERN_PAL_OK);
    /* refused: nothing listens on 7301 */
    struct tern_pal_addr closed = { A_ADDR, 7301 };
    CHECK(pal->tcp_connect(c, &closed, NOW(pal) + PW_S, &s) == TERN_PAL_EPROTO);
    return 0;
}

static void test_peer_vanishes_and_refused(void **state)
{
    (void)state;
    struct pal_world *w = world(2);
    pw_start(w->node[0], vanish_server);
    assert_true(pw_run(w, flag_set, NULL, PW_S));
    pw_start(w->node[1], vanish_client);
    run_to_end(w, 60 * PW_S);
    finish_all(w);
}

/* ---- UDP ---- */

static int udp_echo_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle u;
    uint8_t buf[64];
    size_t got;
    struct tern_pal_addr from;
    CHECK(pal->udp_bind(c, 9000, &u) == TERN_PAL_OK);
    tern_pal_handle dup;
    CHECK(pal->udp_bind(c, 9000, &dup) == TERN_PAL_EBUSY);
    T.flag = true;
    CHECK(pal->udp_recvfrom(c, u, buf, sizeof buf, TERN_PAL_FOREVER, &got, &from) ==
          TERN_PAL_OK);
    CHECK(pal->udp_sendto(c, u, &from, buf, got) == TERN_PAL_OK);
    CHECK(pal->udp_recvfrom(c, u, buf, 4, TERN_PAL_FOREVER, &got, NULL) == TERN_PAL_OK);
    T.got = got;                                /* cut to cap */
    CHECK(pal->sock_close(c, u) == TERN_PAL_OK);
    return 0;
}

static int udp_client_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle u;
    uint8_t buf[64];
    size_t got;
    struct tern_pal_addr from, to = { A_ADDR, 9000 };
    CHECK(pal->udp_bind(c, 0, &u) == TERN_PAL_OK);
    CHECK(pal->udp_sendto(c, u, &to, "hello udp", 9) == TERN_PAL_OK);
    CHECK(pal->udp_recvfrom(c, u, buf, sizeof buf, NOW(pal) + PW_S, &got, &from) ==
          TERN_PAL_OK);
    CHECK(got == 9 && memcmp(buf, "hello udp", 9) == 0);
    CHECK(from.addr == A_ADDR && from.port == 9000);
    CHECK(pal->udp_sendto(c, u, &to, "truncated!", 10) == TERN_PAL_OK);
    return 0;                                   /* u left open: finish closes it */
}

static void test_udp_round_trip(void **state)
{
    (void)state;
    struct pal_world *w = world(2);
    pw_start(w->node[0], udp_echo_app);
    assert_true(pw_run(w, flag_set, NULL, PW_S));
    pw_start(w->node[1], udp_client_app);
    run_to_end(w, 10 * PW_S);
    assert_int_equal(T.got, 4);
    finish_all(w);
}

/* ---- DNS ---- */

/* A tiny DNS server app: www.example.test is 198.51.100.7, anything else
 * NXDOMAIN. Runs until T.flag2. */
static int dns_server_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle u;
    CHECK(pal->udp_bind(c, 53, &u) == TERN_PAL_OK);
    T.flag = true;
    static const uint8_t www[] = "\3www\7example\4test";
    while (!T.flag2) {
        uint8_t q[512];
        size_t n;
        struct tern_pal_addr from;
        int r = pal->udp_recvfrom(c, u, q, sizeof q - 16, NOW(pal) + 10 * PW_MS, &n, &from);
        if (r == TERN_PAL_ETIMEDOUT)
            continue;
        CHECK(r == TERN_PAL_OK && n > 12);
        bool hit = n >= 12 + sizeof www && memcmp(q + 12, www, sizeof www) == 0;
        q[2] = 0x81;                                   /* QR, RD */
        q[3] = hit ? 0x80 : 0x83;                      /* RA; NXDOMAIN when unknown */
        q[7] = hit ? 1 : 0;                            /* one answer */
        if (hit) {
            static const uint8_t ans[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4,
                                           198, 51, 100, 7 };
            memcpy(q + n, ans, sizeof ans);
            n += sizeof ans;
        }
        CHECK(pal->udp_sendto(c, u, &from, q, n) == TERN_PAL_OK);
    }
    CHECK(pal->sock_close(c, u) == TERN_PAL_OK);
    return 0;
}

static int dns_client_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    uint32_t a = 0;
    CHECK(pal->dns_resolve(c, "192.0.2.77", TERN_PAL_FOREVER, &a) == TERN_PAL_OK);
    CHECK(a == TERN_IPV4(192, 0, 2, 77));
    CHECK(pal->dns_resolve(c, "www.example.test", NOW(pal) + 5 * PW_S, &a) == TERN_PAL_OK);
    CHECK(a == TERN_IPV4(198, 51, 100, 7));
    CHECK(pal->dns_resolve(c, "missing.example.test", NOW(pal) + 5 * PW_S, &a) ==
          TERN_PAL_ENOENT);
    CHECK(pal->dns_resolve(c, "bad..name", NOW(pal) + 5 * PW_S, &a) == TERN_PAL_EINVAL);
    T.flag2 = true;
    return 0;
}

static void test_dns_with_a_server(void **state)
{
    (void)state;
    struct pal_world *w = world(2);
    uint32_t server = B_ADDR;
    tern_dns_set_servers(&w->node[0]->dns, &server, 1);
    pw_start(w->node[1], dns_server_app);
    assert_true(pw_run(w, flag_set, NULL, PW_S));
    pw_start(w->node[0], dns_client_app);
    run_to_end(w, 20 * PW_S);
    finish_all(w);
}

static int dns_no_server_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    uint32_t a = 0;
    /* No server configured: ENOENT at once. */
    CHECK(pal->dns_resolve(c, "name.test", TERN_PAL_FOREVER, &a) == TERN_PAL_ENOENT);
    /* A server that never answers: the app's deadline first ... */
    uint32_t server = B_ADDR;
    tern_dns_set_servers(&T.w->node[0]->dns, &server, 1);
    uint64_t t0 = NOW(pal);
    CHECK(pal->dns_resolve(c, "name.test", t0 + 500 * PW_MS, &a) == TERN_PAL_ETIMEDOUT);
    T.elapsed[0] = NOW(pal) - t0;
    /* ... or the resolver's own (2 tries x 2 s). */
    t0 = NOW(pal);
    CHECK(pal->dns_resolve(c, "other.test", TERN_PAL_FOREVER, &a) == TERN_PAL_ETIMEDOUT);
    T.elapsed[1] = NOW(pal) - t0;
    CHECK(a == 0);
    return 0;
}

static void test_dns_without_answers(void **state)
{
    (void)state;
    struct pal_world *w = world(2);
    pw_start(w->node[0], dns_no_server_app);
    run_to_end(w, 30 * PW_S);
    assert_int_equal(T.elapsed[0], 500 * PW_MS);
    assert_true(T.elapsed[1] >= 4 * PW_S && T.elapsed[1] <= 5 * PW_S);
    /* The lookup given up at 500 ms is still the resolver's until it
     * times out; its record is freed then (the heap check in finish). */
    pw_advance(w, 10 * PW_S);
    finish_all(w);
}

/* ---- poll ---- */

static int signaller(void *arg)
{
    const struct tern_pal *pal = arg;
    if (pal->sleep_until(pal->ctx, NOW(pal) + 5 * PW_MS) != TERN_PAL_OK)
        return -1;
    return pal->event_signal(pal->ctx, T.h);
}

static int poll_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle u1, u2, e, t;
    CHECK(pal->udp_bind(c, 5001, &u1) == TERN_PAL_OK);
    CHECK(pal->udp_bind(c, 5002, &u2) == TERN_PAL_OK);
    CHECK(pal->event_create(c, &e) == TERN_PAL_OK);
    struct tern_pal_pollfd fds[3] = {
        { u1, TERN_PAL_POLL_IN, 0 }, { u2, TERN_PAL_POLL_IN, 0 }, { e, TERN_PAL_POLL_IN, 0 },
    };
    unsigned ready = 99;
    /* Nothing: OK with 0 at the deadline. */
    uint64_t t0 = NOW(pal);
    CHECK(pal->poll(c, fds, 3, t0 + 20 * PW_MS, &ready) == TERN_PAL_OK);
    CHECK(ready == 0 && NOW(pal) - t0 == 20 * PW_MS);
    /* The event, signalled by another thread. */
    T.h = e;
    CHECK(pal->thread_spawn(c, signaller, (void *)pal, 0, &t) == TERN_PAL_OK);
    t0 = NOW(pal);
    CHECK(pal->poll(c, fds, 3, TERN_PAL_FOREVER, &ready) == TERN_PAL_OK);
    CHECK(ready == 1 && fds[2].revents == TERN_PAL_POLL_IN && fds[0].revents == 0 &&
          fds[1].revents == 0);
    CHECK(NOW(pal) - t0 == 5 * PW_MS);
    CHECK(pal->event_wait(c, e, NOW(pal)) == TERN_PAL_OK);   /* poll left it set */
    int code = -1;
    CHECK(pal->thread_join(c, t, TERN_PAL_FOREVER, &code) == TERN_PAL_OK && code == 0);
    /* A datagram on the second socket, from the other node. */
    T.flag = true;
    CHECK(pal->poll(c, fds, 3, NOW(pal) + PW_S, &ready) == TERN_PAL_OK);
    CHECK(ready == 1 && fds[1].revents == TERN_PAL_POLL_IN && fds[0].revents == 0 &&
          fds[2].revents == 0);
    /* OUT is always there for UDP; a stale handle is ERR. */
    struct tern_pal_pollfd more[2] = { { u1, TERN_PAL_POLL_OUT, 0 }, { 200, TERN_PAL_POLL_IN, 0 } };
    CHECK(pal->poll(c, more, 2, TERN_PAL_FOREVER, &ready) == TERN_PAL_OK);
    CHECK(ready == 2 && more[0].revents == TERN_PAL_POLL_OUT &&
          more[1].revents == TERN_PAL_POLL_ERR);
    CHECK(pal->poll(c, NULL, 0, TERN_PAL_FOREVER, &ready) == TERN_PAL_EINVAL);
    CHECK(pal->sock_close(c, u1) == TERN_PAL_OK);
    CHECK(pal->sock_close(c, u2) == TERN_PAL_OK);
    return 0;
}

static int poll_peer_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle u;
    struct tern_pal_addr to = { A_ADDR, 5002 };
    CHECK(pal->udp_bind(c, 0, &u) == TERN_PAL_OK);
    while (!T.flag)
        CHECK(pal->sleep_until(c, NOW(pal) + PW_MS) == TERN_PAL_OK);
    CHECK(pal->sleep_until(c, NOW(pal) + 3 * PW_MS) == TERN_PAL_OK);
    CHECK(pal->udp_sendto(c, u, &to, "x", 1) == TERN_PAL_OK);
    CHECK(pal->sock_close(c, u) == TERN_PAL_OK);
    return 0;
}

static void test_poll_two_sockets_and_an_event(void **state)
{
    (void)state;
    struct pal_world *w = world(2);
    pw_start(w->node[0], poll_app);
    pw_start(w->node[1], poll_peer_app);
    run_to_end(w, 10 * PW_S);
    finish_all(w);
}

/* ---- refusals ---- */

/* Blocking members called from the loop (not a thread): EINVAL. */
static void test_blocking_off_thread(void **state)
{
    (void)state;
    struct pal_world *w = world(1);
    struct pw_node *n = w->node[0];
    pw_config(n);
    n->heap_baseline = n->os.heap.in_use;
    assert_int_equal(tern_pal_app_init(&n->app, &n->os, &n->cfg), TERN_OK);
    n->app_inited = true;
    const struct tern_pal *pal = tern_pal_app_table(&n->app);
    void *c = pal->ctx;
    tern_pal_handle l, u, s;
    uint8_t buf[8];
    size_t got;
    uint32_t a;
    struct tern_pal_addr to = { TERN_IPV4(192, 0, 2, 9), 80 };
    assert_int_equal(pal->tcp_listen(c, 80, &l), TERN_PAL_OK);     /* not blocking: fine */
    assert_int_equal(pal->udp_bind(c, 0, &u), TERN_PAL_OK);
    assert_int_equal(pal->tcp_accept(c, l, TERN_PAL_FOREVER, &s, NULL), TERN_PAL_EINVAL);
    assert_int_equal(pal->tcp_connect(c, &to, TERN_PAL_FOREVER, &s), TERN_PAL_EINVAL);
    assert_int_equal(pal->udp_recvfrom(c, u, buf, sizeof buf, TERN_PAL_FOREVER, &got, NULL),
                     TERN_PAL_EINVAL);
    assert_int_equal(pal->dns_resolve(c, "1.2.3.4", TERN_PAL_FOREVER, &a), TERN_PAL_EINVAL);
    struct tern_pal_pollfd pf = { u, TERN_PAL_POLL_IN, 0 };
    unsigned ready;
    assert_int_equal(pal->poll(c, &pf, 1, TERN_PAL_FOREVER, &ready), TERN_PAL_EINVAL);
    assert_int_equal(pal->sock_read(c, l, buf, sizeof buf, 0, &got), TERN_PAL_EINVAL);
    assert_int_equal(pal->sock_read(c, 77, buf, sizeof buf, 0, &got), TERN_PAL_ENOENT);
    assert_int_equal(tern_tcp_pcbs_in_use(&n->tcp), 1);
    finish_all(w);                              /* finish closes l and u */
}

static int exhaust_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    static tern_pal_handle hs[TERN_PAL_MAX_HANDLES];
    struct tern_pal_app *app = (struct tern_pal_app *)c;
    unsigned n = 0;
    /* The TCP pool: 16 blocks. */
    while (n < 64 && pal->tcp_listen(c, (uint16_t)(8000 + n), &hs[n]) == TERN_PAL_OK)
        n++;
    CHECK(n == 16);
    CHECK(app->stats.sock_refused == 1);
    struct tern_pal_addr to = { B_ADDR, 80 };
    tern_pal_handle s;
    CHECK(pal->tcp_connect(c, &to, TERN_PAL_FOREVER, &s) == TERN_PAL_ENOMEM);
    CHECK(app->stats.sock_refused == 2);
    for (unsigned i = 0; i < n; i++)
        CHECK(pal->sock_close(c, hs[i]) == TERN_PAL_OK);
    /* The UDP table: 16 sockets, one of them the resolver's. */
    n = 0;
    while (n < 64 && pal->udp_bind(c, 0, &hs[n]) == TERN_PAL_OK)
        n++;
    CHECK(n == 15);
    CHECK(app->stats.sock_refused == 3);
    for (unsigned i = 0; i < n; i++)
        CHECK(pal->sock_close(c, hs[i]) == TERN_PAL_OK);
    /* The handle table: 256, then every kind of socket is refused. */
    n = 0;
    while (n < TERN_PAL_MAX_HANDLES + 1 && pal->event_create(c, &hs[n]) == TERN_PAL_OK)
        n++;
    CHECK(n == TERN_PAL_MAX_HANDLES);
    uint64_t before = app->stats.handles_refused;
    tern_pal_handle x;
    CHECK(pal->tcp_listen(c, 9999, &x) == TERN_PAL_ENOMEM);
    CHECK(pal->udp_bind(c, 0, &x) == TERN_PAL_ENOMEM);
    CHECK(pal->tcp_connect(c, &to, TERN_PAL_FOREVER, &x) == TERN_PAL_ENOMEM);
    CHECK(app->stats.handles_refused == before + 3);
    CHECK(app->stats.sock_refused == 3);
    CHECK(tern_tcp_pcbs_in_use(app->cfg.tcp) == 0);   /* nothing half-made left behind */
    return 0;                                           /* the events: freed at finish */
}

static void test_exhaustion(void **state)
{
    (void)state;
    struct pal_world *w = world(2);
    pw_start(w->node[0], exhaust_app);
    run_to_end(w, 10 * PW_S);
    assert_true(sim_console_has(&w->node[0]->sim, "handle table full"));
    assert_true(sim_console_has(&w->node[0]->sim, "tcp listener refused: the pool is full"));
    finish_all(w);
}

static int no_net_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle h;
    uint32_t a;
    struct tern_pal_addr to = { A_ADDR, 80 };
    CHECK(pal->tcp_listen(c, 80, &h) == TERN_PAL_ENOTSUP);
    CHECK(pal->tcp_connect(c, &to, TERN_PAL_FOREVER, &h) == TERN_PAL_ENOTSUP);
    CHECK(pal->udp_bind(c, 0, &h) == TERN_PAL_ENOTSUP);
    CHECK(pal->dns_resolve(c, "a.test", TERN_PAL_FOREVER, &a) == TERN_PAL_ENOTSUP);
    CHECK(pal->dns_resolve(c, "10.0.0.1", TERN_PAL_FOREVER, &a) == TERN_PAL_OK);
    CHECK(a == TERN_IPV4(10, 0, 0, 1));
    return 0;
}

static void test_no_network(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    struct pal_world *w = pw_new(1, false);
    pw_start(w->node[0], no_net_app);
    run_to_end(w, PW_S);
    finish_all(w);
}

/* ---- a burst of writes leaves as full segments ---- */

#define BURST_WRITES 10
#define BURST_PIECE 100

static int burst_sink(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle l, s;
    CHECK(pal->tcp_listen(c, 7600, &l) == TERN_PAL_OK);
    T.flag = true;
    CHECK(pal->tcp_accept(c, l, TERN_PAL_FOREVER, &s, NULL) == TERN_PAL_OK);
    for (;;) {
        size_t got;
        CHECK(pal->sock_read(c, s, T.in + T.in_len, sizeof T.in - T.in_len, TERN_PAL_FOREVER,
                             &got) == TERN_PAL_OK);
        if (got == 0)
            break;
        T.in_len += got;
        T.flag2 = T.in_len == BURST_WRITES * BURST_PIECE;
    }
    CHECK(pal->sock_close(c, s) == TERN_PAL_OK);
    CHECK(pal->sock_close(c, l) == TERN_PAL_OK);
    return 0;
}

/* Ten small writes in a row, no blocking call between them: the app's
 * whole burst must leave in one segment once the app thread gives the
 * loop back, as the core's own services' writes do inside the stack's
 * callback, not the first write alone and the rest after an ACK (Nagle),
 * nor a frame per write. */
static int burst_writer(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    struct tern_pal_addr to = { A_ADDR, 7600 };
    tern_pal_handle s;
    CHECK(pal->tcp_connect(c, &to, NOW(pal) + PW_S, &s) == TERN_PAL_OK);
    CHECK(pal->sleep_until(c, NOW(pal) + 300 * PW_MS) == TERN_PAL_OK);   /* the handshake's ACKs settle */
    uint64_t before = T.w->node[1]->tx_frames;
    for (size_t i = 0; i < BURST_WRITES; i++) {
        memset(T.out + i * BURST_PIECE, 'a' + (int)i, BURST_PIECE);
        size_t sent = 0;
        CHECK(pal->sock_write(c, s, T.out + i * BURST_PIECE, BURST_PIECE, TERN_PAL_FOREVER,
                              &sent) == TERN_PAL_OK);
        CHECK(sent == BURST_PIECE);
    }
    while (!T.flag2)
        CHECK(pal->sleep_until(c, NOW(pal) + PW_MS) == TERN_PAL_OK);
    T.got = (size_t)(T.w->node[1]->tx_frames - before);
    CHECK(pal->sock_close(c, s) == TERN_PAL_OK);
    return 0;
}

static void test_write_burst_coalesced(void **state)
{
    (void)state;
    struct pal_world *w = world(2);
    pw_start(w->node[0], burst_sink);
    assert_true(pw_run(w, flag_set, NULL, PW_S));
    pw_start(w->node[1], burst_writer);
    run_to_end(w, 10 * PW_S);
    assert_int_equal(T.in_len, BURST_WRITES * BURST_PIECE);
    assert_memory_equal(T.in, T.out, BURST_WRITES * BURST_PIECE);
    assert_int_equal(T.got, 1);             /* the writer's frames while the burst crossed */
    finish_all(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_echo),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_handles_not_given),
        cmocka_unit_test(test_peer_vanishes_and_refused),
        cmocka_unit_test(test_udp_round_trip),
        cmocka_unit_test(test_dns_with_a_server),
        cmocka_unit_test(test_dns_without_answers),
        cmocka_unit_test(test_poll_two_sockets_and_an_event),
        cmocka_unit_test(test_blocking_off_thread),
        cmocka_unit_test(test_exhaustion),
        cmocka_unit_test(test_no_network),
        cmocka_unit_test(test_write_burst_coalesced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
