/*
 * libFuzzer harness for the metal ACPI parser: the input is a fake
 * physical memory at 0x1000 with the RSDP at its start; the parser must
 * not crash, overread or hang, and what it reports must be in range
 * (the virtio-mmio windows, I/O APICs and GED of the DSDT and MADT
 * included; seeds: fixtures/fuzz/metal_acpi, microvm_tables is QEMU
 * microvm's).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fake {
    const uint8_t *mem;
    size_t size;
};

static const void *fake_map(void *ctx, uint64_t phys, size_t len)
{
    const struct fake *f = ctx;
    if (phys < 0x1000 || phys - 0x1000 > f->size || len > f->size - (phys - 0x1000))
        return NULL;
    return f->mem + (phys - 0x1000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    struct fake f = { copy, size };
    struct metal_acpi a;
    metal_acpi_parse(&a, 0x1000, fake_map, &f);
    if ((a.have_ecam && (a.ecam_base & 0xfffff) != 0) || (a.have_s5 && a.s5_typ > 7) ||
        a.pm1a_cnt > 0xffff || a.pm1a_evt > 0xffff)
        abort();
    if (a.nmmio > METAL_ACPI_MMIO_MAX || a.nioapic > METAL_ACPI_IOAPIC_MAX ||
        a.ged_event % 4 != 0 || a.ged_event >= (1ull << 46) || a.sleep_ctl >= (1ull << 46) ||
        a.reset_mem >= (1ull << 46))
        abort();
    for (unsigned i = 0; i < a.nmmio; i++)
        if (a.mmio[i].base == 0 || a.mmio[i].size < 0x100)
            abort();
    free(copy);
    return 0;
}
