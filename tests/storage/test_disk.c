/*
 * Unit tests for core/storage/disk.c on the sim platform with RAM disks:
 * tern_disk_mount_data, the one rule both backends use for the volume
 * they serve (issue 12, defect 2). Disks are built in memory with core's
 * own GPT writer and FAT formatter: a Tern image (ESP + data partition),
 * an ESP alone, a data partition that is not FAT, one that fails the
 * whole-volume check (two files cross-linked), a good partition after a
 * bad one, a GPT without an ESP, and disks with no GPT (and no MBR) at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_platform.h"
#include "tern/disk.h"
#include "tern/fat.h"
#include "tern/gpt.h"
#include "tern/os.h"

#define SS 512u
#define MIB (1024u * 1024u / SS)          /* sectors per MiB */
#define DISK_SECTORS (10u * MIB)

/* ---- building disks in memory with core's own writers ---- */

static tern_result ram_read(void *ctx, uint64_t lba, void *buf, uint32_t count)
{
    memcpy(buf, (uint8_t *)ctx + lba * SS, (size_t)count * SS);
    return TERN_OK;
}

static tern_result ram_write(void *ctx, uint64_t lba, const void *buf, uint32_t count)
{
    memcpy((uint8_t *)ctx + lba * SS, buf, (size_t)count * SS);
    return TERN_OK;
}

static tern_result ram_flush(void *ctx)
{
    (void)ctx;
    return TERN_OK;
}

static const struct tern_bdev_ops ram_ops = { ram_read, ram_write, ram_flush };

struct builder {
    uint8_t *mem;
    struct tern_bdev dev;
    void *cache;
};

static void build_open(struct builder *b, uint8_t *mem)
{
    b->mem = mem;
    size_t cl = tern_bdev_cache_bytes(SS, 64);
    b->cache = malloc(cl);
    assert_int_equal(tern_bdev_init(&b->dev, &ram_ops, mem, SS, DISK_SECTORS, false, b->cache,
                                    cl, 64), TERN_OK);
}

static void build_close(struct builder *b)
{
    assert_int_equal(tern_bdev_flush(&b->dev), TERN_OK);
    free(b->cache);
}

/* A FAT volume on [first, first + count) labelled label, with files
 * (name, content) pairs, NULL-terminated. */
static void make_volume(struct builder *b, uint64_t first, uint64_t count, const char *label,
                        const char *const *files)
{
    struct tern_fat_format_opts o = { .label = label, .serial = 0x1234 };
    assert_int_equal(tern_fat_format(&b->dev, first, count, &o), TERN_OK);
    struct tern_fat fs;
    assert_int_equal(tern_fat_mount(&fs, &b->dev, first, count, false), TERN_OK);
    for (size_t i = 0; files && files[i]; i += 2) {
        struct tern_fat_file f;
        assert_int_equal(tern_fat_open(&fs, &f, files[i], TERN_FAT_WRITE | TERN_FAT_CREATE),
                         TERN_OK);
        assert_int_equal(tern_fat_write(&f, files[i + 1], strlen(files[i + 1])), TERN_OK);
        assert_int_equal(tern_fat_close(&f), TERN_OK);
    }
    assert_int_equal(tern_fat_unmount(&fs), TERN_OK);
}

/* Partition n (0-based) spans [1 + 2n, 3 + 2n) MiB. */
static struct tern_gpt_new_part part_at(unsigned n, const struct tern_guid *type)
{
    struct tern_gpt_new_part p;
    memset(&p, 0, sizeof p);
    p.type = *type;
    p.unique.b[0] = (uint8_t)(n + 1);
    p.unique.b[7] = 0x40;
    p.first_lba = (1 + 2ull * n) * MIB;
    p.last_lba = p.first_lba + 2ull * MIB - 1;
    p.name = "part";
    return p;
}

static void write_gpt(struct builder *b, const struct tern_guid *const *types, unsigned n)
{
    struct tern_gpt_new_part parts[4];
    for (unsigned i = 0; i < n; i++)
        parts[i] = part_at(i, types[i]);
    struct tern_guid disk = { { 9, 9, 9 } };
    assert_int_equal(tern_gpt_write(&b->dev, &disk, parts, n), TERN_OK);
}

