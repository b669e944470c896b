/*
 * Interface: see pci.h.
 */
#include "metal.h"
#include "x86.h"

#define CFG_ADDR 0xcf8
#define CFG_DATA 0xcfc

#define PCI_COMMAND 0x04
#define PCI_CMD_IO 0x1
#define PCI_CMD_MEM 0x2
#define PCI_CMD_MASTER 0x4
#define PCI_CMD_INTX_OFF 0x400
#define PCI_STATUS 0x06
#define PCI_STATUS_CAPS 0x10
#define PCI_CAP_PTR 0x34
#define PCI_CAP_MSIX 0x11

static uint64_t ecam_addr(struct metal *m, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    return m->pci.ecam_base + ((uint64_t)(bus - m->pci.bus_start) << 20) +
           ((uint64_t)dev << 15) + ((uint64_t)fn << 12) + off;
}

static uint32_t legacy_addr(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    return 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 |
           (off & 0xfc);
}

static uint32_t cfg_read32(struct metal *m, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    if (m->pci.ecam)
        return *(volatile uint32_t *)ecam_addr(m, bus, dev, fn, off & 0xffc);
    if (off >= 256)
        return 0xffffffffu;
    outl(CFG_ADDR, legacy_addr(bus, dev, fn, off));
    return inl(CFG_DATA);
}

static void cfg_write32(struct metal *m, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off,
                        uint32_t v)
{
    if (m->pci.ecam) {
        *(volatile uint32_t *)ecam_addr(m, bus, dev, fn, off & 0xffc) = v;
        return;
    }
    if (off >= 256)
        return;
    outl(CFG_ADDR, legacy_addr(bus, dev, fn, off));
    outl(CFG_DATA, v);
}

uint32_t pci_read32(struct metal *m, const struct metal_pci_dev *d, uint16_t off)
{
    return cfg_read32(m, d->bus, d->dev, d->fn, off);
}

uint16_t pci_read16(struct metal *m, const struct metal_pci_dev *d, uint16_t off)
{
    return (uint16_t)(pci_read32(m, d, off & ~3u) >> ((off & 2) * 8));
}

uint8_t pci_read8(struct metal *m, const struct metal_pci_dev *d, uint16_t off)
{
    return (uint8_t)(pci_read32(m, d, off & ~3u) >> ((off & 3) * 8));
}

void pci_write32(struct metal *m, const struct metal_pci_dev *d, uint16_t off, uint32_t v)
{
    cfg_write32(m, d->bus, d->dev, d->fn, off, v);
}

void pci_write16(struct metal *m, const struct metal_pci_dev *d, uint16_t off, uint16_t v)
{
    if (m->pci.ecam) {
        *(volatile uint16_t *)ecam_addr(m, d->bus, d->dev, d->fn, off & 0xffe) = v;
        return;
    }
    if (off >= 256)
        return;
    outl(CFG_ADDR, legacy_addr(d->bus, d->dev, d->fn, off));
    outw((uint16_t)(CFG_DATA + (off & 2)), v);
}

static void size_bars(struct metal *m, struct metal_pci_dev *d);

void pci_enable(struct metal *m, struct metal_pci_dev *d)
{
    if (!d->enabled) {
        size_bars(m, d);
        d->msix_cap = pci_find_cap(m, d, PCI_CAP_MSIX, 0);
        d->enabled = true;
    }
    uint16_t cmd = pci_read16(m, d, PCI_COMMAND);
    pci_write16(m, d, PCI_COMMAND, cmd | PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MASTER);
}

uint8_t pci_find_cap(struct metal *m, const struct metal_pci_dev *d, uint8_t id, uint8_t after)
{
    if (!(pci_read16(m, d, PCI_STATUS) & PCI_STATUS_CAPS))
        return 0;
    uint8_t p = after ? (uint8_t)(pci_read8(m, d, (uint16_t)(after + 1)) & 0xfc)
                      : (uint8_t)(pci_read8(m, d, PCI_CAP_PTR) & 0xfc);
    for (int steps = 0; p >= 0x40 && steps < 48; steps++) {
        if (pci_read8(m, d, p) == id)
            return p;
        p = pci_read8(m, d, (uint16_t)(p + 1)) & 0xfc;
    }
    return 0;
}

