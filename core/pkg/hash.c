/*
 * Interface: see pkg_priv.h (pkg_check_hashes). One pass over the signed
 * bytes: header and table into the image hash; each file, a chunk at a
 * time, into both its own hash and the image hash (while the chunk is in
 * the cache); then the protected records. Every file is compared with its
 * FILE_SHA256 as it ends (the first that differs is named), the image
 * with IMAGE_SHA256 at the end. mbedTLS's SHA-256 contexts live on the
 * stack: no heap.
 *
 * pkg_check_image is the boot's check (tern_pkg_parse_image): only the
 * image hash, one SHA-256 pass, half the work. The files' bytes are
 * inside the signed bytes, so a matching image hash covers them; their
 * FILE_SHA256 records can then disagree only if the signer wrote them so,
 * which tern_pkg_parse (tern-pkg, the update endpoint) refuses. A
 * mismatch takes the full pass, so every refusal has the same reason and
 * detail as tern_pkg_parse gives.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mbedtls/sha256.h"

#include "pkg_priv.h"

#define CHUNK 4096u

static void hash_file(mbedtls_sha256_context *image, const uint8_t *p, uint64_t n,
                      uint8_t out[32])
{
    mbedtls_sha256_context file;
    mbedtls_sha256_init(&file);
    (void)mbedtls_sha256_starts_ret(&file, 0);
    while (n > 0) {
        size_t k = n > CHUNK ? CHUNK : (size_t)n;
        (void)mbedtls_sha256_update_ret(&file, p, k);
        (void)mbedtls_sha256_update_ret(image, p, k);
        p += k;
        n -= k;
    }
    (void)mbedtls_sha256_finish_ret(&file, out);
    mbedtls_sha256_free(&file);
}

tern_result pkg_check_hashes(const struct tern_pkg *pkg, struct tern_pkg_error *err)
{
    mbedtls_sha256_context image;
    mbedtls_sha256_init(&image);
    (void)mbedtls_sha256_starts_ret(&image, 0);
    (void)mbedtls_sha256_update_ret(&image, pkg->data, (size_t)pkg->payload_off);
    tern_result r = TERN_OK;
    for (uint32_t i = 0; i < pkg->file_count && r == TERN_OK; i++) {
        struct tern_pkg_file f;
        uint8_t sum[32];
        (void)tern_pkg_file_at(pkg, i, &f);
        hash_file(&image, f.data, f.size, sum);
        if (memcmp(sum, f.sha256, 32) != 0)
            r = pkg_fail(err, TERN_PKG_R_FILE_HASH, "file %u (%s): sha-256 mismatch",
                         (unsigned)i, f.name);
    }
    if (r == TERN_OK) {
        uint8_t sum[32];
        (void)mbedtls_sha256_update_ret(&image, pkg->data + pkg->protected_off,
                                        pkg->protected_size);
        (void)mbedtls_sha256_finish_ret(&image, sum);
        if (memcmp(sum, pkg->image_sha256, 32) != 0)
            r = pkg_fail(err, TERN_PKG_R_IMAGE_HASH,
                         "sha-256 of the %llu signed bytes does not match IMAGE_SHA256",
                         (unsigned long long)pkg->signed_len);
    }
    mbedtls_sha256_free(&image);
    return r;
}

tern_result pkg_check_image(const struct tern_pkg *pkg, struct tern_pkg_error *err)
{
    uint8_t sum[32];
    mbedtls_sha256_context image;
    mbedtls_sha256_init(&image);
    (void)mbedtls_sha256_starts_ret(&image, 0);
    (void)mbedtls_sha256_update_ret(&image, pkg->data, (size_t)pkg->signed_len);
    (void)mbedtls_sha256_finish_ret(&image, sum);
    mbedtls_sha256_free(&image);
    if (memcmp(sum, pkg->image_sha256, 32) == 0)
        return TERN_OK;
    tern_result r = pkg_check_hashes(pkg, err);     /* the refusal's reason, as parse names it */
    return r != TERN_OK ? r
                        : pkg_fail(err, TERN_PKG_R_IMAGE_HASH,
                                   "sha-256 of the %llu signed bytes does not match IMAGE_SHA256",
                                   (unsigned long long)pkg->signed_len);
}
