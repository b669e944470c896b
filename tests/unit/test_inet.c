/* Byte order, the Internet checksum (known answers and odd splits), and
 * dotted-quad parsing and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tern/inet.h"

static void test_checksum_known_ipv4_header(void **state)
{
    (void)state;
    /* An IPv4 header from a capture; its checksum field is 0xb861. */
    uint8_t hdr[20] = {
        0x45, 0x00, 0x00, 0x73, /* version/IHL, TOS, total length 115 */
        0x00, 0x00, 0x40, 0x00, /* id 0, DF */
        0x40, 0x11, 0xb8, 0x61, /* TTL 64, UDP, checksum */
        0xc0, 0xa8, 0x00, 0x01, /* 192.168.0.1 */
        0xc0, 0xa8, 0x00, 0xc7, /* 192.168.0.199 */
    };
    assert_int_equal(tern_csum_finish(tern_csum_add(0, hdr, sizeof(hdr))), 0);
    hdr[10] = hdr[11] = 0;
    assert_int_equal(tern_csum_finish(tern_csum_add(0, hdr, sizeof(hdr))), 0xb861);
}

static void test_checksum_composes_at_even_splits(void **state)
{
    (void)state;
    uint8_t data[301];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 3);
    uint16_t whole = tern_csum_finish(tern_csum_add(0, data, sizeof(data)));
    for (size_t cut = 0; cut <= sizeof(data); cut += 2) {
        uint32_t s = tern_csum_add(0, data, cut);
        s = tern_csum_add(s, data + cut, sizeof(data) - cut);
        if (tern_csum_finish(s) != whole)
            fail_msg("split at %zu: 0x%04x != 0x%04x", cut, tern_csum_finish(s), whole);
    }
    /* Pseudo-header sum equals summing its wire form. */
    uint8_t ph[12] = { 192, 0, 2, 1, 198, 51, 100, 7, 0, 6, 0x05, 0xdc };
    assert_int_equal(tern_csum_finish(tern_csum_pseudo_ipv4(TERN_IPV4(192, 0, 2, 1),
                                                            TERN_IPV4(198, 51, 100, 7), 6, 1500)),
                     tern_csum_finish(tern_csum_add(0, ph, sizeof(ph))));
}

static void test_ipv4_text(void **state)
{
    (void)state;
    uint32_t a = 0;
    assert_int_equal(tern_ipv4_parse("192.0.2.1", &a), TERN_OK);
    assert_int_equal(a, TERN_IPV4(192, 0, 2, 1));
    assert_int_equal(tern_ipv4_parse("0.0.0.0", &a), TERN_OK);
    assert_int_equal(tern_ipv4_parse("255.255.255.255", &a), TERN_OK);
    assert_int_equal(a, 0xffffffffu);
    const char *bad[] = { "", "1.2.3", "1.2.3.4.", "1.2.3.4.5", "256.1.1.1", "01.2.3.4",
                          "1..2.3", "a.b.c.d", "1.2.3.4 ", "1.2.3.1000", "-1.2.3.4" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (tern_ipv4_parse(bad[i], &a) != TERN_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
    char buf[16];
    tern_ipv4_format(TERN_IPV4(198, 51, 100, 254), buf);
    assert_string_equal(buf, "198.51.100.254");
    uint8_t wire[4];
    tern_store_be32(wire, 0x01020304);
    assert_int_equal(wire[0], 1);
    assert_int_equal(tern_load_be32(wire), 0x01020304);
    tern_store_be16(wire, 0xabcd);
    assert_int_equal(tern_load_be16(wire), 0xabcd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum_known_ipv4_header),
        cmocka_unit_test(test_checksum_composes_at_even_splits),
        cmocka_unit_test(test_ipv4_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
