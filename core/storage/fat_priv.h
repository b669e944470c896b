/*
 * Interface: storage-internal pieces shared by fat.c (volume, FAT table,
 * format), fat_dir.c (names, directory entries) and fat_file.c (paths,
 * files, check). Not a public API.
 *
 * Directories are named by their first cluster; 0 names the fixed root of
 * FAT12/16 (FAT32's root is fs->root_cluster). Entry indices count 32-byte
 * slots from the start of a directory.
 */
#ifndef TERN_STORAGE_FAT_PRIV_H
#define TERN_STORAGE_FAT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/fat.h"

#define FAT_EOC      0xffffffffu   /* normalized end of chain */
#define FAT_BAD      0xfffffff7u   /* normalized bad cluster */
#define FAT_DIR_MAX  65536u        /* entries in one directory (spec limit) */
/* 2020-01-01: what Tern stamps when nobody says otherwise. */
#define FAT_DEFAULT_DATE ((uint16_t)(((2020 - 1980) << 9) | (1 << 5) | 1))

#define ATTR_RO     0x01
#define ATTR_HIDDEN 0x02
#define ATTR_SYSTEM 0x04
#define ATTR_VOLUME 0x08
#define ATTR_DIR    0x10
#define ATTR_ARCH   0x20
#define ATTR_LFN    0x0f

struct fat_entry {
    char name[TERN_FAT_NAME_MAX + 1];
    char short_name[13];
    uint8_t raw[11];
    uint8_t attr, ntres;
    uint32_t cluster, size;
    uint16_t date, time;
    uint32_t index;            /* the short entry */
    uint32_t first_index;      /* first LFN slot, or index */
};

tern_result fat_corrupt(struct tern_fat *fs, const char *reason);
bool fat_valid_cluster(const struct tern_fat *fs, uint32_t c);
uint64_t fat_cluster_lba(const struct tern_fat *fs, uint32_t c);
uint32_t fat_root(const struct tern_fat *fs);

/* Raw (normalized) FAT value of c: 0 free, FAT_EOC, FAT_BAD, or a number. */
tern_result fat_get(struct tern_fat *fs, uint32_t c, uint32_t *out);
/* How many clusters 2.. hold a non-free, non-bad FAT value while their
 * bit in bm is clear (lost clusters), reading the FAT sector by sector. */
tern_result fat_count_unmarked(struct tern_fat *fs, const uint8_t *bm, uint32_t *out);
/* The cluster after c: a valid cluster or FAT_EOC; anything else is
 * corruption (TERN_EIO, "cluster-out-of-range"). */
tern_result fat_next(struct tern_fat *fs, uint32_t c, uint32_t *out);
/* Sets entry c in every FAT copy (v: 0, FAT_EOC or a cluster). */
tern_result fat_set(struct tern_fat *fs, uint32_t c, uint32_t v);
/* Before the first change after a mount or sync, FAT or directory entry
 * (FAT32 with FSInfo): FSInfo's free count := "unknown", flushed. A
 * directory entry change can orphan clusters (unlink, truncate, rename,
 * replace), so a cut right after it must not leave a count that fsck
 * finds wrong. fat_set and fat_entry_map(write) call it. */
tern_result fat_info_invalidate(struct tern_fat *fs);
/* Allocates a free cluster marked end of chain and links prev to it when
 * prev != 0. TERN_ENOSPC when the volume is full. */
tern_result fat_alloc(struct tern_fat *fs, uint32_t prev, uint32_t *out);
/* Frees the chain from first (bounded walk). */
tern_result fat_free_chain(struct tern_fat *fs, uint32_t first);
/* Walks the chain from first: its length, last cluster; EIO on loops and
 * bad links. first 0 gives length 0. */
tern_result fat_chain_length(struct tern_fat *fs, uint32_t first, uint32_t *len,
                             uint32_t *last);
/* Writes cluster_bytes of zeros to cluster c. */
tern_result fat_zero_cluster(struct tern_fat *fs, uint32_t c);
/* Ordering barrier: FSInfo hints, then every dirty sector, then device flush. */
tern_result fat_barrier(struct tern_fat *fs);

/* Directory iteration and entries (fat_dir.c). */
void fat_dir_begin(struct tern_fat *fs, struct tern_fat_dir *d, uint32_t start);
tern_result fat_dir_next(struct tern_fat_dir *d, struct fat_entry *out);
tern_result fat_dir_find(struct tern_fat *fs, uint32_t dir, const char *name, size_t len,
                         struct fat_entry *out);
tern_result fat_entry_map(struct tern_fat *fs, uint32_t dir, uint32_t index, bool write,
                          uint8_t **out);
tern_result fat_name_check(const char *name, size_t len);
tern_result fat_dir_add(struct tern_fat *fs, uint32_t dir, const char *name, size_t len,
                        uint8_t attr, uint32_t cluster, uint32_t size, uint16_t date,
                        uint16_t time, bool dry_run, uint32_t *out_index);
/* (fat_dir_add with dry_run checks the name and finds room, growing the
 * directory if needed, without writing the entry.) */
tern_result fat_dir_remove(struct tern_fat *fs, uint32_t dir, const struct fat_entry *e);
/* Checks "." and ".." of directory dir whose parent is parent. */
tern_result fat_check_dots(struct tern_fat *fs, uint32_t dir, uint32_t parent);
void fat_entry_stat(const struct fat_entry *e, struct tern_fat_stat *out);
void fat_put_cluster(uint8_t *ent, uint32_t c);

#endif
