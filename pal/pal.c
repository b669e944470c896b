/*
 * Interface: see include/tern/pal_host.h. This file sets an app up (its
 * arena, handle table and PAL table), starts and ends it, and holds the
 * small groups of the table: logs and output, config, memory, time,
 * random and status.
 */
#include <string.h>

#include "pal_internal.h"
#include "tern/fmt.h"
#include "tern/heap.h"
#include "tern/thread.h"

/* The numbers of the ABI are the core's. */
_Static_assert(TERN_PAL_OK == TERN_OK && TERN_PAL_EINVAL == TERN_EINVAL &&
                   TERN_PAL_ENOMEM == TERN_ENOMEM && TERN_PAL_ENOTSUP == TERN_ENOTSUP &&
                   TERN_PAL_ETIMEDOUT == TERN_ETIMEDOUT && TERN_PAL_EPROTO == TERN_EPROTO &&
                   TERN_PAL_EACCES == TERN_EACCES,
               "PAL result codes follow tern_result");

#define ARENA_MIN (64u * 1024)

/* ---- handles ---- */

tern_pal_handle pal_handle_new(struct tern_pal_app *app, enum pal_kind kind, void *obj)
{
    for (tern_pal_handle h = 0; h < TERN_PAL_MAX_HANDLES; h++) {
        if (app->handles[h].kind == PAL_H_FREE) {
            app->handles[h] = (struct pal_handle){ kind, obj };
            return h;
        }
    }
    app->stats.handles_refused++;
    tern_log(app->os, TERN_LOG_WARN, app->cfg.name, "handle table full (%u): refused",
             TERN_PAL_MAX_HANDLES);
    return -1;
}

void *pal_handle_get(struct tern_pal_app *app, tern_pal_handle h, enum pal_kind kind)
{
    if (h < 0 || h >= TERN_PAL_MAX_HANDLES || app->handles[h].kind == PAL_H_FREE)
        return NULL;
    if (kind != PAL_H_FREE && app->handles[h].kind != kind)
        return NULL;
    return app->handles[h].obj;
}

enum pal_kind pal_handle_kind(struct tern_pal_app *app, tern_pal_handle h)
{
    if (h < 0 || h >= TERN_PAL_MAX_HANDLES)
        return PAL_H_FREE;
    return app->handles[h].kind;
}

void pal_handle_release(struct tern_pal_app *app, tern_pal_handle h)
{
    if (h >= 0 && h < TERN_PAL_MAX_HANDLES)
        app->handles[h] = (struct pal_handle){ PAL_H_FREE, NULL };
}

bool pal_on_thread(struct tern_pal_app *app)
{
    return tern_thread_current(app->os) != NULL;
}

/* ---- logs and output ---- */

static const enum tern_log_level log_levels[] = {
    TERN_LOG_DEBUG, TERN_LOG_INFO, TERN_LOG_WARN, TERN_LOG_ERROR,
};

/* One console line of app text: control bytes (a newline would start a
 * line of the app's choosing, a forged marker) shown as '?', cut to 480. */
static void log_line(struct tern_pal_app *app, enum tern_log_level level, const char *tag,
                     const char *msg, size_t len)
{
    char line[480];
    size_t n = len < sizeof line - 1 ? len : sizeof line - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        line[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    line[n] = '\0';
    tern_log(app->os, level, app->cfg.name, "%s%s", tag, line);
}

static int pal_log(void *ctx, int level, const char *msg, size_t len)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (level < 0 || level > TERN_PAL_LOG_ERROR || (msg == NULL && len))
        return TERN_PAL_EINVAL;
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        len--;
    log_line(app, log_levels[level], "", msg, len);
    return TERN_PAL_OK;
}

/* Each line of buf becomes one console line tagged "NAME.out"/"NAME.err". */
static int pal_write_stream(void *ctx, int stream, const void *buf, size_t len)
{
    struct tern_pal_app *app = pal_app(ctx);
    if ((stream != 1 && stream != 2) || (buf == NULL && len))
        return TERN_PAL_EINVAL;
    const char *p = buf, *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        log_line(app, stream == 1 ? TERN_LOG_INFO : TERN_LOG_WARN, stream == 1 ? "out: " : "err: ",
                 p, n);
        p += n + (nl != NULL);
    }
    return TERN_PAL_OK;
}

/* ---- config ---- */

