/*
 * Interface: see include/tern/heap.h.
 *
 * Layout: the region is a sequence of blocks, each starting with a 16-byte
 * header (its size with bit 0 = in use, and the size of the block before
 * it), ending with a zero-size "in use" sentinel. Free blocks keep list
 * links in their payload and sit in bin floor(log2(size)). Freeing merges
 * with free neighbours, so two free blocks are never adjacent.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tern/heap.h"

#define HDR 16u
#define MIN_BLOCK 32u
#define USED ((size_t)1)

struct tern_heap_block {
    size_t size;                  /* whole block, header included; bit 0: used */
    size_t prev_size;             /* size of the block before; 0 for the first */
    struct tern_heap_block *next_free, *prev_free; /* only while free */
};

static size_t block_size(const struct tern_heap_block *b) { return b->size & ~USED; }
static bool block_used(const struct tern_heap_block *b) { return (b->size & USED) != 0; }

static struct tern_heap_block *block_next(struct tern_heap_block *b)
{
    return (struct tern_heap_block *)((uint8_t *)b + block_size(b));
}

static struct tern_heap_block *block_prev(struct tern_heap_block *b)
{
    return b->prev_size ? (struct tern_heap_block *)((uint8_t *)b - b->prev_size) : NULL;
}

static unsigned bin_of(size_t size)
{
    unsigned bin = 0;
    while (size > 1 && bin < TERN_HEAP_BINS - 1) {
        size >>= 1;
        bin++;
    }
    return bin;
}

static void bin_insert(struct tern_heap *h, struct tern_heap_block *b)
{
    unsigned bin = bin_of(block_size(b));
    b->prev_free = NULL;
    b->next_free = h->bins[bin];
    if (b->next_free)
        b->next_free->prev_free = b;
    h->bins[bin] = b;
}

static void bin_remove(struct tern_heap *h, struct tern_heap_block *b)
{
    if (b->prev_free)
        b->prev_free->next_free = b->next_free;
    else
        h->bins[bin_of(block_size(b))] = b->next_free;
    if (b->next_free)
        b->next_free->prev_free = b->prev_free;
}

tern_result tern_heap_init(struct tern_heap *h, void *base, size_t size)
{
    if (base == NULL || ((uintptr_t)base & 15u) != 0 || size < 256)
        return TERN_EINVAL;
    memset(h, 0, sizeof(*h));
    size &= ~(size_t)15u;
    h->base = base;
    h->size = size;

    struct tern_heap_block *first = base;
    first->size = size - HDR;              /* free; the sentinel takes HDR */
    first->prev_size = 0;
    struct tern_heap_block *end = block_next(first);
    end->size = 0 | USED;
    end->prev_size = block_size(first);
    bin_insert(h, first);
    return TERN_OK;
}

static struct tern_heap_block *find_fit(struct tern_heap *h, size_t need)
{
    for (unsigned bin = bin_of(need); bin < TERN_HEAP_BINS; bin++) {
        for (struct tern_heap_block *b = h->bins[bin]; b; b = b->next_free) {
            if (block_size(b) >= need)
                return b;
        }
    }
    return NULL;
}

void *tern_heap_alloc(struct tern_heap *h, size_t size)
{
    if (size == 0 || size > h->size)
        return NULL;
    size_t need = (size + HDR + 15u) & ~(size_t)15u;
    if (need < MIN_BLOCK)
        need = MIN_BLOCK;

    struct tern_heap_block *b = find_fit(h, need);
    if (b == NULL) {
        h->failures++;
        return NULL;
    }
    bin_remove(h, b);

    size_t have = block_size(b);
    if (have - need >= MIN_BLOCK) {
        struct tern_heap_block *rest = (struct tern_heap_block *)((uint8_t *)b + need);
        rest->size = have - need;
        rest->prev_size = need;
        block_next(rest)->prev_size = rest->size;
        bin_insert(h, rest);
        have = need;
    }
    b->size = have | USED;

    h->in_use += have;
    if (h->in_use > h->peak)
        h->peak = h->in_use;
    h->allocations++;
    return (uint8_t *)b + HDR;
}

void *tern_heap_calloc(struct tern_heap *h, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = tern_heap_alloc(h, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void tern_heap_free(struct tern_heap *h, void *p)
{
    if (p == NULL)
        return;
    struct tern_heap_block *b = (struct tern_heap_block *)((uint8_t *)p - HDR);
    size_t size = block_size(b);
    h->in_use -= size;
    h->allocations--;

    struct tern_heap_block *next = block_next(b);
    if (!block_used(next)) {
        bin_remove(h, next);
        size += block_size(next);
    }
    struct tern_heap_block *prev = block_prev(b);
    if (prev && !block_used(prev)) {
        bin_remove(h, prev);
        size += block_size(prev);
        b = prev;
    }
    b->size = size;
    block_next(b)->prev_size = size;
    bin_insert(h, b);
}

void tern_heap_get_stats(const struct tern_heap *h, struct tern_heap_stats *out)
{
    out->size = h->size;
    out->in_use = h->in_use;
    out->peak = h->peak;
    out->allocations = h->allocations;
    out->failures = h->failures;
}
