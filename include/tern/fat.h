/*
 * Interface: FAT12/16/32 volumes and the file API on them.
 *
 *   struct tern_fat fs;                                  // caller-owned
 *   tern_fat_mount(&fs, &dev, part_first_lba, part_sectors, read_only);
 *   struct tern_fat_file f;                              // caller-owned handle
 *   tern_fat_open(&fs, &f, "/www/index.html", TERN_FAT_READ);
 *   tern_fat_seek(&f, offset);  tern_fat_read(&f, buf, len, &got);
 *   tern_fat_close(&f);
 *   tern_fat_sync(&fs);  tern_fat_unmount(&fs);
 *
 * Paths: '/'-separated from the volume root; a leading '/' and empty
 * components are ignored, "." is ignored, ".." is refused (TERN_EINVAL).
 * Lookup is case-insensitive (ASCII) on long and 8.3 names. Names are
 * UTF-8 (at most 255 UTF-16 units); control characters and "*:<>?\|/ and
 * trailing dots or spaces are refused with TERN_EINVAL. New long names get
 * VFAT entries and a unique 8.3 alias (BASIS~N.EXT); names that are
 * valid 8.3 (all upper or all lower case per part) get one entry.
 *
 * Validation as we go: the BPB at mount; every cluster number a walk
 * meets (free, reserved, bad or beyond the volume: "cluster-out-of-range");
 * every walk is bounded by the cluster count ("chain-loop"); a file's chain
 * length is compared with its size at open ("chain-shorter-than-size",
 * "chain-longer-than-size"); "." and ".." of a directory at entry
 * ("bad-dot-entries"); tern_fat_check() walks the whole tree and also
 * finds cross-linked clusters. All of these return TERN_EIO, set
 * fs->reason and count fs->stats.corrupt; none hangs.
 *
 * Write ordering (docs/storage.md): a barrier (tern_bdev_flush) separates
 * "allocate clusters in both FATs and write the data" from "link them into
 * a directory entry", and entries are removed before their clusters are
 * freed, so a power cut leaves at worst lost clusters. File size and first
 * cluster reach the directory entry at tern_fat_close/tern_fat_flush_file.
 *
 * Handles: at most one writable handle per file (not checked across
 * handles); a handle must be closed before its file is unlinked or renamed.
 * Nothing here blocks beyond the synchronous block I/O of the contract.
 */
#ifndef TERN_FAT_H
#define TERN_FAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/blockdev.h"
#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_FAT_NAME_MAX 255   /* bytes of a UTF-8 name, without the NUL */

enum tern_fat_type { TERN_FAT12 = 12, TERN_FAT16 = 16, TERN_FAT32 = 32 };

struct tern_fat_stats {
    uint64_t corrupt;          /* corruption refusals (reason in fs->reason) */
    uint64_t bad_lfn;          /* long-name runs ignored (checksum, order) */
    uint64_t clusters_allocated, clusters_freed;
};

struct tern_fat {
    struct tern_bdev *dev;
    uint64_t base;             /* first LBA of the volume on dev */
    uint64_t sectors;          /* sectors of the volume */
    enum tern_fat_type type;
    uint32_t bps, spc, cluster_bytes;
    uint32_t reserved, nfats, fat_sectors;
    uint32_t root_entries, root_sectors;
    uint64_t fat_lba, root_lba, data_lba;   /* relative to base */
    uint32_t clusters;         /* valid cluster numbers are 2..clusters+1 */
    uint32_t root_cluster;     /* FAT32; 0 for FAT12/16 */
    uint32_t fsinfo_sector;    /* 0 when none or invalid */
    uint32_t free_count;       /* 0xffffffff: unknown */
    uint32_t next_free;        /* allocation hint */
    uint32_t serial;
    char label[12];            /* trimmed; "NO NAME" when none */
    bool read_only;
    bool mounted;
    bool info_invalidated;     /* FSInfo on disk says "free count unknown" */
    uint16_t date, time;       /* stamped on what we write (FAT encoding) */
    const char *reason;        /* last corruption or refusal reason */
    struct tern_fat_stats stats;
    /* Optional: called with each corruption reason as it is found (the
     * disk glue logs it). Set after tern_fat_mount, which clears it. */
    void (*on_corrupt)(void *arg, const char *reason);
    void *on_corrupt_arg;
};

