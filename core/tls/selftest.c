/*
 * Interface: see include/tern/tls.h (tern_tls_selftest): the crypto
 * self-test that gates HTTPS on every backend (core/boot/https.c) and
 * that the metal kernel also runs at boot for a fw_cfg certificate.
 */
#include <stdbool.h>
#include <string.h>

#include "mbedtls/chachapoly.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/ecdsa.h"
#include "mbedtls/gcm.h"
#include "mbedtls/sha256.h"

#include "tern/os.h"
#include "tern/tls.h"

/* FIPS 180-2 B.1: SHA-256("abc"). */
static const uint8_t sha256_abc[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

/* GCM specification (McGrew/Viega) test case 2: zero key, IV and block. */
static const uint8_t gcm2_ct[16] = {
    0x03, 0x88, 0xda, 0xce, 0x60, 0xb6, 0xa3, 0x92, 0xf3, 0x28, 0xc2, 0xb9, 0x71, 0xb2, 0xfe, 0x78,
};
static const uint8_t gcm2_tag[16] = {
    0xab, 0x6e, 0x47, 0xd4, 0x2c, 0xec, 0x13, 0xbd, 0xf5, 0x3a, 0x67, 0xb2, 0x12, 0x57, 0xbd, 0xdf,
};

/* RFC 8439 2.8.2: the AEAD_CHACHA20_POLY1305 example. */
static const char cp_plain[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
                               "only one tip for the future, sunscreen would be it.";
static const uint8_t cp_nonce[12] = { 0x07, 0x00, 0x00, 0x00, 0x40, 0x41,
                                      0x42, 0x43, 0x44, 0x45, 0x46, 0x47 };
static const uint8_t cp_aad[12] = { 0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1,
                                    0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7 };
static const uint8_t cp_ct16[16] = {
    0xd3, 0x1a, 0x8d, 0x34, 0x64, 0x8e, 0x60, 0xdb, 0x7b, 0x86, 0xaf, 0xbc, 0x53, 0xef, 0x7e, 0xc2,
};
static const uint8_t cp_tag[16] = {
    0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a, 0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91,
};

static const char *kat_sha256(void)
{
    uint8_t out[32];
    if (mbedtls_sha256_ret((const unsigned char *)"abc", 3, out, 0) != 0 ||
        memcmp(out, sha256_abc, sizeof out) != 0)
        return "sha256";
    return NULL;
}

static const char *kat_gcm(void)
{
    static const uint8_t zero[16];
    uint8_t ct[16], tag[16];
    mbedtls_gcm_context gcm;
    mbedtls_gcm_init(&gcm);
    int rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, zero, 128);
    if (rc == 0)
        rc = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, 16, zero, 12, NULL, 0, zero,
                                       ct, 16, tag);
    mbedtls_gcm_free(&gcm);
    if (rc != 0 || memcmp(ct, gcm2_ct, 16) != 0 || memcmp(tag, gcm2_tag, 16) != 0)
        return "aes-128-gcm";
    return NULL;
}

