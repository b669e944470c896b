/*
 * Interface: the PAL's HTTP routes (include/tern/pal.h: http_route,
 * http_workers, http_route_threaded; pal_http_internal.h). An app's route
 * is one more entry of the OS server's route table, put in front of the
 * OS's own. The request body is buffered (up to the route's max_body,
 * from the instance heap); then a loop route's handler runs at once, on
 * the loop, and a threaded route's request goes to its pool
 * (pal_http_pool.c), where a worker thread runs the handler while the
 * connection waits (nothing polls). Either way the response is written
 * here, on the loop: at once, or copied and streamed as the connection
 * drains.
 *
 * A request the app still owes an answer (its body arriving, or at a
 * pool) is on app->route_reqs, so that the end of the app's PAL answers
 * it 503 and no connection keeps a pointer into a freed route.
 */
#include <string.h>

#include "pal_http_internal.h"

/* Per-request state, in the connection's scratch. */
struct route_req {
    struct tern_list_node link;      /* on app->route_reqs while the app owes the answer */
    struct tern_http_conn *conn;
    struct tern_os *os;
    struct pal_route *route;
    struct pal_job *job;             /* at a pool (threaded routes) */
    uint8_t *buf;                    /* instance heap: the request body (threaded: then
                                      * path and query), later the response's rest */
    size_t len, cap, out_off;
    bool has_body;
    char method[16];
};
_Static_assert(sizeof(struct route_req) <= TERN_HTTP_SCRATCH, "route state fits the scratch");

static const char text_plain[] = "text/plain; charset=utf-8";

/* The app no longer owes rq an answer: off the list, buffer freed. */
static void release(struct route_req *rq)
{
    tern_list_remove(&rq->link);
    tern_free(rq->os, rq->buf);
    rq->buf = NULL;
    rq->len = rq->cap = rq->out_off = 0;
    rq->job = NULL;
}

/* 503 with Retry-After: the app cannot take the request now. */
static void unavailable(struct tern_http_conn *c, struct route_req *rq, const char *msg)
{
    release(rq);
    size_t len = strlen(msg), w = 0;
    if (tern_http_resp_begin(c, 503) != TERN_OK ||
        tern_http_resp_header(c, "Retry-After", "1") != TERN_OK ||
        tern_http_resp_header(c, "Content-Type", text_plain) != TERN_OK ||
        tern_http_resp_body(c, (int64_t)len) != TERN_OK ||
        tern_http_resp_write(c, msg, len, &w) != TERN_OK || w != len)
        c->aborted = true;                   /* a broken response: drop it */
    tern_http_resp_end(c);
}

/* Every worker busy and the queue full: 503, counted; logged the first
 * time and then at each power of two. */
static void busy(struct tern_http_conn *c, struct route_req *rq)
{
    struct pal_route *rt = rq->route;
    uint64_t n = ++rt->app->stats.route_busy;
    if ((n & (n - 1)) == 0)
        tern_log(rq->os, TERN_LOG_WARN, rt->app->cfg.name,
                 "route %s: every worker busy and the queue full: 503 (%llu so far)", rt->path,
                 (unsigned long long)n);
    unavailable(c, rq, "busy: every worker is taken and the queue is full\n");
}

static void on_abort(struct tern_http_conn *c, void *arg)
{
    struct route_req *rq = arg;
    (void)c;
    if (rq->job)
        pal_pool_abandon(rq->job);           /* the pool drops its result */
    release(rq);
}

static void write_rest(struct tern_http_conn *c, void *arg)
{
    struct route_req *rq = arg;
    size_t w = 0;
    tern_http_resp_write(c, rq->buf + rq->out_off, rq->len - rq->out_off, &w);
    rq->out_off += w;
    if (rq->out_off < rq->len)
        return;                                  /* more when it drains again */
    tern_http_set_writable(c, NULL, NULL);
    release(rq);
    tern_http_resp_end(c);
}

/* Sends what the handler returned: the head and as much body as fits now;
 * the rest is copied and goes out from the writable callback. The request
 * buffer is freed last: resp->body may point into it (an echo). */
