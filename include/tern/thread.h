/*
 * Interface: cooperative threads with their own stacks, scheduled by the
 * core loop; this is how apps get a blocking-style API (accept, read,
 * sleep, wait) on a core that never blocks.
 *
 * Rules:
 *  - Threads run one at a time, only from the core loop (tern_os_step).
 *    A thread runs until it yields, sleeps, waits or returns; there is no
 *    preemption, so code between those calls is atomic.
 *  - The blocking calls here may only be made from a thread
 *    (tern_thread_current() != NULL); from the loop itself they return
 *    TERN_EINVAL.
 *  - A thread's stack comes from the platform's stack_alloc (with a guard
 *    page below it) when it has one, else from the instance heap; its
 *    size is fixed at creation. Every created thread must be joined (or detached) exactly
 *    once, or its memory stays allocated.
 */
#ifndef TERN_THREAD_H
#define TERN_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/list.h"
#include "tern/result.h"
#include "tern/timer.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_os;
struct tern_thread;

typedef void *(*tern_thread_fn)(void *arg);

/* An auto-reset event: signal() wakes every thread waiting now; when none
 * is waiting it stays set, and the next wait() returns at once and clears
 * it. So a signal is never lost between a check and a wait. */
struct tern_event {
    struct tern_list waiters;
    bool set;
};

void tern_event_init(struct tern_event *ev);

/* Blocks the calling thread until ev is signalled or deadline_ns passes
 * (UINT64_MAX: no deadline). TERN_OK, TERN_ETIMEDOUT, or TERN_EINVAL when
 * not called from a thread. */
tern_result tern_event_wait(struct tern_os *os, struct tern_event *ev, uint64_t deadline_ns);

/* Wakes every waiter of ev (from a thread, a timer or any core code). */
void tern_event_signal(struct tern_os *os, struct tern_event *ev);

/* Creates a ready thread running fn(arg) on a stack of stack_size bytes
 * (0: the instance default). name is copied (cut to 15 chars). TERN_OK,
 * TERN_ENOMEM. */
tern_result tern_thread_create(struct tern_os *os, const char *name, tern_thread_fn fn,
                               void *arg, size_t stack_size, struct tern_thread **out);

/* Lets every other ready thread run once before the caller continues.
 * TERN_OK or TERN_EINVAL (not a thread). */
tern_result tern_thread_yield(struct tern_os *os);

/* Blocks the caller until the monotonic clock reaches deadline_ns.
 * TERN_OK, TERN_ENOSPC (no timer slot), TERN_EINVAL (not a thread). */
tern_result tern_thread_sleep_until(struct tern_os *os, uint64_t deadline_ns);

/* Waits for t to return, stores its return value in *out_value (may be
 * NULL) and frees it. TERN_OK; TERN_EINVAL when t is the caller, already
 * joined or detached, or the caller is not a thread. */
tern_result tern_thread_join(struct tern_os *os, struct tern_thread *t, void **out_value);

/* Frees t by itself once it returns; t must not be used afterwards. */
void tern_thread_detach(struct tern_os *os, struct tern_thread *t);

/* The running thread, or NULL in the core loop. */
struct tern_thread *tern_thread_current(const struct tern_os *os);

/* For a backend's fault handler: true when addr lies in the guard below
 * the current thread's stack (a platform stack_alloc stack): the fault
 * was that thread's stack overflow. Reads plain fields only. */
bool tern_thread_guard_hit(const struct tern_os *os, uint64_t addr);

const char *tern_thread_name(const struct tern_thread *t);

TERN_END_DECLS

#endif
