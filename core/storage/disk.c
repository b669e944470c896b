/*
 * Interface: see include/tern/disk.h. Glue between the instance (heap,
 * log, markers) and the storage stack for the disks a backend offers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/disk.h"
#include "tern/fmt.h"

static tern_result fail(struct tern_disk *d, tern_result r, const char *reason)
{
    d->reason = reason;
    tern_log(d->os, TERN_LOG_ERROR, "disk", "disk %u: cannot mount: %s (%s)", d->idx, reason,
             tern_result_name(r));
    tern_marker(d->os, "TERN_DISK_ERROR", "disk=%u reason=%s", d->idx, reason);
    if (d->cache) {
        tern_free(d->os, d->cache);
        d->cache = NULL;
    }
    return r;
}

/* Corruption found after mount (a loop met by a read, ...) is logged. */
static void log_corrupt_data(void *arg, const char *reason)
{
    struct tern_disk_data *dd = arg;
    tern_log(dd->disk->os, TERN_LOG_ERROR, "disk",
             "disk %u: corrupt data volume (partition %u): %s (count %llu)", dd->disk->idx,
             dd->part, reason, (unsigned long long)dd->own.stats.corrupt);
}

static void log_corrupt(void *arg, const char *reason)
{
    struct tern_disk *d = arg;
    tern_log(d->os, TERN_LOG_ERROR, "disk", "disk %u: corrupt volume: %s (count %llu)", d->idx,
             reason, (unsigned long long)d->fs.stats.corrupt);
}

static bool try_volume(struct tern_disk *d, uint64_t first, uint64_t count)
{
    return tern_fat_mount(&d->fs, &d->dev, first, count, d->read_only) == TERN_OK;
}

/* The whole-volume check at mount, for the boot volume and the data
 * volume alike: it finds what lazy checks cannot (cross-linked clusters)
 * before anything is served. The bitmap comes from the heap; above 1 MiB
 * (8M clusters) the check is skipped with a warning. TERN_OK (passed or
 * skipped); TERN_EIO (corrupt: fs->reason); TERN_ENOMEM (no bitmap);
 * others: the check could not finish (fs->reason, e.g. tree-too-deep). */
static tern_result check_volume(struct tern_disk *d, struct tern_fat *fs, const char *what)
{
    size_t bl = ((size_t)fs->clusters + 2 + 7) / 8;
    if (bl > (1u << 20)) {
        tern_log(d->os, TERN_LOG_WARN, "disk", "disk %u: %s: volume check skipped (%zu-byte bitmap)",
                 d->idx, what, bl);
        return TERN_OK;
    }
    uint8_t *bitmap = tern_alloc(d->os, bl);
    if (bitmap == NULL)
        return TERN_ENOMEM;
    uint32_t lost = 0;   /* counted only where clusters will be allocated */
    tern_result r = tern_fat_check(fs, bitmap, bl, fs->read_only ? NULL : &lost);
    if (r == TERN_OK && lost > 0) {
        /* What an interrupted write left (a file's clusters allocated
         * before its directory entry, a replaced file's old ones): freed,
         * as fsck.fat would, so the volume is clean again. */
        uint32_t freed = 0;
        r = tern_fat_reclaim_lost(fs, bitmap, &freed);
        tern_log(d->os, TERN_LOG_WARN, "disk",
                 "disk %u: %s: %u lost clusters (allocated, in no file): %u reclaimed%s", d->idx,
                 what, lost, freed, r == TERN_OK ? "" : ", then the write failed");
    }
    tern_free(d->os, bitmap);
    return r;
}

tern_result tern_disk_mount(struct tern_os *os, unsigned idx, struct tern_disk *d)
{
    return tern_disk_mount_opts(os, idx, d, NULL);
}

