/*
 * Unit tests for the metal image's fw_cfg command line parser
 * (backends/baremetal/cmdline.c): what it accepts, what it counts and
 * drops, that it never reads past len (every input is parsed from an
 * exactly-sized heap copy, so ASan sees any overread), and that every
 * prefix of a valid line parses to a consistent result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmdline.h"

static struct tern_metal_cmdline parse_n(const char *text, size_t len)
{
    struct tern_metal_cmdline c;
    char *copy = test_malloc(len ? len : 1);
    memcpy(copy, text, len);
    tern_metal_cmdline_parse(&c, copy, len);
    test_free(copy);
    return c;
}

static struct tern_metal_cmdline parse(const char *text)
{
    return parse_n(text, strlen(text));
}

static void test_empty(void **state)
{
    (void)state;
    struct tern_metal_cmdline c = parse("");
    assert_false(c.halt_set);
    assert_int_equal(c.fault, TERN_METAL_FAULT_NONE);
    assert_int_equal(c.delay_ms, 0);
    assert_int_equal(c.ignored, 0);
    c = parse(" \t\r\n  ");
    assert_false(c.halt_set);
    assert_int_equal(c.ignored, 0);
}

static void test_halt(void **state)
{
    (void)state;
    struct tern_metal_cmdline c = parse("halt=7");
    assert_true(c.halt_set);
    assert_int_equal(c.halt_code, 7);
    assert_int_equal(c.ignored, 0);
    c = parse("halt=0");
    assert_true(c.halt_set);
    assert_int_equal(c.halt_code, 0);
    c = parse("halt=127\n");
    assert_int_equal(c.halt_code, 127);
    c = parse("halt=3 halt=5"); /* the later one wins */
    assert_int_equal(c.halt_code, 5);
    assert_int_equal(c.ignored, 0);
}

static void test_halt_refused(void **state)
{
    (void)state;
    const char *bad[] = { "halt=128", "halt=-1", "halt=", "halt=7x", "halt=+7",
                          "halt=0000000001", "halt=99999999999999999999", "halt", "halt =7",
                          "HALT=7" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tern_metal_cmdline c = parse(bad[i]);
        if (c.halt_set)
            fail_msg("'%s' was accepted as halt=%u", bad[i], c.halt_code);
        assert_true(c.ignored >= 1);
    }
}

static void test_fault(void **state)
{
    (void)state;
    assert_int_equal(parse("fault=ud").fault, TERN_METAL_FAULT_UD);
    assert_int_equal(parse("fault=pf").fault, TERN_METAL_FAULT_PF);
    assert_int_equal(parse("fault=de").fault, TERN_METAL_FAULT_DE);
    assert_int_equal(parse("fault=null").fault, TERN_METAL_FAULT_NULL);
    assert_int_equal(parse("fault=wx").fault, TERN_METAL_FAULT_WX);
    assert_int_equal(parse("fault=spin").fault, TERN_METAL_FAULT_SPIN);
    struct tern_metal_cmdline c = parse("fault=gp fault=UD fault= fault=udx fault=nul fault=wxx fault=spinx");
    assert_int_equal(c.fault, TERN_METAL_FAULT_NONE);
    assert_int_equal(c.ignored, 7);
}

static void test_ip(void **state)
{
    (void)state;
    struct tern_metal_cmdline c = parse("ip=10.0.2.15/24 gw=10.0.2.2");
    assert_int_equal(c.ip, 0x0a00020fu);
    assert_int_equal(c.mask, 0xffffff00u);
    assert_int_equal(c.gw, 0x0a000202u);
    assert_int_equal(c.ignored, 0);
    c = parse("reboot=1");
    assert_true(c.reboot);
    c = parse("reboot=1 reboot=0 reboot=2 reboot=");
    assert_false(c.reboot);
    assert_int_equal(c.ignored, 2);
    c = parse("ip=192.0.2.1/32");
    assert_int_equal(c.mask, 0xffffffffu);
    c = parse("ip=10.0.2.15 ip=10.0.2.15/33 ip=10.0.2.15/0 ip=0.0.0.0/8 ip=256.1.1.1/8 "
              "ip=1.2.3/8 ip=1.2.3.4.5/8 ip=1..3.4/8 ip=1.2.3.4/ gw=1.2.3 gw=1.2.3.4. "
              "gw=0001.2.3.4");
    assert_int_equal(c.ip, 0);
    assert_int_equal(c.gw, 0);
    assert_int_equal(c.ignored, 12);
}

