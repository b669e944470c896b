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

/* ---- AML, as far as the device patterns below need it ---- */

/* A PkgLength at p (ACPI 6.4 20.2.4): its value in *value, its size in
 * *bytes. False when it runs past len. */
static bool pkg_length(const uint8_t *t, uint32_t len, uint32_t p, uint32_t *value,
                       uint32_t *bytes)
{
    if (p >= len)
        return false;
    uint32_t follow = t[p] >> 6;
    if (p + follow >= len)
        return false;
    uint32_t v = follow == 0 ? (uint32_t)(t[p] & 0x3f) : (uint32_t)(t[p] & 0x0f);
    for (uint32_t i = 0; i < follow; i++)
        v |= (uint32_t)t[p + 1 + i] << (4 + 8 * i);
    *value = v;
    *bytes = follow + 1;
    return true;
}

/* An integer TermArg at p: Zero, One, Ones or a Byte/Word/DWord/QWord
 * constant. False otherwise or past len. */
static bool aml_integer(const uint8_t *t, uint32_t len, uint32_t p, uint64_t *value,
                        uint32_t *bytes)
{
    if (p >= len)
        return false;
    static const uint8_t sizes[] = { 1, 2, 4, 0, 8 }; /* 0x0a..0x0e; 0x0d is a string */
    uint8_t op = t[p];
    if (op == 0x00 || op == 0x01 || op == 0xff) {
        *value = op == 0xff ? UINT64_MAX : op;
        *bytes = 1;
        return true;
    }
    if (op < 0x0a || op > 0x0e || sizes[op - 0x0a] == 0 || p + sizes[op - 0x0a] >= len)
        return false;
    uint64_t v = 0;
    for (uint32_t i = 0; i < sizes[op - 0x0a]; i++)
        v |= (uint64_t)t[p + 1 + i] << (8 * i);
    *value = v;
    *bytes = 1u + sizes[op - 0x0a];
    return true;
}

/* The end of the Device package whose first object is the Name(_HID)
 * at hid (DeviceOp 0x5b 0x82, PkgLength, a 4-byte NameSeg, then it), or
 * 0 when that is not what precedes it. */
static uint32_t device_end(const uint8_t *t, uint32_t len, uint32_t hid)
{
    for (uint32_t k = 7; k <= 10 && k <= hid; k++) {
        uint32_t d = hid - k, v, n;
        if (t[d] != 0x5b || t[d + 1] != 0x82 || !pkg_length(t, len, d + 2, &v, &n) ||
            d + 2 + n + 4 != hid)
            continue;
        uint64_t end = (uint64_t)d + 2 + v;
        return end > len ? len : (uint32_t)end;
    }
    return 0;
}

/* Finds `Name (_HID, "id")` at or after from; its offset, or 0. */
static uint32_t find_hid(const uint8_t *t, uint32_t len, uint32_t from, const char *id)
{
    size_t n = strlen(id);
    for (uint32_t i = from; i + 6 + n + 1 <= len; i++)
        if (t[i] == 0x08 && memcmp(t + i + 1, "_HID", 4) == 0 && t[i + 5] == 0x0d &&
            memcmp(t + i + 6, id, n) == 0 && t[i + 6 + n] == 0)
            return i;
    return 0;
}

/* The resource template of `Name (_CRS, Buffer ...)` in [from, end):
 * the first Memory32Fixed's base and length and the first Extended
 * Interrupt's first GSI. False when there is no _CRS buffer, no
 * Memory32Fixed in it, or no End Tag within the buffer. */
static bool parse_crs(const uint8_t *t, uint32_t from, uint32_t end, struct metal_acpi_mmio *dev)
{
    for (uint32_t i = from; i + 6 <= end; i++) {
        if (t[i] != 0x08 || memcmp(t + i + 1, "_CRS", 4) != 0 || t[i + 5] != 0x11)
            continue;
        uint32_t plen, pbytes, ibytes;
        uint64_t bsize;
        if (!pkg_length(t, end, i + 6, &plen, &pbytes) ||
            !aml_integer(t, end, i + 6 + pbytes, &bsize, &ibytes))
            return false;
        uint32_t p = i + 6 + pbytes + ibytes;
        uint64_t stop = (uint64_t)i + 6 + plen;
        if (stop > end)
            stop = end;
        if (bsize < stop - p)
            stop = p + bsize;
        bool have_mem = false, ended = false;
        while (p < stop) {
            uint8_t tag = t[p];
            if (!(tag & 0x80)) {             /* small item: End Tag or other */
                if ((tag >> 3) == 0x0f) {
                    ended = p + 2 <= stop;   /* the tag and its checksum byte */
                    break;
                }
                p += 1u + (tag & 7u);
                continue;
            }
            if (p + 3 > stop)
                break;
            uint32_t ilen = (uint32_t)t[p + 1] | (uint32_t)t[p + 2] << 8;
            if (p + 3 + ilen > stop)
                break;
            if (tag == 0x86 && ilen == 9 && !have_mem) {         /* Memory32Fixed */
                dev->base = rd32(t + p + 4);
                dev->size = rd32(t + p + 8);
                have_mem = true;
            } else if (tag == 0x89 && ilen >= 6 && t[p + 4] >= 1 && dev->gsi == 0) {
                dev->gsi = rd32(t + p + 5);                    /* Extended Interrupt */
            }
            p += 3 + ilen;
        }
        return have_mem && ended; /* a template cut short is not trusted */
    }
    return false;
}

