/*
 * Interface: see include/tern/http.h (Built-in service).
 *
 * GET /healthz -> "ok"; GET /status -> JSON with a strict CSP; anything
 * else -> a static file from the file source, streamed in pieces as the
 * output buffer drains. Conditional GET: If-None-Match (weak comparison)
 * wins over If-Modified-Since (RFC 9110 section 13.2.2). Range: one
 * "bytes=" range is served as 206; a multi-range request is answered with
 * the whole file as 200, which RFC 9110 section 14.2 allows (a server may
 * ignore Range); an invalid Range field is ignored; an unsatisfiable one
 * gets 416. If-Range is honoured for an exact strong ETag or date match.
 */
#include <string.h>

#include "tern/fmt.h"
#include "tern/http.h"
#include "tern/os.h"

/* File bytes move in pieces this large: 16 KiB is the output buffer's
 * size, so a 64 KiB file takes ~4 reads instead of 16. A body that is
 * sent with a Content-Length is read straight into the output buffer
 * (tern_http_resp_reserve); HEAD bodies go through a piece on the stack
 * of file_pump (never nested in itself or in TLS). */
#define FILE_PIECE 16384

/* Per-response state of a static file, kept in the connection scratch. */
struct file_stream {
    const struct tern_http_file_ops *ops;
    void *ctx;
    void *handle;
    uint64_t off, end;               /* bytes [off, end) still to send */
};

static bool allow_get(struct tern_http_conn *c, const struct tern_http_request *req)
{
    if (req->method == TERN_HTTP_GET || req->method == TERN_HTTP_HEAD)
        return true;
    static const char msg[] = "method not allowed\n";
    if (tern_http_resp_begin(c, 405) == TERN_OK) {
        tern_http_resp_header(c, "Allow", "GET, HEAD");
        tern_http_resp_header(c, "Content-Type", "text/plain; charset=utf-8");
        tern_http_resp_body(c, sizeof msg - 1);
        size_t w;
        tern_http_resp_write(c, msg, sizeof msg - 1, &w);
        tern_http_resp_end(c);
    }
    return false;
}

static void healthz(struct tern_http_conn *c, const struct tern_http_request *req, void *arg)
{
    (void)arg;
    if (!allow_get(c, req))
        return;
    if (tern_http_resp_begin(c, 200) != TERN_OK)
        return;
    tern_http_resp_header(c, "Content-Type", "text/plain; charset=utf-8");
    tern_http_resp_header(c, "Cache-Control", "no-store");
    tern_http_resp_body(c, 2);
    size_t w;
    tern_http_resp_write(c, "ok", 2, &w);
    tern_http_resp_end(c);
}

/* The head of /status: backend, version, uptime, heap and HTTP counters
 * (without the closing brace). Returns the length, like tern_snprintf. */
static size_t status_head(struct tern_http_service *svc, const struct tern_http_counters *k,
                          char *buf, size_t cap)
{
    struct tern_heap_stats hs;
    tern_heap_get_stats(&svc->os->heap, &hs);
    size_t n = tern_snprintf(buf, cap, "{\"backend\":\"%s\",\"version\":\"%s\",\"uptime_ms\":%llu",
                             svc->backend, TERN_VERSION,
                             (unsigned long long)((tern_now_ns(svc->os) - svc->start_ns) / 1000000));
    const struct tern_json_count heap[] = {
        TERN_JSON_COUNT(&hs, size), TERN_JSON_COUNT(&hs, in_use),
        TERN_JSON_COUNT(&hs, peak), TERN_JSON_COUNT(&hs, allocations),
    };
    const struct tern_json_count http[] = {
        TERN_JSON_COUNT(k, conns_active), TERN_JSON_COUNT(k, conns_accepted),
        TERN_JSON_COUNT(k, conns_refused_full), TERN_JSON_COUNT(k, requests),
        TERN_JSON_COUNT(k, responses_2xx), TERN_JSON_COUNT(k, responses_3xx),
        TERN_JSON_COUNT(k, responses_4xx), TERN_JSON_COUNT(k, responses_5xx),
        TERN_JSON_COUNT(k, bad_request_400), TERN_JSON_COUNT(k, timeout_408),
        TERN_JSON_COUNT(k, too_large_413), TERN_JSON_COUNT(k, uri_too_long_414),
        TERN_JSON_COUNT(k, fields_too_large_431), TERN_JSON_COUNT(k, idle_closes),
        TERN_JSON_COUNT(k, send_timeouts), TERN_JSON_COUNT(k, evictions),
        TERN_JSON_COUNT(k, bytes_in), TERN_JSON_COUNT(k, bytes_out),
    };
    if (n < cap)
        n += tern_json_object(buf + n, cap - n, ",\"heap\":{", heap, TERN_JSON_COUNTS(heap));
    if (n < cap)
        n += tern_json_object(buf + n, cap - n, ",\"http\":{", http, TERN_JSON_COUNTS(http));
    return n;
}

