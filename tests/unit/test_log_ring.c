/* Log ring: order, wrap-around, drop-oldest with a missed count, and cuts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tern/log.h"

static void push_str(struct tern_log_ring *r, enum tern_log_level lv, const char *s)
{
    tern_log_ring_push(r, lv, s, strlen(s));
}

static void test_read_in_order_without_consuming(void **state)
{
    (void)state;
    static uint8_t buf[1024];
    struct tern_log_ring r;
    assert_int_equal(tern_log_ring_init(&r, buf, sizeof(buf)), TERN_OK);
    push_str(&r, TERN_LOG_INFO, "one");
    push_str(&r, TERN_LOG_WARN, "two");
    char line[64];
    enum tern_log_level lv;
    uint64_t missed = 7, cur = 0;
    assert_int_equal(tern_log_ring_read(&r, &cur, line, sizeof(line), &lv, &missed), TERN_OK);
    assert_string_equal(line, "one");
    assert_int_equal(lv, TERN_LOG_INFO);
    assert_int_equal(missed, 0);
    assert_int_equal(tern_log_ring_read(&r, &cur, line, sizeof(line), &lv, &missed), TERN_OK);
    assert_string_equal(line, "two");
    assert_int_equal(lv, TERN_LOG_WARN);
    assert_int_equal(tern_log_ring_read(&r, &cur, line, sizeof(line), &lv, &missed), TERN_AGAIN);
    /* a second reader sees the same records */
    uint64_t cur2 = 0;
    assert_int_equal(tern_log_ring_read(&r, &cur2, line, sizeof(line), NULL, NULL), TERN_OK);
    assert_string_equal(line, "one");
}

static void test_drops_oldest_and_reports_missed(void **state)
{
    (void)state;
    static uint8_t buf[2 * TERN_LOG_LINE_MAX];
    struct tern_log_ring r;
    assert_int_equal(tern_log_ring_init(&r, buf, sizeof(buf)), TERN_OK);
    char text[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(text, sizeof(text), "record number %04d", i);
        tern_log_ring_push(&r, TERN_LOG_INFO, text, (size_t)n);
    }
    assert_true(r.dropped > 0);
    assert_int_equal(r.next_seq, 1000);
    uint64_t cur = 0, missed = 0;
    char line[64];
    assert_int_equal(tern_log_ring_read(&r, &cur, line, sizeof(line), NULL, &missed), TERN_OK);
    assert_int_equal(missed, r.first_seq);
    int first = (int)r.first_seq;
    snprintf(text, sizeof(text), "record number %04d", first);
    assert_string_equal(line, text);
    int expect = first + 1;
    while (tern_log_ring_read(&r, &cur, line, sizeof(line), NULL, &missed) == TERN_OK) {
        snprintf(text, sizeof(text), "record number %04d", expect++);
        assert_string_equal(line, text);
        assert_int_equal(missed, 0);
    }
    assert_int_equal(expect, 1000);
}

static void test_long_records_are_cut(void **state)
{
    (void)state;
    static uint8_t buf[4096];
    struct tern_log_ring r;
    tern_log_ring_init(&r, buf, sizeof(buf));
    char big[1000];
    memset(big, 'a', sizeof(big));
    tern_log_ring_push(&r, TERN_LOG_ERROR, big, sizeof(big));
    char line[1024];
    uint64_t cur = 0;
    assert_int_equal(tern_log_ring_read(&r, &cur, line, sizeof(line), NULL, NULL), TERN_OK);
    assert_int_equal(strlen(line), TERN_LOG_LINE_MAX);
    /* a small destination is cut too, and still terminated */
    cur = 0;
    assert_int_equal(tern_log_ring_read(&r, &cur, line, 5, NULL, NULL), TERN_OK);
    assert_string_equal(line, "aaaa");
}

static void test_rejects_tiny_buffer(void **state)
{
    (void)state;
    static uint8_t buf[16];
    struct tern_log_ring r;
    assert_int_equal(tern_log_ring_init(&r, buf, sizeof(buf)), TERN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_in_order_without_consuming),
        cmocka_unit_test(test_drops_oldest_and_reports_missed),
        cmocka_unit_test(test_long_records_are_cut),
        cmocka_unit_test(test_rejects_tiny_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