/* Mounts the FAT volume at [base, base + sectors) of dev. Checks the boot
 * sector (signature, jump, bytes per sector equal to the device's,
 * sectors per cluster, reserved, FAT count and size, root entries, total
 * sectors within the partition, cluster count matching the type, FAT32
 * root cluster and FSInfo). TERN_OK; TERN_EIO with fs->reason (for
 * example "bad-bpb-bytes-per-sector", "fat-too-small"); device errors. */
tern_result tern_fat_mount(struct tern_fat *fs, struct tern_bdev *dev, uint64_t base,
                           uint64_t sectors, bool read_only);

/* Flushes everything, then writes the FSInfo hints (FAT32) and flushes.
 * The first change after a mount or sync marks FSInfo's free count
 * unknown on disk, so a power cut never leaves a wrong count behind.
 * TERN_OK or device errors. */
tern_result tern_fat_sync(struct tern_fat *fs);

/* Syncs (unless read-only) and marks fs unmounted. */
tern_result tern_fat_unmount(struct tern_fat *fs);

/* Validates the boot sector bytes alone (sector of bps bytes), for tests
 * and the fuzz harness; fills the geometry of fs on TERN_OK. */
tern_result tern_fat_parse_bpb(struct tern_fat *fs, const uint8_t *sec, uint32_t sec_len,
                               uint64_t part_sectors);

#define TERN_FAT_DIR_ENTRIES_MAX 65536u   /* 32-byte entries in one directory */

struct tern_fat_format_opts {
    enum tern_fat_type type;   /* 0: by size (12, 16 or 32) */
    uint32_t spc;              /* sectors per cluster; 0: automatic */
    const char *label;         /* up to 11 ASCII characters; NULL: "NO NAME" */
    uint32_t serial;
    /* The label entry's stamp (FAT encoding); date 0: 2020-01-01 00:00,
     * the date tern_fat_mount stamps by default. */
    uint16_t date, time;
    /* FAT12/16 fixed root directory: entries, rounded up to whole
     * sectors; 0: 512. At most tern_fat_root_entries_max(sector size).
     * Ignored when the volume comes out FAT32 (its root is a chain). */
    uint32_t root_entries;
};

/* The layout tern_fat_format would write. */
struct tern_fat_geometry {
    enum tern_fat_type type;
    uint32_t spc, cluster_bytes;
    uint32_t root_entries;     /* 0 on FAT32 */
    uint32_t fat_sectors;      /* one FAT copy (there are two) */
    uint32_t clusters;         /* data clusters */
};

/* Plans a volume of sectors sectors of sector_size bytes as
 * tern_fat_format would (cluster sizes 4 KiB first, then 2, 1, 0.5, 8,
 * 16, 32 KiB; FAT12, 16, then 32 for each; the first that fits).
 * TERN_OK with *g; TERN_ENOSPC when no layout fits; TERN_EINVAL (spc,
 * root_entries over the maximum). Touches no device. */
tern_result tern_fat_format_plan(uint32_t sector_size, uint64_t sectors,
                                 const struct tern_fat_format_opts *opts,
                                 struct tern_fat_geometry *g);

/* The largest FAT12/16 root directory: 65535 entries rounded down to a
 * whole sector (65520 at 512 bytes, 65408 at 4096). */
uint32_t tern_fat_root_entries_max(uint32_t sector_size);

/* Creates an empty FAT volume on [base, base + sectors) of dev (the
 * layout of tern_fat_format_plan) and flushes. TERN_OK; TERN_ENOSPC
 * when the size cannot hold the type (fs->reason unused: see
 * tern_fat_min_sectors); TERN_EINVAL (label, spc, root_entries);
 * device errors. */
tern_result tern_fat_format(struct tern_bdev *dev, uint64_t base, uint64_t sectors,
                            const struct tern_fat_format_opts *opts);

/* Sizing a directory before it is written (tern-mkimage sizes volumes
 * with it): the entries a fresh directory uses when names are added in
 * order, placed as tern_fat_open/tern_fat_mkdir place them (a name takes
 * one entry, or with VFAT entries one per 13 UTF-16 units plus its 8.3
 * alias; a run of at most one sector's entries never crosses a sector, so
 * it may skip a sector's tail, which a later shorter run can fill). The
 * struct is caller-owned (about 4 KiB); nothing is allocated. */
struct tern_fat_dir_plan {
    uint32_t per_sector;       /* entries in a sector */
    uint32_t entries;          /* to the end of the last run: the size */
    uint32_t names;            /* names added */
    uint32_t first_gap;        /* lowest sector with a skipped tail */
    uint8_t gap[TERN_FAT_DIR_ENTRIES_MAX / 16];   /* free tail per sector */
};

