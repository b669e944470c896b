/*
 * core/pkg's parser (docs/packages.md): the known-answer package field by
 * field, then each refusal with the reason it must give — truncation at
 * every offset, a flip of every byte, caps, paths, order, layout, the
 * records, the hashes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tern/pkg.h"

#include "pkg_testlib.h"

static void hexof(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void assert_hex(const uint8_t *p, const char *want)
{
    char got[65];
    hexof(p, 32, got);
    assert_string_equal(got, want);
}

/* ---- the known-answer package (fixtures/pkg/README.md) ---- */

static void test_kat_fields(void **state)
{
    (void)state;
    struct buf b = fixture("pkg/kat/kat.tpk");
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    assert_int_equal(b.n, 6259);
    assert_int_equal(tern_pkg_parse(&pkg, b.p, b.n, &err), TERN_OK);
    assert_int_equal(pkg.format_version, 1);
    assert_int_equal(pkg.header_size, 64);
    assert_int_equal(pkg.file_count, 3);
    assert_int_equal(pkg.payload_off, 64 + 3 * 144);
    assert_int_equal(pkg.payload_size, 5248 + 165 + 63);
    assert_int_equal(pkg.protected_size, 3 * 40 + 12);
    assert_int_equal(pkg.signed_len, 6104);
    assert_int_equal(pkg.version.major, 1);
    assert_int_equal(pkg.version.minor, 2);
    assert_int_equal(pkg.version.patch, 3);
    assert_int_equal(pkg.version.build, 4);
    assert_int_equal(pkg.pal_major, 1);
    assert_int_equal(pkg.pal_minor, 0);
    assert_int_equal(pkg.security_counter, 7);
    assert_hex(pkg.image_sha256, "6c5f4c3a7ceb6e2965200f63e663a24ccd59b18bb5538ace6240a9f1bef90efe");
    assert_true(pkg.is_signed);
    assert_hex(pkg.key_id, "8008d48924e4f4bc80519ed62dac3fa69f8ba4d0a0be016159fb6e98083b8651");
    assert_int_equal(pkg.sig_off, 6104 + 8 + 36 + 36 + 4);
    assert_int_equal(pkg.sig_len, 6259 - pkg.sig_off);

    static const struct {
        const char *name;
        uint64_t size;
        const char *sha256;
    } want[3] = {
        { "app.elf", 5248, "589b6f7d619598d52310488e3f7fc62bf71e2045c159ed268e14fb5b3e6b8dd6" },
        { "manifest.json", 165, "084bdcb6db5c4a094644fcc7a131c8c74cf1770eca5af9c91ecd762d9380f305" },
        { "www/index.html", 63, "14ba7917e5b8389657b7820a612caaa28a9b9765cde0df2e7f81ef861448d25b" },
    };
    for (uint32_t i = 0; i < 3; i++) {
        struct tern_pkg_file f, g;
        assert_int_equal(tern_pkg_file_at(&pkg, i, &f), TERN_OK);
        assert_string_equal(f.name, want[i].name);
        assert_int_equal(f.name_len, strlen(want[i].name));
        assert_int_equal(f.size, want[i].size);
        assert_int_equal(f.index, i);
        assert_hex(f.sha256, want[i].sha256);
        assert_int_equal(tern_pkg_find(&pkg, want[i].name, &g), TERN_OK);
        assert_ptr_equal(g.data, f.data);
        assert_int_equal(g.index, i);
    }
    struct tern_pkg_file f;
    assert_int_equal(tern_pkg_file_at(&pkg, 3, &f), TERN_ENOENT);
    assert_int_equal(tern_pkg_find(&pkg, "manifest.json", &f), TERN_OK);
    assert_memory_equal(f.data, "{\n  \"tern_manifest\": 1,", 23);
    static const char *const absent[] = { "", "app", "app.el", "app.elfx", "www", "www/",
                                          "manifest.jso", "Manifest.json", "zzz", "a" };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        assert_int_equal(tern_pkg_find(&pkg, absent[i], &f), TERN_ENOENT);
    free(b.p);
}

/* The unsigned known-answer package is the signed one's signed bytes
 * with only IMAGE_SHA256 after them. */
static void test_kat_unsigned(void **state)
{
    (void)state;
    struct buf s = fixture("pkg/kat/kat.tpk"), u = fixture("pkg/kat/kat-unsigned.tpk");
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    assert_int_equal(tern_pkg_parse(&pkg, u.p, u.n, &err), TERN_OK);
    assert_false(pkg.is_signed);
    assert_int_equal(u.n, 6104 + 8 + 36);
    assert_memory_equal(u.p, s.p, 6104);
    free(s.p);
    free(u.p);
}

