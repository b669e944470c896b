/*
 * The PAL's threaded HTTP routes (http_workers, http_route_threaded;
 * pal/pal_http.c, pal/pal_http_pool.c) end to end on the simulation
 * platform: node 0 runs the OS's HTTP server (the real engine on the real
 * TCP) with a server app whose handlers sleep on worker threads; node 1
 * runs a client app whose threads are HTTP clients over PAL sockets. All
 * times are virtual. Every test ends with both instance heaps back at
 * their baselines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pal_world.h"
#include "tern/http.h"
#include "tern/http_tcp.h"
#include "tern/pal.h"

#define A_ADDR TERN_IPV4(192, 0, 2, 1)
#define NCLIENTS 8
#define NCONNS 16
#define RESP_CAP 48000
#define ECHO_LEN 40000

/* One client's request and what came back. */
struct client {
    const char *method, *path;
    size_t body_len;                   /* bytes of T.echo sent as the body */
    bool expect_continue;              /* Expect: 100-continue (the 100 arrives) */
    uint64_t start_ms;                 /* after the client app's start */
    uint64_t reset_ms;                 /* > 0: close with the 100 unread (RST) then */
    int status;                        /* parsed; 0 none */
    uint64_t elapsed;                  /* from its own start to the end of the answer */
    char resp[RESP_CAP];
    size_t resp_len;
};

/* What the apps of one test share with the test body. */
static struct {
    struct pal_world *w;
    int line;                          /* the failing CHECK of an app */
    /* server */
    uint32_t workers, queue, max_threads;
    uint64_t sleep_ns;
    volatile bool stop;                /* the server's main returns */
    bool ready;
    unsigned ran, running, max_running;
    char out[16][256];                 /* per worker response bodies */
    /* clients */
    unsigned nclients;
    struct client c[NCLIENTS];
    const struct tern_pal *cpal;
    uint64_t t0;
    uint8_t echo[ECHO_LEN];
} T;

/* The HTTP server of node 0 (the OS's engine on the node's TCP). */
static struct {
    struct tern_http_server srv;
    struct tern_http_conn conns[NCONNS];
    struct tern_http_route routes[8];
    struct tern_http_tcp ht;
    struct tern_http_tcp_slot slots[NCONNS];
} *H;

#define CHECK(cond)                 \
    do {                            \
        if (!(cond)) {              \
            T.line = __LINE__;      \
            return -__LINE__;       \
        }                           \
    } while (0)

#define NOW(pal) ((pal)->monotonic_ns((pal)->ctx))

/* A world of two nodes, node 0 with an HTTP server on port 80 that the
 * app's routes join (cfg set up for pw_start). */
static struct pal_world *world(uint32_t workers, uint32_t queue, uint64_t sleep_ms)
{
    memset(&T, 0, sizeof T);
    T.workers = workers;
    T.queue = queue;
    T.sleep_ns = sleep_ms * PW_MS;
    for (size_t i = 0; i < ECHO_LEN; i++)
        T.echo[i] = (uint8_t)('a' + (i * 7 + i / 253) % 26);
    /* Buffers of 64 KiB from the start (no growing from 4 KiB), as a
     * busy tern-linux has: a response's first 16 KiB leave the HTTP
     * output in one send, so the rest must already wait on the
     * writable callback. */
    struct tern_tcp_config tc;
    tern_tcp_config_default(&tc);
    tc.max_conns = 16;
    tc.sndbuf = tc.rcvbuf = tc.sndbuf_min = tc.rcvbuf_min = 65536;
    tc.grow_bytes = 0;
    tc.msl_ms = 1000;
    T.w = pw_new_tcp(2, true, &tc);
    H = calloc(1, sizeof *H);
    assert_non_null(H);
    struct pw_node *n = T.w->node[0];
    assert_int_equal(tern_http_server_init(&H->srv, &n->os, NULL, H->conns, NCONNS, H->routes, 0),
                     TERN_OK);
    assert_int_equal(tern_http_tcp_start(&H->ht, &n->tcp, &H->srv, 80, H->slots, NCONNS), TERN_OK);
    pw_config(n);
    n->cfg.endpoints[0] = (struct tern_pal_endpoint){ "web", "http", 80 };
    n->cfg.nendpoints = 1;
    n->cfg.http = &H->srv;
    n->cfg.http_port = 80;
    n->cfg.routes = H->routes;
    n->cfg.nroutes = 0;
    n->cfg.routes_cap = 8;
    pw_config(T.w->node[1]);
    T.w->node[1]->cfg.max_threads = NCLIENTS;
    return T.w;
}

