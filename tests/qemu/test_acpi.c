/*
 * Unit tests of the metal ACPI parser (backends/baremetal/acpi.c) on
 * hand-made tables in a fake physical memory: RSDP 2.0 -> XSDT -> MCFG,
 * FACP -> DSDT with an _S5_ package. Bad checksums, lying lengths,
 * pointers outside memory and every single-byte corruption must give a
 * refusal (fields absent, bad_tables counted), never a crash or overread
 * (run under ASan in make test-asan).
 *
 * And on the tables QEMU 7.2's microvm machine really writes
 * (microvm_acpi.h): the hardware-reduced FADT, the MADT's two I/O APICs,
 * the DSDT's virtio-mmio devices and Generic Event Device; the DSDT cut
 * at every length and every byte of it corrupted (with its checksum
 * fixed, so the AML patterns themselves are what is attacked), more
 * devices than the parser keeps, a _CRS without a memory window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acpi.h"
#include "microvm_acpi.h"

#define BASE 0x1000u
#define MEM 0x800u
#define RSDP 0x1000u
#define XSDT 0x1100u
#define MCFG 0x1200u
#define FACP 0x1300u
#define DSDT 0x1500u

struct fake {
    uint8_t *mem; /* heap copy of exactly MEM bytes, so ASan sees overreads */
};