/* ---- truncation and tampering ---- */

static void truncate_everywhere(struct buf b)
{
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_OK);
    for (size_t n = 0; n < b.n; n++) {
        uint8_t *copy = malloc(n > 0 ? n : 1);  /* exact size: ASan sees a read past it */
        assert_non_null(copy);
        memcpy(copy, b.p, n);
        enum tern_pkg_reason r = parse_reason(copy, n);
        if (r != TERN_PKG_R_TRUNCATED)
            fail_msg("cut at %zu of %zu: %s (%s), expected truncated", n, b.n,
                     tern_pkg_reason_name(r), last_detail);
        free(copy);
    }
    assert_reason(parse_reason(NULL, 0), TERN_PKG_R_TRUNCATED);
}

static void test_truncated_every_offset(void **state)
{
    (void)state;
    struct buf s = fixture("pkg/kat/kat.tpk"), u = fixture("pkg/kat/kat-unsigned.tpk");
    truncate_everywhere(s);
    truncate_everywhere(u);
    free(s.p);
    free(u.p);
}

/* One byte more than the unprotected area says: refused. */
static void test_trailing_byte(void **state)
{
    (void)state;
    struct buf s = fixture("pkg/kat/kat.tpk");
    uint8_t *p = malloc(s.n + 1);
    memcpy(p, s.p, s.n);
    p[s.n] = 0;
    assert_reason(parse_reason(p, s.n + 1), TERN_PKG_R_BAD_LAYOUT);
    free(p);
    free(s.p);
}

/* What a flip of the byte at off must give: the parser's refusal, or
 * for the unprotected records, the verifier's. */
static enum tern_pkg_reason flip_expect(size_t off, size_t signed_len, size_t sig_off)
{
    if (off < 8)
        return TERN_PKG_R_BAD_MAGIC;
    if (off >= signed_len && off < signed_len + 8)
        return TERN_PKG_R_COUNT;                /* area magic or size: several reasons */
    if (off >= signed_len + 8 + 4 && off < signed_len + 8 + 36)
        return TERN_PKG_R_IMAGE_HASH;
    if (off >= signed_len + 8 + 40 && off < signed_len + 8 + 72)
        return TERN_PKG_R_UNKNOWN_KEY;
    if (off >= sig_off)
        return TERN_PKG_R_BAD_SIGNATURE;
    return TERN_PKG_R_COUNT;
}

/* Every byte of the known-answer package flipped, one at a time: never
 * accepted, and the reason is the one that byte's role calls for. */
static void test_flip_every_byte(void **state)
{
    (void)state;
    struct buf s = fixture("pkg/kat/kat.tpk");
    struct tern_pkg_key key = trusted("signing");
    struct tern_pkg_trust trust = { &key, 1, 0, 1, 0, false };
    uint8_t *p = malloc(s.n);
    unsigned counts[TERN_PKG_R_COUNT] = { 0 };
    for (size_t off = 0; off < s.n; off++) {
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(p, s.p, s.n);
            p[off] ^= (uint8_t)(1u << bit);
            enum tern_pkg_reason r = verify_reason(p, s.n, &trust);
            enum tern_pkg_reason want = flip_expect(off, 6104, 6104 + 8 + 36 + 36 + 4);
            if (r == TERN_PKG_R_OK || (want != TERN_PKG_R_COUNT && r != want))
                fail_msg("byte %zu bit %d flipped: %s (%s)", off, bit, tern_pkg_reason_name(r),
                         last_detail);
            counts[r]++;
        }
    }
    /* The payload's bytes are caught by their file's hash, the
     * version and PAL fields by the image hash. */
    assert_true(counts[TERN_PKG_R_FILE_HASH] >= 2 * 5476);
    assert_true(counts[TERN_PKG_R_IMAGE_HASH] > 0);
    free(p);
    free(s.p);
}

/* ---- header ---- */

static void test_bad_magic(void **state)
{
    (void)state;
    struct buf b = make_base();
    b.p[0] = 'T';
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_BAD_MAGIC);
    static const uint8_t elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
    assert_reason(parse_reason(elf, sizeof(elf)), TERN_PKG_R_BAD_MAGIC);
    free(b.p);
}

