/*
 * Interface: BOOTX64.EFI, the UEFI application that starts Tern.
 *
 * This is the only code that speaks UEFI's ABI (LLP64, Microsoft calling
 * convention); it is compiled with clang -target x86_64-unknown-windows
 * and linked by lld-link as an EFI application. It carries the kernel
 * (core + backend + libc, an LP64 System V static-PIE ELF) as a blob and:
 *
 *   1. notes the TSC (the zero of Tern's boot time), stops the watchdog;
 *   2. checks the ELF (64-bit, x86_64, ET_DYN, segments inside the blob),
 *      copies its PT_LOAD segments into fresh EfiLoaderCode pages and
 *      applies its R_X86_64_RELATIVE relocations (any other type refuses);
 *   3. finds the ACPI RSDP in the configuration table (2.0, else 1.0);
 *   4. takes the memory map and leaves boot services, fetching the map
 *      again when the firmware says the key went stale;
 *   5. calls the kernel's entry with System V's convention and a
 *      struct tern_boot_info (boot_info.h). It never returns.
 *
 * Failures before the kernel runs print "TERN_PANIC reason=loader
 * error=<what>" on the firmware console and return an error to the
 * firmware (docs/baremetal.md lists the errors).
 */
#include <stddef.h>
#include <stdint.h>

#include "efi.h"
#include "../boot_info.h"

extern const uint8_t tern_kernel_elf[];
extern const uint8_t tern_kernel_elf_end[];

/* ELF64, only what the loader reads (System V gABI). */
struct elf64_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
struct elf64_dyn {
    int64_t tag;
    uint64_t val;
};
struct elf64_rela {
    uint64_t offset, info;
    int64_t addend;
};
#define ET_DYN 3
#define EM_X86_64 62
#define PT_LOAD 1
#define PT_DYNAMIC 2
#define DT_NULL 0
#define DT_RELA 7
#define DT_RELASZ 8
#define DT_RELAENT 9
#define R_X86_64_NONE 0
#define R_X86_64_RELATIVE 8

typedef void (__attribute__((sysv_abi, noreturn)) *kernel_entry_fn)(struct tern_boot_info *info);

/* lld-link and clang may emit calls to these for struct copies. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);

/* Word at a time: under TCG every guest store is a few host instructions,
 * and the kernel image with its BSS is megabytes (a byte loop cost ~40 ms
 * of every boot). The empty asm keeps clang from turning the loops back
 * into calls to these very functions. */
void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    uint64_t v = 0x0101010101010101ull * (uint8_t)c;
    for (; n > 0 && ((uintptr_t)d & 7) != 0; n--)
        *d++ = (uint8_t)c;
    for (; n >= 64; n -= 64, d += 64) {
        uint64_t *w = (uint64_t *)(void *)d;
        w[0] = v; w[1] = v; w[2] = v; w[3] = v;
        w[4] = v; w[5] = v; w[6] = v; w[7] = v;
        __asm__ volatile("" : : "r"(d) : "memory");
    }
    for (; n > 0; n--) {
        *d++ = (uint8_t)c;
        __asm__ volatile("" : : "r"(d) : "memory");
    }
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if ((((uintptr_t)d ^ (uintptr_t)s) & 7) == 0) {
        for (; n > 0 && ((uintptr_t)d & 7) != 0; n--)
            *d++ = *s++;
        for (; n >= 64; n -= 64, d += 64, s += 64) {
            uint64_t *w = (uint64_t *)(void *)d;
            const uint64_t *r = (const uint64_t *)(const void *)s;
            w[0] = r[0]; w[1] = r[1]; w[2] = r[2]; w[3] = r[3];
            w[4] = r[4]; w[5] = r[5]; w[6] = r[6]; w[7] = r[7];
            __asm__ volatile("" : : "r"(d) : "memory");
        }
    } else {
        for (; n >= 8; n -= 8, d += 8, s += 8) {
            uint64_t w;
            __builtin_memcpy(&w, s, 8);
            __builtin_memcpy(d, &w, 8);
            __asm__ volatile("" : : "r"(d) : "memory");
        }
    }
    for (; n > 0; n--) {
        *d++ = *s++;
        __asm__ volatile("" : : "r"(d) : "memory");
    }
    return dst;
}

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static void say(struct efi_system_table *st, const char *msg)
{
    efi_char16 buf[160];
    size_t i = 0;
    for (; msg[i] != '\0' && i + 3 < sizeof(buf) / sizeof(buf[0]); i++)
        buf[i] = (efi_char16)(uint8_t)msg[i];
    buf[i++] = '\r';
    buf[i++] = '\n';
    buf[i] = 0;
    if (st->con_out != NULL)
        st->con_out->output_string(st->con_out, buf);
}

