/*
 * The fast Internet checksum (tern_csum_add, core/lib/inet.c) against a
 * plain 16-bit-word reference written here: RFC 1071's worked example, then every length
 * 0..600 at every alignment 0..15 with random data and random starting
 * sums, all-0xff data (carries on every word), and a full 64 KiB buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tern/inet.h"

/* RFC 1071 as written: big-endian 16-bit words, odd byte zero-padded. */
static uint32_t ref_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t acc = sum;
    for (; len >= 2; p += 2, len -= 2)
        acc += (uint32_t)(p[0] << 8 | p[1]);
    if (len)
        acc += (uint32_t)p[0] << 8;
    while (acc >> 32)
        acc = (acc & 0xffffffffu) + (acc >> 32);
    return (uint32_t)acc;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void rfc1071_example(void **state)
{
    (void)state;
    /* RFC 1071 3: the words 0001 f203 f4f5 f6f7 sum to ddf2. */
    const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    uint32_t s = tern_csum_add(0, b, sizeof b);
    assert_int_equal(tern_csum_finish(s), (uint16_t)~0xddf2u);
    assert_int_equal(tern_csum_finish(s), tern_csum_finish(ref_csum_add(0, b, sizeof b)));
    /* Odd length: the last byte is the high byte of a zero-padded word. */
    assert_int_equal(tern_csum_finish(tern_csum_add(0, b, 7)),
                     tern_csum_finish(ref_csum_add(0, b, 7)));
    assert_int_equal(tern_csum_finish(tern_csum_add(0, b, 0)), 0xffff);
}

static void every_length_and_alignment(void **state)
{
    (void)state;
    static uint8_t buf[16 + 600];
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = round == 3 ? 0xff : (uint8_t)rnd();
        for (size_t off = 0; off < 16; off++) {
            for (size_t len = 0; len <= 600; len++) {
                uint32_t seed = round == 0 ? 0 : (round == 1 ? rnd() & 0x3ffff : rnd());
                uint32_t want = tern_csum_finish(ref_csum_add(seed, buf + off, len));
                uint32_t got = tern_csum_finish(tern_csum_add(seed, buf + off, len));
                if (want != got)
                    fail_msg("round %d off %zu len %zu seed %08x: %04x != %04x", round, off,
                             len, seed, got, want);
            }
        }
    }
}

static void chained_and_large(void **state)
{
    (void)state;
    static uint8_t big[65536 + 7];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)rnd();
    uint32_t pseudo = tern_csum_pseudo_ipv4(0xc000020au, 0xc0000201u, 6, 0xffffu);
    assert_int_equal(tern_csum_finish(tern_csum_add(pseudo, big, sizeof big)),
                     tern_csum_finish(ref_csum_add(pseudo, big, sizeof big)));
    /* Chained adds of even-length pieces equal one add over the whole. */
    uint32_t s = pseudo;
    for (size_t at = 0; at < 65536; at += 1460 & ~1u)
        s = tern_csum_add(s, big + at, at + 1460 <= 65536 ? 1460 : 65536 - at);
    assert_int_equal(tern_csum_finish(s), tern_csum_finish(ref_csum_add(pseudo, big, 65536)));
    /* A segment that already carries its checksum verifies to zero. */
    uint8_t seg[41];
    memcpy(seg, big, sizeof seg);
    seg[16] = seg[17] = 0;
    uint16_t c = tern_csum_finish(tern_csum_add(pseudo, seg, sizeof seg));
    seg[16] = (uint8_t)(c >> 8);
    seg[17] = (uint8_t)c;
    assert_int_equal(tern_csum_finish(tern_csum_add(pseudo, seg, sizeof seg)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc1071_example),
        cmocka_unit_test(every_length_and_alignment),
        cmocka_unit_test(chained_and_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
