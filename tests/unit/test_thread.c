/* Cooperative threads on a sim platform (virtual clock): order, sleep,
 * events with and without deadlines, join values, detach, guarded stacks
 * from a platform's stack_alloc, and memory back to the baseline after
 * every test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sim_platform.h"
#include "tern/os.h"
#include "tern/thread.h"

struct fixture {
    struct sim_platform sim;
    struct tern_os os;
    size_t baseline;
};

static int setup(void **state)
{
    struct fixture *f = test_malloc(sizeof(*f));
    assert_int_equal(sim_platform_init(&f->sim, 4u << 20, 1), 0);
    struct tern_config cfg;
    tern_config_default(&cfg);
    struct tern_platform p = sim_platform(&f->sim);
    assert_int_equal(tern_os_init(&f->os, &p, &cfg), TERN_OK);
    f->baseline = f->os.heap.in_use;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->os.sched.live, 0);
    assert_int_equal(f->os.heap.in_use, f->baseline);
    tern_os_finish(&f->os);
    sim_platform_close(&f->sim);
    test_free(f);
    return 0;
}

/* Steps the loop like tern_os_run would, on the virtual clock. */
static void run_until_idle(struct fixture *f)
{
    for (int i = 0; i < 100000; i++) {
        uint64_t d = tern_os_step(&f->os, 0);
        if (d == UINT64_MAX)
            return;
        if (d > f->sim.now_ns)
            f->sim.now_ns = d;
    }
    fail_msg("loop did not go idle");
}

static char trace[256];

static void note(const char *s)
{
    strncat(trace, s, sizeof(trace) - strlen(trace) - 1);
}

struct step_arg {
    struct tern_os *os;
    const char *tag;
};

static void *yielder(void *arg)
{
    struct step_arg *a = arg;
    for (int i = 0; i < 3; i++) {
        note(a->tag);
        assert_int_equal(tern_thread_yield(a->os), TERN_OK);
    }
    return (void *)a->tag;
}

static void test_round_robin_order(void **state)
{
    struct fixture *f = *state;
    trace[0] = '\0';
    struct step_arg a = { &f->os, "a" }, b = { &f->os, "b" };
    struct tern_thread *ta, *tb;
    assert_int_equal(tern_thread_create(&f->os, "a", yielder, &a, 0, &ta), TERN_OK);
    assert_int_equal(tern_thread_create(&f->os, "b", yielder, &b, 0, &tb), TERN_OK);
    assert_string_equal(tern_thread_name(ta), "a");
    run_until_idle(f);
    assert_string_equal(trace, "ababab");
    /* finished but not joined: still counted until someone joins */
    assert_int_equal(f->os.sched.live, 2);
    tern_thread_detach(&f->os, ta);
    tern_thread_detach(&f->os, tb);
}

struct sleeper_arg {
    struct tern_os *os;
    uint64_t wake_at, woke_at;
};

static void *sleeper(void *arg)
{
    struct sleeper_arg *s = arg;
    assert_int_equal(tern_thread_sleep_until(s->os, s->wake_at), TERN_OK);
    s->woke_at = tern_now_ns(s->os);
    return NULL;
}

struct parent_arg {
    struct tern_os *os;
    void *got;
};

static void *child(void *arg)
{
    return (char *)arg + 1;
}

static void *parent(void *arg)
{
    struct parent_arg *p = arg;
    struct tern_thread *c;
    assert_int_equal(tern_thread_create(p->os, "child", child, (void *)0x1000, 0, &c), TERN_OK);
    assert_int_equal(tern_thread_join(p->os, c, &p->got), TERN_OK);
    /* joining yourself is refused */
    assert_int_equal(tern_thread_join(p->os, tern_thread_current(p->os), NULL), TERN_EINVAL);
    return NULL;
}

static void test_sleep_uses_the_clock_and_join_returns_value(void **state)
{
    struct fixture *f = *state;
    uint64_t t0 = tern_now_ns(&f->os);
    struct sleeper_arg s1 = { &f->os, t0 + 5000000, 0 }, s2 = { &f->os, t0 + 2000000, 0 };
    struct parent_arg pa = { &f->os, NULL };
    struct tern_thread *t1, *t2, *tp;
    tern_thread_create(&f->os, "s1", sleeper, &s1, 0, &t1);
    tern_thread_create(&f->os, "s2", sleeper, &s2, 0, &t2);
    tern_thread_create(&f->os, "parent", parent, &pa, 0, &tp);
    run_until_idle(f);
    assert_int_equal(s1.woke_at, t0 + 5000000);
    assert_int_equal(s2.woke_at, t0 + 2000000);
    assert_ptr_equal(pa.got, (void *)0x1001);
    tern_thread_detach(&f->os, t1);
    tern_thread_detach(&f->os, t2);
    tern_thread_detach(&f->os, tp);
}

