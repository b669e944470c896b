/*
 * Interface: test-side access to a built app file, for reading it and
 * patching single fields to make the files the loader must refuse. Uses
 * the host's <elf.h>; every lookup asserts (CMocka) that what it looks for
 * is there, so a test never patches the wrong bytes silently.
 */
#ifndef TERN_TEST_APP_PATCH_H
#define TERN_TEST_APP_PATCH_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

struct app_file {
    uint8_t *buf;      /* malloc'd, exactly len bytes */
    size_t len;
};

/* Reads path whole; asserts it worked. */
struct app_file app_read(const char *path);
/* A private copy of f (to patch). */
struct app_file app_copy(const struct app_file *f);
void app_free(struct app_file *f);

Elf64_Ehdr *app_ehdr(const struct app_file *f);
Elf64_Phdr *app_phdr(const struct app_file *f, unsigned i);
/* The nth (from 0) program header of type type. */
Elf64_Phdr *app_phdr_of(const struct app_file *f, uint32_t type, unsigned nth);
/* The dynamic entry with tag tag. */
Elf64_Dyn *app_dyn(const struct app_file *f, int64_t tag);
/* The file bytes at vaddr (inside a PT_LOAD's file bytes). */
void *app_at_vaddr(const struct app_file *f, uint64_t vaddr);
/* The DT_RELA entries and their count. */
Elf64_Rela *app_rela(const struct app_file *f, size_t *count);
/* The RELATIVE entry whose addend is vaddr. */
Elf64_Rela *app_rela_to(const struct app_file *f, uint64_t vaddr);
/* The .dynsym symbol named name, and its index. */
Elf64_Sym *app_dynsym(const struct app_file *f, const char *name, uint32_t *index);
/* The Tern ABI note's header (namesz, descsz, type, then name and desc). */
uint32_t *app_tern_note(const struct app_file *f);

#endif
