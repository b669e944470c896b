/* The PAL's own groups on a sim platform (virtual clock), with an "app"
 * that is a C function of the test: config, the arena (exhaustion refuses
 * the app, never the core), threads (join with a deadline, the thread
 * limit, detach), events, blocking calls off a thread, exit(), and HTTP
 * routes through a real server fed in memory (exact and prefix routes, a
 * buffered body, 413 past max_body, 500 for a failing handler, a response
 * larger than the output buffer). Memory back to the baseline after each
 * test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim_platform.h"
#include "tern/http.h"
#include "tern/os.h"
#include "tern/pal_host.h"

#define MS 1000000ull

struct fixture {
    struct sim_platform sim;
    struct tern_os os;
    size_t baseline;
    struct tern_pal_app app;
    struct tern_pal_config cfg;
    struct tern_http_server srv;
    struct tern_http_conn conns[4];
    struct tern_http_route routes[8];
    int ended;
};

static const char *const argv0[] = { "t", NULL };
static const char *const envp0[] = { "GREETING=hi there", "EMPTY=", NULL };

static int setup(void **state)
{
    struct fixture *f = test_calloc(1, sizeof(*f));
    assert_int_equal(sim_platform_init(&f->sim, 8u << 20, 7), 0);
    struct tern_config cfg;
    tern_config_default(&cfg);
    struct tern_platform p = sim_platform(&f->sim);
    assert_int_equal(tern_os_init(&f->os, &p, &cfg), TERN_OK);
    assert_int_equal(tern_http_server_init(&f->srv, &f->os, NULL, f->conns, 4, f->routes, 0),
                     TERN_OK);
    f->cfg = (struct tern_pal_config){
        .name = "t", .version = "1.0.0", .argc = 1, .argv = argv0, .envp = envp0,
        .memory_bytes = 256 * 1024, .max_threads = 2, .stack_bytes = 64 * 1024,
        .endpoints = { { "web", "http", 8080 } }, .nendpoints = 1,
        .http = &f->srv, .routes = f->routes, .nroutes = 0, .routes_cap = 8,
    };
    f->baseline = f->os.heap.in_use;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tern_pal_app_finish(&f->app);
    tern_os_finish(&f->os);
    sim_platform_close(&f->sim);
    test_free(f);
    return 0;
}

static void run_until_idle(struct fixture *f)
{
    for (int i = 0; i < 100000; i++) {
        uint64_t d = tern_os_step(&f->os, 0);
        if (d == UINT64_MAX || f->os.state != TERN_OS_RUNNING)
            return;
        if (d > f->sim.now_ns)
            f->sim.now_ns = d;
    }
    fail_msg("loop did not go idle");
}

static void on_end(struct tern_pal_app *app, void *arg)
{
    struct fixture *f = arg;
    (void)app;
    f->ended++;
}

/* Starts main as the app and runs the loop until nothing is left to do. */
static void run_app(struct fixture *f, tern_app_entry_fn main_fn)
{
    assert_int_equal(tern_pal_app_init(&f->app, &f->os, &f->cfg), TERN_OK);
    assert_int_equal(tern_pal_app_start(&f->app, main_fn, on_end, f), TERN_OK);
    run_until_idle(f);
}

/* ---- config, memory, blocking off-thread ---- */

static int main_config(const struct tern_pal *pal, const struct tern_app_start *st)
{
    char buf[32];
    size_t len = 0;
    assert_int_equal(pal->hdr.magic, TERN_PAL_MAGIC);
    assert_int_equal(pal->hdr.size, sizeof *pal);
    assert_string_equal(st->argv[0], "t");
    assert_int_equal(pal->getenv(pal->ctx, "GREETING", buf, sizeof buf, &len), TERN_PAL_OK);
    assert_string_equal(buf, "hi there");
    assert_int_equal(pal->getenv(pal->ctx, "GREETING", buf, 4, &len), TERN_PAL_ENOSPC);
    assert_int_equal(len, 8);
    assert_int_equal(pal->getenv(pal->ctx, "EMPTY", buf, sizeof buf, &len), TERN_PAL_OK);
    assert_int_equal(len, 0);
    assert_int_equal(pal->getenv(pal->ctx, "GREET", buf, sizeof buf, &len), TERN_PAL_ENOENT);
    uint16_t port = 0;
    assert_int_equal(pal->endpoint_port(pal->ctx, "web", &port), TERN_PAL_OK);
    assert_int_equal(port, 8080);
    assert_int_equal(pal->endpoint_port(pal->ctx, "db", &port), TERN_PAL_ENOENT);
    static const char forged[] = "a\nTERN_PANIC reason=forged\r\nTERN_READY x";
    assert_int_equal(pal->log(pal->ctx, TERN_PAL_LOG_INFO, forged, sizeof forged - 1), TERN_PAL_OK);
    assert_int_equal(pal->write_stream(pal->ctx, 1, "out\x1b[2Jline\n", 13), TERN_PAL_OK);
    assert_int_equal(pal->log(pal->ctx, 9, "x", 1), TERN_PAL_EINVAL);
    return 5;
}

