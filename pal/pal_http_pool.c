/*
 * Interface: see pal_http_internal.h. The worker pools of threaded HTTP
 * routes (include/tern/pal.h, http_workers and http_route_threaded).
 *
 * A pool is one instance-heap allocation: the pool, its workers and
 * workers + queue job slots, so nothing grows with load. Jobs move
 *   free -> waiting (FIFO) -> assigned (a worker runs the handler)
 *        -> done (the loop answers) -> free,
 * or straight to assigned when a worker is idle. Every move but the
 * handler's return happens on the loop; the worker, a cooperative thread
 * of the app, only runs the handler, puts the job on the done list and
 * posts the pool's deferred call, then waits until the loop has taken
 * the answer (it points into the app's memory, so the worker must not
 * start another request first) and hands it the next job or none.
 * Nothing here spins: idle workers and connections wait on events.
 */
#include <string.h>

#include "pal_http_internal.h"
#include "tern/thread.h"

#define POOL_MAX_WORKERS 64u
#define POOL_MAX_QUEUE 4096u

struct pal_worker {
    struct pal_pool *pool;
    struct pal_job *job;               /* set by the loop; NULL: nothing to do */
    struct tern_event ev;              /* a job came, its answer was taken, or stop */
    struct tern_list_node idle_link;   /* on pool->idle while it waits for work */
    uint32_t index;
};

struct pal_pool {
    struct tern_pal_app *app;          /* NULL once the app's PAL finished */
    struct tern_os *os;
    uint32_t nworkers, queue_cap, nwaiting, alive;
    bool stopping;
    struct tern_list idle, waiting, done, free_jobs;
    struct tern_deferred completion;   /* the loop's side: answers done jobs */
    struct pal_worker *workers;        /* [nworkers] */
    struct pal_job *jobs;              /* [nworkers + queue_cap] */
};

static void job_release(struct pal_pool *p, struct pal_job *j)
{
    tern_free(p->os, j->buf);
    j->buf = NULL;
    j->conn = NULL;
    j->worker = NULL;
    j->state = PAL_JOB_FREE;
    tern_list_push_back(&p->free_jobs, &j->link);
}

static void assign(struct pal_pool *p, struct pal_worker *w, struct pal_job *j)
{
    j->state = PAL_JOB_ASSIGNED;
    j->worker = w;
    w->job = j;
    tern_event_signal(p->os, &w->ev);
}

/* w is free again: the next waiting job, else the idle list. */
static void worker_next(struct pal_pool *p, struct pal_worker *w)
{
    struct tern_list_node *n = p->stopping ? NULL : tern_list_pop_front(&p->waiting);
    if (n) {
        p->nwaiting--;
        assign(p, w, TERN_CONTAINER_OF(n, struct pal_job, link));
        return;
    }
    w->job = NULL;
    if (!p->stopping)
        tern_list_push_back(&p->idle, &w->idle_link);
    tern_event_signal(p->os, &w->ev);  /* it waits for the answer to be taken, or stops */
}

/* ---- the worker (an app thread) ---- */

/* Runs j's handler and gives the result to the loop. */
static void run_job(struct pal_pool *p, struct pal_worker *w, struct pal_job *j)
{
    struct tern_pal_app *app = p->app;
    j->req.worker = w->index;
    if (app && !app->exited && !p->stopping) {
        app->stats.route_requests++;
        j->ran = true;
        j->result = j->route->fn(j->route->arg, &j->req, &j->resp);
    }
    if (p->app == NULL) {              /* the PAL finished under the handler */
        w->job = NULL;
        job_release(p, j);
        return;
    }
    j->state = PAL_JOB_DONE;
    tern_list_push_back(&p->done, &j->link);
    tern_os_defer(p->os, &p->completion);
}

/* The last one out frees an orphaned pool. */
static void worker_ended(struct pal_worker *w)
{
    struct pal_pool *p = w->pool;
    tern_list_remove(&w->idle_link);
    p->alive--;
    if (p->app)
        p->app->threads--;
    else if (p->alive == 0)
        tern_free(p->os, p);
}

static void *worker_main(void *arg)
{
    struct pal_worker *w = arg;
    struct pal_pool *p = w->pool;
    for (;;) {
        while (w->job == NULL && !p->stopping)
            (void)tern_event_wait(p->os, &w->ev, UINT64_MAX);
        struct pal_job *j = w->job;
        if (j == NULL)
            break;
        run_job(p, w, j);
        while (w->job == j)            /* until the loop took the answer */
            (void)tern_event_wait(p->os, &w->ev, UINT64_MAX);
    }
    worker_ended(w);
    return NULL;
}

/* ---- the loop's side ---- */

/* 503 for every job still waiting (the app ended). */
static void refuse_waiting(struct pal_pool *p)
{
    struct tern_list_node *n;
    while ((n = tern_list_pop_front(&p->waiting)) != NULL) {
        struct pal_job *j = TERN_CONTAINER_OF(n, struct pal_job, link);
        p->nwaiting--;
        if (j->conn)
            pal_route_complete(j);     /* j->ran is false: 503 */
        job_release(p, j);
    }
}

/* The deferred call: answers what the workers finished, frees them for
 * the next job. */
static void on_completion(struct tern_os *os, void *arg)
{
    struct pal_pool *p = arg;
    (void)os;
    struct tern_list_node *n;
    while ((n = tern_list_pop_front(&p->done)) != NULL) {
        struct pal_job *j = TERN_CONTAINER_OF(n, struct pal_job, link);
        struct pal_worker *w = j->worker;
        if (j->conn)
            pal_route_complete(j);
        job_release(p, j);
        worker_next(p, w);
    }
    if (p->stopping)
        refuse_waiting(p);
}

