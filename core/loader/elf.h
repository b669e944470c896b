/*
 * Interface: loader-internal. The ELF64 constants the loader reads (its
 * own definitions: core has no <elf.h>) and struct elf_app, the checked
 * layout of one app file that the three steps fill in order:
 *
 *   elf_check_header()   ELF header and the program header table bounds
 *   elf_check_segments() program headers: PT_LOADs, PT_DYNAMIC, PT_NOTEs
 *   elf_check_note()     the Tern ABI note against the OS's PAL ABI
 *   elf_check_dynamic()  the dynamic section and the tables it names
 *   elf_relocate()       every relocation: checked (image NULL) or applied
 *
 * Every function returns TERN_OK or TERN_EINVAL with err->reason set
 * (elf_refuse). All file reads go through elf_file_range() bounds checks.
 */
#ifndef TERN_LOADER_ELF_H
#define TERN_LOADER_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/loader.h"

/* e_ident and the ELF header */
#define EHDR_SIZE       64u
#define EI_CLASS        4
#define EI_DATA         5
#define EI_VERSION      6
#define ELFCLASS64      2
#define ELFDATA2LSB     1
#define EV_CURRENT      1
#define ET_EXEC         2
#define ET_DYN          3
#define EM_X86_64       62

/* program headers */
#define PHDR_SIZE       56u
#define SHDR_SIZE       64u
#define PT_LOAD         1
#define PT_DYNAMIC      2
#define PT_INTERP       3
#define PT_NOTE         4
#define PT_TLS          7
#define PT_GNU_STACK    0x6474e551u
#define PT_GNU_RELRO    0x6474e552u
#define PF_X            1u
#define PF_W            2u
#define PF_R            4u

/* dynamic section */
#define DYN_SIZE        16u
#define DT_NULL         0
#define DT_NEEDED       1
#define DT_PLTRELSZ     2
#define DT_STRTAB       5
#define DT_SYMTAB       6
#define DT_RELA         7
#define DT_RELASZ       8
#define DT_RELAENT      9
#define DT_STRSZ        10
#define DT_SYMENT       11
#define DT_INIT         12
#define DT_REL          17
#define DT_RELSZ        18
#define DT_RELENT       19
#define DT_PLTREL       20
#define DT_TEXTREL      22
#define DT_JMPREL       23
#define DT_INIT_ARRAYSZ 27
#define DT_FLAGS        30
#define DT_PREINIT_ARRAYSZ 33
#define DT_RELRSZ       35
#define DT_RELR         36
#define DF_TEXTREL      0x4u

/* relocations and symbols */
#define RELA_SIZE       24u
#define SYM_SIZE        24u
#define SHN_UNDEF       0
#define SHN_ABS         0xfff1u
#define STT_TLS         6
#define STT_GNU_IFUNC   10

#define R_X86_64_NONE       0
#define R_X86_64_64         1
#define R_X86_64_COPY       5
#define R_X86_64_GLOB_DAT   6
#define R_X86_64_JUMP_SLOT  7
#define R_X86_64_RELATIVE   8

#define ELF_MAX_PHDRS   64   /* more program headers than this: refused */
#define ELF_MAX_LOADS   16   /* more PT_LOADs than this: refused */

struct elf_seg {
    uint64_t vaddr, memsz;    /* memory range [vaddr, vaddr + memsz): no overflow */
    uint64_t offset, filesz;  /* file range: inside the file */
    uint64_t align;
    uint32_t flags;           /* PF_* */
};

/* A table named by the dynamic section, located in the file. */
struct elf_table {
    uint64_t off, size;       /* file range; size 0: absent */
};

struct elf_app {
    const uint8_t *file;
    size_t len;
    uint64_t entry;                       /* e_entry (a vaddr) */
    uint64_t phoff;
    uint32_t phnum;
    struct elf_seg load[ELF_MAX_LOADS];
    uint32_t nload;
    uint32_t text;                        /* index in load[] of the one PF_X segment */
    uint64_t lo, hi;                      /* page-rounded vaddr span of all PT_LOADs */
    uint64_t max_align;
    uint64_t alloc_size;                  /* what exec_alloc gets: span + alignment slack */
    bool has_relro;
    uint64_t relro_lo, relro_hi;          /* PT_GNU_RELRO's vaddr range */
    bool has_dynamic;
    uint64_t dyn_off, dyn_size;           /* PT_DYNAMIC's file range */
    struct tern_note_abi abi;
    struct elf_table rela, jmprel;        /* DT_RELA/RELASZ, DT_JMPREL/PLTRELSZ */
    struct elf_table symtab;              /* DT_SYMTAB to the end of its segment's file bytes */
    struct elf_table strtab;              /* DT_STRTAB/DT_STRSZ */
    uint32_t relocs;                      /* counted by elf_relocate */
};

/* Sets err->reason from fmt and returns TERN_EINVAL. */
tern_result elf_refuse(struct tern_load_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True when [off, off + size) lies inside the file (no overflow). */
bool elf_file_range(const struct elf_app *a, uint64_t off, uint64_t size);

/* Finds the file range of [vaddr, vaddr + size) inside one PT_LOAD's file
 * bytes: TERN_OK with *off, or TERN_EINVAL (what names the table). */
tern_result elf_vaddr_to_off(const struct elf_app *a, uint64_t vaddr, uint64_t size,
                             uint64_t *off);

tern_result elf_check_header(struct elf_app *a, struct tern_load_error *err);
tern_result elf_check_segments(struct elf_app *a, struct tern_load_error *err);
tern_result elf_check_note(struct elf_app *a, uint32_t pal_major, uint32_t pal_minor,
                           struct tern_load_error *err);
tern_result elf_check_dynamic(struct elf_app *a, struct tern_load_error *err);

/* Walks every relocation. bias: absolute = bias + vaddr. With apply false
 * it only checks (and counts); with apply true it also writes each value
 * at bias + r_offset, which must be the placed image. */
tern_result elf_relocate(struct elf_app *a, uint64_t bias, bool apply,
                         struct tern_load_error *err);

#endif