static void finish_all(struct pal_world *w)
{
    tern_http_tcp_stop(&H->ht);
    for (unsigned i = 0; i < w->n; i++) {
        if (w->node[i]->app_inited)
            pw_finish(w->node[i]);
    }
    pw_free(w);
    free(H);
    H = NULL;
}

/* ---- the server app ---- */

/* Sleeps sleep_ns on its worker, then says who it was. */
static int h_sleep(void *arg, const struct tern_pal_http_request *req,
                   struct tern_pal_http_response *resp)
{
    const struct tern_pal *pal = arg;
    T.ran++;
    if (++T.running > T.max_running)
        T.max_running = T.running;
    int r = pal->sleep_until(pal->ctx, NOW(pal) + T.sleep_ns);
    T.running--;
    if (r != TERN_PAL_OK)
        return r;
    char *out = T.out[req->worker];
    resp->body = out;
    resp->body_len = (size_t)snprintf(out, sizeof T.out[0], "slept w=%u %s q=%s body=%zu",
                                      req->worker, req->path, req->query, req->body_len);
    return TERN_PAL_OK;
}

/* The request body back as the response (it points into the request). */
static int h_echo(void *arg, const struct tern_pal_http_request *req,
                  struct tern_pal_http_response *resp)
{
    (void)arg;
    resp->content_type = "application/octet-stream";
    resp->body = req->body;
    resp->body_len = req->body_len;
    return TERN_PAL_OK;
}

/* On the loop. */
static int h_fast(void *arg, const struct tern_pal_http_request *req,
                  struct tern_pal_http_response *resp)
{
    (void)arg, (void)req;
    resp->body = "fast";
    resp->body_len = 4;
    return TERN_PAL_OK;
}

static int server_main(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle pool;
    CHECK(pal->http_workers(c, T.workers, T.queue, 0, &pool) == TERN_PAL_OK);
    CHECK(pal->http_route_threaded(c, "/sleep", 1, 16, h_sleep, (void *)pal, pool) ==
          TERN_PAL_OK);
    CHECK(pal->http_route_threaded(c, "/echo", 1, 65536, h_echo, NULL, pool) == TERN_PAL_OK);
    CHECK(pal->http_route(c, "/fast", 1, 0, h_fast, NULL) == TERN_PAL_OK);
    T.ready = true;
    while (!T.stop)
        pal->sleep_until(c, NOW(pal) + 5 * PW_MS);
    return 0;
}

/* ---- the client app ---- */

static int client_run(struct client *cl)
{
    const struct tern_pal *pal = T.cpal;
    void *c = pal->ctx;
    pal->sleep_until(c, T.t0 + cl->start_ms * PW_MS);
    uint64_t t0 = NOW(pal);
    struct tern_pal_addr to = { A_ADDR, 80 };
    tern_pal_handle s;
    CHECK(pal->tcp_connect(c, &to, t0 + PW_S, &s) == TERN_PAL_OK);
    char head[256];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n%s",
                     cl->method, cl->path,
                     cl->expect_continue ? "Expect: 100-continue\r\n" : "");
    if (cl->body_len)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", cl->body_len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    size_t sent;
    CHECK(pal->sock_write(c, s, head, (size_t)n, TERN_PAL_FOREVER, &sent) == TERN_PAL_OK);
    if (cl->body_len)
        CHECK(pal->sock_write(c, s, T.echo, cl->body_len, TERN_PAL_FOREVER, &sent) == TERN_PAL_OK);
    if (cl->reset_ms) {                /* leave: the 100 Continue unread, so RST */
        pal->sleep_until(c, T.t0 + cl->reset_ms * PW_MS);
        CHECK(pal->sock_close(c, s) == TERN_PAL_OK);
        return 0;
    }
    for (;;) {
        size_t got;
        CHECK(cl->resp_len < RESP_CAP);
        int r = pal->sock_read(c, s, cl->resp + cl->resp_len, RESP_CAP - cl->resp_len,
                               t0 + 10 * PW_S, &got);
        CHECK(r == TERN_PAL_OK);
        if (got == 0)
            break;
        cl->resp_len += got;
    }
    cl->elapsed = NOW(pal) - t0;
    CHECK(pal->sock_close(c, s) == TERN_PAL_OK);
    if (cl->resp_len >= 12 && memcmp(cl->resp, "HTTP/1.1 ", 9) == 0)
        cl->status = atoi(cl->resp + 9);
    return 0;
}

