/*
 * Interface: the PVH entry's C half (pvh_entry.S calls pvh_main). It
 * learns the machine from the start info (pvh.c: the E820 map as UEFI
 * descriptors, the command line, the RSDP), fills the machine
 * description (struct tern_boot_info, boot_info.h) as the UEFI loader
 * does, and calls kmain: from there on both entries run the same code.
 *
 * A start info that cannot be used stops the machine with
 * `TERN_PANIC reason=pvh-start-info error=WHAT` on COM1 (QEMU status 71
 * with isa-debug-exit); one the reader had to correct (entries dropped,
 * cut or overlapping, the command line cut) is one `warn pvh:` line.
 */
#include "metal.h"
#include "pvh.h"
#include "x86.h"

#define FOUR_GIB (4ull << 30)

extern uint64_t pvh_entry_tsc;          /* pvh_entry.S */
extern const char __ehdr_start[], _end[];

void pvh_main(uint32_t start_info) __attribute__((noreturn));

/* What pvh_main hands kmain; in BSS, which pvh_start zeroed. */
static struct pvh_boot {
    struct metal_pvh pvh;
    struct tern_boot_info info;
} boot;

/* The start info and what it points to are read through pvh_start's
 * identity map of [0, 4 GiB). */
static const void *boot_map(void *ctx, uint64_t phys, size_t len)
{
    (void)ctx;
    if (phys == 0 || phys + len < phys || phys + len > FOUR_GIB)
        return NULL;
    return (const void *)(uintptr_t)phys;
}

void pvh_main(uint32_t start_info)
{
    serial_init();
    struct metal_pvh *p = &boot.pvh;
    uint64_t kbase = (uint64_t)(uintptr_t)__ehdr_start;
    uint64_t kend = (uint64_t)(uintptr_t)_end;
    const char *why = metal_pvh_read(p, start_info, kbase, kend, boot_map, NULL);
    if (why != NULL) {
        serial_printf("TERN_PANIC reason=pvh-start-info error=%s\n", why);
        metal_exit(METAL_PANIC_EXIT_VALUE);
    }
    if (p->dropped || p->clipped || p->overlaps || p->lost || p->cmdline_cut)
        serial_printf("warn pvh: start info v%u: %u E820 entries, %u dropped, %u cut at 64 TiB, "
                      "%u overlapping intervals resolved, %u intervals lost, command line %s\n",
                      (unsigned)p->version, (unsigned)p->entries, (unsigned)p->dropped,
                      (unsigned)p->clipped, (unsigned)p->overlaps, (unsigned)p->lost,
                      p->cmdline_cut ? "cut" : "whole");
    struct tern_boot_info *info = &boot.info;
    info->magic = TERN_BOOT_MAGIC;
    info->version = TERN_BOOT_VERSION;
    info->entry = TERN_BOOT_ENTRY_PVH;
    info->tsc_at_entry = pvh_entry_tsc;
    info->memmap = (uint64_t)(uintptr_t)p->map;
    info->memmap_size = (uint64_t)p->nmap * sizeof(p->map[0]);
    info->memdesc_size = sizeof(p->map[0]);
    info->rsdp = p->rsdp;
    info->acpi_revision = p->acpi_revision;
    info->kernel_base = kbase;
    info->kernel_size = (kend - kbase + 4095) & ~4095ull;
    info->cmdline = (uint64_t)(uintptr_t)p->cmdline;
    info->cmdline_len = p->cmdline_len;
    kmain(info);
}
