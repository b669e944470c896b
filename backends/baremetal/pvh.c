/*
 * Interface: see pvh.h. Pure code (no port I/O, no globals), so the
 * native unit test and the fuzz harness run it on hand-made memory.
 */
#include <string.h>

#include "pvh.h"

#define PAGE 4096ull
#define ENTRY_BYTES 24u
#define INFO_V0_BYTES 40u
#define INFO_V1_BYTES 56u

/* Kinds in the order an overlap is resolved: a higher one wins. */
enum kind { K_NONE, K_RAM, K_KERNEL, K_ACPI, K_NVS, K_UNUSABLE, K_RESERVED };

struct span {
    uint64_t start, end;
    enum kind kind;
};

/* Everything the sweep works on: the spans (the E820 entries and the
 * kernel) and their boundaries. On the caller's stack (~9 KiB). */
struct sweep {
    struct span span[METAL_PVH_ENTRIES_MAX + 1];
    unsigned nspan;
    uint64_t point[2 * (METAL_PVH_ENTRIES_MAX + 1)];
    unsigned npoint;
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static enum kind kind_of(uint32_t e820_type)
{
    switch (e820_type) {
    case 1: return K_RAM;
    case 3: return K_ACPI;
    case 4: return K_NVS;
    case 5: return K_UNUSABLE;
    default: return K_RESERVED;  /* 2, 7 (persistent memory) and anything unknown */
    }
}

static uint32_t efi_type(enum kind k)
{
    switch (k) {
    case K_RAM: return TERN_EFI_CONVENTIONAL;
    case K_KERNEL: return TERN_EFI_LOADER_CODE;
    case K_ACPI: return TERN_EFI_ACPI_RECLAIM;
    case K_NVS: return TERN_EFI_ACPI_NVS;
    case K_UNUSABLE: return TERN_EFI_UNUSABLE;
    default: return TERN_EFI_RESERVED;
    }
}

/* Adds [start, end) of kind k, RAM rounded inwards, the rest outwards;
 * false when nothing of it is left. */
static bool add_span(struct sweep *s, uint64_t start, uint64_t end, enum kind k)
{
    if (k == K_RAM) {
        start = (start + PAGE - 1) & ~(PAGE - 1);
        end &= ~(PAGE - 1);
    } else {
        start &= ~(PAGE - 1);
        end = (end + PAGE - 1) & ~(PAGE - 1); /* end <= the limit, a page multiple */
    }
    if (end <= start)
        return false;
    s->span[s->nspan++] = (struct span){ start, end, k };
    return true;
}

/* Reads the E820 table into spans. NULL, or why not. */
static const char *read_entries(struct metal_pvh *out, struct sweep *s, uint64_t table,
                                metal_acpi_map_fn map, void *ctx)
{
    uint32_t n = out->entries;
    if (n > METAL_PVH_ENTRIES_MAX) {
        out->dropped += n - METAL_PVH_ENTRIES_MAX;
        n = METAL_PVH_ENTRIES_MAX;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = map(ctx, table + (uint64_t)i * ENTRY_BYTES, ENTRY_BYTES);
        if (e == NULL)
            return "memory-map-unreadable";
        uint64_t addr = rd64(e), size = rd64(e + 8), end = addr + size;
        if (size == 0) {
            out->empty++;  /* harmless: QEMU's pvh.bin ends its table with one */
            continue;
        }
        if (addr >= METAL_PVH_PHYS_LIMIT) {
            out->dropped++;
            continue;
        }
        if (end < addr || end > METAL_PVH_PHYS_LIMIT) {
            end = METAL_PVH_PHYS_LIMIT;
            out->clipped++;
        }
        if (!add_span(s, addr, end, kind_of(rd32(e + 16))))
            out->dropped++;
    }
    return NULL;
}

/* The sorted, distinct boundaries of every span. */
static void collect_points(struct sweep *s)
{
    s->npoint = 0;
    for (unsigned i = 0; i < s->nspan; i++) {
        uint64_t p2[2] = { s->span[i].start, s->span[i].end };
        for (unsigned k = 0; k < 2; k++) {
            unsigned j = s->npoint;
            bool dup = false;
            while (j > 0 && s->point[j - 1] >= p2[k]) {
                if (s->point[j - 1] == p2[k]) {
                    dup = true;
                    break;
                }
                j--;
            }
            if (dup)
                continue;
            memmove(&s->point[j + 1], &s->point[j], (s->npoint - j) * sizeof(s->point[0]));
            s->point[j] = p2[k];
            s->npoint++;
        }
    }
}

/* Appends [start, end) of kind k to the map, merged with its neighbour
 * when that is the same kind and touches it. */
static void emit(struct metal_pvh *out, uint64_t start, uint64_t end, enum kind k)
{
    uint32_t type = efi_type(k);
    if (k == K_RAM)
        out->usable_bytes += end - start;
    if (out->nmap > 0) {
        struct tern_efi_memdesc *last = &out->map[out->nmap - 1];
        if (last->type == type && last->phys_start + last->pages * PAGE == start) {
            last->pages += (end - start) / PAGE;
            return;
        }
    }
    if (out->nmap == METAL_PVH_DESC_MAX) {
        out->lost++;
        if (k == K_RAM)
            out->usable_bytes -= end - start; /* never handed out */
        return;
    }
    out->map[out->nmap++] = (struct tern_efi_memdesc){
        .type = type, .phys_start = start, .virt_start = 0,
        .pages = (end - start) / PAGE, .attribute = 0,
    };
}

/* Each interval between two boundaries takes the strongest kind covering
 * it (the kernel span is the last one and does not count as an overlap). */
static void sweep_map(struct metal_pvh *out, struct sweep *s)
{
    for (unsigned i = 0; i + 1 < s->npoint; i++) {
        uint64_t a = s->point[i], b = s->point[i + 1];
        enum kind best = K_NONE, e820_first = K_NONE;
        bool mixed = false;
        for (unsigned j = 0; j < s->nspan; j++) {
            const struct span *sp = &s->span[j];
            if (sp->start > a || sp->end < b)
                continue;
            if (sp->kind > best)
                best = sp->kind;
            if (sp->kind == K_KERNEL)
                continue;
            if (e820_first == K_NONE)
                e820_first = sp->kind;
            else if (sp->kind != e820_first)
                mixed = true;
        }
        if (mixed)
            out->overlaps++;
        if (best != K_NONE)
            emit(out, a, b, best);
    }
}

static bool sum_ok(const uint8_t *p, size_t n)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

/* An RSDP at phys: the signature and the ACPI 1.0 checksum (acpi.c checks
 * the 2.0 extension when it parses). 0, or the ACPI revision (1 or 2). */
static uint32_t rsdp_at(uint64_t phys, metal_acpi_map_fn map, void *ctx)
{
    const uint8_t *r = map(ctx, phys, 20);
    if (r == NULL || memcmp(r, "RSD PTR ", 8) != 0 || !sum_ok(r, 20))
        return 0;
    return r[15] >= 2 ? 2 : 1;
}

static bool rsdp_scan(struct metal_pvh *out, uint64_t from, uint64_t len, metal_acpi_map_fn map,
                      void *ctx)
{
    for (uint64_t p = from; p + 20 <= from + len; p += 16) {
        uint32_t rev = rsdp_at(p, map, ctx);
        if (rev != 0) {
            out->rsdp = p;
            out->acpi_revision = rev;
            return true;
        }
    }
    return false;
}

static void find_rsdp(struct metal_pvh *out, uint64_t given, metal_acpi_map_fn map, void *ctx)
{
    uint32_t rev = given != 0 ? rsdp_at(given, map, ctx) : 0;
    if (rev != 0) {
        out->rsdp = given;
        out->acpi_revision = rev;
        return;
    }
    out->rsdp_searched = true;
    const uint8_t *ebda_seg = map(ctx, 0x40e, 2);
    uint64_t ebda = ebda_seg != NULL ? (uint64_t)(ebda_seg[0] | ebda_seg[1] << 8) << 4 : 0;
    if (ebda >= 0x80000 && ebda < 0xa0000 && rsdp_scan(out, ebda, 1024, map, ctx))
        return;
    (void)rsdp_scan(out, 0xe0000, 0x20000, map, ctx);
}

static void read_cmdline(struct metal_pvh *out, uint64_t at, metal_acpi_map_fn map, void *ctx)
{
    if (at == 0)
        return;
    size_t n = 0;
    for (; n < METAL_PVH_CMDLINE_MAX - 1; n++) {
        const uint8_t *c = at + n < at ? NULL : map(ctx, at + n, 1);
        if (c == NULL) {
            out->cmdline_cut = true;
            break;
        }
        if (*c == 0)
            break;
        out->cmdline[n] = (char)*c;
    }
    if (n == METAL_PVH_CMDLINE_MAX - 1) {
        const uint8_t *c = map(ctx, at + n, 1);
        out->cmdline_cut = c == NULL || *c != 0;
    }
    out->cmdline[n] = '\0';
    out->cmdline_len = n;
}

const char *metal_pvh_read(struct metal_pvh *out, uint64_t info_phys, uint64_t reserve_start,
                           uint64_t reserve_end, metal_acpi_map_fn map, void *ctx)
{
    memset(out, 0, sizeof(*out));
    const uint8_t *h = map(ctx, info_phys, INFO_V0_BYTES);
    if (h == NULL)
        return "unreadable";
    if (rd32(h) != METAL_PVH_MAGIC)
        return "bad-magic";
    out->version = rd32(h + 4);
    if (out->version == 0)
        return "version-0-has-no-memory-map";
    h = map(ctx, info_phys, INFO_V1_BYTES);
    if (h == NULL)
        return "unreadable";
    uint64_t table = rd64(h + 40);
    out->entries = rd32(h + 48);
    if (table == 0 || out->entries == 0)
        return "no-memory-map";
    struct sweep s;
    s.nspan = 0;
    const char *why = read_entries(out, &s, table, map, ctx);
    if (why != NULL)
        return why;
    if (reserve_end > reserve_start && reserve_start < METAL_PVH_PHYS_LIMIT)
        (void)add_span(&s, reserve_start,
                       reserve_end < METAL_PVH_PHYS_LIMIT ? reserve_end : METAL_PVH_PHYS_LIMIT,
                       K_KERNEL);
    collect_points(&s);
    sweep_map(out, &s);
    read_cmdline(out, rd64(h + 24), map, ctx);
    find_rsdp(out, rd64(h + 32), map, ctx);
    return out->usable_bytes == 0 ? "no-usable-memory" : NULL;
}
