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
 *  - malloc, calloc, realloc, free: over the heap the backend hands in
 *    with tern_libc_set_heap (tern_libc_heap.h). musl's allocators need
 *    brk/mmap; here the core's heap is the only memory there is.
 */
#include "pthread_impl.h"
#include "stdio_impl.h"
#include "libc.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tern_libc_heap.h"

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

/* ---- malloc family ---- */

#define PREFIX 16   /* keeps the core heap's 16-byte alignment */

/* The machine's one heap (see tern_libc_heap.h for why it is static). */
static struct tern_libc_heap libc_heap;

void tern_libc_set_heap(const struct tern_libc_heap *heap)
{
    libc_heap = *heap;
}

void *malloc(size_t size)
{
    if (size == 0)
        size = 1;
    if (libc_heap.alloc == NULL || size > SIZE_MAX - PREFIX) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned char *p = libc_heap.alloc(libc_heap.ctx, size + PREFIX);
    if (p == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    memcpy(p, &size, sizeof(size));
    return p + PREFIX;
}

void free(void *p)
{
    if (p != NULL)
        libc_heap.free(libc_heap.ctx, (unsigned char *)p - PREFIX);
}

void *calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = malloc(n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void *realloc(void *p, size_t size)
{
    if (p == NULL)
        return malloc(size);
    size_t old;
    memcpy(&old, (unsigned char *)p - PREFIX, sizeof(old));
    void *q = malloc(size);
    if (q == NULL)
        return NULL;        /* p stays valid, as C requires */
    memcpy(q, p, old < size ? old : size);
    free(p);
    return q;
}
