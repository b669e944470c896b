/*
 * libFuzzer harness for the metal command-line parser: any bytes, any
 * length; the parser must not crash, overread or hang, and its result
 * must stay within the documented ranges (virtio_mmio.device windows
 * included: sizes, alignment, the 64 TiB limit, no overlaps).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tern_metal_cmdline c;
    tern_metal_cmdline_parse(&c, (const char *)data, size);
    if (c.halt_set && c.halt_code > 127)
        abort();
    if (c.ip != 0 && (c.mask == 0 || (uint32_t)(~c.mask & (~c.mask + 1)) != 0))
        abort();
    if (c.delay_ms > 600000 || c.fault > TERN_METAL_FAULT_SPIN || c.ignored > size)
        abort();
    if (c.nmmio > TERN_METAL_MMIO_MAX)
        abort();
    for (uint32_t i = 0; i < c.nmmio; i++) {
        const struct tern_metal_mmio_dev *d = &c.mmio[i];
        if (d->size < TERN_METAL_MMIO_MIN_SIZE || d->size > TERN_METAL_MMIO_MAX_SIZE ||
            d->base == 0 || (d->base & 3) || d->base + d->size > (1ull << 46) || d->irq > 255)
            abort();
        for (uint32_t j = 0; j < i; j++)   /* no two windows overlap */
            if (d->base < c.mmio[j].base + c.mmio[j].size && c.mmio[j].base < d->base + d->size)
                abort();
    }
    return 0;
}