/* Every virtio-mmio device (LNRO0005) with a usable window. */
static void parse_virtio_mmio(struct metal_acpi *out, const uint8_t *t, uint32_t len)
{
    for (uint32_t i = find_hid(t, len, SDT_HDR, "LNRO0005"); i != 0;
         i = find_hid(t, len, i + 1, "LNRO0005")) {
        uint32_t end = device_end(t, len, i);
        struct metal_acpi_mmio dev = { 0, 0, 0 };
        if (end == 0 || !parse_crs(t, i, end, &dev) || dev.base == 0 || dev.size < 0x100)
            continue;
        if (out->nmmio == METAL_ACPI_MMIO_MAX) {
            out->mmio_dropped++;
            continue;
        }
        out->mmio[out->nmmio++] = dev;
    }
}

/* The GED (ACPI0013): its first SystemMemory OperationRegion (0x5b 0x80,
 * NameSeg, space 0, an integer offset) holds the event selector. */
static void parse_ged(struct metal_acpi *out, const uint8_t *t, uint32_t len)
{
    uint32_t i = find_hid(t, len, SDT_HDR, "ACPI0013");
    uint32_t end = i != 0 ? device_end(t, len, i) : 0;
    for (uint32_t p = i; end != 0 && p + 8 <= end; p++) {
        uint64_t addr;
        uint32_t n;
        if (t[p] != 0x5b || t[p + 1] != 0x80 || t[p + 6] != 0x00 ||
            !aml_integer(t, end, p + 7, &addr, &n))
            continue;
        if (addr != 0 && addr < (1ull << 46) && (addr & 3) == 0)
            out->ged_event = addr;
        return;
    }
}

/* MADT (ACPI 6.4 5.2.12): the I/O APIC entries (type 1). */
static void parse_madt(struct metal_acpi *out, const uint8_t *t, uint32_t len)
{
    for (uint32_t p = SDT_HDR + 8; p + 2 <= len;) {
        uint8_t type = t[p], elen = t[p + 1];
        if (elen < 2 || p + elen > len)
            return;
        if (type == 1 && elen >= 12 && out->nioapic < METAL_ACPI_IOAPIC_MAX) {
            out->ioapic[out->nioapic].addr = rd32(t + p + 4);
            out->ioapic[out->nioapic].gsi_base = rd32(t + p + 8);
            out->nioapic++;
        }
        p += elen;
    }
}

/* A Generic Address Structure's memory address (space 0), or 0. */
static uint64_t gas_memory(const uint8_t *g)
{
    uint64_t a = rd64(g + 4);
    return g[0] == 0 && a != 0 && a < (1ull << 46) ? a : 0;
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
    uint32_t flags = rd32(t + 112);
    if (len >= 129 && (flags & (1u << 10)) && t[116] == 1 /* system I/O */ &&
        rd64(t + 120) != 0 && rd64(t + 120) <= 0xffff) {
        out->have_reset = true;
        out->reset_port = (uint16_t)rd64(t + 120);
        out->reset_value = t[128];
    } else if (len >= 129 && (flags & (1u << 10)) && gas_memory(t + 116) != 0) {
        out->have_reset = true;
        out->reset_mem = gas_memory(t + 116);
        out->reset_value = t[128];
    }
    out->hw_reduced = (flags & (1u << 20)) != 0;
    if (len >= 256 && t[244] == 1 && rd64(t + 248) != 0 && rd64(t + 248) <= 0xffff)
        out->sleep_ctl_port = (uint16_t)rd64(t + 248);
    else if (len >= 256)
        out->sleep_ctl = gas_memory(t + 244);
    uint64_t dsdt = rd32(t + 40);
    if (len >= 148 && rd64(t + 140) != 0)
        dsdt = rd64(t + 140);
    uint32_t dlen = 0;
    const uint8_t *d = table(out, dsdt, "DSDT", DSDT_MAX, map, ctx, &dlen);
    if (d != NULL) {
        parse_s5(out, d, dlen);
        parse_virtio_mmio(out, d, dlen);
        parse_ged(out, d, dlen);
    }
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
        else if (memcmp(h, "APIC", 4) == 0 && out->nioapic == 0 &&
                 (s = table(out, pa, "APIC", SDT_MAX, map, ctx, &n)) != NULL)
            parse_madt(out, s, n);
    }
}
