/*
 * kv: a small HTTP key-value store kept on the data volume through the
 * PAL's files. Routes (on the OS's HTTP server):
 *
 *   GET    /kv/        {"keys":["a","b"]}
 *   GET    /kv/KEY     the value (404 when absent)
 *   GET    /kv/KEY?wait=S   waits up to S seconds (1-60) for the next PUT
 *                      or DELETE of KEY, then answers as GET (a watch;
 *                      at most WORKERS/2 at once, else 503)
 *   PUT    /kv/KEY     stores the body (up to 64 KiB): 201 new, 200 replaced
 *   DELETE /kv/KEY     204, or 404
 *   GET    /healthz    "ok" once the store's folder is usable
 *
 * The /kv routes are threaded (the PAL's http_route_threaded): WORKERS
 * threads serve them, a request waiting in a queue of QUEUE for a free
 * one (more: 503 from the OS), so a handler may block (a watch) while
 * the others go on. /healthz stays on the loop. Each worker has its own
 * paths and response buffer (indexed by req->worker).
 *
 * KEY is 1-64 of [A-Za-z0-9_-]. A PUT writes KEY.W.new (W: the worker,
 * so concurrent PUTs of one key never share a file), flushes it, then
 * renames it over KEY (the PAL's rename replaces atomically), so after a
 * crash a key holds its old or its new value, never a torn one; leftover
 * .new files are removed at start. The store's folder is /data/kv (the
 * manifest mounts the data volume read-write at /data).
 */
#include "tern_app.h"

#define DIR "/data/kv"
#define KEY_MAX 64
#define VALUE_MAX (64 * 1024)
#define WORKERS 8
#define QUEUE 256
#define WAIT_MAX_S 60

/* One worker's state: only its own handler touches it. */
struct kv_worker {
    char key[KEY_MAX + 1];
    char path[96], tmp[112];
    bool watching, changed;      /* a watch of key is on; a PUT/DELETE of it came */
    char out[VALUE_MAX + 1];     /* the response body (the OS copies it) */
};

struct kv {
    const struct tern_pal *pal;
    tern_pal_handle change;      /* signalled when a watched key changes */
    unsigned watches;
    struct kv_worker w[WORKERS];
};

static void text(struct tern_pal_http_response *resp, int status, const char *body)
{
    resp->status = status;
    resp->body = body;
    resp->body_len = strlen(body);
}

/* The key of /kv/KEY into w->key, w->path ("/data/kv/KEY") and w->tmp;
 * false when invalid. */