static void size_bars(struct metal *m, struct metal_pci_dev *d)
{
    uint16_t cmd = pci_read16(m, d, PCI_COMMAND);
    pci_write16(m, d, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEM));
    for (unsigned i = 0; i < 6; i++) {
        uint16_t off = (uint16_t)(0x10 + 4 * i);
        uint32_t orig = pci_read32(m, d, off);
        pci_write32(m, d, off, 0xffffffffu);
        uint32_t probe = pci_read32(m, d, off);
        pci_write32(m, d, off, orig);
        struct metal_pci_bar *b = &d->bar[i];
        if (orig & 1) {
            b->io = true;
            b->addr = orig & ~3u;
            uint32_t mask = probe & ~3u & 0xffff;
            b->size = mask ? (uint64_t)((~mask + 1) & 0xffff) : 0;
            continue;
        }
        uint64_t mask = probe & ~0xfu;
        b->addr = orig & ~0xfu;
        if (((orig >> 1) & 3) == 2 && i < 5) {
            uint32_t orig_hi = pci_read32(m, d, (uint16_t)(off + 4));
            pci_write32(m, d, (uint16_t)(off + 4), 0xffffffffu);
            uint32_t probe_hi = pci_read32(m, d, (uint16_t)(off + 4));
            pci_write32(m, d, (uint16_t)(off + 4), orig_hi);
            b->is64 = true;
            b->addr |= (uint64_t)orig_hi << 32;
            mask |= (uint64_t)probe_hi << 32;
            b->size = mask ? ~mask + 1 : 0;
            i++; /* the upper half is not a BAR of its own */
        } else {
            b->size = mask ? (uint64_t)(uint32_t)(~(uint32_t)mask + 1) : 0;
        }
    }
    pci_write16(m, d, PCI_COMMAND, cmd);
    for (unsigned i = 0; i < 6; i++) {
        struct metal_pci_bar *b = &d->bar[i];
        if (b->io || b->size == 0 || b->addr == 0)
            continue;
        if (b->addr + b->size > m->mm.mapped_top &&
            mm_map(m, b->addr, b->size, PTE_W | PTE_NX | PTE_PCD | PTE_PWT) != TERN_OK)
            b->size = 0; /* cannot be used */
    }
}

static void add_function(struct metal *m, uint8_t bus, uint8_t dev, uint8_t fn, uint32_t id)
{
    if (m->pci.ndevs == METAL_PCI_MAX) {
        m->pci.dropped++;
        return;
    }
    struct metal_pci_dev *d = &m->pci.devs[m->pci.ndevs++];
    *d = (struct metal_pci_dev){ .bus = bus, .dev = dev, .fn = fn };
    d->vendor = (uint16_t)id;
    d->device = (uint16_t)(id >> 16);
    uint32_t cls = pci_read32(m, d, 0x08);
    d->class_code = (uint8_t)(cls >> 24);
    d->subclass = (uint8_t)(cls >> 16);
    uint8_t hdr = pci_read8(m, d, 0x0e) & 0x7f;
    if (hdr != 0)
        return; /* bridges: no BARs of interest */
    d->subsys_device = (uint16_t)(pci_read32(m, d, 0x2c) >> 16);
}

static bool bus_in_range(const struct metal_pci *p, unsigned bus)
{
    return bus >= p->bus_start && bus <= p->bus_end;
}

/* Every function on bus, then the buses behind its PCI-to-PCI bridges
 * (class 06.04, header type 1: secondary bus number at 0x19). seen has a
 * bit per bus so a bad secondary number cannot loop; depth is at most
 * 256 buses. */
static void scan_bus(struct metal *m, uint8_t bus, uint8_t *seen)
{
    struct metal_pci *p = &m->pci;
    if (!bus_in_range(p, bus) || (seen[bus / 8] & (1u << (bus % 8))))
        return;
    seen[bus / 8] |= (uint8_t)(1u << (bus % 8));
    for (uint8_t dev = 0; dev < 32; dev++) {
        for (uint8_t fn = 0; fn < 8; fn++) {
            uint32_t id = cfg_read32(m, bus, dev, fn, 0);
            if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) {
                if (fn == 0)
                    break;
                continue;
            }
            uint32_t hdr = cfg_read32(m, bus, dev, fn, 0x0c) >> 16;
            add_function(m, bus, dev, fn, id);
            if ((hdr & 0x7f) == 1 && (cfg_read32(m, bus, dev, fn, 0x08) >> 16) == 0x0604) {
                unsigned sec = (cfg_read32(m, bus, dev, fn, 0x18) >> 8) & 0xff;
                if (sec > bus)
                    scan_bus(m, (uint8_t)sec, seen);
            }
            if (fn == 0 && !(hdr & 0x80))
                break;
        }
    }
}

