/*
 * Interface: a loader test app with a thread-local variable, so the
 * linker gives it a PT_TLS segment, which the loader refuses.
 */
#include "app_note.h"

__thread int per_thread = 5;

int tern_app_main(const void *pal, const void *start);

int tern_app_main(const void *pal, const void *start)
{
    (void)pal;
    (void)start;
    return per_thread;
}
