/*
 * hello: the smallest Tern app. GET /hello answers the greeting from the
 * manifest's env (GREETING), GET /healthz answers "ok"; both are routes
 * on the OS's HTTP server (the PAL's fast path).
 */
#include "tern_app.h"

struct hello {
    char greeting[256];
    size_t len;
};

static int on_hello(void *arg, const struct tern_pal_http_request *req,
                   struct tern_pal_http_response *resp)
{
    struct hello *h = arg;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        resp->status = 405;
        resp->body = "method not allowed\n";
        resp->body_len = 19;
        return TERN_PAL_OK;
    }
    resp->body = h->greeting;
    resp->body_len = h->len;
    return TERN_PAL_OK;
}

static int on_healthz(void *arg, const struct tern_pal_http_request *req,
                      struct tern_pal_http_response *resp)
{
    (void)arg;
    (void)req;
    resp->body = "ok";
    resp->body_len = 2;
    return TERN_PAL_OK;
}

int tern_app_main(const struct tern_pal *pal, const struct tern_app_start *start)
{
    static struct hello h;
    size_t n = 0;
    if (pal->getenv(pal->ctx, "GREETING", h.greeting, sizeof h.greeting - 1, &n) != TERN_PAL_OK)
        n = tern_snprintf(h.greeting, sizeof h.greeting - 1, "Hello from %s", start->name);
    if (n > sizeof h.greeting - 2)
        n = sizeof h.greeting - 2;
    h.greeting[n++] = '\n';
    h.len = n;
    int r = pal->http_route(pal->ctx, "/hello", 1, 0, on_hello, &h);
    if (r == TERN_PAL_OK)
        r = pal->http_route(pal->ctx, "/healthz", 1, 0, on_healthz, &h);
    if (r != TERN_PAL_OK) {
        tapp_logf(pal, TERN_PAL_LOG_ERROR, "cannot register routes: %d", r);
        return 1;
    }
    tapp_logf(pal, TERN_PAL_LOG_INFO, "serving: %.*s", (int)(h.len - 1), h.greeting);
    pal->ready(pal->ctx);
    /* The routes do the work; main stays (returning would end the app). */
    tern_pal_handle never;
    if (pal->event_create(pal->ctx, &never) != TERN_PAL_OK)
        return 1;
    for (;;)
        pal->event_wait(pal->ctx, never, TERN_PAL_FOREVER);
}
