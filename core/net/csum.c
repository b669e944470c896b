/* Interface: see csum.h. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "csum.h"

static uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w); /* any alignment; compiles to one load */
    return w;
}

uint32_t tern_net_csum_add(uint32_t sum, const void *data, size_t len)
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
#error "tern_net_csum_add needs __BYTE_ORDER__"
#endif
    uint64_t r = (uint64_t)sum + acc;
    while (r >> 32)
        r = (r & 0xffffffffu) + (r >> 32);
    return (uint32_t)r;
}
