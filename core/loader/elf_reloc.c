/*
 * Interface: see core/loader/elf.h. The dynamic section of an app and its
 * relocations. Tables are read from the file (never from the image being
 * written, so a relocation cannot rewrite the tables still to be read);
 * every relocation's target must lie inside a writable PT_LOAD.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "loader/elf.h"
#include "storage/le.h"

/* ---- dynamic section ---- */

struct dyn_values {
    uint64_t rela, relasz, relaent;
    uint64_t jmprel, pltrelsz, pltrel;
    uint64_t symtab, syment, strtab, strsz;
    bool has_rela, has_jmprel, has_pltrel, has_symtab, has_strtab, has_syment, has_relaent;
    bool has_needed;
    uint64_t needed;              /* first DT_NEEDED's string offset */
};

/* Tags refused outright, with why. NULL: not refused by its tag alone. */
static const char *refused_tag(uint64_t tag, uint64_t val)
{
    switch (tag) {
    case DT_TEXTREL:
        return "DT_TEXTREL present: text relocations are refused";
    case DT_FLAGS:
        return (val & DF_TEXTREL) ? "DF_TEXTREL set: text relocations are refused" : NULL;
    case DT_REL:
    case DT_RELSZ:
    case DT_RELENT:
        return "DT_REL relocations (no addends) are not supported: apps use DT_RELA";
    case DT_RELR:
    case DT_RELRSZ:
        return "DT_RELR (packed relative relocations) not supported: link without "
               "-z pack-relative-relocs";
    case DT_INIT:
        return "DT_INIT present: the loader runs no initialisers";
    case DT_INIT_ARRAYSZ:
    case DT_PREINIT_ARRAYSZ:
        return val != 0 ? "DT_INIT_ARRAY/DT_PREINIT_ARRAY present: the loader runs no "
                          "initialisers" : NULL;
    default:
        return NULL;
    }
}

static void record_tag(struct dyn_values *d, uint64_t tag, uint64_t val)
{
    switch (tag) {
    case DT_NEEDED:
        if (!d->has_needed)
            d->needed = val;
        d->has_needed = true;
        break;
    case DT_RELA: d->rela = val; d->has_rela = true; break;
    case DT_RELASZ: d->relasz = val; break;
    case DT_RELAENT: d->relaent = val; d->has_relaent = true; break;
    case DT_JMPREL: d->jmprel = val; d->has_jmprel = true; break;
    case DT_PLTRELSZ: d->pltrelsz = val; break;
    case DT_PLTREL: d->pltrel = val; d->has_pltrel = true; break;
    case DT_SYMTAB: d->symtab = val; d->has_symtab = true; break;
    case DT_SYMENT: d->syment = val; d->has_syment = true; break;
    case DT_STRTAB: d->strtab = val; d->has_strtab = true; break;
    case DT_STRSZ: d->strsz = val; break;
    default: break;
    }
}

/* Copies the NUL-terminated string at strtab offset off into buf (cut to
 * fit); "?" when it is not inside the table. */
static void read_name(const struct elf_app *a, uint64_t off, char *buf, size_t cap)
{
    size_t n = 0;
    if (a->strtab.size != 0 && off < a->strtab.size) {
        const uint8_t *s = a->file + a->strtab.off + off;
        uint64_t room = a->strtab.size - off;
        while (n < room && n + 1 < cap && s[n] != 0) {
            buf[n] = (char)s[n];
            n++;
        }
    }
    if (n == 0)
        buf[n++] = '?';
    buf[n] = '\0';
}

/* Locates one relocation table (vaddr, size) in the file. */
static tern_result locate_rela(const struct elf_app *a, const char *what, uint64_t vaddr,
                               uint64_t size, struct elf_table *t, struct tern_load_error *err)
{
    if (size % RELA_SIZE != 0)
        return elf_refuse(err, "%s size %llu is not a multiple of 24", what,
                          (unsigned long long)size);
    if (size != 0 && elf_vaddr_to_off(a, vaddr, size, &t->off) != TERN_OK)
        return elf_refuse(err, "%s table outside the file's loaded bytes", what);
    t->size = size;
    return TERN_OK;
}