static efi_status fail(struct efi_system_table *st, const char *msg)
{
    say(st, msg);
    return EFI_LOAD_ERROR;
}

static int guid_eq(const struct efi_guid *a, const struct efi_guid *b)
{
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    for (size_t i = 0; i < sizeof(*a); i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

/* Checks the embedded ELF and computes the span of its PT_LOAD segments. */
static const char *check_elf(uint64_t *lo_out, uint64_t *hi_out)
{
    const uint8_t *img = tern_kernel_elf;
    uint64_t size = (uint64_t)(tern_kernel_elf_end - tern_kernel_elf);
    const struct elf64_ehdr *eh = (const void *)img;

    if (size < sizeof(*eh) || img[0] != 0x7f || img[1] != 'E' || img[2] != 'L' ||
        img[3] != 'F')
        return "TERN_PANIC reason=loader error=kernel-not-elf";
    if (img[4] != 2 || img[5] != 1 || eh->machine != EM_X86_64 || eh->type != ET_DYN)
        return "TERN_PANIC reason=loader error=kernel-not-x86_64-static-pie";
    if (eh->phentsize != sizeof(struct elf64_phdr) || eh->phoff > size ||
        (uint64_t)eh->phnum * sizeof(struct elf64_phdr) > size - eh->phoff)
        return "TERN_PANIC reason=loader error=bad-program-headers";

    const struct elf64_phdr *ph = (const void *)(img + eh->phoff);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (unsigned i = 0; i < eh->phnum; i++) {
        if (ph[i].type != PT_LOAD)
            continue;
        if (ph[i].filesz > ph[i].memsz || ph[i].offset > size ||
            ph[i].filesz > size - ph[i].offset || ph[i].memsz > (1ull << 32) ||
            ph[i].vaddr > (1ull << 32))
            return "TERN_PANIC reason=loader error=bad-load-segment";
        if (ph[i].vaddr < hi) /* ascending, no overlap (gABI); the copy relies on it */
            return "TERN_PANIC reason=loader error=bad-load-segment";
        if (ph[i].vaddr < lo)
            lo = ph[i].vaddr;
        hi = ph[i].vaddr + ph[i].memsz;
    }
    if (lo >= hi || eh->entry < lo || eh->entry >= hi)
        return "TERN_PANIC reason=loader error=entry-outside-image";
    *lo_out = lo & ~0xfffull;
    *hi_out = hi;
    return NULL;
}

/* Applies the kernel's relocations; the image sits at base (bias = base - lo). */
static const char *relocate(uint8_t *base, uint64_t lo, uint64_t span)
{
    const uint8_t *img = tern_kernel_elf;
    const struct elf64_ehdr *eh = (const void *)img;
    const struct elf64_phdr *ph = (const void *)(img + eh->phoff);
    uint64_t bias = (uint64_t)base - lo;

    const struct elf64_dyn *dyn = NULL;
    for (unsigned i = 0; i < eh->phnum; i++)
        if (ph[i].type == PT_DYNAMIC)
            dyn = (const void *)(base + (ph[i].vaddr - lo));
    if (dyn == NULL)
        return NULL; /* nothing to relocate */

    uint64_t rela = 0, relasz = 0, relaent = sizeof(struct elf64_rela);
    for (unsigned i = 0; i < 4096 && dyn[i].tag != DT_NULL; i++) {
        if (dyn[i].tag == DT_RELA)
            rela = dyn[i].val;
        else if (dyn[i].tag == DT_RELASZ)
            relasz = dyn[i].val;
        else if (dyn[i].tag == DT_RELAENT)
            relaent = dyn[i].val;
    }
    if (relasz == 0)
        return NULL;
    if (relaent != sizeof(struct elf64_rela) || rela < lo || rela - lo > span ||
        relasz > span - (rela - lo))
        return "TERN_PANIC reason=loader error=bad-relocation-table";

    const struct elf64_rela *r = (const void *)(base + (rela - lo));
    for (uint64_t i = 0; i < relasz / sizeof(*r); i++) {
        uint32_t type = (uint32_t)r[i].info;
        if (type == R_X86_64_NONE)
            continue;
        if (type != R_X86_64_RELATIVE)
            return "TERN_PANIC reason=loader error=unsupported-relocation";
        if (r[i].offset < lo || r[i].offset - lo > span - 8)
            return "TERN_PANIC reason=loader error=relocation-outside-image";
        *(uint64_t *)(base + (r[i].offset - lo)) = bias + (uint64_t)r[i].addend;
    }
    return NULL;
}

efi_status efi_main(efi_handle image, struct efi_system_table *st);

efi_status efi_main(efi_handle image, struct efi_system_table *st)
{
    uint64_t tsc0 = rdtsc();
    struct efi_boot_services *bs = st->boot_services;
    const char *err;

    bs->set_watchdog_timer(0, 0, 0, NULL);

    uint64_t lo, hi;
    if ((err = check_elf(&lo, &hi)) != NULL)
        return fail(st, err);
    uint64_t span = hi - lo;
    uint64_t pages = (span + 0xfff) / 0x1000;
    uint64_t base = 0;
    if (bs->allocate_pages(EFI_ALLOCATE_ANY_PAGES, EFI_LOADER_CODE, pages, &base) != EFI_SUCCESS)
        return fail(st, "TERN_PANIC reason=loader error=no-memory-for-kernel");
    uint64_t tsc_allocated = rdtsc();

    const struct elf64_ehdr *eh = (const void *)tern_kernel_elf;
    const struct elf64_phdr *ph = (const void *)(tern_kernel_elf + eh->phoff);
    /* Each byte once: segments copied, everything else (gaps between
     * segments, BSS, the tail of the last page) zeroed. check_elf made
     * sure the PT_LOAD segments ascend without overlapping. */
    uint64_t done = 0;
    for (unsigned i = 0; i < eh->phnum; i++) {
        if (ph[i].type != PT_LOAD)
            continue;
        uint64_t at = ph[i].vaddr - lo;
        memset((uint8_t *)base + done, 0, at - done);
        memcpy((uint8_t *)base + at, tern_kernel_elf + ph[i].offset, ph[i].filesz);
        memset((uint8_t *)base + at + ph[i].filesz, 0, ph[i].memsz - ph[i].filesz);
        done = at + ph[i].memsz;
    }
    if (pages * 0x1000 > done)
        memset((uint8_t *)base + done, 0, pages * 0x1000 - done);
    if ((err = relocate((uint8_t *)base, lo, pages * 0x1000)) != NULL)
        return fail(st, err);

    uint64_t tsc_loaded = rdtsc();
    struct tern_boot_info *info = NULL;
    if (bs->allocate_pool(EFI_LOADER_DATA, sizeof(*info), (void **)&info) != EFI_SUCCESS)
        return fail(st, "TERN_PANIC reason=loader error=no-memory-for-boot-info");
    memset(info, 0, sizeof(*info));
    info->magic = TERN_BOOT_MAGIC;
    info->version = TERN_BOOT_VERSION;
    info->entry = TERN_BOOT_ENTRY_UEFI;
    info->tsc_at_entry = tsc0;
    info->kernel_base = base;
    info->kernel_size = pages * 0x1000;
    info->tsc_allocated = tsc_allocated;
    info->tsc_loaded = tsc_loaded;

    const struct efi_guid acpi20 = EFI_ACPI_20_TABLE_GUID, acpi10 = EFI_ACPI_10_TABLE_GUID;
    for (uint64_t i = 0; i < st->number_of_table_entries; i++) {
        const struct efi_configuration_table *t = &st->configuration_table[i];
        if (guid_eq(&t->guid, &acpi20)) {
            info->rsdp = (uint64_t)t->table;
            info->acpi_revision = 2;
        } else if (guid_eq(&t->guid, &acpi10) && info->acpi_revision == 0) {
            info->rsdp = (uint64_t)t->table;
            info->acpi_revision = 1;
        }
    }

    /* The map grows when we allocate its buffer, so size it with slack. */
    uint64_t map_size = 0, key = 0, desc_size = 0;
    uint32_t desc_version = 0;
    efi_status s = bs->get_memory_map(&map_size, NULL, &key, &desc_size, &desc_version);
    if (s != EFI_BUFFER_TOO_SMALL || desc_size < sizeof(struct tern_efi_memdesc))
        return fail(st, "TERN_PANIC reason=loader error=get-memory-map");
    uint64_t cap = map_size + 16 * desc_size;
    void *map = NULL;
    if (bs->allocate_pool(EFI_LOADER_DATA, cap, &map) != EFI_SUCCESS)
        return fail(st, "TERN_PANIC reason=loader error=no-memory-for-memory-map");

    /* Between a failed ExitBootServices and the next try only memory-map
     * calls are allowed (UEFI 2.9, 7.4): no printing in this loop. */
    for (int attempt = 0;; attempt++) {
        map_size = cap;
        s = bs->get_memory_map(&map_size, map, &key, &desc_size, &desc_version);
        info->tsc_map = rdtsc();
        info->exit_attempts = (uint32_t)attempt + 1;
        if (s == EFI_SUCCESS && bs->exit_boot_services(image, key) == EFI_SUCCESS)
            break;
        if (attempt == 8)
            return fail(st, "TERN_PANIC reason=loader error=exit-boot-services");
    }
    info->tsc_exit = rdtsc();
    info->memmap = (uint64_t)map;
    info->memmap_size = map_size;
    info->memdesc_size = desc_size;

    kernel_entry_fn entry = (kernel_entry_fn)(base + (eh->entry - lo));
    entry(info);
}
