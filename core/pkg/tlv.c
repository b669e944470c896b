/*
 * Interface: see pkg_priv.h (pkg_read_protected, pkg_read_unprotected).
 * The two TLV areas (docs/packages.md): records of u16 type, u16 length
 * and the value, back to back. Each area admits a fixed sequence of known
 * records; an unknown type is refused (in the protected area because it
 * is signed and not understood, in the unprotected one because nothing
 * unsigned may carry meaning), a known one out of place or of the wrong
 * length is bad-tlv.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pkg_priv.h"

struct tlv {
    uint16_t type, length;
    const uint8_t *value;
};

/* The record at area[*pos] of an area of size bytes, advancing *pos. */
static tern_result next_record(const uint8_t *area, uint64_t size, uint64_t *pos, struct tlv *t,
                               const char *which, struct tern_pkg_error *err)
{
    uint64_t left = size - *pos;
    if (left < TERN_PKG_TLV_HEADER)
        return pkg_fail(err, TERN_PKG_R_BAD_TLV, "%s area: a record header is cut at byte %llu",
                        which, (unsigned long long)*pos);
    t->type = le16(area + *pos);
    t->length = le16(area + *pos + 2);
    if (t->length > left - TERN_PKG_TLV_HEADER)
        return pkg_fail(err, TERN_PKG_R_BAD_TLV,
                        "%s area: record 0x%04x of %u bytes runs past the area", which,
                        (unsigned)t->type, (unsigned)t->length);
    t->value = area + *pos + TERN_PKG_TLV_HEADER;
    *pos += TERN_PKG_TLV_HEADER + (uint64_t)t->length;
    return TERN_OK;
}

static tern_result file_hash_record(struct tern_pkg *pkg, const struct tlv *t, uint32_t *files,
                                    bool counter_seen, struct tern_pkg_error *err)
{
    if (counter_seen || *files >= pkg->file_count)
        return pkg_fail(err, TERN_PKG_R_BAD_TLV, "FILE_SHA256 record %u out of place",
                        (unsigned)*files);
    if (t->length != TERN_PKG_FILE_SHA256_LEN || le32(t->value) != *files)
        return pkg_fail(err, TERN_PKG_R_BAD_TLV,
                        "FILE_SHA256 record %u: length %u or index %u wrong", (unsigned)*files,
                        (unsigned)t->length,
                        t->length >= 4 ? (unsigned)le32(t->value) : 0u);
    (*files)++;
    return TERN_OK;
}

tern_result pkg_read_protected(struct tern_pkg *pkg, struct tern_pkg_error *err)
{
    const uint8_t *area = pkg->data + pkg->protected_off;
    uint64_t pos = 0;
    uint32_t files = 0;
    bool counter_seen = false;
    while (pos < pkg->protected_size) {
        struct tlv t;
        tern_result r = next_record(area, pkg->protected_size, &pos, &t, "protected", err);
        if (r != TERN_OK)
            return r;
        if (t.type == TERN_PKG_TLV_FILE_SHA256) {
            r = file_hash_record(pkg, &t, &files, counter_seen, err);
            if (r != TERN_OK)
                return r;
        } else if (t.type == TERN_PKG_TLV_SECURITY_COUNTER) {
            if (counter_seen || files != pkg->file_count || t.length != 8)
                return pkg_fail(err, TERN_PKG_R_BAD_TLV,
                                "SECURITY_COUNTER repeated, before the file hashes or not 8 bytes");
            pkg->security_counter = le64(t.value);
            counter_seen = true;
        } else {
            return pkg_fail(err, TERN_PKG_R_UNKNOWN_PROTECTED_TLV,
                            "unknown record type 0x%04x (%u bytes) in the protected area",
                            (unsigned)t.type, (unsigned)t.length);
        }
    }
    if (files != pkg->file_count || !counter_seen)
        return pkg_fail(err, TERN_PKG_R_BAD_TLV,
                        "protected area: %u of %u FILE_SHA256 records, %s SECURITY_COUNTER",
                        (unsigned)files, (unsigned)pkg->file_count, counter_seen ? "a" : "no");
    return TERN_OK;
}

