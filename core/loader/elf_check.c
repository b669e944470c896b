/*
 * Interface: see core/loader/elf.h. The ELF header, the program headers
 * and the ABI note of an app file, checked field by field before anything
 * in them is used. Nothing here writes outside struct elf_app.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "loader/elf.h"
#include "storage/le.h"
#include "tern/fmt.h"

tern_result elf_refuse(struct tern_load_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tern_vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
    return TERN_EINVAL;
}

bool elf_file_range(const struct elf_app *a, uint64_t off, uint64_t size)
{
    return off <= a->len && size <= a->len - off;
}

tern_result elf_vaddr_to_off(const struct elf_app *a, uint64_t vaddr, uint64_t size,
                             uint64_t *off)
{
    for (uint32_t i = 0; i < a->nload; i++) {
        const struct elf_seg *s = &a->load[i];
        if (vaddr >= s->vaddr && vaddr - s->vaddr <= s->filesz &&
            size <= s->filesz - (vaddr - s->vaddr)) {
            *off = s->offset + (vaddr - s->vaddr);
            return TERN_OK;
        }
    }
    return TERN_EINVAL;
}

static bool is_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

static uint64_t page_down(uint64_t v)
{
    return v & ~(uint64_t)(TERN_APP_PAGE - 1);
}

/* Rounds v up to a page; false when that overflows. */
static bool page_up(uint64_t v, uint64_t *out)
{
    if (v > UINT64_MAX - (TERN_APP_PAGE - 1))
        return false;
    *out = page_down(v + TERN_APP_PAGE - 1);
    return true;
}

/* ---- ELF header ---- */

static tern_result check_ident(const uint8_t *f, size_t len, struct tern_load_error *err)
{
    if (len < EHDR_SIZE)
        return elf_refuse(err, "file too short for an ELF header (%zu bytes)", len);
    if (f[0] != 0x7f || f[1] != 'E' || f[2] != 'L' || f[3] != 'F')
        return elf_refuse(err, "not an ELF file (bad magic)");
    if (f[EI_CLASS] != ELFCLASS64)
        return elf_refuse(err, "ELF class %u: apps are ELF64", f[EI_CLASS]);
    if (f[EI_DATA] != ELFDATA2LSB)
        return elf_refuse(err, "ELF data encoding %u: apps are little-endian", f[EI_DATA]);
    if (f[EI_VERSION] != EV_CURRENT)
        return elf_refuse(err, "ELF ident version %u (expected 1)", f[EI_VERSION]);
    return TERN_OK;
}

/* The loader needs no section headers, but a file that names a table it
 * does not hold was cut short (they come last in a linker's output). */
static tern_result check_section_table(const struct elf_app *a, const uint8_t *f,
                                       struct tern_load_error *err)
{
    uint64_t shoff = le64(f + 40);
    uint16_t shentsize = le16(f + 58), shnum = le16(f + 60);
    if (shoff == 0)
        return TERN_OK;
    if (shentsize != SHDR_SIZE)
        return elf_refuse(err, "section header size %u (expected 64)", shentsize);
    if (!elf_file_range(a, shoff, (uint64_t)(shnum == 0 ? 1 : shnum) * SHDR_SIZE))
        return elf_refuse(err, "section headers outside the file (truncated?)");
    return TERN_OK;
}

tern_result elf_check_header(struct elf_app *a, struct tern_load_error *err)
{
    const uint8_t *f = a->file;
    tern_result r = check_ident(f, a->len, err);
    if (r != TERN_OK)
        return r;
    uint16_t type = le16(f + 16), machine = le16(f + 18);
    if (type == ET_EXEC)
        return elf_refuse(err, "ET_EXEC: apps are position-independent executables (ET_DYN)");
    if (type != ET_DYN)
        return elf_refuse(err, "ELF type %u: apps are ET_DYN", type);
    if (machine != EM_X86_64)
        return elf_refuse(err, "machine %u: apps are x86-64 (EM_X86_64)", machine);
    if (le32(f + 20) != EV_CURRENT)
        return elf_refuse(err, "ELF version %u (expected 1)", le32(f + 20));
    a->entry = le64(f + 24);
    a->phoff = le64(f + 32);
    uint16_t phentsize = le16(f + 54);
    a->phnum = le16(f + 56);
    if (phentsize != PHDR_SIZE)
        return elf_refuse(err, "program header size %u (expected 56)", phentsize);
    if (a->phnum == 0)
        return elf_refuse(err, "no program headers");
    if (a->phnum > ELF_MAX_PHDRS)
        return elf_refuse(err, "%u program headers (at most %u)", a->phnum, ELF_MAX_PHDRS);
    if (!elf_file_range(a, a->phoff, (uint64_t)a->phnum * PHDR_SIZE))
        return elf_refuse(err, "program headers outside the file");
    return check_section_table(a, f, err);
}

