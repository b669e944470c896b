/*
 * Interface: what the files of core/pkg share (package-internal). The
 * public contract is include/tern/pkg.h; the byte layout docs/packages.md.
 */
#ifndef TERN_PKG_PRIV_H
#define TERN_PKG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/pkg.h"
#include "tern/result.h"

#include "storage/le.h"              /* le16/le32/le64: unaligned little-endian loads */

/* Sets err (reason and a formatted detail) and returns TERN_EINVAL. */
tern_result pkg_fail(struct tern_pkg_error *err, enum tern_pkg_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Binary search of the sorted file table for name (NUL-terminated):
 * true with *index when found. Needs a table whose names were already
 * found valid and sorted (pkg_check_table's first pass). */
bool pkg_find_index(const struct tern_pkg *pkg, const char *name, uint32_t *index);

/* Checks the file table of pkg (header fields already read, regions in
 * bounds): paths, order, packing, manifest.json. */
tern_result pkg_check_table(const struct tern_pkg *pkg, struct tern_pkg_error *err);

/* Reads the protected records (file hashes, security counter) into pkg. */
tern_result pkg_read_protected(struct tern_pkg *pkg, struct tern_pkg_error *err);

/* Reads the unprotected area (image hash, key id, signature) into pkg
 * and checks that the file ends with it. */
tern_result pkg_read_unprotected(struct tern_pkg *pkg, struct tern_pkg_error *err);

/* Hashes every file and the signed bytes and compares with the records. */
tern_result pkg_check_hashes(const struct tern_pkg *pkg, struct tern_pkg_error *err);

/* Hashes the signed bytes once and compares with IMAGE_SHA256; on a
 * mismatch, pkg_check_hashes names the refusal as it would. */
tern_result pkg_check_image(const struct tern_pkg *pkg, struct tern_pkg_error *err);

/* The entry of file index in the table (index < file_count). */
static inline const uint8_t *pkg_entry(const struct tern_pkg *pkg, uint32_t index)
{
    return pkg->data + pkg->table_off + (uint64_t)index * TERN_PKG_ENTRY_SIZE;
}

/* The stored SHA-256 of file index (in its FILE_SHA256 record). */
static inline const uint8_t *pkg_file_hash(const struct tern_pkg *pkg, uint32_t index)
{
    return pkg->data + pkg->protected_off +
           (uint64_t)index * (TERN_PKG_TLV_HEADER + TERN_PKG_FILE_SHA256_LEN) +
           TERN_PKG_TLV_HEADER + 4;
}

#endif
