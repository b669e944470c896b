/*
 * Interface: device interrupt lines through the I/O APIC (see metal.h).
 *
 * The ACPI MADT names each I/O APIC with its register window and the
 * first global system interrupt (GSI) it takes (acpi.c). ioapic_route
 * programs the redirection entry of the pin that takes gsi: fixed
 * delivery of `vector` to this CPU's LAPIC (physical destination, its
 * xAPIC ID), active high, edge-triggered, unmasked. Edge, whatever the
 * DSDT says of the line: the loop runs with interrupts on, and a level
 * line that stays high until wait() acknowledges the device would
 * interrupt again at every EOI. ISA interrupt source overrides are not
 * read (Tern routes only the virtio-mmio lines, GSI 16 and up on QEMU's
 * microvm).
 */
#include "metal.h"
#include "x86.h"

#define IOREGSEL 0x00
#define IOWIN 0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDTBL 0x10
#define LAPIC_ID 0x020
#define RTE_MASKED (1u << 16)

static uint32_t ioapic_read(uint64_t base, uint32_t reg)
{
    mmio_write32(base + IOREGSEL, reg);
    return mmio_read32(base + IOWIN);
}

static void ioapic_write(uint64_t base, uint32_t reg, uint32_t v)
{
    mmio_write32(base + IOREGSEL, reg);
    mmio_write32(base + IOWIN, v);
}

tern_result ioapic_route(struct metal *m, uint32_t gsi, uint8_t vector)
{
    const struct metal_acpi *a = &m->acpi;
    for (unsigned i = 0; i < a->nioapic; i++) {
        uint64_t base = a->ioapic[i].addr;
        if (gsi < a->ioapic[i].gsi_base || base == 0 || base + 0x20 > m->mm.mapped_top)
            continue;
        uint32_t pins = ((ioapic_read(base, IOAPIC_VER) >> 16) & 0xff) + 1u;
        uint32_t pin = gsi - a->ioapic[i].gsi_base;
        if (pin >= pins)
            continue;
        uint32_t apic_id = mmio_read32(m->clock.lapic_base + LAPIC_ID) >> 24;
        ioapic_write(base, IOAPIC_REDTBL + 2 * pin, RTE_MASKED);
        ioapic_write(base, IOAPIC_REDTBL + 2 * pin + 1, apic_id << 24);
        ioapic_write(base, IOAPIC_REDTBL + 2 * pin, vector); /* fixed, physical, high, edge */
        return TERN_OK;
    }
    return TERN_ENOTSUP;
}