static int client_thread(void *arg)
{
    return client_run(&T.c[(uintptr_t)arg]);
}

static int client_main(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    T.cpal = pal;
    T.t0 = NOW(pal);
    tern_pal_handle th[NCLIENTS];
    for (unsigned i = 0; i < T.nclients; i++)
        CHECK(pal->thread_spawn(pal->ctx, client_thread, (void *)(uintptr_t)i, 0, &th[i]) ==
              TERN_PAL_OK);
    for (unsigned i = 0; i < T.nclients; i++) {
        int code = -1;
        CHECK(pal->thread_join(pal->ctx, th[i], TERN_PAL_FOREVER, &code) == TERN_PAL_OK);
        CHECK(code == 0);
    }
    return 0;
}

static bool server_ready(void *arg)
{
    (void)arg;
    return T.ready;
}

static bool clients_done(void *arg)
{
    (void)arg;
    return T.w->node[1]->exited || T.line;
}

/* Starts the server, then the clients; runs until the clients are done. */
static void run_clients(struct pal_world *w, uint64_t max_ns)
{
    pw_start(w->node[0], server_main);
    assert_true(pw_run(w, server_ready, NULL, PW_S));
    pw_start(w->node[1], client_main);
    if (!pw_run(w, clients_done, NULL, max_ns) || T.line) {
        for (unsigned i = 0; i < T.nclients; i++)
            print_message("client %u %s %s: status %d, %zu bytes in\n", i, T.c[i].method,
                          T.c[i].path, T.c[i].status, T.c[i].resp_len);
        print_message("server: %llu requests to the app, http requests %llu, 2xx %llu 4xx %llu 5xx %llu\n",
                      (unsigned long long)w->node[0]->app.stats.route_requests,
                      (unsigned long long)H->srv.counters.requests,
                      (unsigned long long)H->srv.counters.responses_2xx,
                      (unsigned long long)H->srv.counters.responses_4xx,
                      (unsigned long long)H->srv.counters.responses_5xx);
        fail_msg("clients did not finish (failed CHECK at line %d)", T.line);
    }
    assert_int_equal(w->node[1]->app.exit_code, 0);
}

/* Stops the server app and lets its workers end. */
static void stop_server(struct pal_world *w)
{
    T.stop = true;
    assert_true(pw_run(w, pw_all_exited, w, PW_S));
    pw_advance(w, 10 * PW_MS);
    assert_int_equal(w->node[0]->app.threads, 0);          /* every worker ended */
    assert_int_equal(w->node[0]->os.sched.live, 0);
}

static const char *body_of(const struct client *cl)
{
    const char *b = strstr(cl->resp, "\r\n\r\n");
    return b ? b + 4 : "";
}

static struct client *add(const char *method, const char *path, uint64_t start_ms)
{
    struct client *cl = &T.c[T.nclients++];
    cl->method = method;
    cl->path = path;
    cl->start_ms = start_ms;
    return cl;
}

/* ---- tests ---- */

/* Four requests to a handler that sleeps 100 ms, on four workers: all
 * answered at 100 ms (one sleep, not four), each on its own worker, and a
 * loop route answered at once meanwhile; a 40 000-byte body echoed from
 * the request's own buffer streams back whole. */