/* Locates DT_SYMTAB (to the end of its segment's file bytes) and DT_STRTAB. */
static tern_result locate_symbols(struct elf_app *a, const struct dyn_values *d,
                                  struct tern_load_error *err)
{
    if (d->has_syment && d->syment != SYM_SIZE)
        return elf_refuse(err, "DT_SYMENT %llu (expected 24)", (unsigned long long)d->syment);
    if (d->has_strtab) {
        if (d->strsz == 0 || elf_vaddr_to_off(a, d->strtab, d->strsz, &a->strtab.off) != TERN_OK)
            return elf_refuse(err, "DT_STRTAB/DT_STRSZ outside the file's loaded bytes");
        a->strtab.size = d->strsz;
    }
    if (d->has_symtab) {
        for (uint32_t i = 0; i < a->nload; i++) {
            const struct elf_seg *s = &a->load[i];
            if (d->symtab >= s->vaddr && d->symtab - s->vaddr < s->filesz) {
                a->symtab.off = s->offset + (d->symtab - s->vaddr);
                a->symtab.size = s->filesz - (d->symtab - s->vaddr);
            }
        }
        if (a->symtab.size == 0)
            return elf_refuse(err, "DT_SYMTAB outside the file's loaded bytes");
    }
    return TERN_OK;
}

static tern_result use_values(struct elf_app *a, const struct dyn_values *d,
                              struct tern_load_error *err)
{
    tern_result r = locate_symbols(a, d, err);
    if (r != TERN_OK)
        return r;
    if (d->has_needed) {
        char name[64];
        read_name(a, d->needed, name, sizeof name);
        return elf_refuse(err, "DT_NEEDED %s: apps link no shared libraries", name);
    }
    if (d->has_relaent && d->relaent != RELA_SIZE)
        return elf_refuse(err, "DT_RELAENT %llu (expected 24)", (unsigned long long)d->relaent);
    if (d->has_rela && (r = locate_rela(a, "DT_RELA", d->rela, d->relasz, &a->rela, err)))
        return r;
    if (d->has_jmprel) {
        if (!d->has_pltrel || d->pltrel != DT_RELA)
            return elf_refuse(err, "DT_PLTREL is not DT_RELA: apps use DT_RELA");
        if ((r = locate_rela(a, "DT_JMPREL", d->jmprel, d->pltrelsz, &a->jmprel, err)))
            return r;
    }
    return TERN_OK;
}

tern_result elf_check_dynamic(struct elf_app *a, struct tern_load_error *err)
{
    if (!a->has_dynamic)
        return TERN_OK; /* nothing to relocate */
    struct dyn_values d = { 0 };
    for (uint64_t pos = 0; a->dyn_size - pos >= DYN_SIZE; pos += DYN_SIZE) {
        const uint8_t *e = a->file + a->dyn_off + pos;
        uint64_t tag = le64(e), val = le64(e + 8);
        if (tag == DT_NULL)
            break;
        const char *why = refused_tag(tag, val);
        if (why != NULL)
            return elf_refuse(err, "%s", why);
        record_tag(&d, tag, val);
    }
    return use_values(a, &d, err);
}

/* ---- relocations ---- */

/* Why a relocation type is refused; NULL for the ones applied. */
static const char *refused_type(uint32_t type)
{
    switch (type) {
    case R_X86_64_NONE:
    case R_X86_64_64:
    case R_X86_64_GLOB_DAT:
    case R_X86_64_JUMP_SLOT:
    case R_X86_64_RELATIVE:
        return NULL;
    case R_X86_64_COPY: return "R_X86_64_COPY";
    case 16: return "R_X86_64_DTPMOD64 (TLS)";
    case 17: return "R_X86_64_DTPOFF64 (TLS)";
    case 18: return "R_X86_64_TPOFF64 (TLS)";
    case 36: return "R_X86_64_TLSDESC (TLS)";
    case 37: return "R_X86_64_IRELATIVE";
    default: return "";
    }
}

