/*
 * Interface: ECDSA P-256 keys and signatures for tern-pkg and the tests,
 * on the host's mbedTLS. Signatures are deterministic (RFC 6979), so the
 * same package signed with the same key gives the same bytes; the random
 * generator only blinds the computation.
 */
#ifndef TERN_PKG_SIGN_H
#define TERN_PKG_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/pk.h"

#include "tern/pkg.h"

struct pkgs_rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

/* Seeds rng from the system's entropy. 0 or -1. pkgs_rng_free always. */
int pkgs_rng_init(struct pkgs_rng *rng);
void pkgs_rng_free(struct pkgs_rng *rng);

/* Reads a P-256 private key (PEM: SEC1 or PKCS#8 unencrypted; or DER)
 * into pk (initialised here; mbedtls_pk_free after). 0, or -1 with a
 * reason in why. */
int pkgs_private_key(mbedtls_pk_context *pk, const uint8_t *data, size_t len, char *why,
                     size_t cap);

/* The public half of a private key as tern_pkg_key (point and key id). */
int pkgs_public_of(mbedtls_pk_context *pk, struct tern_pkg_key *out);

/* A new P-256 key pair as PEM texts (NUL-terminated, in caller buffers of
 * cap bytes): SEC1 private key and SubjectPublicKeyInfo public key. 0/-1. */
int pkgs_keygen(struct pkgs_rng *rng, char *priv_pem, char *pub_pem, size_t cap);

/* The DER ECDSA signature of hash by pk into sig (TERN_PKG_SIG_MAX bytes). */
int pkgs_sign_hash(mbedtls_pk_context *pk, struct pkgs_rng *rng, const uint8_t hash[32],
                   uint8_t *sig, size_t *sig_len);

/* The package pkg[0..len) (which must parse) signed by pk: its signed
 * bytes, then IMAGE_SHA256, KEY_ID and SIGNATURE (a signature it had is
 * replaced). *out malloc'd. 0, or -1 with why. */
int pkgs_sign_package(const uint8_t *pkg, size_t len, mbedtls_pk_context *pk,
                      struct pkgs_rng *rng, uint8_t **out, size_t *out_len, char *why, size_t cap);

#endif