size_t tern_http_status_append(char *buf, size_t n, size_t cap, size_t reserve,
                               tern_http_status_provider p, void *arg)
{
    if (p == NULL || n + 1 + reserve >= cap)
        return n;
    size_t room = cap - n - 1 - reserve;
    size_t m = p(arg, buf + n + 1, room);
    if (m == 0 || m >= room)
        return n;
    buf[n] = ',';
    return n + 1 + m;
}

static void status(struct tern_http_conn *c, const struct tern_http_request *req, void *arg)
{
    struct tern_http_service *svc = arg;
    if (!allow_get(c, req))
        return;
    char buf[6144];
    size_t n = status_head(svc, &c->srv->counters, buf, sizeof buf);
    n = tern_http_status_append(buf, n, sizeof buf, 2, svc->provider, svc->provider_arg);
    if (n + 2 >= sizeof buf)
        n = sizeof buf - 3;                  /* cannot happen with these fields */
    buf[n++] = '}';
    buf[n++] = '\n';
    if (tern_http_resp_begin(c, 200) != TERN_OK)
        return;
    tern_http_resp_header(c, "Content-Type", "application/json");
    tern_http_resp_header(c, "Cache-Control", "no-store");
    tern_http_resp_header(c, "Content-Security-Policy",
                          "default-src 'none'; frame-ancestors 'none'");
    tern_http_resp_body(c, (int64_t)n);
    size_t w;
    tern_http_resp_write(c, buf, n, &w);
    tern_http_resp_end(c);
}

/* ---- static files ---- */

static void file_abort(struct tern_http_conn *c, void *arg)
{
    struct file_stream *fs = arg;
    (void)c;
    if (fs->handle) {
        fs->ops->close(fs->ctx, fs->handle);
        fs->handle = NULL;
    }
}

static void file_pump(struct tern_http_conn *c, void *arg)
{
    struct file_stream *fs = arg;
    uint8_t piece[FILE_PIECE];
    while (fs->off < fs->end) {
        size_t want = tern_http_resp_room(c);
        if (want == 0) {
            tern_http_set_writable(c, file_pump, fs);
            return;
        }
        if (want > sizeof piece)
            want = sizeof piece;
        if (want > fs->end - fs->off)
            want = (size_t)(fs->end - fs->off);
        size_t got = 0, w = 0;
        uint8_t *dst;
        size_t room;
        bool direct = tern_http_resp_reserve(c, &dst, &room) == TERN_OK && room >= want;
        if (fs->ops->read_at(fs->ctx, fs->handle, fs->off, direct ? dst : piece, want, &got) !=
                TERN_OK ||
            got == 0 || got > want)
            break;                           /* EIO or a file shorter than stat said */
        if (direct) {
            /* Read straight into the output: no copy of the body. */
            if (tern_http_resp_commit(c, got) == TERN_OK)
                w = got;
        } else {
            tern_http_resp_write(c, piece, got, &w);
        }
        if (w == 0)
            break;
        fs->off += w;
    }
    /* Done, or the file failed: a short body makes resp_end close. */
    file_abort(c, fs);
    tern_http_set_on_abort(c, NULL, NULL);
    tern_http_resp_end(c);
}