/* Starts a plan: reserved entries are in use first (a root: 1 for the
 * volume label; a subdirectory: 2 for "." and ".."). */
void tern_fat_dir_plan_init(struct tern_fat_dir_plan *p, uint32_t sector_size,
                            uint32_t reserved);

/* Adds a name (UTF-8, len bytes). TERN_OK; TERN_EINVAL (a name FAT
 * cannot hold: see the name rules above); TERN_ENOSPC (past
 * TERN_FAT_DIR_ENTRIES_MAX: p->entries still grows, to say by how much). */
tern_result tern_fat_dir_plan_add(struct tern_fat_dir_plan *p, const char *name, size_t len);

/* The smallest volume, in sectors of sector_size, that holds a FAT32
 * volume (65525 clusters of one sector). */
uint64_t tern_fat32_min_sectors(uint32_t sector_size);

struct tern_fat_stat {
    char name[TERN_FAT_NAME_MAX + 1];   /* long name, or the 8.3 name */
    char short_name[13];                /* 8.3 as "NAME.EXT" */
    bool is_dir;
    uint8_t attr;
    uint32_t size;
    uint32_t first_cluster;
    uint16_t date, time;                /* last write, FAT encoding */
};

#define TERN_FAT_READ   1u
#define TERN_FAT_WRITE  2u
#define TERN_FAT_CREATE 4u     /* create when absent */
#define TERN_FAT_EXCL   8u     /* with CREATE: TERN_EEXIST when present */
#define TERN_FAT_TRUNC  16u    /* truncate to 0 at open */

struct tern_fat_file {
    struct tern_fat *fs;
    bool open, writable, is_dir, dirty;
    uint32_t first_cluster;
    uint32_t size;
    uint32_t pos;
    uint32_t cur_cluster;      /* cluster holding chain index cur_index */
    uint32_t cur_index;        /* 0-based index of cur_cluster in the chain */
    uint32_t last_cluster;     /* 0 when the chain is empty */
    uint32_t chain_len;
    uint32_t dir_cluster;      /* directory holding the entry (0: fixed root) */
    uint32_t entry_index;      /* index of the short entry in it */
};

/* Opens (and with TERN_FAT_CREATE creates) the regular file at path.
 * TERN_OK; TERN_ENOENT; TERN_EEXIST (CREATE|EXCL); TERN_EINVAL (bad
 * name, flags, or path names a directory); TERN_EROFS (write on a
 * read-only volume); TERN_ENOSPC (directory full); TERN_EIO (corrupt). */
tern_result tern_fat_open(struct tern_fat *fs, struct tern_fat_file *f, const char *path,
                          unsigned flags);

/* Reads up to len bytes at the position; *got is 0 at the end of file.
 * TERN_OK; TERN_EIO. */
tern_result tern_fat_read(struct tern_fat_file *f, void *buf, size_t len, size_t *got);

/* Reads up to len bytes at offset without moving the position (for HTTP
 * Range requests). TERN_OK; TERN_EIO. */
tern_result tern_fat_pread(struct tern_fat_file *f, uint64_t offset, void *buf, size_t len,
                           size_t *got);

/* Writes len bytes at the position (a gap past the end reads as zeros).
 * TERN_OK; TERN_EINVAL (not writable, or past 4 GiB - 1); TERN_ENOSPC
 * (volume full: nothing of this call is kept); TERN_EIO. */
tern_result tern_fat_write(struct tern_fat_file *f, const void *buf, size_t len);

/* Sets the position (may be past the end). TERN_OK or TERN_EINVAL. */
tern_result tern_fat_seek(struct tern_fat_file *f, uint64_t pos);

/* Sets the size: shrinking frees clusters, growing appends zeros. */
tern_result tern_fat_truncate(struct tern_fat_file *f, uint32_t size);

/* Writes the size and first cluster to the directory entry (after a
 * barrier) if they changed. TERN_OK or device errors. */
tern_result tern_fat_flush_file(struct tern_fat_file *f);

/* The device LBA (on fs->dev, the volume's base included) of the sector
 * holding byte off of an open file, for a caller that overwrites a
 * pre-allocated file in place, one whole sector at a time, through the
 * block device (core/update's boot-state record: one sector write per
 * update, the directory entry untouched). Valid while the file keeps its
 * clusters. TERN_OK; TERN_EINVAL (not open, or off at or past the end of
 * the allocated chain); TERN_EIO (corrupt chain). */
tern_result tern_fat_file_lba(struct tern_fat_file *f, uint64_t off, uint64_t *lba);