static int pal_getenv(void *ctx, const char *name, char *buf, size_t cap, size_t *len)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (name == NULL || len == NULL || (buf == NULL && cap))
        return TERN_PAL_EINVAL;
    size_t nl = strlen(name);
    for (const char *const *e = app->cfg.envp; e && *e; e++) {
        if (strncmp(*e, name, nl) != 0 || (*e)[nl] != '=')
            continue;
        const char *v = *e + nl + 1;
        size_t vl = strlen(v);
        *len = vl;
        if (vl + 1 > cap)
            return TERN_PAL_ENOSPC;
        memcpy(buf, v, vl + 1);
        return TERN_PAL_OK;
    }
    return TERN_PAL_ENOENT;
}

static int pal_endpoint_port(void *ctx, const char *name, uint16_t *port)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (name == NULL || port == NULL)
        return TERN_PAL_EINVAL;
    for (unsigned i = 0; i < app->cfg.nendpoints; i++) {
        if (strcmp(app->cfg.endpoints[i].name, name) == 0) {
            *port = app->cfg.endpoints[i].port;
            return TERN_PAL_OK;
        }
    }
    return TERN_PAL_ENOENT;
}

/* ---- memory ---- */

static void *pal_alloc(void *ctx, size_t size)
{
    struct tern_pal_app *app = pal_app(ctx);
    void *p = tern_heap_alloc(app->arena, size);
    if (p == NULL && size) {
        if (app->stats.alloc_refused++ == 0)
            tern_log(app->os, TERN_LOG_WARN, app->cfg.name,
                     "arena of %zu KiB exhausted: allocation of %zu bytes refused",
                     app->cfg.memory_bytes / 1024, size);
    } else if (p) {
        app->stats.allocs++;
    }
    return p;
}

static void pal_free(void *ctx, void *p)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct tern_heap *h = app->arena;
    if (p == NULL)
        return;
    if ((uint8_t *)p < h->base || (uint8_t *)p >= h->base + h->size) {
        tern_log(app->os, TERN_LOG_ERROR, app->cfg.name, "free of %p outside the arena: ignored",
                 p);
        return;
    }
    tern_heap_free(h, p);
}

/* ---- time and random ---- */

static uint64_t pal_monotonic(void *ctx)
{
    return tern_now_ns(pal_app(ctx)->os);
}

static int pal_wall(void *ctx, int64_t *out)
{
    struct tern_os *os = pal_app(ctx)->os;
    if (out == NULL)
        return TERN_PAL_EINVAL;
    if (os->plat.ops->wall_ns == NULL)
        return TERN_PAL_AGAIN;
    return (int)os->plat.ops->wall_ns(os->plat.ctx, out);
}

static int pal_sleep_until(void *ctx, uint64_t deadline)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (!pal_on_thread(app))
        return TERN_PAL_EINVAL;
    return (int)tern_thread_sleep_until(app->os, deadline);
}

static int pal_random(void *ctx, void *buf, size_t len)
{
    struct tern_os *os = pal_app(ctx)->os;
    if (buf == NULL && len)
        return TERN_PAL_EINVAL;
    if (len == 0)
        return TERN_PAL_OK;
    /* a failure is counted and logged, and buf zeroed (tern_entropy) */
    tern_result r = tern_entropy(os, buf, len, "pal", "random bytes for the app");
    return r == TERN_OK ? TERN_PAL_OK : TERN_PAL_EIO;
}

/* ---- status ---- */

static int pal_ready(void *ctx)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (!app->ready) {
        app->ready = true;
        if (app->on_ready)
            app->on_ready(app, app->on_ready_arg);
    }
    return TERN_PAL_OK;
}

static void pal_exit(void *ctx, int code)
{
    struct tern_pal_app *app = pal_app(ctx);
    pal_app_ended(app, code, "exit");
    /* The caller never runs again: park it on an event nobody signals. */
    struct tern_event never;
    tern_event_init(&never);
    for (;;) {
        if (tern_event_wait(app->os, &never, UINT64_MAX) == TERN_EINVAL)
            tern_panic(app->os, "app %s ended itself off its threads", app->cfg.name);
    }
}

void pal_fill_basic(struct tern_pal *t)
{
    t->log = pal_log;
    t->write_stream = pal_write_stream;
    t->exit = pal_exit;
    t->getenv = pal_getenv;
    t->endpoint_port = pal_endpoint_port;
    t->alloc = pal_alloc;
    t->free = pal_free;
    t->monotonic_ns = pal_monotonic;
    t->wall_ns = pal_wall;
    t->sleep_until = pal_sleep_until;
    t->random = pal_random;
    t->ready = pal_ready;
}

