/*
 * Interface: Tern's own memory on metal (see metal.h): a physical page
 * allocator built from the UEFI memory map, the heap region, Tern's own
 * 4-level page tables, and W^X executable memory.
 *
 * mm_init(m) runs once, after cpu_init and before anything maps MMIO:
 *   1. the heap is the largest EfiConventionalMemory region at or above
 *      1 MiB (it never enters the page allocator), less what the page
 *      allocator lacks of 16 MiB elsewhere in the map (at most an eighth
 *      of the region, from its top: a PVH machine's RAM is one region);
 *   2. every other conventional region at or above 1 MiB becomes a free
 *      range of the page allocator;
 *   3. it builds an identity map of [0, 4 GiB) and of all RAM above it,
 *      with 2 MiB pages, read-write and non-executable, and then:
 *        - page 0 (the NULL page) not present;
 *        - the kernel image per ELF segment: text read+execute, read-only
 *          data and RELRO read-only, data and bss read-write, the
 *          non-text ones non-executable;
 *   4. sets EFER.NXE and CR0.WP (so the kernel itself cannot write a
 *      read-only page) and loads CR3;
 *   5. gives the firmware's boot-services code and data (free once boot
 *      services are gone; the old page tables live there, hence after the
 *      switch) to the page allocator.
 *
 * Thread stacks (mm_stack_alloc, the platform's stack_alloc): pages from
 * the allocator, RW+NX, with one more page below them made not present
 * (the guard: an overflow is a #PF there, reported as the thread's stack
 * overflow); freeing maps the guard again before the pages go back.
 *
 * Pages handed out are zeroed. Nothing here is reachable by external input.
 * Any failure during mm_init is a TERN_PANIC (there is no useful machine
 * without page tables).
 */
#include <string.h>

#include "metal.h"
#include "x86.h"

#define PAGE 4096ull
#define BIG (2ull * 1024 * 1024)
#define ONE_MIB (1024ull * 1024)
#define FOUR_GIB (4ull << 30)
#define ADDR_MASK 0x000ffffffffff000ull

#define IA32_EFER 0xc0000080u
#define EFER_NXE (1ull << 11)
#define CR0_WP (1ull << 16)

#define PT_SEG_LOAD 1u
#define PT_SEG_RELRO 0x6474e552u
#define PF_X 1u
#define PF_W 2u

#define EFI_BS_CODE 3u
#define EFI_BS_DATA 4u
#define METAL_MM_PAGES_MIN (16ull << 20)

extern const char __ehdr_start[];

static __attribute__((noreturn)) void mm_fail(const char *what)
{
    serial_printf("TERN_PANIC reason=memory error=%s\n", what);
    metal_exit(METAL_PANIC_EXIT_VALUE);
}

/* ---- physical pages ---- */

static void free_range_add(struct metal_mm *mm, uint64_t start, uint64_t end)
{
    start = (start + PAGE - 1) & ~(PAGE - 1);
    end &= ~(PAGE - 1);
    if (end <= start)
        return;
    for (unsigned i = 0; i < mm->nfree; i++) {
        if (mm->free[i].end == start) {
            mm->free[i].end = end;
            mm->free_pages += (end - start) / PAGE;
            return;
        }
        if (mm->free[i].start == end) {
            mm->free[i].start = start;
            mm->free_pages += (end - start) / PAGE;
            return;
        }
    }
    if (mm->nfree == METAL_MM_RANGES) {
        mm->lost_pages += (end - start) / PAGE; /* counted, never used */
        return;
    }
    mm->free[mm->nfree].start = start;
    mm->free[mm->nfree].end = end;
    mm->nfree++;
    mm->free_pages += (end - start) / PAGE;
}

void *mm_alloc_pages(struct metal *m, size_t n)
{
    struct metal_mm *mm = &m->mm;
    if (n == 0)
        return NULL;
    uint64_t bytes = (uint64_t)n * PAGE;
    for (unsigned i = 0; i < mm->nfree; i++) {
        if (mm->free[i].end - mm->free[i].start < bytes)
            continue;
        mm->free[i].end -= bytes; /* carve from the top */
        uint64_t p = mm->free[i].end;
        if (mm->free[i].end == mm->free[i].start)
            mm->free[i] = mm->free[--mm->nfree];
        mm->free_pages -= n;
        memset((void *)p, 0, bytes);
        return (void *)p;
    }
    return NULL;
}

