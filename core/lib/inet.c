/* Interface: see include/tern/inet.h. */
#include "tern/fmt.h"
#include "tern/inet.h"

uint32_t tern_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t acc = sum;
    while (len >= 4) {
        acc += tern_load_be32(p);
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        acc += tern_load_be16(p);
        p += 2;
        len -= 2;
    }
    if (len)
        acc += (uint32_t)p[0] << 8;
    while (acc >> 32)
        acc = (acc & 0xffffffffu) + (acc >> 32);
    return (uint32_t)acc;
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
