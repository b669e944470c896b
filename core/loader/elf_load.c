/*
 * Interface: see include/tern/loader.h. Everything is checked first
 * (elf_check_*, elf_relocate without writing); only then is memory taken
 * from exec_alloc, the segments copied, relocations applied and the text
 * sealed. A failure after exec_alloc returns the memory.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "loader/elf.h"
#include "tern/loader.h"

static tern_result check_all(struct elf_app *a, const void *file, size_t len, uint32_t pal_major,
                             uint32_t pal_minor, struct tern_load_error *err)
{
    memset(a, 0, sizeof *a);
    a->file = file;
    a->len = len;
    if (file == NULL)
        return elf_refuse(err, "no file");
    tern_result r = elf_check_header(a, err);
    if (r == TERN_OK)
        r = elf_check_segments(a, err);
    if (r == TERN_OK)
        r = elf_check_note(a, pal_major, pal_minor, err);
    if (r == TERN_OK)
        r = elf_check_dynamic(a, err);
    if (r == TERN_OK)
        r = elf_relocate(a, 0, false, err);
    return r;
}

tern_result tern_app_check(const void *file, size_t len, uint32_t pal_major, uint32_t pal_minor,
                           struct tern_note_abi *abi_out, struct tern_load_error *err)
{
    struct tern_load_error scratch;
    struct elf_app a;
    if (err == NULL)
        err = &scratch;
    err->reason[0] = '\0';
    tern_result r = check_all(&a, file, len, pal_major, pal_minor, err);
    if (r == TERN_OK && abi_out != NULL)
        *abi_out = a.abi;
    return r;
}

/* Where the image goes inside the region: the first page of the span at
 * an address congruent to a->lo modulo the largest p_align. */
static uint64_t choose_bias(const struct elf_app *a, void *region)
{
    uint64_t r = (uint64_t)(uintptr_t)region;
    uint64_t start = r + ((a->lo - r) & (a->max_align - 1));
    return start - a->lo;
}

/* True when the image page at vaddr p holds nothing that must stay
 * writable (writable bytes outside RELRO) or executable. Ranges are
 * compared by their last bytes, so nothing overflows at the top. */
static bool page_read_only(const struct elf_app *a, uint64_t p)
{
    uint64_t p_last = p + (TERN_APP_PAGE - 1);
    for (uint32_t i = 0; i < a->nload; i++) {
        const struct elf_seg *s = &a->load[i];
        uint64_t s_last = s->vaddr + (s->memsz - 1);
        uint64_t lo = s->vaddr > p ? s->vaddr : p;
        uint64_t last = s_last < p_last ? s_last : p_last;
        if (lo > last || !(s->flags & (PF_W | PF_X)))
            continue; /* not in this page, or read-only */
        if (s->flags & PF_X)
            return false;
        if (!a->has_relro || lo < a->relro_lo || last >= a->relro_hi)
            return false;
    }
    return true;
}

/* Makes every read-only page of the image read-only (runs of pages, one
 * exec_readonly each). Without exec_readonly they stay read-write. */
static tern_result protect_read_only(struct tern_os *os, const struct elf_app *a, uint64_t bias,
                                     struct tern_load_error *err)
{
    const struct tern_platform_ops *ops = os->plat.ops;
    if (ops->exec_readonly == NULL)
        return TERN_OK;
    uint64_t pages = (a->hi - a->lo) / TERN_APP_PAGE, run = 0;
    bool in_run = false;
    for (uint64_t n = 0; n <= pages; n++) {
        bool ro = n < pages && page_read_only(a, a->lo + n * TERN_APP_PAGE);
        if (ro && !in_run) {
            run = n;
            in_run = true;
        }
        if (ro || !in_run)
            continue;
        in_run = false;
        void *at = (void *)(uintptr_t)(bias + a->lo + run * TERN_APP_PAGE);
        tern_result r = ops->exec_readonly(os->plat.ctx, at, (size_t)((n - run) * TERN_APP_PAGE));
        if (r != TERN_OK) {
            elf_refuse(err, "exec_readonly failed: %s", tern_result_name(r));
            return r;
        }
    }
    return TERN_OK;
}

