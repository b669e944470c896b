/*
 * Interface: wire-format helpers shared by every protocol: byte order
 * loads/stores that never assume alignment, and the Internet checksum
 * (RFC 1071) with incremental accumulation for pseudo-headers.
 *
 * IPv4 addresses travel through the core as uint32_t in host order
 * (192.0.2.1 is 0xc0000201); they are converted only at the wire.
 */
#ifndef TERN_INET_H
#define TERN_INET_H

#include <stddef.h>
#include <stdint.h>

#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

static inline uint16_t tern_load_be16(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint16_t)((b[0] << 8) | b[1]);
}

static inline uint32_t tern_load_be32(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static inline void tern_store_be16(void *p, uint16_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static inline void tern_store_be32(void *p, uint32_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

#define TERN_IPV4(a, b, c, d) \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* Adds len bytes at data to a running 32-bit one's-complement sum. Sums of
 * pieces compose when every piece but the last has an even length. */
uint32_t tern_csum_add(uint32_t sum, const void *data, size_t len);

/* Folds a running sum to 16 bits and complements it: the checksum field
 * value (host order). A buffer whose checksum field is right folds to 0. */
uint16_t tern_csum_finish(uint32_t sum);

/* The running sum of the IPv4 pseudo-header for TCP and UDP (RFC 793,
 * RFC 768): source, destination, protocol and the transport length. */
uint32_t tern_csum_pseudo_ipv4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* Writes "a.b.c.d" (at most 16 bytes with the NUL) into buf. */
void tern_ipv4_format(uint32_t addr, char buf[16]);

/* Parses dotted-quad text (exactly four decimal parts 0-255, no leading
 * zeros beyond "0", nothing after). TERN_OK or TERN_EINVAL. */
tern_result tern_ipv4_parse(const char *text, uint32_t *out);

TERN_END_DECLS

#endif