/* Refuses a target [off, off + 8) that is not inside a writable PT_LOAD. */
static tern_result check_target(const struct elf_app *a, uint64_t off,
                                struct tern_load_error *err)
{
    for (uint32_t i = 0; i < a->nload; i++) {
        const struct elf_seg *s = &a->load[i];
        if (off < s->vaddr || off - s->vaddr >= s->memsz)
            continue;
        if (s->memsz - (off - s->vaddr) < 8)
            break; /* straddles the segment's end */
        if (s->flags & PF_W)
            return TERN_OK;
        if (s->flags & PF_X)
            return elf_refuse(err, "relocation at 0x%llx targets the executable segment "
                              "(a text relocation)", (unsigned long long)off);
        return elf_refuse(err, "relocation at 0x%llx targets a read-only segment "
                          "(a text relocation)", (unsigned long long)off);
    }
    return elf_refuse(err, "relocation at 0x%llx outside the image's writable segments",
                      (unsigned long long)off);
}

/* S for a symbolic relocation: an app's own defined symbol, absolute. */
static tern_result symbol_value(const struct elf_app *a, uint64_t sym, uint64_t bias,
                                uint64_t *out, struct tern_load_error *err)
{
    if (a->symtab.size == 0 || a->symtab.size / SYM_SIZE <= sym)
        return elf_refuse(err, "symbol index %llu outside the symbol table",
                          (unsigned long long)sym);
    const uint8_t *s = a->file + a->symtab.off + sym * SYM_SIZE;
    uint32_t name_off = le32(s);
    uint8_t info = s[4];
    uint16_t shndx = le16(s + 6);
    uint64_t value = le64(s + 8);
    char name[64];
    read_name(a, name_off, name, sizeof name);
    if (shndx == SHN_UNDEF)
        return elf_refuse(err, "undefined symbol '%s': apps resolve only their own symbols",
                          name);
    if ((info & 0xf) == STT_GNU_IFUNC)
        return elf_refuse(err, "symbol '%s' is an IFUNC", name);
    if ((info & 0xf) == STT_TLS)
        return elf_refuse(err, "symbol '%s' is thread-local", name);
    if (shndx == SHN_ABS) {
        *out = value;
        return TERN_OK;
    }
    if (value < a->lo || value > a->hi)
        return elf_refuse(err, "symbol '%s' outside the image", name);
    *out = bias + value;
    return TERN_OK;
}

static tern_result one_rela(struct elf_app *a, const uint8_t *e, uint64_t bias, bool apply,
                            struct tern_load_error *err)
{
    uint64_t off = le64(e), info = le64(e + 8), addend = le64(e + 16);
    uint32_t type = (uint32_t)info;
    const char *why = refused_type(type);
    if (why != NULL && why[0] != '\0')
        return elf_refuse(err, "relocation %s at 0x%llx refused", why,
                          (unsigned long long)off);
    if (why != NULL)
        return elf_refuse(err, "relocation type %u at 0x%llx not supported", type,
                          (unsigned long long)off);
    if (type == R_X86_64_NONE)
        return TERN_OK;
    tern_result r = check_target(a, off, err);
    if (r != TERN_OK)
        return r;
    uint64_t value = bias + addend; /* RELATIVE: B + A */
    if (type != R_X86_64_RELATIVE) {
        uint64_t s = 0;
        if ((r = symbol_value(a, info >> 32, bias, &s, err)) != TERN_OK)
            return r;
        value = s + addend;        /* 64: S + A; GLOB_DAT, JUMP_SLOT: S (A is 0) */
    }
    a->relocs++;
    if (apply)
        put64((uint8_t *)(uintptr_t)(bias + off), value);
    return TERN_OK;
}

tern_result elf_relocate(struct elf_app *a, uint64_t bias, bool apply,
                         struct tern_load_error *err)
{
    const struct elf_table *tables[2] = { &a->rela, &a->jmprel };
    a->relocs = 0;
    for (int t = 0; t < 2; t++) {
        for (uint64_t pos = 0; pos < tables[t]->size; pos += RELA_SIZE) {
            tern_result r = one_rela(a, a->file + tables[t]->off + pos, bias, apply, err);
            if (r != TERN_OK)
                return r;
        }
    }
    return TERN_OK;
}
