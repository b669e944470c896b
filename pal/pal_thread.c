/*
 * Interface: the PAL's threads and events (see include/tern/pal.h). App
 * threads are the core's cooperative threads; each carries a done event
 * so that join can take a deadline. Events are the core's auto-reset
 * events.
 */
#include "pal_internal.h"
#include "tern/thread.h"

struct pal_thread {
    struct tern_pal_app *app;
    struct tern_thread *t;
    int (*fn)(void *arg);
    void *arg;
    int code;
    bool done, detached;
    struct tern_event done_ev;
};

struct pal_event {
    struct tern_event ev;
    struct pal_poll_link *pollers;     /* polls waiting on it (pal_sock.c) */
};

static void *thread_body(void *arg)
{
    struct pal_thread *pt = arg;
    pt->code = pt->fn(pt->arg);
    pt->done = true;
    pt->app->threads--;
    if (pt->detached)
        tern_free(pt->app->os, pt);          /* the core frees the thread itself */
    else
        tern_event_signal(pt->app->os, &pt->done_ev);
    return NULL;
}

static int pal_thread_spawn(void *ctx, int (*fn)(void *arg), void *arg, size_t stack_size,
                            tern_pal_handle *out)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (fn == NULL || out == NULL)
        return TERN_PAL_EINVAL;
    if (app->threads >= app->cfg.max_threads) {
        tern_log(app->os, TERN_LOG_WARN, app->cfg.name,
                 "thread refused: the manifest allows %u", app->cfg.max_threads);
        return TERN_PAL_ENOMEM;
    }
    struct pal_thread *pt = tern_calloc(app->os, 1, sizeof *pt);
    if (pt == NULL)
        return TERN_PAL_ENOMEM;
    *pt = (struct pal_thread){ .app = app, .fn = fn, .arg = arg };
    tern_event_init(&pt->done_ev);
    tern_pal_handle h = pal_handle_new(app, PAL_H_THREAD, pt);
    if (h < 0 || tern_thread_create(app->os, app->cfg.name, thread_body, pt,
                                    stack_size ? stack_size : app->cfg.stack_bytes,
                                    &pt->t) != TERN_OK) {
        if (h >= 0)
            pal_handle_release(app, h);
        tern_free(app->os, pt);
        return TERN_PAL_ENOMEM;
    }
    app->threads++;
    *out = h;
    return TERN_PAL_OK;
}

static int pal_thread_join(void *ctx, tern_pal_handle h, uint64_t deadline, int *code)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct pal_thread *pt = pal_handle_get(app, h, PAL_H_THREAD);
    if (pt == NULL)
        return TERN_PAL_ENOENT;
    if (!pal_on_thread(app) || pt->t == tern_thread_current(app->os))
        return TERN_PAL_EINVAL;
    while (!pt->done) {
        tern_result r = tern_event_wait(app->os, &pt->done_ev, deadline);
        if (r != TERN_OK)
            return (int)r;
    }
    (void)tern_thread_join(app->os, pt->t, NULL);
    if (code)
        *code = pt->code;
    pal_handle_release(app, h);
    tern_free(app->os, pt);
    return TERN_PAL_OK;
}

static int pal_thread_detach(void *ctx, tern_pal_handle h)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct pal_thread *pt = pal_handle_get(app, h, PAL_H_THREAD);
    if (pt == NULL)
        return TERN_PAL_ENOENT;
    pal_handle_release(app, h);
    tern_thread_detach(app->os, pt->t);      /* freed now if it already ended */
    if (pt->done)
        tern_free(app->os, pt);
    else
        pt->detached = true;                 /* thread_body frees pt at its end */
    return TERN_PAL_OK;
}

static int pal_yield(void *ctx)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (!pal_on_thread(app))
        return TERN_PAL_EINVAL;
    return (int)tern_thread_yield(app->os);
}

static int pal_event_create(void *ctx, tern_pal_handle *out)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (out == NULL)
        return TERN_PAL_EINVAL;
    struct pal_event *pe = tern_alloc(app->os, sizeof *pe);
    if (pe == NULL)
        return TERN_PAL_ENOMEM;
    tern_event_init(&pe->ev);
    pe->pollers = NULL;
    tern_pal_handle h = pal_handle_new(app, PAL_H_EVENT, pe);
    if (h < 0) {
        tern_free(app->os, pe);
        return TERN_PAL_ENOMEM;
    }
    *out = h;
    return TERN_PAL_OK;
}

static int pal_event_signal(void *ctx, tern_pal_handle h)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct pal_event *pe = pal_handle_get(app, h, PAL_H_EVENT);
    if (pe == NULL)
        return TERN_PAL_ENOENT;
    tern_event_signal(app->os, &pe->ev);
    pal_poll_wake(app->os, pe->pollers);
    return TERN_PAL_OK;
}

static int pal_event_wait(void *ctx, tern_pal_handle h, uint64_t deadline)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct pal_event *pe = pal_handle_get(app, h, PAL_H_EVENT);
    if (pe == NULL)
        return TERN_PAL_ENOENT;
    if (!pal_on_thread(app))
        return TERN_PAL_EINVAL;
    return (int)tern_event_wait(app->os, &pe->ev, deadline);
}

struct tern_event *pal_event_of(struct tern_pal_app *app, tern_pal_handle h)
{
    struct pal_event *pe = pal_handle_get(app, h, PAL_H_EVENT);
    return pe ? &pe->ev : NULL;
}

struct pal_poll_link **pal_event_pollers(struct tern_pal_app *app, tern_pal_handle h)
{
    struct pal_event *pe = pal_handle_get(app, h, PAL_H_EVENT);
    return pe ? &pe->pollers : NULL;
}

void pal_fill_thread(struct tern_pal *t)
{
    t->thread_spawn = pal_thread_spawn;
    t->thread_join = pal_thread_join;
    t->yield = pal_yield;
    t->thread_detach = pal_thread_detach;
    t->event_create = pal_event_create;
    t->event_signal = pal_event_signal;
    t->event_wait = pal_event_wait;
}

/* Events are freed; threads still running are abandoned with their
 * records (their stacks are the instance heap's). */
void pal_thread_finish(struct tern_pal_app *app)
{
    for (tern_pal_handle h = 0; h < TERN_PAL_MAX_HANDLES; h++) {
        if (pal_handle_kind(app, h) == PAL_H_EVENT) {
            tern_free(app->os, pal_handle_get(app, h, PAL_H_EVENT));
            pal_handle_release(app, h);
        }
    }
}
