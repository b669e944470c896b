/* tern_snprintf checked against the C library's snprintf as referee. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tern/fmt.h"
#include "tern/http.h"

#define CHECK(...)                                                                   \
    do {                                                                             \
        char want[256], got[256];                                                    \
        int wn = snprintf(want, sizeof(want), __VA_ARGS__);                          \
        size_t gn = tern_snprintf(got, sizeof(got), __VA_ARGS__);                    \
        if (strcmp(want, got) != 0 || (size_t)wn != gn)                              \
            fail_msg("format %s: libc '%s' (%d), tern '%s' (%zu)", #__VA_ARGS__, want, \
                     wn, got, gn);                                                   \
    } while (0)

static void test_integers(void **state)
{
    (void)state;
    CHECK("%d", 0);
    CHECK("%d", -1);
    CHECK("%d", INT32_MIN);
    CHECK("%u", UINT32_MAX);
    CHECK("%lld", (long long)INT64_MIN);
    CHECK("%llu", (unsigned long long)UINT64_MAX);
    CHECK("%zu %zd", (size_t)12345, (ptrdiff_t)-7);
    CHECK("%hhd %hd %ld", (signed char)-5, (short)-300, -70000L);
    CHECK("%x %X %#x %#X %o %#o", 0xbeefu, 0xbeefu, 255u, 255u, 8u, 8u);
    CHECK("%5d|%-5d|%05d|%+d|% d", 42, 42, 42, 42, 42);
    CHECK("%.3d|%8.3d|%-8.3d|%.0d", 7, 7, 7, 0);
    CHECK("%*d|%-*d|%.*d", 6, 1, 6, 2, 4, 3);
    CHECK("%#.0x|%#5x", 0u, 0u);
    CHECK("%jd %td", (intmax_t)-9, (ptrdiff_t)9);
}

static void test_strings_and_chars(void **state)
{
    (void)state;
    CHECK("%s|%10s|%-10s|%.2s|%c|%3c|%%", "abc", "abc", "abc", "abc", 'z', 'y');
    CHECK("%.*s", 3, "abcdef");
    CHECK("plain text with no conversions");
    CHECK("%p", (void *)0x1234);
}

static void test_truncation_reports_full_length(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    size_t n = tern_snprintf(buf, sizeof(buf), "%s-%d", "hello", 12345);
    assert_int_equal(n, 11);
    assert_string_equal(buf, "hello-1");
    n = tern_snprintf(buf, 1, "%d", 99);
    assert_int_equal(n, 2);
    assert_int_equal(buf[0], '\0');
    n = tern_snprintf(NULL, 0, "%d", 12345);
    assert_int_equal(n, 5);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
static void test_unknown_conversion_is_visible(void **state)
{
    (void)state;
    char buf[32];
    tern_snprintf(buf, sizeof(buf), "a%qb");
    assert_string_equal(buf, "a%qb");
    tern_snprintf(buf, sizeof(buf), "end%");
    assert_string_equal(buf, "end%");
}
#pragma GCC diagnostic pop

/* tern_json_object: the members in order, the braces, and the length of
 * the whole output when the buffer is short (with the NUL in place). */
static void test_json_object(void **state)
{
    (void)state;
    struct { unsigned a; unsigned long long b; } v = { 7, 18446744073709551615ULL };
    const struct tern_json_count c[] = { TERN_JSON_COUNT(&v, a), TERN_JSON_COUNT(&v, b),
                                         { "zero", 0 } };
    const char *want = ",\"x\":{\"a\":7,\"b\":18446744073709551615,\"zero\":0}";
    char buf[64];
    assert_int_equal(tern_json_object(buf, sizeof buf, ",\"x\":{", c, 3), strlen(want));
    assert_string_equal(buf, want);
    assert_int_equal(tern_json_object(buf, sizeof buf, "{", c, 0), 2);
    assert_string_equal(buf, "{}");
    for (size_t cap = 1; cap < strlen(want); cap++) {
        memset(buf, 'Z', sizeof buf);
        assert_int_equal(tern_json_object(buf, cap, ",\"x\":{", c, 3), strlen(want));
        assert_int_equal(strlen(buf), cap - 1);
        assert_memory_equal(buf, want, cap - 1);
        assert_int_equal(buf[cap], 'Z');
    }
}

static size_t provide(void *arg, char *buf, size_t cap)
{
    return tern_snprintf(buf, cap, "%s", (const char *)arg);
}

/* tern_http_status_append: ',' and the provider's members when they fit
 * with the reserve left over; the buffer untouched when not. */
static void test_status_append(void **state)
{
    (void)state;
    char buf[16] = "\"a\":1";
    assert_int_equal(tern_http_status_append(buf, 5, sizeof buf, 2, provide, "\"b\":2"), 11);
    assert_memory_equal(buf, "\"a\":1,\"b\":2", 11);
    assert_int_equal(tern_http_status_append(buf, 5, sizeof buf, 2, NULL, NULL), 5);
    assert_int_equal(tern_http_status_append(buf, 5, sizeof buf, 2, provide, ""), 5);
    strcpy(buf, "\"a\":1");
    /* 8 bytes of members + ',' + NUL + 2 reserved do not fit after 5 in 16 */
    assert_int_equal(tern_http_status_append(buf, 5, sizeof buf, 2, provide, "\"bb\":222"), 5);
    assert_int_equal(buf[5], '\0');
    assert_int_equal(tern_http_status_append(buf, 5, sizeof buf, 0, provide, "\"bb\":222"), 14);
    assert_int_equal(tern_http_status_append(buf, 15, sizeof buf, 0, provide, "\"b\":2"), 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_strings_and_chars),
        cmocka_unit_test(test_truncation_reports_full_length),
        cmocka_unit_test(test_unknown_conversion_is_visible),
        cmocka_unit_test(test_json_object),
        cmocka_unit_test(test_status_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
