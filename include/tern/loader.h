/*
 * Interface: the app loader. An app is a static position-independent
 * ELF64 x86-64 executable with no interpreter, no libraries and no libc
 * (include/tern/app_abi.h, docs/loader.md). tern_app_load() checks every
 * field it uses against the file's bounds, reads the app's ABI note,
 * resolves the whole layout and every relocation BEFORE it allocates or
 * writes anything, then copies the PT_LOAD segments into memory from the
 * platform's exec_alloc, applies the relocations, zeroes BSS, makes
 * read-only data read-only (exec_readonly) and seals the executable
 * segment read+execute with exec_seal (W^X). A refused file
 * gets TERN_EINVAL and a one-line reason; nothing of it is kept.
 *
 *   struct tern_app_image img;
 *   struct tern_load_error err;
 *   if (tern_app_load(os, file, len, TERN_PAL_ABI_MAJOR, TERN_PAL_ABI_MINOR,
 *                     &img, &err) != TERN_OK) ... err.reason ...
 *   int (*main)(const struct tern_pal *, const struct tern_app_start *) =
 *       (void *)(uintptr_t)img.entry;
 *   ...
 *   tern_app_unload(os, &img);
 */
#ifndef TERN_LOADER_H
#define TERN_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "tern/app_abi.h"
#include "tern/os.h"
#include "tern/result.h"

#include "tern/pal.h"               /* TERN_PAL_ABI_MAJOR / MINOR: the OS's PAL ABI */
#include "tern/decls.h"

TERN_BEGIN_DECLS

/* The largest exec_alloc region an app may need (span of its PT_LOADs
 * plus alignment slack); bare metal's exec_alloc has the same cap. */
#define TERN_APP_MAX_IMAGE   (64u << 20)
/* The largest PT_LOAD alignment accepted. */
#define TERN_APP_MAX_ALIGN   (2u << 20)
/* The page size permissions are applied with (both backends). */
#define TERN_APP_PAGE        4096u

struct tern_app_image {
    void *base;                 /* the exec_alloc region holding every PT_LOAD */
    size_t size;                /* its size, as passed to exec_alloc */
    uint64_t entry;             /* absolute address of e_entry after relocation */
    struct tern_note_abi abi;   /* from the note */
    uint64_t text_lo, text_hi;  /* the sealed read+execute range (absolute, page-aligned) */
    uint64_t bias;              /* added to every p_vaddr: absolute = bias + vaddr */
    uint32_t relocs;            /* relocations applied (R_X86_64_NONE not counted) */
};

struct tern_load_error {
    char reason[160];           /* e.g. "PT_INTERP present: apps are static PIEs with no interpreter" */
};

/* Checks, places and relocates the app in file[0..len) (caller-owned, not
 * retained) into memory from the platform's exec_alloc, then seals its text
 * W^X through exec_seal. pal_major/pal_minor: the OS's PAL ABI. Writable
 * segments stay read-write and non-executable; pages holding only
 * read-only data (and the PT_GNU_RELRO range, once relocated) are made
 * read-only through exec_readonly when the platform has it, else they stay
 * read-write (docs/loader.md). A refusal is logged (warn, subsystem
 * "loader").
 * Returns TERN_OK (*out filled); TERN_EINVAL (refused: err->reason says
 * why; nothing was allocated); TERN_ENOMEM (exec_alloc had no memory);
 * TERN_ENOTSUP (the platform has no exec_alloc/exec_seal/exec_free); or
 * what exec_seal/exec_readonly returned when it failed (err->reason says
 * so; the memory was returned). err may be NULL. */
tern_result tern_app_load(struct tern_os *os, const void *file, size_t len, uint32_t pal_major,
                          uint32_t pal_minor, struct tern_app_image *out,
                          struct tern_load_error *err);

/* Returns img's memory to the platform (exec_free) and clears *img. An
 * image that is all zero (never loaded, or unloaded) is left alone. */
void tern_app_unload(struct tern_os *os, struct tern_app_image *img);

/* Runs every check tern_app_load() runs, without a platform and without
 * writing anything: TERN_OK (*abi_out, when not NULL, gets the note) or
 * TERN_EINVAL with err->reason. For tools and the package builder. */
tern_result tern_app_check(const void *file, size_t len, uint32_t pal_major, uint32_t pal_minor,
                           struct tern_note_abi *abi_out, struct tern_load_error *err);

TERN_END_DECLS

#endif
