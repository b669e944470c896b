/*
 * Interface: see include/tern/timer.h. A binary min-heap ordered by
 * (deadline, start sequence); each timer knows its slot, so stop and
 * restart are O(log n) without a search.
 */
#include "tern/timer.h"

static bool earlier(const struct tern_timer *a, const struct tern_timer *b)
{
    if (a->deadline_ns != b->deadline_ns)
        return a->deadline_ns < b->deadline_ns;
    return a->seq < b->seq;
}

static void place(struct tern_timer_heap *h, uint32_t slot, struct tern_timer *t)
{
    h->slots[slot] = t;
    t->slot = slot;
}

static void sift_up(struct tern_timer_heap *h, uint32_t slot)
{
    struct tern_timer *t = h->slots[slot];
    while (slot > 0) {
        uint32_t parent = (slot - 1) / 2;
        if (!earlier(t, h->slots[parent]))
            break;
        place(h, slot, h->slots[parent]);
        slot = parent;
    }
    place(h, slot, t);
}

static void sift_down(struct tern_timer_heap *h, uint32_t slot)
{
    struct tern_timer *t = h->slots[slot];
    for (;;) {
        uint32_t child = 2 * slot + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && earlier(h->slots[child + 1], h->slots[child]))
            child++;
        if (!earlier(h->slots[child], t))
            break;
        place(h, slot, h->slots[child]);
        slot = child;
    }
    place(h, slot, t);
}

void tern_timer_heap_init(struct tern_timer_heap *h, struct tern_timer **storage,
                          uint32_t capacity)
{
    h->slots = storage;
    h->count = 0;
    h->capacity = capacity;
    h->next_seq = 0;
    h->fired = 0;
    h->refused = 0;
}

void tern_timer_init(struct tern_timer *t, tern_timer_fn fn, void *arg)
{
    t->deadline_ns = 0;
    t->seq = 0;
    t->fn = fn;
    t->arg = arg;
    t->slot = TERN_TIMER_IDLE;
}

void tern_timer_stop(struct tern_timer_heap *h, struct tern_timer *t)
{
    if (t->slot == TERN_TIMER_IDLE)
        return;
    uint32_t slot = t->slot;
    t->slot = TERN_TIMER_IDLE;
    h->count--;
    if (slot == h->count)
        return;
    place(h, slot, h->slots[h->count]);
    sift_down(h, slot);
    sift_up(h, slot);
}

tern_result tern_timer_start(struct tern_timer_heap *h, struct tern_timer *t,
                             uint64_t deadline_ns)
{
    tern_timer_stop(h, t);
    if (h->count == h->capacity) {
        h->refused++;
        return TERN_ENOSPC;
    }
    t->deadline_ns = deadline_ns;
    t->seq = h->next_seq++;
    h->slots[h->count] = t;
    t->slot = h->count++;
    sift_up(h, t->slot);
    return TERN_OK;
}

uint64_t tern_timer_next_deadline(const struct tern_timer_heap *h)
{
    return h->count ? h->slots[0]->deadline_ns : UINT64_MAX;
}

unsigned tern_timer_run(struct tern_timer_heap *h, uint64_t now_ns)
{
    uint64_t started_before = h->next_seq;
    unsigned fired = 0;
    while (h->count > 0) {
        struct tern_timer *t = h->slots[0];
        if (t->deadline_ns > now_ns || t->seq >= started_before)
            break;
        tern_timer_stop(h, t);
        fired++;
        h->fired++;
        t->fn(t, t->arg);
    }
    return fired;
}
