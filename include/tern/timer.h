/*
 * Interface: one-shot timers on the monotonic clock, kept in a binary
 * min-heap of fixed capacity (start/stop O(log n), earliest O(1)).
 *
 * The caller owns each struct tern_timer and must stop it before freeing
 * it. A timer fires at most once per start; a callback may start or stop
 * any timer, including its own. Callbacks run from the core loop, never
 * from an interrupt or signal.
 */
#ifndef TERN_TIMER_H
#define TERN_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_timer;
typedef void (*tern_timer_fn)(struct tern_timer *t, void *arg);

#define TERN_TIMER_IDLE ((uint32_t)-1)

struct tern_timer {
    uint64_t deadline_ns;
    uint64_t seq;          /* start order: equal deadlines fire FIFO */
    tern_timer_fn fn;
    void *arg;
    uint32_t slot;         /* index in the heap, or TERN_TIMER_IDLE */
};

struct tern_timer_heap {
    struct tern_timer **slots;
    uint32_t count, capacity;
    uint64_t next_seq;
    uint64_t fired;
    uint64_t refused;      /* starts refused because the heap was full */
};

/* Uses storage (capacity pointers, caller-owned) for the heap. */
void tern_timer_heap_init(struct tern_timer_heap *h, struct tern_timer **storage,
                          uint32_t capacity);

/* Prepares t; it is idle until started. */
void tern_timer_init(struct tern_timer *t, tern_timer_fn fn, void *arg);

/* (Re)arms t for deadline_ns; restarting an armed timer moves it.
 * TERN_OK, or TERN_ENOSPC when the heap is full (t stays idle). */
tern_result tern_timer_start(struct tern_timer_heap *h, struct tern_timer *t,
                             uint64_t deadline_ns);

/* Disarms t; harmless when t is idle. */
void tern_timer_stop(struct tern_timer_heap *h, struct tern_timer *t);

static inline bool tern_timer_armed(const struct tern_timer *t)
{
    return t->slot != TERN_TIMER_IDLE;
}

/* Deadline of the earliest timer, or UINT64_MAX when none is armed. */
uint64_t tern_timer_next_deadline(const struct tern_timer_heap *h);

/* Fires, in deadline order, every timer due at now_ns that was armed
 * before this call began; timers (re)started by its callbacks wait for the
 * next call, so a callback that re-arms itself cannot spin. Returns how
 * many fired. */
unsigned tern_timer_run(struct tern_timer_heap *h, uint64_t now_ns);

TERN_END_DECLS

#endif
