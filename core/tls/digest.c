/*
 * Interface: see include/tern/tls.h (tern_sha256). The hash is mbedTLS's,
 * like everything cryptographic in core/tls.
 */
#include "mbedtls/sha256.h"

#include "tern/tls.h"

void tern_sha256(const void *data, size_t len, uint8_t out[32])
{
    (void)mbedtls_sha256_ret(data, len, out, 0);
}
