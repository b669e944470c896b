/*
 * Interface: see include/tern/inet.h. The checksum sums 16 bytes per step
 * in host order and swaps the folded result back (RFC 1071 2(B)); it is
 * on every packet's path, so it is the one fast version for all callers.
 */
#include <string.h>

#include "tern/fmt.h"
#include "tern/inet.h"

static uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w); /* any alignment; compiles to one load */
    return w;
}

uint32_t tern_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    /* Each 64-bit word adds as its two 32-bit halves: a 64-bit accumulator
     * cannot overflow before 2^31 words (16 GiB), far above any caller. */
    uint64_t a0 = 0, a1 = 0;
    while (len >= 16) {
        uint64_t w0 = load64(p), w1 = load64(p + 8);
        a0 += (w0 & 0xffffffffu) + (w0 >> 32);
        a1 += (w1 & 0xffffffffu) + (w1 >> 32);
        p += 16;
        len -= 16;
    }
    if (len) {
        uint8_t tail[16] = { 0 };
        memcpy(tail, p, len); /* the odd byte is followed by a zero pad */
        uint64_t w0 = load64(tail), w1 = load64(tail + 8);
        a0 += (w0 & 0xffffffffu) + (w0 >> 32);
        a1 += (w1 & 0xffffffffu) + (w1 >> 32);
    }
    uint64_t acc = (a0 & 0xffffffffu) + (a0 >> 32) + (a1 & 0xffffffffu) + (a1 >> 32);
    while (acc >> 16)
        acc = (acc & 0xffffu) + (acc >> 16);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    acc = ((acc & 0xffu) << 8) | (acc >> 8); /* host order back to network order */
#elif !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
#error "tern_csum_add needs __BYTE_ORDER__"
#endif
    uint64_t r = (uint64_t)sum + acc;
    while (r >> 32)
        r = (r & 0xffffffffu) + (r >> 32);
    return (uint32_t)r;
}

uint16_t tern_csum_finish(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t tern_csum_pseudo_ipv4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    uint64_t acc = (uint64_t)(src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) +
                   proto + len;
    while (acc >> 32)
        acc = (acc & 0xffffffffu) + (acc >> 32);
    return (uint32_t)acc;
}

void tern_ipv4_format(uint32_t addr, char buf[16])
{
    tern_snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(addr >> 24), (unsigned)(addr >> 16) & 255u,
                  (unsigned)(addr >> 8) & 255u, (unsigned)addr & 255u);
}

tern_result tern_ipv4_parse(const char *text, uint32_t *out)
{
    uint32_t addr = 0;
    const char *p = text;
    for (int part = 0; part < 4; part++) {
        if (*p < '0' || *p > '9')
            return TERN_EINVAL;
        unsigned v = 0;
        int digits = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(*p++ - '0');
            digits++;
        }
        if (v > 255 || digits > 3 || (digits > 1 && *start == '0'))
            return TERN_EINVAL;
        addr = (addr << 8) | v;
        if (part < 3 && *p++ != '.')
            return TERN_EINVAL;
    }
    if (*p != '\0')
        return TERN_EINVAL;
    *out = addr;
    return TERN_OK;
}