static void test_sleeps_run_in_parallel(void **state)
{
    (void)state;
    struct pal_world *w = world(4, 8, 100);
    static const char *const paths[] = { "/sleep?i=0", "/sleep?i=1", "/sleep?i=2", "/sleep?i=3" };
    for (unsigned i = 0; i < 4; i++)
        add("GET", paths[i], 0);
    add("GET", "/fast", 20);
    struct client *echo = add("POST", "/echo", 200);
    echo->body_len = ECHO_LEN;
    run_clients(w, 5 * PW_S);
    unsigned workers_seen = 0;
    for (unsigned i = 0; i < 4; i++) {
        struct client *cl = &T.c[i];
        assert_int_equal(cl->status, 200);
        if (cl->elapsed < 100 * PW_MS || cl->elapsed > 120 * PW_MS)
            fail_msg("request %u took %llu ms, not one sleep", i,
                     (unsigned long long)(cl->elapsed / PW_MS));
        char want[32];
        snprintf(want, sizeof want, "/sleep q=i=%u body=0", i);
        assert_non_null(strstr(body_of(cl), want));
        const char *wk = strstr(body_of(cl), "w=");
        assert_non_null(wk);
        workers_seen |= 1u << atoi(wk + 2);
    }
    assert_int_equal(workers_seen, 0xf);
    assert_int_equal(T.max_running, 4);
    assert_int_equal(T.c[4].status, 200);
    assert_string_equal(body_of(&T.c[4]), "fast");
    assert_true(T.c[4].elapsed < 10 * PW_MS);            /* the loop was free */
    assert_int_equal(echo->status, 200);
    assert_int_equal(strlen(body_of(echo)), ECHO_LEN);
    assert_memory_equal(body_of(echo), T.echo, ECHO_LEN);
    assert_int_equal(w->node[0]->app.stats.route_requests, 6);
    stop_server(w);
    finish_all(w);
}

/* Two workers and a queue of two: of seven requests at once, four are
 * taken (two at 100 ms, two at 200 ms) and three answered 503 with
 * Retry-After at once, counted and logged. */
static void test_queue_full_is_503(void **state)
{
    (void)state;
    struct pal_world *w = world(2, 2, 100);
    for (unsigned i = 0; i < 7; i++)
        add("GET", "/sleep", i);
    run_clients(w, 5 * PW_S);
    unsigned ok = 0, busy = 0;
    for (unsigned i = 0; i < 7; i++) {
        struct client *cl = &T.c[i];
        if (cl->status == 200) {
            ok++;
            uint64_t end = cl->start_ms * PW_MS + cl->elapsed, want = (i < 2 ? 100 : 200) * PW_MS;
            if (end < want || end > want + 10 * PW_MS)
                fail_msg("request %u ended at %llu ms, not %llu", i,
                         (unsigned long long)(end / PW_MS), (unsigned long long)(want / PW_MS));
        } else {
            assert_int_equal(cl->status, 503);
            busy++;
            assert_non_null(strstr(cl->resp, "\r\nRetry-After: 1\r\n"));
            assert_true(cl->elapsed < 10 * PW_MS);
        }
    }
    assert_int_equal(ok, 4);
    assert_int_equal(busy, 3);
    assert_int_equal(T.c[4].status, 503);                 /* the first three in order */
    assert_int_equal(w->node[0]->app.stats.route_busy, 3);
    assert_true(sim_console_has(&w->node[0]->sim,
                                "route /sleep: every worker busy and the queue full: 503 (2 so far)"));
    assert_false(sim_console_has(&w->node[0]->sim, "(3 so far)"));
    stop_server(w);
    finish_all(w);
}

/* One worker. A client resets its connection while its request runs, a
 * second while its request waits in the queue: the first handler's
 * result is dropped, the second never runs, and a third client queued
 * behind them is answered after one sleep, not two. */
