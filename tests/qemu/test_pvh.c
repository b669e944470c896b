/*
 * Unit tests of the PVH start-info reader (backends/baremetal/pvh.c) on
 * hand-made start infos in a fake physical memory: QEMU's own table (as
 * its pvh.bin hands it over under microvm), overlapping regions, absurd
 * sizes, too many entries, lying counts and pointers, bad magic and
 * versions, the command line's limits, the RSDP given or searched for.
 * Whatever the input, the map written must be sorted, disjoint, whole
 * pages, the kernel never inside RAM, and nothing read outside the fake
 * memory (every region is an exactly-sized heap block: ASan sees
 * overreads; run under make test-asan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pvh.h"

#define LOW 0x400u          /* low memory: 0x400 .. 0x400 + LOW_LEN */
#define LOW_LEN 0x7c00u
#define INFO 0x1000u
#define MAP 0x1100u
#define CMDLINE 0x6000u
#define BIOS 0xe0000u       /* the BIOS area: 0xe0000 .. 0x100000 */
#define BIOS_LEN 0x20000u
#define KBASE 0x100000u     /* the kernel, as tern-microvm.elf is linked */
#define KEND 0x185123u
#define MIB (1024u * 1024u)

struct fake {
    uint8_t *low, *bios;    /* bios may be NULL: no BIOS area mapped */
};