static void test_unsupported_version(void **state)
{
    (void)state;
    static const uint16_t versions[] = { 0, 2, 0x100, 0xffff };
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        struct buf b = make_base();
        put_le16(b.p + TERN_PKG_OFF_FORMAT_VERSION, versions[i]);
        assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_UNSUPPORTED_VERSION);
        free(b.p);
    }
}

static void test_bad_header(void **state)
{
    (void)state;
    static const struct {
        size_t off, width;
        uint64_t value;
    } cases[] = {
        { TERN_PKG_OFF_HEADER_SIZE, 2, 0 },  { TERN_PKG_OFF_HEADER_SIZE, 2, 56 },
        { TERN_PKG_OFF_HEADER_SIZE, 2, 65 }, { TERN_PKG_OFF_HEADER_SIZE, 2, 1032 },
        { TERN_PKG_OFF_HEADER_SIZE, 2, 0xfff8 },
        { TERN_PKG_OFF_FILE_COUNT, 4, 0 },   { TERN_PKG_OFF_FLAGS, 4, 1 },
        { TERN_PKG_OFF_FLAGS, 4, 0x80000000u }, { 38, 2, 1 }, { 48, 8, 1 }, { 56, 8, 1ull << 63 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = make_base();
        for (size_t k = 0; k < cases[i].width; k++)
            b.p[cases[i].off + k] = (uint8_t)(cases[i].value >> (8 * k));
        enum tern_pkg_reason r = parse_reason(b.p, b.n);
        if (r != TERN_PKG_R_BAD_HEADER)
            fail_msg("case %zu: %s (%s), expected bad-header", i, tern_pkg_reason_name(r),
                     last_detail);
        free(b.p);
    }
}

/* A longer header (a later writer's fields, safe to ignore) is accepted
 * when it is hashed like the rest. */
static void test_longer_header(void **state)
{
    (void)state;
    struct buf b = make_base();
    size_t extra = 16;
    uint8_t *p = calloc(1, b.n + extra);
    memcpy(p, b.p, 64);
    memcpy(p + 64 + extra, b.p + 64, b.n - 64);
    put_le16(p + TERN_PKG_OFF_HEADER_SIZE, 64 + 16);
    p[70] = 0x5a;                           /* an unknown appended field */
    struct buf longer = { p, b.n + extra };
    struct buf fixed = rehash(longer);
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    assert_int_equal(tern_pkg_parse(&pkg, fixed.p, fixed.n, &err), TERN_OK);
    assert_int_equal(pkg.header_size, 80);
    assert_int_equal(pkg.table_off, 80);
    struct tern_pkg_file f;
    assert_int_equal(tern_pkg_find(&pkg, "www/index.html", &f), TERN_OK);
    assert_memory_equal(f.data, "<p>hello</p>\n", f.size);
    free(fixed.p);
    free(p);
    free(b.p);
}

/* ---- caps ---- */

static void test_over_cap_fields(void **state)
{
    (void)state;
    static const struct {
        size_t off, width;
        uint64_t value;
    } cases[] = {
        { TERN_PKG_OFF_FILE_COUNT, 4, TERN_PKG_MAX_FILES + 1 },
        { TERN_PKG_OFF_FILE_COUNT, 4, 0xffffffffu },
        { TERN_PKG_OFF_PAYLOAD_SIZE, 8, TERN_PKG_MAX_PAYLOAD + 1ull },
        { TERN_PKG_OFF_PAYLOAD_SIZE, 8, ~0ull },
        { TERN_PKG_OFF_PAYLOAD_SIZE, 8, ~0ull - 500 },      /* would wrap a sum */
        { TERN_PKG_OFF_PROTECTED_SIZE, 4, TERN_PKG_MAX_PROTECTED + 1 },
        { TERN_PKG_OFF_PROTECTED_SIZE, 4, 0xffffffffu },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = make_base();
        for (size_t k = 0; k < cases[i].width; k++)
            b.p[cases[i].off + k] = (uint8_t)(cases[i].value >> (8 * k));
        enum tern_pkg_reason r = parse_reason(b.p, b.n);
        if (r != TERN_PKG_R_OVER_CAP)
            fail_msg("case %zu: %s (%s), expected over-cap", i, tern_pkg_reason_name(r),
                     last_detail);
        free(b.p);
    }
    /* The unprotected area's size. */
    struct buf b = make_base();
    size_t at = b.n - 8 - 36 + 4;
    put_le32(b.p + at, TERN_PKG_MAX_UNPROTECTED + 1);
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_OVER_CAP);
    put_le32(b.p + at, 0xffffffffu);
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_OVER_CAP);
    free(b.p);
}