static void test_tls_selftest(void **state)
{
    (void)state;
    assert_false(parse("").tls_selftest);
    struct tern_metal_cmdline c = parse("halt=7 tls_selftest=1");
    assert_true(c.tls_selftest);
    assert_int_equal(c.ignored, 0);
    c = parse("tls_selftest=1 tls_selftest=0");
    assert_false(c.tls_selftest);
    c = parse("tls_selftest=1 tls_selftest=2 tls_selftest= tls_selftest=yes TLS_SELFTEST=0 "
              "tls_selftest");
    assert_true(c.tls_selftest); /* every refused token left the accepted one alone */
    assert_int_equal(c.ignored, 5);
}

static void test_log(void **state)
{
    (void)state;
    assert_false(parse("").log_set);
    static const struct {
        const char *text;
        enum tern_log_level level;
    } ok[] = {
        { "log=debug", TERN_LOG_DEBUG }, { "log=info", TERN_LOG_INFO },
        { "log=warn", TERN_LOG_WARN },   { "log=error", TERN_LOG_ERROR },
        { "log=off", TERN_LOG_OFF },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct tern_metal_cmdline c = parse(ok[i].text);
        assert_true(c.log_set);
        assert_int_equal(c.console_level, ok[i].level);
        assert_int_equal(c.ignored, 0);
    }
    struct tern_metal_cmdline c = parse("log=warn log=error");
    assert_int_equal(c.console_level, TERN_LOG_ERROR);
    c = parse("log=warn log= log=WARN log=warning log=2 LOG=off log");
    assert_true(c.log_set);
    assert_int_equal(c.console_level, TERN_LOG_WARN); /* refusals left it alone */
    assert_int_equal(c.ignored, 6);
}

static void test_delay(void **state)
{
    (void)state;
    struct tern_metal_cmdline c = parse("halt=1 delay_ms=1500");
    assert_int_equal(c.delay_ms, 1500);
    assert_true(c.halt_set);
    assert_int_equal(parse("delay_ms=600000").delay_ms, 600000);
    c = parse("delay_ms=600001");
    assert_int_equal(c.delay_ms, 0);
    assert_int_equal(c.ignored, 1);
}

static void test_unknown_counted(void **state)
{
    (void)state;
    struct tern_metal_cmdline c = parse("bogus halt=300 =x x= == halt=3 \xff\xfe");
    assert_true(c.halt_set);
    assert_int_equal(c.halt_code, 3);
    assert_int_equal(c.ignored, 6);
}

static void test_long_token(void **state)
{
    (void)state;
    char buf[300];
    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "halt=", 5);
    struct tern_metal_cmdline c = parse_n(buf, sizeof(buf));
    assert_false(c.halt_set);
    assert_int_equal(c.ignored, 1);
}

static void test_embedded_nul(void **state)
{
    (void)state;
    /* NUL is not a separator: "halt=7\0" is one bad token; the length,
     * not a terminator, bounds the parse. */
    static const char text[] = { 'h', 'a', 'l', 't', '=', '7', '\0', ' ', 'f', 'a', 'u', 'l',
                                 't', '=', 'u', 'd' };
    struct tern_metal_cmdline c = parse_n(text, sizeof(text));
    assert_false(c.halt_set);
    assert_int_equal(c.fault, TERN_METAL_FAULT_UD);
    assert_int_equal(c.ignored, 1);
}

