/*
 * Interface: see include/tern/pkg.h (tern_pkg_parse, tern_pkg_file_at,
 * tern_pkg_find). The header and the regions it announces; the table,
 * the records and the hashes are in table.c, tlv.c and hash.c.
 *
 * Every size read from the file is capped before it is used, and each
 * region's end is a sum of capped terms in 64 bits, so no offset
 * overflows; the buffer length is compared with the end of every region
 * before a byte of it is read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/fmt.h"

#include "pkg_priv.h"

tern_result pkg_fail(struct tern_pkg_error *err, enum tern_pkg_reason reason, const char *fmt, ...)
{
    va_list ap;
    err->reason = reason;
    va_start(ap, fmt);
    tern_vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    return TERN_EINVAL;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* The fixed header: magic, version, sizes within their caps. */
static tern_result read_header(struct tern_pkg *pkg, struct tern_pkg_error *err)
{
    const uint8_t *d = pkg->data;
    if (pkg->len < TERN_PKG_MAGIC_LEN)
        return pkg_fail(err, TERN_PKG_R_TRUNCATED, "%zu bytes: shorter than the magic", pkg->len);
    if (memcmp(d, TERN_PKG_MAGIC, TERN_PKG_MAGIC_LEN) != 0)
        return pkg_fail(err, TERN_PKG_R_BAD_MAGIC, "not a Tern package (no .tpk magic)");
    if (pkg->len < TERN_PKG_OFF_FILE_COUNT)
        return pkg_fail(err, TERN_PKG_R_TRUNCATED, "%zu bytes: the header is cut", pkg->len);
    pkg->format_version = le16(d + TERN_PKG_OFF_FORMAT_VERSION);
    if (pkg->format_version != TERN_PKG_FORMAT_VERSION)
        return pkg_fail(err, TERN_PKG_R_UNSUPPORTED_VERSION, "format version %u (this reader: %u)",
                        (unsigned)pkg->format_version, TERN_PKG_FORMAT_VERSION);
    if (pkg->len < TERN_PKG_HEADER_SIZE)
        return pkg_fail(err, TERN_PKG_R_TRUNCATED, "%zu bytes: the header is cut", pkg->len);
    pkg->header_size = le16(d + TERN_PKG_OFF_HEADER_SIZE);
    pkg->file_count = le32(d + TERN_PKG_OFF_FILE_COUNT);
    pkg->payload_size = le64(d + TERN_PKG_OFF_PAYLOAD_SIZE);
    pkg->protected_size = le32(d + TERN_PKG_OFF_PROTECTED_SIZE);
    if (pkg->file_count > TERN_PKG_MAX_FILES)
        return pkg_fail(err, TERN_PKG_R_OVER_CAP, "%u files (at most %u)",
                        (unsigned)pkg->file_count, TERN_PKG_MAX_FILES);
    if (pkg->payload_size > TERN_PKG_MAX_PAYLOAD)
        return pkg_fail(err, TERN_PKG_R_OVER_CAP, "payload of %llu bytes (at most %u)",
                        (unsigned long long)pkg->payload_size, TERN_PKG_MAX_PAYLOAD);
    if (pkg->protected_size > TERN_PKG_MAX_PROTECTED)
        return pkg_fail(err, TERN_PKG_R_OVER_CAP, "protected area of %u bytes (at most %u)",
                        (unsigned)pkg->protected_size, TERN_PKG_MAX_PROTECTED);
    if (pkg->header_size < TERN_PKG_HEADER_SIZE || pkg->header_size > TERN_PKG_HEADER_MAX ||
        pkg->header_size % 8 != 0)
        return pkg_fail(err, TERN_PKG_R_BAD_HEADER, "header size %u (64..1024, a multiple of 8)",
                        (unsigned)pkg->header_size);
    if (pkg->file_count == 0)
        return pkg_fail(err, TERN_PKG_R_BAD_HEADER, "no files");
    if (le32(d + TERN_PKG_OFF_FLAGS) != 0)
        return pkg_fail(err, TERN_PKG_R_BAD_HEADER, "flags 0x%x (version 1 defines none)",
                        (unsigned)le32(d + TERN_PKG_OFF_FLAGS));
    if (!all_zero(d + 38, 2) || !all_zero(d + 48, 16))
        return pkg_fail(err, TERN_PKG_R_BAD_HEADER, "reserved header bytes are not zero");
    pkg->version.major = le16(d + TERN_PKG_OFF_VERSION_MAJOR);
    pkg->version.minor = le16(d + TERN_PKG_OFF_VERSION_MINOR);
    pkg->version.patch = le16(d + TERN_PKG_OFF_VERSION_PATCH);
    pkg->version.build = le32(d + TERN_PKG_OFF_VERSION_BUILD);
    pkg->pal_major = le16(d + TERN_PKG_OFF_PAL_MAJOR);
    pkg->pal_minor = le16(d + TERN_PKG_OFF_PAL_MINOR);
    return TERN_OK;
}