void mm_free_pages(struct metal *m, void *p, size_t n)
{
    free_range_add(&m->mm, (uint64_t)p, (uint64_t)p + (uint64_t)n * PAGE);
}

/* ---- page tables ---- */

/* One zeroed page for a page table: from the BSS pool while it lasts,
 * then from the page allocator. */
static uint64_t *table_page(struct metal *m)
{
    struct metal_mm *mm = &m->mm;
    uint64_t *p = mm->boot_tables_used < METAL_MM_BOOT_TABLES
                      ? (uint64_t *)mm->boot_tables[mm->boot_tables_used++]
                      : mm_alloc_pages(m, 1);
    if (p != NULL)
        mm->table_pages++;
    return p;
}

static uint64_t *table_of(uint64_t entry)
{
    return (uint64_t *)(entry & ADDR_MASK);
}

/* The entry of va at level `level` (3 = PML4E ... 0 = PTE) once the
 * tables above it exist; creates them (splitting a 2 MiB page into 512
 * 4 KiB pages with the same flags when level 0 is asked for). NULL when
 * out of pages. */
static uint64_t *walk(struct metal *m, uint64_t va, int level)
{
    uint64_t *t = m->mm.pml4;
    for (int l = 3; l > level; l--) {
        unsigned idx = (unsigned)(va >> (12 + 9 * l)) & 511;
        uint64_t e = t[idx];
        if (!(e & PTE_P)) {
            uint64_t *n = table_page(m);
            if (n == NULL)
                return NULL;
            t[idx] = (uint64_t)n | PTE_P | PTE_W;
        } else if (e & PTE_PS) {
            /* l == 1: a 2 MiB page; split it into a page table. */
            uint64_t *n = table_page(m);
            if (n == NULL)
                return NULL;
            uint64_t base = e & ADDR_MASK & ~(BIG - 1);
            uint64_t flags = e & ~ADDR_MASK & ~PTE_PS;
            for (unsigned i = 0; i < 512; i++)
                n[i] = (base + i * PAGE) | flags;
            t[idx] = (uint64_t)n | PTE_P | PTE_W;
            if (m->mm.active)
                __asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
        }
        t = table_of(t[idx]);
    }
    return &t[(va >> (12 + 9 * level)) & 511];
}

static void flush(struct metal *m, uint64_t va, uint64_t size)
{
    if (!m->mm.active)
        return;
    for (uint64_t a = va & ~(PAGE - 1); a < va + size; a += PAGE)
        __asm__ volatile("invlpg (%0)" : : "r"(a) : "memory");
}

tern_result mm_map(struct metal *m, uint64_t pa, uint64_t size, uint64_t flags)
{
    uint64_t a = pa & ~(PAGE - 1), end = (pa + size + PAGE - 1) & ~(PAGE - 1);
    if (end <= a || end > (1ull << 46))
        return TERN_EINVAL;
    while (a < end) {
        if ((a & (BIG - 1)) == 0 && end - a >= BIG) {
            /* a whole 2 MiB page, unless it is already split */
            uint64_t *pde = walk(m, a, 1);
            if (pde == NULL)
                return TERN_ENOMEM;
            if (!(*pde & PTE_P) || (*pde & PTE_PS)) {
                *pde = a | flags | PTE_P | PTE_PS;
                flush(m, a, BIG);
                a += BIG;
                continue;
            }
        }
        uint64_t *pte = walk(m, a, 0);
        if (pte == NULL)
            return TERN_ENOMEM;
        *pte = a | flags | PTE_P;
        flush(m, a, PAGE);
        a += PAGE;
    }
    return TERN_OK;
}

tern_result mm_protect(struct metal *m, uint64_t va, uint64_t size, uint64_t flags)
{
    uint64_t a = va & ~(PAGE - 1), end = (va + size + PAGE - 1) & ~(PAGE - 1);
    for (; a < end; a += PAGE) {
        uint64_t *pte = walk(m, a, 0);
        if (pte == NULL)
            return TERN_ENOMEM;
        *pte = (*pte & ADDR_MASK) | flags;
        flush(m, a, PAGE);
    }
    return TERN_OK;
}

