/*
 * Interface: a loader test app for W^X. start is a mode, not a pointer:
 *   0  returns 42 (the app loaded and runs)
 *   1  writes a byte of its own text (must fault: text is sealed R+X)
 *   2  calls a "ret" instruction it stored in writable data (must fault:
 *      data is not executable)
 *   3  writes its read-only data (.rodata; must fault where the platform
 *      has exec_readonly)
 *   4  writes its relocated read-only data (.data.rel.ro, in PT_GNU_RELRO;
 *      must fault where the platform has exec_readonly)
 */
#include <stdint.h>

#include "app_note.h"

unsigned char data_code[16] = { 0xc3 }; /* ret */

int tern_app_main(const void *pal, const void *start);

const char message[] = "read-only";
int (*const relro_table[])(const void *, const void *) = { tern_app_main };

int tern_app_main(const void *pal, const void *start)
{
    (void)pal;
    uintptr_t mode = (uintptr_t)start;
    if (mode == 1)
        *(volatile unsigned char *)(uintptr_t)&tern_app_main = 0xcc;
    if (mode == 2)
        ((void (*)(void))(uintptr_t)data_code)();
    if (mode == 3)
        *(volatile char *)(uintptr_t)message = 'R';
    if (mode == 4)
        *(volatile uintptr_t *)(uintptr_t)&relro_table[0] = 0;
    return 42;
}
