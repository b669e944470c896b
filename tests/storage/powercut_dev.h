/*
 * Interface: the power-cut device and referee shared by the power-cut
 * tests (tests/storage/powercut.c, tests/update/powercut_update.c).
 *
 * struct simdev is a 512-byte-sector image in memory that counts every
 * sector write and flush and can lose power three ways:
 *   - cut_after = k: writes 0..k-1 persist, later ones vanish (an ordered
 *     device; with torn_bytes > 0, write k itself persists only its first
 *     torn_bytes bytes: a torn sector);
 *   - cut_epoch = e: a volatile write cache: writes before flush e
 *     persist, a seeded random subset of those between flush e and e+1
 *     persists, later ones vanish;
 *   - neither (both UINT64_MAX): nothing is lost.
 * Sectors written in a run are listed in touched[] so a test can copy
 * them to an image file and back. powercut_fsck() runs the real
 * `fsck.fat -n` and allows only what an interrupted FAT update may leave
 * (docs/storage.md): lost clusters, a second FAT lagging the first, and
 * FAT32's FSInfo free count left "unknown".
 */
#ifndef TERN_TESTS_POWERCUT_DEV_H
#define TERN_TESTS_POWERCUT_DEV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/blockdev.h"

#define SS 512

struct simdev {
    uint8_t *img;
    uint64_t sectors;
    uint64_t written;          /* sector writes so far */
    uint64_t cut_after;        /* UINT64_MAX: never */
    uint32_t torn_bytes;       /* with cut_after: bytes of write cut_after that persist */
    /* Second mode, a device with a volatile write cache: writes before
     * flush number cut_epoch persist, any subset (seeded) of the writes
     * between that flush and the next persists, later ones vanish. */
    uint64_t flushes;
    uint64_t cut_epoch;        /* UINT64_MAX: mode off */
    uint32_t rng;
    uint64_t *touched;         /* LBAs written in this run (for restore) */
    size_t ntouched, cap;
    /* Sector writes and flushes at a point the workload marks. */
    uint64_t mark_written, mark_flushes;
};

static tern_result sim_read(void *ctx, uint64_t lba, void *buf, uint32_t count)
{
    struct simdev *d = ctx;
    if (lba + count > d->sectors)
        return TERN_EINVAL;
    memcpy(buf, d->img + lba * SS, (size_t)count * SS);
    return TERN_OK;
}

/* Whether the write numbered n (0-based) reaches the medium, and how many
 * of its bytes. */
static size_t sim_persists(struct simdev *d, uint64_t n)
{
    if (n > d->cut_after || (n == d->cut_after && d->torn_bytes == 0))
        return 0;                          /* the power is gone */
    if (n == d->cut_after)
        return d->torn_bytes;
    if (d->cut_epoch != UINT64_MAX) {
        if (d->flushes > d->cut_epoch)
            return 0;
        if (d->flushes == d->cut_epoch) {
            d->rng ^= d->rng << 13;
            d->rng ^= d->rng >> 17;
            d->rng ^= d->rng << 5;
            if (d->rng & 1)
                return 0;                  /* this one stayed in the cache */
        }
    }
    return SS;
}

static tern_result sim_write(void *ctx, uint64_t lba, const void *buf, uint32_t count)
{
    struct simdev *d = ctx;
    if (lba + count > d->sectors)
        return TERN_EINVAL;
    for (uint32_t i = 0; i < count; i++) {
        size_t n = sim_persists(d, d->written++);
        if (n == 0)
            continue;
        memcpy(d->img + (lba + i) * SS, (const uint8_t *)buf + (size_t)i * SS, n);
        if (d->ntouched == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 1024;
            d->touched = realloc(d->touched, d->cap * sizeof(uint64_t));
        }
        d->touched[d->ntouched++] = lba + i;
    }
    return TERN_OK;
}

static tern_result sim_flush(void *ctx)
{
    ((struct simdev *)ctx)->flushes++;
    return TERN_OK;
}

static const struct tern_bdev_ops sim_ops = { sim_read, sim_write, sim_flush };

/* fsck.fat -n on path: 0 when its findings are all allowed; else 1 with
 * the first finding in why ("case K: ..."). */
static int powercut_fsck(const char *path, uint64_t k, char *why, size_t whylen)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "fsck.fat -n '%s' 2>&1", path);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    char line[512];
    int bad = 0;
    why[0] = '\0';
    while (fgets(line, sizeof(line), p)) {
        char *l = line + strspn(line, " \t");
        if (*l == '\n' || *l == '\0')
            continue;
        if (strncmp(line, "fsck.fat ", 9) == 0 || strstr(line, " files, ") ||
            strncmp(line, "Reclaimed ", 10) == 0 ||
            strncmp(line, "Leaving filesystem unchanged", 28) == 0 ||
            strncmp(line, "FATs differ but appear to be intact", 35) == 0 ||
            strncmp(l, "Using first FAT", 15) == 0 ||
            strncmp(line, "Free cluster summary uninitialized", 34) == 0)
            continue;
        if (!bad)
            snprintf(why, whylen, "case %llu: %s", (unsigned long long)k, line);
        bad = 1;
    }
    pclose(p);
    return bad;
}

#endif
