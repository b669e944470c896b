/*
 * Unit tests for core/storage: the block cache, CRC-32 and GUIDs, GPT
 * (write, read, every byte of a header flipped), the BPB, and FAT12/16/32
 * on an in-memory device (file API, names, aliases, limits, errors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tern/blockdev.h"
#include "tern/disk.h"
#include "tern/fat.h"
#include "tern/gpt.h"
#include "tern/http_fat.h"

/* ---- an in-memory device that logs its writes ---- */

struct ram {
    uint8_t *mem;
    uint32_t ss;
    uint64_t sectors;
    uint64_t log[4096];        /* LBAs in write order */
    size_t nlog;
    unsigned flushes;
};

static tern_result ram_read(void *ctx, uint64_t lba, void *buf, uint32_t count)
{
    struct ram *r = ctx;
    if (lba + count > r->sectors)
        return TERN_EINVAL;
    memcpy(buf, r->mem + lba * r->ss, (size_t)count * r->ss);
    return TERN_OK;
}

static tern_result ram_write(void *ctx, uint64_t lba, const void *buf, uint32_t count)
{
    struct ram *r = ctx;
    if (lba + count > r->sectors)
        return TERN_EINVAL;
    memcpy(r->mem + lba * r->ss, buf, (size_t)count * r->ss);
    for (uint32_t i = 0; i < count; i++)
        if (r->nlog < 4096)
            r->log[r->nlog++] = lba + i;
    return TERN_OK;
}

static tern_result ram_flush(void *ctx)
{
    ((struct ram *)ctx)->flushes++;
    return TERN_OK;
}

static const struct tern_bdev_ops ram_ops = { ram_read, ram_write, ram_flush };

struct rig {
    struct ram ram;
    struct tern_bdev dev;
    void *cache;
    struct tern_fat fs;
};

static struct rig *rig_new(uint32_t ss, uint64_t bytes, uint32_t slots)
{
    struct rig *g = test_calloc(1, sizeof(*g));
    g->ram.ss = ss;
    g->ram.sectors = bytes / ss;
    g->ram.mem = test_calloc(1, bytes);
    size_t cl = tern_bdev_cache_bytes(ss, slots);
    g->cache = test_malloc(cl);
    assert_int_equal(tern_bdev_init(&g->dev, &ram_ops, &g->ram, ss, g->ram.sectors, false,
                                    g->cache, cl, slots), TERN_OK);
    return g;
}

static void rig_free(struct rig *g)
{
    test_free(g->ram.mem);
    test_free(g->cache);
    test_free(g);
}

/* ---- block cache ---- */

static void test_bdev_init_refuses(void **state)
{
    (void)state;
    struct tern_bdev d;
    uint8_t mem[8192];
    struct tern_bdev_ops no_flush = { ram_read, ram_write, NULL };
    struct ram r = { .ss = 512, .sectors = 8 };
    assert_int_equal(tern_bdev_init(&d, &no_flush, &r, 512, 8, false, mem, sizeof(mem), 4),
                     TERN_EINVAL);
    assert_int_equal(tern_bdev_init(&d, &ram_ops, &r, 1000, 8, false, mem, sizeof(mem), 4),
                     TERN_EINVAL);
    assert_int_equal(tern_bdev_init(&d, &ram_ops, &r, 512, 8, false, mem, 100, 4), TERN_EINVAL);
    assert_int_equal(tern_bdev_init(&d, &ram_ops, &r, 512, 0, false, mem, sizeof(mem), 4),
                     TERN_EINVAL);
}

/* Sequential single-sector maps read ahead: few device reads, the right
 * bytes in every sector, no write, and a dirty cached sector is neither
 * overwritten by a read-ahead nor written early. */
static void test_bdev_read_ahead(void **state)
{
    (void)state;
    struct rig *g = rig_new(512, 1024 * 512, 64);
    for (uint32_t i = 0; i < 1024; i++)
        memset(g->ram.mem + (size_t)i * 512, (int)(i & 0xff), 512);
    uint8_t buf[512];
    memset(buf, 0xaa, sizeof(buf));
    assert_int_equal(tern_bdev_write(&g->dev, 20, buf, 1), TERN_OK);
    uint64_t reads0 = g->dev.stats.reads;
    for (uint32_t i = 0; i < 200; i++) {
        uint8_t *p;
        assert_int_equal(tern_bdev_map(&g->dev, i, false, &p), TERN_OK);
        uint8_t want = i == 20 ? 0xaa : (uint8_t)(i & 0xff);
        assert_int_equal(p[0], want);
        assert_int_equal(p[511], want);
    }
    uint64_t reads = g->dev.stats.reads - reads0;
    assert_true(reads >= 2);
    assert_true(reads <= 12); /* one per sector would be 199 */
    assert_int_equal(g->ram.nlog, 0);
    assert_int_equal(tern_bdev_flush(&g->dev), TERN_OK);
    assert_int_equal(g->ram.nlog, 1);
    assert_int_equal(g->ram.log[0], 20);
    assert_int_equal(g->ram.mem[20 * 512], 0xaa);
    /* Reads at the end of the device stay in range. */
    for (uint32_t i = 1000; i < 1024; i++) {
        uint8_t *p;
        assert_int_equal(tern_bdev_map(&g->dev, i, false, &p), TERN_OK);
        assert_int_equal(p[0], (uint8_t)(i & 0xff));
    }
    rig_free(g);
}

/* A mounted disk's cache (TERN_DISK_CACHE_BYTES: 256 slots of 512
 * bytes) reads ahead 128 sectors at a time once a scan is sequential: a
 * 520-sector FAT in five device reads, each sector's bytes right. */
static void test_bdev_read_ahead_disk_cache(void **state)
{
    (void)state;
    uint32_t slots = TERN_DISK_CACHE_BYTES / 512;
    struct rig *g = rig_new(512, 2048 * 512, slots);
    for (uint32_t i = 0; i < 2048; i++)
        memset(g->ram.mem + (size_t)i * 512, (int)(i * 7 & 0xff), 512);
    uint64_t reads0 = g->dev.stats.reads;
    for (uint32_t i = 100; i < 620; i++) {
        uint8_t *p;
        assert_int_equal(tern_bdev_map(&g->dev, i, false, &p), TERN_OK);
        assert_int_equal(p[0], (uint8_t)(i * 7 & 0xff));
        assert_int_equal(p[511], (uint8_t)(i * 7 & 0xff));
    }
    /* a cold read-ahead of 64, then runs of 128: 1 + 4 */
    assert_int_equal(g->dev.stats.reads - reads0, 5);
    rig_free(g);
}

/* A miss with nothing cached before it reads 64 sectors at once (a GPT
 * header and its array, a boot sector and FSInfo), stopping before a
 * cached sector and never over a dirty one. */
