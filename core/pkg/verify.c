/*
 * Interface: see include/tern/pkg.h (tern_pkg_key_parse, tern_pkg_key_id,
 * tern_pkg_verify). ECDSA P-256 with mbedTLS: keys are read with its PK
 * parser and kept flat (the uncompressed point and the key id); a
 * verification loads the point into a transient ECDSA context, checks the
 * DER signature of the image hash and frees the context before it
 * returns. mbedTLS's bignums are its only allocations.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mbedtls/ecdsa.h"
#include "mbedtls/ecp.h"
#include "mbedtls/pk.h"
#include "mbedtls/sha256.h"

#include "pkg_priv.h"

#define KEY_TEXT_MAX 1024u

/* DER SubjectPublicKeyInfo of a P-256 key up to the point: SEQUENCE {
 * SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes, 0 unused
 * bits) ... }. */
static const uint8_t spki_prefix[TERN_PKG_SPKI_PREFIX_LEN] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};

void tern_pkg_key_id(const uint8_t point[TERN_PKG_POINT_LEN], uint8_t id[32])
{
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    (void)mbedtls_sha256_starts_ret(&c, 0);
    (void)mbedtls_sha256_update_ret(&c, spki_prefix, sizeof(spki_prefix));
    (void)mbedtls_sha256_update_ret(&c, point, TERN_PKG_POINT_LEN);
    (void)mbedtls_sha256_finish_ret(&c, id);
    mbedtls_sha256_free(&c);
}

static bool alloc_failed(int ret)
{
    return ret == MBEDTLS_ERR_PK_ALLOC_FAILED || ret == MBEDTLS_ERR_MPI_ALLOC_FAILED ||
           ret == MBEDTLS_ERR_ECP_ALLOC_FAILED;
}

/* The P-256 point of a parsed public key: 0, or an mbedTLS error or -1. */
static int p256_point(mbedtls_pk_context *pk, uint8_t point[TERN_PKG_POINT_LEN])
{
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY)
        return -1;
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
    if (ec->grp.id != MBEDTLS_ECP_DP_SECP256R1)
        return -1;
    size_t olen = 0;
    int ret = mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen,
                                             point, TERN_PKG_POINT_LEN);
    return ret != 0 ? ret : (olen == TERN_PKG_POINT_LEN ? 0 : -1);
}

tern_result tern_pkg_key_parse(struct tern_pkg_key *key, const void *data, size_t len,
                               struct tern_pkg_error *err)
{
    const uint8_t *in = data;
    uint8_t text[KEY_TEXT_MAX + 1];
    memset(key, 0, sizeof(*key));
    err->reason = TERN_PKG_R_OK;
    err->detail[0] = '\0';
    if (in == NULL || len == 0 || len > KEY_TEXT_MAX)
        return pkg_fail(err, TERN_PKG_R_BAD_KEY, "a public key of %zu bytes (1..%u)", len,
                        KEY_TEXT_MAX);
    if (in[0] == '-' && in[len - 1] != '\0') {
        memcpy(text, in, len);              /* mbedTLS reads PEM only NUL-terminated */
        text[len++] = '\0';
        in = text;
    }
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int ret = mbedtls_pk_parse_public_key(&pk, in, len);
    if (ret == 0)
        ret = p256_point(&pk, key->point);
    mbedtls_pk_free(&pk);
    if (alloc_failed(ret)) {
        (void)pkg_fail(err, TERN_PKG_R_NO_MEMORY, "out of memory reading a key");
        return TERN_ENOMEM;
    }
    if (ret != 0)
        return pkg_fail(err, TERN_PKG_R_BAD_KEY,
                        "not an ECDSA P-256 public key (PEM or DER SubjectPublicKeyInfo)");
    tern_pkg_key_id(key->point, key->id);
    return TERN_OK;
}

/* 0 when sig is key's ECDSA signature of hash, else mbedTLS's error. */
static int ecdsa_check(const struct tern_pkg_key *key, const uint8_t hash[32], const uint8_t *sig,
                       size_t sig_len)
{
    mbedtls_ecdsa_context ctx;
    mbedtls_ecdsa_init(&ctx);
    int ret = mbedtls_ecp_group_load(&ctx.grp, MBEDTLS_ECP_DP_SECP256R1);
    if (ret == 0)
        ret = mbedtls_ecp_point_read_binary(&ctx.grp, &ctx.Q, key->point, TERN_PKG_POINT_LEN);
    if (ret == 0)
        ret = mbedtls_ecp_check_pubkey(&ctx.grp, &ctx.Q);
    if (ret == 0)
        ret = mbedtls_ecdsa_read_signature(&ctx, hash, 32, sig, sig_len);
    mbedtls_ecdsa_free(&ctx);
    return ret;
}

static tern_result check_signature(const struct tern_pkg *pkg, const struct tern_pkg_trust *trust,
                                   struct tern_pkg_error *err)
{
    if (!pkg->is_signed)
        return trust->allow_unsigned ? TERN_OK
                                     : pkg_fail(err, TERN_PKG_R_UNSIGNED, "the package is not signed");
    const struct tern_pkg_key *key = NULL;
    for (size_t i = 0; i < trust->key_count && key == NULL; i++)
        if (memcmp(trust->keys[i].id, pkg->key_id, 32) == 0)
            key = &trust->keys[i];
    const uint8_t *id = pkg->key_id;
    if (key == NULL)
        return pkg_fail(err, TERN_PKG_R_UNKNOWN_KEY,
                        "signed by key %02x%02x%02x%02x%02x%02x%02x%02x..., not a trusted one",
                        id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]);
    int ret = ecdsa_check(key, pkg->image_sha256, pkg->data + pkg->sig_off, pkg->sig_len);
    if (alloc_failed(ret)) {
        (void)pkg_fail(err, TERN_PKG_R_NO_MEMORY, "out of memory checking the signature");
        return TERN_ENOMEM;
    }
    if (ret != 0)
        return pkg_fail(err, TERN_PKG_R_BAD_SIGNATURE,
                        "the signature does not verify with key %02x%02x%02x%02x...", id[0],
                        id[1], id[2], id[3]);
    return TERN_OK;
}

tern_result tern_pkg_verify(const struct tern_pkg *pkg, const struct tern_pkg_trust *trust,
                            struct tern_pkg_error *err)
{
    err->reason = TERN_PKG_R_OK;
    err->detail[0] = '\0';
    tern_result r = check_signature(pkg, trust, err);
    if (r != TERN_OK)
        return r;
    if (pkg->security_counter < trust->min_counter)
        return pkg_fail(err, TERN_PKG_R_COUNTER_TOO_OLD, "security counter %llu (at least %llu)",
                        (unsigned long long)pkg->security_counter,
                        (unsigned long long)trust->min_counter);
    if (pkg->pal_major > trust->pal_major ||
        (pkg->pal_major == trust->pal_major && pkg->pal_minor > trust->pal_minor))
        return pkg_fail(err, TERN_PKG_R_PAL_TOO_NEW, "built for PAL ABI %u.%u (this OS: %u.%u)",
                        (unsigned)pkg->pal_major, (unsigned)pkg->pal_minor,
                        (unsigned)trust->pal_major, (unsigned)trust->pal_minor);
    if (pkg->pal_major < trust->pal_major)
        return pkg_fail(err, TERN_PKG_R_PAL_TOO_OLD, "built for PAL ABI %u.%u (this OS: %u.%u)",
                        (unsigned)pkg->pal_major, (unsigned)pkg->pal_minor,
                        (unsigned)trust->pal_major, (unsigned)trust->pal_minor);
    return TERN_OK;
}