tern_result mm_query(struct metal *m, uint64_t va, uint64_t *out_flags)
{
    uint64_t *t = m->mm.pml4;
    for (int l = 3; l >= 0; l--) {
        uint64_t e = t[(va >> (12 + 9 * l)) & 511];
        if (!(e & PTE_P))
            return TERN_ENOENT;
        if (l == 0 || (l == 1 && (e & PTE_PS))) {
            *out_flags = e & ~ADDR_MASK;
            return TERN_OK;
        }
        t = table_of(e);
    }
    return TERN_ENOENT;
}

/* ---- the kernel image ---- */

struct elf64_ehdr_min {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr_min {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* Applies per-segment protections to the loaded kernel. Segments never
 * share a page (lld starts each one on a fresh virtual page). */
static void protect_kernel(struct metal *m)
{
    const struct elf64_ehdr_min *eh = (const void *)__ehdr_start;
    if (memcmp(eh->ident, "\177ELF", 4) != 0 || eh->phentsize != sizeof(struct elf64_phdr_min))
        mm_fail("kernel-headers-not-mapped");
    const struct elf64_phdr_min *ph = (const void *)(__ehdr_start + eh->phoff);
    /* The headers are at the start of the PT_LOAD with file offset 0:
     * vaddr 0 in the UEFI image (the loader picks the base), the link
     * address in the PVH image (loaded where it was linked). */
    uint64_t bias = (uint64_t)__ehdr_start;
    for (unsigned i = 0; i < eh->phnum; i++)
        if (ph[i].type == PT_SEG_LOAD && ph[i].offset == 0)
            bias -= ph[i].vaddr;
    for (unsigned i = 0; i < eh->phnum; i++) {
        if (ph[i].type != PT_SEG_LOAD)
            continue;
        uint64_t flags = PTE_P;
        if (ph[i].flags & PF_W)
            flags |= PTE_W;
        if (!(ph[i].flags & PF_X))
            flags |= PTE_NX;
        if ((ph[i].flags & (PF_W | PF_X)) == (PF_W | PF_X))
            mm_fail("kernel-segment-writable-and-executable");
        uint64_t lo = (bias + ph[i].vaddr) & ~(PAGE - 1);
        uint64_t hi = (bias + ph[i].vaddr + ph[i].memsz + PAGE - 1) & ~(PAGE - 1);
        if (mm_protect(m, lo, hi - lo, flags) != TERN_OK)
            mm_fail("no-pages-for-kernel-map");
        if (ph[i].flags & PF_X) {
            m->mm.text_start = lo;
            m->mm.text_end = hi;
        }
    }
    /* RELRO: read-only once the loader relocated it. Only whole pages. */
    for (unsigned i = 0; i < eh->phnum; i++) {
        if (ph[i].type != PT_SEG_RELRO)
            continue;
        uint64_t lo = (bias + ph[i].vaddr + PAGE - 1) & ~(PAGE - 1);
        uint64_t hi = (bias + ph[i].vaddr + ph[i].memsz) & ~(PAGE - 1);
        if (hi > lo && mm_protect(m, lo, hi - lo, PTE_P | PTE_NX) != TERN_OK)
            mm_fail("no-pages-for-kernel-map");
    }
}

/* RAM of any use: not reserved (0), unusable (8), MMIO (11, 12). */
static bool is_ram(const struct tern_efi_memdesc *d)
{
    return d->type != 0 && d->type != 8 && d->type != 11 && d->type != 12 && d->type < 16;
}

/* Bytes from the top of the heap region for the page allocator (virtio
 * rings and buffers, thread stacks, app images, page tables): what it
 * lacks of METAL_MM_PAGES_MIN (an eighth of the region at most) from the
 * map's other conventional and boot-services regions. Under UEFI those
 * give tens of MiB and this is 0; a PVH machine's RAM is one region. */
static uint64_t page_allocator_share(const struct tern_boot_info *b, uint64_t heap_base,
                                     uint64_t heap_size)
{
    uint64_t other = 0;
    for (uint64_t off = 0; off + b->memdesc_size <= b->memmap_size; off += b->memdesc_size) {
        const struct tern_efi_memdesc *d = (const void *)(b->memmap + off);
        if ((d->type != TERN_EFI_CONVENTIONAL && d->type != EFI_BS_CODE &&
             d->type != EFI_BS_DATA) || d->pages > (1ull << 36))
            continue;
        uint64_t start = d->phys_start, end = start + d->pages * PAGE;
        if (start < ONE_MIB)
            start = ONE_MIB;
        if (end > start && start != heap_base)
            other += end - start;
    }
    uint64_t want = METAL_MM_PAGES_MIN < heap_size / 8 ? METAL_MM_PAGES_MIN : heap_size / 8;
    return other >= want ? 0 : (want - other) & ~(PAGE - 1);
}

bool mm_overlaps_ram(struct metal *m, uint64_t base, uint64_t size)
{
    const struct tern_boot_info *b = m->boot;
    for (uint64_t off = 0; off + b->memdesc_size <= b->memmap_size; off += b->memdesc_size) {
        const struct tern_efi_memdesc *d = (const void *)(b->memmap + off);
        if (!is_ram(d) || d->pages > (1ull << 36))
            continue;
        if (base < d->phys_start + d->pages * PAGE && d->phys_start < base + size)
            return true;
    }
    return false;
}

void mm_init(struct metal *m)
{
    const struct tern_boot_info *b = m->boot;
    struct metal_mm *mm = &m->mm;
    uint64_t best_base = 0, best_size = 0, top = FOUR_GIB;

    for (uint64_t off = 0; off + b->memdesc_size <= b->memmap_size; off += b->memdesc_size) {
        const struct tern_efi_memdesc *d = (const void *)(b->memmap + off);
        if (d->pages > (1ull << 36))
            continue;
        uint64_t start = d->phys_start, end = start + d->pages * PAGE;
        if (is_ram(d) && end > top)
            top = end;
        if (d->type != TERN_EFI_CONVENTIONAL)
            continue;
        m->usable_bytes += end - start;
        if (start < ONE_MIB)
            start = ONE_MIB;
        if (end > start && end - start > best_size) {
            best_base = start;
            best_size = end - start;
        }
    }
    if (best_size < ONE_MIB)
        mm_fail("no-heap-region");
    uint64_t pages_top = page_allocator_share(b, best_base, best_size);
    best_size -= pages_top;
    uint64_t heap = (best_base + 63) & ~63ull;
    m->heap_base = (void *)heap;
    m->heap_size = (size_t)(best_size - (heap - best_base));
    if (pages_top != 0)
        free_range_add(mm, best_base + best_size, best_base + best_size + pages_top);

    for (uint64_t off = 0; off + b->memdesc_size <= b->memmap_size; off += b->memdesc_size) {
        const struct tern_efi_memdesc *d = (const void *)(b->memmap + off);
        if (d->type != TERN_EFI_CONVENTIONAL || d->pages > (1ull << 36))
            continue;
        uint64_t start = d->phys_start, end = start + d->pages * PAGE;
        if (start < ONE_MIB)
            start = ONE_MIB;
        if (start == best_base)
            continue;
        free_range_add(mm, start, end);
    }

    mm->pml4 = table_page(m);
    if (mm->pml4 == NULL)
        mm_fail("no-pages-for-page-tables");
    top = (top + BIG - 1) & ~(BIG - 1);
    /* Everything uncached first (the MMIO hole, the LAPIC, the flash),
     * then RAM of every kind write-back. */
    if (mm_map(m, 0, top, PTE_W | PTE_NX | PTE_PCD | PTE_PWT) != TERN_OK)
        mm_fail("no-pages-for-page-tables");
    for (uint64_t off = 0; off + b->memdesc_size <= b->memmap_size; off += b->memdesc_size) {
        const struct tern_efi_memdesc *d = (const void *)(b->memmap + off);
        if (!is_ram(d) || d->pages > (1ull << 36))
            continue;
        if (mm_map(m, d->phys_start, d->pages * PAGE, PTE_W | PTE_NX) != TERN_OK)
            mm_fail("no-pages-for-page-tables");
    }
    mm->mapped_top = top;
    /* The NULL page: nothing ever lives at address 0..4095. */
    uint64_t *pte0 = walk(m, 0, 0);
    if (pte0 == NULL)
        mm_fail("no-pages-for-page-tables");
    *pte0 = 0;
    protect_kernel(m);

    wrmsr(IA32_EFER, rdmsr(IA32_EFER) | EFER_NXE);
    __asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)mm->pml4) : "memory");
    write_cr0(read_cr0() | CR0_WP);
    mm->active = true;

    for (uint64_t off = 0; off + b->memdesc_size <= b->memmap_size; off += b->memdesc_size) {
        const struct tern_efi_memdesc *d = (const void *)(b->memmap + off);
        if ((d->type != EFI_BS_CODE && d->type != EFI_BS_DATA) || d->pages > (1ull << 36))
            continue;
        uint64_t start = d->phys_start, end = start + d->pages * PAGE;
        if (start < ONE_MIB)
            start = ONE_MIB;
        free_range_add(mm, start, end);
    }
}

