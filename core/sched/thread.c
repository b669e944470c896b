/*
 * Interface: see include/tern/thread.h and core/sched/sched.h.
 *
 * A thread and its stack are one heap allocation, unless the platform
 * gives guarded stacks (stack_alloc: a faulting page below each stack, so
 * an overflow faults at once, and tern_thread_guard_hit tells the
 * backend's fault handler it was one). The loop switches into a
 * ready thread; the thread switches back when it blocks, yields or ends.
 * A canary at the low end of each stack is checked at every switch back,
 * so an overflow that skipped the guard (or had none) panics with the
 * thread's name instead of corrupting memory silently.
 */
#include <string.h>

#include "tern/os.h"
#include "tern/thread.h"
#include "../arch/context.h"
#include "sched.h"

#define STACK_CANARY 0x7465726e5f737463ull /* "tern_stc" */
#define MIN_STACK 4096u

#if defined(__SANITIZE_ADDRESS__)
#define TERN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TERN_ASAN 1
#endif
#endif

#ifdef TERN_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif

enum thread_state { T_READY, T_RUNNING, T_BLOCKED, T_DONE };

struct tern_thread {
    struct tern_list_node run_link;   /* ready queue or an event's waiters */
    struct tern_list_node all_link;
    struct tern_os *os;
    void *sp;
    uint8_t *stack;
    size_t stack_size;
    tern_thread_fn fn;
    void *arg;
    void *result;
    enum thread_state state;
    bool detached, joined;
    tern_result wake_result;
    struct tern_event done;
    struct tern_timer timer;          /* sleep and wait deadlines */
    void *asan_fake_stack;
    bool guarded;                     /* the stack is the platform's stack_alloc */
    char name[16];
};

void tern_sched_init(struct tern_os *os)
{
    memset(&os->sched, 0, sizeof(os->sched));
    tern_list_init(&os->sched.ready);
    tern_list_init(&os->sched.all);
}

bool tern_sched_has_ready(const struct tern_os *os)
{
    return !tern_list_empty(&os->sched.ready);
}

static void free_thread(struct tern_os *os, struct tern_thread *t)
{
    tern_list_remove(&t->all_link);
    tern_timer_disarm(os, &t->timer);
    os->sched.live--;
    if (t->guarded)
        os->plat.ops->stack_free(os->plat.ctx, t->stack, t->stack_size);
    tern_free(os, t);
}

/* A guarded stack of *size bytes (rounded up to pages) from the platform,
 * or NULL: the caller then takes it from the heap. */
static void *platform_stack(struct tern_os *os, size_t *size)
{
    const struct tern_platform_ops *ops = os->plat.ops;
    if (ops->stack_alloc == NULL || ops->stack_free == NULL)
        return NULL;
    size_t paged = (*size + 4095u) & ~(size_t)4095u;
    void *stack = NULL;
    if (ops->stack_alloc(os->plat.ctx, paged, &stack) != TERN_OK)
        return NULL;
    *size = paged;
    return stack;
}

/* Thread side: give the CPU back to the loop. */
static void switch_to_loop(struct tern_os *os, struct tern_thread *t, bool exiting)
{
#ifdef TERN_ASAN
    __sanitizer_start_switch_fiber(exiting ? NULL : &t->asan_fake_stack,
                                   os->sched.loop_stack_bottom, os->sched.loop_stack_size);
#else
    (void)exiting;
#endif
    tern_ctx_switch(&t->sp, os->sched.loop_sp);
#ifdef TERN_ASAN
    __sanitizer_finish_switch_fiber(t->asan_fake_stack, &os->sched.loop_stack_bottom,
                                    &os->sched.loop_stack_size);
#endif
}

static void thread_entry(void *arg)
{
    struct tern_thread *t = arg;
    struct tern_os *os = t->os;
#ifdef TERN_ASAN
    __sanitizer_finish_switch_fiber(NULL, &os->sched.loop_stack_bottom,
                                    &os->sched.loop_stack_size);
#endif
    t->result = t->fn(t->arg);
    t->state = T_DONE;
    tern_event_signal(os, &t->done);
    if (t->detached)
        os->sched.reap = t;           /* freed by the loop once off this stack */
    switch_to_loop(os, t, true);
    tern_panic(os, "thread %s resumed after it ended", t->name);
}

static void run_one(struct tern_os *os, struct tern_thread *t)
{
    struct tern_sched *s = &os->sched;
    s->current = t;
    t->state = T_RUNNING;
    s->switches++;
#ifdef TERN_ASAN
    __sanitizer_start_switch_fiber(&s->asan_fake_stack, t->stack, t->stack_size);
#endif
    tern_ctx_switch(&s->loop_sp, t->sp);
#ifdef TERN_ASAN
    __sanitizer_finish_switch_fiber(s->asan_fake_stack, NULL, NULL);
#endif
    s->current = NULL;
    uint64_t canary;
    memcpy(&canary, t->stack, sizeof(canary));
    if (canary != STACK_CANARY)
        tern_panic(os, "stack overflow in thread %s", t->name);
    if (s->reap) {
        free_thread(os, s->reap);
        s->reap = NULL;
    }
}

void tern_sched_run_ready(struct tern_os *os)
{
    /* Only the threads ready now: one that yields runs again next step. */
    struct tern_list batch;
    tern_list_init(&batch);
    struct tern_list_node *n;
    while ((n = tern_list_pop_front(&os->sched.ready)) != NULL)
        tern_list_push_back(&batch, n);
    while ((n = tern_list_pop_front(&batch)) != NULL)
        run_one(os, TERN_CONTAINER_OF(n, struct tern_thread, run_link));
}

