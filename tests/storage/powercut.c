/*
 * The power-cut test. A scripted workload (create, write, mkdir, rename,
 * unlink, overwrite, truncate) runs on a simulated block device that
 * records every sector written. First it runs whole to count the writes
 * (N); then, for every k in 0..N, it runs again on a fresh copy of the
 * volume with the device losing power after k sector writes (later writes
 * vanish, the cache is lost); then, modelling a device with a volatile
 * write cache, for every flush interval e and 4 seeds: all writes before
 * flush e persist, a random subset of those between flush e and e+1
 * persists, none later. Each result is judged by the real
 * `fsck.fat -n`: the only findings allowed are lost clusters ("Reclaimed
 * N unused clusters") and a second FAT copy that lags the first ("FATs
 * differ but appear to be intact") and, on FAT32, the FSInfo free count
 * left at the spec's "unknown" value (0xFFFFFFFF, which Tern writes before
 * the first change after a mount or sync; fsck.fat says "Free cluster
 * summary uninitialized"); and Tern must mount it, pass
 * tern_fat_check, and read the untouched file byte-exact.
 *
 *   powercut BASE.img SCRATCH.img
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "powercut_dev.h"
#include "tern/fat.h"

static uint8_t cache[64 * 1024];

static int put_file(struct tern_fat *fs, const char *path, size_t len, unsigned seed)
{
    struct tern_fat_file f;
    if (tern_fat_open(fs, &f, path, TERN_FAT_WRITE | TERN_FAT_CREATE | TERN_FAT_TRUNC) != TERN_OK)
        return -1;
    uint8_t buf[1000];
    for (size_t done = 0; done < len;) {
        size_t k = len - done < sizeof(buf) ? len - done : sizeof(buf);
        for (size_t i = 0; i < k; i++)
            buf[i] = (uint8_t)(seed + done + i * 7);
        if (tern_fat_write(&f, buf, k) != TERN_OK)
            return -1;
        done += k;
    }
    return tern_fat_close(&f) == TERN_OK ? 0 : -1;
}

/* The workload; returns 0 when every step reported success. */
static int workload(struct tern_fat *fs)
{
    int bad = 0;
    bad |= put_file(fs, "/a.txt", 3000, 1);
    bad |= tern_fat_mkdir(fs, "/dir") != TERN_OK;
    bad |= put_file(fs, "/dir/A Long Name For A File.bin", 20000, 2);
    bad |= tern_fat_rename(fs, "/a.txt", "/dir/renamed.txt") != TERN_OK;
    bad |= tern_fat_unlink(fs, "/dir/A Long Name For A File.bin") != TERN_OK;
    bad |= tern_fat_mkdir(fs, "/dir/sub") != TERN_OK;
    bad |= put_file(fs, "/dir/sub/x.dat", 5000, 3);
    bad |= tern_fat_rename(fs, "/dir/sub", "/moved sub") != TERN_OK;
    /* Overwrite in place, then truncate to zero. */
    struct tern_fat_file f;
    bad |= tern_fat_open(fs, &f, "/pre.bin", TERN_FAT_WRITE) != TERN_OK;
    bad |= tern_fat_write(&f, "overwritten", 11) != TERN_OK;
    bad |= tern_fat_close(&f) != TERN_OK;
    bad |= tern_fat_open(fs, &f, "/pre2.bin", TERN_FAT_WRITE | TERN_FAT_TRUNC) != TERN_OK;
    bad |= tern_fat_close(&f) != TERN_OK;
    bad |= put_file(fs, "/last file with a long name.txt", 700, 4);
    /* The first change after a sync orphans clusters (an unlink): on
     * FAT32 the FSInfo count must be "unknown" before the entry goes. */
    bad |= tern_fat_sync(fs) != TERN_OK;
    bad |= tern_fat_unlink(fs, "/last file with a long name.txt") != TERN_OK;
    /* Replace a file (write a temporary, rename it over the target). */
    bad |= put_file(fs, "/target.txt", 2500, 5);
    struct simdev *d = fs->dev->ctx;
    d->mark_written = d->written;
    d->mark_flushes = d->flushes;
    bad |= put_file(fs, "/new.tmp", 1200, 6);
    bad |= tern_fat_rename_replace(fs, "/new.tmp", "/target.txt") != TERN_OK;
    bad |= tern_fat_unmount(fs) != TERN_OK;
    return bad ? -1 : 0;
}

/* The bytes put_file(len, seed) writes. */
static void expected(uint8_t *out, size_t len, unsigned seed)
{
    for (size_t done = 0; done < len;) {
        size_t k = len - done < 1000 ? len - done : 1000;
        for (size_t i = 0; i < k; i++)
            out[done + i] = (uint8_t)(seed + done + i * 7);
        done += k;
    }
}

/* /target.txt on the cut volume: 0 when it holds the old (2500 bytes,
 * seed 5) or the new (1200, seed 6) contents, or is absent when the cut
 * came before it was durable (must_exist false). */