static const char *kat_chachapoly(void)
{
    uint8_t key[32], ct[sizeof cp_plain - 1], back[sizeof cp_plain - 1], tag[16];
    for (unsigned i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(0x80 + i);
    mbedtls_chachapoly_context cp;
    mbedtls_chachapoly_init(&cp);
    int rc = mbedtls_chachapoly_setkey(&cp, key);
    if (rc == 0)
        rc = mbedtls_chachapoly_encrypt_and_tag(&cp, sizeof ct, cp_nonce, cp_aad, sizeof cp_aad,
                                                (const unsigned char *)cp_plain, ct, tag);
    bool ok = rc == 0 && memcmp(ct, cp_ct16, 16) == 0 && memcmp(tag, cp_tag, 16) == 0;
    /* And back, then once more with one ciphertext bit flipped. */
    if (ok)
        ok = mbedtls_chachapoly_auth_decrypt(&cp, sizeof ct, cp_nonce, cp_aad, sizeof cp_aad, tag,
                                             ct, back) == 0 &&
             memcmp(back, cp_plain, sizeof back) == 0;
    if (ok) {
        ct[7] ^= 1;
        ok = mbedtls_chachapoly_auth_decrypt(&cp, sizeof ct, cp_nonce, cp_aad, sizeof cp_aad, tag,
                                             ct, back) == MBEDTLS_ERR_CHACHAPOLY_AUTH_FAILED;
    }
    mbedtls_chachapoly_free(&cp);
    return ok ? NULL : "chacha20-poly1305";
}

static int entropy_cb(void *ctx, unsigned char *out, size_t len)
{
    struct tern_os *os = ctx;
    if (tern_entropy(os, out, len, "tls", "the self-test DRBG's seed") != TERN_OK)
        return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    return 0;
}

/* ECDSA P-256 on a DRBG seeded from the platform: a fresh key signs a
 * SHA-256 digest; the signature must verify, and must not verify for the
 * digest with one bit flipped. */
static const char *ecdsa_p256(struct tern_os *os)
{
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ecdsa_context ec;
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ecdsa_init(&ec);
    const char *bad = NULL;
    uint8_t sig[MBEDTLS_ECDSA_MAX_LEN];
    size_t sig_len = 0;
    static const char pers[] = "tern-tls-selftest";
    if (mbedtls_ctr_drbg_seed(&drbg, entropy_cb, os, (const unsigned char *)pers,
                              sizeof pers - 1) != 0)
        bad = "drbg-seed";
    else if (mbedtls_ecdsa_genkey(&ec, MBEDTLS_ECP_DP_SECP256R1, mbedtls_ctr_drbg_random,
                                  &drbg) != 0)
        bad = "ecdsa-genkey";
    else if (mbedtls_ecdsa_write_signature(&ec, MBEDTLS_MD_SHA256, sha256_abc, 32, sig, &sig_len,
                                           mbedtls_ctr_drbg_random, &drbg) != 0)
        bad = "ecdsa-sign";
    else if (mbedtls_ecdsa_read_signature(&ec, sha256_abc, 32, sig, sig_len) != 0)
        bad = "ecdsa-verify";
    else {
        uint8_t h[32];
        memcpy(h, sha256_abc, 32);
        h[31] ^= 1;
        if (mbedtls_ecdsa_read_signature(&ec, h, 32, sig, sig_len) !=
            MBEDTLS_ERR_ECP_VERIFY_FAILED)
            bad = "ecdsa-verify-tampered";
    }
    mbedtls_ecdsa_free(&ec);
    mbedtls_ctr_drbg_free(&drbg);
    return bad;
}

tern_result tern_tls_selftest(struct tern_os *os, const uint8_t *cert, size_t cert_len,
                              const uint8_t *key, size_t key_len, const char *none)
{
    uint64_t t0 = tern_now_ns(os);
    size_t heap_before = os->heap.allocations;
    const char *bad = kat_sha256();
    if (!bad)
        bad = kat_gcm();
    if (!bad)
        bad = kat_chachapoly();
    if (!bad)
        bad = ecdsa_p256(os);
    if (bad) {
        tern_log(os, TERN_LOG_ERROR, "tls", "tls self-test FAILED: %s", bad);
        return TERN_EIO;
    }
    const char *server = none;
    char err[128] = "";
    if (cert || key) {
        struct tern_tls_server *srv = tern_alloc(os, sizeof *srv);
        if (!srv) {
            tern_log(os, TERN_LOG_ERROR, "tls", "tls self-test FAILED: no memory");
            return TERN_ENOMEM;
        }
        tern_result r = tern_tls_server_init(srv, os, cert, cert_len, key, key_len, err,
                                             sizeof err);
        if (r != TERN_OK) {
            tern_free(os, srv);
            tern_log(os, TERN_LOG_ERROR, "tls", "tls self-test FAILED: server init: %s", err);
            return r;
        }
        tern_tls_server_finish(srv);
        tern_free(os, srv);
        server = "core/tls server set up from the given certificate and key";
    }
    tern_log(os, TERN_LOG_INFO, "tls",
             "tls self-test ok: sha256 aes-128-gcm chacha20-poly1305 ecdsa-p256, %s "
             "(%llu ms, %s)",
             server, (unsigned long long)((tern_now_ns(os) - t0) / 1000000u),
             os->heap.allocations == heap_before ? "no allocation left behind"
                                                  : "ALLOCATIONS LEFT BEHIND");
    return os->heap.allocations == heap_before ? TERN_OK : TERN_EIO;
}