static const char *const esp_files[] = { "index.html", "ESP index", "esp-only.txt", "esp", NULL };
static const char *const data_files[] = { "index.html", "DATA index", "data-only.txt", "data",
                                          "a.txt", "first file", "b.txt", "second file",
                                          NULL };

/* Cross-links b.txt to a.txt in the volume at first: the directory entry
 * of B.TXT gets A.TXT's start cluster (sizes stay consistent: only the
 * whole-volume check can see it). */
static void crosslink(uint8_t *mem, uint64_t first)
{
    uint8_t *base = mem + first * SS;
    uint8_t *a = NULL, *b = NULL;
    for (size_t off = 0; off + 32 <= 2 * MIB * SS; off += 32) {
        if (memcmp(base + off, "A       TXT", 11) == 0 && base[off + 11] == 0x20)
            a = base + off;
        if (memcmp(base + off, "B       TXT", 11) == 0 && base[off + 11] == 0x20)
            b = base + off;
    }
    assert_non_null(a);
    assert_non_null(b);
    memcpy(b + 20, a + 20, 2);
    memcpy(b + 26, a + 26, 2);
}

/* ---- the instance ---- */

struct rig {
    struct sim_platform sim;
    struct tern_os os;
    uint8_t *mem;
    struct tern_disk disk;
    struct tern_disk_data data;
    size_t heap_before;
};

static struct rig *rig_new(void)
{
    struct rig *g = calloc(1, sizeof *g);
    assert_int_equal(sim_platform_init(&g->sim, 4u << 20, 1), 0);
    g->mem = calloc(DISK_SECTORS, SS);
    assert_int_equal(sim_platform_add_disk(&g->sim, g->mem, SS, DISK_SECTORS, false), 0);
    struct tern_platform plat = sim_platform(&g->sim);
    struct tern_config cfg;
    tern_config_default(&cfg);
    assert_int_equal(tern_os_init(&g->os, &plat, &cfg), TERN_OK);
    g->heap_before = g->os.heap.in_use;
    return g;
}

static void rig_free(struct rig *g)
{
    assert_int_equal(tern_disk_unmount_data(&g->data), TERN_OK);
    assert_null(g->data.fs);
    (void)tern_disk_unmount(&g->disk);
    assert_int_equal(g->os.heap.in_use, g->heap_before);   /* the check's bitmap too */
    tern_os_finish(&g->os);
    sim_platform_close(&g->sim);
    free(g->mem);
    free(g);
}

/* Reads path from fs into buf (NUL-terminated). */
static tern_result read_file(struct tern_fat *fs, const char *path, char *buf, size_t cap)
{
    struct tern_fat_file f;
    tern_result r = tern_fat_open(fs, &f, path, TERN_FAT_READ);
    if (r != TERN_OK)
        return r;
    size_t got = 0;
    r = tern_fat_read(&f, buf, cap - 1, &got);
    buf[got] = '\0';
    (void)tern_fat_close(&f);
    return r;
}

static const struct tern_guid *const tern_image[] = { &TERN_GPT_TYPE_ESP,
                                                      &TERN_GPT_TYPE_BASIC_DATA,
                                                      &TERN_GPT_TYPE_BASIC_DATA };

/* ---- tests ---- */

static void test_tern_image_serves_the_data_partition(void **state)
{
    (void)state;
    struct rig *g = rig_new();
    struct builder b;
    build_open(&b, g->mem);
    write_gpt(&b, tern_image, 2);
    make_volume(&b, 1 * MIB, 2 * MIB, "TERN-ESP", esp_files);
    make_volume(&b, 3 * MIB, 2 * MIB, "TERN-DATA", data_files);
    build_close(&b);

    assert_int_equal(tern_disk_mount(&g->os, 0, &g->disk), TERN_OK);
    assert_int_equal(g->disk.part, 1);                   /* the ESP is the boot volume */
    assert_int_equal(tern_disk_mount_data(&g->disk, &g->data, NULL), TERN_OK);
    assert_int_equal(g->data.part, 2);
    assert_ptr_equal(g->data.fs, &g->data.own);
    assert_ptr_not_equal(g->data.fs, &g->disk.fs);
    assert_string_equal(g->data.fs->label, "TERN-DATA");
    assert_false(g->data.fs->read_only);
    char buf[64];
    assert_int_equal(read_file(g->data.fs, "index.html", buf, sizeof buf), TERN_OK);
    assert_string_equal(buf, "DATA index");
    assert_int_equal(read_file(g->data.fs, "data-only.txt", buf, sizeof buf), TERN_OK);
    assert_int_equal(read_file(g->data.fs, "esp-only.txt", buf, sizeof buf), TERN_ENOENT);
    assert_true(sim_console_has(&g->sim, "disk 0: data volume: partition 2, FAT12 'TERN-DATA'"));
    rig_free(g);
}