/* 256 files are accepted, 257 refused, whatever else is right. */
static void test_file_count_cap(void **state)
{
    (void)state;
    static char names[TERN_PKG_MAX_FILES][8];
    struct pkgw_file files[TERN_PKG_MAX_FILES + 1];
    for (size_t i = 0; i < TERN_PKG_MAX_FILES; i++) {
        snprintf(names[i], sizeof(names[i]), "f%03zu", i);   /* all sort before "manifest.json" */
        files[i] = (struct pkgw_file){ names[i], (const uint8_t *)"x", 1 };
    }
    files[TERN_PKG_MAX_FILES] = base_files[1];
    struct buf ok = make_pkg(files + 1, TERN_PKG_MAX_FILES, NULL);     /* f001..f255, manifest */
    assert_reason(parse_reason(ok.p, ok.n), TERN_PKG_R_OK);
    struct buf over = make_pkg(files, TERN_PKG_MAX_FILES + 1, NULL);
    assert_reason(parse_reason(over.p, over.n), TERN_PKG_R_OVER_CAP);
    free(ok.p);
    free(over.p);
}

/* ---- paths, order, layout ---- */

static enum tern_pkg_reason with_name(const char *name)
{
    struct pkgw_file files[2] = { { name, (const uint8_t *)"x", 1 }, base_files[1] };
    if (strcmp(name, "manifest.json") > 0) {
        files[0] = base_files[1];
        files[1] = (struct pkgw_file){ name, (const uint8_t *)"x", 1 };
    }
    struct buf b = make_pkg(files, 2, NULL);
    enum tern_pkg_reason r = parse_reason(b.p, b.n);
    free(b.p);
    return r;
}

static void test_bad_paths(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "../x", "..", ".", "/abs", "/", "a//b", "a/", "a/../b", "a/./b", "a/..", "./a",
        "with space", "back\\slash", "colon:", "star*", "q?", "tab\t", "new\nline",
        "\xc3\xa9t\xc3\xa9", "a\x7f", "%2e%2e",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *name = bad[i];
        enum tern_pkg_reason r = with_name(name);
        if (r != TERN_PKG_R_BAD_PATH)
            fail_msg("name '%s': %s (%s), expected bad-path", name, tern_pkg_reason_name(r),
                     last_detail);
    }
    char longest[TERN_PKG_NAME_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    longest[TERN_PKG_NAME_MAX] = '\0';
    assert_reason(with_name(longest), TERN_PKG_R_OK);
    static const char *const good[] = { ".hidden", "a..b", "a.b-c_d+e~f/g/h", "x/y/z/w.txt",
                                        "A-Z_0-9" };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_reason(with_name(good[i]), TERN_PKG_R_OK);
}

/* Names as the field holds them: empty, no NUL in 128 bytes, bytes after
 * the NUL. */
static void test_bad_name_fields(void **state)
{
    (void)state;
    for (int c = 0; c < 3; c++) {
        struct buf b = make_base();
        uint8_t *field = b.p + 64 + 2 * 144 + 16;   /* www/index.html */
        if (c == 0)
            memset(field, 0, TERN_PKG_NAME_FIELD);
        else if (c == 1)
            memset(field, 'w', TERN_PKG_NAME_FIELD);
        else
            field[TERN_PKG_NAME_FIELD - 1] = 'x';
        assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_BAD_PATH);
        free(b.p);
    }
}

static void test_duplicates_and_order(void **state)
{
    (void)state;
    struct pkgw_file twice[3] = { base_files[0], base_files[1], base_files[1] };
    struct buf b = make_pkg(twice, 3, NULL);
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_DUPLICATE_PATH);
    free(b.p);
    struct pkgw_file unsorted[3] = { base_files[1], base_files[0], base_files[2] };
    b = make_pkg(unsorted, 3, NULL);
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_UNSORTED);
    free(b.p);
    /* A file and a directory of the same name, adjacent or not. */
    static const char *const pairs[][2] = { { "www", "www/index.html" },
                                            { "a", "a/b/c" }, { "a/b", "a/b/c" } };
    for (size_t i = 0; i < 3; i++) {
        struct pkgw_file files[4] = {
            { pairs[i][0], (const uint8_t *)"x", 1 },
            { "a+", (const uint8_t *)"y", 1 },   /* sorts between "a" and "a/..." */
            { pairs[i][1], (const uint8_t *)"z", 1 },
            base_files[1],
        };
        struct pkgw_file sorted[4];
        size_t n = 0;
        for (int k = 0; k < 4; k++) {       /* insertion sort by strcmp */
            size_t j = n++;
            while (j > 0 && strcmp(sorted[j - 1].name, files[k].name) > 0) {
                sorted[j] = sorted[j - 1];
                j--;
            }
            sorted[j] = files[k];
        }
        b = make_pkg(sorted, 4, NULL);
        enum tern_pkg_reason r = parse_reason(b.p, b.n);
        if (r != TERN_PKG_R_DUPLICATE_PATH)
            fail_msg("%s and %s: %s (%s)", pairs[i][0], pairs[i][1], tern_pkg_reason_name(r),
                     last_detail);
        free(b.p);
    }
}