static void test_config_and_exit_code(void **state)
{
    struct fixture *f = *state;
    run_app(f, main_config);
    assert_int_equal(f->ended, 1);
    assert_int_equal(f->app.exit_code, 5);
    assert_string_equal(f->app.exit_reason, "returned");
    assert_true(sim_console_has(&f->sim, "TERN_APP_START name=t version=1.0.0"));
    assert_true(sim_console_has(&f->sim, "TERN_APP_EXIT name=t code=5 reason=returned"));
    /* app text cannot start a console line of its own (a forged marker) */
    assert_true(sim_console_has(&f->sim, "info t: a?TERN_PANIC reason=forged??TERN_READY x"));
    assert_false(sim_console_has(&f->sim, "\nTERN_PANIC reason=forged"));
    assert_true(sim_console_has(&f->sim, "info t: out: out?[2Jline"));
}

static int main_arena(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    struct tern_pal_app *app = pal->ctx;
    void *blocks[64];
    unsigned n = 0;
    while (n < 64 && (blocks[n] = pal->alloc(pal->ctx, 16 * 1024)) != NULL)
        n++;
    assert_true(n >= 10 && n < 64);            /* 256 KiB arena: refused before 1 MiB */
    assert_int_equal(app->stats.alloc_refused, 1);
    void *core = tern_alloc(app->os, 512 * 1024);   /* the core is not starved */
    assert_non_null(core);
    tern_free(app->os, core);
    while (n)
        pal->free(pal->ctx, blocks[--n]);
    assert_non_null(pal->alloc(pal->ctx, 128 * 1024));
    return 0;
}

static void test_arena_exhaustion_refuses_the_app_only(void **state)
{
    struct fixture *f = *state;
    run_app(f, main_arena);
    assert_int_equal(f->app.exit_code, 0);
}

static void test_init_refuses_bad_config(void **state)
{
    struct fixture *f = *state;
    f->cfg.memory_bytes = 1024;
    assert_int_equal(tern_pal_app_init(&f->app, &f->os, &f->cfg), TERN_EINVAL);
    f->cfg.memory_bytes = 64u << 20;           /* more than the 8 MiB heap */
    assert_int_equal(tern_pal_app_init(&f->app, &f->os, &f->cfg), TERN_ENOMEM);
    assert_int_equal(f->os.heap.in_use, f->baseline);
}

static void test_blocking_off_thread_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(tern_pal_app_init(&f->app, &f->os, &f->cfg), TERN_OK);
    const struct tern_pal *pal = tern_pal_app_table(&f->app);
    tern_pal_handle ev;
    assert_int_equal(pal->event_create(pal->ctx, &ev), TERN_PAL_OK);
    assert_int_equal(pal->sleep_until(pal->ctx, 1), TERN_PAL_EINVAL);
    assert_int_equal(pal->event_wait(pal->ctx, ev, 1), TERN_PAL_EINVAL);
    assert_int_equal(pal->yield(pal->ctx), TERN_PAL_EINVAL);
    assert_int_equal(pal->event_wait(pal->ctx, 200, 1), TERN_PAL_ENOENT);
}

/* ---- threads and events ---- */

static const struct tern_pal *tpal;

static int sleeper(void *arg)
{
    tpal->sleep_until(tpal->ctx, tpal->monotonic_ns(tpal->ctx) + (uint64_t)(uintptr_t)arg * MS);
    return (int)(uintptr_t)arg;
}