/* Every prefix of a valid line: a whole token is applied, a cut one is
 * refused (counted) or, when the cut leaves a valid value, applied as
 * what the prefix says. */
/* Linux's virtio_mmio.device syntax, as QEMU's microvm (acpi=off) and
 * Firecracker write it. */
static void test_mmio(void **state)
{
    (void)state;
    struct tern_metal_cmdline c =
        parse("console=ttyS0 virtio_mmio.device=512@0xfeb00e00:12 "
              "virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=0x1000@3489665024:6:2 "
              "virtio_mmio.device=1m@0xFE000000:255");
    assert_int_equal(c.nmmio, 4);
    assert_int_equal(c.ignored, 1);                       /* console=ttyS0 */
    assert_int_equal(c.mmio[0].base, 0xfeb00e00u);
    assert_int_equal(c.mmio[0].size, 512);
    assert_int_equal(c.mmio[0].irq, 12);
    assert_int_equal(c.mmio[1].base, 0xd0000000u);
    assert_int_equal(c.mmio[1].size, 4096);
    assert_int_equal(c.mmio[1].irq, 5);
    assert_int_equal(c.mmio[2].base, 0xd0001000u);       /* decimal base, an ID */
    assert_int_equal(c.mmio[2].size, 0x1000);
    assert_int_equal(c.mmio[3].base, 0xfe000000u);      /* upper-case hex, lower-case m */
    assert_int_equal(c.mmio[3].size, 1u << 20);
    assert_int_equal(c.mmio[3].irq, 255);
}

static void test_mmio_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "virtio_mmio.device=",
        "virtio_mmio.device=512",                         /* no base */
        "virtio_mmio.device=512@0xfeb00e00",              /* no irq */
        "virtio_mmio.device=512@0xfeb00e00:",             /* empty irq */
        "virtio_mmio.device=@0xfeb00e00:12",              /* no size */
        "virtio_mmio.device=512@:12",                     /* no base digits */
        "virtio_mmio.device=0x@0xfeb00e00:12",
        "virtio_mmio.device=512@0xfeb00e00:256",          /* irq > 255 */
        "virtio_mmio.device=512@0xfeb00e00:-1",
        "virtio_mmio.device=512@0xfeb00e00:12:",          /* empty id */
        "virtio_mmio.device=512@0xfeb00e00:12:x",
        "virtio_mmio.device=512@0:12",                    /* base 0 */
        "virtio_mmio.device=512@0xfeb00e02:12",           /* misaligned */
        "virtio_mmio.device=255@0xfeb00e00:12",           /* too small for the registers */
        "virtio_mmio.device=0@0xfeb00e00:12",
        "virtio_mmio.device=2M@0xfeb00e00:12",            /* absurdly large */
        "virtio_mmio.device=16G@0x1000:12",
        "virtio_mmio.device=99999999999999999999@0x1000:12",  /* overflows */
        "virtio_mmio.device=0xffffffffffffffffK@0x1000:12",   /* the shift overflows */
        "virtio_mmio.device=512@0x3ffffffffff00:12",      /* ends past 64 TiB */
        "virtio_mmio.device=512@0xffffffffffffffff:12",
        "virtio_mmio.device=512@0x1fffffffffffffffff:12", /* more than 64 bits */
        "virtio_mmio.device=0512@0xfeb00e00:12",          /* octal to Linux: refused */
        "virtio_mmio.device=+512@0xfeb00e00:12",
        "virtio_mmio.device=512x@0xfeb00e00:12",
        "virtio_mmio.device=512@0xfeb00e00@0x1000:12",
        "virtio_mmio.device=512@0xfeb0 0e00:12",          /* two tokens, both bad */
        "virtio_mmio.devices=512@0xfeb00e00:12",
        "VIRTIO_MMIO.DEVICE=512@0xfeb00e00:12",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tern_metal_cmdline c = parse(bad[i]);
        if (c.nmmio != 0)
            fail_msg("'%s' was accepted: 0x%llx+0x%x irq %u", bad[i],
                     (unsigned long long)c.mmio[0].base, c.mmio[0].size, c.mmio[0].irq);
        assert_true(c.ignored >= 1);
    }
}

