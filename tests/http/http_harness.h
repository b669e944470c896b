/*
 * Interface: an in-process HTTP test bench. A sim-platform instance, a
 * server with a small connection pool, the built-in service over an
 * in-memory file table, an /echo route that streams the request body
 * back, and test clients that offer bytes, drain the output (optionally a
 * few bytes at a time) and close when the engine says so. Time moves only
 * through bench_advance().
 */
#ifndef TERN_TEST_HTTP_HARNESS_H
#define TERN_TEST_HTTP_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_platform.h"
#include "tern/fmt.h"
#include "tern/http.h"
#include "tern/os.h"

#ifndef BENCH_POOL
#define BENCH_POOL 4
#endif
#ifndef BENCH_HEAP
#define BENCH_HEAP (4u << 20)         /* the sim platform's heap, bytes */
#endif
#define BIG_SIZE 100000

struct mem_file {
    const char *path;
    const uint8_t *data;
    uint64_t size;
    int64_t mtime;
    bool is_dir;
};

struct mem_fs {
    struct mem_file files[8];
    size_t n;
    int open_handles;
    bool fail_reads;
    tern_result fail_opens;       /* TERN_OK, or what every open returns */
    unsigned reads;               /* memfs_read calls */
};

static inline tern_result memfs_open(void *ctx, const char *path, void **handle,
                                     struct tern_http_file_stat *st)
{
    struct mem_fs *fs = ctx;
    if (fs->fail_opens != TERN_OK)
        return fs->fail_opens;
    for (size_t i = 0; i < fs->n; i++) {
        if (strcmp(fs->files[i].path, path) == 0) {
            st->is_dir = fs->files[i].is_dir;
            st->size = fs->files[i].size;
            st->mtime = fs->files[i].mtime;
            *handle = &fs->files[i];
            fs->open_handles++;
            return TERN_OK;
        }
    }
    return TERN_ENOENT;
}

static inline tern_result memfs_read(void *ctx, void *handle, uint64_t off, void *buf, size_t len,
                                     size_t *got)
{
    struct mem_fs *fs = ctx;
    struct mem_file *f = handle;
    fs->reads++;
    if (fs->fail_reads)
        return TERN_EIO;
    if (off >= f->size) {
        *got = 0;
        return TERN_OK;
    }
    if (len > f->size - off)
        len = (size_t)(f->size - off);
    memcpy(buf, f->data + off, len);
    *got = len;
    return TERN_OK;
}

static inline void memfs_close(void *ctx, void *handle)
{
    (void)handle;
    ((struct mem_fs *)ctx)->open_handles--;
}

static const struct tern_http_file_ops memfs_ops = { memfs_open, memfs_read, memfs_close };

/* /echo: answers "len=N\n" then the body bytes, chunked, as they come. */
static inline size_t echo_body(struct tern_http_conn *c, const uint8_t *data, size_t len,
                               void *arg)
{
    (void)arg;
    size_t w = 0;
    if (data)
        tern_http_resp_write(c, data, len, &w);
    else
        tern_http_resp_end(c);
    return w;
}

static inline void echo_route(struct tern_http_conn *c, const struct tern_http_request *req,
                              void *arg)
{
    (void)arg;
    tern_http_resp_begin(c, 200);
    tern_http_resp_header(c, "Content-Type", "application/octet-stream");
    tern_http_resp_body(c, -1);
    size_t w;
    tern_http_resp_write(c, "echo:", 5, &w);
    size_t cl;
    if (req->method == TERN_HTTP_GET && !tern_http_request_field(req, "content-length", &cl) &&
        !tern_http_request_field(req, "transfer-encoding", &cl))
        tern_http_resp_end(c);
    else
        tern_http_set_on_body(c, echo_body, NULL);
}

static inline size_t provider(void *arg, char *buf, size_t cap)
{
    (void)arg;
    return tern_snprintf(buf, cap, "\"addresses\":[\"192.0.2.10\"]");
}

struct bench {
    struct sim_platform sim;
    struct tern_platform_ops ops;
    struct tern_os os;
    struct tern_http_server srv;
    struct tern_http_conn pool[BENCH_POOL];
    struct tern_http_service svc;
    struct tern_http_route routes[4];
    struct mem_fs fs;
    uint8_t big[BIG_SIZE];
    int64_t wall_s;                  /* 0: wall time unknown */
};

struct client {
    struct bench *b;
    struct tern_http_conn *c;
    char got[1 << 18];
    size_t got_len;
    uint8_t pending[1 << 16];
    size_t pending_len;
    size_t drain_max;                /* 0: drain everything */
    bool closed;
    int wakes;
};