static const void *fake_map(void *ctx, uint64_t phys, size_t len)
{
    struct fake *f = ctx;
    if (phys < BASE || phys - BASE > MEM || len > MEM - (phys - BASE))
        return NULL;
    return f->mem + (phys - BASE);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static void fix_sum(uint8_t *p, size_t n, size_t at)
{
    uint8_t s = 0;
    p[at] = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    p[at] = (uint8_t)-s;
}

static uint8_t *at(uint8_t *m, uint32_t phys)
{
    return m + (phys - BASE);
}

static void sdt(uint8_t *m, uint32_t phys, const char *sig, uint32_t len)
{
    uint8_t *t = at(m, phys);
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = 1;           /* revision */
    memcpy(t + 10, "TERNOS", 6);
}

/* A consistent set of tables. */
static void build(uint8_t *m)
{
    memset(m, 0, MEM);
    uint8_t *r = at(m, RSDP);
    memcpy(r, "RSD PTR ", 8);
    r[15] = 2;                         /* revision */
    put32(r + 16, 0);                  /* no RSDT */
    put32(r + 20, 36);                 /* length */
    put64(r + 24, XSDT);
    fix_sum(r, 20, 8);
    fix_sum(r, 36, 32);

    sdt(m, XSDT, "XSDT", 36 + 16);
    put64(at(m, XSDT) + 36, MCFG);
    put64(at(m, XSDT) + 44, FACP);
    fix_sum(at(m, XSDT), 52, 9);

    sdt(m, MCFG, "MCFG", 36 + 8 + 16);
    uint8_t *e = at(m, MCFG) + 44;
    put64(e, 0xb0000000u);             /* base */
    e[8] = 0; e[9] = 0;                /* segment 0 */
    e[10] = 0; e[11] = 0x3f;           /* buses 0..63 */
    fix_sum(at(m, MCFG), 60, 9);

    sdt(m, FACP, "FACP", 244);
    uint8_t *f = at(m, FACP);
    put32(f + 40, DSDT);
    put32(f + 56, 0x600);              /* PM1a_EVT */
    put32(f + 64, 0x604);              /* PM1a_CNT */
    f[88] = 4;                         /* PM1_EVT_LEN */
    put32(f + 112, 1u << 10);          /* RESET_REG_SUP */
    f[116] = 1;                        /* reset register in system I/O */
    put64(f + 120, 0xcf9);
    f[128] = 0x06;
    fix_sum(f, 244, 9);

    static const uint8_t aml[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04,
                                   0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
    sdt(m, DSDT, "DSDT", 36 + sizeof(aml));
    memcpy(at(m, DSDT) + 36, aml, sizeof(aml));
    fix_sum(at(m, DSDT), 36 + sizeof(aml), 9);
}

static struct metal_acpi parse_mem(uint8_t *m)
{
    struct fake f = { malloc(MEM) };
    memcpy(f.mem, m, MEM);
    struct metal_acpi a;
    metal_acpi_parse(&a, RSDP, fake_map, &f);
    free(f.mem);
    return a;
}

static void test_good(void **state)
{
    (void)state;
    uint8_t m[MEM];
    build(m);
    struct metal_acpi a = parse_mem(m);
    assert_true(a.rsdp_ok);
    assert_int_equal(a.tables, 2);
    assert_int_equal(a.bad_tables, 0);
    assert_true(a.have_ecam);
    assert_int_equal(a.ecam_base, 0xb0000000u);
    assert_int_equal(a.ecam_bus_end, 0x3f);
    assert_true(a.have_fadt);
    assert_int_equal(a.pm1a_cnt, 0x604);
    assert_int_equal(a.pm1a_evt, 0x600);
    assert_true(a.have_s5);
    assert_int_equal(a.s5_typ, 5);
    assert_true(a.have_reset);
    assert_int_equal(a.reset_port, 0xcf9);
    assert_int_equal(a.reset_value, 6);
}

static void test_bad_checksums(void **state)
{
    (void)state;
    uint8_t m[MEM];
    build(m);
    at(m, MCFG)[50] ^= 1;              /* MCFG sum broken */
    struct metal_acpi a = parse_mem(m);
    assert_false(a.have_ecam);
    assert_true(a.have_fadt);
    assert_int_equal(a.bad_tables, 1);

    build(m);
    at(m, DSDT)[40] ^= 0x10;           /* DSDT sum broken: no S5, FADT kept */
    a = parse_mem(m);
    assert_true(a.have_fadt);
    assert_false(a.have_s5);
    assert_int_equal(a.bad_tables, 1);

    build(m);
    at(m, RSDP)[30] ^= 1;              /* extended RSDP sum broken: nothing */
    a = parse_mem(m);
    assert_false(a.rsdp_ok);
    assert_false(a.have_ecam);
    assert_false(a.have_fadt);
}

static void test_lying_lengths(void **state)
{
    (void)state;
    uint8_t m[MEM];
    build(m);
    put32(at(m, MCFG) + 4, 0x7fffffff); /* past memory and the 1 MiB limit */
    struct metal_acpi a = parse_mem(m);
    assert_false(a.have_ecam);
    assert_int_equal(a.bad_tables, 1);

    build(m);
    put32(at(m, FACP) + 4, 20);         /* shorter than a header */
    a = parse_mem(m);
    assert_false(a.have_fadt);

    build(m);
    put64(at(m, XSDT) + 36, 0xfffffffffffff000ull); /* entry outside memory */
    fix_sum(at(m, XSDT), 52, 9);
    a = parse_mem(m);
    assert_false(a.have_ecam);
    assert_true(a.have_fadt);
    assert_int_equal(a.bad_tables, 1);

    build(m);                           /* _S5_ package cut at the table end */
    uint8_t *d = at(m, DSDT);
    put32(d + 4, 36 + 7);
    fix_sum(d, 36 + 7, 9);
    a = parse_mem(m);
    assert_false(a.have_s5);
}

static void test_no_rsdp(void **state)
{
    (void)state;
    uint8_t m[MEM];
    build(m);
    struct fake f = { m };
    struct metal_acpi a;
    metal_acpi_parse(&a, 0, fake_map, &f);
    assert_false(a.rsdp_ok);
    metal_acpi_parse(&a, BASE + MEM - 4, fake_map, &f);
    assert_false(a.rsdp_ok);
}

/* Every byte of the tables, flipped three ways: whatever comes out, it
 * must not crash or read outside the fake memory. */
static void test_every_byte(void **state)
{
    (void)state;
    uint8_t m[MEM];
    static const uint8_t flips[] = { 0x01, 0x80, 0xff };
    for (uint32_t off = 0; off < MEM; off++) {
        for (size_t k = 0; k < sizeof(flips); k++) {
            build(m);
            m[off] ^= flips[k];
            struct metal_acpi a = parse_mem(m);
            if (a.have_ecam)
                assert_int_equal(a.ecam_base & 0xfffff, 0);
            if (a.have_s5)
                assert_true(a.s5_typ <= 7);
        }
    }
}

/* ---- the microvm tables ---- */

#define MV_XSDT 0x1040u
#define MV_FACP 0x1100u
#define MV_APIC 0x1220u
#define MV_DSDT 0x1280u   /* up to 0x1800: 1408 bytes of room */

/* RSDP -> XSDT (FACP, APIC), the FACP pointing at a DSDT of dsdt_len
 * bytes made of `dsdt` (its header's length and checksum fixed). */
static void build_microvm(uint8_t *m, const uint8_t *dsdt, uint32_t dsdt_len)
{
    memset(m, 0, MEM);
    uint8_t *r = at(m, RSDP);
    memcpy(r, "RSD PTR ", 8);
    r[15] = 2;
    put32(r + 20, 36);
    put64(r + 24, MV_XSDT);
    fix_sum(r, 20, 8);
    fix_sum(r, 36, 32);
    sdt(m, MV_XSDT, "XSDT", 36 + 16);
    put64(at(m, MV_XSDT) + 36, MV_FACP);
    put64(at(m, MV_XSDT) + 44, MV_APIC);
    fix_sum(at(m, MV_XSDT), 52, 9);
    uint8_t *f = at(m, MV_FACP);
    memcpy(f, microvm_facp, sizeof(microvm_facp));
    put32(f + 40, MV_DSDT);
    put64(f + 140, MV_DSDT);
    fix_sum(f, sizeof(microvm_facp), 9);
    memcpy(at(m, MV_APIC), microvm_apic, sizeof(microvm_apic));
    uint8_t *d = at(m, MV_DSDT);
    memcpy(d, dsdt, dsdt_len);
    put32(d + 4, dsdt_len);
    fix_sum(d, dsdt_len, 9);
}

static void test_microvm(void **state)
{
    (void)state;
    uint8_t m[MEM];
    build_microvm(m, microvm_dsdt, sizeof(microvm_dsdt));
    struct metal_acpi a = parse_mem(m);
    assert_true(a.rsdp_ok);
    assert_int_equal(a.bad_tables, 0);
    assert_true(a.have_fadt);
    assert_true(a.hw_reduced);
    assert_int_equal(a.pm1a_cnt, 0);
    assert_int_equal(a.pm1a_evt, 0);
    assert_int_equal(a.sleep_ctl, 0xfea00200u);
    assert_true(a.have_reset);
    assert_int_equal(a.reset_port, 0);
    assert_int_equal(a.reset_mem, 0xfea00202u);
    assert_int_equal(a.reset_value, 0x42);
    assert_true(a.have_s5);
    assert_int_equal(a.s5_typ, 5);
    assert_int_equal(a.nioapic, 2);
    assert_int_equal(a.ioapic[0].addr, 0xfec00000u);
    assert_int_equal(a.ioapic[0].gsi_base, 0);
    assert_int_equal(a.ioapic[1].addr, 0xfec10000u);
    assert_int_equal(a.ioapic[1].gsi_base, 24);
    assert_int_equal(a.nmmio, 2);
    assert_int_equal(a.mmio[0].base, 0xfeb02e00u);
    assert_int_equal(a.mmio[0].size, 0x200);
    assert_int_equal(a.mmio[0].gsi, 47);
    assert_int_equal(a.mmio[1].base, 0xfeb02c00u);
    assert_int_equal(a.mmio[1].gsi, 46);
    assert_int_equal(a.mmio_dropped, 0);
    assert_int_equal(a.ged_event, 0xfea00000u);
}

/* Cloud Hypervisor's shape: the sleep control register in I/O space. */
static void test_sleep_control_port(void **state)
{
    (void)state;
    uint8_t m[MEM];
    build_microvm(m, microvm_dsdt, sizeof(microvm_dsdt));
    uint8_t *f = at(m, MV_FACP);
    f[244] = 1;                                  /* system I/O */
    put64(f + 248, 0x600);
    fix_sum(f, sizeof(microvm_facp), 9);
    struct metal_acpi a = parse_mem(m);
    assert_int_equal(a.sleep_ctl_port, 0x600);
    assert_int_equal(a.sleep_ctl, 0);
    put64(f + 248, 0x10000);                     /* not a port */
    fix_sum(f, sizeof(microvm_facp), 9);
    a = parse_mem(m);
    assert_int_equal(a.sleep_ctl_port, 0);
    assert_int_equal(a.sleep_ctl, 0);
}

/* What a parse of damaged microvm tables may report: nothing, or the
 * real values, never something in between. */
static void check_microvm_subset(const struct metal_acpi *a)
{
    assert_true(a->nmmio <= 2);
    for (unsigned i = 0; i < a->nmmio; i++) {
        assert_true(a->mmio[i].base == 0xfeb02e00u || a->mmio[i].base == 0xfeb02c00u);
        assert_int_equal(a->mmio[i].size, 0x200);
        assert_true(a->mmio[i].gsi == 0 || a->mmio[i].gsi == 47 || a->mmio[i].gsi == 46);
    }
    assert_true(a->ged_event == 0 || a->ged_event == 0xfea00000u);
}

/* The DSDT cut at every length (its header's length and checksum made to
 * agree): whatever was cut off is not found, nothing is half-found. */
static void test_microvm_dsdt_cut(void **state)
{
    (void)state;
    uint8_t m[MEM];
    for (uint32_t len = 36; len <= sizeof(microvm_dsdt); len++) {
        build_microvm(m, microvm_dsdt, len);
        struct metal_acpi a = parse_mem(m);
        check_microvm_subset(&a);
        if (len < 0x183)           /* VR23's _CRS, End Tag included, ends at 0x182 */
            assert_int_equal(a.nmmio, 0);
        if (len == sizeof(microvm_dsdt))
            assert_int_equal(a.nmmio, 2);
    }
}

/* Every DSDT byte flipped three ways, the checksum fixed: the AML
 * patterns are what is attacked. */
static void test_microvm_every_byte(void **state)
{
    (void)state;
    uint8_t m[MEM], d[sizeof(microvm_dsdt)];
    static const uint8_t flips[] = { 0x01, 0x80, 0xff };
    for (uint32_t off = 36; off < sizeof(d); off++) {
        for (size_t k = 0; k < sizeof(flips); k++) {
            memcpy(d, microvm_dsdt, sizeof(d));
            d[off] ^= flips[k];
            build_microvm(m, d, sizeof(d));
            struct metal_acpi a = parse_mem(m);
            assert_true(a.nmmio <= METAL_ACPI_MMIO_MAX);
            for (unsigned i = 0; i < a.nmmio; i++)
                assert_true(a.mmio[i].base != 0 && a.mmio[i].size >= 0x100);
            assert_true(a.ged_event % 4 == 0 && a.ged_event < (1ull << 46));
        }
    }
}

/* The VR23 device of the real DSDT (0x13f..0x182: DeviceOp to the End
 * Tag), repeated n times with its base moved: more devices than
 * METAL_ACPI_MMIO_MAX are counted. */
static uint32_t many_devices(uint8_t *d, unsigned n)
{
    const uint32_t from = 0x13f, len = 0x183 - 0x13f; /* [0x5b 0x82 ... End Tag] */
    memcpy(d, microvm_dsdt, 36);
    uint32_t p = 36;
    for (unsigned i = 0; i < n; i++, p += len) {
        memcpy(d + p, microvm_dsdt + from, len);
        put32(d + p + (0x170 - from), 0xfeb00000u + 0x200 * i);   /* the base */
    }
    return p;
}

static void test_many_devices(void **state)
{
    (void)state;
    uint8_t m[MEM], d[1400];
    uint32_t n = many_devices(d, METAL_ACPI_MMIO_MAX + 3);
    assert_true(n <= sizeof(d));
    build_microvm(m, d, n);
    struct metal_acpi a = parse_mem(m);
    assert_int_equal(a.nmmio, METAL_ACPI_MMIO_MAX);
    assert_int_equal(a.mmio_dropped, 3);
    assert_int_equal(a.mmio[METAL_ACPI_MMIO_MAX - 1].base,
                     0xfeb00000u + 0x200 * (METAL_ACPI_MMIO_MAX - 1));
    assert_int_equal(a.mmio[0].gsi, 47);

    n = many_devices(d, 1);
    d[36 + (0x16c - 0x13f)] = 0x87;        /* Memory32Fixed turned into another item */
    build_microvm(m, d, n);
    a = parse_mem(m);
    assert_int_equal(a.nmmio, 0);          /* no memory window: not a device */

    n = many_devices(d, 1);
    put32(d + 36 + (0x174 - 0x13f), 0xff); /* a window too small for the registers */
    build_microvm(m, d, n);
    a = parse_mem(m);
    assert_int_equal(a.nmmio, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),          cmocka_unit_test(test_bad_checksums),
        cmocka_unit_test(test_lying_lengths), cmocka_unit_test(test_no_rsdp),
        cmocka_unit_test(test_every_byte),    cmocka_unit_test(test_microvm),
        cmocka_unit_test(test_microvm_dsdt_cut), cmocka_unit_test(test_microvm_every_byte),
        cmocka_unit_test(test_many_devices),  cmocka_unit_test(test_sleep_control_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
