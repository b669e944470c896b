/*
 * Interface: the few things musl's pure parts need that musl itself
 * cannot provide on metal without a kernel underneath. Everything else in
 * Tern's metal libc is musl's own source, compiled unchanged (see
 * docs/baremetal.md for the file list).
 *
 *  - __tern_musl_self: the single struct pthread that __get_tp() returns
 *    (override/pthread_arch.h); holds errno and points at the C locale.
 *  - __lockfile/__unlockfile: stdio locking. Tern only formats into
 *    buffers (snprintf family), whose FILE has lock = -1 so these are
 *    never called; they exist for the linker and do nothing.
 *  - __stdio_exit_needed: the flush-at-exit hook; nothing to flush.
 */
#include "pthread_impl.h"
#include "stdio_impl.h"
#include "libc.h"

struct pthread __tern_musl_self = {
    .self = &__tern_musl_self,
    .locale = &libc.global_locale,
};

int __lockfile(FILE *f)
{
    (void)f;
    return 0;
}

void __unlockfile(FILE *f)
{
    (void)f;
}

/* stdio registers itself for flushing at exit() when a FILE is first
 * written; Tern's metal has no exit() and no stream FILEs. */
void __stdio_exit_needed(void)
{
}