static void test_no_manifest(void **state)
{
    (void)state;
    struct pkgw_file files[2] = { base_files[0], base_files[2] };
    struct buf b = make_pkg(files, 2, NULL);
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_NO_MANIFEST);
    free(b.p);
}

static void test_layout(void **state)
{
    (void)state;
    /* File 1's offset one off, either way; file 1's size one more or one
     * less (the payload no longer adds up). */
    for (int c = 0; c < 4; c++) {
        struct buf b = make_base();
        uint8_t *e1 = b.p + 64 + 144;
        uint64_t off = base_files[0].size, size = base_files[1].size;
        if (c == 0)
            put_le64(e1, off + 1);
        else if (c == 1)
            put_le64(e1, off - 1);
        else if (c == 2)
            put_le64(e1 + 8, size + 1);
        else
            put_le64(e1 + 8, size - 1);
        enum tern_pkg_reason r = parse_reason(b.p, b.n);
        if (r != TERN_PKG_R_BAD_LAYOUT)
            fail_msg("case %d: %s (%s)", c, tern_pkg_reason_name(r), last_detail);
        free(b.p);
    }
    /* A size that would wrap the offset sum. */
    struct buf b = make_base();
    put_le64(b.p + 64 + 8, ~0ull);
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_BAD_LAYOUT);
    free(b.p);
    /* Sizes whose 64-bit sum wraps around to exactly the payload size:
     * file 0 would reach far past the package. */
    b = make_base();
    uint64_t payload = base_files[0].size + base_files[1].size + base_files[2].size;
    put_le64(b.p + 64 + 8, ~0ull - 4);
    put_le64(b.p + 64 + 144, ~0ull - 4);
    put_le64(b.p + 64 + 144 + 8, base_files[1].size + 5);
    put_le64(b.p + 64 + 288, ~0ull - 4 + base_files[1].size + 5);
    put_le64(b.p + 64 + 288 + 8, payload - base_files[1].size);
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_BAD_LAYOUT);
    free(b.p);
    /* The last file one byte short: a payload byte of no file. */
    b = make_base();
    put_le64(b.p + 64 + 288 + 8, base_files[2].size - 1);
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_BAD_LAYOUT);
    free(b.p);
}

/* ---- records ---- */

static void test_unknown_protected_tlv(void **state)
{
    (void)state;
    static const uint8_t unknown[][8] = {
        { 0x03, 0x00, 0x04, 0x00, 1, 2, 3, 4 },     /* type 0x0003 */
        { 0x01, 0x01, 0x04, 0x00, 1, 2, 3, 4 },     /* an unprotected type, here */
        { 0xff, 0xff, 0x04, 0x00, 1, 2, 3, 4 },
    };
    for (size_t i = 0; i < 3; i++) {
        struct pkgw_params p = base_params;
        p.extra_protected = unknown[i];
        p.extra_protected_len = sizeof(unknown[i]);
        struct buf b = make_pkg(base_files, BASE_FILES, &p);
        assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_UNKNOWN_PROTECTED_TLV);
        free(b.p);
    }
}