/* Windows that overlap an earlier one, and more than the table holds. */
static void test_mmio_overlap_and_limit(void **state)
{
    (void)state;
    struct tern_metal_cmdline c =
        parse("virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=512@0xd0000e00:6 "
              "virtio_mmio.device=4K@0xcffff000:7 virtio_mmio.device=8K@0xcffff000:7 "
              "virtio_mmio.device=4K@0xd0000000:5");
    assert_int_equal(c.nmmio, 2);                         /* the first and the one below it */
    assert_int_equal(c.mmio[1].base, 0xcffff000u);
    assert_int_equal(c.ignored, 3);
    char line[1024] = "";
    for (unsigned i = 0; i < TERN_METAL_MMIO_MAX + 3; i++) {
        char tok[64];
        snprintf(tok, sizeof tok, "virtio_mmio.device=512@0x%x:%u ", 0xfeb00000u + 512 * i, i);
        strcat(line, tok);
    }
    c = parse(line);
    assert_int_equal(c.nmmio, TERN_METAL_MMIO_MAX);
    assert_int_equal(c.ignored, 3);
    assert_int_equal(c.mmio[TERN_METAL_MMIO_MAX - 1].base,
                     0xfeb00000u + 512 * (TERN_METAL_MMIO_MAX - 1));
}

/* Every prefix of a device token: only the whole one (or one that ends
 * after a complete IRQ) is taken. */
static void test_mmio_every_prefix(void **state)
{
    (void)state;
    const char *line = "virtio_mmio.device=4K@0xd0000000:57";
    size_t n = strlen(line);
    for (size_t len = 0; len <= n; len++) {
        struct tern_metal_cmdline c = parse_n(line, len);
        if (len >= n - 1) {
            assert_int_equal(c.nmmio, 1);
            assert_int_equal(c.mmio[0].irq, len == n ? 57 : 5);
            assert_int_equal(c.mmio[0].base, 0xd0000000u);
        } else {
            assert_int_equal(c.nmmio, 0);
            if (len > 0)
                assert_int_equal(c.ignored, 1);
        }
    }
}

static void test_every_prefix(void **state)
{
    (void)state;
    const char *line = "fault=pf halt=42 delay_ms=250";
    size_t n = strlen(line);
    for (size_t len = 0; len <= n; len++) {
        struct tern_metal_cmdline c = parse_n(line, len);
        if (len >= 8)
            assert_int_equal(c.fault, TERN_METAL_FAULT_PF);
        else
            assert_int_equal(c.fault, TERN_METAL_FAULT_NONE);
        if (len >= 16) {
            assert_true(c.halt_set);
            assert_int_equal(c.halt_code, 42);
        } else if (len == 15) {
            assert_true(c.halt_set);
            assert_int_equal(c.halt_code, 4);
        } else {
            assert_false(c.halt_set);
        }
        if (len == n)
            assert_int_equal(c.delay_ms, 250);
        assert_true(c.ignored <= 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),         cmocka_unit_test(test_halt),
        cmocka_unit_test(test_halt_refused),  cmocka_unit_test(test_fault),
        cmocka_unit_test(test_delay),         cmocka_unit_test(test_tls_selftest),
        cmocka_unit_test(test_ip),         cmocka_unit_test(test_unknown_counted),
        cmocka_unit_test(test_long_token),    cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_every_prefix),  cmocka_unit_test(test_log),
        cmocka_unit_test(test_mmio),          cmocka_unit_test(test_mmio_refused),
        cmocka_unit_test(test_mmio_overlap_and_limit),
        cmocka_unit_test(test_mmio_every_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
