/*
 * kv: a small HTTP key-value store kept on the data volume through the
 * PAL's files. Routes (on the OS's HTTP server):
 *
 *   GET    /kv/        {"keys":["a","b"]}
 *   GET    /kv/KEY     the value (404 when absent)
 *   PUT    /kv/KEY     stores the body (up to 64 KiB): 201 new, 200 replaced
 *   DELETE /kv/KEY     204, or 404
 *   GET    /healthz    "ok" once the store's folder is usable
 *
 * KEY is 1-64 of [A-Za-z0-9_-]. A PUT writes KEY.new, flushes it, then
 * renames it over KEY (the PAL's rename replaces atomically), so after a
 * crash a key holds its old or its new value, never a torn one; leftover
 * .new files are removed at start. The store's folder is /data/kv (the
 * manifest mounts the data volume read-write at /data).
 */
#include "tern_app.h"

#define DIR "/data/kv"
#define KEY_MAX 64
#define VALUE_MAX (64 * 1024)

struct kv {
    const struct tern_pal *pal;
    char path[96], tmp[100];
    char out[VALUE_MAX + 1];     /* a response body: handlers run one at a time */
};

static void text(struct tern_pal_http_response *resp, int status, const char *body)
{
    resp->status = status;
    resp->body = body;
    resp->body_len = strlen(body);
}

/* The key of /kv/KEY into kv->path ("/data/kv/KEY"); false when invalid. */
static bool key_path(struct kv *kv, const char *req_path)
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
    tern_snprintf(kv->path, sizeof kv->path, DIR "/%s", key);
    tern_snprintf(kv->tmp, sizeof kv->tmp, DIR "/%s.new", key);
    return true;
}

static int get_value(struct kv *kv, struct tern_pal_http_response *resp)
{
    const struct tern_pal *pal = kv->pal;
    tern_pal_handle h;
    int r = pal->file_open(pal->ctx, kv->path, TERN_PAL_O_READ, &h);
    if (r == TERN_PAL_ENOENT) {
        text(resp, 404, "no such key\n");
        return TERN_PAL_OK;
    }
    if (r != TERN_PAL_OK)
        return r;
    size_t len = 0, got = 1;
    while (r == TERN_PAL_OK && got && len < VALUE_MAX + 1) {
        r = pal->file_read(pal->ctx, h, kv->out + len, VALUE_MAX + 1 - len, &got);
        len += r == TERN_PAL_OK ? got : 0;
    }
    pal->file_close(pal->ctx, h);
    if (r != TERN_PAL_OK || len > VALUE_MAX)
        return TERN_PAL_EIO;
    resp->content_type = "application/octet-stream";
    resp->body = kv->out;
    resp->body_len = len;
    return TERN_PAL_OK;
}