static const void *fake_map(void *ctx, uint64_t phys, size_t len)
{
    struct fake *f = ctx;
    if (phys >= LOW && phys - LOW <= LOW_LEN && len <= LOW_LEN - (phys - LOW))
        return f->low + (phys - LOW);
    if (f->bios != NULL && phys >= BIOS && phys - BIOS <= BIOS_LEN &&
        len <= BIOS_LEN - (phys - BIOS))
        return f->bios + (phys - BIOS);
    return NULL;
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

static uint8_t *at(struct fake *f, uint32_t phys)
{
    return f->low + (phys - LOW);
}

static struct fake fake_new(bool bios)
{
    struct fake f = { test_calloc(1, LOW_LEN), bios ? test_calloc(1, BIOS_LEN) : NULL };
    return f;
}

static void fake_free(struct fake *f)
{
    test_free(f->low);
    if (f->bios)
        test_free(f->bios);
}

/* A version 1 start info with n entries at MAP, the command line at
 * CMDLINE (when cmdline is not NULL) and rsdp. */
static void info(struct fake *f, uint32_t n, const char *cmdline, uint64_t rsdp)
{
    uint8_t *h = at(f, INFO);
    put32(h, METAL_PVH_MAGIC);
    put32(h + 4, 1);
    put64(h + 24, cmdline ? CMDLINE : 0);
    put64(h + 32, rsdp);
    put64(h + 40, MAP);
    put32(h + 48, n);
    if (cmdline)
        memcpy(at(f, CMDLINE), cmdline, strlen(cmdline) + 1);
}

static void entry(struct fake *f, unsigned i, uint64_t addr, uint64_t size, uint32_t type)
{
    uint8_t *e = at(f, MAP + 24 * i);
    put64(e, addr);
    put64(e + 8, size);
    put32(e + 16, type);
    put32(e + 20, 0);
}

/* The invariants every result keeps, whatever the input. */
static void check_map(const struct metal_pvh *p)
{
    assert_true(p->nmap <= METAL_PVH_DESC_MAX);
    uint64_t usable = 0, prev_end = 0;
    for (unsigned i = 0; i < p->nmap; i++) {
        const struct tern_efi_memdesc *d = &p->map[i];
        uint64_t end = d->phys_start + d->pages * 4096;
        assert_int_equal(d->phys_start % 4096, 0);
        assert_true(d->pages > 0);
        assert_true(end <= METAL_PVH_PHYS_LIMIT);
        assert_true(i == 0 || d->phys_start >= prev_end);     /* sorted, disjoint */
        if (d->type == TERN_EFI_CONVENTIONAL) {
            usable += d->pages * 4096;
            assert_true(end <= KBASE || d->phys_start >= ((KEND + 4095) & ~4095u));
        }
        prev_end = end;
    }
    assert_int_equal(usable, p->usable_bytes);
    assert_true(p->cmdline_len < METAL_PVH_CMDLINE_MAX);
    assert_int_equal(p->cmdline[p->cmdline_len], '\0');
}

static const char *read_info(struct fake *f, struct metal_pvh *p)
{
    const char *why = metal_pvh_read(p, INFO, KBASE, KEND, fake_map, f);
    check_map(p);
    return why;
}

static void expect_desc(const struct metal_pvh *p, unsigned i, uint64_t start, uint64_t end,
                        uint32_t type)
{
    assert_true(i < p->nmap);
    if (p->map[i].phys_start != start || p->map[i].pages * 4096 != end - start ||
        p->map[i].type != type)
        fail_msg("descriptor %u: 0x%llx+0x%llx type %u, want 0x%llx-0x%llx type %u", i,
                 (unsigned long long)p->map[i].phys_start,
                 (unsigned long long)(p->map[i].pages * 4096), (unsigned)p->map[i].type,
                 (unsigned long long)start, (unsigned long long)end, (unsigned)type);
}

/* The table QEMU 7.2's pvh.bin gave under -M microvm -m 128M, with the
 * all-zero entry it ends with. */
static void test_qemu_microvm(void **state)
{
    (void)state;
    struct fake f = fake_new(false);
    info(&f, 6, "log=debug virtio_mmio.device=512@0xfeb00e00:12", 0);
    entry(&f, 0, 0, 0x9fc00, 1);
    entry(&f, 1, 0x9fc00, 0x400, 2);
    entry(&f, 2, 0xd0000, 0x20000, 4);
    entry(&f, 3, 0xf0000, 0x10000, 2);
    entry(&f, 4, 0x100000, 0x7f00000, 1);
    entry(&f, 5, 0, 0, 0);
    struct metal_pvh p;
    assert_null(read_info(&f, &p));
    assert_int_equal(p.version, 1);
    assert_int_equal(p.entries, 6);
    assert_int_equal(p.empty, 1);
    assert_int_equal(p.dropped + p.clipped + p.overlaps + p.lost, 0);
    expect_desc(&p, 0, 0, 0x9f000, TERN_EFI_CONVENTIONAL);       /* RAM rounded in */
    expect_desc(&p, 1, 0x9f000, 0xa0000, TERN_EFI_RESERVED);     /* reserved rounded out */
    expect_desc(&p, 2, 0xd0000, 0xf0000, TERN_EFI_ACPI_NVS);
    expect_desc(&p, 3, 0xf0000, KBASE, TERN_EFI_RESERVED);
    expect_desc(&p, 4, KBASE, 0x186000, TERN_EFI_LOADER_CODE);   /* the kernel carved out */
    expect_desc(&p, 5, 0x186000, 0x8000000, TERN_EFI_CONVENTIONAL);
    assert_int_equal(p.nmap, 6);
    assert_string_equal(p.cmdline, "log=debug virtio_mmio.device=512@0xfeb00e00:12");
    assert_false(p.cmdline_cut);
    assert_int_equal(p.rsdp, 0);
    assert_true(p.rsdp_searched);
    fake_free(&f);
}

/* Reserved inside RAM, ACPI over RAM, RAM over reserved, unknown types:
 * the stronger kind wins wherever two claim the same bytes. */
static void test_overlaps(void **state)
{
    (void)state;
    struct fake f = fake_new(false);
    info(&f, 5, NULL, 0);
    entry(&f, 0, 16 * MIB, 48 * MIB, 1);            /* RAM 16-64 MiB */
    entry(&f, 1, 20 * MIB, MIB, 2);                 /* reserved inside it */
    entry(&f, 2, 30 * MIB, 0x1800, 3);              /* ACPI tables inside it */
    entry(&f, 3, 60 * MIB, 8 * MIB, 1);             /* RAM overlapping the first */
    entry(&f, 4, 66 * MIB, MIB, 99);                /* unknown type over RAM: reserved */
    struct metal_pvh p;
    assert_null(read_info(&f, &p));
    expect_desc(&p, 0, KBASE, 0x186000, TERN_EFI_LOADER_CODE); /* the kernel, outside RAM too */
    expect_desc(&p, 1, 16 * MIB, 20 * MIB, TERN_EFI_CONVENTIONAL);
    expect_desc(&p, 2, 20 * MIB, 21 * MIB, TERN_EFI_RESERVED);
    expect_desc(&p, 3, 21 * MIB, 30 * MIB, TERN_EFI_CONVENTIONAL);
    expect_desc(&p, 4, 30 * MIB, 30 * MIB + 0x2000, TERN_EFI_ACPI_RECLAIM);
    expect_desc(&p, 5, 30 * MIB + 0x2000, 66 * MIB, TERN_EFI_CONVENTIONAL);
    expect_desc(&p, 6, 66 * MIB, 67 * MIB, TERN_EFI_RESERVED);
    expect_desc(&p, 7, 67 * MIB, 68 * MIB, TERN_EFI_CONVENTIONAL);
    assert_int_equal(p.nmap, 8);
    assert_int_equal(p.overlaps, 3); /* reserved, ACPI, the unknown type (RAM twice is not) */
    assert_int_equal(p.usable_bytes, (4 + 9 + 36 + 1) * (uint64_t)MIB - 0x2000);
    fake_free(&f);
}

/* Sizes that overflow or leave what the kernel can map; zero sizes; RAM
 * smaller than a page. */
static void test_absurd_sizes(void **state)
{
    (void)state;
    struct fake f = fake_new(false);
    info(&f, 6, NULL, 0);
    entry(&f, 0, 2 * MIB, 2 * MIB, 1);
    entry(&f, 1, 0xfffffffffffff000ull, 0x2000, 1);   /* wraps around: starts past the limit */
    entry(&f, 2, 1ull << 45, UINT64_MAX, 1);          /* end overflows: cut at the limit */
    entry(&f, 3, 1ull << 47, MIB, 1);                 /* past the limit */
    entry(&f, 4, 8 * MIB + 1, 4000, 1);               /* RAM smaller than a page */
    entry(&f, 5, 9 * MIB, 0, 1);                      /* empty */
    struct metal_pvh p;
    assert_null(read_info(&f, &p));
    assert_int_equal(p.clipped, 1);
    assert_int_equal(p.dropped, 3);
    assert_int_equal(p.empty, 1);
    expect_desc(&p, 0, KBASE, 0x186000, TERN_EFI_LOADER_CODE);
    expect_desc(&p, 1, 2 * MIB, 4 * MIB, TERN_EFI_CONVENTIONAL);
    expect_desc(&p, 2, 1ull << 45, METAL_PVH_PHYS_LIMIT, TERN_EFI_CONVENTIONAL);
    assert_int_equal(p.nmap, 3);
    fake_free(&f);
}

/* More entries than the reader takes: the first METAL_PVH_ENTRIES_MAX are
 * used, the rest counted; a count larger than the memory holding the
 * table is a refusal, not a read past it. */
static void test_too_many_entries(void **state)
{
    (void)state;
    struct fake f = fake_new(false);
    unsigned n = METAL_PVH_ENTRIES_MAX + 40;
    info(&f, n, NULL, 0);
    for (unsigned i = 0; i < n; i++)           /* alternating RAM and reserved pages */
        entry(&f, i, 2 * MIB + (uint64_t)i * 4096, 4096, (i & 1) ? 2 : 1);
    struct metal_pvh p;
    assert_null(read_info(&f, &p));
    assert_int_equal(p.dropped, 40);
    assert_int_equal(p.nmap, METAL_PVH_ENTRIES_MAX + 1); /* and the kernel */
    assert_int_equal(p.usable_bytes, (uint64_t)METAL_PVH_ENTRIES_MAX / 2 * 4096);

    info(&f, 100000, NULL, 0);                   /* 2.4 MB of entries: past the memory */
    for (unsigned i = 0; i < METAL_PVH_ENTRIES_MAX; i++)
        entry(&f, i, 2 * MIB + (uint64_t)i * 4096, 4096, 1);
    put64(at(&f, INFO) + 40, LOW + LOW_LEN - 24 * 10); /* ten entries fit */
    assert_string_equal(read_info(&f, &p), "memory-map-unreadable");
    fake_free(&f);
}

/* Nested spans of changing kinds: the most intervals a map can have
 * still fit the descriptor limit. */
static void test_worst_case_intervals(void **state)
{
    (void)state;
    struct fake f = fake_new(false);
    unsigned n = METAL_PVH_ENTRIES_MAX;
    info(&f, n, NULL, 0);
    static const uint32_t kinds[] = { 1, 3, 4, 5, 2 };
    for (unsigned i = 0; i < n; i++)
        entry(&f, i, 512 * MIB - (uint64_t)(n - i) * 8192, (uint64_t)(n - i) * 16384,
              kinds[i % 5]);
    struct metal_pvh p;
    const char *why = read_info(&f, &p);
    assert_true(why == NULL || strcmp(why, "no-usable-memory") == 0);
    assert_true(p.nmap + p.lost <= 2 * METAL_PVH_ENTRIES_MAX + 1);
    fake_free(&f);
}

static void test_refusals(void **state)
{
    (void)state;
    struct fake f = fake_new(false);
    struct metal_pvh p;
    info(&f, 1, NULL, 0);
    entry(&f, 0, 2 * MIB, 4 * MIB, 1);
    assert_null(read_info(&f, &p));

    put32(at(&f, INFO), METAL_PVH_MAGIC ^ 1);
    assert_string_equal(read_info(&f, &p), "bad-magic");
    put32(at(&f, INFO), METAL_PVH_MAGIC);
    put32(at(&f, INFO) + 4, 0);
    assert_string_equal(read_info(&f, &p), "version-0-has-no-memory-map");
    put32(at(&f, INFO) + 4, 1);
    put32(at(&f, INFO) + 48, 0);
    assert_string_equal(read_info(&f, &p), "no-memory-map");
    put32(at(&f, INFO) + 48, 1);
    put64(at(&f, INFO) + 40, 0);
    assert_string_equal(read_info(&f, &p), "no-memory-map");
    put64(at(&f, INFO) + 40, 0x10000000);        /* outside memory */
    assert_string_equal(read_info(&f, &p), "memory-map-unreadable");
    put64(at(&f, INFO) + 40, MAP);
    entry(&f, 0, 2 * MIB, 4 * MIB, 2);           /* nothing but reserved */
    assert_string_equal(read_info(&f, &p), "no-usable-memory");
    entry(&f, 0, KBASE, 0x80000, 1);             /* RAM that is all kernel */
    assert_string_equal(read_info(&f, &p), "no-usable-memory");
    assert_string_equal(metal_pvh_read(&p, 0x20000000, KBASE, KEND, fake_map, &f), "unreadable");
    /* a version 0 info may end right after rsdp_paddr */
    put32(at(&f, INFO) + 4, 0);
    assert_string_equal(metal_pvh_read(&p, LOW + LOW_LEN - 40, KBASE, KEND, fake_map, &f),
                        "bad-magic");
    fake_free(&f);
}

static void test_cmdline_limits(void **state)
{
    (void)state;
    struct fake f = fake_new(false);
    struct metal_pvh p;
    char *longer = test_malloc(METAL_PVH_CMDLINE_MAX + 10);
    memset(longer, 'a', METAL_PVH_CMDLINE_MAX + 9);
    longer[METAL_PVH_CMDLINE_MAX + 9] = '\0';
    info(&f, 1, longer, 0);
    entry(&f, 0, 2 * MIB, 4 * MIB, 1);
    assert_null(read_info(&f, &p));
    assert_true(p.cmdline_cut);
    assert_int_equal(p.cmdline_len, METAL_PVH_CMDLINE_MAX - 1);

    longer[METAL_PVH_CMDLINE_MAX - 1] = '\0';    /* exactly the most that fits */
    info(&f, 1, longer, 0);
    assert_null(read_info(&f, &p));
    assert_false(p.cmdline_cut);
    assert_int_equal(p.cmdline_len, METAL_PVH_CMDLINE_MAX - 1);
    test_free(longer);

    /* a line that runs into the end of memory without a NUL */
    put64(at(&f, INFO) + 24, LOW + LOW_LEN - 5);
    memcpy(at(&f, LOW + LOW_LEN - 5), "halt=", 5);
    assert_null(read_info(&f, &p));
    assert_true(p.cmdline_cut);
    assert_string_equal(p.cmdline, "halt=");
    put64(at(&f, INFO) + 24, UINT64_MAX - 2);    /* an address that wraps */
    assert_null(read_info(&f, &p));
    assert_int_equal(p.cmdline_len, 0);
    fake_free(&f);
}

static void rsdp_at(uint8_t *r, uint8_t revision)
{
    memcpy(r, "RSD PTR ", 8);
    r[15] = revision;
    uint8_t sum = 0;
    for (int i = 0; i < 20; i++)
        sum = (uint8_t)(sum + r[i]);
    r[8] = (uint8_t)-sum;
}

static void test_rsdp(void **state)
{
    (void)state;
    struct fake f = fake_new(true);
    struct metal_pvh p;
    rsdp_at(f.bios + 0x134d0, 2);                 /* at 0xf34d0, where QEMU puts it */
    info(&f, 1, NULL, 0xf34d0);
    entry(&f, 0, 2 * MIB, 4 * MIB, 1);
    assert_null(read_info(&f, &p));
    assert_int_equal(p.rsdp, 0xf34d0);
    assert_int_equal(p.acpi_revision, 2);
    assert_false(p.rsdp_searched);

    info(&f, 1, NULL, 0);                         /* none given: searched */
    assert_null(read_info(&f, &p));
    assert_int_equal(p.rsdp, 0xf34d0);
    assert_true(p.rsdp_searched);

    info(&f, 1, NULL, 0xe1000);                   /* a bad one given: searched too */
    f.bios[0x134d0 + 3] ^= 1;                     /* and the real one broken */
    rsdp_at(f.bios + 0x1fff0 - 16, 0);            /* the last slot that fits 20 bytes */
    assert_null(read_info(&f, &p));
    assert_int_equal(p.rsdp, 0xfffe0);
    assert_int_equal(p.acpi_revision, 1);

    memset(f.bios, 0, BIOS_LEN);                  /* in the EBDA */
    at(&f, 0x40e)[0] = 0x00;
    at(&f, 0x40e)[1] = 0x08;                      /* segment 0x0800: 0x8000, not EBDA range */
    assert_null(read_info(&f, &p));
    assert_int_equal(p.rsdp, 0);
    fake_free(&f);
}

/* Every byte of the start info and its table flipped three ways: no
 * crash, no read outside the fake memory, the invariants kept. */
static void test_every_byte(void **state)
{
    (void)state;
    static const uint8_t flips[] = { 0x01, 0x80, 0xff };
    for (uint32_t off = 0; off < 56 + 24 * 4; off++) {
        for (size_t k = 0; k < sizeof(flips); k++) {
            struct fake f = fake_new(false);
            info(&f, 4, "ip=10.0.2.15/24", 0);
            entry(&f, 0, 0, 0x9fc00, 1);
            entry(&f, 1, 0xf0000, 0x10000, 2);
            entry(&f, 2, 0x100000, 0x7f00000, 1);
            entry(&f, 3, 0x8000000, 0x1000, 3);
            uint32_t phys = off < 56 ? INFO + off : MAP + off - 56;
            at(&f, phys)[0] ^= flips[k];
            struct metal_pvh p;
            (void)read_info(&f, &p);
            fake_free(&f);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qemu_microvm),      cmocka_unit_test(test_overlaps),
        cmocka_unit_test(test_absurd_sizes),      cmocka_unit_test(test_too_many_entries),
        cmocka_unit_test(test_worst_case_intervals), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cmdline_limits),    cmocka_unit_test(test_rsdp),
        cmocka_unit_test(test_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