/* ---- executable memory (platform exec_alloc / exec_seal / exec_free) ---- */

tern_result mm_exec_alloc(struct metal *m, size_t size, void **out)
{
    if (size == 0 || size > (64u << 20))
        return TERN_EINVAL;
    size_t n = (size + PAGE - 1) / PAGE;
    void *p = mm_alloc_pages(m, n);
    if (p == NULL)
        return TERN_ENOMEM;
    /* Split to 4 KiB pages now, so seal never needs memory. */
    if (mm_protect(m, (uint64_t)p, n * PAGE, PTE_P | PTE_W | PTE_NX) != TERN_OK) {
        mm_free_pages(m, p, n);
        return TERN_ENOMEM;
    }
    m->mm.exec_pages += n;
    *out = p;
    return TERN_OK;
}

static bool exec_range_ok(struct metal *m, void *ptr, size_t size)
{
    uint64_t a = (uint64_t)ptr;
    if (size == 0 || (a & (PAGE - 1)) != 0 || a + size < a)
        return false;
    /* every page must be a 4 KiB page exec_alloc set up (or sealed) */
    for (uint64_t p = a; p < a + size; p += PAGE) {
        uint64_t f;
        if (mm_query(m, p, &f) != TERN_OK || (f & PTE_PS) || !(f & PTE_P))
            return false;
        if (p >= m->mm.text_start && p < m->mm.text_end)
            return false;
    }
    return true;
}