struct ev_arg {
    struct tern_os *os;
    struct tern_event *ev;
    tern_result r1, r2;
    uint64_t woke_at;
};

static void *ev_waiter(void *arg)
{
    struct ev_arg *e = arg;
    uint64_t now = tern_now_ns(e->os);
    e->r1 = tern_event_wait(e->os, e->ev, now + 1000000);   /* nobody signals */
    e->r2 = tern_event_wait(e->os, e->ev, UINT64_MAX);      /* signalled later */
    e->woke_at = tern_now_ns(e->os);
    return NULL;
}

static void *ev_signaller(void *arg)
{
    struct ev_arg *e = arg;
    tern_thread_sleep_until(e->os, tern_now_ns(e->os) + 3000000);
    tern_event_signal(e->os, e->ev);
    return NULL;
}

static void test_event_timeout_then_signal(void **state)
{
    struct fixture *f = *state;
    struct tern_event ev;
    tern_event_init(&ev);
    uint64_t t0 = tern_now_ns(&f->os);
    struct ev_arg e = { &f->os, &ev, TERN_EIO, TERN_EIO, 0 };
    struct tern_thread *w, *s;
    tern_thread_create(&f->os, "w", ev_waiter, &e, 0, &w);
    tern_thread_create(&f->os, "s", ev_signaller, &e, 0, &s);
    run_until_idle(f);
    assert_int_equal(e.r1, TERN_ETIMEDOUT);
    assert_int_equal(e.r2, TERN_OK);
    assert_int_equal(e.woke_at, t0 + 3000000);
    tern_thread_detach(&f->os, w);
    tern_thread_detach(&f->os, s);
}

static void *wait_once(void *arg)
{
    struct ev_arg *e = arg;
    e->r1 = tern_event_wait(e->os, e->ev, UINT64_MAX);
    return NULL;
}

static void test_signal_before_wait_is_not_lost(void **state)
{
    struct fixture *f = *state;
    struct tern_event ev;
    tern_event_init(&ev);
    tern_event_signal(&f->os, &ev); /* from the loop, nobody waiting yet */
    struct ev_arg e = { &f->os, &ev, TERN_EIO, TERN_EIO, 0 };
    struct tern_thread *w;
    tern_thread_create(&f->os, "w", wait_once, &e, 0, &w);
    run_until_idle(f);
    assert_int_equal(e.r1, TERN_OK);
    assert_false(ev.set);
    tern_thread_detach(&f->os, w);
}

static void test_blocking_calls_refused_outside_threads(void **state)
{
    struct fixture *f = *state;
    struct tern_event ev;
    tern_event_init(&ev);
    assert_null(tern_thread_current(&f->os));
    assert_int_equal(tern_thread_yield(&f->os), TERN_EINVAL);
    assert_int_equal(tern_thread_sleep_until(&f->os, 0), TERN_EINVAL);
    assert_int_equal(tern_event_wait(&f->os, &ev, UINT64_MAX), TERN_EINVAL);
}

static void *deep(void *arg)
{
    /* Uses a few KiB of its stack to prove the stack is really its own. */
    volatile char buf[8192];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (char)i;
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof(buf); i++)
        sum += (unsigned char)buf[i];
    *(unsigned *)arg = sum;
    return NULL;
}