static void test_bdev_cold_read_ahead(void **state)
{
    (void)state;
    struct rig *g = rig_new(512, 1024 * 512, 128);
    for (uint32_t i = 0; i < 1024; i++)
        memset(g->ram.mem + (size_t)i * 512, (int)(i & 0xff), 512);
    uint8_t *p;
    assert_int_equal(tern_bdev_map(&g->dev, 500, false, &p), TERN_OK);
    assert_int_equal(g->dev.stats.reads, 1);
    for (uint32_t i = 501; i < 564; i++) {           /* all came with 500 */
        assert_int_equal(tern_bdev_map(&g->dev, i, false, &p), TERN_OK);
        assert_int_equal(p[0], (uint8_t)(i & 0xff));
    }
    assert_int_equal(g->dev.stats.reads, 1);
    /* a dirty sector 8 past a cold miss: the read-ahead stops before it */
    uint8_t buf[512];
    memset(buf, 0xee, sizeof buf);
    assert_int_equal(tern_bdev_write(&g->dev, 108, buf, 1), TERN_OK);
    assert_int_equal(tern_bdev_map(&g->dev, 100, false, &p), TERN_OK);
    assert_int_equal(g->dev.stats.reads, 2);
    for (uint32_t i = 101; i < 108; i++)
        assert_int_equal(tern_bdev_map(&g->dev, i, false, &p), TERN_OK);
    assert_int_equal(g->dev.stats.reads, 2);
    assert_int_equal(tern_bdev_map(&g->dev, 108, false, &p), TERN_OK);
    assert_int_equal(p[0], 0xee);                    /* the cached write, not the disk */
    assert_int_equal(g->ram.nlog, 0);                /* reading never wrote */
    /* the last sector of the device: a run of one is a plain read */
    assert_int_equal(tern_bdev_map(&g->dev, 1023, false, &p), TERN_OK);
    assert_int_equal(p[0], (uint8_t)(1023 & 0xff));
    rig_free(g);
}