/* ---- the app's life ---- */

static bool config_ok(const struct tern_pal_config *c)
{
    return c->name && c->version && c->argv && c->envp && c->memory_bytes >= ARENA_MIN &&
           c->nendpoints <= TERN_PAL_MAX_ENDPOINTS && c->nmounts <= TERN_PAL_MAX_MOUNTS &&
           c->stack_bytes >= 16384 && (c->http == NULL || c->routes != NULL);
}

tern_result tern_pal_app_init(struct tern_pal_app *app, struct tern_os *os,
                              const struct tern_pal_config *cfg)
{
    memset(app, 0, sizeof *app);
    if (!config_ok(cfg))
        return TERN_EINVAL;
    app->os = os;
    app->cfg = *cfg;
    tern_list_init(&app->route_reqs);
    app->arena = tern_alloc(os, sizeof(struct tern_heap));
    app->arena_mem = tern_alloc(os, cfg->memory_bytes);
    app->handles = tern_calloc(os, TERN_PAL_MAX_HANDLES, sizeof *app->handles);
    if (app->arena == NULL || app->arena_mem == NULL || app->handles == NULL ||
        tern_heap_init(app->arena, app->arena_mem, cfg->memory_bytes) != TERN_OK) {
        tern_pal_app_finish(app);
        return TERN_ENOMEM;
    }
    app->table.hdr = (struct tern_pal_header){
        .magic = TERN_PAL_MAGIC,
        .abi_major = TERN_PAL_ABI_MAJOR,
        .abi_minor = TERN_PAL_ABI_MINOR,
        .size = sizeof app->table,
    };
    app->table.ctx = app;
    pal_fill_basic(&app->table);
    pal_fill_thread(&app->table);
    pal_fill_http(&app->table);
    pal_fill_sock(&app->table);
    pal_fill_file(&app->table);
    app->start = (struct tern_app_start){
        .size = sizeof app->start,
        .argc = cfg->argc,
        .argv = cfg->argv,
        .envp = cfg->envp,
        .name = cfg->name,
        .version = cfg->version,
    };
    return TERN_OK;
}

const struct tern_pal *tern_pal_app_table(const struct tern_pal_app *app)
{
    return &app->table;
}

void pal_note_bind(struct tern_pal_app *app, const char *proto, uint16_t port)
{
    tern_marker(app->os, "TERN_APP_BIND", "name=%s proto=%s port=%u", app->cfg.name, proto,
                port);
}

void pal_app_ended(struct tern_pal_app *app, int code, const char *reason)
{
    if (app->exited)
        return;
    app->exited = true;
    app->running = false;
    app->exit_code = code;
    tern_snprintf(app->exit_reason, sizeof app->exit_reason, "%s", reason);
    tern_marker(app->os, "TERN_APP_EXIT", "name=%s code=%d reason=%s", app->cfg.name, code,
                tern_token(app->exit_reason));
    pal_http_app_ended(app);
    if (app->on_exit)
        app->on_exit(app, app->on_exit_arg);
}

void tern_pal_app_kill(struct tern_pal_app *app, int code, const char *reason)
{
    pal_app_ended(app, code, reason);
}

static void *app_main_thread(void *arg)
{
    struct tern_pal_app *app = arg;
    int code = app->entry(&app->table, &app->start);
    pal_app_ended(app, code, "returned");
    return NULL;
}

tern_result tern_pal_app_start(struct tern_pal_app *app, tern_app_entry_fn entry,
                               void (*on_exit)(struct tern_pal_app *app, void *arg),
                               void *arg)
{
    app->entry = entry;
    app->on_exit = on_exit;
    app->on_exit_arg = arg;
    tern_result r = tern_thread_create(app->os, app->cfg.name, app_main_thread, app,
                                       app->cfg.stack_bytes, &app->main);
    if (r != TERN_OK)
        return r;
    tern_thread_detach(app->os, app->main);
    app->running = true;
    tern_marker(app->os, "TERN_APP_START", "name=%s version=%s", app->cfg.name,
                app->cfg.version);
    return TERN_OK;
}

void tern_pal_app_finish(struct tern_pal_app *app)
{
    if (app->handles) {
        pal_http_finish(app);
        pal_sock_finish(app);
        pal_file_finish(app);
        pal_thread_finish(app);
        tern_free(app->os, app->handles);
        app->handles = NULL;
    }
    tern_free(app->os, app->arena_mem);
    tern_free(app->os, app->arena);
    app->arena_mem = app->arena = NULL;
}
