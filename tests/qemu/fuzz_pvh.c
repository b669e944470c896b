/*
 * libFuzzer harness for the PVH start-info reader: the input is a fake
 * physical memory at 0x1000 with the start info at its start (the
 * addresses in it may point anywhere into it, or outside); the reader
 * must not crash, overread or hang, and the map it writes must be
 * sorted, disjoint, whole pages within the limit, with the kernel range
 * (0x100000-0x185123) never in RAM.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvh.h"

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
    static struct metal_pvh p;
    (void)metal_pvh_read(&p, 0x1000, 0x100000, 0x185123, fake_map, &f);
    uint64_t prev = 0, usable = 0;
    if (p.nmap > METAL_PVH_DESC_MAX || p.cmdline_len >= METAL_PVH_CMDLINE_MAX ||
        p.cmdline[p.cmdline_len] != '\0')
        abort();
    for (unsigned i = 0; i < p.nmap; i++) {
        const struct tern_efi_memdesc *d = &p.map[i];
        uint64_t end = d->phys_start + d->pages * 4096;
        if ((d->phys_start & 4095) || d->pages == 0 || end > METAL_PVH_PHYS_LIMIT ||
            (i > 0 && d->phys_start < prev))
            abort();
        if (d->type == TERN_EFI_CONVENTIONAL) {
            usable += d->pages * 4096;
            if (d->phys_start < 0x186000 && end > 0x100000)
                abort();
        }
        prev = end;
    }
    if (usable != p.usable_bytes)
        abort();
    free(copy);
    return 0;
}
