/*
 * Interface: a loader test app for W^X. start is a mode, not a pointer:
 *   0  returns 42 (the app loaded and runs)
 *   1  writes a byte of its own text (must fault: text is sealed R+X)
 *   2  calls a "ret" instruction it stored in writable data (must fault:
 *      data is not executable)
 */
#include <stdint.h>

#include "app_note.h"

unsigned char data_code[16] = { 0xc3 }; /* ret */

int tern_app_main(const void *pal, const void *start);

int tern_app_main(const void *pal, const void *start)
{
    (void)pal;
    uintptr_t mode = (uintptr_t)start;
    if (mode == 1)
        *(volatile unsigned char *)(uintptr_t)&tern_app_main = 0xcc;
    if (mode == 2)
        ((void (*)(void))(uintptr_t)data_code)();
    return 42;
}
