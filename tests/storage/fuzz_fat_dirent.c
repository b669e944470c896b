/*
 * libFuzzer: directory entries. A valid FAT16 volume is made once; each
 * input replaces the start of its root directory (up to 512 entries) and
 * of one subdirectory cluster. Listing, lookups (long and 8.3 names, case
 * folding), opening and reading, alias generation and entry removal must
 * end in OK or a clear error. After each input the image is put back
 * (the bytes the input replaced and every sector written, tracked by
 * fuzz_ram), not copied whole: 4 MiB per input was most of the time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ram.h"
#include "tern/fat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { SECTORS = 8192 };       /* 4 MiB: FAT16 with 512-byte clusters */
static uint8_t base[SECTORS * 512];
static uint8_t mem[SECTORS * 512];
static uint8_t cache[64 * 1024];
static uint8_t dirty[SECTORS];  /* sectors the last input's writes touched */
static uint64_t root_off, sub_off;
static size_t sub_len;

static void setup(void)
{
    struct fuzz_ram ram = { base, SECTORS, NULL };
    struct tern_bdev dev;
    static struct tern_fat fs;
    struct tern_fat_format_opts o = { .type = TERN_FAT16, .spc = 1, .label = "FUZZ" };
    if (tern_bdev_init(&dev, &fuzz_ram_ops, &ram, 512, SECTORS, false, cache, sizeof(cache), 16) !=
            TERN_OK ||
        tern_fat_format(&dev, 0, SECTORS, &o) != TERN_OK ||
        tern_fat_mount(&fs, &dev, 0, SECTORS, false) != TERN_OK ||
        tern_fat_mkdir(&fs, "/sub") != TERN_OK)
        abort();
    struct tern_fat_file f;
    if (tern_fat_open(&fs, &f, "/sub/file.txt", TERN_FAT_WRITE | TERN_FAT_CREATE) != TERN_OK ||
        tern_fat_write(&f, "hello", 5) != TERN_OK || tern_fat_close(&f) != TERN_OK)
        abort();
    struct tern_fat_stat st;
    if (tern_fat_stat(&fs, "/sub", &st) != TERN_OK)
        abort();
    root_off = fs.root_lba * 512;
    sub_off = (fs.data_lba + (uint64_t)(st.first_cluster - 2) * fs.spc) * 512 + 64;
    sub_len = fs.cluster_bytes - 64;     /* keep "." and ".." */
    tern_fat_unmount(&fs);
}

/* Lists both directories, stats every name, reads the file, writes a little. */
static void exercise(struct tern_fat *fs)
{
    struct tern_fat_dir d;
    struct tern_fat_stat st;
    static const char *const dirs[2] = { "/", "/sub" };
    for (int k = 0; k < 2; k++) {
        if (tern_fat_opendir(fs, &d, dirs[k]) != TERN_OK)
            continue;
        int budget = 600;
        while (budget-- > 0 && tern_fat_readdir(&d, &st) == TERN_OK) {
            if (strlen(st.name) > TERN_FAT_NAME_MAX || strlen(st.short_name) > 12)
                abort();
            struct tern_fat_stat st2;
            (void)tern_fat_stat(fs, st.short_name, &st2);
        }
    }
    uint8_t buf[64];
    size_t got;
    struct tern_fat_file f;
    if (tern_fat_open(fs, &f, "/sub/FILE.TXT", TERN_FAT_READ) == TERN_OK) {
        (void)tern_fat_read(&f, buf, sizeof(buf), &got);
        tern_fat_close(&f);
    }
    (void)tern_fat_mkdir(fs, "/A Long Directory Name");
    (void)tern_fat_unlink(fs, "/sub/file.txt");
}

/* Puts mem back to base: the input's bytes and every sector written. */
static void restore(size_t root_len, size_t sub_extra)
{
    memcpy(mem + root_off, base + root_off, root_len);
    if (sub_extra > 0)
        memcpy(mem + sub_off, base + sub_off, sub_extra < sub_len ? sub_extra : sub_len);
    for (size_t lba = 0; lba < SECTORS; lba++) {
        if (dirty[lba]) {
            memcpy(mem + lba * 512, base + lba * 512, 512);
            dirty[lba] = 0;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        memcpy(mem, base, sizeof(mem));
        ready = 1;
    }
    size_t n = size < 512 * 32 ? size : 512 * 32;
    memcpy(mem + root_off, data, n);
    if (size > n)
        memcpy(mem + sub_off, data + n, size - n < sub_len ? size - n : sub_len);
    struct fuzz_ram ram = { mem, SECTORS, dirty };
    struct tern_bdev dev;
    static struct tern_fat fs;
    if (tern_bdev_init(&dev, &fuzz_ram_ops, &ram, 512, SECTORS, false, cache, sizeof(cache), 16) !=
            TERN_OK ||
        tern_fat_mount(&fs, &dev, 0, SECTORS, false) != TERN_OK)
        abort();
    exercise(&fs);
    restore(n, size > n ? size - n : 0);
    return 0;
}