void pci_init(struct metal *m)
{
    struct metal_pci *p = &m->pci;
    if (m->acpi.have_ecam) {
        p->ecam = true;
        p->ecam_base = m->acpi.ecam_base;
        p->bus_start = m->acpi.ecam_bus_start;
        p->bus_end = m->acpi.ecam_bus_end;
        uint64_t size = ((uint64_t)(p->bus_end - p->bus_start) + 1) << 20;
        if (mm_map(m, p->ecam_base, size, PTE_W | PTE_NX | PTE_PCD | PTE_PWT) != TERN_OK)
            p->ecam = false;
    }
    if (!p->ecam) {
        p->bus_start = 0;
        p->bus_end = 255;
    }
    /* From bus 0 down through the bridges (each bus once), not every
     * bus number: on i440fx every config read is two port accesses, and
     * under TCG the brute-force 256 x 32 probe cost ~10 ms of boot. */
    uint8_t seen[32] = { 0 };
    scan_bus(m, p->bus_start, seen);
    /* Bus 0's host bridge multi-function: function f is the host
     * bridge of bus f (more than one root bus). */
    uint32_t hdr0 = cfg_read32(m, p->bus_start, 0, 0, 0x0c);
    if ((cfg_read32(m, p->bus_start, 0, 0, 0) & 0xffff) != 0xffff && (hdr0 & 0x800000u))
        for (uint8_t fn = 1; fn < 8; fn++) {
            uint32_t id = cfg_read32(m, p->bus_start, 0, fn, 0);
            if ((id & 0xffff) != 0xffff && (id & 0xffff) != 0 &&
                (unsigned)p->bus_start + fn <= p->bus_end)
                scan_bus(m, (uint8_t)(p->bus_start + fn), seen);
        }
}

tern_result pci_msix_enable(struct metal *m, const struct metal_pci_dev *d, unsigned n,
                            uint8_t vector)
{
    uint8_t cap = d->msix_cap;
    if (cap == 0)
        return TERN_ENOTSUP;
    uint16_t ctl = pci_read16(m, d, (uint16_t)(cap + 2));
    unsigned size = (ctl & 0x7ffu) + 1;
    if (n == 0 || n > size)
        return TERN_ENOTSUP;
    uint32_t tbl = pci_read32(m, d, (uint16_t)(cap + 4));
    unsigned bir = tbl & 7;
    uint64_t off = tbl & ~7u;
    if (bir > 5 || d->bar[bir].io || d->bar[bir].size == 0 ||
        off + (uint64_t)size * 16 > d->bar[bir].size)
        return TERN_EIO;
    volatile uint32_t *t = (volatile uint32_t *)(d->bar[bir].addr + off);
    uint32_t apic_id = mmio_read32(m->clock.lapic_base + 0x20) >> 24;
    /* function mask on while the table is written */
    pci_write16(m, d, (uint16_t)(cap + 2), (uint16_t)(ctl | 0x4000 | 0x8000));
    for (unsigned i = 0; i < size; i++) {
        t[i * 4 + 0] = 0xfee00000u | apic_id << 12;
        t[i * 4 + 1] = 0;
        t[i * 4 + 2] = vector;                   /* fixed, edge */
        t[i * 4 + 3] = i < n ? 0 : 1;           /* unmask the ones in use */
    }
    uint16_t cmd = pci_read16(m, d, PCI_COMMAND);
    pci_write16(m, d, PCI_COMMAND, cmd | PCI_CMD_INTX_OFF);
    pci_write16(m, d, (uint16_t)(cap + 2), (uint16_t)((ctl & ~0x4000) | 0x8000));
    return TERN_OK;
}
