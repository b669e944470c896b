/* Interface: see pkg_write.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mbedtls/sha256.h"

#include "storage/le.h"

#include "pkg_write.h"

#define RECORD (TERN_PKG_TLV_HEADER + TERN_PKG_FILE_SHA256_LEN)

static void put_record(uint8_t *p, uint16_t type, uint16_t len)
{
    put16(p, type);
    put16(p + 2, len);
}

static void write_header(uint8_t *h, size_t n, uint64_t payload, uint32_t prot,
                         const struct pkgw_params *p)
{
    memcpy(h, TERN_PKG_MAGIC, TERN_PKG_MAGIC_LEN);
    put16(h + TERN_PKG_OFF_HEADER_SIZE, TERN_PKG_HEADER_SIZE);
    put16(h + TERN_PKG_OFF_FORMAT_VERSION, TERN_PKG_FORMAT_VERSION);
    put32(h + TERN_PKG_OFF_FILE_COUNT, (uint32_t)n);
    put64(h + TERN_PKG_OFF_PAYLOAD_SIZE, payload);
    put32(h + TERN_PKG_OFF_PROTECTED_SIZE, prot);
    put16(h + TERN_PKG_OFF_VERSION_MAJOR, p->version.major);
    put16(h + TERN_PKG_OFF_VERSION_MINOR, p->version.minor);
    put16(h + TERN_PKG_OFF_VERSION_PATCH, p->version.patch);
    put32(h + TERN_PKG_OFF_VERSION_BUILD, p->version.build);
    put16(h + TERN_PKG_OFF_PAL_MAJOR, p->pal_major);
    put16(h + TERN_PKG_OFF_PAL_MINOR, p->pal_minor);
}

int pkgw_build(const struct pkgw_file *files, size_t n, const struct pkgw_params *p,
               uint8_t **out, size_t *out_len)
{
    uint64_t payload = 0;
    for (size_t i = 0; i < n; i++)
        payload += files[i].size;
    uint64_t prot = (uint64_t)n * RECORD + TERN_PKG_TLV_HEADER + 8 + p->extra_protected_len;
    if (n > UINT32_MAX || prot > UINT32_MAX)
        return -1;
    uint64_t table = TERN_PKG_HEADER_SIZE, data_off = table + (uint64_t)n * TERN_PKG_ENTRY_SIZE;
    uint64_t signed_len = data_off + payload + prot;
    uint8_t *buf = calloc(1, (size_t)signed_len);
    if (buf == NULL)
        return -1;
    write_header(buf, n, payload, (uint32_t)prot, p);
    uint64_t off = 0;
    uint8_t *rec = buf + data_off + payload;
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = buf + table + i * TERN_PKG_ENTRY_SIZE;
        put64(e, off);
        put64(e + 8, files[i].size);
        size_t nl = strlen(files[i].name);
        memcpy(e + 16, files[i].name, nl < TERN_PKG_NAME_FIELD ? nl : TERN_PKG_NAME_FIELD);
        if (files[i].size > 0)
            memcpy(buf + data_off + off, files[i].data, files[i].size);
        off += files[i].size;
        put_record(rec, TERN_PKG_TLV_FILE_SHA256, TERN_PKG_FILE_SHA256_LEN);
        put32(rec + TERN_PKG_TLV_HEADER, (uint32_t)i);
        (void)mbedtls_sha256_ret(files[i].data, files[i].size, rec + TERN_PKG_TLV_HEADER + 4, 0);
        rec += RECORD;
    }
    put_record(rec, TERN_PKG_TLV_SECURITY_COUNTER, 8);
    put64(rec + TERN_PKG_TLV_HEADER, p->security_counter);
    if (p->extra_protected_len > 0)
        memcpy(rec + TERN_PKG_TLV_HEADER + 8, p->extra_protected, p->extra_protected_len);
    int rc = pkgw_finish(buf, (size_t)signed_len, NULL, NULL, 0, out, out_len);
    free(buf);
    return rc;
}

int pkgw_finish(const uint8_t *signed_bytes, size_t signed_len, const uint8_t *key_id,
                const uint8_t *sig, size_t sig_len, uint8_t **out, size_t *out_len)
{
    if (sig_len > UINT16_MAX)
        return -1;
    size_t recs = TERN_PKG_TLV_HEADER + 32;
    if (key_id != NULL)
        recs += TERN_PKG_TLV_HEADER + 32 + TERN_PKG_TLV_HEADER + sig_len;
    size_t len = signed_len + TERN_PKG_UNPROT_HEADER + recs;
    uint8_t *buf = malloc(len);
    if (buf == NULL)
        return -1;
    memcpy(buf, signed_bytes, signed_len);
    uint8_t *u = buf + signed_len;
    memcpy(u, TERN_PKG_UNPROT_MAGIC, 4);
    put32(u + 4, (uint32_t)recs);
    u += TERN_PKG_UNPROT_HEADER;
    put_record(u, TERN_PKG_TLV_IMAGE_SHA256, 32);
    (void)mbedtls_sha256_ret(signed_bytes, signed_len, u + TERN_PKG_TLV_HEADER, 0);
    u += TERN_PKG_TLV_HEADER + 32;
    if (key_id != NULL) {
        put_record(u, TERN_PKG_TLV_KEY_ID, 32);
        memcpy(u + TERN_PKG_TLV_HEADER, key_id, 32);
        u += TERN_PKG_TLV_HEADER + 32;
        put_record(u, TERN_PKG_TLV_SIGNATURE, (uint16_t)sig_len);
        memcpy(u + TERN_PKG_TLV_HEADER, sig, sig_len);
    }
    *out = buf;
    *out_len = len;
    return 0;
}

uint64_t pkgw_signed_len(const uint8_t *pkg, size_t len)
{
    if (len < TERN_PKG_HEADER_SIZE)
        return 0;
    return (uint64_t)le16(pkg + TERN_PKG_OFF_HEADER_SIZE) +
           (uint64_t)le32(pkg + TERN_PKG_OFF_FILE_COUNT) * TERN_PKG_ENTRY_SIZE +
           le64(pkg + TERN_PKG_OFF_PAYLOAD_SIZE) + le32(pkg + TERN_PKG_OFF_PROTECTED_SIZE);
}
