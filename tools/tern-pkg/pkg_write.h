/*
 * Interface: writing .tpk packages (docs/packages.md) for tern-pkg and the
 * tests. The writer only lays out what it is given: it does not sort,
 * check names or refuse anything, so tests can write wrong packages with
 * correct hashes. tern-pkg checks its inputs before and parses its output
 * with core's parser after.
 */
#ifndef TERN_PKG_WRITE_H
#define TERN_PKG_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "tern/pkg.h"

struct pkgw_file {
    const char *name;                 /* copied into the 128-byte field (cut at 128) */
    const uint8_t *data;
    size_t size;
};

struct pkgw_params {
    struct tern_pkg_version version;
    uint16_t pal_major, pal_minor;
    uint64_t security_counter;
    const uint8_t *extra_protected;   /* appended after SECURITY_COUNTER (tests); may be NULL */
    size_t extra_protected_len;
};

/* An unsigned package of files[0..n) in the given order: header, table,
 * payload, FILE_SHA256 records, SECURITY_COUNTER, extra protected bytes,
 * then the unprotected area with IMAGE_SHA256. *out is malloc'd (the
 * caller frees it). 0, or -1 when out of memory or a size does not fit
 * its field. */
int pkgw_build(const struct pkgw_file *files, size_t n, const struct pkgw_params *p,
               uint8_t **out, size_t *out_len);

/* A package of the signed bytes signed[0..signed_len) followed by an
 * unprotected area with IMAGE_SHA256 (the hash of those bytes) and, when
 * key_id is not NULL, KEY_ID and SIGNATURE (sig, sig_len bytes). *out is
 * malloc'd. 0, or -1 when out of memory or sig_len is over 65535. */
int pkgw_finish(const uint8_t *signed_bytes, size_t signed_len, const uint8_t *key_id,
                const uint8_t *sig, size_t sig_len, uint8_t **out, size_t *out_len);

/* The signed length of a package the writer made: from its header, with
 * no checks beyond reading the header (callers parse first). */
uint64_t pkgw_signed_len(const uint8_t *pkg, size_t len);

#endif