static bool etag_match(const char *list, size_t len, const char *etag)
{
    size_t el = strlen(etag);
    size_t i = 0;
    while (i < len) {
        while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        if (i < len && list[i] == '*')
            return true;
        if (i + 2 <= len && list[i] == 'W' && list[i + 1] == '/')
            i += 2;                          /* weak comparison */
        size_t s = i;
        if (i < len && list[i] == '"') {
            i++;
            while (i < len && list[i] != '"')
                i++;
            if (i < len)
                i++;
        } else {
            while (i < len && list[i] != ',')
                i++;
        }
        if (i - s == el && memcmp(list + s, etag, el) == 0)
            return true;
    }
    return false;
}

/* Parses one "bytes=" range against size. 1: *a..*b (inclusive) set;
 * 0: ignore the field (absent, invalid or multi-range); -1: unsatisfiable. */
static int parse_range(const char *v, size_t len, uint64_t size, uint64_t *a, uint64_t *b)
{
    if (len < 7 || memcmp(v, "bytes=", 6) != 0)
        return 0;
    for (size_t k = 6; k < len; k++)
        if (v[k] == ',')
            return 0;                        /* multi-range: send it all */
    size_t i = 6;
    bool has_first = false, has_last = false;
    uint64_t first = 0, last = 0;
    while (i < len && v[i] >= '0' && v[i] <= '9') {
        if (first > (UINT64_MAX - 9) / 10)
            return 0;
        first = first * 10 + (uint64_t)(v[i++] - '0');
        has_first = true;
    }
    if (i >= len || v[i++] != '-')
        return 0;
    while (i < len && v[i] >= '0' && v[i] <= '9') {
        if (last > (UINT64_MAX - 9) / 10)
            return 0;
        last = last * 10 + (uint64_t)(v[i++] - '0');
        has_last = true;
    }
    if (i != len || (!has_first && !has_last))
        return 0;
    if (!has_first) {                        /* suffix: the last N bytes */
        if (last == 0 || size == 0)
            return -1;
        *a = last >= size ? 0 : size - last;
        *b = size - 1;
        return 1;
    }
    if (has_last && last < first)
        return 0;
    if (first >= size)
        return -1;
    *a = first;
    *b = (!has_last || last >= size) ? size - 1 : last;
    return 1;
}


/* A file that could not be opened: 404 when it is not there, 503 with
 * Retry-After when every file handle is in use (a transient state, not
 * the server's fault), 500 for a read error. */
