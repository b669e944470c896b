/*
 * Interface: what the PAL's two HTTP files share. pal_http.c puts the
 * app's routes on the OS's server and runs everything that touches a
 * connection, always on the loop: buffering the request, running a loop
 * route's handler, writing the answer. pal_http_pool.c keeps the worker
 * pools of threaded routes: a request whose body is complete becomes a
 * job, waits in the pool's FIFO for a worker thread, the worker runs the
 * handler, and the loop (a deferred call) takes the result back to
 * pal_http.c, which answers the connection if it is still there.
 *
 * Ownership: a job's buffer (the request body, path and query, instance
 * heap) is the pool's from submit to release; the connection only points
 * at the job (route_req.job) and the job at the connection (job.conn),
 * and whichever side goes first cuts its link (the client leaving:
 * pal_pool_abandon; the app's PAL finishing: pal_http_finish).
 */
#ifndef TERN_PAL_HTTP_INTERNAL_H
#define TERN_PAL_HTTP_INTERNAL_H

#include "pal_internal.h"
#include "tern/http.h"

#define ROUTE_PATH_MAX 128

struct pal_pool;
struct pal_worker;

struct pal_route {
    struct tern_pal_app *app;
    char path[ROUTE_PATH_MAX];
    size_t max_body;
    tern_pal_http_handler fn;
    void *arg;
    struct pal_pool *pool;             /* NULL: the handler runs on the loop */
};

enum pal_job_state {
    PAL_JOB_FREE = 0,
    PAL_JOB_WAITING,                   /* in the FIFO */
    PAL_JOB_ASSIGNED,                  /* a worker has it (running the handler) */
    PAL_JOB_DONE,                      /* the handler returned; the loop takes it next */
};

/* One request handed to a pool. */
struct pal_job {
    struct tern_list_node link;        /* the pool's free, waiting or done list */
    enum pal_job_state state;
    struct tern_http_conn *conn;       /* NULL once the client left */
    struct pal_route *route;
    uint8_t *buf;                      /* instance heap: body, path, query */
    struct tern_pal_http_request req;  /* points into buf and method */
    struct tern_pal_http_response resp;
    char method[16];
    int result;
    bool ran;                          /* the handler ran (not: the app ended first) */
    struct pal_worker *worker;
};

/* ---- pal_http_pool.c, called from pal_http.c (all on the loop) ---- */

/* A pool of `workers` threads of app with a FIFO of `queue` jobs, or a
 * PAL result: TERN_PAL_EINVAL (workers 0 or over 64, queue over 4096),
 * TERN_PAL_ENOSPC (over the thread budget, logged), TERN_PAL_ENOMEM. */
int pal_pool_create(struct tern_pal_app *app, uint32_t workers, uint32_t queue,
                    size_t stack_size, struct pal_pool **out);

/* Whether a request submitted now would be taken: TERN_PAL_OK (a worker
 * is idle or the FIFO has room), TERN_PAL_EBUSY, TERN_PAL_ECLOSED (the
 * app ended). */
int pal_pool_can_take(const struct pal_pool *p);

/* Hands the request to the pool: buf (instance heap) becomes the pool's,
 * req and method are copied (req's pointers must point into buf).
 * TERN_PAL_OK with *out; TERN_PAL_EBUSY (every worker busy, the FIFO
 * full) or TERN_PAL_ECLOSED (the app ended): nothing was taken. */
int pal_pool_submit(struct pal_pool *p, struct tern_http_conn *c, struct pal_route *rt,
                    uint8_t *buf, const struct tern_pal_http_request *req, const char *method,
                    struct pal_job **out);

/* The client of j left: j forgets its connection; a job still waiting is
 * released at once, a running one when its handler returns (its result
 * dropped). Counted in stats.route_dropped. */
void pal_pool_abandon(struct pal_job *j);

/* The app ended: idle workers end, waiting jobs are answered 503 (from
 * the loop), running handlers finish and are answered. */
void pal_pool_stop(struct pal_pool *p);

/* The app's PAL finishes (every job's connection already cut): jobs are
 * released, the pool is freed, or left to its last worker when workers
 * are still inside a handler (abandoned, as the PAL abandons threads). */
void pal_pool_finish(struct pal_pool *p);

/* ---- pal_http.c, called from the pool's deferred call (on the loop) ---- */

/* Answers j's connection (j->conn not NULL) with j's result: the
 * handler's response, a 500 for an error, a 503 when it never ran. */
void pal_route_complete(struct pal_job *j);

#endif
