/*
 * Interface: the heap behind the metal libc's malloc, calloc, realloc and
 * free (glue.c), which cJSON (the manifest parser's tree) and musl's own
 * scanf (%m) use. C's malloc takes no context, so the glue keeps the one
 * heap of the machine in a single static, set once at boot after the
 * core's heap exists (like mbedTLS's hooks, metal_tls.h). Until then
 * malloc returns NULL (ENOMEM). Memory comes from alloc(ctx, size),
 * which must return 16-byte aligned blocks or NULL; blocks carry a
 * 16-byte size prefix so realloc can copy.
 */
#ifndef TERN_LIBC_HEAP_H
#define TERN_LIBC_HEAP_H

#include <stddef.h>

struct tern_libc_heap {
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *p);
    void *ctx;
};

/* Makes *heap (copied) the allocator behind malloc and free. Call once,
 * before anything is allocated; blocks from one heap go back to it. */
void tern_libc_set_heap(const struct tern_libc_heap *heap);

#endif