static void test_bad_protected_tlv(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[14];
        size_t len;
    } extra[] = {
        { { 0x02, 0x00, 0x08, 0x00, 1, 0, 0, 0, 0, 0, 0, 0 }, 12 },   /* a second counter */
        { { 0x01, 0x00 }, 2 },                                        /* a cut record header */
        { { 0x03, 0x00, 0x10, 0x00, 1 }, 5 },                          /* runs past the area */
    };
    for (size_t i = 0; i < 3; i++) {
        struct pkgw_params p = base_params;
        p.extra_protected = extra[i].bytes;
        p.extra_protected_len = extra[i].len;
        struct buf b = make_pkg(base_files, BASE_FILES, &p);
        assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_BAD_TLV);
        free(b.p);
    }
    /* A FILE_SHA256 naming the wrong file; of the wrong length; the
     * counter of the wrong length; the counter before a file hash. Each
     * rehashed so that only the record is wrong. */
    for (int c = 0; c < 4; c++) {
        struct buf b = make_base();
        size_t payload = base_files[0].size + base_files[1].size + base_files[2].size;
        uint8_t *area = b.p + 64 + 3 * 144 + payload;
        if (c == 0)
            put_le32(area + 40 + 4, 2);              /* record 1 says file 2 */
        else if (c == 1)
            put_le16(area + 2, 35);
        else if (c == 2)
            put_le16(area + 3 * 40 + 2, 7);
        else {
            uint8_t tmp[40];                         /* the counter before record 2 */
            memcpy(tmp, area + 80, 40);
            memcpy(area + 80, area + 120, 12);
            memcpy(area + 92, tmp, 40);
        }
        struct buf r = rehash(b);
        enum tern_pkg_reason got = parse_reason(r.p, r.n);
        if (got != TERN_PKG_R_BAD_TLV)
            fail_msg("case %d: %s (%s)", c, tern_pkg_reason_name(got), last_detail);
        free(r.p);
        free(b.p);
    }
}

/* Protected areas that lack a record: the counter, or a file's hash. */
static void test_missing_protected_tlv(void **state)
{
    (void)state;
    size_t payload = base_files[0].size + base_files[1].size + base_files[2].size;
    size_t area = 64 + 3 * 144 + payload;
    struct buf b = make_base();
    put_le32(b.p + TERN_PKG_OFF_PROTECTED_SIZE, 3 * 40);        /* the counter cut off */
    struct buf r = rehash(b);
    assert_reason(parse_reason(r.p, r.n), TERN_PKG_R_BAD_TLV);
    free(r.p);
    free(b.p);
    b = make_base();
    memmove(b.p + area + 80, b.p + area + 120, 12);             /* file 2's hash left out */
    put_le32(b.p + TERN_PKG_OFF_PROTECTED_SIZE, 2 * 40 + 12);
    r = rehash(b);
    assert_reason(parse_reason(r.p, r.n), TERN_PKG_R_BAD_TLV);
    free(r.p);
    free(b.p);
}

static uint8_t *rec(uint8_t *p, uint16_t type, uint16_t len, uint8_t fill)
{
    put_le16(p, type);
    put_le16(p + 2, len);
    memset(p + 4, fill, len);
    return p + 4 + len;
}

/* A malformed unprotected area, built from records after b's signed
 * bytes (the image hash is the real one where given). */
static enum tern_pkg_reason unprot_case(int c)
{
    struct buf b = make_base();
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    assert_int_equal(tern_pkg_parse(&pkg, b.p, b.n, &err), TERN_OK);
    uint8_t recs[400], *p = recs;
    if (c != 0) {
        p = rec(p, TERN_PKG_TLV_IMAGE_SHA256, 32, 0);
        memcpy(p - 32, pkg.image_sha256, 32);
    }
    if (c == 0)                                  /* no image hash, only a key id */
        p = rec(p, TERN_PKG_TLV_KEY_ID, 32, 1);
    else if (c == 1)                             /* a key id without a signature */
        p = rec(p, TERN_PKG_TLV_KEY_ID, 32, 1);
    else if (c == 2)                             /* a signature without a key id */
        p = rec(p, TERN_PKG_TLV_SIGNATURE, 70, 1);
    else if (c == 3) {                           /* a signature of 73 bytes */
        p = rec(p, TERN_PKG_TLV_KEY_ID, 32, 1);
        p = rec(p, TERN_PKG_TLV_SIGNATURE, 73, 1);
    } else if (c == 4)                           /* the image hash twice */
        p = rec(p, TERN_PKG_TLV_IMAGE_SHA256, 32, 1);
    else if (c == 5)                             /* an image hash of 31 bytes */
        p = rec(recs, TERN_PKG_TLV_IMAGE_SHA256, 31, 1);
    else if (c == 6) {                           /* a record after the signature */
        p = rec(p, TERN_PKG_TLV_KEY_ID, 32, 1);
        p = rec(p, TERN_PKG_TLV_SIGNATURE, 70, 1);
        p = rec(p, TERN_PKG_TLV_KEY_ID, 32, 1);
    } else if (c == 7)                           /* a record header cut */
        *p++ = 0x02;
    else if (c == 8)                             /* an unknown record */
        p = rec(p, 0x0104, 4, 1);
    else if (c == 9)                             /* a protected type, here */
        p = rec(p, TERN_PKG_TLV_SECURITY_COUNTER, 8, 0);
    else if (c == 10)                            /* an unknown record first */
        p = rec(recs, 0x0200, 0, 0);
    struct buf u = with_unprotected(b, recs, (size_t)(p - recs));
    if (c == 11)
        memcpy(u.p + pkg.signed_len, "TPKV", 4);     /* the area's magic */
    enum tern_pkg_reason r = parse_reason(u.p, u.n);
    free(u.p);
    free(b.p);
    return r;
}