static void respond(struct tern_http_conn *c, struct route_req *rq,
                    const struct tern_pal_http_response *resp)
{
    uint8_t *req_buf = rq->buf;
    rq->buf = NULL;
    rq->len = rq->cap = rq->out_off = 0;
    int status = resp->status >= 100 && resp->status <= 599 ? resp->status : 500;
    const char *ctype = resp->content_type ? resp->content_type : text_plain;
    size_t len = resp->body ? resp->body_len : 0, w = 0;
    if (tern_http_resp_begin(c, status) != TERN_OK ||
        tern_http_resp_header(c, "Content-Type", ctype) != TERN_OK ||
        tern_http_resp_body(c, (int64_t)len) != TERN_OK) {
        tern_http_resp_simple(c, 500, text_plain, "bad response\n", 13);
        goto done;
    }
    tern_http_resp_write(c, resp->body, len, &w);
    if (w == len) {
        tern_http_resp_end(c);
        goto done;
    }
    rq->buf = tern_alloc(rq->os, len - w);
    if (rq->buf == NULL) {
        tern_log(rq->os, TERN_LOG_WARN, rq->route->app->cfg.name,
                 "no memory to hold a %zu-byte response: connection cut", len);
        c->aborted = true;
        tern_http_resp_end(c);
        goto done;
    }
    memcpy(rq->buf, (const uint8_t *)resp->body + w, len - w);
    rq->len = len - w;
    tern_http_set_writable(c, write_rest, rq);
    tern_http_resp_flush(c);                 /* answered late (a worker's): send it now */
done:
    tern_free(rq->os, req_buf);
}

/* The handler returned r with *resp: answer it (a 500 for an error). */
static void answer(struct tern_http_conn *c, struct route_req *rq, int r,
                   const struct tern_pal_http_response *resp)
{
    tern_list_remove(&rq->link);
    rq->job = NULL;
    if (r != TERN_PAL_OK) {
        rq->route->app->stats.route_errors++;
        release(rq);
        static const char msg[] = "the app could not answer\n";
        tern_http_resp_simple(c, 500, text_plain, msg, sizeof msg - 1);
        return;
    }
    respond(c, rq, resp);
}

static void run_on_loop(struct tern_http_conn *c, struct route_req *rq)
{
    struct pal_route *rt = rq->route;
    struct tern_pal_app *app = rt->app;
    struct tern_pal_http_request preq = {
        .method = rq->method, .path = c->req.path, .query = c->req.query,
        .body = rq->buf, .body_len = rq->len,
    };
    struct tern_pal_http_response resp = { .status = 200 };
    app->stats.route_requests++;
    int r = app->exited ? TERN_PAL_ECLOSED : rt->fn(rt->arg, &preq, &resp);
    answer(c, rq, r, &resp);
}

/* To the route's pool; the connection then waits for pal_route_complete. */
static void submit(struct tern_http_conn *c, struct route_req *rq)
{
    struct pal_route *rt = rq->route;
    const char *path = (const char *)rq->buf + rq->cap;
    struct tern_pal_http_request preq = {
        .path = path, .query = path + strlen(path) + 1,
        .body = rq->has_body ? rq->buf : NULL, .body_len = rq->len,
    };
    struct pal_job *job;
    int r = pal_pool_submit(rt->pool, c, rt, rq->buf, &preq, rq->method, &job);
    if (r == TERN_PAL_OK) {
        rq->buf = NULL;                          /* the pool's now */
        rq->job = job;
    } else if (r == TERN_PAL_EBUSY) {
        busy(c, rq);
    } else {
        unavailable(c, rq, "the app has ended\n");
    }
}

/* The whole request is in hand. */
static void request_done(struct tern_http_conn *c, struct route_req *rq)
{
    if (rq->route->pool)
        submit(c, rq);
    else
        run_on_loop(c, rq);
}

void pal_route_complete(struct pal_job *j)
{
    struct tern_http_conn *c = j->conn;
    struct route_req *rq = tern_http_scratch(c);
    j->conn = NULL;
    if (!j->ran)
        unavailable(c, rq, "the app has ended\n");
    else
        answer(c, rq, j->result, &j->resp);
}

static size_t on_body(struct tern_http_conn *c, const uint8_t *data, size_t len, void *arg)
{
    struct route_req *rq = arg;
    if (data == NULL) {
        request_done(c, rq);
        return 0;
    }
    if (rq->buf == NULL)
        return len;                              /* refused already: discard */
    if (len > rq->cap - rq->len) {               /* a chunked body past max_body */
        release(rq);
        static const char msg[] = "request body too large for this route\n";
        tern_http_resp_simple(c, 413, text_plain, msg, sizeof msg - 1);
        return len;
    }
    memcpy(rq->buf + rq->len, data, len);
    rq->len += len;
    return len;
}

