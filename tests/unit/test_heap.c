/* The core heap: alignment, reuse, coalescing, exhaustion, and a seeded
 * random workload that checks contents and returns to the baseline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tern/heap.h"

#define REGION (1u << 20)

struct fixture {
    void *region;
    struct tern_heap heap;
};

static int setup(void **state)
{
    struct fixture *f = test_malloc(sizeof(*f));
    f->region = aligned_alloc(64, REGION);
    assert_int_equal(tern_heap_init(&f->heap, f->region, REGION), TERN_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->region);
    test_free(f);
    return 0;
}

static void test_rejects_bad_regions(void **state)
{
    (void)state;
    struct tern_heap h;
    static _Alignas(16) uint8_t small[128];
    assert_int_equal(tern_heap_init(&h, small, sizeof(small)), TERN_EINVAL);
    assert_int_equal(tern_heap_init(&h, small + 1, sizeof(small) - 1), TERN_EINVAL);
    assert_int_equal(tern_heap_init(&h, NULL, 4096), TERN_EINVAL);
}

static void test_alignment_and_zero(void **state)
{
    struct fixture *f = *state;
    assert_null(tern_heap_alloc(&f->heap, 0));
    for (size_t n = 1; n < 300; n += 7) {
        void *p = tern_heap_alloc(&f->heap, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xab, n);
        tern_heap_free(&f->heap, p);
    }
    uint8_t *z = tern_heap_calloc(&f->heap, 100, 3);
    for (int i = 0; i < 300; i++)
        assert_int_equal(z[i], 0);
    tern_heap_free(&f->heap, z);
    assert_null(tern_heap_calloc(&f->heap, SIZE_MAX / 2, 4));
}

static void test_coalescing_gives_back_the_whole_region(void **state)
{
    struct fixture *f = *state;
    void *ptrs[64];
    for (int i = 0; i < 64; i++)
        ptrs[i] = tern_heap_alloc(&f->heap, 1000);
    /* free in an order that needs merging both ways */
    for (int i = 0; i < 64; i += 2)
        tern_heap_free(&f->heap, ptrs[i]);
    for (int i = 63; i > 0; i -= 2)
        tern_heap_free(&f->heap, ptrs[i]);
    struct tern_heap_stats st;
    tern_heap_get_stats(&f->heap, &st);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.allocations, 0);
    /* one block nearly the size of the region fits again */
    void *big = tern_heap_alloc(&f->heap, REGION - 64);
    assert_non_null(big);
    tern_heap_free(&f->heap, big);
}

static void test_exhaustion_is_refused_and_counted(void **state)
{
    struct fixture *f = *state;
    assert_null(tern_heap_alloc(&f->heap, REGION));
    void *a = tern_heap_alloc(&f->heap, REGION / 2);
    assert_non_null(a);
    assert_null(tern_heap_alloc(&f->heap, REGION / 2));
    struct tern_heap_stats st;
    tern_heap_get_stats(&f->heap, &st);
    assert_int_equal(st.failures, 2);
    tern_heap_free(&f->heap, a);
}

static void test_random_workload_keeps_contents(void **state)
{
    struct fixture *f = *state;
    enum { SLOTS = 200 };
    uint8_t *ptr[SLOTS] = { 0 };
    size_t len[SLOTS] = { 0 };
    uint64_t rng = 12345;
    for (int round = 0; round < 20000; round++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int i = (int)((rng >> 33) % SLOTS);
        if (ptr[i]) {
            for (size_t k = 0; k < len[i]; k++)
                if (ptr[i][k] != (uint8_t)(i + k))
                    fail_msg("slot %d byte %zu corrupted", i, k);
            tern_heap_free(&f->heap, ptr[i]);
            ptr[i] = NULL;
        } else {
            len[i] = 1 + (size_t)((rng >> 17) % 9000);
            ptr[i] = tern_heap_alloc(&f->heap, len[i]);
            assert_non_null(ptr[i]);
            for (size_t k = 0; k < len[i]; k++)
                ptr[i][k] = (uint8_t)(i + k);
        }
    }
    for (int i = 0; i < SLOTS; i++)
        tern_heap_free(&f->heap, ptr[i]);
    struct tern_heap_stats st;
    tern_heap_get_stats(&f->heap, &st);
    assert_int_equal(st.in_use, 0);
    assert_true(st.peak > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_bad_regions),
        cmocka_unit_test_setup_teardown(test_alignment_and_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalescing_gives_back_the_whole_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhaustion_is_refused_and_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_workload_keeps_contents, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
