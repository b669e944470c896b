/*
 * libFuzzer: a whole small FAT image (up to 512 KiB, 512-byte sectors).
 * Mounts it, runs the whole-volume check, walks every directory (bounded
 * depth), opens and reads every file, then tries writes (create, write,
 * mkdir, rename, unlink) on the corrupt volume. Everything must end in OK
 * or a clear error: no crash, hang or out-of-bounds access.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ram.h"
#include "tern/fat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[4096];
static unsigned budget;

static void walk(struct tern_fat *fs, const char *dir, int depth)
{
    struct tern_fat_dir d;
    struct tern_fat_stat st;
    if (depth > 6 || tern_fat_opendir(fs, &d, dir) != TERN_OK)
        return;
    while (budget > 0 && tern_fat_readdir(&d, &st) == TERN_OK) {
        budget--;
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", dir, st.name);
        struct tern_fat_dir saved = d;
        if (st.is_dir) {
            walk(fs, path, depth + 1);
        } else {
            struct tern_fat_file f;
            if (tern_fat_open(fs, &f, path, TERN_FAT_READ) == TERN_OK) {
                size_t got;
                while (budget > 0 && tern_fat_read(&f, buf, sizeof(buf), &got) == TERN_OK &&
                       got > 0)
                    budget--;
                tern_fat_close(&f);
            }
        }
        d = saved;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { MAX = 512 * 1024 };
    if (size < 512 || size > MAX)
        return 0;
    size_t sectors = size / 512;
    uint8_t *mem = malloc(sectors * 512);
    memcpy(mem, data, sectors * 512);
    static uint8_t cache[64 * 1024];
    struct fuzz_ram ram = { mem, sectors, NULL };
    struct tern_bdev dev;
    if (tern_bdev_init(&dev, &fuzz_ram_ops, &ram, 512, sectors, false, cache, sizeof(cache), 16) !=
        TERN_OK)
        abort();
    static struct tern_fat fs;
    if (tern_fat_mount(&fs, &dev, 0, sectors, false) == TERN_OK) {
        static uint8_t bitmap[1 << 17];
        uint32_t lost;
        (void)tern_fat_check(&fs, bitmap, sizeof(bitmap), &lost);
        budget = 2000;
        walk(&fs, "", 0);
        struct tern_fat_file f;
        if (tern_fat_open(&fs, &f, "/new file.txt", TERN_FAT_WRITE | TERN_FAT_CREATE) == TERN_OK) {
            memset(buf, 'x', sizeof(buf));
            (void)tern_fat_write(&f, buf, sizeof(buf));
            (void)tern_fat_close(&f);
        }
        (void)tern_fat_mkdir(&fs, "/NEWDIR");
        (void)tern_fat_rename(&fs, "/new file.txt", "/NEWDIR/renamed");
        (void)tern_fat_unlink(&fs, "/NEWDIR/renamed");
        (void)tern_fat_unmount(&fs);
    } else if (fs.reason == NULL) {
        abort();
    }
    free(mem);
    return 0;
}
