/*
 * Interface: the few ACPI facts the metal backend needs, read from the
 * firmware's tables (ACPI 6.4 ch. 5): RSDP -> XSDT (or RSDT) -> MCFG for
 * PCI ECAM, FADT for PM1a control and the reset register, and the DSDT's
 * `_S5_` package for the S5 sleep type (soft-off).
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
    bool have_reset;          /* FADT RESET_REG_SUP with an I/O-space register */
    uint16_t reset_port;
    uint8_t reset_value;
    uint32_t tables;          /* tables seen in the XSDT/RSDT */
    uint32_t bad_tables;      /* failed signature/length/checksum: ignored */
};

/* Parses from the RSDP at rsdp_phys. Always fills *out (all false when
 * nothing usable was found). */
void metal_acpi_parse(struct metal_acpi *out, uint64_t rsdp_phys, metal_acpi_map_fn map,
                      void *ctx);

#endif