/* ---- program headers ---- */

static tern_result add_load(struct elf_app *a, uint32_t i, const struct elf_seg *s,
                            struct tern_load_error *err)
{
    if (a->nload == ELF_MAX_LOADS)
        return elf_refuse(err, "more than %u PT_LOAD segments", ELF_MAX_LOADS);
    if (s->filesz > s->memsz)
        return elf_refuse(err, "program header %u: p_filesz > p_memsz", i);
    if (s->memsz == 0)
        return TERN_OK; /* empty (ld.bfd emits one for an empty .eh_frame): nothing to place */
    if (s->vaddr > UINT64_MAX - s->memsz)
        return elf_refuse(err, "program header %u: p_vaddr + p_memsz overflows", i);
    if (!is_pow2(s->align) || s->align < TERN_APP_PAGE || s->align > TERN_APP_MAX_ALIGN)
        return elf_refuse(err, "program header %u: p_align 0x%llx is not a power of two "
                          "from 4 KiB to 2 MiB", i, (unsigned long long)s->align);
    if (s->offset % s->align != s->vaddr % s->align)
        return elf_refuse(err, "program header %u: p_offset and p_vaddr not congruent "
                          "modulo p_align", i);
    if ((s->flags & PF_W) && (s->flags & PF_X))
        return elf_refuse(err, "program header %u: PT_LOAD both writable and executable", i);
    if (a->nload > 0) {
        const struct elf_seg *prev = &a->load[a->nload - 1];
        if (s->vaddr < prev->vaddr)
            return elf_refuse(err, "program header %u: PT_LOADs not sorted by p_vaddr", i);
        if (s->vaddr - prev->vaddr < prev->memsz)
            return elf_refuse(err, "program header %u: PT_LOAD overlaps the previous one", i);
    }
    a->load[a->nload++] = *s;
    return TERN_OK;
}

/* One program header: refusals by type, file ranges, PT_LOADs collected. */
static tern_result check_phdr(struct elf_app *a, uint32_t i, struct tern_load_error *err)
{
    const uint8_t *p = a->file + a->phoff + (uint64_t)i * PHDR_SIZE;
    uint32_t type = le32(p);
    struct elf_seg s = {
        .flags = le32(p + 4), .offset = le64(p + 8), .vaddr = le64(p + 16),
        .filesz = le64(p + 32), .memsz = le64(p + 40), .align = le64(p + 48),
    };
    switch (type) {
    case PT_INTERP:
        return elf_refuse(err, "PT_INTERP present: apps are static PIEs with no interpreter");
    case PT_TLS:
        return elf_refuse(err, "PT_TLS present: apps may not use thread-local storage");
    case PT_GNU_STACK:
        if (s.flags & PF_X)
            return elf_refuse(err, "PT_GNU_STACK asks for an executable stack");
        return TERN_OK;
    case PT_GNU_RELRO:
        if (a->has_relro)
            return elf_refuse(err, "more than one PT_GNU_RELRO");
        if (s.vaddr > UINT64_MAX - s.memsz)
            return elf_refuse(err, "program header %u: p_vaddr + p_memsz overflows", i);
        a->has_relro = true;
        a->relro_lo = s.vaddr;
        a->relro_hi = s.vaddr + s.memsz;
        return TERN_OK;
    case PT_LOAD:
    case PT_NOTE:
    case PT_DYNAMIC:
        break;
    default:
        return TERN_OK; /* PT_PHDR, PT_GNU_EH_FRAME, PT_GNU_PROPERTY, ...: not needed */
    }
    if (!elf_file_range(a, s.offset, s.filesz))
        return elf_refuse(err, "program header %u: file range outside the file", i);
    if (type == PT_LOAD)
        return add_load(a, i, &s, err);
    if (type == PT_DYNAMIC) {
        if (a->has_dynamic)
            return elf_refuse(err, "more than one PT_DYNAMIC");
        a->has_dynamic = true;
        a->dyn_off = s.offset;
        a->dyn_size = s.filesz;
    }
    return TERN_OK;
}

/* The span, the one executable segment, its pages against writable ones,
 * and the entry point. */