static int judge_target(struct tern_fat *fs, bool must_exist)
{
    static uint8_t got[4096], old[2500], new[1200];
    struct tern_fat_file f;
    size_t gl = 0;
    tern_result r = tern_fat_open(fs, &f, "/target.txt", TERN_FAT_READ);
    if (r == TERN_ENOENT && !must_exist)
        return 0;
    if (r != TERN_OK || tern_fat_read(&f, got, sizeof(got), &gl) != TERN_OK)
        return 1;
    tern_fat_close(&f);
    if (!must_exist)
        return 0;
    expected(old, sizeof(old), 5);
    expected(new, sizeof(new), 6);
    return !((gl == sizeof(old) && memcmp(got, old, gl) == 0) ||
             (gl == sizeof(new) && memcmp(got, new, gl) == 0));
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: powercut BASE.img SCRATCH.img\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (in == NULL)
        return 2;
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    uint8_t *base = malloc((size_t)size), *img = malloc((size_t)size);
    if (fread(base, 1, (size_t)size, in) != (size_t)size)
        return 2;
    fclose(in);
    struct simdev sd = { .img = img, .sectors = (uint64_t)size / SS, .cut_after = UINT64_MAX,
                         .cut_epoch = UINT64_MAX };
    struct tern_bdev dev;
    struct tern_fat fs;
    uint32_t nslots = 16;

    /* The whole run: counts writes and must succeed. */
    memcpy(img, base, (size_t)size);
    tern_bdev_init(&dev, &sim_ops, &sd, SS, sd.sectors, false, cache, sizeof(cache), nslots);
    if (tern_fat_mount(&fs, &dev, 0, sd.sectors, false) != TERN_OK || workload(&fs) != 0) {
        fprintf(stderr, "FAIL: the uncut workload failed (%s)\n", fs.reason ? fs.reason : "-");
        free(base);
        free(img);
        free(sd.touched);
        return 1;
    }
    uint64_t n = sd.written, epochs = sd.flushes;
    uint64_t mark_written = sd.mark_written, mark_flushes = sd.mark_flushes;
    printf("workload: %llu sector writes, %llu flushes\n", (unsigned long long)n,
           (unsigned long long)epochs);
    enum { SEEDS = 4 };

    FILE *out = fopen(argv[2], "w+b");
    if (out == NULL || fwrite(base, 1, (size_t)size, out) != (size_t)size)
        return 2;
    fflush(out);
    int fd = fileno(out);
    int failures = 0;
    uint64_t cases = n + 1 + (epochs + 1) * SEEDS;
    for (uint64_t k = 0; k < cases; k++) {
        memcpy(img, base, (size_t)size);
        sd.written = 0;
        sd.ntouched = 0;
        sd.flushes = 0;
        if (k <= n) {
            sd.cut_after = k;
            sd.cut_epoch = UINT64_MAX;
        } else {
            sd.cut_after = UINT64_MAX;
            sd.cut_epoch = (k - n - 1) / SEEDS;
            sd.rng = (uint32_t)(k * 2654435761u) | 1u;
        }
        tern_bdev_init(&dev, &sim_ops, &sd, SS, sd.sectors, false, cache, sizeof(cache), nslots);
        if (tern_fat_mount(&fs, &dev, 0, sd.sectors, false) != TERN_OK) {
            fprintf(stderr, "FAIL: mount before the workload\n");
            return 1;
        }
        (void)workload(&fs);     /* runs to its end; writes past k are lost */
        for (size_t i = 0; i < sd.ntouched; i++)
            if (pwrite(fd, img + sd.touched[i] * SS, SS, (off_t)(sd.touched[i] * SS)) != SS)
                return 2;
        char why[600];
        if (powercut_fsck(argv[2], k, why, sizeof(why)) != 0) {
            fprintf(stderr, "FAIL: %s", why);
            failures++;
        }
        /* Tern mounts what is left, checks it, and reads keep.bin. */
        sd.cut_after = UINT64_MAX;
        sd.cut_epoch = UINT64_MAX;
        tern_bdev_init(&dev, &sim_ops, &sd, SS, sd.sectors, true, cache, sizeof(cache), nslots);
        static uint8_t bitmap[1 << 16];
        struct tern_fat_file f;
        static uint8_t want[1 << 16], got[1 << 16];
        size_t wl = 0, gl = 0;
        if (tern_fat_mount(&fs, &dev, 0, sd.sectors, true) != TERN_OK ||
            tern_fat_check(&fs, bitmap, sizeof(bitmap), NULL) != TERN_OK ||
            tern_fat_open(&fs, &f, "/keep.bin", TERN_FAT_READ) != TERN_OK ||
            tern_fat_read(&f, got, sizeof(got), &gl) != TERN_OK) {
            fprintf(stderr, "FAIL: case %llu: Tern refuses the volume (%s)\n",
                    (unsigned long long)k, fs.reason ? fs.reason : "-");
            failures++;
        } else {
            FILE *kf = fopen("keep.bin", "rb");
            if (kf) {
                wl = fread(want, 1, sizeof(want), kf);
                fclose(kf);
            }
            if (wl != gl || memcmp(want, got, gl) != 0) {
                fprintf(stderr, "FAIL: case %llu: keep.bin changed\n",
                        (unsigned long long)k);
                failures++;
            }
            bool durable = k <= n ? k >= mark_written : (k - n - 1) / SEEDS >= mark_flushes;
            if (judge_target(&fs, durable) != 0) {
                fprintf(stderr, "FAIL: case %llu: /target.txt is neither old nor new\n",
                        (unsigned long long)k);
                failures++;
            }
        }
        /* Back to the base image. */
        for (size_t i = 0; i < sd.ntouched; i++)
            if (pwrite(fd, base + sd.touched[i] * SS, SS, (off_t)(sd.touched[i] * SS)) != SS)
                return 2;
        if (failures > 20)
            break;
    }
    fclose(out);
    free(base);
    free(img);
    free(sd.touched);
    if (failures) {
        fprintf(stderr, "FAIL: %d cut points gave a volume fsck.fat or Tern objects to\n",
                failures);
        return 1;
    }
    printf("PASS: %llu cut points and %llu volatile-cache cuts (%d random subsets of each of "
           "%llu flush intervals), each judged by fsck.fat -n and tern_fat_check\n",
           (unsigned long long)n + 1, (unsigned long long)(cases - n - 1), SEEDS,
           (unsigned long long)epochs + 1);
    return 0;
}