static void test_read_only_option(void **state)
{
    (void)state;
    struct rig *g = rig_new();
    struct builder b;
    build_open(&b, g->mem);
    write_gpt(&b, tern_image, 2);
    make_volume(&b, 1 * MIB, 2 * MIB, "TERN-ESP", esp_files);
    make_volume(&b, 3 * MIB, 2 * MIB, "TERN-DATA", data_files);
    build_close(&b);
    static const struct tern_disk_opts ro = { .read_only = true };
    assert_int_equal(tern_disk_mount_opts(&g->os, 0, &g->disk, &ro), TERN_OK);
    assert_int_equal(tern_disk_mount_data(&g->disk, &g->data, &ro), TERN_OK);
    assert_true(g->data.fs->read_only);
    struct tern_fat_file f;
    assert_int_equal(tern_fat_open(g->data.fs, &f, "new.txt", TERN_FAT_WRITE | TERN_FAT_CREATE),
                     TERN_EROFS);
    rig_free(g);
}

static void test_esp_alone_has_no_data_partition(void **state)
{
    (void)state;
    struct rig *g = rig_new();
    struct builder b;
    build_open(&b, g->mem);
    write_gpt(&b, tern_image, 1);
    make_volume(&b, 1 * MIB, 2 * MIB, "TERN-ESP", esp_files);
    build_close(&b);
    assert_int_equal(tern_disk_mount(&g->os, 0, &g->disk), TERN_OK);
    assert_int_equal(tern_disk_mount_data(&g->disk, &g->data, NULL), TERN_ENOENT);
    assert_null(g->data.fs);                             /* never the ESP */
    assert_string_equal(g->data.reason, "no-data-partition");
    assert_true(sim_console_has(&g->sim, "disk 0: no data volume: no-data-partition"));
    rig_free(g);
}

static void test_data_partition_without_fat(void **state)
{
    (void)state;
    struct rig *g = rig_new();
    struct builder b;
    build_open(&b, g->mem);
    write_gpt(&b, tern_image, 2);
    make_volume(&b, 1 * MIB, 2 * MIB, "TERN-ESP", esp_files);   /* partition 2: zeros */
    build_close(&b);
    assert_int_equal(tern_disk_mount(&g->os, 0, &g->disk), TERN_OK);
    assert_int_equal(tern_disk_mount_data(&g->disk, &g->data, NULL), TERN_EIO);
    assert_null(g->data.fs);
    assert_string_equal(g->data.reason, "bad-boot-signature");
    assert_true(sim_console_has(&g->sim, "disk 0: partition 2: no FAT volume: bad-boot-signature"));
    assert_true(sim_console_has(&g->sim, "disk 0: no data volume: bad-boot-signature"));
    rig_free(g);
}

static void test_data_partition_failing_its_check(void **state)
{
    (void)state;
    struct rig *g = rig_new();
    struct builder b;
    build_open(&b, g->mem);
    write_gpt(&b, tern_image, 2);
    make_volume(&b, 1 * MIB, 2 * MIB, "TERN-ESP", esp_files);
    make_volume(&b, 3 * MIB, 2 * MIB, "TERN-DATA", data_files);
    build_close(&b);
    crosslink(g->mem, 3 * MIB);
    assert_int_equal(tern_disk_mount(&g->os, 0, &g->disk), TERN_OK);   /* the ESP is sound */
    assert_int_equal(tern_disk_mount_data(&g->disk, &g->data, NULL), TERN_EIO);
    assert_null(g->data.fs);
    assert_false(g->data.own_mounted);
    assert_string_equal(g->data.reason, "cross-linked-cluster");
    assert_true(sim_console_has(&g->sim, "disk 0: partition 2 fails its check: cross-linked-cluster"));
    rig_free(g);
}

