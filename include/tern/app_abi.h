/*
 * Interface: the binary contract between Tern and an app file, shared by
 * the loader (core), the SDK's start code (apps/sdk) and tools that
 * inspect apps. It has no dependencies, so apps include it as is.
 *
 * An app is an ELF64 x86-64 position-independent executable (ET_DYN) with
 * no interpreter, no needed libraries and no text relocations. It carries
 * one ELF note, in a PT_NOTE segment:
 *
 *   namesz = 5, descsz = 8, type = TERN_NOTE_ABI, name = "Tern\0" (padded
 *   to 8 bytes), desc = struct tern_note_abi (little-endian)
 *
 * naming the PAL ABI it was built for. The loader reads the note before
 * any of the app's code runs and refuses an app without it, or built for
 * a PAL major other than the OS's, or for a newer minor than the OS's.
 *
 * The ELF entry point (e_entry) is the app's main, called on a
 * cooperative thread of the core with the System V AMD64 ABI:
 *   int tern_app_main(const struct tern_pal *pal, const struct tern_app_start *start);
 * Returning ends the app with that exit code (0: success).
 */
#ifndef TERN_APP_ABI_H
#define TERN_APP_ABI_H

#include <stdint.h>
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_NOTE_NAME     "Tern"
#define TERN_NOTE_NAMESZ   5u          /* "Tern" and its NUL */
#define TERN_NOTE_ABI      0x41424931u /* "1IBA": the PAL ABI note */

struct tern_note_abi {
    uint32_t pal_major;                /* must equal the OS's TERN_PAL_ABI_MAJOR */
    uint32_t pal_minor;                /* must be <= the OS's TERN_PAL_ABI_MINOR */
};

TERN_END_DECLS

#endif