/* The platform ctx is &b->sim, the first member of the bench. */
static inline tern_result bench_wall(void *ctx, int64_t *out)
{
    struct bench *b = ctx;
    if (!b->wall_s)
        return TERN_AGAIN;
    *out = b->wall_s * 1000000000ll;
    return TERN_OK;
}

static inline void bench_init(struct bench *b, const struct tern_http_config *cfg)
{
    memset(b, 0, sizeof *b);
    if (sim_platform_init(&b->sim, BENCH_HEAP, 7) != 0)
        abort();
    struct tern_platform p = sim_platform(&b->sim);
    b->ops = *p.ops;
    b->ops.wall_ns = bench_wall;
    p.ops = &b->ops;
    struct tern_config oc;
    tern_config_default(&oc);
    oc.console_level = TERN_LOG_WARN;
    if (tern_os_init(&b->os, &p, &oc) != TERN_OK)
        abort();
    for (size_t i = 0; i < BIG_SIZE; i++)
        b->big[i] = (uint8_t)('A' + (i * 7 + i / 251) % 26);
    static const char index_html[] = "<h1>tern</h1>\n";
    static const char small_txt[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    b->fs.files[0] = (struct mem_file){ "/index.html", (const uint8_t *)index_html,
                                        sizeof index_html - 1, 784111777, false };
    b->fs.files[1] = (struct mem_file){ "/big.bin", b->big, BIG_SIZE, 784111777, false };
    b->fs.files[2] = (struct mem_file){ "/dir", NULL, 0, 784111777, true };
    b->fs.files[3] = (struct mem_file){ "/dir/index.html", (const uint8_t *)index_html,
                                        sizeof index_html - 1, -1, false };
    b->fs.files[4] = (struct mem_file){ "/small.txt", (const uint8_t *)small_txt,
                                        sizeof small_txt - 1, 784111777, false };
    b->fs.n = 5;
    tern_http_service_init(&b->svc, &b->os, "sim", &memfs_ops, &b->fs, provider, NULL);
    b->routes[0] = (struct tern_http_route){ "/echo", true, echo_route, NULL };
    memcpy(&b->routes[1], b->svc.routes, 3 * sizeof b->routes[0]);
    if (tern_http_server_init(&b->srv, &b->os, cfg, b->pool, BENCH_POOL, b->routes, 4) !=
        TERN_OK)
        abort();
}

static inline void bench_fini(struct bench *b)
{
    tern_os_finish(&b->os);
    sim_platform_close(&b->sim);
}

static inline void client_wake(struct tern_http_conn *c, void *arg)
{
    (void)c;
    ((struct client *)arg)->wakes++;
}

static inline struct client *client_open(struct bench *b)
{
    struct client *cl = calloc(1, sizeof *cl);
    cl->b = b;
    cl->c = tern_http_conn_open(&b->srv, client_wake, cl);
    if (!cl->c)
        cl->closed = true;
    return cl;
}

/* Offers pending input and drains output until nothing moves. */
static inline void client_pump(struct client *cl)
{
    for (int rounds = 0; rounds < 100000 && !cl->closed; rounds++) {
        bool moved = false;
        if (cl->pending_len) {
            size_t n = tern_http_conn_input(cl->c, cl->pending, cl->pending_len);
            if (n) {
                memmove(cl->pending, cl->pending + n, cl->pending_len - n);
                cl->pending_len -= n;
                moved = true;
            }
        }
        const uint8_t *out;
        size_t len;
        tern_http_conn_output(cl->c, &out, &len);
        if (cl->drain_max && len > cl->drain_max)
            len = cl->drain_max;
        if (len > sizeof cl->got - 1 - cl->got_len)
            len = sizeof cl->got - 1 - cl->got_len;
        if (len) {
            memcpy(cl->got + cl->got_len, out, len);
            cl->got_len += len;
            cl->got[cl->got_len] = '\0';
            tern_http_conn_output_done(cl->c, len);
            moved = true;
        }
        if (tern_http_conn_should_close(cl->c)) {
            tern_http_conn_close(cl->c);
            cl->closed = true;
            return;
        }
        if (!moved)
            return;
    }
}

static inline void client_send(struct client *cl, const void *data, size_t len)
{
    memcpy(cl->pending + cl->pending_len, data, len);
    cl->pending_len += len;
    client_pump(cl);
}

static inline void client_sends(struct client *cl, const char *s)
{
    client_send(cl, s, strlen(s));
}

static inline void client_free(struct client *cl)
{
    if (!cl->closed)
        tern_http_conn_close(cl->c);
    free(cl);
}

/* Moves virtual time on by ns and runs what fell due. */
static inline void bench_advance(struct bench *b, uint64_t ns)
{
    b->sim.now_ns += ns;
    tern_os_step(&b->os, 0);
}

#endif
