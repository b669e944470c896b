/*
 * Interface: see cmdline.h. Pure code (no platform calls), so it is also
 * compiled natively for its unit test and fuzz harness.
 */
#include "cmdline.h"

#include <string.h>

#define TOKEN_MAX 64

static bool is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool token_is(const char *tok, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len == n && memcmp(tok, word, n) == 0;
}

/* Decimal 0..max, digits only, at most 9 of them; false otherwise. */
static bool parse_uint(const char *s, size_t len, uint32_t max, uint32_t *out)
{
    if (len == 0 || len > 9)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* A.B.C.D (each 0..255, no leading '+'), host order; false otherwise. */
static bool parse_ipv4(const char *s, size_t len, uint32_t *out)
{
    uint32_t v = 0;
    size_t start = 0;
    for (int part = 0; part < 4; part++) {
        size_t end = start;
        while (end < len && s[end] != '.')
            end++;
        if ((part < 3) != (end < len))
            return false;
        uint32_t octet;
        if (end - start > 3 || !parse_uint(s + start, end - start, 255, &octet))
            return false;
        v = v << 8 | octet;
        start = end + 1;
    }
    *out = v;
    return true;
}

/* Decimal or 0x-hex (no sign, no leading zero before a decimal digit),
 * at most 64 bits, with the whole of s[0..len) used; false otherwise. */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    int base = 10;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        len -= 2;
    } else if (len > 1 && s[0] == '0') {
        return false; /* Linux would read octal: refused rather than guessed */
    }
    if (len == 0 || len > (base == 16 ? 16u : 20u))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + d;
    }
    *out = v;
    return true;
}

/* SIZE@BASE:IRQ[:ID] (Linux's virtio_mmio.device), checked as cmdline.h
 * says, appended to out->mmio; false when refused. */
static bool parse_mmio(struct tern_metal_cmdline *out, const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    if (at == NULL)
        return false;
    size_t slen = (size_t)(at - s), rest = len - slen - 1;
    const char *colon = memchr(at + 1, ':', rest);
    if (colon == NULL)
        return false;
    size_t blen = (size_t)(colon - at - 1), tail = rest - blen - 1;
    const char *colon2 = memchr(colon + 1, ':', tail);
    size_t ilen = colon2 != NULL ? (size_t)(colon2 - colon - 1) : tail;
    uint64_t size, base, id;
    uint32_t irq;
    unsigned shift = 0;
    if (slen > 0 && (s[slen - 1] == 'K' || s[slen - 1] == 'k'))
        shift = 10;
    else if (slen > 0 && (s[slen - 1] == 'M' || s[slen - 1] == 'm'))
        shift = 20;
    else if (slen > 0 && (s[slen - 1] == 'G' || s[slen - 1] == 'g'))
        shift = 30;
    if (!parse_u64(s, shift ? slen - 1 : slen, &size) || size > (UINT64_MAX >> shift) ||
        !parse_u64(at + 1, blen, &base) || !parse_uint(colon + 1, ilen, 255, &irq) ||
        (colon2 != NULL && !parse_u64(colon2 + 1, tail - ilen - 1, &id)))
        return false;
    size <<= shift;
    if (size < TERN_METAL_MMIO_MIN_SIZE || size > TERN_METAL_MMIO_MAX_SIZE || base == 0 ||
        (base & 3) != 0 || base > (1ull << 46) - size || out->nmmio == TERN_METAL_MMIO_MAX)
        return false;
    for (uint32_t i = 0; i < out->nmmio; i++)
        if (base < out->mmio[i].base + out->mmio[i].size && out->mmio[i].base < base + size)
            return false; /* overlaps an earlier window */
    out->mmio[out->nmmio++] = (struct tern_metal_mmio_dev){ base, (uint32_t)size, irq };
    return true;
}

static bool apply(struct tern_metal_cmdline *out, const char *tok, size_t len)
{
    const char *eq = memchr(tok, '=', len);
    if (eq == NULL)
        return false;
    size_t klen = (size_t)(eq - tok);
    const char *val = eq + 1;
    size_t vlen = len - klen - 1;

    if (token_is(tok, klen, "halt")) {
        uint32_t code;
        if (!parse_uint(val, vlen, 127, &code))
            return false;
        out->halt_set = true;
        out->halt_code = (uint8_t)code;
        return true;
    }
    if (token_is(tok, klen, "delay_ms")) {
        uint32_t ms;
        if (!parse_uint(val, vlen, 600000, &ms))
            return false;
        out->delay_ms = ms;
        return true;
    }
    if (token_is(tok, klen, "ip")) {
        const char *slash = memchr(val, '/', vlen);
        uint32_t ip, prefix;
        if (slash == NULL || !parse_ipv4(val, (size_t)(slash - val), &ip) || ip == 0 ||
            !parse_uint(slash + 1, vlen - (size_t)(slash - val) - 1, 32, &prefix) || prefix < 1)
            return false;
        out->ip = ip;
        out->mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
        return true;
    }
    if (token_is(tok, klen, "reboot")) {
        if (!token_is(val, vlen, "1") && !token_is(val, vlen, "0"))
            return false;
        out->reboot = val[0] == '1';
        return true;
    }
    if (token_is(tok, klen, "tls_selftest")) {
        if (!token_is(val, vlen, "1") && !token_is(val, vlen, "0"))
            return false;
        out->tls_selftest = val[0] == '1';
        return true;
    }
    if (token_is(tok, klen, "log")) {
        static const char *const names[] = { "debug", "info", "warn", "error", "off" };
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (token_is(val, vlen, names[i])) {
                out->log_set = true;
                out->console_level = (enum tern_log_level)i;
                return true;
            }
        return false;
    }
    if (token_is(tok, klen, "gw")) {
        uint32_t gw;
        if (!parse_ipv4(val, vlen, &gw))
            return false;
        out->gw = gw;
        return true;
    }
    if (token_is(tok, klen, "virtio_mmio.device"))
        return parse_mmio(out, val, vlen);
    if (token_is(tok, klen, "fault")) {
        if (token_is(val, vlen, "ud"))
            out->fault = TERN_METAL_FAULT_UD;
        else if (token_is(val, vlen, "pf"))
            out->fault = TERN_METAL_FAULT_PF;
        else if (token_is(val, vlen, "de"))
            out->fault = TERN_METAL_FAULT_DE;
        else if (token_is(val, vlen, "null"))
            out->fault = TERN_METAL_FAULT_NULL;
        else if (token_is(val, vlen, "wx"))
            out->fault = TERN_METAL_FAULT_WX;
        else if (token_is(val, vlen, "spin"))
            out->fault = TERN_METAL_FAULT_SPIN;
        else
            return false;
        return true;
    }
    return false;
}

void tern_metal_cmdline_parse(struct tern_metal_cmdline *out, const char *text, size_t len)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    while (i < len) {
        while (i < len && is_sep(text[i]))
            i++;
        size_t start = i;
        while (i < len && !is_sep(text[i]))
            i++;
        size_t tlen = i - start;
        if (tlen == 0)
            break;
        if (tlen > TOKEN_MAX || !apply(out, text + start, tlen))
            out->ignored++;
    }
}
