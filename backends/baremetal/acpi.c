/*
 * Interface: see acpi.h. Pure code (no port I/O, no globals), so the
 * native unit test runs it on hand-made tables.
 */
#include <string.h>

#include "acpi.h"

#define SDT_HDR 36u
#define SDT_MAX (1u << 20)
#define DSDT_MAX (4u << 20)

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static bool sum_ok(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s == 0;
}

/* Maps a whole table after checking its header; NULL (counted) when the
 * signature, length or checksum is wrong. */
static const uint8_t *table(struct metal_acpi *out, uint64_t phys, const char *sig,
                            uint32_t max, metal_acpi_map_fn map, void *ctx, uint32_t *len)
{
    if (phys == 0)
        return NULL;
    const uint8_t *h = map(ctx, phys, SDT_HDR);
    if (h == NULL) {
        out->bad_tables++;
        return NULL;
    }
    if (sig != NULL && memcmp(h, sig, 4) != 0)
        return NULL; /* not the one we look for: not an error */
    uint32_t n = rd32(h + 4);
    if (n < SDT_HDR || n > max) {
        out->bad_tables++;
        return NULL;
    }
    const uint8_t *t = map(ctx, phys, n);
    if (t == NULL || !sum_ok(t, n)) {
        out->bad_tables++;
        return NULL;
    }
    *len = n;
    return t;
}

static void parse_mcfg(struct metal_acpi *out, const uint8_t *t, uint32_t len)
{
    /* header, 8 reserved bytes, then 16-byte allocations */
    for (uint32_t off = SDT_HDR + 8; off + 16 <= len; off += 16) {
        const uint8_t *e = t + off;
        uint16_t seg = (uint16_t)(e[8] | e[9] << 8);
        uint8_t start = e[10], end = e[11];
        uint64_t base = rd64(e);
        if (seg != 0 || end < start || base == 0 || (base & 0xfffff) != 0)
            continue;
        out->have_ecam = true;
        out->ecam_base = base;
        out->ecam_bus_start = start;
        out->ecam_bus_end = end;
        return;
    }
}

/* Finds `_S5_` as a named package in AML and reads SLP_TYPa. */
static void parse_s5(struct metal_acpi *out, const uint8_t *t, uint32_t len)
{
    for (uint32_t i = SDT_HDR; i + 4 <= len; i++) {
        if (memcmp(t + i, "_S5_", 4) != 0)
            continue;
        /* NameOp, optionally a root prefix, before the name */
        bool named = (i >= 1 && t[i - 1] == 0x08) ||
                     (i >= 2 && t[i - 1] == '\\' && t[i - 2] == 0x08);
        uint32_t p = i + 4;
        if (!named || p >= len || t[p] != 0x12) /* PackageOp */
            continue;
        p++;
        if (p >= len)
            return;
        p += 1u + (t[p] >> 6); /* PkgLength: 1..4 bytes */
        p++;                   /* NumElements */
        if (p >= len)
            return;
        if (t[p] == 0x0a) {    /* BytePrefix */
            if (p + 1 >= len)
                return;
            out->s5_typ = t[p + 1];
        } else if (t[p] == 0x00 || t[p] == 0x01) {  /* ZeroOp, OneOp */
            out->s5_typ = t[p];
        } else {
            return;
        }
        if (out->s5_typ > 7)
            return;
        out->have_s5 = true;
        return;
    }
}

static void parse_fadt(struct metal_acpi *out, const uint8_t *t, uint32_t len,
                       metal_acpi_map_fn map, void *ctx)
{
    if (len < 116)
        return;
    out->have_fadt = true;
    out->pm1a_evt = rd32(t + 56);
    out->pm1_evt_len = len > 88 ? t[88] : 0;
    if (out->pm1_evt_len < 4 || (out->pm1_evt_len & 1))
        out->pm1a_evt = 0; /* need 2-byte status + 2-byte enable at least */
    out->pm1a_cnt = rd32(t + 64);
    if (out->pm1a_evt > 0xffff)
        out->pm1a_evt = 0;
    if (out->pm1a_cnt > 0xffff)
        out->pm1a_cnt = 0;
    if (len >= 129 && (rd32(t + 112) & (1u << 10)) && t[116] == 1 /* system I/O */ &&
        rd64(t + 120) != 0 && rd64(t + 120) <= 0xffff) {
        out->have_reset = true;
        out->reset_port = (uint16_t)rd64(t + 120);
        out->reset_value = t[128];
    }
    uint64_t dsdt = rd32(t + 40);
    if (len >= 148 && rd64(t + 140) != 0)
        dsdt = rd64(t + 140);
    uint32_t dlen = 0;
    const uint8_t *d = table(out, dsdt, "DSDT", DSDT_MAX, map, ctx, &dlen);
    if (d != NULL)
        parse_s5(out, d, dlen);
}

void metal_acpi_parse(struct metal_acpi *out, uint64_t rsdp_phys, metal_acpi_map_fn map,
                      void *ctx)
{
    memset(out, 0, sizeof(*out));
    if (rsdp_phys == 0)
        return;
    const uint8_t *r = map(ctx, rsdp_phys, 20);
    if (r == NULL || memcmp(r, "RSD PTR ", 8) != 0 || !sum_ok(r, 20))
        return;
    uint64_t root;
    bool x = false;
    if (r[15] >= 2) {
        const uint8_t *r2 = map(ctx, rsdp_phys, 36);
        if (r2 == NULL || rd32(r2 + 20) < 36 || rd32(r2 + 20) > 4096)
            return;
        uint32_t rlen = rd32(r2 + 20);
        r2 = map(ctx, rsdp_phys, rlen);
        if (r2 == NULL || !sum_ok(r2, rlen))
            return;
        root = rd64(r2 + 24);
        x = true;
    } else {
        root = rd32(r + 16);
    }
    out->rsdp_ok = true;
    uint32_t len = 0;
    const uint8_t *t = table(out, root, x ? "XSDT" : "RSDT", SDT_MAX, map, ctx, &len);
    if (t == NULL) {
        if (x) /* fall back to the RSDT of a 2.0 RSDP */
            t = table(out, rd32(r + 16), "RSDT", SDT_MAX, map, ctx, &len), x = false;
        if (t == NULL)
            return;
    }
    uint32_t step = x ? 8 : 4;
    for (uint32_t off = SDT_HDR; off + step <= len; off += step) {
        uint64_t pa = x ? rd64(t + off) : rd32(t + off);
        out->tables++;
        const uint8_t *h = map(ctx, pa, SDT_HDR);
        if (h == NULL) {
            out->bad_tables++;
            continue;
        }
        uint32_t n = 0;
        const uint8_t *s;
        if (memcmp(h, "MCFG", 4) == 0 && !out->have_ecam &&
            (s = table(out, pa, "MCFG", SDT_MAX, map, ctx, &n)) != NULL)
            parse_mcfg(out, s, n);
        else if (memcmp(h, "FACP", 4) == 0 && !out->have_fadt &&
                 (s = table(out, pa, "FACP", SDT_MAX, map, ctx, &n)) != NULL)
            parse_fadt(out, s, n, map, ctx);
    }
}