int pal_pool_create(struct tern_pal_app *app, uint32_t workers, uint32_t queue,
                    size_t stack_size, struct pal_pool **out)
{
    if (workers == 0 || workers > POOL_MAX_WORKERS || queue > POOL_MAX_QUEUE)
        return TERN_PAL_EINVAL;
    if (workers > app->cfg.max_threads - app->threads) {
        tern_log(app->os, TERN_LOG_WARN, app->cfg.name,
                 "http workers refused: %u asked, %u of the manifest's %u threads left", workers,
                 app->cfg.max_threads - app->threads, app->cfg.max_threads);
        return TERN_PAL_ENOSPC;
    }
    size_t njobs = (size_t)workers + queue;
    size_t size = sizeof(struct pal_pool) + workers * sizeof(struct pal_worker) +
                  njobs * sizeof(struct pal_job);
    struct pal_pool *p = tern_calloc(app->os, 1, size);
    if (p == NULL)
        return TERN_PAL_ENOMEM;
    p->app = app;
    p->os = app->os;
    p->nworkers = workers;
    p->queue_cap = queue;
    tern_list_init(&p->idle);
    tern_list_init(&p->waiting);
    tern_list_init(&p->done);
    tern_list_init(&p->free_jobs);
    tern_deferred_init(&p->completion, on_completion, p);
    p->workers = (struct pal_worker *)(p + 1);
    p->jobs = (struct pal_job *)(p->workers + workers);
    for (size_t i = 0; i < njobs; i++)
        tern_list_push_back(&p->free_jobs, &p->jobs[i].link);
    for (uint32_t i = 0; i < workers; i++) {
        struct pal_worker *w = &p->workers[i];
        *w = (struct pal_worker){ .pool = p, .index = i };
        tern_event_init(&w->ev);
        tern_list_node_init(&w->idle_link);
        struct tern_thread *t;
        if (tern_thread_create(app->os, app->cfg.name, worker_main, w,
                               stack_size ? stack_size : app->cfg.stack_bytes, &t) != TERN_OK) {
            pal_pool_stop(p);          /* those started end when they first run */
            pal_pool_finish(p);
            return TERN_PAL_ENOMEM;
        }
        tern_thread_detach(app->os, t);
        p->alive++;
        app->threads++;
        tern_list_push_back(&p->idle, &w->idle_link);
    }
    *out = p;
    return TERN_PAL_OK;
}

int pal_pool_can_take(const struct pal_pool *p)
{
    if (p->stopping)
        return TERN_PAL_ECLOSED;
    if (tern_list_empty(&p->idle) && p->nwaiting >= p->queue_cap)
        return TERN_PAL_EBUSY;
    return TERN_PAL_OK;
}

int pal_pool_submit(struct pal_pool *p, struct tern_http_conn *c, struct pal_route *rt,
                    uint8_t *buf, const struct tern_pal_http_request *req, const char *method,
                    struct pal_job **out)
{
    int r = pal_pool_can_take(p);
    if (r != TERN_PAL_OK)
        return r;
    /* workers + queue slots: one is free whenever a worker is idle or the
     * FIFO has room (a worker holds at most one job) */
    struct tern_list_node *slot = tern_list_pop_front(&p->free_jobs);
    if (slot == NULL)
        return TERN_PAL_EBUSY;
    struct pal_job *j = TERN_CONTAINER_OF(slot, struct pal_job, link);
    *j = (struct pal_job){ .conn = c, .route = rt, .buf = buf, .req = *req };
    tern_list_node_init(&j->link);
    j->resp.status = 200;
    size_t ml = strlen(method);
    memcpy(j->method, method, ml < sizeof j->method ? ml + 1 : sizeof j->method);
    j->method[sizeof j->method - 1] = '\0';
    j->req.method = j->method;
    struct tern_list_node *n = tern_list_pop_front(&p->idle);
    if (n) {
        assign(p, TERN_CONTAINER_OF(n, struct pal_worker, idle_link), j);
    } else {
        j->state = PAL_JOB_WAITING;
        tern_list_push_back(&p->waiting, &j->link);
        p->nwaiting++;
    }
    *out = j;
    return TERN_PAL_OK;
}

void pal_pool_abandon(struct pal_job *j)
{
    struct pal_pool *p = j->route->pool;
    j->conn = NULL;
    if (p->app)
        p->app->stats.route_dropped++;
    if (j->state == PAL_JOB_WAITING) {
        tern_list_remove(&j->link);
        p->nwaiting--;
        job_release(p, j);
    }
}

void pal_pool_stop(struct pal_pool *p)
{
    if (p->stopping)
        return;
    p->stopping = true;
    struct tern_list_node *n;
    while ((n = tern_list_pop_front(&p->idle)) != NULL)
        tern_event_signal(p->os, &TERN_CONTAINER_OF(n, struct pal_worker, idle_link)->ev);
    if (p->nwaiting)
        tern_os_defer(p->os, &p->completion);
}

void pal_pool_finish(struct pal_pool *p)
{
    pal_pool_stop(p);
    tern_os_defer_cancel(&p->completion);
    struct tern_list_node *n;
    while ((n = tern_list_pop_front(&p->waiting)) != NULL) {
        p->nwaiting--;
        job_release(p, TERN_CONTAINER_OF(n, struct pal_job, link));
    }
    while ((n = tern_list_pop_front(&p->done)) != NULL) {
        struct pal_job *j = TERN_CONTAINER_OF(n, struct pal_job, link);
        struct pal_worker *w = j->worker;
        job_release(p, j);
        w->job = NULL;                 /* it ends if it ever runs again */
        tern_event_signal(p->os, &w->ev);
    }
    p->app->threads -= p->alive;       /* what is left is abandoned */
    p->app = NULL;
    if (p->alive == 0)
        tern_free(p->os, p);
}