/* Flushes (when writable) and releases the handle. */
tern_result tern_fat_close(struct tern_fat_file *f);

/* Facts about the file or directory at path ("/" is the root). TERN_OK;
 * TERN_ENOENT; TERN_EINVAL; TERN_EIO. */
tern_result tern_fat_stat(struct tern_fat *fs, const char *path, struct tern_fat_stat *out);

/* True when path (as tern_fat_stat takes it; "." components and repeated
 * '/' allowed) is the root directory entry named top, or inside it: its
 * first component is top by FAT's name rule (ASCII case folded, trailing
 * dots and spaces dropped) or names the same directory (an 8.3 alias:
 * the same first cluster). For keeping the OS's own directory (/tern on
 * the data volume) out of the HTTP files and an app's mounts. */
bool tern_fat_in_top_dir(struct tern_fat *fs, const char *path, const char *top);

struct tern_fat_dir {
    struct tern_fat *fs;
    uint32_t start;            /* first cluster; 0: FAT12/16 fixed root */
    uint32_t cluster;          /* current cluster */
    uint32_t index;            /* next entry index */
    uint32_t steps;            /* clusters visited (loop bound) */
    bool end;
};

/* Opens the directory at path for tern_fat_readdir. TERN_OK; TERN_ENOENT;
 * TERN_EINVAL (not a directory); TERN_EIO. */
tern_result tern_fat_opendir(struct tern_fat *fs, struct tern_fat_dir *d, const char *path);

/* Next entry, skipping ".", "..", deleted entries and the volume label.
 * TERN_OK; TERN_ENOENT at the end; TERN_EIO. */
tern_result tern_fat_readdir(struct tern_fat_dir *d, struct tern_fat_stat *out);

/* Creates a directory. TERN_OK; TERN_EEXIST; TERN_ENOENT (parent);
 * TERN_EINVAL; TERN_ENOSPC; TERN_EROFS; TERN_EIO. */
tern_result tern_fat_mkdir(struct tern_fat *fs, const char *path);

/* Removes a file or an empty directory. TERN_OK; TERN_ENOENT; TERN_EBUSY
 * (directory not empty); TERN_EINVAL (the root); TERN_EROFS; TERN_EIO. */
tern_result tern_fat_unlink(struct tern_fat *fs, const char *path);

/* Renames or moves a file or directory. TERN_OK; TERN_ENOENT; TERN_EEXIST
 * (to exists); TERN_EINVAL (bad name, a directory into itself);
 * TERN_ENOSPC; TERN_EROFS; TERN_EIO. */
tern_result tern_fat_rename(struct tern_fat *fs, const char *from, const char *to);

/* tern_fat_rename, except that an existing regular file at to is
 * replaced (a directory at to, or from a directory over anything: still
 * TERN_EEXIST). The replace rewrites to's directory entry in place (one
 * sector) after removing from's, so a power cut leaves to holding its old
 * or its new contents, never neither: cut before that write, from is gone
 * and its clusters are lost clusters; after it, to's old clusters are.
 * Results as tern_fat_rename. */
tern_result tern_fat_rename_replace(struct tern_fat *fs, const char *from, const char *to);

/* Walks every directory and chain of the volume with a bitmap of
 * (clusters + 2 + 7) / 8 bytes of caller memory, and checks what the
 * lazy checks cannot: cross-linked clusters (two owners), directory
 * loops. TERN_OK; TERN_EINVAL (bitmap too small); TERN_EIO (reason set).
 * Lost clusters (allocated, in no chain: harmless, only wasted space) are
 * counted in *lost, not refused; with lost NULL they are not counted and
 * the FAT is not scanned past the chains (the whole FAT is the check's
 * largest read: 520 sectors on a 33 MiB FAT32 ESP). */
tern_result tern_fat_check(struct tern_fat *fs, uint8_t *bitmap, size_t bitmap_len,
                           uint32_t *lost);

/* After a tern_fat_check that passed on a writable volume, with the same
 * bitmap: frees every lost cluster (allocated, in no chain: what an
 * interrupted write leaves, and what fsck.fat reclaims) and syncs.
 * *freed gets how many. TERN_OK; TERN_EROFS; device errors. */
tern_result tern_fat_reclaim_lost(struct tern_fat *fs, const uint8_t *bitmap, uint32_t *freed);

/* Free clusters (counts the FAT when the hint is unknown). */
tern_result tern_fat_free_clusters(struct tern_fat *fs, uint32_t *out);

TERN_END_DECLS

#endif
