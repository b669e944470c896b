/*
 * Interface: the PVH boot protocol's start info read into Tern's machine
 * description (pvh.c).
 *
 * A PVH monitor (QEMU -kernel with microvm or pc, Firecracker, Cloud
 * Hypervisor) enters the kernel with the physical address of a struct
 * hvm_start_info (Xen's public/arch-x86/hvm/start_info.h, version 1):
 *
 *   off  field            meaning
 *     0  magic            0x336ec578 ("xEn3" with bit 7 of 'E' set)
 *     4  version          0 or 1 (1 adds the memory map)
 *     8  flags, 12 nr_modules, 16 modlist_paddr (modules: not used)
 *    24  cmdline_paddr    NUL-terminated command line, 0: none
 *    32  rsdp_paddr       the ACPI RSDP, 0: none given
 *    40  memmap_paddr     version 1: hvm_memmap_table_entry[memmap_entries]
 *    48  memmap_entries     {u64 addr, u64 size, u32 type (E820), u32 reserved}
 *
 * Everything there is input the kernel did not write, read only through
 * map(ctx, phys, len) (acpi.h's map: NULL when not readable). The reader:
 *   - refuses a bad magic, version 0 (no memory map), no entries;
 *   - reads at most METAL_PVH_ENTRIES_MAX entries (more are counted in
 *     `dropped`), skips entries of size 0 (counted in `empty`: QEMU's
 *     pvh.bin ends its table with one), and drops entries starting at or
 *     beyond METAL_PVH_PHYS_LIMIT, or RAM smaller than a page (counted);
 *     an entry whose end overflows or passes the limit is cut there
 *     (counted in `clipped`);
 *   - resolves overlaps by kind: reserved (E820 2 and any unknown type)
 *     beats unusable (5) beats ACPI NVS (4) beats ACPI tables (3) beats
 *     the kernel's own image beats RAM (1): RAM is what no other entry
 *     claims (intervals covered by entries of different kinds counted in
 *     `overlaps`). RAM is rounded inwards to whole pages, everything else
 *     outwards;
 *   - carves [reserve_start, reserve_end) (the kernel image, BSS
 *     included) out of RAM as EfiLoaderCode, as the UEFI loader's pages
 *     are;
 *   - writes sorted, non-overlapping UEFI descriptors (boot_info.h):
 *     RAM EfiConventionalMemory, ACPI tables EfiACPIReclaimMemory, NVS
 *     EfiACPIMemoryNVS, unusable EfiUnusableMemory, reserved
 *     EfiReservedMemoryType; neighbours of one kind merged; at most
 *     METAL_PVH_DESC_MAX (the rest counted in `lost`);
 *   - copies the command line (at most METAL_PVH_CMDLINE_MAX - 1 bytes,
 *     `cmdline_cut` when longer or unreadable part way);
 *   - takes rsdp_paddr when its RSDP has the signature and checksum, else
 *     searches the first KiB of the EBDA and 0xE0000-0xFFFFF on 16-byte
 *     boundaries, as ACPI 6.4 5.2.5.1 says for legacy machines (qboot,
 *     QEMU microvm's firmware, gives none in the start info).
 * Pure code: no globals, no allocation; compiled natively for its unit
 * test and fuzz harness.
 */
#ifndef TERN_METAL_PVH_H
#define TERN_METAL_PVH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acpi.h"
#include "boot_info.h"
#include "cmdline.h"

#define METAL_PVH_MAGIC 0x336ec578u
#define METAL_PVH_ENTRIES_MAX 128u
#define METAL_PVH_DESC_MAX 256u
#define METAL_PVH_CMDLINE_MAX TERN_METAL_CMDLINE_MAX
#define METAL_PVH_PHYS_LIMIT (1ull << 46)   /* what mm.c can map */

struct metal_pvh {
    uint32_t version;
    uint32_t entries;         /* E820 entries the start info announced */
    uint32_t empty;           /* entries of size 0: skipped, not an error */
    uint32_t dropped;         /* entries not used (see above) */
    uint32_t clipped;         /* entries cut at METAL_PVH_PHYS_LIMIT */
    uint32_t overlaps;        /* intervals claimed by entries of different kinds */
    uint32_t lost;            /* intervals beyond METAL_PVH_DESC_MAX */
    struct tern_efi_memdesc map[METAL_PVH_DESC_MAX];
    unsigned nmap;
    uint64_t usable_bytes;    /* EfiConventionalMemory written */
    uint64_t rsdp;            /* 0: none found */
    uint32_t acpi_revision;   /* 2 for an ACPI 2.0+ RSDP, 1 for 1.0, 0: none */
    bool rsdp_searched;       /* the start info gave none (or a bad one) */
    char cmdline[METAL_PVH_CMDLINE_MAX];
    size_t cmdline_len;
    bool cmdline_cut;
};

/* Reads the start info at info_phys into *out (always fully written).
 * Returns NULL, or why the start info cannot be used: "unreadable",
 * "bad-magic", "version-0-has-no-memory-map", "no-memory-map",
 * "memory-map-unreadable", "no-usable-memory". */
const char *metal_pvh_read(struct metal_pvh *out, uint64_t info_phys, uint64_t reserve_start,
                           uint64_t reserve_end, metal_acpi_map_fn map, void *ctx);

#endif
