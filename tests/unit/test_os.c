/* The instance: init checks, markers, two isolated instances in one
 * process, pollers, shutdown hooks, halt and the step API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sim_platform.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/tcp.h"

static void test_init_refuses_incomplete_platform(void **state)
{
    (void)state;
    struct sim_platform sim;
    assert_int_equal(sim_platform_init(&sim, 1u << 20, 1), 0);
    struct tern_platform p = sim_platform(&sim);
    struct tern_platform_ops ops = *p.ops;
    ops.wait = NULL;
    struct tern_platform broken = { &ops, &sim };
    struct tern_config cfg;
    tern_config_default(&cfg);
    static struct tern_os os;
    assert_int_equal(tern_os_init(&os, &broken, &cfg), TERN_EINVAL);

    /* a heap too small for the configured tables is refused with a line */
    cfg.log_ring_bytes = 2u << 20;
    assert_int_equal(tern_os_init(&os, &p, &cfg), TERN_ENOMEM);
    assert_true(sim_console_has(&sim, "init failed"));
    assert_false(sim_console_has(&sim, "TERN_BOOT_OK"));
    sim_platform_close(&sim);
}

/* The contract header: a table without it, of another major or too small
 * is refused with TERN_EVERSION and a message, before anything in it is
 * called; a missing required call names the call; a newer minor and an
 * older (smaller, but complete) table are taken. */
static void test_init_checks_contract_header(void **state)
{
    (void)state;
    struct sim_platform sim;
    assert_int_equal(sim_platform_init(&sim, 1u << 20, 1), 0);
    struct tern_platform p = sim_platform(&sim);
    struct tern_platform_ops ops = *p.ops;
    struct tern_platform t = { &ops, &sim };
    struct tern_config cfg;
    tern_config_default(&cfg);
    static struct tern_os os;

    ops.header.magic = 0;
    assert_int_equal(tern_os_init(&os, &t, &cfg), TERN_EVERSION);
    assert_non_null(strstr(tern_os_init_error(&os), "no contract header"));
    ops = *p.ops;
    ops.header.abi_major = TERN_PLATFORM_ABI_MAJOR + 1;
    assert_int_equal(tern_os_init(&os, &t, &cfg), TERN_EVERSION);
    assert_non_null(strstr(tern_os_init_error(&os), "platform ABI major 2, this library speaks 1"));
    ops = *p.ops;
    ops.header.size = (uint32_t)TERN_PLATFORM_OPS_MIN_SIZE - 8;
    assert_int_equal(tern_os_init(&os, &t, &cfg), TERN_EVERSION);
    assert_non_null(strstr(tern_os_init_error(&os), "bytes"));
    assert_int_equal(sim.console_len, 0); /* a table it refuses is not called */

    ops = *p.ops;
    ops.entropy = NULL;
    assert_int_equal(tern_os_init(&os, &t, &cfg), TERN_EINVAL);
    assert_string_equal(tern_os_init_error(&os), "platform lacks required call 'entropy'");
    assert_true(sim_console_has(&sim, "init failed: platform lacks required call 'entropy'"));

    ops = *p.ops;
    ops.header.abi_minor = TERN_PLATFORM_ABI_MINOR + 3; /* newer minor: used in place */
    assert_int_equal(tern_os_init(&os, &t, &cfg), TERN_OK);
    assert_string_equal(tern_os_init_error(&os), "");
    assert_ptr_equal(os.plat.ops, &ops);
    tern_os_finish(&os);

    sim_platform_close(&sim);
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(tern_version(), TERN_VERSION);
    assert_int_equal(TERN_VERSION_NUMBER,
                     TERN_VERSION_MAJOR * 10000 + TERN_VERSION_MINOR * 100 + TERN_VERSION_PATCH);
}