/* The request's buffer: the body (cap bytes) and, for a threaded route,
 * its path and query after it. False (answered) when refused. */
static bool take_buffer(struct tern_http_conn *c, const struct tern_http_request *req,
                        struct route_req *rq, size_t cap)
{
    size_t pl = strlen(req->path), ql = strlen(req->query);
    size_t extra = rq->route->pool ? pl + ql + 2 : 0;
    rq->buf = cap <= SIZE_MAX - extra - 1 ? tern_alloc(rq->os, cap + extra + 1) : NULL;
    if (rq->buf == NULL) {
        unavailable(c, rq, "no memory for the request\n");
        return false;
    }
    rq->cap = cap;
    if (extra) {
        memcpy(rq->buf + cap, req->path, pl + 1);
        memcpy(rq->buf + cap + pl + 1, req->query, ql + 1);
    }
    tern_list_push_back(&rq->route->app->route_reqs, &rq->link);
    tern_http_set_on_abort(c, on_abort, rq);
    return true;
}

static void route_handler(struct tern_http_conn *c, const struct tern_http_request *req,
                          void *arg)
{
    struct pal_route *rt = arg;
    struct route_req *rq = tern_http_scratch(c);
    const struct tern_http_parser *p = req->parser;
    tern_list_node_init(&rq->link);
    rq->conn = c;
    rq->os = rt->app->os;
    rq->route = rt;
    size_t ml = req->method_len < sizeof rq->method ? req->method_len : sizeof rq->method - 1;
    memcpy(rq->method, req->method_str, ml);
    rq->method[ml] = '\0';
    int admit = rt->pool ? pal_pool_can_take(rt->pool) : TERN_PAL_OK;
    if (admit != TERN_PAL_OK) {                  /* refused before a byte of body */
        if (admit == TERN_PAL_EBUSY)
            busy(c, rq);
        else
            unavailable(c, rq, "the app has ended\n");
        return;
    }
    rq->has_body = p->chunked || (p->has_length && p->content_length > 0);
    if (!rq->has_body && rt->pool == NULL) {
        run_on_loop(c, rq);
        return;
    }
    /* A chunked body's size is known only at its end: it may take up to
     * max_body; a Content-Length over max_body is refused before a byte. */
    if (rq->has_body && !p->chunked && p->content_length > rt->max_body) {
        static const char msg[] = "request body too large for this route\n";
        tern_http_resp_simple(c, 413, text_plain, msg, sizeof msg - 1);
        return;
    }
    size_t cap = !rq->has_body ? 0 : p->chunked ? rt->max_body : (size_t)p->content_length;
    if (!take_buffer(c, req, rq, cap))
        return;
    if (rq->has_body)
        tern_http_set_on_body(c, on_body, rq);
    else
        request_done(c, rq);
}

/* ---- registration ---- */

static int add_route(struct tern_pal_app *app, const char *path, int exact, size_t max_body,
                     tern_pal_http_handler fn, void *arg, struct pal_pool *pool)
{
    struct tern_pal_config *cfg = &app->cfg;
    if (path == NULL || path[0] != '/' || strlen(path) >= ROUTE_PATH_MAX || fn == NULL)
        return TERN_PAL_EINVAL;
    if (cfg->http == NULL)
        return TERN_PAL_ENOENT;
    if (app->nroutes >= TERN_PAL_MAX_ROUTES || cfg->nroutes + app->nroutes >= cfg->routes_cap)
        return TERN_PAL_ENOSPC;
    if (app->routes == NULL) {
        app->routes = tern_calloc(app->os, TERN_PAL_MAX_ROUTES, sizeof *app->routes);
        if (app->routes == NULL)
            return TERN_PAL_ENOMEM;
    }
    struct pal_route *rt = &app->routes[app->nroutes];
    *rt = (struct pal_route){ .app = app, .max_body = max_body, .fn = fn, .arg = arg,
                              .pool = pool };
    memcpy(rt->path, path, strlen(path) + 1);
    /* The app's routes go in front of the OS's: shift those one down. */
    size_t total = cfg->nroutes + app->nroutes;
    memmove(&cfg->routes[app->nroutes + 1], &cfg->routes[app->nroutes],
            cfg->nroutes * sizeof *cfg->routes);
    cfg->routes[app->nroutes] = (struct tern_http_route){
        .prefix = rt->path, .exact = exact != 0, .fn = route_handler, .arg = rt,
    };
    app->nroutes++;
    cfg->http->nroutes = total + 1;
    if (app->nroutes == 1)
        pal_note_bind(app, "http", cfg->http_port);
    tern_log(app->os, TERN_LOG_INFO, cfg->name, "route %s%s%s", path, exact ? "" : " (prefix)",
             pool ? " (threaded)" : "");
    return TERN_PAL_OK;
}