/* The regions' offsets (capped terms: no overflow) and that the buffer
 * holds them up to the unprotected area's header. */
static tern_result place_regions(struct tern_pkg *pkg, struct tern_pkg_error *err)
{
    pkg->table_off = pkg->header_size;
    pkg->payload_off = pkg->table_off + (uint64_t)pkg->file_count * TERN_PKG_ENTRY_SIZE;
    pkg->protected_off = pkg->payload_off + pkg->payload_size;
    pkg->signed_len = pkg->protected_off + pkg->protected_size;
    uint64_t need = pkg->signed_len + TERN_PKG_UNPROT_HEADER;
    if ((uint64_t)pkg->len < need)
        return pkg_fail(err, TERN_PKG_R_TRUNCATED, "%zu bytes: the header announces at least %llu",
                        pkg->len, (unsigned long long)need);
    return TERN_OK;
}

/* tern_pkg_parse (every_file) and tern_pkg_parse_image. */
static tern_result parse(struct tern_pkg *pkg, const void *data, size_t len, bool every_file,
                         struct tern_pkg_error *err)
{
    memset(pkg, 0, sizeof(*pkg));
    err->reason = TERN_PKG_R_OK;
    err->detail[0] = '\0';
    pkg->data = data;
    pkg->len = data != NULL ? len : 0;
    tern_result r = read_header(pkg, err);
    if (r == TERN_OK)
        r = place_regions(pkg, err);
    if (r == TERN_OK)
        r = pkg_check_table(pkg, err);
    if (r == TERN_OK)
        r = pkg_read_protected(pkg, err);
    if (r == TERN_OK)
        r = pkg_read_unprotected(pkg, err);
    if (r == TERN_OK)
        r = every_file ? pkg_check_hashes(pkg, err) : pkg_check_image(pkg, err);
    return r;
}

tern_result tern_pkg_parse(struct tern_pkg *pkg, const void *data, size_t len,
                           struct tern_pkg_error *err)
{
    return parse(pkg, data, len, true, err);
}

tern_result tern_pkg_parse_image(struct tern_pkg *pkg, const void *data, size_t len,
                                 struct tern_pkg_error *err)
{
    return parse(pkg, data, len, false, err);
}

tern_result tern_pkg_file_at(const struct tern_pkg *pkg, uint32_t index,
                             struct tern_pkg_file *out)
{
    if (index >= pkg->file_count)
        return TERN_ENOENT;
    const uint8_t *e = pkg_entry(pkg, index);
    out->name = (const char *)(e + 16);
    out->name_len = strlen(out->name);      /* the parser saw a NUL in the field */
    out->data = pkg->data + pkg->payload_off + le64(e);
    out->size = le64(e + 8);
    out->sha256 = pkg_file_hash(pkg, index);
    out->index = index;
    return TERN_OK;
}

bool pkg_find_index(const struct tern_pkg *pkg, const char *name, uint32_t *index)
{
    size_t n = strlen(name);
    if (n == 0 || n > TERN_PKG_NAME_MAX)
        return false;
    uint32_t lo = 0, hi = pkg->file_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        /* Names are NUL-padded fields, so comparing n+1 bytes compares
         * whole names in the table's byte order. */
        int c = memcmp(pkg_entry(pkg, mid) + 16, name, n + 1);
        if (c == 0) {
            *index = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

tern_result tern_pkg_find(const struct tern_pkg *pkg, const char *name,
                          struct tern_pkg_file *out)
{
    uint32_t index;
    if (!pkg_find_index(pkg, name, &index))
        return TERN_ENOENT;
    return tern_pkg_file_at(pkg, index, out);
}