static void test_boot_marker_and_halt(void **state)
{
    (void)state;
    struct sim_platform sim;
    assert_int_equal(sim_platform_init(&sim, 1u << 20, 1), 0);
    struct tern_platform p = sim_platform(&sim);
    struct tern_config cfg;
    tern_config_default(&cfg);
    cfg.boot_start_ns = sim.now_ns - 12000000; /* the backend started 12 ms ago */
    static struct tern_os os;
    assert_int_equal(tern_os_init(&os, &p, &cfg), TERN_OK);
    assert_true(sim_console_has(&sim, "TERN_BOOT_OK backend=sim version=" TERN_VERSION " boot_ms=12\n"));
    /* nothing to do: the step says "only when I/O is ready" */
    assert_int_equal(tern_os_step(&os, 0), UINT64_MAX);
    tern_os_halt(&os, 3);
    tern_os_halt(&os, 4); /* the first call wins */
    assert_true(sim_console_has(&sim, "TERN_HALT code=3\n"));
    assert_false(sim_console_has(&sim, "code=4"));
    assert_int_equal(tern_os_run(&os), 3);
    tern_os_finish(&os);
    sim_platform_close(&sim);
}

struct hook_trace {
    char order[8];
    int n;
};

static void hook_a(struct tern_os *os, void *arg)
{
    (void)os;
    struct hook_trace *t = arg;
    t->order[t->n++] = 'a';
}

static void hook_b(struct tern_os *os, void *arg)
{
    (void)os;
    struct hook_trace *t = arg;
    t->order[t->n++] = 'b';
}

struct poll_trace {
    uint64_t seen;
    int calls;
};

static void poll_fn(struct tern_os *os, void *arg, uint64_t ready)
{
    (void)os;
    struct poll_trace *t = arg;
    t->seen |= ready;
    t->calls++;
}

static void on_tick(struct tern_timer *t, void *arg)
{
    (void)t;
    (*(int *)arg)++;
}

static void test_two_instances_are_isolated(void **state)
{
    (void)state;
    static struct sim_platform sa, sb;
    static struct tern_os a, b;
    assert_int_equal(sim_platform_init(&sa, 1u << 20, 1), 0);
    assert_int_equal(sim_platform_init(&sb, 1u << 20, 2), 0);
    struct tern_platform pa = sim_platform(&sa), pb = sim_platform(&sb);
    struct tern_config cfg;
    tern_config_default(&cfg);
    assert_int_equal(tern_os_init(&a, &pa, &cfg), TERN_OK);
    assert_int_equal(tern_os_init(&b, &pb, &cfg), TERN_OK);

    /* a timer and a log line in a touch nothing in b */
    int ticks = 0;
    struct tern_timer t;
    tern_timer_init(&t, on_tick, &ticks);
    assert_int_equal(tern_timer_arm(&a, &t, sa.now_ns + 1000), TERN_OK);
    tern_log(&a, TERN_LOG_WARN, "test", "only in a %d", 1);
    assert_true(sim_console_has(&sa, "warn test: only in a 1"));
    assert_false(sim_console_has(&sb, "only in a"));
    assert_int_equal(tern_os_step(&b, 0), UINT64_MAX);
    assert_int_equal(tern_os_step(&a, 0), sa.now_ns + 1000);
    sa.now_ns += 1000;
    tern_os_step(&a, 0);
    assert_int_equal(ticks, 1);
    assert_int_equal(a.timers.fired, 1);
    assert_int_equal(b.timers.fired, 0);

    /* pollers see only their bits, hooks run newest first, then halt 0 */
    struct poll_trace pt = { 0, 0 };
    struct tern_poller poller = { .mask = TERN_READY_NET(1), .poll = poll_fn, .arg = &pt };
    tern_os_add_poller(&b, &poller);
    tern_os_step(&b, TERN_READY_NET(0));
    assert_int_equal(pt.calls, 0);
    tern_os_step(&b, TERN_READY_NET(0) | TERN_READY_NET(1));
    assert_int_equal(pt.calls, 1);
    assert_int_equal(pt.seen, TERN_READY_NET(1));

    struct hook_trace ht = { { 0 }, 0 };
    struct tern_shutdown_hook ha = { .fn = hook_a, .arg = &ht }, hb = { .fn = hook_b, .arg = &ht };
    tern_os_add_shutdown_hook(&b, &ha);
    tern_os_add_shutdown_hook(&b, &hb);
    sb.pending_ready = TERN_READY_SHUTDOWN; /* as a SIGTERM would */
    assert_int_equal(tern_os_run(&b), 0);
    assert_memory_equal(ht.order, "ba", 2);
    assert_true(sim_console_has(&sb, "TERN_HALT code=0"));
    assert_int_equal(a.state, TERN_OS_RUNNING);
    assert_false(sim_console_has(&sa, "TERN_HALT"));

    tern_timer_disarm(&a, &t);
    tern_os_finish(&a);
    tern_os_finish(&b);
    sim_platform_close(&sa);
    sim_platform_close(&sb);
}

