/*
 * Interface: mbedTLS 2.28's configuration for Tern's bare-metal target
 * (MBEDTLS_CONFIG_FILE of every metal mbedTLS and core/tls object; see
 * backends/baremetal/mbedtls/meson.build). The hosted build does not use
 * it: tern-linux links Debian's libmbedtls with Debian's configuration.
 *
 * Keeps exactly what core/tls uses: a TLS 1.2 server with ECDHE-ECDSA and
 * ECDHE-RSA key exchange, AES-GCM and ChaCha20-Poly1305 records, session
 * tickets, X.509 certificates and keys parsed from PEM or DER in memory,
 * CTR_DRBG (core/tls seeds it straight from the platform entropy call) and
 * HMAC_DRBG (deterministic ECDSA signatures).
 *
 * Everything hosted is off: no sockets (NET_C), no files (FS_IO), no
 * timing module, no entropy module or platform entropy, no self-test
 * printf, no threading. What remains of the C library is musl's pure
 * parts (backends/baremetal/libc); the three things mbedTLS would take
 * from a hosted libc come from the backend instead (mbedtls/glue.c):
 *   calloc/free  MBEDTLS_PLATFORM_MEMORY, set to the core heap of the
 *                machine's one instance (mbedtls_platform_set_calloc_free)
 *   time         MBEDTLS_PLATFORM_TIME_ALT, set to whole seconds of the
 *                monotonic clock: metal has no wall clock, and mbedTLS
 *                only takes differences (ticket and session lifetimes).
 *                MBEDTLS_HAVE_TIME_DATE is off: certificate validity dates
 *                are not checked, which a server never does for its own
 *                chain anyway (it verifies no peer).
 *   snprintf     tern_mbedtls_snprintf (glue.c, musl's vsnprintf), declared
 *                here so that nothing compiled with this config (core/tls
 *                included) needs <stdio.h>.
 */
#ifndef TERN_MBEDTLS_CONFIG_H
#define TERN_MBEDTLS_CONFIG_H

#include <stddef.h>

int tern_mbedtls_snprintf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- system support ---- */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_NO_UDBL_DIVISION        /* no compiler runtime (__udivti3) on metal */
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS
#define MBEDTLS_PLATFORM_TIME_ALT
#define MBEDTLS_PLATFORM_SNPRINTF_MACRO tern_mbedtls_snprintf
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_DEPRECATED_REMOVED

/* ---- ciphers and hashes ---- */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES          /* const tables: no run-time init, no mutable state */
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA512_C                /* SHA-384 suites */
#define MBEDTLS_SHA1_C                  /* X.509 and TLS 1.2 signature_algorithms fallbacks */
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_HMAC_DRBG_C

/* ---- public key ---- */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_GENPRIME                /* mbedtls_pk_check_pair on RSA keys */
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C              /* pk_check_pair compares public parts */
#define MBEDTLS_PK_PARSE_EC_EXTENDED
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C

/* ---- TLS ---- */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_TICKET_C
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_RENEGOTIATION       /* only so core/tls can switch it off explicitly */
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES
#define MBEDTLS_ERROR_C                 /* mbedtls_strerror in core/tls's reasons */

#include "mbedtls/check_config.h"

#endif