static void test_first_partition_that_passes(void **state)
{
    (void)state;
    struct rig *g = rig_new();
    struct builder b;
    build_open(&b, g->mem);
    write_gpt(&b, tern_image, 3);
    make_volume(&b, 1 * MIB, 2 * MIB, "TERN-ESP", esp_files);
    make_volume(&b, 3 * MIB, 2 * MIB, "BROKEN", data_files);
    static const char *const third[] = { "index.html", "third", NULL };
    make_volume(&b, 5 * MIB, 2 * MIB, "THIRD", third);
    build_close(&b);
    crosslink(g->mem, 3 * MIB);
    assert_int_equal(tern_disk_mount(&g->os, 0, &g->disk), TERN_OK);
    assert_int_equal(tern_disk_mount_data(&g->disk, &g->data, NULL), TERN_OK);
    assert_int_equal(g->data.part, 3);
    char buf[64];
    assert_int_equal(read_file(g->data.fs, "index.html", buf, sizeof buf), TERN_OK);
    assert_string_equal(buf, "third");
    rig_free(g);
}

static void test_gpt_without_esp_serves_its_volume(void **state)
{
    (void)state;
    struct rig *g = rig_new();
    struct builder b;
    build_open(&b, g->mem);
    static const struct tern_guid *const data_only[] = { &TERN_GPT_TYPE_BASIC_DATA };
    write_gpt(&b, data_only, 1);
    make_volume(&b, 1 * MIB, 2 * MIB, "PLAIN", data_files);
    build_close(&b);
    assert_int_equal(tern_disk_mount(&g->os, 0, &g->disk), TERN_OK);
    assert_int_equal(tern_disk_mount_data(&g->disk, &g->data, NULL), TERN_OK);
    assert_ptr_equal(g->data.fs, &g->disk.fs);           /* the mounted volume, not twice */
    assert_int_equal(g->data.part, 1);
    assert_false(g->data.own_mounted);
    rig_free(g);
}

/* No GPT and no MBR: a FAT volume on the whole disk (mkfs.fat's
 * "superfloppy") is the disk's one volume, so it is the data volume. */
static void test_no_gpt_no_mbr_whole_disk(void **state)
{
    (void)state;
    struct rig *g = rig_new();
    struct builder b;
    build_open(&b, g->mem);
    make_volume(&b, 0, DISK_SECTORS, "WHOLE", data_files);
    build_close(&b);
    assert_int_equal(tern_disk_mount(&g->os, 0, &g->disk), TERN_OK);
    assert_false(g->disk.has_gpt);
    assert_int_equal(tern_disk_mount_data(&g->disk, &g->data, NULL), TERN_OK);
    assert_ptr_equal(g->data.fs, &g->disk.fs);
    assert_int_equal(g->data.part, 0);
    char buf[64];
    assert_int_equal(read_file(g->data.fs, "index.html", buf, sizeof buf), TERN_OK);
    assert_string_equal(buf, "DATA index");
    assert_true(sim_console_has(&g->sim, "disk 0: data volume: whole disk 0"));
    rig_free(g);
}

/* No GPT, no MBR, no FAT: the disk does not mount, so it has no data
 * volume either (a clear refusal, nothing mounted). */
static void test_no_gpt_no_fat(void **state)
{
    (void)state;
    struct rig *g = rig_new();
    for (size_t i = 0; i < 64 * SS; i++)
        g->mem[i] = (uint8_t)(i * 37 + 11);
    assert_int_equal(tern_disk_mount(&g->os, 0, &g->disk), TERN_EIO);
    assert_int_equal(tern_disk_mount_data(&g->disk, &g->data, NULL), TERN_EINVAL);
    assert_null(g->data.fs);
    assert_string_equal(g->data.reason, "disk-not-mounted");
    rig_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tern_image_serves_the_data_partition),
        cmocka_unit_test(test_read_only_option),
        cmocka_unit_test(test_esp_alone_has_no_data_partition),
        cmocka_unit_test(test_data_partition_without_fat),
        cmocka_unit_test(test_data_partition_failing_its_check),
        cmocka_unit_test(test_first_partition_that_passes),
        cmocka_unit_test(test_gpt_without_esp_serves_its_volume),
        cmocka_unit_test(test_no_gpt_no_mbr_whole_disk),
        cmocka_unit_test(test_no_gpt_no_fat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