static void test_log_threshold_and_ring(void **state)
{
    (void)state;
    struct sim_platform sim;
    assert_int_equal(sim_platform_init(&sim, 1u << 20, 1), 0);
    struct tern_platform p = sim_platform(&sim);
    struct tern_config cfg;
    tern_config_default(&cfg);
    cfg.console_level = TERN_LOG_WARN;
    static struct tern_os os;
    assert_int_equal(tern_os_init(&os, &p, &cfg), TERN_OK);
    tern_log(&os, TERN_LOG_INFO, "disk", "quiet %s", "line");
    tern_log(&os, TERN_LOG_ERROR, "disk", "loud %s", "line");
    assert_false(sim_console_has(&sim, "quiet line"));
    assert_true(sim_console_has(&sim, "error disk: loud line"));
    /* both are in the ring, after the boot marker */
    uint64_t cur = 0;
    char line[TERN_LOG_LINE_MAX + 1];
    int found = 0;
    while (tern_log_ring_read(&os.log, &cur, line, sizeof(line), NULL, NULL) == TERN_OK)
        found += strstr(line, "quiet line") != NULL || strstr(line, "loud line") != NULL;
    assert_int_equal(found, 2);
    tern_os_finish(&os);
    sim_platform_close(&sim);
}

/* A failed entropy draw: tern_entropy refuses (TERN_EIO), zeroes what
 * the source may have left, counts and logs it; the network stack and
 * TCP, which need secrets at start, refuse to start, each with its own
 * counted, logged refusal. */
static void test_entropy_failure_refused_counted_logged(void **state)
{
    (void)state;
    struct sim_platform sim;
    assert_int_equal(sim_platform_init(&sim, 16u << 20, 1), 0);
    struct tern_platform p = sim_platform(&sim);
    struct tern_config cfg;
    tern_config_default(&cfg);
    static struct tern_os os;
    assert_int_equal(tern_os_init(&os, &p, &cfg), TERN_OK);

    uint8_t buf[16];
    assert_int_equal(tern_entropy(&os, buf, sizeof buf, "test", "a key"), TERN_OK);
    assert_int_equal(os.entropy_failures, 0);
    sim.entropy_fail = true;
    memset(buf, 0xa5, sizeof buf);
    assert_int_equal(tern_entropy(&os, buf, sizeof buf, "test", "a key"), TERN_EIO);
    static const uint8_t zero[sizeof buf];
    assert_memory_equal(buf, zero, sizeof buf);
    assert_int_equal(os.entropy_failures, 1);
    assert_true(sim_console_has(&sim, "error test: entropy source failed: a key refused\n"));

    static struct tern_net net;
    assert_int_equal(tern_net_init(&net, &os, NULL), TERN_EIO);
    assert_int_equal(os.entropy_failures, 2);
    assert_true(sim_console_has(&sim, "error net: entropy source failed: the IP id and "
                                      "ephemeral port seeds (the stack does not start) refused"));
    sim.entropy_fail = false;
    static struct tern_net net2;
    assert_int_equal(tern_net_init(&net2, &os, NULL), TERN_OK);
    sim.entropy_fail = true;
    static struct tern_tcp tcp;
    assert_int_equal(tern_net_attach_tcp(&net2, &tcp, NULL), TERN_EIO);
    assert_int_equal(os.entropy_failures, 3);
    assert_true(sim_console_has(&sim, "error tcp: entropy source failed: the ISN and SYN-cookie "
                                      "keys (TCP does not start) refused"));
    tern_os_finish(&os);
    sim_platform_close(&sim);
}

