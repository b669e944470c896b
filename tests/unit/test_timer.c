/* Timer heap: order, FIFO ties, stop/restart, capacity, and a seeded
 * random schedule checked against a brute-force reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tern/timer.h"

#define CAP 512

struct rec {
    int order[CAP * 4];
    int n;
};

struct tagged {
    struct tern_timer t;
    int id;
    struct rec *rec;
    struct tern_timer_heap *heap;
    uint64_t rearm_to;
};

static void on_fire(struct tern_timer *t, void *arg)
{
    struct tagged *x = arg;
    (void)t;
    x->rec->order[x->rec->n++] = x->id;
    if (x->rearm_to)
        tern_timer_start(x->heap, &x->t, x->rearm_to);
}

static struct tern_timer *slots[CAP];

static void init_all(struct tern_timer_heap *h, struct tagged *xs, int n, struct rec *rec,
                     uint32_t cap)
{
    tern_timer_heap_init(h, slots, cap);
    for (int i = 0; i < n; i++) {
        xs[i].id = i;
        xs[i].rec = rec;
        xs[i].heap = h;
        xs[i].rearm_to = 0;
        tern_timer_init(&xs[i].t, on_fire, &xs[i]);
    }
}

static void test_fires_in_deadline_order_with_fifo_ties(void **state)
{
    (void)state;
    struct tern_timer_heap h;
    struct tagged xs[5];
    struct rec rec = { .n = 0 };
    init_all(&h, xs, 5, &rec, CAP);
    tern_timer_start(&h, &xs[0].t, 300);
    tern_timer_start(&h, &xs[1].t, 100);
    tern_timer_start(&h, &xs[2].t, 200);
    tern_timer_start(&h, &xs[3].t, 100);
    tern_timer_start(&h, &xs[4].t, 1000);
    assert_int_equal(tern_timer_next_deadline(&h), 100);
    assert_int_equal(tern_timer_run(&h, 99), 0);
    assert_int_equal(tern_timer_run(&h, 300), 4);
    int want[] = { 1, 3, 2, 0 };
    assert_memory_equal(rec.order, want, sizeof(want));
    assert_true(tern_timer_armed(&xs[4].t));
    assert_false(tern_timer_armed(&xs[0].t));
    assert_int_equal(tern_timer_next_deadline(&h), 1000);
}

static void test_stop_and_restart(void **state)
{
    (void)state;
    struct tern_timer_heap h;
    struct tagged xs[3];
    struct rec rec = { .n = 0 };
    init_all(&h, xs, 3, &rec, CAP);
    tern_timer_start(&h, &xs[0].t, 10);
    tern_timer_start(&h, &xs[1].t, 20);
    tern_timer_start(&h, &xs[2].t, 30);
    tern_timer_stop(&h, &xs[1].t);
    tern_timer_stop(&h, &xs[1].t); /* twice is harmless */
    tern_timer_start(&h, &xs[0].t, 40); /* restart moves it */
    tern_timer_run(&h, 100);
    int want[] = { 2, 0 };
    assert_int_equal(rec.n, 2);
    assert_memory_equal(rec.order, want, sizeof(want));
    assert_int_equal(tern_timer_next_deadline(&h), UINT64_MAX);
}

static void test_full_heap_refuses(void **state)
{
    (void)state;
    struct tern_timer_heap h;
    struct tagged xs[3];
    struct rec rec = { .n = 0 };
    init_all(&h, xs, 3, &rec, 2);
    assert_int_equal(tern_timer_start(&h, &xs[0].t, 1), TERN_OK);
    assert_int_equal(tern_timer_start(&h, &xs[1].t, 2), TERN_OK);
    assert_int_equal(tern_timer_start(&h, &xs[2].t, 3), TERN_ENOSPC);
    assert_false(tern_timer_armed(&xs[2].t));
    assert_int_equal(h.refused, 1);
    /* restarting an armed timer in a full heap still works */
    assert_int_equal(tern_timer_start(&h, &xs[1].t, 0), TERN_OK);
}

static void test_rearm_in_callback_waits_for_next_run(void **state)
{
    (void)state;
    struct tern_timer_heap h;
    struct tagged xs[1];
    struct rec rec = { .n = 0 };
    init_all(&h, xs, 1, &rec, CAP);
    xs[0].rearm_to = 5; /* due again at once */
    tern_timer_start(&h, &xs[0].t, 5);
    assert_int_equal(tern_timer_run(&h, 10), 1);
    assert_int_equal(tern_timer_run(&h, 10), 1);
    assert_int_equal(rec.n, 2);
}

static void test_random_against_reference(void **state)
{
    (void)state;
    enum { N = 300 };
    static struct tagged xs[N];
    static uint64_t deadline[N];
    static bool armed[N];
    struct tern_timer_heap h;
    struct rec rec = { .n = 0 };
    init_all(&h, xs, N, &rec, CAP);
    memset(armed, 0, sizeof(armed));
    uint64_t rng = 99;
    uint64_t now = 0;
    for (int step = 0; step < 20000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int i = (int)((rng >> 33) % N);
        switch ((rng >> 20) % 4) {
        case 0:
        case 1:
            deadline[i] = now + (rng >> 40) % 1000;
            assert_int_equal(tern_timer_start(&h, &xs[i].t, deadline[i]), TERN_OK);
            armed[i] = true;
            break;
        case 2:
            tern_timer_stop(&h, &xs[i].t);
            armed[i] = false;
            break;
        default: {
            now += (rng >> 44) % 50;
            uint64_t best = UINT64_MAX;
            for (int k = 0; k < N; k++)
                if (armed[k] && deadline[k] < best)
                    best = deadline[k];
            assert_int_equal(tern_timer_next_deadline(&h), best);
            rec.n = 0;
            tern_timer_run(&h, now);
            uint64_t last = 0;
            for (int k = 0; k < rec.n; k++) {
                int id = rec.order[k];
                assert_true(armed[id]);
                assert_true(deadline[id] <= now);
                assert_true(deadline[id] >= last);
                last = deadline[id];
                armed[id] = false;
            }
            for (int k = 0; k < N; k++)
                assert_false(armed[k] && deadline[k] <= now);
        }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_in_deadline_order_with_fifo_ties),
        cmocka_unit_test(test_stop_and_restart),
        cmocka_unit_test(test_full_heap_refuses),
        cmocka_unit_test(test_rearm_in_callback_waits_for_next_run),
        cmocka_unit_test(test_random_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
