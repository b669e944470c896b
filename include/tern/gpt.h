/*
 * Interface: GUID partition tables (UEFI 2.x, chapter 5) on a tern_bdev.
 *
 *   struct tern_gpt g;                        // caller-owned, ~10 KiB
 *   tern_gpt_read(&dev, &g);                  // validates, falls back to backup
 *   const struct tern_gpt_part *esp = tern_gpt_find_type(&g, &TERN_GPT_TYPE_ESP);
 *
 * Reading checks the protective MBR, the header signature, revision, size,
 * CRC32, my_lba, the entry size (128 * 2^n, at most one sector) and count
 * (1..TERN_GPT_MAX_ENTRIES), that the entry array lies inside the disk
 * outside the usable range, the array CRC32, and every used entry's range.
 * When the primary header or its array is bad and the backup (at the last
 * LBA) is good, the backup is used, used_backup is set and primary_reason
 * says what was wrong. Every refusal sets g->reason to a short fixed text.
 *
 * Writing (tern_gpt_write) lays out a protective MBR, primary header and
 * 128-entry array at LBA 1/2, and the backup array and header at the end.
 */
#ifndef TERN_GPT_H
#define TERN_GPT_H

#include <stdbool.h>
#include <stdint.h>

#include "tern/blockdev.h"
#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_GPT_MAX_ENTRIES 128   /* entries scanned; more is refused */
#define TERN_GPT_MAX_PARTS   32    /* used entries kept; more is refused */
#define TERN_GPT_NAME_MAX    72    /* 36 UTF-16 units as UTF-8 (ASCII kept, others '?') */

/* A GUID in its on-disk byte order (first three fields little-endian). */
struct tern_guid {
    uint8_t b[16];
};

extern const struct tern_guid TERN_GPT_TYPE_ESP;        /* C12A7328-F81F-11D2-BA4B-00A0C93EC93B */
extern const struct tern_guid TERN_GPT_TYPE_BASIC_DATA; /* EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 */

struct tern_gpt_part {
    unsigned index;            /* 0-based slot in the entry array */
    struct tern_guid type;
    struct tern_guid unique;
    uint64_t first_lba, last_lba;   /* inclusive */
    uint64_t attributes;
    char name[TERN_GPT_NAME_MAX + 1];
};

struct tern_gpt {
    uint32_t sector_size;
    uint64_t disk_sectors;
    struct tern_guid disk_guid;
    uint64_t first_usable, last_usable;
    uint32_t entry_count, entry_size;   /* from the header used */
    bool used_backup;
    const char *primary_reason;         /* why the primary was refused, or NULL */
    const char *reason;                 /* why tern_gpt_read failed, or NULL */
    unsigned count;                     /* used entries in parts[] */
    struct tern_gpt_part parts[TERN_GPT_MAX_PARTS];
};

/* Reads and validates the table of dev into g. TERN_OK (maybe from the
 * backup); TERN_EIO when neither header is valid (g->reason says why, for
 * the primary); TERN_ENOSPC for more than TERN_GPT_MAX_PARTS used entries;
 * errors of the device. */
tern_result tern_gpt_read(struct tern_bdev *dev, struct tern_gpt *g);

/* Validates one header sector (sector_size bytes) found at my_lba of a
 * disk of disk_sectors sectors. TERN_OK or TERN_EIO with *reason set.
 * Exposed for the unit tests and the fuzz harness. */
tern_result tern_gpt_check_header(const uint8_t *sec, uint32_t sector_size, uint64_t my_lba,
                                  uint64_t disk_sectors, const char **reason);

/* Partition lookup: by type (the first one), by name (exact, ASCII case
 * insensitive) and by 0-based entry index. NULL when absent. */
const struct tern_gpt_part *tern_gpt_find_type(const struct tern_gpt *g,
                                               const struct tern_guid *type);
const struct tern_gpt_part *tern_gpt_find_name(const struct tern_gpt *g, const char *name);
const struct tern_gpt_part *tern_gpt_find_index(const struct tern_gpt *g, unsigned index);

/* A partition to create: lba range inclusive, name ASCII. */
struct tern_gpt_new_part {
    struct tern_guid type;
    struct tern_guid unique;
    uint64_t first_lba, last_lba;
    const char *name;
};

/* Writes a new GPT (protective MBR, both headers and arrays, 128 entries)
 * describing parts[0..n) to dev and flushes. TERN_OK; TERN_EINVAL when a
 * range is outside the usable area, overlaps another or n > 128; device
 * errors. */
tern_result tern_gpt_write(struct tern_bdev *dev, const struct tern_guid *disk_guid,
                           const struct tern_gpt_new_part *parts, unsigned n);

/* First and last usable LBA of a disk that tern_gpt_write would lay out. */
void tern_gpt_usable(uint32_t sector_size, uint64_t disk_sectors, uint64_t *first,
                     uint64_t *last);

/* CRC-32 (IEEE 802.3, as GPT uses), continued from crc (start with 0). */
uint32_t tern_crc32(uint32_t crc, const void *buf, size_t len);

/* Parses "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" (any case). TERN_OK/EINVAL. */
tern_result tern_guid_parse(const char *text, struct tern_guid *out);
/* Formats g into out (37 bytes) in upper case. */
void tern_guid_format(const struct tern_guid *g, char out[37]);

TERN_END_DECLS

#endif