/* The absolute page range of the executable segment: what exec_seal gets. */
static void text_pages(const struct elf_app *a, uint64_t bias, uint64_t *lo, uint64_t *hi)
{
    const struct elf_seg *t = &a->load[a->text];
    *lo = (bias + t->vaddr) & ~(uint64_t)(TERN_APP_PAGE - 1);
    *hi = (bias + t->vaddr + t->memsz + TERN_APP_PAGE - 1) & ~(uint64_t)(TERN_APP_PAGE - 1);
}

/* Copies the segments (the rest of the region is zeroed: BSS and gaps),
 * applies the relocations, makes read-only data read-only and seals the
 * text. */
static tern_result place(struct tern_os *os, struct elf_app *a, void *region, uint64_t bias,
                         struct tern_load_error *err)
{
    memset(region, 0, a->alloc_size);
    for (uint32_t i = 0; i < a->nload; i++) {
        const struct elf_seg *s = &a->load[i];
        memcpy((void *)(uintptr_t)(bias + s->vaddr), a->file + s->offset, s->filesz);
    }
    tern_result r = elf_relocate(a, bias, true, err);
    if (r != TERN_OK)
        return r; /* not reached: the same walk passed in check_all */
    if ((r = protect_read_only(os, a, bias, err)) != TERN_OK)
        return r;
    uint64_t lo, hi;
    text_pages(a, bias, &lo, &hi);
    r = os->plat.ops->exec_seal(os->plat.ctx, (void *)(uintptr_t)lo, (size_t)(hi - lo));
    if (r != TERN_OK)
        elf_refuse(err, "exec_seal failed: %s", tern_result_name(r));
    return r;
}

static tern_result load(struct tern_os *os, const void *file, size_t len, uint32_t pal_major,
                        uint32_t pal_minor, struct tern_app_image *out,
                        struct tern_load_error *err)
{
    const struct tern_platform_ops *ops = os->plat.ops;
    if (ops->exec_alloc == NULL || ops->exec_seal == NULL || ops->exec_free == NULL) {
        elf_refuse(err, "the platform has no exec_alloc/exec_seal/exec_free");
        return TERN_ENOTSUP;
    }
    struct elf_app a;
    tern_result r = check_all(&a, file, len, pal_major, pal_minor, err);
    if (r != TERN_OK)
        return r;
    void *region = NULL;
    r = ops->exec_alloc(os->plat.ctx, (size_t)a.alloc_size, &region);
    if (r != TERN_OK) {
        elf_refuse(err, "exec_alloc of %llu bytes failed: %s",
                   (unsigned long long)a.alloc_size, tern_result_name(r));
        return r;
    }
    uint64_t bias = choose_bias(&a, region);
    r = place(os, &a, region, bias, err);
    if (r != TERN_OK) {
        ops->exec_free(os->plat.ctx, region, (size_t)a.alloc_size);
        return r;
    }
    uint64_t text_lo, text_hi;
    text_pages(&a, bias, &text_lo, &text_hi);
    *out = (struct tern_app_image){
        .base = region,
        .size = (size_t)a.alloc_size,
        .entry = bias + a.entry,
        .abi = a.abi,
        .text_lo = text_lo,
        .text_hi = text_hi,
        .bias = bias,
        .relocs = a.relocs,
    };
    return TERN_OK;
}

tern_result tern_app_load(struct tern_os *os, const void *file, size_t len, uint32_t pal_major,
                          uint32_t pal_minor, struct tern_app_image *out,
                          struct tern_load_error *err)
{
    struct tern_load_error scratch;
    if (err == NULL)
        err = &scratch;
    err->reason[0] = '\0';
    tern_result r = load(os, file, len, pal_major, pal_minor, out, err);
    if (r == TERN_OK)
        tern_log(os, TERN_LOG_INFO, "loader",
                 "app loaded: %zu bytes at %p, entry 0x%llx, PAL %u.%u, %u relocations",
                 out->size, out->base, (unsigned long long)out->entry, out->abi.pal_major,
                 out->abi.pal_minor, out->relocs);
    else
        tern_log(os, TERN_LOG_WARN, "loader", "app refused (%s): %s", tern_result_name(r),
                 err->reason);
    return r;
}

void tern_app_unload(struct tern_os *os, struct tern_app_image *img)
{
    if (img->base == NULL)
        return;
    if (os->plat.ops->exec_free != NULL)
        os->plat.ops->exec_free(os->plat.ctx, img->base, img->size);
    memset(img, 0, sizeof *img);
}