tern_result mm_exec_seal(struct metal *m, void *ptr, size_t size)
{
    if (!exec_range_ok(m, ptr, size))
        return TERN_EINVAL;
    return mm_protect(m, (uint64_t)ptr, size, PTE_P); /* read + execute, never W */
}

tern_result mm_exec_readonly(struct metal *m, void *ptr, size_t size)
{
    if (!exec_range_ok(m, ptr, size))
        return TERN_EINVAL;
    return mm_protect(m, (uint64_t)ptr, size, PTE_P | PTE_NX); /* read only, no execute */
}

tern_result mm_exec_free(struct metal *m, void *ptr, size_t size)
{
    if (!exec_range_ok(m, ptr, size))
        return TERN_EINVAL;
    size_t n = (size + PAGE - 1) / PAGE;
    /* back to plain data before the pages can be handed out again */
    if (mm_protect(m, (uint64_t)ptr, n * PAGE, PTE_P | PTE_W | PTE_NX) != TERN_OK)
        return TERN_EINVAL;
    mm_free_pages(m, ptr, n);
    m->mm.exec_pages -= n;
    return TERN_OK;
}

tern_result mm_stack_alloc(struct metal *m, size_t size, void **out)
{
    if (size == 0 || size % PAGE != 0 || size > (64u << 20))
        return TERN_ENOMEM;
    size_t n = size / PAGE + 1;
    uint8_t *p = mm_alloc_pages(m, n);
    if (p == NULL)
        return TERN_ENOMEM;
    /* the guard not present; the stack split to 4 KiB pages with it */
    if (mm_protect(m, (uint64_t)p, PAGE, PTE_NX) != TERN_OK) {
        mm_free_pages(m, p, n);
        return TERN_ENOMEM;
    }
    m->mm.stack_pages += n;
    *out = p + PAGE;
    return TERN_OK;
}

void mm_stack_free(struct metal *m, void *stack, size_t size)
{
    uint8_t *p = (uint8_t *)stack - PAGE;
    size_t n = size / PAGE + 1;
    if (mm_protect(m, (uint64_t)p, PAGE, PTE_P | PTE_W | PTE_NX) != TERN_OK)
        return;   /* cannot happen: the guard's table exists; keep it out of use */
    mm_free_pages(m, p, n);
    m->mm.stack_pages -= n;
}