static void test_bdev_write_back_and_order(void **state)
{
    (void)state;
    struct rig *g = rig_new(512, 64 * 512, 8);
    uint8_t buf[512], out[512 * 4];
    for (int lba = 7; lba >= 3; lba--) {
        memset(buf, lba, sizeof(buf));
        assert_int_equal(tern_bdev_write(&g->dev, (uint64_t)lba, buf, 1), TERN_OK);
    }
    /* Nothing reached the device yet, but reads see the new data. */
    assert_int_equal(g->ram.nlog, 0);
    assert_int_equal(g->ram.mem[5 * 512], 0);
    assert_int_equal(tern_bdev_read(&g->dev, 2, out, 4), TERN_OK);   /* overlays the cache */
    assert_int_equal(out[0], 0);
    assert_int_equal(out[512], 3);
    assert_int_equal(out[3 * 512], 5);
    assert_int_equal(tern_bdev_flush(&g->dev), TERN_OK);
    assert_int_equal(g->ram.nlog, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(g->ram.log[i], 3 + i);     /* ascending LBA */
    assert_int_equal(g->ram.flushes, 1);
    assert_int_equal(g->ram.mem[5 * 512], 5);
    /* Eviction writes dirty sectors when the cache is full. */
    for (int lba = 10; lba < 30; lba++) {
        memset(buf, lba, sizeof(buf));
        assert_int_equal(tern_bdev_write(&g->dev, (uint64_t)lba, buf, 1), TERN_OK);
    }
    assert_true(g->dev.stats.evictions >= 12);
    assert_int_equal(g->ram.mem[10 * 512], 10);
    assert_int_equal(tern_bdev_read(&g->dev, 29, buf, 1), TERN_OK);
    assert_int_equal(buf[0], 29);
    /* A multi-sector write updates cached copies. */
    memset(out, 0xaa, sizeof(out));
    assert_int_equal(tern_bdev_write(&g->dev, 27, out, 3), TERN_OK);
    assert_int_equal(tern_bdev_read(&g->dev, 29, buf, 1), TERN_OK);
    assert_int_equal(buf[0], 0xaa);
    assert_int_equal(tern_bdev_read(&g->dev, 64, buf, 1), TERN_EINVAL);
    assert_int_equal(tern_bdev_read(&g->dev, 63, out, 2), TERN_EINVAL);
    rig_free(g);
}

/* ---- CRC, GUID ---- */

static void test_crc32_and_guid(void **state)
{
    (void)state;
    assert_int_equal(tern_crc32(0, "123456789", 9), 0xcbf43926u);
    assert_int_equal(tern_crc32(tern_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
    struct tern_guid g;
    assert_int_equal(tern_guid_parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", &g), TERN_OK);
    assert_memory_equal(g.b, TERN_GPT_TYPE_ESP.b, 16);
    assert_int_equal(tern_guid_parse("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", &g), TERN_OK);
    assert_memory_equal(g.b, TERN_GPT_TYPE_BASIC_DATA.b, 16);
    char text[37];
    tern_guid_format(&g, text);
    assert_string_equal(text, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7");
    assert_int_equal(tern_guid_parse("EBD0A0A2-B9E5-4433-87C0-68B6B72699C", &g), TERN_EINVAL);
    assert_int_equal(tern_guid_parse("EBD0A0A2xB9E5-4433-87C0-68B6B72699C7", &g), TERN_EINVAL);
    assert_int_equal(tern_guid_parse("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7x", &g), TERN_EINVAL);
}

/* ---- GPT ---- */

static void make_gpt(struct rig *g)
{
    struct tern_guid disk;
    memset(disk.b, 0x11, 16);
    uint64_t first, last;
    tern_gpt_usable(g->ram.ss, g->ram.sectors, &first, &last);
    struct tern_gpt_new_part parts[2] = {
        { TERN_GPT_TYPE_ESP, { { 1 } }, first, first + 99, "EFI System Partition" },
        { TERN_GPT_TYPE_BASIC_DATA, { { 2 } }, first + 100, last, "data" },
    };
    assert_int_equal(tern_gpt_write(&g->dev, &disk, parts, 2), TERN_OK);
}

static void gpt_roundtrip(uint32_t ss)
{
    struct rig *g = rig_new(ss, 4u << 20, 16);
    make_gpt(g);
    static struct tern_gpt t;
    assert_int_equal(tern_gpt_read(&g->dev, &t), TERN_OK);
    assert_false(t.used_backup);
    assert_int_equal(t.count, 2);
    assert_non_null(tern_gpt_find_type(&t, &TERN_GPT_TYPE_ESP));
    assert_int_equal(tern_gpt_find_name(&t, "DATA")->index, 1);
    assert_int_equal(tern_gpt_find_index(&t, 0)->last_lba - tern_gpt_find_index(&t, 0)->first_lba,
                     99);
    assert_null(tern_gpt_find_index(&t, 2));
    assert_string_equal(t.parts[0].name, "EFI System Partition");
    /* Primary destroyed: the backup answers, and says why. */
    memset(g->ram.mem + ss, 0, ss);
    tern_bdev_drop_cache(&g->dev);
    assert_int_equal(tern_gpt_read(&g->dev, &t), TERN_OK);
    assert_true(t.used_backup);
    assert_string_equal(t.primary_reason, "bad-signature");
    assert_int_equal(t.count, 2);
    /* Both gone: a clear error. */
    memset(g->ram.mem + (g->ram.sectors - 1) * ss, 0, ss);
    tern_bdev_drop_cache(&g->dev);
    assert_int_equal(tern_gpt_read(&g->dev, &t), TERN_EIO);
    assert_string_equal(t.reason, "bad-signature");
    /* Overlapping or out-of-range partitions are refused at write. */
    struct tern_guid disk = { { 0 } };
    struct tern_gpt_new_part bad[2] = {
        { TERN_GPT_TYPE_ESP, { { 1 } }, 40, 100, "a" },
        { TERN_GPT_TYPE_ESP, { { 2 } }, 100, 200, "b" },
    };
    assert_int_equal(tern_gpt_write(&g->dev, &disk, bad, 2), TERN_EINVAL);
    bad[1].first_lba = 101;
    bad[1].last_lba = g->ram.sectors;
    assert_int_equal(tern_gpt_write(&g->dev, &disk, bad, 2), TERN_EINVAL);
    rig_free(g);
}

static void test_gpt_512(void **state)
{
    (void)state;
    gpt_roundtrip(512);
}

static void test_gpt_4096(void **state)
{
    (void)state;
    gpt_roundtrip(4096);
}

static void test_gpt_header_every_byte_flipped(void **state)
{
    (void)state;
    struct rig *g = rig_new(512, 4u << 20, 16);
    make_gpt(g);
    uint8_t hdr[512];
    memcpy(hdr, g->ram.mem + 512, 512);
    const char *why = NULL;
    assert_int_equal(tern_gpt_check_header(hdr, 512, 1, g->ram.sectors, &why), TERN_OK);
    /* Every bit of every byte the CRC covers: refused, with a reason. */
    for (int i = 0; i < 92; i++) {
        for (int bit = 0; bit < 8; bit++) {
            hdr[i] ^= (uint8_t)(1u << bit);
            why = NULL;
            if (tern_gpt_check_header(hdr, 512, 1, g->ram.sectors, &why) != TERN_EIO) {
                print_error("byte %d bit %d accepted\n", i, bit);
                fail();
            }
            assert_non_null(why);
            hdr[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Bytes past the header size are not covered and do not matter. */
    hdr[200] ^= 0xff;
    assert_int_equal(tern_gpt_check_header(hdr, 512, 1, g->ram.sectors, &why), TERN_OK);
    /* Found at the wrong place: my_lba mismatch. */
    assert_int_equal(tern_gpt_check_header(hdr, 512, 2, g->ram.sectors, &why), TERN_EIO);
    assert_string_equal(why, "my-lba-mismatch");
    rig_free(g);
}

/* ---- FAT ---- */

static struct rig *fat_rig(uint32_t ss, uint64_t bytes, enum tern_fat_type type, uint32_t spc)
{
    struct rig *g = rig_new(ss, bytes, 32);
    struct tern_fat_format_opts o = { .type = type, .spc = spc, .label = "UNIT", .serial = 7 };
    assert_int_equal(tern_fat_format(&g->dev, 0, g->ram.sectors, &o), TERN_OK);
    assert_int_equal(tern_fat_mount(&g->fs, &g->dev, 0, g->ram.sectors, false), TERN_OK);
    assert_int_equal(g->fs.type, type);
    assert_string_equal(g->fs.label, "UNIT");
    return g;
}

static void put(struct tern_fat *fs, const char *path, const void *data, size_t len)
{
    struct tern_fat_file f;
    assert_int_equal(tern_fat_open(fs, &f, path, TERN_FAT_WRITE | TERN_FAT_CREATE |
                                                      TERN_FAT_TRUNC), TERN_OK);
    assert_int_equal(tern_fat_write(&f, data, len), TERN_OK);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
}

static size_t get(struct tern_fat *fs, const char *path, void *buf, size_t cap)
{
    struct tern_fat_file f;
    size_t got = 0;
    assert_int_equal(tern_fat_open(fs, &f, path, TERN_FAT_READ), TERN_OK);
    assert_int_equal(tern_fat_read(&f, buf, cap, &got), TERN_OK);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
    return got;
}

/* Writes FAT entry c of the first FAT copy directly (no bookkeeping). */
static void raw_fat_set(struct tern_fat *fs, uint32_t c, uint32_t v)
{
    uint64_t off = fs->type == TERN_FAT32 ? (uint64_t)c * 4
                 : fs->type == TERN_FAT16 ? (uint64_t)c * 2 : (uint64_t)c + c / 2;
    unsigned nbytes = fs->type == TERN_FAT32 ? 4 : 2;
    uint32_t old = 0;
    for (unsigned k = 0; k < nbytes; k++) {
        uint8_t *sec;
        uint64_t o = off + k;
        assert_int_equal(tern_bdev_map(fs->dev, fs->base + fs->fat_lba + o / fs->bps, false, &sec),
                         TERN_OK);
        old |= (uint32_t)sec[o % fs->bps] << (8 * k);
    }
    uint32_t w = v;
    if (fs->type == TERN_FAT12)
        w = (c & 1) ? (old & 0x000fu) | (v << 4) : (old & 0xf000u) | (v & 0xfffu);
    for (unsigned k = 0; k < nbytes; k++) {
        uint8_t *sec;
        uint64_t o = off + k;
        assert_int_equal(tern_bdev_map(fs->dev, fs->base + fs->fat_lba + o / fs->bps, true, &sec),
                         TERN_OK);
        sec[o % fs->bps] = (uint8_t)(w >> (8 * k));
    }
}

static void fat_basics(uint32_t ss, uint64_t bytes, enum tern_fat_type type, uint32_t spc)
{
    struct rig *g = fat_rig(ss, bytes, type, spc);
    struct tern_fat *fs = &g->fs;
    static uint8_t data[100000], back[100001];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31 + i / 977);
    put(fs, "/hello.txt", "hi", 2);
    assert_int_equal(tern_fat_mkdir(fs, "/Some Dir"), TERN_OK);
    assert_int_equal(tern_fat_mkdir(fs, "/some dir/Inner"), TERN_OK);
    put(fs, "/SOME DIR/inner/Big File.bin", data, sizeof(data));
    assert_int_equal(get(fs, "/some dir/INNER/big file.BIN", back, sizeof(back)), sizeof(data));
    assert_memory_equal(back, data, sizeof(data));
    /* pread at odd offsets. */
    struct tern_fat_file f;
    size_t got;
    assert_int_equal(tern_fat_open(fs, &f, "/Some Dir/Inner/Big File.bin", TERN_FAT_READ),
                     TERN_OK);
    assert_int_equal(tern_fat_pread(&f, 12345, back, 7777, &got), TERN_OK);
    assert_int_equal(got, 7777);
    assert_memory_equal(back, data + 12345, 7777);
    assert_int_equal(tern_fat_pread(&f, sizeof(data) - 3, back, 100, &got), TERN_OK);
    assert_int_equal(got, 3);
    assert_int_equal(tern_fat_pread(&f, sizeof(data) + 5, back, 100, &got), TERN_OK);
    assert_int_equal(got, 0);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
    /* Seek past the end and write: the gap reads as zeros. */
    assert_int_equal(tern_fat_open(fs, &f, "/hello.txt", TERN_FAT_WRITE | TERN_FAT_READ), TERN_OK);
    assert_int_equal(tern_fat_seek(&f, 5000), TERN_OK);
    assert_int_equal(tern_fat_write(&f, "end", 3), TERN_OK);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
    assert_int_equal(get(fs, "/hello.txt", back, sizeof(back)), 5003);
    assert_memory_equal(back, "hi\0\0", 4);
    assert_int_equal(back[4999], 0);
    assert_memory_equal(back + 5000, "end", 3);
    /* Truncate down, then up. */
    assert_int_equal(tern_fat_open(fs, &f, "/hello.txt", TERN_FAT_WRITE), TERN_OK);
    assert_int_equal(tern_fat_truncate(&f, 1), TERN_OK);
    assert_int_equal(tern_fat_truncate(&f, 3), TERN_OK);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
    assert_int_equal(get(fs, "/hello.txt", back, sizeof(back)), 3);
    assert_memory_equal(back, "h\0\0", 3);
    /* stat, readdir. */
    struct tern_fat_stat st;
    assert_int_equal(tern_fat_stat(fs, "/some dir/inner/big file.bin", &st), TERN_OK);
    assert_string_equal(st.name, "Big File.bin");
    assert_string_equal(st.short_name, "BIGFIL~1.BIN");
    assert_int_equal(st.size, sizeof(data));
    assert_int_equal(tern_fat_stat(fs, "/", &st), TERN_OK);
    assert_true(st.is_dir);
    struct tern_fat_dir d;
    assert_int_equal(tern_fat_opendir(fs, &d, "/"), TERN_OK);
    int n = 0;
    while (tern_fat_readdir(&d, &st) == TERN_OK)
        n++;
    assert_int_equal(n, 2);
    /* Rename and move, then unlink. */
    assert_int_equal(tern_fat_rename(fs, "/some dir/inner", "/Moved"), TERN_OK);
    assert_int_equal(tern_fat_stat(fs, "/moved/big file.bin", &st), TERN_OK);
    assert_int_equal(tern_fat_rename(fs, "/hello.txt", "/HELLO.TXT"), TERN_OK);   /* case only */
    assert_int_equal(tern_fat_stat(fs, "/hello.txt", &st), TERN_OK);
    assert_string_equal(st.name, "HELLO.TXT");
    assert_int_equal(tern_fat_unlink(fs, "/moved"), TERN_EBUSY);
    assert_int_equal(tern_fat_unlink(fs, "/moved/big file.bin"), TERN_OK);
    assert_int_equal(tern_fat_unlink(fs, "/moved"), TERN_OK);
    assert_int_equal(tern_fat_stat(fs, "/moved", &st), TERN_ENOENT);
    uint32_t free_before, free_after;
    assert_int_equal(tern_fat_free_clusters(fs, &free_before), TERN_OK);
    size_t bl = (g->fs.clusters + 2 + 7) / 8;
    uint8_t *bm = test_malloc(bl);
    uint32_t lost = 99;
    assert_int_equal(tern_fat_check(fs, bm, bl, &lost), TERN_OK);
    assert_int_equal(lost, 0);
    /* A chain end no entry reaches is lost; a bad cluster is not: the
     * check's sector-by-sector FAT scan decodes like fat_get, up to the
     * very last cluster. */
    uint32_t last = fs->clusters + 1;
    uint32_t eoc = type == TERN_FAT12 ? 0xfffu : type == TERN_FAT16 ? 0xffffu : 0x0fffffffu;
    raw_fat_set(fs, last, eoc);
    raw_fat_set(fs, last - 1, eoc - 8u); /* xx7: bad */
    raw_fat_set(fs, last - 2, eoc);
    lost = 99;
    assert_int_equal(tern_fat_check(fs, bm, bl, &lost), TERN_OK);
    assert_int_equal(lost, 2);
    /* Without a counter the lost ones are not looked for (a read-only
     * mount's check), but every chain still is: a cross-link fails. */
    assert_int_equal(tern_fat_check(fs, bm, bl, NULL), TERN_OK);
    put(fs, "/x1", "1", 1);
    put(fs, "/x2", "2", 1);
    struct tern_fat_stat x1, x2;
    assert_int_equal(tern_fat_stat(fs, "/x1", &x1), TERN_OK);
    assert_int_equal(tern_fat_stat(fs, "/x2", &x2), TERN_OK);
    raw_fat_set(fs, x1.first_cluster, x2.first_cluster);
    assert_int_equal(tern_fat_check(fs, bm, bl, NULL), TERN_EIO);
    assert_non_null(fs->reason);
    raw_fat_set(fs, x1.first_cluster, eoc);
    assert_int_equal(tern_fat_check(fs, bm, bl, NULL), TERN_OK);
    assert_int_equal(tern_fat_unlink(fs, "/x1"), TERN_OK);
    assert_int_equal(tern_fat_unlink(fs, "/x2"), TERN_OK);
    /* The two lost ones again, reclaimed as fsck.fat would: the bad
     * cluster stays bad, the files stay. */
    raw_fat_set(fs, last, eoc);
    raw_fat_set(fs, last - 2, eoc);
    assert_int_equal(tern_fat_check(fs, bm, bl, &lost), TERN_OK);
    assert_int_equal(lost, 2);
    uint32_t freed = 0;
    assert_int_equal(tern_fat_reclaim_lost(fs, bm, &freed), TERN_OK);
    assert_int_equal(freed, 2);
    assert_int_equal(tern_fat_check(fs, bm, bl, &lost), TERN_OK);
    assert_int_equal(lost, 0);
    assert_int_equal(get(fs, "/hello.txt", back, sizeof(back)), 3);
    raw_fat_set(fs, last - 1, 0);
    assert_int_equal(tern_fat_check(fs, bm, bl, &lost), TERN_OK);
    assert_int_equal(lost, 0);
    test_free(bm);
    /* Remount: everything persisted, hints too. */
    assert_int_equal(tern_fat_unmount(fs), TERN_OK);
    assert_int_equal(tern_fat_mount(fs, &g->dev, 0, g->ram.sectors, false), TERN_OK);
    assert_int_equal(get(fs, "/hello.txt", back, sizeof(back)), 3);
    assert_int_equal(tern_fat_free_clusters(fs, &free_after), TERN_OK);
    assert_int_equal(free_after, free_before);
    rig_free(g);
}

static void test_fat12(void **state)
{
    (void)state;
    fat_basics(512, 2u << 20, TERN_FAT12, 1);
}

static void test_fat16(void **state)
{
    (void)state;
    fat_basics(512, 16u << 20, TERN_FAT16, 4);
}

static void test_fat32(void **state)
{
    (void)state;
    fat_basics(512, 40u << 20, TERN_FAT32, 1);
}

static void test_fat32_4096(void **state)
{
    (void)state;
    fat_basics(4096, 300u << 20, TERN_FAT32, 1);
}

/* The HTTP file source over FAT: a fixed table of handles; one more open
 * is refused with TERN_EBUSY (a transient state, answered 503) and counted,
 * and a closed handle is free again. */
static void test_http_fat_handles_busy(void **state)
{
    (void)state;
    struct rig *g = fat_rig(512, 2u << 20, TERN_FAT12, 4);
    put(&g->fs, "/f.txt", "data", 4);
    struct tern_http_fat hf;
    tern_http_fat_init(&hf, &g->fs);
    void *h[TERN_HTTP_FAT_FILES + 1];
    struct tern_http_file_stat st;
    for (unsigned i = 0; i < TERN_HTTP_FAT_FILES; i++)
        assert_int_equal(tern_http_fat_ops.open(&hf, "/f.txt", &h[i], &st), TERN_OK);
    assert_int_equal(tern_http_fat_ops.open(&hf, "/f.txt", &h[TERN_HTTP_FAT_FILES], &st),
                     TERN_EBUSY);
    assert_int_equal(hf.busy, 1);
    assert_int_equal(tern_http_fat_ops.open(&hf, "/missing", &h[TERN_HTTP_FAT_FILES], &st),
                     TERN_ENOENT);
    tern_http_fat_ops.close(&hf, h[3]);
    assert_int_equal(tern_http_fat_ops.open(&hf, "/f.txt", &h[3], &st), TERN_OK);
    for (unsigned i = 0; i < TERN_HTTP_FAT_FILES; i++)
        tern_http_fat_ops.close(&hf, h[i]);
    rig_free(g);
}

/* tern_fat_file_lba names the device sector of any byte in a file's
 * chain, fragmented chains included (a hole left by an unlinked file). */
static void test_fat_file_lba(void **state)
{
    (void)state;
    struct rig *g = fat_rig(512, 4u << 20, TERN_FAT16, 1);
    struct tern_fat *fs = &g->fs;
    static uint8_t data[5000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i / 512 * 17 + i);
    put(fs, "/hole", "x", 1);
    put(fs, "/middle", "y", 1);
    assert_int_equal(tern_fat_unlink(fs, "/hole"), TERN_OK);
    put(fs, "/f.bin", data, sizeof(data));       /* one cluster in the hole, then after */
    struct tern_fat_file f;
    uint64_t lba = 0;
    assert_int_equal(tern_fat_open(fs, &f, "/f.bin", TERN_FAT_READ), TERN_OK);
    uint64_t first = 0, second = 0;
    for (uint64_t off = 0; off < sizeof(data); off += 97) {
        assert_int_equal(tern_fat_file_lba(&f, off, &lba), TERN_OK);
        assert_int_equal(g->ram.mem[lba * 512 + off % 512], data[off]);
        if (off == 0)
            first = lba;
        if (off == 1067)
            second = lba;
    }
    assert_true(second != first + 2);            /* the chain is fragmented */
    assert_int_equal(tern_fat_file_lba(&f, 5100, &lba), TERN_OK);   /* slack of the last cluster */
    assert_int_equal(tern_fat_file_lba(&f, 5120, &lba), TERN_EINVAL);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
    assert_int_equal(tern_fat_file_lba(&f, 0, &lba), TERN_EINVAL);   /* closed */
    rig_free(g);
}

/* tern_fat_rename_replace: an existing file at to takes from's contents
 * and its old clusters are freed (nothing lost, nothing cross-linked);
 * without a target it is a plain rename; directories are never replaced. */
static void test_fat_rename_replace(void **state)
{
    (void)state;
    for (int t = 0; t < 2; t++) {
        struct rig *g = t == 0 ? fat_rig(512, 2u << 20, TERN_FAT12, 4)
                               : fat_rig(512, 40u << 20, TERN_FAT32, 1);
        struct tern_fat *fs = &g->fs;
        static uint8_t big[9000], back[10000];
        for (size_t i = 0; i < sizeof(big); i++)
            big[i] = (uint8_t)(i * 13 + 5);
        uint32_t free0, free1;
        assert_int_equal(tern_fat_mkdir(fs, "/d"), TERN_OK);
        put(fs, "/d/target with a long name.txt", big, sizeof(big));   /* old: 9000 bytes */
        put(fs, "/new.tmp", "fresh", 5);
        assert_int_equal(tern_fat_free_clusters(fs, &free0), TERN_OK);
        assert_int_equal(tern_fat_rename(fs, "/new.tmp", "/d/target with a long name.txt"),
                         TERN_EEXIST);
        assert_int_equal(tern_fat_rename_replace(fs, "/new.tmp", "/d/TARGET WITH A LONG NAME.TXT"),
                         TERN_OK);
        assert_int_equal(get(fs, "/d/target with a long name.txt", back, sizeof(back)), 5);
        assert_memory_equal(back, "fresh", 5);
        struct tern_fat_stat st;
        assert_int_equal(tern_fat_stat(fs, "/new.tmp", &st), TERN_ENOENT);
        assert_int_equal(tern_fat_stat(fs, "/d/target with a long name.txt", &st), TERN_OK);
        assert_string_equal(st.name, "target with a long name.txt");   /* to's name kept */
        assert_int_equal(tern_fat_free_clusters(fs, &free1), TERN_OK);
        assert_true(free1 > free0);                          /* the old 9000 bytes freed */
        /* An empty file replaces a full one; a missing target is a rename. */
        put(fs, "/empty", "", 0);
        assert_int_equal(tern_fat_rename_replace(fs, "/empty", "/d/target with a long name.txt"),
                         TERN_OK);
        assert_int_equal(get(fs, "/d/target with a long name.txt", back, sizeof(back)), 0);
        assert_int_equal(tern_fat_rename_replace(fs, "/d/target with a long name.txt", "/moved"),
                         TERN_OK);
        assert_int_equal(tern_fat_stat(fs, "/moved", &st), TERN_OK);
        /* Directories: neither replaced nor replacing; from missing: ENOENT. */
        put(fs, "/f", "f", 1);
        assert_int_equal(tern_fat_rename_replace(fs, "/f", "/d"), TERN_EEXIST);
        assert_int_equal(tern_fat_rename_replace(fs, "/d", "/f"), TERN_EEXIST);
        assert_int_equal(tern_fat_rename_replace(fs, "/nothing", "/f"), TERN_ENOENT);
        size_t bl = (fs->clusters + 2 + 7) / 8;
        uint8_t *bm = test_malloc(bl);
        uint32_t lost = 99;
        assert_int_equal(tern_fat_check(fs, bm, bl, &lost), TERN_OK);
        assert_int_equal(lost, 0);
        test_free(bm);
        assert_int_equal(tern_fat_unmount(fs), TERN_OK);
        assert_int_equal(tern_fat_mount(fs, &g->dev, 0, g->ram.sectors, true), TERN_OK);
        assert_int_equal(tern_fat_rename_replace(fs, "/f", "/moved"), TERN_EROFS);
        rig_free(g);
    }
}

static void test_fat_errors(void **state)
{
    (void)state;
    struct rig *g = fat_rig(512, 2u << 20, TERN_FAT12, 4);
    struct tern_fat *fs = &g->fs;
    struct tern_fat_file f;
    struct tern_fat_stat st;
    static const char *const bad[] = { "/a*b", "/a?b", "/x:y", "/trail.", "/trail ", "/..",
                                       "/a/../b", "/ctl\x01", "/q\"q", "/lt<", "/p|p" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(tern_fat_open(fs, &f, bad[i], TERN_FAT_WRITE | TERN_FAT_CREATE),
                         TERN_EINVAL);
    assert_int_equal(tern_fat_open(fs, &f, "/\xc3\x28", TERN_FAT_WRITE | TERN_FAT_CREATE),
                     TERN_EINVAL);                       /* bad UTF-8 */
    char longname[300];
    memset(longname, 'x', sizeof(longname));
    longname[0] = '/';
    longname[257] = '\0';
    assert_int_equal(tern_fat_mkdir(fs, longname), TERN_EINVAL);
    longname[256] = '\0';                               /* 255 characters: fine */
    assert_int_equal(tern_fat_mkdir(fs, longname), TERN_OK);
    assert_int_equal(tern_fat_stat(fs, longname, &st), TERN_OK);
    assert_int_equal(strlen(st.name), 255);
    assert_int_equal(tern_fat_open(fs, &f, "/nope", TERN_FAT_READ), TERN_ENOENT);
    assert_int_equal(tern_fat_open(fs, &f, "/no/dir/x", TERN_FAT_WRITE | TERN_FAT_CREATE),
                     TERN_ENOENT);
    put(fs, "/x", "1", 1);
    assert_int_equal(tern_fat_open(fs, &f, "/x", TERN_FAT_WRITE | TERN_FAT_CREATE | TERN_FAT_EXCL),
                     TERN_EEXIST);
    assert_int_equal(tern_fat_mkdir(fs, "/X"), TERN_EEXIST);
    assert_int_equal(tern_fat_open(fs, &f, longname, TERN_FAT_READ), TERN_EINVAL);  /* a dir */
    assert_int_equal(tern_fat_open(fs, &f, "/x", TERN_FAT_CREATE), TERN_EINVAL);   /* flags */
    assert_int_equal(tern_fat_rename(fs, "/x", longname), TERN_EEXIST);
    assert_int_equal(tern_fat_mkdir(fs, "/d"), TERN_OK);
    assert_int_equal(tern_fat_mkdir(fs, "/d/e"), TERN_OK);
    assert_int_equal(tern_fat_rename(fs, "/d", "/d/e/f"), TERN_EINVAL);   /* into itself */
    assert_int_equal(tern_fat_unlink(fs, "/"), TERN_EINVAL);
    /* Fill the volume: ENOSPC, and the failed write keeps nothing. */
    uint32_t free_before;
    assert_int_equal(tern_fat_free_clusters(fs, &free_before), TERN_OK);
    static uint8_t big[4u << 20];
    assert_int_equal(tern_fat_open(fs, &f, "/big", TERN_FAT_WRITE | TERN_FAT_CREATE), TERN_OK);
    assert_int_equal(tern_fat_write(&f, big, sizeof(big)), TERN_ENOSPC);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
    uint32_t free_after;
    assert_int_equal(tern_fat_free_clusters(fs, &free_after), TERN_OK);
    assert_int_equal(free_after, free_before);
    /* The fixed FAT12 root fills up: ENOSPC. */
    int made = 0;
    tern_result r = TERN_OK;
    for (int i = 0; i < 600 && r == TERN_OK; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/F%d", i);
        r = tern_fat_mkdir(fs, p);
        made += r == TERN_OK;
    }
    assert_int_equal(r, TERN_ENOSPC);
    assert_true(made > 400);
    /* Read-only mount. */
    assert_int_equal(tern_fat_unmount(fs), TERN_OK);
    assert_int_equal(tern_fat_mount(fs, &g->dev, 0, g->ram.sectors, true), TERN_OK);
    assert_int_equal(tern_fat_open(fs, &f, "/x", TERN_FAT_WRITE), TERN_EROFS);
    assert_int_equal(tern_fat_mkdir(fs, "/y"), TERN_EROFS);
    assert_int_equal(tern_fat_unlink(fs, "/x"), TERN_EROFS);
    rig_free(g);
}

static void test_fat_aliases(void **state)
{
    (void)state;
    struct rig *g = fat_rig(512, 16u << 20, TERN_FAT16, 1);
    struct tern_fat *fs = &g->fs;
    struct tern_fat_stat st;
    char p[64];
    for (int i = 1; i <= 12; i++) {
        snprintf(p, sizeof(p), "/Long Name %d.text", i);
        put(fs, p, "x", 1);
    }
    assert_int_equal(tern_fat_stat(fs, "/long name 1.text", &st), TERN_OK);
    assert_string_equal(st.short_name, "LONGNA~1.TEX");
    assert_int_equal(tern_fat_stat(fs, "/long name 9.text", &st), TERN_OK);
    assert_string_equal(st.short_name, "LONGNA~9.TEX");
    assert_int_equal(tern_fat_stat(fs, "/long name 10.text", &st), TERN_OK);
    assert_string_equal(st.short_name, "LONGN~10.TEX");
    /* The short alias finds the file too. */
    assert_int_equal(tern_fat_stat(fs, "/LONGN~10.TEX", &st), TERN_OK);
    assert_string_equal(st.name, "Long Name 10.text");
    /* A freed alias number is reused. */
    assert_int_equal(tern_fat_unlink(fs, "/long name 2.text"), TERN_OK);
    put(fs, "/Long Name Again.text", "y", 1);
    assert_int_equal(tern_fat_stat(fs, "/long name again.text", &st), TERN_OK);
    assert_string_equal(st.short_name, "LONGNA~2.TEX");
    /* Plain 8.3 names: one entry, case kept through the NT flags. */
    put(fs, "/readme.md", "r", 1);
    assert_int_equal(tern_fat_stat(fs, "/README.MD", &st), TERN_OK);
    assert_string_equal(st.name, "readme.md");
    assert_string_equal(st.short_name, "readme.md");
    put(fs, "/.hidden", "h", 1);
    assert_int_equal(tern_fat_stat(fs, "/.HIDDEN", &st), TERN_OK);
    assert_string_equal(st.name, ".hidden");
    /* Non-ASCII survives as UTF-8. */
    put(fs, "/caf\xc3\xa9.txt", "c", 1);
    assert_int_equal(tern_fat_stat(fs, "/caf\xc3\xa9.txt", &st), TERN_OK);
    assert_string_equal(st.name, "caf\xc3\xa9.txt");
    assert_string_equal(st.short_name, "CAF_~1.TXT");
    /* A directory that grows past one cluster. */
    assert_int_equal(tern_fat_mkdir(fs, "/many"), TERN_OK);
    for (int i = 0; i < 200; i++) {
        snprintf(p, sizeof(p), "/many/a file with a long name %03d", i);
        put(fs, p, p, strlen(p));
    }
    uint8_t back[64];
    for (int i = 0; i < 200; i += 37) {
        snprintf(p, sizeof(p), "/many/A FILE WITH A LONG NAME %03d", i);
        size_t n = get(fs, p, back, sizeof(back));
        assert_int_equal(n, strlen(p));
    }
    rig_free(g);
}

/* More than 4095 long names with one alias basis in a directory: past
 * BASIS~4095 the alias basis becomes two characters and a hash (as
 * Windows does), so the 4096th and later names are placed, found by long
 * name and alias, and the volume passes its check. */
static void test_fat_alias_past_4095(void **state)
{
    (void)state;
    struct rig *g = fat_rig(512, 16u << 20, TERN_FAT16, 4);
    struct tern_fat *fs = &g->fs;
    assert_int_equal(tern_fat_mkdir(fs, "/same"), TERN_OK);
    char p[80];
    struct tern_fat_file f;
    for (int i = 1; i <= 4100; i++) {
        snprintf(p, sizeof(p), "/same/shared prefix %d.html", i);
        assert_int_equal(tern_fat_open(fs, &f, p, TERN_FAT_WRITE | TERN_FAT_CREATE |
                                                      TERN_FAT_EXCL), TERN_OK);
        assert_int_equal(tern_fat_close(&f), TERN_OK);
    }
    struct tern_fat_stat st;
    assert_int_equal(tern_fat_stat(fs, "/same/shared prefix 4095.html", &st), TERN_OK);
    assert_string_equal(st.short_name, "SHA~4095.HTM");
    assert_int_equal(tern_fat_stat(fs, "/same/shared prefix 4096.html", &st), TERN_OK);
    assert_int_equal(strlen(st.short_name), 12);            /* SHxxxx~1.HTM */
    assert_memory_equal(st.short_name, "SH", 2);
    assert_memory_equal(st.short_name + 6, "~1.HTM", 6);
    char alias[20];
    snprintf(alias, sizeof(alias), "/same/%s", st.short_name);
    assert_int_equal(tern_fat_stat(fs, alias, &st), TERN_OK);
    assert_string_equal(st.name, "shared prefix 4096.html");
    size_t bl = (fs->clusters + 2 + 7) / 8;
    uint8_t *bm = test_malloc(bl);
    uint32_t lost = 9;
    assert_int_equal(tern_fat_check(fs, bm, bl, &lost), TERN_OK);
    assert_int_equal(lost, 0);
    test_free(bm);
    rig_free(g);
}

static void test_bpb_every_byte(void **state)
{
    (void)state;
    struct rig *g = fat_rig(512, 16u << 20, TERN_FAT16, 4);
    uint8_t sec[512];
    memcpy(sec, g->ram.mem, 512);
    struct tern_fat fs;
    memset(&fs, 0, sizeof(fs));
    assert_int_equal(tern_fat_parse_bpb(&fs, sec, 512, g->ram.sectors), TERN_OK);
    /* Any value of any BPB byte: OK or a clear EIO, never anything else. */
    for (int i = 0; i < 64; i++) {
        for (int v = 0; v < 256; v += 17) {
            uint8_t keep = sec[i];
            sec[i] = (uint8_t)v;
            memset(&fs, 0, sizeof(fs));
            tern_result r = tern_fat_parse_bpb(&fs, sec, 512, g->ram.sectors);
            assert_true(r == TERN_OK || (r == TERN_EIO && fs.reason != NULL));
            if (r == TERN_OK)
                assert_true(fs.clusters >= 1);
            sec[i] = keep;
        }
    }
    assert_int_equal(tern_fat_parse_bpb(&fs, sec, 256, g->ram.sectors), TERN_EIO);
    rig_free(g);
}

static void test_fat_lfn_checksum_and_orphans(void **state)
{
    (void)state;
    struct rig *g = fat_rig(512, 16u << 20, TERN_FAT16, 4);
    struct tern_fat *fs = &g->fs;
    put(fs, "/A Long Name.txt", "x", 1);          /* entries 1-2: LFN, 3: short */
    put(fs, "/Second Long Name.txt", "y", 1);     /* entries 4-5: LFN, 6: short */
    assert_int_equal(tern_fat_unmount(fs), TERN_OK);
    uint8_t *root = g->ram.mem + g->fs.root_lba * 512;
    assert_int_equal(root[32 + 11], 0x0f);
    assert_int_equal(root[32 * 3 + 11], 0x20);
    /* A wrong checksum in both LFN slots: the long name is not trusted. */
    root[32 + 13]++;
    root[64 + 13]++;
    /* An orphan: the second file's first LFN slot is deleted. */
    root[32 * 4] = 0xe5;
    tern_bdev_drop_cache(&g->dev);
    assert_int_equal(tern_fat_mount(fs, &g->dev, 0, g->ram.sectors, false), TERN_OK);
    struct tern_fat_stat st;
    assert_int_equal(tern_fat_stat(fs, "/a long name.txt", &st), TERN_ENOENT);
    assert_int_equal(tern_fat_stat(fs, "/ALONGN~1.TXT", &st), TERN_OK);
    assert_string_equal(st.name, "ALONGN~1.TXT");
    assert_int_equal(tern_fat_stat(fs, "/second long name.txt", &st), TERN_ENOENT);
    assert_int_equal(tern_fat_stat(fs, "/SECOND~1.TXT", &st), TERN_OK);
    assert_true(fs->stats.bad_lfn >= 2);
    rig_free(g);
}

static const char *hook_reason;
static int hook_calls;

static void hook(void *arg, const char *reason)
{
    (void)arg;
    hook_reason = reason;
    hook_calls++;
}

static void test_fat_corruption_hook(void **state)
{
    (void)state;
    struct rig *g = fat_rig(512, 16u << 20, TERN_FAT16, 1);
    struct tern_fat *fs = &g->fs;
    static uint8_t data[1500];
    put(fs, "/three.bin", data, sizeof(data));      /* 3 clusters of 512 */
    struct tern_fat_stat st;
    assert_int_equal(tern_fat_stat(fs, "/three.bin", &st), TERN_OK);
    uint32_t c = st.first_cluster;
    assert_int_equal(tern_fat_unmount(fs), TERN_OK);
    /* The last cluster points back to the first: a loop. */
    uint8_t *fat = g->ram.mem + g->fs.fat_lba * 512;
    fat[(c + 2) * 2] = (uint8_t)c;
    fat[(c + 2) * 2 + 1] = (uint8_t)(c >> 8);
    tern_bdev_drop_cache(&g->dev);
    assert_int_equal(tern_fat_mount(fs, &g->dev, 0, g->ram.sectors, false), TERN_OK);
    fs->on_corrupt = hook;
    hook_calls = 0;
    struct tern_fat_file f;
    assert_int_equal(tern_fat_open(fs, &f, "/three.bin", TERN_FAT_READ), TERN_EIO);
    assert_string_equal(fs->reason, "chain-loop");
    assert_int_equal(hook_calls, 1);
    assert_string_equal(hook_reason, "chain-loop");
    assert_int_equal(fs->stats.corrupt, 1);
    /* Deleting it is refused the same way, and nothing hangs. */
    assert_int_equal(tern_fat_unlink(fs, "/three.bin"), TERN_EIO);
    assert_int_equal(hook_calls, 2);
    rig_free(g);
}

/* ---- sizing directories before writing them (tern-mkimage) ---- */

/* Name k of a seeded mix: plain 8.3 names (one entry), long names of 9
 * to 255 bytes (some with 2-byte UTF-8), unique by their leading index. */
static void plan_name(uint32_t *seed, unsigned k, char *out)
{
    *seed = *seed * 1103515245u + 12345u;
    unsigned kind = (*seed >> 16) % 5, len = 9 + (*seed >> 8) % 247;
    if (kind == 0) {
        sprintf(out, "f%u.txt", k);                      /* 8.3, lower case */
        return;
    }
    if (kind == 1) {
        sprintf(out, "F%u", k);                          /* 8.3, upper case */
        return;
    }
    int n = sprintf(out, "%u-", k);
    while ((unsigned)n < len) {
        if (kind == 2 && (unsigned)n + 2 <= len) {
            out[n++] = (char)0xc3;                       /* U+00E9 */
            out[n++] = (char)0xa9;
        } else {
            out[n] = (char)('a' + ((unsigned)n * 7 + k) % 26);
            n++;
        }
    }
    out[n] = '\0';
}

/* The entries a directory ends at, read from its raw sectors. */
static uint32_t raw_root_end(struct rig *g)
{
    const uint8_t *root = g->ram.mem + (g->fs.base + g->fs.root_lba) * g->ram.ss;
    uint32_t end = 0;
    for (uint32_t i = 0; i < g->fs.root_entries; i++)
        if (root[i * 32] != 0)
            end = i + 1;
    return end;
}

static void dir_plan_case(uint32_t ss, uint64_t bytes, uint32_t seed0)
{
    /* The root: planned names fill a root of exactly the planned size,
     * entry for entry; the name the plan says overflows it is refused. */
    struct tern_fat_dir_plan *plan = test_malloc(sizeof(*plan));
    tern_fat_dir_plan_init(plan, ss, 1);
    uint32_t seed = seed0;
    char name[300];
    for (unsigned k = 0; k < 300; k++) {
        plan_name(&seed, k, name);
        assert_int_equal(tern_fat_dir_plan_add(plan, name, strlen(name)), TERN_OK);
    }
    uint32_t planned = plan->entries;
    struct rig *g = rig_new(ss, bytes, 32);
    struct tern_fat_format_opts o = { .type = TERN_FAT16, .label = "PLAN",
                                      .root_entries = planned };
    assert_int_equal(tern_fat_format(&g->dev, 0, g->ram.sectors, &o), TERN_OK);
    assert_int_equal(tern_fat_mount(&g->fs, &g->dev, 0, g->ram.sectors, false), TERN_OK);
    uint32_t eps = ss / 32;
    assert_int_equal(g->fs.root_entries, (planned + eps - 1) / eps * eps);
    seed = seed0;
    struct tern_fat_file f;
    for (unsigned k = 0; k < 300; k++) {
        char path[310];
        plan_name(&seed, k, name);
        sprintf(path, "/%s", name);
        assert_int_equal(tern_fat_open(&g->fs, &f, path, TERN_FAT_WRITE | TERN_FAT_CREATE |
                                                             TERN_FAT_EXCL), TERN_OK);
        assert_int_equal(tern_fat_close(&f), TERN_OK);
    }
    assert_int_equal(tern_fat_sync(&g->fs), TERN_OK);
    assert_int_equal(raw_root_end(g), planned);
    /* Go on until the root is full: the plan says when. */
    for (unsigned k = 300;; k++) {
        char path[310];
        plan_name(&seed, k, name);
        sprintf(path, "/%s", name);
        assert_int_equal(tern_fat_dir_plan_add(plan, name, strlen(name)), TERN_OK);
        bool fits = plan->entries <= g->fs.root_entries;
        tern_result r = tern_fat_open(&g->fs, &f, path, TERN_FAT_WRITE | TERN_FAT_CREATE);
        if (!fits) {
            assert_int_equal(r, TERN_ENOSPC);
            break;
        }
        assert_int_equal(r, TERN_OK);
        assert_int_equal(tern_fat_close(&f), TERN_OK);
    }
    assert_int_equal(tern_fat_unmount(&g->fs), TERN_OK);
    rig_free(g);

    /* A subdirectory on one-sector clusters: the clusters it takes are
     * the planned entries' (the files are empty: no clusters of their own). */
    g = rig_new(ss, bytes, 32);
    struct tern_fat_format_opts o2 = { .type = TERN_FAT16, .spc = 1, .label = "PLAN" };
    assert_int_equal(tern_fat_format(&g->dev, 0, g->ram.sectors, &o2), TERN_OK);
    assert_int_equal(tern_fat_mount(&g->fs, &g->dev, 0, g->ram.sectors, false), TERN_OK);
    uint32_t before, after;
    assert_int_equal(tern_fat_free_clusters(&g->fs, &before), TERN_OK);
    assert_int_equal(tern_fat_mkdir(&g->fs, "/sub"), TERN_OK);
    tern_fat_dir_plan_init(plan, ss, 2);
    seed = seed0 ^ 0x5a5a;
    for (unsigned k = 0; k < 400; k++) {
        char path[320];
        plan_name(&seed, k, name);
        sprintf(path, "/sub/%s", name);
        assert_int_equal(tern_fat_dir_plan_add(plan, name, strlen(name)), TERN_OK);
        assert_int_equal(tern_fat_open(&g->fs, &f, path, TERN_FAT_WRITE | TERN_FAT_CREATE),
                         TERN_OK);
        assert_int_equal(tern_fat_close(&f), TERN_OK);
    }
    assert_int_equal(tern_fat_free_clusters(&g->fs, &after), TERN_OK);
    assert_int_equal(before - after, (plan->entries + eps - 1) / eps);
    assert_int_equal(tern_fat_unmount(&g->fs), TERN_OK);
    rig_free(g);
    test_free(plan);
}

static void test_dir_plan_matches_writes(void **state)
{
    (void)state;
    for (uint32_t seed = 1; seed <= 3; seed++)
        dir_plan_case(512, 16u << 20, seed);
    dir_plan_case(4096, 80u << 20, 9);
}

static void test_dir_plan_refusals_and_format_plan(void **state)
{
    (void)state;
    struct tern_fat_dir_plan *plan = test_malloc(sizeof(*plan));
    tern_fat_dir_plan_init(plan, 512, 1);
    assert_int_equal(tern_fat_dir_plan_add(plan, "what?.txt", 9), TERN_EINVAL);
    assert_int_equal(tern_fat_dir_plan_add(plan, "..", 2), TERN_EINVAL);
    assert_int_equal(plan->entries, 1);
    /* 5461 names of 13 units take 2 entries each: 10923 entries; long
     * ones overflow a directory's 65536 and say by how much */
    tern_result r = TERN_OK;
    char name[64];
    unsigned k;
    for (k = 0; r == TERN_OK; k++) {
        int n = sprintf(name, "%u-long-name-of-many-units-xxxxxxxxxxxxxxx", k);
        r = tern_fat_dir_plan_add(plan, name, (size_t)n);
    }
    assert_int_equal(r, TERN_ENOSPC);
    assert_true(plan->entries > TERN_FAT_DIR_ENTRIES_MAX);
    test_free(plan);

    assert_int_equal(tern_fat_root_entries_max(512), 65520);
    assert_int_equal(tern_fat_root_entries_max(4096), 65408);
    struct tern_fat_geometry geo;
    struct tern_fat_format_opts o = { .root_entries = 4000 };
    assert_int_equal(tern_fat_format_plan(512, 32u << 11, &o, &geo), TERN_OK);
    assert_int_equal(geo.type, TERN_FAT16);
    assert_int_equal(geo.root_entries, 4000);             /* 250 sectors */
    o.root_entries = 4001;
    assert_int_equal(tern_fat_format_plan(512, 32u << 11, &o, &geo), TERN_OK);
    assert_int_equal(geo.root_entries, 4016);             /* rounded up to a sector */
    o.root_entries = 65521;
    assert_int_equal(tern_fat_format_plan(512, 32u << 11, &o, &geo), TERN_EINVAL);
    o.root_entries = 65520;                               /* 2 MiB of root in 1 MiB */
    assert_int_equal(tern_fat_format_plan(512, 1u << 11, &o, &geo), TERN_ENOSPC);
    o.root_entries = 0;
    assert_int_equal(tern_fat_format_plan(512, 1u << 11, &o, &geo), TERN_OK);
    assert_int_equal(geo.root_entries, 512);
    o.type = TERN_FAT32;
    assert_int_equal(tern_fat_format_plan(512, tern_fat32_min_sectors(512), &o, &geo), TERN_OK);
    assert_int_equal(geo.type, TERN_FAT32);
    assert_int_equal(geo.root_entries, 0);
    assert_int_equal(geo.clusters, 65525);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bdev_init_refuses),
        cmocka_unit_test(test_bdev_write_back_and_order),
        cmocka_unit_test(test_bdev_read_ahead),
        cmocka_unit_test(test_bdev_read_ahead_disk_cache),
        cmocka_unit_test(test_bdev_cold_read_ahead),
        cmocka_unit_test(test_crc32_and_guid),
        cmocka_unit_test(test_gpt_512),
        cmocka_unit_test(test_gpt_4096),
        cmocka_unit_test(test_gpt_header_every_byte_flipped),
        cmocka_unit_test(test_fat12),
        cmocka_unit_test(test_fat16),
        cmocka_unit_test(test_fat32),
        cmocka_unit_test(test_fat32_4096),
        cmocka_unit_test(test_fat_errors),
        cmocka_unit_test(test_fat_rename_replace),
        cmocka_unit_test(test_fat_file_lba),
        cmocka_unit_test(test_fat_aliases),
        cmocka_unit_test(test_fat_alias_past_4095),
        cmocka_unit_test(test_bpb_every_byte),
        cmocka_unit_test(test_fat_lfn_checksum_and_orphans),
        cmocka_unit_test(test_fat_corruption_hook),
        cmocka_unit_test(test_http_fat_handles_busy),
        cmocka_unit_test(test_dir_plan_matches_writes),
        cmocka_unit_test(test_dir_plan_refusals_and_format_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