static void make_ready(struct tern_os *os, struct tern_thread *t, tern_result why)
{
    tern_list_remove(&t->run_link);
    tern_timer_disarm(os, &t->timer);
    t->wake_result = why;
    t->state = T_READY;
    tern_list_push_back(&os->sched.ready, &t->run_link);
}

static void on_thread_timer(struct tern_timer *timer, void *arg)
{
    (void)timer;
    struct tern_thread *t = arg;
    if (t->state == T_BLOCKED)
        make_ready(t->os, t, TERN_ETIMEDOUT);
}

/* Thread side: sleep until make_ready(); returns why it woke. */
static tern_result block_current(struct tern_os *os, struct tern_thread *t)
{
    t->state = T_BLOCKED;
    switch_to_loop(os, t, false);
    return t->wake_result;
}

tern_result tern_thread_create(struct tern_os *os, const char *name, tern_thread_fn fn,
                               void *arg, size_t stack_size, struct tern_thread **out)
{
    if (fn == NULL || out == NULL)
        return TERN_EINVAL;
    if (stack_size == 0)
        stack_size = os->cfg.default_stack_size;
    if (stack_size < MIN_STACK)
        stack_size = MIN_STACK;
    stack_size = (stack_size + 15u) & ~(size_t)15u;
    size_t head = (sizeof(struct tern_thread) + 63u) & ~(size_t)63u;
    uint8_t *guarded = platform_stack(os, &stack_size);
    struct tern_thread *t = tern_alloc(os, guarded ? head : head + stack_size);
    if (t == NULL) {
        if (guarded)
            os->plat.ops->stack_free(os->plat.ctx, guarded, stack_size);
        return TERN_ENOMEM;
    }
    memset(t, 0, sizeof(*t));
    t->os = os;
    t->guarded = guarded != NULL;
    t->stack = guarded ? guarded : (uint8_t *)t + head;
    t->stack_size = stack_size;
    t->fn = fn;
    t->arg = arg;
    t->state = T_READY;
    tern_event_init(&t->done);
    tern_timer_init(&t->timer, on_thread_timer, t);
    size_t i = 0;
    for (; name && name[i] && i < sizeof(t->name) - 1; i++)
        t->name[i] = name[i];
    t->name[i] = '\0';
    uint64_t canary = STACK_CANARY;
    memcpy(t->stack, &canary, sizeof(canary));
    t->sp = tern_ctx_prepare(t->stack, t->stack_size, thread_entry, t);

    tern_list_node_init(&t->run_link);
    tern_list_push_back(&os->sched.all, &t->all_link);
    tern_list_push_back(&os->sched.ready, &t->run_link);
    os->sched.live++;
    *out = t;
    return TERN_OK;
}

struct tern_thread *tern_thread_current(const struct tern_os *os)
{
    return os->sched.current;
}

bool tern_thread_guard_hit(const struct tern_os *os, uint64_t addr)
{
    const struct tern_thread *t = os == NULL ? NULL : os->sched.current;
    if (t == NULL || !t->guarded)
        return false;
    uint64_t low = (uint64_t)(uintptr_t)t->stack;
    return addr < low && low - addr <= TERN_STACK_GUARD;
}

const char *tern_thread_name(const struct tern_thread *t)
{
    return t->name;
}

tern_result tern_thread_yield(struct tern_os *os)
{
    struct tern_thread *t = os->sched.current;
    if (t == NULL)
        return TERN_EINVAL;
    t->state = T_READY;
    tern_list_push_back(&os->sched.ready, &t->run_link);
    switch_to_loop(os, t, false);
    return TERN_OK;
}

tern_result tern_thread_sleep_until(struct tern_os *os, uint64_t deadline_ns)
{
    struct tern_thread *t = os->sched.current;
    if (t == NULL)
        return TERN_EINVAL;
    if (tern_timer_arm(os, &t->timer, deadline_ns) != TERN_OK)
        return TERN_ENOSPC;
    tern_result r = block_current(os, t);
    return r == TERN_ETIMEDOUT ? TERN_OK : r;
}

void tern_event_init(struct tern_event *ev)
{
    tern_list_init(&ev->waiters);
    ev->set = false;
}

tern_result tern_event_wait(struct tern_os *os, struct tern_event *ev, uint64_t deadline_ns)
{
    struct tern_thread *t = os->sched.current;
    if (t == NULL)
        return TERN_EINVAL;
    if (ev->set) {
        ev->set = false;
        return TERN_OK;
    }
    if (deadline_ns != UINT64_MAX && tern_timer_arm(os, &t->timer, deadline_ns) != TERN_OK)
        return TERN_ENOSPC;
    tern_list_push_back(&ev->waiters, &t->run_link);
    return block_current(os, t);
}

void tern_event_signal(struct tern_os *os, struct tern_event *ev)
{
    if (tern_list_empty(&ev->waiters)) {
        ev->set = true;
        return;
    }
    struct tern_list_node *n;
    while ((n = tern_list_pop_front(&ev->waiters)) != NULL)
        make_ready(os, TERN_CONTAINER_OF(n, struct tern_thread, run_link), TERN_OK);
}

tern_result tern_thread_join(struct tern_os *os, struct tern_thread *t, void **out_value)
{
    struct tern_thread *self = os->sched.current;
    if (self == NULL || t == NULL || t == self || t->joined || t->detached)
        return TERN_EINVAL;
    t->joined = true;
    while (t->state != T_DONE)
        (void)tern_event_wait(os, &t->done, UINT64_MAX);
    if (out_value)
        *out_value = t->result;
    free_thread(os, t);
    return TERN_OK;
}

void tern_thread_detach(struct tern_os *os, struct tern_thread *t)
{
    if (t == NULL || t->joined || t->detached)
        return;
    if (t->state == T_DONE)
        free_thread(os, t);
    else
        t->detached = true;
}
