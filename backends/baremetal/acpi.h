/*
 * Interface: the few ACPI facts the metal backend needs, read from the
 * firmware's tables (ACPI 6.4 ch. 5): RSDP -> XSDT (or RSDT) -> MCFG for
 * PCI ECAM, FADT for PM1a control and the reset register (or, on a
 * hardware-reduced machine such as QEMU's microvm, the sleep control
 * register and a memory-space reset register), MADT for the I/O APICs,
 * and from the DSDT's AML: the `_S5_` package for the S5 sleep type
 * (soft-off), the virtio-mmio devices (_HID "LNRO0005" with a _CRS of
 * Memory32Fixed and an Extended Interrupt, as QEMU's microvm writes
 * them), and the Generic Event Device (_HID "ACPI0013") whose event
 * register, its first SystemMemory OperationRegion, says a power button
 * press. AML is not interpreted: each is a bounded pattern search inside
 * its Device's package, and anything that does not parse is skipped.
 *
 * The tables are input the kernel did not write: every table's signature,
 * length (36 bytes .. 1 MiB) and checksum is checked before a field is
 * read, and a table that fails is counted in `bad_tables` and ignored.
 * The parser reads memory only through `map(ctx, phys, len)`, which
 * returns a pointer to len readable bytes at physical address phys, or
 * NULL; on metal that is the identity map, in unit tests a fake memory.
 * No state outside *out; no allocation.
 */
#ifndef TERN_METAL_ACPI_H
#define TERN_METAL_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef const void *(*metal_acpi_map_fn)(void *ctx, uint64_t phys, size_t len);

#define METAL_ACPI_IOAPIC_MAX 4
#define METAL_ACPI_MMIO_MAX 8

/* A virtio-mmio device the DSDT describes. */
struct metal_acpi_mmio {
    uint64_t base;
    uint32_t size;
    uint32_t gsi;             /* its interrupt (0 when the _CRS has none) */
};

struct metal_acpi {
    bool rsdp_ok;
    /* MCFG: the ECAM window of PCI segment 0 (other segments ignored). */
    bool have_ecam;
    uint64_t ecam_base;
    uint8_t ecam_bus_start, ecam_bus_end;
    /* FADT */
    bool have_fadt;
    uint32_t pm1a_cnt;        /* I/O port of PM1a_CNT, 0 when none */
    uint32_t pm1a_evt;        /* I/O port of PM1a_EVT (status, then enable), 0: none */
    uint8_t pm1_evt_len;      /* bytes of PM1a_EVT: status is the first half */
    bool have_s5;
    uint8_t s5_typ;           /* SLP_TYPa for S5 from the DSDT */
    bool have_reset;          /* FADT RESET_REG_SUP with an I/O- or memory-space register */
    uint16_t reset_port;      /* I/O space, 0: the register is in memory */
    uint64_t reset_mem;       /* memory space, 0: it is a port */
    uint8_t reset_value;
    bool hw_reduced;          /* FADT HW_REDUCED_ACPI: no PM1 blocks */
    uint64_t sleep_ctl;       /* memory address of the sleep control register, 0: none */
    uint16_t sleep_ctl_port;  /* or its I/O port (Cloud Hypervisor's), 0: none */
    /* MADT: the I/O APICs (register window, first GSI) */
    struct { uint64_t addr; uint32_t gsi_base; } ioapic[METAL_ACPI_IOAPIC_MAX];
    unsigned nioapic;
    /* DSDT: virtio-mmio devices (more than the max are counted) and the GED */
    struct metal_acpi_mmio mmio[METAL_ACPI_MMIO_MAX];
    unsigned nmmio;
    uint32_t mmio_dropped;
    uint64_t ged_event;       /* the GED's event selector register, 0: none */
    uint32_t tables;          /* tables seen in the XSDT/RSDT */
    uint32_t bad_tables;      /* failed signature/length/checksum: ignored */
};

/* Parses from the RSDP at rsdp_phys. Always fills *out (all false when
 * nothing usable was found). */
void metal_acpi_parse(struct metal_acpi *out, uint64_t rsdp_phys, metal_acpi_map_fn map,
                      void *ctx);

#endif