static tern_result check_layout(struct elf_app *a, struct tern_load_error *err)
{
    if (a->nload == 0)
        return elf_refuse(err, "no PT_LOAD segment");
    const struct elf_seg *last = &a->load[a->nload - 1];
    a->lo = page_down(a->load[0].vaddr);
    if (!page_up(last->vaddr + last->memsz, &a->hi))
        return elf_refuse(err, "PT_LOAD span overflows");
    a->max_align = TERN_APP_PAGE;
    bool have_text = false;
    for (uint32_t i = 0; i < a->nload; i++) {
        if (a->load[i].align > a->max_align)
            a->max_align = a->load[i].align;
        if (!(a->load[i].flags & PF_X))
            continue;
        if (have_text)
            return elf_refuse(err, "more than one executable PT_LOAD");
        have_text = true;
        a->text = i;
    }
    if (!have_text)
        return elf_refuse(err, "no executable PT_LOAD");
    uint64_t span = a->hi - a->lo;
    if (span > TERN_APP_MAX_IMAGE || a->max_align - TERN_APP_PAGE > TERN_APP_MAX_IMAGE - span)
        return elf_refuse(err, "image needs more than the %u MiB limit",
                          TERN_APP_MAX_IMAGE >> 20);
    a->alloc_size = span + (a->max_align - TERN_APP_PAGE);

    const struct elf_seg *t = &a->load[a->text];
    uint64_t t_lo = page_down(t->vaddr), t_hi = page_down(t->vaddr + t->memsz - 1);
    for (uint32_t i = 0; i < a->nload; i++) {
        const struct elf_seg *w = &a->load[i];
        if (!(w->flags & PF_W))
            continue;
        uint64_t w_lo = page_down(w->vaddr), w_hi = page_down(w->vaddr + w->memsz - 1);
        if (w_lo <= t_hi && t_lo <= w_hi)
            return elf_refuse(err, "the executable PT_LOAD shares a page with a writable one");
    }
    if (a->entry < t->vaddr || a->entry - t->vaddr >= t->filesz)
        return elf_refuse(err, "entry point 0x%llx outside the executable segment's bytes",
                          (unsigned long long)a->entry);
    return TERN_OK;
}

tern_result elf_check_segments(struct elf_app *a, struct tern_load_error *err)
{
    for (uint32_t i = 0; i < a->phnum; i++) {
        tern_result r = check_phdr(a, i, err);
        if (r != TERN_OK)
            return r;
    }
    return check_layout(a, err);
}

/* ---- the ABI note ---- */

/* Walks the notes of one PT_NOTE's bytes [off, off + size); records the
 * Tern ABI note in a->abi and counts it in *found. */
static tern_result walk_notes(struct elf_app *a, uint32_t i, uint64_t off, uint64_t size,
                              uint64_t align, uint32_t *found, struct tern_load_error *err)
{
    const uint8_t *base = a->file + off;
    uint64_t pos = 0;
    while (size - pos >= 12) {
        uint32_t namesz = le32(base + pos), descsz = le32(base + pos + 4);
        uint32_t type = le32(base + pos + 8);
        /* namesz, descsz < 2^32 and pos <= size < 2^63: no overflow below */
        uint64_t name = pos + 12;
        uint64_t desc = (name + namesz + align - 1) & ~(align - 1);
        uint64_t end = desc + descsz;
        if (desc > size || end > size)
            return elf_refuse(err, "program header %u: note runs past the PT_NOTE", i);
        if (namesz == TERN_NOTE_NAMESZ && memcmp(base + name, TERN_NOTE_NAME, 5) == 0 &&
            type == TERN_NOTE_ABI) {
            if (descsz != sizeof(struct tern_note_abi))
                return elf_refuse(err, "Tern ABI note has descsz %u (expected 8)", descsz);
            if (++*found > 1)
                return elf_refuse(err, "more than one Tern ABI note");
            a->abi.pal_major = le32(base + desc);
            a->abi.pal_minor = le32(base + desc + 4);
        }
        pos = (end + align - 1) & ~(align - 1);
        if (pos >= size)
            break;
    }
    return TERN_OK;
}

tern_result elf_check_note(struct elf_app *a, uint32_t pal_major, uint32_t pal_minor,
                           struct tern_load_error *err)
{
    uint32_t found = 0;
    for (uint32_t i = 0; i < a->phnum; i++) {
        const uint8_t *p = a->file + a->phoff + (uint64_t)i * PHDR_SIZE;
        if (le32(p) != PT_NOTE)
            continue;
        uint64_t off = le64(p + 8), size = le64(p + 32), align = le64(p + 48);
        /* elf_check_segments() checked the file range already */
        tern_result r = walk_notes(a, i, off, size, align == 8 ? 8 : 4, &found, err);
        if (r != TERN_OK)
            return r;
    }
    if (found == 0)
        return elf_refuse(err, "no Tern ABI note: the app does not say which PAL ABI it "
                          "was built for");
    if (a->abi.pal_major != pal_major)
        return elf_refuse(err, "built for PAL %u.x, this OS has %u.%u", a->abi.pal_major,
                          pal_major, pal_minor);
    if (a->abi.pal_minor > pal_minor)
        return elf_refuse(err, "built for PAL %u.%u, newer than this OS's %u.%u",
                          a->abi.pal_major, a->abi.pal_minor, pal_major, pal_minor);
    return TERN_OK;
}