static void test_unprotected_area(void **state)
{
    (void)state;
    static const enum tern_pkg_reason want[] = {
        TERN_PKG_R_BAD_TLV, TERN_PKG_R_BAD_TLV, TERN_PKG_R_BAD_TLV, TERN_PKG_R_BAD_TLV,
        TERN_PKG_R_BAD_TLV, TERN_PKG_R_BAD_TLV, TERN_PKG_R_BAD_TLV, TERN_PKG_R_BAD_TLV,
        TERN_PKG_R_UNKNOWN_UNPROTECTED_TLV, TERN_PKG_R_UNKNOWN_UNPROTECTED_TLV,
        TERN_PKG_R_UNKNOWN_UNPROTECTED_TLV, TERN_PKG_R_BAD_LAYOUT,
    };
    for (int c = 0; c < (int)(sizeof(want) / sizeof(want[0])); c++) {
        enum tern_pkg_reason r = unprot_case(c);
        if (r != want[c])
            fail_msg("case %d: %s (%s), expected %s", c, tern_pkg_reason_name(r), last_detail,
                     tern_pkg_reason_name(want[c]));
    }
}

/* ---- hashes ---- */

static void test_file_hash_each(void **state)
{
    (void)state;
    size_t payload_off = 64 + 3 * 144, off = 0;
    size_t payload = base_files[0].size + base_files[1].size + base_files[2].size;
    for (uint32_t i = 0; i < BASE_FILES; i++) {
        /* The stored hash wrong (then the image hash is rehashed, so only
         * the file's hash is wrong), and a byte of the file wrong. */
        struct buf b = make_base();
        b.p[payload_off + payload + i * 40 + 8 + 31] ^= 0x80;
        struct buf r = rehash(b);
        assert_reason(parse_reason(r.p, r.n), TERN_PKG_R_FILE_HASH);
        char want[32];
        snprintf(want, sizeof(want), "file %u (", (unsigned)i);
        assert_memory_equal(last_detail, want, strlen(want));
        free(r.p);
        free(b.p);
        b = make_base();
        b.p[payload_off + off + base_files[i].size - 1] ^= 1;
        r = rehash(b);
        assert_reason(parse_reason(r.p, r.n), TERN_PKG_R_FILE_HASH);
        assert_memory_equal(last_detail, want, strlen(want));
        free(r.p);
        free(b.p);
        off += base_files[i].size;
    }
}

/* tern_pkg_parse_image's result for p[0..n): both parses must agree
 * unless the full one refuses a file hash. */
static void same_as_parse(const uint8_t *p, size_t n, const char *what)
{
    struct tern_pkg a, b;
    struct tern_pkg_error ea, eb;
    tern_result ra = tern_pkg_parse(&a, p, n, &ea);
    tern_result rb = tern_pkg_parse_image(&b, p, n, &eb);
    if (ra == TERN_OK && rb == TERN_OK) {
        assert_memory_equal(&a, &b, sizeof(a));
        return;
    }
    if (ra != rb || ea.reason != eb.reason || strcmp(ea.detail, eb.detail) != 0)
        fail_msg("%s: parse %s (%s), parse_image %s (%s)", what, tern_pkg_reason_name(ea.reason),
                 ea.detail, tern_pkg_reason_name(eb.reason), eb.detail);
}

/* The boot's one-pass parse refuses what the full parse refuses, with
 * the same reason and detail: every byte of the known-answer package
 * flipped (a tampered file byte is still named as its file's hash). */
static void test_parse_image_refusals(void **state)
{
    (void)state;
    struct buf s = fixture("pkg/kat/kat.tpk");
    uint8_t *p = malloc(s.n);
    char what[48];
    for (size_t off = 0; off < s.n; off++) {
        memcpy(p, s.p, s.n);
        p[off] ^= 0x01;
        snprintf(what, sizeof(what), "byte %zu flipped", off);
        same_as_parse(p, s.n, what);
    }
    same_as_parse(s.p, s.n, "as it is");
    free(p);
    free(s.p);
}

