/*
 * Interface: the Tern ABI note of the loader's test apps (app_abi.h's
 * layout: namesz 5, descsz 8, type TERN_NOTE_ABI, "Tern\0" padded to 8,
 * then the PAL major/minor). A section named .note.* is an SHT_NOTE
 * section to both gas and clang's assembler, so the linker puts it in a
 * PT_NOTE segment. Include it from exactly one file of an app.
 */
#ifndef TERN_TEST_APP_NOTE_H
#define TERN_TEST_APP_NOTE_H

#include <stdint.h>

#include "tern/app_abi.h"

#ifndef APP_PAL_MAJOR
#define APP_PAL_MAJOR 1
#define APP_PAL_MINOR 0
#endif

struct app_abi_note {
    uint32_t namesz, descsz, type;
    char name[8];
    struct tern_note_abi desc;
};

__attribute__((section(".note.tern"), aligned(4), used))
static const struct app_abi_note app_abi_note = {
    TERN_NOTE_NAMESZ, sizeof(struct tern_note_abi), TERN_NOTE_ABI, TERN_NOTE_NAME,
    { APP_PAL_MAJOR, APP_PAL_MINOR },
};

#endif
