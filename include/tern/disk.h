/*
 * Interface: mounting a platform block device at boot. tern_disk_mount()
 * opens block device idx of the instance's platform with a write-back
 * cache from the instance heap, reads its GPT (or, without one, treats
 * the whole disk as one volume) and mounts one FAT volume: the EFI System
 * Partition when there is one (a corrupt ESP is an error, not skipped),
 * else the first partition holding a valid FAT volume. The mounted volume
 * is then walked whole (tern_fat_check, bitmap from the heap, skipped for
 * volumes of more than 8M clusters): corruption such as cross-linked
 * clusters makes the mount fail; lost clusters are only logged, and only
 * counted on a writable volume (tern_fat_check). It prints
 * exactly one marker per disk (docs/markers.md):
 *
 *   TERN_DISK_OK disk=<idx> parts=<GPT partitions, 0 without GPT>
 *                part=<1-based partition mounted, 0 for the whole disk>
 *                fs=<fat12|fat16|fat32> label=<volume label, spaces as _>
 *                sector=<512|4096> gpt=<primary|backup|none>
 *   TERN_DISK_ERROR disk=<idx> reason=<short-reason>
 *
 * and on error also an error log line. The OS keeps running either way.
 * The caller owns struct tern_disk and keeps it for as long as the volume
 * is used; tern_disk_unmount() syncs and returns the cache to the heap.
 *
 * tern_disk_mount_data() then finds what the disk serves, its data volume
 * (the one rule both backends use):
 *   - a disk whose mounted volume is the EFI System Partition (a Tern
 *     image): the first other GPT partition, in entry order, that holds a
 *     FAT volume passing the same whole-volume check; the ESP itself, which
 *     holds the loader and the TLS key, is never the data volume;
 *   - a disk without an ESP (no GPT: a FAT volume on the whole disk; or a
 *     GPT whose first FAT partition was mounted): the mounted volume.
 * Partitions refused on the way are logged (warn) with their reason; no
 * data volume at all is logged (error) with the reason kept in the
 * result. Unmount it with tern_disk_unmount_data() before the disk.
 */
#ifndef TERN_DISK_H
#define TERN_DISK_H

#include <stdbool.h>

#include "tern/blockdev.h"
#include "tern/fat.h"
#include "tern/gpt.h"
#include "tern/os.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

/* The sector cache of a mounted disk: 128 KiB (256 slots of 512 bytes,
 * 32 of 4096), at least 16 slots. Half of it is the longest sequential
 * read-ahead (blockdev.c), so the mount check reads a FAT in 64 KiB
 * device requests. */
#define TERN_DISK_CACHE_BYTES (128u * 1024u)
#define TERN_DISK_CACHE_MIN_SLOTS 16u

struct tern_disk {
    struct tern_os *os;
    unsigned idx;
    struct tern_bdev_platform pctx;
    struct tern_bdev dev;
    void *cache;               /* from the instance heap */
    struct tern_gpt gpt;
    bool has_gpt;
    unsigned part;             /* 1-based partition mounted; 0: whole disk */
    struct tern_fat fs;
    bool mounted;
    bool read_only;            /* the volume: the device's flag, or asked for */
    const char *reason;        /* why mounting failed */
};

struct tern_disk_opts {
    bool read_only;            /* mount the volume read-only on a writable device */
};

/* Mounts disk idx (see above). TERN_OK with the volume in d->fs;
 * TERN_ENOENT (no such device), TERN_ENOMEM (cache), TERN_EIO (no valid
 * GPT or FAT; d->reason says why), device errors. Prints the marker. */
tern_result tern_disk_mount(struct tern_os *os, unsigned idx, struct tern_disk *d);

/* tern_disk_mount with options (NULL: the same as tern_disk_mount). A
 * volume mounted read-only has nothing allocated on it, so its check
 * skips the lost-cluster count and does not read the whole FAT;
 * cross-links, loops and chain lengths are checked either way. */
tern_result tern_disk_mount_opts(struct tern_os *os, unsigned idx, struct tern_disk *d,
                                 const struct tern_disk_opts *opts);

/* Syncs (unless read-only) and frees the cache. */
tern_result tern_disk_unmount(struct tern_disk *d);

/* The data volume of a mounted disk (see above). The caller owns it and
 * keeps it, and the disk, while fs is used. */
struct tern_disk_data {
    struct tern_disk *disk;
    struct tern_fat *fs;       /* the volume to serve: &own or &disk->fs; NULL: none */
    struct tern_fat own;       /* a data partition mounted apart from the boot volume */
    unsigned part;             /* 1-based GPT partition; 0: the whole disk */
    bool own_mounted;          /* own is mounted (fs == &own) */
    const char *reason;        /* why there is none (a short word, as in markers) */
};

/* Finds and mounts the data volume of d (see above); opts->read_only
 * mounts a data partition read-only (NULL: writable unless the device is
 * read-only). TERN_OK with dd->fs set; TERN_EINVAL (d not mounted:
 * "disk-not-mounted"); TERN_ENOENT (an ESP and no other partition:
 * "no-data-partition"); TERN_EIO (partitions, but none with a FAT volume
 * that passes its check: the last one's reason, e.g. "bad-boot-signature"
 * or "cross-linked-cluster"); TERN_ENOMEM ("no-memory-for-check"). The
 * cache is the disk's; nothing else is allocated beyond the check. */
tern_result tern_disk_mount_data(struct tern_disk *d, struct tern_disk_data *dd,
                                 const struct tern_disk_opts *opts);

/* Syncs and unmounts a data partition mounted apart (nothing for the
 * boot volume itself, which tern_disk_unmount ends); dd->fs becomes NULL. */
tern_result tern_disk_unmount_data(struct tern_disk_data *dd);

TERN_END_DECLS

#endif