static bool key_path(struct kv_worker *w, uint32_t index, const char *req_path)
{
    const char *key = req_path + 4;
    size_t n = strlen(key);
    if (n == 0 || n > KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    memcpy(w->key, key, n + 1);
    tern_snprintf(w->path, sizeof w->path, DIR "/%s", key);
    tern_snprintf(w->tmp, sizeof w->tmp, DIR "/%s.%u.new", key, (unsigned)index);
    return true;
}

static int get_value(struct kv *kv, struct kv_worker *w, struct tern_pal_http_response *resp)
{
    const struct tern_pal *pal = kv->pal;
    tern_pal_handle h;
    int r = pal->file_open(pal->ctx, w->path, TERN_PAL_O_READ, &h);
    if (r == TERN_PAL_ENOENT) {
        text(resp, 404, "no such key\n");
        return TERN_PAL_OK;
    }
    if (r != TERN_PAL_OK)
        return r;
    size_t len = 0, got = 1;
    while (r == TERN_PAL_OK && got && len < VALUE_MAX + 1) {
        r = pal->file_read(pal->ctx, h, w->out + len, VALUE_MAX + 1 - len, &got);
        len += r == TERN_PAL_OK ? got : 0;
    }
    pal->file_close(pal->ctx, h);
    if (r != TERN_PAL_OK || len > VALUE_MAX)
        return TERN_PAL_EIO;
    resp->content_type = "application/octet-stream";
    resp->body = w->out;
    resp->body_len = len;
    return TERN_PAL_OK;
}

/* Wakes the watches of w->key (a PUT or DELETE of it succeeded). */
static void changed(struct kv *kv, const struct kv_worker *w)
{
    bool any = false;
    for (unsigned i = 0; i < WORKERS; i++) {
        struct kv_worker *o = &kv->w[i];
        if (o->watching && strcmp(o->key, w->key) == 0) {
            o->changed = true;
            any = true;
        }
    }
    if (any)
        kv->pal->event_signal(kv->pal->ctx, kv->change);
}

/* GET /kv/KEY?wait=S: blocks this worker until KEY changes or S seconds
 * pass, then answers as GET. */
static int watch(struct kv *kv, struct kv_worker *w, const char *query,
                 struct tern_pal_http_response *resp)
{
    const struct tern_pal *pal = kv->pal;
    int64_t s = tapp_parse_u64(query + 5, strlen(query + 5));
    if (s < 1 || s > WAIT_MAX_S) {
        text(resp, 400, "wait is 1-60 seconds\n");
        return TERN_PAL_OK;
    }
    if (kv->watches >= WORKERS / 2) {            /* keep workers for the rest */
        text(resp, 503, "too many watches\n");
        return TERN_PAL_OK;
    }
    kv->watches++;
    tapp_logf(pal, TERN_PAL_LOG_INFO, "watch %s for %d s (%u of %u)", w->key, (int)s,
              kv->watches, WORKERS / 2);
    w->watching = true;
    w->changed = false;
    uint64_t deadline = pal->monotonic_ns(pal->ctx) + (uint64_t)s * 1000000000u;
    while (!w->changed && pal->event_wait(pal->ctx, kv->change, deadline) == TERN_PAL_OK)
        ;                        /* another key's change woke it: wait on */
    w->watching = false;
    kv->watches--;
    return get_value(kv, w, resp);
}

/* Write-new, flush, rename over: the old or the new value after a crash. */
static int put_value(struct kv *kv, struct kv_worker *w, const struct tern_pal_http_request *req,
                     struct tern_pal_http_response *resp)
{
    const struct tern_pal *pal = kv->pal;
    struct tern_pal_stat st;
    bool existed = pal->file_stat(pal->ctx, w->path, &st) == TERN_PAL_OK;
    tern_pal_handle h;
    int r = pal->file_open(pal->ctx, w->tmp,
                           TERN_PAL_O_WRITE | TERN_PAL_O_CREATE | TERN_PAL_O_TRUNC, &h);
    if (r != TERN_PAL_OK)
        return r;
    if (req->body_len)
        r = pal->file_write(pal->ctx, h, req->body, req->body_len);
    if (r == TERN_PAL_OK)
        r = pal->file_flush(pal->ctx, h);
    int rc = pal->file_close(pal->ctx, h);
    if (r == TERN_PAL_OK)
        r = rc;
    if (r == TERN_PAL_OK)
        r = pal->file_rename(pal->ctx, w->tmp, w->path);
    if (r != TERN_PAL_OK) {
        pal->file_unlink(pal->ctx, w->tmp);
        if (r == TERN_PAL_ENOSPC) {
            text(resp, 507, "the data volume is full\n");
            return TERN_PAL_OK;
        }
        return r;
    }
    changed(kv, w);
    size_t n = tern_snprintf(w->out, sizeof w->out, "{\"key\":\"%s\",\"bytes\":%zu}\n",
                             w->key, req->body_len);
    resp->status = existed ? 200 : 201;
    resp->content_type = "application/json";
    resp->body = w->out;
    resp->body_len = n;
    return TERN_PAL_OK;
}

static int list_keys(struct kv *kv, struct kv_worker *w, struct tern_pal_http_response *resp)
{
    const struct tern_pal *pal = kv->pal;
    struct tern_pal_dirent de;
    size_t n = tern_snprintf(w->out, sizeof w->out, "{\"keys\":[");
    bool first = true;
    for (uint32_t i = 0; pal->file_list(pal->ctx, DIR, i, &de) == TERN_PAL_OK; i++) {
        size_t nl = strlen(de.name);
        if (de.st.is_dir || (nl > 4 && strcmp(de.name + nl - 4, ".new") == 0))
            continue;
        if (n + nl + 8 > sizeof w->out)
            return TERN_PAL_ENOSPC;
        n += tern_snprintf(w->out + n, sizeof w->out - n, "%s\"%s\"", first ? "" : ",",
                           de.name);
        first = false;
    }
    n += tern_snprintf(w->out + n, sizeof w->out - n, "]}\n");
    resp->content_type = "application/json";
    resp->body = w->out;
    resp->body_len = n;
    return TERN_PAL_OK;
}

static int on_kv(void *arg, const struct tern_pal_http_request *req,
                 struct tern_pal_http_response *resp)
{
    struct kv *kv = arg;
    if (req->worker >= WORKERS)
        return TERN_PAL_EINVAL;
    struct kv_worker *w = &kv->w[req->worker];
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (strcmp(req->path, "/kv/") == 0 || strcmp(req->path, "/kv") == 0) {
        if (!get) {
            text(resp, 405, "method not allowed\n");
            return TERN_PAL_OK;
        }
        return list_keys(kv, w, resp);
    }
    if (!key_path(w, req->worker, req->path)) {
        text(resp, 400, "a key is 1-64 of A-Z a-z 0-9 _ -\n");
        return TERN_PAL_OK;
    }
    if (get)
        return strncmp(req->query, "wait=", 5) == 0 ? watch(kv, w, req->query, resp)
                                                    : get_value(kv, w, resp);
    if (strcmp(req->method, "PUT") == 0)
        return put_value(kv, w, req, resp);
    if (strcmp(req->method, "DELETE") == 0) {
        int r = kv->pal->file_unlink(kv->pal->ctx, w->path);
        if (r == TERN_PAL_ENOENT)
            text(resp, 404, "no such key\n");
        else if (r == TERN_PAL_OK)
            text(resp, 204, "");
        if (r == TERN_PAL_OK)
            changed(kv, w);
        return r == TERN_PAL_ENOENT ? TERN_PAL_OK : r;
    }
    text(resp, 405, "method not allowed\n");
    return TERN_PAL_OK;
}

static int on_healthz(void *arg, const struct tern_pal_http_request *req,
                      struct tern_pal_http_response *resp)
{
    struct kv *kv = arg;
    (void)req;
    struct tern_pal_stat st;
    if (kv->pal->file_stat(kv->pal->ctx, DIR, &st) != TERN_PAL_OK || !st.is_dir) {
        text(resp, 503, "store unavailable\n");
        return TERN_PAL_OK;
    }
    text(resp, 200, "ok");
    return TERN_PAL_OK;
}

/* A PUT cut by a crash leaves KEY.W.new beside the intact KEY: remove it. */
static void drop_leftovers(struct kv *kv)
{
    const struct tern_pal *pal = kv->pal;
    static struct tern_pal_dirent de;
    char *tmp = kv->w[0].tmp;
    uint32_t i = 0;
    while (pal->file_list(pal->ctx, DIR, i, &de) == TERN_PAL_OK) {
        size_t nl = strlen(de.name);
        if (!de.st.is_dir && nl > 4 && strcmp(de.name + nl - 4, ".new") == 0) {
            tern_snprintf(tmp, sizeof kv->w[0].tmp, DIR "/%s", de.name);
            if (pal->file_unlink(pal->ctx, tmp) == TERN_PAL_OK) {
                tapp_logf(pal, TERN_PAL_LOG_WARN, "removed %s left by an interrupted write",
                          de.name);
                continue;                    /* the listing moved up by one */
            }
        }
        i++;
    }
}

int tern_app_main(const struct tern_pal *pal, const struct tern_app_start *start)
{
    (void)start;
    struct kv *kv = pal->alloc(pal->ctx, sizeof *kv);
    if (kv == NULL) {
        tapp_logf(pal, TERN_PAL_LOG_ERROR, "no memory for the store");
        return 1;
    }
    memset(kv, 0, sizeof *kv);
    kv->pal = pal;
    int r = pal->event_create(pal->ctx, &kv->change);
    if (r != TERN_PAL_OK) {
        tapp_logf(pal, TERN_PAL_LOG_ERROR, "no event for watches: %d", r);
        return 1;
    }
    r = pal->file_mkdir(pal->ctx, DIR);
    if (r != TERN_PAL_OK && r != TERN_PAL_EEXIST) {
        tapp_logf(pal, TERN_PAL_LOG_ERROR, "cannot create %s: %d", DIR, r);
        return 1;
    }
    drop_leftovers(kv);
    /* The OS's loader ran this app only on a PAL of 1.1 or later (its ABI
     * note), so the threaded routes are there. */
    tern_pal_handle workers;
    r = pal->http_workers(pal->ctx, WORKERS, QUEUE, 0, &workers);
    if (r != TERN_PAL_OK) {
        tapp_logf(pal, TERN_PAL_LOG_ERROR, "cannot start %u workers: %d", WORKERS, r);
        return 1;
    }
    r = pal->http_route_threaded(pal->ctx, "/kv/", 0, VALUE_MAX, on_kv, kv, workers);
    if (r == TERN_PAL_OK)
        r = pal->http_route_threaded(pal->ctx, "/kv", 1, 0, on_kv, kv, workers);
    if (r == TERN_PAL_OK)
        r = pal->http_route(pal->ctx, "/healthz", 1, 0, on_healthz, kv);
    if (r != TERN_PAL_OK) {
        tapp_logf(pal, TERN_PAL_LOG_ERROR, "cannot register routes: %d", r);
        return 1;
    }
    tapp_logf(pal, TERN_PAL_LOG_INFO, "store at %s, %u workers", DIR, WORKERS);
    pal->ready(pal->ctx);
    tern_pal_handle never;
    if (pal->event_create(pal->ctx, &never) != TERN_PAL_OK)
        return 1;
    for (;;)
        pal->event_wait(pal->ctx, never, TERN_PAL_FOREVER);
}
