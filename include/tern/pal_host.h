/*
 * Interface: the OS side of the PAL. The boot sequence (or a test) makes
 * one struct tern_pal_app per running app: it fills a tern_pal_config
 * from the manifest, calls tern_pal_app_init, then tern_pal_app_start
 * with the entry of the loaded image. The app then sees
 * tern_pal_app_table() (include/tern/pal.h) and nothing else of the core.
 *
 * Rules:
 *  - Everything the PAL hands out (handles, threads, sockets, open files)
 *    is accounted to the app and bounded by the config; the app's memory
 *    comes from its own arena, carved once from the instance heap, so an
 *    app that exhausts it is refused, never the core.
 *  - The app ends when its main returns or it calls exit(): the PAL
 *    prints TERN_APP_EXIT and calls on_exit; what happens next (halt,
 *    restart) is the caller's policy.
 */
#ifndef TERN_PAL_HOST_H
#define TERN_PAL_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/list.h"
#include "tern/pal.h"
#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_os;
struct tern_net;
struct tern_tcp;
struct tern_dns;
struct tern_fat;
struct tern_http_server;
struct tern_http_route;
struct pal_handle;
struct pal_route;

#define TERN_PAL_MAX_ENDPOINTS 8
#define TERN_PAL_MAX_MOUNTS    4
#define TERN_PAL_MAX_HANDLES   256
#define TERN_PAL_MAX_ROUTES    16
#define TERN_PAL_MAX_ARGS      16
#define TERN_PAL_MAX_ENV       32

/* A volume the app sees under an absolute path ("/data"). */
struct tern_pal_mount {
    const char *path;                /* "/data": absolute, no trailing '/' */
    struct tern_fat *fs;
    bool read_only;
    const char *hidden;              /* a top directory of fs the app never sees ("tern"), or NULL */
};

struct tern_pal_endpoint {
    const char *name;                /* "web" */
    const char *proto;               /* "http", "https", "tcp", "udp" */
    uint16_t port;
};

/* What the app may use; every pointer is kept by reference and must
 * outlive the app. NULL subsystems make their calls TERN_PAL_ENOTSUP. */
struct tern_pal_config {
    const char *name, *version;
    int argc;
    const char *const *argv;         /* NULL-terminated */
    const char *const *envp;         /* "NAME=value", NULL-terminated */
    size_t memory_bytes;             /* the app's arena */
    uint32_t max_threads;            /* threads besides main */
    size_t stack_bytes;              /* default stack of app threads */
    struct tern_pal_endpoint endpoints[TERN_PAL_MAX_ENDPOINTS];
    unsigned nendpoints;
    struct tern_pal_mount mounts[TERN_PAL_MAX_MOUNTS];
    unsigned nmounts;
    struct tern_net *net;
    struct tern_tcp *tcp;
    struct tern_dns *dns;
    /* The HTTP server the app's routes join, and its route table: the
     * PAL keeps routes[0, nroutes) for the OS's own routes and puts the
     * app's in front of them; cap is the table's capacity. */
    struct tern_http_server *http;
    uint16_t http_port;              /* where it listens (for TERN_APP_BIND) */
    struct tern_http_route *routes;
    size_t nroutes, routes_cap;
};

typedef int (*tern_app_entry_fn)(const struct tern_pal *pal, const struct tern_app_start *start);

struct tern_pal_app {
    struct tern_pal table;           /* table.ctx points back here */
    struct tern_os *os;
    struct tern_pal_config cfg;
    struct tern_app_start start;
    void *arena_mem;
    void *arena;                     /* struct tern_heap, from the instance heap */
    struct pal_handle *handles;      /* [TERN_PAL_MAX_HANDLES] */
    struct pal_route *routes;        /* [TERN_PAL_MAX_ROUTES] */
    unsigned nroutes;
    struct tern_list route_reqs;     /* requests the app still owes an answer (pal_http.c) */
    uint32_t threads;                /* app threads alive besides main */
    tern_app_entry_fn entry;
    struct tern_thread *main;
    bool running, exited, ready;
    int exit_code;
    char exit_reason[48];            /* "returned", "exit", "crash:...", "unhealthy" */
    void (*on_exit)(struct tern_pal_app *app, void *arg);
    void *on_exit_arg;
    void (*on_ready)(struct tern_pal_app *app, void *arg);
    void *on_ready_arg;
    struct {
        uint64_t allocs, alloc_refused, handles_refused, route_requests, route_errors;
        uint64_t route_busy;         /* threaded routes: 503, every worker busy and the queue full */
        uint64_t route_dropped;      /* threaded routes: the client left first (result dropped) */
        uint64_t path_escapes;
        uint64_t hidden_refused;     /* paths into a mount's hidden directory: ENOENT */
        uint64_t sock_refused;       /* sockets refused: TCP/UDP pool full */
    } stats;
};

/* Sets up app for cfg (copied; its pointers are kept): the arena and the
 * handle table from the instance heap. TERN_OK; TERN_EINVAL (a config
 * value out of range); TERN_ENOMEM (the heap cannot hold the arena). */
tern_result tern_pal_app_init(struct tern_pal_app *app, struct tern_os *os,
                              const struct tern_pal_config *cfg);

/* Starts entry on the app's main thread (stack cfg.stack_bytes) and
 * prints TERN_APP_START. on_exit runs (from the loop or a thread) once the
 * app has ended. TERN_OK; TERN_ENOMEM. */
tern_result tern_pal_app_start(struct tern_pal_app *app, tern_app_entry_fn entry,
                               void (*on_exit)(struct tern_pal_app *app, void *arg),
                               void *arg);

/* Ends the app from outside (a crash or the watchdog): records reason and
 * code, prints TERN_APP_EXIT and runs on_exit. The app's threads are not
 * scheduled again. */
void tern_pal_app_kill(struct tern_pal_app *app, int code, const char *reason);

/* Releases the arena, handles and routes (after the app ended, or never
 * started). */
void tern_pal_app_finish(struct tern_pal_app *app);

/* The table the app receives. */
const struct tern_pal *tern_pal_app_table(const struct tern_pal_app *app);

TERN_END_DECLS

#endif