static int main_threads(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    tpal = pal;
    tern_pal_handle a, b, c;
    int code = -1;
    assert_int_equal(pal->thread_spawn(pal->ctx, sleeper, (void *)(uintptr_t)50, 0, &a), TERN_PAL_OK);
    assert_int_equal(pal->thread_spawn(pal->ctx, sleeper, (void *)(uintptr_t)5, 0, &b), TERN_PAL_OK);
    /* max_threads is 2 */
    assert_int_equal(pal->thread_spawn(pal->ctx, sleeper, (void *)(uintptr_t)1, 0, &c), TERN_PAL_ENOMEM);
    uint64_t t0 = pal->monotonic_ns(pal->ctx);
    assert_int_equal(pal->thread_join(pal->ctx, a, t0 + 10 * MS, &code), TERN_PAL_ETIMEDOUT);
    assert_int_equal(pal->thread_join(pal->ctx, b, TERN_PAL_FOREVER, &code), TERN_PAL_OK);
    assert_int_equal(code, 5);
    assert_int_equal(pal->thread_join(pal->ctx, b, TERN_PAL_FOREVER, &code), TERN_PAL_ENOENT);
    assert_int_equal(pal->thread_join(pal->ctx, a, TERN_PAL_FOREVER, &code), TERN_PAL_OK);
    assert_int_equal(code, 50);
    assert_true(pal->monotonic_ns(pal->ctx) - t0 >= 50 * MS);
    /* detached: frees itself */
    assert_int_equal(pal->thread_spawn(pal->ctx, sleeper, (void *)(uintptr_t)3, 0, &c), TERN_PAL_OK);
    assert_int_equal(pal->thread_detach(pal->ctx, c), TERN_PAL_OK);
    assert_int_equal(pal->thread_join(pal->ctx, c, TERN_PAL_FOREVER, &code), TERN_PAL_ENOENT);
    pal->sleep_until(pal->ctx, pal->monotonic_ns(pal->ctx) + 10 * MS);
    /* events: a signal with no waiter is kept; a wait times out */
    tern_pal_handle ev;
    assert_int_equal(pal->event_create(pal->ctx, &ev), TERN_PAL_OK);
    assert_int_equal(pal->event_signal(pal->ctx, ev), TERN_PAL_OK);
    assert_int_equal(pal->event_wait(pal->ctx, ev, pal->monotonic_ns(pal->ctx)), TERN_PAL_OK);
    t0 = pal->monotonic_ns(pal->ctx);
    assert_int_equal(pal->event_wait(pal->ctx, ev, t0 + 7 * MS), TERN_PAL_ETIMEDOUT);
    assert_true(pal->monotonic_ns(pal->ctx) >= t0 + 7 * MS);
    return 0;
}

static void test_threads_and_events(void **state)
{
    struct fixture *f = *state;
    run_app(f, main_threads);
    assert_int_equal(f->app.exit_code, 0);
    assert_int_equal(f->app.threads, 0);
    tern_pal_app_finish(&f->app);
    assert_int_equal(f->os.sched.live, 0);
    assert_int_equal(f->os.heap.in_use, f->baseline);
}

static int main_exit(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    pal->exit(pal->ctx, 9);
    fail_msg("exit returned");
    return 0;
}

static void test_exit_from_the_app(void **state)
{
    struct fixture *f = *state;
    run_app(f, main_exit);
    assert_int_equal(f->ended, 1);
    assert_int_equal(f->app.exit_code, 9);
    assert_true(sim_console_has(&f->sim, "TERN_APP_EXIT name=t code=9 reason=exit"));
}

/* ---- HTTP routes ---- */

static char big[40000];

static int h_echo(void *arg, const struct tern_pal_http_request *req,
                  struct tern_pal_http_response *resp)
{
    static char out[256];
    (void)arg;
    int n = snprintf(out, sizeof out, "%s %s q=%s body=%.*s", req->method, req->path,
                     req->query, (int)req->body_len, req->body ? (const char *)req->body : "");
    resp->body = out;
    resp->body_len = (size_t)n;
    return TERN_PAL_OK;
}

static int h_fail(void *arg, const struct tern_pal_http_request *req,
                  struct tern_pal_http_response *resp)
{
    (void)arg, (void)req, (void)resp;
    return TERN_PAL_EIO;
}

static int h_big(void *arg, const struct tern_pal_http_request *req,
                 struct tern_pal_http_response *resp)
{
    (void)arg, (void)req;
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    resp->content_type = "application/octet-stream";
    resp->body = big;
    resp->body_len = sizeof big;
    return TERN_PAL_OK;
}

static tern_pal_handle routes_done;

static int main_routes(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    assert_int_equal(pal->http_route(pal->ctx, "/echo", 1, 16, h_echo, NULL), TERN_PAL_OK);
    assert_int_equal(pal->http_route(pal->ctx, "/p/", 0, 0, h_echo, NULL), TERN_PAL_OK);
    assert_int_equal(pal->http_route(pal->ctx, "/fail", 1, 0, h_fail, NULL), TERN_PAL_OK);
    assert_int_equal(pal->http_route(pal->ctx, "/big", 1, 0, h_big, NULL), TERN_PAL_OK);
    assert_int_equal(pal->http_route(pal->ctx, "relative", 1, 0, h_echo, NULL), TERN_PAL_EINVAL);
    assert_int_equal(pal->event_create(pal->ctx, &routes_done), TERN_PAL_OK);
    pal->event_wait(pal->ctx, routes_done, TERN_PAL_FOREVER);   /* a serving app stays */
    return 0;
}

