/*
 * Interface: snapshot and restore of a fuzz harness's whole instance, so a
 * harness sets the stack up once and starts every input from the very same
 * state (same bytes, same addresses) without a fresh init. A snapshot is
 * two memory ranges: the harness's instance struct (platform, os, stack
 * state and anything else it keeps there) and the heap region the sim
 * platform hands the core. Everything the core can reach lives in those
 * two ranges (no globals), so restoring both is a full reset: a crash
 * reproduces from the single input that caused it.
 */
#ifndef TERN_TEST_FUZZ_SNAPSHOT_H
#define TERN_TEST_FUZZ_SNAPSHOT_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_snapshot {
    void *obj, *obj_copy;
    size_t obj_len;
    void *heap, *heap_copy;
    size_t heap_len;
};

/* Copies [obj, obj+obj_len) and [heap, heap+heap_len) aside; aborts when
 * memory runs out (a harness cannot go on without its snapshot). */
static inline void fuzz_snapshot_take(struct fuzz_snapshot *s, void *obj, size_t obj_len,
                                      void *heap, size_t heap_len)
{
    s->obj = obj;
    s->obj_len = obj_len;
    s->heap = heap;
    s->heap_len = heap_len;
    s->obj_copy = malloc(obj_len);
    s->heap_copy = malloc(heap_len);
    if (s->obj_copy == NULL || s->heap_copy == NULL)
        abort();
    memcpy(s->obj_copy, obj, obj_len);
    memcpy(s->heap_copy, heap, heap_len);
}

/* Puts both ranges back exactly as they were when the snapshot was taken
 * (s itself must lie outside obj). */
static inline void fuzz_snapshot_restore(const struct fuzz_snapshot *s)
{
    memcpy(s->obj, s->obj_copy, s->obj_len);
    memcpy(s->heap, s->heap_copy, s->heap_len);
}

#endif