/* One hash pass: a FILE_SHA256 record that is wrong inside signed bytes
 * whose image hash matches (what only its signer can make) is refused
 * by the full parse and not looked at by the boot's. */
static void test_parse_image_one_pass(void **state)
{
    (void)state;
    size_t payload_off = 64 + 3 * 144;
    size_t payload = base_files[0].size + base_files[1].size + base_files[2].size;
    struct buf b = make_base();
    b.p[payload_off + payload + 8 + 31] ^= 0x80;    /* file 0's stored hash */
    struct buf r = rehash(b);
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    assert_reason(parse_reason(r.p, r.n), TERN_PKG_R_FILE_HASH);
    assert_int_equal(tern_pkg_parse_image(&pkg, r.p, r.n, &err), TERN_OK);
    free(r.p);
    free(b.p);
}

static void test_image_hash(void **state)
{
    (void)state;
    struct buf b = make_base();
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    assert_int_equal(tern_pkg_parse(&pkg, b.p, b.n, &err), TERN_OK);
    b.p[pkg.signed_len + 8 + 4 + 5] ^= 4;           /* the stored image hash */
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_IMAGE_HASH);
    b.p[pkg.signed_len + 8 + 4 + 5] ^= 4;
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_OK);
    /* Each signed field outside the files: version, PAL ABI, counter. */
    static const size_t offs[] = { TERN_PKG_OFF_VERSION_MAJOR, TERN_PKG_OFF_VERSION_MINOR + 1,
                                   TERN_PKG_OFF_VERSION_PATCH, TERN_PKG_OFF_VERSION_BUILD + 3,
                                   TERN_PKG_OFF_PAL_MAJOR, TERN_PKG_OFF_PAL_MINOR };
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        b.p[offs[i]] ^= 1;
        assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_IMAGE_HASH);
        b.p[offs[i]] ^= 1;
    }
    b.p[pkg.signed_len - 1] ^= 1;                    /* the counter's top byte */
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_IMAGE_HASH);
    free(b.p);
}

/* Empty files and a package of only the manifest are fine. */
static void test_small_shapes(void **state)
{
    (void)state;
    struct pkgw_file files[3] = { { "empty", (const uint8_t *)"", 0 }, base_files[1],
                                  { "z", NULL, 0 } };
    struct buf b = make_pkg(files, 3, NULL);
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_OK);
    free(b.p);
    b = make_pkg(&base_files[1], 1, NULL);
    assert_reason(parse_reason(b.p, b.n), TERN_PKG_R_OK);
    free(b.p);
}

static void test_reason_names(void **state)
{
    (void)state;
    for (int r = 0; r < TERN_PKG_R_COUNT; r++) {
        const char *n = tern_pkg_reason_name((enum tern_pkg_reason)r);
        assert_string_not_equal(n, "unknown");
        for (int s = 0; s < r; s++)
            assert_string_not_equal(n, tern_pkg_reason_name((enum tern_pkg_reason)s));
    }
    assert_string_equal(tern_pkg_reason_name(TERN_PKG_R_COUNT), "unknown");
    assert_string_equal(tern_pkg_reason_name(TERN_PKG_R_PAL_TOO_NEW), "pal-abi-too-new");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat_fields),
        cmocka_unit_test(test_kat_unsigned),
        cmocka_unit_test(test_truncated_every_offset),
        cmocka_unit_test(test_trailing_byte),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_unsupported_version),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_longer_header),
        cmocka_unit_test(test_over_cap_fields),
        cmocka_unit_test(test_file_count_cap),
        cmocka_unit_test(test_bad_paths),
        cmocka_unit_test(test_bad_name_fields),
        cmocka_unit_test(test_duplicates_and_order),
        cmocka_unit_test(test_no_manifest),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_unknown_protected_tlv),
        cmocka_unit_test(test_bad_protected_tlv),
        cmocka_unit_test(test_missing_protected_tlv),
        cmocka_unit_test(test_unprotected_area),
        cmocka_unit_test(test_file_hash_each),
        cmocka_unit_test(test_image_hash),
        cmocka_unit_test(test_parse_image_refusals),
        cmocka_unit_test(test_parse_image_one_pass),
        cmocka_unit_test(test_small_shapes),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
