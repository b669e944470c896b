/* Interface: see app_patch.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app_patch.h"
#include "tern/app_abi.h"

struct app_file app_read(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n > 0);
    rewind(fp);
    struct app_file f = { malloc((size_t)n), (size_t)n };
    assert_non_null(f.buf);
    assert_int_equal(fread(f.buf, 1, f.len, fp), f.len);
    fclose(fp);
    return f;
}

struct app_file app_copy(const struct app_file *f)
{
    struct app_file c = { malloc(f->len), f->len };
    assert_non_null(c.buf);
    memcpy(c.buf, f->buf, f->len);
    return c;
}

void app_free(struct app_file *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = 0;
}

Elf64_Ehdr *app_ehdr(const struct app_file *f)
{
    return (Elf64_Ehdr *)f->buf;
}

Elf64_Phdr *app_phdr(const struct app_file *f, unsigned i)
{
    Elf64_Ehdr *e = app_ehdr(f);
    assert_true(i < e->e_phnum);
    return (Elf64_Phdr *)(f->buf + e->e_phoff) + i;
}

Elf64_Phdr *app_phdr_of(const struct app_file *f, uint32_t type, unsigned nth)
{
    for (unsigned i = 0; i < app_ehdr(f)->e_phnum; i++) {
        Elf64_Phdr *p = app_phdr(f, i);
        if (p->p_type == type && nth-- == 0)
            return p;
    }
    fail_msg("no program header of type 0x%x", type);
    return NULL;
}

Elf64_Dyn *app_dyn(const struct app_file *f, int64_t tag)
{
    Elf64_Phdr *d = app_phdr_of(f, PT_DYNAMIC, 0);
    Elf64_Dyn *dyn = (Elf64_Dyn *)(f->buf + d->p_offset);
    for (size_t i = 0; i < d->p_filesz / sizeof *dyn && dyn[i].d_tag != DT_NULL; i++)
        if (dyn[i].d_tag == tag)
            return &dyn[i];
    fail_msg("no dynamic entry with tag 0x%llx", (unsigned long long)tag);
    return NULL;
}

void *app_at_vaddr(const struct app_file *f, uint64_t vaddr)
{
    for (unsigned i = 0; i < app_ehdr(f)->e_phnum; i++) {
        Elf64_Phdr *p = app_phdr(f, i);
        if (p->p_type == PT_LOAD && vaddr >= p->p_vaddr && vaddr < p->p_vaddr + p->p_filesz)
            return f->buf + p->p_offset + (vaddr - p->p_vaddr);
    }
    fail_msg("vaddr 0x%llx not in the file", (unsigned long long)vaddr);
    return NULL;
}

Elf64_Rela *app_rela(const struct app_file *f, size_t *count)
{
    *count = app_dyn(f, DT_RELASZ)->d_un.d_val / sizeof(Elf64_Rela);
    return app_at_vaddr(f, app_dyn(f, DT_RELA)->d_un.d_ptr);
}

Elf64_Rela *app_rela_to(const struct app_file *f, uint64_t vaddr)
{
    size_t n;
    Elf64_Rela *r = app_rela(f, &n);
    for (size_t i = 0; i < n; i++)
        if (ELF64_R_TYPE(r[i].r_info) == R_X86_64_RELATIVE && (uint64_t)r[i].r_addend == vaddr)
            return &r[i];
    fail_msg("no RELATIVE relocation to 0x%llx", (unsigned long long)vaddr);
    return NULL;
}

Elf64_Sym *app_dynsym(const struct app_file *f, const char *name, uint32_t *index)
{
    Elf64_Ehdr *e = app_ehdr(f);
    Elf64_Shdr *sh = (Elf64_Shdr *)(f->buf + e->e_shoff);
    for (unsigned i = 0; i < e->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNSYM)
            continue;
        Elf64_Sym *sym = (Elf64_Sym *)(f->buf + sh[i].sh_offset);
        const char *str = (const char *)(f->buf + sh[sh[i].sh_link].sh_offset);
        for (uint32_t k = 0; k < sh[i].sh_size / sizeof *sym; k++) {
            if (strcmp(str + sym[k].st_name, name) == 0) {
                *index = k;
                return &sym[k];
            }
        }
    }
    fail_msg("no dynamic symbol %s", name);
    return NULL;
}

uint32_t *app_tern_note(const struct app_file *f)
{
    for (unsigned n = 0;; n++) {
        Elf64_Phdr *p = app_phdr_of(f, PT_NOTE, n);
        for (uint64_t pos = 0; pos + 12 <= p->p_filesz;) {
            uint32_t *h = (uint32_t *)(f->buf + p->p_offset + pos);
            if (h[0] == TERN_NOTE_NAMESZ && memcmp(h + 3, "Tern", 5) == 0)
                return h;
            pos += 12 + ((h[0] + 3u) & ~3u) + ((h[1] + 3u) & ~3u);
        }
    }
}
