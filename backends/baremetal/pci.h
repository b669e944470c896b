/*
 * Interface: PCI on metal (pci.c).
 *
 * pci_init() enumerates segment 0 once: through ECAM when ACPI's MCFG
 * gave a window (each function's 4 KiB of config space is memory), else
 * through the legacy ports 0xCF8/0xCFC (256 bytes per function). For
 * every function it records the IDs and class. pci_enable(), called by a
 * driver that takes the function, sizes its BARs once (all-ones written
 * with decoding off, then restored), identity-maps memory BARs (uncached)
 * that lie outside the boot map, finds its MSI-X capability, and turns
 * decoding and bus mastering on: sizing is ~25 config accesses, each a
 * port round trip under TCG, and Tern drives only some functions.
 * Config reads of absent functions return all-ones, which ends the scan
 * of that slot. Buses are found, not probed: bus 0 (the MCFG's first),
 * the bus behind every PCI-to-PCI bridge (its secondary number), and
 * buses 1..7 when the host bridge 00:00 is multi-function.
 *
 * pci_msix_enable() programs a function's MSI-X table so that entries
 * 0..n-1 deliver `vector` to this CPU's LAPIC, and turns MSI-X on (legacy
 * INTx off). Drivers fall back to polling when it fails (see virtio.c).
 */
#ifndef TERN_METAL_PCI_H
#define TERN_METAL_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "tern/result.h"

#define METAL_PCI_MAX 32

struct metal;

struct metal_pci_bar {
    uint64_t addr;       /* physical (memory) or port (I/O) */
    uint64_t size;       /* 0: not implemented */
    bool io;
    bool is64;
};

struct metal_pci_dev {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint16_t subsys_device;
    uint8_t class_code, subclass;
    struct metal_pci_bar bar[6];
    uint8_t msix_cap;    /* config offset of the MSI-X capability, 0: none */
    bool enabled;        /* pci_enable ran: bar[] and msix_cap are known */
    bool claimed;        /* a driver took it */
};

struct metal_pci {
    bool ecam;
    uint64_t ecam_base;
    uint8_t bus_start, bus_end;
    struct metal_pci_dev devs[METAL_PCI_MAX];
    unsigned ndevs;
    unsigned dropped;    /* functions beyond METAL_PCI_MAX */
};

void pci_init(struct metal *m);
uint32_t pci_read32(struct metal *m, const struct metal_pci_dev *d, uint16_t off);
uint16_t pci_read16(struct metal *m, const struct metal_pci_dev *d, uint16_t off);
uint8_t pci_read8(struct metal *m, const struct metal_pci_dev *d, uint16_t off);
void pci_write32(struct metal *m, const struct metal_pci_dev *d, uint16_t off, uint32_t v);
void pci_write16(struct metal *m, const struct metal_pci_dev *d, uint16_t off, uint16_t v);
/* Sizes and maps the BARs and finds MSI-X (the first time), then turns
 * on memory/I/O decoding and bus mastering (DMA). */
void pci_enable(struct metal *m, struct metal_pci_dev *d);
/* Walks the capability list; returns the offset of the next capability
 * with id `id` after `after` (0 = from the start), or 0. Bounded to 48
 * steps (a looping list ends the walk). */
uint8_t pci_find_cap(struct metal *m, const struct metal_pci_dev *d, uint8_t id, uint8_t after);
/* TERN_OK, TERN_ENOTSUP (no MSI-X or fewer than n entries), TERN_EIO. */
tern_result pci_msix_enable(struct metal *m, const struct metal_pci_dev *d, unsigned n,
                            uint8_t vector);

#endif