static void answer_open_failure(struct tern_http_conn *c, tern_result r)
{
    static const char nf[] = "not found\n";
    static const char busy[] = "busy, try again\n";
    static const char ie[] = "read error\n";
    const char *type = "text/plain; charset=utf-8";
    if (r == TERN_ENOENT) {
        tern_http_resp_simple(c, 404, type, nf, sizeof nf - 1);
    } else if (r == TERN_EBUSY || r == TERN_ENOMEM) {
        if (tern_http_resp_begin(c, 503) != TERN_OK)
            return;
        tern_http_resp_header(c, "Retry-After", "1");
        tern_http_resp_header(c, "Content-Type", type);
        tern_http_resp_body(c, sizeof busy - 1);
        size_t w;
        tern_http_resp_write(c, busy, sizeof busy - 1, &w);
        tern_http_resp_end(c);
    } else {
        tern_http_resp_simple(c, 500, type, ie, sizeof ie - 1);
    }
}
static void files_route(struct tern_http_conn *c, const struct tern_http_request *req,
                        void *arg)
{
    struct tern_http_service *svc = arg;
    if (!allow_get(c, req))
        return;
    char path[TERN_HTTP_PATH_MAX + 16];
    size_t pl = strlen(req->path);
    memcpy(path, req->path, pl + 1);
    if (path[pl - 1] == '/')
        memcpy(path + pl, "index.html", 11);
    struct file_stream *fs = tern_http_scratch(c);
    struct tern_http_file_stat st;
    void *h = NULL;
    tern_result r = svc->files->open(svc->files_ctx, path, &h, &st);
    if (r == TERN_OK && st.is_dir) {
        svc->files->close(svc->files_ctx, h);
        /* A directory without the slash: send the client to it. */
        char loc[TERN_HTTP_PATH_MAX + 2];
        tern_snprintf(loc, sizeof loc, "%s/", req->path);
        static const char msg[] = "moved\n";
        if (tern_http_resp_begin(c, 301) == TERN_OK) {
            tern_http_resp_header(c, "Location", loc);
            tern_http_resp_header(c, "Content-Type", "text/plain; charset=utf-8");
            tern_http_resp_body(c, sizeof msg - 1);
            size_t w;
            tern_http_resp_write(c, msg, sizeof msg - 1, &w);
            tern_http_resp_end(c);
        }
        return;
    }
    if (r != TERN_OK) {
        answer_open_failure(c, r);
        return;
    }
    fs->ops = svc->files;
    fs->ctx = svc->files_ctx;
    fs->handle = h;
    tern_http_set_on_abort(c, file_abort, fs);

    char etag[48], lm[40] = "";
    tern_snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.size,
                  (unsigned long long)(st.mtime < 0 ? 0 : st.mtime));
    if (st.mtime >= 0)
        tern_http_format_date(st.mtime, lm, sizeof lm);

    size_t vl;
    const char *v;
    bool not_modified = false;
    if ((v = tern_http_request_field(req, "if-none-match", &vl)) != NULL) {
        not_modified = etag_match(v, vl, etag);
    } else if (st.mtime >= 0 && (v = tern_http_request_field(req, "if-modified-since", &vl))) {
        int64_t since;
        if (tern_http_parse_date(v, vl, &since) == TERN_OK && st.mtime <= since)
            not_modified = true;
    }

    int code = 200;
    uint64_t a = 0, b = st.size ? st.size - 1 : 0;
    if (!not_modified && req->method == TERN_HTTP_GET &&
        (v = tern_http_request_field(req, "range", &vl)) != NULL) {
        bool if_range_ok = true;
        size_t il;
        const char *ir = tern_http_request_field(req, "if-range", &il);
        if (ir)
            if_range_ok = (il == strlen(etag) && memcmp(ir, etag, il) == 0) ||
                          (lm[0] && il == strlen(lm) && memcmp(ir, lm, il) == 0);
        if (if_range_ok) {
            int pr = parse_range(v, vl, st.size, &a, &b);
            if (pr < 0)
                code = 416;
            else if (pr > 0)
                code = 206;
        }
    }

    if (not_modified)
        code = 304;
    if (tern_http_resp_begin(c, code) != TERN_OK)
        return;
    tern_http_resp_header(c, "ETag", etag);
    if (lm[0])
        tern_http_resp_header(c, "Last-Modified", lm);
    if (code != 304) {
        tern_http_resp_header(c, "Content-Type", tern_http_content_type(path));
        tern_http_resp_header(c, "Accept-Ranges", "bytes");
    }
    char cr[80];
    if (code == 416) {
        tern_snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)st.size);
        tern_http_resp_header(c, "Content-Range", cr);
        fs->off = fs->end = 0;
    } else if (code == 206) {
        tern_snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)a,
                      (unsigned long long)b, (unsigned long long)st.size);
        tern_http_resp_header(c, "Content-Range", cr);
        fs->off = a;
        fs->end = b + 1;
    } else if (code == 200) {
        fs->off = 0;
        fs->end = st.size;
    } else {
        fs->off = fs->end = 0;
    }
    tern_http_resp_body(c, (int64_t)(fs->end - fs->off));
    if (req->head_only)
        fs->off = fs->end;                   /* HEAD: the head is all */
    file_pump(c, fs);
}

void tern_http_service_init(struct tern_http_service *svc, struct tern_os *os,
                            const char *backend,
                            const struct tern_http_file_ops *files, void *files_ctx,
                            tern_http_status_provider provider, void *provider_arg)
{
    memset(svc, 0, sizeof *svc);
    svc->os = os;
    svc->backend = backend ? backend : "unknown";
    svc->start_ns = os ? tern_now_ns(os) : 0;
    svc->provider = provider;
    svc->provider_arg = provider_arg;
    svc->files = files;
    svc->files_ctx = files_ctx;
    svc->routes[0] = (struct tern_http_route){ "/healthz", true, healthz, svc };
    svc->routes[1] = (struct tern_http_route){ "/status", true, status, svc };
    svc->routes[2] = (struct tern_http_route){ "/", false, files_route, svc };
}

size_t tern_http_service_route_count(const struct tern_http_service *svc)
{
    return svc->files ? 3 : 2;
}