/* Write-new, flush, rename over: the old or the new value after a crash. */
static int put_value(struct kv *kv, const struct tern_pal_http_request *req,
                     struct tern_pal_http_response *resp)
{
    const struct tern_pal *pal = kv->pal;
    struct tern_pal_stat st;
    bool existed = pal->file_stat(pal->ctx, kv->path, &st) == TERN_PAL_OK;
    tern_pal_handle h;
    int r = pal->file_open(pal->ctx, kv->tmp,
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
        r = pal->file_rename(pal->ctx, kv->tmp, kv->path);
    if (r != TERN_PAL_OK) {
        pal->file_unlink(pal->ctx, kv->tmp);
        if (r == TERN_PAL_ENOSPC) {
            text(resp, 507, "the data volume is full\n");
            return TERN_PAL_OK;
        }
        return r;
    }
    size_t n = tern_snprintf(kv->out, sizeof kv->out, "{\"key\":\"%s\",\"bytes\":%zu}\n",
                             kv->path + sizeof DIR, req->body_len);
    resp->status = existed ? 200 : 201;
    resp->content_type = "application/json";
    resp->body = kv->out;
    resp->body_len = n;
    return TERN_PAL_OK;
}

static int list_keys(struct kv *kv, struct tern_pal_http_response *resp)
{
    const struct tern_pal *pal = kv->pal;
    static struct tern_pal_dirent de;
    size_t n = tern_snprintf(kv->out, sizeof kv->out, "{\"keys\":[");
    bool first = true;
    for (uint32_t i = 0; pal->file_list(pal->ctx, DIR, i, &de) == TERN_PAL_OK; i++) {
        size_t nl = strlen(de.name);
        if (de.st.is_dir || (nl > 4 && strcmp(de.name + nl - 4, ".new") == 0))
            continue;
        if (n + nl + 8 > sizeof kv->out)
            return TERN_PAL_ENOSPC;
        n += tern_snprintf(kv->out + n, sizeof kv->out - n, "%s\"%s\"", first ? "" : ",",
                           de.name);
        first = false;
    }
    n += tern_snprintf(kv->out + n, sizeof kv->out - n, "]}\n");
    resp->content_type = "application/json";
    resp->body = kv->out;
    resp->body_len = n;
    return TERN_PAL_OK;
}

static int on_kv(void *arg, const struct tern_pal_http_request *req,
                 struct tern_pal_http_response *resp)
{
    struct kv *kv = arg;
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (strcmp(req->path, "/kv/") == 0 || strcmp(req->path, "/kv") == 0) {
        if (!get) {
            text(resp, 405, "method not allowed\n");
            return TERN_PAL_OK;
        }
        return list_keys(kv, resp);
    }
    if (!key_path(kv, req->path)) {
        text(resp, 400, "a key is 1-64 of A-Z a-z 0-9 _ -\n");
        return TERN_PAL_OK;
    }
    if (get)
        return get_value(kv, resp);
    if (strcmp(req->method, "PUT") == 0)
        return put_value(kv, req, resp);
    if (strcmp(req->method, "DELETE") == 0) {
        int r = kv->pal->file_unlink(kv->pal->ctx, kv->path);
        if (r == TERN_PAL_ENOENT)
            text(resp, 404, "no such key\n");
        else if (r == TERN_PAL_OK)
            text(resp, 204, "");
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

/* A PUT cut by a crash leaves KEY.new beside the intact KEY: remove it. */
static void drop_leftovers(struct kv *kv)
{
    const struct tern_pal *pal = kv->pal;
    static struct tern_pal_dirent de;
    uint32_t i = 0;
    while (pal->file_list(pal->ctx, DIR, i, &de) == TERN_PAL_OK) {
        size_t nl = strlen(de.name);
        if (!de.st.is_dir && nl > 4 && strcmp(de.name + nl - 4, ".new") == 0) {
            tern_snprintf(kv->tmp, sizeof kv->tmp, DIR "/%s", de.name);
            if (pal->file_unlink(pal->ctx, kv->tmp) == TERN_PAL_OK) {
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
    kv->pal = pal;
    int r = pal->file_mkdir(pal->ctx, DIR);
    if (r != TERN_PAL_OK && r != TERN_PAL_EEXIST) {
        tapp_logf(pal, TERN_PAL_LOG_ERROR, "cannot create %s: %d", DIR, r);
        return 1;
    }
    drop_leftovers(kv);
    r = pal->http_route(pal->ctx, "/kv/", 0, VALUE_MAX, on_kv, kv);
    if (r == TERN_PAL_OK)
        r = pal->http_route(pal->ctx, "/kv", 1, 0, on_kv, kv);
    if (r == TERN_PAL_OK)
        r = pal->http_route(pal->ctx, "/healthz", 1, 0, on_healthz, kv);
    if (r != TERN_PAL_OK) {
        tapp_logf(pal, TERN_PAL_LOG_ERROR, "cannot register routes: %d", r);
        return 1;
    }
    tapp_logf(pal, TERN_PAL_LOG_INFO, "store at %s", DIR);
    pal->ready(pal->ctx);
    tern_pal_handle never;
    if (pal->event_create(pal->ctx, &never) != TERN_PAL_OK)
        return 1;
    for (;;)
        pal->event_wait(pal->ctx, never, TERN_PAL_FOREVER);
}
