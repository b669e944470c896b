/*
 * Interface: helpers shared by the package tests (test_pkg.c,
 * test_pkg_verify.c): fixtures, packages written with tern-pkg's writer
 * (tools/tern-pkg/pkg_write.h), signing with the test-only keys, and
 * parse results as reasons. Every helper aborts the test on a failure
 * of its own (out of memory, a missing fixture).
 */
#ifndef TERN_PKG_TESTLIB_H
#define TERN_PKG_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "tern/pkg.h"

#include "pkg_write.h"

struct buf {
    uint8_t *p;
    size_t n;
};

/* FIXTURES_DIR/rel, whole. */
struct buf fixture(const char *rel);

/* The files of the small package the tests start from: app.elf (a few
 * bytes: the parser does not read apps), manifest.json (the known-answer
 * package's manifest, version 1.2.3+4) and www/index.html. */
#define BASE_FILES 3
extern const struct pkgw_file base_files[BASE_FILES];
extern const struct pkgw_params base_params;     /* 1.2.3+4, PAL 1.0, counter 7 */

/* An unsigned package of files[0..n) with p (NULL: base_params). */
struct buf make_pkg(const struct pkgw_file *files, size_t n, const struct pkgw_params *p);
struct buf make_base(void);

/* pkg signed by the test-only key "signing" or "other" (fixtures/pkg/keys). */
struct buf sign_with(struct buf pkg, const char *which);

/* The trusted form of fixtures/pkg/keys/test-only-NAME-key.pub.pem. */
struct tern_pkg_key trusted(const char *which);

/* pkg's signed bytes with a new unprotected area holding records[0..n)
 * (already encoded: type, length, value) — for malformed areas. */
struct buf with_unprotected(struct buf pkg, const uint8_t *records, size_t n);

/* A recomputed IMAGE_SHA256 for an unsigned pkg whose signed bytes were
 * edited (the header's sizes must still describe them). */
struct buf rehash(struct buf pkg);

/* The reason tern_pkg_parse gives (TERN_PKG_R_OK when it accepts); the
 * detail of the last refusal is kept in last_detail. */
enum tern_pkg_reason parse_reason(const uint8_t *p, size_t n);
extern char last_detail[160];

/* The reason tern_pkg_parse, then tern_pkg_verify with trust, give. */
enum tern_pkg_reason verify_reason(const uint8_t *p, size_t n, const struct tern_pkg_trust *trust);

void put_le16(uint8_t *p, uint16_t v);
void put_le32(uint8_t *p, uint32_t v);
void put_le64(uint8_t *p, uint64_t v);

/* Fails the test with both names when got is not want. */
#define assert_reason(got, want)                                                                 \
    do {                                                                                         \
        enum tern_pkg_reason got_ = (got), want_ = (want);                                       \
        if (got_ != want_)                                                                       \
            fail_msg("%s:%d: reason %s (%s), expected %s", __FILE__, __LINE__,                   \
                     tern_pkg_reason_name(got_), last_detail, tern_pkg_reason_name(want_));      \
    } while (0)

#endif