/* What the unprotected records so far allow next. */
enum unprot_state { WANT_IMAGE, AFTER_IMAGE, WANT_SIGNATURE, AFTER_SIGNATURE };

static tern_result unprot_record(struct tern_pkg *pkg, const struct tlv *t,
                                 enum unprot_state *st, struct tern_pkg_error *err)
{
    if (t->type == TERN_PKG_TLV_IMAGE_SHA256) {
        if (*st != WANT_IMAGE || t->length != 32)
            return pkg_fail(err, TERN_PKG_R_BAD_TLV, "IMAGE_SHA256 repeated or not 32 bytes");
        memcpy(pkg->image_sha256, t->value, 32);
        *st = AFTER_IMAGE;
    } else if (t->type == TERN_PKG_TLV_KEY_ID) {
        if (*st != AFTER_IMAGE || t->length != 32)
            return pkg_fail(err, TERN_PKG_R_BAD_TLV,
                            "KEY_ID out of place (it follows IMAGE_SHA256) or not 32 bytes");
        memcpy(pkg->key_id, t->value, 32);
        *st = WANT_SIGNATURE;
    } else if (t->type == TERN_PKG_TLV_SIGNATURE) {
        if (*st != WANT_SIGNATURE || t->length < TERN_PKG_SIG_MIN || t->length > TERN_PKG_SIG_MAX)
            return pkg_fail(err, TERN_PKG_R_BAD_TLV,
                            "SIGNATURE out of place (it follows KEY_ID) or not %u..%u bytes",
                            TERN_PKG_SIG_MIN, TERN_PKG_SIG_MAX);
        pkg->sig_off = (uint64_t)(t->value - pkg->data);
        pkg->sig_len = t->length;
        pkg->is_signed = true;
        *st = AFTER_SIGNATURE;
    } else {
        return pkg_fail(err, TERN_PKG_R_UNKNOWN_UNPROTECTED_TLV,
                        "unknown record type 0x%04x (%u bytes) in the unprotected area",
                        (unsigned)t->type, (unsigned)t->length);
    }
    return TERN_OK;
}

tern_result pkg_read_unprotected(struct tern_pkg *pkg, struct tern_pkg_error *err)
{
    const uint8_t *hdr = pkg->data + pkg->signed_len;
    if (memcmp(hdr, TERN_PKG_UNPROT_MAGIC, 4) != 0)
        return pkg_fail(err, TERN_PKG_R_BAD_LAYOUT, "no unprotected area after the signed bytes");
    uint32_t size = le32(hdr + 4);
    if (size > TERN_PKG_MAX_UNPROTECTED)
        return pkg_fail(err, TERN_PKG_R_OVER_CAP, "unprotected area of %u bytes (at most %u)",
                        (unsigned)size, TERN_PKG_MAX_UNPROTECTED);
    uint64_t start = pkg->signed_len + TERN_PKG_UNPROT_HEADER, left = pkg->len - start;
    if (left < size)
        return pkg_fail(err, TERN_PKG_R_TRUNCATED, "%zu bytes: the unprotected area ends at %llu",
                        pkg->len, (unsigned long long)(start + size));
    if (left > size)
        return pkg_fail(err, TERN_PKG_R_BAD_LAYOUT, "%llu bytes after the unprotected area",
                        (unsigned long long)(left - size));
    enum unprot_state st = WANT_IMAGE;
    uint64_t pos = 0;
    while (pos < size) {
        struct tlv t;
        tern_result r = next_record(pkg->data + start, size, &pos, &t, "unprotected", err);
        if (r == TERN_OK)
            r = unprot_record(pkg, &t, &st, err);
        if (r != TERN_OK)
            return r;
    }
    if (st == WANT_IMAGE || st == WANT_SIGNATURE)
        return pkg_fail(err, TERN_PKG_R_BAD_TLV, "unprotected area: %s",
                        st == WANT_IMAGE ? "no IMAGE_SHA256" : "KEY_ID without SIGNATURE");
    return TERN_OK;
}