tern_result tern_disk_mount_opts(struct tern_os *os, unsigned idx, struct tern_disk *d,
                                 const struct tern_disk_opts *opts)
{
    memset(d, 0, sizeof(*d));
    d->os = os;
    d->idx = idx;
    const struct tern_platform *plat = &os->plat;
    if (idx >= plat->ops->block_count(plat->ctx))
        return fail(d, TERN_ENOENT, "no-such-device");
    struct tern_block_info info;
    if (plat->ops->block_info == NULL || plat->ops->block_info(plat->ctx, idx, &info) != TERN_OK)
        return fail(d, TERN_ENOENT, "no-device-info");
    uint32_t slots = info.sector_size ? TERN_DISK_CACHE_BYTES / info.sector_size : 0;
    if (slots < TERN_DISK_CACHE_MIN_SLOTS)
        slots = TERN_DISK_CACHE_MIN_SLOTS;
    size_t bytes = tern_bdev_cache_bytes(info.sector_size, slots);
    d->cache = tern_alloc(os, bytes);
    if (d->cache == NULL)
        return fail(d, TERN_ENOMEM, "no-memory-for-cache");
    tern_result r = tern_bdev_open_platform(&d->dev, &d->pctx, plat, idx, d->cache, bytes, slots);
    if (r != TERN_OK)
        return fail(d, r, "bad-geometry");
    d->read_only = d->dev.read_only || (opts != NULL && opts->read_only);

    r = tern_gpt_read(&d->dev, &d->gpt);
    const char *gpt_state = "none";
    if (r == TERN_OK) {
        d->has_gpt = true;
        gpt_state = d->gpt.used_backup ? "backup" : "primary";
        if (d->gpt.used_backup)
            tern_log(os, TERN_LOG_WARN, "disk",
                     "disk %u: primary GPT is damaged (%s); using the backup", idx,
                     d->gpt.primary_reason);
        const struct tern_gpt_part *esp = tern_gpt_find_type(&d->gpt, &TERN_GPT_TYPE_ESP);
        if (esp) {
            /* The boot volume must be sound: no quiet fallback. */
            if (!try_volume(d, esp->first_lba, esp->last_lba - esp->first_lba + 1))
                return fail(d, TERN_EIO, d->fs.reason ? d->fs.reason : "bad-esp");
            d->part = esp->index + 1;
        } else {
            for (unsigned i = 0; i < d->gpt.count && d->part == 0; i++) {
                const struct tern_gpt_part *p = &d->gpt.parts[i];
                if (try_volume(d, p->first_lba, p->last_lba - p->first_lba + 1))
                    d->part = p->index + 1;
            }
        }
        if (d->part == 0)
            return fail(d, TERN_EIO, d->fs.reason ? d->fs.reason : "no-fat-partition");
    } else if (r == TERN_EIO && d->gpt.reason && strcmp(d->gpt.reason, "bad-signature") == 0) {
        /* No GPT at all: maybe a FAT volume on the whole disk. */
        if (!try_volume(d, 0, d->dev.sector_count))
            return fail(d, TERN_EIO, d->fs.reason ? d->fs.reason : "no-gpt-no-fat");
    } else {
        return fail(d, r, d->gpt.reason ? d->gpt.reason : "gpt-read-error");
    }
    /* The boot volume: only corruption refuses it (an incomplete check,
     * or no memory for one, is a warning). */
    r = check_volume(d, &d->fs, "boot volume");
    if (r == TERN_EIO)
        return fail(d, r, d->fs.reason ? d->fs.reason : "check-failed");
    if (r != TERN_OK)
        tern_log(os, TERN_LOG_WARN, "disk", "disk %u: volume check incomplete: %s", idx,
                 r == TERN_ENOMEM ? "no memory for its bitmap"
                 : d->fs.reason   ? d->fs.reason
                                  : tern_result_name(r));
    d->mounted = true;
    d->fs.on_corrupt = log_corrupt;
    d->fs.on_corrupt_arg = d;
    char label[12];
    size_t n = strlen(d->fs.label);
    memcpy(label, d->fs.label, n + 1);
    for (size_t i = 0; i < n; i++)
        if (label[i] == ' ' || label[i] == '=')
            label[i] = '_';
    tern_log(os, TERN_LOG_INFO, "disk",
             "disk %u: %llu sectors of %u bytes, FAT%d volume '%s', %u clusters of %u bytes",
             idx, (unsigned long long)d->dev.sector_count, d->dev.sector_size, d->fs.type,
             d->fs.label, d->fs.clusters, d->fs.cluster_bytes);
    tern_marker(os, "TERN_DISK_OK", "disk=%u parts=%u part=%u fs=fat%d label=%s sector=%u gpt=%s",
                idx, d->has_gpt ? d->gpt.count : 0, d->part, d->fs.type, label,
                d->dev.sector_size, gpt_state);
    return TERN_OK;
}

tern_result tern_disk_unmount(struct tern_disk *d)
{
    tern_result r = TERN_OK;
    if (d->mounted)
        r = tern_fat_unmount(&d->fs);
    d->mounted = false;
    if (d->cache) {
        tern_free(d->os, d->cache);
        d->cache = NULL;
    }
    return r;
}

