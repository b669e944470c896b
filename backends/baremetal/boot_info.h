/*
 * Interface: the machine description, what an entry hands the kernel.
 *
 * The kernel has two entries (docs/baremetal.md, docs/microvm.md); they
 * differ only in how they learn the machine, and both fill one struct
 * tern_boot_info and call kmain(info) (main.c):
 *   - UEFI: the loader (efi/loader.c, compiled for the LLP64 Microsoft
 *     ABI) fills it in EfiLoaderData memory, leaves boot services, and
 *     calls the kernel's _start(info) with the System V convention
 *     (first argument in %rdi). Every field is a fixed-width integer so
 *     both ABIs lay the struct out identically.
 *   - PVH: pvh_entry.S and pvh_boot.c fill it from Xen's hvm_start_info
 *     (pvh.c translates its E820 map into the descriptors below).
 * The kernel checks magic and version before trusting anything else.
 *
 * After the call the kernel owns the machine: the memory map describes
 * which memory is free (EfiConventionalMemory) and the entry's page
 * tables (an identity map of at least [0, 4 GiB)) stay in use until
 * mm_init builds Tern's own.
 */
#ifndef TERN_METAL_BOOT_INFO_H
#define TERN_METAL_BOOT_INFO_H

#include <stdint.h>

#define TERN_BOOT_MAGIC   0x544f4f424e524554ull  /* "TERNBOOT" little-endian */
#define TERN_BOOT_VERSION 3u

/* Which entry filled the description. */
#define TERN_BOOT_ENTRY_UEFI 1u
#define TERN_BOOT_ENTRY_PVH  2u

/* UEFI memory types the kernel looks at. */
#define TERN_EFI_LOADER_CODE        1u
#define TERN_EFI_LOADER_DATA        2u
#define TERN_EFI_CONVENTIONAL       7u
#define TERN_EFI_UNUSABLE           8u
#define TERN_EFI_ACPI_RECLAIM       9u
#define TERN_EFI_ACPI_NVS           10u
#define TERN_EFI_RESERVED           0u

/* One UEFI memory descriptor. The map's stride is memdesc_size (the
 * firmware may append fields), never sizeof this struct. */
struct tern_efi_memdesc {
    uint32_t type;
    uint32_t pad;
    uint64_t phys_start;
    uint64_t virt_start;
    uint64_t pages;          /* 4 KiB pages */
    uint64_t attribute;
};

struct tern_boot_info {
    uint64_t magic;          /* TERN_BOOT_MAGIC */
    uint32_t version;        /* TERN_BOOT_VERSION */
    uint32_t acpi_revision;  /* 2 for an ACPI 2.0+ RSDP, 1 for 1.0, 0: none */
    uint64_t tsc_at_entry;   /* rdtsc at the top of efi_main */
    uint64_t memmap;         /* address of the final UEFI memory map */
    uint64_t memmap_size;    /* bytes */
    uint64_t memdesc_size;   /* stride between descriptors */
    uint64_t rsdp;           /* address of the ACPI RSDP, 0 when none */
    uint64_t kernel_base;    /* where the kernel image was loaded */
    uint64_t kernel_size;    /* bytes reserved for it (EfiLoaderCode) */
    /* rdtsc at the loader's steps, for the kernel's "boot stages" line */
    uint64_t tsc_allocated;  /* the kernel's pages allocated */
    uint64_t tsc_loaded;     /* the kernel copied, zeroed and relocated */
    uint64_t tsc_map;        /* the final memory map taken, ExitBootServices called */
    uint64_t tsc_exit;       /* ExitBootServices returned success */
    uint32_t exit_attempts;  /* ExitBootServices calls (1 unless the map key went stale) */
    uint32_t entry;          /* TERN_BOOT_ENTRY_*; the stage fields above are UEFI's only */
    uint64_t cmdline;        /* address of the entry's command line (PVH), 0: none (UEFI: */
    uint64_t cmdline_len;    /*   the kernel reads fw_cfg's opt/tern/cmdline instead) */
};

#endif
