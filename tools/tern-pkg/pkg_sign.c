/* Interface: see pkg_sign.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbedtls/ecdsa.h"
#include "mbedtls/ecp.h"

#include "pkg_sign.h"
#include "pkg_write.h"

int pkgs_rng_init(struct pkgs_rng *rng)
{
    static const char pers[] = "tern-pkg";
    mbedtls_entropy_init(&rng->entropy);
    mbedtls_ctr_drbg_init(&rng->drbg);
    return mbedtls_ctr_drbg_seed(&rng->drbg, mbedtls_entropy_func, &rng->entropy,
                                 (const unsigned char *)pers, sizeof(pers) - 1) == 0 ? 0 : -1;
}

void pkgs_rng_free(struct pkgs_rng *rng)
{
    mbedtls_ctr_drbg_free(&rng->drbg);
    mbedtls_entropy_free(&rng->entropy);
}

static int is_p256(mbedtls_pk_context *pk)
{
    return mbedtls_pk_get_type(pk) == MBEDTLS_PK_ECKEY &&
           mbedtls_pk_ec(*pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

int pkgs_private_key(mbedtls_pk_context *pk, const uint8_t *data, size_t len, char *why,
                     size_t cap)
{
    mbedtls_pk_init(pk);
    uint8_t *text = malloc(len + 1);        /* mbedTLS reads PEM only NUL-terminated */
    if (text == NULL) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    int ret = mbedtls_pk_parse_key(pk, text, len + 1, NULL, 0);
    if (ret != 0)
        ret = mbedtls_pk_parse_key(pk, data, len, NULL, 0);     /* DER */
    memset(text, 0, len + 1);
    free(text);
    if (ret != 0) {
        snprintf(why, cap, "not a private key (PEM or DER, unencrypted)");
        return -1;
    }
    if (!is_p256(pk)) {
        snprintf(why, cap, "not an ECDSA P-256 key");
        return -1;
    }
    return 0;
}

int pkgs_public_of(mbedtls_pk_context *pk, struct tern_pkg_key *out)
{
    const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
    size_t olen = 0;
    if (!is_p256(pk) ||
        mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen,
                                       out->point, sizeof(out->point)) != 0 ||
        olen != sizeof(out->point))
        return -1;
    tern_pkg_key_id(out->point, out->id);
    return 0;
}

int pkgs_keygen(struct pkgs_rng *rng, char *priv_pem, char *pub_pem, size_t cap)
{
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0)
        ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
                                  mbedtls_ctr_drbg_random, &rng->drbg);
    if (ret == 0)
        ret = mbedtls_pk_write_key_pem(&pk, (unsigned char *)priv_pem, cap);
    if (ret == 0)
        ret = mbedtls_pk_write_pubkey_pem(&pk, (unsigned char *)pub_pem, cap);
    mbedtls_pk_free(&pk);
    return ret == 0 ? 0 : -1;
}

int pkgs_sign_hash(mbedtls_pk_context *pk, struct pkgs_rng *rng, const uint8_t hash[32],
                   uint8_t *sig, size_t *sig_len)
{
    /* mbedTLS 2.28's ECDSA with MBEDTLS_ECDSA_DETERMINISTIC (Debian's and
     * the metal config) derives k from the key and hash (RFC 6979). The
     * buffer must hold MBEDTLS_ECDSA_MAX_LEN; the result fits 72 bytes. */
    unsigned char buf[MBEDTLS_ECDSA_MAX_LEN];
    size_t n = 0;
    if (mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, hash, 32, buf, &n, mbedtls_ctr_drbg_random,
                        &rng->drbg) != 0 ||
        n < TERN_PKG_SIG_MIN || n > TERN_PKG_SIG_MAX)
        return -1;
    memcpy(sig, buf, n);
    *sig_len = n;
    return 0;
}

int pkgs_sign_package(const uint8_t *pkg, size_t len, mbedtls_pk_context *pk,
                      struct pkgs_rng *rng, uint8_t **out, size_t *out_len, char *why, size_t cap)
{
    struct tern_pkg p;
    struct tern_pkg_error err;
    struct tern_pkg_key pub;
    uint8_t sig[TERN_PKG_SIG_MAX];
    size_t sig_len;
    if (tern_pkg_parse(&p, pkg, len, &err) != TERN_OK) {
        snprintf(why, cap, "%s: %s", tern_pkg_reason_name(err.reason), err.detail);
        return -1;
    }
    if (pkgs_public_of(pk, &pub) != 0 || pkgs_sign_hash(pk, rng, p.image_sha256, sig, &sig_len) != 0) {
        snprintf(why, cap, "signing failed");
        return -1;
    }
    if (pkgw_finish(pkg, (size_t)p.signed_len, pub.id, sig, sig_len, out, out_len) != 0) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    return 0;
}