/* ---- the data volume ---- */

static tern_result no_data(struct tern_disk_data *dd, tern_result r, const char *reason)
{
    struct tern_disk *d = dd->disk;
    dd->fs = NULL;
    dd->reason = reason;
    tern_log(d->os, TERN_LOG_ERROR, "disk", "disk %u: no data volume: %s (%s)", d->idx, reason,
             tern_result_name(r));
    return r;
}

static void data_found(struct tern_disk_data *dd, struct tern_fat *fs, unsigned part)
{
    struct tern_disk *d = dd->disk;
    dd->fs = fs;
    dd->part = part;
    tern_log(d->os, TERN_LOG_INFO, "disk",
             "disk %u: data volume: %s %u, FAT%d '%s', %u clusters of %u bytes%s", d->idx,
             part ? "partition" : "whole disk", part, fs->type, fs->label, fs->clusters,
             fs->cluster_bytes, fs->read_only ? ", read-only" : "");
}

/* Tries GPT partition p as the data volume: mount, then the whole-volume
 * check, which it must pass. TERN_OK with dd->own mounted; otherwise
 * dd->reason says why (logged as a warning). */
static tern_result try_data_partition(struct tern_disk_data *dd, const struct tern_gpt_part *p,
                                      bool read_only)
{
    struct tern_disk *d = dd->disk;
    char what[24];
    tern_snprintf(what, sizeof what, "partition %u", p->index + 1);
    tern_result r = tern_fat_mount(&dd->own, &d->dev, p->first_lba,
                                   p->last_lba - p->first_lba + 1, read_only);
    if (r != TERN_OK) {
        dd->reason = dd->own.reason ? dd->own.reason : "mount-failed";
        tern_log(d->os, TERN_LOG_WARN, "disk", "disk %u: %s: no FAT volume: %s", d->idx, what,
                 dd->reason);
        return r;
    }
    r = check_volume(d, &dd->own, what);
    if (r != TERN_OK) {
        dd->reason = r == TERN_ENOMEM ? "no-memory-for-check"
                     : dd->own.reason ? dd->own.reason
                                      : "check-failed";
        tern_log(d->os, TERN_LOG_WARN, "disk", "disk %u: %s fails its check: %s", d->idx, what,
                 dd->reason);
        (void)tern_fat_unmount(&dd->own);
        return r;
    }
    dd->own_mounted = true;
    dd->own.on_corrupt = log_corrupt_data;
    dd->own.on_corrupt_arg = dd;
    return TERN_OK;
}

static bool mounted_esp(const struct tern_disk *d)
{
    for (unsigned i = 0; d->has_gpt && d->part && i < d->gpt.count; i++) {
        const struct tern_gpt_part *p = &d->gpt.parts[i];
        if (p->index + 1 == d->part)
            return memcmp(&p->type, &TERN_GPT_TYPE_ESP, sizeof p->type) == 0;
    }
    return false;
}

tern_result tern_disk_mount_data(struct tern_disk *d, struct tern_disk_data *dd,
                                 const struct tern_disk_opts *opts)
{
    memset(dd, 0, sizeof(*dd));
    dd->disk = d;
    if (!d->mounted) {
        dd->reason = "disk-not-mounted";
        return TERN_EINVAL;
    }
    if (!mounted_esp(d)) {
        data_found(dd, &d->fs, d->part);     /* no ESP: the one volume serves */
        return TERN_OK;
    }
    bool read_only = d->dev.read_only || (opts != NULL && opts->read_only);
    tern_result r = TERN_ENOENT;
    dd->reason = "no-data-partition";
    for (unsigned i = 0; i < d->gpt.count; i++) {
        const struct tern_gpt_part *p = &d->gpt.parts[i];
        if (p->index + 1 == d->part)
            continue;
        r = try_data_partition(dd, p, read_only);
        if (r == TERN_OK) {
            data_found(dd, &dd->own, p->index + 1);
            return TERN_OK;
        }
        if (r != TERN_ENOMEM)
            r = TERN_EIO;
    }
    return no_data(dd, r, dd->reason);
}

tern_result tern_disk_unmount_data(struct tern_disk_data *dd)
{
    tern_result r = TERN_OK;
    if (dd->own_mounted)
        r = tern_fat_unmount(&dd->own);
    dd->own_mounted = false;
    dd->fs = NULL;
    return r;
}