/* ---- deferred calls ---- */

struct defer_trace {
    struct tern_deferred d;
    int runs;
    bool repost;                       /* posts itself again from its call */
    struct tern_os *os;
};

static void deferred_fn(struct tern_os *os, void *arg)
{
    struct defer_trace *t = arg;
    t->runs++;
    if (t->repost)
        tern_os_defer(os, &t->d);
}

static void *defer_from_thread(void *arg)
{
    struct defer_trace *t = arg;
    tern_os_defer(t->os, &t->d);
    return NULL;
}

/* A deferred call runs once at the next step however often it is posted;
 * the step asks to be called at once while one is pending; one that
 * posts itself runs once per step (no spin); a cancelled one never runs;
 * a thread can post one for the loop. */
static void test_deferred_calls(void **state)
{
    (void)state;
    struct sim_platform sim;
    assert_int_equal(sim_platform_init(&sim, 1u << 20, 1), 0);
    struct tern_platform p = sim_platform(&sim);
    struct tern_config cfg;
    tern_config_default(&cfg);
    static struct tern_os os;
    assert_int_equal(tern_os_init(&os, &p, &cfg), TERN_OK);
    static struct defer_trace t;
    memset(&t, 0, sizeof t);
    tern_deferred_init(&t.d, deferred_fn, &t);
    tern_os_defer(&os, &t.d);
    tern_os_defer(&os, &t.d);
    assert_int_equal(t.runs, 0);
    assert_int_equal(tern_os_step(&os, 0), UINT64_MAX);   /* ran; nothing left */
    assert_int_equal(t.runs, 1);
    assert_int_equal(tern_os_step(&os, 0), UINT64_MAX);
    assert_int_equal(t.runs, 1);

    t.repost = true;
    tern_os_defer(&os, &t.d);
    assert_int_equal(tern_os_step(&os, 0), 0);            /* posted again: at once */
    assert_int_equal(t.runs, 2);
    assert_int_equal(tern_os_step(&os, 0), 0);
    assert_int_equal(t.runs, 3);
    tern_os_defer_cancel(&t.d);
    tern_os_defer_cancel(&t.d);                           /* harmless twice */
    assert_int_equal(tern_os_step(&os, 0), UINT64_MAX);
    assert_int_equal(t.runs, 3);

    t.repost = false;
    struct tern_thread *th;
    t.os = &os;
    assert_int_equal(tern_thread_create(&os, "poster", defer_from_thread, &t, 0, &th), TERN_OK);
    assert_int_equal(tern_os_step(&os, 0), 0);            /* the thread posted it */
    assert_int_equal(t.runs, 3);
    assert_int_equal(tern_os_step(&os, 0), UINT64_MAX);
    assert_int_equal(t.runs, 4);
    tern_thread_detach(&os, th);
    tern_os_finish(&os);
    sim_platform_close(&sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_refuses_incomplete_platform),
        cmocka_unit_test(test_init_checks_contract_header),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_boot_marker_and_halt),
        cmocka_unit_test(test_two_instances_are_isolated),
        cmocka_unit_test(test_log_threshold_and_ring),
        cmocka_unit_test(test_entropy_failure_refused_counted_logged),
        cmocka_unit_test(test_deferred_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