/* Sends raw through a fresh connection; returns what came out (drained as
 * a fast reader would). */
static size_t exchange(struct fixture *f, const char *raw, char *out, size_t cap)
{
    struct tern_http_conn *c = tern_http_conn_open(&f->srv, NULL, NULL);
    assert_non_null(c);
    size_t fed = tern_http_conn_input(c, (const uint8_t *)raw, strlen(raw));
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        const uint8_t *d;
        size_t len;
        tern_http_conn_output(c, &d, &len);
        if (len == 0)
            break;
        size_t take = len < cap - 1 - n ? len : cap - 1 - n;
        memcpy(out + n, d, take);
        n += take;
        tern_http_conn_output_done(c, len);
        if (fed < strlen(raw))
            fed += tern_http_conn_input(c, (const uint8_t *)raw + fed, strlen(raw) - fed);
    }
    out[n] = '\0';
    tern_http_conn_close(c);
    return n;
}

static void test_routes(void **state)
{
    struct fixture *f = *state;
    run_app(f, main_routes);
    assert_int_equal(f->srv.nroutes, 4);
    static char out[65536];
    exchange(f, "GET /echo?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "\r\n\r\nGET /echo q=x=1 body="));
    exchange(f, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", out, sizeof out);
    assert_non_null(strstr(out, "POST /echo q= body=hello"));
    exchange(f, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
             out, sizeof out);
    assert_non_null(strstr(out, "POST /echo q= body=abcde"));
    exchange(f, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\n\r\n12345678901234567", out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 413 "));
    exchange(f, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nX\r\n0\r\n\r\n",
             out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 413 "));
    exchange(f, "GET /p/deep/er HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof out);
    assert_non_null(strstr(out, "GET /p/deep/er"));
    exchange(f, "GET /fail HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 500 "));
    assert_int_equal(f->app.stats.route_errors, 1);
    exchange(f, "GET /nothing HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 404 "));
    size_t n = exchange(f, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof out);
    const char *body = strstr(out, "\r\n\r\n");
    assert_non_null(body);
    assert_int_equal(n - (size_t)(body + 4 - out), sizeof big);
    assert_memory_equal(body + 4, big, sizeof big);
    const struct tern_pal *pal = tern_pal_app_table(&f->app);
    assert_int_equal(pal->event_signal(pal->ctx, routes_done), TERN_PAL_OK);
    run_until_idle(f);
    assert_int_equal(f->ended, 1);
    tern_pal_app_finish(&f->app);
    assert_int_equal(f->srv.nroutes, 0);       /* the app's routes left the table */
    assert_int_equal(f->os.heap.in_use, f->baseline);
}

/* ---- random ---- */

static int main_random(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    struct tern_pal_app *app = pal->ctx;
    struct sim_platform *sim = app->os->plat.ctx;
    uint8_t a[16] = { 0 }, b[16] = { 0 };
    static const uint8_t zero[16];
    assert_int_equal(pal->random(pal->ctx, a, sizeof a), TERN_PAL_OK);
    assert_int_equal(pal->random(pal->ctx, b, sizeof b), TERN_PAL_OK);
    assert_memory_not_equal(a, b, sizeof a);
    sim->entropy_fail = true;          /* the source breaks */
    memset(a, 0x5a, sizeof a);
    assert_int_equal(pal->random(pal->ctx, a, sizeof a), TERN_PAL_EIO);
    assert_memory_equal(a, zero, sizeof a);
    sim->entropy_fail = false;
    return 0;
}

/* The app's random: fresh bytes, and a broken source is TERN_PAL_EIO
 * with the buffer zeroed, counted and logged by the OS. */
static void test_random_and_a_failing_source(void **state)
{
    struct fixture *f = *state;
    run_app(f, main_random);
    assert_int_equal(f->app.exit_code, 0);
    assert_int_equal(f->os.entropy_failures, 1);
    assert_true(sim_console_has(&f->sim,
                                "error pal: entropy source failed: random bytes for the app refused"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_and_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arena_exhaustion_refuses_the_app_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_refuses_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_off_thread_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_and_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_from_the_app, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_and_a_failing_source, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