static void test_client_gone(void **state)
{
    (void)state;
    struct pal_world *w = world(1, 4, 100);
    struct client *running = add("POST", "/sleep", 0);
    struct client *queued = add("POST", "/sleep", 5);
    struct client *third = add("GET", "/sleep", 10);
    running->body_len = queued->body_len = 1;
    running->expect_continue = queued->expect_continue = true;
    running->reset_ms = queued->reset_ms = 30;
    run_clients(w, 5 * PW_S);
    assert_int_equal(third->status, 200);
    if (third->elapsed > 200 * PW_MS)
        fail_msg("the third waited %llu ms: the queued request of a client gone ran",
                 (unsigned long long)(third->elapsed / PW_MS));
    assert_int_equal(T.ran, 2);
    assert_int_equal(w->node[0]->app.stats.route_dropped, 2);
    stop_server(w);
    finish_all(w);
}

static bool all_answered(void *arg)
{
    (void)arg;
    return T.w->node[1]->exited;
}

/* The app ends (its main returns) at 50 ms with two requests running and
 * three waiting: the waiting ones are answered 503 at once, the running
 * ones when their handlers return (200), a request after the end is
 * refused 503, and every worker ends. */
static void test_app_exit_in_flight(void **state)
{
    (void)state;
    struct pal_world *w = world(2, 4, 100);
    for (unsigned i = 0; i < 5; i++)
        add("GET", "/sleep", i);
    add("GET", "/sleep", 60);
    pw_start(w->node[0], server_main);
    assert_true(pw_run(w, server_ready, NULL, PW_S));
    pw_start(w->node[1], client_main);
    pw_advance(w, 50 * PW_MS);
    T.stop = true;
    assert_true(pw_run(w, all_answered, NULL, 5 * PW_S));
    assert_int_equal(T.line, 0);
    assert_true(w->node[0]->exited);
    for (unsigned i = 0; i < 6; i++) {
        struct client *cl = &T.c[i];
        if (i < 2) {
            assert_int_equal(cl->status, 200);
            continue;
        }
        assert_int_equal(cl->status, 503);
        assert_string_equal(body_of(cl), "the app has ended\n");
        if (i < 5 && cl->elapsed > 60 * PW_MS)
            fail_msg("waiting request %u answered only after %llu ms", i,
                     (unsigned long long)(cl->elapsed / PW_MS));
    }
    assert_int_equal(T.ran, 2);
    pw_advance(w, 10 * PW_MS);
    assert_int_equal(w->node[0]->app.threads, 0);
    assert_int_equal(w->node[0]->os.sched.live, 0);
    finish_all(w);
}

/* The app is killed and its PAL finished at 50 ms (as when the OS halts)
 * with two handlers asleep and three requests waiting: every client is
 * answered 503 by the unload, and when the sleeping workers wake later
 * they leave without touching anything freed (their pool goes with the
 * last of them: the heap is back at its baseline). */
static void test_unload_in_flight(void **state)
{
    (void)state;
    struct pal_world *w = world(2, 4, 100);
    for (unsigned i = 0; i < 5; i++)
        add("GET", "/sleep", i);
    struct pw_node *n = w->node[0];
    pw_start(n, server_main);
    assert_true(pw_run(w, server_ready, NULL, PW_S));
    pw_start(w->node[1], client_main);
    pw_advance(w, 50 * PW_MS);
    assert_int_equal(T.running, 2);
    tern_pal_app_kill(&n->app, 9, "killed");
    tern_pal_app_finish(&n->app);
    assert_int_equal(H->srv.nroutes, 0);
    T.stop = true;
    assert_true(pw_run(w, all_answered, NULL, 5 * PW_S));
    assert_int_equal(T.line, 0);
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(T.c[i].status, 503);
        assert_string_equal(body_of(&T.c[i]), "the app has ended\n");
        assert_true(T.c[i].elapsed < 60 * PW_MS);
    }
    pw_advance(w, 200 * PW_MS);                          /* the sleepers wake and leave */
    assert_int_equal(T.running, 0);
    assert_int_equal(n->os.sched.live, 0);
    assert_int_equal(n->os.heap.in_use, n->heap_baseline);
    finish_all(w);
}

/* ---- the thread budget and bad arguments ---- */

