/*
 * Interface: see pkg_priv.h (pkg_check_table). Each file table entry in
 * order: the name (NUL-padded, path rules), strictly ascending names, no
 * name that is also another's directory, files packed back to back in
 * table order filling the payload exactly; then manifest.json present.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pkg_priv.h"

/* The name in entry e: its length when the field holds 1..127 bytes and
 * then only NULs, else 0 (including a field with no NUL at all). */
static size_t entry_name_len(const uint8_t *e)
{
    const uint8_t *field = e + 16;
    const uint8_t *nul = memchr(field, 0, TERN_PKG_NAME_FIELD);
    if (nul == NULL)
        return 0;
    size_t n = (size_t)(nul - field);
    for (size_t i = n; i < TERN_PKG_NAME_FIELD; i++)
        if (field[i] != 0)
            return 0;
    return n;
}

/* True when a directory prefix of name (the part before one of its '/')
 * is itself a file of the table: binary search over the sorted names. */
static bool prefix_is_file(const struct tern_pkg *pkg, const char *name, size_t len)
{
    char dir[TERN_PKG_NAME_MAX + 1];
    for (size_t i = 0; i < len; i++) {
        if (name[i] != '/')
            continue;
        memcpy(dir, name, i);
        dir[i] = '\0';
        uint32_t index;
        if (pkg_find_index(pkg, dir, &index))
            return true;
    }
    return false;
}

static tern_result check_entry(const struct tern_pkg *pkg, uint32_t i, uint64_t *next_off,
                               struct tern_pkg_error *err)
{
    const uint8_t *e = pkg_entry(pkg, i);
    const char *name = (const char *)(e + 16);
    size_t len = entry_name_len(e);
    if (len == 0 || !tern_pkg_path_ok(name, len))
        return pkg_fail(err, TERN_PKG_R_BAD_PATH, "file %u: name is not a relative path of "
                        "1..127 bytes of [A-Za-z0-9._+~-] without empty, '.' or '..' parts",
                        (unsigned)i);
    if (i > 0) {
        int c = strcmp((const char *)(pkg_entry(pkg, i - 1) + 16), name);
        if (c == 0)
            return pkg_fail(err, TERN_PKG_R_DUPLICATE_PATH, "file %u: %s twice", (unsigned)i,
                            name);
        if (c > 0)
            return pkg_fail(err, TERN_PKG_R_UNSORTED, "file %u: %s after a greater name",
                            (unsigned)i, name);
    }
    uint64_t off = le64(e), size = le64(e + 8);
    if (off != *next_off)
        return pkg_fail(err, TERN_PKG_R_BAD_LAYOUT, "file %u (%s): offset %llu, expected %llu",
                        (unsigned)i, name, (unsigned long long)off,
                        (unsigned long long)*next_off);
    if (size > pkg->payload_size - off)     /* off <= payload_size: no underflow */
        return pkg_fail(err, TERN_PKG_R_BAD_LAYOUT, "file %u (%s): %llu bytes past the payload",
                        (unsigned)i, name, (unsigned long long)size);
    *next_off = off + size;
    return TERN_OK;
}

tern_result pkg_check_table(const struct tern_pkg *pkg, struct tern_pkg_error *err)
{
    uint64_t next_off = 0;
    for (uint32_t i = 0; i < pkg->file_count; i++) {
        tern_result r = check_entry(pkg, i, &next_off, err);
        if (r != TERN_OK)
            return r;
    }
    if (next_off != pkg->payload_size)
        return pkg_fail(err, TERN_PKG_R_BAD_LAYOUT, "files fill %llu of %llu payload bytes",
                        (unsigned long long)next_off, (unsigned long long)pkg->payload_size);
    /* Names are valid and sorted now, so the searches below are sound. */
    for (uint32_t i = 0; i < pkg->file_count; i++) {
        const char *name = (const char *)(pkg_entry(pkg, i) + 16);
        if (prefix_is_file(pkg, name, strlen(name)))
            return pkg_fail(err, TERN_PKG_R_DUPLICATE_PATH,
                            "file %u: %s is inside a directory that is also a file",
                            (unsigned)i, name);
    }
    uint32_t index;
    if (!pkg_find_index(pkg, TERN_PKG_MANIFEST_NAME, &index))
        return pkg_fail(err, TERN_PKG_R_NO_MANIFEST, "no %s", TERN_PKG_MANIFEST_NAME);
    return TERN_OK;
}