static void test_many_threads_and_memory_returns(void **state)
{
    struct fixture *f = *state;
    enum { N = 40 };
    unsigned sums[N];
    struct tern_thread *ts[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(tern_thread_create(&f->os, "deep", deep, &sums[i], 32 * 1024, &ts[i]),
                         TERN_OK);
    run_until_idle(f);
    for (int i = 0; i < N; i++) {
        assert_int_equal(sums[i], (8192 / 256) * (255 * 256 / 2));
        tern_thread_detach(&f->os, ts[i]);
    }
}

static void test_stack_exhaustion_of_heap_is_refused(void **state)
{
    struct fixture *f = *state;
    struct tern_thread *t;
    assert_int_equal(tern_thread_create(&f->os, "huge", child, NULL, 64u << 20, &t), TERN_ENOMEM);
}

/* A platform stack_alloc (the sim's ops plus these): records what the core
 * asked for; a real platform leaves the guard page below inaccessible. */
static struct {
    int allocs, frees, probed;
    bool refuse;
    uint8_t *block, *stack;
    size_t size, freed_size;
    void *freed;
} stacks;

static tern_result test_stack_alloc(void *ctx, size_t size, void **out)
{
    (void)ctx;
    if (stacks.refuse)
        return TERN_ENOMEM;
    stacks.allocs++;
    stacks.block = test_malloc(size + TERN_STACK_GUARD);
    stacks.stack = stacks.block + TERN_STACK_GUARD;
    stacks.size = size;
    *out = stacks.stack;
    return TERN_OK;
}

static void test_stack_free(void *ctx, void *stack, size_t size)
{
    (void)ctx;
    stacks.frees++;
    stacks.freed = stack;
    stacks.freed_size = size;
    test_free((uint8_t *)stack - TERN_STACK_GUARD);
}

static struct tern_platform_ops guarded_ops;

static int setup_guarded(void **state)
{
    memset(&stacks, 0, sizeof stacks);
    struct fixture *f = test_malloc(sizeof(*f));
    assert_int_equal(sim_platform_init(&f->sim, 4u << 20, 1), 0);
    struct tern_config cfg;
    tern_config_default(&cfg);
    struct tern_platform p = sim_platform(&f->sim);
    guarded_ops = *p.ops;
    guarded_ops.stack_alloc = test_stack_alloc;
    guarded_ops.stack_free = test_stack_free;
    p.ops = &guarded_ops;
    assert_int_equal(tern_os_init(&f->os, &p, &cfg), TERN_OK);
    f->baseline = f->os.heap.in_use;
    *state = f;
    return 0;
}

/* Inside the thread: which addresses are its guard. */
static void *probe_guard(void *arg)
{
    struct tern_os *os = arg;
    uint64_t low = (uint64_t)(uintptr_t)stacks.stack;
    uint64_t here = (uint64_t)(uintptr_t)&low;
    assert_true(here > low && here < low + stacks.size);   /* runs on that stack */
    assert_true(tern_thread_guard_hit(os, low - 1));
    assert_true(tern_thread_guard_hit(os, low - TERN_STACK_GUARD));
    assert_false(tern_thread_guard_hit(os, low - TERN_STACK_GUARD - 1));
    assert_false(tern_thread_guard_hit(os, low));
    assert_false(tern_thread_guard_hit(os, 0));
    stacks.probed++;
    return NULL;
}

static void test_guarded_stack_from_the_platform(void **state)
{
    struct fixture *f = *state;
    struct tern_thread *t;
    assert_int_equal(tern_thread_create(&f->os, "guarded", probe_guard, &f->os, 5000, &t),
                     TERN_OK);
    assert_int_equal(stacks.allocs, 1);
    assert_int_equal(stacks.size, 8192);   /* rounded up to pages */
    assert_false(tern_thread_guard_hit(&f->os, (uint64_t)(uintptr_t)stacks.stack - 1)); /* no thread current */
    run_until_idle(f);
    assert_int_equal(stacks.probed, 1);
    assert_int_equal(stacks.frees, 0);
    tern_thread_detach(&f->os, t);         /* it ended: freed now */
    assert_int_equal(stacks.frees, 1);
    assert_ptr_equal(stacks.freed, stacks.stack);
    assert_int_equal(stacks.freed_size, 8192);
}

static void *no_guard(void *arg)
{
    struct tern_os *os = arg;
    uint64_t here = (uint64_t)(uintptr_t)&os;
    assert_false(tern_thread_guard_hit(os, here - 64 * 1024));
    stacks.probed++;
    return NULL;
}

/* A refused stack_alloc: the stack comes from the heap, unguarded. */
static void test_refused_platform_stack_falls_back_to_the_heap(void **state)
{
    struct fixture *f = *state;
    stacks.refuse = true;
    struct tern_thread *t;
    assert_int_equal(tern_thread_create(&f->os, "heap", no_guard, &f->os, 8192, &t), TERN_OK);
    assert_true(f->os.heap.in_use > f->baseline + 8192);
    run_until_idle(f);
    assert_int_equal(stacks.probed, 1);
    tern_thread_detach(&f->os, t);
    assert_int_equal(stacks.allocs, 0);
    assert_int_equal(stacks.frees, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_robin_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sleep_uses_the_clock_and_join_returns_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_timeout_then_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_before_wait_is_not_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_calls_refused_outside_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_threads_and_memory_returns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stack_exhaustion_of_heap_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guarded_stack_from_the_platform, setup_guarded, teardown),
        cmocka_unit_test_setup_teardown(test_refused_platform_stack_falls_back_to_the_heap,
                                        setup_guarded, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
