/*
 * Interface: the core's general-purpose allocator over the one region the
 * backend gives at init (platform heap_region). Boundary tags with
 * coalescing and segregated free lists; 16-byte alignment; no hidden
 * global state, so each instance has its own heap.
 *
 * Hot paths (packet buffers, protocol control blocks) use fixed pools
 * carved from this heap at init; the heap itself serves set-up, thread
 * stacks and variable-sized objects. Exhaustion returns NULL, never panics.
 */
#ifndef TERN_HEAP_H
#define TERN_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_HEAP_BINS 48

struct tern_heap_block;

struct tern_heap {
    uint8_t *base;
    size_t size;
    struct tern_heap_block *bins[TERN_HEAP_BINS];
    size_t in_use;          /* bytes handed out, headers included */
    size_t peak;            /* high-water mark of in_use */
    size_t allocations;     /* live allocations */
    uint64_t failures;      /* allocations refused for lack of space */
};

struct tern_heap_stats {
    size_t size, in_use, peak, allocations;
    uint64_t failures;
};

/* Takes [base, base+size) as the heap. base must be 16-byte aligned.
 * TERN_OK, or TERN_EINVAL when the region is too small (< 256 bytes). */
tern_result tern_heap_init(struct tern_heap *h, void *base, size_t size);

/* size bytes, 16-byte aligned, or NULL when size is 0 or no block fits. */
void *tern_heap_alloc(struct tern_heap *h, size_t size);

/* Like tern_heap_alloc, zero-filled; NULL on overflow of n * size. */
void *tern_heap_calloc(struct tern_heap *h, size_t n, size_t size);

/* Returns p (from this heap) to the heap; NULL is ignored. */
void tern_heap_free(struct tern_heap *h, void *p);

void tern_heap_get_stats(const struct tern_heap *h, struct tern_heap_stats *out);

TERN_END_DECLS

#endif