static int pal_http_route(void *ctx, const char *path, int exact, size_t max_body,
                          tern_pal_http_handler fn, void *arg)
{
    return add_route(pal_app(ctx), path, exact, max_body, fn, arg, NULL);
}

static int pal_http_route_threaded(void *ctx, const char *path, int exact, size_t max_body,
                                   tern_pal_http_handler fn, void *arg, tern_pal_handle pool)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct pal_pool *p = pal_handle_get(app, pool, PAL_H_HTTP_POOL);
    if (p == NULL)
        return TERN_PAL_EINVAL;
    return add_route(app, path, exact, max_body, fn, arg, p);
}

static int pal_http_workers(void *ctx, uint32_t workers, uint32_t queue, size_t stack_size,
                            tern_pal_handle *out)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (out == NULL)
        return TERN_PAL_EINVAL;
    if (app->cfg.http == NULL)
        return TERN_PAL_ENOENT;
    tern_pal_handle h = pal_handle_new(app, PAL_H_HTTP_POOL, NULL);
    if (h < 0)
        return TERN_PAL_ENOMEM;
    struct pal_pool *p;
    int r = pal_pool_create(app, workers, queue, stack_size, &p);
    if (r != TERN_PAL_OK) {
        pal_handle_release(app, h);
        return r;
    }
    app->handles[h].obj = p;
    tern_log(app->os, TERN_LOG_INFO, app->cfg.name, "http workers: %u, queue %u", workers,
             queue);
    *out = h;
    return TERN_PAL_OK;
}

void pal_fill_http(struct tern_pal *t)
{
    t->http_route = pal_http_route;
    t->http_workers = pal_http_workers;
    t->http_route_threaded = pal_http_route_threaded;
}

void pal_http_app_ended(struct tern_pal_app *app)
{
    if (app->handles == NULL)
        return;
    for (tern_pal_handle h = 0; h < TERN_PAL_MAX_HANDLES; h++) {
        struct pal_pool *p = pal_handle_get(app, h, PAL_H_HTTP_POOL);
        if (p)
            pal_pool_stop(p);
    }
}

/* The app's routes leave the server's table (the OS's stay) first, so
 * nothing new reaches the app; then every request it still owes is
 * answered 503 and cut from the app; then the pools go. */
void pal_http_finish(struct tern_pal_app *app)
{
    struct tern_pal_config *cfg = &app->cfg;
    if (app->nroutes && cfg->http) {
        memmove(&cfg->routes[0], &cfg->routes[app->nroutes], cfg->nroutes * sizeof *cfg->routes);
        cfg->http->nroutes = cfg->nroutes;
    }
    struct tern_list_node *n;
    while ((n = tern_list_pop_front(&app->route_reqs)) != NULL) {
        struct route_req *rq = TERN_CONTAINER_OF(n, struct route_req, link);
        struct tern_http_conn *c = rq->conn;
        tern_http_set_on_body(c, NULL, NULL);
        tern_http_set_on_abort(c, NULL, NULL);
        if (rq->job)
            rq->job->conn = NULL;
        if (c->resp_started)
            release(rq);
        else
            unavailable(c, rq, "the app has ended\n");
    }
    for (tern_pal_handle h = 0; h < TERN_PAL_MAX_HANDLES; h++) {
        struct pal_pool *p = pal_handle_get(app, h, PAL_H_HTTP_POOL);
        if (p) {
            pal_pool_finish(p);
            pal_handle_release(app, h);
        }
    }
    tern_free(app->os, app->routes);
    app->routes = NULL;
    app->nroutes = 0;
}
