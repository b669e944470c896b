/*
 * Interface: the PAL's HTTP routes (see include/tern/pal.h, http_route).
 * An app's route is one more entry of the OS server's route table, put in
 * front of the OS's own; the request body is buffered (up to the route's
 * max_body, from the instance heap) and the app's handler runs once, on
 * the loop, with the whole request. Its response is written at once, or
 * copied and streamed as the connection drains.
 */
#include <string.h>

#include "pal_internal.h"
#include "tern/http.h"

#define ROUTE_PATH_MAX 128

struct pal_route {
    struct tern_pal_app *app;
    char path[ROUTE_PATH_MAX];
    size_t max_body;
    tern_pal_http_handler fn;
    void *arg;
};

/* Per-request state, in the connection's scratch. */
struct route_req {
    struct pal_route *route;
    uint8_t *body;               /* instance heap: the request body, then the response's rest */
    size_t len, cap;
    size_t out_off;              /* response bytes of body already written */
    char method[16];
};
_Static_assert(sizeof(struct route_req) <= TERN_HTTP_SCRATCH, "route state fits the scratch");

static void drop_buffer(struct tern_http_conn *c, struct route_req *rq)
{
    tern_free(rq->route->app->os, rq->body);
    rq->body = NULL;
    rq->len = rq->cap = rq->out_off = 0;
}

static void on_abort(struct tern_http_conn *c, void *arg)
{
    drop_buffer(c, arg);
}

static void write_rest(struct tern_http_conn *c, void *arg)
{
    struct route_req *rq = arg;
    size_t w = 0;
    tern_http_resp_write(c, rq->body + rq->out_off, rq->len - rq->out_off, &w);
    rq->out_off += w;
    if (rq->out_off < rq->len)
        return;                                  /* more when it drains again */
    tern_http_set_writable(c, NULL, NULL);
    drop_buffer(c, rq);
    tern_http_resp_end(c);
}

/* Sends what the app returned: the head and as much body as fits now;
 * the rest is copied and goes out from the writable callback. */
static void respond(struct tern_http_conn *c, struct route_req *rq,
                    const struct tern_pal_http_response *resp)
{
    struct tern_os *os = rq->route->app->os;
    int status = resp->status >= 100 && resp->status <= 599 ? resp->status : 500;
    const char *ctype = resp->content_type ? resp->content_type : "text/plain; charset=utf-8";
    size_t len = resp->body ? resp->body_len : 0;
    if (tern_http_resp_begin(c, status) != TERN_OK ||
        tern_http_resp_header(c, "Content-Type", ctype) != TERN_OK ||
        tern_http_resp_body(c, (int64_t)len) != TERN_OK) {
        tern_http_resp_simple(c, 500, "text/plain; charset=utf-8", "bad response\n", 13);
        return;
    }
    size_t w = 0;
    tern_http_resp_write(c, resp->body, len, &w);
    if (w == len) {
        tern_http_resp_end(c);
        return;
    }
    drop_buffer(c, rq);
    rq->body = tern_alloc(os, len - w);
    if (rq->body == NULL) {
        tern_log(os, TERN_LOG_WARN, rq->route->app->cfg.name,
                 "no memory to hold a %zu-byte response: connection cut", len);
        c->aborted = true;
        tern_http_resp_end(c);
        return;
    }
    memcpy(rq->body, (const uint8_t *)resp->body + w, len - w);
    rq->len = len - w;
    rq->out_off = 0;
    tern_http_set_writable(c, write_rest, rq);
}

static void run_handler(struct tern_http_conn *c, const struct tern_http_request *req,
                        struct route_req *rq)
{
    struct pal_route *rt = rq->route;
    struct tern_pal_app *app = rt->app;
    struct tern_pal_http_request preq = {
        .method = rq->method, .path = req->path, .query = req->query,
        .body = rq->body, .body_len = rq->len,
    };
    struct tern_pal_http_response resp = { .status = 200 };
    app->stats.route_requests++;
    int r = app->exited ? TERN_PAL_ECLOSED : rt->fn(rt->arg, &preq, &resp);
    drop_buffer(c, rq);
    if (r != TERN_PAL_OK) {
        app->stats.route_errors++;
        static const char msg[] = "the app could not answer\n";
        tern_http_resp_simple(c, 500, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    respond(c, rq, &resp);
}

static size_t on_body(struct tern_http_conn *c, const uint8_t *data, size_t len, void *arg)
{
    struct route_req *rq = arg;
    if (data == NULL) {
        run_handler(c, &c->req, rq);
        return 0;
    }
    if (rq->body == NULL)
        return len;                              /* refused already: discard */
    if (len > rq->cap - rq->len) {               /* a chunked body past max_body */
        drop_buffer(c, rq);
        static const char msg[] = "request body too large for this route\n";
        tern_http_resp_simple(c, 413, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return len;
    }
    memcpy(rq->body + rq->len, data, len);
    rq->len += len;
    return len;
}

static void route_handler(struct tern_http_conn *c, const struct tern_http_request *req,
                          void *arg)
{
    struct pal_route *rt = arg;
    struct route_req *rq = tern_http_scratch(c);
    const struct tern_http_parser *p = req->parser;
    rq->route = rt;
    size_t ml = req->method_len < sizeof rq->method ? req->method_len : sizeof rq->method - 1;
    memcpy(rq->method, req->method_str, ml);
    rq->method[ml] = '\0';
    bool has_body = p->chunked || (p->has_length && p->content_length > 0);
    if (!has_body) {
        run_handler(c, req, rq);
        return;
    }
    /* A chunked body's size is known only at its end: it may take up to
     * max_body; a Content-Length over max_body is refused before a byte. */
    size_t cap = p->chunked ? rt->max_body : (size_t)p->content_length;
    if (!p->chunked && p->content_length > rt->max_body) {
        static const char msg[] = "request body too large for this route\n";
        tern_http_resp_simple(c, 413, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    rq->body = tern_alloc(rt->app->os, cap ? cap : 1);
    rq->cap = cap;
    if (rq->body == NULL) {
        static const char msg[] = "no memory for the request body\n";
        tern_http_resp_simple(c, 503, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    tern_http_set_on_abort(c, on_abort, rq);
    tern_http_set_on_body(c, on_body, rq);
}

static int pal_http_route(void *ctx, const char *path, int exact, size_t max_body,
                          tern_pal_http_handler fn, void *arg)
{
    struct tern_pal_app *app = pal_app(ctx);
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
    *rt = (struct pal_route){ .app = app, .max_body = max_body, .fn = fn, .arg = arg };
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
    tern_log(app->os, TERN_LOG_INFO, cfg->name, "route %s%s", path, exact ? "" : " (prefix)");
    return TERN_PAL_OK;
}

void pal_fill_http(struct tern_pal *t)
{
    t->http_route = pal_http_route;
}

/* The app's routes leave the server's table (the OS's stay). */
void pal_http_finish(struct tern_pal_app *app)
{
    struct tern_pal_config *cfg = &app->cfg;
    if (app->nroutes && cfg->http) {
        memmove(&cfg->routes[0], &cfg->routes[app->nroutes], cfg->nroutes * sizeof *cfg->routes);
        cfg->http->nroutes = cfg->nroutes;
    }
    tern_free(app->os, app->routes);
    app->routes = NULL;
    app->nroutes = 0;
}