static int sleeper(void *arg)
{
    const struct tern_pal *pal = arg;
    pal->sleep_until(pal->ctx, NOW(pal) + 10 * PW_MS);
    return 0;
}

static int budget_main(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle pool, t, ev;
    CHECK(pal->hdr.abi_minor >= 1 && TERN_PAL_HAS(pal, http_route_threaded));
    CHECK(pal->http_workers(c, 0, 4, 0, &pool) == TERN_PAL_EINVAL);
    CHECK(pal->http_workers(c, 65, 4, 0, &pool) == TERN_PAL_EINVAL);
    CHECK(pal->http_workers(c, 1, 4097, 0, &pool) == TERN_PAL_EINVAL);
    CHECK(pal->http_workers(c, 1, 4, 0, NULL) == TERN_PAL_EINVAL);
    CHECK(pal->http_workers(c, 5, 4, 0, &pool) == TERN_PAL_ENOSPC);   /* 4 threads allowed */
    CHECK(pal->thread_spawn(c, sleeper, (void *)pal, 0, &t) == TERN_PAL_OK);
    CHECK(pal->http_workers(c, 4, 4, 0, &pool) == TERN_PAL_ENOSPC);   /* 3 left */
    CHECK(pal->http_workers(c, 3, 4, 0, &pool) == TERN_PAL_OK);
    CHECK(pal->thread_spawn(c, sleeper, (void *)pal, 0, &t) == TERN_PAL_ENOMEM);
    CHECK(pal->event_create(c, &ev) == TERN_PAL_OK);
    CHECK(pal->http_route_threaded(c, "/x", 1, 0, h_fast, NULL, ev) == TERN_PAL_EINVAL);
    CHECK(pal->http_route_threaded(c, "/x", 1, 0, h_fast, NULL, -1) == TERN_PAL_EINVAL);
    CHECK(pal->http_route_threaded(c, "/x", 1, 0, NULL, NULL, pool) == TERN_PAL_EINVAL);
    CHECK(pal->http_route_threaded(c, "x", 1, 0, h_fast, NULL, pool) == TERN_PAL_EINVAL);
    CHECK(pal->http_route_threaded(c, "/x", 1, 0, h_fast, NULL, pool) == TERN_PAL_OK);
    CHECK(pal->sock_close(c, pool) == TERN_PAL_EINVAL);               /* not a socket */
    CHECK(pal->thread_join(c, t, TERN_PAL_FOREVER, NULL) == TERN_PAL_OK);
    return 0;
}

static int no_http_main(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    tern_pal_handle pool;
    CHECK(pal->http_workers(pal->ctx, 1, 1, 0, &pool) == TERN_PAL_ENOENT);
    return 0;
}

/* Workers come out of the manifest's thread budget: a pool larger than
 * what is left is refused (ENOSPC, logged) with nothing started; bad
 * sizes, a handle that is not a pool and an app without HTTP are
 * refused too. */
static void test_worker_budget(void **state)
{
    (void)state;
    struct pal_world *w = world(1, 1, 0);
    w->node[0]->cfg.max_threads = 4;
    pw_start(w->node[0], budget_main);
    pw_start(w->node[1], no_http_main);
    assert_true(pw_run(w, pw_all_exited, w, PW_S));
    assert_int_equal(T.line, 0);
    assert_int_equal(w->node[0]->app.exit_code, 0);
    assert_int_equal(w->node[1]->app.exit_code, 0);
    assert_true(sim_console_has(&w->node[0]->sim,
                                "http workers refused: 5 asked, 4 of the manifest's 4 threads left"));
    assert_true(sim_console_has(&w->node[0]->sim,
                                "http workers refused: 4 asked, 3 of the manifest's 4 threads left"));
    pw_advance(w, 10 * PW_MS);
    assert_int_equal(w->node[0]->app.threads, 0);
    finish_all(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sleeps_run_in_parallel),
        cmocka_unit_test(test_queue_full_is_503),
        cmocka_unit_test(test_client_gone),
        cmocka_unit_test(test_app_exit_in_flight),
        cmocka_unit_test(test_unload_in_flight),
        cmocka_unit_test(test_worker_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
